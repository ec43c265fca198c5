/* test_store_conformance_factors.c — the store's migration 7, on SQLite and
 * on PostgreSQL (store_fx.h): the TOTP credential (put, replace while
 * unconfirmed, conflict once confirmed, confirm, replay refused by the
 * conditional update — sequentially and with 8 threads over two handles),
 * recovery codes (set, spend once, a 20-thread race over two handles with
 * exactly one winner, regeneration kills the old batch), the pending
 * session promoted to a new id, one audit event per change, and the chain
 * intact after all of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/chain.h"
#include "store/backend.h"
#include "store/store.h"

static const int64_t NOW = 1800000000;

#include "store_fx.h"
#include "store_helpers.h"

static void mk_totp(struct pc_totp *t, const struct pc_user *u, const char *sealed)
{
	memset(t, 0, sizeof(*t));
	pc_random_id(t->id);
	snprintf(t->user_id, sizeof(t->user_id), "%s", u->id);
	snprintf(t->secret_sealed, sizeof(t->secret_sealed), "%s", sealed);
	strcpy(t->algorithm, "SHA1");
	t->digits = 6;
	t->period = 30;
	t->created_at = NOW;
}

static enum pc_err put(struct fx *f, const struct pc_principal *p, const struct pc_totp *t)
{
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, p, "totp.enrol", "totp", t->id);
	return pc_store_totp_put(f->s, p, &ev, t);
}

static enum pc_err confirm(struct fx *f, const struct pc_principal *p, const char *id, int64_t step,
                           uint8_t (*codes)[32], size_t n)
{
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, p, "totp.confirm", "totp", id);
	return pc_store_totp_confirm(f->s, p, &ev, id, step, (const uint8_t(*)[32])codes, n);
}

static enum pc_err use(struct pc_store *s, const struct pc_principal *p, const char *id, int64_t step)
{
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, p, "totp.use", "totp", id);
	return pc_store_totp_use(s, p, &ev, id, step);
}

static enum pc_err spend(struct pc_store *s, const struct pc_principal *p, const uint8_t hash[32])
{
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, p, "recovery.use", "user", p->user_id);
	return pc_store_recovery_spend(s, p, &ev, p->user_id, hash, NOW);
}

static void test_totp_lifecycle(void **state)
{
	struct fx *f = *state;
	struct pc_user u;
	add_member(f, &u, "u@example.com");
	struct pc_principal p;
	as_user(&p, &u, NULL);
	struct pc_totp t, got;
	assert_int_equal(pc_store_totp_get(f->s, u.id, &got), PC_ERR_NOT_FOUND);
	mk_totp(&t, &u, "sealed-one");
	int64_t events = count(f, "audit_events");
	assert_int_equal(put(f, &p, &t), PC_OK);
	assert_int_equal(count(f, "audit_events"), events + 1);
	/* a second enrolment while unconfirmed replaces the first */
	struct pc_totp t2;
	mk_totp(&t2, &u, "sealed-two");
	assert_int_equal(put(f, &p, &t2), PC_OK);
	assert_int_equal(pc_store_totp_get(f->s, u.id, &got), PC_OK);
	assert_string_equal(got.id, t2.id);
	assert_string_equal(got.secret_sealed, "sealed-two");
	assert_string_equal(got.algorithm, "SHA1");
	assert_int_equal(got.digits, 6);
	assert_int_equal(got.period, 30);
	assert_false(got.confirmed);
	assert_int_equal(got.last_used_step, 0);
	/* the replaced one is gone: confirming it finds nothing */
	uint8_t codes[PC_RECOVERY_CODES][32];
	randombytes_buf(codes, sizeof(codes));
	events = count(f, "audit_events");
	assert_int_equal(confirm(f, &p, t.id, 100, codes, PC_RECOVERY_CODES), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events); /* refused: no event, nothing written */
	assert_int_equal(confirm(f, &p, t2.id, 100, codes, PC_RECOVERY_CODES), PC_OK);
	assert_int_equal(count(f, "audit_events"), events + 1);
	assert_int_equal(pc_store_totp_get(f->s, u.id, &got), PC_OK);
	assert_true(got.confirmed);
	assert_int_equal(got.last_used_step, 100);
	int64_t left;
	assert_int_equal(pc_store_recovery_left(f->s, u.id, &left), PC_OK);
	assert_int_equal(left, PC_RECOVERY_CODES);
	/* confirmed: confirming again, or enrolling again, is refused */
	assert_int_equal(confirm(f, &p, t2.id, 200, codes, PC_RECOVERY_CODES), PC_ERR_NOT_FOUND);
	struct pc_totp t3;
	mk_totp(&t3, &u, "sealed-three");
	assert_int_equal(put(f, &p, &t3), PC_ERR_CONFLICT);
	/* replay: the confirming step, an older one, then a newer one once */
	events = count(f, "audit_events");
	assert_int_equal(use(f->s, &p, t2.id, 100), PC_ERR_REUSED);
	assert_int_equal(use(f->s, &p, t2.id, 99), PC_ERR_REUSED);
	assert_int_equal(count(f, "audit_events"), events);
	assert_int_equal(use(f->s, &p, t2.id, 101), PC_OK);
	assert_int_equal(use(f->s, &p, t2.id, 101), PC_ERR_REUSED);
	assert_int_equal(use(f->s, &p, t2.id, 103), PC_OK);
	assert_int_equal(use(f->s, &p, t2.id, 102), PC_ERR_REUSED);
	assert_int_equal(count(f, "audit_events"), events + 2);
	/* delete: the credential and the codes */
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &p, "totp.delete", "totp", t2.id);
	assert_int_equal(pc_store_totp_delete(f->s, &p, &ev, u.id), PC_OK);
	assert_int_equal(pc_store_totp_get(f->s, u.id, &got), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_recovery_left(f->s, u.id, &left), PC_OK);
	assert_int_equal(left, 0);
	pc_audit_event_init(&ev, &p, "totp.delete", "totp", t2.id);
	assert_int_equal(pc_store_totp_delete(f->s, &p, &ev, u.id), PC_ERR_NOT_FOUND);
	/* a deleted user takes the credential along */
	assert_int_equal(put(f, &p, &t3), PC_OK);
	struct pc_user other;
	add_member(f, &other, "other@example.com");
	pc_audit_event_init(&ev, &f->sys, "user.delete", "user", u.id);
	assert_int_equal(pc_store_user_delete(f->s, &f->sys, &ev, u.id, NULL, NULL), PC_OK);
	assert_int_equal(count(f, "totp_credentials"), 0);
	assert_chain_ok(f);
}

static void test_recovery_codes(void **state)
{
	struct fx *f = *state;
	struct pc_user u, v;
	add_member(f, &u, "u@example.com");
	add_member(f, &v, "v@example.com");
	struct pc_principal p, q;
	as_user(&p, &u, NULL);
	as_user(&q, &v, NULL);
	uint8_t codes[PC_RECOVERY_CODES][32];
	randombytes_buf(codes, sizeof(codes));
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &p, "recovery.generate", "user", u.id);
	assert_int_equal(pc_store_recovery_set(f->s, &p, &ev, u.id, (const uint8_t(*)[32])codes, PC_RECOVERY_CODES),
	                 PC_OK);
	/* another user cannot spend u's code */
	assert_int_equal(spend(f->s, &q, codes[3]), PC_ERR_NOT_FOUND);
	assert_int_equal(spend(f->s, &p, codes[3]), PC_OK);
	assert_int_equal(spend(f->s, &p, codes[3]), PC_ERR_NOT_FOUND);
	int64_t left;
	assert_int_equal(pc_store_recovery_left(f->s, u.id, &left), PC_OK);
	assert_int_equal(left, PC_RECOVERY_CODES - 1);
	/* a new batch: every old code dies, the new ones work */
	uint8_t fresh[PC_RECOVERY_CODES][32];
	randombytes_buf(fresh, sizeof(fresh));
	pc_audit_event_init(&ev, &p, "recovery.generate", "user", u.id);
	assert_int_equal(pc_store_recovery_set(f->s, &p, &ev, u.id, (const uint8_t(*)[32])fresh, PC_RECOVERY_CODES),
	                 PC_OK);
	for (int i = 0; i < PC_RECOVERY_CODES; i++)
		assert_int_equal(spend(f->s, &p, codes[i]), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_recovery_left(f->s, u.id, &left), PC_OK);
	assert_int_equal(left, PC_RECOVERY_CODES);
	assert_int_equal(spend(f->s, &p, fresh[0]), PC_OK);
	assert_chain_ok(f);
}

#define RACE_THREADS 20

struct race {
	struct pc_store *stores[2];
	const struct pc_principal *p;
	const uint8_t *hash;
	const char *totp_id;
	atomic_int ok, refused, other;
};

static void spend_thread(void *arg, int idx)
{
	struct race *r = arg;
	enum pc_err e = r->totp_id != NULL ? use(r->stores[idx % 2], r->p, r->totp_id, 500)
	                                   : spend(r->stores[idx % 2], r->p, r->hash);
	if (e == PC_OK)
		atomic_fetch_add(&r->ok, 1);
	else if (e == PC_ERR_NOT_FOUND || e == PC_ERR_REUSED)
		atomic_fetch_add(&r->refused, 1);
	else
		atomic_fetch_add(&r->other, 1);
}

/* 20 concurrent uses of one recovery code, and of one TOTP step, over two
 * handles: exactly one succeeds, the others are refused (not failed). */
static void test_races(void **state)
{
	struct fx *f = *state;
	struct pc_store *s2 = open_second(f);
	struct pc_user u;
	add_member(f, &u, "u@example.com");
	struct pc_principal p;
	as_user(&p, &u, NULL);
	uint8_t codes[PC_RECOVERY_CODES][32];
	randombytes_buf(codes, sizeof(codes));
	struct pc_totp t;
	mk_totp(&t, &u, "sealed");
	assert_int_equal(put(f, &p, &t), PC_OK);
	assert_int_equal(confirm(f, &p, t.id, 400, codes, PC_RECOVERY_CODES), PC_OK);
	int64_t events = count(f, "audit_events");

	struct race r = {.stores = {f->s, s2}, .p = &p, .hash = codes[5]};
	fx_race(RACE_THREADS, spend_thread, &r);
	assert_int_equal(atomic_load(&r.ok), 1);
	assert_int_equal(atomic_load(&r.refused), RACE_THREADS - 1);
	assert_int_equal(atomic_load(&r.other), 0);

	struct race r2 = {.stores = {f->s, s2}, .p = &p, .totp_id = t.id};
	fx_race(RACE_THREADS, spend_thread, &r2);
	assert_int_equal(atomic_load(&r2.ok), 1);
	assert_int_equal(atomic_load(&r2.refused), RACE_THREADS - 1);
	assert_int_equal(atomic_load(&r2.other), 0);
	assert_int_equal(count(f, "audit_events"), events + 2);
	pc_store_close(s2);
	assert_chain_ok(f);
}

/* Not test_store_conformance.c's: a session that may still owe factors. */
static void mk_session(struct pc_session *s, const struct pc_user *u, bool pending, int64_t factors)
{
	memset(s, 0, sizeof(*s));
	pc_random_id(s->id);
	randombytes_buf(s->secret_hash, sizeof(s->secret_hash));
	snprintf(s->user_id, sizeof(s->user_id), "%s", u->id);
	s->created_at = NOW;
	s->last_seen_at = NOW;
	s->expires_at = NOW + 3600;
	strcpy(s->client_addr, "203.0.113.9");
	strcpy(s->user_agent, "test");
	s->pending = pending;
	s->factors = factors;
	s->second_factor_at = factors == 2 ? NOW + 5 : 0;
}

static void test_session_promote(void **state)
{
	struct fx *f = *state;
	struct pc_user u, v;
	add_member(f, &u, "u@example.com");
	add_member(f, &v, "v@example.com");
	struct pc_principal p;
	as_user(&p, &u, NULL);
	struct pc_session half, full, got;
	mk_session(&half, &u, true, 1);
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &p, "auth.login", "session", half.id);
	assert_int_equal(pc_store_session_create(f->s, &p, &ev, &half), PC_OK);
	assert_int_equal(pc_store_session_get(f->s, half.secret_hash, &got), PC_OK);
	assert_true(got.pending);
	assert_int_equal(got.factors, 1);
	mk_session(&full, &u, false, 2);
	/* another user's session id, or a session not pending, is not promoted */
	struct pc_session wrong = full;
	snprintf(wrong.user_id, sizeof(wrong.user_id), "%s", v.id);
	pc_audit_event_init(&ev, &p, "auth.second_factor", "session", full.id);
	assert_int_equal(pc_store_session_promote(f->s, &p, &ev, half.id, &wrong), PC_ERR_NOT_FOUND);
	pc_audit_event_init(&ev, &p, "auth.second_factor", "session", full.id);
	assert_int_equal(pc_store_session_promote(f->s, &p, &ev, half.id, &full), PC_OK);
	assert_int_equal(pc_store_session_get(f->s, half.secret_hash, &got), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_session_get(f->s, full.secret_hash, &got), PC_OK);
	assert_false(got.pending);
	assert_int_equal(got.factors, 2);
	assert_int_equal(got.second_factor_at, NOW + 5);
	/* once only */
	struct pc_session again;
	mk_session(&again, &u, false, 2);
	pc_audit_event_init(&ev, &p, "auth.second_factor", "session", again.id);
	assert_int_equal(pc_store_session_promote(f->s, &p, &ev, half.id, &again), PC_ERR_NOT_FOUND);
	pc_audit_event_init(&ev, &p, "auth.second_factor", "session", again.id);
	assert_int_equal(pc_store_session_promote(f->s, &p, &ev, full.id, &again), PC_ERR_NOT_FOUND);
	assert_chain_ok(f);
}

int main(void)
{
	if (fx_init() != 0)
		return 1;
	const struct CMUnitTest both[] = {
		FX_T(test_totp_lifecycle),
		FX_T(test_recovery_codes),
		FX_T(test_races),
		FX_T(test_session_promote),
	};
	const struct CMUnitTest none[] = {FX_NONE};
	return FX_RUN(both, none, none);
}
