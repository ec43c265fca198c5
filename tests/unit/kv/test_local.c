/* test_local.c — the local kv's TTL semantics and the rate limiter on it,
 * with an injected clock; plus concurrent increments from many threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "kv/kv.h"
#include "kv/ratelimit_cases.h"

static int64_t fake_now = 1000000;
static int64_t clock_fn(void)
{
	return fake_now;
}

static int setup(void **state)
{
	struct pc_kv *kv;
	char err[128];
	fake_now = 1000000;
	if (pc_kv_open(&kv, NULL, err, sizeof(err)) != 0)
		return -1;
	pc_kv_set_clock(kv, clock_fn);
	*state = kv;
	return 0;
}

static int teardown(void **state)
{
	pc_kv_close(*state);
	return 0;
}

static void test_incr_ttl_not_extended(void **state)
{
	struct pc_kv *kv = *state;
	int64_t v, ttl;
	assert_int_equal(pc_kv_incr(kv, "a", 10, &v, &ttl), PC_OK);
	assert_int_equal(v, 1);
	assert_int_equal(ttl, 10);
	fake_now += 4;
	assert_int_equal(pc_kv_incr(kv, "a", 10, &v, &ttl), PC_OK);
	assert_int_equal(v, 2);
	assert_int_equal(ttl, 6); /* the window is fixed at creation */
	fake_now += 6;            /* exactly at expiry: gone */
	assert_int_equal(pc_kv_get(kv, "a", &v, &ttl), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_kv_incr(kv, "a", 10, &v, &ttl), PC_OK);
	assert_int_equal(v, 1);
}

static void test_set_get_del(void **state)
{
	struct pc_kv *kv = *state;
	int64_t v, ttl;
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_kv_set(kv, "k", 42, 100), PC_OK);
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_OK);
	assert_int_equal(v, 42);
	assert_int_equal(ttl, 100);
	assert_int_equal(pc_kv_set(kv, "k", 7, 5), PC_OK); /* replaces value and TTL */
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_OK);
	assert_int_equal(v, 7);
	assert_int_equal(ttl, 5);
	assert_int_equal(pc_kv_del(kv, "k"), PC_OK);
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_kv_del(kv, "k"), PC_OK);
}

static void test_bad_keys(void **state)
{
	struct pc_kv *kv = *state;
	int64_t v, ttl;
	char big[PC_KV_KEY_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pc_kv_incr(kv, "", 10, &v, &ttl), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_incr(kv, "a b", 10, &v, &ttl), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_incr(kv, "a\nb", 10, &v, &ttl), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_set(kv, big, 1, 10), PC_ERR_INTERNAL);
	big[PC_KV_KEY_MAX] = '\0'; /* exactly the maximum is fine */
	assert_int_equal(pc_kv_set(kv, big, 1, 10), PC_OK);
}

static void test_sweep_and_count(void **state)
{
	struct pc_kv *kv = *state;
	char key[32];
	for (int i = 0; i < 5000; i++) { /* forces the table to grow */
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(pc_kv_set(kv, key, i, i % 2 ? 10 : 100), PC_OK);
	}
	assert_int_equal(pc_kv_count(kv), 5000);
	int64_t v, ttl;
	assert_int_equal(pc_kv_get(kv, "k4999", &v, &ttl), PC_OK);
	assert_int_equal(v, 4999);
	fake_now += 10;
	assert_int_equal(pc_kv_sweep(kv), 2500);
	assert_int_equal(pc_kv_count(kv), 2500);
	assert_int_equal(pc_kv_get(kv, "k4998", &v, &ttl), PC_OK);
	assert_int_equal(pc_kv_get(kv, "k4999", &v, &ttl), PC_ERR_NOT_FOUND);
}

struct incr_arg {
	struct pc_kv *kv;
	int n;
};

static void *incr_thread(void *p)
{
	struct incr_arg *a = p;
	int64_t v, ttl;
	for (int i = 0; i < a->n; i++)
		if (pc_kv_incr(a->kv, "shared", 1000, &v, &ttl) != PC_OK)
			return (void *)1;
	return NULL;
}

static void test_concurrent_incr_exact(void **state)
{
	struct pc_kv *kv = *state;
	pthread_t t[8];
	struct incr_arg a = {kv, 10000};
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, incr_thread, &a), 0);
	for (int i = 0; i < 8; i++) {
		void *res;
		pthread_join(t[i], &res);
		assert_null(res);
	}
	int64_t v, ttl;
	assert_int_equal(pc_kv_get(kv, "shared", &v, &ttl), PC_OK);
	assert_int_equal(v, 80000); /* no lost update */
}



static void advance_20s(void)
{
	fake_now += 20;
}

static void test_ratelimit_window(void **state)
{
	ratelimit_window_case(*state, advance_20s, 40);
}

struct take_arg {
	struct pc_kv *kv;
	int admitted;
};

static void *take_thread(void *p)
{
	struct take_arg *a = p;
	struct pc_ratelimit rl = {"take", 10, 60};
	int64_t ra;
	if (pc_ratelimit_take(a->kv, &rl, "victim@example.com", &ra) == PC_OK && ra == 0)
		__atomic_fetch_add(&a->admitted, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* 30 concurrent attempts at one account: exactly the limit is admitted. */
static void test_ratelimit_take_concurrent(void **state)
{
	struct take_arg a = {*state, 0};
	pthread_t t[30];
	for (int i = 0; i < 30; i++)
		assert_int_equal(pthread_create(&t[i], NULL, take_thread, &a), 0);
	for (int i = 0; i < 30; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(a.admitted, 10);
	struct pc_ratelimit rl = {"take", 10, 60};
	int64_t ra;
	assert_int_equal(pc_ratelimit_reset(a.kv, &rl, "victim@example.com"), PC_OK);
	assert_int_equal(pc_ratelimit_take(a.kv, &rl, "victim@example.com", &ra), PC_OK);
	assert_int_equal(ra, 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_incr_ttl_not_extended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_get_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_and_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_incr_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_reset_and_odd_subjects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_take_concurrent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
