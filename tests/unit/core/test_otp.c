/* test_otp.c — HOTP/TOTP against RFC 4226 Appendix D and RFC 6238
 * Appendix B (all three hashes), the check's window and its refusals, and
 * base32 (RFC 4648 §10 vectors without padding, strictness). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/base32.h"
#include "core/otp.h"

static const uint8_t key20[] = "12345678901234567890";
static const uint8_t key32[] = "12345678901234567890123456789012";
static const uint8_t key64[] = "1234567890123456789012345678901234567890123456789012345678901234";

static void test_hotp_rfc4226(void **state)
{
	(void)state;
	static const char *const want[10] = {"755224", "287082", "359152", "969429", "338314",
	                                     "254676", "287922", "162583", "399871", "520489"};
	char out[9];
	for (uint64_t c = 0; c < 10; c++) {
		assert_int_equal(pc_hotp(out, sizeof(out), key20, 20, PC_OTP_SHA1, c, 6), 0);
		assert_string_equal(out, want[c]);
	}
}

static void test_totp_rfc6238(void **state)
{
	(void)state;
	static const struct {
		int64_t t;
		const char *sha1, *sha256, *sha512;
	} v[] = {
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"},
	};
	char out[9];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t st = pc_totp_step(v[i].t, 30);
		assert_int_equal(pc_hotp(out, sizeof(out), key20, 20, PC_OTP_SHA1, st, 8), 0);
		assert_string_equal(out, v[i].sha1);
		assert_int_equal(pc_hotp(out, sizeof(out), key32, 32, PC_OTP_SHA256, st, 8), 0);
		assert_string_equal(out, v[i].sha256);
		assert_int_equal(pc_hotp(out, sizeof(out), key64, 64, PC_OTP_SHA512, st, 8), 0);
		assert_string_equal(out, v[i].sha512);
		uint64_t m;
		assert_int_equal(pc_totp_check(&m, v[i].sha1, 8, key20, 20, PC_OTP_SHA1, 8, 30, v[i].t, 1), 0);
		assert_true(m == st);
	}
}

static void test_totp_window(void **state)
{
	(void)state;
	char code[9];
	uint64_t m;
	int64_t now = 1234567890;
	uint64_t st = pc_totp_step(now, 30);
	/* one step either side: accepted, with the step it matched */
	for (int d = -1; d <= 1; d++) {
		assert_int_equal(pc_hotp(code, sizeof(code), key20, 20, PC_OTP_SHA1, st + (uint64_t)(int64_t)d, 6), 0);
		assert_int_equal(pc_totp_check(&m, code, 6, key20, 20, PC_OTP_SHA1, 6, 30, now, 1), 0);
		assert_true(m == st + (uint64_t)(int64_t)d);
	}
	/* two steps away: refused */
	assert_int_equal(pc_hotp(code, sizeof(code), key20, 20, PC_OTP_SHA1, st + 2, 6), 0);
	assert_int_equal(pc_totp_check(&m, code, 6, key20, 20, PC_OTP_SHA1, 6, 30, now, 1), -1);
	assert_int_equal(pc_hotp(code, sizeof(code), key20, 20, PC_OTP_SHA1, st - 2, 6), 0);
	assert_int_equal(pc_totp_check(&m, code, 6, key20, 20, PC_OTP_SHA1, 6, 30, now, 1), -1);
	/* shape: wrong length, non-digits, a sign, a space */
	assert_int_equal(pc_hotp(code, sizeof(code), key20, 20, PC_OTP_SHA1, st, 6), 0);
	assert_int_equal(pc_totp_check(&m, code, 5, key20, 20, PC_OTP_SHA1, 6, 30, now, 1), -1);
	assert_int_equal(pc_totp_check(&m, "+12345", 6, key20, 20, PC_OTP_SHA1, 6, 30, now, 1), -1);
	assert_int_equal(pc_totp_check(&m, " 12345", 6, key20, 20, PC_OTP_SHA1, 6, 30, now, 1), -1);
	assert_int_equal(pc_totp_check(&m, "12345a", 6, key20, 20, PC_OTP_SHA1, 6, 30, now, 1), -1);
	/* digits we do not issue */
	assert_int_equal(pc_totp_check(&m, "1234567", 7, key20, 20, PC_OTP_SHA1, 7, 30, now, 1), -1);
	assert_int_equal(pc_hotp(code, sizeof(code), key20, 0, PC_OTP_SHA1, st, 6), -1);
}

static void test_alg_names(void **state)
{
	(void)state;
	enum pc_otp_alg a;
	assert_int_equal(pc_otp_alg_parse(&a, "SHA256"), 0);
	assert_int_equal(a, PC_OTP_SHA256);
	assert_int_equal(pc_otp_alg_parse(&a, "sha1"), -1);
	assert_int_equal(pc_otp_alg_parse(&a, "MD5"), -1);
	assert_string_equal(pc_otp_alg_name(PC_OTP_SHA512), "SHA512");
}

static void test_base32(void **state)
{
	(void)state;
	static const char *const enc[] = {"", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
	const char *plain = "foobar";
	char out[32];
	uint8_t dec[16];
	size_t n;
	for (size_t i = 0; i <= 6; i++) {
		assert_int_equal(pc_base32_encode(out, sizeof(out), (const uint8_t *)plain, i), 0);
		assert_string_equal(out, enc[i]);
		assert_int_equal(pc_base32_decode(dec, sizeof(dec), &n, enc[i], strlen(enc[i])), 0);
		assert_int_equal(n, i);
		assert_memory_equal(dec, plain, i);
	}
	/* strict: lower case, padding, spaces, impossible lengths, spare bits, too long */
	assert_int_equal(pc_base32_decode(dec, sizeof(dec), &n, "mzxw6", 5), -1);
	assert_int_equal(pc_base32_decode(dec, sizeof(dec), &n, "MY======", 8), -1);
	assert_int_equal(pc_base32_decode(dec, sizeof(dec), &n, "MZ XW", 5), -1);
	assert_int_equal(pc_base32_decode(dec, sizeof(dec), &n, "M", 1), -1);
	assert_int_equal(pc_base32_decode(dec, sizeof(dec), &n, "MZX", 3), -1);
	assert_int_equal(pc_base32_decode(dec, sizeof(dec), &n, "MZ", 2), -1); /* spare bits set */
	assert_int_equal(pc_base32_decode(dec, sizeof(dec), &n, "01", 2), -1);
	assert_int_equal(pc_base32_decode(dec, 2, &n, "MZXW6", 5), -1);
	assert_int_equal(pc_base32_encode(out, 5, (const uint8_t *)plain, 3), -1);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hotp_rfc4226), cmocka_unit_test(test_totp_rfc6238),
		cmocka_unit_test(test_totp_window), cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_base32),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
