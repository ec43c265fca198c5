/*
 * sqlite.c — the SQLite backend of store.h ("sqlite:PATH").
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
 * Statements: every statement has an id; each connection prepares it once
 * (SQLITE_PREPARE_PERSISTENT) and resets it and clears its bindings after
 * every use. Every value is a bound parameter; no SQL is ever built from data.
 *
 * Transactions: every write is BEGIN IMMEDIATE ... COMMIT. IMMEDIATE takes
 * the database's single write lock up front (waiting up to the busy timeout),
 * so writers are serialised across threads AND processes: the audit chain
 * stays linear (the tail is read inside the transaction that appends to it),
 * and the setup guard row decides exactly one first user. Any failure rolls
 * back, so a change never lands without its audit event or the reverse.
 *
 * The audit key lives in sodium_malloc'd read-only memory, freed at close.
 * Known limit: a chain cut short at its END (the newest rows deleted) still
 * verifies; only an anchor kept elsewhere (the JSON-lines stream) shows it.
 *
 * Reads from the database are copied into the fixed arrays of store.h with
 * bounds checks: a value too long for its array, an embedded NUL or a hash
 * of the wrong size (a tampered file) is PC_ERR_INTERNAL, never an overflow.
 * pc_store_audit_verify instead reports such a row as the bad event.
 *
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
#include <time.h>
#include <unistd.h>

#include "audit/chain.h"
#include "core/log.h"
#include "store/backend.h"
#include "store/migrations_sqlite.h"

/* How long a writer waits for the write lock before PC_ERR_UNAVAILABLE. */
#define BUSY_TIMEOUT_MS 5000
#define STR_(x) #x
#define STR(x) STR_(x)

#define USER_COLS "id, email, password_hash, created_at, password_changed_at"
#define SESSION_COLS                                                                     \
	"s.id, s.secret_hash, s.user_id, u.email, s.created_at, s.last_seen_at, s.expires_at," \
	" s.client_addr, s.user_agent"
#define SESSION_FROM " FROM sessions s JOIN users u ON u.id = s.user_id"
#define APIKEY_COLS                                                                     \
	"k.id, k.name, k.prefix, k.secret_hash, coalesce(u.id, ''), k.created_at, k.expires_at," \
	" k.last_used_at"
/* created_by reads "" once the creator is gone (no foreign key: keys outlive it) */
#define APIKEY_FROM " FROM api_keys k LEFT JOIN users u ON u.id = k.created_by"
#define REFRESH_COLS                                                                     \
	"token_hash, family_id, user_id, session_id, created_at, expires_at, access_jti," \
	" access_exp, used_at"
#define EVENT_COLS                                                                         \
	"seq, id, time_ms, action, resource_type, resource_id, actor_user_id, actor_email,"    \
	" actor_session_id, auth_method, client_addr, user_agent, details, prev_hash, hash"

/* Audit list filters: one statement per combination so each can use its index. */
#define F_ACTION 1u
#define F_RESOURCE 2u
#define F_ACTOR 4u

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_PING,
	S_GUARD_INSERT,
	S_GUARD_INSERT_OR_IGNORE,
	S_GUARD_GET,
	S_USER_INSERT,
	S_USER_GET,
	S_USER_GET_BY_EMAIL,
	S_USER_LIST,
	S_USER_EXISTS,
	S_USER_COUNT,
	S_USER_DELETE,
	S_USER_SET_PASSWORD,
	S_USER_REHASH,
	S_SESSION_INSERT,
	S_SESSION_GET,
	S_SESSION_TOUCH,
	S_SESSION_LIST,
	S_SESSION_DELETE,
	S_SESSION_DELETE_ALL,
	S_RESET_INSERT,
	S_RESET_FIND,
	S_RESET_BURN_USER,
	S_APIKEY_INSERT,
	S_APIKEY_GET,
	S_APIKEY_GET_BY_PREFIX,
	S_APIKEY_LIST,
	S_APIKEY_RENAME,
	S_APIKEY_DELETE,
	S_APIKEY_TOUCH,
	S_REFRESH_INSERT,
	S_REFRESH_GET,
	S_REFRESH_MARK_USED,
	S_REFRESH_DELETE_FAMILY,
	S_REFRESH_DELETE_SESSION,
	S_REFRESH_DELETE_USER,
	S_ACCESS_INSERT,
	S_ACCESS_FAMILY_OF,
	S_ACCESS_LIVE_FAMILY,
	S_ACCESS_LIVE_SESSION,
	S_ACCESS_LIVE_USER,
	S_REVOKED_INSERT,
	S_REVOKED_LIST,
	S_PURGE_REVOKED,
	S_PURGE_ACCESS,
	S_PURGE_REFRESH,
	S_PURGE_SESSIONS,
	S_PURGE_RESET,
	S_AUDIT_LAST,
	S_AUDIT_INSERT,
	S_AUDIT_ALL,
	S_AUDIT_LIST,                 /* + filter mask: 8 statements */
	S__COUNT = S_AUDIT_LIST + 8,
};

static const char *const stmt_sql[S_AUDIT_LIST] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_PING] = "SELECT 1",
	[S_GUARD_INSERT] = "INSERT INTO setup_guard(id, done_at) VALUES (1, ?1)",
	[S_GUARD_INSERT_OR_IGNORE] = "INSERT OR IGNORE INTO setup_guard(id, done_at) VALUES (1, ?1)",
	[S_GUARD_GET] = "SELECT 1 FROM setup_guard WHERE id = 1",
	[S_USER_INSERT] = "INSERT INTO users(" USER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
	[S_USER_GET_BY_EMAIL] = "SELECT " USER_COLS " FROM users WHERE email = ?1",
	[S_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY created_at, id",
	[S_USER_EXISTS] = "SELECT 1 FROM users WHERE id = ?1",
	[S_USER_COUNT] = "SELECT count(*) FROM users",
	[S_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
	[S_USER_SET_PASSWORD] =
		"UPDATE users SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
	[S_USER_REHASH] = "UPDATE users SET password_hash = ?2 WHERE id = ?1",
	[S_SESSION_INSERT] =
		"INSERT INTO sessions(id, secret_hash, user_id, created_at, last_seen_at, expires_at,"
		" client_addr, user_agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_SESSION_GET] = "SELECT " SESSION_COLS SESSION_FROM " WHERE s.secret_hash = ?1",
	[S_SESSION_TOUCH] =
		"UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id = ?1",
	[S_SESSION_LIST] = "SELECT " SESSION_COLS SESSION_FROM
	                   " WHERE s.user_id = ?1 AND s.expires_at > ?2"
	                   " ORDER BY s.created_at DESC, s.id DESC",
	[S_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2",
	/* ?2 NULL: `id IS NOT NULL` holds for every row */
	[S_SESSION_DELETE_ALL] = "DELETE FROM sessions WHERE user_id = ?1 AND id IS NOT ?2",
	[S_RESET_INSERT] = "INSERT INTO reset_tokens(token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
	[S_RESET_FIND] = "SELECT user_id FROM reset_tokens"
	                 " WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
	[S_RESET_BURN_USER] =
		"UPDATE reset_tokens SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
	[S_APIKEY_INSERT] =
		"INSERT INTO api_keys(id, name, prefix, secret_hash, created_by, created_at, expires_at,"
		" last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_APIKEY_GET] = "SELECT " APIKEY_COLS APIKEY_FROM " WHERE k.id = ?1",
	[S_APIKEY_GET_BY_PREFIX] = "SELECT " APIKEY_COLS APIKEY_FROM " WHERE k.prefix = ?1",
	[S_APIKEY_LIST] = "SELECT " APIKEY_COLS APIKEY_FROM " ORDER BY k.created_at, k.id",
	[S_APIKEY_RENAME] = "UPDATE api_keys SET name = ?2 WHERE id = ?1",
	[S_APIKEY_DELETE] = "DELETE FROM api_keys WHERE id = ?1",
	[S_APIKEY_TOUCH] =
		"UPDATE api_keys SET last_used_at = max(last_used_at, ?2) WHERE id = ?1",
	[S_REFRESH_INSERT] = "INSERT INTO refresh_tokens(" REFRESH_COLS ") VALUES"
	                     " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)",
	[S_REFRESH_GET] = "SELECT " REFRESH_COLS " FROM refresh_tokens WHERE token_hash = ?1",
	[S_REFRESH_MARK_USED] =
		"UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
	[S_REFRESH_DELETE_FAMILY] = "DELETE FROM refresh_tokens WHERE family_id = ?1",
	[S_REFRESH_DELETE_SESSION] = "DELETE FROM refresh_tokens WHERE session_id = ?1",
	[S_REFRESH_DELETE_USER] = "DELETE FROM refresh_tokens WHERE user_id = ?1",
	[S_ACCESS_INSERT] = "INSERT INTO access_tokens(jti, family_id, user_id, session_id, expires_at)"
	                    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_ACCESS_FAMILY_OF] = "SELECT family_id FROM access_tokens WHERE jti = ?1",
	[S_ACCESS_LIVE_FAMILY] = "SELECT jti, expires_at FROM access_tokens"
	                         " WHERE family_id = ?1 AND expires_at > ?2",
	[S_ACCESS_LIVE_SESSION] = "SELECT jti, expires_at FROM access_tokens"
	                          " WHERE session_id = ?1 AND expires_at > ?2",
	[S_ACCESS_LIVE_USER] = "SELECT jti, expires_at FROM access_tokens"
	                       " WHERE user_id = ?1 AND expires_at > ?2",
	[S_REVOKED_INSERT] = "INSERT OR IGNORE INTO revoked_tokens(jti, expires_at) VALUES (?1, ?2)",
	[S_REVOKED_LIST] = "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?1"
	                   " ORDER BY expires_at, jti",
	[S_PURGE_REVOKED] = "DELETE FROM revoked_tokens WHERE expires_at <= ?1",
	[S_PURGE_ACCESS] = "DELETE FROM access_tokens WHERE expires_at <= ?1",
	/* every token of a family carries the family's end */
	[S_PURGE_REFRESH] = "DELETE FROM refresh_tokens WHERE expires_at <= ?1",
	[S_PURGE_SESSIONS] = "DELETE FROM sessions WHERE expires_at <= ?1",
	[S_PURGE_RESET] =
		"DELETE FROM reset_tokens WHERE expires_at <= ?1 OR used_at IS NOT NULL",
	[S_AUDIT_LAST] = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
	[S_AUDIT_INSERT] = "INSERT INTO audit_events(" EVENT_COLS ") VALUES"
	                   " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[S_AUDIT_ALL] = "SELECT " EVENT_COLS " FROM audit_events ORDER BY seq",
};

struct conn {
	pthread_t owner;
	sqlite3 *db;
	bool query_only;
	sqlite3_stmt *st[S__COUNT];
	struct conn *next;
};

struct sqlite_store {
	struct pc_store base; /* first: backend.h */
	uint64_t gen;
	char *path;           /* absolute, so threads opening later ignore chdir */
	uint8_t *audit_key;   /* sodium_malloc'd, read-only */
	pthread_mutex_t mu;   /* guards conns */
	struct conn *conns;
	atomic_bool query_only;
};

static const struct pc_store_ops sqlite_ops;

static atomic_uint_fast64_t next_gen = 1;
static _Thread_local struct {
	uint64_t gen;
	struct conn *c;
} tls_conn;

static struct sqlite_store *SQ(struct pc_store *s)
{
	assert(s->ops == &sqlite_ops);
	return (struct sqlite_store *)s;
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

static enum pc_err map_rc(int rc)
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
static enum pc_err fail_rc(const char *what, int rc)
{
	enum pc_err e = map_rc(rc);
	if (e == PC_ERR_INTERNAL)
		log_rc("error", what, rc);
	else if (e == PC_ERR_UNAVAILABLE)
		log_rc("warn", what, rc);
	return e;
}

static enum pc_err corrupt(const char *what)
{
	struct pc_logline l;
	pc_logline_begin(&l, "error", "store_sqlite_corrupt");
	pc_logline_str(&l, "op", what);
	pc_logline_str(&l, "message", "a stored value does not fit its field");
	pc_logline_emit(&l);
	return PC_ERR_INTERNAL;
}

/* ------------------------------------------------------------------ */
/* statements and parameters                                           */

enum pkind { K_TEXT, K_INT, K_BLOB, K_NULL };

struct param {
	enum pkind kind;
	const void *p;
	size_t n;
	int64_t i;
};

#define TXT(s) {.kind = K_TEXT, .p = (s), .n = strlen(s)}
/* a fixed char array: never read past its end */
#define FIX(a) {.kind = K_TEXT, .p = (a), .n = strnlen((a), sizeof(a))}
#define OPT(s) {.kind = (s) != NULL ? K_TEXT : K_NULL, .p = (s), .n = (s) != NULL ? strlen(s) : 0}
#define INT(v) {.kind = K_INT, .i = (v)}
#define BLOB(b, len) {.kind = K_BLOB, .p = (b), .n = (len)}
#define P(...) (const struct param[]){__VA_ARGS__}, \
	sizeof((const struct param[]){__VA_ARGS__}) / sizeof(struct param)
#define NOP NULL, 0

static void audit_list_sql(char *out, size_t cap, unsigned mask)
{
	snprintf(out, cap, "SELECT " EVENT_COLS " FROM audit_events WHERE seq < ?4%s%s%s"
	         " ORDER BY seq DESC LIMIT ?5",
	         (mask & F_ACTION) ? " AND action = ?1" : "",
	         (mask & F_RESOURCE) ? " AND resource_type = ?2" : "",
	         (mask & F_ACTOR) ? " AND actor_user_id = ?3" : "");
}

static int get_stmt(struct conn *c, enum stmt_id id, sqlite3_stmt **out)
{
	assert(id < S__COUNT);
	if (c->st[id] == NULL) {
		char buf[1024];
		const char *sql = stmt_sql[id < S_AUDIT_LIST ? id : 0];
		if (id >= S_AUDIT_LIST) {
			audit_list_sql(buf, sizeof(buf), (unsigned)(id - S_AUDIT_LIST));
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

static int bind(sqlite3_stmt *st, const struct param *ps, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		int idx = (int)k + 1;
		const struct param *p = &ps[k];
		int rc;
		if ((p->kind == K_TEXT || p->kind == K_BLOB) && p->n > INT_MAX)
			return SQLITE_TOOBIG;
		switch (p->kind) {
		case K_TEXT:
			rc = sqlite3_bind_text(st, idx, p->p, (int)p->n, SQLITE_STATIC);
			break;
		case K_BLOB:
			rc = sqlite3_bind_blob(st, idx, p->p, (int)p->n, SQLITE_STATIC);
			break;
		case K_INT:
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

/* Statement id, bound, ready to step; finish() it after. */
static enum pc_err query(struct conn *c, enum stmt_id id, const struct param *ps, size_t n,
                         sqlite3_stmt **out)
{
	sqlite3_stmt *st;
	*out = NULL;
	int rc = get_stmt(c, id, &st);
	if (rc != SQLITE_OK)
		return fail_rc(id < S_AUDIT_LIST ? stmt_sql[id] : "audit list", rc);
	rc = bind(st, ps, n);
	if (rc != SQLITE_OK) {
		finish(st);
		return fail_rc(sqlite3_sql(st), rc);
	}
	*out = st;
	return PC_OK;
}

/* Runs a statement that returns no rows; *changes: rows it changed. */
static enum pc_err exec(struct conn *c, enum stmt_id id, const struct param *ps, size_t n,
                        int *changes)
{
	sqlite3_stmt *st;
	enum pc_err e = query(c, id, ps, n, &st);
	if (e != PC_OK)
		return e;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		if (changes != NULL)
			*changes = sqlite3_changes(c->db);
		e = PC_OK;
	} else {
		e = fail_rc(sqlite3_sql(st), rc == SQLITE_ROW ? SQLITE_MISUSE : rc);
	}
	finish(st);
	return e;
}

/* ------------------------------------------------------------------ */
/* reading rows                                                        */

/* Copies a TEXT column into dst[cap]: -1 when NULL, too long or holding a NUL. */
static int col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);
	dst[0] = '\0';
	if (t == NULL || n < 0 || (size_t)n >= cap || memchr(t, '\0', (size_t)n) != NULL)
		return -1;
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 0;
}

static int col_hash(sqlite3_stmt *st, int col, uint8_t out[32])
{
	memset(out, 0, 32);
	if (sqlite3_column_type(st, col) != SQLITE_BLOB || sqlite3_column_bytes(st, col) != 32)
		return -1;
	const void *b = sqlite3_column_blob(st, col);
	if (b == NULL)
		return -1;
	memcpy(out, b, 32);
	return 0;
}

#define COL_TEXT(st, col, arr) col_text((st), (col), (arr), sizeof(arr))

static int row_user(sqlite3_stmt *st, struct pc_user *u)
{
	memset(u, 0, sizeof(*u));
	if (COL_TEXT(st, 0, u->id) != 0 || COL_TEXT(st, 1, u->email) != 0 ||
	    COL_TEXT(st, 2, u->password_hash) != 0)
		return -1;
	u->created_at = sqlite3_column_int64(st, 3);
	u->password_changed_at = sqlite3_column_int64(st, 4);
	return 0;
}

static int row_session(sqlite3_stmt *st, struct pc_session *s)
{
	memset(s, 0, sizeof(*s));
	if (COL_TEXT(st, 0, s->id) != 0 || col_hash(st, 1, s->secret_hash) != 0 ||
	    COL_TEXT(st, 2, s->user_id) != 0 || COL_TEXT(st, 3, s->email) != 0 ||
	    COL_TEXT(st, 7, s->client_addr) != 0 || COL_TEXT(st, 8, s->user_agent) != 0)
		return -1;
	s->created_at = sqlite3_column_int64(st, 4);
	s->last_seen_at = sqlite3_column_int64(st, 5);
	s->expires_at = sqlite3_column_int64(st, 6);
	return 0;
}

static int row_event(sqlite3_stmt *st, struct pc_audit_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->seq = sqlite3_column_int64(st, 0);
	ev->time_ms = sqlite3_column_int64(st, 2);
	if (sqlite3_column_type(st, 2) != SQLITE_INTEGER)
		return -1;
	if (COL_TEXT(st, 1, ev->id) != 0 || COL_TEXT(st, 3, ev->action) != 0 ||
	    COL_TEXT(st, 4, ev->resource_type) != 0 || COL_TEXT(st, 5, ev->resource_id) != 0 ||
	    COL_TEXT(st, 6, ev->actor_user_id) != 0 || COL_TEXT(st, 7, ev->actor_email) != 0 ||
	    COL_TEXT(st, 8, ev->actor_session_id) != 0 || COL_TEXT(st, 9, ev->auth_method) != 0 ||
	    COL_TEXT(st, 10, ev->client_addr) != 0 || COL_TEXT(st, 11, ev->user_agent) != 0 ||
	    COL_TEXT(st, 12, ev->details) != 0 || col_hash(st, 13, ev->prev_hash) != 0 ||
	    col_hash(st, 14, ev->hash) != 0)
		return -1;
	return 0;
}

static int row_apikey(sqlite3_stmt *st, struct pc_api_key *k)
{
	memset(k, 0, sizeof(*k));
	if (COL_TEXT(st, 0, k->id) != 0 || COL_TEXT(st, 1, k->name) != 0 ||
	    COL_TEXT(st, 2, k->prefix) != 0 || col_hash(st, 3, k->secret_hash) != 0 ||
	    COL_TEXT(st, 4, k->created_by) != 0)
		return -1;
	k->created_at = sqlite3_column_int64(st, 5);
	k->expires_at = sqlite3_column_int64(st, 6);
	k->last_used_at = sqlite3_column_int64(st, 7);
	return 0;
}

/* *used: whether used_at is set (the struct has no field for it). */
static int row_refresh(sqlite3_stmt *st, struct pc_refresh_token *t, bool *used)
{
	memset(t, 0, sizeof(*t));
	if (col_hash(st, 0, t->token_hash) != 0 || COL_TEXT(st, 1, t->family_id) != 0 ||
	    COL_TEXT(st, 2, t->user_id) != 0 || COL_TEXT(st, 3, t->session_id) != 0 ||
	    COL_TEXT(st, 6, t->access_jti) != 0)
		return -1;
	t->created_at = sqlite3_column_int64(st, 4);
	t->expires_at = sqlite3_column_int64(st, 5);
	t->access_exp = sqlite3_column_int64(st, 7);
	*used = sqlite3_column_type(st, 8) != SQLITE_NULL;
	return 0;
}

static int row_revoked(sqlite3_stmt *st, struct pc_revoked *r)
{
	memset(r, 0, sizeof(*r));
	if (COL_TEXT(st, 0, r->jti) != 0)
		return -1;
	r->expires_at = sqlite3_column_int64(st, 1);
	return 0;
}

/* Grows a malloc'd array to hold one more element; -1 on overflow/OOM. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap == 0 ? 8 : *cap;
	if (ncap > SIZE_MAX / 2 / elem)
		return -1;
	ncap *= 2;
	void *p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ------------------------------------------------------------------ */
/* connections                                                         */

static void conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < S__COUNT; i++)
		sqlite3_finalize(c->st[i]);
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
static enum pc_err conn_get_err(struct sqlite_store *ss, struct conn **out, char *err,
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

static enum pc_err conn_get(struct pc_store *s, struct conn **out)
{
	char err[512] = "";
	enum pc_err e = conn_get_err(SQ(s), out, err, sizeof(err));
	if (e != PC_OK && err[0] != '\0')
		pc_log("error", "store_sqlite_open", err);
	return e;
}

/* ------------------------------------------------------------------ */
/* transactions                                                        */

static void tx_rollback(struct conn *c)
{
	/* some errors (full disk, I/O) have already rolled back */
	if (!sqlite3_get_autocommit(c->db))
		(void)exec(c, S_ROLLBACK, NOP, NULL);
}

static enum pc_err tx_begin(struct conn *c)
{
	return exec(c, S_BEGIN, NOP, NULL);
}

/* Commits when e is PC_OK, else rolls back; returns the outcome. */
static enum pc_err tx_end(struct conn *c, enum pc_err e)
{
	if (e == PC_OK)
		e = exec(c, S_COMMIT, NOP, NULL);
	if (e != PC_OK)
		tx_rollback(c);
	return e;
}

/* Appends ev to the chain; inside a write transaction. */
static enum pc_err append_event(struct sqlite_store *ss, struct conn *c, struct pc_audit_event *ev)
{
	sqlite3_stmt *st;
	enum pc_err e = query(c, S_AUDIT_LAST, NOP, &st);
	if (e != PC_OK)
		return e;
	int64_t last = 0;
	uint8_t prev[32] = {0};
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		if (col_hash(st, 1, prev) != 0 || last < 1 || last == INT64_MAX)
			e = corrupt("audit chain tail");
	} else if (rc != SQLITE_DONE) {
		e = fail_rc(sqlite3_sql(st), rc);
	}
	finish(st);
	if (e != PC_OK)
		return e;
	ev->seq = last + 1;
	memcpy(ev->prev_hash, prev, sizeof(prev));
	pc_audit_chain_hash(ev->hash, ev, ev->prev_hash, ss->audit_key);
	return exec(c, S_AUDIT_INSERT,
	            P(INT(ev->seq), FIX(ev->id), INT(ev->time_ms), FIX(ev->action),
	              FIX(ev->resource_type), FIX(ev->resource_id), FIX(ev->actor_user_id),
	              FIX(ev->actor_email), FIX(ev->actor_session_id), FIX(ev->auth_method),
	              FIX(ev->client_addr), FIX(ev->user_agent), FIX(ev->details),
	              BLOB(ev->prev_hash, 32), BLOB(ev->hash, 32)),
	            NULL);
}

static enum pc_err insert_user(struct conn *c, const struct pc_user *u)
{
	return exec(c, S_USER_INSERT,
	            P(FIX(u->id), FIX(u->email), FIX(u->password_hash), INT(u->created_at),
	              INT(u->password_changed_at)),
	            NULL);
}

static enum pc_err insert_session(struct conn *c, const struct pc_session *s)
{
	return exec(c, S_SESSION_INSERT,
	            P(FIX(s->id), BLOB(s->secret_hash, 32), FIX(s->user_id), INT(s->created_at),
	              INT(s->last_seen_at), INT(s->expires_at), FIX(s->client_addr),
	              FIX(s->user_agent)),
	            NULL);
}

/* Whether a one-row query returned its row. */
static enum pc_err exists(struct conn *c, enum stmt_id id, const struct param *ps, size_t n,
                          bool *found)
{
	sqlite3_stmt *st;
	*found = false;
	enum pc_err e = query(c, id, ps, n, &st);
	if (e != PC_OK)
		return e;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*found = true;
	else if (rc != SQLITE_DONE)
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	return e;
}

/* ------------------------------------------------------------------ */
/* open, migrate, close                                                */

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
	ss->base.ops = &sqlite_ops;
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

	struct conn *c;
	if (conn_get_err(ss, &c, err, errlen) != PC_OK || migrate(c, err, errlen) != 0) {
		sq_close(&ss->base);
		return -1;
	}
	*out = &ss->base;
	return 0;
}

int pc_store_sqlite_set_query_only(struct pc_store *s, bool on)
{
	if (s == NULL || s->ops != &sqlite_ops)
		return -1;
	atomic_store(&SQ(s)->query_only, on);
	return 0;
}

static enum pc_err sq_ping(struct pc_store *s)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	bool found;
	if (e == PC_OK)
		e = exists(c, S_PING, NOP, &found);
	return e;
}

/* ------------------------------------------------------------------ */
/* users                                                               */

static enum pc_err sq_setup(struct pc_store *s, struct pc_audit_event *ev, const struct pc_user *u,
                            const struct pc_session *sess)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	/* the guard's primary key is what lets exactly one caller through */
	e = exec(c, S_GUARD_INSERT, P(INT(u->created_at)), NULL);
	if (e == PC_OK)
		e = insert_user(c, u);
	if (e == PC_OK && sess != NULL)
		e = insert_session(c, sess);
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

static enum pc_err sq_setup_done(struct pc_store *s, bool *done)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e == PC_OK)
		e = exists(c, S_GUARD_GET, NOP, done);
	return e;
}

static enum pc_err sq_user_create(struct pc_store *s, struct pc_audit_event *ev,
                                  const struct pc_user *u)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	/* a user created any way counts as set up */
	e = exec(c, S_GUARD_INSERT_OR_IGNORE, P(INT(u->created_at)), NULL);
	if (e == PC_OK)
		e = insert_user(c, u);
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

static enum pc_err get_one_user(struct pc_store *s, enum stmt_id id, const char *key,
                                struct pc_user *out)
{
	struct conn *c;
	sqlite3_stmt *st;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = query(c, id, P(TXT(key)), &st)) != PC_OK)
		return e;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		e = row_user(st, out) == 0 ? PC_OK : corrupt("users");
	else if (rc == SQLITE_DONE)
		e = PC_ERR_NOT_FOUND;
	else
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	if (e != PC_OK)
		memset(out, 0, sizeof(*out));
	return e;
}

static enum pc_err sq_user_get(struct pc_store *s, const char *id, struct pc_user *out)
{
	return get_one_user(s, S_USER_GET, id, out);
}

static enum pc_err sq_user_get_by_email(struct pc_store *s, const char *email, struct pc_user *out)
{
	return get_one_user(s, S_USER_GET_BY_EMAIL, email, out);
}

static enum pc_err sq_user_list(struct pc_store *s, struct pc_user **out, size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = query(c, S_USER_LIST, NOP, &st)) != PC_OK)
		return e;
	struct pc_user *arr = NULL;
	size_t len = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow((void **)&arr, &cap, len, sizeof(*arr)) != 0) {
			e = PC_ERR_INTERNAL;
			break;
		}
		if (row_user(st, &arr[len]) != 0) {
			e = corrupt("users");
			break;
		}
		len++;
	}
	if (e == PC_OK && rc != SQLITE_DONE)
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	if (e != PC_OK) {
		if (arr != NULL)
			sodium_memzero(arr, cap * sizeof(*arr));
		free(arr);
		return e;
	}
	*out = arr;
	*n = len;
	return PC_OK;
}

static enum pc_err sq_user_delete(struct pc_store *s, struct pc_audit_event *ev, const char *id)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	bool found = false;
	e = exists(c, S_USER_EXISTS, P(TXT(id)), &found);
	if (e == PC_OK && !found)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK) {
		/* counted inside the write transaction: two deletes cannot both
		 * see two users */
		sqlite3_stmt *st;
		e = query(c, S_USER_COUNT, NOP, &st);
		if (e == PC_OK) {
			int rc = sqlite3_step(st);
			if (rc == SQLITE_ROW)
				e = sqlite3_column_int64(st, 0) <= 1 ? PC_ERR_CONFLICT : PC_OK;
			else
				e = fail_rc(sqlite3_sql(st), rc);
			finish(st);
		}
	}
	if (e == PC_OK)
		e = exec(c, S_USER_DELETE, P(TXT(id)), NULL);
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

/* Inside a transaction: the new hash, and every session of the user ends
 * but keep (NULL: all). */
static enum pc_err set_password(struct conn *c, const char *user_id, const char *new_hash,
                                int64_t now, const char *keep)
{
	int changed = 0;
	enum pc_err e = exec(c, S_USER_SET_PASSWORD, P(TXT(user_id), TXT(new_hash), INT(now)), &changed);
	if (e == PC_OK && changed == 0)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = exec(c, S_SESSION_DELETE_ALL, P(TXT(user_id), OPT(keep)), NULL);
	return e;
}

static enum pc_err sq_user_set_password(struct pc_store *s, struct pc_audit_event *ev,
                                        const char *user_id, const char *new_hash,
                                        const char *keep_session)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	e = set_password(c, user_id, new_hash, (int64_t)time(NULL), keep_session);
	if (e == PC_OK && ev != NULL)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

/* A single UPDATE of one row by id, in its own write transaction. */
static enum pc_err update_one(struct pc_store *s, enum stmt_id id, const struct param *ps, size_t n)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	int changed = 0;
	e = exec(c, id, ps, n, &changed);
	if (e == PC_OK && changed == 0)
		e = PC_ERR_NOT_FOUND;
	return tx_end(c, e);
}

static enum pc_err sq_user_rehash(struct pc_store *s, const char *user_id, const char *new_hash)
{
	return update_one(s, S_USER_REHASH, P(TXT(user_id), TXT(new_hash)));
}

/* ------------------------------------------------------------------ */
/* sessions                                                            */

static enum pc_err sq_session_create(struct pc_store *s, struct pc_audit_event *ev,
                                     const struct pc_session *sess)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	e = insert_session(c, sess);
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

static enum pc_err sq_session_get(struct pc_store *s, const uint8_t secret_hash[32],
                                  struct pc_session *out)
{
	struct conn *c;
	sqlite3_stmt *st;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = query(c, S_SESSION_GET, P(BLOB(secret_hash, 32)), &st)) != PC_OK)
		return e;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		e = row_session(st, out) == 0 ? PC_OK : corrupt("sessions");
	else if (rc == SQLITE_DONE)
		e = PC_ERR_NOT_FOUND;
	else
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	if (e != PC_OK)
		memset(out, 0, sizeof(*out));
	return e;
}

static enum pc_err sq_session_touch(struct pc_store *s, const char *id, int64_t last_seen_at)
{
	return update_one(s, S_SESSION_TOUCH, P(TXT(id), INT(last_seen_at)));
}

static enum pc_err sq_session_list(struct pc_store *s, const char *user_id, int64_t now,
                                   struct pc_session **out, size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = query(c, S_SESSION_LIST, P(TXT(user_id), INT(now)), &st)) != PC_OK)
		return e;
	struct pc_session *arr = NULL;
	size_t len = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow((void **)&arr, &cap, len, sizeof(*arr)) != 0) {
			e = PC_ERR_INTERNAL;
			break;
		}
		if (row_session(st, &arr[len]) != 0) {
			e = corrupt("sessions");
			break;
		}
		len++;
	}
	if (e == PC_OK && rc != SQLITE_DONE)
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	if (e != PC_OK) {
		free(arr);
		return e;
	}
	*out = arr;
	*n = len;
	return PC_OK;
}

static enum pc_err sq_session_delete(struct pc_store *s, struct pc_audit_event *ev,
                                     const char *user_id, const char *id)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	int changed = 0;
	e = exec(c, S_SESSION_DELETE, P(TXT(id), TXT(user_id)), &changed);
	if (e == PC_OK && changed == 0)
		e = PC_ERR_NOT_FOUND; /* absent, or another user's: the same answer */
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

static enum pc_err sq_session_delete_all(struct pc_store *s, struct pc_audit_event *ev,
                                         const char *user_id, const char *keep, size_t *ended)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	int changed = 0;
	e = exec(c, S_SESSION_DELETE_ALL, P(TXT(user_id), OPT(keep)), &changed);
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	e = tx_end(c, e);
	if (e == PC_OK)
		*ended = changed > 0 ? (size_t)changed : 0;
	return e;
}

/* ------------------------------------------------------------------ */
/* reset tokens                                                        */

static enum pc_err sq_reset_create(struct pc_store *s, struct pc_audit_event *ev,
                                   const char *user_id, const uint8_t token_hash[32],
                                   int64_t expires_at)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	e = exec(c, S_RESET_INSERT, P(BLOB(token_hash, 32), TXT(user_id), INT(expires_at)), NULL);
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

static enum pc_err sq_reset_redeem(struct pc_store *s, struct pc_audit_event *ev,
                                   const uint8_t token_hash[32], const char *new_hash, int64_t now,
                                   char user_id_out[PC_ID_LEN + 1])
{
	struct conn *c;
	char uid[PC_ID_LEN + 1] = "";
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	sqlite3_stmt *st;
	e = query(c, S_RESET_FIND, P(BLOB(token_hash, 32), INT(now)), &st);
	if (e == PC_OK) {
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			e = COL_TEXT(st, 0, uid) == 0 ? PC_OK : corrupt("reset_tokens");
		else if (rc == SQLITE_DONE)
			e = PC_ERR_NOT_FOUND;
		else
			e = fail_rc(sqlite3_sql(st), rc);
		finish(st);
	}
	/* burn this token and every other outstanding one of the user: a
	 * password just reset must not be resettable by an older link */
	if (e == PC_OK)
		e = exec(c, S_RESET_BURN_USER, P(TXT(uid), INT(now)), NULL);
	if (e == PC_OK)
		e = set_password(c, uid, new_hash, now, NULL);
	if (e == PC_OK) {
		/* the caller could not know whose token it was */
		if (ev->resource_id[0] == '\0')
			memcpy(ev->resource_id, uid, sizeof(uid));
		e = append_event(SQ(s), c, ev);
	}
	e = tx_end(c, e);
	if (e == PC_OK)
		memcpy(user_id_out, uid, sizeof(uid));
	return e;
}

/* ------------------------------------------------------------------ */
/* API keys                                                            */

static enum pc_err sq_apikey_create(struct pc_store *s, struct pc_audit_event *ev,
                                    const struct pc_api_key *k)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	/* the prefix is UNIQUE: a duplicate is PC_ERR_CONFLICT */
	e = exec(c, S_APIKEY_INSERT,
	         P(FIX(k->id), FIX(k->name), FIX(k->prefix), BLOB(k->secret_hash, 32),
	           FIX(k->created_by), INT(k->created_at), INT(k->expires_at), INT(k->last_used_at)),
	         NULL);
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

static enum pc_err get_one_apikey(struct pc_store *s, enum stmt_id id, const char *key,
                                  struct pc_api_key *out)
{
	struct conn *c;
	sqlite3_stmt *st;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = query(c, id, P(TXT(key)), &st)) != PC_OK)
		return e;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		e = row_apikey(st, out) == 0 ? PC_OK : corrupt("api_keys");
	else if (rc == SQLITE_DONE)
		e = PC_ERR_NOT_FOUND;
	else
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	if (e != PC_OK)
		memset(out, 0, sizeof(*out));
	return e;
}

static enum pc_err sq_apikey_get(struct pc_store *s, const char *id, struct pc_api_key *out)
{
	return get_one_apikey(s, S_APIKEY_GET, id, out);
}

static enum pc_err sq_apikey_get_by_prefix(struct pc_store *s, const char *prefix,
                                           struct pc_api_key *out)
{
	return get_one_apikey(s, S_APIKEY_GET_BY_PREFIX, prefix, out);
}

static enum pc_err sq_apikey_list(struct pc_store *s, struct pc_api_key **out, size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = query(c, S_APIKEY_LIST, NOP, &st)) != PC_OK)
		return e;
	struct pc_api_key *arr = NULL;
	size_t len = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow((void **)&arr, &cap, len, sizeof(*arr)) != 0) {
			e = PC_ERR_INTERNAL;
			break;
		}
		if (row_apikey(st, &arr[len]) != 0) {
			e = corrupt("api_keys");
			break;
		}
		len++;
	}
	if (e == PC_OK && rc != SQLITE_DONE)
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	if (e != PC_OK) {
		if (arr != NULL)
			sodium_memzero(arr, cap * sizeof(*arr));
		free(arr);
		return e;
	}
	*out = arr;
	*n = len;
	return PC_OK;
}

/* One statement that must change exactly the row named by id, and its
 * event, in one write transaction. */
static enum pc_err change_one(struct pc_store *s, struct pc_audit_event *ev, enum stmt_id id,
                              const struct param *ps, size_t n)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	int changed = 0;
	e = exec(c, id, ps, n, &changed);
	if (e == PC_OK && changed == 0)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

static enum pc_err sq_apikey_rename(struct pc_store *s, struct pc_audit_event *ev, const char *id,
                                    const char *name)
{
	return change_one(s, ev, S_APIKEY_RENAME, P(TXT(id), TXT(name)));
}

static enum pc_err sq_apikey_delete(struct pc_store *s, struct pc_audit_event *ev, const char *id)
{
	return change_one(s, ev, S_APIKEY_DELETE, P(TXT(id)));
}

static enum pc_err sq_apikey_touch(struct pc_store *s, const char *id, int64_t last_used_at)
{
	return update_one(s, S_APIKEY_TOUCH, P(TXT(id), INT(last_used_at)));
}

/* ------------------------------------------------------------------ */
/* refresh and access tokens, revocation                               */

/* The jtis a call revokes, in the order found. */
struct revoked_vec {
	struct pc_revoked *v;
	size_t n, cap;
};

static enum pc_err vec_push(struct revoked_vec *rv, const char *jti, int64_t exp)
{
	size_t len = strlen(jti);
	if (len > PC_JTI_MAX)
		return PC_ERR_INTERNAL;
	if (grow((void **)&rv->v, &rv->cap, rv->n, sizeof(*rv->v)) != 0)
		return PC_ERR_INTERNAL;
	struct pc_revoked *r = &rv->v[rv->n++];
	memset(r, 0, sizeof(*r));
	memcpy(r->jti, jti, len);
	r->expires_at = exp;
	return PC_OK;
}

/* Hands the vector to the caller on success, frees it otherwise. */
static enum pc_err vec_out(struct revoked_vec *rv, enum pc_err e, struct pc_revoked **out,
                           size_t *n)
{
	if (e != PC_OK) {
		free(rv->v);
		*rv = (struct revoked_vec){0};
		return e;
	}
	*out = rv->v;
	*n = rv->n;
	*rv = (struct revoked_vec){0};
	return PC_OK;
}

/* Appends the (jti, expires_at) rows of a query to rv, but skip. */
static enum pc_err collect_revoked(struct conn *c, enum stmt_id id, const struct param *ps,
                                   size_t n, const char *skip, struct revoked_vec *rv)
{
	sqlite3_stmt *st;
	enum pc_err e = query(c, id, ps, n, &st);
	if (e != PC_OK)
		return e;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow((void **)&rv->v, &rv->cap, rv->n, sizeof(*rv->v)) != 0) {
			e = PC_ERR_INTERNAL;
			break;
		}
		if (row_revoked(st, &rv->v[rv->n]) != 0) {
			e = corrupt(id == S_REVOKED_LIST ? "revoked_tokens" : "access_tokens");
			break;
		}
		if (skip == NULL || strcmp(rv->v[rv->n].jti, skip) != 0)
			rv->n++;
	}
	if (e == PC_OK && rc != SQLITE_DONE)
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	return e;
}

/* Inside a transaction: every unexpired recorded access jti of the family
 * (but skip) goes into rv, and the family's refresh tokens are deleted, so
 * any later presentation of one is PC_ERR_NOT_FOUND. */
static enum pc_err revoke_family(struct conn *c, const char *family_id, int64_t now,
                                 const char *skip, struct revoked_vec *rv)
{
	enum pc_err e =
		collect_revoked(c, S_ACCESS_LIVE_FAMILY, P(TXT(family_id), INT(now)), skip, rv);
	if (e == PC_OK)
		e = exec(c, S_REFRESH_DELETE_FAMILY, P(TXT(family_id)), NULL);
	return e;
}

/* Inside a transaction: puts every jti of rv on the revocation list (an
 * entry already there stays as it is). */
static enum pc_err insert_revoked(struct conn *c, const struct revoked_vec *rv)
{
	enum pc_err e = PC_OK;
	for (size_t i = 0; i < rv->n && e == PC_OK; i++)
		e = exec(c, S_REVOKED_INSERT, P(FIX(rv->v[i].jti), INT(rv->v[i].expires_at)), NULL);
	return e;
}

/* Inside a transaction: the refresh token and the access token issued with it. */
static enum pc_err insert_refresh(struct conn *c, const struct pc_refresh_token *t)
{
	enum pc_err e = exec(c, S_REFRESH_INSERT,
	                     P(BLOB(t->token_hash, 32), FIX(t->family_id), FIX(t->user_id),
	                       FIX(t->session_id), INT(t->created_at), INT(t->expires_at),
	                       FIX(t->access_jti), INT(t->access_exp)),
	                     NULL);
	if (e == PC_OK)
		e = exec(c, S_ACCESS_INSERT,
		         P(FIX(t->access_jti), FIX(t->family_id), FIX(t->user_id), FIX(t->session_id),
		           INT(t->access_exp)),
		         NULL);
	return e;
}

static enum pc_err get_refresh(struct conn *c, const uint8_t token_hash[32],
                               struct pc_refresh_token *out, bool *used)
{
	sqlite3_stmt *st;
	*used = false;
	enum pc_err e = query(c, S_REFRESH_GET, P(BLOB(token_hash, 32)), &st);
	if (e != PC_OK)
		return e;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		e = row_refresh(st, out, used) == 0 ? PC_OK : corrupt("refresh_tokens");
	else if (rc == SQLITE_DONE)
		e = PC_ERR_NOT_FOUND;
	else
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	if (e != PC_OK)
		memset(out, 0, sizeof(*out));
	return e;
}

static enum pc_err sq_refresh_create(struct pc_store *s, struct pc_audit_event *ev,
                                     const struct pc_refresh_token *t)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	/* the user's foreign key: a user that is gone is PC_ERR_NOT_FOUND */
	e = insert_refresh(c, t);
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

static void clear_event(struct pc_audit_event *ev)
{
	ev->seq = 0;
	memset(ev->prev_hash, 0, sizeof(ev->prev_hash));
	memset(ev->hash, 0, sizeof(ev->hash));
}

static enum pc_err sq_refresh_rotate(struct pc_store *s, struct pc_audit_event *ev,
                                     struct pc_audit_event *reuse_ev, const uint8_t old_hash[32],
                                     int64_t now, struct pc_refresh_token *next,
                                     struct pc_refresh_token *old, struct pc_revoked **revoked,
                                     size_t *n_revoked)
{
	struct conn *c;
	struct pc_refresh_token cur, nx = *next;
	struct revoked_vec rv = {0};
	bool used = false;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	/* BEGIN IMMEDIATE holds the write lock from the read on: of two
	 * rotations of one token, the second waits and then finds it used */
	e = get_refresh(c, old_hash, &cur, &used);
	if (e == PC_OK && cur.expires_at <= now)
		e = PC_ERR_NOT_FOUND; /* the family has ended */
	if (e == PC_OK && used) {
		/* reuse: a stolen token was replayed, by the thief or by its
		 * owner; the whole family goes, the new token of whoever
		 * rotated first included */
		e = revoke_family(c, cur.family_id, now, NULL, &rv);
		if (e == PC_OK)
			e = insert_revoked(c, &rv);
		if (e == PC_OK)
			e = append_event(SQ(s), c, reuse_ev);
		e = tx_end(c, e);
		if (e != PC_OK) {
			clear_event(reuse_ev);
			return vec_out(&rv, e, revoked, n_revoked);
		}
		(void)vec_out(&rv, PC_OK, revoked, n_revoked);
		return PC_ERR_CONFLICT;
	}
	if (e == PC_OK) {
		int changed = 0;
		e = exec(c, S_REFRESH_MARK_USED, P(BLOB(old_hash, 32), INT(now)), &changed);
		if (e == PC_OK && changed != 1)
			e = PC_ERR_INTERNAL; /* cannot happen under the write lock */
	}
	if (e == PC_OK) {
		memcpy(nx.family_id, cur.family_id, sizeof(nx.family_id));
		memcpy(nx.user_id, cur.user_id, sizeof(nx.user_id));
		memcpy(nx.session_id, cur.session_id, sizeof(nx.session_id));
		nx.expires_at = cur.expires_at; /* rotation does not extend the family */
		e = insert_refresh(c, &nx);
	}
	if (e == PC_OK)
		e = append_event(SQ(s), c, ev);
	e = tx_end(c, e);
	if (e == PC_OK) {
		*next = nx;
		*old = cur;
	}
	return e;
}

static enum pc_err sq_refresh_get(struct pc_store *s, const uint8_t token_hash[32],
                                  struct pc_refresh_token *out)
{
	struct conn *c;
	bool used;
	enum pc_err e = conn_get(s, &c);
	if (e == PC_OK)
		e = get_refresh(c, token_hash, out, &used);
	return e;
}

/* The family the access token jti was issued with; "" when not recorded. */
static enum pc_err family_of(struct conn *c, const char *jti, char fam[PC_ID_LEN + 1])
{
	sqlite3_stmt *st;
	fam[0] = '\0';
	enum pc_err e = query(c, S_ACCESS_FAMILY_OF, P(TXT(jti)), &st);
	if (e != PC_OK)
		return e;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		e = col_text(st, 0, fam, PC_ID_LEN + 1) == 0 ? PC_OK : corrupt("access_tokens");
	else if (rc != SQLITE_DONE)
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	return e;
}

static enum pc_err sq_tokens_revoke(struct pc_store *s, struct pc_audit_event *ev, const char *jti,
                                    int64_t jti_exp, const char *family_id,
                                    const char *session_id, const char *user_id, int64_t now,
                                    struct pc_revoked **revoked, size_t *n_revoked)
{
	struct conn *c;
	struct revoked_vec rv = {0};
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	if (jti != NULL) {
		char fam[PC_ID_LEN + 1];
		e = vec_push(&rv, jti, jti_exp);
		if (e == PC_OK)
			e = family_of(c, jti, fam);
		if (e == PC_OK && fam[0] != '\0')
			e = revoke_family(c, fam, now, jti, &rv);
	} else if (family_id != NULL) {
		e = revoke_family(c, family_id, now, NULL, &rv);
	} else if (session_id != NULL) {
		/* every token of a family carries the session it was issued from */
		e = collect_revoked(c, S_ACCESS_LIVE_SESSION, P(TXT(session_id), INT(now)), NULL, &rv);
		if (e == PC_OK)
			e = exec(c, S_REFRESH_DELETE_SESSION, P(TXT(session_id)), NULL);
	} else {
		e = collect_revoked(c, S_ACCESS_LIVE_USER, P(TXT(user_id), INT(now)), NULL, &rv);
		if (e == PC_OK)
			e = exec(c, S_REFRESH_DELETE_USER, P(TXT(user_id)), NULL);
	}
	if (e == PC_OK)
		e = insert_revoked(c, &rv);
	if (e == PC_OK && ev != NULL)
		e = append_event(SQ(s), c, ev);
	e = tx_end(c, e);
	return vec_out(&rv, e, revoked, n_revoked);
}

static enum pc_err sq_revoked_list(struct pc_store *s, int64_t now, struct pc_revoked **out,
                                   size_t *n)
{
	struct conn *c;
	struct revoked_vec rv = {0};
	enum pc_err e = conn_get(s, &c);
	if (e == PC_OK)
		e = collect_revoked(c, S_REVOKED_LIST, P(INT(now)), NULL, &rv);
	return vec_out(&rv, e, out, n);
}

static enum pc_err sq_tokens_purge(struct pc_store *s, int64_t now, size_t *purged)
{
	static const enum stmt_id purges[] = {S_PURGE_REVOKED, S_PURGE_ACCESS, S_PURGE_REFRESH,
	                                      S_PURGE_SESSIONS, S_PURGE_RESET};
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	size_t total = 0;
	for (size_t i = 0; i < sizeof(purges) / sizeof(purges[0]) && e == PC_OK; i++) {
		int changed = 0;
		e = exec(c, purges[i], P(INT(now)), &changed);
		if (e == PC_OK && changed > 0)
			total += (size_t)changed;
	}
	e = tx_end(c, e);
	if (e == PC_OK)
		*purged = total;
	return e;
}

/* ------------------------------------------------------------------ */
/* audit                                                               */

static enum pc_err sq_audit_append(struct pc_store *s, struct pc_audit_event *ev)
{
	struct conn *c;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = tx_begin(c)) != PC_OK)
		return e;
	e = append_event(SQ(s), c, ev);
	return tx_end(c, e);
}

static enum pc_err sq_audit_list(struct pc_store *s, const struct pc_audit_filter *f,
                                 struct pc_audit_event **out, size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st;
	unsigned mask = (f->action != NULL ? F_ACTION : 0) | (f->resource_type != NULL ? F_RESOURCE : 0) |
	                (f->user_id != NULL ? F_ACTOR : 0);
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK)
		return e;
	e = query(c, (enum stmt_id)(S_AUDIT_LIST + mask),
	          P(OPT(f->action), OPT(f->resource_type), OPT(f->user_id),
	            INT(f->before_seq > 0 ? f->before_seq : INT64_MAX), INT((int64_t)f->limit)),
	          &st);
	if (e != PC_OK)
		return e;
	struct pc_audit_event *arr = calloc(f->limit, sizeof(*arr));
	size_t len = 0;
	int rc = SQLITE_DONE;
	if (arr == NULL)
		e = PC_ERR_INTERNAL;
	while (e == PC_OK && len < f->limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row_event(st, &arr[len]) != 0)
			e = corrupt("audit_events");
		else
			len++;
	}
	if (e == PC_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	if (e != PC_OK) {
		free(arr);
		return e;
	}
	*out = arr;
	*n = len;
	return PC_OK;
}

static enum pc_err sq_audit_verify(struct pc_store *s, int64_t *checked, int64_t *bad_seq)
{
	struct sqlite_store *ss = SQ(s);
	struct conn *c;
	sqlite3_stmt *st;
	enum pc_err e = conn_get(s, &c);
	if (e != PC_OK || (e = query(c, S_AUDIT_ALL, NOP, &st)) != PC_OK)
		return e;
	/* one statement: SQLite reads it from one snapshot, whatever writers do */
	uint8_t prev[32] = {0}, h[32];
	int64_t expect = 1;
	struct pc_audit_event ev;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		/* a row that cannot even be read back was not written by us */
		bool ok = seq == expect && row_event(st, &ev) == 0 &&
		          sodium_memcmp(ev.prev_hash, prev, sizeof(prev)) == 0;
		if (ok) {
			pc_audit_chain_hash(h, &ev, prev, ss->audit_key);
			ok = sodium_memcmp(h, ev.hash, sizeof(h)) == 0;
		}
		if (!ok) {
			*bad_seq = seq;
			e = PC_ERR_CONFLICT;
			break;
		}
		memcpy(prev, ev.hash, sizeof(prev));
		(*checked)++;
		expect++;
	}
	if (e == PC_OK && rc != SQLITE_DONE)
		e = fail_rc(sqlite3_sql(st), rc);
	finish(st);
	return e;
}

static const struct pc_store_ops sqlite_ops = {
	.close = sq_close,
	.ping = sq_ping,
	.setup = sq_setup,
	.setup_done = sq_setup_done,
	.user_create = sq_user_create,
	.user_get = sq_user_get,
	.user_get_by_email = sq_user_get_by_email,
	.user_list = sq_user_list,
	.user_delete = sq_user_delete,
	.user_set_password = sq_user_set_password,
	.user_rehash = sq_user_rehash,
	.session_create = sq_session_create,
	.session_get = sq_session_get,
	.session_touch = sq_session_touch,
	.session_list = sq_session_list,
	.session_delete = sq_session_delete,
	.session_delete_all = sq_session_delete_all,
	.reset_create = sq_reset_create,
	.reset_redeem = sq_reset_redeem,
	.apikey_create = sq_apikey_create,
	.apikey_get = sq_apikey_get,
	.apikey_get_by_prefix = sq_apikey_get_by_prefix,
	.apikey_list = sq_apikey_list,
	.apikey_rename = sq_apikey_rename,
	.apikey_delete = sq_apikey_delete,
	.apikey_touch = sq_apikey_touch,
	.refresh_create = sq_refresh_create,
	.refresh_rotate = sq_refresh_rotate,
	.refresh_get = sq_refresh_get,
	.tokens_revoke = sq_tokens_revoke,
	.revoked_list = sq_revoked_list,
	.tokens_purge = sq_tokens_purge,
	.audit_append = sq_audit_append,
	.audit_list = sq_audit_list,
	.audit_verify = sq_audit_verify,
};
