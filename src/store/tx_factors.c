/*
 * tx_factors.c — second factors: the TOTP credential, recovery codes, and
 * the session that finishes its second step — over driver.h, for both
 * dialects.
 *
 * Replay and double spending are refused by the database, not a cache:
 * accepting a TOTP step is `UPDATE ... SET last_used_step = step WHERE
 * last_used_step < step` and spending a recovery code is `UPDATE ... WHERE
 * used_at IS NULL`; exactly one row changed means accepted. Both dialects
 * re-check the WHERE clause under the row's write lock, so two requests
 * (or two instances sharing PostgreSQL) cannot both see it hold.
 */
#include "store/backend.h"
#include "store/driver.h"

static int row_totp(struct pc_sql *c, void *out)
{
	struct pc_totp *t = out;
	int64_t confirmed = 0;
	memset(t, 0, sizeof(*t));
	if (COL_TEXT(c, 0, t->id) != 0 || COL_TEXT(c, 1, t->user_id) != 0 ||
	    COL_TEXT(c, 2, t->secret_sealed) != 0 || COL_TEXT(c, 3, t->algorithm) != 0 ||
	    COL_INT(c, 4, &t->digits) != 0 || COL_INT(c, 5, &t->period) != 0 ||
	    COL_INT(c, 6, &confirmed) != 0 || COL_INT(c, 7, &t->last_used_step) != 0 ||
	    COL_INT(c, 8, &t->created_at) != 0) {
		memset(t, 0, sizeof(*t));
		return -1;
	}
	t->confirmed = confirmed != 0;
	return 0;
}

static int row_count(struct pc_sql *c, void *out)
{
	return COL_INT(c, 0, (int64_t *)out);
}

struct put {
	struct pc_audit_event *ev;
	const struct pc_totp *t;
};

PC_MUST_USE static enum pc_err put_script(struct pc_sql *c, void *ctx)
{
	struct put *x = ctx;
	pc_event_clear(x->ev);
	enum pc_err e = sql_exec(c, S_TOTP_DELETE_PENDING, ARGS(A_FIX(x->t->user_id)), NULL);
	if (e == PC_OK)
		e = sql_exec(c, S_TOTP_INSERT,
		             ARGS(A_FIX(x->t->id), A_FIX(x->t->user_id), A_FIX(x->t->secret_sealed),
		                  A_FIX(x->t->algorithm), A_INT(x->t->digits), A_INT(x->t->period),
		                  A_INT(x->t->created_at)),
		             NULL);
	/* a confirmed credential is still there: the UNIQUE user_id refuses */
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_totp_put(struct pc_store *s, struct pc_audit_event *ev, const struct pc_totp *t)
{
	struct put x = {ev, t};
	return sql_run(s, PC_SQL_WRITE, put_script, &x);
}

enum pc_err pc_tx_totp_get(struct pc_store *s, const char *user_id, struct pc_totp *out)
{
	return pc_sql_get_one(s, S_TOTP_GET, ARGS(A_TXT(user_id)), row_totp, out, sizeof(*out),
	                      "totp_credentials");
}

/* Replaces user_id's recovery codes (inside a WRITE script). */
PC_MUST_USE static enum pc_err replace_codes(struct pc_sql *c, const char *user_id,
                                             const uint8_t (*hashes)[32], size_t n)
{
	enum pc_err e = sql_exec(c, S_RECOVERY_DELETE, ARGS(A_TXT(user_id)), NULL);
	for (size_t i = 0; e == PC_OK && i < n; i++)
		e = sql_exec(c, S_RECOVERY_INSERT, ARGS(A_TXT(user_id), A_HASH(hashes[i])), NULL);
	return e;
}

struct confirm {
	struct pc_audit_event *ev;
	const char *id;
	int64_t step;
	const uint8_t (*hashes)[32];
	size_t n;
	const char *user_id; /* set by the script */
	struct pc_totp t;
};

PC_MUST_USE static enum pc_err confirm_script(struct pc_sql *c, void *ctx)
{
	struct confirm *x = ctx;
	pc_event_clear(x->ev);
	int64_t changed = 0;
	enum pc_err e = sql_exec(c, S_TOTP_CONFIRM, ARGS(A_TXT(x->id), A_INT(x->step)), &changed);
	if (e == PC_OK && changed != 1)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = replace_codes(c, x->user_id, x->hashes, x->n);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_totp_confirm(struct pc_store *s, struct pc_audit_event *ev, const char *id, int64_t step,
                               const uint8_t (*hashes)[32], size_t n)
{
	struct confirm x = {.ev = ev, .id = id, .step = step, .hashes = hashes, .n = n,
	                    .user_id = ev->actor_user_id};
	return sql_run(s, PC_SQL_WRITE, confirm_script, &x);
}

enum pc_err pc_tx_totp_use(struct pc_store *s, struct pc_audit_event *ev, const char *id, int64_t step)
{
	enum pc_err e = pc_sql_change(s, PC_SQL_WRITE, ev, S_TOTP_USE, ARGS(A_TXT(id), A_INT(step)), true, NULL);
	return e == PC_ERR_NOT_FOUND ? PC_ERR_REUSED : e;
}

struct del {
	struct pc_audit_event *ev;
	const char *user_id;
};

PC_MUST_USE static enum pc_err delete_script(struct pc_sql *c, void *ctx)
{
	struct del *x = ctx;
	pc_event_clear(x->ev);
	int64_t changed = 0;
	enum pc_err e = sql_exec(c, S_TOTP_DELETE, ARGS(A_TXT(x->user_id)), &changed);
	if (e == PC_OK && changed == 0)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = sql_exec(c, S_RECOVERY_DELETE, ARGS(A_TXT(x->user_id)), NULL);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_totp_delete(struct pc_store *s, struct pc_audit_event *ev, const char *user_id)
{
	struct del x = {ev, user_id};
	return sql_run(s, PC_SQL_WRITE, delete_script, &x);
}

/* An admin's account recovery: the user's TOTP credential and recovery
 * codes removed, and every session and token of theirs ended, in one
 * transaction with its event. */
struct reset {
	struct pc_audit_event *ev;
	const char *user_id;
	int64_t now;
	struct pc_revoked_vec rv;
};

PC_MUST_USE static enum pc_err reset_script(struct pc_sql *c, void *ctx)
{
	struct reset *x = ctx;
	pc_revoked_vec_reset(&x->rv);
	pc_event_clear(x->ev);
	int64_t totp = 0, codes = 0, passkeys = 0;
	enum pc_err e = sql_exec(c, S_TOTP_DELETE, ARGS(A_TXT(x->user_id)), &totp);
	if (e == PC_OK)
		e = sql_exec(c, S_RECOVERY_DELETE, ARGS(A_TXT(x->user_id)), &codes);
	if (e == PC_OK)
		e = sql_exec(c, S_PASSKEY_DELETE_USER, ARGS(A_TXT(x->user_id)), &passkeys);
	if (e == PC_OK && totp == 0 && codes == 0 && passkeys == 0)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = pc_sql_end_credentials(c, x->user_id, NULL, false, x->now, &x->rv, NULL);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_factors_reset(struct pc_store *s, struct pc_audit_event *ev, const char *user_id, int64_t now,
                                struct pc_revoked **revoked, size_t *n_revoked)
{
	struct reset x = {.ev = ev, .user_id = user_id, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, reset_script, &x);
	return pc_revoked_vec_out(&x.rv, e, revoked, n_revoked);
}

struct codes {
	struct pc_audit_event *ev;
	const char *user_id;
	const uint8_t (*hashes)[32];
	size_t n;
};

PC_MUST_USE static enum pc_err codes_script(struct pc_sql *c, void *ctx)
{
	struct codes *x = ctx;
	pc_event_clear(x->ev);
	enum pc_err e = replace_codes(c, x->user_id, x->hashes, x->n);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_recovery_set(struct pc_store *s, struct pc_audit_event *ev, const char *user_id,
                               const uint8_t (*hashes)[32], size_t n)
{
	struct codes x = {ev, user_id, hashes, n};
	return sql_run(s, PC_SQL_WRITE, codes_script, &x);
}

enum pc_err pc_tx_recovery_spend(struct pc_store *s, struct pc_audit_event *ev, const char *user_id,
                                 const uint8_t hash[32], int64_t now)
{
	return pc_sql_change(s, PC_SQL_WRITE, ev, S_RECOVERY_SPEND, ARGS(A_TXT(user_id), A_HASH(hash), A_INT(now)),
	                     true, NULL);
}

enum pc_err pc_tx_recovery_left(struct pc_store *s, const char *user_id, int64_t *left)
{
	return pc_sql_get_one(s, S_RECOVERY_LEFT, ARGS(A_TXT(user_id)), row_count, left, sizeof(*left),
	                      "recovery_codes");
}

struct promote {
	struct pc_audit_event *ev;
	const char *old_id;
	const struct pc_session *sess;
};

PC_MUST_USE static enum pc_err promote_script(struct pc_sql *c, void *ctx)
{
	struct promote *x = ctx;
	pc_event_clear(x->ev);
	int64_t changed = 0;
	enum pc_err e = sql_exec(c, S_SESSION_DELETE_PENDING, ARGS(A_TXT(x->old_id), A_FIX(x->sess->user_id)),
	                         &changed);
	if (e == PC_OK && changed != 1)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = pc_sql_insert_session(c, x->sess);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_session_promote(struct pc_store *s, struct pc_audit_event *ev, const char *old_id,
                                  const struct pc_session *sess)
{
	struct promote x = {ev, old_id, sess};
	return sql_run(s, PC_SQL_WRITE, promote_script, &x);
}
