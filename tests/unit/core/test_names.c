/* test_names.c — the two names that go into links and headers as they
 * are: a path prefix (core/url.c pc_url_prefix_valid: PORTCULLIS_PATH_PREFIX,
 * X-Forwarded-Prefix) and a user's display name (core/text.c
 * pc_user_name_valid: X-Auth-Name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/limits.h"
#include "core/text.h"
#include "core/url.h"

static bool prefix(const char *s)
{
	return pc_url_prefix_valid(s, strlen(s));
}

static void test_prefix(void **state)
{
	(void)state;
	const char *ok[] = {"/.portcullis", "/auth", "/a/b/c", "/x-y_z~1.2", "/..a", "/a..", "/.well-known"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!prefix(ok[i]))
			fail_msg("refused %s", ok[i]);
	const char *bad[] = {"", "/", "auth", "//evil.example", "/a//b", "/a/", "/.", "/..", "/a/./b", "/a/../b",
	                     "/a/.", "/a/..", "/a b", "/a?b", "/a#b", "/a%2f", "/a\\b", "/a\"b", "/a<b", "/\xc3\xa9",
	                     "/a\r\nX: 1", "/a:b", "/a@b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (prefix(bad[i]))
			fail_msg("allowed %s", bad[i]);
	char buf[PC_PATH_PREFIX_MAX + 2];
	buf[0] = '/';
	memset(buf + 1, 'a', PC_PATH_PREFIX_MAX);
	assert_true(pc_url_prefix_valid(buf, PC_PATH_PREFIX_MAX));
	assert_false(pc_url_prefix_valid(buf, PC_PATH_PREFIX_MAX + 1));
	assert_false(pc_url_prefix_valid(NULL, 0));
	assert_false(pc_url_prefix_valid("/a\0b", 4));
}

static bool name(const char *s)
{
	return pc_user_name_valid(s, strlen(s));
}

static void test_user_name(void **state)
{
	(void)state;
	const char *ok[] = {"", "Zo\xc3\xab d'Ar\xc3\xa7", "\xe6\x9d\x8e\xe5\x9b\x9b", "A", "O'Brien, Jr.", "a  b",
	                    "\xc2\xa0nbsp inside\xc2\xa0" /* U+00A0 is not a control */};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!name(ok[i]))
			fail_msg("refused %s", ok[i]);
	const char *bad[] = {" lead", "trail ", "a\r\nX-Auth-Role: admin", "tab\there", "del\x7f", "c1\xc2\x85",
	                     "c1\xc2\x9f", "latin1 \xe9", "overlong \xc0\xaf", "surrogate \xed\xa0\x80", "cut \xe6\x9d",
	                     "esc\x1b[31m"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (name(bad[i]))
			fail_msg("allowed %s", bad[i]);
	assert_false(pc_user_name_valid("a\0b", 3));
	char buf[PC_USER_NAME_MAX + 2];
	memset(buf, 'x', sizeof(buf));
	assert_true(pc_user_name_valid(buf, PC_USER_NAME_MAX));
	assert_false(pc_user_name_valid(buf, PC_USER_NAME_MAX + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_user_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
