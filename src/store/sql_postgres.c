/*
 * sql_postgres.c — the PostgreSQL driver of the store ("postgresql://..." or
 * "postgres://...", libpq's connection URI, passed to libpq unchanged): its
 * SQL text, its connections, transactions and retries (driver.h). The
 * store's logic is not here; it runs over this in tx_*.c.
 *
 * Connections: one per thread, like sql_sqlite.c (the store is called from the
 * worker pool and the command line only, so this is a small, bounded pool:
 * at most PG_MAX_CONNS per store). A connection is opened on first use with
 * client_encoding UTF8 and lock_timeout PG_LOCK_TIMEOUT, kept in a
 * mutex-protected list that pc_store_close walks, and found again through a
 * thread-local cache keyed by the store's generation number. A connection
 * found broken (PQstatus not CONNECTION_OK) is PQreset once; if that fails
 * the call answers PC_ERR_UNAVAILABLE and the next call tries again.
 *
 * Statements: every statement has an id (stmt.h) and is PQprepare'd once
 * per connection, on first use, typed by the kinds of its arguments (INT:
 * int8, BLOB and RAW: bytea, TEXT and NULL: text); values are always
 * parameters (text, or binary for BYTEA), never SQL text. Results are read
 * in binary format; a column is handed over only with its exact type and
 * size (too long, a NUL, a hash of the wrong size: an error for the row
 * readers of rows.c). The whole-chain read of audit verify is streamed a
 * row at a time (single-row mode), so the trail's size does not matter.
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
 * checking the rows changed. Single-statement writes (touch, rehash:
 * PC_SQL_UPDATE) and reads run in autocommit without the lock.
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
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/url.h"
#include "store/backend.h"
#include "store/driver.h"
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

static const char *const stmt_sql[S_AUDIT_LIST] = {
	[S_PING] = "SELECT 1",
	[S_GUARD_INSERT] = "INSERT INTO setup_guard(id, done_at) VALUES (1, $1)",
	[S_GUARD_INSERT_OR_IGNORE] =
		"INSERT INTO setup_guard(id, done_at) VALUES (1, $1) ON CONFLICT DO NOTHING",
	[S_GUARD_GET] = "SELECT 1 FROM setup_guard WHERE id = 1",
	[S_USER_INSERT] = "INSERT INTO users(" PC_USER_COLS ")"
	                 " VALUES ($1, $2, $3, $4, $5, 0, $6, 0, $7, $8)",
	[S_USER_GET] = "SELECT " PC_USER_COLS " FROM users WHERE id = $1",
	[S_USER_GET_BY_EMAIL] = "SELECT " PC_USER_COLS " FROM users WHERE email = $1",
	[S_USER_LIST] = "SELECT " PC_USER_COLS " FROM users ORDER BY created_at, id",
	[S_USER_EXISTS] = "SELECT 1 FROM users WHERE id = $1",
	[S_USER_COUNT] = "SELECT count(*) FROM users",
	[S_USER_DELETE] = "DELETE FROM users WHERE id = $1",
	[S_USER_SET_PASSWORD] =
		"UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1",
	[S_USER_REHASH] = "UPDATE users SET password_hash = $2 WHERE id = $1",
	[S_USER_EPOCH] = "SELECT cred_epoch FROM users WHERE id = $1",
	[S_USER_EPOCH_BUMP] = "UPDATE users SET cred_epoch = cred_epoch + 1 WHERE id = $1",
	/* the last-admin rule is the UPDATE's own condition: the new state is an
	 * enabled admin, or another enabled admin exists (tx_users.c) */
	[S_USER_UPDATE] = "UPDATE users SET email = $2, role = $3, disabled = $4, group_names = $5, display_name = $6"
	                  " WHERE id = $1 AND (($3 = 'admin' AND $4 = 0) OR EXISTS (SELECT 1 FROM users o"
	                  " WHERE o.id <> $1 AND o.role = 'admin' AND o.disabled = 0))",
	[S_USER_LAST_ADMIN] = "SELECT 1 FROM users WHERE id = $1 AND role = 'admin' AND disabled = 0"
	                      " AND NOT EXISTS (SELECT 1 FROM users o"
	                      " WHERE o.id <> $1 AND o.role = 'admin' AND o.disabled = 0)",
	[S_SESSION_INSERT] =
		"INSERT INTO sessions(id, secret_hash, user_id, created_at, last_seen_at, expires_at,"
		" client_addr, user_agent, factors, second_factor_at, pending)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
	[S_SESSION_GET] = "SELECT " PC_SESSION_COLS PC_SESSION_FROM " WHERE s.secret_hash = $1",
	[S_SESSION_EXISTS] = "SELECT 1 FROM sessions WHERE id = $1",
	[S_SESSION_TOUCH] =
		"UPDATE sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1",
	[S_SESSION_LIST] = "SELECT " PC_SESSION_COLS PC_SESSION_FROM
	                   " WHERE s.user_id = $1 AND s.expires_at > $2"
	                   " ORDER BY s.created_at DESC, s.id DESC",
	[S_SESSION_DELETE] = "DELETE FROM sessions WHERE id = $1 AND user_id = $2",
	/* $2 NULL: every session of the user */
	[S_SESSION_DELETE_ALL] = "DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2",
	[S_RESET_INSERT] = "INSERT INTO reset_tokens(token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
	/* FOR UPDATE: of two redemptions of one token the second waits, then
	 * finds it used */
	[S_RESET_FIND] = "SELECT user_id FROM reset_tokens"
	                 " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE",
	[S_RESET_BURN_USER] =
		"UPDATE reset_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
	[S_APIKEY_INSERT] =
		"INSERT INTO api_keys(id, name, prefix, secret_hash, created_by, created_at, expires_at,"
		" last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	[S_APIKEY_GET] = "SELECT " PC_APIKEY_COLS PC_APIKEY_FROM " WHERE k.id = $1",
	[S_APIKEY_GET_BY_PREFIX] = "SELECT " PC_APIKEY_COLS PC_APIKEY_FROM " WHERE k.prefix = $1",
	[S_APIKEY_LIST] = "SELECT " PC_APIKEY_COLS PC_APIKEY_FROM " ORDER BY k.created_at, k.id",
	[S_APIKEY_RENAME] = "UPDATE api_keys SET name = $2 WHERE id = $1",
	[S_APIKEY_DELETE] = "DELETE FROM api_keys WHERE id = $1",
	[S_APIKEY_TOUCH] =
		"UPDATE api_keys SET last_used_at = greatest(last_used_at, $2) WHERE id = $1",
	[S_APIKEY_REKEY] = "UPDATE api_keys SET secret_hash = $3 WHERE id = $1 AND secret_hash = $2",
	[S_REFRESH_INSERT] = "INSERT INTO refresh_tokens(" PC_REFRESH_COLS ") VALUES"
	                     " ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9)",
	[S_REFRESH_GET] = "SELECT " PC_REFRESH_COLS " FROM refresh_tokens WHERE token_hash = $1",
	[S_REFRESH_GET_LOCK] =
		"SELECT " PC_REFRESH_COLS " FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
	[S_REFRESH_MARK_USED] =
		"UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
	[S_REFRESH_DELETE_FAMILY] = "DELETE FROM refresh_tokens WHERE family_id = $1",
	[S_REFRESH_DELETE_SESSION] = "DELETE FROM refresh_tokens WHERE session_id = $1",
	[S_REFRESH_DELETE_USER] =
		"DELETE FROM refresh_tokens WHERE user_id = $1 AND session_id IS DISTINCT FROM $2",
	[S_ACCESS_INSERT] = "INSERT INTO access_tokens(jti, family_id, user_id, session_id, expires_at)"
	                    " VALUES ($1, $2, $3, $4, $5)",
	[S_ACCESS_FAMILY_OF] = "SELECT family_id FROM access_tokens WHERE jti = $1",
	[S_ACCESS_LIVE_FAMILY] = "SELECT jti, expires_at FROM access_tokens"
	                         " WHERE family_id = $1 AND expires_at > $2",
	[S_ACCESS_LIVE_SESSION] = "SELECT jti, expires_at FROM access_tokens"
	                          " WHERE session_id = $1 AND expires_at > $2",
	[S_ACCESS_LIVE_USER] = "SELECT jti, expires_at FROM access_tokens"
	                       " WHERE user_id = $1 AND expires_at > $2"
	                       " AND session_id IS DISTINCT FROM $3",
	[S_REVOKED_INSERT] =
		"INSERT INTO revoked_tokens(jti, expires_at, seq) "
		"VALUES ($1, $2, (SELECT n FROM revocation_seq WHERE id = 1)) ON CONFLICT DO NOTHING",
	[S_REVOCATION_SEQ_BUMP] = "UPDATE revocation_seq SET n = n + 1 WHERE id = 1",
	[S_REVOCATION_SEQ_GET] = "SELECT n FROM revocation_seq WHERE id = 1",
	[S_REVOKED_SINCE] = "SELECT jti, expires_at FROM revoked_tokens"
	                    " WHERE seq > $1 AND seq <= $2 AND expires_at > $3 ORDER BY seq, jti",
	[S_REVOKED_LIST] = "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1"
	                   " ORDER BY expires_at, jti",
	[S_PURGE_REVOKED] = "DELETE FROM revoked_tokens WHERE expires_at <= $1",
	[S_PURGE_ACCESS] = "DELETE FROM access_tokens WHERE expires_at <= $1",
	[S_PURGE_REFRESH] = "DELETE FROM refresh_tokens WHERE expires_at <= $1",
	[S_PURGE_SESSIONS] = "DELETE FROM sessions WHERE expires_at <= $1",
	[S_PURGE_RESET] =
		"DELETE FROM reset_tokens WHERE expires_at <= $1 OR used_at IS NOT NULL",
	[S_TOTP_INSERT] = "INSERT INTO totp_credentials(id, user_id, secret_sealed, algorithm, digits,"
	                  " period, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
	[S_TOTP_GET] = "SELECT " PC_TOTP_COLS " FROM totp_credentials WHERE user_id = $1",
	[S_TOTP_DELETE_PENDING] = "DELETE FROM totp_credentials WHERE user_id = $1 AND confirmed = 0",
	[S_TOTP_CONFIRM] = "UPDATE totp_credentials SET confirmed = 1, last_used_step = $2"
	                   " WHERE id = $1 AND confirmed = 0 AND last_used_step < $2",
	[S_TOTP_USE] = "UPDATE totp_credentials SET last_used_step = $2"
	               " WHERE id = $1 AND confirmed = 1 AND last_used_step < $2",
	[S_TOTP_DELETE] = "DELETE FROM totp_credentials WHERE user_id = $1",
	[S_RECOVERY_DELETE] = "DELETE FROM recovery_codes WHERE user_id = $1",
	[S_RECOVERY_INSERT] = "INSERT INTO recovery_codes(user_id, code_hash) VALUES ($1, $2)",
	[S_RECOVERY_SPEND] = "UPDATE recovery_codes SET used_at = $3"
	                     " WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
	[S_RECOVERY_LEFT] = "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
	[S_REFRESH_FAMILIES] = "SELECT family_id, session_id, min(created_at), max(created_at), max(expires_at),"
	                       " max(factors) FROM refresh_tokens WHERE user_id = $1 AND expires_at > $2"
	                       " GROUP BY family_id, session_id ORDER BY 3 DESC, 1 DESC",
	[S_SESSION_DELETE_PENDING] = "DELETE FROM sessions WHERE id = $1 AND user_id = $2 AND pending <> 0",
	[S_OUTBOX_INSERT] = "INSERT INTO mail_outbox(id, created_at, kind, recipient, message_sealed, next_attempt_at)"
	                     " VALUES ($1, $2, $3, $4, $5, $2)",
	[S_OUTBOX_INSERT_FOR_EMAIL] =
		/* one row whether or not the account exists (the same write either
		 * way); without an enabled account it is born given up and empty */
		"INSERT INTO mail_outbox(id, created_at, kind, recipient, message_sealed, next_attempt_at, failed_at,"
		" last_error) SELECT $1, $2, $3, COALESCE(u.email, ''), CASE WHEN u.email IS NULL THEN '' ELSE $5 END, $2,"
		" CASE WHEN u.email IS NULL THEN $2 END, CASE WHEN u.email IS NULL THEN 'no such account' ELSE '' END"
		" FROM (SELECT 1 AS one) AS one LEFT JOIN users u ON u.email = $4 AND u.disabled = 0",
	[S_RESET_INSERT_FOR_EMAIL] = "INSERT INTO reset_tokens(token_hash, user_id, expires_at)"
	                              " SELECT $1, id, $3 FROM users WHERE email = $2 AND disabled = 0",
	[S_USER_ID_BY_EMAIL] = "SELECT id FROM users WHERE email = $1 AND disabled = 0",
	[S_OUTBOX_SENT] = "UPDATE mail_outbox SET sent_at = $3, message_sealed = '', lease_until = 0, last_error = ''"
	                   " WHERE id = $1 AND lease_owner = $2 AND sent_at IS NULL",
	[S_OUTBOX_RETRY] = "UPDATE mail_outbox SET next_attempt_at = $3, lease_until = 0, last_error = $4"
	                    " WHERE id = $1 AND lease_owner = $2 AND sent_at IS NULL",
	[S_OUTBOX_FAIL] = "UPDATE mail_outbox SET failed_at = $3, message_sealed = '', lease_until = 0, last_error = $4"
	                   " WHERE id = $1 AND lease_owner = $2 AND sent_at IS NULL",
	[S_OUTBOX_DEPTH] = "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL",
	[S_PURGE_OUTBOX] = "DELETE FROM mail_outbox WHERE sent_at <= $1 - 604800 OR failed_at <= $1 - 604800",
	[S_OUTBOX_CLAIM] = "UPDATE mail_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1"
	                   " WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $3 AND lease_until <= $3"
	                   " ORDER BY next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
	                   " AND sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $3 AND lease_until <= $3"
	                   " RETURNING id, recipient, message_sealed, attempts",
	[S_EMAIL_CHANGE_CLEAR] = "DELETE FROM email_changes WHERE user_id = $1",
	[S_EMAIL_CHANGE_INSERT] = "INSERT INTO email_changes(token_hash, user_id, new_email, expires_at) VALUES ($1, $2, $3, $4)",
	[S_EMAIL_CHANGE_USE] = "UPDATE email_changes SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
	[S_USER_SET_EMAIL] = "UPDATE users SET email = $2 WHERE id = $1",
	[S_EMAIL_CHANGE_FIND] = "SELECT user_id, new_email FROM email_changes WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE",
	[S_PASSKEY_INSERT] = "INSERT INTO passkeys(" PC_PASSKEY_COLS ") VALUES"
	                     " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
	[S_PASSKEY_LIST] = "SELECT " PC_PASSKEY_COLS " FROM passkeys WHERE user_id = $1 ORDER BY created_at, id",
	[S_PASSKEY_BY_CRED] = "SELECT " PC_PASSKEY_COLS " FROM passkeys WHERE credential_id = $1",
	[S_PASSKEY_COUNT] = "SELECT count(*) FROM passkeys WHERE user_id = $1",
	[S_PASSKEY_RENAME] = "UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2",
	[S_PASSKEY_DELETE] = "DELETE FROM passkeys WHERE id = $1 AND user_id = $2",
	[S_PASSKEY_DELETE_USER] = "DELETE FROM passkeys WHERE user_id = $1",
	[S_PASSKEY_USE] = "UPDATE passkeys SET sign_count = $3, last_used_at = $4"
	                  " WHERE id = $1 AND sign_count = $2",
	[S_PASSKEY_HANDLE] = "SELECT user_handle FROM passkeys WHERE user_id = $1 ORDER BY created_at LIMIT 1",
	[S_WA_CHALLENGE_PURGE] = "DELETE FROM webauthn_challenges WHERE expires_at <= $1",
	[S_WA_CHALLENGE_INSERT] = "INSERT INTO webauthn_challenges(challenge_hash, purpose, binding, expires_at,"
	                          " user_handle) VALUES ($1, $2, $3, $4, $5)",
	[S_WA_CHALLENGE_GET] = "SELECT user_handle FROM webauthn_challenges WHERE challenge_hash = $1"
	                       " AND purpose = $2 AND binding = $3 AND expires_at > $4",
	[S_WA_CHALLENGE_COUNT] = "SELECT count(*) FROM webauthn_challenges WHERE binding = $1",
	[S_WA_CHALLENGE_TAKE] = "DELETE FROM webauthn_challenges WHERE challenge_hash = $1 AND purpose = $2"
	                        " AND binding = $3 AND expires_at > $4",
	[S_OIDC_INSERT] = "INSERT INTO oidc_objects(" PC_OIDC_COLS ") VALUES ($1, $2, $3, $4, $5, $6)",
	[S_OIDC_GET] = "SELECT " PC_OIDC_COLS " FROM oidc_objects WHERE kind = $1 AND id = $2",
	[S_OIDC_LIST] = "SELECT " PC_OIDC_COLS " FROM oidc_objects WHERE kind = $1 ORDER BY id",
	[S_OIDC_LIST_OWNER] = "SELECT " PC_OIDC_COLS " FROM oidc_objects WHERE kind = $1 AND owner = $2 ORDER BY id",
	[S_OIDC_REPLACE] = "UPDATE oidc_objects SET owner = $3, body = $4, state = $5, expires_at = $6"
	                   " WHERE kind = $1 AND id = $2",
	[S_OIDC_DELETE] = "DELETE FROM oidc_objects WHERE kind = $1 AND id = $2",
	[S_OIDC_DELETE_OWNER] = "DELETE FROM oidc_objects WHERE kind = $1 AND owner = $2",
	[S_OIDC_CLAIM] = "UPDATE oidc_objects SET state = $4 WHERE kind = $1 AND id = $2 AND state = $3"
	                 " AND expires_at > $5",
	[S_OIDC_PURGE] = "DELETE FROM oidc_objects WHERE expires_at > 0 AND expires_at <= $1",
	[S_AUDIT_LAST] = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
	[S_AUDIT_INSERT] = "INSERT INTO audit_events(" PC_EVENT_COLS ") VALUES"
	                   " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
	/* streamed (single-row mode): one statement, one snapshot */
	[S_AUDIT_ALL] = "SELECT " PC_EVENT_COLS " FROM audit_events ORDER BY seq",
};

struct conn {
	struct pc_sql base; /* first: driver.h */
	pthread_t owner;
	PGconn *pg;
	struct pg_store *ps;
	bool prepared[S__COUNT];
	/* the outcome of the current attempt, for the retry decision */
	char state[6];        /* SQLSTATE of the last failure, "" when none */
	bool lost;            /* the connection broke */
	bool lost_in_commit;  /* ... while COMMIT was on the wire */
	/* the cursor: a whole result, or one row of a stream */
	PGresult *res;
	int row;
	bool streaming;
	enum pc_stmt cur_id;
	struct conn *next;
};

struct pg_store {
	struct pc_store base; /* first: driver.h */
	uint64_t gen;
	char *url;            /* sodium_malloc'd, read-only: may hold the password */
	char *password;       /* sodium_malloc'd copy to scrub from messages, or NULL */
	char masked[512];     /* the URL with the password masked, for messages */
	uint8_t *audit_key;   /* sodium_malloc'd, read-only */
	pthread_mutex_t mu;   /* guards conns, n_conns */
	struct conn *conns;
	size_t n_conns;
};

static const struct pc_sql_driver pg_driver;

static atomic_uint_fast64_t next_gen = 1;
static _Thread_local struct {
	uint64_t gen;
	struct conn *c;
} tls_conn;

static struct pg_store *PS(struct pc_store *s)
{
	assert(s->drv == &pg_driver);
	return (struct pg_store *)s;
}

static struct conn *C(struct pc_sql *c)
{
	assert(c->drv == &pg_driver);
	return (struct conn *)c;
}

/* ------------------------------------------------------------------ */
/* messages and errors                                                 */


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


static bool retry_state(const char *st)
{
	return strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
}

PC_MUST_USE static enum pc_err map_state(const char *st, bool lost)
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
PC_MUST_USE static enum pc_err fail_res(struct conn *c, const char *what, const PGresult *r)
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
/* statements, arguments, cursor                                       */

static const char *sql_of(enum pc_stmt id)
{
	return id < S_AUDIT_LIST ? stmt_sql[id] : "audit list";
}

/* Prepares statement id on c once, typed by the kinds of its arguments
 * (a NULL is always a missing text). */
PC_MUST_USE static enum pc_err ensure_prepared(struct conn *c, enum pc_stmt id,
                                               const struct pc_sql_arg *a, size_t n)
{
	assert(id < S__COUNT && n <= MAX_PARAMS);
	if (c->prepared[id])
		return PC_OK;
	char name[16], buf[1024];
	const char *sql = sql_of(id);
	if (id >= S_AUDIT_LIST) {
		pc_sql_audit_list_text(buf, sizeof(buf), (unsigned)(id - S_AUDIT_LIST), '$');
		sql = buf;
	}
	Oid types[MAX_PARAMS];
	for (size_t k = 0; k < n; k++)
		types[k] = a[k].kind == PC_SQL_INT                                   ? OID_INT8
		           : a[k].kind == PC_SQL_BLOB || a[k].kind == PC_SQL_RAW ? OID_BYTEA
		                                                                    : OID_TEXT;
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

/* Text goes as C strings: every one is NUL-terminated (store.c checks the
 * fixed arrays), and PostgreSQL text cannot hold a NUL anyway. */
PC_MUST_USE static enum pc_err bind_params(struct bound *b, const struct pc_sql_arg *a, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const struct pc_sql_arg *p = &a[k];
		b->lengths[k] = 0;
		b->formats[k] = 0;
		switch (p->kind) {
		case PC_SQL_TEXT:
			b->values[k] = p->p;
			break;
		case PC_SQL_BLOB:
		case PC_SQL_RAW:
			if (p->n > INT_MAX)
				return PC_ERR_INTERNAL;
			/* a zero-length binary value must still be non-NULL */
			b->values[k] = p->n > 0 ? p->p : "";
			b->lengths[k] = (int)p->n;
			b->formats[k] = 1;
			break;
		case PC_SQL_INT:
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

/* Reads what is left of a stream, so the connection is idle for the next
 * statement. */
static void drain(struct conn *c)
{
	PGresult *r;
	while ((r = PQgetResult(c->pg)) != NULL)
		PQclear(r);
}

PC_MUST_USE static enum pc_err pg_query(struct pc_sql *pc, enum pc_stmt id,
                                        const struct pc_sql_arg *a, size_t n)
{
	struct conn *c = C(pc);
	assert(c->res == NULL && !c->streaming);
	enum pc_err e = ensure_prepared(c, id, a, n);
	if (e != PC_OK)
		return e;
	struct bound b;
	if ((e = bind_params(&b, a, n)) != PC_OK)
		return e;
	char name[16];
	snprintf(name, sizeof(name), "pc%d", (int)id);
	c->cur_id = id;
	c->row = -1;
	if (id == S_AUDIT_ALL) {
		if (!PQsendQueryPrepared(c->pg, name, (int)n, b.values, b.lengths, b.formats, 1))
			return fail_res(c, sql_of(id), NULL);
		c->streaming = true;
		if (!PQsetSingleRowMode(c->pg)) {
			e = fail_res(c, sql_of(id), NULL);
			drain(c);
			c->streaming = false;
		}
		return e;
	}
	PGresult *r = PQexecPrepared(c->pg, name, (int)n, b.values, b.lengths, b.formats, 1);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		e = fail_res(c, sql_of(id), r);
		PQclear(r);
		return e;
	}
	c->res = r;
	return PC_OK;
}

PC_MUST_USE static enum pc_err pg_step(struct pc_sql *pc, bool *row)
{
	struct conn *c = C(pc);
	*row = false;
	if (!c->streaming) {
		if (c->res != NULL && c->row + 1 < PQntuples(c->res)) {
			c->row++;
			*row = true;
		}
		return PC_OK;
	}
	PQclear(c->res);
	c->res = PQgetResult(c->pg);
	c->row = 0;
	if (c->res == NULL) {
		c->streaming = false;
		return PQstatus(c->pg) == CONNECTION_OK ? PC_OK : fail_res(c, sql_of(c->cur_id), NULL);
	}
	ExecStatusType st = PQresultStatus(c->res);
	if (st == PGRES_SINGLE_TUPLE) {
		*row = true;
		return PC_OK;
	}
	enum pc_err e = st == PGRES_TUPLES_OK ? PC_OK : fail_res(c, sql_of(c->cur_id), c->res);
	PQclear(c->res);
	c->res = NULL;
	drain(c);
	c->streaming = false;
	if (e == PC_OK && PQstatus(c->pg) != CONNECTION_OK)
		e = fail_res(c, sql_of(c->cur_id), NULL);
	return e;
}

static void pg_done(struct pc_sql *pc)
{
	struct conn *c = C(pc);
	PQclear(c->res);
	c->res = NULL;
	if (c->streaming)
		drain(c);
	c->streaming = false;
}

PC_MUST_USE static enum pc_err pg_exec(struct pc_sql *pc, enum pc_stmt id,
                                       const struct pc_sql_arg *a, size_t n, int64_t *changes)
{
	struct conn *c = C(pc);
	enum pc_err e = pg_query(pc, id, a, n);
	if (e != PC_OK)
		return e;
	if (changes != NULL) {
		const char *t = PQcmdTuples(c->res);
		char *end;
		long long v = strtoll(t, &end, 10);
		*changes = t[0] != '\0' && *end == '\0' && v >= 0 ? (int64_t)v : 0;
	}
	pg_done(pc);
	return PC_OK;
}

static int pg_col_text(struct pc_sql *pc, int col, char *dst, size_t cap)
{
	struct conn *c = C(pc);
	dst[0] = '\0';
	if (PQgetisnull(c->res, c->row, col))
		return -1;
	int n = PQgetlength(c->res, c->row, col);
	const char *v = PQgetvalue(c->res, c->row, col);
	if (n < 0 || (size_t)n >= cap || memchr(v, '\0', (size_t)n) != NULL)
		return -1;
	memcpy(dst, v, (size_t)n);
	dst[n] = '\0';
	return 0;
}

static int pg_col_hash(struct pc_sql *pc, int col, uint8_t out[32])
{
	struct conn *c = C(pc);
	memset(out, 0, 32);
	if (PQgetisnull(c->res, c->row, col) || PQftype(c->res, col) != OID_BYTEA ||
	    PQgetlength(c->res, c->row, col) != 32)
		return -1;
	memcpy(out, PQgetvalue(c->res, c->row, col), 32);
	return 0;
}

static int pg_col_int(struct pc_sql *pc, int col, int64_t *out)
{
	struct conn *c = C(pc);
	*out = 0;
	if (PQgetisnull(c->res, c->row, col) || PQfformat(c->res, col) != 1)
		return -1;
	const unsigned char *v = (const unsigned char *)PQgetvalue(c->res, c->row, col);
	int n = PQgetlength(c->res, c->row, col);
	Oid t = PQftype(c->res, col);
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

static bool pg_col_null(struct pc_sql *pc, int col)
{
	struct conn *c = C(pc);
	return PQgetisnull(c->res, c->row, col);
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
	PQclear(c->res);
	PQfinish(c->pg);
	free(c);
}

/* Opens a connection; on failure one line in err. */
PC_MUST_USE static enum pc_err conn_open(struct pg_store *ps, struct conn **out, char *err,
                                         size_t errlen)
{
	*out = NULL;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return PC_ERR_INTERNAL;
	}
	c->base.drv = &pg_driver;
	c->base.store = &ps->base;
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
PC_MUST_USE static enum pc_err conn_reset(struct conn *c)
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
PC_MUST_USE static enum pc_err conn_get_err(struct pg_store *ps, struct conn **out, char *err,
                                            size_t errlen)
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

PC_MUST_USE static enum pc_err conn_get(struct pg_store *ps, struct conn **out)
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
PC_MUST_USE static enum pc_err tx_begin(struct conn *c)
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
PC_MUST_USE static enum pc_err tx_end(struct conn *c, enum pc_err e)
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


/* Whether to run the script again after its failure on c: once on a fresh
 * connection when the connection was lost before COMMIT (the server rolled
 * back), up to PG_TX_RETRIES times after a serialisation failure or
 * deadlock; never when it was lost during COMMIT (the outcome is unknown). */
struct retry {
	int attempt;
	bool reconnected;
};

static bool retry(struct conn *c, struct retry *rt)
{
	if (c->lost) {
		if (c->lost_in_commit || rt->reconnected)
			return false;
		rt->reconnected = true;
		return true;
	}
	if (retry_state(c->state)) {
		if (rt->attempt < PG_TX_RETRIES) {
			rt->attempt++;
			/* a little jitter so the transactions that collided part ways */
			usleep((useconds_t)(1000 * rt->attempt + randombytes_uniform(2000)));
			return true;
		}
		struct pc_logline l;
		pc_logline_begin(&l, "warn", "store_postgres_retries_exhausted");
		pc_logline_str(&l, "sqlstate", c->state);
		pc_logline_int(&l, "attempts", rt->attempt + 1);
		pc_logline_emit(&l);
	}
	return false;
}

/* Runs a script: WRITE inside BEGIN + the write lock, committed when it
 * returns PC_OK; READ and UPDATE in autocommit. Retried whole (retry()). */
PC_MUST_USE static enum pc_err pg_run(struct pc_store *s, enum pc_sql_mode mode, pc_sql_script fn,
                                      void *ctx)
{
	struct pg_store *ps = PS(s);
	bool tx = mode == PC_SQL_WRITE;
	struct retry rt = {0};
	for (;;) {
		struct conn *c;
		enum pc_err e = conn_get(ps, &c);
		if (e != PC_OK)
			return e;
		c->state[0] = '\0';
		c->lost = false;
		c->lost_in_commit = false;
		if (tx)
			e = tx_begin(c);
		if (e == PC_OK) {
			e = fn(&c->base, ctx);
			assert(c->res == NULL && !c->streaming);
			if (tx)
				e = tx_end(c, e);
		}
		if (e == PC_OK || !retry(c, &rt))
			return e;
	}
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
	ps->base.drv = &pg_driver;
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
	ps->base.audit_key = ps->audit_key;

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

static const struct pc_sql_driver pg_driver = {
	.corrupt_event = "store_postgres_corrupt",
	.run = pg_run,
	.exec = pg_exec,
	.query = pg_query,
	.step = pg_step,
	.done = pg_done,
	.col_text = pg_col_text,
	.col_int = pg_col_int,
	.col_hash = pg_col_hash,
	.col_null = pg_col_null,
	.close = pg_close,
};
