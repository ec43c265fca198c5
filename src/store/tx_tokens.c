/*
 * tx_tokens.c — refresh-token rotation with reuse detection, access-token
 * revocation and the purge of expired rows, over driver.h for both dialects.
 *
 * Invariants:
 *  - a refresh token is used once: rotation reads it under the write lock
 *    (and its row lock where the dialect has one) and marks it used with
 *    `used_at IS NULL`, checking one row changed;
 *  - presenting a used one (REUSE: a stolen token replayed) revokes its
 *    whole family — its refresh tokens deleted, every recorded unexpired
 *    access jti put on the revocation list — and commits that with the
 *    reuse event, then answers PC_ERR_REUSED;
 *  - a family never outlives its first expires_at: rotation copies it.
 * The revoked jtis are handed to the caller (malloc'd) so it can update its
 * in-memory list; on failure nothing is handed out.
 */
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "store/driver.h"

void pc_revoked_vec_reset(struct pc_revoked_vec *rv)
{
	free(rv->v);
	*rv = (struct pc_revoked_vec){0};
}

/* Makes room for one more; -1 on overflow/OOM. */
static int vec_grow(struct pc_revoked_vec *rv)
{
	void *v = rv->v;
	int rc = pc_sql_grow(&v, &rv->cap, rv->n, sizeof(*rv->v));
	rv->v = v;
	return rc;
}

PC_MUST_USE static enum pc_err vec_push(struct pc_revoked_vec *rv, const char *jti, int64_t exp)
{
	size_t len = strlen(jti);
	if (len > PC_JTI_MAX || vec_grow(rv) != 0)
		return PC_ERR_INTERNAL;
	struct pc_revoked *r = &rv->v[rv->n++];
	memset(r, 0, sizeof(*r));
	memcpy(r->jti, jti, len);
	r->expires_at = exp;
	return PC_OK;
}

enum pc_err pc_revoked_vec_out(struct pc_revoked_vec *rv, enum pc_err e,
                               struct pc_revoked **out, size_t *n)
{
	if (e != PC_OK || out == NULL) {
		pc_revoked_vec_reset(rv);
		return e;
	}
	*out = rv->v;
	*n = rv->n;
	*rv = (struct pc_revoked_vec){0};
	return PC_OK;
}

/* Appends the (jti, expires_at) rows of a query to rv, but skip. */
PC_MUST_USE static enum pc_err collect_revoked(struct pc_sql *c, enum pc_stmt id,
                                               const struct pc_sql_arg *a, size_t n,
                                               const char *skip, struct pc_revoked_vec *rv)
{
	bool row = false;
	enum pc_err e = sql_query(c, id, a, n);
	while (e == PC_OK && (e = sql_step(c, &row)) == PC_OK && row) {
		if (vec_grow(rv) != 0)
			e = PC_ERR_INTERNAL;
		else if (pc_row_revoked(c, &rv->v[rv->n]) != 0)
			e = pc_sql_corrupt(c, id == S_REVOKED_LIST || id == S_REVOKED_SINCE ? "revoked_tokens" : "access_tokens");
		else if (skip == NULL || strcmp(rv->v[rv->n].jti, skip) != 0)
			rv->n++;
	}
	sql_done(c);
	return e;
}

/* Inside a transaction: every unexpired recorded access jti of the family
 * (but skip) goes into rv, and the family's refresh tokens are deleted, so
 * any later presentation of one is PC_ERR_NOT_FOUND. */
PC_MUST_USE static enum pc_err revoke_family(struct pc_sql *c, const char *family_id, int64_t now,
                                             const char *skip, struct pc_revoked_vec *rv)
{
	enum pc_err e = collect_revoked(c, S_ACCESS_LIVE_FAMILY, ARGS(A_TXT(family_id), A_INT(now)),
	                                skip, rv);
	if (e == PC_OK)
		e = sql_exec(c, S_REFRESH_DELETE_FAMILY, ARGS(A_TXT(family_id)), NULL);
	return e;
}

/* A row's single integer column (the revocation counter). */
PC_MUST_USE static int row_int(struct pc_sql *c, void *out)
{
	return COL_INT(c, 0, (int64_t *)out);
}

/* Inside a transaction: puts every jti of rv on the revocation list (an
 * entry already there stays as it is) under the next sequence number, which
 * is also stamped on rv's entries for the caller's announcement. The counter
 * row stays locked until commit (and writers hold the write lock), so a
 * reader that sees number N sees every row numbered N or less. */
PC_MUST_USE static enum pc_err insert_revoked(struct pc_sql *c, struct pc_revoked_vec *rv)
{
	int64_t seq = 0;
	if (rv->n == 0)
		return PC_OK;
	enum pc_err e = sql_exec(c, S_REVOCATION_SEQ_BUMP, NOARGS, NULL);
	if (e == PC_OK)
		e = pc_sql_one(c, S_REVOCATION_SEQ_GET, NOARGS, row_int, &seq, sizeof(seq), "revocation_seq");
	for (size_t i = 0; i < rv->n && e == PC_OK; i++) {
		rv->v[i].seq = seq;
		e = sql_exec(c, S_REVOKED_INSERT,
		             ARGS(A_FIX(rv->v[i].jti), A_INT(rv->v[i].expires_at)), NULL);
	}
	return e;
}

enum pc_err pc_sql_revoke_user(struct pc_sql *c, const char *user_id, const char *keep,
                               int64_t now, struct pc_revoked_vec *rv)
{
	enum pc_err e = collect_revoked(c, S_ACCESS_LIVE_USER,
	                                ARGS(A_TXT(user_id), A_INT(now), A_OPT(keep)), NULL, rv);
	if (e == PC_OK)
		e = sql_exec(c, S_REFRESH_DELETE_USER, ARGS(A_TXT(user_id), A_OPT(keep)), NULL);
	if (e == PC_OK)
		e = insert_revoked(c, rv);
	return e;
}

enum pc_err pc_sql_revoke_user_access(struct pc_sql *c, const char *user_id, int64_t now,
                                      struct pc_revoked_vec *rv)
{
	const char *keep = NULL; /* no session spared */
	enum pc_err e = collect_revoked(c, S_ACCESS_LIVE_USER, ARGS(A_TXT(user_id), A_INT(now), A_OPT(keep)), NULL,
	                                rv);
	if (e == PC_OK)
		e = insert_revoked(c, rv);
	return e;
}

/* Inside a transaction: the refresh token and the access token issued with it. */
PC_MUST_USE static enum pc_err insert_refresh(struct pc_sql *c, const struct pc_refresh_token *t)
{
	enum pc_err e = sql_exec(c, S_REFRESH_INSERT,
	                         ARGS(A_HASH(t->token_hash), A_FIX(t->family_id), A_FIX(t->user_id),
	                              A_FIX(t->session_id), A_INT(t->created_at),
	                              A_INT(t->expires_at), A_FIX(t->access_jti),
	                              A_INT(t->access_exp), A_INT(t->factors < 1 ? 1 : t->factors)),
	                         NULL);
	if (e == PC_OK)
		e = sql_exec(c, S_ACCESS_INSERT,
		             ARGS(A_FIX(t->access_jti), A_FIX(t->family_id), A_FIX(t->user_id),
		                  A_FIX(t->session_id), A_INT(t->access_exp)),
		             NULL);
	return e;
}

/* The token by its hash; out cleared on failure. */
PC_MUST_USE static enum pc_err get_refresh(struct pc_sql *c, enum pc_stmt id,
                                           const uint8_t hash[32], struct pc_refresh_token *out,
                                           bool *used)
{
	struct pc_refresh_row r = {0};
	enum pc_err e = pc_sql_one(c, id, ARGS(A_HASH(hash)), pc_row_refresh, &r, sizeof(r),
	                           "refresh_tokens");
	*out = r.t;
	*used = r.used;
	return e;
}

struct refresh_create {
	struct pc_audit_event *ev;
	const struct pc_refresh_token *t;
};

PC_MUST_USE static enum pc_err refresh_create_script(struct pc_sql *c, void *ctx)
{
	struct refresh_create *x = ctx;
	pc_event_clear(x->ev);
	/* under the write lock: no change of the user's credentials since the
	 * sign-in read the epoch (store.h), and the session it is bound to not
	 * ended since the request was authenticated */
	enum pc_err e = pc_sql_epoch_check(c, x->t->user_id, x->t->cred_epoch);
	if (e == PC_OK && x->t->session_id[0] != '\0') {
		bool live = false;
		e = pc_sql_exists(c, S_SESSION_EXISTS, ARGS(A_FIX(x->t->session_id)), &live);
		if (e == PC_OK && !live)
			e = PC_ERR_STALE;
	}
	if (e == PC_OK)
		e = insert_refresh(c, x->t);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_refresh_create(struct pc_store *s, struct pc_audit_event *ev,
                                 const struct pc_refresh_token *t)
{
	struct refresh_create x = {ev, t};
	return sql_run(s, PC_SQL_WRITE, refresh_create_script, &x);
}

struct rotate {
	struct pc_audit_event *ev, *reuse_ev;
	const uint8_t *old_hash;
	int64_t now;
	const struct pc_refresh_token *next_in;
	struct pc_refresh_token cur, next;
	struct pc_revoked_vec rv;
	bool reused;
};

PC_MUST_USE static enum pc_err rotate_script(struct pc_sql *c, void *ctx)
{
	struct rotate *x = ctx;
	bool used = false;
	x->reused = false;
	pc_revoked_vec_reset(&x->rv);
	pc_event_clear(x->ev);
	pc_event_clear(x->reuse_ev);
	x->next = *x->next_in;
	/* the write lock (and the row lock where there is one): of two
	 * rotations of one token, the second waits and then finds it used */
	enum pc_err e = get_refresh(c, S_REFRESH_GET_LOCK, x->old_hash, &x->cur, &used);
	if (e == PC_OK && x->cur.expires_at <= x->now)
		e = PC_ERR_NOT_FOUND; /* the family has ended */
	if (e == PC_OK && used) {
		/* reuse: a stolen token was replayed, by the thief or by its
		 * owner; the whole family goes, the new token of whoever rotated
		 * first included. Committed, then answered PC_ERR_REUSED. */
		x->reused = true;
		e = revoke_family(c, x->cur.family_id, x->now, NULL, &x->rv);
		if (e == PC_OK)
			e = insert_revoked(c, &x->rv);
		if (e == PC_OK)
			e = pc_sql_append_event(c, x->reuse_ev);
		return e;
	}
	/* the user read before minting is still the user of this epoch */
	if (e == PC_OK)
		e = pc_sql_epoch_check(c, x->cur.user_id, x->next_in->cred_epoch);
	if (e == PC_OK) {
		int64_t changed = 0;
		e = sql_exec(c, S_REFRESH_MARK_USED, ARGS(A_HASH(x->old_hash), A_INT(x->now)),
		             &changed);
		if (e == PC_OK && changed != 1)
			e = PC_ERR_INTERNAL; /* cannot happen under the lock */
	}
	if (e == PC_OK) {
		memcpy(x->next.family_id, x->cur.family_id, sizeof(x->next.family_id));
		memcpy(x->next.user_id, x->cur.user_id, sizeof(x->next.user_id));
		memcpy(x->next.session_id, x->cur.session_id, sizeof(x->next.session_id));
		x->next.expires_at = x->cur.expires_at; /* rotation does not extend the family */
		e = insert_refresh(c, &x->next);
	}
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_refresh_rotate(struct pc_store *s, struct pc_audit_event *ev,
                                 struct pc_audit_event *reuse_ev, const uint8_t old_hash[32],
                                 int64_t now, struct pc_refresh_token *next,
                                 struct pc_refresh_token *old, struct pc_revoked **revoked,
                                 size_t *n_revoked)
{
	struct rotate x = {.ev = ev, .reuse_ev = reuse_ev, .old_hash = old_hash, .now = now,
	                   .next_in = next};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, rotate_script, &x);
	if (e != PC_OK) {
		pc_event_clear(ev);
		pc_event_clear(reuse_ev);
		return pc_revoked_vec_out(&x.rv, e, revoked, n_revoked);
	}
	if (x.reused) {
		pc_event_clear(ev);
		e = pc_revoked_vec_out(&x.rv, PC_OK, revoked, n_revoked);
		return e == PC_OK ? PC_ERR_REUSED : e;
	}
	pc_event_clear(reuse_ev);
	pc_revoked_vec_reset(&x.rv);
	*next = x.next;
	*old = x.cur;
	return PC_OK;
}

struct refresh_get {
	const uint8_t *hash;
	struct pc_refresh_token *out;
	bool used;
};

PC_MUST_USE static enum pc_err refresh_get_script(struct pc_sql *c, void *ctx)
{
	struct refresh_get *x = ctx;
	return get_refresh(c, S_REFRESH_GET, x->hash, x->out, &x->used);
}

enum pc_err pc_tx_refresh_get(struct pc_store *s, const uint8_t token_hash[32],
                              struct pc_refresh_token *out, bool *used)
{
	struct refresh_get x = {token_hash, out, false};
	enum pc_err e = sql_run(s, PC_SQL_READ, refresh_get_script, &x);
	if (used != NULL)
		*used = e == PC_OK && x.used;
	return e;
}

struct revoke {
	struct pc_audit_event *ev; /* NULL: audited by the caller */
	const char *jti, *family_id, *session_id, *user_id;
	int64_t jti_exp, now;
	struct pc_revoked_vec rv;
};

PC_MUST_USE static enum pc_err revoke_script(struct pc_sql *c, void *ctx)
{
	struct revoke *x = ctx;
	enum pc_err e;
	pc_revoked_vec_reset(&x->rv);
	pc_event_clear(x->ev);
	if (x->jti != NULL) {
		/* the family it was issued with, if recorded, goes too */
		char fam[PC_ID_LEN + 1] = "";
		e = vec_push(&x->rv, x->jti, x->jti_exp);
		if (e == PC_OK)
			e = pc_sql_one(c, S_ACCESS_FAMILY_OF, ARGS(A_TXT(x->jti)), pc_row_id, fam,
			               sizeof(fam), "access_tokens");
		if (e == PC_ERR_NOT_FOUND)
			e = PC_OK;
		else if (e == PC_OK && fam[0] != '\0')
			e = revoke_family(c, fam, x->now, x->jti, &x->rv);
	} else if (x->family_id != NULL) {
		e = revoke_family(c, x->family_id, x->now, NULL, &x->rv);
	} else if (x->session_id != NULL) {
		/* every token of a family carries the session it was issued from */
		e = collect_revoked(c, S_ACCESS_LIVE_SESSION, ARGS(A_TXT(x->session_id), A_INT(x->now)),
		                    NULL, &x->rv);
		if (e == PC_OK)
			e = sql_exec(c, S_REFRESH_DELETE_SESSION, ARGS(A_TXT(x->session_id)), NULL);
	} else {
		e = pc_sql_revoke_user(c, x->user_id, NULL, x->now, &x->rv);
	}
	if (e == PC_OK && x->user_id == NULL)
		e = insert_revoked(c, &x->rv);
	if (e == PC_OK && x->ev != NULL)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_tokens_revoke(struct pc_store *s, struct pc_audit_event *ev, const char *jti,
                                int64_t jti_exp, const char *family_id, const char *session_id,
                                const char *user_id, int64_t now, struct pc_revoked **revoked,
                                size_t *n_revoked)
{
	struct revoke x = {.ev = ev, .jti = jti, .family_id = family_id, .session_id = session_id,
	                   .user_id = user_id, .jti_exp = jti_exp, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, revoke_script, &x);
	return pc_revoked_vec_out(&x.rv, e, revoked, n_revoked);
}

struct revoked_list {
	int64_t now;
	struct pc_revoked_vec rv;
};

PC_MUST_USE static enum pc_err revoked_list_script(struct pc_sql *c, void *ctx)
{
	struct revoked_list *x = ctx;
	pc_revoked_vec_reset(&x->rv);
	return collect_revoked(c, S_REVOKED_LIST, ARGS(A_INT(x->now)), NULL, &x->rv);
}

enum pc_err pc_tx_revoked_list(struct pc_store *s, int64_t now, struct pc_revoked **out,
                               size_t *n)
{
	struct revoked_list x = {.now = now};
	enum pc_err e = sql_run(s, PC_SQL_READ, revoked_list_script, &x);
	return pc_revoked_vec_out(&x.rv, e, out, n);
}

struct revoked_since {
	int64_t after, now, upto;
	struct pc_revoked_vec rv;
};

/* The counter first, then the rows up to it: under autocommit each
 * statement has its own snapshot, and a row numbered <= upto was committed
 * with (so before) the counter value read. */
PC_MUST_USE static enum pc_err revoked_since_script(struct pc_sql *c, void *ctx)
{
	struct revoked_since *x = ctx;
	pc_revoked_vec_reset(&x->rv);
	enum pc_err e = pc_sql_one(c, S_REVOCATION_SEQ_GET, NOARGS, row_int, &x->upto, sizeof(x->upto),
	                           "revocation_seq");
	if (e == PC_OK && x->upto > x->after)
		e = collect_revoked(c, S_REVOKED_SINCE, ARGS(A_INT(x->after), A_INT(x->upto), A_INT(x->now)),
		                    NULL, &x->rv);
	return e;
}

enum pc_err pc_tx_revoked_since(struct pc_store *s, int64_t after, int64_t now, struct pc_revoked **out,
                                size_t *n, int64_t *upto)
{
	struct revoked_since x = {.after = after, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_READ, revoked_since_script, &x);
	*upto = e == PC_OK ? x.upto : 0;
	return pc_revoked_vec_out(&x.rv, e, out, n);
}

struct purge {
	int64_t now;
	size_t total;
};

PC_MUST_USE static enum pc_err purge_script(struct pc_sql *c, void *ctx)
{
	static const enum pc_stmt purges[] = {S_PURGE_REVOKED, S_PURGE_ACCESS, S_PURGE_REFRESH,
	                                      S_PURGE_SESSIONS, S_PURGE_RESET, S_PURGE_OUTBOX, S_OIDC_PURGE};
	struct purge *x = ctx;
	enum pc_err e = PC_OK;
	x->total = 0;
	for (size_t i = 0; i < sizeof(purges) / sizeof(purges[0]) && e == PC_OK; i++) {
		int64_t changed = 0;
		e = sql_exec(c, purges[i], ARGS(A_INT(x->now)), &changed);
		if (e == PC_OK && changed > 0)
			x->total += (size_t)changed;
	}
	return e;
}

enum pc_err pc_tx_tokens_purge(struct pc_store *s, int64_t now, size_t *purged)
{
	struct purge x = {.now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, purge_script, &x);
	if (e == PC_OK)
		*purged = x.total;
	return e;
}

/* ---- token families as their user sees them ---- */

PC_MUST_USE static int row_family(struct pc_sql *c, void *out)
{
	struct pc_token_family *f = out;
	memset(f, 0, sizeof(*f));
	if (COL_TEXT(c, 0, f->family_id) != 0 || COL_TEXT(c, 1, f->session_id) != 0 ||
	    COL_INT(c, 2, &f->created_at) != 0 || COL_INT(c, 3, &f->last_used_at) != 0 ||
	    COL_INT(c, 4, &f->expires_at) != 0 || COL_INT(c, 5, &f->factors) != 0) {
		memset(f, 0, sizeof(*f));
		return -1;
	}
	return 0;
}

enum pc_err pc_tx_family_list(struct pc_store *s, const char *user_id, int64_t now, struct pc_token_family **out,
                              size_t *n)
{
	void *arr = NULL;
	enum pc_err e = pc_sql_get_all(s, S_REFRESH_FAMILIES, ARGS(A_TXT(user_id), A_INT(now)), row_family,
	                               sizeof(**out), 0, "token families", &arr, n);
	*out = arr;
	return e;
}
