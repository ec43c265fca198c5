/*
 * ratelimit.h — fixed-window failure counters on the kv, reserved before
 * the attempt they guard.
 *
 * Used for failures (wrong passwords, bad reset tokens), not for all
 * traffic. Every attempt first TAKES a slot: one atomic step in the kv
 * (INCR, then compare with the limit: under local's lock, one Lua script in
 * Redis, the window's expiry set in the same step), so however the attempts
 * arrive — a concurrent burst, many instances on one Redis — at most
 * `limit` of them are admitted per window. Only an admitted attempt is
 * evaluated (hashes a password). Then:
 *   the attempt failed      nothing: its reservation is the failure's count;
 *   it succeeded            release() gives the reservation back (successes
 *                           are not failures) — or reset() forgets every
 *                           failure of the subject where a success should
 *                           (a correct password clears its account's counter
 *                           but not its address's, so an attacker who owns
 *                           one account cannot wash out the address counter).
 * A refused take gives its own increment back at once, so attempts refused
 * by one counter do not eat another's budget (pc_throttle_take_all).
 *
 * Subjects (emails, client addresses) are hashed into the kv key with
 * BLAKE2b-128, so a key is always short printable ASCII whatever the
 * subject holds, and a Redis operator reading the keys learns no emails.
 *
 * pc_throttle is where the counters live: the shared kv (every instance
 * sees the same counters), and, when that is Redis, a per-instance table
 * used while Redis cannot answer — a throttle never fails open. The switch
 * is logged once per outage (and once when Redis answers again) and
 * metered (security_throttle_fallback_total, security_throttle_fallback_active).
 */
#ifndef PC_AUTH_RATELIMIT_H
#define PC_AUTH_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "kv/kv.h"

struct pc_ratelimit {
	const char *prefix;       /* e.g. "login_fail_addr" */
	unsigned limit;           /* attempts admitted per window */
	int64_t window_seconds;
};

/* ---- on one kv ------------------------------------------------------------ */

/* Takes a slot for subject BEFORE the attempt is evaluated, atomically:
 * *retry_after 0 when admitted, > 0 (seconds) when this attempt is over the
 * limit (its increment is given back; it must not be evaluated). A kv
 * error is returned as is, with *retry_after = 0. */
PC_MUST_USE enum pc_err pc_ratelimit_take(struct pc_kv *kv, const struct pc_ratelimit *rl,
                                          const char *subject, int64_t *retry_after);

/* Gives one taken slot back (the attempt succeeded and is not a failure);
 * the window's expiry is kept, a count never goes below 0. */
PC_MUST_USE enum pc_err pc_ratelimit_release(struct pc_kv *kv, const struct pc_ratelimit *rl,
                                             const char *subject);

/* Forgets the subject's failures. */
PC_MUST_USE enum pc_err pc_ratelimit_reset(struct pc_kv *kv, const struct pc_ratelimit *rl,
                                           const char *subject);

/* ---- with the per-instance fallback ----------------------------------------- */

struct pc_throttle {
	struct pc_kv *kv;       /* borrowed */
	struct pc_kv *fallback; /* owned: the in-process table; NULL when kv is local */
	atomic_bool degraded;   /* the last call found kv unreachable */
};

/* Over kv (borrowed, outlives t). 0, or -1 with err (out of memory). */
PC_MUST_USE int pc_throttle_init(struct pc_throttle *t, struct pc_kv *kv, char *err, size_t errlen);
/* A zeroed t is a no-op. */
void pc_throttle_free(struct pc_throttle *t);

/* A taken slot: which kv holds it (NULL: none). */
struct pc_throttle_slot {
	struct pc_kv *kv;
	const struct pc_ratelimit *rl;
	const char *subject; /* borrowed: must outlive the slot */
};

/* pc_ratelimit_take on the shared kv, or on the fallback while the shared
 * kv cannot answer. Never fails open: a fallback error (its table full, out
 * of memory) refuses the attempt for a second. *slot holds the slot when
 * admitted (*retry_after 0), is empty otherwise. */
void pc_throttle_take(struct pc_throttle *t, const struct pc_ratelimit *rl, const char *subject,
                      struct pc_throttle_slot *slot, int64_t *retry_after);

/* Takes a slot under every one of n limits, in order; the first refusal
 * gives the slots already taken back and returns its *retry_after (> 0),
 * the slots then empty. */
void pc_throttle_take_all(struct pc_throttle *t, struct pc_throttle_slot *slots, size_t n,
                          const struct pc_ratelimit *const *rls, const char *const *subjects,
                          int64_t *retry_after);

/* Gives a slot back (release) or forgets its subject's failures (reset), on
 * the kv that holds it; the slot is emptied. An empty slot is a no-op;
 * errors are logged. */
void pc_throttle_release(struct pc_throttle_slot *slot);
void pc_throttle_reset(struct pc_throttle_slot *slot);

#endif
