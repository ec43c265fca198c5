/* test_store_conformance.c — the store, on SQLite and on PostgreSQL
 * (store_fx.h), asserting the same behaviour of both:
 * migrations, the first-user race (threads, and two handles as two
 * processes would), users, sessions, reset tokens, one audit event per
 * change in the same transaction, the hash chain against
 * edits/deletes/reorders/forgeries, cursor pagination, read-only and busy
 * databases; SQLite only: file mode, relative paths, a file that is not a
 * database. Each test runs in a fresh database (a temp directory, or a
 * fresh PostgreSQL database); the test opens it with the backend's own
 * client library to look and to tamper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
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
#include "store/backend.h"
#include "store/store.h"

static const int64_t NOW = 1800000000;

#include "store_fx.h"
#include "store_helpers.h"

/* Not shared: the other suites' sessions carry fixed times or factors. */
static void mk_session(struct pc_session *s, const char *user_id, int64_t created,
                       int64_t expires)
{
	memset(s, 0, sizeof(*s));
	pc_random_id(s->id);
	randombytes_buf(s->secret_hash, sizeof(s->secret_hash));
	snprintf(s->user_id, sizeof(s->user_id), "%s", user_id);
	s->created_at = created;
	s->last_seen_at = created;
	s->expires_at = expires;
	strcpy(s->client_addr, "203.0.113.9");
	strcpy(s->user_agent, "Mozilla/5.0 (test)");
}

/* Not shared with test_store_conformance_tokens.c's: this one takes the
 * creation time and tolerates a user the store no longer has. */
static void add_session(struct fx *f, struct pc_session *s, const struct pc_user *u,
                        int64_t created, int64_t expires)
{
	struct pc_audit_event ev;
	struct pc_principal p;
	struct pc_user now;
	mk_session(s, u->id, created, expires);
	/* signed in under the user's current credential epoch */
	if (pc_store_user_get(f->s, u->id, &now) == PC_OK)
		s->cred_epoch = now.cred_epoch;
	as_user(&p, u, s->id);
	pc_audit_event_init(&ev, &p, "auth.login", "session", s->id);
	assert_int_equal(pc_store_session_create(f->s, &p, &ev, s), PC_OK);
}

/* want_checked: the events before the bad one that verified */
static void assert_verify_bad(struct fx *f, int64_t want_bad, int64_t want_checked)
{
	int64_t checked, bad;
	assert_int_equal(pc_store_audit_verify(f->s, &checked, &bad), PC_ERR_TAMPERED);
	assert_int_equal(bad, want_bad);
	assert_int_equal(checked, want_checked);
}

/* Appends n plain events. */
static void append_n(struct fx *f, int n)
{
	for (int i = 0; i < n; i++) {
		struct pc_audit_event ev;
		pc_audit_event_init(&ev, &f->sys, "auth.login_failed", "user", "");
		assert_int_equal(pc_store_audit_append(f->s, &f->sys, &ev), PC_OK);
		assert_true(ev.seq > 0);
	}
}

/* ------------------------------------------------------------------ */
/* open and migrations                                                 */

static void test_open_creates_0600(void **state)
{
	struct fx *f = *state;
	struct stat sb;
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	/* a umask that takes the owner's write bit away changes nothing */
	char p2[160], u2[170], err[256];
	snprintf(p2, sizeof(p2), "%s/umask.db", f->dir);
	snprintf(u2, sizeof(u2), "sqlite:%s", p2);
	mode_t old = umask(0277);
	struct pc_store *s2;
	int rc = pc_store_open(&s2, u2, KEY, err, sizeof(err));
	umask(old);
	assert_int_equal(rc, 0);
	assert_int_equal(stat(p2, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* and the WAL that SQLite creates copies it */
	append_n(f, 1);
	char wal[200];
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	pc_store_close(s2);
}

struct ping_arg {
	struct pc_store *s;
	enum pc_err result;
};

static void *ping_thread(void *p)
{
	struct ping_arg *a = p;
	a->result = pc_store_ping(a->s);
	return NULL;
}

static void test_open_relative_path(void **state)
{
	struct fx *f = *state;
	char cwd[512], err[256];
	struct pc_store *s2;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	int rc = pc_store_open(&s2, "sqlite:rel.db", KEY, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0); /* the store must not care */
	assert_int_equal(rc, 0);
	bool done = true;
	assert_int_equal(pc_store_setup_done(s2, &done), PC_OK);
	assert_false(done);
	/* a thread opening its connection after the chdir still finds the file */
	struct ping_arg pa = {s2, PC_ERR_INTERNAL};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, ping_thread, &pa), 0);
	pthread_join(t, NULL);
	assert_int_equal(pa.result, PC_OK);
	pc_store_close(s2);
	char p2[160];
	struct stat sb;
	snprintf(p2, sizeof(p2), "%s/rel.db", f->dir);
	assert_int_equal(stat(p2, &sb), 0);
}

static void test_open_bad_urls(void **state)
{
	(void)state;
	char err[256];
	struct pc_store *s2 = (struct pc_store *)1;
	assert_int_equal(pc_store_open(&s2, "mysql://u:hunter2@db/x", KEY, err, sizeof(err)), -1);
	assert_null(s2);
	assert_null(strstr(err, "hunter2"));
	assert_non_null(strstr(err, "unsupported"));
	assert_int_equal(pc_store_open(&s2, "sqlite:", KEY, err, sizeof(err)), -1);
	assert_true(strlen(err) > 0);
	assert_int_equal(pc_store_open(&s2, "sqlite:/nonexistent-dir/x.db", KEY, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
}

static void test_open_not_a_database(void **state)
{
	struct fx *f = *state;
	char p2[160], u2[170], err[256];
	snprintf(p2, sizeof(p2), "%s/junk.db", f->dir);
	snprintf(u2, sizeof(u2), "sqlite:%s", p2);
	FILE *fp = fopen(p2, "w");
	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not a database ", fp);
	fclose(fp);
	struct pc_store *s2;
	assert_int_equal(pc_store_open(&s2, u2, KEY, err, sizeof(err)), -1);
	assert_null(s2);
}

static void test_migrations_idempotent(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	add_user(f, &u, "a@example.com");
	assert_int_equal(raw(f, "SELECT version FROM schema_version"), FX_SCHEMA_VERSION);
	for (int i = 0; i < 3; i++) {
		pc_store_close(f->s);
		f->s = NULL;
		char err[256];
		assert_int_equal(pc_store_open(&f->s, f->url, KEY, err, sizeof(err)), 0);
	}
	assert_int_equal(count(f, "schema_version"), 1);
	assert_int_equal(raw(f, "SELECT version FROM schema_version"), FX_SCHEMA_VERSION);
	struct pc_user got;
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	assert_string_equal(got.email, "a@example.com");
	assert_verify_ok(f, 1);
}

static void test_newer_schema_refused(void **state)
{
	struct fx *f = *state;
	pc_store_close(f->s);
	f->s = NULL;
	raw(f, "UPDATE schema_version SET version = 999");
	char err[256];
	struct pc_store *s2;
	assert_int_equal(pc_store_open(&s2, f->url, KEY, err, sizeof(err)), -1);
	assert_null(s2);
	char want[128];
	snprintf(want, sizeof(want),
	         "database schema version 999 is newer than this binary supports (%d)", FX_SCHEMA_VERSION);
	assert_string_equal(err, want);
	/* nothing was changed by the refusal */
	assert_int_equal(raw(f, "SELECT version FROM schema_version"), 999);
}

struct open_arg {
	const char *url;
	atomic_int *ok;
};

static void *open_thread(void *p)
{
	struct open_arg *a = p;
	struct pc_store *s;
	char err[256];
	if (pc_store_open(&s, a->url, KEY, err, sizeof(err)) == 0) {
		atomic_fetch_add(a->ok, 1);
		pc_store_close(s);
	} else {
		fprintf(stderr, "concurrent open: %s\n", err);
	}
	return NULL;
}

/* Several "processes" (handles) opening a fresh file at once migrate it once. */
static void test_concurrent_open(void **state)
{
	struct fx *f = *state;
	struct fx g;
	char url[200];
	fx_fresh(f, &g, url, sizeof(url));
	atomic_int ok = 0;
	struct open_arg a = {url, &ok};
	pthread_t t[6];
	for (int i = 0; i < 6; i++)
		assert_int_equal(pthread_create(&t[i], NULL, open_thread, &a), 0);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&ok), 6);
	assert_int_equal(count(&g, "schema_version"), 1);
	assert_int_equal(raw(&g, "SELECT version FROM schema_version"), FX_SCHEMA_VERSION);
}

static void test_ping(void **state)
{
	struct fx *f = *state;
	assert_int_equal(pc_store_ping(f->s), PC_OK);
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

static void test_setup_once(void **state)
{
	struct fx *f = *state;
	bool done = true;
	assert_int_equal(pc_store_setup_done(f->s, &done), PC_OK);
	assert_false(done);

	struct pc_user u, u2;
	struct pc_session sess;
	struct pc_principal p;
	struct pc_audit_event ev;
	mk_user(&u, "first@example.com");
	mk_session(&sess, u.id, NOW, NOW + 3600);
	as_user(&p, &u, sess.id);
	pc_audit_event_init(&ev, &p, "setup", "user", u.id);
	assert_int_equal(pc_store_setup(f->s, &p, &ev, &u, &sess), PC_OK);
	assert_int_equal(ev.seq, 1);
	assert_int_equal(pc_store_setup_done(f->s, &done), PC_OK);
	assert_true(done);
	assert_int_equal(count(f, "users"), 1);
	assert_int_equal(count(f, "sessions"), 1);
	assert_int_equal(raw(f, "SELECT done_at FROM setup_guard"), NOW);

	mk_user(&u2, "second@example.com");
	as_user(&p, &u2, NULL);
	pc_audit_event_init(&ev, &p, "setup", "user", u2.id);
	assert_int_equal(pc_store_setup(f->s, &p, &ev, &u2, NULL), PC_ERR_SET_UP);
	assert_int_equal(ev.seq, 0);
	assert_int_equal(count(f, "users"), 1);
	assert_int_equal(count(f, "audit_events"), 1);
	struct pc_audit_event got;
	newest(f, &got);
	assert_string_equal(got.action, "setup");
	assert_string_equal(got.resource_id, u.id);
	assert_string_equal(got.actor_user_id, u.id);
	assert_string_equal(got.auth_method, "session");
}

/* user add before any setup counts as set up; setup then conflicts */
static void test_user_create_sets_guard(void **state)
{
	struct fx *f = *state;
	struct pc_user u, u2;
	add_user(f, &u, "cli@example.com");
	bool done = false;
	assert_int_equal(pc_store_setup_done(f->s, &done), PC_OK);
	assert_true(done);
	struct pc_audit_event ev;
	mk_user(&u2, "web@example.com");
	pc_audit_event_init(&ev, &f->sys, "setup", "user", u2.id);
	assert_int_equal(pc_store_setup(f->s, &f->sys, &ev, &u2, NULL), PC_ERR_SET_UP);
	/* and a second user add still works */
	add_user(f, &u2, "cli2@example.com");
	assert_int_equal(count(f, "users"), 2);
	assert_int_equal(count(f, "setup_guard"), 1);
}

#define RACE_THREADS 8
#define RACE_ATTEMPTS 50

struct race {
	struct pc_store *stores[2];
	atomic_int ok, conflict, other;
};

static void race_thread(void *arg, int idx)
{
	struct race *r = arg;
	struct pc_store *s = r->stores[idx % 2];
	for (int i = 0; i < RACE_ATTEMPTS; i++) {
		struct pc_user u;
		struct pc_session sess;
		struct pc_principal pr;
		struct pc_audit_event ev;
		char email[64];
		snprintf(email, sizeof(email), "t%d-%d@example.com", idx, i);
		mk_user(&u, email);
		mk_session(&sess, u.id, NOW, NOW + 3600);
		as_user(&pr, &u, sess.id);
		pc_audit_event_init(&ev, &pr, "setup", "user", u.id);
		enum pc_err e = pc_store_setup(s, &pr, &ev, &u, &sess);
		if (e == PC_OK)
			atomic_fetch_add(&r->ok, 1);
		else if (e == PC_ERR_SET_UP)
			atomic_fetch_add(&r->conflict, 1);
		else
			atomic_fetch_add(&r->other, 1);
	}
}

static void run_race(struct fx *f, struct pc_store *second)
{
	struct race r = {.stores = {f->s, second != NULL ? second : f->s}};
	fx_race(RACE_THREADS, race_thread, &r);
	assert_int_equal(atomic_load(&r.ok), 1);
	assert_int_equal(atomic_load(&r.conflict), RACE_THREADS * RACE_ATTEMPTS - 1);
	assert_int_equal(atomic_load(&r.other), 0);
	assert_int_equal(count(f, "users"), 1);
	assert_int_equal(count(f, "sessions"), 1);
	assert_int_equal(count(f, "setup_guard"), 1);
	assert_int_equal(count(f, "audit_events"), 1);
	assert_verify_ok(f, 1);
}

static void test_setup_race_threads(void **state)
{
	run_race(*state, NULL);
}

static void test_setup_race_two_handles(void **state)
{
	struct fx *f = *state;
	struct pc_store *s2 = open_second(f);
	run_race(f, s2);
	pc_store_close(s2);
}

/* ------------------------------------------------------------------ */
/* users                                                               */

static void test_user_create_get_list(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b, c, got;
	add_user(f, &a, "a@example.com");
	mk_user(&b, "b@example.com");
	b.created_at = NOW - 10; /* listed first */
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", b.id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, &b), PC_OK);
	add_user(f, &c, "c@example.com");

	assert_int_equal(pc_store_user_get(f->s, a.id, &got), PC_OK);
	assert_string_equal(got.id, a.id);
	assert_string_equal(got.email, a.email);
	assert_string_equal(got.password_hash, a.password_hash);
	assert_int_equal(got.created_at, NOW);
	assert_int_equal(got.password_changed_at, NOW);
	assert_int_equal(pc_store_user_get_by_email(f->s, "c@example.com", &got), PC_OK);
	assert_string_equal(got.id, c.id);
	assert_int_equal(pc_store_user_get(f->s, "0000", &got), PC_ERR_NOT_FOUND);
	assert_string_equal(got.id, "");
	assert_int_equal(pc_store_user_get_by_email(f->s, "nobody@example.com", &got),
	                 PC_ERR_NOT_FOUND);
	/* no pattern matching: the value is a parameter */
	assert_int_equal(pc_store_user_get_by_email(f->s, "%", &got), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_user_get_by_email(f->s, "' OR '1'='1", &got), PC_ERR_NOT_FOUND);

	struct pc_user *list;
	size_t n;
	assert_int_equal(pc_store_user_list(f->s, &list, &n), PC_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].id, b.id);
	/* a and c share created_at: ordered by id */
	const char *first = strcmp(a.id, c.id) < 0 ? a.id : c.id;
	assert_string_equal(list[1].id, first);
	free(list);

	/* duplicate email */
	struct pc_user d;
	mk_user(&d, "a@example.com");
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", d.id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, &d), PC_ERR_CONFLICT);
	assert_int_equal(ev.seq, 0);
	assert_int_equal(count(f, "users"), 3);
	assert_int_equal(count(f, "audit_events"), 3);
}

static void test_user_delete(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b;
	struct pc_audit_event ev;
	add_user(f, &a, "a@example.com");

	pc_audit_event_init(&ev, &f->sys, "user.delete", "user", "nope");
	assert_int_equal(pc_store_user_delete(f->s, &f->sys, &ev, "nope", NULL, NULL), PC_ERR_NOT_FOUND);
	pc_audit_event_init(&ev, &f->sys, "user.delete", "user", a.id);
	assert_int_equal(pc_store_user_delete(f->s, &f->sys, &ev, a.id, NULL, NULL), PC_ERR_LAST_USER);
	assert_int_equal(count(f, "users"), 1);

	add_user(f, &b, "b@example.com");
	struct pc_session s1, s2, sa;
	add_session(f, &s1, &b, NOW, NOW + 3600);
	add_session(f, &s2, &b, NOW, NOW + 3600);
	add_session(f, &sa, &a, NOW, NOW + 3600);
	uint8_t th[32];
	randombytes_buf(th, sizeof(th));
	pc_audit_event_init(&ev, &f->sys, "user.password_reset_issue", "user", b.id);
	assert_int_equal(pc_store_reset_create(f->s, &f->sys, &ev, b.id, th, NOW + 600), PC_OK);
	int64_t events = count(f, "audit_events");

	struct pc_principal pa;
	as_user(&pa, &a, sa.id);
	pc_audit_event_init(&ev, &pa, "user.delete", "user", b.id);
	assert_int_equal(pc_store_user_delete(f->s, &pa, &ev, b.id, NULL, NULL), PC_OK);
	assert_int_equal(count(f, "users"), 1);
	assert_int_equal(count(f, "sessions"), 1); /* only a's */
	assert_int_equal(count(f, "reset_tokens"), 0);
	assert_int_equal(count(f, "audit_events"), events + 1);
	/* b's own events outlive b */
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_events WHERE actor_user_id = '%s'", b.id);
	assert_int_equal(raw(f, sql), 2);
	struct pc_session got;
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &got), PC_ERR_NOT_FOUND);
	assert_verify_ok(f, events + 1);
	/* a is the last one now */
	pc_audit_event_init(&ev, &pa, "user.delete", "user", a.id);
	assert_int_equal(pc_store_user_delete(f->s, &pa, &ev, a.id, NULL, NULL), PC_ERR_LAST_USER);
}

static void test_set_password(void **state)
{
	struct fx *f = *state;
	struct pc_user u, other;
	add_user(f, &u, "u@example.com");
	add_user(f, &other, "o@example.com");
	struct pc_session s1, s2, s3, so;
	add_session(f, &s1, &u, NOW, NOW + 3600);
	add_session(f, &s2, &u, NOW, NOW + 3600);
	add_session(f, &s3, &u, NOW, NOW + 3600);
	add_session(f, &so, &other, NOW, NOW + 3600);

	struct pc_principal p;
	struct pc_audit_event ev;
	as_user(&p, &u, s2.id);
	int64_t events = count(f, "audit_events");
	int64_t t0 = (int64_t)time(NULL);
	pc_audit_event_init(&ev, &p, "user.password_change", "user", u.id);
	assert_int_equal(pc_store_user_set_password(f->s, &p, &ev, u.id, "$argon2id$new", s2.id, NULL, NULL), PC_OK);
	struct pc_user got;
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	assert_string_equal(got.password_hash, "$argon2id$new");
	assert_true(got.password_changed_at >= t0);
	struct pc_session *list;
	size_t n;
	assert_int_equal(pc_store_session_list(f->s, u.id, NOW, &list, &n), PC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, s2.id);
	free(list);
	assert_int_equal(count(f, "sessions"), 2); /* the other user's stays */
	assert_int_equal(count(f, "audit_events"), events + 1);
	struct pc_audit_event last;
	newest(f, &last);
	assert_string_equal(last.action, "user.password_change");

	/* keep NULL: every session ends; ev NULL: no event */
	assert_int_equal(pc_store_user_set_password(f->s, &p, NULL, u.id, "$argon2id$newer", NULL, NULL, NULL),
	                 PC_OK);
	assert_int_equal(pc_store_session_list(f->s, u.id, NOW, &list, &n), PC_OK);
	assert_int_equal(n, 0);
	free(list);
	assert_int_equal(count(f, "audit_events"), events + 1);
	pc_audit_event_init(&ev, &p, "user.password_change", "user", "x");
	assert_int_equal(pc_store_user_set_password(f->s, &p, &ev, "missing", "$h", NULL, NULL, NULL),
	                 PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events + 1);
}

static void test_rehash(void **state)
{
	struct fx *f = *state;
	struct pc_user u, got;
	struct pc_session s1;
	add_user(f, &u, "u@example.com");
	add_session(f, &s1, &u, NOW, NOW + 3600);
	int64_t events = count(f, "audit_events");
	assert_int_equal(pc_store_user_rehash(f->s, u.id, "$argon2id$stronger"), PC_OK);
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	assert_string_equal(got.password_hash, "$argon2id$stronger");
	assert_int_equal(got.password_changed_at, NOW); /* same password */
	assert_int_equal(count(f, "sessions"), 1);
	assert_int_equal(count(f, "audit_events"), events);
	assert_int_equal(pc_store_user_rehash(f->s, "missing", "$h"), PC_ERR_NOT_FOUND);
}

/* ------------------------------------------------------------------ */
/* sessions                                                            */

static void test_sessions(void **state)
{
	struct fx *f = *state;
	struct pc_user u, v;
	add_user(f, &u, "u@example.com");
	add_user(f, &v, "v@example.com");
	struct pc_session old, mid, young, expired, vs;
	add_session(f, &old, &u, NOW - 300, NOW + 3600);
	add_session(f, &mid, &u, NOW - 200, NOW + 3600);
	add_session(f, &young, &u, NOW - 100, NOW + 3600);
	add_session(f, &expired, &u, NOW - 5000, NOW);
	add_session(f, &vs, &v, NOW, NOW + 3600);

	struct pc_session got;
	assert_int_equal(pc_store_session_get(f->s, mid.secret_hash, &got), PC_OK);
	assert_string_equal(got.id, mid.id);
	assert_string_equal(got.user_id, u.id);
	assert_string_equal(got.email, "u@example.com");
	assert_memory_equal(got.secret_hash, mid.secret_hash, 32);
	assert_int_equal(got.created_at, NOW - 200);
	assert_int_equal(got.last_seen_at, NOW - 200);
	assert_int_equal(got.expires_at, NOW + 3600);
	assert_string_equal(got.client_addr, "203.0.113.9");
	assert_string_equal(got.user_agent, "Mozilla/5.0 (test)");
	uint8_t unknown[32] = {0};
	assert_int_equal(pc_store_session_get(f->s, unknown, &got), PC_ERR_NOT_FOUND);
	/* the expired one is still returned by hash: the caller checks expiry */
	assert_int_equal(pc_store_session_get(f->s, expired.secret_hash, &got), PC_OK);

	/* touch: forwards only, and no event */
	int64_t events = count(f, "audit_events");
	assert_int_equal(pc_store_session_touch(f->s, mid.id, NOW + 50), PC_OK);
	assert_int_equal(pc_store_session_touch(f->s, mid.id, NOW + 10), PC_OK);
	assert_int_equal(pc_store_session_get(f->s, mid.secret_hash, &got), PC_OK);
	assert_int_equal(got.last_seen_at, NOW + 50);
	assert_int_equal(pc_store_session_touch(f->s, "missing", NOW), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events);

	struct pc_session *list;
	size_t n;
	assert_int_equal(pc_store_session_list(f->s, u.id, NOW, &list, &n), PC_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].id, young.id);
	assert_string_equal(list[1].id, mid.id);
	assert_string_equal(list[2].id, old.id);
	assert_string_equal(list[0].email, "u@example.com");
	free(list);
	assert_int_equal(pc_store_session_list(f->s, "nobody", NOW, &list, &n), PC_OK);
	assert_int_equal(n, 0);
	assert_null(list);

	/* delete: not another user's */
	struct pc_principal pu;
	struct pc_audit_event ev;
	as_user(&pu, &u, young.id);
	pc_audit_event_init(&ev, &pu, "session.delete", "session", vs.id);
	assert_int_equal(pc_store_session_delete(f->s, &pu, &ev, u.id, vs.id), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_session_get(f->s, vs.secret_hash, &got), PC_OK);
	assert_int_equal(count(f, "audit_events"), events);
	pc_audit_event_init(&ev, &pu, "session.delete", "session", old.id);
	assert_int_equal(pc_store_session_delete(f->s, &pu, &ev, u.id, old.id), PC_OK);
	assert_int_equal(pc_store_session_get(f->s, old.secret_hash, &got), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events + 1);
	pc_audit_event_init(&ev, &pu, "session.delete", "session", old.id);
	assert_int_equal(pc_store_session_delete(f->s, &pu, &ev, u.id, old.id), PC_ERR_NOT_FOUND);

	/* delete_all with keep: mid and expired end, young stays */
	size_t ended = 99;
	pc_audit_event_init(&ev, &pu, "session.delete_all", "session", "");
	assert_int_equal(pc_store_session_delete_all(f->s, &pu, &ev, u.id, young.id, &ended, NULL, NULL), PC_OK);
	assert_int_equal(ended, 2);
	assert_int_equal(pc_store_session_get(f->s, young.secret_hash, &got), PC_OK);
	assert_int_equal(pc_store_session_get(f->s, mid.secret_hash, &got), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_session_get(f->s, vs.secret_hash, &got), PC_OK);
	/* and without keep */
	pc_audit_event_init(&ev, &pu, "session.delete_all", "session", "");
	assert_int_equal(pc_store_session_delete_all(f->s, &pu, &ev, u.id, NULL, &ended, NULL, NULL), PC_OK);
	assert_int_equal(ended, 1);
	assert_int_equal(pc_store_session_get(f->s, young.secret_hash, &got), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events + 3);
	assert_verify_ok(f, events + 3);
}

static void test_session_conflicts(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	add_user(f, &u, "u@example.com");
	struct pc_session s1, dup;
	add_session(f, &s1, &u, NOW, NOW + 3600);
	struct pc_principal p;
	struct pc_audit_event ev;
	as_user(&p, &u, NULL);
	/* same secret hash */
	mk_session(&dup, u.id, NOW, NOW + 3600);
	memcpy(dup.secret_hash, s1.secret_hash, 32);
	pc_audit_event_init(&ev, &p, "auth.login", "session", dup.id);
	assert_int_equal(pc_store_session_create(f->s, &p, &ev, &dup), PC_ERR_CONFLICT);
	/* a user that does not exist (deleted meanwhile) */
	mk_session(&dup, "0123456789abcdef0123456789abcdef", NOW, NOW + 3600);
	pc_audit_event_init(&ev, &p, "auth.login", "session", dup.id);
	assert_int_equal(pc_store_session_create(f->s, &p, &ev, &dup), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "sessions"), 1);
	assert_int_equal(count(f, "audit_events"), 2);
}

/* A User-Agent may carry obs-text bytes that are not UTF-8 (RFC 9110 5.5):
 * stored and read back byte for byte, in the session and in the event. */
static void test_user_agent_bytes(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	add_user(f, &u, "u@example.com");
	struct pc_session s1, got;
	struct pc_principal p;
	struct pc_audit_event ev;
	mk_session(&s1, u.id, NOW, NOW + 3600);
	strcpy(s1.user_agent, "caf\xe9 \xff\xfe/1.0 \xc3(");
	as_user(&p, &u, s1.id);
	strcpy(p.user_agent, s1.user_agent);
	pc_audit_event_init(&ev, &p, "auth.login", "session", s1.id);
	assert_int_equal(pc_store_session_create(f->s, &p, &ev, &s1), PC_OK);
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &got), PC_OK);
	assert_string_equal(got.user_agent, s1.user_agent);
	struct pc_audit_event last;
	newest(f, &last);
	assert_string_equal(last.user_agent, s1.user_agent);
	assert_verify_ok(f, 2);
}

/* ------------------------------------------------------------------ */
/* reset tokens                                                        */

static void test_reset(void **state)
{
	struct fx *f = *state;
	struct pc_user u, admin;
	add_user(f, &admin, "admin@example.com");
	add_user(f, &u, "u@example.com");
	struct pc_session s1, s2, sadm;
	add_session(f, &s1, &u, NOW, NOW + 3600);
	add_session(f, &s2, &u, NOW, NOW + 3600);
	add_session(f, &sadm, &admin, NOW, NOW + 3600);

	struct pc_principal pa, anon;
	struct pc_audit_event ev;
	as_user(&pa, &admin, sadm.id);
	memset(&anon, 0, sizeof(anon));
	strcpy(anon.client_addr, "192.0.2.50");
	uint8_t t1[32], t2[32], t3[32], unknown[32];
	randombytes_buf(t1, 32);
	randombytes_buf(t2, 32);
	randombytes_buf(t3, 32);
	randombytes_buf(unknown, 32);
	pc_audit_event_init(&ev, &pa, "user.password_reset_issue", "user", u.id);
	assert_int_equal(pc_store_reset_create(f->s, &pa, &ev, u.id, t1, NOW + 600), PC_OK);
	pc_audit_event_init(&ev, &pa, "user.password_reset_issue", "user", u.id);
	assert_int_equal(pc_store_reset_create(f->s, &pa, &ev, u.id, t2, NOW + 600), PC_OK);
	pc_audit_event_init(&ev, &pa, "user.password_reset_issue", "user", admin.id);
	assert_int_equal(pc_store_reset_create(f->s, &pa, &ev, admin.id, t3, NOW + 10), PC_OK);
	pc_audit_event_init(&ev, &pa, "user.password_reset_issue", "user", "x");
	assert_int_equal(pc_store_reset_create(f->s, &pa, &ev, "missing", unknown, NOW + 10),
	                 PC_ERR_NOT_FOUND);
	pc_audit_event_init(&ev, &pa, "user.password_reset_issue", "user", u.id);
	assert_int_equal(pc_store_reset_create(f->s, &pa, &ev, u.id, t1, NOW + 10), PC_ERR_CONFLICT);
	int64_t events = count(f, "audit_events");

	char uid[PC_ID_LEN + 1] = "junk";
	pc_audit_event_init(&ev, &anon, "user.password_reset", "user", "");
	assert_int_equal(pc_store_reset_redeem(f->s, &anon, &ev, unknown, "$h1", NOW, uid, NULL, NULL),
	                 PC_ERR_NOT_FOUND);
	assert_string_equal(uid, "");
	/* expired: at and after expires_at */
	pc_audit_event_init(&ev, &anon, "user.password_reset", "user", "");
	assert_int_equal(pc_store_reset_redeem(f->s, &anon, &ev, t3, "$h1", NOW + 10, uid, NULL, NULL),
	                 PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events);

	pc_audit_event_init(&ev, &anon, "user.password_reset", "user", "");
	assert_int_equal(pc_store_reset_redeem(f->s, &anon, &ev, t1, "$argon2id$reset", NOW + 1, uid, NULL, NULL),
	                 PC_OK);
	assert_string_equal(uid, u.id);
	struct pc_user got;
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	assert_string_equal(got.password_hash, "$argon2id$reset");
	assert_int_equal(got.password_changed_at, NOW + 1);
	struct pc_session gs;
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &gs), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_session_get(f->s, s2.secret_hash, &gs), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_session_get(f->s, sadm.secret_hash, &gs), PC_OK);
	assert_int_equal(count(f, "audit_events"), events + 1);
	struct pc_audit_event last;
	newest(f, &last);
	assert_string_equal(last.action, "user.password_reset");
	assert_string_equal(last.resource_id, u.id); /* filled by the store */
	assert_string_equal(last.auth_method, "anonymous");
	assert_string_equal(last.client_addr, "192.0.2.50");

	/* once only; and the user's other outstanding token is burnt too */
	pc_audit_event_init(&ev, &anon, "user.password_reset", "user", "");
	assert_int_equal(pc_store_reset_redeem(f->s, &anon, &ev, t1, "$h2", NOW + 2, uid, NULL, NULL),
	                 PC_ERR_NOT_FOUND);
	pc_audit_event_init(&ev, &anon, "user.password_reset", "user", "");
	assert_int_equal(pc_store_reset_redeem(f->s, &anon, &ev, t2, "$h2", NOW + 2, uid, NULL, NULL),
	                 PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	assert_string_equal(got.password_hash, "$argon2id$reset");
	assert_int_equal(count(f, "audit_events"), events + 1);
	assert_verify_ok(f, events + 1);
}

/* ------------------------------------------------------------------ */
/* audit: one event per change, in the same transaction                */

static void test_every_change_one_event(void **state)
{
	struct fx *f = *state;
	int64_t events = 0;
	struct pc_user a, b;
	struct pc_session sa, sb, sb2;
	struct pc_principal pa, pb, anon;
	struct pc_audit_event ev;
	memset(&anon, 0, sizeof(anon));

	mk_user(&a, "a@example.com");
	mk_session(&sa, a.id, NOW, NOW + 3600);
	as_user(&pa, &a, sa.id);
	pc_audit_event_init(&ev, &pa, "setup", "user", a.id);
	assert_int_equal(pc_store_setup(f->s, &pa, &ev, &a, &sa), PC_OK);
	expect_event(f, &events, "setup");

	mk_user(&b, "b@example.com");
	pc_audit_event_init(&ev, &pa, "user.create", "user", b.id);
	assert_int_equal(pc_store_user_create(f->s, &pa, &ev, &b), PC_OK);
	expect_event(f, &events, "user.create");

	mk_session(&sb, b.id, NOW, NOW + 3600);
	as_user(&pb, &b, sb.id);
	pc_audit_event_init(&ev, &pb, "auth.login", "session", sb.id);
	assert_int_equal(pc_store_session_create(f->s, &pb, &ev, &sb), PC_OK);
	expect_event(f, &events, "auth.login");
	mk_session(&sb2, b.id, NOW, NOW + 3600);
	pc_audit_event_init(&ev, &pb, "auth.login", "session", sb2.id);
	assert_int_equal(pc_store_session_create(f->s, &pb, &ev, &sb2), PC_OK);
	expect_event(f, &events, "auth.login");

	pc_audit_event_init(&ev, &pb, "auth.logout", "session", sb2.id);
	assert_int_equal(pc_store_session_delete(f->s, &pb, &ev, b.id, sb2.id), PC_OK);
	expect_event(f, &events, "auth.logout");

	size_t ended;
	pc_audit_event_init(&ev, &pb, "session.delete_all", "session", "");
	assert_int_equal(pc_store_session_delete_all(f->s, &pb, &ev, b.id, sb.id, &ended, NULL, NULL), PC_OK);
	expect_event(f, &events, "session.delete_all");

	pc_audit_event_init(&ev, &pb, "user.password_change", "user", b.id);
	assert_int_equal(pc_store_user_set_password(f->s, &pb, &ev, b.id, "$x", sb.id, NULL, NULL), PC_OK);
	expect_event(f, &events, "user.password_change");

	uint8_t th[32];
	randombytes_buf(th, 32);
	pc_audit_event_init(&ev, &pa, "user.password_reset_issue", "user", b.id);
	assert_int_equal(pc_store_reset_create(f->s, &pa, &ev, b.id, th, NOW + 600), PC_OK);
	expect_event(f, &events, "user.password_reset_issue");

	char uid[PC_ID_LEN + 1];
	pc_audit_event_init(&ev, &anon, "user.password_reset", "user", "");
	assert_int_equal(pc_store_reset_redeem(f->s, &anon, &ev, th, "$y", NOW, uid, NULL, NULL), PC_OK);
	expect_event(f, &events, "user.password_reset");

	pc_audit_event_init(&ev, &anon, "auth.login_failed", "user", "");
	assert_int_equal(pc_store_audit_append(f->s, &anon, &ev), PC_OK);
	expect_event(f, &events, "auth.login_failed");

	pc_audit_event_init(&ev, &pa, "user.delete", "user", b.id);
	assert_int_equal(pc_store_user_delete(f->s, &pa, &ev, b.id, NULL, NULL), PC_OK);
	expect_event(f, &events, "user.delete");

	/* the ones that change nothing anyone audits */
	assert_int_equal(pc_store_session_touch(f->s, sa.id, NOW + 5), PC_OK);
	assert_int_equal(pc_store_user_rehash(f->s, a.id, "$z"), PC_OK);
	assert_int_equal(count(f, "audit_events"), events);
	assert_verify_ok(f, events);
}

/* The store records the principal it was given as the actor. */
static void test_event_fields_stored(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	add_user(f, &u, "u@example.com");
	struct pc_principal p;
	as_user(&p, &u, "fedcba9876543210fedcba9876543210");
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &p, "auth.csrf_failed", "request", "r1");
	strcpy(ev.details, "{\"why\":\"origin\"}");
	assert_int_equal(pc_store_audit_append(f->s, &p, &ev), PC_OK);
	struct pc_audit_event got;
	newest(f, &got);
	assert_int_equal(got.seq, 2);
	assert_string_equal(got.id, ev.id);
	assert_int_equal(got.time_ms, ev.time_ms);
	assert_string_equal(got.action, "auth.csrf_failed");
	assert_string_equal(got.resource_type, "request");
	assert_string_equal(got.resource_id, "r1");
	assert_string_equal(got.actor_user_id, u.id);
	assert_string_equal(got.actor_email, "u@example.com");
	assert_string_equal(got.actor_session_id, "fedcba9876543210fedcba9876543210");
	assert_string_equal(got.auth_method, "session");
	assert_string_equal(got.client_addr, "198.51.100.1");
	assert_string_equal(got.user_agent, "ua");
	assert_string_equal(got.details, "{\"why\":\"origin\"}");
	assert_memory_equal(got.hash, ev.hash, 32);
	assert_memory_equal(got.prev_hash, ev.prev_hash, 32);
	/* the chain links */
	struct pc_audit_filter flt = {.limit = 2};
	struct pc_audit_event *evs;
	size_t n;
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(evs[0].prev_hash, evs[1].hash, 32);
	static const uint8_t zero[32];
	assert_memory_equal(evs[1].prev_hash, zero, 32);
	uint8_t h[32];
	pc_audit_chain_hash(h, &evs[0], evs[0].prev_hash, KEY);
	assert_memory_equal(h, evs[0].hash, 32);
	free(evs);
}

/* An event that cannot be inserted (its id duplicates a stored one) takes
 * its change down with it. */
static void test_atomicity(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b;
	add_user(f, &a, "a@example.com");
	struct pc_audit_event first;
	newest(f, &first);
	const char *dup = first.id;
	struct pc_principal pa;
	struct pc_audit_event ev;
	as_user(&pa, &a, NULL);
	int64_t events = count(f, "audit_events");

	/* user create */
	mk_user(&b, "b@example.com");
	pc_audit_event_init(&ev, &pa, "user.create", "user", b.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_user_create(f->s, &pa, &ev, &b), PC_ERR_CONFLICT);
	assert_int_equal(ev.seq, 0);
	struct pc_user got;
	assert_int_equal(pc_store_user_get(f->s, b.id, &got), PC_ERR_NOT_FOUND);

	/* session create */
	struct pc_session s1, gs;
	mk_session(&s1, a.id, NOW, NOW + 3600);
	pc_audit_event_init(&ev, &pa, "auth.login", "session", s1.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_session_create(f->s, &pa, &ev, &s1), PC_ERR_CONFLICT);
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &gs), PC_ERR_NOT_FOUND);
	add_session(f, &s1, &a, NOW, NOW + 3600);
	add_user(f, &b, "b@example.com");
	events = count(f, "audit_events");

	/* session delete, delete_all */
	pc_audit_event_init(&ev, &pa, "session.delete", "session", s1.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_session_delete(f->s, &pa, &ev, a.id, s1.id), PC_ERR_CONFLICT);
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &gs), PC_OK);
	size_t ended = 7;
	pc_audit_event_init(&ev, &pa, "session.delete_all", "session", "");
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_session_delete_all(f->s, &pa, &ev, a.id, NULL, &ended, NULL, NULL),
	                 PC_ERR_CONFLICT);
	assert_int_equal(ended, 0);
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &gs), PC_OK);

	/* password change */
	pc_audit_event_init(&ev, &pa, "user.password_change", "user", a.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_user_set_password(f->s, &pa, &ev, a.id, "$new", NULL, NULL, NULL),
	                 PC_ERR_CONFLICT);
	assert_int_equal(pc_store_user_get(f->s, a.id, &got), PC_OK);
	assert_string_equal(got.password_hash, a.password_hash);
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &gs), PC_OK);

	/* user delete */
	pc_audit_event_init(&ev, &pa, "user.delete", "user", b.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_user_delete(f->s, &pa, &ev, b.id, NULL, NULL), PC_ERR_CONFLICT);
	assert_int_equal(pc_store_user_get(f->s, b.id, &got), PC_OK);

	/* reset create and redeem */
	uint8_t th[32];
	randombytes_buf(th, 32);
	pc_audit_event_init(&ev, &pa, "user.password_reset_issue", "user", a.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_reset_create(f->s, &pa, &ev, a.id, th, NOW + 600), PC_ERR_CONFLICT);
	assert_int_equal(count(f, "reset_tokens"), 0);
	pc_audit_event_init(&ev, &pa, "user.password_reset_issue", "user", a.id);
	assert_int_equal(pc_store_reset_create(f->s, &pa, &ev, a.id, th, NOW + 600), PC_OK);
	events++;
	char uid[PC_ID_LEN + 1];
	pc_audit_event_init(&ev, &pa, "user.password_reset", "user", "");
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_reset_redeem(f->s, &pa, &ev, th, "$r", NOW, uid, NULL, NULL), PC_ERR_CONFLICT);
	assert_string_equal(uid, "");
	assert_int_equal(pc_store_user_get(f->s, a.id, &got), PC_OK);
	assert_string_equal(got.password_hash, a.password_hash);
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &gs), PC_OK);
	/* the token was not burnt */
	pc_audit_event_init(&ev, &pa, "user.password_reset", "user", "");
	assert_int_equal(pc_store_reset_redeem(f->s, &pa, &ev, th, "$r", NOW, uid, NULL, NULL), PC_OK);
	events++;
	assert_int_equal(count(f, "audit_events"), events);
	assert_verify_ok(f, events);
}

static void test_atomicity_setup(void **state)
{
	struct fx *f = *state;
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &f->sys, "probe", "none", "");
	assert_int_equal(pc_store_audit_append(f->s, &f->sys, &ev), PC_OK);
	char dup[PC_ID_LEN + 1];
	strcpy(dup, ev.id);
	struct pc_user u;
	struct pc_session s1;
	mk_user(&u, "first@example.com");
	mk_session(&s1, u.id, NOW, NOW + 3600);
	pc_audit_event_init(&ev, &f->sys, "setup", "user", u.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_setup(f->s, &f->sys, &ev, &u, &s1), PC_ERR_CONFLICT);
	bool done = true;
	assert_int_equal(pc_store_setup_done(f->s, &done), PC_OK);
	assert_false(done); /* the guard row went with it: setup is still possible */
	assert_int_equal(count(f, "users"), 0);
	assert_int_equal(count(f, "sessions"), 0);
	pc_audit_event_init(&ev, &f->sys, "setup", "user", u.id);
	assert_int_equal(pc_store_setup(f->s, &f->sys, &ev, &u, &s1), PC_OK);
}

/* ------------------------------------------------------------------ */
/* audit: verification against tampering                               */

static void test_verify_clean(void **state)
{
	struct fx *f = *state;
	assert_verify_ok(f, 0);
	append_n(f, 5);
	assert_verify_ok(f, 5);
}

static void test_verify_edit(void **state)
{
	struct fx *f = *state;
	append_n(f, 6);
	raw(f, "UPDATE audit_events SET details = '{\"x\":1}' WHERE seq = 4");
	assert_verify_bad(f, 4, 3);
}

static void test_verify_edit_each_column(void **state)
{
	struct fx *f = *state;
	static const char *const edits[] = {
		"UPDATE audit_events SET id = 'ffffffffffffffffffffffffffffffff' WHERE seq = 3",
		"UPDATE audit_events SET time_ms = time_ms + 1 WHERE seq = 3",
		"UPDATE audit_events SET action = 'user.create' WHERE seq = 3",
		"UPDATE audit_events SET resource_type = 'x' WHERE seq = 3",
		"UPDATE audit_events SET resource_id = 'x' WHERE seq = 3",
		"UPDATE audit_events SET actor_user_id = 'x' WHERE seq = 3",
		"UPDATE audit_events SET actor_email = 'x@example.com' WHERE seq = 3",
		"UPDATE audit_events SET actor_session_id = 'x' WHERE seq = 3",
		"UPDATE audit_events SET auth_method = 'jwt' WHERE seq = 3",
		"UPDATE audit_events SET client_addr = '10.0.0.1' WHERE seq = 3",
		"UPDATE audit_events SET user_agent = 'x' WHERE seq = 3",
		"UPDATE audit_events SET prev_hash = zeroblob(32) WHERE seq = 3",
		"UPDATE audit_events SET hash = randomblob(32) WHERE seq = 3",
		"UPDATE audit_events SET hash = randomblob(31) WHERE seq = 3",
		"UPDATE audit_events SET details = 'x' || details WHERE seq = 3",
		"UPDATE audit_events SET time_ms = 'x' || time_ms WHERE seq = 3",
	};
	/* the same in PostgreSQL's dialect; a BIGINT column cannot hold text */
	static const char *const pg_edits[] = {
		"UPDATE audit_events SET id = 'ffffffffffffffffffffffffffffffff' WHERE seq = 3",
		"UPDATE audit_events SET time_ms = time_ms + 1 WHERE seq = 3",
		"UPDATE audit_events SET action = 'user.create' WHERE seq = 3",
		"UPDATE audit_events SET resource_type = 'x' WHERE seq = 3",
		"UPDATE audit_events SET resource_id = 'x' WHERE seq = 3",
		"UPDATE audit_events SET actor_user_id = 'x' WHERE seq = 3",
		"UPDATE audit_events SET actor_email = 'x@example.com' WHERE seq = 3",
		"UPDATE audit_events SET actor_session_id = 'x' WHERE seq = 3",
		"UPDATE audit_events SET auth_method = 'jwt' WHERE seq = 3",
		"UPDATE audit_events SET client_addr = '10.0.0.1' WHERE seq = 3",
		"UPDATE audit_events SET user_agent = 'x'::bytea WHERE seq = 3",
		"UPDATE audit_events SET prev_hash = decode(repeat('00', 32), 'hex') WHERE seq = 3",
		"UPDATE audit_events SET hash = " PG_RANDOM32 " WHERE seq = 3",
		"UPDATE audit_events SET hash = substr(" PG_RANDOM32 ", 1, 31) WHERE seq = 3",
		"UPDATE audit_events SET details = 'x' || details WHERE seq = 3",
		"UPDATE audit_events SET hash = NULL WHERE seq = 3",
	};
	_Static_assert(sizeof(edits) == sizeof(pg_edits), "one edit each");
	append_n(f, 4);
	raw(f, "CREATE TABLE backup AS SELECT * FROM audit_events");
	if (f->pg)
		raw(f, "ALTER TABLE audit_events ALTER COLUMN hash DROP NOT NULL");
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		raw(f, SQL(f, edits[i], pg_edits[i]));
		int64_t checked, bad;
		if (pc_store_audit_verify(f->s, &checked, &bad) != PC_ERR_TAMPERED || bad != 3)
			fail_msg("edit not detected: %s", edits[i]);
		raw(f, "DELETE FROM audit_events; INSERT INTO audit_events SELECT * FROM backup");
		assert_verify_ok(f, 4);
	}
}

static void test_verify_delete(void **state)
{
	struct fx *f = *state;
	append_n(f, 6);
	raw(f, "DELETE FROM audit_events WHERE seq = 3");
	assert_verify_bad(f, 4, 2);
	raw(f, "DELETE FROM audit_events WHERE seq = 1");
	assert_verify_bad(f, 2, 0);
}

static void test_verify_reorder(void **state)
{
	struct fx *f = *state;
	append_n(f, 6);
	/* swap the positions of rows 2 and 3 */
	raw(f, "UPDATE audit_events SET seq = -2 WHERE seq = 2;"
	       "UPDATE audit_events SET seq = 2 WHERE seq = 3;"
	       "UPDATE audit_events SET seq = 3 WHERE seq = -2");
	assert_verify_bad(f, 2, 1);
}

static void test_verify_swap_contents(void **state)
{
	struct fx *f = *state;
	append_n(f, 6);
	/* rows 2 and 5 exchange everything but their position */
	raw(f, "CREATE TABLE t AS SELECT * FROM audit_events WHERE seq IN (2, 5);"
	       "UPDATE audit_events SET id = 'tmp' || seq WHERE seq IN (2, 5);"
	       "UPDATE audit_events SET (id, time_ms, action, resource_type, resource_id,"
	       " actor_user_id, actor_email, actor_session_id, auth_method, client_addr,"
	       " user_agent, details, prev_hash, hash) = (SELECT id, time_ms, action,"
	       " resource_type, resource_id, actor_user_id, actor_email, actor_session_id,"
	       " auth_method, client_addr, user_agent, details, prev_hash, hash FROM t"
	       " WHERE t.seq = 7 - audit_events.seq) WHERE seq IN (2, 5)");
	assert_int_equal(count(f, "audit_events"), 6);
	assert_verify_bad(f, 2, 1);
}

static void test_verify_forged_insert(void **state)
{
	struct fx *f = *state;
	append_n(f, 4);
	/* a forged row at the end with a plausible prev_hash but no key */
	raw(f, SQL(f,
	           "INSERT INTO audit_events SELECT 5, 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', time_ms,"
	           " 'user.create', resource_type, resource_id, actor_user_id, actor_email,"
	           " actor_session_id, auth_method, client_addr, user_agent, details, hash,"
	           " randomblob(32), key_id FROM audit_events WHERE seq = 4",
	           "INSERT INTO audit_events SELECT 5, 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', time_ms,"
	           " 'user.create', resource_type, resource_id, actor_user_id, actor_email,"
	           " actor_session_id, auth_method, client_addr, user_agent, details, hash,"
	           " " PG_RANDOM32 ", key_id FROM audit_events WHERE seq = 4"));
	assert_verify_bad(f, 5, 4);
	/* the chain keeps growing from the forged tail, and still fails there */
	append_n(f, 1);
	assert_verify_bad(f, 5, 4);
}

static void test_verify_forged_middle(void **state)
{
	struct fx *f = *state;
	append_n(f, 4);
	/* make room by shifting 3..4 up and insert a forged row 3 */
	raw(f, SQL(f,
	           "UPDATE audit_events SET seq = seq + 10 WHERE seq >= 3;"
	           "UPDATE audit_events SET seq = seq - 9 WHERE seq >= 13;"
	           "INSERT INTO audit_events SELECT 3, 'dddddddddddddddddddddddddddddddd', time_ms,"
	           " action, resource_type, resource_id, actor_user_id, actor_email,"
	           " actor_session_id, auth_method, client_addr, user_agent, details, hash,"
	           " randomblob(32), key_id FROM audit_events WHERE seq = 2",
	           "UPDATE audit_events SET seq = seq + 10 WHERE seq >= 3;"
	           "UPDATE audit_events SET seq = seq - 9 WHERE seq >= 13;"
	           "INSERT INTO audit_events SELECT 3, 'dddddddddddddddddddddddddddddddd', time_ms,"
	           " action, resource_type, resource_id, actor_user_id, actor_email,"
	           " actor_session_id, auth_method, client_addr, user_agent, details, hash,"
	           " " PG_RANDOM32 ", key_id FROM audit_events WHERE seq = 2"));
	assert_int_equal(count(f, "audit_events"), 5);
	assert_verify_bad(f, 3, 2);
}

static void test_verify_needs_the_key(void **state)
{
	struct fx *f = *state;
	append_n(f, 3);
	uint8_t other[32];
	memcpy(other, KEY, 32);
	other[0] ^= 1;
	struct pc_store *s2;
	char err[256];
	assert_int_equal(pc_store_open(&s2, f->url, other, err, sizeof(err)), 0);
	int64_t checked, bad;
	assert_int_equal(pc_store_audit_verify(s2, &checked, &bad), PC_ERR_TAMPERED);
	assert_int_equal(bad, 1);
	/* ... and says it is a key it was not given, not an edit */
	struct pc_audit_verdict v;
	assert_int_equal(pc_store_audit_check(s2, &v), PC_ERR_TAMPERED);
	assert_int_equal(v.bad_seq, 1);
	assert_true(v.key_missing);
	char id[PC_AUDIT_KEY_ID_LEN + 1];
	pc_audit_key_id(id, KEY);
	assert_string_equal(v.key_id, id);
	pc_store_close(s2);
}

/* A master key rotation mid-chain: events after it are written under the
 * new key and name it; the chain verifies with both keys, reports the key
 * it lacks with one, and an edit after the rotation is an edit. */
static void test_verify_across_rotation(void **state)
{
	struct fx *f = *state;
	append_n(f, 3);
	uint8_t k2[32];
	memcpy(k2, KEY, 32);
	k2[31] ^= 0x55;
	struct pc_store *s2;
	char err[256];
	assert_int_equal(pc_store_open(&s2, f->url, k2, err, sizeof(err)), 0);
	pc_store_close(f->s);
	f->s = s2; /* append_n writes through the rotated handle */
	append_n(f, 2);
	assert_int_equal(raw(f, "SELECT count(DISTINCT key_id) FROM audit_events"), 2);
	struct pc_audit_verdict v;
	assert_int_equal(pc_store_audit_check(f->s, &v), PC_ERR_TAMPERED);
	assert_true(v.key_missing);
	assert_int_equal(v.bad_seq, 1); /* the old events: the old key was not given */
	assert_int_equal(pc_store_audit_add_previous_key(f->s, KEY), 0);
	assert_int_equal(pc_store_audit_check(f->s, &v), PC_OK);
	assert_int_equal(v.checked, 5);
	raw(f, "UPDATE audit_events SET details = '{\"x\":1}' WHERE seq = 4");
	assert_int_equal(pc_store_audit_check(f->s, &v), PC_ERR_TAMPERED);
	assert_false(v.key_missing);
	assert_int_equal(v.bad_seq, 4);
	assert_int_equal(v.checked, 3);
}

/* A value too long for its field (only a tampered file has one) is an error,
 * never an overflow; verify names the row. */
static void test_tampered_long_values(void **state)
{
	struct fx *f = *state;
	struct pc_user u, got;
	struct pc_session s1, gs;
	add_user(f, &u, "u@example.com");
	add_session(f, &s1, &u, NOW, NOW + 3600);
	append_n(f, 1);
	raw(f, SQL(f, "UPDATE users SET email = printf('%.300c@example.com', 'x')",
	           "UPDATE users SET email = repeat('x', 300) || '@example.com'"));
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_ERR_INTERNAL);
	assert_string_equal(got.email, "");
	struct pc_user *list = (struct pc_user *)1;
	size_t n = 9;
	assert_int_equal(pc_store_user_list(f->s, &list, &n), PC_ERR_INTERNAL);
	assert_null(list);
	assert_int_equal(n, 0);
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &gs), PC_ERR_INTERNAL);
	/* PostgreSQL text cannot hold a NUL; its user_agent (BYTEA) can */
	raw(f, SQL(f, "UPDATE users SET email = 'u@example.com', password_hash = 'a' || char(0) || 'b'",
	           "UPDATE users SET email = 'u@example.com', password_hash = repeat('h', 200)"));
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_ERR_INTERNAL);
	raw(f, "UPDATE users SET password_hash = 'ok'");
	if (f->pg) {
		raw(f, "UPDATE sessions SET user_agent = '\\x610062'::bytea");
		assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &gs), PC_ERR_INTERNAL);
	}
	raw(f, SQL(f, "UPDATE sessions SET user_agent = printf('%.300c', 'y')",
	           "UPDATE sessions SET user_agent = convert_to(repeat('y', 300), 'UTF8')"));
	assert_int_equal(pc_store_session_get(f->s, s1.secret_hash, &gs), PC_ERR_INTERNAL);

	raw(f, SQL(f, "UPDATE audit_events SET details = printf('%.2000c', 'z') WHERE seq = 3",
	           "UPDATE audit_events SET details = repeat('z', 2000) WHERE seq = 3"));
	struct pc_audit_filter flt = {.limit = 10};
	struct pc_audit_event *evs;
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_ERR_INTERNAL);
	assert_null(evs);
	assert_verify_bad(f, 3, 2);
	/* a broken chain tail refuses new events rather than chain from junk */
	raw(f, SQL(f, "UPDATE audit_events SET details = '{}', hash = x'00' WHERE seq = 3",
	           "UPDATE audit_events SET details = '{}', hash = '\\x00'::bytea WHERE seq = 3"));
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &f->sys, "a.b", "c", "");
	assert_int_equal(pc_store_audit_append(f->s, &f->sys, &ev), PC_ERR_INTERNAL);
	assert_int_equal(count(f, "audit_events"), 3);
}

/* ------------------------------------------------------------------ */
/* audit: listing                                                      */

static void test_audit_list(void **state)
{
	struct fx *f = *state;
	struct pc_user u1, u2;
	add_user(f, &u1, "u1@example.com");    /* seq 1 */
	add_user(f, &u2, "u2@example.com");    /* seq 2 */
	struct pc_principal p1, p2;
	as_user(&p1, &u1, NULL);
	as_user(&p2, &u2, NULL);
	/* seq 3..32: alternating actors, actions cycling through three */
	static const char *const actions[] = {"a.one", "a.two", "a.three"};
	for (int i = 0; i < 30; i++) {
		struct pc_audit_event ev;
		const struct pc_principal *p = i % 2 == 0 ? &p1 : &p2;
		pc_audit_event_init(&ev, p, actions[i % 3], i < 15 ? "thing" : "other", "");
		assert_int_equal(pc_store_audit_append(f->s, p, &ev), PC_OK);
	}
	struct pc_audit_filter flt = {.limit = 10};
	struct pc_audit_event *evs;
	size_t n;
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(evs[i].seq, 32 - (int64_t)i);
	free(evs);

	/* walk everything with the cursor: each seq once, newest first */
	int64_t cursor = 0, expect = 32;
	size_t pages = 0;
	for (;;) {
		flt = (struct pc_audit_filter){.limit = 7, .before_seq = cursor};
		assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(evs[i].seq, expect--);
		if (n > 0)
			cursor = evs[n - 1].seq;
		free(evs);
		pages++;
		if (n < 7)
			break;
	}
	assert_int_equal(expect, 0);
	assert_int_equal(pages, 5);

	/* new events do not shift a cursor */
	flt = (struct pc_audit_filter){.limit = 3, .before_seq = 10};
	append_n(f, 2);
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 3);
	assert_int_equal(evs[0].seq, 9);
	free(evs);

	/* filters AND-ed */
	flt = (struct pc_audit_filter){.limit = 200, .action = "a.two"};
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(evs[i].action, "a.two");
		if (i > 0)
			assert_true(evs[i].seq < evs[i - 1].seq);
	}
	free(evs);
	flt = (struct pc_audit_filter){.limit = 200, .action = "a.two", .resource_type = "thing"};
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 5);
	free(evs);
	flt = (struct pc_audit_filter){.limit = 200, .user_id = u1.id};
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 15);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(evs[i].actor_user_id, u1.id);
	free(evs);
	flt = (struct pc_audit_filter){.limit = 200, .user_id = u1.id, .action = "a.one",
	                               .resource_type = "other"};
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	/* i in 15..29, i even, i % 3 == 0: 18, 24 */
	assert_int_equal(n, 2);
	free(evs);
	flt = (struct pc_audit_filter){.limit = 2, .user_id = u1.id, .before_seq = 10};
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 2);
	assert_int_equal(evs[0].seq, 9);
	assert_int_equal(evs[1].seq, 7);
	free(evs);
	flt = (struct pc_audit_filter){.limit = 5, .action = "nothing"};
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 0);
	free(evs);
	/* filter values are parameters, not patterns */
	flt = (struct pc_audit_filter){.limit = 5, .action = "a.%"};
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 0);
	free(evs);
}

static void test_audit_list_limits(void **state)
{
	struct fx *f = *state;
	append_n(f, 205);
	struct pc_audit_filter flt = {.limit = 0};
	struct pc_audit_event *evs;
	size_t n;
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 1);
	free(evs);
	flt.limit = 100000;
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 200);
	assert_int_equal(evs[199].seq, 6);
	free(evs);
	flt = (struct pc_audit_filter){.limit = 10, .before_seq = 1};
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 0);
	free(evs);
	flt = (struct pc_audit_filter){.limit = 10, .before_seq = -5}; /* as 0 */
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 10);
	assert_int_equal(evs[0].seq, 205);
	free(evs);
}

/* ------------------------------------------------------------------ */
/* concurrency: many writers, one linear chain                         */

struct writer_arg {
	struct pc_store *s;
	const struct pc_principal *p;
	atomic_int *failures;
};

static void *writer_thread(void *arg)
{
	struct writer_arg *a = arg;
	for (int i = 0; i < 25; i++) {
		struct pc_audit_event ev;
		pc_audit_event_init(&ev, a->p, "auth.login_failed", "user", "");
		if (pc_store_audit_append(a->s, a->p, &ev) != PC_OK)
			atomic_fetch_add(a->failures, 1);
		struct pc_audit_filter flt = {.limit = 3};
		struct pc_audit_event *evs;
		size_t n;
		if (pc_store_audit_list(a->s, &flt, &evs, &n) != PC_OK)
			atomic_fetch_add(a->failures, 1);
		else
			free(evs);
	}
	return NULL;
}

static void test_concurrent_writers(void **state)
{
	struct fx *f = *state;
	struct pc_store *s2 = open_second(f);
	atomic_int failures = 0;
	struct writer_arg a1 = {f->s, &f->sys, &failures}, a2 = {s2, &f->sys, &failures};
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer_thread, i % 2 ? &a2 : &a1), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&failures), 0);
	assert_int_equal(count(f, "audit_events"), 200);
	assert_int_equal(raw(f, "SELECT max(seq) FROM audit_events"), 200);
	assert_verify_ok(f, 200);
	/* the other handle sees the same chain */
	int64_t checked, bad;
	assert_int_equal(pc_store_audit_verify(s2, &checked, &bad), PC_OK);
	assert_int_equal(checked, 200);
	pc_store_close(s2);
}

/* ------------------------------------------------------------------ */
/* unavailable                                                         */

/* File modes do not stop root, so the read-only database is simulated with
 * PRAGMA query_only, which fails writes with SQLITE_READONLY just the same;
 * PostgreSQL's with default_transaction_read_only (25006). */
static void test_read_only(void **state)
{
	struct fx *f = *state;
	struct pc_user u, v, got;
	add_user(f, &u, "u@example.com");
	int64_t events = count(f, "audit_events");
	fx_set_read_only(f, true);

	mk_user(&v, "v@example.com");
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", v.id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, &v), PC_ERR_UNAVAILABLE);
	assert_int_equal(ev.seq, 0);
	pc_audit_event_init(&ev, &f->sys, "x.y", "z", "");
	assert_int_equal(pc_store_audit_append(f->s, &f->sys, &ev), PC_ERR_UNAVAILABLE);
	assert_int_equal(pc_store_user_rehash(f->s, u.id, "$h"), PC_ERR_UNAVAILABLE);
	/* reads still work */
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	assert_string_equal(got.password_hash, u.password_hash);
	assert_int_equal(pc_store_ping(f->s), PC_OK);
	assert_int_equal(count(f, "users"), 1);
	assert_int_equal(count(f, "audit_events"), events);

	fx_set_read_only(f, false);
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", v.id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, &v), PC_OK);
	assert_verify_ok(f, events + 1);
}

/* Another process holding the write lock past the busy (lock) timeout (5 s). */
static void test_busy(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	add_user(f, &u, "u@example.com");
	struct fx_lock lock;
	fx_hold_writes(f, &lock);

	struct pc_user v;
	struct pc_audit_event ev;
	mk_user(&v, "v@example.com");
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", v.id);
	time_t t0 = time(NULL);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, &v), PC_ERR_UNAVAILABLE);
	assert_true(time(NULL) - t0 >= 4);
	/* readers are not blocked (WAL; MVCC) */
	struct pc_user got;
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	fx_release_writes(&lock);
	/* and the connection is usable again */
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", v.id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, &v), PC_OK);
	assert_verify_ok(f, 2);
}

/* ------------------------------------------------------------------ */
/* roles, account states, groups (issue 15)                            */

static enum pc_err patch_user(struct fx *f, struct pc_store *st, const char *id, const struct pc_user_patch *p,
                              struct pc_user *out, unsigned *changed, size_t *n_revoked)
{
	struct pc_audit_event ev;
	struct pc_revoked *rv = NULL;
	size_t n = 0;
	unsigned ch = 0;
	struct pc_user tmp;
	pc_audit_event_init(&ev, &f->sys, "user.update", "user", id);
	enum pc_err e = pc_store_user_update(st, &f->sys, &ev, id, p, out != NULL ? out : &tmp, &ch, &rv, &n);
	free(rv);
	if (changed != NULL)
		*changed = ch;
	if (n_revoked != NULL)
		*n_revoked = n;
	return e;
}

static void test_user_update(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b, c, got;
	add_user(f, &a, "a@example.com");
	add_user(f, &b, "b@example.com");
	/* a new user's role is the one given, groups none, enabled */
	mk_user(&c, "c@example.com");
	c.role = PC_ROLE_MEMBER;
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", c.id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, &c), PC_OK);
	assert_int_equal(pc_store_user_get(f->s, c.id, &got), PC_OK);
	assert_int_equal(got.role, PC_ROLE_MEMBER);
	assert_false(got.disabled);
	assert_string_equal(got.groups, "");

	int64_t events = count(f, "audit_events");
	struct pc_user_patch p = {.has_groups = true, .groups = "ops,staff"};
	unsigned changed = 0;
	assert_int_equal(patch_user(f, f->s, c.id, &p, &got, &changed, NULL), PC_OK);
	assert_string_equal(got.groups, "ops,staff");
	assert_string_equal(got.password_hash, ""); /* never handed out */
	assert_int_equal(changed, PC_USER_CHANGED_CLAIMS);
	assert_int_equal(count(f, "audit_events"), events + 1);
	/* each field alone; the others stay */
	p = (struct pc_user_patch){.has_email = true, .email = "c2@example.com"};
	assert_int_equal(patch_user(f, f->s, c.id, &p, &got, NULL, NULL), PC_OK);
	assert_string_equal(got.email, "c2@example.com");
	assert_string_equal(got.groups, "ops,staff");
	p = (struct pc_user_patch){.has_role = true, .role = PC_ROLE_ADMIN};
	assert_int_equal(patch_user(f, f->s, c.id, &p, &got, NULL, NULL), PC_OK);
	assert_int_equal(got.role, PC_ROLE_ADMIN);
	p = (struct pc_user_patch){.has_disabled = true, .disabled = true};
	assert_int_equal(patch_user(f, f->s, c.id, &p, &got, &changed, NULL), PC_OK);
	assert_true(got.disabled);
	assert_int_equal(changed, PC_USER_CHANGED_DISABLED);
	assert_int_equal(pc_store_user_get(f->s, c.id, &got), PC_OK);
	assert_true(got.disabled);
	assert_int_equal(got.role, PC_ROLE_ADMIN);
	assert_string_equal(got.email, "c2@example.com");
	p = (struct pc_user_patch){.has_disabled = true, .disabled = false};
	assert_int_equal(patch_user(f, f->s, c.id, &p, &got, &changed, NULL), PC_OK);
	assert_false(got.disabled);
	/* nothing changed: no claims to revoke */
	p = (struct pc_user_patch){.has_groups = true, .groups = "ops,staff"};
	assert_int_equal(patch_user(f, f->s, c.id, &p, &got, &changed, NULL), PC_OK);
	assert_int_equal(changed, 0);
	/* a taken email, an unknown user: nothing written */
	events = count(f, "audit_events");
	p = (struct pc_user_patch){.has_email = true, .email = "a@example.com"};
	assert_int_equal(patch_user(f, f->s, c.id, &p, NULL, NULL, NULL), PC_ERR_CONFLICT);
	p = (struct pc_user_patch){.has_role = true, .role = PC_ROLE_MEMBER};
	assert_int_equal(patch_user(f, f->s, "nope", &p, NULL, NULL, NULL), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events);
	assert_int_equal(pc_store_user_get(f->s, c.id, &got), PC_OK);
	assert_string_equal(got.email, "c2@example.com");
	assert_int_equal(got.role, PC_ROLE_ADMIN);
	/* a session's lookup carries the user's role, groups and state */
	struct pc_session sc, sg;
	add_session(f, &sc, &c, NOW, NOW + 3600);
	assert_int_equal(pc_store_session_get(f->s, sc.secret_hash, &sg), PC_OK);
	assert_int_equal(sg.role, PC_ROLE_ADMIN);
	assert_string_equal(sg.groups, "ops,staff");
	assert_false(sg.disabled);
	assert_string_equal(sg.name, "");
	/* a display name: kept as given (UTF-8), carried by the session's
	 * lookup, changed alone (nothing revoked: no token carries it) */
	p = (struct pc_user_patch){.has_name = true, .name = "Zo\xc3\xab d'Ar\xc3\xa7 \xe6\x9d\x8e"};
	assert_int_equal(patch_user(f, f->s, c.id, &p, &got, &changed, NULL), PC_OK);
	assert_string_equal(got.name, "Zo\xc3\xab d'Ar\xc3\xa7 \xe6\x9d\x8e");
	assert_int_equal(changed, PC_USER_CHANGED_NAME);
	assert_int_equal(pc_store_session_get(f->s, sc.secret_hash, &sg), PC_OK);
	assert_string_equal(sg.name, "Zo\xc3\xab d'Ar\xc3\xa7 \xe6\x9d\x8e");
	assert_string_equal(sg.email, "c2@example.com");
	struct pc_user named;
	mk_user(&named, "named@example.com");
	snprintf(named.name, sizeof(named.name), "%s", "Named Person");
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", named.id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, &named), PC_OK);
	assert_int_equal(pc_store_user_get(f->s, named.id, &got), PC_OK);
	assert_string_equal(got.name, "Named Person");
	p = (struct pc_user_patch){.has_name = true, .name = ""};
	assert_int_equal(patch_user(f, f->s, named.id, &p, &got, &changed, NULL), PC_OK);
	assert_string_equal(got.name, "");
	(void)b;
	assert_verify_ok(f, count(f, "audit_events"));
}

static void test_disable_ends_credentials(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b, got;
	add_user(f, &a, "a@example.com");
	add_user(f, &b, "b@example.com");
	struct pc_session s1, s2, sa;
	add_session(f, &s1, &b, NOW, NOW + 3600);
	add_session(f, &s2, &b, NOW, NOW + 3600);
	add_session(f, &sa, &a, NOW, NOW + 3600);
	assert_int_equal(pc_store_user_get(f->s, b.id, &got), PC_OK);
	int64_t epoch = got.cred_epoch;
	struct pc_user_patch p = {.has_disabled = true, .disabled = true};
	assert_int_equal(patch_user(f, f->s, b.id, &p, NULL, NULL, NULL), PC_OK);
	assert_int_equal(count(f, "sessions"), 1); /* only a's */
	assert_int_equal(pc_store_user_get(f->s, b.id, &got), PC_OK);
	assert_true(got.cred_epoch > epoch);
	/* a sign-in that read the old epoch is refused */
	struct pc_session late;
	struct pc_principal pb;
	struct pc_audit_event ev;
	mk_session(&late, b.id, NOW, NOW + 3600);
	late.cred_epoch = epoch;
	as_user(&pb, &b, late.id);
	pc_audit_event_init(&ev, &pb, "auth.login", "session", late.id);
	assert_int_equal(pc_store_session_create(f->s, &pb, &ev, &late), PC_ERR_STALE);
	/* re-enabling restores nothing by itself but allows sign-in again */
	p.disabled = false;
	assert_int_equal(patch_user(f, f->s, b.id, &p, NULL, NULL, NULL), PC_OK);
	assert_int_equal(count(f, "sessions"), 1);
	/* a group change bumps the epoch too (a token minted from the old
	 * claims after the change would be refused) but ends no session */
	add_session(f, &s1, &b, NOW, NOW + 3600);
	assert_int_equal(pc_store_user_get(f->s, b.id, &got), PC_OK);
	epoch = got.cred_epoch;
	p = (struct pc_user_patch){.has_groups = true, .groups = "ops"};
	assert_int_equal(patch_user(f, f->s, b.id, &p, NULL, NULL, NULL), PC_OK);
	assert_int_equal(count(f, "sessions"), 2);
	assert_int_equal(pc_store_user_get(f->s, b.id, &got), PC_OK);
	assert_true(got.cred_epoch > epoch);
}

static void test_last_admin(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b, m, got;
	add_user(f, &a, "a@example.com"); /* admins (mk_user) */
	add_user(f, &b, "b@example.com");
	mk_user(&m, "m@example.com");
	m.role = PC_ROLE_MEMBER;
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", m.id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, &m), PC_OK);

	struct pc_user_patch demote = {.has_role = true, .role = PC_ROLE_MEMBER};
	struct pc_user_patch disable = {.has_disabled = true, .disabled = true};
	struct pc_user_patch enable = {.has_disabled = true, .disabled = false};
	struct pc_user_patch promote = {.has_role = true, .role = PC_ROLE_ADMIN};
	assert_int_equal(patch_user(f, f->s, a.id, &demote, NULL, NULL, NULL), PC_OK);
	/* b is the last enabled admin now: neither demoted, disabled nor deleted */
	int64_t events = count(f, "audit_events");
	assert_int_equal(patch_user(f, f->s, b.id, &demote, NULL, NULL, NULL), PC_ERR_LAST_ADMIN);
	assert_int_equal(patch_user(f, f->s, b.id, &disable, NULL, NULL, NULL), PC_ERR_LAST_ADMIN);
	pc_audit_event_init(&ev, &f->sys, "user.delete", "user", b.id);
	assert_int_equal(pc_store_user_delete(f->s, &f->sys, &ev, b.id, NULL, NULL), PC_ERR_LAST_ADMIN);
	assert_int_equal(count(f, "audit_events"), events);
	assert_int_equal(pc_store_user_get(f->s, b.id, &got), PC_OK);
	assert_int_equal(got.role, PC_ROLE_ADMIN);
	assert_false(got.disabled);
	/* changes that keep b an enabled admin pass; members are free */
	struct pc_user_patch groups = {.has_groups = true, .groups = "ops"};
	assert_int_equal(patch_user(f, f->s, b.id, &groups, NULL, NULL, NULL), PC_OK);
	assert_int_equal(patch_user(f, f->s, m.id, &disable, NULL, NULL, NULL), PC_OK);
	pc_audit_event_init(&ev, &f->sys, "user.delete", "user", m.id);
	assert_int_equal(pc_store_user_delete(f->s, &f->sys, &ev, m.id, NULL, NULL), PC_OK);
	/* a disabled admin does not count: promote a, disable a, b still last */
	assert_int_equal(patch_user(f, f->s, a.id, &promote, NULL, NULL, NULL), PC_OK);
	assert_int_equal(patch_user(f, f->s, a.id, &disable, NULL, NULL, NULL), PC_OK);
	assert_int_equal(patch_user(f, f->s, b.id, &demote, NULL, NULL, NULL), PC_ERR_LAST_ADMIN);
	/* demote and disable a disabled admin: allowed (b stays) */
	assert_int_equal(patch_user(f, f->s, a.id, &demote, NULL, NULL, NULL), PC_OK);
	/* enabling a as admin in one change, then b may go */
	struct pc_user_patch both = {.has_role = true, .role = PC_ROLE_ADMIN, .has_disabled = true, .disabled = false};
	assert_int_equal(patch_user(f, f->s, a.id, &both, NULL, NULL, NULL), PC_OK);
	assert_int_equal(patch_user(f, f->s, b.id, &disable, NULL, NULL, NULL), PC_OK);
	assert_int_equal(patch_user(f, f->s, b.id, &enable, NULL, NULL, NULL), PC_OK);
}

/* Two admins demote each other at once, many times, through two handles
 * (two instances): exactly one succeeds each round. */
#define DEMOTE_ROUNDS 20
struct demote_race {
	struct fx *f;
	struct pc_store *st;
	const char *id;
	enum pc_err result;
};

/* arg: the two sides, idx the one this thread plays */
static void demote_thread(void *arg, int idx)
{
	struct demote_race *d = (struct demote_race *)arg + idx;
	struct pc_user_patch p = {.has_role = true, .role = PC_ROLE_MEMBER};
	d->result = patch_user(d->f, d->st, d->id, &p, NULL, NULL, NULL);
}

static void test_last_admin_race(void **state)
{
	struct fx *f = *state;
	struct pc_store *s2 = open_second(f);
	struct pc_user a, b, got;
	add_user(f, &a, "a@example.com");
	add_user(f, &b, "b@example.com");
	struct pc_user_patch promote = {.has_role = true, .role = PC_ROLE_ADMIN};
	for (int round = 0; round < DEMOTE_ROUNDS; round++) {
		struct demote_race d[2] = {{f, f->s, a.id, PC_OK}, {f, s2, b.id, PC_OK}};
		fx_race(2, demote_thread, d);
		int ok = (d[0].result == PC_OK) + (d[1].result == PC_OK);
		int refused = (d[0].result == PC_ERR_LAST_ADMIN) + (d[1].result == PC_ERR_LAST_ADMIN);
		assert_int_equal(ok, 1);
		assert_int_equal(refused, 1);
		int admins = 0;
		assert_int_equal(pc_store_user_get(f->s, a.id, &got), PC_OK);
		admins += got.role == PC_ROLE_ADMIN;
		assert_int_equal(pc_store_user_get(f->s, b.id, &got), PC_OK);
		admins += got.role == PC_ROLE_ADMIN;
		assert_int_equal(admins, 1);
		assert_int_equal(patch_user(f, f->s, d[0].result == PC_OK ? a.id : b.id, &promote, NULL, NULL, NULL), PC_OK);
	}
	pc_store_close(s2);
	assert_verify_ok(f, count(f, "audit_events"));
}

static void test_audit_involving(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b;
	add_user(f, &a, "a@example.com");
	add_user(f, &b, "b@example.com");
	struct pc_principal pa, pb;
	as_user(&pa, &a, NULL);
	as_user(&pb, &b, NULL);
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &pb, "auth.login", "session", "s1"); /* b acts */
	assert_int_equal(pc_store_audit_append(f->s, &pb, &ev), PC_OK);
	pc_audit_event_init(&ev, &pa, "user.update", "user", b.id); /* about b */
	assert_int_equal(pc_store_audit_append(f->s, &pa, &ev), PC_OK);
	pc_audit_event_init(&ev, &pa, "auth.login", "session", "s2"); /* a only */
	assert_int_equal(pc_store_audit_append(f->s, &pa, &ev), PC_OK);
	pc_audit_event_init(&ev, &pa, "user.update", "user", a.id); /* a only */
	assert_int_equal(pc_store_audit_append(f->s, &pa, &ev), PC_OK);
	struct pc_audit_filter flt = {.involving = b.id, .limit = 200};
	struct pc_audit_event *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_store_audit_list(f->s, &flt, &list, &n), PC_OK);
	/* b's creation (resource b), b's login, a's change of b */
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_true(strcmp(list[i].actor_user_id, b.id) == 0 ||
		            (strcmp(list[i].resource_type, "user") == 0 && strcmp(list[i].resource_id, b.id) == 0));
	free(list);
	/* with the other filters too */
	flt.action = "user.update";
	assert_int_equal(pc_store_audit_list(f->s, &flt, &list, &n), PC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].actor_user_id, a.id);
	free(list);
}

/* Statistics taken while the audit trail was two events long, then 5,000
 * more: opening the store brings them up to date (the planner would
 * otherwise scan the whole trail for a cursor page); a store without
 * statistics gets none. */
static void test_open_refreshes_stale_stats(void **state)
{
	struct fx *f = *state;
	static const char insert[] =
		"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d) "
		"INSERT INTO audit_events (seq, id, time_ms, action, resource_type, resource_id, actor_user_id, "
		"actor_email, actor_session_id, auth_method, client_addr, user_agent, details, prev_hash, hash) "
		"SELECT (SELECT coalesce(max(seq), 0) FROM audit_events) + i, printf('%%032x', i + %d), 0, 'bench', "
		"'bench', '', '', '', '', '', '', '', '{}', zeroblob(32), zeroblob(32) FROM c";
	char sql[768];
	snprintf(sql, sizeof(sql), insert, 2, 1);
	raw(f, sql);
	struct pc_store *s2 = open_second(f);
	pc_store_close(s2);
	assert_int_equal(raw(f, "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"), 0);

	raw(f, "ANALYZE");
	assert_true(raw(f, "SELECT CAST(stat AS INTEGER) FROM sqlite_stat1 WHERE idx = 'audit_events_action'") <= 3);
	snprintf(sql, sizeof(sql), insert, 5000, 1000);
	raw(f, sql);
	s2 = open_second(f);
	pc_store_close(s2);
	assert_true(raw(f, "SELECT CAST(stat AS INTEGER) FROM sqlite_stat1 WHERE idx = 'audit_events_action'") >= 1000);
}

int main(void)
{
	if (fx_init() != 0)
		return 1;
	const struct CMUnitTest both[] = {
		FX_T(test_migrations_idempotent),
		FX_T(test_newer_schema_refused),
		FX_T(test_concurrent_open),
		FX_T(test_ping),
		FX_T(test_setup_once),
		FX_T(test_user_create_sets_guard),
		FX_T(test_setup_race_threads),
		FX_T(test_setup_race_two_handles),
		FX_T(test_user_create_get_list),
		FX_T(test_user_delete),
		FX_T(test_set_password),
		FX_T(test_rehash),
		FX_T(test_sessions),
		FX_T(test_session_conflicts),
		FX_T(test_user_agent_bytes),
		FX_T(test_reset),
		FX_T(test_every_change_one_event),
		FX_T(test_event_fields_stored),
		FX_T(test_atomicity),
		FX_T(test_atomicity_setup),
		FX_T(test_verify_clean),
		FX_T(test_verify_edit),
		FX_T(test_verify_edit_each_column),
		FX_T(test_verify_delete),
		FX_T(test_verify_reorder),
		FX_T(test_verify_swap_contents),
		FX_T(test_verify_forged_insert),
		FX_T(test_verify_forged_middle),
		FX_T(test_verify_needs_the_key),
		FX_T(test_verify_across_rotation),
		FX_T(test_tampered_long_values),
		FX_T(test_audit_list),
		FX_T(test_audit_list_limits),
		FX_T(test_concurrent_writers),
		FX_T(test_read_only),
		FX_T(test_busy),
		FX_T(test_user_update),
		FX_T(test_disable_ends_credentials),
		FX_T(test_last_admin),
		FX_T(test_last_admin_race),
		FX_T(test_audit_involving),
	};
	const struct CMUnitTest sqlite_only[] = {
		FX_T(test_open_refreshes_stale_stats),
		FX_T(test_open_creates_0600),
		FX_T(test_open_relative_path),
		FX_T(test_open_bad_urls),
		FX_T(test_open_not_a_database),
	};
	const struct CMUnitTest postgres_only[] = {FX_NONE};
	return FX_RUN(both, sqlite_only, postgres_only);
}
