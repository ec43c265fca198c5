/*
 * fuzz_text_escape.c — libFuzzer target for pc_text_escape (core/text.h)
 * and pc_json_escape (core/log.h), the escape every attacker-controlled
 * string (a User-Agent) goes through on its way to the audit trail, the
 * listings and the logs.
 *
 * The model here is written independently of core/text.c: UTF-8 validity
 * from the byte-range table of RFC 3629 section 4 (not by decoding code
 * points), the escape rule from text.h ('\' doubled; NUL and any byte not
 * in a well-formed sequence as \xHH, upper-case hex). Checked:
 * - pc_text_escape equals the model, byte for byte, and returns its length;
 * - the output is well-formed UTF-8 (by the table) without NUL, and the
 *   model's decoder gets the input back, so two inputs never meet;
 * - pc_json_escape equals the model text escaped as a JSON string;
 * - at a capacity taken from the input, into a block of exactly that size
 *   (ASan sees any write past it): the same length returned, and what was
 *   written is a terminated prefix of the model ending between escapes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/text.h"
#include "fuzz.h"

/* RFC 3629 section 4: the length of the well-formed sequence at s, or 0. */
static size_t model_seq(const uint8_t *s, size_t n)
{
	static const struct {
		uint8_t lo[4], hi[4];
		size_t len;
	} rows[] = {
		{{0x00}, {0x7f}, 1},
		{{0xc2, 0x80}, {0xdf, 0xbf}, 2},
		{{0xe0, 0xa0, 0x80}, {0xe0, 0xbf, 0xbf}, 3},
		{{0xe1, 0x80, 0x80}, {0xec, 0xbf, 0xbf}, 3},
		{{0xed, 0x80, 0x80}, {0xed, 0x9f, 0xbf}, 3},
		{{0xee, 0x80, 0x80}, {0xef, 0xbf, 0xbf}, 3},
		{{0xf0, 0x90, 0x80, 0x80}, {0xf0, 0xbf, 0xbf, 0xbf}, 4},
		{{0xf1, 0x80, 0x80, 0x80}, {0xf3, 0xbf, 0xbf, 0xbf}, 4},
		{{0xf4, 0x80, 0x80, 0x80}, {0xf4, 0x8f, 0xbf, 0xbf}, 4},
	};
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		if (rows[r].len > n)
			continue;
		bool ok = true;
		for (size_t i = 0; i < rows[r].len && ok; i++)
			ok = s[i] >= rows[r].lo[i] && s[i] <= rows[r].hi[i];
		if (ok)
			return rows[r].len;
	}
	return 0;
}

static const char HEX[] = "0123456789ABCDEF";

/* The escape; ends[] marks where each escape unit ends in the output. */
static size_t model_escape(char *out, bool *ends, const uint8_t *in, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t l = model_seq(in + i, n - i);
		if (in[i] == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
			i++;
		} else if (in[i] == 0 || l == 0) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = HEX[in[i] >> 4];
			out[o++] = HEX[in[i] & 15];
			i++;
		} else {
			memcpy(out + o, in + i, l);
			o += l;
			i += l;
		}
		ends[o] = true;
	}
	return o;
}

static int hexval(char c)
{
	const char *p = c ? strchr(HEX, c) : NULL;
	return p ? (int)(p - HEX) : -1;
}

/* "\\" -> '\', "\xHH" -> byte, else itself; -1 when malformed. */
static long model_unescape(uint8_t *out, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[o++] = (uint8_t)s[i];
		} else if (i + 1 < n && s[i + 1] == '\\') {
			out[o++] = '\\';
			i++;
		} else if (i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
			out[o++] = (uint8_t)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
			i += 3;
		} else {
			return -1;
		}
	}
	return (long)o;
}

/* JSON string contents (RFC 8259 section 7) of already-escaped text, the
 * way core/log.c writes them: '"' and '\' escaped, C0 and DEL as \u00xx. */
static size_t model_json(char *out, const char *t, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)t[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *want = malloc(4 * size + 1);
	bool *ends = calloc(4 * size + 1, sizeof(bool));
	char *got = malloc(PC_TEXT_ESCAPE_CAP(size));
	uint8_t *back = malloc(size + 1);
	char *json_want = malloc(6 * 4 * size + 1);
	char *json_got = malloc(6 * 4 * size + 1);
	CHECK(want && ends && got && back && json_want && json_got);
	ends[0] = true;

	size_t wl = model_escape(want, ends, data, size);
	size_t gl = pc_text_escape(got, PC_TEXT_ESCAPE_CAP(size), (const char *)data, size);
	CHECK(gl == wl && gl < PC_TEXT_ESCAPE_CAP(size));
	CHECK(memcmp(got, want, wl) == 0 && got[wl] == '\0');
	for (size_t i = 0; i < wl;) {
		CHECK(got[i] != '\0');
		size_t l = model_seq((const uint8_t *)got + i, wl - i);
		CHECK(l > 0);
		i += l;
	}
	CHECK(model_unescape(back, got, gl) == (long)size);
	CHECK(size == 0 || memcmp(back, data, size) == 0);

	size_t jw = model_json(json_want, want, wl);
	size_t jg = pc_json_escape(json_got, 6 * 4 * size + 1, (const char *)data, size);
	CHECK(jg == jw && memcmp(json_got, json_want, jw) == 0);

	/* a capacity from the input, into a block of exactly that size */
	size_t cap = size > 0 ? data[0] % (wl + 2) : 0;
	char *small = malloc(cap ? cap : 1);
	CHECK(small != NULL);
	size_t sl = pc_text_escape(small, cap, (const char *)data, size);
	CHECK(sl == wl);
	if (cap > 0) {
		size_t w = strnlen(small, cap);
		CHECK(w < cap);
		CHECK(memcmp(small, want, w) == 0 && ends[w]);
		CHECK(w == wl || w + 4 >= cap); /* stopped only where the next unit did not fit */
	}
	free(small);
	free(want);
	free(ends);
	free(got);
	free(back);
	free(json_want);
	free(json_got);
	return 0;
}
