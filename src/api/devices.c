/*
 * devices.c — the signed-in user's token families ("devices": API clients
 * that got tokens with the password, or from a session): list and end one.
 * The rules are svc/devices.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "svc/devices.h"

struct devices_state {
	enum pc_err err;
	struct pc_token_family *list;
	size_t n;
	char id[PC_ID_LEN + 1];
};

static json_t *family_json(const struct pc_token_family *f, const char *current_session)
{
	json_t *o = json_pack("{s:s,s:o,s:o,s:o,s:i,s:s,s:b}", "id", f->family_id, "created_at",
	                      pc_api_time_json(f->created_at), "last_used_at", pc_api_time_json(f->last_used_at),
	                      "expires_at", pc_api_time_json(f->expires_at), "factors", (json_int_t)f->factors, "via",
	                      f->session_id[0] != '\0' ? "session" : "password", "this_session",
	                      current_session != NULL && f->session_id[0] != '\0' &&
	                          strcmp(current_session, f->session_id) == 0);
	if (o != NULL)
		json_object_set_new(o, "session_id", f->session_id[0] != '\0' ? json_string(f->session_id) : json_null());
	return o;
}

static void list_work(struct pc_req *r, void *data)
{
	struct devices_state *st = data;
	st->err = pc_devices_list(pc_svc_of(r), r->principal, &st->list, &st->n);
}

static void list_done(struct pc_req *r, void *data)
{
	struct devices_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	const char *cur = r->principal->method == PC_AUTH_SESSION ? r->principal->session_id : NULL;
	json_t *arr = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(arr, family_json(&st->list[i], cur));
	free(st->list);
	pc_respond_json(r, 200, json_pack("{s:o}", "devices", arr));
}

void pc_api_devices_list(struct pc_req *r)
{
	struct devices_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, list_work, list_done, st);
}

static void revoke_work(struct pc_req *r, void *data)
{
	struct devices_state *st = data;
	st->err = pc_devices_revoke(pc_svc_of(r), r->principal, st->id);
}

static void revoke_done(struct pc_req *r, void *data)
{
	struct devices_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No such device of yours."});
		return;
	}
	pc_respond_empty(r, 204);
}

void pc_api_devices_revoke(struct pc_req *r)
{
	struct devices_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_str id = pc_req_param(r, "id");
	if (!pc_api_id_valid(id)) {
		pc_respond_problem(r, 404, "No such device of yours.");
		return;
	}
	memcpy(st->id, id.p, PC_ID_LEN);
	st->id[PC_ID_LEN] = '\0';
	pc_api_defer(r, revoke_work, revoke_done, st);
}
