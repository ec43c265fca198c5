/*
 * store_helpers.h — the store tests' shared helpers, once: users and
 * principals to act as, audit-chain assertions, threads that race, and
 * main()'s first steps.
 *
 * Include after store_fx.h (they take its struct fx, KEY and count()), with
 * `static const int64_t NOW` defined before: every made-up record is
 * created, and every principal signed in, at the includer's NOW. Each helper
 * is static and marked unused, as in store_fx.h, since no suite uses them
 * all. A suite whose helper differs on purpose keeps its own, under another
 * name, saying why.
 */
#ifndef PC_TEST_STORE_HELPERS_H
#define PC_TEST_STORE_HELPERS_H

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "audit/chain.h"
#include "store/store.h"

/* A user as the store would be given it: a fake (never verified) argon2id
 * hash unique to the user, created at NOW, an admin as every user was before
 * roles. Nothing stored yet. */
static __attribute__((unused)) void mk_user(struct pc_user *u, const char *email)
{
	memset(u, 0, sizeof(*u));
	pc_random_id(u->id);
	snprintf(u->email, sizeof(u->email), "%s", email);
	snprintf(u->password_hash, sizeof(u->password_hash),
	         "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$%s", u->id);
	u->created_at = NOW;
	u->password_changed_at = NOW;
	u->role = PC_ROLE_ADMIN; /* as every user was before roles */
}

/* u signed in (session sid, or none when NULL) at NOW. */
static __attribute__((unused)) void as_user(struct pc_principal *p, const struct pc_user *u,
                                            const char *sid)
{
	memset(p, 0, sizeof(*p));
	p->method = PC_AUTH_SESSION;
	snprintf(p->user_id, sizeof(p->user_id), "%s", u->id);
	snprintf(p->email, sizeof(p->email), "%s", u->email);
	snprintf(p->session_id, sizeof(p->session_id), "%s", sid != NULL ? sid : "");
	strcpy(p->client_addr, "198.51.100.1");
	strcpy(p->user_agent, "ua");
	p->authenticated_at = NOW;
}

/* Creates a user of the given role through the store (with its event), as
 * the command line would. */
static __attribute__((unused)) void add_user_as(struct fx *f, struct pc_user *u, const char *email,
                                                enum pc_role role)
{
	struct pc_audit_event ev;
	mk_user(u, email);
	u->role = role;
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", u->id);
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, u), PC_OK);
}

/* An admin, as mk_user makes them. */
static __attribute__((unused)) void add_user(struct fx *f, struct pc_user *u, const char *email)
{
	add_user_as(f, u, email, PC_ROLE_ADMIN);
}

/* A member, as the TOTP, recovery-code and passkey suites create theirs. */
static __attribute__((unused)) void add_member(struct fx *f, struct pc_user *u, const char *email)
{
	add_user_as(f, u, email, PC_ROLE_MEMBER);
}

/* Another handle on f's database, as a second instance would hold one (its
 * own connections, or its own SQLite file handle). The caller closes it. */
static __attribute__((unused)) struct pc_store *open_second(struct fx *f)
{
	struct pc_store *s2;
	char err[256];
	assert_int_equal(pc_store_open(&s2, f->url, KEY, err, sizeof(err)), 0);
	return s2;
}

/* The newest stored event. */
static __attribute__((unused)) void newest(struct fx *f, struct pc_audit_event *out)
{
	struct pc_audit_filter flt = {.limit = 1};
	struct pc_audit_event *evs;
	size_t n;
	assert_int_equal(pc_store_audit_list(f->s, &flt, &evs, &n), PC_OK);
	assert_int_equal(n, 1);
	*out = evs[0];
	free(evs);
}

/* The chain, read through s (which may be another handle than the
 * fixture's), verifies with no bad event after want_checked events. */
static __attribute__((unused)) void assert_store_verify_ok(struct pc_store *s, int64_t want_checked)
{
	int64_t checked, bad;
	assert_int_equal(pc_store_audit_verify(s, &checked, &bad), PC_OK);
	assert_int_equal(checked, want_checked);
	assert_int_equal(bad, 0);
}

static __attribute__((unused)) void assert_verify_ok(struct fx *f, int64_t want_checked)
{
	assert_store_verify_ok(f->s, want_checked);
}

/* the chain verifies and holds exactly as many events as the table */
static __attribute__((unused)) void assert_chain_ok(struct fx *f)
{
	assert_verify_ok(f, count(f, "audit_events"));
}

/* The change just made wrote exactly one event, action, next in the chain;
 * *events counts them. */
static __attribute__((unused)) void expect_event(struct fx *f, int64_t *events, const char *action)
{
	(*events)++;
	assert_int_equal(count(f, "audit_events"), *events);
	struct pc_audit_event last;
	newest(f, &last);
	assert_string_equal(last.action, action);
	assert_int_equal(last.seq, *events);
}

/* ------------------------------------------------------------------ */
/* races                                                               */

#define FX_RACE_MAX 32

struct fx_racer {
	void (*fn)(void *arg, int idx);
	void *arg;
	int idx;
	atomic_int *ready, *go;
};

static void *fx_racer_main(void *p)
{
	struct fx_racer *r = p;
	atomic_fetch_add(r->ready, 1);
	while (!atomic_load(r->go))
		;
	r->fn(r->arg, r->idx);
	return NULL;
}

/* Runs fn(arg, idx) on n threads, idx 0 to n-1, and returns when all have
 * finished. The threads spin until every one of them is running, so their
 * calls meet the store together instead of in the order the threads happen
 * to start (which, on a loaded machine, is often one after another). A
 * spin, not a pthread barrier, whose sleepers wake one by one. */
static __attribute__((unused)) void fx_race(int n, void (*fn)(void *arg, int idx), void *arg)
{
	pthread_t th[FX_RACE_MAX];
	struct fx_racer rs[FX_RACE_MAX];
	atomic_int ready = 0, go = 0;
	assert_true(n > 0 && n <= FX_RACE_MAX);
	for (int i = 0; i < n; i++) {
		rs[i] = (struct fx_racer){fn, arg, i, &ready, &go};
		assert_int_equal(pthread_create(&th[i], NULL, fx_racer_main, &rs[i]), 0);
	}
	while (atomic_load(&ready) < n)
		;
	atomic_store(&go, 1);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

/* ------------------------------------------------------------------ */
/* main()                                                              */

/* A test case in a fresh store of the group's backend. */
#define FX_T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

/* main()'s first step: libsodium, and the random audit key of every store
 * the binary opens. -1 when libsodium cannot start. */
static __attribute__((unused)) int fx_init(void)
{
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(KEY, sizeof(KEY));
	return 0;
}

#endif
