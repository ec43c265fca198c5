/* b64url.c — see b64url.h. */
#include "core/b64url.h"

#include <sodium.h>

/*
 * The decoder is ours, branch-free and table-free per character, like
 * libsodium's (no timing or cache footprint depends on the characters), but
 * without its per-character calls for padding, ignored characters and
 * variants: base64 of a cookie or token was the largest user-space cost of
 * a verify (perf, bench/results). It checks the alphabet, the length and
 * the spare bits in the same pass, so there is one text per value.
 */

/* The 6-bit values of n characters into v; returns non-zero when any is
 * outside the alphabet. Byte-wide masks with no branch and no table, so the
 * compiler can do 16 or 32 characters per instruction. */
static uint8_t sextets(uint8_t *v, const unsigned char *p, size_t n)
{
	uint8_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		uint8_t up = (uint8_t)-(uint8_t)((uint8_t)(c - 'A') < 26);
		uint8_t lo = (uint8_t)-(uint8_t)((uint8_t)(c - 'a') < 26);
		uint8_t dg = (uint8_t)-(uint8_t)((uint8_t)(c - '0') < 10);
		uint8_t mi = (uint8_t)-(uint8_t)(c == '-');
		uint8_t us = (uint8_t)-(uint8_t)(c == '_');
		v[i] = (uint8_t)((up & (uint8_t)(c - 'A')) | (lo & (uint8_t)(c - 'a' + 26)) |
		                 (dg & (uint8_t)(c - '0' + 52)) | (mi & 62) | (us & 63));
		bad |= (uint8_t)~(up | lo | dg | mi | us);
	}
	return bad;
}

int pc_b64url_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t len)
{
	*out_len = 0;
	size_t rem = len % 4;
	if (rem == 1)
		return -1;
	size_t n = len / 4 * 3 + (rem ? rem - 1 : 0);
	if (n > cap)
		return -1;
	const unsigned char *p = (const unsigned char *)in;
	uint8_t v[256];
	uint32_t bad = 0;
	size_t o = 0;
	/* in chunks of 256 characters (a multiple of 4) */
	for (size_t at = 0; at < len; at += sizeof(v)) {
		size_t k = len - at < sizeof(v) ? len - at : sizeof(v);
		bad |= sextets(v, p + at, k);
		size_t i = 0;
		for (; i + 4 <= k; i += 4) {
			uint32_t w = (uint32_t)v[i] << 18 | (uint32_t)v[i + 1] << 12 | (uint32_t)v[i + 2] << 6 | v[i + 3];
			out[o++] = (uint8_t)(w >> 16);
			out[o++] = (uint8_t)(w >> 8);
			out[o++] = (uint8_t)w;
		}
		if (k - i == 2) {
			uint32_t w = (uint32_t)v[i] << 6 | v[i + 1];
			bad |= w & 0x0f; /* spare bits must be zero */
			out[o++] = (uint8_t)(w >> 4);
		} else if (k - i == 3) {
			uint32_t w = (uint32_t)v[i] << 12 | (uint32_t)v[i + 1] << 6 | v[i + 2];
			bad |= w & 0x03;
			out[o++] = (uint8_t)(w >> 10);
			out[o++] = (uint8_t)(w >> 2);
		}
	}
	sodium_memzero(v, sizeof(v));
	if (bad != 0) {
		sodium_memzero(out, o);
		return -1;
	}
	*out_len = o;
	return 0;
}

void pc_b64url_encode(char *out, size_t cap, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
