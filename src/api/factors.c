/*
 * factors.c — second factors over HTTP: TOTP enrolment, confirmation and
 * removal, recovery codes, the list of what the user has, and the second
 * step of a sign-in.
 *
 * HTTP only: the rules are svc/factors.c's, run on the worker pool. Codes
 * and passwords live in secret buffers freed right after the work; answers
 * that carry a secret (the TOTP secret, recovery codes) are no-store like
 * every answer here, and are given once.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/docs.h"
#include "api/input.h"
#include "core/qrsvg.h"
#include "obs/metrics.h"
#include "svc/factors.h"

static const struct pc_api_say say_code = {
	.unauthorized = "The code is not valid.",
	.auth_failure = PC_AUTHF_BAD_CREDENTIALS,
	.throttled = "Too many attempts; try again later.",
};

struct factors_state {
	struct pc_secret code; /* a code or a password; freed right after the work */
	enum pc_factor_method method;
	enum pc_err err;
	int64_t retry_after;
	struct pc_totp_enrolment enrol;
	pc_recovery_codes codes;
	struct pc_factors_info info;
	struct pc_user user;
	struct pc_session sess;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	enum pc_err enrol_err; /* the sign-in that waited for this enrolment: promoted? */
};

/* Only a user has factors (an API key has none). */
static struct factors_state *user_state_or_respond(struct pc_req *r)
{
	if (r->principal->user_id[0] == '\0') {
		pc_respond_problem(r, 403, "Only a user has second factors.");
		return NULL;
	}
	return pc_api_state_or_respond(r, sizeof(struct factors_state));
}

static void wipe(struct factors_state *st)
{
	sodium_memzero(&st->enrol, sizeof(st->enrol));
	sodium_memzero(st->codes, sizeof(st->codes));
	sodium_memzero(st->secret, sizeof(st->secret));
}

static json_t *codes_json(pc_recovery_codes codes)
{
	json_t *a = json_array();
	for (int i = 0; a != NULL && i < PC_RECOVERY_CODES; i++)
		json_array_append_new(a, json_string(codes[i]));
	return a;
}

static const struct pc_field code_fields[] = {{"code", PC_F_SECRET, true, PC_PASSWORD_MAX}};
const struct pc_fields pc_api_fields_totp_confirm = PC_FIELDS(code_fields);
static const struct pc_field password_fields[] = {{"password", PC_F_SECRET, true, PC_PASSWORD_MAX}};
const struct pc_fields pc_api_fields_recovery = PC_FIELDS(password_fields);

/* One field holding a secret string (a code, or a password). 0, or -1
 * after answering. */
static int secret_field_or_respond(struct pc_req *r, const struct pc_field *fields, struct pc_secret *out)
{
	struct pc_input in;
	if (pc_input_or_respond(r, fields, 1, &in) != 0)
		return -1;
	pc_input_take(&in, 0, out);
	pc_input_wipe(&in);
	return 0;
}

/* ---------- POST /api/v1/users/me/totp ---------- */

static void enrol_work(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	st->err = pc_factors_totp_enrol(pc_svc_of(r), r->principal, &st->enrol);
}

static void enrol_done(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err,
		             &(struct pc_api_say){.conflict = "A TOTP authenticator is active; remove it first."});
		return;
	}
	pc_respond_json(r, 201,
	                json_pack("{s:s,s:s,s:s,s:i,s:i,s:s}", "secret", st->enrol.secret, "otpauth_uri",
	                          st->enrol.uri, "algorithm", st->enrol.algorithm, "digits", (int)st->enrol.digits,
	                          "period", (int)st->enrol.period, "qr_svg_url", "/api/v1/users/me/totp/qr.svg"));
	wipe(st);
}

void pc_api_totp_enrol(struct pc_req *r)
{
	struct factors_state *st = user_state_or_respond(r);
	if (st != NULL)
		pc_api_defer(r, enrol_work, enrol_done, st);
}

/* ---------- GET /api/v1/users/me/totp/qr.svg ---------- */

struct qr_state {
	enum pc_err err;
	char uri[PC_TOTP_URI_MAX];
};

static void qr_work(struct pc_req *r, void *data)
{
	struct qr_state *st = data;
	st->err = pc_factors_totp_pending_uri(pc_svc_of(r), r->principal, st->uri);
}

static void qr_done(struct pc_req *r, void *data)
{
	struct qr_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No TOTP enrolment waits for confirmation."});
		return;
	}
	char *svg = NULL;
	size_t len = 0;
	int rc = pc_qr_svg(&svg, &len, st->uri);
	sodium_memzero(st->uri, sizeof(st->uri));
	if (rc != 0) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_respond(r, 200, "image/svg+xml", svg, len); /* no-store, like every answer here */
	sodium_memzero(svg, len);
	free(svg);
}

void pc_api_totp_qr(struct pc_req *r)
{
	if (r->principal->user_id[0] == '\0') {
		pc_respond_problem(r, 403, "Only a user has second factors.");
		return;
	}
	struct qr_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, qr_work, qr_done, st);
}

/* ---------- POST /api/v1/users/me/totp/confirm ---------- */

static void confirm_work(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	st->err = pc_factors_totp_confirm(pc_svc_of(r), r->principal, st->code.s, st->code.len, st->codes,
	                                  &st->retry_after);
	/* a sign-in that waited for this: its session becomes a full one */
	if (st->err == PC_OK && r->principal->must_enrol)
		st->enrol_err = pc_factors_enrol_finish(pc_svc_of(r), r->principal, "totp", PC_FACTORS_PWD_OTP, &st->sess,
		                                        st->secret);
}

static void confirm_done(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	if (st->err == PC_ERR_NOT_FOUND) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_CODE, "The code is not valid, or no authenticator waits for confirmation.");
		return;
	}
	if (st->err != PC_OK) {
		struct pc_api_say say = say_code;
		say.unauthorized = NULL;
		say.conflict = "The TOTP authenticator is already active.";
		say.retry_after = st->retry_after;
		pc_api_error(r, st->err, &say);
		return;
	}
	int factors = r->principal->factors;
	if (r->principal->must_enrol) {
		/* the codes are shown once: answered even when the promotion
		 * failed (then the user signs in again, with the new factor) */
		factors = 0;
		if (st->enrol_err == PC_OK) {
			if (pc_api_session_cookie_or_respond(r, st->secret, &st->sess) != 0) {
				wipe(st);
				return;
			}
			factors = 2;
		}
	}
	pc_respond_json(r, 200, json_pack("{s:b,s:o,s:i}", "active", true, "recovery_codes", codes_json(st->codes),
	                                  "session_factors", factors));
	wipe(st);
}

void pc_api_totp_confirm(struct pc_req *r)
{
	struct factors_state *st = user_state_or_respond(r);
	if (st == NULL || secret_field_or_respond(r, code_fields, &st->code) != 0)
		return;
	pc_api_defer_secrets(r, confirm_work, confirm_done, st, &st->code, 1);
}

/* ---------- DELETE /api/v1/users/me/totp ---------- */

static void delete_work(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	st->err = pc_factors_totp_delete(pc_svc_of(r), r->principal, st->code.s, st->code.len, &st->retry_after);
}

static void delete_done(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err,
		             &(struct pc_api_say){.not_found = "No TOTP authenticator, or the password or code is wrong.",
		                                  .retry_after = st->retry_after});
		return;
	}
	pc_respond_empty(r, 204);
}

static const struct pc_field delete_fields[] = {
	{"password", PC_F_SECRET, false, PC_PASSWORD_MAX},
	{"code", PC_F_SECRET, false, 64},
};
const struct pc_fields pc_api_fields_totp_delete = PC_FIELDS(delete_fields);

void pc_api_totp_delete(struct pc_req *r)
{
	struct factors_state *st = user_state_or_respond(r);
	if (st == NULL)
		return;
	/* {"password": ...} or {"code": ...}: one of them */
	struct pc_input in;
	if (pc_input_or_respond(r, delete_fields, 2, &in) != 0)
		return;
	if (in.present[0] == in.present[1]) {
		pc_input_wipe(&in);
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Give either \"password\" or \"code\".");
		return;
	}
	pc_input_take(&in, in.present[0] ? 0 : 1, &st->code);
	pc_input_wipe(&in);
	pc_api_defer_secrets(r, delete_work, delete_done, st, &st->code, 1);
}

/* ---------- POST /api/v1/users/me/recovery-codes ---------- */

static void regen_work(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	st->err = pc_factors_recovery_regenerate(pc_svc_of(r), r->principal, st->code.s, st->code.len, st->codes,
	                                         &st->retry_after);
}

static void regen_done(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err,
		             &(struct pc_api_say){.not_found = "No active TOTP authenticator, or the password is wrong.",
		                                  .retry_after = st->retry_after});
		return;
	}
	pc_respond_json(r, 200, json_pack("{s:o}", "recovery_codes", codes_json(st->codes)));
	wipe(st);
}

void pc_api_recovery_regenerate(struct pc_req *r)
{
	struct factors_state *st = user_state_or_respond(r);
	if (st == NULL || secret_field_or_respond(r, password_fields, &st->code) != 0)
		return;
	pc_api_defer_secrets(r, regen_work, regen_done, st, &st->code, 1);
}

/* ---------- GET /api/v1/users/me/factors ---------- */

static void list_work(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	st->err = pc_factors_list(pc_svc_of(r), r->principal, &st->info);
}

static void list_done(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	const struct pc_factors_info *i = &st->info;
	json_t *totp = json_null();
	if (i->totp || i->totp_pending)
		totp = json_pack("{s:b,s:s,s:I,s:I,s:o}", "active", i->totp, "algorithm", i->algorithm, "digits",
		                 (json_int_t)i->digits, "period", (json_int_t)i->period, "created_at",
		                 pc_api_time_json(i->totp_created_at));
	pc_respond_json(r, 200,
	                json_pack("{s:o,s:I,s:I}", "totp", totp, "recovery_codes_left", (json_int_t)i->recovery_left,
	                          "session_factors", (json_int_t)(r->principal->factors >= 2 ? 2 : 1)));
}

void pc_api_factors_list(struct pc_req *r)
{
	struct factors_state *st = user_state_or_respond(r);
	if (st != NULL)
		pc_api_defer(r, list_work, list_done, st);
}

/* ---------- POST /api/v1/auth/second-factor ---------- */

static void second_work(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	st->err = pc_factors_second_step(pc_svc_of(r), r->pending, st->method, st->code.s, st->code.len, &st->user,
	                                 &st->sess, st->secret, &st->retry_after);
}

static void second_done(struct pc_req *r, void *data)
{
	struct factors_state *st = data;
	if (st->err != PC_OK) {
		sodium_memzero(st->secret, sizeof(st->secret));
		struct pc_api_say say = say_code;
		say.retry_after = st->retry_after;
		pc_api_error(r, st->err, &say);
		return;
	}
	if (pc_api_session_cookie_or_respond(r, st->secret, &st->sess) != 0)
		return;
	pc_respond_json(r, 200, json_pack("{s:o,s:i}", "user", pc_api_user_json(&st->user), "factors", 2));
}

static const struct pc_field second_fields[] = {
	{"method", PC_F_STRING, true, 16},
	{"code", PC_F_SECRET, true, 64},
};
const struct pc_fields pc_api_fields_second_factor = PC_FIELDS(second_fields);

void pc_api_second_factor(struct pc_req *r)
{
	struct factors_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_input in;
	if (pc_input_or_respond(r, second_fields, 2, &in) != 0)
		return;
	if (strcmp(in.v[0].str.s, "totp") == 0) {
		st->method = PC_FACTOR_TOTP;
	} else if (strcmp(in.v[0].str.s, "recovery") == 0) {
		st->method = PC_FACTOR_RECOVERY;
	} else {
		pc_input_wipe(&in);
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"method\" must be \"totp\" or \"recovery\".");
		return;
	}
	if (r->pending == NULL || r->pending->must_enrol) {
		pc_input_wipe(&in);
		pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
		pc_respond_problem(r, 401, "No sign-in is waiting for a second factor; sign in with your password first.");
		return;
	}
	pc_input_take(&in, 1, &st->code);
	pc_input_wipe(&in);
	pc_api_defer_secrets(r, second_work, second_done, st, &st->code, 1);
}
