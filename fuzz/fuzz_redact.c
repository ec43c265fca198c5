/*
 * fuzz_redact.c — libFuzzer target for the log guard, pc_redact
 * (core/redact.h). The first byte picks the mode (JSON or raw); the rest is
 * the line.
 *
 * The model is written from redact.h's description, not from redact.c: it
 * cuts the text into units (an escape whole, else one byte), words are runs
 * of single-byte units of the base64url alphabet (looked up by strchr), '.'
 * splits segments, and the formats are checked by their definitions (the
 * API key by auth/apikey.c's own parser). Checked:
 * - bounds: the output fits PC_REDACT_CAP(n) in a block of exactly that
 *   size, and at a capacity taken from the input either fits or is refused
 *   (cap + 1), never written past (ASan);
 * - after redaction no recognised credential remains: no word of the output
 *   is a format, no JWT shape, and no `password=`, `token=`, `secret=`,
 *   `cookie=`, `authorization=` is followed by anything but a marker;
 * - nothing to hide, nothing changed: no replacement counted means the
 *   output is the input; and when the input holds no '=', ':' nor "bearer"
 *   (so no field can be named), the output is exactly the model's own
 *   word-by-word redaction;
 * - a line that was JSON is JSON after (jansson parses it);
 * - redacting the output again replaces nothing.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/apikey.h"
#include "core/redact.h"
#include "fuzz.h"

static const char ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int val(unsigned char c)
{
	if (c == 0)
		return -1;
	const char *p = strchr(ALPHA, c);
	return p ? (int)(p - ALPHA) : -1;
}

static bool hexd(unsigned char c)
{
	return c != 0 && strchr("0123456789abcdefABCDEF", c) != NULL;
}

/* the length of the unit at s[i] */
static size_t unit(const unsigned char *s, size_t n, size_t i, bool json)
{
	if (s[i] == '%' && i + 2 < n && hexd(s[i + 1]) && hexd(s[i + 2]))
		return 3;
	if (s[i] != '\\')
		return 1;
	if (!json)
		return i + 3 < n && s[i + 1] == 'x' && hexd(s[i + 2]) && hexd(s[i + 3]) ? 4 : 1;
	if (i + 1 >= n)
		return 1;
	if (s[i + 1] == 'u')
		return i + 5 < n && hexd(s[i + 2]) && hexd(s[i + 3]) && hexd(s[i + 4]) && hexd(s[i + 5]) ? 6 : 2;
	if (s[i + 1] == '\\' && i + 4 < n && s[i + 2] == 'x' && hexd(s[i + 3]) && hexd(s[i + 4]))
		return 5;
	return 2;
}

static bool has_upper_and_lower(const unsigned char *s, size_t n)
{
	int up = 0, lo = 0;
	for (size_t i = 0; i < n; i++) {
		int v = val(s[i]);
		up |= v >= 0 && v < 26;
		lo |= v >= 26 && v < 52;
	}
	return up && lo;
}

/* canonical: the value of the last character has its low 2 bits clear */
static bool canon(const unsigned char *s, size_t n)
{
	return n > 0 && val(s[n - 1]) % 4 == 0;
}

/* whether the segment s[0..n) (alphabet only) is a credential */
static bool model_word(const unsigned char *s, size_t n)
{
	if (n == 108 && has_upper_and_lower(s, n))
		return true;
	if ((n == 99 || n == 43) && canon(s, n) && has_upper_and_lower(s, n))
		return true;
	if (n == 47 && memcmp(s, "pcr_", 4) == 0 && canon(s, n))
		return true;
	char prefix[PC_APIKEY_PREFIX_LEN + 1];
	return n == PC_APIKEY_LEN && pc_apikey_parse((const char *)s, n, prefix);
}

/* Walks the words of s; for each segment calls visit. Returns false when
 * visit does. A JWT (segment eyJ…, '.', nonempty segment, then '.' and any
 * segment if there is one) is
 * visited as one with jwt = true. */
typedef bool (*visit_fn)(void *ctx, size_t a, size_t b, bool credential);

static bool walk(const unsigned char *s, size_t n, bool json, visit_fn visit, void *ctx)
{
	size_t i = 0;
	while (i < n) {
		size_t u = unit(s, n, i, json);
		bool w = u == 1 && (val(s[i]) >= 0 || s[i] == '.');
		if (!w) {
			if (!visit(ctx, i, i + u, false))
				return false;
			i += u;
			continue;
		}
		size_t j = i;
		while (j < n && (val(s[j]) >= 0 || s[j] == '.'))
			j++;
		/* the run s[i..j), segment by segment */
		size_t a = i;
		for (;;) {
			size_t b = a;
			while (b < j && s[b] != '.')
				b++;
			if (b - a >= 3 && memcmp(s + a, "eyJ", 3) == 0 && b < j) {
				size_t c = b + 1;
				while (c < j && s[c] != '.')
					c++;
				if (c > b + 1) {
					size_t d = c;
					if (c < j) {
						d = c + 1;
						while (d < j && s[d] != '.')
							d++;
					}
					if (!visit(ctx, a, d, true))
						return false;
					if (d == j)
						break;
					if (!visit(ctx, d, d + 1, false))
						return false;
					a = d + 1;
					continue;
				}
			}
			if (!visit(ctx, a, b, model_word(s + a, b - a)))
				return false;
			if (b == j)
				break;
			if (!visit(ctx, b, b + 1, false))
				return false;
			a = b + 1;
		}
		i = j;
	}
	return true;
}

static bool no_credential(void *ctx, size_t a, size_t b, bool credential)
{
	(void)ctx;
	(void)a;
	(void)b;
	return !credential;
}

struct rebuild {
	const unsigned char *s;
	char *out;
	size_t len;
};

static bool rebuild(void *ctx, size_t a, size_t b, bool credential)
{
	struct rebuild *r = ctx;
	if (credential) {
		/* the kind is checked by the unit tests; here only that a marker stands */
		static const char m[] = "[redacted:*]";
		memcpy(r->out + r->len, m, sizeof(m) - 1);
		r->len += sizeof(m) - 1;
	} else {
		memcpy(r->out + r->len, r->s + a, b - a);
		r->len += b - a;
	}
	return true;
}

/* the guard's output with every "[redacted:<kind>]" written "[redacted:*]" */
static size_t generic_markers(char *o, const char *s, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n;) {
		if (n - i >= 10 && memcmp(s + i, "[redacted:", 10) == 0) {
			size_t k = i + 10;
			while (k < n && ((s[k] >= 'a' && s[k] <= 'z') || s[k] == '_'))
				k++;
			if (k < n && s[k] == ']') {
				memcpy(o + len, "[redacted:*]", 12);
				len += 12;
				i = k + 1;
				continue;
			}
		}
		o[len++] = s[i++];
	}
	return len;
}

/* `name=` of a credential field not followed by a marker */
static bool field_left(const unsigned char *s, size_t n, bool json)
{
	static const char *const names[] = {"password", "token", "secret", "cookie", "authorization"};
	size_t i = 0;
	while (i < n) {
		size_t u = unit(s, n, i, json);
		/* a word starts at a word byte or a dot ("x.password" and
		 * ".password" are words of their own, not the name password):
		 * as the guard reads them, once and again */
		if (u != 1 || (val(s[i]) < 0 && s[i] != '.')) {
			i += u;
			continue;
		}
		size_t j = i;
		while (j < n && (val(s[j]) >= 0 || s[j] == '.'))
			j++;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			size_t l = strlen(names[k]);
			if (j - i == l && memcmp(s + i, names[k], l) == 0 && j < n && s[j] == '=' && j + 1 < n) {
				const unsigned char *v = s + j + 1;
				size_t vn = n - j - 1;
				bool ok = (vn >= 10 && memcmp(v, "[redacted:", 10) == 0) || strchr("&; \t#\"\\\n\r", v[0]) != NULL;
				if (v[0] == 0 || !ok)
					return true;
			}
		}
		i = j;
	}
	return false;
}

static bool contains_ci(const uint8_t *s, size_t n, const char *w)
{
	size_t l = strlen(w);
	for (size_t i = 0; i + l <= n; i++)
		if (strncasecmp((const char *)s + i, w, l) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	if (sodium_init() < 0)
		abort();
	bool json = data[0] & 1;
	unsigned flags = json ? PC_REDACT_JSON : 0;
	const uint8_t *in = data + 1;
	size_t n = size - 1;

	size_t cap = PC_REDACT_CAP(n);
	char *out = malloc(cap);
	CHECK(out != NULL);
	uint32_t counts[PC_REDACT_KIND_N] = {0};
	size_t len = pc_redact(out, cap, (const char *)in, n, flags, counts);
	CHECK(len <= cap);
	uint64_t total = 0;
	for (int k = 0; k < PC_REDACT_KIND_N; k++)
		total += counts[k];

	/* no recognised credential remains */
	CHECK(walk((const unsigned char *)out, len, json, no_credential, NULL));
	CHECK(!field_left((const unsigned char *)out, len, json));

	/* nothing to hide, nothing changed */
	if (total == 0)
		CHECK(len == n && memcmp(out, in, n) == 0);
	if (memchr(in, '=', n) == NULL && memchr(in, ':', n) == NULL && !contains_ci(in, n, "bearer")) {
		char *want = malloc(cap), *got = malloc(cap);
		CHECK(want != NULL && got != NULL);
		struct rebuild r = {.s = in, .out = want};
		walk(in, n, json, rebuild, &r);
		size_t gl = generic_markers(got, out, len);
		CHECK(gl == r.len && memcmp(got, want, gl) == 0);
		free(want);
		free(got);
	}

	/* JSON stays JSON */
	json_error_t e;
	json_t *j = json_loadb((const char *)in, n, JSON_DECODE_ANY, &e);
	if (j != NULL) {
		json_decref(j);
		j = json_loadb(out, len, JSON_DECODE_ANY, &e);
		CHECK(j != NULL);
		json_decref(j);
	}

	/* once is enough */
	char *again = malloc(PC_REDACT_CAP(len));
	CHECK(again != NULL);
	uint32_t c2[PC_REDACT_KIND_N] = {0};
	size_t l2 = pc_redact(again, PC_REDACT_CAP(len), out, len, flags, c2);
	CHECK(l2 == len && memcmp(again, out, len) == 0);
	free(again);

	/* a capacity from the input: fits, or refused without a write past it */
	size_t small = n > 0 ? in[0] % (n + 1) : 0;
	char *s = malloc(small + 1);
	CHECK(s != NULL);
	size_t ls = pc_redact(s, small, (const char *)in, n, flags, NULL);
	CHECK(ls <= small || ls == small + 1);
	if (ls <= small)
		CHECK(ls == len && memcmp(s, out, len) == 0);
	free(s);
	free(out);
	return 0;
}
