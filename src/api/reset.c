/*
 * reset.c — POST /api/v1/auth/password-reset/request {email}: the HTTP side
 * of forgot-password (svc/reset.c has the rules). One answer, 202 with the
 * same body, whether or not an account has the address; 429 past the
 * throttles; 503 email-disabled when this server sends no mail (which says
 * nothing about any account).
 */
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/docs.h"
#include "api/input.h"
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
