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
	int64_t checked, bad_seq;
};

/* Checks the current row against the chain so far; false at a bad event. */
static bool verify_row(struct pc_sql *c, int64_t expect, uint8_t prev[32], int64_t *seq)
{
	struct pc_audit_event ev;
	uint8_t h[32];
	/* a row that cannot even be read back was not written by us */
	if (COL_INT(c, 0, seq) != 0)
		*seq = expect;
	bool ok = *seq == expect && pc_row_event(c, &ev) == 0 &&
	          sodium_memcmp(ev.prev_hash, prev, 32) == 0;
	if (ok) {
		pc_audit_chain_hash(h, &ev, prev, c->store->audit_key);
		ok = sodium_memcmp(h, ev.hash, sizeof(h)) == 0;
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
	x->checked = 0;
	x->bad_seq = 0;
	enum pc_err e = sql_query(c, S_AUDIT_ALL, NOARGS);
	while (e == PC_OK && (e = sql_step(c, &row)) == PC_OK && row) {
		int64_t seq;
		if (!verify_row(c, x->checked + 1, prev, &seq)) {
			x->bad_seq = seq;
			e = PC_ERR_TAMPERED;
			break;
		}
		x->checked++;
	}
	sql_done(c);
	return e;
}

enum pc_err pc_tx_audit_verify(struct pc_store *s, int64_t *checked, int64_t *bad_seq)
{
	struct verify x = {0};
	enum pc_err e = sql_run(s, PC_SQL_READ, verify_script, &x);
	if (e == PC_OK || e == PC_ERR_TAMPERED) {
		*checked = x.checked;
		*bad_seq = x.bad_seq;
	}
	return e;
}
