/*
 * authenticate.c — turning a request's credentials into a principal.
 *
 * One credential per request. An Authorization or X-API-Key header, when
 * present, is the credential and the cookie is not looked at (a request
 * must not be authenticated as one principal and CSRF-checked as another):
 *   - `Bearer pc_...` or `X-API-Key: pc_...`: an API key. Its shape and
 *     checksum are checked in memory; only a well-formed key is looked up
 *     (by its public prefix, on the worker pool) and compared in constant
 *     time; expiry enforced; last_used_at written at most once a minute.
 *   - `Bearer <JWT>`: verified in memory (jwt.h) and checked against the
 *     revocation list; a kv that cannot answer fails closed (503).
 * Otherwise the session cookie: opened (authenticated, expiry checked) in
 * memory first; only a cookie that opens is looked up in the store.
 *
 * A credential that fails is counted by reason and the request continues
 * anonymously: public routes still work, others get 401 from
 * pc_stage_require_auth.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/apikey.h"
#include "auth/auth.h"
#include "auth/cache.h"
#include "auth/revocation.h"
#include "auth/session.h"
#include "config/config.h"
#include "core/log.h"
#include "obs/metrics.h"

void pc_principal_for_session(struct pc_principal *p, const struct pc_req *r,
                              const char *user_id, const char *email, const char *session_id,
                              int64_t authenticated_at)
{
	pc_principal_anonymous(p, r);
	p->method = PC_AUTH_SESSION;
	snprintf(p->user_id, sizeof(p->user_id), "%s", user_id);
	snprintf(p->email, sizeof(p->email), "%s", email);
	snprintf(p->session_id, sizeof(p->session_id), "%s", session_id);
	p->authenticated_at = authenticated_at;
}

struct lookup {
	uint8_t hash[32];
	struct pc_session sess;
	enum pc_err err;
	uint64_t gen; /* cache generation before the store was asked */
};

/* A principal from a cache hit or a store answer. NULL: answered 500. */
static struct pc_principal *principal_for(struct pc_req *r, const struct pc_cache_hit *h)
{
	struct pc_principal *p = pc_arena_alloc(&r->arena, sizeof(*p));
	if (p == NULL) {
		pc_respond_problem(r, 500, NULL);
		return NULL;
	}
	pc_principal_anonymous(p, r);
	p->method = h->method;
	memcpy(p->user_id, h->user_id, sizeof(p->user_id));
	memcpy(p->email, h->email, sizeof(p->email));
	memcpy(p->session_id, h->session_id, sizeof(p->session_id));
	p->role = h->role;
	memcpy(p->groups, h->groups, sizeof(p->groups));
	memcpy(p->name, h->name, sizeof(p->name));
	memcpy(p->key_name, h->key_name, sizeof(p->key_name));
	p->authenticated_at = h->authenticated_at;
	p->factors = PC_FACTORS_OF(h->factors);
	if (h->pending != PC_PENDING_NONE) {
		p->must_enrol = h->pending == PC_PENDING_ENROL;
		/* a session waiting for its second step is nobody: no principal,
		 * only what the second-factor route and logout need */
		r->pending = p;
		return p;
	}
	r->principal = p;
	r->actor = p;
	return p;
}

static struct pc_cache_hit session_hit(const struct pc_session *s)
{
	struct pc_cache_hit h;
	memset(&h, 0, sizeof(h));
	h.method = PC_AUTH_SESSION;
	memcpy(h.user_id, s->user_id, sizeof(h.user_id));
	memcpy(h.email, s->email, sizeof(h.email));
	memcpy(h.session_id, s->id, sizeof(h.session_id));
	h.role = s->role;
	memcpy(h.groups, s->groups, sizeof(h.groups));
	memcpy(h.name, s->name, sizeof(h.name));
	h.authenticated_at = s->created_at;
	h.expires_at = s->expires_at;
	h.last_seen_at = s->last_seen_at;
	h.factors = PC_FACTORS_OF(s->factors);
	h.pending = s->pending;
	return h;
}

static void fail(struct pc_req *r, enum pc_auth_failure why)
{
	pc_metrics_auth_failure(why);
	r->auth_failure = 1 + (int)why;
}

static void lookup_work(struct pc_req *r, void *data)
{
	struct lookup *lk = data;
	struct pc_auth *a = pc_auth_of(r);
	lk->err = pc_store_session_get(a->store, lk->hash, &lk->sess);
	if (lk->err == PC_OK && lk->sess.expires_at > r->now &&
	    lk->sess.last_seen_at + a->cfg->session_idle_s > r->now &&
	    lk->sess.last_seen_at + pc_session_touch_interval(a->cfg->session_idle_s) <= r->now) {
		/* best effort: a failed touch only shortens the idle window */
		pc_log_if_failed(pc_store_session_touch(a->store, lk->sess.id, r->now), "store_touch", "session last-seen");
	}
}

static void lookup_done(struct pc_req *r, void *data)
{
	struct lookup *lk = data;
	struct pc_auth *a = pc_auth_of(r);
	if (lk->err == PC_ERR_UNAVAILABLE || lk->err == PC_ERR_INTERNAL) {
		fail(r, PC_AUTHF_BACKEND_UNAVAILABLE);
		if (r->route->access != PC_PUBLIC) {
			pc_resp_header(r, "Retry-After", "5");
			pc_respond_problem(r, 503, "The session store is unavailable.");
			return;
		}
	} else if (lk->err == PC_ERR_NOT_FOUND || lk->sess.disabled) {
		/* disabling ends the user's sessions in its transaction; a
		 * disabled user's session is refused all the same */
		fail(r, PC_AUTHF_UNKNOWN_SESSION);
	} else if (lk->sess.expires_at <= r->now ||
	           lk->sess.last_seen_at + a->cfg->session_idle_s <= r->now) {
		fail(r, PC_AUTHF_EXPIRED);
	} else {
		struct pc_cache_hit h = session_hit(&lk->sess);
		if (principal_for(r, &h) == NULL)
			return;
		pc_cache_put(lk->hash, r->now, &h, lk->gen);
	}
	pc_req_next(r);
}

struct key_lookup {
	char prefix[PC_APIKEY_PREFIX_LEN + 1];
	uint8_t hash[32];      /* under the current master key */
	uint8_t prev_hash[32]; /* under PORTCULLIS_SECRET_KEY_PREVIOUS, when set */
	bool has_prev;
	struct pc_api_key key;
	enum pc_err err;
	uint64_t gen;
};

static void key_work(struct pc_req *r, void *data)
{
	struct key_lookup *lk = data;
	struct pc_auth *a = pc_auth_of(r);
	lk->err = pc_store_apikey_get_by_prefix(a->store, lk->prefix, &lk->key);
	if (lk->err == PC_OK && sodium_memcmp(lk->key.secret_hash, lk->hash, 32) != 0) {
		/* Rotation: a key stored under the previous master key is accepted
		 * under it, and its stored hash re-keyed to the current one (a
		 * conditional update, so racing requests or instances write the
		 * same value and a deleted key stays deleted): once every key has
		 * been used, _PREVIOUS can go. A failed re-key only means the next
		 * use tries again. */
		if (lk->has_prev && sodium_memcmp(lk->key.secret_hash, lk->prev_hash, 32) == 0)
			pc_log_if_failed(pc_store_apikey_rekey(a->store, lk->key.id, lk->prev_hash, lk->hash),
			                 "store_rekey", "API key re-key");
		else
			lk->err = PC_ERR_NOT_FOUND;
	}
	if (lk->err == PC_OK && (lk->key.expires_at == 0 || lk->key.expires_at > r->now) &&
	    lk->key.last_used_at + PC_APIKEY_TOUCH_INTERVAL <= r->now)
		pc_log_if_failed(pc_store_apikey_touch(a->store, lk->key.id, r->now), "store_touch", "API key last-used");
}

static void key_done(struct pc_req *r, void *data)
{
	struct key_lookup *lk = data;
	if (lk->err == PC_ERR_UNAVAILABLE || lk->err == PC_ERR_INTERNAL) {
		fail(r, PC_AUTHF_BACKEND_UNAVAILABLE);
		if (r->route->access != PC_PUBLIC) {
			pc_resp_header(r, "Retry-After", "5");
			pc_respond_problem(r, 503, "The key store is unavailable.");
			return;
		}
	} else if (lk->err != PC_OK) {
		fail(r, PC_AUTHF_INVALID_API_KEY);
	} else if (lk->key.expires_at != 0 && lk->key.expires_at <= r->now) {
		fail(r, PC_AUTHF_EXPIRED);
	} else {
		struct pc_cache_hit h;
		memset(&h, 0, sizeof(h));
		h.method = PC_AUTH_API_KEY;
		memcpy(h.session_id, lk->key.id, sizeof(h.session_id));
		memcpy(h.key_name, lk->key.name, sizeof(h.key_name));
		h.authenticated_at = r->now;
		h.expires_at = lk->key.expires_at;
		if (principal_for(r, &h) == NULL)
			return;
		pc_cache_put(lk->hash, r->now, &h, lk->gen);
	}
	pc_req_next(r);
}

static enum pc_step by_api_key(struct pc_req *r, struct pc_str text)
{
	struct pc_auth *a = pc_auth_of(r);
	struct key_lookup *lk = pc_arena_alloc(&r->arena, sizeof(*lk));
	if (lk == NULL) {
		pc_respond_problem(r, 500, NULL);
		return PC_DONE;
	}
	memset(lk, 0, sizeof(*lk));
	if (!pc_apikey_parse(text.p, text.len, lk->prefix)) {
		fail(r, PC_AUTHF_INVALID_API_KEY);
		return PC_NEXT;
	}
	pc_apikey_hash(lk->hash, text.p, text.len, a->cfg->keys->current.sub[PC_SUBKEY_APIKEY]);
	if (a->cfg->keys->has_previous) {
		pc_apikey_hash(lk->prev_hash, text.p, text.len, a->cfg->keys->previous.sub[PC_SUBKEY_APIKEY]);
		lk->has_prev = true;
	}
	struct pc_cache_hit h;
	if (pc_cache_get(lk->hash, r->now, &h)) {
		if (h.expires_at != 0 && h.expires_at <= r->now) {
			fail(r, PC_AUTHF_EXPIRED);
			return PC_NEXT;
		}
		h.authenticated_at = r->now;
		return principal_for(r, &h) != NULL ? PC_NEXT : PC_DONE;
	}
	lk->gen = pc_cache_generation();
	if (pc_req_defer(r, key_work, key_done, lk) != 0) {
		pc_respond_problem(r, 503, "The server is overloaded.");
		return PC_DONE;
	}
	return PC_ASYNC;
}

struct jwt_check {
	struct pc_jwt_claims c;
	enum pc_err err;
	bool revoked;
};

/* The revocation answer is in: 503 when it could not be had (unless
 * PORTCULLIS_REVOCATION_FAIL_OPEN), anonymous when revoked, else the
 * principal. PC_NEXT or PC_DONE. */
static enum pc_step jwt_finish(struct pc_req *r, struct jwt_check *jc)
{
	struct pc_auth *a = pc_auth_of(r);
	if (jc->err != PC_OK) {
		if (!a->cfg->revocation_fail_open) {
			fail(r, PC_AUTHF_BACKEND_UNAVAILABLE);
			pc_resp_header(r, "Retry-After", "5");
			pc_respond_problem(r, 503, "The revocation list is unavailable.");
			return PC_DONE;
		}
		jc->revoked = false; /* fail open, as configured (and logged at start) */
	}
	if (jc->revoked) {
		fail(r, PC_AUTHF_REVOKED_TOKEN);
		return PC_NEXT;
	}
	const struct pc_jwt_claims *c = &jc->c;
	struct pc_principal *p = pc_arena_alloc(&r->arena, sizeof(*p));
	if (p == NULL) {
		pc_respond_problem(r, 500, NULL);
		return PC_DONE;
	}
	size_t sid_len = strlen(c->sid);
	pc_principal_anonymous(p, r);
	p->method = PC_AUTH_JWT;
	memcpy(p->user_id, c->sub, PC_ID_LEN + 1);
	memcpy(p->session_id, c->sid, sid_len + 1);
	_Static_assert(sizeof(p->email) == sizeof(c->email), "same email bound");
	_Static_assert(sizeof(p->token_jti) == sizeof(c->jti), "same jti bound");
	memcpy(p->email, c->email, sizeof(p->email));
	memcpy(p->token_jti, c->jti, sizeof(p->token_jti));
	_Static_assert(sizeof(p->groups) == sizeof(c->groups), "same groups bound");
	memcpy(p->groups, c->groups, sizeof(p->groups));
	/* a token without a role claim (issued before roles) is a member's:
	 * never more than the token says */
	if (pc_role_parse(&p->role, c->role, strlen(c->role)) != 0)
		p->role = PC_ROLE_MEMBER;
	p->token_exp = c->exp;
	p->factors = PC_FACTORS_OF(c->factors);
	p->authenticated_at = c->iat != 0 ? c->iat : r->now;
	r->principal = p;
	r->actor = p;
	return PC_NEXT;
}

/* Each loop thread's cache of verified tokens (jwt.h), freed when the
 * thread ends. NULL when it cannot be had: then every token is verified. */
static pthread_key_t jwt_cache_key;
static pthread_once_t jwt_cache_once = PTHREAD_ONCE_INIT;
static bool jwt_cache_usable;

static void jwt_cache_init(void)
{
	jwt_cache_usable = pthread_key_create(&jwt_cache_key, free) == 0;
}

static struct pc_jwt_cache *thread_jwt_cache(void)
{
	pthread_once(&jwt_cache_once, jwt_cache_init);
	if (!jwt_cache_usable)
		return NULL;
	struct pc_jwt_cache *c = pthread_getspecific(jwt_cache_key);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c != NULL && pthread_setspecific(jwt_cache_key, c) != 0) {
			free(c);
			c = NULL;
		}
	}
	return c;
}

static enum pc_step by_jwt(struct pc_req *r, struct pc_str text)
{
	struct pc_auth *a = pc_auth_of(r);
	struct jwt_check *jc = pc_arena_alloc(&r->arena, sizeof(*jc));
	if (jc == NULL) {
		pc_respond_problem(r, 500, NULL);
		return PC_DONE;
	}
	struct pc_jwt_cache *cache = thread_jwt_cache();
	enum pc_jwt_status st =
		cache != NULL ? pc_jwt_verify_cached(cache, a->ring, &a->jwt, text.p, text.len, r->now, &jc->c)
		              : pc_jwt_verify(a->ring, &a->jwt, text.p, text.len, r->now, &jc->c);
	if (st != PC_JWT_OK) {
		fail(r, st == PC_JWT_EXPIRED ? PC_AUTHF_EXPIRED : PC_AUTHF_INVALID_TOKEN);
		return PC_NEXT;
	}
	/* our subjects and session ids are 32-hex ids: anything else was not
	 * issued by us (and must not be truncated into one) */
	size_t sub_len = strlen(jc->c.sub), sid_len = strlen(jc->c.sid);
	if (sub_len != PC_ID_LEN || (sid_len != 0 && sid_len != PC_ID_LEN)) {
		fail(r, PC_AUTHF_INVALID_TOKEN);
		return PC_NEXT;
	}
	/* the list is held in memory with Redis too: never a round trip */
	jc->err = pc_revocation_check(a, jc->c.jti, &jc->revoked);
	return jwt_finish(r, jc);
}

/* "Bearer <token>": scheme case-insensitive, one space, a token68 with no
 * further spaces. Anything else is a malformed credential. */
static bool bearer_token(struct pc_str v, struct pc_str *tok)
{
	if (v.len < 8 || !pc_str_ieq((struct pc_str){v.p, 6}, "bearer") || v.p[6] != ' ')
		return false;
	tok->p = v.p + 7;
	tok->len = v.len - 7;
	if (tok->len == 0 || memchr(tok->p, ' ', tok->len) != NULL || memchr(tok->p, '\t', tok->len) != NULL)
		return false;
	return true;
}

static void tamper_work(struct pc_req *r, void *data)
{
	(void)data;
	char details[256];
	snprintf(details, sizeof(details), "{\"cookie\":\"%s\",\"route\":\"%s\"}",
	         pc_session_cookie_name(pc_auth_of(r)->cfg), r->route->pattern);
	pc_auth_audit_noise(r, "auth.tampered_cookie", details);
}

static void tamper_done(struct pc_req *r, void *data)
{
	(void)data;
	pc_req_next(r);
}

static bool is_api_key(struct pc_str t)
{
	return t.len >= 3 && memcmp(t.p, "pc_", 3) == 0;
}

enum pc_step pc_stage_authenticate(struct pc_req *r)
{
	struct pc_auth *a = pc_auth_of(r);
	struct pc_principal *anon = pc_arena_alloc(&r->arena, sizeof(*anon));
	if (anon == NULL) {
		pc_respond_problem(r, 500, NULL);
		return PC_DONE;
	}
	pc_principal_anonymous(anon, r);
	r->actor = anon;

	const bool own = r->route != NULL && (r->route->flags & PC_ROUTE_OWN_AUTH) != 0;
	const struct pc_http_header *authz = own ? NULL : pc_http_header_get(r->http, "Authorization");
	const struct pc_http_header *xkey = own ? NULL : pc_http_header_get(r->http, "X-API-Key");
	if (authz != NULL && xkey != NULL) {
		fail(r, PC_AUTHF_INVALID_TOKEN); /* two credentials: use neither */
		return PC_NEXT;
	}
	if (xkey != NULL)
		return by_api_key(r, xkey->value);
	if (authz != NULL) {
		struct pc_str tok;
		if (!bearer_token(authz->value, &tok)) {
			fail(r, PC_AUTHF_INVALID_TOKEN);
			return PC_NEXT;
		}
		return is_api_key(tok) ? by_api_key(r, tok) : by_jwt(r, tok);
	}

	const struct pc_http_cookie *ck = pc_http_cookie_get(r->http, pc_session_cookie_name(a->cfg));
	if (ck == NULL)
		return PC_NEXT;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t exp;
	enum pc_cookie_status st =
		pc_session_open(secret, &exp, ck->value.p, ck->value.len, a->cfg->keys, r->now);
	if (st == PC_COOKIE_EXPIRED) {
		fail(r, PC_AUTHF_EXPIRED);
		return PC_NEXT;
	}
	if (st != PC_COOKIE_OK) {
		/* a security event: audited (rate-limited per address) */
		fail(r, PC_AUTHF_TAMPERED_COOKIE);
		if (pc_req_defer(r, tamper_work, tamper_done, NULL) != 0)
			return PC_NEXT;
		return PC_ASYNC;
	}
	struct lookup *lk = pc_arena_alloc(&r->arena, sizeof(*lk));
	if (lk == NULL) {
		sodium_memzero(secret, sizeof(secret));
		pc_respond_problem(r, 500, NULL);
		return PC_DONE;
	}
	pc_session_secret_hash(lk->hash, secret);
	sodium_memzero(secret, sizeof(secret));
	struct pc_cache_hit h;
	if (pc_cache_get(lk->hash, r->now, &h)) {
		if (h.expires_at <= r->now || h.last_seen_at + a->cfg->session_idle_s <= r->now) {
			fail(r, PC_AUTHF_EXPIRED);
			return PC_NEXT;
		}
		return principal_for(r, &h) != NULL ? PC_NEXT : PC_DONE;
	}
	lk->gen = pc_cache_generation();
	if (pc_req_defer(r, lookup_work, lookup_done, lk) != 0) {
		pc_respond_problem(r, 503, "The server is overloaded.");
		return PC_DONE;
	}
	return PC_ASYNC;
}

enum pc_step pc_stage_require_auth(struct pc_req *r)
{
	if (r->principal != NULL && r->principal->method == PC_AUTH_API_KEY &&
	    (r->route->flags & PC_ROUTE_ADMIN) && !pc_auth_of(r)->cfg->api_keys_can_admin) {
		pc_respond_problem(r, 403, "API keys cannot manage users or API keys "
		                           "(PORTCULLIS_API_KEYS_CAN_ADMIN is false).");
		return PC_DONE;
	}
	if (r->route->access == PC_PUBLIC || r->principal != NULL)
		return PC_NEXT;
	if (r->pending != NULL && r->pending->must_enrol) {
		/* the one thing such a session may do: set up its factor */
		if (r->route->flags & PC_ROUTE_ENROL) {
			r->principal = r->pending;
			r->actor = r->pending;
			return PC_NEXT;
		}
		pc_respond_problem_kind(r, PC_PROB_ENROLMENT_REQUIRED,
		                        "This account must set up a second factor before anything else: POST "
		                        "/api/v1/users/me/totp, then /api/v1/users/me/totp/confirm.");
		return PC_DONE;
	}
	static const char *const details[PC_AUTHF__COUNT] = {
		[PC_AUTHF_TAMPERED_COOKIE] = "The session cookie is not valid.",
		[PC_AUTHF_EXPIRED] = "The session has expired.",
		[PC_AUTHF_UNKNOWN_SESSION] = "The session has ended.",
		[PC_AUTHF_INVALID_TOKEN] = "The bearer token is not valid.",
		[PC_AUTHF_REVOKED_TOKEN] = "The token has been revoked.",
		[PC_AUTHF_INVALID_API_KEY] = "The API key is not valid.",
	};
	const char *d = NULL;
	if (r->auth_failure > 0 && r->auth_failure <= PC_AUTHF__COUNT)
		d = details[r->auth_failure - 1];
	else if (r->pending != NULL)
		d = "A second factor is required: finish signing in at POST /api/v1/auth/second-factor.";
	pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
	pc_respond_problem(r, 401, d ? d : "Authentication is required.");
	return PC_DONE;
}
