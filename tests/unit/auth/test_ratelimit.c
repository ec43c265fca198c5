/*
 * test_ratelimit.c — src/auth/ratelimit.c: a throttle admits at most its
 * limit however the attempts arrive (threads racing on the local kv), a
 * success gives its slot back, a refusal under one limit gives back the
 * slots taken under the others, and an unreachable Redis falls back to
 * per-instance counters (never to none), logged and metered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/ratelimit.h"
#include "obs/metrics.h"

#define THREADS 16
#define ROUNDS 40
#define LIMIT 10

struct race {
	struct pc_throttle *t;
	const struct pc_ratelimit *rl;
	int admitted;
	int released; /* admitted slots given back (successes) */
	int release_every; /* 0: never */
	pthread_barrier_t go; /* every thread starts at once */
};

static void *racer(void *p)
{
	struct race *r = p;
	pthread_barrier_wait(&r->go);
	for (int i = 0; i < ROUNDS; i++) {
		struct pc_throttle_slot slot;
		int64_t retry;
		pc_throttle_take(r->t, r->rl, "victim@example.com", &slot, &retry);
		if (retry > 0) {
			assert_null(slot.kv);
			continue;
		}
		assert_non_null(slot.kv);
		int n = __atomic_add_fetch(&r->admitted, 1, __ATOMIC_SEQ_CST);
		if (r->release_every > 0 && n % r->release_every == 0 && n < 5 * LIMIT) {
			__atomic_add_fetch(&r->released, 1, __ATOMIC_SEQ_CST);
			pc_throttle_release(&slot);
		}
	}
	return NULL;
}

static int run_race(struct pc_throttle *t, const struct pc_ratelimit *rl, int release_every, int *released)
{
	struct race r = {t, rl, 0, 0, release_every, {{0}}};
	assert_int_equal(pthread_barrier_init(&r.go, NULL, THREADS), 0);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, racer, &r), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r.go);
	*released = r.released;
	return r.admitted;
}

struct fx {
	struct pc_kv *kv;
	struct pc_throttle t;
};

/* A throttle over the kv at url (NULL: the local table). */
static int open_fx(void **state, const char *url)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	if (f == NULL || pc_kv_open(&f->kv, url, err, sizeof(err)) != 0 ||
	    pc_throttle_init(&f->t, f->kv, err, sizeof(err)) != 0)
		return -1;
	*state = f;
	return 0;
}

static int setup_local(void **state)
{
	return open_fx(state, NULL);
}

/* Nothing listens on port 1: Redis is down from the start. */
static int setup_down(void **state)
{
	return open_fx(state, "redis://127.0.0.1:1");
}

static int teardown(void **state)
{
	struct fx *f = *state;
	pc_throttle_free(&f->t);
	pc_kv_close(f->kv);
	free(f);
	return 0;
}

/* 640 attempts from 16 threads released together, 50 times over: exactly
 * LIMIT admitted each time (a check-then-count throttle admits more in
 * some round; the count stays at the limit, so a reset starts afresh). */
static void test_take_exact_under_threads(void **state)
{
	struct fx *f = *state;
	assert_null(f->t.fallback); /* a local kv needs none */
	struct pc_ratelimit rl = {"race", LIMIT, 60};
	for (int round = 0; round < 50; round++) {
		int released;
		assert_int_equal(run_race(&f->t, &rl, 0, &released), LIMIT);
		assert_int_equal(pc_ratelimit_reset(f->kv, &rl, "victim@example.com"), PC_OK);
	}
}

/* Successes give their slots back while others race: admitted minus
 * released (the failures) is exactly the limit. */
static void test_release_under_threads(void **state)
{
	struct fx *f = *state;
	struct pc_ratelimit rl = {"race", LIMIT, 60};
	int released;
	int admitted = run_race(&f->t, &rl, 3, &released);
	assert_true(released > 0);
	assert_int_equal(admitted - released, LIMIT);
}

/* Refused by the second limit: the first's slot is given back. */
static void test_take_all_gives_back(void **state)
{
	struct fx *f = *state;
	struct pc_ratelimit addr = {"addr", 3, 60}, account = {"account", 1, 60};
	const struct pc_ratelimit *rls[2] = {&addr, &account};
	const char *subjects[2] = {"192.0.2.1", "victim@example.com"};
	struct pc_throttle_slot slots[2];
	int64_t retry;
	pc_throttle_take_all(&f->t, slots, 2, rls, subjects, &retry);
	assert_int_equal(retry, 0);
	for (int i = 0; i < 5; i++) { /* the account is used up: the address is not charged */
		pc_throttle_take_all(&f->t, slots, 2, rls, subjects, &retry);
		assert_true(retry > 0);
		assert_null(slots[0].kv);
		assert_null(slots[1].kv);
	}
	const char *other[2] = {"192.0.2.1", "other@example.com"};
	for (int i = 0; i < 2; i++) {
		pc_throttle_take_all(&f->t, slots, 2, rls, other, &retry);
		assert_int_equal(retry, 0);
		pc_throttle_reset(&slots[1]); /* a success clears the account... */
		assert_null(slots[1].kv);
	}
	pc_throttle_take_all(&f->t, slots, 2, rls, other, &retry);
	assert_true(retry > 0); /* ...not the address: 3 taken */
}

/* Redis unreachable: the per-instance table counts, exactly to the limit, and the outage is metered. */
static void test_fallback_when_redis_is_down(void **state)
{
	struct fx *f = *state;
	assert_non_null(f->t.fallback);
	struct pc_ratelimit rl = {"race", LIMIT, 60};
	int released;
	assert_int_equal(run_race(&f->t, &rl, 0, &released), LIMIT);
	assert_true(atomic_load(&f->t.degraded));
	char *text = NULL;
	assert_true(pc_metrics_render(&text) > 0);
	assert_non_null(strstr(text, "security_throttle_fallback_active 1\n"));
	assert_non_null(strstr(text, "security_throttle_fallback_total " ));
	assert_null(strstr(text, "security_throttle_fallback_total 0\n"));
	free(text);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_take_exact_under_threads, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_release_under_threads, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_take_all_gives_back, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_fallback_when_redis_is_down, setup_down, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
