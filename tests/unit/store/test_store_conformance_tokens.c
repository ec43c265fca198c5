/* test_store_conformance_tokens.c — the store's migration 2, on SQLite and
 * on PostgreSQL (store_fx.h), asserting the same behaviour of both: API
 * keys, refresh-token families with reuse detection (sequential and 8
 * threads racing over two handles), revocation by jti/family/session/user,
 * the revocation list, purge, one audit event per change in the same
 * transaction, and writes refused by a read-only database. Each test runs in
 * a fresh database; the test opens it with the backend's own client library
 * to look and to tamper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/chain.h"
#include "store/backend.h"
#include "store/store.h"

static const int64_t NOW = 1800000000;

#include "store_fx.h"
#include "store_helpers.h"

/* count(*) of table WHERE col = 'val' */
static int64_t count_where(const struct fx *f, const char *table, const char *col,
                           const char *val)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s = '%s'", table, col, val);
	return raw(f, sql);
}

/* Not test_store_conformance.c's: created at NOW, and the user must exist
 * (asserted), as every session of this suite is. */
static void add_session(struct fx *f, struct pc_session *s, const struct pc_user *u,
                        int64_t expires)
{
	struct pc_audit_event ev;
	struct pc_principal p;
	memset(s, 0, sizeof(*s));
	pc_random_id(s->id);
	randombytes_buf(s->secret_hash, sizeof(s->secret_hash));
	snprintf(s->user_id, sizeof(s->user_id), "%s", u->id);
	s->created_at = NOW;
	s->last_seen_at = NOW;
	s->expires_at = expires;
	strcpy(s->client_addr, "203.0.113.9");
	strcpy(s->user_agent, "test");
	struct pc_user now; /* a login reads the epoch with the hash */
	assert_int_equal(pc_store_user_get(f->s, u->id, &now), PC_OK);
	s->cred_epoch = now.cred_epoch;
	as_user(&p, u, s->id);
	pc_audit_event_init(&ev, &p, "auth.login", "session", s->id);
	assert_int_equal(pc_store_session_create(f->s, &p, &ev, s), PC_OK);
}

static void mk_key(struct pc_api_key *k, const char *name, const char *prefix,
                   const char *created_by, int64_t created_at)
{
	memset(k, 0, sizeof(*k));
	pc_random_id(k->id);
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->prefix, sizeof(k->prefix), "%s", prefix);
	randombytes_buf(k->secret_hash, sizeof(k->secret_hash));
	snprintf(k->created_by, sizeof(k->created_by), "%s", created_by);
	k->created_at = created_at;
	k->expires_at = 0;
	k->last_used_at = 0;
}

/* A fresh family's first token: access token valid 900 s, family 30 days. */
static void mk_refresh(struct pc_refresh_token *t, const struct pc_user *u, const char *sid,
                       int64_t expires_at)
{
	memset(t, 0, sizeof(*t));
	randombytes_buf(t->token_hash, sizeof(t->token_hash));
	pc_random_id(t->family_id);
	snprintf(t->user_id, sizeof(t->user_id), "%s", u->id);
	snprintf(t->session_id, sizeof(t->session_id), "%s", sid != NULL ? sid : "");
	t->created_at = NOW;
	t->expires_at = expires_at;
	snprintf(t->access_jti, sizeof(t->access_jti), "jti-");
	pc_random_id(t->access_jti + 4);
	t->access_exp = NOW + 900;
}

static void issue(struct fx *f, struct pc_refresh_token *t, const struct pc_user *u,
                  const char *sid, int64_t expires_at)
{
	struct pc_principal p;
	struct pc_audit_event ev;
	mk_refresh(t, u, sid, expires_at);
	as_user(&p, u, sid);
	pc_audit_event_init(&ev, &p, "token.issue", "token", t->family_id);
	assert_int_equal(pc_store_refresh_create(f->s, &p, &ev, t), PC_OK);
	assert_true(ev.seq > 0);
}

/* What the caller of pc_store_refresh_rotate draws for the next token. */
static void mk_next(struct pc_refresh_token *next, int64_t now, int64_t access_exp)
{
	memset(next, 0, sizeof(*next));
	randombytes_buf(next->token_hash, sizeof(next->token_hash));
	next->created_at = now;
	snprintf(next->access_jti, sizeof(next->access_jti), "jti-");
	pc_random_id(next->access_jti + 4);
	next->access_exp = access_exp;
}

struct rot {
	struct pc_audit_event ev, reuse_ev;
	struct pc_refresh_token next, old;
	struct pc_revoked *revoked;
	size_t n;
};

static enum pc_err rotate(struct pc_store *s, const struct pc_principal *p, struct rot *r,
                          const uint8_t old_hash[32], int64_t now)
{
	mk_next(&r->next, now, now + 900);
	pc_audit_event_init(&r->ev, p, "token.refresh", "token", "");
	pc_audit_event_init(&r->reuse_ev, p, "token.reuse", "token", "");
	return pc_store_refresh_rotate(s, p, &r->ev, &r->reuse_ev, old_hash, now, &r->next, &r->old,
	                               &r->revoked, &r->n);
}

static bool has_jti(const struct pc_revoked *v, size_t n, const char *jti, int64_t exp)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].jti, jti) == 0)
			return v[i].expires_at == exp;
	return false;
}

static bool is_revoked(struct fx *f, const char *jti)
{
	return count_where(f, "revoked_tokens", "jti", jti) == 1;
}

/* ------------------------------------------------------------------ */
/* schema                                                              */

static void test_schema_v2(void **state)
{
	struct fx *f = *state;
	assert_int_equal(raw(f, "SELECT version FROM schema_version"), FX_SCHEMA_VERSION);
	static const char *const tables[] = {"api_keys", "refresh_tokens", "access_tokens",
	                                     "revoked_tokens"};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		assert_int_equal(count_where(f, SQL(f, "sqlite_master", "pg_tables"),
		                             SQL(f, "name", "tablename"), tables[i]),
		                 1);
	/* the queries by family, user and session use an index (not counting
	 * those of primary keys) */
	assert_int_equal(raw(f, SQL(f,
	                            "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
	                            " AND tbl_name IN ('refresh_tokens', 'access_tokens')"
	                            " AND name NOT LIKE 'sqlite_autoindex%'",
	                            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'"
	                            " AND tablename IN ('refresh_tokens', 'access_tokens')"
	                            " AND indexname NOT LIKE '%_pkey'")),
	                 8);
}

/* A database of schema 1 with data is brought to the latest, the data kept
 * (and its users at credential epoch 0). */
static void test_migrate_from_1(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	struct pc_audit_event ev0;
	mk_user(&u, "u@example.com");
	u.role = PC_ROLE_MEMBER; /* migration 5 must make every existing user an admin */
	pc_audit_event_init(&ev0, &f->sys, "user.create", "user", u.id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev0, &u), PC_OK);
	pc_store_close(f->s);
	f->s = NULL;
	raw(f, "DROP TABLE api_keys; DROP TABLE refresh_tokens; DROP TABLE access_tokens;"
	       "DROP TABLE revoked_tokens; DROP INDEX sessions_expires;"
	       "DROP INDEX reset_tokens_expires; ALTER TABLE users DROP COLUMN cred_epoch; DROP TABLE revocation_seq;"
	       "ALTER TABLE audit_events DROP COLUMN key_id;"
	       "ALTER TABLE users DROP COLUMN role; ALTER TABLE users DROP COLUMN disabled;"
	       "ALTER TABLE users DROP COLUMN group_names; DROP INDEX audit_events_resource;"
	       "DROP TABLE totp_credentials; DROP TABLE recovery_codes; ALTER TABLE sessions DROP COLUMN factors;"
	       "ALTER TABLE sessions DROP COLUMN second_factor_at; ALTER TABLE sessions DROP COLUMN pending;"
	       "ALTER TABLE users DROP COLUMN display_name;"
	       "DROP TABLE mail_outbox; DROP TABLE email_changes;"
	       "DROP TABLE passkeys; DROP TABLE webauthn_challenges;"
	       "DROP TABLE oidc_objects;"
	       "UPDATE schema_version SET version = 1");
	char err[256];
	assert_int_equal(pc_store_open(&f->s, f->url, KEY, err, sizeof(err)), 0);
	assert_int_equal(raw(f, "SELECT version FROM schema_version"), FX_SCHEMA_VERSION);
	assert_int_equal(count(f, "schema_version"), 1);
	struct pc_user got;
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	assert_int_equal(got.cred_epoch, 0);
	assert_int_equal(got.role, PC_ROLE_ADMIN);
	assert_false(got.disabled);
	assert_string_equal(got.groups, "");
	struct pc_refresh_token t;
	issue(f, &t, &u, NULL, NOW + 3600);
	assert_chain_ok(f);
}

/* ------------------------------------------------------------------ */
/* API keys                                                            */

static void test_apikey_crud(void **state)
{
	struct fx *f = *state;
	struct pc_user admin;
	add_user(f, &admin, "admin@example.com");
	int64_t events = count(f, "audit_events");
	struct pc_principal pa;
	as_user(&pa, &admin, NULL);
	struct pc_audit_event ev;

	struct pc_api_key a, b, c, got;
	mk_key(&a, "deploy", "aaaaaaaaaaaa", admin.id, NOW);
	a.expires_at = NOW + 86400;
	mk_key(&b, "ci", "bbbbbbbbbbbb", admin.id, NOW - 10); /* listed first */
	mk_key(&c, "backup", "cccccccccccc", admin.id, NOW);
	const struct pc_api_key *all[] = {&a, &b, &c};
	for (size_t i = 0; i < 3; i++) {
		pc_audit_event_init(&ev, &pa, "api_key.create", "api_key", all[i]->id);
		assert_int_equal(pc_store_apikey_create(f->s, &pa, &ev, all[i]), PC_OK);
		assert_true(ev.seq > 0);
		expect_event(f, &events, "api_key.create");
	}

	assert_int_equal(pc_store_apikey_get(f->s, a.id, &got), PC_OK);
	assert_string_equal(got.id, a.id);
	assert_string_equal(got.name, "deploy");
	assert_string_equal(got.prefix, "aaaaaaaaaaaa");
	assert_memory_equal(got.secret_hash, a.secret_hash, 32);
	assert_string_equal(got.created_by, admin.id);
	assert_int_equal(got.created_at, NOW);
	assert_int_equal(got.expires_at, NOW + 86400);
	assert_int_equal(got.last_used_at, 0);
	assert_int_equal(pc_store_apikey_get_by_prefix(f->s, "cccccccccccc", &got), PC_OK);
	assert_string_equal(got.id, c.id);
	assert_int_equal(pc_store_apikey_get(f->s, "missing", &got), PC_ERR_NOT_FOUND);
	assert_string_equal(got.id, "");
	assert_int_equal(pc_store_apikey_get_by_prefix(f->s, "zzzzzzzzzzzz", &got), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_apikey_get_by_prefix(f->s, "%", &got), PC_ERR_NOT_FOUND);

	/* re-key after a rotation: only while the old hash is stored */
	uint8_t h2[32], h3[32];
	memset(h2, 0x22, sizeof(h2));
	memset(h3, 0x33, sizeof(h3));
	assert_int_equal(pc_store_apikey_rekey(f->s, c.id, h2, h3), PC_OK); /* not the stored hash */
	assert_int_equal(pc_store_apikey_get(f->s, c.id, &got), PC_OK);
	assert_memory_equal(got.secret_hash, c.secret_hash, 32);
	assert_int_equal(pc_store_apikey_rekey(f->s, c.id, c.secret_hash, h2), PC_OK);
	assert_int_equal(pc_store_apikey_rekey(f->s, c.id, c.secret_hash, h3), PC_OK); /* a racing second: no-op */
	assert_int_equal(pc_store_apikey_get(f->s, c.id, &got), PC_OK);
	assert_memory_equal(got.secret_hash, h2, 32);
	assert_int_equal(pc_store_apikey_rekey(f->s, "missing", h2, h3), PC_OK);
	assert_int_equal(pc_store_apikey_rekey(f->s, c.id, h2, c.secret_hash), PC_OK); /* back, for what follows */

	struct pc_api_key *list;
	size_t n;
	assert_int_equal(pc_store_apikey_list(f->s, &list, &n), PC_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].id, b.id);
	const char *first = strcmp(a.id, c.id) < 0 ? a.id : c.id;
	const char *second = strcmp(a.id, c.id) < 0 ? c.id : a.id;
	assert_string_equal(list[1].id, first);
	assert_string_equal(list[2].id, second);
	free(list);

	/* rename */
	char longest[PC_APIKEY_NAME_MAX + 1];
	memset(longest, 'n', PC_APIKEY_NAME_MAX);
	longest[PC_APIKEY_NAME_MAX] = '\0';
	pc_audit_event_init(&ev, &pa, "api_key.rename", "api_key", a.id);
	assert_int_equal(pc_store_apikey_rename(f->s, &pa, &ev, a.id, longest), PC_OK);
	expect_event(f, &events, "api_key.rename");
	assert_int_equal(pc_store_apikey_get(f->s, a.id, &got), PC_OK);
	assert_string_equal(got.name, longest);
	pc_audit_event_init(&ev, &pa, "api_key.rename", "api_key", "missing");
	assert_int_equal(pc_store_apikey_rename(f->s, &pa, &ev, "missing", "x"), PC_ERR_NOT_FOUND);
	assert_int_equal(ev.seq, 0);
	assert_int_equal(count(f, "audit_events"), events);

	/* touch: forwards only, no event */
	assert_int_equal(pc_store_apikey_touch(f->s, b.id, NOW + 60), PC_OK);
	assert_int_equal(pc_store_apikey_touch(f->s, b.id, NOW + 30), PC_OK);
	assert_int_equal(pc_store_apikey_get(f->s, b.id, &got), PC_OK);
	assert_int_equal(got.last_used_at, NOW + 60);
	assert_int_equal(pc_store_apikey_touch(f->s, "missing", NOW), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events);

	/* delete */
	pc_audit_event_init(&ev, &pa, "api_key.delete", "api_key", c.id);
	assert_int_equal(pc_store_apikey_delete(f->s, &pa, &ev, c.id), PC_OK);
	expect_event(f, &events, "api_key.delete");
	assert_int_equal(pc_store_apikey_get(f->s, c.id, &got), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_apikey_get_by_prefix(f->s, "cccccccccccc", &got), PC_ERR_NOT_FOUND);
	pc_audit_event_init(&ev, &pa, "api_key.delete", "api_key", c.id);
	assert_int_equal(pc_store_apikey_delete(f->s, &pa, &ev, c.id), PC_ERR_NOT_FOUND);
	assert_int_equal(ev.seq, 0);
	assert_int_equal(count(f, "api_keys"), 2);
	assert_int_equal(count(f, "audit_events"), events);
	assert_chain_ok(f);
}

static void test_apikey_conflict(void **state)
{
	struct fx *f = *state;
	struct pc_user admin;
	add_user(f, &admin, "admin@example.com");
	struct pc_audit_event ev;
	struct pc_api_key a, dup;
	mk_key(&a, "one", "abcdefabcdef", admin.id, NOW);
	pc_audit_event_init(&ev, &f->sys, "api_key.create", "api_key", a.id);
	assert_int_equal(pc_store_apikey_create(f->s, &f->sys, &ev, &a), PC_OK);
	int64_t events = count(f, "audit_events");

	/* the same prefix: the caller draws another key */
	mk_key(&dup, "two", "abcdefabcdef", admin.id, NOW);
	pc_audit_event_init(&ev, &f->sys, "api_key.create", "api_key", dup.id);
	assert_int_equal(pc_store_apikey_create(f->s, &f->sys, &ev, &dup), PC_ERR_CONFLICT);
	assert_int_equal(ev.seq, 0);
	/* the same id */
	mk_key(&dup, "two", "012345012345", admin.id, NOW);
	memcpy(dup.id, a.id, sizeof(dup.id));
	pc_audit_event_init(&ev, &f->sys, "api_key.create", "api_key", dup.id);
	assert_int_equal(pc_store_apikey_create(f->s, &f->sys, &ev, &dup), PC_ERR_CONFLICT);
	assert_int_equal(count(f, "api_keys"), 1);
	assert_int_equal(count(f, "audit_events"), events);
	/* a key needs no live creator (created by an API key: "") */
	mk_key(&dup, "three", "012345012345", "", NOW);
	pc_audit_event_init(&ev, &f->sys, "api_key.create", "api_key", dup.id);
	assert_int_equal(pc_store_apikey_create(f->s, &f->sys, &ev, &dup), PC_OK);
	assert_chain_ok(f);
}

/* Keys are shared: one outlives its creator, who then reads as "". */
static void test_apikey_outlives_creator(void **state)
{
	struct fx *f = *state;
	struct pc_user admin, creator;
	add_user(f, &admin, "admin@example.com");
	add_user(f, &creator, "creator@example.com");
	struct pc_principal pc;
	as_user(&pc, &creator, NULL);
	struct pc_audit_event ev;
	struct pc_api_key k, got;
	mk_key(&k, "shared", "sharedshared", creator.id, NOW);
	pc_audit_event_init(&ev, &pc, "api_key.create", "api_key", k.id);
	assert_int_equal(pc_store_apikey_create(f->s, &pc, &ev, &k), PC_OK);
	pc_audit_event_init(&ev, &f->sys, "user.delete", "user", creator.id);
	assert_int_equal(pc_store_user_delete(f->s, &f->sys, &ev, creator.id, NULL, NULL), PC_OK);
	assert_int_equal(pc_store_apikey_get(f->s, k.id, &got), PC_OK);
	assert_string_equal(got.created_by, "");
	assert_string_equal(got.name, "shared");
	struct pc_api_key *list;
	size_t n;
	assert_int_equal(pc_store_apikey_list(f->s, &list, &n), PC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].created_by, "");
	free(list);
	/* any admin may still rename and delete it */
	struct pc_principal pa;
	as_user(&pa, &admin, NULL);
	pc_audit_event_init(&ev, &pa, "api_key.rename", "api_key", k.id);
	assert_int_equal(pc_store_apikey_rename(f->s, &pa, &ev, k.id, "renamed"), PC_OK);
	pc_audit_event_init(&ev, &pa, "api_key.delete", "api_key", k.id);
	assert_int_equal(pc_store_apikey_delete(f->s, &pa, &ev, k.id), PC_OK);
	assert_chain_ok(f);
}

/* ------------------------------------------------------------------ */
/* refresh tokens                                                      */

static void test_refresh_chain(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	struct pc_session sess;
	add_user(f, &u, "u@example.com");
	add_session(f, &sess, &u, NOW + 86400);
	int64_t events = count(f, "audit_events");
	struct pc_principal p;
	as_user(&p, &u, sess.id);

	struct pc_refresh_token t0, got;
	issue(f, &t0, &u, sess.id, NOW + 30 * 86400);
	expect_event(f, &events, "token.issue");
	assert_int_equal(count(f, "refresh_tokens"), 1);
	assert_int_equal(count_where(f, "access_tokens", "jti", t0.access_jti), 1);
	assert_int_equal(pc_store_refresh_get(f->s, t0.token_hash, &got), PC_OK);
	assert_memory_equal(got.token_hash, t0.token_hash, 32);
	assert_string_equal(got.family_id, t0.family_id);
	assert_string_equal(got.user_id, u.id);
	assert_string_equal(got.session_id, sess.id);
	assert_int_equal(got.created_at, NOW);
	assert_int_equal(got.expires_at, NOW + 30 * 86400);
	assert_string_equal(got.access_jti, t0.access_jti);
	assert_int_equal(got.access_exp, NOW + 900);

	/* first rotation */
	struct rot r1;
	assert_int_equal(rotate(f->s, &p, &r1, t0.token_hash, NOW + 100), PC_OK);
	expect_event(f, &events, "token.refresh");
	assert_true(r1.ev.seq > 0);
	assert_int_equal(r1.reuse_ev.seq, 0);
	assert_null(r1.revoked);
	assert_int_equal(r1.n, 0);
	assert_memory_equal(r1.old.token_hash, t0.token_hash, 32);
	assert_string_equal(r1.old.family_id, t0.family_id);
	assert_string_equal(r1.old.access_jti, t0.access_jti);
	/* the store filled the family's fields in next */
	assert_string_equal(r1.next.family_id, t0.family_id);
	assert_string_equal(r1.next.user_id, u.id);
	assert_string_equal(r1.next.session_id, sess.id);
	assert_int_equal(r1.next.expires_at, NOW + 30 * 86400); /* not extended */
	assert_int_equal(r1.next.created_at, NOW + 100);
	assert_int_equal(pc_store_refresh_get(f->s, r1.next.token_hash, &got), PC_OK);
	assert_string_equal(got.family_id, t0.family_id);
	assert_string_equal(got.access_jti, r1.next.access_jti);
	assert_int_equal(got.expires_at, NOW + 30 * 86400);
	assert_int_equal(count_where(f, "access_tokens", "family_id", t0.family_id), 2);
	assert_int_equal(raw(f, "SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL"), 1);
	/* the used one is still found (logout by an old token finds the family) */
	assert_int_equal(pc_store_refresh_get(f->s, t0.token_hash, &got), PC_OK);

	/* second rotation, of the newest */
	struct rot r2;
	assert_int_equal(rotate(f->s, &p, &r2, r1.next.token_hash, NOW + 200), PC_OK);
	expect_event(f, &events, "token.refresh");
	assert_string_equal(r2.next.family_id, t0.family_id);
	assert_string_equal(r2.old.access_jti, r1.next.access_jti);
	assert_int_equal(count_where(f, "refresh_tokens", "family_id", t0.family_id), 3);
	assert_int_equal(count_where(f, "access_tokens", "family_id", t0.family_id), 3);
	assert_int_equal(count(f, "revoked_tokens"), 0);

	/* unknown token */
	uint8_t unknown[32];
	randombytes_buf(unknown, 32);
	struct rot r3;
	assert_int_equal(rotate(f->s, &p, &r3, unknown, NOW + 300), PC_ERR_NOT_FOUND);
	assert_int_equal(r3.ev.seq, 0);
	assert_int_equal(r3.reuse_ev.seq, 0);
	assert_string_equal(r3.old.family_id, "");
	assert_int_equal(pc_store_refresh_get(f->s, unknown, &got), PC_ERR_NOT_FOUND);
	assert_string_equal(got.family_id, "");
	assert_int_equal(count(f, "audit_events"), events);
	assert_chain_ok(f);
}

static void test_refresh_create_errors(void **state)
{
	struct fx *f = *state;
	struct pc_user u, gone;
	add_user(f, &u, "u@example.com");
	mk_user(&gone, "gone@example.com"); /* never stored */
	int64_t events = count(f, "audit_events");
	struct pc_principal p;
	as_user(&p, &u, NULL);
	struct pc_audit_event ev;
	struct pc_refresh_token t, dup;

	mk_refresh(&t, &gone, NULL, NOW + 3600);
	pc_audit_event_init(&ev, &p, "token.issue", "token", t.family_id);
	assert_int_equal(pc_store_refresh_create(f->s, &p, &ev, &t), PC_ERR_NOT_FOUND);
	assert_int_equal(ev.seq, 0);

	issue(f, &t, &u, NULL, NOW + 3600);
	events++;
	/* the same token hash */
	mk_refresh(&dup, &u, NULL, NOW + 3600);
	memcpy(dup.token_hash, t.token_hash, 32);
	pc_audit_event_init(&ev, &p, "token.issue", "token", dup.family_id);
	assert_int_equal(pc_store_refresh_create(f->s, &p, &ev, &dup), PC_ERR_CONFLICT);
	/* the same access jti: the refresh token goes with it */
	mk_refresh(&dup, &u, NULL, NOW + 3600);
	memcpy(dup.access_jti, t.access_jti, sizeof(dup.access_jti));
	pc_audit_event_init(&ev, &p, "token.issue", "token", dup.family_id);
	assert_int_equal(pc_store_refresh_create(f->s, &p, &ev, &dup), PC_ERR_CONFLICT);
	struct pc_refresh_token got;
	assert_int_equal(pc_store_refresh_get(f->s, dup.token_hash, &got), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "refresh_tokens"), 1);
	assert_int_equal(count(f, "access_tokens"), 1);
	assert_int_equal(count(f, "audit_events"), events);
	assert_chain_ok(f);
}

/* Reuse of an old token revokes the whole family. */
static void test_refresh_reuse(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	struct pc_session sess;
	add_user(f, &u, "u@example.com");
	add_session(f, &sess, &u, NOW + 86400);
	struct pc_principal p;
	as_user(&p, &u, sess.id);

	struct pc_refresh_token t0, other, got;
	issue(f, &t0, &u, sess.id, NOW + 30 * 86400);
	t0.access_exp = NOW + 900;
	issue(f, &other, &u, sess.id, NOW + 30 * 86400); /* another family */
	struct rot r1, r2;
	assert_int_equal(rotate(f->s, &p, &r1, t0.token_hash, NOW + 1000), PC_OK);
	assert_int_equal(rotate(f->s, &p, &r2, r1.next.token_hash, NOW + 1500), PC_OK);
	int64_t events = count(f, "audit_events");

	/* t0 again at NOW + 1600: t0's access token expired at NOW + 900, so
	 * only r1's (NOW + 1900) and r2's (NOW + 2400) are revoked */
	struct rot bad;
	struct pc_principal thief;
	memset(&thief, 0, sizeof(thief));
	strcpy(thief.client_addr, "192.0.2.66");
	assert_int_equal(rotate(f->s, &thief, &bad, t0.token_hash, NOW + 1600), PC_ERR_REUSED);
	expect_event(f, &events, "token.reuse");
	assert_true(bad.reuse_ev.seq > 0);
	assert_int_equal(bad.ev.seq, 0);
	assert_int_equal(bad.n, 2);
	assert_non_null(bad.revoked);
	assert_true(has_jti(bad.revoked, bad.n, r1.next.access_jti, NOW + 1900));
	assert_true(has_jti(bad.revoked, bad.n, r2.next.access_jti, NOW + 2400));
	assert_false(has_jti(bad.revoked, bad.n, t0.access_jti, NOW + 900));
	free(bad.revoked);
	assert_true(is_revoked(f, r1.next.access_jti));
	assert_true(is_revoked(f, r2.next.access_jti));
	assert_false(is_revoked(f, t0.access_jti));
	assert_false(is_revoked(f, other.access_jti));
	struct pc_audit_event last;
	newest(f, &last);
	assert_string_equal(last.client_addr, "192.0.2.66");
	assert_string_equal(last.auth_method, "anonymous");

	/* the family's refresh tokens are gone: the newest is NOT_FOUND now */
	assert_int_equal(count_where(f, "refresh_tokens", "family_id", t0.family_id), 0);
	struct rot r3;
	assert_int_equal(rotate(f->s, &p, &r3, r2.next.token_hash, NOW + 1700), PC_ERR_NOT_FOUND);
	assert_int_equal(r3.reuse_ev.seq, 0);
	assert_int_equal(pc_store_refresh_get(f->s, t0.token_hash, &got), PC_ERR_NOT_FOUND);
	/* and so is the replayed one, a second time */
	assert_int_equal(rotate(f->s, &thief, &r3, t0.token_hash, NOW + 1700), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events);

	/* the other family is untouched */
	assert_int_equal(rotate(f->s, &p, &r3, other.token_hash, NOW + 1700), PC_OK);
	events++;
	struct pc_revoked *list;
	size_t n;
	assert_int_equal(pc_store_revoked_list(f->s, NOW + 1700, &list, &n), PC_OK);
	assert_int_equal(n, 2);
	assert_true(has_jti(list, n, r1.next.access_jti, NOW + 1900));
	assert_true(has_jti(list, n, r2.next.access_jti, NOW + 2400));
	free(list);
	assert_int_equal(count(f, "audit_events"), events);
	assert_chain_ok(f);
}

/* An ended family is NOT_FOUND, used or not: no reuse alarm for it. */
static void test_refresh_expired(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	add_user(f, &u, "u@example.com");
	struct pc_principal p;
	as_user(&p, &u, NULL);
	struct pc_refresh_token t0;
	issue(f, &t0, &u, NULL, NOW + 3600);
	struct rot r1, r;
	assert_int_equal(rotate(f->s, &p, &r1, t0.token_hash, NOW + 10), PC_OK);
	int64_t events = count(f, "audit_events");

	/* at and after expires_at */
	assert_int_equal(rotate(f->s, &p, &r, r1.next.token_hash, NOW + 3600), PC_ERR_NOT_FOUND);
	assert_int_equal(rotate(f->s, &p, &r, r1.next.token_hash, NOW + 9999), PC_ERR_NOT_FOUND);
	assert_int_equal(rotate(f->s, &p, &r, t0.token_hash, NOW + 3600), PC_ERR_NOT_FOUND);
	assert_null(r.revoked);
	assert_int_equal(r.ev.seq, 0);
	assert_int_equal(r.reuse_ev.seq, 0);
	assert_int_equal(count(f, "audit_events"), events);
	assert_int_equal(count(f, "revoked_tokens"), 0);
	assert_int_equal(count(f, "refresh_tokens"), 2);
	/* one second before the end it still works */
	assert_int_equal(rotate(f->s, &p, &r, r1.next.token_hash, NOW + 3599), PC_OK);
	assert_int_equal(r.next.expires_at, NOW + 3600);
	assert_chain_ok(f);
}

/* ------------------------------------------------------------------ */
/* rotation race: 8 threads, one token, two handles                    */

#define ROT_THREADS 8
#define ROT_ROUNDS 12

struct rot_race {
	struct pc_store *stores[2];
	const struct pc_principal *p;
	const uint8_t *hash;
	atomic_int ok, conflict, not_found, other;
};

static void rot_thread(void *arg, int idx)
{
	struct rot_race *r = arg;
	struct rot x;
	enum pc_err e = rotate(r->stores[idx % 2], r->p, &x, r->hash, NOW + 60);
	if (e == PC_OK)
		atomic_fetch_add(&r->ok, 1);
	else if (e == PC_ERR_REUSED && x.reuse_ev.seq > 0)
		atomic_fetch_add(&r->conflict, 1);
	else if (e == PC_ERR_NOT_FOUND)
		atomic_fetch_add(&r->not_found, 1);
	else
		atomic_fetch_add(&r->other, 1);
	free(x.revoked);
}

static void test_rotate_race(void **state)
{
	struct fx *f = *state;
	struct pc_store *s2 = open_second(f);
	struct pc_user u;
	add_user(f, &u, "u@example.com");
	struct pc_principal p;
	as_user(&p, &u, NULL);
	for (int round = 0; round < ROT_ROUNDS; round++) {
		struct pc_refresh_token t;
		issue(f, &t, &u, NULL, NOW + 3600);
		int64_t events = count(f, "audit_events");
		struct rot_race r = {.stores = {f->s, s2}, .p = &p, .hash = t.token_hash};
		fx_race(ROT_THREADS, rot_thread, &r);
		/* the first rotates; the second finds it used: reuse, the family
		 * (the winner's new token too) is revoked; the rest find nothing */
		assert_int_equal(atomic_load(&r.ok), 1);
		assert_int_equal(atomic_load(&r.conflict), 1);
		assert_int_equal(atomic_load(&r.not_found), ROT_THREADS - 2);
		assert_int_equal(atomic_load(&r.other), 0);
		assert_int_equal(count_where(f, "refresh_tokens", "family_id", t.family_id), 0);
		/* the issued access token and the winner's */
		assert_int_equal(count(f, "revoked_tokens"), 2 * (round + 1));
		assert_int_equal(count(f, "audit_events"), events + 2);
	}
	assert_chain_ok(f);
	int64_t checked, bad;
	assert_int_equal(pc_store_audit_verify(s2, &checked, &bad), PC_OK);
	assert_int_equal(checked, count(f, "audit_events"));
	pc_store_close(s2);
}

/* ------------------------------------------------------------------ */
/* revocation                                                          */

struct world {
	struct pc_user a, b;
	struct pc_session sa1, sa2, sb;
	struct pc_refresh_token a1x, a1y, a2, apw, b1; /* families: a1x, a1y from sa1 */
	struct pc_refresh_token a1x_next;              /* a1x rotated once */
};

static void build_world(struct fx *f, struct world *w)
{
	memset(w, 0, sizeof(*w));
	add_user(f, &w->a, "a@example.com");
	add_user(f, &w->b, "b@example.com");
	add_session(f, &w->sa1, &w->a, NOW + 86400);
	add_session(f, &w->sa2, &w->a, NOW + 86400);
	add_session(f, &w->sb, &w->b, NOW + 86400);
	issue(f, &w->a1x, &w->a, w->sa1.id, NOW + 86400);
	issue(f, &w->a1y, &w->a, w->sa1.id, NOW + 86400);
	issue(f, &w->a2, &w->a, w->sa2.id, NOW + 86400);
	issue(f, &w->apw, &w->a, NULL, NOW + 86400); /* by password: no session */
	issue(f, &w->b1, &w->b, w->sb.id, NOW + 86400);
	struct pc_principal p;
	struct rot r;
	as_user(&p, &w->a, w->sa1.id);
	assert_int_equal(rotate(f->s, &p, &r, w->a1x.token_hash, NOW + 10), PC_OK);
	w->a1x_next = r.next;
}

static enum pc_err revoke_by(struct fx *f, struct pc_audit_event *ev, const char *jti,
                          int64_t jti_exp, const char *fam, const char *sid, const char *uid,
                          int64_t now, struct pc_revoked **out, size_t *n)
{
	if (ev != NULL)
		pc_audit_event_init(ev, &f->sys, "token.revoke", "token", "");
	return pc_store_tokens_revoke(f->s, &f->sys, ev, jti, jti_exp, fam, sid, uid, now, out, n);
}

static void test_revoke_jti(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f, &w);
	int64_t events = count(f, "audit_events");
	struct pc_audit_event ev;
	struct pc_revoked *out;
	size_t n;

	/* a jti not recorded (issued without a refresh token): just that one */
	assert_int_equal(revoke_by(f, &ev, "unrecorded-jti", NOW + 500, NULL, NULL, NULL, NOW + 20,
	                        &out, &n),
	                 PC_OK);
	expect_event(f, &events, "token.revoke");
	assert_int_equal(n, 1);
	assert_string_equal(out[0].jti, "unrecorded-jti");
	assert_int_equal(out[0].expires_at, NOW + 500);
	free(out);
	assert_true(is_revoked(f, "unrecorded-jti"));
	assert_int_equal(count(f, "refresh_tokens"), 6);

	/* a recorded jti: its family goes with it, the jti listed once */
	assert_int_equal(revoke_by(f, &ev, w.a1x.access_jti, w.a1x.access_exp, NULL, NULL, NULL,
	                        NOW + 20, &out, &n),
	                 PC_OK);
	expect_event(f, &events, "token.revoke");
	assert_int_equal(n, 2);
	assert_string_equal(out[0].jti, w.a1x.access_jti);
	assert_true(has_jti(out, n, w.a1x_next.access_jti, w.a1x_next.access_exp));
	free(out);
	assert_int_equal(count_where(f, "refresh_tokens", "family_id", w.a1x.family_id), 0);
	assert_int_equal(count(f, "refresh_tokens"), 4);
	assert_false(is_revoked(f, w.a1y.access_jti)); /* same session, other family */

	/* again: PC_OK, and the jtis, already present, are reported again
	 * (the access-token records outlive the family's refresh tokens) */
	assert_int_equal(revoke_by(f, NULL, w.a1x.access_jti, w.a1x.access_exp, NULL, NULL, NULL,
	                        NOW + 20, &out, &n),
	                 PC_OK);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].jti, w.a1x.access_jti);
	assert_true(has_jti(out, n, w.a1x_next.access_jti, w.a1x_next.access_exp));
	free(out);
	assert_int_equal(count(f, "revoked_tokens"), 3);
	assert_int_equal(count(f, "audit_events"), events);
	assert_chain_ok(f);
}

static void test_revoke_family(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f, &w);
	int64_t events = count(f, "audit_events");
	struct pc_audit_event ev;
	struct pc_revoked *out;
	size_t n;

	/* only unexpired access tokens are listed: a1x's first one ends at
	 * NOW + 900, its rotated one at NOW + 910 */
	assert_int_equal(revoke_by(f, &ev, NULL, 0, w.a1x.family_id, NULL, NULL, NOW + 905, &out, &n),
	                 PC_OK);
	expect_event(f, &events, "token.revoke");
	assert_int_equal(n, 1);
	assert_string_equal(out[0].jti, w.a1x_next.access_jti);
	assert_int_equal(out[0].expires_at, NOW + 910);
	free(out);
	assert_int_equal(count_where(f, "refresh_tokens", "family_id", w.a1x.family_id), 0);
	assert_int_equal(count(f, "refresh_tokens"), 4);
	struct pc_principal p;
	struct rot r;
	as_user(&p, &w.a, w.sa1.id);
	assert_int_equal(rotate(f->s, &p, &r, w.a1x_next.token_hash, NOW + 906), PC_ERR_NOT_FOUND);

	/* again: its live access jti is reported again */
	assert_int_equal(revoke_by(f, NULL, NULL, 0, w.a1x.family_id, NULL, NULL, NOW + 905, &out, &n),
	                 PC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].jti, w.a1x_next.access_jti);
	free(out);
	/* a family that never was: nothing to do */
	assert_int_equal(revoke_by(f, NULL, NULL, 0, "0123456789abcdef0123456789abcdef", NULL, NULL,
	                           NOW, &out, &n),
	                 PC_OK);
	assert_int_equal(n, 0);
	assert_null(out);
	assert_int_equal(count(f, "revoked_tokens"), 1);
	assert_int_equal(count(f, "refresh_tokens"), 4);
	assert_int_equal(count(f, "audit_events"), events);
	assert_chain_ok(f);
}

static void test_revoke_session(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f, &w);
	int64_t events = count(f, "audit_events");
	struct pc_revoked *out;
	size_t n;

	/* part of a session end the caller audits: no event of its own */
	assert_int_equal(revoke_by(f, NULL, NULL, 0, NULL, w.sa1.id, NULL, NOW + 20, &out, &n), PC_OK);
	assert_int_equal(count(f, "audit_events"), events);
	assert_int_equal(n, 3);
	assert_true(has_jti(out, n, w.a1x.access_jti, w.a1x.access_exp));
	assert_true(has_jti(out, n, w.a1x_next.access_jti, w.a1x_next.access_exp));
	assert_true(has_jti(out, n, w.a1y.access_jti, w.a1y.access_exp));
	free(out);
	assert_int_equal(count_where(f, "refresh_tokens", "session_id", w.sa1.id), 0);
	/* the user's other session, the password-issued family and the other user's stay */
	assert_int_equal(count(f, "refresh_tokens"), 3);
	assert_false(is_revoked(f, w.a2.access_jti));
	assert_false(is_revoked(f, w.apw.access_jti));
	assert_false(is_revoked(f, w.b1.access_jti));
	struct pc_refresh_token got;
	assert_int_equal(pc_store_refresh_get(f->s, w.a2.token_hash, &got), PC_OK);
	assert_int_equal(pc_store_refresh_get(f->s, w.a1y.token_hash, &got), PC_ERR_NOT_FOUND);
	assert_chain_ok(f);
}

static void test_revoke_user(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f, &w);
	int64_t events = count(f, "audit_events");
	struct pc_audit_event ev;
	struct pc_revoked *out;
	size_t n;

	/* the caller revokes first, then deletes the user */
	assert_int_equal(revoke_by(f, &ev, NULL, 0, NULL, NULL, w.a.id, NOW + 20, &out, &n), PC_OK);
	expect_event(f, &events, "token.revoke");
	assert_int_equal(n, 5);
	const struct pc_refresh_token *mine[] = {&w.a1x, &w.a1x_next, &w.a1y, &w.a2, &w.apw};
	for (size_t i = 0; i < 5; i++)
		assert_true(has_jti(out, n, mine[i]->access_jti, mine[i]->access_exp));
	free(out);
	assert_int_equal(count_where(f, "refresh_tokens", "user_id", w.a.id), 0);
	assert_int_equal(count(f, "refresh_tokens"), 1);
	assert_false(is_revoked(f, w.b1.access_jti));

	pc_audit_event_init(&ev, &f->sys, "user.delete", "user", w.a.id);
	assert_int_equal(pc_store_user_delete(f->s, &f->sys, &ev, w.a.id, NULL, NULL), PC_OK);
	events++;
	/* the records went with the user; the revocations did not */
	assert_int_equal(count_where(f, "access_tokens", "user_id", w.a.id), 0);
	assert_int_equal(count(f, "revoked_tokens"), 5);
	struct pc_revoked *list;
	assert_int_equal(pc_store_revoked_list(f->s, NOW + 20, &list, &n), PC_OK);
	assert_int_equal(n, 5);
	free(list);
	/* a user with nothing left: PC_OK, nothing */
	assert_int_equal(revoke_by(f, NULL, NULL, 0, NULL, NULL, w.a.id, NOW + 20, &out, &n), PC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(count(f, "audit_events"), events);
	assert_chain_ok(f);
}

/* More than one selector, or none, is misuse: an assert, PC_ERR_INTERNAL
 * without asserts. Run in a child, which aborts in a debug build. */
static void test_revoke_selector_misuse(void **state)
{
	struct fx *f = *state;
	static const int cases = 3;
	for (int i = 0; i < cases; i++) {
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			signal(SIGABRT, SIG_DFL);
			if (freopen("/dev/null", "w", stderr) == NULL)
				_exit(2);
			struct pc_revoked *out;
			size_t n;
			enum pc_err e;
			if (i == 0)
				e = pc_store_tokens_revoke(f->s, &f->sys, NULL, NULL, 0, NULL, NULL, NULL, NOW,
				                           &out, &n);
			else if (i == 1)
				e = pc_store_tokens_revoke(f->s, &f->sys, NULL, "jti", NOW, "fam", NULL, NULL,
				                           NOW, &out, &n);
			else
				e = pc_store_tokens_revoke(f->s, &f->sys, NULL, NULL, 0, NULL, "", NULL, NOW,
				                           &out, &n);
			_exit(e == PC_ERR_INTERNAL && out == NULL && n == 0 ? 0 : 1);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
		bool internal = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (!aborted && !internal)
			fail_msg("case %d: status %d", i, status);
	}
	assert_int_equal(count(f, "revoked_tokens"), 0);
}

static void test_revoked_list(void **state)
{
	struct fx *f = *state;
	struct pc_revoked *out, *list;
	size_t n;
	static const int64_t exps[] = {NOW - 5, NOW, NOW + 1, NOW + 100};
	char jti[32];
	for (size_t i = 0; i < 4; i++) {
		snprintf(jti, sizeof(jti), "j%zu", i);
		assert_int_equal(revoke_by(f, NULL, jti, exps[i], NULL, NULL, NULL, NOW, &out, &n), PC_OK);
		free(out);
	}
	assert_int_equal(count(f, "revoked_tokens"), 4);
	assert_int_equal(pc_store_revoked_list(f->s, NOW, &list, &n), PC_OK);
	assert_int_equal(n, 2);
	assert_true(has_jti(list, n, "j2", NOW + 1));
	assert_true(has_jti(list, n, "j3", NOW + 100));
	free(list);
	assert_int_equal(pc_store_revoked_list(f->s, NOW + 100, &list, &n), PC_OK);
	assert_int_equal(n, 0);
	assert_null(list);
	/* the longest jti the header allows round-trips */
	char longest[PC_JTI_MAX + 1];
	memset(longest, 'x', PC_JTI_MAX);
	longest[PC_JTI_MAX] = '\0';
	assert_int_equal(revoke_by(f, NULL, longest, NOW + 5, NULL, NULL, NULL, NOW, &out, &n), PC_OK);
	free(out);
	assert_int_equal(pc_store_revoked_list(f->s, NOW, &list, &n), PC_OK);
	assert_true(has_jti(list, n, longest, NOW + 5));
	free(list);
}

/* ------------------------------------------------------------------ */
/* purge                                                               */

/* Revocation sequence numbers: one per revoking transaction, stamped on
 * its entries, +1 each time; "since N" returns exactly the unexpired rows
 * numbered after N and the newest number; a purge never lowers it. */
static void test_revoked_since(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f, &w);
	struct pc_revoked *out, *list;
	size_t n;
	int64_t upto = -1, base;
	assert_int_equal(pc_store_revoked_since(f->s, 0, NOW, &list, &n, &base), PC_OK);
	assert_int_equal(n, 0);
	assert_null(list);
	assert_true(base >= 1);
	int64_t seq[3];
	static const int64_t exps[] = {NOW + 10, NOW + 1000, NOW + 2000};
	for (size_t i = 0; i < 3; i++) {
		char jti[32];
		snprintf(jti, sizeof(jti), "seq%zu", i);
		assert_int_equal(revoke_by(f, NULL, jti, exps[i], NULL, NULL, NULL, NOW, &out, &n), PC_OK);
		assert_int_equal(n, 1);
		seq[i] = out[0].seq;
		assert_int_equal(seq[i], base + 1 + (int64_t)i);
		free(out);
	}
	/* one transaction, one number for all its entries */
	assert_int_equal(revoke_by(f, NULL, NULL, 0, NULL, NULL, w.a.id, NOW, &out, &n), PC_OK);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i].seq, seq[2] + 1);
	free(out);
	/* a revocation that revokes nothing takes no number */
	struct pc_user none;
	add_user(f, &none, "none@example.com");
	assert_int_equal(revoke_by(f, NULL, NULL, 0, NULL, NULL, none.id, NOW, &out, &n), PC_OK);
	assert_int_equal(n, 0);
	free(out);

	assert_int_equal(pc_store_revoked_since(f->s, 0, NOW, &list, &n, &upto), PC_OK);
	assert_int_equal(upto, seq[2] + 1);
	assert_int_equal(n, 8);
	free(list);
	assert_int_equal(pc_store_revoked_since(f->s, seq[0], NOW, &list, &n, &upto), PC_OK);
	assert_int_equal(n, 7);
	assert_false(has_jti(list, n, "seq0", exps[0]));
	assert_true(has_jti(list, n, "seq1", exps[1]));
	assert_true(has_jti(list, n, "seq2", exps[2]));
	assert_true(has_jti(list, n, w.a2.access_jti, w.a2.access_exp));
	free(list);
	assert_int_equal(pc_store_revoked_since(f->s, seq[2], NOW, &list, &n, &upto), PC_OK);
	assert_int_equal(n, 5);
	assert_false(has_jti(list, n, "seq2", exps[2]));
	free(list);
	assert_int_equal(pc_store_revoked_since(f->s, upto, NOW, &list, &n, &upto), PC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(upto, seq[2] + 1);
	/* expired rows are left out */
	assert_int_equal(pc_store_revoked_since(f->s, 0, NOW + 1500, &list, &n, &upto), PC_OK);
	assert_int_equal(n, 1);
	assert_true(has_jti(list, n, "seq2", exps[2]));
	free(list);

	/* purging everything but seq2 never lowers the counter: the next
	 * revocation is numbered after every number handed out before */
	size_t purged;
	assert_int_equal(pc_store_tokens_purge(f->s, NOW + 1500, &purged), PC_OK);
	assert_int_equal(revoke_by(f, NULL, "after-purge", NOW + 3000, NULL, NULL, NULL, NOW + 1500, &out, &n),
	                 PC_OK);
	assert_int_equal(out[0].seq, seq[2] + 2);
	free(out);
	assert_int_equal(pc_store_revoked_since(f->s, seq[2] + 1, NOW + 1500, &list, &n, &upto), PC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(upto, seq[2] + 2);
	assert_true(has_jti(list, n, "after-purge", NOW + 3000));
	free(list);
}

/* Numbers follow commit order: a reader that keeps asking "since the last
 * number I saw" while writers on other connections revoke concurrently ends
 * with every revocation. Were numbers handed out before the writers queue
 * for commit (a PostgreSQL SEQUENCE's nextval), a reader could see N
 * committed while N-1 is not yet, and skip N-1 forever. */
#define SEQ_WRITERS 4
#define SEQ_EACH 40

struct seq_race {
	const char *url;
	const struct pc_principal *actor;
	atomic_int next_id;
	atomic_int done;
	atomic_int failed;
};

static void *seq_writer(void *arg)
{
	struct seq_race *r = arg;
	struct pc_store *s;
	char err[256];
	if (pc_store_open(&s, r->url, KEY, err, sizeof(err)) != 0) {
		atomic_fetch_add(&r->failed, 1);
		atomic_fetch_add(&r->done, 1);
		return NULL;
	}
	for (int i = 0; i < SEQ_EACH; i++) {
		char jti[32];
		snprintf(jti, sizeof(jti), "race%d", atomic_fetch_add(&r->next_id, 1));
		struct pc_revoked *out = NULL;
		size_t n;
		if (pc_store_tokens_revoke(s, r->actor, NULL, jti, NOW + 3600, NULL, NULL, NULL, NOW, &out, &n) != PC_OK)
			atomic_fetch_add(&r->failed, 1);
		free(out);
	}
	pc_store_close(s);
	atomic_fetch_add(&r->done, 1);
	return NULL;
}

static void test_revoked_since_race(void **state)
{
	struct fx *f = *state;
	struct seq_race r = {.url = f->url, .actor = &f->sys};
	pthread_t th[SEQ_WRITERS];
	for (int i = 0; i < SEQ_WRITERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, seq_writer, &r), 0);
	static bool seen[SEQ_WRITERS * SEQ_EACH];
	memset(seen, 0, sizeof(seen));
	int64_t applied = 0;
	for (bool last = false;;) {
		last = atomic_load(&r.done) == SEQ_WRITERS;
		struct pc_revoked *list;
		size_t n;
		int64_t upto;
		assert_int_equal(pc_store_revoked_since(f->s, applied, NOW, &list, &n, &upto), PC_OK);
		for (size_t i = 0; i < n; i++) {
			int k = atoi(list[i].jti + 4);
			assert_true(k >= 0 && k < SEQ_WRITERS * SEQ_EACH);
			seen[k] = true;
		}
		free(list);
		assert_true(upto >= applied);
		applied = upto;
		if (last)
			break;
	}
	for (int i = 0; i < SEQ_WRITERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&r.failed), 0);
	for (int k = 0; k < SEQ_WRITERS * SEQ_EACH; k++)
		assert_true(seen[k]);
}

static void test_purge(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	add_user(f, &u, "u@example.com");
	struct pc_session live, dead;
	add_session(f, &live, &u, NOW + 1000);
	add_session(f, &dead, &u, NOW + 100);
	struct pc_audit_event ev;
	uint8_t th[32];
	/* reset tokens: one live, one expired, one used (redeemed) */
	randombytes_buf(th, 32);
	pc_audit_event_init(&ev, &f->sys, "user.password_reset_issue", "user", u.id);
	assert_int_equal(pc_store_reset_create(f->s, &f->sys, &ev, u.id, th, NOW + 100), PC_OK);
	randombytes_buf(th, 32);
	pc_audit_event_init(&ev, &f->sys, "user.password_reset_issue", "user", u.id);
	assert_int_equal(pc_store_reset_create(f->s, &f->sys, &ev, u.id, th, NOW + 1000), PC_OK);
	{
		/* this one: by its hash (x'..' in SQLite, '\x..' in PostgreSQL) */
		char hex[65], sql[200];
		sodium_bin2hex(hex, sizeof(hex), th, sizeof(th));
		snprintf(sql, sizeof(sql),
		         SQL(f, "UPDATE reset_tokens SET used_at = 1 WHERE token_hash = x'%s'",
		             "UPDATE reset_tokens SET used_at = 1 WHERE token_hash = '\\x%s'::bytea"),
		         hex);
		assert_int_equal(raw(f, sql), 0);
		assert_int_equal(raw(f, "SELECT count(*) FROM reset_tokens WHERE used_at = 1"), 1);
	}
	randombytes_buf(th, 32);
	pc_audit_event_init(&ev, &f->sys, "user.password_reset_issue", "user", u.id);
	assert_int_equal(pc_store_reset_create(f->s, &f->sys, &ev, u.id, th, NOW + 1000), PC_OK);

	/* a family ending at NOW + 100 (2 refresh tokens, 2 access tokens ending
	 * at NOW + 900 and NOW + 960), one ending at NOW + 5000 (1 + 1, the
	 * access token ending at NOW + 900) */
	struct pc_refresh_token t1, t2;
	issue(f, &t1, &u, NULL, NOW + 100);
	issue(f, &t2, &u, NULL, NOW + 5000);
	struct pc_principal p;
	as_user(&p, &u, NULL);
	struct rot r;
	assert_int_equal(rotate(f->s, &p, &r, t1.token_hash, NOW + 60), PC_OK);
	/* revocations ending at NOW + 50 and NOW + 2000 */
	struct pc_revoked *out;
	size_t n;
	assert_int_equal(revoke_by(f, NULL, "r-short", NOW + 50, NULL, NULL, NULL, NOW, &out, &n), PC_OK);
	free(out);
	assert_int_equal(revoke_by(f, NULL, "r-long", NOW + 2000, NULL, NULL, NULL, NOW, &out, &n), PC_OK);
	free(out);
	int64_t events = count(f, "audit_events");

	size_t purged = 99;
	assert_int_equal(pc_store_tokens_purge(f->s, NOW, &purged), PC_OK);
	assert_int_equal(purged, 1); /* only the used reset token */
	assert_int_equal(count(f, "reset_tokens"), 2);

	/* at NOW + 100: r-short, t1's family (2 refresh tokens), the dead
	 * session and the expired reset token */
	assert_int_equal(pc_store_tokens_purge(f->s, NOW + 100, &purged), PC_OK);
	assert_int_equal(purged, 1 + 2 + 1 + 1);
	assert_int_equal(count(f, "revoked_tokens"), 1);
	assert_int_equal(count(f, "refresh_tokens"), 1);
	assert_int_equal(count(f, "sessions"), 1);
	assert_int_equal(count(f, "reset_tokens"), 1);
	assert_int_equal(count(f, "access_tokens"), 3);
	struct pc_session gs;
	assert_int_equal(pc_store_session_get(f->s, live.secret_hash, &gs), PC_OK);
	assert_int_equal(pc_store_session_get(f->s, dead.secret_hash, &gs), PC_ERR_NOT_FOUND);

	/* at NOW + 960: 3 access-token records */
	assert_int_equal(pc_store_tokens_purge(f->s, NOW + 960, &purged), PC_OK);
	assert_int_equal(purged, 3);
	/* nothing left to do */
	assert_int_equal(pc_store_tokens_purge(f->s, NOW + 960, &purged), PC_OK);
	assert_int_equal(purged, 0);
	/* at the far end, everything */
	assert_int_equal(pc_store_tokens_purge(f->s, NOW + 10000, &purged), PC_OK);
	assert_int_equal(purged, 1 + 1 + 1 + 1);
	assert_int_equal(count(f, "revoked_tokens") + count(f, "refresh_tokens") +
	                     count(f, "access_tokens") + count(f, "sessions") +
	                     count(f, "reset_tokens"),
	                 0);
	/* housekeeping is not audited */
	assert_int_equal(count(f, "audit_events"), events);
	assert_chain_ok(f);
}

/* ------------------------------------------------------------------ */
/* atomicity and unavailability                                        */

/* An event that cannot be inserted (its id duplicates a stored one) takes
 * its change down with it. */
static void test_atomicity(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f, &w);
	struct pc_audit_event first;
	struct pc_audit_filter flt = {.limit = 200};
	struct pc_audit_event *evs;
	size_t nev;
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &nev), PC_OK);
	first = evs[nev - 1];
	free(evs);
	const char *dup = first.id;
	int64_t events = count(f, "audit_events");
	struct pc_principal p;
	as_user(&p, &w.a, w.sa1.id);
	struct pc_audit_event ev;

	/* api keys */
	struct pc_api_key k, got;
	mk_key(&k, "k", "kkkkkkkkkkkk", w.a.id, NOW);
	pc_audit_event_init(&ev, &p, "api_key.create", "api_key", k.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_apikey_create(f->s, &p, &ev, &k), PC_ERR_CONFLICT);
	assert_int_equal(ev.seq, 0);
	assert_int_equal(pc_store_apikey_get(f->s, k.id, &got), PC_ERR_NOT_FOUND);
	pc_audit_event_init(&ev, &p, "api_key.create", "api_key", k.id);
	assert_int_equal(pc_store_apikey_create(f->s, &p, &ev, &k), PC_OK);
	events++;
	pc_audit_event_init(&ev, &p, "api_key.rename", "api_key", k.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_apikey_rename(f->s, &p, &ev, k.id, "new"), PC_ERR_CONFLICT);
	pc_audit_event_init(&ev, &p, "api_key.delete", "api_key", k.id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_apikey_delete(f->s, &p, &ev, k.id), PC_ERR_CONFLICT);
	assert_int_equal(pc_store_apikey_get(f->s, k.id, &got), PC_OK);
	assert_string_equal(got.name, "k");

	/* refresh create */
	struct pc_refresh_token t, gt;
	mk_refresh(&t, &w.a, NULL, NOW + 3600);
	pc_audit_event_init(&ev, &p, "token.issue", "token", t.family_id);
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_refresh_create(f->s, &p, &ev, &t), PC_ERR_CONFLICT);
	assert_int_equal(pc_store_refresh_get(f->s, t.token_hash, &gt), PC_ERR_NOT_FOUND);
	assert_int_equal(count_where(f, "access_tokens", "jti", t.access_jti), 0);

	/* rotate: the old token stays unused, no new one, no access record */
	struct rot r;
	mk_next(&r.next, NOW + 20, NOW + 920);
	pc_audit_event_init(&r.ev, &p, "token.refresh", "token", "");
	strcpy(r.ev.id, dup);
	pc_audit_event_init(&r.reuse_ev, &p, "token.reuse", "token", "");
	assert_int_equal(pc_store_refresh_rotate(f->s, &p, &r.ev, &r.reuse_ev, w.a2.token_hash,
	                                         NOW + 20, &r.next, &r.old, &r.revoked, &r.n),
	                 PC_ERR_CONFLICT);
	assert_int_equal(r.reuse_ev.seq, 0); /* not a reuse */
	assert_int_equal(r.ev.seq, 0);
	assert_null(r.revoked);
	assert_string_equal(r.old.family_id, "");
	assert_string_equal(r.next.family_id, ""); /* not filled on failure */
	assert_int_equal(pc_store_refresh_get(f->s, r.next.token_hash, &gt), PC_ERR_NOT_FOUND);
	assert_int_equal(raw(f, "SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL"), 1);

	/* reuse: the family survives a failed reuse event */
	pc_audit_event_init(&r.ev, &p, "token.refresh", "token", "");
	pc_audit_event_init(&r.reuse_ev, &p, "token.reuse", "token", "");
	strcpy(r.reuse_ev.id, dup);
	mk_next(&r.next, NOW + 20, NOW + 920);
	assert_int_equal(pc_store_refresh_rotate(f->s, &p, &r.ev, &r.reuse_ev, w.a1x.token_hash,
	                                         NOW + 20, &r.next, &r.old, &r.revoked, &r.n),
	                 PC_ERR_CONFLICT);
	assert_int_equal(r.reuse_ev.seq, 0);
	assert_null(r.revoked);
	assert_int_equal(r.n, 0);
	assert_int_equal(count_where(f, "refresh_tokens", "family_id", w.a1x.family_id), 2);
	assert_int_equal(count(f, "revoked_tokens"), 0);

	/* revoke */
	struct pc_revoked *out = (struct pc_revoked *)1;
	size_t n = 7;
	pc_audit_event_init(&ev, &f->sys, "token.revoke", "token", "");
	strcpy(ev.id, dup);
	assert_int_equal(pc_store_tokens_revoke(f->s, &f->sys, &ev, NULL, 0, NULL, NULL, w.a.id,
	                                        NOW + 20, &out, &n),
	                 PC_ERR_CONFLICT);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_int_equal(count(f, "revoked_tokens"), 0);
	assert_int_equal(count(f, "refresh_tokens"), 6);

	assert_int_equal(count(f, "audit_events"), events);
	assert_chain_ok(f);
}

/* A database that refuses writes: every write answers PC_ERR_UNAVAILABLE
 * and changes nothing; reads still work. */
static void test_read_only(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f, &w);
	struct pc_api_key k, got;
	struct pc_audit_event ev;
	mk_key(&k, "k", "kkkkkkkkkkkk", w.a.id, NOW);
	pc_audit_event_init(&ev, &f->sys, "api_key.create", "api_key", k.id);
	assert_int_equal(pc_store_apikey_create(f->s, &f->sys, &ev, &k), PC_OK);
	/* an expired session and an expired revocation for purge */
	raw(f, "UPDATE sessions SET expires_at = 1 WHERE id = (SELECT min(id) FROM sessions)");
	struct pc_revoked *out;
	size_t n;
	assert_int_equal(revoke_by(f, NULL, "old", NOW - 1, NULL, NULL, NULL, NOW, &out, &n), PC_OK);
	free(out);
	int64_t events = count(f, "audit_events");
	static const char *const tables[] = {"api_keys",       "refresh_tokens", "access_tokens",
	                                     "revoked_tokens", "sessions",       "audit_events"};
	int64_t before[6];
	for (size_t i = 0; i < 6; i++)
		before[i] = count(f, tables[i]);
	int64_t used_before = raw(f, "SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL");

	fx_set_read_only(f, true);
	struct pc_principal p;
	as_user(&p, &w.a, w.sa1.id);

	struct pc_api_key k2;
	mk_key(&k2, "k2", "k2k2k2k2k2k2", w.a.id, NOW);
	pc_audit_event_init(&ev, &p, "api_key.create", "api_key", k2.id);
	assert_int_equal(pc_store_apikey_create(f->s, &p, &ev, &k2), PC_ERR_UNAVAILABLE);
	assert_int_equal(ev.seq, 0);
	pc_audit_event_init(&ev, &p, "api_key.rename", "api_key", k.id);
	assert_int_equal(pc_store_apikey_rename(f->s, &p, &ev, k.id, "new"), PC_ERR_UNAVAILABLE);
	pc_audit_event_init(&ev, &p, "api_key.delete", "api_key", k.id);
	assert_int_equal(pc_store_apikey_delete(f->s, &p, &ev, k.id), PC_ERR_UNAVAILABLE);
	assert_int_equal(pc_store_apikey_touch(f->s, k.id, NOW + 60), PC_ERR_UNAVAILABLE);

	struct pc_refresh_token t;
	mk_refresh(&t, &w.a, NULL, NOW + 3600);
	pc_audit_event_init(&ev, &p, "token.issue", "token", t.family_id);
	assert_int_equal(pc_store_refresh_create(f->s, &p, &ev, &t), PC_ERR_UNAVAILABLE);
	struct rot r;
	assert_int_equal(rotate(f->s, &p, &r, w.a2.token_hash, NOW + 20), PC_ERR_UNAVAILABLE);
	assert_int_equal(r.ev.seq, 0);
	/* a reuse that cannot be recorded is not reported as one */
	assert_int_equal(rotate(f->s, &p, &r, w.a1x.token_hash, NOW + 20), PC_ERR_UNAVAILABLE);
	assert_int_equal(r.reuse_ev.seq, 0);
	assert_null(r.revoked);
	assert_int_equal(revoke_by(f, &ev, NULL, 0, NULL, NULL, w.a.id, NOW + 20, &out, &n),
	                 PC_ERR_UNAVAILABLE);
	assert_null(out);
	assert_int_equal(revoke_by(f, NULL, "j", NOW + 20, NULL, NULL, NULL, NOW + 20, &out, &n),
	                 PC_ERR_UNAVAILABLE);
	size_t purged = 99;
	assert_int_equal(pc_store_tokens_purge(f->s, NOW + 10000, &purged), PC_ERR_UNAVAILABLE);
	assert_int_equal(purged, 0);

	/* reads still work */
	assert_int_equal(pc_store_apikey_get(f->s, k.id, &got), PC_OK);
	assert_string_equal(got.name, "k");
	assert_int_equal(got.last_used_at, 0);
	struct pc_refresh_token gt;
	assert_int_equal(pc_store_refresh_get(f->s, w.a2.token_hash, &gt), PC_OK);
	struct pc_revoked *list;
	assert_int_equal(pc_store_revoked_list(f->s, NOW - 10, &list, &n), PC_OK);
	assert_int_equal(n, 1);
	free(list);

	for (size_t i = 0; i < 6; i++)
		assert_int_equal(count(f, tables[i]), before[i]);
	assert_int_equal(raw(f, "SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL"),
	                 used_before);
	assert_int_equal(count(f, "audit_events"), events);

	/* and writable again */
	fx_set_read_only(f, false);
	assert_int_equal(rotate(f->s, &p, &r, w.a2.token_hash, NOW + 20), PC_OK);
	assert_int_equal(pc_store_tokens_purge(f->s, NOW, &purged), PC_OK);
	assert_int_equal(purged, 2); /* the expired session and revocation */
	assert_chain_ok(f);
}

/* Everything of this file in one database: the chain still verifies. */
static void test_chain_after_everything(void **state)
{
	struct fx *f = *state;
	struct world w;
	build_world(f, &w);
	struct pc_principal p;
	as_user(&p, &w.a, w.sa2.id);
	struct pc_audit_event ev;
	struct pc_api_key k;
	mk_key(&k, "k", "kkkkkkkkkkkk", w.a.id, NOW);
	pc_audit_event_init(&ev, &p, "api_key.create", "api_key", k.id);
	assert_int_equal(pc_store_apikey_create(f->s, &p, &ev, &k), PC_OK);
	pc_audit_event_init(&ev, &p, "api_key.rename", "api_key", k.id);
	assert_int_equal(pc_store_apikey_rename(f->s, &p, &ev, k.id, "k2"), PC_OK);
	assert_int_equal(pc_store_apikey_touch(f->s, k.id, NOW), PC_OK);
	struct rot r;
	assert_int_equal(rotate(f->s, &p, &r, w.a2.token_hash, NOW + 30), PC_OK);
	assert_int_equal(rotate(f->s, &p, &r, w.a2.token_hash, NOW + 40), PC_ERR_REUSED);
	free(r.revoked);
	struct pc_revoked *out;
	size_t n;
	assert_int_equal(revoke_by(f, &ev, w.b1.access_jti, w.b1.access_exp, NULL, NULL, NULL, NOW + 50,
	                        &out, &n),
	                 PC_OK);
	free(out);
	assert_int_equal(revoke_by(f, &ev, NULL, 0, NULL, w.sa1.id, NULL, NOW + 50, &out, &n), PC_OK);
	free(out);
	size_t purged;
	assert_int_equal(pc_store_tokens_purge(f->s, NOW + 100000, &purged), PC_OK);
	pc_audit_event_init(&ev, &p, "api_key.delete", "api_key", k.id);
	assert_int_equal(pc_store_apikey_delete(f->s, &p, &ev, k.id), PC_OK);
	/* 2 users + 3 sessions + 5 issues + 1 refresh (world), then create,
	 * rename, refresh, reuse, 2 revocations, delete */
	assert_int_equal(count(f, "audit_events"), 11 + 7);
	assert_verify_ok(f, 18);
	/* and a tampered event is still caught */
	raw(f, "UPDATE audit_events SET details = '{\"x\":1}' WHERE seq = 15");
	int64_t checked, bad;
	assert_int_equal(pc_store_audit_verify(f->s, &checked, &bad), PC_ERR_TAMPERED);
	assert_int_equal(bad, 15);
}

/* ------------------------------------------------------------------ */
/* credential epochs (store.h)                                          */

static int64_t epoch_of(struct fx *f, const struct pc_user *u)
{
	struct pc_user got;
	assert_int_equal(pc_store_user_get(f->s, u->id, &got), PC_OK);
	return got.cred_epoch;
}

/* A session and a family written under epoch: the store's answer; the
 * rows and the trail unchanged unless PC_OK. */
static enum pc_err try_session(struct fx *f, const struct pc_user *u, int64_t epoch)
{
	struct pc_session s;
	struct pc_audit_event ev;
	struct pc_principal p;
	int64_t rows = count(f, "sessions"), events = count(f, "audit_events");
	memset(&s, 0, sizeof(s));
	pc_random_id(s.id);
	randombytes_buf(s.secret_hash, sizeof(s.secret_hash));
	snprintf(s.user_id, sizeof(s.user_id), "%s", u->id);
	s.created_at = s.last_seen_at = NOW;
	s.expires_at = NOW + 3600;
	s.cred_epoch = epoch;
	as_user(&p, u, s.id);
	pc_audit_event_init(&ev, &p, "auth.login", "session", s.id);
	enum pc_err e = pc_store_session_create(f->s, &p, &ev, &s);
	if (e != PC_OK) {
		assert_int_equal(count(f, "sessions"), rows);
		assert_int_equal(count(f, "audit_events"), events);
		assert_int_equal(ev.seq, 0);
	}
	return e;
}

static enum pc_err try_family(struct fx *f, const struct pc_user *u, const char *sid,
                              int64_t epoch, struct pc_refresh_token *t)
{
	struct pc_principal p;
	struct pc_audit_event ev;
	int64_t rows = count(f, "refresh_tokens") + count(f, "access_tokens");
	int64_t events = count(f, "audit_events");
	mk_refresh(t, u, sid, NOW + 3600);
	t->cred_epoch = epoch;
	as_user(&p, u, sid);
	pc_audit_event_init(&ev, &p, "token.issue", "token", t->family_id);
	enum pc_err e = pc_store_refresh_create(f->s, &p, &ev, t);
	if (e != PC_OK) {
		assert_int_equal(count(f, "refresh_tokens") + count(f, "access_tokens"), rows);
		assert_int_equal(count(f, "audit_events"), events);
		assert_int_equal(ev.seq, 0);
	}
	return e;
}

/* A sign-in that read the epoch before a password change and writes after
 * it is refused, session and family alike; one that read it after is not. */
static void test_epoch_stale_refused(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	struct pc_refresh_token t;
	struct pc_principal p;
	add_user(f, &u, "epoch@example.com");
	int64_t read = epoch_of(f, &u);
	assert_int_equal(read, 0);
	assert_int_equal(try_session(f, &u, read), PC_OK);
	assert_int_equal(try_family(f, &u, NULL, read, &t), PC_OK);
	as_user(&p, &u, NULL);
	assert_int_equal(pc_store_user_set_password(f->s, &p, NULL, u.id, "$argon2id$new", NULL, NULL, NULL),
	                 PC_OK);
	assert_int_equal(epoch_of(f, &u), read + 1);
	assert_int_equal(try_session(f, &u, read), PC_ERR_STALE);
	assert_int_equal(try_family(f, &u, NULL, read, &t), PC_ERR_STALE);
	assert_int_equal(try_session(f, &u, read + 2), PC_ERR_STALE); /* never ahead either */
	assert_int_equal(try_session(f, &u, read + 1), PC_OK);
	assert_int_equal(try_family(f, &u, NULL, read + 1, &t), PC_OK);
	assert_chain_ok(f);
}

/* Every change that ends sign-ins bumps the epoch, in its transaction with
 * the ending: sessions, families and live access tokens (handed back) go;
 * a deleted user's sign-in is PC_ERR_NOT_FOUND. */
static void test_epoch_each_change_bumps(void **state)
{
	struct fx *f = *state;
	struct pc_user u, other;
	struct pc_refresh_token t1, t2;
	struct pc_principal p, sys;
	struct pc_audit_event ev;
	struct pc_revoked *rv = NULL;
	size_t n = 0, ended = 0;
	add_user(f, &u, "bumps@example.com");
	add_user(f, &other, "other@example.com");
	as_user(&p, &u, NULL);
	as_user(&sys, &other, NULL);

	/* end all sessions: the sessions, and every family with its access token */
	struct pc_session s;
	add_session(f, &s, &u, NOW + 3600);
	assert_int_equal(try_family(f, &u, s.id, 0, &t1), PC_OK);
	assert_int_equal(try_family(f, &u, NULL, 0, &t2), PC_OK);
	pc_audit_event_init(&ev, &p, "session.delete_all", "session", "");
	assert_int_equal(pc_store_session_delete_all(f->s, &p, &ev, u.id, NULL, &ended, &rv, &n), PC_OK);
	assert_int_equal(ended, 1);
	assert_int_equal(epoch_of(f, &u), 1);
	assert_int_equal(n, 2);
	assert_true(has_jti(rv, n, t1.access_jti, NOW + 900) && has_jti(rv, n, t2.access_jti, NOW + 900));
	free(rv);
	assert_int_equal(count_where(f, "refresh_tokens", "user_id", u.id), 0);
	assert_int_equal(count_where(f, "revoked_tokens", "jti", t1.access_jti), 1);
	assert_int_equal(count_where(f, "revoked_tokens", "jti", t2.access_jti), 1);
	assert_int_equal(try_session(f, &u, 0), PC_ERR_STALE);

	/* ending the others: the session that stays keeps its family */
	struct pc_session stay;
	add_session(f, &stay, &u, NOW + 3600);
	add_session(f, &s, &u, NOW + 3600);
	assert_int_equal(try_family(f, &u, stay.id, 1, &t1), PC_OK);
	assert_int_equal(try_family(f, &u, s.id, 1, &t2), PC_OK);
	as_user(&p, &u, stay.id);
	pc_audit_event_init(&ev, &p, "session.delete_all", "session", "");
	assert_int_equal(pc_store_session_delete_all(f->s, &p, &ev, u.id, stay.id, &ended, &rv, &n), PC_OK);
	assert_int_equal(ended, 1);
	assert_int_equal(epoch_of(f, &u), 2);
	assert_true(has_jti(rv, n, t2.access_jti, NOW + 900));
	assert_false(has_jti(rv, n, t1.access_jti, NOW + 900));
	free(rv);
	assert_int_equal(count_where(f, "refresh_tokens", "session_id", stay.id), 1);
	assert_int_equal(count_where(f, "refresh_tokens", "session_id", s.id), 0);
	as_user(&p, &u, NULL);

	/* a password change keeping the acting session: that session stays,
	 * its tokens do not */
	add_session(f, &s, &u, NOW + 3600);
	assert_int_equal(try_family(f, &u, NULL, 2, &t1), PC_OK);
	pc_audit_event_init(&ev, &p, "user.password_change", "user", u.id);
	assert_int_equal(pc_store_user_set_password(f->s, &p, &ev, u.id, "$argon2id$x", s.id, &rv, &n),
	                 PC_OK);
	assert_int_equal(epoch_of(f, &u), 3);
	assert_true(has_jti(rv, n, t1.access_jti, NOW + 900)); /* (and those revoked before: still live) */
	free(rv);
	assert_int_equal(count_where(f, "sessions", "user_id", u.id), 1); /* (stay went with it) */
	assert_int_equal(count_where(f, "refresh_tokens", "user_id", u.id), 0);

	/* a reset redeemed: every session of the user goes too */
	uint8_t th[32];
	char whose[PC_ID_LEN + 1];
	randombytes_buf(th, sizeof(th));
	pc_audit_event_init(&ev, &sys, "user.password_reset_issue", "user", u.id);
	assert_int_equal(pc_store_reset_create(f->s, &sys, &ev, u.id, th, NOW + 3600), PC_OK);
	assert_int_equal(try_family(f, &u, NULL, 3, &t1), PC_OK);
	pc_audit_event_init(&ev, &sys, "user.password_reset", "user", "");
	assert_int_equal(pc_store_reset_redeem(f->s, &sys, &ev, th, "$argon2id$y", NOW, whose, &rv, &n),
	                 PC_OK);
	assert_int_equal(epoch_of(f, &u), 4);
	assert_true(has_jti(rv, n, t1.access_jti, NOW + 900)); /* (and those revoked before: still live) */
	free(rv);
	assert_int_equal(count_where(f, "sessions", "user_id", u.id), 0);
	assert_int_equal(try_family(f, &u, NULL, 3, &t1), PC_ERR_STALE);

	/* deleted: the live access tokens revoked before their records go with
	 * the user; a sign-in of theirs, whatever its epoch, is refused */
	assert_int_equal(try_family(f, &u, NULL, 4, &t1), PC_OK);
	pc_audit_event_init(&ev, &sys, "user.delete", "user", u.id);
	assert_int_equal(pc_store_user_delete(f->s, &sys, &ev, u.id, &rv, &n), PC_OK);
	assert_true(has_jti(rv, n, t1.access_jti, NOW + 900)); /* (and those revoked before: still live) */
	free(rv);
	assert_int_equal(count_where(f, "revoked_tokens", "jti", t1.access_jti), 1);
	assert_int_equal(try_session(f, &u, 4), PC_ERR_NOT_FOUND);
	assert_int_equal(try_family(f, &u, NULL, 4, &t1), PC_ERR_NOT_FOUND);
	/* another user's epoch never moved */
	assert_int_equal(epoch_of(f, &other), 0);
	assert_chain_ok(f);
}

/* A family bound to a session that ended since is refused; rotation under
 * a stale epoch is refused and leaves the token unused. */
static void test_epoch_family_session_and_rotation(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	struct pc_session s;
	struct pc_refresh_token t, next, old;
	struct pc_principal p;
	struct pc_audit_event ev, reuse;
	struct pc_revoked *rv = NULL;
	size_t n = 0;
	add_user(f, &u, "rot@example.com");
	add_session(f, &s, &u, NOW + 3600);
	as_user(&p, &u, s.id);
	pc_audit_event_init(&ev, &p, "session.delete", "session", s.id);
	assert_int_equal(pc_store_session_delete(f->s, &p, &ev, u.id, s.id), PC_OK);
	assert_int_equal(try_family(f, &u, s.id, 0, &t), PC_ERR_STALE);

	assert_int_equal(try_family(f, &u, NULL, 0, &t), PC_OK);
	/* the epoch moved without the families going (a change is never like
	 * this; the check holds on its own) */
	raw(f, "UPDATE users SET cred_epoch = cred_epoch + 1");
	mk_next(&next, NOW + 1, NOW + 901);
	next.cred_epoch = 0;
	pc_audit_event_init(&ev, &p, "token.refresh", "token_family", t.family_id);
	pc_audit_event_init(&reuse, &p, "token.reuse", "token_family", t.family_id);
	int64_t events = count(f, "audit_events");
	assert_int_equal(pc_store_refresh_rotate(f->s, &p, &ev, &reuse, t.token_hash, NOW + 1, &next, &old,
	                                         &rv, &n),
	                 PC_ERR_STALE);
	assert_int_equal(count(f, "audit_events"), events);
	assert_int_equal(n, 0);
	/* not used: the current epoch rotates it (no reuse) */
	mk_next(&next, NOW + 1, NOW + 901);
	next.cred_epoch = 1;
	pc_audit_event_init(&ev, &p, "token.refresh", "token_family", t.family_id);
	pc_audit_event_init(&reuse, &p, "token.reuse", "token_family", t.family_id);
	assert_int_equal(pc_store_refresh_rotate(f->s, &p, &ev, &reuse, t.token_hash, NOW + 1, &next, &old,
	                                         &rv, &n),
	                 PC_OK);
	assert_chain_ok(f);
}

/* A user's token families as "devices": one row per live family (its
 * sign-in, last refresh, end, how), newest first, nobody else's; and the
 * password change that rotates the acting session: the new hash, every
 * session but the rotated one gone (the acting one under its new id),
 * every family gone, one event; refused whole when the acting session
 * ended meanwhile. */
static void test_families_and_change_rotating(void **state)
{
	struct fx *f = *state;
	struct pc_user u, other;
	struct pc_refresh_token t1, t2, t3;
	add_user(f, &u, "devices@example.com");
	add_user(f, &other, "other-devices@example.com");
	struct pc_session s, s2;
	add_session(f, &s, &u, NOW + 3600);
	add_session(f, &s2, &u, NOW + 3600);
	assert_int_equal(try_family(f, &u, NULL, 0, &t1), PC_OK);
	assert_int_equal(try_family(f, &u, s.id, 0, &t2), PC_OK);
	assert_int_equal(try_family(f, &other, NULL, 0, &t3), PC_OK);
	struct pc_token_family *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_store_family_list(f->s, u.id, NOW, &list, &n), PC_OK);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		bool a = strcmp(list[i].family_id, t1.family_id) == 0, b = strcmp(list[i].family_id, t2.family_id) == 0;
		assert_true(a || b);
		assert_string_equal(list[i].session_id, a ? "" : s.id);
		assert_int_equal(list[i].created_at, a ? t1.created_at : t2.created_at);
		assert_int_equal(list[i].expires_at, NOW + 3600);
		assert_true(list[i].last_used_at >= list[i].created_at);
		assert_int_equal(list[i].factors, 1);
	}
	free(list);
	/* expired families are not listed */
	assert_int_equal(pc_store_family_list(f->s, u.id, NOW + 3600, &list, &n), PC_OK);
	assert_int_equal(n, 0);
	free(list);

	/* the change from session s, which goes on as r */
	struct pc_session r = s;
	pc_random_id(r.id);
	randombytes_buf(r.secret_hash, sizeof(r.secret_hash));
	struct pc_principal p;
	struct pc_audit_event ev;
	struct pc_revoked *rv = NULL;
	size_t nrv = 0;
	as_user(&p, &u, s.id);
	int64_t events = count(f, "audit_events");
	pc_audit_event_init(&ev, &p, "user.password_change", "user", u.id);
	assert_int_equal(pc_store_user_change_password(f->s, &p, &ev, u.id, "$argon2id$rotated", s.id, &r, &rv, &nrv),
	                 PC_OK);
	assert_true(has_jti(rv, nrv, t1.access_jti, NOW + 900));
	assert_true(has_jti(rv, nrv, t2.access_jti, NOW + 900));
	assert_false(has_jti(rv, nrv, t3.access_jti, NOW + 900));
	free(rv);
	assert_int_equal(count(f, "audit_events"), events + 1);
	assert_int_equal(count_where(f, "sessions", "user_id", u.id), 1);
	assert_int_equal(count_where(f, "sessions", "id", r.id), 1);
	assert_int_equal(count_where(f, "sessions", "id", s.id), 0);
	assert_int_equal(count_where(f, "refresh_tokens", "user_id", u.id), 0);
	assert_int_equal(count_where(f, "refresh_tokens", "user_id", other.id), 1);
	struct pc_user got;
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	assert_string_equal(got.password_hash, "$argon2id$rotated");
	assert_int_equal(got.cred_epoch, 1);

	/* from a session that is gone: nothing changes */
	struct pc_session r2 = r;
	pc_random_id(r2.id);
	as_user(&p, &u, s2.id);
	events = count(f, "audit_events");
	pc_audit_event_init(&ev, &p, "user.password_change", "user", u.id);
	assert_int_equal(pc_store_user_change_password(f->s, &p, &ev, u.id, "$argon2id$again", s2.id, &r2, &rv, &nrv),
	                 PC_ERR_STALE);
	assert_null(rv);
	assert_int_equal(count(f, "audit_events"), events);
	assert_int_equal(count_where(f, "sessions", "id", r2.id), 0);
	assert_int_equal(pc_store_user_get(f->s, u.id, &got), PC_OK);
	assert_string_equal(got.password_hash, "$argon2id$rotated");
	assert_chain_ok(f);
}

int main(void)
{
	if (fx_init() != 0)
		return 1;
	const struct CMUnitTest both[] = {
		FX_T(test_schema_v2),
		FX_T(test_migrate_from_1),
		FX_T(test_apikey_crud),
		FX_T(test_apikey_conflict),
		FX_T(test_apikey_outlives_creator),
		FX_T(test_refresh_chain),
		FX_T(test_refresh_create_errors),
		FX_T(test_refresh_reuse),
		FX_T(test_refresh_expired),
		FX_T(test_rotate_race),
		FX_T(test_revoke_jti),
		FX_T(test_revoke_family),
		FX_T(test_revoke_session),
		FX_T(test_revoke_user),
		FX_T(test_revoke_selector_misuse),
		FX_T(test_revoked_list),
		FX_T(test_revoked_since),
		FX_T(test_revoked_since_race),
		FX_T(test_purge),
		FX_T(test_atomicity),
		FX_T(test_read_only),
		FX_T(test_chain_after_everything),
		FX_T(test_epoch_stale_refused),
		FX_T(test_epoch_each_change_bumps),
		FX_T(test_epoch_family_session_and_rotation),
		FX_T(test_families_and_change_rotating),
	};
	const struct CMUnitTest none[] = {FX_NONE};
	return FX_RUN(both, none, none);
}
