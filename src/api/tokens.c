/*
 * tokens.c — the HTTP side of access and refresh tokens (svc/tokens.c has
 * the rules: throttles, rotation, reuse detection, ownership).
 *
 * POST /api/v1/auth/token issues a pair: for {email,password} (throttled
 * and failing exactly like login), or, with an empty body, for the browser
 * session making the request (which the CSRF stage has checked).
 * POST /api/v1/auth/refresh rotates (429 past the limit, 401 for unknown or
 * reused). POST /api/v1/auth/revoke revokes one of your own tokens; like
 * RFC 7009 it answers 200 for anything else. POST /api/v1/auth/introspect
 * (RFC 7662) tells a resource server, authenticated by an API key, whether
 * a token is live: {"active":false} for anything not (expired, revoked,
 * used, tampered, unknown), never why. Both take a form body (the OAuth
 * way) or JSON, and token_type_hint, which they may ignore (RFC 7009 2.1,
 * RFC 7662 2.1) and do: the token's own shape says what it is ("pcr_" is
 * a refresh token, anything else is tried as an access token), so a wrong
 * or unknown hint never hides a token.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/docs.h"
#include "api/input.h"
#include "auth/revocation.h"
#include "svc/tokens.h"

struct token_state {
	enum pc_err err;
	char email[PC_EMAIL_MAX + 1];
	struct pc_secret password; /* freed right after the work */
	bool by_password;          /* else: for the session making the request */
	bool by_mfa;               /* {mfa_token, method, code} */
	struct pc_secret mfa[2];   /* the mfa_token and the code; freed right after the work */
	enum pc_factor_method method;
	uint8_t old_hash[32];
	struct pc_token_pair pair; /* secrets: wiped in done, and by the service on failure */
	int64_t retry_after;
};

static void respond_pair(struct pc_req *r, struct token_state *st)
{
	json_t *body = json_pack("{s:s,s:s,s:I,s:s}", "access_token", st->pair.access, "token_type", "Bearer",
	                         "expires_in", (json_int_t)st->pair.expires_in, "refresh_token", st->pair.refresh);
	sodium_memzero(&st->pair, sizeof(st->pair));
	pc_resp_header(r, "Pragma", "no-cache");
	pc_respond_json(r, 200, body);
}

/* ---------- POST /api/v1/auth/token ---------- */

static void token_work(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	if (st->by_mfa) {
		st->err = pc_tokens_mfa(pc_svc_of(r), r->actor, st->mfa[0].s, st->mfa[0].len, st->method, st->mfa[1].s,
		                        st->mfa[1].len, &st->pair, &st->retry_after);
	} else if (st->by_password) {
		st->err = pc_tokens_login(pc_svc_of(r), r->actor, st->email, st->password.s, st->password.len, &st->pair,
		                          &st->retry_after);
	} else {
		st->err = pc_tokens_issue(pc_svc_of(r), r->principal, &st->pair);
	}
}

static void token_done(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	if (st->err != PC_OK) {
		struct pc_api_say say = pc_api_say_login;
		say.retry_after = st->retry_after;
		if (st->by_mfa)
			say.unauthorized = "The mfa_token or the code is not valid.";
		say.forbidden = "This account's only second factor is a passkey, which this endpoint cannot take "
		                "(its second step is TOTP or a recovery code): sign in with the passkey in a browser.";
		pc_api_error(r, st->err, st->by_password || st->by_mfa ? &say : NULL);
		return;
	}
	if (st->pair.mfa_token[0] != '\0') {
		/* the password was right; a second factor must follow (RFC 6749
		 * has no word for it: a 401 that says how to go on) */
		json_t *body = json_pack("{s:s,s:s,s:i,s:s,s:b,s:s,s:[ss]}", "type",
		                         "/api/v1/problems/second-factor-required", "title", "Second factor required",
		                         "status", 401, "detail",
		                         "A second factor is required: POST {mfa_token, method, code} to this URL.",
		                         "mfa_required", true, "mfa_token", st->pair.mfa_token, "methods", "totp",
		                         "recovery");
		sodium_memzero(&st->pair, sizeof(st->pair));
		char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (text == NULL) {
			pc_respond_problem(r, 500, NULL);
			return;
		}
		pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
		pc_respond(r, 401, "application/problem+json", text, strlen(text));
		sodium_memzero(text, strlen(text));
		free(text);
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
	if (r->body_len > 0 && memmem(r->body, r->body_len, "\"mfa_token\"", 11) != NULL) {
		static const struct pc_field mfa_fields[] = {
			{"mfa_token", PC_F_SECRET, true, PC_MFA_TOKEN_LEN},
			{"code", PC_F_SECRET, true, 64},
			{"method", PC_F_STRING, false, 16},
		};
		struct pc_input in;
		if (pc_input_or_respond(r, mfa_fields, 3, &in) != 0)
			return;
		const char *m = in.present[2] ? in.v[2].str.s : "totp";
		if (strcmp(m, "totp") != 0 && strcmp(m, "recovery") != 0) {
			pc_input_wipe(&in);
			pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"method\" must be \"totp\" or \"recovery\".");
			return;
		}
		st->method = strcmp(m, "totp") == 0 ? PC_FACTOR_TOTP : PC_FACTOR_RECOVERY;
		pc_input_take(&in, 0, &st->mfa[0]);
		pc_input_take(&in, 1, &st->mfa[1]);
		pc_input_wipe(&in);
		st->by_mfa = true;
		pc_api_defer_secrets(r, token_work, token_done, st, st->mfa, 2);
		return;
	}
	if (pc_api_credentials_or_respond(r, st->email, &st->password, false) != 0)
		return;
	st->by_password = true;
	pc_api_defer_secrets(r, token_work, token_done, st, &st->password, 1);
}

/* ---------- POST /api/v1/auth/refresh ---------- */

static const struct pc_field refresh_fields[] = {
	{"refresh_token", PC_F_SECRET, true, 256},
};
const struct pc_fields pc_api_fields_refresh = PC_FIELDS(refresh_fields);

static void refresh_work(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	struct pc_principal client; /* the presenter of a refresh token is anonymous */
	pc_principal_anonymous(&client, r);
	st->err = pc_tokens_refresh(pc_svc_of(r), &client, st->old_hash, &st->pair, &st->retry_after);
}

static void refresh_done(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	if (st->err != PC_OK) {
		struct pc_api_say say = pc_api_say_refresh;
		say.retry_after = st->retry_after;
		pc_api_error(r, st->err, &say);
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
	int rc = pc_tokens_refresh_parse(st->old_hash, in.v[0].str.s, in.v[0].str.len);
	pc_input_wipe(&in);
	if (rc != 0) {
		pc_api_error(r, PC_ERR_NOT_FOUND, &pc_api_say_refresh);
		return;
	}
	pc_api_defer(r, refresh_work, refresh_done, st);
}

/* ---------- POST /api/v1/auth/revoke ---------- */

/* token_type_hint: access_token, refresh_token, or any other value (the
 * registry is open-ended): ignored, see the top of the file */
#define HINT_MAX 64

static const struct pc_field revoke_fields[] = {
	{"token", PC_F_SECRET, true, PC_JWT_MAX_BYTES},
	{"token_type_hint", PC_F_STRING, false, HINT_MAX},
};
const struct pc_fields pc_api_fields_revoke = PC_FIELDS(revoke_fields);

struct revoke_state {
	enum pc_err err;
	bool refresh;
	uint8_t hash[32];
	struct pc_jwt_claims c;
};

static void revoke_work(struct pc_req *r, void *data)
{
	struct revoke_state *st = data;
	if (st->refresh)
		st->err = pc_tokens_revoke_refresh(pc_svc_of(r), r->principal, st->hash);
	else
		st->err = pc_tokens_revoke_access(pc_svc_of(r), r->principal, &st->c);
}

static void revoke_done(struct pc_req *r, void *data)
{
	struct revoke_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	pc_respond_json(r, 200, json_object());
}

/* Whether t is a token worth revoking: a well-formed refresh token (its
 * hash in st), or an access token that is ours, authentic and not yet
 * expired (an expired token needs no revoking). */
static bool revocable(struct pc_req *r, struct revoke_state *st, const char *t, size_t len)
{
	struct pc_auth *a = pc_auth_of(r);
	if (len >= 4 && memcmp(t, PC_REFRESH_PREFIX, 4) == 0) {
		st->refresh = true;
		return pc_tokens_refresh_parse(st->hash, t, len) == 0;
	}
	return pc_jwt_verify(a->ring, &a->jwt, t, len, r->now, &st->c) == PC_JWT_OK;
}

void pc_api_revoke(struct pc_req *r)
{
	struct revoke_state *st = pc_api_state_or_respond(r, sizeof(*st));
	struct pc_input in;
	if (st == NULL || pc_input_oauth_or_respond(r, revoke_fields, 2, &in) != 0)
		return;
	/* an API key owns no tokens; anything unrevocable: RFC 7009, not an error */
	bool go = r->principal->user_id[0] != '\0' && revocable(r, st, in.v[0].str.s, in.v[0].str.len);
	pc_input_wipe(&in);
	if (!go) {
		pc_respond_json(r, 200, json_object());
		return;
	}
	pc_api_defer(r, revoke_work, revoke_done, st);
}

/* ---------- POST /api/v1/auth/introspect ---------- */

static const struct pc_field introspect_fields[] = {
	{"token", PC_F_SECRET, true, PC_JWT_MAX_BYTES},
	{"token_type_hint", PC_F_STRING, false, HINT_MAX},
};
const struct pc_fields pc_api_fields_introspect = PC_FIELDS(introspect_fields);

struct introspect_state {
	enum pc_err err;
	uint8_t hash[32];
	struct pc_refresh_info info;
};

static void inactive(struct pc_req *r)
{
	pc_respond_json(r, 200, json_pack("{s:b}", "active", 0));
}

static void introspect_work(struct pc_req *r, void *data)
{
	struct introspect_state *st = data;
	st->err = pc_tokens_introspect_refresh(pc_svc_of(r), r->principal, st->hash, &st->info);
}

static void introspect_done(struct pc_req *r, void *data)
{
	struct introspect_state *st = data;
	sodium_memzero(st->hash, sizeof(st->hash));
	if (st->err == PC_ERR_NOT_FOUND) {
		inactive(r);
		return;
	}
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	const struct pc_refresh_info *i = &st->info;
	json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:s}", "active", 1, "token_type", "refresh_token",
	                      "sub", i->user_id, "username", i->email, "iat", (json_int_t)i->iat, "exp",
	                      (json_int_t)i->exp, "iss", pc_auth_of(r)->cfg->issuer);
	if (o != NULL && i->session_id[0] != '\0')
		json_object_set_new(o, "sid", json_string(i->session_id));
	pc_respond_json(r, 200, o);
}

/* An access token: signature, claims and the revocation list, as verify
 * checks it (the in-memory list every instance keeps, caught up from the
 * store: a revocation made on any instance is seen). */
static void introspect_access(struct pc_req *r, const char *t, size_t len)
{
	struct pc_auth *a = pc_auth_of(r);
	struct pc_jwt_claims c;
	bool revoked = false;
	if (pc_jwt_verify(a->ring, &a->jwt, t, len, r->now, &c) != PC_JWT_OK ||
	    strlen(c.sub) != PC_ID_LEN || (c.sid[0] != '\0' && strlen(c.sid) != PC_ID_LEN)) {
		inactive(r);
		return;
	}
	enum pc_err e = pc_revocation_check(a, c.jti, &revoked);
	if (e != PC_OK && !a->cfg->revocation_fail_open) {
		pc_resp_header(r, "Retry-After", "5");
		pc_respond_problem(r, 503, "The revocation list is unavailable.");
		return;
	}
	if (e == PC_OK && revoked) {
		inactive(r);
		return;
	}
	json_t *o = json_pack("{s:b, s:s, s:s, s:I, s:s, s:s, s:s}", "active", 1, "token_type", "Bearer", "sub", c.sub,
	                      "exp", (json_int_t)c.exp, "jti", c.jti, "iss", a->cfg->issuer, "aud", a->cfg->audience);
	if (o != NULL && c.iat != 0)
		json_object_set_new(o, "iat", json_integer(c.iat));
	if (o != NULL && c.nbf != 0)
		json_object_set_new(o, "nbf", json_integer(c.nbf));
	if (o != NULL && c.email[0] != '\0')
		json_object_set_new(o, "username", json_string(c.email));
	if (o != NULL && c.sid[0] != '\0')
		json_object_set_new(o, "sid", json_string(c.sid));
	pc_respond_json(r, 200, o);
}

void pc_api_introspect(struct pc_req *r)
{
	if (!pc_tokens_may_introspect(r->principal)) {
		pc_respond_problem(r, 403, "Introspection is for resource servers: authenticate with an API key.");
		return;
	}
	struct introspect_state *st = pc_api_state_or_respond(r, sizeof(*st));
	struct pc_input in;
	if (st == NULL || pc_input_oauth_or_respond(r, introspect_fields, 2, &in) != 0)
		return;
	const char *t = in.v[0].str.s;
	size_t len = in.v[0].str.len;
	if (len >= 4 && memcmp(t, PC_REFRESH_PREFIX, 4) == 0) {
		int rc = pc_tokens_refresh_parse(st->hash, t, len);
		pc_input_wipe(&in);
		if (rc != 0)
			inactive(r);
		else
			pc_api_defer(r, introspect_work, introspect_done, st);
		return;
	}
	introspect_access(r, t, len);
	pc_input_wipe(&in);
}

/* ---------- GET /.well-known/jwks.json ---------- */

void pc_api_jwks(struct pc_req *r)
{
	const char *body = pc_auth_of(r)->jwks;
	pc_respond(r, 200, "application/jwk-set+json", body, strlen(body));
}
