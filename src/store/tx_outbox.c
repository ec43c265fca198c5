/*
 * tx_outbox.c — the mail outbox and the forgot-password request, each one
 * transaction script over driver.h for both dialects.
 *
 * Invariants:
 *  - a mail is queued in the transaction of the change that causes it:
 *    pc_sql_append_event inserts the event's attached mail (event.h
 *    `mail`) right after the event row, so both commit or neither does;
 *  - a row is held by at most one sender: the claim is one conditional
 *    UPDATE (due, unsent, no live lease) that RETURNs the row — SQLite runs
 *    it under BEGIN IMMEDIATE, PostgreSQL picks the row with FOR UPDATE SKIP
 *    LOCKED and re-checks the condition on the locked version — and every
 *    later write is conditional on still holding it (lease_owner);
 *  - the forgot-password request runs the same statements whether or not
 *    the user exists (store.h pc_store_reset_request).
 */
#include <string.h>

#include "store/backend.h"
#include "store/driver.h"

enum pc_err pc_sql_insert_mail(struct pc_sql *c, const struct pc_outbox_mail *m)
{
	return sql_exec(c, S_OUTBOX_INSERT,
	                ARGS(A_FIX(m->id), A_INT(m->created_at), A_FIX(m->kind), A_FIX(m->recipient), A_TXT(m->sealed)),
	                NULL);
}

struct request {
	struct pc_audit_event *ev;
	const char *email;
	const uint8_t *token_hash;
	int64_t expires_at;
	const struct pc_outbox_mail *mail;
};

PC_MUST_USE static enum pc_err request_script(struct pc_sql *c, void *ctx)
{
	struct request *x = ctx;
	char uid[PC_ID_LEN + 1];
	pc_event_clear(x->ev);
	x->ev->resource_id[0] = '\0';
	enum pc_err e = pc_sql_one(c, S_USER_ID_BY_EMAIL, ARGS(A_TXT(x->email)), pc_row_id, uid, sizeof(uid), "users");
	if (e == PC_ERR_NOT_FOUND)
		e = PC_OK; /* uid "" : the statements below insert nothing */
	if (e == PC_OK)
		e = sql_exec(c, S_RESET_INSERT_FOR_EMAIL,
		             ARGS(A_HASH(x->token_hash), A_TXT(x->email), A_INT(x->expires_at)), NULL);
	if (e == PC_OK)
		e = sql_exec(c, S_OUTBOX_INSERT_FOR_EMAIL,
		             ARGS(A_FIX(x->mail->id), A_INT(x->mail->created_at), A_FIX(x->mail->kind), A_TXT(x->email),
		                  A_TXT(x->mail->sealed)),
		             NULL);
	if (e == PC_OK) {
		memcpy(x->ev->resource_id, uid, sizeof(uid));
		e = pc_sql_append_event(c, x->ev);
	}
	return e;
}

enum pc_err pc_tx_reset_request(struct pc_store *s, struct pc_audit_event *ev, const char *email,
                                const uint8_t token_hash[32], int64_t expires_at, const struct pc_outbox_mail *mail)
{
	struct request x = {.ev = ev, .email = email, .token_hash = token_hash, .expires_at = expires_at, .mail = mail};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, request_script, &x);
	if (e != PC_OK) {
		ev->resource_id[0] = '\0';
		pc_event_clear(ev);
	}
	return e;
}

PC_MUST_USE static int row_outbox(struct pc_sql *c, void *out)
{
	struct pc_outbox_row *r = out;
	if (COL_TEXT(c, 0, r->id) != 0 || COL_TEXT(c, 1, r->recipient) != 0 || COL_TEXT(c, 2, r->sealed) != 0 ||
	    COL_INT(c, 3, &r->attempts) != 0) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	return 0;
}

struct claim {
	const char *owner;
	int64_t lease_until, now;
	struct pc_outbox_row *out;
};

PC_MUST_USE static enum pc_err claim_script(struct pc_sql *c, void *ctx)
{
	struct claim *x = ctx;
	return pc_sql_one(c, S_OUTBOX_CLAIM, ARGS(A_TXT(x->owner), A_INT(x->lease_until), A_INT(x->now)), row_outbox,
	                  x->out, sizeof(*x->out), "mail_outbox");
}

enum pc_err pc_tx_outbox_claim(struct pc_store *s, const char *owner, int64_t lease_until, int64_t now,
                               struct pc_outbox_row *out)
{
	struct claim x = {owner, lease_until, now, out};
	return sql_run(s, PC_SQL_WRITE, claim_script, &x);
}

enum pc_err pc_tx_outbox_finish(struct pc_store *s, const char *id, const char *owner,
                                enum pc_outbox_outcome outcome, int64_t now, int64_t next_at, const char *error)
{
	switch (outcome) {
	case PC_OUTBOX_SENT:
		return pc_sql_change(s, PC_SQL_WRITE, NULL, S_OUTBOX_SENT, ARGS(A_TXT(id), A_TXT(owner), A_INT(now)), true,
		                     NULL);
	case PC_OUTBOX_RETRY:
		return pc_sql_change(s, PC_SQL_WRITE, NULL, S_OUTBOX_RETRY,
		                     ARGS(A_TXT(id), A_TXT(owner), A_INT(next_at), A_TXT(error)), true, NULL);
	case PC_OUTBOX_FAILED:
		return pc_sql_change(s, PC_SQL_WRITE, NULL, S_OUTBOX_FAIL,
		                     ARGS(A_TXT(id), A_TXT(owner), A_INT(now), A_TXT(error)), true, NULL);
	}
	return PC_ERR_INTERNAL;
}

PC_MUST_USE static int row_count(struct pc_sql *c, void *out)
{
	return COL_INT(c, 0, (int64_t *)out);
}

enum pc_err pc_tx_outbox_depth(struct pc_store *s, int64_t *n)
{
	return pc_sql_get_one(s, S_OUTBOX_DEPTH, NOARGS, row_count, n, sizeof(*n), "mail_outbox");
}

/* ---- a user's own email change ---- */

struct echange {
	struct pc_audit_event *ev;
	const char *user_id, *new_email;
	const uint8_t *token_hash;
	int64_t expires_at, now;
	char uid[PC_ID_LEN + 1];
	char email[PC_EMAIL_MAX + 1];
};

PC_MUST_USE static enum pc_err echange_create_script(struct pc_sql *c, void *ctx)
{
	struct echange *x = ctx;
	pc_event_clear(x->ev);
	enum pc_err e = sql_exec(c, S_EMAIL_CHANGE_CLEAR, ARGS(A_TXT(x->user_id)), NULL);
	if (e == PC_OK)
		e = sql_exec(c, S_EMAIL_CHANGE_INSERT,
		             ARGS(A_HASH(x->token_hash), A_TXT(x->user_id), A_TXT(x->new_email), A_INT(x->expires_at)), NULL);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_email_change_create(struct pc_store *s, struct pc_audit_event *ev, const char *user_id,
                                      const uint8_t token_hash[32], const char *new_email, int64_t expires_at)
{
	struct echange x = {.ev = ev, .user_id = user_id, .new_email = new_email, .token_hash = token_hash,
	                    .expires_at = expires_at};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, echange_create_script, &x);
	if (e != PC_OK)
		pc_event_clear(ev);
	return e;
}

PC_MUST_USE static int row_echange(struct pc_sql *c, void *out)
{
	struct echange *x = out;
	if (COL_TEXT(c, 0, x->uid) != 0 || COL_TEXT(c, 1, x->email) != 0)
		return -1;
	return 0;
}

PC_MUST_USE static enum pc_err echange_find(struct pc_sql *c, struct echange *x)
{
	enum pc_err e = sql_query(c, S_EMAIL_CHANGE_FIND, ARGS(A_HASH(x->token_hash), A_INT(x->now)));
	bool row = false;
	if (e == PC_OK)
		e = sql_step(c, &row);
	if (e == PC_OK && !row)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK && row_echange(c, x) != 0)
		e = pc_sql_corrupt(c, "email_changes");
	sql_done(c);
	return e;
}

PC_MUST_USE static enum pc_err echange_peek_script(struct pc_sql *c, void *ctx)
{
	return echange_find(c, ctx);
}

enum pc_err pc_tx_email_change_peek(struct pc_store *s, const uint8_t token_hash[32], int64_t now,
                                    char user_id[PC_ID_LEN + 1], char new_email[PC_EMAIL_MAX + 1])
{
	struct echange x = {.token_hash = token_hash, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_READ, echange_peek_script, &x);
	if (e == PC_OK) {
		memcpy(user_id, x.uid, sizeof(x.uid));
		memcpy(new_email, x.email, sizeof(x.email));
	}
	return e;
}

PC_MUST_USE static enum pc_err echange_confirm_script(struct pc_sql *c, void *ctx)
{
	struct echange *x = ctx;
	pc_event_clear(x->ev);
	int64_t changed = 0;
	enum pc_err e = echange_find(c, x);
	if (e == PC_OK)
		e = sql_exec(c, S_EMAIL_CHANGE_USE, ARGS(A_HASH(x->token_hash), A_INT(x->now)), &changed);
	if (e == PC_OK && changed != 1)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = sql_exec(c, S_USER_SET_EMAIL, ARGS(A_FIX(x->uid), A_FIX(x->email)), &changed);
	if (e == PC_OK && changed != 1)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK) {
		memcpy(x->ev->resource_id, x->uid, sizeof(x->uid));
		e = pc_sql_append_event(c, x->ev);
	}
	return e;
}

enum pc_err pc_tx_email_change_confirm(struct pc_store *s, struct pc_audit_event *ev, const uint8_t token_hash[32],
                                       int64_t now, char user_id[PC_ID_LEN + 1], char new_email[PC_EMAIL_MAX + 1])
{
	struct echange x = {.ev = ev, .token_hash = token_hash, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, echange_confirm_script, &x);
	if (e == PC_OK) {
		memcpy(user_id, x.uid, sizeof(x.uid));
		memcpy(new_email, x.email, sizeof(x.email));
	} else {
		pc_event_clear(ev);
	}
	return e;
}
