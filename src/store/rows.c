/*
 * rows.c — reading rows into the structs of store.h, and what every
 * transaction script shares: one row, all rows, the audit-chain append, and
 * the two scripts most operations are (a read; one change with its event).
 *
 * Written once over driver.h for both dialects. Every value read from the
 * database is copied into its fixed array with the driver's bounds checks:
 * a value too long for its array, an embedded NUL, a hash that is not 32
 * bytes, a NULL or a non-integer where a number belongs (a tampered
 * database) makes the whole row unreadable, which the callers turn into
 * PC_ERR_INTERNAL (and audit verify into the bad event), never an overflow.
 * Arrays handed out are malloc'd; on failure they are wiped and freed
 * (users carry password hashes).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/chain.h"
#include "core/log.h"
#include "store/driver.h"

enum pc_err pc_sql_corrupt(struct pc_sql *c, const char *what)
{
	struct pc_logline l;
	pc_logline_begin(&l, "error", c->drv->corrupt_event);
	pc_logline_str(&l, "op", what);
	pc_logline_str(&l, "message", "a stored value does not fit its field");
	pc_logline_emit(&l);
	return PC_ERR_INTERNAL;
}

/* A role column: its name, as pc_role_parse reads it. 0 or -1. */
static int role_col(struct pc_sql *c, int i, enum pc_role *out)
{
	char name[8];
	if (COL_TEXT(c, i, name) != 0)
		return -1;
	return pc_role_parse(out, name, strlen(name));
}

int pc_row_user(struct pc_sql *c, void *out)
{
	struct pc_user *u = out;
	int64_t disabled = 0;
	memset(u, 0, sizeof(*u));
	if (COL_TEXT(c, 0, u->id) != 0 || COL_TEXT(c, 1, u->email) != 0 ||
	    COL_TEXT(c, 2, u->password_hash) != 0 || COL_INT(c, 3, &u->created_at) != 0 ||
	    COL_INT(c, 4, &u->password_changed_at) != 0 || COL_INT(c, 5, &u->cred_epoch) != 0 ||
	    role_col(c, 6, &u->role) != 0 || COL_INT(c, 7, &disabled) != 0 || COL_TEXT(c, 8, u->groups) != 0 ||
	    COL_TEXT(c, 9, u->name) != 0) {
		sodium_memzero(u, sizeof(*u));
		return -1;
	}
	u->disabled = disabled != 0;
	return 0;
}

int pc_row_session(struct pc_sql *c, void *out)
{
	struct pc_session *s = out;
	int64_t disabled = 0, pending = 0;
	memset(s, 0, sizeof(*s));
	if (COL_TEXT(c, 0, s->id) != 0 || COL_HASH(c, 1, s->secret_hash) != 0 ||
	    COL_TEXT(c, 2, s->user_id) != 0 || COL_TEXT(c, 3, s->email) != 0 ||
	    COL_INT(c, 4, &s->created_at) != 0 || COL_INT(c, 5, &s->last_seen_at) != 0 ||
	    COL_INT(c, 6, &s->expires_at) != 0 || COL_TEXT(c, 7, s->client_addr) != 0 ||
	    COL_TEXT(c, 8, s->user_agent) != 0 || role_col(c, 9, &s->role) != 0 || COL_INT(c, 10, &disabled) != 0 ||
	    COL_TEXT(c, 11, s->groups) != 0 || COL_INT(c, 12, &s->factors) != 0 ||
	    COL_INT(c, 13, &s->second_factor_at) != 0 || COL_INT(c, 14, &pending) != 0 ||
	    COL_TEXT(c, 15, s->name) != 0) {
		memset(s, 0, sizeof(*s));
		return -1;
	}
	s->disabled = disabled != 0;
	if (pending < PC_PENDING_NONE || pending > PC_PENDING_ENROL) {
		memset(s, 0, sizeof(*s));
		return -1;
	}
	s->pending = (uint8_t)pending;
	return 0;
}

int pc_row_apikey(struct pc_sql *c, void *out)
{
	struct pc_api_key *k = out;
	memset(k, 0, sizeof(*k));
	if (COL_TEXT(c, 0, k->id) != 0 || COL_TEXT(c, 1, k->name) != 0 ||
	    COL_TEXT(c, 2, k->prefix) != 0 || COL_HASH(c, 3, k->secret_hash) != 0 ||
	    COL_TEXT(c, 4, k->created_by) != 0 || COL_INT(c, 5, &k->created_at) != 0 ||
	    COL_INT(c, 6, &k->expires_at) != 0 || COL_INT(c, 7, &k->last_used_at) != 0) {
		memset(k, 0, sizeof(*k));
		return -1;
	}
	return 0;
}

int pc_row_id(struct pc_sql *c, void *out)
{
	return c->drv->col_text(c, 0, out, PC_ID_LEN + 1);
}

int pc_row_refresh(struct pc_sql *c, void *out)
{
	struct pc_refresh_row *r = out;
	struct pc_refresh_token *t = &r->t;
	memset(r, 0, sizeof(*r));
	if (COL_HASH(c, 0, t->token_hash) != 0 || COL_TEXT(c, 1, t->family_id) != 0 ||
	    COL_TEXT(c, 2, t->user_id) != 0 || COL_TEXT(c, 3, t->session_id) != 0 ||
	    COL_INT(c, 4, &t->created_at) != 0 || COL_INT(c, 5, &t->expires_at) != 0 ||
	    COL_TEXT(c, 6, t->access_jti) != 0 || COL_INT(c, 7, &t->access_exp) != 0 ||
	    COL_INT(c, 9, &t->factors) != 0) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	r->used = !COL_NULL(c, 8);
	return 0;
}

int pc_row_revoked(struct pc_sql *c, void *out)
{
	struct pc_revoked *r = out;
	memset(r, 0, sizeof(*r));
	if (COL_TEXT(c, 0, r->jti) != 0 || COL_INT(c, 1, &r->expires_at) != 0) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	return 0;
}

int pc_row_event(struct pc_sql *c, void *out)
{
	struct pc_audit_event *ev = out;
	memset(ev, 0, sizeof(*ev));
	if (COL_INT(c, 0, &ev->seq) != 0 || COL_TEXT(c, 1, ev->id) != 0 ||
	    COL_INT(c, 2, &ev->time_ms) != 0 || COL_TEXT(c, 3, ev->action) != 0 ||
	    COL_TEXT(c, 4, ev->resource_type) != 0 || COL_TEXT(c, 5, ev->resource_id) != 0 ||
	    COL_TEXT(c, 6, ev->actor_user_id) != 0 || COL_TEXT(c, 7, ev->actor_email) != 0 ||
	    COL_TEXT(c, 8, ev->actor_session_id) != 0 || COL_TEXT(c, 9, ev->auth_method) != 0 ||
	    COL_TEXT(c, 10, ev->client_addr) != 0 || COL_TEXT(c, 11, ev->user_agent) != 0 ||
	    COL_TEXT(c, 12, ev->details) != 0 || COL_HASH(c, 13, ev->prev_hash) != 0 ||
	    COL_HASH(c, 14, ev->hash) != 0 || COL_TEXT(c, 15, ev->key_id) != 0) {
		memset(ev, 0, sizeof(*ev));
		return -1;
	}
	return 0;
}

enum pc_err pc_sql_one(struct pc_sql *c, enum pc_stmt id, const struct pc_sql_arg *a, size_t n,
                       pc_row_reader rd, void *out, size_t size, const char *what)
{
	bool row = false;
	enum pc_err e = sql_query(c, id, a, n);
	if (e == PC_OK)
		e = sql_step(c, &row);
	if (e == PC_OK && !row)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK && rd(c, out) != 0)
		e = pc_sql_corrupt(c, what);
	sql_done(c);
	if (e != PC_OK)
		sodium_memzero(out, size);
	return e;
}

enum pc_err pc_sql_exists(struct pc_sql *c, enum pc_stmt id, const struct pc_sql_arg *a, size_t n,
                          bool *found)
{
	*found = false;
	enum pc_err e = sql_query(c, id, a, n);
	if (e == PC_OK)
		e = sql_step(c, found);
	sql_done(c);
	return e;
}

int pc_sql_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap == 0 ? 8 : *cap;
	if (ncap > SIZE_MAX / 2 / elem)
		return -1;
	ncap *= 2;
	unsigned char *p = malloc(ncap * elem);
	if (p == NULL)
		return -1;
	/* not realloc: the old block is wiped first */
	if (*arr != NULL) {
		memcpy(p, *arr, n * elem);
		sodium_memzero(*arr, *cap * elem);
		free(*arr);
	}
	*arr = p;
	*cap = ncap;
	return 0;
}

enum pc_err pc_sql_all(struct pc_sql *c, enum pc_stmt id, const struct pc_sql_arg *a, size_t n,
                       pc_row_reader rd, size_t size, size_t max, const char *what, void **out,
                       size_t *len)
{
	void *arr = NULL;
	size_t cap = 0, k = 0;
	bool row = false;
	*out = NULL;
	*len = 0;
	enum pc_err e = sql_query(c, id, a, n);
	while (e == PC_OK && (max == 0 || k < max) && (e = sql_step(c, &row)) == PC_OK && row) {
		if (pc_sql_grow(&arr, &cap, k, size) != 0)
			e = PC_ERR_INTERNAL;
		else if (rd(c, (unsigned char *)arr + k * size) != 0)
			e = pc_sql_corrupt(c, what);
		else
			k++;
	}
	sql_done(c);
	if (e != PC_OK) {
		if (arr != NULL)
			sodium_memzero(arr, cap * size);
		free(arr);
		return e;
	}
	*out = arr;
	*len = k;
	return PC_OK;
}

enum pc_err pc_sql_append_event(struct pc_sql *c, struct pc_audit_event *ev)
{
	int64_t last = 0;
	uint8_t prev[32] = {0};
	bool row = false;
	enum pc_err e = sql_query(c, S_AUDIT_LAST, NOARGS);
	if (e == PC_OK)
		e = sql_step(c, &row);
	if (e == PC_OK && row &&
	    (COL_INT(c, 0, &last) != 0 || COL_HASH(c, 1, prev) != 0 || last < 1 ||
	     last == INT64_MAX))
		e = pc_sql_corrupt(c, "audit chain tail");
	sql_done(c);
	if (e != PC_OK)
		return e;
	ev->seq = last + 1;
	memcpy(ev->prev_hash, prev, sizeof(prev));
	pc_audit_event_redact(ev); /* redact, then hash what is stored */
	pc_audit_chain_hash(ev->hash, ev, ev->prev_hash, c->store->audit_key);
	memcpy(ev->key_id, c->store->audit_key_id, sizeof(ev->key_id));
	e = sql_exec(c, S_AUDIT_INSERT,
	             ARGS(A_INT(ev->seq), A_FIX(ev->id), A_INT(ev->time_ms), A_FIX(ev->action),
	                  A_FIX(ev->resource_type), A_FIX(ev->resource_id),
	                  A_FIX(ev->actor_user_id), A_FIX(ev->actor_email),
	                  A_FIX(ev->actor_session_id), A_FIX(ev->auth_method),
	                  A_FIX(ev->client_addr), A_RAW(ev->user_agent), A_FIX(ev->details),
	                  A_HASH(ev->prev_hash), A_HASH(ev->hash), A_FIX(ev->key_id)),
	             NULL);
	/* the mail this change causes commits with it (svc/outbox.h) */
	if (e == PC_OK && ev->mail != NULL)
		e = pc_sql_insert_mail(c, ev->mail);
	return e;
}

struct get {
	enum pc_stmt id;
	const struct pc_sql_arg *a;
	size_t n, size, max;
	pc_row_reader rd;
	const char *what;
	void *out;
	void **all;
	size_t *len;
};

PC_MUST_USE static enum pc_err get_script(struct pc_sql *c, void *ctx)
{
	struct get *x = ctx;
	if (x->all == NULL)
		return pc_sql_one(c, x->id, x->a, x->n, x->rd, x->out, x->size, x->what);
	return pc_sql_all(c, x->id, x->a, x->n, x->rd, x->size, x->max, x->what, x->all, x->len);
}

enum pc_err pc_sql_get_one(struct pc_store *s, enum pc_stmt id, const struct pc_sql_arg *a,
                           size_t n, pc_row_reader rd, void *out, size_t size, const char *what)
{
	struct get x = {.id = id, .a = a, .n = n, .size = size, .rd = rd, .what = what, .out = out};
	return sql_run(s, PC_SQL_READ, get_script, &x);
}

enum pc_err pc_sql_get_all(struct pc_store *s, enum pc_stmt id, const struct pc_sql_arg *a,
                           size_t n, pc_row_reader rd, size_t size, size_t max, const char *what,
                           void **out, size_t *len)
{
	struct get x = {.id = id, .a = a, .n = n, .size = size, .max = max, .rd = rd, .what = what,
	                .all = out, .len = len};
	return sql_run(s, PC_SQL_READ, get_script, &x);
}

void pc_sql_audit_list_text(char *out, size_t cap, unsigned mask, char mark)
{
	/* every variant takes the same five arguments, an unused filter NULL */
	char action[32] = "", type[40] = "", actor[40] = "", inv[96] = "";
	if (mask & PC_F_INVOLVING)
		snprintf(inv, sizeof(inv), " AND (actor_user_id = %c5 OR (resource_type = 'user' AND resource_id = %c5))",
		         mark, mark);
	if (mask & PC_F_ACTION)
		snprintf(action, sizeof(action), " AND action = %c1", mark);
	if (mask & PC_F_RESOURCE)
		snprintf(type, sizeof(type), " AND resource_type = %c2", mark);
	if (mask & PC_F_ACTOR)
		snprintf(actor, sizeof(actor), " AND actor_user_id = %c3", mark);
	snprintf(out, cap,
	         "SELECT " PC_EVENT_COLS " FROM audit_events WHERE seq < %c4%s%s%s%s"
	         " ORDER BY seq DESC LIMIT %c6",
	         mark, action, type, actor, inv, mark);
}

void pc_event_clear(struct pc_audit_event *ev)
{
	if (ev == NULL)
		return;
	ev->seq = 0;
	memset(ev->prev_hash, 0, sizeof(ev->prev_hash));
	memset(ev->hash, 0, sizeof(ev->hash));
}

struct change {
	struct pc_audit_event *ev;
	enum pc_stmt id;
	const struct pc_sql_arg *a;
	size_t n;
	bool must_change;
	int64_t changed;
};

PC_MUST_USE static enum pc_err change_script(struct pc_sql *c, void *ctx)
{
	struct change *x = ctx;
	pc_event_clear(x->ev);
	x->changed = 0;
	enum pc_err e = sql_exec(c, x->id, x->a, x->n, &x->changed);
	if (e == PC_OK && x->must_change && x->changed == 0)
		e = PC_ERR_NOT_FOUND; /* absent, or not the caller's: the same answer */
	if (e == PC_OK && x->ev != NULL)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_sql_change(struct pc_store *s, enum pc_sql_mode mode, struct pc_audit_event *ev,
                          enum pc_stmt id, const struct pc_sql_arg *a, size_t n, bool must_change,
                          int64_t *changed)
{
	struct change x = {.ev = ev, .id = id, .a = a, .n = n, .must_change = must_change};
	enum pc_err e = sql_run(s, mode, change_script, &x);
	if (e != PC_OK)
		pc_event_clear(ev);
	else if (changed != NULL)
		*changed = x.changed;
	return e;
}
