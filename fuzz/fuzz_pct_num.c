/*
 * fuzz_pct_num.c — libFuzzer target for the core parsers of untrusted text
 * that replaced per-module copies: pc_pct_decode / pc_pct_encode and
 * pc_num_u64 / pc_num_i64.
 *
 * - pc_pct_decode agrees with a byte-by-byte model (every '%' followed by
 *   two hex digits, no NUL result, no control byte under PC_PCT_NO_CTL, '+'
 *   a space only under PC_PCT_PLUS_SPACE), in an output block of exactly
 *   `cap` bytes (ASan sees any write past it); a failure leaves "" and 0.
 * - pc_pct_encode then pc_pct_decode is the identity for any bytes without
 *   NUL, and the encoding holds only unreserved characters and %XX.
 * - pc_num_u64 / pc_num_i64 agree with a model built on strtoull/strtoll
 *   after the strict checks (digits only, one '-' for negative ranges).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/num.h"
#include "core/pct.h"
#include "fuzz.h"

static int hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* The decode rule, one byte at a time: length, or -1. */
static long model_decode(uint8_t *out, const uint8_t *in, size_t len, unsigned flags)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		if (c == '%') {
			if (len - i < 3)
				return -1;
			int h = hex(in[i + 1]), l = hex(in[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (uint8_t)(h << 4 | l);
			i += 2;
		} else if (c == '+' && (flags & PC_PCT_PLUS_SPACE)) {
			c = ' ';
		}
		if (c == 0 || ((flags & PC_PCT_NO_CTL) && (c < 0x20 || c == 0x7f)))
			return -1;
		out[n++] = c;
	}
	return (long)n;
}

static void check_pct(const uint8_t *data, size_t size)
{
	unsigned flags = size > 0 ? data[0] & 3u : 0;
	const uint8_t *in = size > 0 ? data + 1 : data;
	size_t len = size > 0 ? size - 1 : 0;
	uint8_t *model = malloc(len + 1);
	CHECK(model != NULL);
	long want = model_decode(model, in, len, flags);
	for (size_t cap = want < 0 ? len + 1 : (size_t)want; cap <= (want < 0 ? len + 1 : (size_t)want + 1); cap++) {
		char *out = malloc(cap ? cap : 1);
		CHECK(out != NULL);
		size_t got = 99;
		int rc = pc_pct_decode(out, cap, &got, (const char *)in, len, flags);
		if (want >= 0 && cap > (size_t)want) {
			CHECK(rc == 0 && got == (size_t)want && memcmp(out, model, got) == 0 && out[got] == '\0');
		} else {
			CHECK(rc == -1 && got == 0 && (cap == 0 || out[0] == '\0'));
			CHECK(errno == (want < 0 ? EINVAL : ERANGE));
		}
		free(out);
	}
	free(model);

	/* encode: only unreserved and %XX, and decode gives back the input */
	if (memchr(in, 0, len) == NULL) {
		size_t ecap = 3 * len + 1, elen, dlen;
		char *enc = malloc(ecap), *dec = malloc(len + 1);
		CHECK(enc != NULL && dec != NULL);
		CHECK(pc_pct_encode(enc, ecap, &elen, (const char *)in, len) == 0);
		for (size_t i = 0; i < elen; i++) {
			char c = enc[i];
			CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '.' || c == '_' || c == '~' || c == '%');
		}
		CHECK(pc_pct_decode(dec, len + 1, &dlen, enc, elen, 0) == 0 && dlen == len &&
		      memcmp(dec, in, len) == 0);
		if (elen > 0)
			CHECK(pc_pct_encode(enc, elen, &dlen, (const char *)in, len) == -1);
		free(enc);
		free(dec);
	}
}

static void check_num(const uint8_t *data, size_t size)
{
	char buf[64];
	if (size >= sizeof(buf))
		return;
	memcpy(buf, data, size);
	buf[size] = '\0';
	bool digits = size > 0, neg = size > 0 && buf[0] == '-';
	for (size_t i = neg; i < size; i++)
		digits = digits && buf[i] >= '0' && buf[i] <= '9';
	digits = digits && size > (size_t)neg;

	uint64_t u;
	int rc = pc_num_u64(&u, buf, size, 0, UINT64_MAX);
	if (!digits || neg) {
		CHECK(rc == -1 && u == 0);
	} else {
		errno = 0;
		unsigned long long ref = strtoull(buf, NULL, 10);
		CHECK(errno == ERANGE ? rc == -1 : rc == 0 && u == ref);
	}
	int64_t v;
	rc = pc_num_i64(&v, buf, size, INT64_MIN, INT64_MAX);
	if (!digits) {
		CHECK(rc == -1 && v == 0);
	} else {
		errno = 0;
		long long ref = strtoll(buf, NULL, 10);
		CHECK(errno == ERANGE ? rc == -1 : rc == 0 && v == ref);
		/* a bound excludes exactly what lies outside it */
		if (errno != ERANGE) {
			int64_t w;
			CHECK((pc_num_i64(&w, buf, size, -1000, 1000) == 0) == (ref >= -1000 && ref <= 1000));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_pct(data, size);
	check_num(data, size);
	return 0;
}
