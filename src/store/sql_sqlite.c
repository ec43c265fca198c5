/*
 * sql_sqlite.c — the SQLite driver of the store ("sqlite:PATH"): its SQL
 * text, its connections and transactions (driver.h). The store's logic is
 * not here; it runs over this in tx_*.c.
 *
 * Connections: one per thread, opened on first use with SQLITE_OPEN_NOMUTEX
 * (a connection is only ever used by the thread that owns it, so SQLite's
 * own mutexes would be wasted) and kept in a mutex-protected list that
 * pc_store_close walks. A thread finds its connection through a
 * one-entry thread-local cache keyed by the store's generation number
 * (unique per pc_store_open in this process, so a cache entry can never
 * point into a closed store), else by searching the list for its pthread_t.
 * A thread that ends leaves its connection in the list until close; a new
 * thread that reuses its pthread_t picks it up again, which is safe because
 * the old owner is gone. pc_store_close must not run while another thread
 * is still inside a store call.
 *
 * Statements: every statement has an id (stmt.h); each connection prepares
 * it once (SQLITE_PREPARE_PERSISTENT) and resets it and clears its bindings
 * after every use. Every value is a bound parameter; no SQL is ever built
 * from data.
 *
 * Transactions: every write is BEGIN IMMEDIATE ... COMMIT, single-statement
 * updates included. IMMEDIATE takes the database's single write lock up
 * front (waiting up to the busy timeout, then PC_ERR_UNAVAILABLE), so
 * writers are serialised across threads AND processes: the audit chain
 * stays linear (the tail is read inside the transaction that appends to
 * it), and the setup guard row decides exactly one first user. Any failure
 * rolls back; nothing is retried (the busy timeout is the wait).
 *
 * Columns: text is read with its length (too long or an embedded NUL is an
 * error), integers only from INTEGER values, hashes only from 32-byte BLOBs.
 *
 * The audit key lives in sodium_malloc'd read-only memory, freed at close.
 * Nothing here logs a value: errors are logged with the statement's SQL text
 * (which holds only placeholders) and SQLite's generic error string.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/backend.h"
#include "store/driver.h"
#include "store/migrations_sqlite.h"

/* How long a writer waits for the write lock before PC_ERR_UNAVAILABLE. */
#define BUSY_TIMEOUT_MS 5000
#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const stmt_sql[S_AUDIT_LIST] = {
	[S_PING] = "SELECT 1",
	[S_GUARD_INSERT] = "INSERT INTO setup_guard(id, done_at) VALUES (1, ?1)",
	[S_GUARD_INSERT_OR_IGNORE] = "INSERT OR IGNORE INTO setup_guard(id, done_at) VALUES (1, ?1)",
	[S_GUARD_GET] = "SELECT 1 FROM setup_guard WHERE id = 1",
	[S_USER_INSERT] = "INSERT INTO users(" PC_USER_COLS ")"
	                 " VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 0, ?7, ?8)",
	[S_USER_GET] = "SELECT " PC_USER_COLS " FROM users WHERE id = ?1",
	[S_USER_GET_BY_EMAIL] = "SELECT " PC_USER_COLS " FROM users WHERE email = ?1",
	[S_USER_LIST] = "SELECT " PC_USER_COLS " FROM users ORDER BY created_at, id",
	[S_USER_EXISTS] = "SELECT 1 FROM users WHERE id = ?1",
	[S_USER_COUNT] = "SELECT count(*) FROM users",
	[S_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
	[S_USER_SET_PASSWORD] =
		"UPDATE users SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
	[S_USER_REHASH] = "UPDATE users SET password_hash = ?2 WHERE id = ?1",
	[S_USER_EPOCH] = "SELECT cred_epoch FROM users WHERE id = ?1",
	[S_USER_EPOCH_BUMP] = "UPDATE users SET cred_epoch = cred_epoch + 1 WHERE id = ?1",
	/* the last-admin rule is the UPDATE's own condition: the new state is an
	 * enabled admin, or another enabled admin exists (tx_users.c) */
	[S_USER_UPDATE] = "UPDATE users SET email = ?2, role = ?3, disabled = ?4, group_names = ?5, display_name = ?6"
	                  " WHERE id = ?1 AND ((?3 = 'admin' AND ?4 = 0) OR EXISTS (SELECT 1 FROM users o"
	                  " WHERE o.id <> ?1 AND o.role = 'admin' AND o.disabled = 0))",
	[S_USER_LAST_ADMIN] = "SELECT 1 FROM users WHERE id = ?1 AND role = 'admin' AND disabled = 0"
	                      " AND NOT EXISTS (SELECT 1 FROM users o"
	                      " WHERE o.id <> ?1 AND o.role = 'admin' AND o.disabled = 0)",
	[S_SESSION_INSERT] =
		"INSERT INTO sessions(id, secret_hash, user_id, created_at, last_seen_at, expires_at,"
		" client_addr, user_agent, factors, second_factor_at, pending)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[S_SESSION_GET] = "SELECT " PC_SESSION_COLS PC_SESSION_FROM " WHERE s.secret_hash = ?1",
	[S_SESSION_EXISTS] = "SELECT 1 FROM sessions WHERE id = ?1",
	[S_SESSION_TOUCH] =
		"UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id = ?1",
	[S_SESSION_LIST] = "SELECT " PC_SESSION_COLS PC_SESSION_FROM
	                   " WHERE s.user_id = ?1 AND s.expires_at > ?2"
	                   " ORDER BY s.created_at DESC, s.id DESC",
	[S_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2",
	/* ?2 NULL: `id IS NOT NULL` holds for every row */
	[S_SESSION_DELETE_ALL] = "DELETE FROM sessions WHERE user_id = ?1 AND id IS NOT ?2",
	[S_RESET_INSERT] = "INSERT INTO reset_tokens(token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
	/* no row locks: BEGIN IMMEDIATE already holds the database's */
	[S_RESET_FIND] = "SELECT user_id FROM reset_tokens"
	                 " WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
	[S_RESET_BURN_USER] =
		"UPDATE reset_tokens SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
	[S_APIKEY_INSERT] =
		"INSERT INTO api_keys(id, name, prefix, secret_hash, created_by, created_at, expires_at,"
		" last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_APIKEY_GET] = "SELECT " PC_APIKEY_COLS PC_APIKEY_FROM " WHERE k.id = ?1",
	[S_APIKEY_GET_BY_PREFIX] = "SELECT " PC_APIKEY_COLS PC_APIKEY_FROM " WHERE k.prefix = ?1",
	[S_APIKEY_LIST] = "SELECT " PC_APIKEY_COLS PC_APIKEY_FROM " ORDER BY k.created_at, k.id",
	[S_APIKEY_RENAME] = "UPDATE api_keys SET name = ?2 WHERE id = ?1",
	[S_APIKEY_DELETE] = "DELETE FROM api_keys WHERE id = ?1",
	[S_APIKEY_TOUCH] =
		"UPDATE api_keys SET last_used_at = max(last_used_at, ?2) WHERE id = ?1",
	[S_APIKEY_REKEY] = "UPDATE api_keys SET secret_hash = ?3 WHERE id = ?1 AND secret_hash = ?2",
	[S_REFRESH_INSERT] = "INSERT INTO refresh_tokens(" PC_REFRESH_COLS ") VALUES"
	                     " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9)",
	[S_REFRESH_GET] = "SELECT " PC_REFRESH_COLS " FROM refresh_tokens WHERE token_hash = ?1",
	[S_REFRESH_GET_LOCK] = "SELECT " PC_REFRESH_COLS " FROM refresh_tokens WHERE token_hash = ?1",
	[S_REFRESH_MARK_USED] =
		"UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
	[S_REFRESH_DELETE_FAMILY] = "DELETE FROM refresh_tokens WHERE family_id = ?1",
	[S_REFRESH_DELETE_SESSION] = "DELETE FROM refresh_tokens WHERE session_id = ?1",
	[S_REFRESH_DELETE_USER] =
		"DELETE FROM refresh_tokens WHERE user_id = ?1 AND session_id IS NOT ?2",
	[S_ACCESS_INSERT] = "INSERT INTO access_tokens(jti, family_id, user_id, session_id, expires_at)"
	                    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_ACCESS_FAMILY_OF] = "SELECT family_id FROM access_tokens WHERE jti = ?1",
	[S_ACCESS_LIVE_FAMILY] = "SELECT jti, expires_at FROM access_tokens"
	                         " WHERE family_id = ?1 AND expires_at > ?2",
	[S_ACCESS_LIVE_SESSION] = "SELECT jti, expires_at FROM access_tokens"
	                          " WHERE session_id = ?1 AND expires_at > ?2",
	[S_ACCESS_LIVE_USER] = "SELECT jti, expires_at FROM access_tokens"
	                       " WHERE user_id = ?1 AND expires_at > ?2 AND session_id IS NOT ?3",
	[S_REVOKED_INSERT] = "INSERT OR IGNORE INTO revoked_tokens(jti, expires_at, seq) "
	                     "VALUES (?1, ?2, (SELECT n FROM revocation_seq WHERE id = 1))",
	[S_REVOCATION_SEQ_BUMP] = "UPDATE revocation_seq SET n = n + 1 WHERE id = 1",
	[S_REVOCATION_SEQ_GET] = "SELECT n FROM revocation_seq WHERE id = 1",
	[S_REVOKED_SINCE] = "SELECT jti, expires_at FROM revoked_tokens"
	                    " WHERE seq > ?1 AND seq <= ?2 AND expires_at > ?3 ORDER BY seq, jti",
	[S_REVOKED_LIST] = "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?1"
	                   " ORDER BY expires_at, jti",
	[S_PURGE_REVOKED] = "DELETE FROM revoked_tokens WHERE expires_at <= ?1",
	[S_PURGE_ACCESS] = "DELETE FROM access_tokens WHERE expires_at <= ?1",
	/* every token of a family carries the family's end */
	[S_PURGE_REFRESH] = "DELETE FROM refresh_tokens WHERE expires_at <= ?1",
	[S_PURGE_SESSIONS] = "DELETE FROM sessions WHERE expires_at <= ?1",
	[S_PURGE_RESET] =
		"DELETE FROM reset_tokens WHERE expires_at <= ?1 OR used_at IS NOT NULL",
	[S_TOTP_INSERT] = "INSERT INTO totp_credentials(id, user_id, secret_sealed, algorithm, digits,"
	                  " period, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_TOTP_GET] = "SELECT " PC_TOTP_COLS " FROM totp_credentials WHERE user_id = ?1",
	[S_TOTP_DELETE_PENDING] = "DELETE FROM totp_credentials WHERE user_id = ?1 AND confirmed = 0",
	[S_TOTP_CONFIRM] = "UPDATE totp_credentials SET confirmed = 1, last_used_step = ?2"
	                   " WHERE id = ?1 AND confirmed = 0 AND last_used_step < ?2",
	[S_TOTP_USE] = "UPDATE totp_credentials SET last_used_step = ?2"
	               " WHERE id = ?1 AND confirmed = 1 AND last_used_step < ?2",
	[S_TOTP_DELETE] = "DELETE FROM totp_credentials WHERE user_id = ?1",
	[S_RECOVERY_DELETE] = "DELETE FROM recovery_codes WHERE user_id = ?1",
	[S_RECOVERY_INSERT] = "INSERT INTO recovery_codes(user_id, code_hash) VALUES (?1, ?2)",
	[S_RECOVERY_SPEND] = "UPDATE recovery_codes SET used_at = ?3"
	                     " WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
	[S_RECOVERY_LEFT] = "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
	[S_REFRESH_FAMILIES] = "SELECT family_id, session_id, min(created_at), max(created_at), max(expires_at),"
	                       " max(factors) FROM refresh_tokens WHERE user_id = ?1 AND expires_at > ?2"
	                       " GROUP BY family_id, session_id ORDER BY 3 DESC, 1 DESC",
	[S_SESSION_DELETE_PENDING] = "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2 AND pending <> 0",
	[S_OUTBOX_INSERT] = "INSERT INTO mail_outbox(id, created_at, kind, recipient, message_sealed, next_attempt_at)"
	                     " VALUES (?1, ?2, ?3, ?4, ?5, ?2)",
	[S_OUTBOX_INSERT_FOR_EMAIL] =
		/* one row whether or not the account exists (the same write either
		 * way); without an enabled account it is born given up and empty */
		"INSERT INTO mail_outbox(id, created_at, kind, recipient, message_sealed, next_attempt_at, failed_at,"
		" last_error) SELECT ?1, ?2, ?3, COALESCE(u.email, ''), CASE WHEN u.email IS NULL THEN '' ELSE ?5 END, ?2,"
		" CASE WHEN u.email IS NULL THEN ?2 END, CASE WHEN u.email IS NULL THEN 'no such account' ELSE '' END"
		" FROM (SELECT 1 AS one) AS one LEFT JOIN users u ON u.email = ?4 AND u.disabled = 0",
	[S_RESET_INSERT_FOR_EMAIL] = "INSERT INTO reset_tokens(token_hash, user_id, expires_at)"
	                              " SELECT ?1, id, ?3 FROM users WHERE email = ?2 AND disabled = 0",
	[S_USER_ID_BY_EMAIL] = "SELECT id FROM users WHERE email = ?1 AND disabled = 0",
	[S_OUTBOX_SENT] = "UPDATE mail_outbox SET sent_at = ?3, message_sealed = '', lease_until = 0, last_error = ''"
	                   " WHERE id = ?1 AND lease_owner = ?2 AND sent_at IS NULL",
	[S_OUTBOX_RETRY] = "UPDATE mail_outbox SET next_attempt_at = ?3, lease_until = 0, last_error = ?4"
	                    " WHERE id = ?1 AND lease_owner = ?2 AND sent_at IS NULL",
	[S_OUTBOX_FAIL] = "UPDATE mail_outbox SET failed_at = ?3, message_sealed = '', lease_until = 0, last_error = ?4"
	                   " WHERE id = ?1 AND lease_owner = ?2 AND sent_at IS NULL",
	[S_OUTBOX_DEPTH] = "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL",
	[S_PURGE_OUTBOX] = "DELETE FROM mail_outbox WHERE sent_at <= ?1 - 604800 OR failed_at <= ?1 - 604800",
	[S_OUTBOX_CLAIM] = "UPDATE mail_outbox SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1"
	                   " WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?3 AND lease_until <= ?3"
	                   " ORDER BY next_attempt_at, created_at LIMIT 1)"
	                   " AND sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?3 AND lease_until <= ?3"
	                   " RETURNING id, recipient, message_sealed, attempts",
	[S_EMAIL_CHANGE_CLEAR] = "DELETE FROM email_changes WHERE user_id = ?1",
	[S_EMAIL_CHANGE_INSERT] = "INSERT INTO email_changes(token_hash, user_id, new_email, expires_at) VALUES (?1, ?2, ?3, ?4)",
	[S_EMAIL_CHANGE_USE] = "UPDATE email_changes SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
	[S_USER_SET_EMAIL] = "UPDATE users SET email = ?2 WHERE id = ?1",
	[S_EMAIL_CHANGE_FIND] = "SELECT user_id, new_email FROM email_changes WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
	[S_PASSKEY_INSERT] = "INSERT INTO passkeys(" PC_PASSKEY_COLS ") VALUES"
	                     " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[S_PASSKEY_LIST] = "SELECT " PC_PASSKEY_COLS " FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id",
	[S_PASSKEY_BY_CRED] = "SELECT " PC_PASSKEY_COLS " FROM passkeys WHERE credential_id = ?1",
	[S_PASSKEY_COUNT] = "SELECT count(*) FROM passkeys WHERE user_id = ?1",
	[S_PASSKEY_RENAME] = "UPDATE passkeys SET name = ?3 WHERE id = ?1 AND user_id = ?2",
	[S_PASSKEY_DELETE] = "DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2",
	[S_PASSKEY_DELETE_USER] = "DELETE FROM passkeys WHERE user_id = ?1",
	[S_PASSKEY_USE] = "UPDATE passkeys SET sign_count = ?3, last_used_at = ?4"
	                  " WHERE id = ?1 AND sign_count = ?2",
	[S_PASSKEY_HANDLE] = "SELECT user_handle FROM passkeys WHERE user_id = ?1 ORDER BY created_at LIMIT 1",
	[S_WA_CHALLENGE_PURGE] = "DELETE FROM webauthn_challenges WHERE expires_at <= ?1",
	[S_WA_CHALLENGE_INSERT] = "INSERT INTO webauthn_challenges(challenge_hash, purpose, binding, expires_at,"
	                          " user_handle) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_WA_CHALLENGE_GET] = "SELECT user_handle FROM webauthn_challenges WHERE challenge_hash = ?1"
	                       " AND purpose = ?2 AND binding = ?3 AND expires_at > ?4",
	[S_WA_CHALLENGE_COUNT] = "SELECT count(*) FROM webauthn_challenges WHERE binding = ?1",
	[S_WA_CHALLENGE_TAKE] = "DELETE FROM webauthn_challenges WHERE challenge_hash = ?1 AND purpose = ?2"
	                        " AND binding = ?3 AND expires_at > ?4",
	[S_OIDC_INSERT] = "INSERT INTO oidc_objects(" PC_OIDC_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_OIDC_GET] = "SELECT " PC_OIDC_COLS " FROM oidc_objects WHERE kind = ?1 AND id = ?2",
	[S_OIDC_LIST] = "SELECT " PC_OIDC_COLS " FROM oidc_objects WHERE kind = ?1 ORDER BY id",
	[S_OIDC_LIST_OWNER] = "SELECT " PC_OIDC_COLS " FROM oidc_objects WHERE kind = ?1 AND owner = ?2 ORDER BY id",
	[S_OIDC_REPLACE] = "UPDATE oidc_objects SET owner = ?3, body = ?4, state = ?5, expires_at = ?6"
	                   " WHERE kind = ?1 AND id = ?2",
	[S_OIDC_DELETE] = "DELETE FROM oidc_objects WHERE kind = ?1 AND id = ?2",
	[S_OIDC_DELETE_OWNER] = "DELETE FROM oidc_objects WHERE kind = ?1 AND owner = ?2",
	[S_OIDC_CLAIM] = "UPDATE oidc_objects SET state = ?4 WHERE kind = ?1 AND id = ?2 AND state = ?3"
	                 " AND expires_at > ?5",
	[S_OIDC_PURGE] = "DELETE FROM oidc_objects WHERE expires_at > 0 AND expires_at <= ?1",
	[S_AUDIT_LAST] = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
	[S_AUDIT_INSERT] = "INSERT INTO audit_events(" PC_EVENT_COLS ") VALUES"
	                   " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	/* one statement: SQLite reads it from one snapshot, whatever writers do */
	[S_AUDIT_ALL] = "SELECT " PC_EVENT_COLS " FROM audit_events ORDER BY seq",
};

/* Transaction control, prepared like the others. */
enum { T_BEGIN, T_COMMIT, T_ROLLBACK, T__COUNT };
static const char *const tx_sql[T__COUNT] = {"BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"};

struct conn {
	struct pc_sql base; /* first: driver.h */
	pthread_t owner;
	sqlite3 *db;
	bool query_only;
	sqlite3_stmt *st[S__COUNT];
	sqlite3_stmt *tx[T__COUNT];
	sqlite3_stmt *cur; /* the open cursor, or NULL */
	struct conn *next;
};

struct sqlite_store {
	struct pc_store base; /* first: driver.h */
	uint64_t gen;
	char *path;           /* absolute, so threads opening later ignore chdir */
	uint8_t *audit_key;   /* sodium_malloc'd, read-only */
	pthread_mutex_t mu;   /* guards conns */
	struct conn *conns;
	atomic_bool query_only;
};

static const struct pc_sql_driver sqlite_driver;

static atomic_uint_fast64_t next_gen = 1;
static _Thread_local struct {
	uint64_t gen;
	struct conn *c;
} tls_conn;

static struct sqlite_store *SQ(struct pc_store *s)
{
	assert(s->drv == &sqlite_driver);
	return (struct sqlite_store *)s;
}

static struct conn *C(struct pc_sql *c)
{
	assert(c->drv == &sqlite_driver);
	return (struct conn *)c;
}

/* ------------------------------------------------------------------ */
/* errors                                                              */

static void log_rc(const char *level, const char *what, int rc)
{
	struct pc_logline l;
	pc_logline_begin(&l, level, "store_sqlite_error");
	pc_logline_str(&l, "op", what);
	pc_logline_int(&l, "code", rc);
	pc_logline_str(&l, "message", sqlite3_errstr(rc));
	pc_logline_emit(&l);
}

PC_MUST_USE static enum pc_err map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return PC_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_FULL:
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_PROTOCOL:
		return PC_ERR_UNAVAILABLE;
	case SQLITE_CONSTRAINT:
		switch (rc) {
		case SQLITE_CONSTRAINT_UNIQUE:
		case SQLITE_CONSTRAINT_PRIMARYKEY:
			return PC_ERR_CONFLICT;
		case SQLITE_CONSTRAINT_FOREIGNKEY:
			return PC_ERR_NOT_FOUND; /* the user it belongs to is gone */
		default:
			return PC_ERR_INTERNAL;
		}
	default:
		return PC_ERR_INTERNAL;
	}
}

/* Maps rc and logs what an operator should see (not conflicts or misses). */
PC_MUST_USE static enum pc_err fail_rc(const char *what, int rc)
{
	enum pc_err e = map_rc(rc);
	if (e == PC_ERR_INTERNAL)
		log_rc("error", what, rc);
	else if (e == PC_ERR_UNAVAILABLE)
		log_rc("warn", what, rc);
	return e;
}

/* ------------------------------------------------------------------ */
/* statements, arguments, cursor                                       */

static int get_stmt(struct conn *c, enum pc_stmt id, sqlite3_stmt **out)
{
	assert(id < S__COUNT);
	if (c->st[id] == NULL) {
		char buf[1024];
		const char *sql = stmt_sql[id < S_AUDIT_LIST ? id : 0];
		if (id >= S_AUDIT_LIST) {
			pc_sql_audit_list_text(buf, sizeof(buf), (unsigned)(id - S_AUDIT_LIST), '?');
			sql = buf;
		}
		int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL);
		if (rc != SQLITE_OK) {
			c->st[id] = NULL;
			*out = NULL;
			return rc;
		}
	}
	*out = c->st[id];
	return SQLITE_OK;
}

static void finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int bind(sqlite3_stmt *st, const struct pc_sql_arg *a, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		int idx = (int)k + 1;
		const struct pc_sql_arg *p = &a[k];
		int rc;
		if (p->kind != PC_SQL_INT && p->kind != PC_SQL_NULL && p->n > INT_MAX)
			return SQLITE_TOOBIG;
		switch (p->kind) {
		case PC_SQL_TEXT:
		case PC_SQL_RAW:
			rc = sqlite3_bind_text(st, idx, p->p, (int)p->n, SQLITE_STATIC);
			break;
		case PC_SQL_BLOB:
			rc = sqlite3_bind_blob(st, idx, p->p, (int)p->n, SQLITE_STATIC);
			break;
		case PC_SQL_INT:
			rc = sqlite3_bind_int64(st, idx, p->i);
			break;
		default:
			rc = sqlite3_bind_null(st, idx);
			break;
		}
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

PC_MUST_USE static enum pc_err sq_query(struct pc_sql *pc, enum pc_stmt id,
                                        const struct pc_sql_arg *a, size_t n)
{
	struct conn *c = C(pc);
	sqlite3_stmt *st;
	assert(c->cur == NULL);
	int rc = get_stmt(c, id, &st);
	if (rc != SQLITE_OK)
		return fail_rc(id < S_AUDIT_LIST ? stmt_sql[id] : "audit list", rc);
	rc = bind(st, a, n);
	if (rc != SQLITE_OK) {
		finish(st);
		return fail_rc(sqlite3_sql(st), rc);
	}
	c->cur = st;
	return PC_OK;
}

PC_MUST_USE static enum pc_err sq_step(struct pc_sql *pc, bool *row)
{
	struct conn *c = C(pc);
	*row = false;
	int rc = sqlite3_step(c->cur);
	if (rc == SQLITE_ROW)
		*row = true;
	else if (rc != SQLITE_DONE)
		return fail_rc(sqlite3_sql(c->cur), rc);
	return PC_OK;
}

static void sq_done(struct pc_sql *pc)
{
	struct conn *c = C(pc);
	if (c->cur != NULL)
		finish(c->cur);
	c->cur = NULL;
}

PC_MUST_USE static enum pc_err sq_exec(struct pc_sql *pc, enum pc_stmt id,
                                       const struct pc_sql_arg *a, size_t n, int64_t *changes)
{
	struct conn *c = C(pc);
	bool row = false;
	enum pc_err e = sq_query(pc, id, a, n);
	if (e == PC_OK)
		e = sq_step(pc, &row);
	if (e == PC_OK && row)
		e = fail_rc(sqlite3_sql(c->cur), SQLITE_MISUSE); /* a statement that returns rows */
	if (e == PC_OK && changes != NULL)
		*changes = sqlite3_changes(c->db);
	sq_done(pc);
	return e;
}

static int sq_col_text(struct pc_sql *pc, int col, char *dst, size_t cap)
{
	sqlite3_stmt *st = C(pc)->cur;
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);
	dst[0] = '\0';
	if (t == NULL || n < 0 || (size_t)n >= cap || memchr(t, '\0', (size_t)n) != NULL)
		return -1;
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 0;
}

static int sq_col_int(struct pc_sql *pc, int col, int64_t *out)
{
	sqlite3_stmt *st = C(pc)->cur;
	*out = 0;
	if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
		return -1;
	*out = sqlite3_column_int64(st, col);
	return 0;
}

static int sq_col_hash(struct pc_sql *pc, int col, uint8_t out[32])
{
	sqlite3_stmt *st = C(pc)->cur;
	memset(out, 0, 32);
	if (sqlite3_column_type(st, col) != SQLITE_BLOB || sqlite3_column_bytes(st, col) != 32)
		return -1;
	const void *b = sqlite3_column_blob(st, col);
	if (b == NULL)
		return -1;
	memcpy(out, b, 32);
	return 0;
}

static bool sq_col_null(struct pc_sql *pc, int col)
{
	return sqlite3_column_type(C(pc)->cur, col) == SQLITE_NULL;
}

/* ------------------------------------------------------------------ */
/* connections                                                         */

static void conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < S__COUNT; i++)
		sqlite3_finalize(c->st[i]);
	for (size_t i = 0; i < T__COUNT; i++)
		sqlite3_finalize(c->tx[i]);
	sqlite3_close(c->db);
	free(c);
}

static int set_pragma_query_only(sqlite3 *db, bool on)
{
	return sqlite3_exec(db, on ? "PRAGMA query_only=ON" : "PRAGMA query_only=OFF", NULL, NULL,
	                    NULL);
}

/* Opens and configures a connection; on failure one line in err. */
static int conn_open(struct sqlite_store *ss, struct conn **out, char *err, size_t errlen)
{
	*out = NULL;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return SQLITE_NOMEM;
	}
	c->base.drv = &sqlite_driver;
	c->base.store = &ss->base;
	c->owner = pthread_self();
	int rc = sqlite3_open_v2(ss->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(c->db, 1);
	/* the busy handler first: the journal-mode switch below may have to wait */
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/* a tampered file must not be able to run code or corrupt memory */
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);

	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *mode = sqlite3_column_text(st, 0);
			rc = mode != NULL && strcmp((const char *)mode, "wal") == 0 ? SQLITE_OK
			                                                            : SQLITE_CANTOPEN;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_exec(c->db,
	                  "PRAGMA foreign_keys=ON;"
	                  "PRAGMA busy_timeout=" STR(BUSY_TIMEOUT_MS) ";"
	                  "PRAGMA synchronous=NORMAL;"
	                  "PRAGMA secure_delete=ON;",
	                  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if (atomic_load(&ss->query_only)) {
		if ((rc = set_pragma_query_only(c->db, true)) != SQLITE_OK)
			goto fail;
		c->query_only = true;
	}
	*out = c;
	return SQLITE_OK;
fail:
	snprintf(err, errlen, "cannot open the SQLite database %s: %s", ss->path,
	         c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
	conn_free(c);
	return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
}

/* This thread's connection, opened on first use. */
PC_MUST_USE static enum pc_err conn_get_err(struct sqlite_store *ss, struct conn **out, char *err,
                                            size_t errlen)
{
	struct conn *c = NULL;
	if (tls_conn.gen == ss->gen && tls_conn.c != NULL) {
		c = tls_conn.c;
	} else {
		pthread_t self = pthread_self();
		pthread_mutex_lock(&ss->mu);
		for (struct conn *it = ss->conns; it != NULL; it = it->next) {
			if (pthread_equal(it->owner, self)) {
				c = it;
				break;
			}
		}
		pthread_mutex_unlock(&ss->mu);
		if (c == NULL) {
			int rc = conn_open(ss, &c, err, errlen);
			if (rc != SQLITE_OK) {
				*out = NULL;
				return map_rc(rc) == PC_ERR_INTERNAL ? PC_ERR_INTERNAL : PC_ERR_UNAVAILABLE;
			}
			pthread_mutex_lock(&ss->mu);
			c->next = ss->conns;
			ss->conns = c;
			pthread_mutex_unlock(&ss->mu);
		}
		tls_conn.gen = ss->gen;
		tls_conn.c = c;
	}
	bool want = atomic_load(&ss->query_only);
	if (c->query_only != want) {
		int rc = set_pragma_query_only(c->db, want);
		if (rc != SQLITE_OK) {
			*out = NULL;
			return fail_rc("PRAGMA query_only", rc);
		}
		c->query_only = want;
	}
	*out = c;
	return PC_OK;
}

PC_MUST_USE static enum pc_err conn_get(struct sqlite_store *ss, struct conn **out)
{
	char err[512] = "";
	enum pc_err e = conn_get_err(ss, out, err, sizeof(err));
	if (e != PC_OK && err[0] != '\0')
		pc_log("error", "store_sqlite_open", err);
	return e;
}

/* ------------------------------------------------------------------ */
/* transactions                                                        */

PC_MUST_USE static enum pc_err tx_exec(struct conn *c, int which)
{
	int rc = SQLITE_OK;
	if (c->tx[which] == NULL)
		rc = sqlite3_prepare_v3(c->db, tx_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
		                        &c->tx[which], NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(c->tx[which]);
		sqlite3_reset(c->tx[which]);
	}
	return rc == SQLITE_OK || rc == SQLITE_DONE ? PC_OK : fail_rc(tx_sql[which], rc);
}

static void tx_rollback(struct conn *c)
{
	/* some errors (full disk, I/O) have already rolled back */
	if (!sqlite3_get_autocommit(c->db) && tx_exec(c, T_ROLLBACK) != PC_OK)
		return; /* logged by tx_exec */
}

/* Runs a script: reads as they come, writes (UPDATE included) between
 * BEGIN IMMEDIATE and COMMIT, rolled back on any failure. */
PC_MUST_USE static enum pc_err sq_run(struct pc_store *s, enum pc_sql_mode mode, pc_sql_script fn,
                                      void *ctx)
{
	struct conn *c;
	enum pc_err e = conn_get(SQ(s), &c);
	if (e != PC_OK)
		return e;
	if (mode == PC_SQL_READ)
		return fn(&c->base, ctx);
	if ((e = tx_exec(c, T_BEGIN)) != PC_OK) {
		tx_rollback(c);
		return e;
	}
	e = fn(&c->base, ctx);
	assert(c->cur == NULL);
	if (e == PC_OK)
		e = tx_exec(c, T_COMMIT);
	if (e != PC_OK)
		tx_rollback(c);
	return e;
}

/* ------------------------------------------------------------------ */
/* open, migrate, close                                                */

/* Query plans. portcullis' queries are written for SQLite's planner
 * without statistics. Statistics gathered while a table was small (an
 * ANALYZE run by hand early on) make the planner treat it as small for
 * good: the audit listing's `seq < ? ORDER BY seq DESC` became a scan of
 * the whole table, 2 s at 10^7 events (bench/store_scale.sh). So where
 * statistics exist they are brought up to date at every open, cheaply
 * (analysis_limit: a few hundred rows per index, milliseconds at 10^7
 * rows); where there are none, none are made. Failing is not fatal: the
 * plans are only slower. */
static void refresh_stats(struct conn *c)
{
	sqlite3_stmt *st = NULL;
	bool have = false;
	if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'",
	                       -1, &st, NULL) == SQLITE_OK)
		have = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (!have)
		return;
	if (sqlite3_exec(c->db, "PRAGMA analysis_limit=400; ANALYZE;", NULL, NULL, NULL) != SQLITE_OK)
		pc_log("warn", "store_sqlite_stats", "cannot refresh the query planner's statistics (ANALYZE)");
	(void)sqlite3_exec(c->db, "PRAGMA analysis_limit=0;", NULL, NULL, NULL);
}

static int migrate(struct conn *c, char *err, size_t errlen)
{
	for (;;) {
		int rc = sqlite3_exec(c->db,
		                      "BEGIN IMMEDIATE;"
		                      "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);",
		                      NULL, NULL, NULL);
		sqlite3_stmt *st = NULL;
		int64_t version = 0, rows = 0;
		if (rc == SQLITE_OK)
			rc = sqlite3_prepare_v2(c->db, "SELECT coalesce(max(version), 0), count(*) FROM schema_version",
			                        -1, &st, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW) {
				version = sqlite3_column_int64(st, 0);
				rows = sqlite3_column_int64(st, 1);
				rc = SQLITE_OK;
			}
		}
		sqlite3_finalize(st);
		st = NULL;
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "cannot read the database schema version: %s",
			         sqlite3_errmsg(c->db));
			tx_rollback(c);
			return -1;
		}
		if (version < 0) {
			snprintf(err, errlen, "database schema version %" PRId64 " is invalid", version);
			tx_rollback(c);
			return -1;
		}
		if (version > PC_SQLITE_SCHEMA_VERSION) {
			snprintf(err, errlen,
			         "database schema version %" PRId64 " is newer than this binary supports (%d)",
			         version, PC_SQLITE_SCHEMA_VERSION);
			tx_rollback(c);
			return -1;
		}
		if (version == PC_SQLITE_SCHEMA_VERSION) {
			rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
			if (rc != SQLITE_OK) {
				snprintf(err, errlen, "cannot commit the schema check: %s", sqlite3_errmsg(c->db));
				tx_rollback(c);
				return -1;
			}
			return 0;
		}
		rc = sqlite3_exec(c->db, pc_sqlite_migrations[version], NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_prepare_v2(c->db,
			                        rows == 0 ? "INSERT INTO schema_version(version) VALUES (?1)"
			                                  : "UPDATE schema_version SET version = ?1",
			                        -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 1, version + 1);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_DONE)
				rc = SQLITE_OK;
		}
		sqlite3_finalize(st);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "cannot apply database migration %" PRId64 ": %s", version + 1,
			         sqlite3_errmsg(c->db));
			tx_rollback(c);
			return -1;
		}
	}
}

static void sq_close(struct pc_store *s)
{
	struct sqlite_store *ss = SQ(s);
	pthread_mutex_lock(&ss->mu);
	struct conn *c = ss->conns;
	ss->conns = NULL;
	pthread_mutex_unlock(&ss->mu);
	while (c != NULL) {
		struct conn *next = c->next;
		conn_free(c);
		c = next;
	}
	if (tls_conn.gen == ss->gen) {
		tls_conn.gen = 0;
		tls_conn.c = NULL;
	}
	pthread_mutex_destroy(&ss->mu);
	sodium_free(ss->audit_key);
	free(ss->path);
	free(ss);
}

/* Creates the file 0600 when absent (SQLite would use 0644 minus umask; its
 * -wal and -shm files copy the database file's mode). */
static int create_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		/* the umask may have taken bits away; make it exactly 0600 */
		int rc = fchmod(fd, 0600);
		int saved = errno;
		close(fd);
		if (rc != 0) {
			snprintf(err, errlen, "cannot set the mode of %s: %s", path, strerror(saved));
			return -1;
		}
		return 0;
	}
	if (errno != EEXIST) {
		snprintf(err, errlen, "cannot create the SQLite database %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat sb;
	if (stat(path, &sb) != 0) {
		snprintf(err, errlen, "cannot open the SQLite database %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "the SQLite database %s is not a regular file", path);
		return -1;
	}
	if ((sb.st_mode & 077) != 0)
		pc_log("warn", "store_file_mode",
		       "the database file is accessible to group or others; chmod 600 it");
	return 0;
}

int pc_store_sqlite_open(struct pc_store **out, const char *path, const uint8_t audit_key[32],
                         char *err, size_t errlen)
{
	*out = NULL;
	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "sqlite: URL without a database path (expected sqlite:PATH)");
		return -1;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return -1;
	}
	if (!sqlite3_threadsafe()) {
		snprintf(err, errlen, "libsqlite3 was built without thread support");
		return -1;
	}
	if (create_file(path, err, errlen) != 0)
		return -1;
	struct sqlite_store *ss = calloc(1, sizeof(*ss));
	if (ss == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ss->base.drv = &sqlite_driver;
	ss->gen = atomic_fetch_add(&next_gen, 1);
	atomic_init(&ss->query_only, false);
	ss->path = realpath(path, NULL);
	ss->audit_key = sodium_malloc(32);
	if (ss->path == NULL || ss->audit_key == NULL || pthread_mutex_init(&ss->mu, NULL) != 0) {
		snprintf(err, errlen, "cannot open the SQLite database %s: %s", path,
		         ss->path == NULL ? strerror(errno) : "out of memory");
		sodium_free(ss->audit_key);
		free(ss->path);
		free(ss);
		return -1;
	}
	memcpy(ss->audit_key, audit_key, 32);
	sodium_mprotect_readonly(ss->audit_key);
	ss->base.audit_key = ss->audit_key;

	struct conn *c;
	if (conn_get_err(ss, &c, err, errlen) != PC_OK || migrate(c, err, errlen) != 0) {
		sq_close(&ss->base);
		return -1;
	}
	refresh_stats(c);
	*out = &ss->base;
	return 0;
}

int pc_store_sqlite_set_query_only(struct pc_store *s, bool on)
{
	if (s == NULL || s->drv != &sqlite_driver)
		return -1;
	atomic_store(&SQ(s)->query_only, on);
	return 0;
}

static const struct pc_sql_driver sqlite_driver = {
	.corrupt_event = "store_sqlite_corrupt",
	.run = sq_run,
	.exec = sq_exec,
	.query = sq_query,
	.step = sq_step,
	.done = sq_done,
	.col_text = sq_col_text,
	.col_int = sq_col_int,
	.col_hash = sq_col_hash,
	.col_null = sq_col_null,
	.close = sq_close,
};
