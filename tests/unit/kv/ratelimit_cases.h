/*
 * ratelimit_cases.h — the rate-limit cases every kv backend must pass, once
 * for both: test_local.c and test_redis.c include it after cmocka.h.
 */
#ifndef PC_TEST_KV_RATELIMIT_CASES_H
#define PC_TEST_KV_RATELIMIT_CASES_H

#include <string.h>

#include "auth/ratelimit.h"

/* Takes, refusals, releases; advance_20s (NULL: none) moves the clock 20 s
 * before the refusal, whose Retry-After must then be want_retry. */
static void ratelimit_window_case(struct pc_kv *kv, void (*advance_20s)(void), int64_t want_retry)
{
	struct pc_ratelimit rl = {"t", 3, 60};
	int64_t ra;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pc_ratelimit_take(kv, &rl, "a@example.com", &ra), PC_OK);
		assert_int_equal(ra, 0);
	}
	if (advance_20s != NULL)
		advance_20s();
	assert_int_equal(pc_ratelimit_take(kv, &rl, "a@example.com", &ra), PC_OK);
	assert_int_equal(ra, want_retry); /* the fourth attempt is over the window's three */
	/* a released slot is admitted again, once */
	assert_int_equal(pc_ratelimit_release(kv, &rl, "a@example.com"), PC_OK);
	assert_int_equal(pc_ratelimit_take(kv, &rl, "a@example.com", &ra), PC_OK);
	assert_int_equal(ra, 0);
	assert_int_equal(pc_ratelimit_take(kv, &rl, "a@example.com", &ra), PC_OK);
	assert_true(ra > 0);
	/* other subjects and other limiters are independent */
	assert_int_equal(pc_ratelimit_take(kv, &rl, "b@example.com", &ra), PC_OK);
	assert_int_equal(ra, 0);
	struct pc_ratelimit other = {"u", 3, 60};
	assert_int_equal(pc_ratelimit_take(kv, &other, "a@example.com", &ra), PC_OK);
	assert_int_equal(ra, 0);
	/* release never goes below zero nor makes a key */
	for (int i = 0; i < 5; i++)
		assert_int_equal(pc_ratelimit_release(kv, &rl, "c@example.com"), PC_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pc_ratelimit_take(kv, &rl, "c@example.com", &ra), PC_OK);
		assert_int_equal(ra, 0);
	}
	assert_int_equal(pc_ratelimit_take(kv, &rl, "c@example.com", &ra), PC_OK);
	assert_true(ra > 0);
}

static void test_ratelimit_reset_and_odd_subjects(void **state)
{
	struct pc_kv *kv = *state;
	struct pc_ratelimit rl = {"t", 1, 60};
	int64_t ra;
	/* subjects with spaces, newlines, 10 KiB: hashed into a valid key */
	char big[10240];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const char *subjects[] = {"a b\r\nc", big, "", "\xff\xfe"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pc_ratelimit_take(kv, &rl, subjects[i], &ra), PC_OK);
		assert_int_equal(ra, 0);
		assert_int_equal(pc_ratelimit_take(kv, &rl, subjects[i], &ra), PC_OK);
		assert_true(ra > 0);
		assert_int_equal(pc_ratelimit_reset(kv, &rl, subjects[i]), PC_OK);
		assert_int_equal(pc_ratelimit_take(kv, &rl, subjects[i], &ra), PC_OK);
		assert_int_equal(ra, 0);
	}
}

#endif
