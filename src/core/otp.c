/*
 * otp.c — see otp.h. HMAC comes from libcrypto through core/ossl.h (the
 * one file that includes OpenSSL).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/ossl.h"
#include "core/otp.h"

const char *pc_otp_alg_name(enum pc_otp_alg alg)
{
	switch (alg) {
	case PC_OTP_SHA1: return "SHA1";
	case PC_OTP_SHA256: return "SHA256";
	case PC_OTP_SHA512: return "SHA512";
	}
	return NULL;
}

int pc_otp_alg_parse(enum pc_otp_alg *out, const char *name)
{
	for (int a = PC_OTP_SHA1; a <= PC_OTP_SHA512; a++) {
		if (strcmp(name, pc_otp_alg_name((enum pc_otp_alg)a)) == 0) {
			*out = (enum pc_otp_alg)a;
			return 0;
		}
	}
	return -1;
}

bool pc_otp_digits_ok(unsigned digits)
{
	return digits == 6 || digits == 8;
}

static int md_of(enum pc_otp_alg alg, enum pc_ossl_md *md)
{
	switch (alg) {
	case PC_OTP_SHA1: *md = PC_OSSL_SHA1; return 0;
	case PC_OTP_SHA256: *md = PC_OSSL_SHA256; return 0;
	case PC_OTP_SHA512: *md = PC_OSSL_SHA512; return 0;
	}
	return -1;
}

int pc_hotp(char *out, size_t cap, const uint8_t *key, size_t key_len, enum pc_otp_alg alg, uint64_t counter,
            unsigned digits)
{
	if (cap > 0)
		out[0] = '\0';
	enum pc_ossl_md md;
	/* 6..8 digits fit the 31-bit truncation; we issue 6 or 8, RFC 4226 §5.3 allows 6..8 */
	if (md_of(alg, &md) != 0 || digits < 6 || digits > PC_OTP_CODE_MAX || cap < digits + 1 || key_len == 0 ||
	    key_len > PC_OTP_SECRET_MAX)
		return -1;
	uint8_t msg[8];
	for (int i = 7; i >= 0; i--) {
		msg[i] = (uint8_t)(counter & 0xff);
		counter >>= 8;
	}
	uint8_t mac[PC_OSSL_MAC_MAX];
	size_t mac_len = 0;
	if (pc_ossl_hmac(mac, sizeof(mac), &mac_len, md, key, key_len, msg, sizeof(msg)) != 0 || mac_len < 20) {
		sodium_memzero(mac, sizeof(mac));
		return -1;
	}
	unsigned off = mac[mac_len - 1] & 0x0f; /* <= 15: off + 3 < 20 <= mac_len */
	uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	               ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	sodium_memzero(mac, sizeof(mac));
	uint32_t mod = 1;
	for (unsigned i = 0; i < digits; i++)
		mod *= 10;
	uint32_t v = bin % mod;
	for (unsigned i = digits; i > 0; i--) {
		out[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	out[digits] = '\0';
	return 0;
}

uint64_t pc_totp_step(int64_t now, unsigned period)
{
	if (now <= 0 || period == 0)
		return 0;
	return (uint64_t)now / period;
}

int pc_totp_check(uint64_t *step, const char *code, size_t len, const uint8_t *key, size_t key_len,
                  enum pc_otp_alg alg, unsigned digits, unsigned period, int64_t now, unsigned skew)
{
	*step = 0;
	if (!pc_otp_digits_ok(digits) || len != digits || period == 0 || skew > 2)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (code[i] < '0' || code[i] > '9')
			return -1;
	uint64_t center = pc_totp_step(now, period);
	bool found = false;
	uint64_t matched = 0;
	for (uint64_t s = center >= skew ? center - skew : 0; s <= center + skew; s++) {
		char want[PC_OTP_CODE_MAX + 1];
		if (pc_hotp(want, sizeof(want), key, key_len, alg, s, digits) != 0)
			return -1;
		bool eq = sodium_memcmp(want, code, digits) == 0;
		sodium_memzero(want, sizeof(want));
		/* the latest matching step wins; keep going either way */
		if (eq) {
			found = true;
			matched = s;
		}
	}
	if (!found)
		return -1;
	*step = matched;
	return 0;
}
