/*
 * auth_init.c — building the shared authentication state at start-up.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/chain.h"
#include "auth/auth.h"
#include "auth/cache.h"
#include "auth/revocation.h"
#include "config/config.h"
#include "core/b64url.h"
#include "core/log.h"

/* HS256 key id: public, names which master key the subkey came from
 * (8 characters of base64url over a hash of the subkey). */
static void hs_kid(char *out, size_t cap, const uint8_t sub[PC_SECRET_KEY_BYTES])
{
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), sub, PC_SECRET_KEY_BYTES, (const uint8_t *)"pc-jwt-kid", 10);
	pc_b64url_encode(out, cap, h, 6);
}

/* EdDSA key id: the RFC 7638 JWK thumbprint, as jose computes it. */
static void ed_kid(char *out, size_t cap, char *x, size_t xcap, const uint8_t pk[32])
{
	char json[128];
	uint8_t h[crypto_hash_sha256_BYTES];
	pc_b64url_encode(x, xcap, pk, 32);
	snprintf(json, sizeof(json), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
	crypto_hash_sha256(h, (const uint8_t *)json, strlen(json));
	pc_b64url_encode(out, cap, h, sizeof(h));
}

static int build_ring(struct pc_auth *a, const struct pc_config *cfg, char *err, size_t errlen)
{
	struct pc_jws_keyring *ring = sodium_malloc(sizeof(*ring));
	if (ring == NULL) {
		snprintf(err, errlen, "cannot allocate locked memory for the token keys");
		return -1;
	}
	memset(ring, 0, sizeof(*ring));
	json_t *keys = json_array();
	if (cfg->jwt_alg == PC_CFG_JWT_EDDSA) {
		struct pc_jws_key *k = &ring->keys[0];
		char x[64];
		ring->alg = PC_JWS_EDDSA;
		crypto_sign_seed_keypair(k->public_key, k->secret, cfg->keys->jwt_seed);
		k->secret_len = crypto_sign_SECRETKEYBYTES;
		k->can_sign = true;
		ed_kid(k->kid, sizeof(k->kid), x, sizeof(x), k->public_key);
		ring->n_keys = 1;
		json_array_append_new(keys, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "OKP", "crv", "Ed25519",
		                                      "x", x, "kid", k->kid, "alg", "EdDSA", "use", "sig"));
	} else {
		ring->alg = PC_JWS_HS256;
		const struct pc_keyset *sets[2] = {&cfg->keys->current,
		                                   cfg->keys->has_previous ? &cfg->keys->previous : NULL};
		for (size_t i = 0; i < 2 && sets[i] != NULL; i++) {
			struct pc_jws_key *k = &ring->keys[ring->n_keys++];
			memcpy(k->secret, sets[i]->sub[PC_SUBKEY_JWT], PC_SECRET_KEY_BYTES);
			k->secret_len = PC_SECRET_KEY_BYTES;
			k->can_sign = i == 0; /* the previous key only verifies */
			hs_kid(k->kid, sizeof(k->kid), k->secret);
		}
	}
	pc_jws_ring_prepare(ring);
	json_t *doc = json_pack("{s:o}", "keys", keys);
	a->jwks = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (a->jwks == NULL || sodium_mprotect_readonly(ring) != 0) {
		sodium_free(ring);
		snprintf(err, errlen, "cannot prepare the token keys");
		return -1;
	}
	a->ring = ring;
	a->jwt = (struct pc_jwt_policy){cfg->issuer, cfg->audience, cfg->jwt_leeway_s};
	return 0;
}

#define PC_INVALIDATE_CHANNEL "invalidate"

static bool kv_healthy(void *ctx)
{
	return pc_kv_subscription_healthy(ctx);
}

/* Another instance (or this one) ended a session, key or user. NULL: the
 * subscription was lost and is back; anything may have been missed. */
static void on_invalidate(const char *msg, size_t len, void *ctx)
{
	(void)ctx;
	char tag[PC_ID_LEN + 1];
	if (msg == NULL || len != PC_ID_LEN) {
		pc_cache_clear();
		return;
	}
	memcpy(tag, msg, len);
	tag[len] = '\0';
	pc_cache_drop(tag);
}

void pc_auth_invalidate(struct pc_auth *a, const char *tag)
{
	pc_cache_drop(tag);
	if (!pc_kv_is_local(a->kv) && tag != NULL && strlen(tag) == PC_ID_LEN &&
	    pc_kv_publish(a->kv, PC_INVALIDATE_CHANNEL, tag, PC_ID_LEN) != PC_OK)
		pc_log("error", "invalidate", "could not publish an invalidation: other instances keep their cache "
		                              "until PORTCULLIS_VERIFY_CACHE runs out");
}

static void pct_encode(char *out, size_t cap, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *in && o + 4 < cap; in++) {
		unsigned char c = (unsigned char)*in;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

/* The kv: in-process, or Redis with the password from the URL or from
 * PORTCULLIS_REDIS_PASSWORD_FILE (put into the URL here, wiped after). */
static int open_kv(struct pc_auth *a, const struct pc_config *cfg, char *err, size_t errlen)
{
	if (cfg->redis_url[0] == '\0')
		return pc_kv_open(&a->kv, NULL, err, errlen);
	const char *pw = cfg->keys->redis_password;
	if (pw[0] == '\0')
		return pc_kv_open(&a->kv, cfg->redis_url, err, errlen);
	const char *rest = cfg->redis_url + 8; /* after "redis://" */
	if (strchr(rest, '@') != NULL) {
		snprintf(err, errlen, "PORTCULLIS_REDIS_URL has a password and PORTCULLIS_REDIS_PASSWORD_FILE is set: "
		                      "use one");
		return -1;
	}
	char enc[800], url[2048];
	pct_encode(enc, sizeof(enc), pw);
	snprintf(url, sizeof(url), "redis://:%s@%s", enc, rest);
	int rc = pc_kv_open(&a->kv, url, err, errlen);
	sodium_memzero(enc, sizeof(enc));
	sodium_memzero(url, sizeof(url));
	return rc;
}

int pc_auth_store_url(const struct pc_config *cfg, char *out, size_t cap)
{
	const char *pw = cfg->keys != NULL ? cfg->keys->database_password : "";
	const char *url = cfg->database_url;
	bool pg = strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
	if (pw[0] == '\0' || !pg) {
		int n = snprintf(out, cap, "%s", url);
		return n >= 0 && (size_t)n < cap ? 0 : -1;
	}
	char enc[800];
	pct_encode(enc, sizeof(enc), pw);
	int n = snprintf(out, cap, "%s%spassword=%s", url, strchr(url, '?') ? "&" : "?", enc);
	sodium_memzero(enc, sizeof(enc));
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

int pc_auth_init(struct pc_auth *a, const struct pc_config *cfg, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->cost.opslimit = cfg->pwhash_opslimit;
	a->cost.memlimit = cfg->pwhash_memlimit;
	a->login_account = (struct pc_ratelimit){"login_fail_account", cfg->login_max_failures, cfg->login_window_s};
	a->login_addr = (struct pc_ratelimit){"login_fail_addr", cfg->login_max_failures, cfg->login_window_s};
	a->reset_addr = (struct pc_ratelimit){"reset_fail_addr", cfg->login_max_failures, cfg->login_window_s};
	a->refresh_user = (struct pc_ratelimit){"refresh_user", cfg->refresh_limit, 3600};
	a->audit_noise = (struct pc_ratelimit){"audit_noise_addr", 10, 60};
	char url[2048];
	if (pc_auth_store_url(cfg, url, sizeof(url)) != 0) {
		snprintf(err, errlen, "PORTCULLIS_DATABASE_URL with its password is too long");
		return -1;
	}
	int rc = pc_store_open(&a->store, url, cfg->keys->current.sub[PC_SUBKEY_AUDIT], err, errlen);
	sodium_memzero(url, sizeof(url));
	if (rc != 0)
		return -1;
	if (open_kv(a, cfg, err, errlen) != 0)
		goto fail;
	if (pc_password_init(&a->cost) != 0) {
		snprintf(err, errlen, "cannot hash passwords with the configured cost (out of memory?)");
		goto fail;
	}
	if (build_ring(a, cfg, err, errlen) != 0)
		goto fail;
	if (pc_cache_init() != 0) {
		snprintf(err, errlen, "cannot allocate the verify cache");
		goto fail;
	}
	pc_cache_set_ttl(cfg->verify_cache_s);
	if (!pc_kv_is_local(a->kv)) {
		pc_cache_set_health(kv_healthy, a->kv);
		if (pc_kv_subscribe(a->kv, PC_INVALIDATE_CHANNEL, on_invalidate, a) != 0) {
			snprintf(err, errlen, "cannot subscribe to the invalidation channel");
			goto fail;
		}
	}
	size_t loaded = 0;
	int64_t now = (int64_t)time(NULL);
	size_t purged = 0;
	(void)pc_store_tokens_purge(a->store, now, &purged);
	if (pc_revocation_load(a, now, &loaded) != PC_OK) {
		if (pc_kv_is_local(a->kv)) {
			snprintf(err, errlen, "cannot load the revocation list from the store");
			goto fail;
		}
		/* Redis holds the list itself; the store's copy is a backup */
		pc_log("warning", "startup", "could not copy the stored revocation list into Redis");
	}
	if (!pc_kv_is_local(a->kv) && cfg->revocation_fail_open)
		pc_log("warning", "startup", "PORTCULLIS_REVOCATION_FAIL_OPEN=true: while Redis is unreachable, "
		                             "REVOKED BEARER TOKENS ARE ACCEPTED until they expire");
	return 0;
fail:
	pc_auth_free(a);
	return -1;
}

void pc_auth_free(struct pc_auth *a)
{
	if (a->ring != NULL)
		sodium_free(a->ring);
	free(a->jwks);
	pc_kv_close(a->kv);
	pc_store_close(a->store);
	memset(a, 0, sizeof(*a));
}

void pc_auth_audit_noise(struct pc_req *r, const char *action, const char *details)
{
	struct pc_auth *a = pc_auth_of(r);
	int64_t retry = 0;
	if (pc_ratelimit_take(a->kv, &a->audit_noise, r->actor->client_addr, &retry) == PC_OK && retry > 0)
		return;
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, r->actor, action, "request", "");
	snprintf(ev.details, sizeof(ev.details), "%s", details);
	(void)pc_store_audit_append(a->store, r->actor, &ev);
}
