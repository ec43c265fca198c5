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

/* Every length across the decoder's 256-character chunks: the round trip
 * is exact, agrees with libsodium's decoder, and one byte outside the
 * alphabet at any position (either side of a chunk edge) refuses the whole
 * text and leaves nothing decoded behind. */
static void test_lengths_and_chunks(void **state)
{
	(void)state;
	static uint8_t raw[600], out[600], ref[600];
	static char text[804], bad[804];
	randombytes_buf(raw, sizeof(raw));
	for (size_t len = 0; len <= sizeof(raw); len++) {
		pc_b64url_encode(text, sizeof(text), raw, len);
		size_t tl = strlen(text), n = 0, rn = 0;
		assert_int_equal(pc_b64url_decode(out, sizeof(out), &n, text, tl), 0);
		assert_int_equal(n, len);
		assert_memory_equal(out, raw, len);
		assert_int_equal(sodium_base642bin(ref, sizeof(ref), text, tl, NULL, &rn, NULL,
		                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
		                 0);
		assert_int_equal(rn, len);
		assert_memory_equal(ref, out, len);
		if (len > 0)
			assert_int_equal(pc_b64url_decode(out, len - 1, &n, text, tl), -1); /* one byte short */
	}
	pc_b64url_encode(text, sizeof(text), raw, sizeof(raw));
	size_t tl = strlen(text);
	const size_t at[] = {0, 1, 254, 255, 256, 257, 511, 512, 513, 700, tl - 1};
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		memcpy(bad, text, tl + 1);
		bad[at[k]] = '=';
		size_t n = 99;
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(pc_b64url_decode(out, sizeof(out), &n, bad, tl), -1);
		assert_int_equal(n, 0);
		for (size_t i = 0; i < sizeof(raw); i++)
			assert_true(out[i] == 0 || out[i] == 0xaa); /* zeroed or untouched */
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_lengths_and_chunks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
