/*
 * tx_passkeys.c — passkeys (WebAuthn credentials) and the single-use
 * challenges of their ceremonies, over driver.h, for both dialects.
 *
 * Single use is the database's: a challenge is consumed by `DELETE ...
 * WHERE challenge_hash = ? AND purpose = ? AND binding = ? AND expires_at
 * > now`, and a sign count moves by `UPDATE ... WHERE sign_count = <the
 * value read>`; exactly one row changed means this caller won. Both
 * dialects re-check the WHERE clause under the row's write lock, so two
 * requests (or two instances sharing PostgreSQL) cannot both succeed.
 */
#include "store/backend.h"
#include "store/driver.h"

static int row_passkey(struct pc_sql *c, void *out)
{
	struct pc_passkey *k = out;
	memset(k, 0, sizeof(*k));
	if (COL_TEXT(c, 0, k->id) != 0 || COL_TEXT(c, 1, k->user_id) != 0 || COL_TEXT(c, 2, k->credential_id) != 0 ||
	    COL_TEXT(c, 3, k->public_key) != 0 || COL_INT(c, 4, &k->alg) != 0 || COL_INT(c, 5, &k->sign_count) != 0 ||
	    COL_TEXT(c, 6, k->name) != 0 || COL_TEXT(c, 7, k->user_handle) != 0 || COL_TEXT(c, 8, k->transports) != 0 ||
	    COL_INT(c, 9, &k->flags) != 0 || COL_INT(c, 10, &k->created_at) != 0 ||
	    COL_INT(c, 11, &k->last_used_at) != 0) {
		memset(k, 0, sizeof(*k));
		return -1;
	}
	return 0;
}

static int row_count(struct pc_sql *c, void *out)
{
	return COL_INT(c, 0, (int64_t *)out);
}

static int row_handle(struct pc_sql *c, void *out)
{
	char *h = out;
	char buf[PC_PASSKEY_HANDLE_TEXT + 1];
	if (COL_TEXT(c, 0, buf) != 0)
		return -1;
	memcpy(h, buf, sizeof(buf));
	return 0;
}

struct add {
	struct pc_audit_event *ev;
	const struct pc_passkey *k;
	int64_t max;
};

PC_MUST_USE static enum pc_err add_script(struct pc_sql *c, void *ctx)
{
	struct add *x = ctx;
	const struct pc_passkey *k = x->k;
	pc_event_clear(x->ev);
	int64_t n = 0;
	enum pc_err e = pc_sql_one(c, S_PASSKEY_COUNT, ARGS(A_FIX(k->user_id)), row_count, &n, sizeof(n), "passkeys");
	if (e == PC_OK && n >= x->max)
		e = PC_ERR_CONFLICT;
	if (e == PC_OK) /* a credential id registered already: the UNIQUE index refuses */
		e = sql_exec(c, S_PASSKEY_INSERT,
		             ARGS(A_FIX(k->id), A_FIX(k->user_id), A_FIX(k->credential_id), A_FIX(k->public_key),
		                  A_INT(k->alg), A_INT(k->sign_count), A_FIX(k->name), A_FIX(k->user_handle),
		                  A_FIX(k->transports), A_INT(k->flags), A_INT(k->created_at), A_INT(k->last_used_at)),
		             NULL);
	if (e == PC_OK)
		e = pc_sql_append_event(c, x->ev);
	return e;
}

enum pc_err pc_tx_passkey_add(struct pc_store *s, struct pc_audit_event *ev, const struct pc_passkey *k, int64_t max)
{
	struct add x = {ev, k, max};
	return sql_run(s, PC_SQL_WRITE, add_script, &x);
}

enum pc_err pc_tx_passkey_list(struct pc_store *s, const char *user_id, struct pc_passkey **out, size_t *n)
{
	return pc_sql_get_all(s, S_PASSKEY_LIST, ARGS(A_TXT(user_id)), row_passkey, sizeof(struct pc_passkey), 0,
	                      "passkeys", (void **)out, n);
}

enum pc_err pc_tx_passkey_by_credential(struct pc_store *s, const char *credential_id, struct pc_passkey *out)
{
	return pc_sql_get_one(s, S_PASSKEY_BY_CRED, ARGS(A_TXT(credential_id)), row_passkey, out, sizeof(*out),
	                      "passkeys");
}

enum pc_err pc_tx_passkey_handle(struct pc_store *s, const char *user_id, char out[PC_PASSKEY_HANDLE_TEXT + 1])
{
	return pc_sql_get_one(s, S_PASSKEY_HANDLE, ARGS(A_TXT(user_id)), row_handle, out, PC_PASSKEY_HANDLE_TEXT + 1,
	                      "passkeys");
}

enum pc_err pc_tx_passkey_rename(struct pc_store *s, struct pc_audit_event *ev, const char *user_id, const char *id,
                                 const char *name)
{
	return pc_sql_change(s, PC_SQL_WRITE, ev, S_PASSKEY_RENAME, ARGS(A_TXT(id), A_TXT(user_id), A_TXT(name)), true,
	                     NULL);
}

enum pc_err pc_tx_passkey_delete(struct pc_store *s, struct pc_audit_event *ev, const char *user_id, const char *id)
{
	return pc_sql_change(s, PC_SQL_WRITE, ev, S_PASSKEY_DELETE, ARGS(A_TXT(id), A_TXT(user_id)), true, NULL);
}

enum pc_err pc_tx_passkey_use(struct pc_store *s, struct pc_audit_event *ev, const char *id, int64_t seen,
                              int64_t count, int64_t now)
{
	enum pc_err e = pc_sql_change(s, PC_SQL_WRITE, ev, S_PASSKEY_USE,
	                              ARGS(A_TXT(id), A_INT(seen), A_INT(count), A_INT(now)), true, NULL);
	return e == PC_ERR_NOT_FOUND ? PC_ERR_REUSED : e;
}

struct chal {
	const uint8_t *hash;
	const char *purpose, *binding, *handle_in;
	int64_t expires_at, now, max;
	char *handle_out;
};

PC_MUST_USE static enum pc_err chal_script(struct pc_sql *c, void *ctx)
{
	struct chal *x = ctx;
	int64_t n = 0;
	enum pc_err e = sql_exec(c, S_WA_CHALLENGE_PURGE, ARGS(A_INT(x->now)), NULL);
	if (e == PC_OK)
		e = pc_sql_one(c, S_WA_CHALLENGE_COUNT, ARGS(A_TXT(x->binding)), row_count, &n, sizeof(n),
		               "webauthn_challenges");
	if (e == PC_OK && n >= x->max)
		e = PC_ERR_THROTTLED;
	if (e == PC_OK)
		e = sql_exec(c, S_WA_CHALLENGE_INSERT,
		             ARGS(A_HASH(x->hash), A_TXT(x->purpose), A_TXT(x->binding), A_INT(x->expires_at),
		                  A_TXT(x->handle_in)),
		             NULL);
	return e;
}

enum pc_err pc_tx_wa_challenge_put(struct pc_store *s, const uint8_t hash[32], const char *purpose,
                                   const char *binding, const char *user_handle, int64_t expires_at, int64_t now,
                                   int64_t max)
{
	struct chal x = {.hash = hash, .purpose = purpose, .binding = binding, .handle_in = user_handle,
	                 .expires_at = expires_at, .now = now, .max = max};
	return sql_run(s, PC_SQL_WRITE, chal_script, &x);
}

/* Reads the handle, then the conditional DELETE decides: of two takers
 * that both read the row, only one deletes it. */
PC_MUST_USE static enum pc_err take_script(struct pc_sql *c, void *ctx)
{
	struct chal *x = ctx;
	int64_t changed = 0;
	memset(x->handle_out, 0, PC_PASSKEY_HANDLE_TEXT + 1);
	enum pc_err e = pc_sql_one(c, S_WA_CHALLENGE_GET,
	                           ARGS(A_HASH(x->hash), A_TXT(x->purpose), A_TXT(x->binding), A_INT(x->now)),
	                           row_handle, x->handle_out, PC_PASSKEY_HANDLE_TEXT + 1, "webauthn_challenges");
	if (e == PC_OK)
		e = sql_exec(c, S_WA_CHALLENGE_TAKE, ARGS(A_HASH(x->hash), A_TXT(x->purpose), A_TXT(x->binding), A_INT(x->now)),
		             &changed);
	if (e == PC_OK && changed != 1)
		e = PC_ERR_NOT_FOUND;
	if (e != PC_OK)
		memset(x->handle_out, 0, PC_PASSKEY_HANDLE_TEXT + 1);
	return e;
}

enum pc_err pc_tx_wa_challenge_take(struct pc_store *s, const uint8_t hash[32], const char *purpose,
                                    const char *binding, int64_t now, char user_handle[PC_PASSKEY_HANDLE_TEXT + 1])
{
	struct chal x = {.hash = hash, .purpose = purpose, .binding = binding, .now = now, .handle_out = user_handle};
	return sql_run(s, PC_SQL_WRITE, take_script, &x);
}
