/*
 * reset.c — POST /api/v1/auth/password-reset/request {email}: the HTTP side
 * of forgot-password (svc/reset.c has the rules). One answer, 202 with the
 * same body, whether or not an account has the address; 429 past the
 * throttles; 503 email-disabled when this server sends no mail (which says
 * nothing about any account).
 */
#include <sodium.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/docs.h"
#include "api/input.h"
#include "core/b64url.h"
#include "svc/outbox.h"
#include "svc/reset.h"

static const struct pc_field request_fields[] = {
	{"email", PC_F_STRING, true, 1024},
};
const struct pc_fields pc_api_fields_reset_request = PC_FIELDS(request_fields);

struct request_state {
	char email[PC_EMAIL_MAX + 1];
	enum pc_err err;
	int64_t retry_after;
};

static void request_work(struct pc_req *r, void *data)
{
	struct request_state *st = data;
	st->err = pc_reset_request(pc_svc_of(r), r->actor, st->email, &st->retry_after);
}

static void request_done(struct pc_req *r, void *data)
{
	struct request_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.retry_after = st->retry_after});
		return;
	}
	pc_respond_json(r, 202, json_pack("{s:s}", "message",
	                                  "If an account has this address, a reset link is on its way to it. "
	                                  "The link works once, within 30 minutes."));
}

void pc_api_password_reset_request(struct pc_req *r)
{
	struct request_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_input in;
	if (pc_input_or_respond(r, request_fields, 1, &in) != 0)
		return;
	int bad = pc_email_normalize(st->email, sizeof(st->email), in.v[0].str.s, in.v[0].str.len);
	pc_input_wipe(&in);
	if (bad != 0) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"email\" is not a valid email address.");
		return;
	}
	/* after the body is checked: a malformed request is the client's to fix
	 * whatever the configuration */
	if (!pc_outbox_enabled(pc_svc_of(r))) {
		pc_respond_problem_kind(r, PC_PROB_EMAIL_DISABLED,
		                        "This server sends no mail; ask an administrator for a reset link.");
		return;
	}
	pc_api_defer(r, request_work, request_done, st);
}

/* ---------- POST /api/v1/users/me/email ---------- */

static const struct pc_field email_fields[] = {
	{"email", PC_F_STRING, true, 1024},
	{"current_password", PC_F_SECRET, true, PC_PASSWORD_MAX},
};
const struct pc_fields pc_api_fields_email_change = PC_FIELDS(email_fields);

struct email_state {
	char email[PC_EMAIL_MAX + 1];
	struct pc_secret pw[1];
	enum pc_err err;
	bool wrong_password;
	int64_t retry_after;
	uint8_t token[32];
	bool token_ok;
};

static void email_work(struct pc_req *r, void *data)
{
	struct email_state *st = data;
	st->err = pc_email_change_request(pc_svc_of(r), r->principal, st->email, st->pw[0].s, st->pw[0].len,
	                                  &st->wrong_password, &st->retry_after);
}

static void email_done(struct pc_req *r, void *data)
{
	struct email_state *st = data;
	if (st->wrong_password) {
		pc_respond_problem_kind(r, PC_PROB_WRONG_PASSWORD, "The current password is not correct.");
		return;
	}
	if (st->err != PC_OK) {
		pc_api_error(r, st->err,
		             &(struct pc_api_say){.conflict = "This address is already an account's.", .retry_after = st->retry_after});
		return;
	}
	pc_respond_json(r, 202, json_pack("{s:s}", "message",
	                                  "A confirmation link is on its way to the new address; the change happens when "
	                                  "it is opened (within 24 hours)."));
}

void pc_api_email_change(struct pc_req *r)
{
	struct email_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	if (r->principal->user_id[0] == '\0') {
		pc_respond_problem(r, 403, "Only a user can change their email.");
		return;
	}
	struct pc_input in;
	if (pc_input_or_respond(r, email_fields, 2, &in) != 0)
		return;
	if (pc_email_normalize(st->email, sizeof(st->email), in.v[0].str.s, in.v[0].str.len) != 0) {
		pc_input_wipe(&in);
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"email\" is not a valid email address.");
		return;
	}
	if (!pc_outbox_enabled(pc_svc_of(r))) {
		pc_input_wipe(&in);
		pc_respond_problem_kind(r, PC_PROB_EMAIL_DISABLED,
		                        "This server sends no mail; ask an administrator to change your email.");
		return;
	}
	pc_input_take(&in, 1, &st->pw[0]);
	pc_input_wipe(&in);
	pc_api_defer_secrets(r, email_work, email_done, st, st->pw, 1);
}

/* ---------- POST /api/v1/auth/email-change/confirm ---------- */

static const struct pc_field confirm_fields[] = {
	{"token", PC_F_SECRET, true, 256},
};
const struct pc_fields pc_api_fields_email_confirm = PC_FIELDS(confirm_fields);

static void confirm_work(struct pc_req *r, void *data)
{
	struct email_state *st = data;
	st->err = pc_email_change_confirm(pc_svc_of(r), r->actor, st->token_ok ? st->token : NULL, &st->retry_after);
	sodium_memzero(st->token, sizeof(st->token));
}

static void confirm_done(struct pc_req *r, void *data)
{
	struct email_state *st = data;
	if (st->err == PC_ERR_NOT_FOUND) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_EMAIL_TOKEN, "The confirmation link is not valid, used or expired.");
		return;
	}
	if (st->err != PC_OK) {
		pc_api_error(r, st->err,
		             &(struct pc_api_say){.conflict = "This address is already an account's.", .retry_after = st->retry_after});
		return;
	}
	pc_respond_json(r, 200, json_pack("{s:s}", "message", "The email address of your account is changed."));
}

void pc_api_email_change_confirm(struct pc_req *r)
{
	struct email_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_input in;
	if (pc_input_or_respond(r, confirm_fields, 1, &in) != 0)
		return;
	size_t n = 0;
	st->token_ok = in.v[0].str.len == 43 &&
	               pc_b64url_decode(st->token, sizeof(st->token), &n, in.v[0].str.s, in.v[0].str.len) == 0 &&
	               n == sizeof(st->token);
	if (!st->token_ok)
		sodium_memzero(st->token, sizeof(st->token));
	pc_input_wipe(&in);
	pc_api_defer(r, confirm_work, confirm_done, st);
}
