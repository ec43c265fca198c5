/*
 * sessions.c — a user's own sessions: list, end one, end the others (or all).
 * Only session-authenticated requests have a "current" session; ending it
 * also clears the cookie.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "svc/sessions.h"

struct sessions_state {
	enum pc_err err;
	struct pc_session *list;
	size_t n;
	bool all;
	bool ended_current;
	size_t ended;
	char id[PC_ID_LEN + 1];
};

static const char *current_session(const struct pc_req *r)
{
	return r->principal->method == PC_AUTH_SESSION ? r->principal->session_id : NULL;
}

static void list_work(struct pc_req *r, void *data)
{
	struct sessions_state *st = data;
	st->err = pc_sessions_list(pc_svc_of(r), r->principal, &st->list, &st->n);
}

static void list_done(struct pc_req *r, void *data)
{
	struct sessions_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(arr, pc_api_session_json(&st->list[i], current_session(r)));
	free(st->list);
	pc_respond_json(r, 200, json_pack("{s:o}", "sessions", arr));
}

void pc_api_sessions_list(struct pc_req *r)
{
	struct sessions_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, list_work, list_done, st);
}

static void delete_all_work(struct pc_req *r, void *data)
{
	struct sessions_state *st = data;
	st->err = pc_sessions_end_all(pc_svc_of(r), r->principal, st->all, &st->ended);
	st->ended_current = st->all && current_session(r) != NULL;
}

static void delete_done(struct pc_req *r, void *data)
{
	struct sessions_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No such session of yours."});
		return;
	}
	if (st->ended_current)
		pc_api_clear_session_cookie(r);
	pc_respond_empty(r, 204);
}

void pc_api_sessions_delete_all(struct pc_req *r)
{
	struct sessions_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	const struct pc_str q = r->http->query;
	if (q.p != NULL) {
		if (q.len == 8 && memcmp(q.p, "all=true", 8) == 0) {
			st->all = true;
		} else if (!(q.len == 9 && memcmp(q.p, "all=false", 9) == 0)) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_QUERY, "The only query parameter is all=true or all=false.");
			return;
		}
	}
	pc_api_defer(r, delete_all_work, delete_done, st);
}

static void delete_one_work(struct pc_req *r, void *data)
{
	struct sessions_state *st = data;
	st->err = pc_sessions_end(pc_svc_of(r), r->principal, st->id);
	const char *cur = current_session(r);
	st->ended_current = cur != NULL && strcmp(cur, st->id) == 0;
}

/* Ids are 32 lowercase hex characters; anything else cannot exist. */
bool pc_api_id_valid(struct pc_str id)
{
	if (id.len != PC_ID_LEN)
		return false;
	for (size_t i = 0; i < id.len; i++) {
		char c = id.p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

void pc_api_sessions_delete(struct pc_req *r)
{
	struct pc_str id = pc_req_param(r, "id");
	if (!pc_api_id_valid(id)) {
		pc_respond_problem(r, 404, "No such session of yours.");
		return;
	}
	struct sessions_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	memcpy(st->id, id.p, PC_ID_LEN);
	st->id[PC_ID_LEN] = '\0';
	pc_api_defer(r, delete_one_work, delete_done, st);
}
