/*
 * apikeys.c — API keys, shared resources: any authenticated user (not an
 * API key, unless PORTCULLIS_API_KEYS_CAN_ADMIN) may list, create, rename
 * and delete every key; there is no owner filter, by design. The secret is
 * in the answer to POST only.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/docs.h"
#include "api/input.h"
#include "svc/apikeys.h"
#include "core/text.h"

struct keys_state {
	enum pc_err err;
	struct pc_api_key key;
	struct pc_api_key *list;
	size_t n;
	char secret[PC_APIKEY_LEN + 1];
	char id[PC_ID_LEN + 1];
	char name[PC_APIKEY_NAME_MAX + 1];
	int64_t expires_at; /* 0: never */
};

static json_t *key_json(const struct pc_api_key *k)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "id", k->id, "name", k->name, "prefix", k->prefix,
	                 "created_by", k->created_by, "created_at", pc_api_time_json(k->created_at),
	                 "expires_at", k->expires_at ? pc_api_time_json(k->expires_at) : json_null(),
	                 "last_used_at", k->last_used_at ? pc_api_time_json(k->last_used_at) : json_null());
}

/* A name: 1..100 bytes of valid UTF-8 without control characters: C0, DEL
 * and C1 (U+0080-U+009F, encoded C2 80..C2 9F: NEL breaks a line, CSI
 * starts a terminal escape where an operator reads the name). */
static int name_or_respond(struct pc_req *r, char *out, const char *s, size_t len)
{
	if (len == 0 || len > PC_APIKEY_NAME_MAX || !pc_utf8_valid(s, len)) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"name\" must be 1 to 100 bytes of UTF-8.");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool c1 = c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9f;
		if (c < 0x20 || c == 0x7f || c1) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, c1 ? "Field \"name\" must not contain C1 control characters (U+0080 to U+009F)."
			                              : "Field \"name\" must not contain control characters.");
			return -1;
		}
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int id_or_respond(struct pc_req *r, char out[PC_ID_LEN + 1])
{
	struct pc_str id = pc_req_param(r, "id");
	if (!pc_api_id_valid(id)) {
		pc_respond_problem(r, 404, "No such API key.");
		return -1;
	}
	memcpy(out, id.p, PC_ID_LEN);
	out[PC_ID_LEN] = '\0';
	return 0;
}

/* ---------- GET /api/v1/api-keys ---------- */

static void list_work(struct pc_req *r, void *data)
{
	struct keys_state *st = data;
	st->err = pc_apikeys_list(pc_svc_of(r), r->principal, &st->list, &st->n);
}

static void list_done(struct pc_req *r, void *data)
{
	struct keys_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(arr, key_json(&st->list[i]));
	free(st->list);
	pc_respond_json(r, 200, json_pack("{s:o}", "api_keys", arr));
}

void pc_api_keys_list(struct pc_req *r)
{
	struct keys_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, list_work, list_done, st);
}

/* ---------- POST /api/v1/api-keys ---------- */

static const struct pc_field create_fields[] = {
	{"name", PC_F_STRING, true, PC_APIKEY_NAME_MAX},
	{"expires_at", PC_F_STRING, false, 32},
};
const struct pc_fields pc_api_fields_key_create = PC_FIELDS(create_fields);

static void create_work(struct pc_req *r, void *data)
{
	struct keys_state *st = data;
	st->err = pc_apikeys_create(pc_svc_of(r), r->principal, st->name, st->expires_at, &st->key, st->secret);
}

static void create_done(struct pc_req *r, void *data)
{
	struct keys_state *st = data;
	if (st->err != PC_OK) {
		sodium_memzero(st->secret, sizeof(st->secret));
		pc_api_error(r, st->err, NULL);
		return;
	}
	json_t *body = key_json(&st->key);
	json_object_set_new(body, "key", json_string(st->secret));
	sodium_memzero(st->secret, sizeof(st->secret));
	char loc[64];
	snprintf(loc, sizeof(loc), "/api/v1/api-keys/%s", st->key.id);
	pc_resp_header(r, "Location", loc);
	pc_respond_json(r, 201, body);
}

void pc_api_keys_create(struct pc_req *r)
{
	struct keys_state *st = pc_api_state_or_respond(r, sizeof(*st));
	struct pc_input in;
	if (st == NULL || pc_input_or_respond(r, create_fields, 2, &in) != 0)
		return;
	if (name_or_respond(r, st->name, in.v[0].str.s, in.v[0].str.len) != 0)
		return;
	if (in.present[1]) {
		if (pc_api_time_parse(&st->expires_at, in.v[1].str.s, in.v[1].str.len) != 0) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"expires_at\" must be a time like 2027-01-31T12:00:00Z.");
			return;
		}
		if (st->expires_at <= r->now) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"expires_at\" must be in the future.");
			return;
		}
	}
	pc_api_defer(r, create_work, create_done, st);
}

/* ---------- GET /api/v1/api-keys/{id} ---------- */

static void get_work(struct pc_req *r, void *data)
{
	struct keys_state *st = data;
	st->err = pc_apikeys_get(pc_svc_of(r), r->principal, st->id, &st->key);
}

static void get_done(struct pc_req *r, void *data)
{
	struct keys_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No such API key."});
		return;
	}
	pc_respond_json(r, 200, key_json(&st->key));
}

void pc_api_keys_get(struct pc_req *r)
{
	struct keys_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL && id_or_respond(r, st->id) == 0)
		pc_api_defer(r, get_work, get_done, st);
}

/* ---------- PATCH /api/v1/api-keys/{id} ---------- */

static const struct pc_field rename_fields[] = {
	{"name", PC_F_STRING, true, PC_APIKEY_NAME_MAX},
};
const struct pc_fields pc_api_fields_key_rename = PC_FIELDS(rename_fields);

static void rename_work(struct pc_req *r, void *data)
{
	struct keys_state *st = data;
	st->err = pc_apikeys_rename(pc_svc_of(r), r->principal, st->id, st->name, &st->key);
}

void pc_api_keys_rename(struct pc_req *r)
{
	struct keys_state *st = pc_api_state_or_respond(r, sizeof(*st));
	struct pc_input in;
	if (st == NULL || id_or_respond(r, st->id) != 0 ||
	    pc_input_or_respond(r, rename_fields, 1, &in) != 0 ||
	    name_or_respond(r, st->name, in.v[0].str.s, in.v[0].str.len) != 0)
		return;
	pc_api_defer(r, rename_work, get_done, st);
}

/* ---------- DELETE /api/v1/api-keys/{id} ---------- */

static void delete_work(struct pc_req *r, void *data)
{
	struct keys_state *st = data;
	st->err = pc_apikeys_delete(pc_svc_of(r), r->principal, st->id);
}

static void delete_done(struct pc_req *r, void *data)
{
	struct keys_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, &(struct pc_api_say){.not_found = "No such API key."});
		return;
	}
	pc_respond_empty(r, 204);
}

void pc_api_keys_delete(struct pc_req *r)
{
	struct keys_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL && id_or_respond(r, st->id) == 0)
		pc_api_defer(r, delete_work, delete_done, st);
}
