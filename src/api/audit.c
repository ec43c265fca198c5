/*
 * audit.c — GET /api/v1/audit: the stored audit trail, newest first.
 *
 * Query: limit (1..200, default 50), cursor (opaque: the next_cursor of the
 * previous page), action, resource_type, user_id (the actor). A cursor is
 * the sequence number to continue below, so pages stay stable while new
 * events are appended. Parameters are parsed strictly: an unknown or
 * repeated parameter, or a value outside [A-Za-z0-9._-], is a 400.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "core/num.h"
#include "svc/auditlog.h"

#define AUDIT_LIMIT_DEFAULT 50
#define VALUE_MAX 64

struct audit_state {
	enum pc_err err;
	struct pc_audit_filter f;
	char action[VALUE_MAX + 1], resource_type[VALUE_MAX + 1], user_id[VALUE_MAX + 1];
	struct pc_audit_event *list;
	size_t n;
};

static bool value_ok(const char *v, size_t n)
{
	if (n == 0 || n > VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* 0, or -1 after answering 400. */
static int parse_query(struct pc_req *r, struct audit_state *st)
{
	static const char *const names[] = {"limit", "cursor", "action", "resource_type", "user_id"};
	bool seen[5] = {0};
	st->f.limit = AUDIT_LIMIT_DEFAULT;
	struct pc_str q = r->http->query;
	if (q.p == NULL || q.len == 0)
		return 0;
	const char *p = q.p, *end = q.p + q.len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		if (eq == NULL) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_QUERY, "Query parameters must be name=value.");
			return -1;
		}
		size_t nl = (size_t)(eq - p), vl = (size_t)(stop - eq - 1);
		const char *v = eq + 1;
		size_t k;
		for (k = 0; k < 5; k++)
			if (strlen(names[k]) == nl && memcmp(names[k], p, nl) == 0)
				break;
		char detail[96];
		if (k == 5) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_QUERY, "Unknown query parameter (known: limit, cursor, action, "
			                           "resource_type, user_id).");
			return -1;
		}
		snprintf(detail, sizeof(detail), "Query parameter \"%s\" is repeated or malformed.", names[k]);
		if (seen[k] || !value_ok(v, vl)) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_QUERY, detail);
			return -1;
		}
		seen[k] = true;
		int64_t x;
		switch (k) {
		case 0:
			if (pc_num_i64(&x, v, vl, 1, PC_AUDIT_PAGE_MAX) != 0) {
				pc_respond_problem_kind(r, PC_PROB_INVALID_QUERY, "Query parameter \"limit\" must be 1 to 200.");
				return -1;
			}
			st->f.limit = (size_t)x;
			break;
		case 1:
			if (pc_num_i64(&x, v, vl, 1, INT64_MAX) != 0) {
				pc_respond_problem_kind(r, PC_PROB_INVALID_QUERY, detail);
				return -1;
			}
			st->f.before_seq = x;
			break;
		case 2:
			memcpy(st->action, v, vl);
			st->f.action = st->action;
			break;
		case 3:
			memcpy(st->resource_type, v, vl);
			st->f.resource_type = st->resource_type;
			break;
		case 4:
			memcpy(st->user_id, v, vl);
			st->f.user_id = st->user_id;
			break;
		}
		p = amp ? amp + 1 : end;
		if (amp != NULL && p == end) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_QUERY, "Query parameters must be name=value.");
			return -1;
		}
	}
	return 0;
}

static void list_work(struct pc_req *r, void *data)
{
	struct audit_state *st = data;
	st->err = pc_auditlog_list(pc_svc_of(r), r->principal, &st->f, &st->list, &st->n);
}

static json_t *event_json(const struct pc_audit_event *e)
{
	char t[40];
	json_error_t jerr;
	json_t *details = json_loads(e->details, JSON_REJECT_DUPLICATES, &jerr);
	int64_t s = e->time_ms / 1000;
	pc_api_time(t, s);
	/* milliseconds: 2026-11-23T04:40:34.123Z */
	char tm[48];
	snprintf(tm, sizeof(tm), "%.19s.%03lldZ", t, (long long)(e->time_ms % 1000));
	return json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:o},s:o}", "id", e->id, "seq",
	                 (json_int_t)e->seq, "time", tm, "action", e->action, "resource_type", e->resource_type,
	                 "resource_id", e->resource_id, "actor", "user_id", e->actor_user_id, "email",
	                 e->actor_email, "session_id", e->actor_session_id, "auth_method", e->auth_method,
	                 "client_address", e->client_addr, "user_agent", pc_api_text_json(e->user_agent), "details",
	                 details ? details : json_object());
}

static void list_done(struct pc_req *r, void *data)
{
	struct audit_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(arr, event_json(&st->list[i]));
	json_t *next = json_null();
	if (st->n == st->f.limit && st->n > 0 && st->list[st->n - 1].seq > 1) {
		char c[24];
		snprintf(c, sizeof(c), "%lld", (long long)st->list[st->n - 1].seq);
		next = json_string(c);
	}
	free(st->list);
	pc_respond_json(r, 200, json_pack("{s:o,s:o}", "events", arr, "next_cursor", next));
}

void pc_api_audit_list(struct pc_req *r)
{
	struct audit_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || parse_query(r, st) != 0)
		return;
	pc_api_defer(r, list_work, list_done, st);
}
