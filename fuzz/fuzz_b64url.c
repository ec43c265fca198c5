/*
 * fuzz_b64url.c — libFuzzer target for the strict base64url decoder
 * pc_b64url_decode() (and its encoder).
 *
 * - The input as text: decoding succeeds exactly when an independent model
 *   of b64url.h says it is canonical (alphabet A-Z a-z 0-9 - _, no padding,
 *   length % 4 != 1, zero spare bits); then the length is the exact
 *   3/4 rule, the bytes are the model's, and re-encoding gives back exactly
 *   the input (one text per value).
 * - The capacity: the output buffers are heap blocks of exactly `cap` bytes
 *   so ASan sees any write past them; with cap one byte short of the value
 *   the decode must fail, with cap exact it must succeed.
 * - A failed decode leaves *out_len 0.
 * - The input as bytes: encoding then decoding is the identity.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/b64url.h"
#include "fuzz.h"

static int sextet(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decodes the canonical form bit by bit into out (room for len*3/4);
 * returns the byte count or -1. */
static long model_decode(uint8_t *out, const uint8_t *in, size_t len)
{
	if (len % 4 == 1)
		return -1;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int v = sextet(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* spare bits must be zero */
		return -1;
	return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the text, exactly sized */
	char *in = malloc(size ? size : 1);
	CHECK(in != NULL);
	if (size > 0)
		memcpy(in, data, size);

	uint8_t *want = malloc(size + 1);
	CHECK(want != NULL);
	long wn = model_decode(want, data, size);

	/* generous capacity */
	size_t cap = size + 8;
	uint8_t *out = malloc(cap);
	CHECK(out != NULL);
	size_t out_len = 12345;
	int rc = pc_b64url_decode(out, cap, &out_len, in, size);
	CHECK(rc == 0 || rc == -1);
	CHECK((rc == 0) == (wn >= 0));
	if (rc != 0) {
		CHECK(out_len == 0);
	} else {
		CHECK(out_len == (size_t)wn);
		CHECK(out_len == size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0));
		CHECK(out_len == 0 || memcmp(out, want, out_len) == 0);
		size_t elen = sodium_base64_ENCODED_LEN(out_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		char *again = malloc(elen);
		CHECK(again != NULL);
		pc_b64url_encode(again, elen, out, out_len);
		CHECK(strlen(again) == size && memcmp(again, in, size) == 0);
		free(again);

		/* exact capacity: fits; one byte less: refused, nothing overrun */
		uint8_t *exact = malloc(out_len ? out_len : 1);
		CHECK(exact != NULL);
		size_t el = 0;
		CHECK(pc_b64url_decode(exact, out_len, &el, in, size) == 0 && el == out_len);
		CHECK(out_len == 0 || memcmp(exact, want, out_len) == 0);
		free(exact);
		if (out_len > 0) {
			uint8_t *shorter = malloc(out_len - 1 ? out_len - 1 : 1);
			CHECK(shorter != NULL);
			el = 777;
			CHECK(pc_b64url_decode(shorter, out_len - 1, &el, in, size) != 0 && el == 0);
			free(shorter);
		}
	}
	free(out);
	free(want);
	free(in);

	/* the bytes: encode, then decode, is the identity */
	size_t elen = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *text = malloc(elen);
	CHECK(text != NULL);
	pc_b64url_encode(text, elen, data, size);
	size_t tl = strlen(text);
	uint8_t *back = malloc(size ? size : 1);
	CHECK(back != NULL);
	size_t bl = 0;
	CHECK(pc_b64url_decode(back, size, &bl, text, tl) == 0);
	CHECK(bl == size && (size == 0 || memcmp(back, data, size) == 0));
	free(back);
	free(text);
	return 0;
}
