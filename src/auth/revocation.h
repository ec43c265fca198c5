/*
 * revocation.h — the list of revoked access tokens, held in every instance's
 * memory.
 *
 * The store is the source of truth: the store's revoke functions write each
 * revoked jti in the same transaction as the change that revokes, under a
 * sequence number that follows commit order and is never reused
 * (pc_store_revoked_since). Each instance keeps the unexpired jtis in an
 * in-process table ("jti:<jti>" with TTL = exp - now) and the highest
 * sequence number N such that every revocation numbered <= N is in it.
 * Every bearer authentication checks the table: never a network round trip.
 *
 * Embedded kv: the table is the kv itself (one instance); it is loaded from
 * the store at start and always trusted.
 *
 * Redis: after commit the revoker publishes "<seq>\n<exp> <jti>\n..." on the
 * revocation channel; every instance applies a message whose number follows
 * its own at once, on the subscriber thread. Whenever it cannot be sure of
 * its table — at start, after the subscription was lost (the kv's NULL
 * message, delivered before the subscription reports healthy), on a gap in
 * the numbers or a message it cannot read — it stops trusting the table and
 * a catch-up thread reads the store's rows numbered after N; trust returns
 * only when a catch-up that began after the last such event has succeeded.
 * While the table is not trusted, or the subscription is unhealthy, or a
 * message is waiting unread (pc_kv_subscription_settled: one poll(2), and
 * up to PC_REVOCATION_SETTLE_US for bytes being read to be delivered),
 * pc_revocation_check answers PC_ERR_UNAVAILABLE: 503, or accepted with
 * PORTCULLIS_REVOCATION_FAIL_OPEN. The catch-up thread also polls the store
 * every PC_REVOCATION_POLL_S, which bounds how long a revocation whose
 * announcement was lost (the publish failed) stays unknown elsewhere.
 *
 * One list per process (like cache.c's): pc_revocation_start/stop.
 */
#ifndef PC_AUTH_REVOCATION_H
#define PC_AUTH_REVOCATION_H

#include <stdbool.h>

#include "auth/auth.h"
#include "core/err.h"

#define PC_REVOCATION_CHANNEL "revoked"
/* How long a check may wait for the subscriber to finish reading what
 * arrived (a message to apply, or its keepalive PONG) before it answers
 * unavailable: microseconds, on a loop thread, only while bytes arrive. */
#define PC_REVOCATION_SETTLE_US 10000
/* Seconds between the catch-up thread's safety polls of the store. */
#define PC_REVOCATION_POLL_S 5

/* Loads the store's unexpired revocations into a's table (embedded: a->kv;
 * Redis: an in-process table of its own, a channel subscription and the
 * catch-up thread). Embedded: a failed load fails the start. Redis: the
 * load is retried by the thread and the list is not trusted meanwhile.
 * *loaded: the revocations loaded now. */
PC_MUST_USE enum pc_err pc_revocation_start(struct pc_auth *a, int64_t now, size_t *loaded);
/* Stops the thread and frees the table (no-op when not started). */
void pc_revocation_stop(struct pc_auth *a);

/* After the store committed them: adds the entries to this instance's
 * table at once and announces them to every other instance. Counts
 * security_tokens_blacklisted_total. PC_ERR_UNAVAILABLE when the
 * announcement could not be published (the others learn it from the store
 * when they next catch up). */
PC_MUST_USE enum pc_err pc_revocation_add(struct pc_auth *a, const struct pc_revoked *list, size_t n, int64_t now);

/* Whether jti is revoked; PC_ERR_UNAVAILABLE when this instance's table is
 * not known to be current (the caller fails closed). *revoked is true on
 * every error too. Never blocks: loop threads call it.
 * WARNING: the verdict is the out-parameter: a caller must check the
 * returned error before it believes *revoked == false. Timed in security_revocation_check_duration_seconds. */
PC_MUST_USE enum pc_err pc_revocation_check(struct pc_auth *a, const char *jti, bool *revoked);

/* Whether the table is trusted now (tests, health). */
bool pc_revocation_trusted(struct pc_auth *a);
/* The highest sequence number applied (tests). */
int64_t pc_revocation_applied(void);

#endif
