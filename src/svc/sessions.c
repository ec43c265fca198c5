/*
 * sessions.c — see sessions.h.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/log.h"
#include "svc/factors.h"
#include "svc/sessions.h"
#include "svc/tokens.h"

/* The actor's own session, when it authenticated with one. */
static const char *current_session(const struct pc_principal *actor)
{
	return actor->method == PC_AUTH_SESSION ? actor->session_id : NULL;
}

enum pc_err pc_sessions_login(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                              const char *password, size_t len, struct pc_user *user, struct pc_session *sess,
                              uint8_t secret[PC_SESSION_SECRET_BYTES], int64_t *retry_after)
{
	enum pc_err e = pc_tokens_check_password(ctx, actor, email, password, len, user, retry_after);
	if (e != PC_OK)
		return e;
	unsigned methods = 0;
	e = pc_factors_methods(ctx, user->id, &methods);
	if (e != PC_OK)
		return e;
	bool second = methods != 0;
	if (second && pc_factors_usable(ctx, methods) == 0) {
		/* a passkey is the only second factor and passkeys are off: the
		 * password alone is never the whole sign-in */
		memset(user, 0, sizeof(*user));
		return PC_ERR_FORBIDDEN;
	}
	pc_svc_session_new(ctx, sess, secret, actor, user->id);
	sess->cred_epoch = user->cred_epoch; /* the password was checked under it */
	if (second) {
		/* a session that can only finish its second step (or end) */
		sess->pending = PC_PENDING_SECOND;
		sess->expires_at = sess->created_at + PC_PENDING_SESSION_S;
	} else if (pc_factors_required(ctx, user->role)) {
		/* one that can only set a second factor up (or end) */
		sess->pending = PC_PENDING_ENROL;
		sess->expires_at = sess->created_at + PC_ENROL_SESSION_S;
	}
	struct pc_principal self;
	pc_svc_session_principal(&self, actor, user, sess);
	struct pc_audit_event ev;
	if (second)
		pc_svc_event(&ev, &self, "auth.login", "session", sess->id, "{s:b}", "second_factor_required", true);
	else if (sess->pending == PC_PENDING_ENROL)
		pc_svc_event(&ev, &self, "auth.login", "session", sess->id, "{s:b}", "second_factor_enrolment_required",
		             true);
	else
		pc_svc_event(&ev, &self, "auth.login", "session", sess->id, NULL);
	e = pc_tokens_signin_written(ctx, actor, user, pc_store_session_create(ctx->store, &self, &ev, sess));
	if (e != PC_OK)
		sodium_memzero(secret, PC_SESSION_SECRET_BYTES);
	return e;
}

/* After a session ended: its cached validity and the tokens issued from it. */
static void session_ended(struct pc_svc *ctx, const struct pc_principal *actor, const char *id)
{
	pc_auth_invalidate(&ctx->auth, id);
	if (pc_svc_revoke(ctx, actor, NULL, NULL, 0, NULL, id, NULL) != PC_OK)
		pc_log("error", "revocation", "the tokens of an ended session could not be revoked");
}

enum pc_err pc_sessions_logout(struct pc_svc *ctx, const struct pc_principal *actor)
{
	struct pc_audit_event ev;
	if (actor->method == PC_AUTH_JWT) {
		pc_svc_event(&ev, actor, "auth.logout", "access_token", "", "{s:s}", "jti", actor->token_jti);
		return pc_svc_revoke(ctx, actor, &ev, actor->token_jti, actor->token_exp, NULL, NULL, NULL);
	}
	if (actor->method != PC_AUTH_SESSION)
		return PC_ERR_NOT_FOUND; /* nothing to end */
	pc_svc_event(&ev, actor, "auth.logout", "session", actor->session_id, NULL);
	enum pc_err e = pc_store_session_delete(ctx->store, actor, &ev, actor->user_id, actor->session_id);
	if (e == PC_OK)
		session_ended(ctx, actor, actor->session_id);
	else if (e == PC_ERR_NOT_FOUND)
		pc_auth_invalidate(&ctx->auth, actor->session_id);
	return e;
}

enum pc_err pc_sessions_list(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_session **out,
                             size_t *n)
{
	return pc_store_session_list(ctx->store, actor->user_id, pc_svc_now(ctx), out, n);
}

enum pc_err pc_sessions_list_of(struct pc_svc *ctx, const struct pc_principal *actor, const char *user_id,
                                struct pc_session **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	enum pc_err e = strcmp(user_id, actor->user_id) == 0 && actor->user_id[0] != '\0'
	                    ? PC_OK
	                    : pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "user", user_id);
	if (e != PC_OK)
		return e;
	struct pc_user u;
	e = pc_store_user_get(ctx->store, user_id, &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e != PC_OK)
		return e;
	return pc_store_session_list(ctx->store, user_id, pc_svc_now(ctx), out, n);
}

enum pc_err pc_sessions_end(struct pc_svc *ctx, const struct pc_principal *actor, const char *id)
{
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "session.delete", "session", id, NULL);
	enum pc_err e = pc_store_session_delete(ctx->store, actor, &ev, actor->user_id, id);
	if (e == PC_OK)
		session_ended(ctx, actor, id);
	return e;
}

enum pc_err pc_sessions_end_all(struct pc_svc *ctx, const struct pc_principal *actor, bool all, size_t *ended)
{
	const char *keep = all ? NULL : current_session(actor);
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "session.delete_all", "session", "", "{s:b}", "including_current", all);
	struct pc_revoked *revoked = NULL;
	size_t n_revoked = 0;
	/* one transaction: the epoch bumped (a login racing this is refused),
	 * the sessions ended, every token family and access token revoked */
	enum pc_err e = pc_store_session_delete_all(ctx->store, actor, &ev, actor->user_id, keep, ended, &revoked,
	                                            &n_revoked);
	pc_svc_revoked_add(ctx, revoked, n_revoked);
	if (e == PC_OK)
		pc_auth_invalidate(&ctx->auth, actor->user_id);
	return e;
}
