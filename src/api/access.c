/*
 * access.c — the forward-auth access rules, for the console: the rules in
 * force (read-only, with their line numbers) and "check access", which
 * decides a request the way /verify does (svc/access.c's pc_access_probe,
 * the code `portcullis access check` runs). Administrators only: the rules
 * and who they let in are an operator's map of the protected apps.
 *
 * Neither touches the store: the rules are in memory, so both answer on the
 * loop thread.
 */
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/docs.h"
#include "api/input.h"
#include "svc/svc.h"

/* The admin check runs on the worker pool: a refused attempt is audited
 * (pc_svc_check writes the event), which may block on the store. The rules
 * themselves are in memory. */
struct access_state {
	enum pc_err err;
	struct pc_access_probe probe;
	bool check; /* POST /api/v1/access/check */
	struct pc_input in;
};

static void admin_work(struct pc_req *r, void *data)
{
	struct access_state *st = data;
	st->err = pc_svc_check(pc_svc_of(r), r->principal, PC_SVC_MANAGE_USERS, "access_rules", "");
}

/* ---------- GET /api/v1/access/rules ---------- */

static int add_rule(void *arg, unsigned line, const char *text)
{
	json_array_append_new(arg, json_pack("{s:I,s:s}", "line", (json_int_t)line, "text", text));
	return 0;
}

static void rules_done(struct pc_req *r, void *data)
{
	struct access_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	struct pc_svc *svc = pc_svc_of(r);
	json_t *rules = json_array();
	bool implicit;
	pc_access_each_rule(&svc->access, &implicit, add_rule, rules);
	pc_respond_json(r, 200, json_pack("{s:o,s:o}", "file", implicit ? json_null() : json_string(svc->access.path),
	                                  "rules", rules));
}

void pc_api_access_rules(struct pc_req *r)
{
	struct access_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, admin_work, rules_done, st);
}

/* ---------- POST /api/v1/access/check ---------- */

static const struct pc_field check_fields[] = {
	{"url", PC_F_STRING, true, PC_AUTHZ_PATH_MAX + PC_AUTHZ_HOST_MAX + 16},
	{"method", PC_F_STRING, false, 16},
	{"user", PC_F_STRING, false, PC_EMAIL_MAX},
	{"groups", PC_F_STRING, false, PC_AUTHZ_MAX_VALUES * (PC_AUTHZ_GROUP_MAX + 1)},
	{"addr", PC_F_STRING, false, 64},
	{"factors", PC_F_INT, false, 0},
	{"query", PC_F_STRING, false, PC_AUTHZ_QUERY_MAX},
};
const struct pc_fields pc_api_fields_access_check = PC_FIELDS(check_fields);

static void check_done(struct pc_req *r, void *data)
{
	struct access_state *st = data;
	if (st->err != PC_OK) {
		pc_input_wipe(&st->in);
		pc_api_error(r, st->err, NULL);
		return;
	}
	struct pc_access_answer a;
	const char *why = "";
	int rc = pc_access_probe(&pc_svc_of(r)->access, &st->probe, &a, &why);
	pc_input_wipe(&st->in);
	if (rc != 0) {
		char detail[160];
		snprintf(detail, sizeof(detail), "The request to check is not understood: %s.", why);
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, detail);
		return;
	}
	pc_respond_json(r, 200,
	                json_pack("{s:s,s:b,s:o,s:s}", "outcome", a.outcome, "allowed", a.allowed, "line",
	                          a.line != 0 ? json_integer(a.line) : json_null(), "detail", a.text));
}

void pc_api_access_check(struct pc_req *r)
{
	struct access_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL ||
	    pc_input_or_respond(r, check_fields, sizeof(check_fields) / sizeof(check_fields[0]), &st->in) != 0)
		return;
	struct pc_input *in = &st->in;
	if (in->present[5] && in->v[5].i != 1 && in->v[5].i != 2) {
		pc_input_wipe(in);
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"factors\" must be 1 or 2.");
		return;
	}
	st->probe = (struct pc_access_probe){
		in->v[0].str.s,
		in->present[1] ? in->v[1].str.s : NULL,
		in->present[2] && in->v[2].str.len > 0 ? in->v[2].str.s : NULL,
		in->present[3] ? in->v[3].str.s : NULL,
		in->present[4] ? in->v[4].str.s : NULL,
		in->present[5] ? (unsigned)in->v[5].i : 1u,
		in->present[6] ? in->v[6].str.s : NULL,
	};
	pc_api_defer(r, admin_work, check_done, st);
}
