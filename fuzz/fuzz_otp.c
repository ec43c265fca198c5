/*
 * fuzz_otp.c — libFuzzer target for the second factor's parsers of
 * untrusted bytes, each against an independent model:
 *
 * - pc_base32_decode (RFC 4648 §6, strict): succeeds exactly when the model
 *   says the text is canonical (A-Z 2-7 only, no padding, len % 8 in
 *   {0,2,4,5,7}, zero spare bits); then the bytes are the model's and
 *   re-encoding gives back the input. The output is a heap block of exactly
 *   the value's size (ASan sees any overrun); one byte less must fail.
 * - pc_totp_check: the input as a typed code is accepted exactly when it is
 *   6 ASCII digits equal to the code of step-1, step or step+1 computed by a
 *   model on libsodium's HMAC-SHA-256 (not OpenSSL, which otp.c uses), and
 *   the step it reports is the latest such step.
 * - pc_recovery_normalize: accepted exactly when the model (drop '-' and
 *   ' ', fold case, O->0, I/L->1, Crockford alphabet, 10 characters) says so,
 *   with the same result.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/base32.h"
#include "core/otp.h"
#include "fuzz.h"
#include "svc/factors.h"

static int quintet(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

static long model_base32(uint8_t *out, const uint8_t *in, size_t len)
{
	size_t r = len % 8;
	if (r == 1 || r == 3 || r == 6)
		return -1;
	uint64_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int v = quintet(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 5) | (uint64_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return acc == 0 ? (long)n : -1;
}

static void check_base32(const uint8_t *data, size_t size)
{
	uint8_t *want = malloc(size + 1);
	CHECK(want != NULL);
	long n = model_base32(want, data, size);
	size_t cap = n >= 0 ? (size_t)n : size;
	uint8_t *out = malloc(cap + 1);
	CHECK(out != NULL);
	size_t got = 99;
	int rc = pc_base32_decode(out, cap, &got, (const char *)data, size);
	CHECK((rc == 0) == (n >= 0));
	if (rc == 0) {
		CHECK(got == (size_t)n && memcmp(out, want, got) == 0);
		char *text = malloc(PC_BASE32_LEN(got) + 1);
		CHECK(text != NULL);
		CHECK(pc_base32_encode(text, PC_BASE32_LEN(got) + 1, out, got) == 0);
		CHECK(strlen(text) == size && memcmp(text, data, size) == 0);
		free(text);
		if (got > 0) {
			uint8_t *small = malloc(got - 1 + 1);
			CHECK(small != NULL);
			CHECK(pc_base32_decode(small, got - 1, &got, (const char *)data, size) == -1 && got == 0);
			free(small);
		}
	} else {
		CHECK(got == 0);
	}
	free(out);
	free(want);
}

/* HOTP-SHA256, 6 digits, on libsodium (RFC 4226 §5.3 truncation). */
static void model_hotp(char out[7], const uint8_t *key, size_t klen, uint64_t counter)
{
	uint8_t msg[8], mac[32];
	for (int i = 0; i < 8; i++)
		msg[i] = (uint8_t)(counter >> (56 - 8 * i));
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, msg, 8);
	crypto_auth_hmacsha256_final(&st, mac);
	unsigned o = mac[31] & 15;
	uint32_t v = ((uint32_t)(mac[o] & 0x7f) << 24 | (uint32_t)mac[o + 1] << 16 | (uint32_t)mac[o + 2] << 8 |
	              mac[o + 3]) % 1000000u;
	for (int i = 5; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	out[6] = '\0';
}

static void check_totp(const uint8_t *data, size_t size)
{
	static const uint8_t key[] = "12345678901234567890123456789012";
	/* the time from the first bytes, when there are enough; the code is the rest */
	int64_t now = 1800000000;
	if (size >= 4) {
		now += (int64_t)(data[0] | data[1] << 8 | data[2] << 16) * 7;
		data += 4;
		size -= 4;
	}
	uint64_t step = (uint64_t)now / 30, matched = 0;
	bool want = false;
	if (size == 6) {
		for (uint64_t s = step - 1; s <= step + 1; s++) {
			char c[7];
			model_hotp(c, key, 32, s);
			if (memcmp(c, data, 6) == 0) {
				want = true;
				matched = s;
			}
		}
	}
	uint64_t got = 77;
	int rc = pc_totp_check(&got, (const char *)data, size, key, 32, PC_OTP_SHA256, 6, 30, now, 1);
	CHECK((rc == 0) == want);
	CHECK(rc == 0 ? got == matched : got == 0);
	/* and the model's own code for now is always accepted */
	char c[7];
	model_hotp(c, key, 32, step);
	CHECK(pc_totp_check(&got, c, 6, key, 32, PC_OTP_SHA256, 6, 30, now, 1) == 0 && got >= step);
}

static void check_recovery(const uint8_t *data, size_t size)
{
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	char want[11] = {0};
	size_t n = 0;
	bool ok = size <= 32;
	for (size_t i = 0; ok && i < size; i++) {
		uint8_t c = data[i];
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 32);
		c = c == 'O' ? '0' : (c == 'I' || c == 'L') ? '1' : c;
		if (c == 0 || memchr(alphabet, c, 32) == NULL || n == 10)
			ok = false;
		else
			want[n++] = (char)c;
	}
	ok = ok && n == 10;
	char got[11];
	int rc = pc_recovery_normalize(got, (const char *)data, size);
	CHECK((rc == 0) == ok);
	if (ok)
		CHECK(memcmp(got, want, 11) == 0);
	else
		CHECK(memcmp(got, "\0\0\0\0\0\0\0\0\0\0\0", 11) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sodium_init() < 0)
		abort();
	check_base32(data, size);
	check_totp(data, size);
	check_recovery(data, size);
	return 0;
}
