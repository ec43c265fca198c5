/*
 * tx_audit.c — the stored audit trail: append a lone security event, list
 * events newest first, and verify the whole hash chain — over driver.h, for
 * both dialects.
 *
 * The chain is appended only inside write transactions (pc_sql_append_event,
 * rows.c), so it stays linear. Verify reads it with ONE statement, so from
 * one snapshot whatever writers do (PostgreSQL streams it a row at a time:
 * the trail's size does not matter), recomputes every hash and stops at the
 * first bad event: edited, deleted, inserted, reordered, or a row that
 * cannot even be read back (not written by us). Known limit: a chain cut
 * short at its END still verifies; only an anchor kept elsewhere (the
 * JSON-lines stream) shows it.
 */
#include <sodium.h>
#include <string.h>

#include "audit/chain.h"
#include "store/backend.h"
#include "store/driver.h"

PC_MUST_USE static enum pc_err append_script(struct pc_sql *c, void *ctx)
{
	pc_event_clear(ctx);
	return pc_sql_append_event(c, ctx);
}

enum pc_err pc_tx_audit_append(struct pc_store *s, struct pc_audit_event *ev)
{
	return sql_run(s, PC_SQL_WRITE, append_script, ev);
}

enum pc_err pc_tx_audit_list(struct pc_store *s, const struct pc_audit_filter *f,
                             struct pc_audit_event **out, size_t *n)
{
	unsigned mask = (f->action != NULL ? PC_F_ACTION : 0) |
	                (f->resource_type != NULL ? PC_F_RESOURCE : 0) |
	                (f->user_id != NULL ? PC_F_ACTOR : 0) | (f->involving != NULL ? PC_F_INVOLVING : 0);
	const struct pc_sql_arg a[] = {
		A_OPT(f->action), A_OPT(f->resource_type), A_OPT(f->user_id),
		A_INT(f->before_seq > 0 ? f->before_seq : INT64_MAX), A_OPT(f->involving), A_INT((int64_t)f->limit),
	};
	void *arr = NULL;
	enum pc_err e = pc_sql_get_all(s, (enum pc_stmt)(S_AUDIT_LIST + mask), a, 6, pc_row_event,
	                               sizeof(**out), f->limit, "audit_events", &arr, n);
	*out = arr;
	return e;
}

struct verify {
	struct pc_audit_verdict v;
};

/* The audit keys this handle was given, current first. */
static size_t keys_of(const struct pc_store *st, const uint8_t *keys[2], const char *ids[2])
{
	size_t n = 0;
	keys[n] = st->audit_key;
	ids[n++] = st->audit_key_id;
	if (st->audit_prev != NULL) {
		keys[n] = st->audit_prev;
		ids[n++] = st->audit_prev_id;
	}
	return n;
}

static bool hash_ok(const struct pc_audit_event *ev, const uint8_t prev[32], const uint8_t *key)
{
	uint8_t h[32];
	pc_audit_chain_hash(h, ev, prev, key);
	return sodium_memcmp(h, ev->hash, sizeof(h)) == 0;
}

/* Checks the current row against the chain so far: true when it verifies;
 * otherwise *missing tells "made under a key not given" from an edit. The
 * row names its key (key_id): checked under that key only, a mismatch is an
 * edit. A row whose key id names no key given is checked under every key
 * given all the same — content that verifies under one means its key_id
 * was altered (an edit) — else it is a key not given. A row older than key
 * ids (key_id "") verifies under any key given, and is reported as
 * "not checkable with the keys given" when none fits: without its key id
 * a wrong key and an edit look alike. */
static bool verify_row(struct pc_sql *c, int64_t expect, uint8_t prev[32], int64_t *seq,
                       bool *missing, char key_id[PC_AUDIT_KEY_ID_LEN + 1])
{
	struct pc_audit_event ev;
	*missing = false;
	/* a row that cannot even be read back was not written by us */
	if (COL_INT(c, 0, seq) != 0)
		*seq = expect;
	bool ok = *seq == expect && pc_row_event(c, &ev) == 0 &&
	          sodium_memcmp(ev.prev_hash, prev, 32) == 0;
	if (!ok)
		return false;
	memcpy(key_id, ev.key_id, PC_AUDIT_KEY_ID_LEN + 1);
	const uint8_t *keys[2];
	const char *ids[2];
	size_t n = keys_of(c->store, keys, ids);
	size_t named = n;
	for (size_t i = 0; i < n; i++)
		if (ev.key_id[0] != '\0' && strcmp(ev.key_id, ids[i]) == 0)
			named = i;
	if (named < n) {
		ok = hash_ok(&ev, prev, keys[named]);
	} else {
		ok = false;
		for (size_t i = 0; i < n && !ok; i++)
			ok = hash_ok(&ev, prev, keys[i]);
		if (ok && ev.key_id[0] != '\0')
			ok = false; /* authentic content under a relabelled key id: an edit */
		else if (!ok)
			*missing = true;
	}
	if (ok)
		memcpy(prev, ev.hash, 32);
	return ok;
}

PC_MUST_USE static enum pc_err verify_script(struct pc_sql *c, void *ctx)
{
	struct verify *x = ctx;
	uint8_t prev[32] = {0};
	bool row = false;
	memset(&x->v, 0, sizeof(x->v));
	enum pc_err e = sql_query(c, S_AUDIT_ALL, NOARGS);
	while (e == PC_OK && (e = sql_step(c, &row)) == PC_OK && row) {
		int64_t seq;
		if (!verify_row(c, x->v.checked + 1, prev, &seq, &x->v.key_missing, x->v.key_id)) {
			x->v.bad_seq = seq;
			e = PC_ERR_TAMPERED;
			break;
		}
		x->v.checked++;
	}
	if (e != PC_ERR_TAMPERED)
		x->v.key_missing = false;
	sql_done(c);
	return e;
}

enum pc_err pc_tx_audit_verify(struct pc_store *s, struct pc_audit_verdict *v)
{
	struct verify x;
	memset(&x, 0, sizeof(x));
	enum pc_err e = sql_run(s, PC_SQL_READ, verify_script, &x);
	memset(v, 0, sizeof(*v));
	if (e == PC_OK || e == PC_ERR_TAMPERED)
		*v = x.v;
	return e;
}
