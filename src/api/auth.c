/*
 * auth.c — first-user setup, login, logout, and who am I.
 *
 * Setup and login hash on the worker pool. Login is throttled per account
 * and per client address before any hashing (a throttled attempt costs
 * nothing), and every failure — unknown account, wrong password — is the
 * same 401 after the same amount of work.
 */
#include <sodium.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "auth/cache.h"
#include "api/input.h"
#include "audit/chain.h"
#include "auth/csrf.h"
#include "auth/session.h"
#include "core/log.h"
#include "obs/metrics.h"

static const struct pc_field credential_fields[] = {
	{"email", PC_F_STRING, true, 1024},
	{"password", PC_F_STRING, true, PC_PASSWORD_MAX},
};

/* Validated email + password from the body, or -1 after answering. */
int pc_api_credentials_or_respond(struct pc_req *r, char email[PC_EMAIL_MAX + 1],
                                  const char **password, size_t *password_len, bool policy)
{
	struct pc_input in;
	if (pc_input_or_respond(r, credential_fields, 2, &in) != 0)
		return -1;
	if (pc_email_normalize(email, PC_EMAIL_MAX + 1, in.v[0].str.s, in.v[0].str.len) != 0) {
		pc_respond_problem(r, 400, "Field \"email\" is not a valid email address.");
		return -1;
	}
	const char *why;
	if (policy && pc_password_policy(in.v[1].str.s, in.v[1].str.len, &why) != 0) {
		pc_respond_problem(r, 400, why);
		return -1;
	}
	*password = in.v[1].str.s;
	*password_len = in.v[1].str.len;
	return 0;
}

/* ---------- GET /api/v1/setup ---------- */

struct setup_state {
	char email[PC_EMAIL_MAX + 1];
	char *password; /* arena; wiped in done */
	size_t password_len;
	bool done;
	enum pc_err err;
	struct pc_user user;
	struct pc_session sess;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	struct pc_principal actor;
};

static void setup_needed_work(struct pc_req *r, void *data)
{
	struct setup_state *st = data;
	st->err = pc_store_setup_done(pc_auth_of(r)->store, &st->done);
}

static void setup_needed_done(struct pc_req *r, void *data)
{
	struct setup_state *st = data;
	if (st->err != PC_OK) {
		pc_api_store_error(r, st->err, NULL, NULL);
		return;
	}
	if (st->done)
		atomic_store(&pc_auth_of(r)->setup_done, true);
	pc_respond_json(r, 200, json_pack("{s:b}", "needed", !st->done));
}

void pc_api_setup_get(struct pc_req *r)
{
	if (atomic_load(&pc_auth_of(r)->setup_done)) {
		static const char body[] = "{\"needed\":false}";
		pc_respond(r, 200, "application/json", body, sizeof(body) - 1);
		return;
	}
	struct setup_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, setup_needed_work, setup_needed_done, st);
}

/* ---------- POST /api/v1/setup ---------- */

static void setup_work(struct pc_req *r, void *data)
{
	struct setup_state *st = data;
	struct pc_auth *a = pc_auth_of(r);
	bool done = false;
	/* cheap early answer; the guard row inside pc_store_setup is what makes
	 * it race-free */
	st->err = pc_store_setup_done(a->store, &done);
	if (st->err != PC_OK)
		return;
	if (done) {
		st->err = PC_ERR_CONFLICT;
		return;
	}
	memset(&st->user, 0, sizeof(st->user));
	pc_random_id(st->user.id);
	snprintf(st->user.email, sizeof(st->user.email), "%s", st->email);
	st->user.created_at = r->now;
	st->user.password_changed_at = r->now;
	if (pc_password_hash(st->user.password_hash, st->password, st->password_len, &a->cost) != 0) {
		st->err = PC_ERR_INTERNAL;
		return;
	}
	pc_api_session_new(&st->sess, st->secret, r, st->user.id);
	/* the new user is the actor of its own creation */
	pc_principal_for_session(&st->actor, r, st->user.id, st->user.email, st->sess.id, r->now);
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &st->actor, "setup", "user", st->user.id);
	st->err = pc_store_setup(a->store, &st->actor, &ev, &st->user, &st->sess);
}

static void setup_done(struct pc_req *r, void *data)
{
	struct setup_state *st = data;
	sodium_memzero(st->password, st->password_len);
	if (st->err == PC_ERR_CONFLICT)
		atomic_store(&pc_auth_of(r)->setup_done, true);
	if (st->err != PC_OK) {
		sodium_memzero(st->secret, sizeof(st->secret));
		pc_api_store_error(r, st->err, NULL, "Setup is already done.");
		return;
	}
	atomic_store(&pc_auth_of(r)->setup_done, true);
	int rc = pc_api_set_session_cookie(r, st->secret, st->sess.id, st->sess.expires_at);
	sodium_memzero(st->secret, sizeof(st->secret));
	if (rc != 0) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_respond_json(r, 201, json_pack("{s:o}", "user", pc_api_user_json(&st->user)));
}

void pc_api_setup_post(struct pc_req *r)
{
	if (atomic_load(&pc_auth_of(r)->setup_done)) {
		pc_respond_problem(r, 409, "Setup is already done.");
		return;
	}
	struct setup_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	const char *pw;
	if (pc_api_credentials_or_respond(r, st->email, &pw, &st->password_len, true) != 0)
		return;
	st->password = (char *)pw;
	pc_api_defer(r, setup_work, setup_done, st);
}

/* ---------- POST /api/v1/auth/login ---------- */

struct login_state {
	char email[PC_EMAIL_MAX + 1];
	char *password;
	size_t password_len;
	enum pc_err err;
	struct pc_user user;
	struct pc_session sess;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	struct pc_principal actor;
	int64_t retry_after;
};

int64_t pc_api_throttled(struct pc_req *r, const struct pc_ratelimit *rl, const char *subject)
{
	int64_t retry = 0;
	if (pc_ratelimit_check(pc_auth_of(r)->kv, rl, subject, &retry) != PC_OK)
		return 0;
	return retry;
}

void pc_api_count_failure(struct pc_req *r, const struct pc_ratelimit *rl, const char *subject)
{
	int64_t retry = 0;
	(void)pc_ratelimit_hit(pc_auth_of(r)->kv, rl, subject, &retry);
}

void pc_api_respond_throttled(struct pc_req *r, int64_t retry_after)
{
	char ra[24];
	snprintf(ra, sizeof(ra), "%lld", (long long)retry_after);
	pc_resp_header(r, "Retry-After", ra);
	pc_metrics_auth_failure(PC_AUTHF_THROTTLED);
	pc_respond_problem(r, 429, "Too many failed attempts; try again later.");
}

enum pc_err pc_api_check_password(struct pc_req *r, const char *email, const char *pw, size_t len,
                                  struct pc_user *user, int64_t *retry_after)
{
	struct pc_auth *a = pc_auth_of(r);
	const char *addr = r->actor->client_addr;
	/* the address: checked, counted on failure; the account: every attempt
	 * counted before it is evaluated (atomically, so a concurrent burst of
	 * guesses cannot all slip under the limit), cleared on success */
	*retry_after = pc_api_throttled(r, &a->login_addr, addr);
	if (*retry_after > 0)
		return PC_ERR_CONFLICT;
	if (pc_ratelimit_take(a->kv, &a->login_account, email, retry_after) == PC_OK && *retry_after > 0)
		return PC_ERR_CONFLICT;
	*retry_after = 0;
	bool ok = false;
	enum pc_err err = pc_store_user_get_by_email(a->store, email, user);
	if (err == PC_ERR_NOT_FOUND)
		pc_password_dummy_verify(pw, len);
	else if (err == PC_OK)
		ok = pc_password_verify(user->password_hash, pw, len) == 0;
	else
		return err;
	if (!ok) {
		struct pc_audit_event ev;
		pc_audit_event_init(&ev, r->actor, "auth.login_failed", "user", err == PC_OK ? user->id : "");
		json_t *d = json_pack("{s:s}", "email", email);
		char *ds = d ? json_dumps(d, JSON_COMPACT) : NULL;
		if (ds != NULL && strlen(ds) < sizeof(ev.details))
			snprintf(ev.details, sizeof(ev.details), "%s", ds);
		free(ds);
		json_decref(d);
		(void)pc_store_audit_append(a->store, r->actor, &ev);
		sodium_memzero(user->password_hash, sizeof(user->password_hash));
		pc_api_count_failure(r, &a->login_addr, addr);
		return PC_ERR_NOT_FOUND;
	}
	(void)pc_ratelimit_reset(a->kv, &a->login_account, email);
	if (pc_password_needs_rehash(user->password_hash, &a->cost)) {
		char h[PC_PWHASH_MAX];
		if (pc_password_hash(h, pw, len, &a->cost) == 0)
			(void)pc_store_user_rehash(a->store, user->id, h);
		sodium_memzero(h, sizeof(h));
	}
	sodium_memzero(user->password_hash, sizeof(user->password_hash));
	return PC_OK;
}

void pc_api_login_failed(struct pc_req *r, enum pc_err e, int64_t retry_after)
{
	if (e == PC_ERR_CONFLICT && retry_after > 0) {
		pc_api_respond_throttled(r, retry_after);
		return;
	}
	if (e != PC_ERR_NOT_FOUND) {
		pc_api_store_error(r, e, NULL, NULL);
		return;
	}
	pc_metrics_auth_failure(PC_AUTHF_BAD_CREDENTIALS);
	pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
	pc_respond_problem(r, 401, "Invalid email or password.");
}

static void login_work(struct pc_req *r, void *data)
{
	struct login_state *st = data;
	struct pc_auth *a = pc_auth_of(r);
	st->err = pc_api_check_password(r, st->email, st->password, st->password_len, &st->user,
	                                &st->retry_after);
	if (st->err != PC_OK)
		return;
	pc_api_session_new(&st->sess, st->secret, r, st->user.id);
	pc_principal_for_session(&st->actor, r, st->user.id, st->user.email, st->sess.id, r->now);
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &st->actor, "auth.login", "session", st->sess.id);
	st->err = pc_store_session_create(a->store, &st->actor, &ev, &st->sess);
}

static void login_done(struct pc_req *r, void *data)
{
	struct login_state *st = data;
	sodium_memzero(st->password, st->password_len);
	if (st->err != PC_OK) {
		sodium_memzero(st->secret, sizeof(st->secret));
		pc_api_login_failed(r, st->err, st->retry_after);
		return;
	}
	int rc = pc_api_set_session_cookie(r, st->secret, st->sess.id, st->sess.expires_at);
	sodium_memzero(st->secret, sizeof(st->secret));
	if (rc != 0) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	st->user.password_hash[0] = '\0';
	pc_respond_json(r, 200, json_pack("{s:o}", "user", pc_api_user_json(&st->user)));
}

void pc_api_login(struct pc_req *r)
{
	struct login_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	const char *pw;
	if (pc_api_credentials_or_respond(r, st->email, &pw, &st->password_len, false) != 0)
		return;
	st->password = (char *)pw;
	pc_api_defer(r, login_work, login_done, st);
}

/* ---------- POST /api/v1/auth/logout ---------- */

struct logout_state {
	enum pc_err err;
};

static void logout_work(struct pc_req *r, void *data)
{
	struct logout_state *st = data;
	struct pc_audit_event ev;
	if (r->principal->method == PC_AUTH_JWT) {
		pc_audit_event_init(&ev, r->principal, "auth.logout", "access_token", "");
		snprintf(ev.details, sizeof(ev.details), "{\"jti\":\"%s\"}", r->principal->token_jti);
		st->err = pc_api_revoke_tokens(r, &ev, r->principal->token_jti, r->principal->token_exp, NULL,
		                               NULL, NULL);
		return;
	}
	pc_audit_event_init(&ev, r->principal, "auth.logout", "session", r->principal->session_id);
	st->err = pc_store_session_delete(pc_auth_of(r)->store, r->principal, &ev,
	                                  r->principal->user_id, r->principal->session_id);
	if (st->err == PC_OK || st->err == PC_ERR_NOT_FOUND)
		pc_auth_invalidate(pc_auth_of(r), r->principal->session_id);
	if (st->err == PC_OK)
		(void)pc_api_revoke_tokens(r, NULL, NULL, 0, NULL, r->principal->session_id, NULL);
}

static void logout_done(struct pc_req *r, void *data)
{
	struct logout_state *st = data;
	if (st->err != PC_OK && st->err != PC_ERR_NOT_FOUND) {
		pc_api_store_error(r, st->err, NULL, NULL);
		return;
	}
	if (r->principal->method == PC_AUTH_SESSION)
		pc_api_clear_session_cookie(r);
	pc_respond_empty(r, 204);
}

void pc_api_logout(struct pc_req *r)
{
	if (r->principal == NULL ||
	    (r->principal->method != PC_AUTH_SESSION && r->principal->method != PC_AUTH_JWT)) {
		/* nothing to end: logging out is idempotent. A dead cookie that
		 * came along is cleared; none is set otherwise, or a cross-site
		 * form (which SameSite=Strict sends without the cookie, so with no
		 * CSRF check) could still delete the victim's live session cookie. */
		if (pc_http_cookie_get(r->http, pc_session_cookie_name(pc_auth_of(r)->cfg)) != NULL)
			pc_api_clear_session_cookie(r);
		pc_respond_empty(r, 204);
		return;
	}
	struct logout_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, logout_work, logout_done, st);
}

/* ---------- GET /api/v1/auth/me ---------- */

void pc_api_me(struct pc_req *r)
{
	const struct pc_principal *p = r->principal;
	pc_respond_json(r, 200,
	                json_pack("{s:s,s:s,s:s,s:s,s:o}", "user_id", p->user_id, "email", p->email,
	                          "session_id", p->session_id, "auth_method",
	                          pc_auth_method_name(p->method), "authenticated_at",
	                          pc_api_time_json(p->authenticated_at)));
}

/* ---------- GET /api/v1/auth/csrf-token ---------- */

void pc_api_csrf_token(struct pc_req *r)
{
	const struct pc_principal *p = r->principal;
	char token[PC_CSRF_TOKEN_LEN + 1];
	if (pc_api_set_csrf_cookie(r, p != NULL && p->method == PC_AUTH_SESSION ? p->session_id : NULL,
	                           token) != 0) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_respond_json(r, 200, json_pack("{s:s}", "csrf_token", token));
}
