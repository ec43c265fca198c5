/* test_b64url.c — the strict base64url decoder against the cases in
 * ../shared/vectors/jws.md and the libsodium 0xDF trap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "core/b64url.h"

static int dec(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	return pc_b64url_decode(out, cap, n, s, strlen(s));
}

/* RFC 7515 A.1 signature part: canonical */
static const char sig[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

static void test_canonical(void **state)
{
	(void)state;
	uint8_t out[64];
	size_t n;
	assert_int_equal(dec(sig, out, sizeof(out), &n), 0);
	assert_int_equal(n, 32);
	char back[64];
	pc_b64url_encode(back, sizeof(back), out, n);
	assert_string_equal(back, sig);
	assert_int_equal(dec("", out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(dec("Zm9v", out, sizeof(out), &n), 0); /* "foo" */
	assert_memory_equal(out, "foo", 3);
	assert_int_equal(dec("Zm8", out, sizeof(out), &n), 0); /* "fo" */
	assert_int_equal(n, 2);
	assert_int_equal(dec("Zg", out, sizeof(out), &n), 0); /* "f" */
	assert_int_equal(n, 1);
}

static void test_refused(void **state)
{
	(void)state;
	uint8_t out[64];
	size_t n;
	char buf[80];
	/* trailing padding */
	snprintf(buf, sizeof(buf), "%s=", sig);
	assert_int_equal(dec(buf, out, sizeof(out), &n), -1);
	/* non-zero spare bits: ...jXk -> ...jXl */
	snprintf(buf, sizeof(buf), "%s", sig);
	buf[strlen(buf) - 1] = 'l';
	assert_int_equal(dec(buf, out, sizeof(out), &n), -1);
	assert_int_equal(dec("Zh", out, sizeof(out), &n), -1);
	assert_int_equal(dec("Zm9", out, sizeof(out), &n), -1);
	/* + and / */
	assert_int_equal(dec("ab+d", out, sizeof(out), &n), -1);
	assert_int_equal(dec("ab/d", out, sizeof(out), &n), -1);
	/* embedded space, newline */
	assert_int_equal(dec("Zm 9v", out, sizeof(out), &n), -1);
	assert_int_equal(dec("Zm9v\n", out, sizeof(out), &n), -1);
	/* length % 4 == 1 */
	assert_int_equal(dec("Zm9vY", out, sizeof(out), &n), -1);
	/* the libsodium trap: 0xDF decodes as '_' there */
	assert_int_equal(dec("ab\xdf" "d", out, sizeof(out), &n), -1);
	assert_int_equal(dec("ab_d", out, sizeof(out), &n), 0);
	/* other high bytes */
	for (int c = 0x80; c <= 0xff; c++) {
		char t[5] = {'a', 'b', (char)c, 'd', 0};
		assert_int_equal(dec(t, out, sizeof(out), &n), -1);
	}
	/* output too small */
	assert_int_equal(dec(sig, out, 31, &n), -1);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
