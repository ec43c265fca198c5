/*
 * users.c — see users.h. A change that ends a user's credentials (delete,
 * password change, reset) ends them in the store's one transaction — the
 * credential epoch bumped, sessions ended, token families deleted, access
 * tokens revoked (store.h "credential epochs") — and the revoked jtis then
 * go onto the in-memory list, so no sign-in racing the change survives it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/log.h"
#include "svc/factors.h"
#include "core/text.h"
#include "svc/outbox.h"
#include "svc/users.h"

enum pc_err pc_users_setup_done(struct pc_svc *ctx, bool *done)
{
	*done = atomic_load(&ctx->auth.setup_done);
	if (*done)
		return PC_OK;
	enum pc_err e = pc_store_setup_done(ctx->store, done);
	if (e == PC_OK && *done)
		atomic_store(&ctx->auth.setup_done, true);
	return e;
}

/* A new user record with a hash of password; out->password_hash is wiped
 * by the caller. 0 or -1. */
static int user_new(struct pc_svc *ctx, struct pc_user *u, const char *email, enum pc_role role, const char *pw,
                    size_t len)
{
	int64_t now = pc_svc_now(ctx);
	char e[PC_EMAIL_MAX + 1];
	snprintf(e, sizeof(e), "%s", email); /* email may be u->email */
	memset(u, 0, sizeof(*u));
	pc_random_id(u->id);
	memcpy(u->email, e, sizeof(u->email));
	u->created_at = now;
	u->password_changed_at = now;
	u->role = role;
	return pc_password_hash(u->password_hash, pw, len, &ctx->auth.cost);
}

/* One setup attempt at a time in this process: a crowd racing to set up
 * an instance waits for the first, which usually wins, and then gets the
 * cheap answer below instead of each paying a strength check and an
 * Argon2id hash for nothing (a hundred racers cost one hash, not a
 * hundred). Correctness does not rest on it: across instances the guard
 * row inside pc_store_setup decides. */
static pthread_mutex_t setup_mu = PTHREAD_MUTEX_INITIALIZER;

static enum pc_err setup_locked(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                const char *password, size_t password_len, struct pc_user *out,
                                struct pc_session *sess, uint8_t secret[PC_SESSION_SECRET_BYTES],
                                struct pc_pw_verdict *weak);

enum pc_err pc_users_setup(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                           const char *password, size_t password_len, struct pc_user *out,
                           struct pc_session *sess, uint8_t secret[PC_SESSION_SECRET_BYTES],
                           struct pc_pw_verdict *weak)
{
	if (pthread_mutex_lock(&setup_mu) != 0)
		return PC_ERR_INTERNAL;
	enum pc_err e = setup_locked(ctx, actor, email, password, password_len, out, sess, secret, weak);
	pthread_mutex_unlock(&setup_mu);
	return e;
}

static enum pc_err setup_locked(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                const char *password, size_t password_len, struct pc_user *out,
                                struct pc_session *sess, uint8_t secret[PC_SESSION_SECRET_BYTES],
                                struct pc_pw_verdict *weak)
{
	bool done = false;
	/* a cheap early answer; the guard row inside pc_store_setup is what
	 * makes it race-free */
	enum pc_err e = pc_users_setup_done(ctx, &done);
	if (e != PC_OK)
		return e;
	if (done)
		return PC_ERR_SET_UP;
	e = pc_passwords_check(ctx, email, password, password_len, weak);
	if (e != PC_OK)
		return e;
	/* the first user is an admin, always */
	if (user_new(ctx, out, email, PC_ROLE_ADMIN, password, password_len) != 0) {
		sodium_memzero(out->password_hash, sizeof(out->password_hash));
		return PC_ERR_INTERNAL;
	}
	struct pc_principal self;
	if (sess != NULL) {
		pc_svc_session_new(ctx, sess, secret, actor, out->id);
		if (pc_factors_required(ctx, PC_ROLE_ADMIN)) {
			/* the first admin too sets a second factor up before anything else */
			sess->pending = PC_PENDING_ENROL;
			sess->expires_at = sess->created_at + PC_ENROL_SESSION_S;
		}
		/* the new user is the actor of its own creation */
		pc_svc_session_principal(&self, actor, out, sess);
		actor = &self;
	}
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "setup", "user", out->id, NULL);
	e = pc_store_setup(ctx->store, actor, &ev, out, sess);
	sodium_memzero(out->password_hash, sizeof(out->password_hash));
	if (e == PC_OK || e == PC_ERR_SET_UP)
		atomic_store(&ctx->auth.setup_done, true);
	if (e != PC_OK && sess != NULL)
		sodium_memzero(secret, PC_SESSION_SECRET_BYTES);
	return e;
}

enum pc_err pc_users_create(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                            enum pc_role role, const char *password, size_t password_len, struct pc_user *out,
                            struct pc_pw_verdict *weak)
{
	return pc_users_create_named(ctx, actor, email, role, "", password, password_len, out, weak);
}

enum pc_err pc_users_create_named(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                  enum pc_role role, const char *name, const char *password, size_t password_len,
                                  struct pc_user *out, struct pc_pw_verdict *weak)
{
	char nm[PC_USER_NAME_MAX + 1];
	if (name == NULL || strlen(name) >= sizeof(nm) || !pc_user_name_valid(name, strlen(name)))
		return PC_ERR_INTERNAL; /* the caller validates what it parsed */
	memcpy(nm, name, strlen(name) + 1); /* name may be out->name */
	/* out->email may be email (the API's buffer): user_new copies it first */
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "user", "");
	if (e != PC_OK)
		return e;
	e = pc_passwords_check(ctx, email, password, password_len, weak);
	if (e != PC_OK)
		return e;
	if (role != PC_ROLE_ADMIN && role != PC_ROLE_MEMBER)
		role = PC_ROLE_MEMBER;
	if (user_new(ctx, out, email, role, password, password_len) != 0) {
		sodium_memzero(out->password_hash, sizeof(out->password_hash));
		return PC_ERR_INTERNAL;
	}
	memcpy(out->name, nm, sizeof(out->name));
	struct pc_audit_event ev;
	if (nm[0] != '\0')
		pc_svc_event(&ev, actor, "user.create", "user", out->id, "{s:s,s:s,s:s}", "email", out->email, "role",
		             pc_role_name(role), "name", nm);
	else
		pc_svc_event(&ev, actor, "user.create", "user", out->id, "{s:s,s:s}", "email", out->email, "role",
		             pc_role_name(role));
	e = pc_store_user_create(ctx->store, actor, &ev, out);
	sodium_memzero(out->password_hash, sizeof(out->password_hash));
	return e;
}

enum pc_err pc_users_add(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                         enum pc_role role, const char *password, size_t password_len, struct pc_user *out,
                         struct pc_pw_verdict *weak)
{
	enum pc_err e = pc_users_setup(ctx, actor, email, password, password_len, out, NULL, NULL, weak);
	if (e == PC_ERR_SET_UP)
		e = pc_users_create(ctx, actor, email, role, password, password_len, out, weak);
	return e;
}

enum pc_err pc_users_list(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_user **out, size_t *n)
{
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "user", "");
	if (e != PC_OK)
		return e;
	e = pc_store_user_list(ctx->store, out, n);
	for (size_t i = 0; e == PC_OK && i < *n; i++)
		sodium_memzero((*out)[i].password_hash, sizeof((*out)[i].password_hash));
	return e;
}

enum pc_err pc_users_delete(struct pc_svc *ctx, const struct pc_principal *actor, const char *id)
{
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "user", id);
	if (e != PC_OK)
		return e;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "user.delete", "user", id, NULL);
	struct pc_revoked *revoked = NULL;
	size_t n_revoked = 0;
	e = pc_store_user_delete(ctx->store, actor, &ev, id, &revoked, &n_revoked);
	pc_svc_revoked_add(ctx, revoked, n_revoked);
	if (e == PC_OK)
		pc_auth_invalidate(&ctx->auth, id);
	return e;
}

enum pc_err pc_users_get(struct pc_svc *ctx, const struct pc_principal *actor, const char *id, struct pc_user *out)
{
	memset(out, 0, sizeof(*out));
	enum pc_err e = strcmp(id, actor->user_id) == 0 && actor->user_id[0] != '\0'
	                    ? PC_OK
	                    : pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "user", id);
	if (e != PC_OK)
		return e;
	e = pc_store_user_get(ctx->store, id, out);
	sodium_memzero(out->password_hash, sizeof(out->password_hash));
	return e;
}

enum pc_err pc_users_update(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                            const struct pc_user_patch *patch, struct pc_user *out)
{
	memset(out, 0, sizeof(*out));
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "user", id);
	if (e != PC_OK)
		return e;
	json_t *d = json_object();
	if (patch->has_email)
		json_object_set_new(d, "email", json_string(patch->email));
	if (patch->has_role)
		json_object_set_new(d, "role", json_string(pc_role_name(patch->role)));
	if (patch->has_disabled)
		json_object_set_new(d, "disabled", json_boolean(patch->disabled));
	if (patch->has_groups)
		json_object_set_new(d, "groups", json_string(patch->groups));
	if (patch->has_name)
		json_object_set_new(d, "name", json_string(patch->name));
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "user.update", "user", id, "O", d);
	json_decref(d);
	struct pc_revoked *revoked = NULL;
	size_t n_revoked = 0;
	unsigned changed = 0;
	e = pc_store_user_update(ctx->store, actor, &ev, id, patch, out, &changed, &revoked, &n_revoked);
	pc_svc_revoked_add(ctx, revoked, n_revoked);
	/* every instance drops what it cached of the user's credentials (the
	 * invalidation logout and password changes use): the next request
	 * reads the new role, groups or state */
	if (e == PC_OK && changed != 0)
		pc_auth_invalidate(&ctx->auth, id);
	return e;
}

/* Sets user_id's password hash to that of pw, ending every credential of
 * the user but keep (the session that stays; NULL: none); ev describes the
 * change. */
static enum pc_err set_password(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_audit_event *ev,
                                const char *user_id, const char *pw, size_t len, const char *keep)
{
	char h[PC_PWHASH_MAX];
	enum pc_err e = PC_ERR_INTERNAL;
	if (pc_password_hash(h, pw, len, &ctx->auth.cost) != 0)
		goto out;
	struct pc_revoked *revoked = NULL;
	size_t n_revoked = 0;
	e = pc_store_user_set_password(ctx->store, actor, ev, user_id, h, keep, &revoked, &n_revoked);
	pc_svc_revoked_add(ctx, revoked, n_revoked);
	if (e == PC_OK)
		pc_auth_invalidate(&ctx->auth, user_id);
out:
	sodium_memzero(h, sizeof(h));
	return e;
}

/* The password change of an actor signed in by session: the session goes
 * on under a new id and secret (what a stolen cookie or a fixed id held
 * dies with the old password), its sign-in times and factors copied. */
static enum pc_err change_rotating(struct pc_svc *ctx, const struct pc_principal *actor, const struct pc_user *u,
                                   const char *pw, size_t len, struct pc_session *rotated,
                                   uint8_t secret[PC_SESSION_SECRET_BYTES])
{
	struct pc_session *list = NULL, old;
	memset(&old, 0, sizeof(old));
	size_t n = 0;
	bool found = false;
	enum pc_err e = pc_store_session_list(ctx->store, u->id, pc_svc_now(ctx), &list, &n);
	for (size_t i = 0; e == PC_OK && i < n && !found; i++) {
		if (strcmp(list[i].id, actor->session_id) == 0) {
			old = list[i];
			found = true;
		}
	}
	free(list);
	if (e != PC_OK)
		return e;
	if (!found)
		return PC_ERR_STALE;
	char h[PC_PWHASH_MAX];
	if (pc_password_hash(h, pw, len, &ctx->auth.cost) != 0) {
		sodium_memzero(h, sizeof(h));
		return PC_ERR_INTERNAL;
	}
	pc_svc_session_new(ctx, rotated, secret, actor, u->id);
	rotated->created_at = old.created_at;
	rotated->expires_at = old.expires_at;
	rotated->factors = old.factors;
	rotated->second_factor_at = old.second_factor_at;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "user.password_change", "user", u->id, "{s:b,s:s}", "session_rotated", 1,
	             "new_session", rotated->id);
	struct pc_revoked *revoked = NULL;
	size_t n_revoked = 0;
	struct pc_outbox_buf *nb = pc_notify_new(ctx, &ev, u->email, PC_NOTICE_PASSWORD_CHANGED);
	e = pc_store_user_change_password(ctx->store, actor, &ev, u->id, h, actor->session_id, rotated, &revoked,
	                                  &n_revoked);
	pc_notify_done(nb, e);
	sodium_memzero(h, sizeof(h));
	pc_svc_revoked_add(ctx, revoked, n_revoked);
	if (e == PC_OK) {
		pc_auth_invalidate(&ctx->auth, u->id);
		pc_auth_invalidate(&ctx->auth, actor->session_id);
	} else {
		memset(rotated, 0, sizeof(*rotated));
		sodium_memzero(secret, PC_SESSION_SECRET_BYTES);
	}
	return e;
}

enum pc_err pc_users_password_change(struct pc_svc *ctx, const struct pc_principal *actor, const char *current,
                                     size_t current_len, const char *next, size_t next_len, bool *wrong_password,
                                     int64_t *retry_after, struct pc_pw_verdict *weak, struct pc_session *rotated,
                                     uint8_t rotated_secret[PC_SESSION_SECRET_BYTES])
{
	*wrong_password = false;
	*retry_after = 0;
	if (rotated != NULL)
		memset(rotated, 0, sizeof(*rotated));
	if (actor->user_id[0] == '\0')
		return PC_ERR_NOT_FOUND; /* an API key has no password */
	/* the new password first: refusing it takes no throttle slot and
	 * tells nothing about the current one */
	enum pc_err pe = pc_passwords_check(ctx, actor->email, next, next_len, weak);
	if (pe != PC_OK)
		return pe;
	/* guessing the current password through this route counts as failed
	 * logins of the account: a slot taken before the hash, kept on a wrong
	 * guess; the right password clears the account's failures as a login
	 * does */
	struct pc_auth *a = &ctx->auth;
	struct pc_throttle_slot slot;
	pc_throttle_take(&a->throttle, &a->login_account, actor->email, &slot, retry_after);
	if (*retry_after > 0) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "user.password_change_throttled", "user", actor->user_id, NULL);
		pc_auth_audit_noise_event(a, actor, &ev);
		return PC_ERR_THROTTLED;
	}
	struct pc_user u;
	enum pc_err e = pc_store_user_get(ctx->store, actor->user_id, &u);
	if (e != PC_OK) {
		pc_throttle_release(&slot);
		goto out;
	}
	if (pc_password_verify(u.password_hash, current, current_len) != 0) {
		*wrong_password = true;
		/* a hijacked session guessing the password shows in the trail;
		 * the throttle bounds how many such events a window can hold */
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "user.password_change_failed", "user", u.id, "{s:s}", "reason",
		             "wrong current password");
		pc_log_if_failed(pc_store_audit_append(ctx->store, actor, &ev), "audit_append",
		                 "user.password_change_failed");
		e = PC_ERR_NOT_FOUND;
		goto out;
	}
	pc_throttle_reset(&slot);
	struct pc_audit_event ev;
	if (actor->method == PC_AUTH_SESSION && rotated != NULL && rotated_secret != NULL) {
		e = change_rotating(ctx, actor, &u, next, next_len, rotated, rotated_secret);
		goto out;
	}
	pc_svc_event(&ev, actor, "user.password_change", "user", u.id, "{s:b}", "session_rotated", 0);
	struct pc_outbox_buf *nb = pc_notify_new(ctx, &ev, u.email, PC_NOTICE_PASSWORD_CHANGED);
	e = set_password(ctx, actor, &ev, u.id, next, next_len,
	                 actor->method == PC_AUTH_SESSION ? actor->session_id : NULL);
	pc_notify_done(nb, e);
out:
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	return e;
}

static void reset_hash(uint8_t out[32], const uint8_t token[PC_RESET_TOKEN_BYTES])
{
	crypto_generichash(out, 32, token, PC_RESET_TOKEN_BYTES, NULL, 0);
}

enum pc_err pc_users_reset_issue(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                                 uint8_t token[PC_RESET_TOKEN_BYTES], int64_t *expires_at)
{
	sodium_memzero(token, PC_RESET_TOKEN_BYTES);
	*expires_at = 0;
	/* an admin only (a member resetting the admin's password is the
	 * takeover of issue 15); not even for oneself: a reset token would let
	 * a stolen session set a password without knowing the current one,
	 * which PUT /users/me/password demands */
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "user", id);
	if (e != PC_OK)
		return e;
	uint8_t h[32];
	struct pc_user u;
	randombytes_buf(token, PC_RESET_TOKEN_BYTES);
	reset_hash(h, token);
	*expires_at = pc_svc_now(ctx) + PC_RESET_TOKEN_TTL;
	e = pc_store_user_get(ctx->store, id, &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e == PC_OK) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "user.password_reset_issue", "user", id, NULL);
		e = pc_store_reset_create(ctx->store, actor, &ev, id, h, *expires_at);
	}
	if (e != PC_OK)
		sodium_memzero(token, PC_RESET_TOKEN_BYTES);
	return e;
}

enum pc_err pc_users_reset_redeem(struct pc_svc *ctx, const struct pc_principal *actor,
                                  const uint8_t token[PC_RESET_TOKEN_BYTES], const char *password,
                                  size_t password_len, int64_t *retry_after, struct pc_pw_verdict *weak)
{
	/* whose password it is stays unknown until the token is redeemed: the
	 * service's own words are the context here */
	enum pc_err pe = pc_passwords_check(ctx, "", password, password_len, weak);
	if (pe != PC_OK)
		return pe;
	/* a slot per client address before the token is looked at (or the new
	 * password hashed): kept by a bad token, given back on success */
	struct pc_auth *a = &ctx->auth;
	struct pc_throttle_slot slot;
	pc_throttle_take(&a->throttle, &a->reset_addr, actor->client_addr, &slot, retry_after);
	if (*retry_after > 0)
		return PC_ERR_THROTTLED;
	if (token == NULL)
		return PC_ERR_NOT_FOUND;
	char h[PC_PWHASH_MAX];
	uint8_t th[32];
	char user_id[PC_ID_LEN + 1] = "";
	enum pc_err e = PC_ERR_INTERNAL;
	reset_hash(th, token);
	if (pc_password_hash(h, password, password_len, &ctx->auth.cost) != 0)
		goto out;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "user.password_reset", "user", "", NULL);
	struct pc_revoked *revoked = NULL;
	size_t n_revoked = 0;
	e = pc_store_reset_redeem(ctx->store, actor, &ev, th, h, pc_svc_now(ctx), user_id, &revoked, &n_revoked);
	pc_svc_revoked_add(ctx, revoked, n_revoked);
	if (e == PC_OK)
		pc_auth_invalidate(&ctx->auth, user_id);
out:
	if (e != PC_ERR_NOT_FOUND)
		pc_throttle_release(&slot);
	sodium_memzero(h, sizeof(h));
	return e;
}
