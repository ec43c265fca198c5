/*
 * revocation.c — see revocation.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/revocation.h"
#include "obs/metrics.h"

/* "jti:<jti>" (checked on every bearer request: no printf) */
static int key_of(char *out, size_t cap, const char *jti)
{
	size_t n = strlen(jti);
	if (n + 5 > cap)
		return -1;
	memcpy(out, "jti:", 4);
	memcpy(out + 4, jti, n + 1);
	return 0;
}

enum pc_err pc_revocation_add(struct pc_auth *a, const struct pc_revoked *list, size_t n, int64_t now)
{
	enum pc_err rc = PC_OK;
	for (size_t i = 0; i < n; i++) {
		char key[PC_KV_KEY_MAX + 1];
		int64_t ttl = list[i].expires_at - now;
		if (ttl <= 0)
			continue;
		if (key_of(key, sizeof(key), list[i].jti) != 0) {
			rc = PC_ERR_INTERNAL;
			continue;
		}
		enum pc_err e = pc_kv_set(a->kv, key, 1, ttl);
		if (e != PC_OK)
			rc = e;
		else
			pc_metrics_inc(PC_CTR_TOKENS_BLACKLISTED);
	}
	return rc;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum pc_err pc_revocation_check(struct pc_auth *a, const char *jti, bool *revoked)
{
	uint64_t t0 = mono_ns();
	char key[PC_KV_KEY_MAX + 1];
	int64_t v, ttl;
	*revoked = true; /* fail closed whatever happens below */
	enum pc_err rc = key_of(key, sizeof(key), jti) == 0 ? pc_kv_get(a->kv, key, &v, &ttl)
	                                                    : PC_ERR_INTERNAL;
	if (rc == PC_ERR_NOT_FOUND) {
		*revoked = false;
		rc = PC_OK;
	} else if (rc == PC_OK) {
		*revoked = true;
	}
	pc_metrics_revocation_check(mono_ns() - t0);
	return rc;
}

enum pc_err pc_revocation_load(struct pc_auth *a, int64_t now, size_t *loaded)
{
	struct pc_revoked *list = NULL;
	size_t n = 0;
	*loaded = 0;
	enum pc_err rc = pc_store_revoked_list(a->store, now, &list, &n);
	if (rc != PC_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char key[PC_KV_KEY_MAX + 1];
		int64_t ttl = list[i].expires_at - now;
		if (ttl > 0 && key_of(key, sizeof(key), list[i].jti) == 0 &&
		    pc_kv_set(a->kv, key, 1, ttl) == PC_OK)
			(*loaded)++;
	}
	free(list);
	return PC_OK;
}
