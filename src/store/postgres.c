/*
 * postgres.c — the PostgreSQL backend of store.h ("postgresql://..." or
 * "postgres://...", libpq's connection URI, passed to libpq unchanged).
 *
 * Connections: one per thread, like sqlite.c (the store is called from the
 * worker pool and the command line only, so this is a small, bounded pool:
 * at most PG_MAX_CONNS per store). A connection is opened on first use with
 * client_encoding UTF8 and lock_timeout PG_LOCK_TIMEOUT, kept in a
 * mutex-protected list that pc_store_close walks, and found again through a
 * thread-local cache keyed by the store's generation number. A connection
 * found broken (PQstatus not CONNECTION_OK) is PQreset once; if that fails
 * the call answers PC_ERR_UNAVAILABLE and the next call tries again.
 *
 * Statements: every statement has an id and is PQprepare'd once per
 * connection, on first use, with the parameter types of its arguments;
 * values are always parameters (text, or binary for BYTEA), never SQL text.
 * Results are read in binary format and copied into the fixed arrays of
 * store.h with bounds checks (too long, a NUL, a hash of the wrong size:
 * PC_ERR_INTERNAL, or the bad event for pc_store_audit_verify).
 *
 * Transactions: every write of more than one statement runs in
 *   BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(W)
 * where W is one constant per database: writers are serialised across
 * threads AND instances, exactly like SQLite's BEGIN IMMEDIATE, and each
 * statement after the lock sees every earlier writer's commit. So the audit
 * chain stays linear (its tail is read under the lock), the last-user check
 * of user_delete and every read-then-write is race-free, and the behaviour
 * is the SQLite backend's. The isolation level is explicit so a server
 * default of REPEATABLE READ cannot hand us a snapshot older than the lock.
 * Defence in depth where a race would be a security bug: the setup guard's
 * primary key still decides the first user (a second inserter waits on the
 * unique index and fails with 23505), refresh rotation and reset redemption
 * lock their row (FOR UPDATE) and mark it used with `WHERE used_at IS NULL`,
 * checking the rows changed. Single-statement writes (touch, rehash) run in
 * autocommit without the lock.
 * Cost: one writer at a time per database, each holding the lock for its
 * round trips; a write costs about (statements + 3) round trips.
 *
 * Errors: 23505 unique -> PC_ERR_CONFLICT, 23503 foreign key ->
 * PC_ERR_NOT_FOUND, connection loss (class 08, 57P01-03), read-only (25006),
 * lock timeout (55P03), resources (53), system (58) -> PC_ERR_UNAVAILABLE;
 * serialisation failure and deadlock (40001, 40P01) retry the whole
 * transaction up to PG_TX_RETRIES times, then PC_ERR_UNAVAILABLE; anything
 * else PC_ERR_INTERNAL. A connection lost before COMMIT was sent is reset
 * and the call retried once (the server rolled the transaction back); one
 * lost during COMMIT answers PC_ERR_UNAVAILABLE (the outcome is unknown).
 *
 * Secrets: the URL (which may hold the password) lives in sodium_malloc'd
 * read-only memory; messages name it masked (pc_url_mask) and have
 * the password scrubbed from anything libpq says. Logged errors carry the
 * statement's SQL (placeholders only), the SQLSTATE and the server's primary
 * message, except for data exceptions (class 22), whose messages may quote
 * a value. libpq itself still reads PG* variables and ~/.pgpass.
 *
 * Migrations run at open in their own transactions under a second advisory
 * lock (M); a schema newer than this binary knows refuses to open.
 */
#include <assert.h>
#include <endian.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/chain.h"
#include "config/config.h"
#include "core/log.h"
#include "core/url.h"
#include "store/backend.h"
#include "store/migrations_postgres.h"
#include "store/pq.h"

/* How long a statement waits for a lock (the write lock included) before
 * PC_ERR_UNAVAILABLE: SQLite's busy timeout. */
#define PG_LOCK_TIMEOUT "5s"
/* Default connect timeout in seconds; the URL's connect_timeout wins. */
#define PG_CONNECT_TIMEOUT "5"
/* Connections per store: one per calling thread (libuv's pool of 4, the
 * main thread, the command line); more means threads are leaking. */
#define PG_MAX_CONNS 64
/* Whole-transaction retries after 40001/40P01. */
#define PG_TX_RETRIES 5

/* Advisory lock keys ("PCSTWRIT", "PCSTMIGR"). */
#define LOCK_WRITE "x'5043535457524954'::bigint"
#define LOCK_MIGRATE "x'504353544D494752'::bigint"
#define BEGIN_SQL "BEGIN ISOLATION LEVEL READ COMMITTED"

/* pg_type OIDs (catalog/pg_type_d.h is a server header) */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25

#define MAX_PARAMS 16

#define USER_COLS "id, email, password_hash, created_at, password_changed_at"
#define SESSION_COLS                                                                     \
	"s.id, s.secret_hash, s.user_id, u.email, s.created_at, s.last_seen_at, s.expires_at," \
	" s.client_addr, s.user_agent"
#define SESSION_FROM " FROM sessions s JOIN users u ON u.id = s.user_id"
#define APIKEY_COLS                                                                     \
	"k.id, k.name, k.prefix, k.secret_hash, coalesce(u.id, ''), k.created_at, k.expires_at," \
	" k.last_used_at"
#define APIKEY_FROM " FROM api_keys k LEFT JOIN users u ON u.id = k.created_by"
#define REFRESH_COLS                                                                     \
	"token_hash, family_id, user_id, session_id, created_at, expires_at, access_jti," \
	" access_exp, used_at"
#define EVENT_COLS                                                                         \
	"seq, id, time_ms, action, resource_type, resource_id, actor_user_id, actor_email,"    \
	" actor_session_id, auth_method, client_addr, user_agent, details, prev_hash, hash"

#define F_ACTION 1u
#define F_RESOURCE 2u
#define F_ACTOR 4u

enum stmt_id {
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
	S_REFRESH_GET_LOCK,
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
	[S_PING] = "SELECT 1",
	[S_GUARD_INSERT] = "INSERT INTO setup_guard(id, done_at) VALUES (1, $1)",
	[S_GUARD_INSERT_OR_IGNORE] =
		"INSERT INTO setup_guard(id, done_at) VALUES (1, $1) ON CONFLICT DO NOTHING",
	[S_GUARD_GET] = "SELECT 1 FROM setup_guard WHERE id = 1",
	[S_USER_INSERT] = "INSERT INTO users(" USER_COLS ") VALUES ($1, $2, $3, $4, $5)",
	[S_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = $1",
	[S_USER_GET_BY_EMAIL] = "SELECT " USER_COLS " FROM users WHERE email = $1",
	[S_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY created_at, id",
	[S_USER_EXISTS] = "SELECT 1 FROM users WHERE id = $1",
	[S_USER_COUNT] = "SELECT count(*) FROM users",
	[S_USER_DELETE] = "DELETE FROM users WHERE id = $1",
	[S_USER_SET_PASSWORD] =
		"UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1",
	[S_USER_REHASH] = "UPDATE users SET password_hash = $2 WHERE id = $1",
	[S_SESSION_INSERT] =
		"INSERT INTO sessions(id, secret_hash, user_id, created_at, last_seen_at, expires_at,"
		" client_addr, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	[S_SESSION_GET] = "SELECT " SESSION_COLS SESSION_FROM " WHERE s.secret_hash = $1",
	[S_SESSION_TOUCH] =
		"UPDATE sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1",
	[S_SESSION_LIST] = "SELECT " SESSION_COLS SESSION_FROM
	                   " WHERE s.user_id = $1 AND s.expires_at > $2"
	                   " ORDER BY s.created_at DESC, s.id DESC",
	[S_SESSION_DELETE] = "DELETE FROM sessions WHERE id = $1 AND user_id = $2",
	/* $2 NULL: every session of the user */
	[S_SESSION_DELETE_ALL] = "DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2",
	[S_RESET_INSERT] = "INSERT INTO reset_tokens(token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
	[S_RESET_FIND] = "SELECT user_id FROM reset_tokens"
	                 " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE",
	[S_RESET_BURN_USER] =
		"UPDATE reset_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
	[S_APIKEY_INSERT] =
		"INSERT INTO api_keys(id, name, prefix, secret_hash, created_by, created_at, expires_at,"
		" last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	[S_APIKEY_GET] = "SELECT " APIKEY_COLS APIKEY_FROM " WHERE k.id = $1",
	[S_APIKEY_GET_BY_PREFIX] = "SELECT " APIKEY_COLS APIKEY_FROM " WHERE k.prefix = $1",
	[S_APIKEY_LIST] = "SELECT " APIKEY_COLS APIKEY_FROM " ORDER BY k.created_at, k.id",
	[S_APIKEY_RENAME] = "UPDATE api_keys SET name = $2 WHERE id = $1",
	[S_APIKEY_DELETE] = "DELETE FROM api_keys WHERE id = $1",
	[S_APIKEY_TOUCH] =
		"UPDATE api_keys SET last_used_at = greatest(last_used_at, $2) WHERE id = $1",
	[S_REFRESH_INSERT] = "INSERT INTO refresh_tokens(" REFRESH_COLS ") VALUES"
	                     " ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
	[S_REFRESH_GET] = "SELECT " REFRESH_COLS " FROM refresh_tokens WHERE token_hash = $1",
	[S_REFRESH_GET_LOCK] =
		"SELECT " REFRESH_COLS " FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
	[S_REFRESH_MARK_USED] =
		"UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
	[S_REFRESH_DELETE_FAMILY] = "DELETE FROM refresh_tokens WHERE family_id = $1",
	[S_REFRESH_DELETE_SESSION] = "DELETE FROM refresh_tokens WHERE session_id = $1",
	[S_REFRESH_DELETE_USER] = "DELETE FROM refresh_tokens WHERE user_id = $1",
	[S_ACCESS_INSERT] = "INSERT INTO access_tokens(jti, family_id, user_id, session_id, expires_at)"
	                    " VALUES ($1, $2, $3, $4, $5)",
	[S_ACCESS_FAMILY_OF] = "SELECT family_id FROM access_tokens WHERE jti = $1",
	[S_ACCESS_LIVE_FAMILY] = "SELECT jti, expires_at FROM access_tokens"
	                         " WHERE family_id = $1 AND expires_at > $2",
	[S_ACCESS_LIVE_SESSION] = "SELECT jti, expires_at FROM access_tokens"
	                          " WHERE session_id = $1 AND expires_at > $2",
	[S_ACCESS_LIVE_USER] = "SELECT jti, expires_at FROM access_tokens"
	                       " WHERE user_id = $1 AND expires_at > $2",
	[S_REVOKED_INSERT] =
		"INSERT INTO revoked_tokens(jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
	[S_REVOKED_LIST] = "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1"
	                   " ORDER BY expires_at, jti",
	[S_PURGE_REVOKED] = "DELETE FROM revoked_tokens WHERE expires_at <= $1",
	[S_PURGE_ACCESS] = "DELETE FROM access_tokens WHERE expires_at <= $1",
	[S_PURGE_REFRESH] = "DELETE FROM refresh_tokens WHERE expires_at <= $1",
	[S_PURGE_SESSIONS] = "DELETE FROM sessions WHERE expires_at <= $1",
	[S_PURGE_RESET] =
		"DELETE FROM reset_tokens WHERE expires_at <= $1 OR used_at IS NOT NULL",
	[S_AUDIT_LAST] = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
	[S_AUDIT_INSERT] = "INSERT INTO audit_events(" EVENT_COLS ") VALUES"
	                   " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
	[S_AUDIT_ALL] = "SELECT " EVENT_COLS " FROM audit_events ORDER BY seq",
};

struct pg_store;

struct conn {
	pthread_t owner;
	PGconn *pg;
	struct pg_store *ps;
	bool prepared[S__COUNT];
	/* the outcome of the current attempt, for the retry decision */
	char state[6];        /* SQLSTATE of the last failure, "" when none */
	bool lost;            /* the connection broke */
	bool lost_in_commit;  /* ... while COMMIT was on the wire */
	struct conn *next;
};

struct pg_store {
	struct pc_store base; /* first: backend.h */
	uint64_t gen;
	char *url;            /* sodium_malloc'd, read-only: may hold the password */
	char *password;       /* sodium_malloc'd copy to scrub from messages, or NULL */
	char masked[512];     /* the URL with the password masked, for messages */
	uint8_t *audit_key;   /* sodium_malloc'd, read-only */
	pthread_mutex_t mu;   /* guards conns, n_conns */
	struct conn *conns;
	size_t n_conns;
};

static const struct pc_store_ops pg_ops;

static atomic_uint_fast64_t next_gen = 1;
static _Thread_local struct {
	uint64_t gen;
	struct conn *c;
} tls_conn;

static struct pg_store *PS(struct pc_store *s)
{
	assert(s->ops == &pg_ops);
	return (struct pg_store *)s;
}

/* ------------------------------------------------------------------ */
/* messages                                                            */

/* Copies the first line of msg into out[cap], every occurrence of secret
 * (when not NULL/empty) replaced by "****". */
static void scrubbed(char *out, size_t cap, const char *msg, const char *secret)
{
	size_t o = 0, slen = secret != NULL ? strlen(secret) : 0;
	if (cap == 0)
		return;
	for (const char *p = msg != NULL ? msg : ""; *p != '\0' && *p != '\n' && o + 1 < cap;) {
		if (slen > 0 && strncmp(p, secret, slen) == 0) {
			for (const char *m = "****"; *m != '\0' && o + 1 < cap; m++)
				out[o++] = *m;
			p += slen;
		} else {
			out[o++] = *p++;
		}
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\r'))
		o--;
	out[o] = '\0';
}

/* What the server (or libpq) said about the failure, safe to show. */
static void describe(char *out, size_t cap, const struct pg_store *ps, PGconn *pg,
                     const PGresult *r)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (state != NULL && strncmp(state, "22", 2) == 0) {
		/* a data exception may quote the value it choked on */
		snprintf(out, cap, "data exception");
		return;
	}
	if (msg == NULL && r != NULL)
		msg = PQresultErrorMessage(r);
	if ((msg == NULL || msg[0] == '\0') && pg != NULL)
		msg = PQerrorMessage(pg);
	scrubbed(out, cap, msg, ps->password);
	if (out[0] == '\0')
		snprintf(out, cap, "unknown error");
}

static void log_failure(const char *level, const struct pg_store *ps, PGconn *pg, const char *what,
                        const char *state, const PGresult *r)
{
	char msg[300];
	describe(msg, sizeof(msg), ps, pg, r);
	struct pc_logline l;
	pc_logline_begin(&l, level, "store_postgres_error");
	pc_logline_str(&l, "op", what);
	pc_logline_str(&l, "sqlstate", state);
	pc_logline_str(&l, "message", msg);
	pc_logline_emit(&l);
}

static enum pc_err corrupt(const char *what)
{
	struct pc_logline l;
	pc_logline_begin(&l, "error", "store_postgres_corrupt");
	pc_logline_str(&l, "op", what);
	pc_logline_str(&l, "message", "a stored value does not fit its field");
	pc_logline_emit(&l);
	return PC_ERR_INTERNAL;
}

static bool retry_state(const char *st)
{
	return strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
}

static enum pc_err map_state(const char *st, bool lost)
{
	if (lost)
		return PC_ERR_UNAVAILABLE;
	if (st == NULL || st[0] == '\0')
		return PC_ERR_INTERNAL;
	if (strcmp(st, "23505") == 0)
		return PC_ERR_CONFLICT;
	if (strcmp(st, "23503") == 0)
		return PC_ERR_NOT_FOUND; /* the user it belongs to is gone */
	if (strncmp(st, "08", 2) == 0 ||     /* connection exception */
	    strncmp(st, "53", 2) == 0 ||     /* insufficient resources: disk full, connections */
	    strncmp(st, "58", 2) == 0 ||     /* system error: I/O */
	    strcmp(st, "57P01") == 0 ||      /* admin shutdown */
	    strcmp(st, "57P02") == 0 ||      /* crash shutdown */
	    strcmp(st, "57P03") == 0 ||      /* cannot connect now */
	    strcmp(st, "57014") == 0 ||      /* query canceled (statement_timeout) */
	    strcmp(st, "25006") == 0 ||      /* read-only transaction */
	    strcmp(st, "55P03") == 0 ||      /* lock not available (lock_timeout) */
	    retry_state(st))                 /* after the retries */
		return PC_ERR_UNAVAILABLE;
	return PC_ERR_INTERNAL;
}

/* Records the failure on c for the retry decision, maps it, and logs what an
 * operator should see (not conflicts or misses). r may be NULL. */
static enum pc_err fail_res(struct conn *c, const char *what, const PGresult *r)
{
	const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	snprintf(c->state, sizeof(c->state), "%s", st != NULL ? st : "");
	if (PQstatus(c->pg) != CONNECTION_OK)
		c->lost = true;
	enum pc_err e = map_state(c->state, c->lost);
	if (e == PC_ERR_INTERNAL)
		log_failure("error", c->ps, c->pg, what, c->state, r);
	else if (e == PC_ERR_UNAVAILABLE)
		/* a collision that is retried is routine; giving up is not
		 * (run_retry says so) */
		log_failure(retry_state(c->state) ? "info" : "warn", c->ps, c->pg, what, c->state, r);
	return e;
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

/* Text parameters go as C strings: every one is NUL-terminated (store.c
 * checks the fixed arrays), and PostgreSQL text cannot hold a NUL anyway. */
#define TXT(s) {.kind = K_TEXT, .p = (s)}
#define FIX(a) {.kind = K_TEXT, .p = (a)}
#define OPT(s) {.kind = (s) != NULL ? K_TEXT : K_NULL, .p = (s)}
#define INT(v) {.kind = K_INT, .i = (v)}
#define BLOB(b, len) {.kind = K_BLOB, .p = (b), .n = (len)}
/* a fixed char array stored as BYTEA (user_agent) */
#define FIXB(a) {.kind = K_BLOB, .p = (a), .n = strnlen((a), sizeof(a))}
#define P(...) (const struct param[]){__VA_ARGS__}, \
	sizeof((const struct param[]){__VA_ARGS__}) / sizeof(struct param)
#define NOP NULL, 0

static void audit_list_sql(char *out, size_t cap, unsigned mask)
{
	snprintf(out, cap, "SELECT " EVENT_COLS " FROM audit_events WHERE seq < $4%s%s%s"
	         " ORDER BY seq DESC LIMIT $5",
	         (mask & F_ACTION) ? " AND action = $1" : "",
	         (mask & F_RESOURCE) ? " AND resource_type = $2" : "",
	         (mask & F_ACTOR) ? " AND actor_user_id = $3" : "");
}

static const char *sql_of(enum stmt_id id)
{
	return id < S_AUDIT_LIST ? stmt_sql[id] : "audit list";
}

/* Prepares statement id on c once, typed by the kinds of its parameters
 * (a NULL is always a missing text). */
static enum pc_err ensure_prepared(struct conn *c, enum stmt_id id, const struct param *ps,
                                   size_t n)
{
	assert(id < S__COUNT && n <= MAX_PARAMS);
	if (c->prepared[id])
		return PC_OK;
	char name[16], buf[1024];
	const char *sql = sql_of(id);
	if (id >= S_AUDIT_LIST) {
		audit_list_sql(buf, sizeof(buf), (unsigned)(id - S_AUDIT_LIST));
		sql = buf;
	}
	Oid types[MAX_PARAMS];
	for (size_t k = 0; k < n; k++)
		types[k] = ps[k].kind == K_INT ? OID_INT8 : ps[k].kind == K_BLOB ? OID_BYTEA : OID_TEXT;
	snprintf(name, sizeof(name), "pc%d", (int)id);
	PGresult *r = PQprepare(c->pg, name, sql, (int)n, types);
	enum pc_err e = PC_OK;
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		e = fail_res(c, sql, r);
	else
		c->prepared[id] = true;
	PQclear(r);
	return e;
}

struct bound {
	const char *values[MAX_PARAMS];
	int lengths[MAX_PARAMS];
	int formats[MAX_PARAMS];
	char ints[MAX_PARAMS][24];
};

static enum pc_err bind_params(struct bound *b, const struct param *ps, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const struct param *p = &ps[k];
		b->lengths[k] = 0;
		b->formats[k] = 0;
		switch (p->kind) {
		case K_TEXT:
			b->values[k] = p->p;
			break;
		case K_BLOB:
			if (p->n > INT_MAX)
				return PC_ERR_INTERNAL;
			/* a zero-length binary value must still be non-NULL */
			b->values[k] = p->n > 0 ? p->p : "";
			b->lengths[k] = (int)p->n;
			b->formats[k] = 1;
			break;
		case K_INT:
			snprintf(b->ints[k], sizeof(b->ints[k]), "%" PRId64, p->i);
			b->values[k] = b->ints[k];
			break;
		default:
			b->values[k] = NULL;
			break;
		}
	}
	return PC_OK;
}

/* Runs statement id; *out: its result (PQclear it) on PC_OK. */
static enum pc_err query(struct conn *c, enum stmt_id id, const struct param *ps, size_t n,
                         PGresult **out)
{
	*out = NULL;
	enum pc_err e = ensure_prepared(c, id, ps, n);
	if (e != PC_OK)
		return e;
	struct bound b;
	if ((e = bind_params(&b, ps, n)) != PC_OK)
		return e;
	char name[16];
	snprintf(name, sizeof(name), "pc%d", (int)id);
	PGresult *r = PQexecPrepared(c->pg, name, (int)n, b.values, b.lengths, b.formats, 1);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		e = fail_res(c, sql_of(id), r);
		PQclear(r);
		return e;
	}
	*out = r;
	return PC_OK;
}

/* Runs a statement that returns no rows; *changes: rows it changed. */
static enum pc_err exec(struct conn *c, enum stmt_id id, const struct param *ps, size_t n,
                        int64_t *changes)
{
	PGresult *r;
	enum pc_err e = query(c, id, ps, n, &r);
	if (e != PC_OK)
		return e;
	if (changes != NULL) {
		const char *t = PQcmdTuples(r);
		char *end;
		long long v = strtoll(t, &end, 10);
		*changes = t[0] != '\0' && *end == '\0' && v >= 0 ? (int64_t)v : 0;
	}
	PQclear(r);
	return PC_OK;
}

/* ------------------------------------------------------------------ */
/* reading rows (binary format)                                        */

static int col_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
	dst[0] = '\0';
	if (PQgetisnull(r, row, col))
		return -1;
	int n = PQgetlength(r, row, col);
	const char *v = PQgetvalue(r, row, col);
	if (n < 0 || (size_t)n >= cap || memchr(v, '\0', (size_t)n) != NULL)
		return -1;
	memcpy(dst, v, (size_t)n);
	dst[n] = '\0';
	return 0;
}

static int col_hash(const PGresult *r, int row, int col, uint8_t out[32])
{
	memset(out, 0, 32);
	if (PQgetisnull(r, row, col) || PQftype(r, col) != OID_BYTEA || PQgetlength(r, row, col) != 32)
		return -1;
	memcpy(out, PQgetvalue(r, row, col), 32);
	return 0;
}

static int col_int(const PGresult *r, int row, int col, int64_t *out)
{
	*out = 0;
	if (PQgetisnull(r, row, col) || PQfformat(r, col) != 1)
		return -1;
	const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);
	int n = PQgetlength(r, row, col);
	Oid t = PQftype(r, col);
	uint64_t u = 0;
	if (!((t == OID_INT8 && n == 8) || (t == OID_INT4 && n == 4) || (t == OID_INT2 && n == 2)))
		return -1;
	for (int k = 0; k < n; k++)
		u = (u << 8) | v[k];
	/* sign-extend the narrower types */
	if (n < 8 && (v[0] & 0x80))
		u |= ~(uint64_t)0 << (8 * n);
	memcpy(out, &u, sizeof(*out));
	return 0;
}

#define COL_TEXT(r, row, col, arr) col_text((r), (row), (col), (arr), sizeof(arr))

static int row_user(const PGresult *r, int i, struct pc_user *u)
{
	memset(u, 0, sizeof(*u));
	if (COL_TEXT(r, i, 0, u->id) != 0 || COL_TEXT(r, i, 1, u->email) != 0 ||
	    COL_TEXT(r, i, 2, u->password_hash) != 0 || col_int(r, i, 3, &u->created_at) != 0 ||
	    col_int(r, i, 4, &u->password_changed_at) != 0)
		return -1;
	return 0;
}

static int row_session(const PGresult *r, int i, struct pc_session *s)
{
	memset(s, 0, sizeof(*s));
	if (COL_TEXT(r, i, 0, s->id) != 0 || col_hash(r, i, 1, s->secret_hash) != 0 ||
	    COL_TEXT(r, i, 2, s->user_id) != 0 || COL_TEXT(r, i, 3, s->email) != 0 ||
	    col_int(r, i, 4, &s->created_at) != 0 || col_int(r, i, 5, &s->last_seen_at) != 0 ||
	    col_int(r, i, 6, &s->expires_at) != 0 || COL_TEXT(r, i, 7, s->client_addr) != 0 ||
	    COL_TEXT(r, i, 8, s->user_agent) != 0)
		return -1;
	return 0;
}

static int row_event(const PGresult *r, int i, struct pc_audit_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (col_int(r, i, 0, &ev->seq) != 0 || COL_TEXT(r, i, 1, ev->id) != 0 ||
	    col_int(r, i, 2, &ev->time_ms) != 0 || COL_TEXT(r, i, 3, ev->action) != 0 ||
	    COL_TEXT(r, i, 4, ev->resource_type) != 0 || COL_TEXT(r, i, 5, ev->resource_id) != 0 ||
	    COL_TEXT(r, i, 6, ev->actor_user_id) != 0 || COL_TEXT(r, i, 7, ev->actor_email) != 0 ||
	    COL_TEXT(r, i, 8, ev->actor_session_id) != 0 || COL_TEXT(r, i, 9, ev->auth_method) != 0 ||
	    COL_TEXT(r, i, 10, ev->client_addr) != 0 || COL_TEXT(r, i, 11, ev->user_agent) != 0 ||
	    COL_TEXT(r, i, 12, ev->details) != 0 || col_hash(r, i, 13, ev->prev_hash) != 0 ||
	    col_hash(r, i, 14, ev->hash) != 0)
		return -1;
	return 0;
}

static int row_apikey(const PGresult *r, int i, struct pc_api_key *k)
{
	memset(k, 0, sizeof(*k));
	if (COL_TEXT(r, i, 0, k->id) != 0 || COL_TEXT(r, i, 1, k->name) != 0 ||
	    COL_TEXT(r, i, 2, k->prefix) != 0 || col_hash(r, i, 3, k->secret_hash) != 0 ||
	    COL_TEXT(r, i, 4, k->created_by) != 0 || col_int(r, i, 5, &k->created_at) != 0 ||
	    col_int(r, i, 6, &k->expires_at) != 0 || col_int(r, i, 7, &k->last_used_at) != 0)
		return -1;
	return 0;
}

static int row_refresh(const PGresult *r, int i, struct pc_refresh_token *t, bool *used)
{
	memset(t, 0, sizeof(*t));
	if (col_hash(r, i, 0, t->token_hash) != 0 || COL_TEXT(r, i, 1, t->family_id) != 0 ||
	    COL_TEXT(r, i, 2, t->user_id) != 0 || COL_TEXT(r, i, 3, t->session_id) != 0 ||
	    col_int(r, i, 4, &t->created_at) != 0 || col_int(r, i, 5, &t->expires_at) != 0 ||
	    COL_TEXT(r, i, 6, t->access_jti) != 0 || col_int(r, i, 7, &t->access_exp) != 0)
		return -1;
	*used = !PQgetisnull(r, i, 8);
	return 0;
}

static int row_revoked(const PGresult *r, int i, struct pc_revoked *v)
{
	memset(v, 0, sizeof(*v));
	if (COL_TEXT(r, i, 0, v->jti) != 0 || col_int(r, i, 1, &v->expires_at) != 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* connections                                                         */

static void on_notice(void *arg, const PGresult *r)
{
	/* "relation already exists, skipping" and the like: nothing to act on */
	(void)arg;
	(void)r;
}

static PGconn *connect_url(const struct pg_store *ps)
{
	/* earlier keywords are defaults the URL may override; later ones win */
	const char *const kw[] = {"connect_timeout", "application_name", "dbname",
	                          "client_encoding", NULL};
	const char *const val[] = {PG_CONNECT_TIMEOUT, "portcullis", ps->url, "UTF8", NULL};
	return PQconnectdbParams(kw, val, 1);
}

/* Session settings, after every (re)connect. */
static int conn_setup(struct conn *c)
{
	memset(c->prepared, 0, sizeof(c->prepared));
	PQsetNoticeReceiver(c->pg, on_notice, NULL);
	PGresult *r = PQexec(c->pg, "SET lock_timeout = '" PG_LOCK_TIMEOUT "'");
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	PQclear(r);
	return rc;
}

static void conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	PQfinish(c->pg);
	free(c);
}

/* Opens a connection; on failure one line in err. */
static enum pc_err conn_open(struct pg_store *ps, struct conn **out, char *err, size_t errlen)
{
	*out = NULL;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return PC_ERR_INTERNAL;
	}
	c->owner = pthread_self();
	c->ps = ps;
	c->pg = connect_url(ps);
	if (c->pg == NULL) {
		snprintf(err, errlen, "out of memory");
		free(c);
		return PC_ERR_INTERNAL;
	}
	if (PQstatus(c->pg) != CONNECTION_OK || conn_setup(c) != 0) {
		char msg[300];
		scrubbed(msg, sizeof(msg), PQerrorMessage(c->pg), ps->password);
		snprintf(err, errlen, "cannot connect to the PostgreSQL database %s: %s", ps->masked,
		         msg[0] != '\0' ? msg : "unknown error");
		conn_free(c);
		return PC_ERR_UNAVAILABLE;
	}
	*out = c;
	return PC_OK;
}

/* Reconnects a broken connection once. */
static enum pc_err conn_reset(struct conn *c)
{
	PQreset(c->pg);
	if (PQstatus(c->pg) == CONNECTION_OK && conn_setup(c) == 0)
		return PC_OK;
	char msg[300];
	scrubbed(msg, sizeof(msg), PQerrorMessage(c->pg), c->ps->password);
	struct pc_logline l;
	pc_logline_begin(&l, "warn", "store_postgres_reconnect");
	pc_logline_str(&l, "database", c->ps->masked);
	pc_logline_str(&l, "message", msg);
	pc_logline_emit(&l);
	memset(c->prepared, 0, sizeof(c->prepared));
	return PC_ERR_UNAVAILABLE;
}

/* This thread's connection, opened on first use, reset when broken. */
static enum pc_err conn_get_err(struct pg_store *ps, struct conn **out, char *err, size_t errlen)
{
	struct conn *c = NULL;
	*out = NULL;
	if (tls_conn.gen == ps->gen && tls_conn.c != NULL) {
		c = tls_conn.c;
	} else {
		pthread_t self = pthread_self();
		pthread_mutex_lock(&ps->mu);
		for (struct conn *it = ps->conns; it != NULL; it = it->next) {
			if (pthread_equal(it->owner, self)) {
				c = it;
				break;
			}
		}
		/* the slot is taken before connecting, so threads arriving
		 * together cannot all squeeze past the bound */
		bool full = c == NULL && ps->n_conns >= PG_MAX_CONNS;
		if (c == NULL && !full)
			ps->n_conns++;
		pthread_mutex_unlock(&ps->mu);
		if (full) {
			snprintf(err, errlen, "more than %d threads use the PostgreSQL store", PG_MAX_CONNS);
			return PC_ERR_UNAVAILABLE;
		}
		if (c == NULL) {
			enum pc_err e = conn_open(ps, &c, err, errlen);
			pthread_mutex_lock(&ps->mu);
			if (e == PC_OK) {
				c->next = ps->conns;
				ps->conns = c;
			} else {
				ps->n_conns--;
			}
			pthread_mutex_unlock(&ps->mu);
			if (e != PC_OK)
				return e;
		}
		tls_conn.gen = ps->gen;
		tls_conn.c = c;
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		enum pc_err e = conn_reset(c);
		if (e != PC_OK)
			return e;
	}
	*out = c;
	return PC_OK;
}

static enum pc_err conn_get(struct pg_store *ps, struct conn **out)
{
	char err[600] = "";
	enum pc_err e = conn_get_err(ps, out, err, sizeof(err));
	if (e != PC_OK && err[0] != '\0')
		pc_log(e == PC_ERR_UNAVAILABLE ? "warn" : "error", "store_postgres_open", err);
	return e;
}

/* ------------------------------------------------------------------ */
/* transactions and retries                                            */

static void tx_rollback(struct conn *c)
{
	PGTransactionStatusType t = PQtransactionStatus(c->pg);
	if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
		PQclear(PQexec(c->pg, "ROLLBACK"));
}

/* BEGIN and take the write lock, in one round trip. */
static enum pc_err tx_begin(struct conn *c)
{
	PGresult *r = PQexec(c->pg, BEGIN_SQL "; SELECT pg_advisory_xact_lock(" LOCK_WRITE ")");
	enum pc_err e = PC_OK;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		e = fail_res(c, "BEGIN (write lock)", r);
		tx_rollback(c);
	}
	PQclear(r);
	return e;
}

/* Commits when e is PC_OK, else rolls back; returns the outcome. */
static enum pc_err tx_end(struct conn *c, enum pc_err e)
{
	if (e == PC_OK) {
		PGresult *r = PQexec(c->pg, "COMMIT");
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			e = fail_res(c, "COMMIT", r);
			c->lost_in_commit = c->lost;
		} else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
			/* the server rolled back a failed transaction */
			log_failure("error", c->ps, c->pg, "COMMIT", "", r);
			e = PC_ERR_INTERNAL;
		}
		PQclear(r);
	}
	if (e != PC_OK)
		tx_rollback(c);
	return e;
}

enum run_kind {
	RUN_ONE, /* one statement, autocommit: a read, or an idempotent update */
	RUN_TX,  /* a write transaction under the write lock */
};

/*
 * Drives one store call, retrying it as a whole:
 *
 *	struct run r;
 *	for (run_init(&r, ps, RUN_TX); run_next(&r);)
 *		r.e = ...body on r.c...;
 *	return r.e;
 *
 * The body runs at least once when a connection is to be had; it must
 * start from scratch each time (reset its outputs first). For RUN_TX,
 * r.e == PC_OK after the body commits, anything else rolls back.
 */
struct run {
	struct pg_store *ps;
	struct conn *c;
	enum run_kind kind;
	int attempt;
	bool reconnected;
	bool started;
	enum pc_err e;
};

static void run_init(struct run *r, struct pg_store *ps, enum run_kind kind)
{
	*r = (struct run){.ps = ps, .kind = kind, .e = PC_ERR_INTERNAL};
}

static bool run_retry(struct run *r)
{
	struct conn *c = r->c;
	if (c == NULL)
		return false;
	if (c->lost) {
		/* lost before COMMIT: the server rolled back, so do it again on a
		 * fresh connection (once); lost during COMMIT: unknown outcome */
		if (c->lost_in_commit || r->reconnected)
			return false;
		r->reconnected = true;
		return true;
	}
	if (retry_state(c->state)) {
		if (r->attempt < PG_TX_RETRIES) {
			r->attempt++;
			/* a little jitter so the transactions that collided part ways */
			usleep((useconds_t)(1000 * r->attempt + randombytes_uniform(2000)));
			return true;
		}
		struct pc_logline l;
		pc_logline_begin(&l, "warn", "store_postgres_retries_exhausted");
		pc_logline_str(&l, "sqlstate", c->state);
		pc_logline_int(&l, "attempts", r->attempt + 1);
		pc_logline_emit(&l);
	}
	return false;
}

static bool run_next(struct run *r)
{
	if (r->started) {
		r->started = false;
		if (r->kind == RUN_TX)
			r->e = tx_end(r->c, r->e);
		if (r->e == PC_OK || !run_retry(r))
			return false;
	}
	for (;;) {
		r->e = conn_get(r->ps, &r->c);
		if (r->e != PC_OK)
			return false;
		r->c->state[0] = '\0';
		r->c->lost = false;
		r->c->lost_in_commit = false;
		if (r->kind == RUN_TX) {
			r->e = tx_begin(r->c);
			if (r->e != PC_OK) {
				if (run_retry(r))
					continue;
				return false;
			}
		}
		r->started = true;
		r->e = PC_OK;
		return true;
	}
}

/* ------------------------------------------------------------------ */
/* shared pieces of the operations                                     */

/* Appends ev to the chain; inside a write transaction (under the lock). */
static enum pc_err append_event(struct pg_store *ps, struct conn *c, struct pc_audit_event *ev)
{
	PGresult *r;
	enum pc_err e = query(c, S_AUDIT_LAST, NOP, &r);
	if (e != PC_OK)
		return e;
	int64_t last = 0;
	uint8_t prev[32] = {0};
	if (PQntuples(r) > 0 &&
	    (col_int(r, 0, 0, &last) != 0 || col_hash(r, 0, 1, prev) != 0 || last < 1 ||
	     last == INT64_MAX))
		e = corrupt("audit chain tail");
	PQclear(r);
	if (e != PC_OK)
		return e;
	ev->seq = last + 1;
	memcpy(ev->prev_hash, prev, sizeof(prev));
	pc_audit_chain_hash(ev->hash, ev, ev->prev_hash, ps->audit_key);
	return exec(c, S_AUDIT_INSERT,
	            P(INT(ev->seq), FIX(ev->id), INT(ev->time_ms), FIX(ev->action),
	              FIX(ev->resource_type), FIX(ev->resource_id), FIX(ev->actor_user_id),
	              FIX(ev->actor_email), FIX(ev->actor_session_id), FIX(ev->auth_method),
	              FIX(ev->client_addr), FIXB(ev->user_agent), FIX(ev->details),
	              BLOB(ev->prev_hash, 32), BLOB(ev->hash, 32)),
	            NULL);
}

static void clear_event(struct pc_audit_event *ev)
{
	if (ev == NULL)
		return;
	ev->seq = 0;
	memset(ev->prev_hash, 0, sizeof(ev->prev_hash));
	memset(ev->hash, 0, sizeof(ev->hash));
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
	              FIXB(s->user_agent)),
	            NULL);
}

/* Whether a query returned a row. */
static enum pc_err exists(struct conn *c, enum stmt_id id, const struct param *ps, size_t n,
                          bool *found)
{
	PGresult *r;
	*found = false;
	enum pc_err e = query(c, id, ps, n, &r);
	if (e != PC_OK)
		return e;
	*found = PQntuples(r) > 0;
	PQclear(r);
	return PC_OK;
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

/* Copies every row of r into a malloc'd array of elem-sized items read by
 * rd; *out NULL when there is none. what: the table, for the log. */
static enum pc_err rows_to_array(const PGresult *r, size_t elem,
                                 int (*rd)(const PGresult *, int, void *), const char *what,
                                 void **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int rows = PQntuples(r);
	if (rows == 0)
		return PC_OK;
	unsigned char *arr = calloc((size_t)rows, elem);
	if (arr == NULL)
		return PC_ERR_INTERNAL;
	for (int i = 0; i < rows; i++) {
		if (rd(r, i, arr + (size_t)i * elem) != 0) {
			sodium_memzero(arr, (size_t)rows * elem);
			free(arr);
			return corrupt(what);
		}
	}
	*out = arr;
	*n = (size_t)rows;
	return PC_OK;
}

static int rd_user(const PGresult *r, int i, void *p)
{
	return row_user(r, i, p);
}

static int rd_session(const PGresult *r, int i, void *p)
{
	return row_session(r, i, p);
}

static int rd_apikey(const PGresult *r, int i, void *p)
{
	return row_apikey(r, i, p);
}

static int rd_event(const PGresult *r, int i, void *p)
{
	return row_event(r, i, p);
}

/* ------------------------------------------------------------------ */
/* open, migrate, close                                                */

/* One statement of the migration transaction; -1 with err filled. */
static int mig_exec(struct pg_store *ps, PGconn *pg, const char *sql, ExecStatusType want,
                    PGresult **out, const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(pg, sql);
	if (PQresultStatus(r) != want) {
		char msg[300];
		describe(msg, sizeof(msg), ps, pg, r);
		snprintf(err, errlen, "%s: %s", what, msg);
		PQclear(r);
		return -1;
	}
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static int migrate(struct pg_store *ps, PGconn *pg, char *err, size_t errlen)
{
	for (;;) {
		PGresult *r = NULL;
		int64_t version = 0, rows = 0;
		if (mig_exec(ps, pg, BEGIN_SQL "; SELECT pg_advisory_xact_lock(" LOCK_MIGRATE ")",
		             PGRES_TUPLES_OK, NULL, "cannot lock the database for its migrations", err,
		             errlen) != 0)
			goto fail;
		if (mig_exec(ps, pg, "SELECT to_regclass('schema_version') IS NOT NULL", PGRES_TUPLES_OK,
		             &r, "cannot read the database schema version", err, errlen) != 0)
			goto fail;
		bool have = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		/* only when missing: CREATE ... IF NOT EXISTS would still need a
		 * writable database to open a current one */
		if (!have && mig_exec(ps, pg, "CREATE TABLE schema_version(version INTEGER NOT NULL)",
		                      PGRES_COMMAND_OK, NULL, "cannot create the schema_version table",
		                      err, errlen) != 0)
			goto fail;
		if (mig_exec(ps, pg, "SELECT coalesce(max(version), 0), count(*) FROM schema_version",
		             PGRES_TUPLES_OK, &r, "cannot read the database schema version", err,
		             errlen) != 0)
			goto fail;
		if (PQntuples(r) == 1) {
			version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			rows = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		}
		PQclear(r);
		if (version < 0) {
			snprintf(err, errlen, "database schema version %" PRId64 " is invalid", version);
			goto fail;
		}
		if (version > PC_POSTGRES_SCHEMA_VERSION) {
			snprintf(err, errlen,
			         "database schema version %" PRId64 " is newer than this binary supports (%d)",
			         version, PC_POSTGRES_SCHEMA_VERSION);
			goto fail;
		}
		if (version == PC_POSTGRES_SCHEMA_VERSION)
			return mig_exec(ps, pg, "COMMIT", PGRES_COMMAND_OK, NULL,
			                "cannot commit the schema check", err, errlen);
		char what[64], num[24];
		snprintf(what, sizeof(what), "cannot apply database migration %" PRId64, version + 1);
		if (mig_exec(ps, pg, pc_postgres_migrations[version], PGRES_COMMAND_OK, NULL, what, err,
		             errlen) != 0)
			goto fail;
		snprintf(num, sizeof(num), "%" PRId64, version + 1);
		const char *vals[1] = {num};
		r = PQexecParams(pg,
		                 rows == 0 ? "INSERT INTO schema_version(version) VALUES ($1::integer)"
		                           : "UPDATE schema_version SET version = $1::integer",
		                 1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			char msg[300];
			describe(msg, sizeof(msg), ps, pg, r);
			snprintf(err, errlen, "%s: %s", what, msg);
			PQclear(r);
			goto fail;
		}
		PQclear(r);
		if (mig_exec(ps, pg, "COMMIT", PGRES_COMMAND_OK, NULL, what, err, errlen) != 0)
			goto fail;
	}
fail:
	if (PQtransactionStatus(pg) == PQTRANS_INTRANS || PQtransactionStatus(pg) == PQTRANS_INERROR)
		PQclear(PQexec(pg, "ROLLBACK"));
	return -1;
}

static void pg_close(struct pc_store *s)
{
	struct pg_store *ps = PS(s);
	pthread_mutex_lock(&ps->mu);
	struct conn *c = ps->conns;
	ps->conns = NULL;
	ps->n_conns = 0;
	pthread_mutex_unlock(&ps->mu);
	while (c != NULL) {
		struct conn *next = c->next;
		conn_free(c);
		c = next;
	}
	if (tls_conn.gen == ps->gen) {
		tls_conn.gen = 0;
		tls_conn.c = NULL;
	}
	pthread_mutex_destroy(&ps->mu);
	sodium_free(ps->audit_key);
	sodium_free(ps->url);
	sodium_free(ps->password);
	free(ps);
}

/* A sodium_malloc'd, read-only copy of s (NULL on failure). */
static char *secret_dup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = sodium_malloc(n);
	if (p != NULL) {
		memcpy(p, s, n);
		sodium_mprotect_readonly(p);
	}
	return p;
}

/* Checks the URL's syntax with libpq (whose own message may quote it, with
 * the password, so it is not shown) and copies out the password to scrub. */
static int parse_url(struct pg_store *ps, const char *url, char *err, size_t errlen)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &perr);
	if (opts == NULL) {
		snprintf(err, errlen, "invalid PostgreSQL URL %s%s", ps->masked,
		         perr != NULL ? "" : ": out of memory");
		if (perr != NULL) {
			sodium_memzero(perr, strlen(perr));
			PQfreemem(perr);
		}
		return -1;
	}
	int rc = 0;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0 && o->val[0] != '\0' && ps->password == NULL) {
			ps->password = secret_dup(o->val);
			if (ps->password == NULL) {
				snprintf(err, errlen, "out of memory");
				rc = -1;
			}
		}
		sodium_memzero(o->val, strlen(o->val));
	}
	PQconninfoFree(opts);
	return rc;
}

int pc_store_postgres_open(struct pc_store **out, const char *url, const uint8_t audit_key[32],
                           char *err, size_t errlen)
{
	*out = NULL;
	if (sodium_init() < 0) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return -1;
	}
	if (pc_pq_load(err, errlen) != 0)
		return -1;
	if (!PQisthreadsafe()) {
		snprintf(err, errlen, "libpq was built without thread support");
		return -1;
	}
	struct pg_store *ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ps->base.ops = &pg_ops;
	ps->gen = atomic_fetch_add(&next_gen, 1);
	pc_url_mask(ps->masked, sizeof(ps->masked), url);
	if (pthread_mutex_init(&ps->mu, NULL) != 0) {
		snprintf(err, errlen, "cannot initialise a mutex");
		free(ps);
		return -1;
	}
	if (parse_url(ps, url, err, errlen) != 0)
		goto fail;
	ps->url = secret_dup(url);
	ps->audit_key = sodium_malloc(32);
	if (ps->url == NULL || ps->audit_key == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(ps->audit_key, audit_key, 32);
	sodium_mprotect_readonly(ps->audit_key);

	struct conn *c;
	if (conn_get_err(ps, &c, err, errlen) != PC_OK)
		goto fail;
	const char *enc = PQparameterStatus(c->pg, "server_encoding");
	if (enc == NULL || strcmp(enc, "UTF8") != 0) {
		snprintf(err, errlen,
		         "the PostgreSQL database %s is encoded in %s: portcullis needs UTF8"
		         " (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)",
		         ps->masked, enc != NULL ? enc : "an unknown encoding");
		goto fail;
	}
	if (PQserverVersion(c->pg) < 100000) {
		snprintf(err, errlen, "the PostgreSQL server of %s is older than version 10", ps->masked);
		goto fail;
	}
	char merr[400] = "";
	if (migrate(ps, c->pg, merr, sizeof(merr)) != 0) {
		snprintf(err, errlen, "%s", merr);
		goto fail;
	}
	*out = &ps->base;
	return 0;
fail:
	pg_close(&ps->base);
	return -1;
}

static enum pc_err pg_ping(struct pc_store *s)
{
	struct run r;
	for (run_init(&r, PS(s), RUN_ONE); run_next(&r);) {
		bool found;
		r.e = exists(r.c, S_PING, NOP, &found);
	}
	return r.e;
}

/* ------------------------------------------------------------------ */
/* users                                                               */

static enum pc_err pg_setup(struct pc_store *s, struct pc_audit_event *ev, const struct pc_user *u,
                            const struct pc_session *sess)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		/* the guard's primary key is what lets exactly one caller through */
		r.e = exec(r.c, S_GUARD_INSERT, P(INT(u->created_at)), NULL);
		if (r.e == PC_OK)
			r.e = insert_user(r.c, u);
		if (r.e == PC_OK && sess != NULL)
			r.e = insert_session(r.c, sess);
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

static enum pc_err pg_setup_done(struct pc_store *s, bool *done)
{
	struct run r;
	for (run_init(&r, PS(s), RUN_ONE); run_next(&r);)
		r.e = exists(r.c, S_GUARD_GET, NOP, done);
	return r.e;
}

static enum pc_err pg_user_create(struct pc_store *s, struct pc_audit_event *ev,
                                  const struct pc_user *u)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		/* a user created any way counts as set up */
		r.e = exec(r.c, S_GUARD_INSERT_OR_IGNORE, P(INT(u->created_at)), NULL);
		if (r.e == PC_OK)
			r.e = insert_user(r.c, u);
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

static enum pc_err get_one_user(struct pc_store *s, enum stmt_id id, const char *key,
                                struct pc_user *out)
{
	struct run r;
	for (run_init(&r, PS(s), RUN_ONE); run_next(&r);) {
		PGresult *res;
		r.e = query(r.c, id, P(TXT(key)), &res);
		if (r.e != PC_OK)
			continue;
		if (PQntuples(res) == 0)
			r.e = PC_ERR_NOT_FOUND;
		else if (row_user(res, 0, out) != 0)
			r.e = corrupt("users");
		PQclear(res);
	}
	if (r.e != PC_OK)
		memset(out, 0, sizeof(*out));
	return r.e;
}

static enum pc_err pg_user_get(struct pc_store *s, const char *id, struct pc_user *out)
{
	return get_one_user(s, S_USER_GET, id, out);
}

static enum pc_err pg_user_get_by_email(struct pc_store *s, const char *email, struct pc_user *out)
{
	return get_one_user(s, S_USER_GET_BY_EMAIL, email, out);
}

/* A read of many rows into a malloc'd array. */
static enum pc_err list_rows(struct pc_store *s, enum stmt_id id, const struct param *ps,
                             size_t np, size_t elem, int (*rd)(const PGresult *, int, void *),
                             const char *what, void **out, size_t *n)
{
	struct run r;
	for (run_init(&r, PS(s), RUN_ONE); run_next(&r);) {
		PGresult *res;
		r.e = query(r.c, id, ps, np, &res);
		if (r.e != PC_OK)
			continue;
		r.e = rows_to_array(res, elem, rd, what, out, n);
		PQclear(res);
	}
	return r.e;
}

static enum pc_err pg_user_list(struct pc_store *s, struct pc_user **out, size_t *n)
{
	void *arr = NULL;
	enum pc_err e = list_rows(s, S_USER_LIST, NOP, sizeof(**out), rd_user, "users", &arr, n);
	*out = arr;
	return e;
}

static enum pc_err pg_user_delete(struct pc_store *s, struct pc_audit_event *ev, const char *id)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		bool found = false;
		r.e = exists(r.c, S_USER_EXISTS, P(TXT(id)), &found);
		if (r.e == PC_OK && !found)
			r.e = PC_ERR_NOT_FOUND;
		if (r.e == PC_OK) {
			/* counted under the write lock: two deletes cannot both see
			 * two users */
			PGresult *res;
			r.e = query(r.c, S_USER_COUNT, NOP, &res);
			if (r.e == PC_OK) {
				int64_t users = 0;
				if (PQntuples(res) != 1 || col_int(res, 0, 0, &users) != 0)
					r.e = corrupt("users");
				else if (users <= 1)
					r.e = PC_ERR_CONFLICT;
				PQclear(res);
			}
		}
		if (r.e == PC_OK)
			r.e = exec(r.c, S_USER_DELETE, P(TXT(id)), NULL);
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

/* Inside a transaction: the new hash, and every session of the user ends
 * but keep (NULL: all). */
static enum pc_err set_password(struct conn *c, const char *user_id, const char *new_hash,
                                int64_t now, const char *keep)
{
	int64_t changed = 0;
	enum pc_err e =
		exec(c, S_USER_SET_PASSWORD, P(TXT(user_id), TXT(new_hash), INT(now)), &changed);
	if (e == PC_OK && changed == 0)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK)
		e = exec(c, S_SESSION_DELETE_ALL, P(TXT(user_id), OPT(keep)), NULL);
	return e;
}

static enum pc_err pg_user_set_password(struct pc_store *s, struct pc_audit_event *ev,
                                        const char *user_id, const char *new_hash,
                                        const char *keep_session)
{
	struct pg_store *ps = PS(s);
	int64_t now = (int64_t)time(NULL);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		r.e = set_password(r.c, user_id, new_hash, now, keep_session);
		if (r.e == PC_OK && ev != NULL)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

/* A single idempotent UPDATE of one row by id, in autocommit. */
static enum pc_err update_one(struct pc_store *s, enum stmt_id id, const struct param *ps,
                              size_t n)
{
	struct run r;
	for (run_init(&r, PS(s), RUN_ONE); run_next(&r);) {
		int64_t changed = 0;
		r.e = exec(r.c, id, ps, n, &changed);
		if (r.e == PC_OK && changed == 0)
			r.e = PC_ERR_NOT_FOUND;
	}
	return r.e;
}

static enum pc_err pg_user_rehash(struct pc_store *s, const char *user_id, const char *new_hash)
{
	return update_one(s, S_USER_REHASH, P(TXT(user_id), TXT(new_hash)));
}

/* ------------------------------------------------------------------ */
/* sessions                                                            */

static enum pc_err pg_session_create(struct pc_store *s, struct pc_audit_event *ev,
                                     const struct pc_session *sess)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		r.e = insert_session(r.c, sess);
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

static enum pc_err pg_session_get(struct pc_store *s, const uint8_t secret_hash[32],
                                  struct pc_session *out)
{
	struct run r;
	for (run_init(&r, PS(s), RUN_ONE); run_next(&r);) {
		PGresult *res;
		r.e = query(r.c, S_SESSION_GET, P(BLOB(secret_hash, 32)), &res);
		if (r.e != PC_OK)
			continue;
		if (PQntuples(res) == 0)
			r.e = PC_ERR_NOT_FOUND;
		else if (row_session(res, 0, out) != 0)
			r.e = corrupt("sessions");
		PQclear(res);
	}
	if (r.e != PC_OK)
		memset(out, 0, sizeof(*out));
	return r.e;
}

static enum pc_err pg_session_touch(struct pc_store *s, const char *id, int64_t last_seen_at)
{
	return update_one(s, S_SESSION_TOUCH, P(TXT(id), INT(last_seen_at)));
}

static enum pc_err pg_session_list(struct pc_store *s, const char *user_id, int64_t now,
                                   struct pc_session **out, size_t *n)
{
	void *arr = NULL;
	enum pc_err e = list_rows(s, S_SESSION_LIST, P(TXT(user_id), INT(now)), sizeof(**out),
	                          rd_session, "sessions", &arr, n);
	*out = arr;
	return e;
}

static enum pc_err pg_session_delete(struct pc_store *s, struct pc_audit_event *ev,
                                     const char *user_id, const char *id)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		int64_t changed = 0;
		r.e = exec(r.c, S_SESSION_DELETE, P(TXT(id), TXT(user_id)), &changed);
		if (r.e == PC_OK && changed == 0)
			r.e = PC_ERR_NOT_FOUND; /* absent, or another user's: the same answer */
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

static enum pc_err pg_session_delete_all(struct pc_store *s, struct pc_audit_event *ev,
                                         const char *user_id, const char *keep, size_t *ended)
{
	struct pg_store *ps = PS(s);
	int64_t changed = 0;
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		changed = 0;
		r.e = exec(r.c, S_SESSION_DELETE_ALL, P(TXT(user_id), OPT(keep)), &changed);
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	if (r.e == PC_OK)
		*ended = changed > 0 ? (size_t)changed : 0;
	return r.e;
}

/* ------------------------------------------------------------------ */
/* reset tokens                                                        */

static enum pc_err pg_reset_create(struct pc_store *s, struct pc_audit_event *ev,
                                   const char *user_id, const uint8_t token_hash[32],
                                   int64_t expires_at)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		r.e = exec(r.c, S_RESET_INSERT, P(BLOB(token_hash, 32), TXT(user_id), INT(expires_at)),
		           NULL);
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

static enum pc_err pg_reset_redeem(struct pc_store *s, struct pc_audit_event *ev,
                                   const uint8_t token_hash[32], const char *new_hash, int64_t now,
                                   char user_id_out[PC_ID_LEN + 1])
{
	struct pg_store *ps = PS(s);
	char uid[PC_ID_LEN + 1] = "";
	bool filled = false; /* whether ev->resource_id was ours to fill */
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		if (filled)
			ev->resource_id[0] = '\0';
		filled = false;
		uid[0] = '\0';
		PGresult *res;
		/* FOR UPDATE: of two redemptions of one token the second waits,
		 * then finds it used */
		r.e = query(r.c, S_RESET_FIND, P(BLOB(token_hash, 32), INT(now)), &res);
		if (r.e == PC_OK) {
			if (PQntuples(res) == 0)
				r.e = PC_ERR_NOT_FOUND;
			else if (COL_TEXT(res, 0, 0, uid) != 0)
				r.e = corrupt("reset_tokens");
			PQclear(res);
		}
		/* burn this token and every other outstanding one of the user: a
		 * password just reset must not be resettable by an older link */
		if (r.e == PC_OK)
			r.e = exec(r.c, S_RESET_BURN_USER, P(TXT(uid), INT(now)), NULL);
		if (r.e == PC_OK)
			r.e = set_password(r.c, uid, new_hash, now, NULL);
		if (r.e == PC_OK) {
			/* the caller could not know whose token it was */
			if (ev->resource_id[0] == '\0') {
				memcpy(ev->resource_id, uid, sizeof(uid));
				filled = true;
			}
			r.e = append_event(ps, r.c, ev);
		}
	}
	if (r.e == PC_OK)
		memcpy(user_id_out, uid, sizeof(uid));
	else if (filled)
		ev->resource_id[0] = '\0';
	return r.e;
}

/* ------------------------------------------------------------------ */
/* API keys                                                            */

static enum pc_err pg_apikey_create(struct pc_store *s, struct pc_audit_event *ev,
                                    const struct pc_api_key *k)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		/* the prefix is UNIQUE: a duplicate is PC_ERR_CONFLICT */
		r.e = exec(r.c, S_APIKEY_INSERT,
		           P(FIX(k->id), FIX(k->name), FIX(k->prefix), BLOB(k->secret_hash, 32),
		             FIX(k->created_by), INT(k->created_at), INT(k->expires_at),
		             INT(k->last_used_at)),
		           NULL);
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

static enum pc_err get_one_apikey(struct pc_store *s, enum stmt_id id, const char *key,
                                  struct pc_api_key *out)
{
	struct run r;
	for (run_init(&r, PS(s), RUN_ONE); run_next(&r);) {
		PGresult *res;
		r.e = query(r.c, id, P(TXT(key)), &res);
		if (r.e != PC_OK)
			continue;
		if (PQntuples(res) == 0)
			r.e = PC_ERR_NOT_FOUND;
		else if (row_apikey(res, 0, out) != 0)
			r.e = corrupt("api_keys");
		PQclear(res);
	}
	if (r.e != PC_OK)
		memset(out, 0, sizeof(*out));
	return r.e;
}

static enum pc_err pg_apikey_get(struct pc_store *s, const char *id, struct pc_api_key *out)
{
	return get_one_apikey(s, S_APIKEY_GET, id, out);
}

static enum pc_err pg_apikey_get_by_prefix(struct pc_store *s, const char *prefix,
                                           struct pc_api_key *out)
{
	return get_one_apikey(s, S_APIKEY_GET_BY_PREFIX, prefix, out);
}

static enum pc_err pg_apikey_list(struct pc_store *s, struct pc_api_key **out, size_t *n)
{
	void *arr = NULL;
	enum pc_err e =
		list_rows(s, S_APIKEY_LIST, NOP, sizeof(**out), rd_apikey, "api_keys", &arr, n);
	*out = arr;
	return e;
}

/* One statement that must change exactly the row named by id, and its
 * event, in one write transaction. */
static enum pc_err change_one(struct pc_store *s, struct pc_audit_event *ev, enum stmt_id id,
                              const struct param *pp, size_t n)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		int64_t changed = 0;
		r.e = exec(r.c, id, pp, n, &changed);
		if (r.e == PC_OK && changed == 0)
			r.e = PC_ERR_NOT_FOUND;
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

static enum pc_err pg_apikey_rename(struct pc_store *s, struct pc_audit_event *ev, const char *id,
                                    const char *name)
{
	return change_one(s, ev, S_APIKEY_RENAME, P(TXT(id), TXT(name)));
}

static enum pc_err pg_apikey_delete(struct pc_store *s, struct pc_audit_event *ev, const char *id)
{
	return change_one(s, ev, S_APIKEY_DELETE, P(TXT(id)));
}

static enum pc_err pg_apikey_touch(struct pc_store *s, const char *id, int64_t last_used_at)
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

static void vec_reset(struct revoked_vec *rv)
{
	free(rv->v);
	*rv = (struct revoked_vec){0};
}

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
		vec_reset(rv);
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
	PGresult *r;
	enum pc_err e = query(c, id, ps, n, &r);
	if (e != PC_OK)
		return e;
	for (int i = 0; i < PQntuples(r) && e == PC_OK; i++) {
		if (grow((void **)&rv->v, &rv->cap, rv->n, sizeof(*rv->v)) != 0) {
			e = PC_ERR_INTERNAL;
		} else if (row_revoked(r, i, &rv->v[rv->n]) != 0) {
			e = corrupt(id == S_REVOKED_LIST ? "revoked_tokens" : "access_tokens");
		} else if (skip == NULL || strcmp(rv->v[rv->n].jti, skip) != 0) {
			rv->n++;
		}
	}
	PQclear(r);
	return e;
}

/* Inside a transaction: every unexpired recorded access jti of the family
 * (but skip) goes into rv, and the family's refresh tokens are deleted. */
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

static enum pc_err get_refresh(struct conn *c, enum stmt_id id, const uint8_t token_hash[32],
                               struct pc_refresh_token *out, bool *used)
{
	PGresult *r;
	*used = false;
	enum pc_err e = query(c, id, P(BLOB(token_hash, 32)), &r);
	if (e == PC_OK) {
		if (PQntuples(r) == 0)
			e = PC_ERR_NOT_FOUND;
		else if (row_refresh(r, 0, out, used) != 0)
			e = corrupt("refresh_tokens");
		PQclear(r);
	}
	if (e != PC_OK)
		memset(out, 0, sizeof(*out));
	return e;
}

static enum pc_err pg_refresh_create(struct pc_store *s, struct pc_audit_event *ev,
                                     const struct pc_refresh_token *t)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		/* the user's foreign key: a user that is gone is PC_ERR_NOT_FOUND */
		r.e = insert_refresh(r.c, t);
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	return r.e;
}

static enum pc_err pg_refresh_rotate(struct pc_store *s, struct pc_audit_event *ev,
                                     struct pc_audit_event *reuse_ev, const uint8_t old_hash[32],
                                     int64_t now, struct pc_refresh_token *next,
                                     struct pc_refresh_token *old, struct pc_revoked **revoked,
                                     size_t *n_revoked)
{
	struct pg_store *ps = PS(s);
	struct pc_refresh_token cur, nx;
	struct revoked_vec rv = {0};
	bool reused = false;
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		bool used = false;
		reused = false;
		vec_reset(&rv);
		clear_event(ev);
		clear_event(reuse_ev);
		nx = *next;
		/* the write lock and FOR UPDATE: of two rotations of one token,
		 * the second waits and then finds it used */
		r.e = get_refresh(r.c, S_REFRESH_GET_LOCK, old_hash, &cur, &used);
		if (r.e == PC_OK && cur.expires_at <= now)
			r.e = PC_ERR_NOT_FOUND; /* the family has ended */
		if (r.e == PC_OK && used) {
			/* reuse: a stolen token was replayed, by the thief or by its
			 * owner; the whole family goes, the new token of whoever
			 * rotated first included. Committed, then reported as
			 * PC_ERR_CONFLICT below. */
			reused = true;
			r.e = revoke_family(r.c, cur.family_id, now, NULL, &rv);
			if (r.e == PC_OK)
				r.e = insert_revoked(r.c, &rv);
			if (r.e == PC_OK)
				r.e = append_event(ps, r.c, reuse_ev);
			continue;
		}
		if (r.e == PC_OK) {
			int64_t changed = 0;
			r.e = exec(r.c, S_REFRESH_MARK_USED, P(BLOB(old_hash, 32), INT(now)), &changed);
			if (r.e == PC_OK && changed != 1)
				r.e = PC_ERR_INTERNAL; /* cannot happen under the row lock */
		}
		if (r.e == PC_OK) {
			memcpy(nx.family_id, cur.family_id, sizeof(nx.family_id));
			memcpy(nx.user_id, cur.user_id, sizeof(nx.user_id));
			memcpy(nx.session_id, cur.session_id, sizeof(nx.session_id));
			nx.expires_at = cur.expires_at; /* rotation does not extend the family */
			r.e = insert_refresh(r.c, &nx);
		}
		if (r.e == PC_OK)
			r.e = append_event(ps, r.c, ev);
	}
	if (r.e != PC_OK) {
		clear_event(reuse_ev);
		return vec_out(&rv, r.e, revoked, n_revoked);
	}
	if (reused) {
		clear_event(ev);
		(void)vec_out(&rv, PC_OK, revoked, n_revoked);
		return PC_ERR_CONFLICT;
	}
	clear_event(reuse_ev);
	*next = nx;
	*old = cur;
	return PC_OK;
}

static enum pc_err pg_refresh_get(struct pc_store *s, const uint8_t token_hash[32],
                                  struct pc_refresh_token *out)
{
	struct run r;
	for (run_init(&r, PS(s), RUN_ONE); run_next(&r);) {
		bool used;
		r.e = get_refresh(r.c, S_REFRESH_GET, token_hash, out, &used);
	}
	return r.e;
}

/* The family the access token jti was issued with; "" when not recorded. */
static enum pc_err family_of(struct conn *c, const char *jti, char fam[PC_ID_LEN + 1])
{
	PGresult *r;
	fam[0] = '\0';
	enum pc_err e = query(c, S_ACCESS_FAMILY_OF, P(TXT(jti)), &r);
	if (e != PC_OK)
		return e;
	if (PQntuples(r) > 0 && col_text(r, 0, 0, fam, PC_ID_LEN + 1) != 0)
		e = corrupt("access_tokens");
	PQclear(r);
	return e;
}

static enum pc_err pg_tokens_revoke(struct pc_store *s, struct pc_audit_event *ev, const char *jti,
                                    int64_t jti_exp, const char *family_id,
                                    const char *session_id, const char *user_id, int64_t now,
                                    struct pc_revoked **revoked, size_t *n_revoked)
{
	struct pg_store *ps = PS(s);
	struct revoked_vec rv = {0};
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);) {
		vec_reset(&rv);
		if (jti != NULL) {
			char fam[PC_ID_LEN + 1];
			r.e = vec_push(&rv, jti, jti_exp);
			if (r.e == PC_OK)
				r.e = family_of(r.c, jti, fam);
			if (r.e == PC_OK && fam[0] != '\0')
				r.e = revoke_family(r.c, fam, now, jti, &rv);
		} else if (family_id != NULL) {
			r.e = revoke_family(r.c, family_id, now, NULL, &rv);
		} else if (session_id != NULL) {
			/* every token of a family carries the session it was issued from */
			r.e = collect_revoked(r.c, S_ACCESS_LIVE_SESSION, P(TXT(session_id), INT(now)),
			                      NULL, &rv);
			if (r.e == PC_OK)
				r.e = exec(r.c, S_REFRESH_DELETE_SESSION, P(TXT(session_id)), NULL);
		} else {
			r.e = collect_revoked(r.c, S_ACCESS_LIVE_USER, P(TXT(user_id), INT(now)), NULL,
			                      &rv);
			if (r.e == PC_OK)
				r.e = exec(r.c, S_REFRESH_DELETE_USER, P(TXT(user_id)), NULL);
		}
		if (r.e == PC_OK)
			r.e = insert_revoked(r.c, &rv);
		if (r.e == PC_OK && ev != NULL)
			r.e = append_event(ps, r.c, ev);
	}
	return vec_out(&rv, r.e, revoked, n_revoked);
}

static enum pc_err pg_revoked_list(struct pc_store *s, int64_t now, struct pc_revoked **out,
                                   size_t *n)
{
	struct revoked_vec rv = {0};
	struct run r;
	for (run_init(&r, PS(s), RUN_ONE); run_next(&r);) {
		vec_reset(&rv);
		r.e = collect_revoked(r.c, S_REVOKED_LIST, P(INT(now)), NULL, &rv);
	}
	return vec_out(&rv, r.e, out, n);
}

static enum pc_err pg_tokens_purge(struct pc_store *s, int64_t now, size_t *purged)
{
	static const enum stmt_id purges[] = {S_PURGE_REVOKED, S_PURGE_ACCESS, S_PURGE_REFRESH,
	                                      S_PURGE_SESSIONS, S_PURGE_RESET};
	size_t total = 0;
	struct run r;
	for (run_init(&r, PS(s), RUN_TX); run_next(&r);) {
		total = 0;
		for (size_t i = 0; i < sizeof(purges) / sizeof(purges[0]) && r.e == PC_OK; i++) {
			int64_t changed = 0;
			r.e = exec(r.c, purges[i], P(INT(now)), &changed);
			if (r.e == PC_OK && changed > 0)
				total += (size_t)changed;
		}
	}
	if (r.e == PC_OK)
		*purged = total;
	return r.e;
}

/* ------------------------------------------------------------------ */
/* audit                                                               */

static enum pc_err pg_audit_append(struct pc_store *s, struct pc_audit_event *ev)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_TX); run_next(&r);)
		r.e = append_event(ps, r.c, ev);
	return r.e;
}

static enum pc_err pg_audit_list(struct pc_store *s, const struct pc_audit_filter *f,
                                 struct pc_audit_event **out, size_t *n)
{
	unsigned mask = (f->action != NULL ? F_ACTION : 0) | (f->resource_type != NULL ? F_RESOURCE : 0) |
	                (f->user_id != NULL ? F_ACTOR : 0);
	void *arr = NULL;
	enum pc_err e = list_rows(s, (enum stmt_id)(S_AUDIT_LIST + mask),
	                          P(OPT(f->action), OPT(f->resource_type), OPT(f->user_id),
	                            INT(f->before_seq > 0 ? f->before_seq : INT64_MAX),
	                            INT((int64_t)f->limit)),
	                          sizeof(**out), rd_event, "audit_events", &arr, n);
	*out = arr;
	return e;
}

/* Checks one row of the walk; false at the first bad event. */
static bool verify_row(struct pg_store *ps, const PGresult *r, int64_t expect, uint8_t prev[32],
                       int64_t *seq)
{
	struct pc_audit_event ev;
	uint8_t h[32];
	/* a row that cannot even be read back was not written by us */
	if (col_int(r, 0, 0, seq) != 0)
		*seq = expect;
	bool ok = *seq == expect && row_event(r, 0, &ev) == 0 &&
	          sodium_memcmp(ev.prev_hash, prev, 32) == 0;
	if (ok) {
		pc_audit_chain_hash(h, &ev, prev, ps->audit_key);
		ok = sodium_memcmp(h, ev.hash, sizeof(h)) == 0;
	}
	if (ok)
		memcpy(prev, ev.hash, 32);
	return ok;
}

static enum pc_err pg_audit_verify(struct pc_store *s, int64_t *checked, int64_t *bad_seq)
{
	struct pg_store *ps = PS(s);
	struct run r;
	for (run_init(&r, ps, RUN_ONE); run_next(&r);) {
		struct conn *c = r.c;
		*checked = 0;
		*bad_seq = 0;
		r.e = ensure_prepared(c, S_AUDIT_ALL, NOP);
		if (r.e != PC_OK)
			continue;
		/* one statement, so one snapshot whatever writers do; streamed a
		 * row at a time so the trail's size does not matter */
		char name[16];
		snprintf(name, sizeof(name), "pc%d", (int)S_AUDIT_ALL);
		if (!PQsendQueryPrepared(c->pg, name, 0, NULL, NULL, NULL, 1)) {
			r.e = fail_res(c, stmt_sql[S_AUDIT_ALL], NULL);
			continue;
		}
		if (!PQsetSingleRowMode(c->pg))
			r.e = fail_res(c, stmt_sql[S_AUDIT_ALL], NULL);
		uint8_t prev[32] = {0};
		int64_t expect = 1;
		bool bad = false;
		PGresult *res;
		/* read to the end even after a bad row: the connection must be
		 * idle again for the next call */
		while ((res = PQgetResult(c->pg)) != NULL) {
			ExecStatusType st = PQresultStatus(res);
			if (st == PGRES_SINGLE_TUPLE) {
				int64_t seq;
				if (r.e == PC_OK && !bad) {
					if (verify_row(ps, res, expect, prev, &seq)) {
						(*checked)++;
						expect++;
					} else {
						*bad_seq = seq;
						bad = true;
					}
				}
			} else if (st != PGRES_TUPLES_OK && r.e == PC_OK) {
				r.e = fail_res(c, stmt_sql[S_AUDIT_ALL], res);
			}
			PQclear(res);
		}
		if (PQstatus(c->pg) != CONNECTION_OK && r.e == PC_OK)
			r.e = fail_res(c, stmt_sql[S_AUDIT_ALL], NULL);
		if (r.e == PC_OK && bad)
			r.e = PC_ERR_CONFLICT;
	}
	if (r.e != PC_OK && r.e != PC_ERR_CONFLICT) {
		*checked = 0;
		*bad_seq = 0;
	}
	return r.e;
}

static const struct pc_store_ops pg_ops = {
	.close = pg_close,
	.ping = pg_ping,
	.setup = pg_setup,
	.setup_done = pg_setup_done,
	.user_create = pg_user_create,
	.user_get = pg_user_get,
	.user_get_by_email = pg_user_get_by_email,
	.user_list = pg_user_list,
	.user_delete = pg_user_delete,
	.user_set_password = pg_user_set_password,
	.user_rehash = pg_user_rehash,
	.session_create = pg_session_create,
	.session_get = pg_session_get,
	.session_touch = pg_session_touch,
	.session_list = pg_session_list,
	.session_delete = pg_session_delete,
	.session_delete_all = pg_session_delete_all,
	.reset_create = pg_reset_create,
	.reset_redeem = pg_reset_redeem,
	.apikey_create = pg_apikey_create,
	.apikey_get = pg_apikey_get,
	.apikey_get_by_prefix = pg_apikey_get_by_prefix,
	.apikey_list = pg_apikey_list,
	.apikey_rename = pg_apikey_rename,
	.apikey_delete = pg_apikey_delete,
	.apikey_touch = pg_apikey_touch,
	.refresh_create = pg_refresh_create,
	.refresh_rotate = pg_refresh_rotate,
	.refresh_get = pg_refresh_get,
	.tokens_revoke = pg_tokens_revoke,
	.revoked_list = pg_revoked_list,
	.tokens_purge = pg_tokens_purge,
	.audit_append = pg_audit_append,
	.audit_list = pg_audit_list,
	.audit_verify = pg_audit_verify,
};
