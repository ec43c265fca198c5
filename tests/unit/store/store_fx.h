/*
 * store_fx.h — the store tests' fixture, for either backend.
 *
 * Each test case gets a fresh, migrated store in f->s, opened by URL:
 * SQLite in a fresh temp directory ("sqlite:DIR/pc.db"), or PostgreSQL in a
 * fresh database of the harness's cluster (pg_harness.h). The tests look
 * and tamper with raw SQL through the backend's own client library (raw,
 * count), with SQL(f, sqlite_text, postgres_text) where the dialects differ.
 *
 * FX_RUN(both, sqlite_only, postgres_only) runs `both` against SQLite and
 * then PostgreSQL, and the backend-specific lists against theirs; the
 * PostgreSQL groups fail, not skip, when the cluster cannot be started,
 * unless PC_SKIP_POSTGRES=1. Include after <cmocka.h>.
 */
#ifndef PC_TEST_STORE_FX_H
#define PC_TEST_STORE_FX_H

#include <ftw.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_harness.h"
#include "store/backend.h"
#include "store/store.h"

static uint8_t KEY[32];  /* the audit key of every store opened */
static bool fx_pg;      /* the backend of the group being run */

/* The schema version of this binary: its last migration (3: cred_epoch). */
#define FX_SCHEMA_VERSION 11

#define FX_MAX_EXTRA 4

struct fx {
	bool pg;
	char dir[64];  /* SQLite: the temp directory */
	char path[128]; /* SQLite: the database file */
	char db[32];   /* PostgreSQL: the database */
	char url[200];
	struct pc_store *s;
	struct pc_principal sys; /* the command line */
	char extra[FX_MAX_EXTRA][32]; /* more PostgreSQL databases, dropped at teardown */
	int n_extra;
};

/* Picks the dialect's text. */
#define SQL(f, lite_sql, pg_sql) ((f)->pg ? (pg_sql) : (lite_sql))
/* PostgreSQL's randomblob(32) (pgcrypto is not assumed) */
#define PG_RANDOM32 "decode(md5(random()::text) || md5(random()::text), 'hex')"

static int fx_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static __attribute__((unused)) int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->pg = fx_pg;
	if (f->pg) {
		if (pgh_start() != 1 || pgh_create_db(f->db) != 0) {
			free(f);
			return -1;
		}
		pgh_url(f->url, sizeof(f->url), f->db);
	} else {
		strcpy(f->dir, "/tmp/pc_store_XXXXXX");
		if (mkdtemp(f->dir) == NULL) {
			free(f);
			return -1;
		}
		snprintf(f->path, sizeof(f->path), "%s/pc.db", f->dir);
		snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	}
	char err[256];
	if (pc_store_open(&f->s, f->url, KEY, err, sizeof(err)) != 0) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	f->sys.method = PC_AUTH_SYSTEM;
	strcpy(f->sys.client_addr, "local");
	strcpy(f->sys.user_agent, "test");
	*state = f;
	return 0;
}

static __attribute__((unused)) int fx_teardown(void **state)
{
	struct fx *f = *state;
	if (f == NULL)
		return 0;
	pc_store_close(f->s);
	if (f->pg) {
		pgh_drop_db(f->db);
		for (int i = 0; i < f->n_extra; i++)
			pgh_drop_db(f->extra[i]);
	} else {
		nftw(f->dir, fx_rm_one, 8, FTW_DEPTH | FTW_PHYS);
	}
	free(f);
	return 0;
}

/* A second, empty database of the same backend: its URL in url, and in g a
 * copy of f that raw() reads it through. */
static __attribute__((unused)) void fx_fresh(struct fx *f, struct fx *g, char *url, size_t cap)
{
	*g = *f;
	g->s = NULL;
	if (f->pg) {
		assert_true(f->n_extra < FX_MAX_EXTRA);
		assert_int_equal(pgh_create_db(f->extra[f->n_extra]), 0);
		snprintf(g->db, sizeof(g->db), "%s", f->extra[f->n_extra]);
		f->n_extra++;
		pgh_url(url, cap, g->db);
	} else {
		snprintf(g->path, sizeof(g->path), "%s/fresh%d.db", f->dir, f->n_extra++);
		snprintf(url, cap, "sqlite:%s", g->path);
	}
	snprintf(g->url, sizeof(g->url), "%s", url);
}

/* Runs sql on the database with a connection of our own; returns the first
 * column of the first row as an integer (0 when none). */
static __attribute__((unused)) int64_t raw(const struct fx *f, const char *sql)
{
	if (f->pg)
		return pgh_raw(f->db, sql);
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = 0;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	const char *tail = sql;
	while (tail != NULL && *tail != '\0') {
		int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
		if (rc != SQLITE_OK)
			fail_msg("raw sql: %s: %s", sql, sqlite3_errmsg(db));
		if (st == NULL)
			break;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		else if (rc != SQLITE_DONE)
			fail_msg("raw sql: %s: %s", sql, sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static __attribute__((unused)) int64_t count(const struct fx *f, const char *table)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return raw(f, sql);
}

/* Makes the database refuse writes (or accept them again): SQLite's PRAGMA
 * query_only on every connection of f->s (root ignores file modes);
 * PostgreSQL's default_transaction_read_only on the database, which reaches
 * the store's connections when they reconnect after being terminated (so
 * this also exercises the reconnect path). */
static __attribute__((unused)) void fx_set_read_only(struct fx *f, bool on)
{
	if (!f->pg) {
		assert_int_equal(pc_store_sqlite_set_query_only(f->s, on), 0);
		return;
	}
	char sql[128];
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET default_transaction_read_only = %s", f->db,
	         on ? "on" : "off");
	raw(f, sql);
	pgh_terminate(f->db);
}

/* Another writer holding the database's write lock, as another process
 * would: SQLite BEGIN IMMEDIATE; PostgreSQL LOCK TABLE users (writes to
 * users wait, reads do not). fx_release_writes ends it. */
struct fx_lock {
	sqlite3 *lite;
	PGconn *pg;
};

static __attribute__((unused)) void fx_hold_writes(struct fx *f, struct fx_lock *l)
{
	memset(l, 0, sizeof(*l));
	if (f->pg) {
		l->pg = pgh_connect(f->db);
		assert_non_null(l->pg);
		PGresult *r = PQexec(l->pg, "BEGIN; LOCK TABLE users IN EXCLUSIVE MODE");
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
	} else {
		assert_int_equal(sqlite3_open(f->path, &l->lite), SQLITE_OK);
		assert_int_equal(sqlite3_exec(l->lite, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	}
}

static __attribute__((unused)) void fx_release_writes(struct fx_lock *l)
{
	if (l->pg != NULL) {
		PQclear(PQexec(l->pg, "ROLLBACK"));
		PQfinish(l->pg);
	}
	if (l->lite != NULL) {
		assert_int_equal(sqlite3_exec(l->lite, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(l->lite);
	}
	memset(l, 0, sizeof(*l));
}

#define FX_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define FX_RUN(both, lite, pg) fx_run((both), FX_COUNT(both), (lite), FX_COUNT(lite), (pg), FX_COUNT(pg))

/* cmocka needs at least one entry per array: a list may hold FX_NONE only. */
static __attribute__((unused)) void fx_none(void **state)
{
	(void)state;
}
#define FX_NONE cmocka_unit_test(fx_none)

static __attribute__((unused)) int fx_run(const struct CMUnitTest *both, size_t nb,
                                          const struct CMUnitTest *lite, size_t nl,
                                          const struct CMUnitTest *pg, size_t np)
{
	int failed = 0;
	fx_pg = false;
	failed += _cmocka_run_group_tests("sqlite", both, nb, NULL, NULL);
	if (!(nl == 1 && lite[0].test_func == fx_none))
		failed += _cmocka_run_group_tests("sqlite only", lite, nl, NULL, NULL);
	int st = pgh_start();
	if (st == 1) {
		fx_pg = true;
		time_t t0 = time(NULL);
		failed += _cmocka_run_group_tests("postgres", both, nb, NULL, NULL);
		if (!(np == 1 && pg[0].test_func == fx_none))
			failed += _cmocka_run_group_tests("postgres only", pg, np, NULL, NULL);
		fprintf(stderr, "postgres groups: %lds\n", (long)(time(NULL) - t0));
	} else if (st != 2) {
		fprintf(stderr, "FAILED: the PostgreSQL variants could not run (PC_SKIP_POSTGRES=1 "
		                "skips them)\n");
		failed++;
	}
	return failed;
}

#endif
