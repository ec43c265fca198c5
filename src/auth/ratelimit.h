/*
 * ratelimit.h — fixed-window failure counters on the kv.
 *
 * Used for failures (wrong passwords, bad reset tokens), not for all
 * traffic: check() before the expensive work, hit() after a failure,
 * reset() after a success where that is right (a correct password clears
 * its account's counter but not its address's, so an attacker who owns one
 * account cannot use it to wash out the address counter).
 *
 * Subjects (emails, client addresses) are hashed into the kv key with
 * BLAKE2b-128, so a key is always short printable ASCII whatever the
 * subject holds, and a Redis operator reading the keys learns no emails.
 * With a shared kv (Redis) every instance sees the same counters.
 */
#ifndef PC_AUTH_RATELIMIT_H
#define PC_AUTH_RATELIMIT_H

#include <stdint.h>

#include "core/err.h"
#include "kv/kv.h"

struct pc_ratelimit {
	const char *prefix;       /* e.g. "login_fail_addr" */
	unsigned limit;           /* failures allowed per window */
	int64_t window_seconds;
};

/* PC_OK with *retry_after = 0 when the subject may try, or > 0 (seconds)
 * when it has used up its window. A kv error is returned as is, with
 * *retry_after = 0: the caller decides whether to fail open or closed. */
PC_MUST_USE enum pc_err pc_ratelimit_check(struct pc_kv *kv, const struct pc_ratelimit *rl,
                                           const char *subject, int64_t *retry_after);

/* Counts one failure; *retry_after as for check() after counting. */
PC_MUST_USE enum pc_err pc_ratelimit_hit(struct pc_kv *kv, const struct pc_ratelimit *rl,
                                                 const char *subject, int64_t *retry_after);

/* Counts an attempt BEFORE it is evaluated, atomically: *retry_after > 0
 * when this attempt is over the limit (and must not be evaluated). Used
 * where concurrent attempts must not all slip under the limit (a burst of
 * guesses at one account); reset() on success. */
PC_MUST_USE enum pc_err pc_ratelimit_take(struct pc_kv *kv, const struct pc_ratelimit *rl,
                                          const char *subject, int64_t *retry_after);

/* Forgets the subject's failures. */
PC_MUST_USE enum pc_err pc_ratelimit_reset(struct pc_kv *kv, const struct pc_ratelimit *rl,
                                                   const char *subject);

#endif
