/*
 * driver.h — the per-dialect SQL driver the store's transaction scripts run
 * over (private to src/store/).
 *
 * The store's business logic (rules, rows, audit events: tx_*.c) is written
 * once against this interface; a dialect (sql_sqlite.c, sql_postgres.c)
 * supplies only what differs: this thread's connection, transactions with
 * the dialect's retry rule, statements prepared by id from its own SQL text
 * table, typed arguments, a cursor over the rows, and its error mapping.
 *
 * A dialect's handle embeds struct pc_store FIRST; its connection embeds
 * struct pc_sql FIRST. A script runs on one connection, sees one open
 * cursor at a time (sql_query ... sql_done), and is called again from the
 * start when the driver retries the transaction: it must reset everything
 * it fills before its first statement.
 *
 * Errors every call may return: PC_ERR_CONFLICT (a unique key), PC_ERR_NOT_FOUND
 * (a foreign key: the row it belongs to is gone), PC_ERR_UNAVAILABLE (busy,
 * disk full, read-only, unreachable), PC_ERR_INTERNAL (anything else; the
 * driver has logged it, never with a value).
 */
#ifndef PC_STORE_DRIVER_H
#define PC_STORE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "store/stmt.h"
#include "store/store.h"

struct pc_sql;

/* How a script runs. */
enum pc_sql_mode {
	PC_SQL_READ,   /* reads only, no transaction (PostgreSQL: autocommit) */
	PC_SQL_UPDATE, /* one idempotent single-statement write (SQLite: in a write
	                * transaction; PostgreSQL: autocommit, without the write lock) */
	PC_SQL_WRITE,  /* a write transaction holding the database's write lock */
};

/* A script: PC_OK commits (WRITE), anything else rolls back. */
typedef enum pc_err (*pc_sql_script)(struct pc_sql *c, void *ctx);

enum pc_sql_kind {
	PC_SQL_TEXT, /* UTF-8 text, NUL-terminated (n: its length) */
	PC_SQL_RAW,  /* text of unknown encoding (a User-Agent): SQLite TEXT, PostgreSQL BYTEA */
	PC_SQL_INT,
	PC_SQL_BLOB,
	PC_SQL_NULL,
};

struct pc_sql_arg {
	enum pc_sql_kind kind;
	const void *p;
	size_t n;
	int64_t i;
};

#define A_TXT(s) {.kind = PC_SQL_TEXT, .p = (s), .n = strlen(s)}
/* a fixed char array (terminated: store.c checks): never read past its end */
#define A_FIX(a) {.kind = PC_SQL_TEXT, .p = (a), .n = strnlen((a), sizeof(a))}
#define A_RAW(a) {.kind = PC_SQL_RAW, .p = (a), .n = strnlen((a), sizeof(a))}
#define A_OPT(s) \
	{.kind = (s) != NULL ? PC_SQL_TEXT : PC_SQL_NULL, .p = (s), .n = (s) != NULL ? strlen(s) : 0}
#define A_INT(v) {.kind = PC_SQL_INT, .i = (v)}
#define A_HASH(b) {.kind = PC_SQL_BLOB, .p = (b), .n = 32}
#define ARGS(...) (const struct pc_sql_arg[]){__VA_ARGS__}, \
	sizeof((const struct pc_sql_arg[]){__VA_ARGS__}) / sizeof(struct pc_sql_arg)
#define NOARGS NULL, 0

struct pc_sql_driver {
	const char *corrupt_event; /* the log event of a row that does not fit */
	/* Runs fn on this thread's connection in the given mode, retrying it
	 * whole where the dialect says; returns fn's outcome or the driver's. */
	enum pc_err (*run)(struct pc_store *s, enum pc_sql_mode mode, pc_sql_script fn, void *ctx);
	/* A statement that returns no rows; *changes (may be NULL): rows changed. */
	enum pc_err (*exec)(struct pc_sql *c, enum pc_stmt id, const struct pc_sql_arg *a,
	                    size_t n, int64_t *changes);
	/* Opens the connection's cursor on statement id; sql_done() it after,
	 * on every path. */
	enum pc_err (*query)(struct pc_sql *c, enum pc_stmt id, const struct pc_sql_arg *a,
	                     size_t n);
	/* Moves to the next row: *row false at the end. */
	enum pc_err (*step)(struct pc_sql *c, bool *row);
	void (*done)(struct pc_sql *c);
	/* Columns of the current row: -1 when NULL, of another type, too long
	 * for cap (the NUL included), holding a NUL, or a hash not 32 bytes. */
	int (*col_text)(struct pc_sql *c, int col, char *dst, size_t cap);
	int (*col_int)(struct pc_sql *c, int col, int64_t *out);
	int (*col_hash)(struct pc_sql *c, int col, uint8_t out[32]);
	bool (*col_null)(struct pc_sql *c, int col);
	void (*close)(struct pc_store *s);
};

struct pc_store {
	const struct pc_sql_driver *drv;
	const uint8_t *audit_key; /* sodium_malloc'd, read-only; the dialect frees it */
	char audit_key_id[PC_AUDIT_KEY_ID_LEN + 1]; /* pc_audit_key_id(audit_key) */
	/* verify only: the previous master key's audit subkey (store.c owns it;
	 * sodium_malloc'd, read-only), NULL when none was given */
	uint8_t *audit_prev;
	char audit_prev_id[PC_AUDIT_KEY_ID_LEN + 1];
};

struct pc_sql {
	const struct pc_sql_driver *drv;
	struct pc_store *store;
};

PC_MUST_USE static inline enum pc_err sql_run(struct pc_store *s, enum pc_sql_mode mode,
                                              pc_sql_script fn, void *ctx)
{
	return s->drv->run(s, mode, fn, ctx);
}

PC_MUST_USE static inline enum pc_err sql_exec(struct pc_sql *c, enum pc_stmt id,
                                               const struct pc_sql_arg *a, size_t n,
                                               int64_t *changes)
{
	return c->drv->exec(c, id, a, n, changes);
}

PC_MUST_USE static inline enum pc_err sql_query(struct pc_sql *c, enum pc_stmt id,
                                                const struct pc_sql_arg *a, size_t n)
{
	return c->drv->query(c, id, a, n);
}

PC_MUST_USE static inline enum pc_err sql_step(struct pc_sql *c, bool *row)
{
	return c->drv->step(c, row);
}

static inline void sql_done(struct pc_sql *c)
{
	c->drv->done(c);
}

#define COL_TEXT(c, col, arr) ((c)->drv->col_text((c), (col), (arr), sizeof(arr)))
#define COL_INT(c, col, p) ((c)->drv->col_int((c), (col), (p)))
#define COL_HASH(c, col, h) ((c)->drv->col_hash((c), (col), (h)))
#define COL_NULL(c, col) ((c)->drv->col_null((c), (col)))

/* ---- row readers and shared steps (rows.c) ---- */

/* Logs a stored value that does not fit its field; returns PC_ERR_INTERNAL. */
PC_MUST_USE enum pc_err pc_sql_corrupt(struct pc_sql *c, const char *what);

typedef int (*pc_row_reader)(struct pc_sql *c, void *out);

/* Row readers (pc_row_reader): the current row into the struct out points
 * to (pc_user, pc_session, pc_api_key, pc_revoked, pc_audit_event,
 * pc_refresh_row, an id); -1 when
 * a column does not fit (the struct is then cleared). Column orders:
 * stmt.h's *_COLS. */
PC_MUST_USE int pc_row_user(struct pc_sql *c, void *out);
PC_MUST_USE int pc_row_session(struct pc_sql *c, void *out);
PC_MUST_USE int pc_row_apikey(struct pc_sql *c, void *out);
PC_MUST_USE int pc_row_revoked(struct pc_sql *c, void *out);
PC_MUST_USE int pc_row_event(struct pc_sql *c, void *out);
/* Column 0 as an id into char out[PC_ID_LEN + 1]. */
PC_MUST_USE int pc_row_id(struct pc_sql *c, void *out);
/* A struct pc_oidc_obj (PC_OIDC_COLS; tx_oidc.c). */
PC_MUST_USE int pc_row_oidc(struct pc_sql *c, void *out);
/* A refresh token and whether its used_at is set (the struct has no field
 * for it): what pc_row_refresh reads. */
struct pc_refresh_row {
	struct pc_refresh_token t;
	bool used;
};
PC_MUST_USE int pc_row_refresh(struct pc_sql *c, void *out);

/* Runs a query for at most one row: its row read into out, or
 * PC_ERR_NOT_FOUND (out cleared on every failure). what: the table, for the log. */
PC_MUST_USE enum pc_err pc_sql_one(struct pc_sql *c, enum pc_stmt id, const struct pc_sql_arg *a,
                                   size_t n, pc_row_reader rd, void *out, size_t size,
                                   const char *what);
/* Whether a query returned a row. */
PC_MUST_USE enum pc_err pc_sql_exists(struct pc_sql *c, enum pc_stmt id,
                                      const struct pc_sql_arg *a, size_t n, bool *found);
/* Every row of a query into a malloc'd array (wiped and freed on failure);
 * at most max rows (0: no limit). */
PC_MUST_USE enum pc_err pc_sql_all(struct pc_sql *c, enum pc_stmt id, const struct pc_sql_arg *a,
                                   size_t n, pc_row_reader rd, size_t size, size_t max,
                                   const char *what, void **out, size_t *len);

/* A whole read as its own script (PC_SQL_READ): pc_sql_one, pc_sql_all. */
PC_MUST_USE enum pc_err pc_sql_get_one(struct pc_store *s, enum pc_stmt id,
                                       const struct pc_sql_arg *a, size_t n, pc_row_reader rd,
                                       void *out, size_t size, const char *what);
PC_MUST_USE enum pc_err pc_sql_get_all(struct pc_store *s, enum pc_stmt id,
                                       const struct pc_sql_arg *a, size_t n, pc_row_reader rd,
                                       size_t size, size_t max, const char *what, void **out,
                                       size_t *len);

/* Makes room in a malloc'd array for element n (capacity *cap, doubled as
 * needed). The old block is wiped before it is freed: arrays may hold
 * password hashes. -1 on overflow or OOM (the array is then unchanged). */
PC_MUST_USE int pc_sql_grow(void **arr, size_t *cap, size_t n, size_t elem);

/* The SQL of the audit list with filter mask (stmt.h), its placeholders
 * written mark + number ('?' for SQLite, '$' for PostgreSQL). */
void pc_sql_audit_list_text(char *out, size_t cap, unsigned mask, char mark);

/* Appends ev to the chain: reads the tail and inserts ev with seq, prev_hash
 * and hash filled. Inside a WRITE script only (the write lock keeps the
 * chain linear). */
PC_MUST_USE enum pc_err pc_sql_append_event(struct pc_sql *c, struct pc_audit_event *ev);
/* Queues a mail in the running transaction (tx_outbox.c); append_event
 * calls it for an event's attached mail. */
PC_MUST_USE enum pc_err pc_sql_insert_mail(struct pc_sql *c, const struct pc_outbox_mail *m);

/* The most common script, run in mode: one statement (and ev, when not
 * NULL, appended in the same transaction). must_change: no row changed is
 * PC_ERR_NOT_FOUND. *changed (may be NULL): rows changed, set on PC_OK. */
PC_MUST_USE enum pc_err pc_sql_change(struct pc_store *s, enum pc_sql_mode mode,
                                      struct pc_audit_event *ev, enum pc_stmt id,
                                      const struct pc_sql_arg *a, size_t n, bool must_change,
                                      int64_t *changed);

/* Inserts a session row (tx_sessions.c; setup creates the first one too). */
PC_MUST_USE enum pc_err pc_sql_insert_session(struct pc_sql *c, const struct pc_session *s);

/* ---- credential epochs (store.h) and revocations, inside a WRITE script ---- */

/* The jtis a transaction revokes, in the order found (tx_tokens.c). */
struct pc_revoked_vec {
	struct pc_revoked *v;
	size_t n, cap;
};
/* Frees and empties. */
void pc_revoked_vec_reset(struct pc_revoked_vec *rv);
/* Hands the vector to the caller on e == PC_OK (*out, *n), frees it
 * otherwise or when out is NULL; returns e. */
PC_MUST_USE enum pc_err pc_revoked_vec_out(struct pc_revoked_vec *rv, enum pc_err e,
                                           struct pc_revoked **out, size_t *n);

/* Every unexpired recorded access jti of user_id into rv and onto the
 * revocation list, and every refresh token of the user deleted, but those
 * issued from the session keep (NULL: none kept) (tx_tokens.c). */
PC_MUST_USE enum pc_err pc_sql_revoke_user(struct pc_sql *c, const char *user_id,
                                           const char *keep, int64_t now,
                                           struct pc_revoked_vec *rv);

/* Every unexpired recorded access jti of user_id into rv and onto the
 * revocation list; refresh families and sessions stay (a change of the
 * claims the access tokens carry: tx_users.c). */
PC_MUST_USE enum pc_err pc_sql_revoke_user_access(struct pc_sql *c, const char *user_id, int64_t now,
                                                  struct pc_revoked_vec *rv);

/* PC_OK when user_id's credential epoch is still epoch; PC_ERR_STALE when
 * a change moved it; PC_ERR_NOT_FOUND when the user is gone (tx_users.c). */
PC_MUST_USE enum pc_err pc_sql_epoch_check(struct pc_sql *c, const char *user_id, int64_t epoch);

/* Ends user_id's sign-ins: the epoch bumped (PC_ERR_NOT_FOUND: no such
 * user), every session but keep (NULL: all) deleted (*ended, may be NULL:
 * how many), then pc_sql_revoke_user — sparing the tokens issued from keep
 * when keep_tokens (tx_users.c). */
PC_MUST_USE enum pc_err pc_sql_end_credentials(struct pc_sql *c, const char *user_id,
                                               const char *keep, bool keep_tokens, int64_t now,
                                               struct pc_revoked_vec *rv, int64_t *ended);

/* Clears what the store fills in an event (NULL: nothing). */
void pc_event_clear(struct pc_audit_event *ev);

#endif
