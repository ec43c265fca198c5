/*
 * auth_init.c — building the shared authentication state at start-up, over
 * a store and a kv opened by the caller (svc/ctx.c, the composition root):
 * password hashing cost, the token keyring and JWKS, the verify cache and
 * its invalidation channel, the revocation list loaded from the store.
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

int pc_auth_init(struct pc_auth *a, const struct pc_config *cfg, struct pc_store *store, struct pc_kv *kv,
                 char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->store = store;
	a->kv = kv;
	a->cost.opslimit = cfg->pwhash_opslimit;
	a->cost.memlimit = cfg->pwhash_memlimit;
	a->login_account = (struct pc_ratelimit){"login_fail_account", cfg->login_max_failures, cfg->login_window_s};
	a->login_addr = (struct pc_ratelimit){"login_fail_addr", cfg->login_max_failures_per_address,
	                                      cfg->login_window_s};
	a->reset_addr = (struct pc_ratelimit){"reset_fail_addr", cfg->login_max_failures_per_address,
	                                      cfg->login_window_s};
	a->refresh_user = (struct pc_ratelimit){"refresh_user", cfg->refresh_limit, 3600};
	a->audit_noise = (struct pc_ratelimit){"audit_noise_addr", 10, 60};
	if (pc_throttle_init(&a->throttle, kv, err, errlen) != 0)
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
	pc_log_if_failed(pc_store_tokens_purge(a->store, now, &purged), "store_purge", "expired tokens and sessions");
	if (pc_revocation_start(a, now, &loaded) != PC_OK) {
		snprintf(err, errlen, "cannot load the revocation list from the store");
		goto fail;
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
	pc_revocation_stop(a);
	if (a->ring != NULL)
		sodium_free(a->ring);
	free(a->jwks);
	pc_throttle_free(&a->throttle);
	memset(a, 0, sizeof(*a));
}

void pc_auth_audit_noise_event(struct pc_auth *a, const struct pc_principal *actor, struct pc_audit_event *ev)
{
	struct pc_throttle_slot slot;
	int64_t retry = 0;
	pc_throttle_take(&a->throttle, &a->audit_noise, actor->client_addr, &slot, &retry);
	if (retry > 0)
		return;
	pc_log_if_failed(pc_store_audit_append(a->store, actor, ev), "audit_append", ev->action);
}

void pc_auth_audit_noise(struct pc_req *r, const char *action, const char *details)
{
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, r->actor, action, "request", "");
	snprintf(ev.details, sizeof(ev.details), "%s", details);
	pc_auth_audit_noise_event(pc_auth_of(r), r->actor, &ev);
}
