/*
 * auth.c — first-user setup, login, logout, and who am I.
 *
 * HTTP only: the rules (first user once, login throttles, one 401 for every
 * bad credential after the same work) are the services' (svc/users.c,
 * svc/sessions.c, svc/tokens.c), run on the worker pool. Passwords live in
 * secret buffers freed right after the work (api/input.h).
 */
#include <sodium.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "svc/passkeys.h"
#include "api/docs.h"
#include "api/input.h"
#include "auth/csrf.h"
#include "auth/session.h"
#include "obs/metrics.h"
#include "svc/factors.h"
#include "svc/sessions.h"
#include "svc/users.h"

static const struct pc_field credential_fields[] = {
	{"email", PC_F_STRING, true, 1024},
	{"password", PC_F_SECRET, true, PC_PASSWORD_MAX},
};
const struct pc_fields pc_api_fields_credentials = PC_FIELDS(credential_fields);
static const struct pc_field new_credential_fields[] = {
	{"email", PC_F_STRING, true, 1024},
	{"password", PC_F_SECRET, true, PC_PASSWORD_INPUT_MAX},
};
const struct pc_fields pc_api_fields_new_credentials = PC_FIELDS(new_credential_fields);

int pc_api_credentials_or_respond(struct pc_req *r, char email[PC_EMAIL_MAX + 1], struct pc_secret *pw,
                                  bool new_password)
{
	struct pc_input in;
	int rc = -1;
	memset(pw, 0, sizeof(*pw));
	if (pc_input_or_respond(r, new_password ? new_credential_fields : credential_fields, 2, &in) != 0)
		return -1;
	if (pc_email_normalize(email, PC_EMAIL_MAX + 1, in.v[0].str.s, in.v[0].str.len) != 0) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"email\" is not a valid email address.");
		goto out;
	}
	pc_input_take(&in, 1, pw);
	rc = 0;
out:
	pc_input_wipe(&in);
	return rc;
}

/* ---------- GET /api/v1/setup ---------- */

struct setup_state {
	char email[PC_EMAIL_MAX + 1];
	struct pc_secret password; /* freed right after the work */
	bool done;
	enum pc_err err;
	struct pc_user user;
	struct pc_session sess;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	struct pc_pw_verdict weak;
};

static void setup_needed_work(struct pc_req *r, void *data)
{
	struct setup_state *st = data;
	st->err = pc_users_setup_done(pc_svc_of(r), &st->done);
}

static void setup_needed_done(struct pc_req *r, void *data)
{
	struct setup_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
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

/* What a sign-in held for enrolment can set up: TOTP, and passkeys when
 * they are configured. */
static json_t *enrol_methods(struct pc_req *r)
{
	json_t *a = json_pack("[s]", "totp");
	if (a != NULL && pc_passkeys_on(pc_svc_of(r)))
		json_array_append_new(a, json_string("passkey"));
	return a;
}

/* ---------- POST /api/v1/setup ---------- */

static void setup_work(struct pc_req *r, void *data)
{
	struct setup_state *st = data;
	st->err = pc_users_setup(pc_svc_of(r), r->actor, st->email, st->password.s, st->password.len, &st->user,
	                         &st->sess, st->secret, &st->weak);
}

static void setup_done(struct pc_req *r, void *data)
{
	struct setup_state *st = data;
	if (st->err != PC_OK) {
		sodium_memzero(st->secret, sizeof(st->secret));
		pc_api_error(r, st->err, &(struct pc_api_say){.weak = &st->weak});
		return;
	}
	if (pc_api_session_cookie_or_respond(r, st->secret, &st->sess) != 0)
		return;
	json_t *o = json_pack("{s:o}", "user", pc_api_user_json(&st->user));
	if (o != NULL && st->sess.pending == PC_PENDING_ENROL) {
		json_object_set_new(o, "second_factor_enrolment_required", json_true());
		json_object_set_new(o, "methods", enrol_methods(r));
	}
	pc_respond_json(r, 201, o);
}

void pc_api_setup_post(struct pc_req *r)
{
	if (atomic_load(&pc_auth_of(r)->setup_done)) {
		pc_api_error(r, PC_ERR_SET_UP, NULL);
		return;
	}
	struct setup_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || pc_api_credentials_or_respond(r, st->email, &st->password, true) != 0)
		return;
	pc_api_defer_secrets(r, setup_work, setup_done, st, &st->password, 1);
}

/* ---------- POST /api/v1/auth/login ---------- */

struct login_state {
	char email[PC_EMAIL_MAX + 1];
	struct pc_secret password; /* freed right after the work */
	enum pc_err err;
	struct pc_user user;
	struct pc_session sess;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t retry_after;
	unsigned methods; /* PC_METHODS_*, for a pending session */
};

static void login_work(struct pc_req *r, void *data)
{
	struct login_state *st = data;
	st->err = pc_sessions_login(pc_svc_of(r), r->actor, st->email, st->password.s, st->password.len, &st->user,
	                            &st->sess, st->secret, &st->retry_after);
	if (st->err == PC_OK && st->sess.pending &&
	    pc_factors_methods(pc_svc_of(r), st->user.id, &st->methods) != PC_OK)
		st->methods = PC_METHODS_TOTP | PC_METHODS_RECOVERY; /* the answer of the first design */
	st->methods = pc_factors_usable(pc_svc_of(r), st->methods);
}

static void login_done(struct pc_req *r, void *data)
{
	struct login_state *st = data;
	if (st->err != PC_OK) {
		sodium_memzero(st->secret, sizeof(st->secret));
		struct pc_api_say say = pc_api_say_login;
		say.retry_after = st->retry_after;
		say.forbidden = "This account's only second factor is a passkey, and passkeys are off here "
		                "(PORTCULLIS_PUBLIC_URL): the password alone does not sign it in. Ask an administrator.";
		pc_api_error(r, st->err, &say);
		return;
	}
	if (pc_api_session_cookie_or_respond(r, st->secret, &st->sess) != 0)
		return;
	if (st->sess.pending == PC_PENDING_ENROL) {
		pc_respond_json(r, 200, json_pack("{s:b,s:o}", "second_factor_enrolment_required", true, "methods",
		                                  enrol_methods(r)));
		return;
	}
	if (st->sess.pending) {
		json_t *methods = json_array();
		if (st->methods & PC_METHODS_TOTP)
			json_array_append_new(methods, json_string("totp"));
		if (st->methods & PC_METHODS_RECOVERY)
			json_array_append_new(methods, json_string("recovery"));
		if (st->methods & PC_METHODS_PASSKEY)
			json_array_append_new(methods, json_string("passkey"));
		pc_respond_json(r, 200, json_pack("{s:b,s:o}", "second_factor_required", true, "methods", methods));
		return;
	}
	pc_respond_json(r, 200, json_pack("{s:o}", "user", pc_api_user_json(&st->user)));
}

void pc_api_login(struct pc_req *r)
{
	struct login_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || pc_api_credentials_or_respond(r, st->email, &st->password, false) != 0)
		return;
	pc_api_defer_secrets(r, login_work, login_done, st, &st->password, 1);
}

/* ---------- POST /api/v1/auth/logout ---------- */

struct logout_state {
	enum pc_err err;
};

static void logout_work(struct pc_req *r, void *data)
{
	struct logout_state *st = data;
	st->err = pc_sessions_logout(pc_svc_of(r), r->principal);
}

static void logout_done(struct pc_req *r, void *data)
{
	struct logout_state *st = data;
	if (st->err != PC_OK && st->err != PC_ERR_NOT_FOUND) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	if (r->principal->method == PC_AUTH_SESSION)
		pc_api_clear_session_cookie(r);
	pc_respond_empty(r, 204);
}

static void logout_pending_work(struct pc_req *r, void *data)
{
	struct logout_state *st = data;
	st->err = pc_sessions_logout(pc_svc_of(r), r->pending);
}

static void logout_pending_done(struct pc_req *r, void *data)
{
	struct logout_state *st = data;
	if (st->err != PC_OK && st->err != PC_ERR_NOT_FOUND) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	pc_api_clear_session_cookie(r);
	pc_respond_empty(r, 204);
}

void pc_api_logout(struct pc_req *r)
{
	if (r->principal == NULL && r->pending != NULL) {
		/* a sign-in waiting for its second step, abandoned */
		struct logout_state *st = pc_api_state_or_respond(r, sizeof(*st));
		if (st != NULL)
			pc_api_defer(r, logout_pending_work, logout_pending_done, st);
		return;
	}
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

/* ---------- POST /logout ---------- */

/* A sign-out form on a page of this site (an app behind the proxy, on the
 * same host): it cannot send portcullis' token, so it is refused only on
 * the browser's evidence that it comes from elsewhere, as /verify judges a
 * forwarded form: Sec-Fetch-Site cross-site (or same-site without an
 * Origin), an Origin that is not this site (or an allowed origin; "null"
 * included), or without an Origin a Referer of another site. Without either, SameSite=Strict has already kept the
 * session cookie off a cross-site request: there is nothing to end. Then
 * 303 to ?rd= when allowed, else /admin (the login page, signed out). */
static void logout_post_done(struct pc_req *r, void *data)
{
	struct logout_state *st = data;
	if (st->err != PC_OK && st->err != PC_ERR_NOT_FOUND) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	if (r->principal->method == PC_AUTH_SESSION)
		pc_api_clear_session_cookie(r);
	pc_api_continue(r);
}

void pc_web_logout_post(struct pc_req *r)
{
	const struct pc_http_header *origin = pc_http_header_get(r->http, "Origin");
	const struct pc_http_header *site = pc_http_header_get(r->http, "Sec-Fetch-Site");
	const struct pc_http_header *ref = origin == NULL ? pc_http_header_get(r->http, "Referer") : NULL;
	const struct pc_config *cfg = pc_auth_of(r)->cfg;
	bool cross = site != NULL && (pc_str_ieq(site->value, "cross-site") ||
	                              (origin == NULL && pc_str_ieq(site->value, "same-site")));
	bool foreign = origin != NULL && !pc_csrf_origin_ok(cfg, origin->value, r->http->host);
	if (ref != NULL) {
		/* the Referer's origin: scheme://authority */
		const char *sep = memmem(ref->value.p, ref->value.len, "://", 3);
		size_t end = sep != NULL ? (size_t)(sep + 3 - ref->value.p) : 0;
		while (sep != NULL && end < ref->value.len && ref->value.p[end] != '/' && ref->value.p[end] != '?' &&
		       ref->value.p[end] != '#')
			end++;
		foreign = sep != NULL && !pc_csrf_origin_ok(cfg, (struct pc_str){ref->value.p, end}, r->http->host);
	}
	if (cross || foreign) {
		pc_metrics_csrf_failure(cross ? PC_CSRFF_CROSS_SITE : PC_CSRFF_FOREIGN_ORIGIN);
		pc_respond_problem_kind(r, PC_PROB_CSRF_FAILED, "A sign-out form must come from a page of this site.");
		return;
	}
	if (r->principal == NULL || r->principal->method != PC_AUTH_SESSION) {
		if (pc_http_cookie_get(r->http, pc_session_cookie_name(pc_auth_of(r)->cfg)) != NULL)
			pc_api_clear_session_cookie(r);
		pc_api_continue(r);
		return;
	}
	struct logout_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, logout_work, logout_post_done, st);
}

/* ---------- GET /api/v1/auth/me ---------- */

void pc_api_me(struct pc_req *r)
{
	const struct pc_principal *p = r->principal;
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o}", "user_id", p->user_id, "email", p->email, "session_id",
	                      p->session_id, "auth_method", pc_auth_method_name(p->method), "authenticated_at",
	                      pc_api_time_json(p->authenticated_at));
	if (o != NULL && p->method == PC_AUTH_API_KEY) {
		/* a key is itself, not a user */
		json_object_set_new(o, "key_id", json_string(p->session_id));
		json_object_set_new(o, "key_name", json_string(p->key_name));
		json_object_set_new(o, "role", json_null());
		json_object_set_new(o, "groups", json_array());
	} else if (o != NULL) {
		json_object_set_new(o, "role", json_string(pc_role_name(p->role)));
		json_object_set_new(o, "groups", pc_api_groups_json(p->groups));
	}
	/* a disabled user is never authenticated: always false here */
	if (o != NULL)
		json_object_set_new(o, "disabled", json_false());
	pc_respond_json(r, 200, o);
}

/* ---------- GET /api/v1/auth/csrf-token ---------- */

void pc_api_csrf_token(struct pc_req *r)
{
	const struct pc_principal *p = r->principal != NULL ? r->principal : r->pending;
	char token[PC_CSRF_TOKEN_LEN + 1];
	if (pc_api_set_csrf_cookie(r, p != NULL && p->method == PC_AUTH_SESSION ? p->session_id : NULL,
	                           token) != 0) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_respond_json(r, 200, json_pack("{s:s}", "csrf_token", token));
}
