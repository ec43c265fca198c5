/*
 * tokens.c — see tokens.h. The login throttles live here, once, for every
 * way of presenting a password (session login, token issue).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "auth/revocation.h"
#include "config/config.h"
#include "core/b64url.h"
#include "core/log.h"
#include "svc/factors.h"
#include "svc/tokens.h"

enum pc_err pc_tokens_check_password(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                     const char *pw, size_t len, struct pc_user *user, int64_t *retry_after)
{
	struct pc_auth *a = &ctx->auth;
	memset(user, 0, sizeof(*user));
	/* a slot under the address ceiling and under the account's limit,
	 * taken before the password is looked at: a failure keeps both, a
	 * success gives the address's back and clears the account's */
	const struct pc_ratelimit *rls[2] = {&a->login_addr, &a->login_account};
	const char *subjects[2] = {actor->client_addr, email};
	struct pc_throttle_slot slots[2];
	pc_throttle_take_all(&a->throttle, slots, 2, rls, subjects, retry_after);
	if (*retry_after > 0) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "auth.login_throttled", "user", "", "{s:s,s:I}", "email", email,
		             "retry_after", (json_int_t)*retry_after);
		pc_auth_audit_noise_event(a, actor, &ev);
		return PC_ERR_THROTTLED;
	}
	bool ok = false;
	enum pc_err err = pc_store_user_get_by_email(ctx->store, email, user);
	if (err == PC_ERR_NOT_FOUND) {
		pc_password_dummy_verify(pw, len);
	} else if (err == PC_OK) {
		/* a disabled user pays the same hash and gets the same answer as a
		 * wrong password: nothing tells the two apart */
		ok = pc_password_verify(user->password_hash, pw, len) == 0 && !user->disabled;
	} else {
		pc_throttle_release(&slots[0]); /* not an attempt: the store failed */
		pc_throttle_release(&slots[1]);
		return err;
	}
	if (!ok) {
		struct pc_audit_event ev;
		if (err == PC_OK && user->disabled) /* the trail says why; the client never learns it */
			pc_svc_event(&ev, actor, "auth.login_failed", "user", user->id, "{s:s,s:s}", "email", email,
			             "reason", "disabled");
		else
			pc_svc_event(&ev, actor, "auth.login_failed", "user", err == PC_OK ? user->id : "", "{s:s}",
			             "email", email);
		pc_log_if_failed(pc_store_audit_append(ctx->store, actor, &ev), "audit_append", "auth.login_failed");
		sodium_memzero(user->password_hash, sizeof(user->password_hash));
		return PC_ERR_NOT_FOUND;
	}
	pc_throttle_release(&slots[0]);
	pc_throttle_reset(&slots[1]);
	if (pc_password_needs_rehash(user->password_hash, &a->cost)) {
		char h[PC_PWHASH_MAX];
		if (pc_password_hash(h, pw, len, &a->cost) == 0)
			pc_log_if_failed(pc_store_user_rehash(ctx->store, user->id, h), "store_rehash", "password rehash");
		sodium_memzero(h, sizeof(h));
	}
	sodium_memzero(user->password_hash, sizeof(user->password_hash));
	return PC_OK;
}

enum pc_err pc_tokens_signin_written(struct pc_svc *ctx, const struct pc_principal *actor,
                                     const struct pc_user *user, enum pc_err e)
{
	if (e != PC_ERR_STALE && e != PC_ERR_NOT_FOUND)
		return e;
	/* the credentials changed (or the user went) between the password
	 * check and the write: nothing was written; the client gets the answer
	 * of a wrong password, the trail says why */
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "auth.login_stale", "user", user->id, "{s:s}", "email", user->email);
	pc_log_if_failed(pc_store_audit_append(ctx->store, actor, &ev), "audit_append", "auth.login_stale");
	return PC_ERR_NOT_FOUND;
}

static void refresh_hash(uint8_t out[32], const uint8_t raw[PC_REFRESH_RAW])
{
	crypto_generichash(out, 32, raw, PC_REFRESH_RAW, NULL, 0);
}

int pc_tokens_refresh_parse(uint8_t hash[32], const char *s, size_t len)
{
	uint8_t raw[PC_REFRESH_RAW];
	size_t n = 0;
	if (len != PC_REFRESH_LEN || memcmp(s, PC_REFRESH_PREFIX, 4) != 0 ||
	    pc_b64url_decode(raw, sizeof(raw), &n, s + 4, len - 4) != 0 || n != PC_REFRESH_RAW) {
		sodium_memzero(raw, sizeof(raw));
		return -1;
	}
	refresh_hash(hash, raw);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

/* A fresh access token and refresh token for user u (its id, email, role
 * and groups become claims) and sid into out, and
 * the refresh record rt (filled, not stored). 0 or -1. */
static int mint(struct pc_svc *ctx, struct pc_token_pair *out, struct pc_refresh_token *rt, const struct pc_user *u,
                const char *sid, int64_t factors)
{
	const struct pc_config *cfg = ctx->cfg;
	int64_t now = pc_svc_now(ctx);
	const char *user_id = u->id;
	factors = PC_FACTORS_OF(factors);
	if (pc_jwt_issue_amr(ctx->auth.ring, &ctx->auth.jwt, user_id, sid, u->email, pc_role_name(u->role), u->groups,
	                     (unsigned)factors, now, cfg->access_token_lifetime_s, out->access, sizeof(out->access),
	                     out->jti) != 0)
		return -1;
	out->expires_in = cfg->access_token_lifetime_s;
	uint8_t raw[PC_REFRESH_RAW];
	randombytes_buf(raw, sizeof(raw));
	memcpy(out->refresh, PC_REFRESH_PREFIX, 4);
	pc_b64url_encode(out->refresh + 4, sizeof(out->refresh) - 4, raw, sizeof(raw));
	memset(rt, 0, sizeof(*rt));
	refresh_hash(rt->token_hash, raw);
	sodium_memzero(raw, sizeof(raw));
	snprintf(rt->user_id, sizeof(rt->user_id), "%s", user_id);
	snprintf(rt->session_id, sizeof(rt->session_id), "%s", sid ? sid : "");
	rt->created_at = now;
	rt->expires_at = now + cfg->refresh_token_lifetime_s;
	snprintf(rt->access_jti, sizeof(rt->access_jti), "%s", out->jti);
	rt->access_exp = now + cfg->access_token_lifetime_s;
	rt->factors = factors;
	return 0;
}

/* A new family for user by actor under the credential epoch that its
 * sign-in read; via: "password" or "session". The access token minted
 * here is wiped unless the family is written. */
static enum pc_err issue(struct pc_svc *ctx, const struct pc_principal *by, const struct pc_user *u,
                         const char *sid, const char *via, int64_t factors, struct pc_token_pair *out)
{
	struct pc_refresh_token rt;
	if (u->disabled)
		return PC_ERR_NOT_FOUND; /* the store ended its credentials; never a new family */
	if (mint(ctx, out, &rt, u, sid, factors) != 0)
		return PC_ERR_INTERNAL;
	rt.cred_epoch = u->cred_epoch;
	pc_random_id(rt.family_id);
	struct pc_audit_event ev;
	pc_svc_event(&ev, by, "token.issue", "token_family", rt.family_id, "{s:s,s:s}", "jti", out->jti, "via",
	             via);
	enum pc_err e = pc_store_refresh_create(ctx->store, by, &ev, &rt);
	if (e != PC_OK)
		sodium_memzero(out, sizeof(*out));
	return e;
}

/* The password was right and the user has a second factor: a pending
 * session (PC_MFA_TOKEN_S long, no cookie) whose sealed secret is the
 * mfa_token the client finishes with (pc_tokens_mfa). */
static enum pc_err mfa_challenge(struct pc_svc *ctx, const struct pc_principal *actor, const struct pc_user *u,
                                 struct pc_token_pair *out)
{
	struct pc_session sess;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	pc_svc_session_new(ctx, &sess, secret, actor, u->id);
	sess.cred_epoch = u->cred_epoch;
	sess.pending = PC_PENDING_SECOND;
	sess.expires_at = sess.created_at + PC_MFA_TOKEN_S;
	struct pc_principal self;
	pc_svc_session_principal(&self, actor, u, &sess);
	struct pc_audit_event ev;
	pc_svc_event(&ev, &self, "token.mfa_required", "session", sess.id, NULL);
	enum pc_err e = pc_tokens_signin_written(ctx, actor, u, pc_store_session_create(ctx->store, &self, &ev, &sess));
	if (e == PC_OK) {
		memcpy(out->mfa_token, PC_MFA_PREFIX, 4);
		pc_session_seal(out->mfa_token + 4, secret, sess.expires_at, ctx->cfg->keys);
	}
	sodium_memzero(secret, sizeof(secret));
	return e;
}

enum pc_err pc_tokens_mfa(struct pc_svc *ctx, const struct pc_principal *actor, const char *mfa_token, size_t len,
                          enum pc_factor_method method, const char *code, size_t code_len, struct pc_token_pair *out,
                          int64_t *retry_after)
{
	memset(out, 0, sizeof(*out));
	*retry_after = 0;
	uint8_t secret[PC_SESSION_SECRET_BYTES], hash[32];
	int64_t exp;
	if (len != PC_MFA_TOKEN_LEN || memcmp(mfa_token, PC_MFA_PREFIX, 4) != 0 ||
	    pc_session_open(secret, &exp, mfa_token + 4, len - 4, ctx->cfg->keys, pc_svc_now(ctx)) != PC_COOKIE_OK)
		return PC_ERR_NOT_FOUND;
	pc_session_secret_hash(hash, secret);
	sodium_memzero(secret, sizeof(secret));
	struct pc_session sess;
	enum pc_err e = pc_store_session_get(ctx->store, hash, &sess);
	if (e != PC_OK)
		return e;
	if (sess.pending != PC_PENDING_SECOND || sess.expires_at <= pc_svc_now(ctx))
		return PC_ERR_NOT_FOUND;
	struct pc_user u;
	e = pc_store_user_get(ctx->store, sess.user_id, &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e != PC_OK)
		return e;
	struct pc_principal self;
	pc_svc_session_principal(&self, actor, &u, &sess);
	e = pc_factors_check(ctx, &self, u.id, method, code, code_len, retry_after);
	if (e != PC_OK)
		return e;
	/* single use: of any number of racing finishers one deletes the row */
	struct pc_audit_event ev;
	pc_svc_event(&ev, &self, "token.mfa_done", "session", sess.id, NULL);
	e = pc_store_session_delete(ctx->store, &self, &ev, u.id, sess.id);
	if (e != PC_OK)
		return e;
	struct pc_principal by = self;
	by.method = PC_AUTH_ANONYMOUS;
	by.session_id[0] = '\0';
	return pc_tokens_signin_written(ctx, actor, &u,
	                                issue(ctx, &by, &u, NULL, "mfa", 2, out));
}

enum pc_err pc_tokens_login(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                            const char *password, size_t len, struct pc_token_pair *out, int64_t *retry_after)
{
	struct pc_user u;
	memset(out, 0, sizeof(*out));
	enum pc_err e = pc_tokens_check_password(ctx, actor, email, password, len, &u, retry_after);
	if (e != PC_OK)
		return e;
	/* the client is still anonymous; the event names whom it got a pair for */
	struct pc_principal by;
	memset(&by, 0, sizeof(by));
	by.method = PC_AUTH_ANONYMOUS;
	by.authenticated_at = pc_svc_now(ctx);
	memcpy(by.client_addr, actor->client_addr, sizeof(by.client_addr));
	memcpy(by.user_agent, actor->user_agent, sizeof(by.user_agent));
	snprintf(by.user_id, sizeof(by.user_id), "%s", u.id);
	snprintf(by.email, sizeof(by.email), "%s", u.email);
	unsigned methods = 0;
	e = pc_factors_methods(ctx, u.id, &methods);
	if (e != PC_OK)
		return e;
	/* the mfa_token flow takes TOTP and recovery codes only: a user whose
	 * only second factor is a passkey cannot finish it here */
	if (methods != 0 && !(methods & PC_METHODS_TOTP))
		return PC_ERR_FORBIDDEN;
	if (methods != 0)
		return mfa_challenge(ctx, actor, &u, out);
	if (pc_factors_required(ctx, u.role)) {
		/* no token before the factor the configuration requires */
		struct pc_audit_event ev;
		pc_svc_event(&ev, &by, "token.enrolment_required", "user", u.id, NULL);
		pc_log_if_failed(pc_store_audit_append(ctx->store, &by, &ev), "audit_append", "token.enrolment_required");
		return PC_ERR_ENROL;
	}
	return pc_tokens_signin_written(ctx, actor, &u,
	                                issue(ctx, &by, &u, NULL, "password", 1, out));
}

enum pc_err pc_tokens_issue(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_token_pair *out)
{
	memset(out, 0, sizeof(*out));
	/* the epoch now; the store also checks that the session still exists,
	 * which a change that ended it since authentication does not leave */
	struct pc_user u;
	enum pc_err e = pc_store_user_get(ctx->store, actor->user_id, &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e != PC_OK)
		return e;
	e = issue(ctx, actor, &u, actor->session_id[0] ? actor->session_id : NULL, "session", actor->factors, out);
	return e == PC_ERR_STALE ? PC_ERR_NOT_FOUND : e;
}

/* Takes one of user_id's refreshes of this clock hour (a slot that is
 * never given back: every refresh counts); > 0: seconds until allowed. */
int64_t pc_tokens_refresh_limited(struct pc_svc *ctx, const char *user_id, const char *client)
{
	int64_t now = pc_svc_now(ctx);
	int64_t hour = now / 3600, retry = 0;
	struct pc_ratelimit rl = ctx->auth.refresh_user;
	rl.window_seconds = 3600 - now % 3600;
	char subject[PC_ID_LEN + PC_OIDC_KEY_MAX + 40];
	if (client != NULL)
		snprintf(subject, sizeof(subject), "%s:%s:%lld", user_id, client, (long long)hour);
	else
		snprintf(subject, sizeof(subject), "%s:%lld", user_id, (long long)hour);
	struct pc_throttle_slot slot;
	pc_throttle_take(&ctx->auth.throttle, &rl, subject, &slot, &retry);
	return retry;
}

enum pc_err pc_tokens_refresh(struct pc_svc *ctx, const struct pc_principal *client, const uint8_t old_hash[32],
                              struct pc_token_pair *out, int64_t *retry_after)
{
	struct pc_refresh_token old, rt;
	struct pc_revoked *revoked = NULL;
	size_t n_revoked = 0;
	memset(out, 0, sizeof(*out));
	*retry_after = 0;
	enum pc_err e = pc_store_refresh_get(ctx->store, old_hash, &old);
	if (e != PC_OK)
		return e;
	*retry_after = pc_tokens_refresh_limited(ctx, old.user_id, NULL);
	if (*retry_after > 0)
		return PC_ERR_THROTTLED;
	struct pc_user u;
	e = pc_store_user_get(ctx->store, old.user_id, &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e != PC_OK)
		return e;
	if (u.disabled)
		return PC_ERR_NOT_FOUND; /* disabling deleted the families: as if revoked */
	if (mint(ctx, out, &rt, &u, old.session_id[0] ? old.session_id : NULL, old.factors) != 0)
		return PC_ERR_INTERNAL;
	rt.cred_epoch = u.cred_epoch;
	struct pc_principal actor = *client;
	snprintf(actor.user_id, sizeof(actor.user_id), "%s", u.id);
	snprintf(actor.email, sizeof(actor.email), "%s", u.email);
	struct pc_audit_event ev, reuse;
	pc_svc_event(&ev, &actor, "token.refresh", "token_family", old.family_id, "{s:s}", "jti", out->jti);
	pc_svc_event(&reuse, &actor, "token.reuse", "token_family", old.family_id, "{s:s}", "action",
	             "family revoked");
	e = pc_store_refresh_rotate(ctx->store, &actor, &ev, &reuse, old_hash, pc_svc_now(ctx), &rt, &old, &revoked,
	                            &n_revoked);
	/* CONFLICT here is a colliding fresh token hash: a bug or a broken RNG */
	if (e == PC_ERR_CONFLICT)
		e = PC_ERR_INTERNAL;
	if (e == PC_ERR_STALE)
		e = PC_ERR_NOT_FOUND; /* the family's credentials ended: as if revoked */
	if (e == PC_ERR_REUSED) {
		pc_log_if_failed(pc_revocation_add(&ctx->auth, revoked, n_revoked, pc_svc_now(ctx)), "revocation_add", "reused refresh family");
		pc_log("warning", "token_reuse", "a used refresh token was presented again; its family is revoked");
	}
	free(revoked);
	if (e != PC_OK)
		sodium_memzero(out, sizeof(*out));
	return e;
}

enum pc_err pc_tokens_revoke_refresh(struct pc_svc *ctx, const struct pc_principal *actor, const uint8_t hash[32])
{
	struct pc_refresh_token rt;
	if (actor->user_id[0] == '\0' || pc_store_refresh_get(ctx->store, hash, &rt) != PC_OK ||
	    strcmp(rt.user_id, actor->user_id) != 0)
		return PC_OK; /* unknown or not yours: nothing to do, same answer */
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "token.revoke", "token_family", rt.family_id, NULL);
	return pc_svc_revoke(ctx, actor, &ev, NULL, 0, rt.family_id, NULL, NULL);
}

enum pc_err pc_tokens_revoke_access(struct pc_svc *ctx, const struct pc_principal *actor,
                                    const struct pc_jwt_claims *c)
{
	if (actor->user_id[0] == '\0' || strcmp(c->sub, actor->user_id) != 0)
		return PC_OK; /* another user's token is left alone */
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "token.revoke", "access_token", "", "{s:s}", "jti", c->jti);
	return pc_svc_revoke(ctx, actor, &ev, c->jti, c->exp, NULL, NULL, NULL);
}

bool pc_tokens_may_introspect(const struct pc_principal *actor)
{
	return actor != NULL && actor->method == PC_AUTH_API_KEY;
}

enum pc_err pc_tokens_introspect_refresh(struct pc_svc *ctx, const struct pc_principal *actor,
                                         const uint8_t hash[32], struct pc_refresh_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!pc_tokens_may_introspect(actor))
		return PC_ERR_NOT_FOUND;
	struct pc_refresh_token rt;
	bool used = false;
	enum pc_err e = pc_store_refresh_lookup(ctx->store, hash, &rt, &used);
	if (e != PC_OK)
		return e;
	if (used || rt.expires_at <= pc_svc_now(ctx))
		return PC_ERR_NOT_FOUND;
	struct pc_user u;
	e = pc_store_user_get(ctx->store, rt.user_id, &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e != PC_OK)
		return e;
	memcpy(out->user_id, rt.user_id, sizeof(out->user_id));
	memcpy(out->email, u.email, sizeof(out->email));
	memcpy(out->session_id, rt.session_id, sizeof(out->session_id));
	memcpy(out->family_id, rt.family_id, sizeof(out->family_id));
	out->iat = rt.created_at;
	out->exp = rt.expires_at;
	return PC_OK;
}
