/*
 * problems.c — GET /api/v1/problems and /api/v1/problems/{kind}: what the
 * `type` of a problem+json body resolves to (http/problem.h), so a
 * developer who follows the reference reads what it means and what to do.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

static json_t *kind_json(enum pc_problem k)
{
	const struct pc_problem_kind *p = &pc_problem_kinds[k];
	char uri[96];
	snprintf(uri, sizeof(uri), "%s%s", PC_PROBLEM_TYPE_PREFIX, p->slug);
	return json_pack("{s:s,s:i,s:s,s:s,s:s}", "type", uri, "status", p->status, "title", p->title, "meaning",
	                 p->meaning, "action", p->action);
}

void pc_api_problems_list(struct pc_req *r)
{
	json_t *a = json_array();
	for (int k = 0; k < PC_PROB__COUNT; k++)
		json_array_append_new(a, kind_json((enum pc_problem)k));
	pc_respond_json(r, 200, json_pack("{s:o}", "problems", a));
}

void pc_api_problems_get(struct pc_req *r)
{
	struct pc_str s = pc_req_param(r, "kind");
	enum pc_problem k = pc_problem_find(s.p, s.len);
	if (k == PC_PROB__COUNT) {
		pc_respond_problem(r, 404, "No such problem type.");
		return;
	}
	pc_respond_json(r, 200, kind_json(k));
}
