/*
 * tx_users.c — users, the first-user setup, passwords and reset tokens:
 * each write one transaction script over driver.h, for both dialects.
 *
 * Invariants, held by running every check inside the write transaction
 * (SQLite: BEGIN IMMEDIATE; PostgreSQL: the advisory write lock):
 *  - exactly one first user: the setup guard row's primary key lets one
 *    setup through; every other gets PC_ERR_SET_UP;
 *  - never no user: user_delete counts the users under the lock, so two
 *    deletes cannot both see two (PC_ERR_LAST_USER);
 *  - the first user is an admin, and an enabled admin always remains: a
 *    change of role or state is an UPDATE whose own WHERE clause demands
 *    that the new state be an enabled admin or that another enabled admin
 *    exist, and a delete is refused by a guard query in its transaction
 *    (PC_ERR_LAST_ADMIN). Both run under the write lock, after any
 *    concurrent change has committed, so of two admins demoting each other
 *    at once exactly one succeeds;
 *  - a password change ends the user's sessions (but keep), and a reset
 *    token burns every outstanding token of its user with it;
 *  - the credential epoch (store.h): every change that ends a user's
 *    sign-ins bumps it with the ending (pc_sql_end_credentials), and a
 *    sign-in's write checks it (pc_sql_epoch_check), both under the lock.
 * Each change and its audit event commit together or not at all.
 */
#include <string.h>

#include <sodium.h>

#include "store/backend.h"
#include "store/driver.h"

PC_MUST_USE static enum pc_err ping_script(struct pc_sql *c, void *ctx)
{
	bool found;
	(void)ctx;
	return pc_sql_exists(c, S_PING, NOARGS, &found);
}

enum pc_err pc_tx_ping(struct pc_store *s)
{
	return sql_run(s, PC_SQL_READ, ping_script, NULL);
}

/* ---- setup ---- */

struct setup {
	struct pc_audit_event *ev;
	const struct pc_user *user;
	const struct pc_session *sess; /* NULL: none */
	bool first;                    /* setup: only the first user */
};

PC_MUST_USE static enum pc_err create_script(struct pc_sql *c, void *ctx)
{
	struct setup *x = ctx;
	const struct pc_user *u = x->user;
	pc_event_clear(x->ev);
	enum pc_err e;
	if (x->first) {
		/* the guard's primary key is what lets exactly one caller through
		 * (PostgreSQL: a second inserter waits on the unique index, then
		 * fails) */
		e = sql_exec(c, S_GUARD_INSERT, ARGS(A_INT(u->created_at)), NULL);
		if (e == PC_ERR_CONFLICT)
			e = PC_ERR_SET_UP;
	} else {
		/* a user created any way counts as set up */
		e = sql_exec(c, S_GUARD_INSERT_OR_IGNORE, ARGS(A_INT(u->created_at)), NULL);
	}
	if (e == PC_OK)
		e = sql_exec(c, S_USER_INSERT,
		             ARGS(A_FIX(u->id), A_FIX(u->email), A_FIX(u->password_hash),
		                  A_INT(u->created_at), A_INT(u->password_changed_at),
		                  A_TXT(pc_role_name(x->first ? PC_ROLE_ADMIN : u->role)), A_FIX(u->groups),
		                  A_FIX(u->name)),
		             NULL);
	if (e == PC_OK && x->sess != NULL)
		e = pc_sql_insert_session(c, x->sess);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_setup(struct pc_store *s, struct pc_audit_event *ev, const struct pc_user *user,
                        const struct pc_session *sess)
{
	struct setup x = {.ev = ev, .user = user, .sess = sess, .first = true};
	return sql_run(s, PC_SQL_WRITE, create_script, &x);
}

enum pc_err pc_tx_user_create(struct pc_store *s, struct pc_audit_event *ev,
                              const struct pc_user *user)
{
	struct setup x = {.ev = ev, .user = user};
	return sql_run(s, PC_SQL_WRITE, create_script, &x);
}

PC_MUST_USE static enum pc_err setup_done_script(struct pc_sql *c, void *ctx)
{
	return pc_sql_exists(c, S_GUARD_GET, NOARGS, ctx);
}

enum pc_err pc_tx_setup_done(struct pc_store *s, bool *done)
{
	return sql_run(s, PC_SQL_READ, setup_done_script, done);
}

/* ---- reads ---- */

enum pc_err pc_tx_user_get(struct pc_store *s, const char *id, struct pc_user *out)
{
	return pc_sql_get_one(s, S_USER_GET, ARGS(A_TXT(id)), pc_row_user, out, sizeof(*out), "users");
}

enum pc_err pc_tx_user_get_by_email(struct pc_store *s, const char *email, struct pc_user *out)
{
	return pc_sql_get_one(s, S_USER_GET_BY_EMAIL, ARGS(A_TXT(email)), pc_row_user, out,
	                      sizeof(*out), "users");
}

enum pc_err pc_tx_user_list(struct pc_store *s, struct pc_user **out, size_t *n)
{
	void *arr = NULL;
	enum pc_err e = pc_sql_get_all(s, S_USER_LIST, NOARGS, pc_row_user, sizeof(**out), 0, "users",
	                               &arr, n);
	*out = arr;
	return e;
}

/* ---- delete ---- */

static int rd_count(struct pc_sql *c, void *out)
{
	return COL_INT(c, 0, out);
}

enum pc_err pc_sql_epoch_check(struct pc_sql *c, const char *user_id, int64_t epoch)
{
	int64_t cur = 0;
	enum pc_err e = pc_sql_one(c, S_USER_EPOCH, ARGS(A_TXT(user_id)), rd_count, &cur, sizeof(cur),
	                           "users");
	if (e == PC_OK && cur != epoch)
		e = PC_ERR_STALE;
	return e;
}

enum pc_err pc_sql_end_credentials(struct pc_sql *c, const char *user_id, const char *keep,
                                   bool keep_tokens, int64_t now, struct pc_revoked_vec *rv,
                                   int64_t *ended)
{
	int64_t changed = 0;
	enum pc_err e = sql_exec(c, S_USER_EPOCH_BUMP, ARGS(A_TXT(user_id)), &changed);
	if (e == PC_OK && changed == 0)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = sql_exec(c, S_SESSION_DELETE_ALL, ARGS(A_TXT(user_id), A_OPT(keep)), ended);
	if (e == PC_OK)
		e = pc_sql_revoke_user(c, user_id, keep_tokens ? keep : NULL, now, rv);
	return e;
}

struct user_delete {
	struct pc_audit_event *ev;
	const char *id;
	int64_t now;
	struct pc_revoked_vec rv;
};

PC_MUST_USE static enum pc_err user_delete_script(struct pc_sql *c, void *ctx)
{
	struct user_delete *x = ctx;
	bool found = false;
	int64_t users = 0;
	pc_revoked_vec_reset(&x->rv);
	pc_event_clear(x->ev);
	enum pc_err e = pc_sql_exists(c, S_USER_EXISTS, ARGS(A_TXT(x->id)), &found);
	if (e == PC_OK && !found)
		e = PC_ERR_NOT_FOUND;
	/* counted under the write lock: two deletes cannot both see two users */
	if (e == PC_OK)
		e = pc_sql_one(c, S_USER_COUNT, NOARGS, rd_count, &users, sizeof(users), "users");
	if (e == PC_OK && users <= 1)
		e = PC_ERR_LAST_USER;
	bool last_admin = false;
	if (e == PC_OK)
		e = pc_sql_exists(c, S_USER_LAST_ADMIN, ARGS(A_TXT(x->id)), &last_admin);
	if (e == PC_OK && last_admin)
		e = PC_ERR_LAST_ADMIN;
	/* the access-token records go with the user (foreign key): revoked
	 * first, in this transaction, so none minted before it stays valid */
	if (e == PC_OK)
		e = pc_sql_end_credentials(c, x->id, NULL, false, x->now, &x->rv, NULL);
	if (e == PC_OK)
		e = sql_exec(c, S_USER_DELETE, ARGS(A_TXT(x->id)), NULL);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_user_delete(struct pc_store *s, struct pc_audit_event *ev, const char *id,
                              int64_t now, struct pc_revoked **revoked, size_t *n_revoked)
{
	struct user_delete x = {.ev = ev, .id = id, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, user_delete_script, &x);
	return pc_revoked_vec_out(&x.rv, e, revoked, n_revoked);
}

/* ---- update (PATCH) ---- */

struct user_update {
	struct pc_audit_event *ev;
	const char *id;
	const struct pc_user_patch *p;
	int64_t now;
	struct pc_user out;
	unsigned changed;
	struct pc_revoked_vec rv;
};

PC_MUST_USE static enum pc_err user_update_script(struct pc_sql *c, void *ctx)
{
	struct user_update *x = ctx;
	const struct pc_user_patch *p = x->p;
	struct pc_user old;
	pc_revoked_vec_reset(&x->rv);
	pc_event_clear(x->ev);
	x->changed = 0;
	enum pc_err e = pc_sql_one(c, S_USER_GET, ARGS(A_TXT(x->id)), pc_row_user, &old, sizeof(old), "users");
	if (e != PC_OK)
		goto out;
	struct pc_user *n = &x->out;
	*n = old;
	if (p->has_email)
		memcpy(n->email, p->email, sizeof(n->email));
	if (p->has_role)
		n->role = p->role;
	if (p->has_disabled)
		n->disabled = p->disabled;
	if (p->has_groups)
		memcpy(n->groups, p->groups, sizeof(n->groups));
	if (p->has_name)
		memcpy(n->name, p->name, sizeof(n->name));
	int64_t changed = 0;
	e = sql_exec(c, S_USER_UPDATE,
	             ARGS(A_TXT(x->id), A_FIX(n->email), A_TXT(pc_role_name(n->role)), A_INT(n->disabled ? 1 : 0),
	                  A_FIX(n->groups), A_FIX(n->name)),
	             &changed);
	/* the row exists (read above, under the lock): no change is the
	 * condition refusing to leave no enabled admin */
	if (e == PC_OK && changed == 0)
		e = PC_ERR_LAST_ADMIN;
	if (e != PC_OK)
		goto out;
	if (n->disabled && !old.disabled) {
		x->changed |= PC_USER_CHANGED_DISABLED;
		e = pc_sql_end_credentials(c, x->id, NULL, false, x->now, &x->rv, NULL);
	} else if (strcmp(n->email, old.email) != 0 || n->role != old.role || strcmp(n->groups, old.groups) != 0) {
		/* the epoch too: a refresh or sign-in that read the old claims
		 * before this commit is refused (PC_ERR_STALE) rather than minting
		 * a token with them after the revocation below */
		x->changed |= PC_USER_CHANGED_CLAIMS;
		e = sql_exec(c, S_USER_EPOCH_BUMP, ARGS(A_TXT(x->id)), NULL);
		if (e == PC_OK)
			e = pc_sql_revoke_user_access(c, x->id, x->now, &x->rv);
	}
	if (e == PC_OK && strcmp(n->name, old.name) != 0)
		x->changed |= PC_USER_CHANGED_NAME; /* the cached sessions re-read it */
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
out:
	sodium_memzero(old.password_hash, sizeof(old.password_hash));
	sodium_memzero(x->out.password_hash, sizeof(x->out.password_hash));
	return e;
}

enum pc_err pc_tx_user_update(struct pc_store *s, struct pc_audit_event *ev, const char *id,
                              const struct pc_user_patch *patch, int64_t now, struct pc_user *out,
                              unsigned *changed, struct pc_revoked **revoked, size_t *n_revoked)
{
	struct user_update x = {.ev = ev, .id = id, .p = patch, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, user_update_script, &x);
	e = pc_revoked_vec_out(&x.rv, e, revoked, n_revoked);
	if (e == PC_OK) {
		*out = x.out;
		*changed = x.changed;
	}
	return e;
}

/* ---- passwords ---- */

/* Inside a transaction: the new hash, and the user's credentials ended
 * (pc_sql_end_credentials) but the session keep (NULL: none). */
PC_MUST_USE static enum pc_err set_password(struct pc_sql *c, const char *user_id,
                                            const char *new_hash, int64_t now, const char *keep,
                                            struct pc_revoked_vec *rv)
{
	int64_t changed = 0;
	enum pc_err e = sql_exec(c, S_USER_SET_PASSWORD,
	                         ARGS(A_TXT(user_id), A_TXT(new_hash), A_INT(now)), &changed);
	if (e == PC_OK && changed == 0)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = pc_sql_end_credentials(c, user_id, keep, false, now, rv, NULL);
	return e;
}

struct set_pw {
	struct pc_audit_event *ev; /* NULL: none */
	const char *user_id, *new_hash, *keep;
	int64_t now;
	struct pc_revoked_vec rv;
};

PC_MUST_USE static enum pc_err set_password_script(struct pc_sql *c, void *ctx)
{
	struct set_pw *x = ctx;
	pc_revoked_vec_reset(&x->rv);
	pc_event_clear(x->ev);
	enum pc_err e = set_password(c, x->user_id, x->new_hash, x->now, x->keep, &x->rv);
	if (e == PC_OK && x->ev != NULL)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_user_set_password(struct pc_store *s, struct pc_audit_event *ev,
                                    const char *user_id, const char *new_hash,
                                    const char *keep_session, int64_t now,
                                    struct pc_revoked **revoked, size_t *n_revoked)
{
	struct set_pw x = {.ev = ev, .user_id = user_id, .new_hash = new_hash,
	                   .keep = keep_session, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, set_password_script, &x);
	return pc_revoked_vec_out(&x.rv, e, revoked, n_revoked);
}

struct change_pw {
	struct pc_audit_event *ev;
	const char *user_id, *new_hash, *old_session;
	const struct pc_session *rotated;
	int64_t now;
	struct pc_revoked_vec rv;
};

PC_MUST_USE static enum pc_err change_password_script(struct pc_sql *c, void *ctx)
{
	struct change_pw *x = ctx;
	pc_revoked_vec_reset(&x->rv);
	pc_event_clear(x->ev);
	/* the session the change comes from must still be there: a change
	 * racing "end all sessions" must not bring it back under a new id */
	bool live = false;
	enum pc_err e = pc_sql_exists(c, S_SESSION_EXISTS, ARGS(A_TXT(x->old_session)), &live);
	if (e == PC_OK && !live)
		e = PC_ERR_STALE;
	if (e == PC_OK)
		e = set_password(c, x->user_id, x->new_hash, x->now, NULL, &x->rv);
	if (e == PC_OK)
		e = pc_sql_insert_session(c, x->rotated);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_user_change_password(struct pc_store *s, struct pc_audit_event *ev, const char *user_id,
                                       const char *new_hash, const char *old_session,
                                       const struct pc_session *rotated, int64_t now,
                                       struct pc_revoked **revoked, size_t *n_revoked)
{
	struct change_pw x = {.ev = ev, .user_id = user_id, .new_hash = new_hash, .old_session = old_session,
	                      .rotated = rotated, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, change_password_script, &x);
	return pc_revoked_vec_out(&x.rv, e, revoked, n_revoked);
}

enum pc_err pc_tx_user_rehash(struct pc_store *s, const char *user_id, const char *new_hash)
{
	return pc_sql_change(s, PC_SQL_UPDATE, NULL, S_USER_REHASH,
	                     ARGS(A_TXT(user_id), A_TXT(new_hash)), true, NULL);
}

/* ---- reset tokens ---- */

enum pc_err pc_tx_reset_create(struct pc_store *s, struct pc_audit_event *ev, const char *user_id,
                               const uint8_t token_hash[32], int64_t expires_at)
{
	return pc_sql_change(s, PC_SQL_WRITE, ev, S_RESET_INSERT,
	                     ARGS(A_HASH(token_hash), A_TXT(user_id), A_INT(expires_at)), false,
	                     NULL);
}

struct redeem {
	struct pc_audit_event *ev;
	const uint8_t *token_hash;
	const char *new_hash;
	int64_t now;
	char uid[PC_ID_LEN + 1];
	bool filled; /* whether ev->resource_id was ours to fill */
	struct pc_revoked_vec rv;
};

PC_MUST_USE static enum pc_err redeem_script(struct pc_sql *c, void *ctx)
{
	struct redeem *x = ctx;
	pc_revoked_vec_reset(&x->rv);
	pc_event_clear(x->ev);
	if (x->filled)
		x->ev->resource_id[0] = '\0';
	x->filled = false;
	/* locked where the dialect can (FOR UPDATE): of two redemptions of one
	 * token the second waits, then finds it used */
	enum pc_err e = pc_sql_one(c, S_RESET_FIND, ARGS(A_HASH(x->token_hash), A_INT(x->now)),
	                           pc_row_id, x->uid, sizeof(x->uid), "reset_tokens");
	/* burn this token and every other outstanding one of the user: a
	 * password just reset must not be resettable by an older link */
	if (e == PC_OK)
		e = sql_exec(c, S_RESET_BURN_USER, ARGS(A_FIX(x->uid), A_INT(x->now)), NULL);
	if (e == PC_OK)
		e = set_password(c, x->uid, x->new_hash, x->now, NULL, &x->rv);
	if (e == PC_OK) {
		/* the caller could not know whose token it was */
		if (x->ev->resource_id[0] == '\0') {
			memcpy(x->ev->resource_id, x->uid, sizeof(x->uid));
			x->filled = true;
		}
		e = pc_sql_append_event(c, x->ev);
	}
	return e;
}

enum pc_err pc_tx_reset_redeem(struct pc_store *s, struct pc_audit_event *ev,
                               const uint8_t token_hash[32], const char *new_hash, int64_t now,
                               char user_id_out[PC_ID_LEN + 1], struct pc_revoked **revoked,
                               size_t *n_revoked)
{
	struct redeem x = {.ev = ev, .token_hash = token_hash, .new_hash = new_hash, .now = now};
	enum pc_err e = sql_run(s, PC_SQL_WRITE, redeem_script, &x);
	e = pc_revoked_vec_out(&x.rv, e, revoked, n_revoked);
	if (e == PC_OK) {
		memcpy(user_id_out, x.uid, sizeof(x.uid));
	} else {
		/* store.c's contract: nothing the store filled stays */
		if (x.filled)
			ev->resource_id[0] = '\0';
		pc_event_clear(ev);
	}
	return e;
}
