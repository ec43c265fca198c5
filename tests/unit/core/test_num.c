/* test_num.c — pc_num_u64 / pc_num_i64, the one integer parser: known
 * answers, both bounds, overflow at the exact edge, and every leniency of
 * strtol that must not come back (sign, space, base prefix, trailing bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/num.h"

static int u(uint64_t *v, const char *s, uint64_t min, uint64_t max)
{
	return pc_num_u64(v, s, strlen(s), min, max);
}

static int i(int64_t *v, const char *s, int64_t min, int64_t max)
{
	return pc_num_i64(v, s, strlen(s), min, max);
}

static void test_u64_known(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(u(&v, "0", 0, UINT64_MAX), 0);
	assert_int_equal(v, 0);
	assert_int_equal(u(&v, "42", 0, UINT64_MAX), 0);
	assert_int_equal(v, 42);
	assert_int_equal(u(&v, "007", 0, UINT64_MAX), 0); /* leading zeros: the caller's call */
	assert_int_equal(v, 7);
	assert_int_equal(u(&v, "18446744073709551615", 0, UINT64_MAX), 0);
	assert_true(v == UINT64_MAX);
	/* length-delimited: bytes past len are not looked at */
	assert_int_equal(pc_num_u64(&v, "123abc", 3, 0, UINT64_MAX), 0);
	assert_int_equal(v, 123);
}

static void test_u64_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "+1", "-1", " 1", "1 ", "\t1", "0x10", "1a", "1.0", "1e3",
	                                  "١", "1\n"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		uint64_t v = 99;
		errno = 0;
		assert_int_equal(u(&v, bad[k], 0, UINT64_MAX), -1);
		assert_int_equal(errno, EINVAL);
		assert_true(v == 0);
	}
	uint64_t v = 99;
	/* a NUL inside the span is not a digit */
	assert_int_equal(pc_num_u64(&v, "1\0002", 3, 0, UINT64_MAX), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pc_num_u64(&v, NULL, 0, 0, UINT64_MAX), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_u64_range(void **state)
{
	(void)state;
	uint64_t v = 99;
	assert_int_equal(u(&v, "18446744073709551616", 0, UINT64_MAX), -1);
	assert_int_equal(errno, ERANGE);
	assert_true(v == 0);
	assert_int_equal(u(&v, "99999999999999999999999999999", 0, UINT64_MAX), -1);
	assert_int_equal(errno, ERANGE);
	/* overflow then garbage: not a number at all */
	assert_int_equal(u(&v, "99999999999999999999999999999x", 0, UINT64_MAX), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(u(&v, "9", 10, 20), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(u(&v, "21", 10, 20), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(u(&v, "10", 10, 20), 0);
	assert_int_equal(v, 10);
	assert_int_equal(u(&v, "20", 10, 20), 0);
	assert_int_equal(v, 20);
}

static void test_i64(void **state)
{
	(void)state;
	int64_t v;
	assert_int_equal(i(&v, "-5", INT64_MIN, INT64_MAX), 0);
	assert_int_equal(v, -5);
	assert_int_equal(i(&v, "9223372036854775807", INT64_MIN, INT64_MAX), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(i(&v, "-9223372036854775808", INT64_MIN, INT64_MAX), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(i(&v, "9223372036854775808", INT64_MIN, INT64_MAX), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(i(&v, "-9223372036854775809", INT64_MIN, INT64_MAX), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(i(&v, "-0", INT64_MIN, INT64_MAX), 0);
	assert_int_equal(v, 0);
	/* a '-' only where negative values are in range */
	assert_int_equal(i(&v, "-1", 0, 100), -1);
	assert_int_equal(errno, EINVAL);
	static const char *const bad[] = {"-", "--1", "+1", "- 1", " -1", "-1 ", "-0x1", ""};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		v = 99;
		assert_int_equal(i(&v, bad[k], INT64_MIN, INT64_MAX), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(v, 0);
	}
	assert_int_equal(i(&v, "-11", -10, 10), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(i(&v, "-10", -10, 10), 0);
	assert_int_equal(v, -10);
	assert_int_equal(i(&v, "11", -10, 10), -1);
	assert_int_equal(errno, ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_known),
		cmocka_unit_test(test_u64_refused),
		cmocka_unit_test(test_u64_range),
		cmocka_unit_test(test_i64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
