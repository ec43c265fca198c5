/*
 * users.c — the HTTP side of users (svc/users.c has the rules): parsing,
 * validation, and the answers. Passwords are secret buffers freed right
 * after the work (api/input.h).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/docs.h"
#include "api/input.h"
#include "core/b64url.h"
#include "core/text.h"
#include "obs/metrics.h"
#include "svc/reset.h"
#include "svc/sessions.h"
#include "svc/factors.h"
#include "svc/users.h"

#define RESET_TOKEN_B64 43 /* base64url of 32 bytes, no padding */

struct users_state {
	enum pc_err err;
	struct pc_user user;
	struct pc_user *list;
	size_t n;
	struct pc_secret pw[2]; /* current/new or the one password; freed right after the work */
	char id[PC_ID_LEN + 1];
	enum pc_role role;
	struct pc_user_patch patch;
	struct pc_session *sessions;
	uint8_t token[PC_RESET_TOKEN_BYTES];
	bool token_ok;
	int64_t expires_at;
	bool wrong_password;
	int64_t retry_after;
	struct pc_pw_verdict weak;
	struct pc_session rotated;                 /* password change: the session under its new id */
	uint8_t rotated_secret[PC_SESSION_SECRET_BYTES];
};

/* ---------- GET /api/v1/users ---------- */

static void list_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_users_list(pc_svc_of(r), r->principal, &st->list, &st->n);
}

static void list_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(arr, pc_api_user_json(&st->list[i]));
	free(st->list);
	pc_respond_json(r, 200, json_pack("{s:o}", "users", arr));
}

void pc_api_users_list(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, list_work, list_done, st);
}

/* ---------- POST /api/v1/users ---------- */

static void create_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_users_create_named(pc_svc_of(r), r->principal, st->user.email, st->role, st->user.name, st->pw[0].s,
	                                st->pw[0].len, &st->user, &st->weak);
}

static void create_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err,
		             &(struct pc_api_say){.conflict = "A user with this email already exists.", .weak = &st->weak});
		return;
	}
	char loc[64];
	snprintf(loc, sizeof(loc), "/api/v1/users/%s", st->user.id);
	pc_resp_header(r, "Location", loc);
	pc_respond_json(r, 201, json_pack("{s:o}", "user", pc_api_user_json(&st->user)));
}

static const struct pc_field create_fields[] = {
	{"email", PC_F_STRING, true, PC_EMAIL_MAX},
	{"password", PC_F_SECRET, true, PC_PASSWORD_INPUT_MAX},
	{"role", PC_F_STRING, false, 16},
	{"name", PC_F_STRING, false, PC_USER_NAME_MAX},
};
const struct pc_fields pc_api_fields_users_create = PC_FIELDS(create_fields);

/* A display name into out (PC_USER_NAME_MAX + 1 bytes); 0, or -1 after
 * answering 400: it goes into a header (X-Auth-Name), so no control
 * character, and no leading or trailing space. */
_Static_assert(PC_USER_NAME_MAX == 128, "the message says 128");
static int name_or_respond(struct pc_req *r, char *out, const char *s, size_t len)
{
	if (!pc_user_name_valid(s, len)) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"name\" must be text without control characters, "
		                        "without leading or trailing spaces, at most 128 bytes.");
		return -1;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* "admin" or "member" into *out; 0, or -1 after answering 400. */
static int role_or_respond(struct pc_req *r, enum pc_role *out, const char *s, size_t len)
{
	if (pc_role_parse(out, s, len) != 0) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"role\" must be \"admin\" or \"member\".");
		return -1;
	}
	return 0;
}

void pc_api_users_create(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	struct pc_input in;
	if (st == NULL || pc_input_or_respond(r, create_fields, 4, &in) != 0)
		return;
	st->role = PC_ROLE_MEMBER;
	if (pc_email_normalize(st->user.email, sizeof(st->user.email), in.v[0].str.s, in.v[0].str.len) != 0) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"email\" is not a valid email address.");
		goto fail;
	}
	if (in.present[2] && role_or_respond(r, &st->role, in.v[2].str.s, in.v[2].str.len) != 0)
		goto fail;
	if (in.present[3] && name_or_respond(r, st->user.name, in.v[3].str.s, in.v[3].str.len) != 0)
		goto fail;
	pc_input_take(&in, 1, &st->pw[0]);
	pc_input_wipe(&in);
	pc_api_defer_secrets(r, create_work, create_done, st, st->pw, 1);
	return;
fail:
	pc_input_wipe(&in);
}

/* ---------- DELETE /api/v1/users/{id} ---------- */

static void delete_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_users_delete(pc_svc_of(r), r->principal, st->id);
}

static void delete_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No such user."});
		return;
	}
	if (strcmp(st->id, r->principal->user_id) == 0)
		pc_api_clear_session_cookie(r);
	pc_respond_empty(r, 204);
}

static int id_param_or_respond(struct pc_req *r, char out[PC_ID_LEN + 1])
{
	struct pc_str id = pc_req_param(r, "id");
	if (!pc_api_id_valid(id)) {
		pc_respond_problem(r, 404, "No such user.");
		return -1;
	}
	memcpy(out, id.p, PC_ID_LEN);
	out[PC_ID_LEN] = '\0';
	return 0;
}

void pc_api_users_delete(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || id_param_or_respond(r, st->id) != 0)
		return;
	pc_api_defer(r, delete_work, delete_done, st);
}

/* ---------- DELETE /api/v1/users/{id}/factors ---------- */

static void factors_reset_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_factors_reset(pc_svc_of(r), r->principal, st->id);
}

static void factors_reset_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No such user, or the user has no second factor."});
		return;
	}
	if (strcmp(st->id, r->principal->user_id) == 0)
		pc_api_clear_session_cookie(r);
	pc_respond_empty(r, 204);
}

void pc_api_users_factors_reset(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || id_param_or_respond(r, st->id) != 0)
		return;
	pc_api_defer(r, factors_reset_work, factors_reset_done, st);
}

/* ---------- PATCH /api/v1/users/{id} ---------- */

static const struct pc_field patch_fields[] = {
	{"email", PC_F_STRING, false, PC_EMAIL_MAX},
	{"role", PC_F_STRING, false, 16},
	{"disabled", PC_F_BOOL, false, 0},
	{"groups", PC_F_GROUPS, false, PC_USER_GROUPS_MAX},
	{"name", PC_F_STRING, false, PC_USER_NAME_MAX},
};
const struct pc_fields pc_api_fields_users_patch = PC_FIELDS(patch_fields);

static void patch_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_users_update(pc_svc_of(r), r->principal, st->id, &st->patch, &st->user);
}

static void patch_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err,
		             &(struct pc_api_say){.not_found = "No such user.",
		                                  .conflict = "A user with this email already exists."});
		return;
	}
	pc_respond_json(r, 200, json_pack("{s:o}", "user", pc_api_user_json(&st->user)));
}

void pc_api_users_patch(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	struct pc_input in;
	if (st == NULL || id_param_or_respond(r, st->id) != 0 || pc_input_or_respond(r, patch_fields, 5, &in) != 0)
		return;
	struct pc_user_patch *p = &st->patch;
	if (in.present[0]) {
		if (pc_email_normalize(p->email, sizeof(p->email), in.v[0].str.s, in.v[0].str.len) != 0) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"email\" is not a valid email address.");
			return;
		}
		p->has_email = true;
	}
	if (in.present[1]) {
		if (role_or_respond(r, &p->role, in.v[1].str.s, in.v[1].str.len) != 0)
			return;
		p->has_role = true;
	}
	if (in.present[2]) {
		p->disabled = in.v[2].b;
		p->has_disabled = true;
	}
	if (in.present[3]) {
		snprintf(p->groups, sizeof(p->groups), "%s", in.v[3].str.s);
		p->has_groups = true;
	}
	if (in.present[4]) {
		if (name_or_respond(r, p->name, in.v[4].str.s, in.v[4].str.len) != 0)
			return;
		p->has_name = true;
	}
	if (!p->has_email && !p->has_role && !p->has_disabled && !p->has_groups && !p->has_name) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY,
		                        "Give at least one of \"email\", \"role\", \"disabled\", \"groups\", \"name\".");
		return;
	}
	pc_api_defer(r, patch_work, patch_done, st);
}

/* ---------- GET /api/v1/users/{id} ---------- */

static void get_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_users_get(pc_svc_of(r), r->principal, st->id, &st->user);
}

void pc_api_users_get(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL && id_param_or_respond(r, st->id) == 0)
		pc_api_defer(r, get_work, patch_done, st);
}

/* ---------- GET /api/v1/users/{id}/sessions ---------- */

static void sessions_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_sessions_list_of(pc_svc_of(r), r->principal, st->id, &st->sessions, &st->n);
}

static void sessions_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No such user."});
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(arr, pc_api_session_json(&st->sessions[i], r->principal->session_id));
	free(st->sessions);
	pc_respond_json(r, 200, json_pack("{s:o}", "sessions", arr));
}

void pc_api_users_sessions(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL && id_param_or_respond(r, st->id) == 0)
		pc_api_defer(r, sessions_work, sessions_done, st);
}

/* ---------- POST (and PUT) /api/v1/users/me/password ---------- */

static const struct pc_field password_fields[] = {
	{"current_password", PC_F_SECRET, true, PC_PASSWORD_MAX},
	{"new_password", PC_F_SECRET, true, PC_PASSWORD_INPUT_MAX},
};
const struct pc_fields pc_api_fields_password = PC_FIELDS(password_fields);

static void password_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_users_password_change(pc_svc_of(r), r->principal, st->pw[0].s, st->pw[0].len, st->pw[1].s,
	                                   st->pw[1].len, &st->wrong_password, &st->retry_after, &st->weak,
	                                   &st->rotated, st->rotated_secret);
}

static void password_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->wrong_password) {
		pc_respond_problem_kind(r, PC_PROB_WRONG_PASSWORD, "The current password is not correct.");
		return;
	}
	if (st->err != PC_OK) {
		sodium_memzero(st->rotated_secret, sizeof(st->rotated_secret));
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No such user.", .retry_after = st->retry_after,
		                                               .weak = &st->weak,
		                                               .unauthorized = st->err == PC_ERR_STALE ? "The session has ended." : NULL});
		return;
	}
	/* the session goes on under its new id: the cookie and a CSRF token
	 * bound to it replace the old ones */
	if (st->rotated.id[0] != '\0' && pc_api_session_cookie_or_respond(r, st->rotated_secret, &st->rotated) != 0)
		return;
	sodium_memzero(st->rotated_secret, sizeof(st->rotated_secret));
	pc_respond_empty(r, 204);
}

void pc_api_users_password(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	if (r->principal->user_id[0] == '\0') {
		pc_respond_problem(r, 403, "Only a user can change their password.");
		return;
	}
	struct pc_input in;
	if (pc_input_or_respond(r, password_fields, 2, &in) != 0)
		return;
	pc_input_take(&in, 0, &st->pw[0]);
	pc_input_take(&in, 1, &st->pw[1]);
	pc_api_defer_secrets(r, password_work, password_done, st, st->pw, 2);
}

void pc_api_users_password_put(struct pc_req *r)
{
	pc_api_users_password(r);
}

/* ---------- POST /api/v1/users/{id}/password-reset ---------- */

static void reset_issue_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_users_reset_issue(pc_svc_of(r), r->principal, st->id, st->token, &st->expires_at);
}

static void reset_issue_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		sodium_memzero(st->token, sizeof(st->token));
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No such user."});
		return;
	}
	char tok[RESET_TOKEN_B64 + 1];
	sodium_bin2base64(tok, sizeof(tok), st->token, sizeof(st->token), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	pc_metrics_inc(PC_CTR_RESET_TOKENS_ISSUED);
	json_t *body = json_pack("{s:s,s:o,s:s}", "token", tok, "expires_at", pc_api_time_json(st->expires_at),
	                         "user_id", st->id);
	const struct pc_svc *svc = pc_svc_of(r);
	if (body != NULL && svc->cfg->public_url[0] != '\0') {
		/* the page that redeems it, the token in the fragment */
		char link[PC_RESET_LINK_MAX];
		pc_reset_link(link, svc, st->token);
		json_object_set_new(body, "link", json_string(link));
		sodium_memzero(link, sizeof(link));
	}
	sodium_memzero(st->token, sizeof(st->token));
	pc_respond_json(r, 201, body);
	sodium_memzero(tok, sizeof(tok));
}

void pc_api_users_reset_issue(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || id_param_or_respond(r, st->id) != 0)
		return;
	pc_api_defer(r, reset_issue_work, reset_issue_done, st);
}

/* ---------- POST /api/v1/auth/password-reset ---------- */

static const struct pc_field redeem_fields[] = {
	{"token", PC_F_SECRET, true, 256},
	{"new_password", PC_F_SECRET, true, PC_PASSWORD_INPUT_MAX},
};
const struct pc_fields pc_api_fields_redeem = PC_FIELDS(redeem_fields);

static void redeem_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_users_reset_redeem(pc_svc_of(r), r->actor, st->token_ok ? st->token : NULL, st->pw[0].s,
	                                st->pw[0].len, &st->retry_after, &st->weak);
	sodium_memzero(st->token, sizeof(st->token));
}

static void redeem_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err == PC_ERR_NOT_FOUND) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_RESET_TOKEN, "The reset token is not valid, used or expired.");
		return;
	}
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.retry_after = st->retry_after, .weak = &st->weak});
		return;
	}
	pc_respond_empty(r, 204);
}

void pc_api_password_reset(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_input in;
	if (pc_input_or_respond(r, redeem_fields, 2, &in) != 0)
		return;
	size_t bin_len = 0;
	/* a malformed token is counted on the worker pool like any other bad one */
	st->token_ok = in.v[0].str.len == RESET_TOKEN_B64 &&
	               pc_b64url_decode(st->token, sizeof(st->token), &bin_len, in.v[0].str.s, in.v[0].str.len) == 0 &&
	               bin_len == sizeof(st->token);
	if (!st->token_ok)
		sodium_memzero(st->token, sizeof(st->token));
	pc_input_take(&in, 1, &st->pw[0]);
	pc_input_wipe(&in);
	pc_api_defer_secrets(r, redeem_work, redeem_done, st, st->pw, 1);
}
