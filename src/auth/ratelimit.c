/*
 * ratelimit.c — see ratelimit.h.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/ratelimit.h"
#include "core/log.h"
#include "obs/metrics.h"

/* "rl:" prefix ":" 32 hex digits */
static int key_for(char *out, size_t outlen, const struct pc_ratelimit *rl, const char *subject)
{
	uint8_t h[16];
	char hex[sizeof(h) * 2 + 1];
	crypto_generichash(h, sizeof(h), (const unsigned char *)subject, strlen(subject), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	int n = snprintf(out, outlen, "rl:%s:%s", rl->prefix, hex);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

enum pc_err pc_ratelimit_take(struct pc_kv *kv, const struct pc_ratelimit *rl,
                              const char *subject, int64_t *retry_after)
{
	char key[PC_KV_KEY_MAX + 1];
	*retry_after = 0;
	if (key_for(key, sizeof(key), rl, subject) != 0)
		return PC_ERR_INTERNAL;
	int64_t value = 0, ttl = 0;
	enum pc_err rc = pc_kv_incr(kv, key, rl->window_seconds, &value, &ttl);
	if (rc != PC_OK)
		return rc;
	if (value > (int64_t)rl->limit) {
		*retry_after = ttl > 0 ? ttl : 1;
		/* a refused attempt is not a failure: the count stays at the
		 * limit, so it does not grow without bound under a flood (and a
		 * lost decrement only errs on the refusing side) */
		pc_log_if_failed(pc_kv_decr(kv, key), "ratelimit", "give a refused slot back");
	}
	return PC_OK;
}

enum pc_err pc_ratelimit_release(struct pc_kv *kv, const struct pc_ratelimit *rl, const char *subject)
{
	char key[PC_KV_KEY_MAX + 1];
	if (key_for(key, sizeof(key), rl, subject) != 0)
		return PC_ERR_INTERNAL;
	return pc_kv_decr(kv, key);
}

enum pc_err pc_ratelimit_reset(struct pc_kv *kv, const struct pc_ratelimit *rl,
                               const char *subject)
{
	char key[PC_KV_KEY_MAX + 1];
	if (key_for(key, sizeof(key), rl, subject) != 0)
		return PC_ERR_INTERNAL;
	return pc_kv_del(kv, key);
}

/* ---- with the per-instance fallback ----------------------------------------- */

int pc_throttle_init(struct pc_throttle *t, struct pc_kv *kv, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->kv = kv;
	atomic_init(&t->degraded, false);
	if (!pc_kv_is_local(kv) && pc_kv_open(&t->fallback, NULL, err, errlen) != 0)
		return -1;
	return 0;
}

void pc_throttle_free(struct pc_throttle *t)
{
	pc_kv_close(t->fallback);
	memset(t, 0, sizeof(*t));
}

/* The shared kv answered (ok) or not: logs and meters the edges of an
 * outage, once each however many callers see them. */
static void note_shared(struct pc_throttle *t, bool ok)
{
	if (atomic_exchange(&t->degraded, !ok) == !ok)
		return;
	pc_metrics_throttle_fallback_active(!ok);
	if (ok)
		pc_log("info", "throttle", "Redis answers again: throttles count on the shared counters");
	else
		pc_log("warning", "throttle", "Redis is unreachable: throttles count on per-instance counters "
		                              "until it answers (each instance admits up to the limit)");
}

void pc_throttle_take(struct pc_throttle *t, const struct pc_ratelimit *rl, const char *subject,
                      struct pc_throttle_slot *slot, int64_t *retry_after)
{
	memset(slot, 0, sizeof(*slot));
	struct pc_kv *kv = t->kv;
	enum pc_err rc = pc_ratelimit_take(kv, rl, subject, retry_after);
	if (t->fallback != NULL) {
		note_shared(t, rc != PC_ERR_UNAVAILABLE);
		if (rc == PC_ERR_UNAVAILABLE) {
			pc_metrics_inc(PC_CTR_THROTTLE_FALLBACK);
			kv = t->fallback;
			rc = pc_ratelimit_take(kv, rl, subject, retry_after);
		}
	}
	if (rc != PC_OK) {
		/* a throttle that cannot count does not admit: fail closed, briefly */
		pc_log_if_failed(rc, "ratelimit", "take a slot");
		*retry_after = 1;
		return;
	}
	if (*retry_after == 0)
		*slot = (struct pc_throttle_slot){kv, rl, subject};
}

void pc_throttle_take_all(struct pc_throttle *t, struct pc_throttle_slot *slots, size_t n,
                          const struct pc_ratelimit *const *rls, const char *const *subjects,
                          int64_t *retry_after)
{
	*retry_after = 0;
	for (size_t i = 0; i < n; i++)
		memset(&slots[i], 0, sizeof(slots[i]));
	for (size_t i = 0; i < n; i++) {
		pc_throttle_take(t, rls[i], subjects[i], &slots[i], retry_after);
		if (*retry_after > 0) {
			while (i-- > 0)
				pc_throttle_release(&slots[i]);
			return;
		}
	}
}

void pc_throttle_release(struct pc_throttle_slot *slot)
{
	if (slot->kv != NULL)
		pc_log_if_failed(pc_ratelimit_release(slot->kv, slot->rl, slot->subject), "ratelimit", "give a slot back");
	memset(slot, 0, sizeof(*slot));
}

void pc_throttle_reset(struct pc_throttle_slot *slot)
{
	if (slot->kv != NULL)
		pc_log_if_failed(pc_ratelimit_reset(slot->kv, slot->rl, slot->subject), "ratelimit", "forget failures");
	memset(slot, 0, sizeof(*slot));
}
