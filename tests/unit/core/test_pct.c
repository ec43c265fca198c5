/* test_pct.c — pc_pct_decode / pc_pct_encode: known answers, every kind of
 * bad escape, %00, control bytes under PC_PCT_NO_CTL, '+' with and without
 * PC_PCT_PLUS_SPACE, exact capacities, and encode/decode round trips over
 * every byte value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/pct.h"

static int dec(char *out, size_t cap, const char *in, unsigned flags)
{
	size_t n;
	int rc = pc_pct_decode(out, cap, &n, in, strlen(in), flags);
	if (rc == 0)
		assert_int_equal(n, strlen(out));
	else
		assert_int_equal(n, 0);
	return rc;
}

static void test_decode_known(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(dec(out, sizeof(out), "", 0), 0);
	assert_string_equal(out, "");
	assert_int_equal(dec(out, sizeof(out), "abc", 0), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(dec(out, sizeof(out), "a%20b%2Fc%2fd", 0), 0);
	assert_string_equal(out, "a b/c/d");
	assert_int_equal(dec(out, sizeof(out), "p%40ss%3Aw%25rd", 0), 0);
	assert_string_equal(out, "p@ss:w%rd");
	assert_int_equal(dec(out, sizeof(out), "a+b", 0), 0);
	assert_string_equal(out, "a+b");
	assert_int_equal(dec(out, sizeof(out), "a+b%2B", PC_PCT_PLUS_SPACE), 0);
	assert_string_equal(out, "a b+");
	assert_int_equal(dec(out, sizeof(out), "%C3%A9", 0), 0); /* bytes, not checked as UTF-8 */
	assert_string_equal(out, "\xc3\xa9");
	/* decoding is done once: %2541 is "%41", not "A" */
	assert_int_equal(dec(out, sizeof(out), "%2541", 0), 0);
	assert_string_equal(out, "%41");
}

static void test_decode_bad(void **state)
{
	(void)state;
	char out[64];
	static const char *const bad[] = {"%", "%2", "a%", "a%4", "%g0", "%0g", "%%41", "% 41", "%+1", "%-1",
	                                  "%00", "a%00b"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		strcpy(out, "junk");
		errno = 0;
		assert_int_equal(dec(out, sizeof(out), bad[k], 0), -1);
		assert_int_equal(errno, EINVAL);
		assert_string_equal(out, ""); /* never half a value */
	}
	size_t n;
	/* a raw NUL inside the span */
	assert_int_equal(pc_pct_decode(out, sizeof(out), &n, "a\0b", 3, 0), -1);
	assert_int_equal(errno, EINVAL);
	/* control bytes: allowed by default (the caller validates), refused with NO_CTL */
	assert_int_equal(dec(out, sizeof(out), "a%0Ab", 0), 0);
	assert_string_equal(out, "a\nb");
	assert_int_equal(dec(out, sizeof(out), "a%0Ab", PC_PCT_NO_CTL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dec(out, sizeof(out), "a%7Fb", PC_PCT_NO_CTL), -1);
	assert_int_equal(dec(out, sizeof(out), "a\tb", PC_PCT_NO_CTL), -1);
	assert_int_equal(dec(out, sizeof(out), "a%1fb", PC_PCT_NO_CTL), -1);
	assert_int_equal(dec(out, sizeof(out), "a%20b", PC_PCT_NO_CTL), 0);
}

static void test_decode_capacity(void **state)
{
	(void)state;
	char out[4];
	assert_int_equal(dec(out, 4, "abc", 0), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(dec(out, 4, "abcd", 0), -1);
	assert_int_equal(errno, ERANGE);
	assert_string_equal(out, "");
	assert_int_equal(dec(out, 4, "%41%42%43", 0), 0);
	assert_string_equal(out, "ABC");
	assert_int_equal(dec(out, 4, "%41%42%43%44", 0), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(dec(out, 1, "", 0), 0);
	size_t n;
	assert_int_equal(pc_pct_decode(NULL, 0, &n, "", 0, 0), -1);
	assert_int_equal(errno, ERANGE);
	/* in place */
	char buf[] = "a%20b";
	assert_int_equal(pc_pct_decode(buf, sizeof(buf), &n, buf, strlen(buf), 0), 0);
	assert_string_equal(buf, "a b");
}

static void test_encode(void **state)
{
	(void)state;
	char out[64];
	size_t n;
	assert_int_equal(pc_pct_encode(out, sizeof(out), &n, "", 0), 0);
	assert_string_equal(out, "");
	static const char unreserved[] = "AZaz09-._~";
	assert_int_equal(pc_pct_encode(out, sizeof(out), &n, unreserved, strlen(unreserved)), 0);
	assert_string_equal(out, unreserved);
	static const char s[] = "/a b?c=d&e\r\n%";
	assert_int_equal(pc_pct_encode(out, sizeof(out), &n, s, strlen(s)), 0);
	assert_string_equal(out, "%2Fa%20b%3Fc%3Dd%26e%0D%0A%25");
	assert_int_equal(n, strlen(out));
	assert_int_equal(pc_pct_encode(out, sizeof(out), &n, "\0\xff", 2), 0);
	assert_string_equal(out, "%00%FF");
	/* exact fit, one short */
	assert_int_equal(pc_pct_encode(out, 4, &n, "/", 1), 0);
	assert_string_equal(out, "%2F");
	assert_int_equal(pc_pct_encode(out, 3, &n, "/", 1), -1);
	assert_int_equal(errno, ERANGE);
	assert_string_equal(out, "");
	assert_int_equal(pc_pct_encode(out, 3, &n, "ab", 2), 0);
	assert_int_equal(pc_pct_encode(out, 3, &n, "abc", 3), -1);
}

static void test_round_trip(void **state)
{
	(void)state;
	char in[255], enc[3 * 255 + 1], dec_out[256];
	size_t n, m;
	for (int b = 1; b < 256; b++)
		in[b - 1] = (char)b;
	assert_int_equal(pc_pct_encode(enc, sizeof(enc), &n, in, sizeof(in)), 0);
	assert_int_equal(pc_pct_decode(dec_out, sizeof(dec_out), &m, enc, n, 0), 0);
	assert_int_equal(m, sizeof(in));
	assert_memory_equal(dec_out, in, sizeof(in));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_known),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_decode_capacity),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
