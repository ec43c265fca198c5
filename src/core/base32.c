/*
 * base32.c — see base32.h.
 */
#include <sodium.h>
#include <string.h>

#include "core/base32.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int pc_base32_encode(char *out, size_t cap, const uint8_t *in, size_t n)
{
	if (cap > 0)
		out[0] = '\0';
	if (n > (SIZE_MAX - 4) / 8 || cap < PC_BASE32_LEN(n) + 1)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return 0;
}

static int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int pc_base32_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t len)
{
	*out_len = 0;
	size_t rem = len % 8;
	if (rem == 1 || rem == 3 || rem == 6)
		return -1;
	size_t n = len / 8 * 5 + (rem * 5) / 8;
	if (n > cap)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = value_of(in[i]);
		if (v < 0)
			goto bad;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			out[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
		acc &= (1u << bits) - 1;
	}
	if (acc != 0) /* spare bits must be zero: one text per value */
		goto bad;
	*out_len = o;
	return 0;
bad:
	sodium_memzero(out, o);
	return -1;
}
