/*
 * ratelimit.c — see ratelimit.h.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/ratelimit.h"

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

enum pc_err pc_ratelimit_check(struct pc_kv *kv, const struct pc_ratelimit *rl,
                               const char *subject, int64_t *retry_after)
{
	char key[PC_KV_KEY_MAX + 1];
	*retry_after = 0;
	if (key_for(key, sizeof(key), rl, subject) != 0)
		return PC_ERR_INTERNAL;
	int64_t value = 0, ttl = 0;
	enum pc_err rc = pc_kv_get(kv, key, &value, &ttl);
	if (rc == PC_ERR_NOT_FOUND)
		return PC_OK;
	if (rc != PC_OK)
		return rc;
	if (value >= (int64_t)rl->limit)
		*retry_after = ttl > 0 ? ttl : 1;
	return PC_OK;
}

enum pc_err pc_ratelimit_hit(struct pc_kv *kv, const struct pc_ratelimit *rl,
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
	if (value >= (int64_t)rl->limit)
		*retry_after = ttl > 0 ? ttl : 1;
	return PC_OK;
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
	if (value > (int64_t)rl->limit)
		*retry_after = ttl > 0 ? ttl : 1;
	return PC_OK;
}

enum pc_err pc_ratelimit_reset(struct pc_kv *kv, const struct pc_ratelimit *rl,
                               const char *subject)
{
	char key[PC_KV_KEY_MAX + 1];
	if (key_for(key, sizeof(key), rl, subject) != 0)
		return PC_ERR_INTERNAL;
	return pc_kv_del(kv, key);
}
