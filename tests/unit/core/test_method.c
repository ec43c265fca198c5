/* test_method.c — pc_method_name / pc_method_lookup: every method both
 * ways, exact case, no prefix match, and the name of an out-of-range value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/method.h"

static void test_round_trip(void **state)
{
	(void)state;
	for (int m = 0; m < PC_METHOD__COUNT; m++) {
		const char *n = pc_method_name((enum pc_method)m);
		assert_int_equal(pc_method_lookup(n, strlen(n)), m);
	}
	assert_string_equal(pc_method_name(PC_METHOD_GET), "GET");
	assert_string_equal(pc_method_name(PC_METHOD_OPTIONS), "OPTIONS");
	assert_string_equal(pc_method_name(PC_METHOD__COUNT), "UNKNOWN");
}

static void test_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {"get", "Get", "GE", "GETX", "", "TRACE", "CONNECT", "POST "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pc_method_lookup(bad[i], strlen(bad[i])), PC_METHOD__COUNT);
	assert_int_equal(pc_method_lookup("GET", 2), PC_METHOD__COUNT);
	assert_int_equal(pc_method_lookup("DELETEX", 6), PC_METHOD_DELETE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
