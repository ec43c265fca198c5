/*
 * tokens.c — access tokens (JWT) and refresh tokens.
 *
 * POST /api/v1/auth/token issues a pair: for {email,password} (throttled
 * and failing exactly like login), or, with an empty body, for the browser
 * session making the request (which the CSRF stage has checked). A refresh
 * token is "pcr_" + 43 base64url characters (256 random bits); the store
 * keeps BLAKE2b-256 of the 32 bytes, its family, and the access token
 * issued with it. POST /api/v1/auth/refresh rotates: single use; a used
 * token presented again revokes its whole family (refresh tokens and every
 * access token issued from it) — the thief and the victim both have to log
 * in again, which is the point. At most PORTCULLIS_REFRESH_LIMIT refreshes
 * per user per hour (kv counter refresh_count:{user_id}:{hour}).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/input.h"
#include "audit/chain.h"
#include "auth/revocation.h"
#include "core/b64url.h"
#include "core/log.h"
#include "obs/metrics.h"

#define REFRESH_PREFIX "pcr_"
#define REFRESH_RAW 32
#define REFRESH_LEN (4 + 43)
#define ACCESS_MAX 4096

struct token_state {
	enum pc_err err;
	char email[PC_EMAIL_MAX + 1];
	char *password;
	size_t password_len;
	struct pc_user user;
	uint8_t old_hash[32];
	struct pc_refresh_token rt, old;
	struct pc_revoked *revoked;
	size_t n_revoked;
	char access[ACCESS_MAX];
	char jti[PC_JTI_MAX + 1];
	char refresh[REFRESH_LEN + 1];
	char sid[PC_ID_LEN + 1];
	int64_t retry_after; /* > 0: over the refresh limit */
	bool issued;
};

static void refresh_hash(uint8_t out[32], const uint8_t raw[REFRESH_RAW])
{
	crypto_generichash(out, 32, raw, REFRESH_RAW, NULL, 0);
}

/* A fresh access token and refresh token for user/email/sid into st (the
 * refresh record is filled but not stored). 0 or -1. */
static int mint(struct pc_req *r, struct token_state *st, const char *user_id, const char *email,
                const char *sid)
{
	struct pc_auth *a = pc_auth_of(r);
	const struct pc_config *cfg = a->cfg;
	if (pc_jwt_issue(a->ring, &a->jwt, user_id, sid, email, r->now, cfg->access_token_lifetime_s,
	                 st->access, sizeof(st->access), st->jti) != 0)
		return -1;
	uint8_t raw[REFRESH_RAW];
	randombytes_buf(raw, sizeof(raw));
	memcpy(st->refresh, REFRESH_PREFIX, 4);
	pc_b64url_encode(st->refresh + 4, sizeof(st->refresh) - 4, raw, sizeof(raw));
	memset(&st->rt, 0, sizeof(st->rt));
	refresh_hash(st->rt.token_hash, raw);
	sodium_memzero(raw, sizeof(raw));
	snprintf(st->rt.user_id, sizeof(st->rt.user_id), "%s", user_id);
	snprintf(st->rt.session_id, sizeof(st->rt.session_id), "%s", sid ? sid : "");
	st->rt.created_at = r->now;
	st->rt.expires_at = r->now + cfg->refresh_token_lifetime_s;
	snprintf(st->rt.access_jti, sizeof(st->rt.access_jti), "%s", st->jti);
	st->rt.access_exp = r->now + cfg->access_token_lifetime_s;
	return 0;
}

static void respond_pair(struct pc_req *r, struct token_state *st)
{
	json_t *body = json_pack("{s:s,s:s,s:I,s:s}", "access_token", st->access, "token_type", "Bearer",
	                         "expires_in", (json_int_t)pc_auth_of(r)->cfg->access_token_lifetime_s,
	                         "refresh_token", st->refresh);
	sodium_memzero(st->access, sizeof(st->access));
	sodium_memzero(st->refresh, sizeof(st->refresh));
	pc_resp_header(r, "Pragma", "no-cache");
	pc_respond_json(r, 200, body);
}

/* ---------- POST /api/v1/auth/token ---------- */

static void token_work(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	struct pc_auth *a = pc_auth_of(r);
	const struct pc_principal *by = r->principal;
	struct pc_principal actor;
	if (st->password != NULL) {
		st->err = pc_api_check_password(r, st->email, st->password, st->password_len, &st->user,
		                                &st->retry_after);
		if (st->err != PC_OK)
			return;
		pc_principal_anonymous(&actor, r);
		actor.method = PC_AUTH_ANONYMOUS;
		snprintf(actor.user_id, sizeof(actor.user_id), "%s", st->user.id);
		snprintf(actor.email, sizeof(actor.email), "%s", st->user.email);
		by = &actor;
	} else {
		snprintf(st->user.id, sizeof(st->user.id), "%s", by->user_id);
		snprintf(st->user.email, sizeof(st->user.email), "%s", by->email);
		snprintf(st->sid, sizeof(st->sid), "%s", by->session_id);
	}
	if (mint(r, st, st->user.id, st->user.email, st->sid[0] ? st->sid : NULL) != 0) {
		st->err = PC_ERR_INTERNAL;
		return;
	}
	pc_random_id(st->rt.family_id);
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, by, "token.issue", "token_family", st->rt.family_id);
	snprintf(ev.details, sizeof(ev.details), "{\"jti\":\"%s\",\"via\":\"%s\"}", st->jti,
	         st->password != NULL ? "password" : "session");
	st->err = pc_store_refresh_create(a->store, by, &ev, &st->rt);
}

static void token_done(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	if (st->password != NULL)
		sodium_memzero(st->password, st->password_len);
	if (st->err != PC_OK && st->password != NULL) {
		pc_api_login_failed(r, st->err, st->retry_after);
		return;
	}
	if (st->err != PC_OK) {
		pc_api_store_error(r, st->err, NULL, NULL);
		return;
	}
	respond_pair(r, st);
}

void pc_api_token(struct pc_req *r)
{
	struct token_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	if (r->body_len == 0 && r->principal != NULL && r->principal->method == PC_AUTH_SESSION) {
		pc_api_defer(r, token_work, token_done, st);
		return;
	}
	const char *pw;
	if (pc_api_credentials_or_respond(r, st->email, &pw, &st->password_len, false) != 0)
		return;
	st->password = (char *)pw;
	pc_api_defer(r, token_work, token_done, st);
}

/* ---------- POST /api/v1/auth/refresh ---------- */

static const struct pc_field refresh_fields[] = {
	{"refresh_token", PC_F_STRING, true, 256},
};

/* "pcr_" + canonical base64url of 32 bytes -> its hash. 0 or -1. */
static int parse_refresh(uint8_t hash[32], const char *s, size_t len)
{
	uint8_t raw[REFRESH_RAW];
	size_t n = 0;
	if (len != REFRESH_LEN || memcmp(s, REFRESH_PREFIX, 4) != 0 ||
	    pc_b64url_decode(raw, sizeof(raw), &n, s + 4, len - 4) != 0 || n != REFRESH_RAW)
		return -1;
	refresh_hash(hash, raw);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

/* Counts one refresh of user_id in this hour; > 0: seconds until allowed. */
static int64_t refresh_limited(struct pc_req *r, const char *user_id)
{
	struct pc_auth *a = pc_auth_of(r);
	char key[PC_KV_KEY_MAX + 1];
	int64_t hour = r->now / 3600, v = 0, ttl = 0;
	snprintf(key, sizeof(key), "refresh_count:%s:%lld", user_id, (long long)hour);
	if (pc_kv_incr(a->kv, key, 3600 - r->now % 3600, &v, &ttl) != PC_OK)
		return 0; /* the counter is a brake, not a credential check: fail open */
	return v > (int64_t)a->cfg->refresh_limit ? (ttl > 0 ? ttl : 1) : 0;
}

static void refresh_work(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	struct pc_auth *a = pc_auth_of(r);
	st->err = pc_store_refresh_get(a->store, st->old_hash, &st->old);
	if (st->err != PC_OK)
		return;
	st->retry_after = refresh_limited(r, st->old.user_id);
	if (st->retry_after > 0)
		return;
	struct pc_user u;
	st->err = pc_store_user_get(a->store, st->old.user_id, &u);
	if (st->err != PC_OK)
		return;
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (mint(r, st, u.id, u.email, st->old.session_id[0] ? st->old.session_id : NULL) != 0) {
		st->err = PC_ERR_INTERNAL;
		return;
	}
	struct pc_principal actor;
	pc_principal_anonymous(&actor, r);
	snprintf(actor.user_id, sizeof(actor.user_id), "%s", u.id);
	snprintf(actor.email, sizeof(actor.email), "%s", u.email);
	struct pc_audit_event ev, reuse;
	pc_audit_event_init(&ev, &actor, "token.refresh", "token_family", st->old.family_id);
	snprintf(ev.details, sizeof(ev.details), "{\"jti\":\"%s\"}", st->jti);
	pc_audit_event_init(&reuse, &actor, "token.reuse", "token_family", st->old.family_id);
	snprintf(reuse.details, sizeof(reuse.details), "{\"action\":\"family revoked\"}");
	st->err = pc_store_refresh_rotate(a->store, &actor, &ev, &reuse, st->old_hash, r->now, &st->rt,
	                                  &st->old, &st->revoked, &st->n_revoked);
	if (st->err == PC_ERR_CONFLICT && reuse.seq == 0)
		st->err = PC_ERR_INTERNAL; /* a colliding new token, not a reuse */
	else if (st->err == PC_ERR_CONFLICT)
		(void)pc_revocation_add(a, st->revoked, st->n_revoked, r->now);
}

static void refresh_done(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	free(st->revoked);
	if (st->retry_after > 0) {
		char ra[24];
		snprintf(ra, sizeof(ra), "%lld", (long long)st->retry_after);
		pc_resp_header(r, "Retry-After", ra);
		pc_metrics_auth_failure(PC_AUTHF_THROTTLED);
		pc_respond_problem(r, 429, "Too many refreshes; try again later.");
		return;
	}
	if (st->err == PC_ERR_NOT_FOUND || st->err == PC_ERR_CONFLICT) {
		pc_metrics_auth_failure(st->err == PC_ERR_CONFLICT ? PC_AUTHF_REVOKED_TOKEN : PC_AUTHF_INVALID_TOKEN);
		if (st->err == PC_ERR_CONFLICT)
			pc_log("warning", "token_reuse", "a used refresh token was presented again; its family is revoked");
		pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
		pc_respond_problem(r, 401, "The refresh token is not valid.");
		return;
	}
	if (st->err != PC_OK) {
		pc_api_store_error(r, st->err, NULL, NULL);
		return;
	}
	respond_pair(r, st);
}

void pc_api_refresh(struct pc_req *r)
{
	struct token_state *st = pc_api_state_or_respond(r, sizeof(*st));
	struct pc_input in;
	if (st == NULL || pc_input_or_respond(r, refresh_fields, 1, &in) != 0)
		return;
	if (parse_refresh(st->old_hash, in.v[0].str.s, in.v[0].str.len) != 0) {
		pc_metrics_auth_failure(PC_AUTHF_INVALID_TOKEN);
		pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
		pc_respond_problem(r, 401, "The refresh token is not valid.");
		return;
	}
	pc_api_defer(r, refresh_work, refresh_done, st);
}

/* ---------- POST /api/v1/auth/revoke ---------- */

static const struct pc_field revoke_fields[] = {
	{"token", PC_F_STRING, true, PC_JWT_MAX_BYTES},
};

struct revoke_state {
	enum pc_err err;
	bool refresh;
	uint8_t hash[32];
	struct pc_jwt_claims c;
	struct pc_refresh_token rt;
};

static void revoke_work(struct pc_req *r, void *data)
{
	struct revoke_state *st = data;
	struct pc_auth *a = pc_auth_of(r);
	const char *family = NULL, *jti = NULL;
	if (st->refresh) {
		if (pc_store_refresh_get(a->store, st->hash, &st->rt) != PC_OK ||
		    strcmp(st->rt.user_id, r->principal->user_id) != 0)
			return; /* unknown or not yours: nothing to do, same answer */
		family = st->rt.family_id;
	} else {
		jti = st->c.jti;
	}
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, r->principal, "token.revoke", family ? "token_family" : "access_token",
	                    family ? family : "");
	if (jti != NULL)
		snprintf(ev.details, sizeof(ev.details), "{\"jti\":\"%s\"}", jti);
	st->err = pc_api_revoke_tokens(r, &ev, jti, st->c.exp, family, NULL, NULL);
}

static void revoke_done(struct pc_req *r, void *data)
{
	struct revoke_state *st = data;
	if (st->err != PC_OK) {
		pc_api_store_error(r, st->err, NULL, NULL);
		return;
	}
	pc_respond_json(r, 200, json_object());
}

void pc_api_revoke(struct pc_req *r)
{
	struct pc_auth *a = pc_auth_of(r);
	struct revoke_state *st = pc_api_state_or_respond(r, sizeof(*st));
	struct pc_input in;
	if (st == NULL || pc_input_or_respond(r, revoke_fields, 1, &in) != 0)
		return;
	const char *t = in.v[0].str.s;
	size_t len = in.v[0].str.len;
	if (r->principal->user_id[0] == '\0') { /* an API key owns no tokens */
		pc_respond_json(r, 200, json_object());
		return;
	}
	if (len >= 4 && memcmp(t, REFRESH_PREFIX, 4) == 0) {
		st->refresh = true;
		if (parse_refresh(st->hash, t, len) != 0) {
			pc_respond_json(r, 200, json_object()); /* RFC 7009: invalid is not an error */
			return;
		}
	} else {
		/* ours, authentic, and not yet expired (an expired token needs no
		 * revoking); another user's token is left alone */
		if (pc_jwt_verify(a->ring, &a->jwt, t, len, r->now, &st->c) != PC_JWT_OK ||
		    strcmp(st->c.sub, r->principal->user_id) != 0) {
			pc_respond_json(r, 200, json_object());
			return;
		}
	}
	pc_api_defer(r, revoke_work, revoke_done, st);
}

/* ---------- GET /.well-known/jwks.json ---------- */

void pc_api_jwks(struct pc_req *r)
{
	const char *body = pc_auth_of(r)->jwks;
	pc_respond(r, 200, "application/jwk-set+json", body, strlen(body));
}
