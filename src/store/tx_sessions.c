/*
 * tx_sessions.c — browser sessions: create, look up by the hash of the
 * cookie's secret, touch, list, end — over driver.h, for both dialects.
 *
 * session_get is the hot path of every cookie request: one statement on
 * this thread's connection, no allocation. Deleting is scoped to the owner
 * (another user's session is PC_ERR_NOT_FOUND, like an absent one); each
 * change commits with its audit event. Touch writes no event.
 */
#include "store/backend.h"
#include "store/driver.h"

enum pc_err pc_sql_insert_session(struct pc_sql *c, const struct pc_session *s)
{
	return sql_exec(c, S_SESSION_INSERT,
	                ARGS(A_FIX(s->id), A_HASH(s->secret_hash), A_FIX(s->user_id),
	                     A_INT(s->created_at), A_INT(s->last_seen_at), A_INT(s->expires_at),
	                     A_FIX(s->client_addr), A_RAW(s->user_agent), A_INT(s->factors < 1 ? 1 : s->factors),
	                     A_INT(s->second_factor_at), A_INT(s->pending)),
	                NULL);
}

struct create {
	struct pc_audit_event *ev;
	const struct pc_session *sess;
};

PC_MUST_USE static enum pc_err create_script(struct pc_sql *c, void *ctx)
{
	struct create *x = ctx;
	pc_event_clear(x->ev);
	/* under the write lock: no change of the user's credentials since the
	 * login read the epoch (store.h) */
	enum pc_err e = pc_sql_epoch_check(c, x->sess->user_id, x->sess->cred_epoch);
	if (e == PC_OK)
		e = pc_sql_insert_session(c, x->sess);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_session_create(struct pc_store *s, struct pc_audit_event *ev,
                                 const struct pc_session *sess)
{
	struct create x = {ev, sess};
	return sql_run(s, PC_SQL_WRITE, create_script, &x);
}

enum pc_err pc_tx_session_get(struct pc_store *s, const uint8_t secret_hash[32],
                              struct pc_session *out)
{
	return pc_sql_get_one(s, S_SESSION_GET, ARGS(A_HASH(secret_hash)), pc_row_session, out,
	                      sizeof(*out), "sessions");
}

enum pc_err pc_tx_session_touch(struct pc_store *s, const char *id, int64_t last_seen_at)
{
	return pc_sql_change(s, PC_SQL_UPDATE, NULL, S_SESSION_TOUCH,
	                     ARGS(A_TXT(id), A_INT(last_seen_at)), true, NULL);
}

enum pc_err pc_tx_session_list(struct pc_store *s, const char *user_id, int64_t now,
                               struct pc_session **out, size_t *n)
{
	void *arr = NULL;
	enum pc_err e = pc_sql_get_all(s, S_SESSION_LIST, ARGS(A_TXT(user_id), A_INT(now)), pc_row_session,
	                               sizeof(**out), 0, "sessions", &arr, n);
	*out = arr;
	return e;
}

enum pc_err pc_tx_session_delete(struct pc_store *s, struct pc_audit_event *ev,
                                 const char *user_id, const char *id)
{
	return pc_sql_change(s, PC_SQL_WRITE, ev, S_SESSION_DELETE, ARGS(A_TXT(id), A_TXT(user_id)),
	                     true, NULL);
}

struct delete_all {
	struct pc_audit_event *ev;
	const char *user_id, *keep;
	int64_t now, ended;
	struct pc_revoked_vec rv;
};

PC_MUST_USE static enum pc_err delete_all_script(struct pc_sql *c, void *ctx)
{
	struct delete_all *x = ctx;
	pc_revoked_vec_reset(&x->rv);
	pc_event_clear(x->ev);
	x->ended = 0;
	/* the session that stays keeps the tokens issued from it */
	enum pc_err e = pc_sql_end_credentials(c, x->user_id, x->keep, true, x->now, &x->rv,
	                                       &x->ended);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_session_delete_all(struct pc_store *s, struct pc_audit_event *ev,
                                     const char *user_id, const char *keep, int64_t now,
                                     size_t *ended, struct pc_revoked **revoked,
                                     size_t *n_revoked)
{
	struct delete_all x = {.ev = ev, .user_id = user_id, .keep = keep, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, delete_all_script, &x);
	if (e == PC_OK)
		*ended = x.ended > 0 ? (size_t)x.ended : 0;
	return pc_revoked_vec_out(&x.rv, e, revoked, n_revoked);
}
