/*
 * fuzz_form_input.c — libFuzzer target for the form-body parser of the
 * OAuth endpoints, pc_input_form_parse() (RFC 6749 3.2 semantics over
 * application/x-www-form-urlencoded: revoke, introspect).
 *
 * The whole input is the body, parsed against the fields of
 * POST /api/v1/auth/introspect with small bounds (token: a secret of at most
 * 24 bytes; token_type_hint: a string of at most 8), so the length limits
 * are reached often.
 *
 * Invariants:
 * - the status is 0 or 400 (500 only when out of memory, which libFuzzer's
 *   allocator does not simulate here: never);
 * - success exactly when an independent model of the documented rules says
 *   so, for every body whose escapes are well-formed and whose names decode
 *   to at most 63 bytes (the model's domain; outside it, only the other
 *   invariants);
 * - on success the values equal the model's decoding, hold no NUL or
 *   control byte, fit their bounds; the secret lives in its own buffer;
 * - every secret buffer is freed on every path (pc_secret_live() back to 0).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "api/input.h"
#include "core/arena.h"
#include "fuzz.h"

static const struct pc_field fields[] = {
	{"token", PC_F_SECRET, true, 24},
	{"token_type_hint", PC_F_STRING, false, 8},
};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes in[0..n) into out (cap): 1 ok, 0 a bad escape, -1 outside the
 * model (never for values: their cap is the body's size). ctl: whether a
 * control byte or NUL appeared (raw or decoded). */
static int model_decode(char *out, size_t cap, size_t *len, const uint8_t *in, size_t n, bool *ctl)
{
	size_t o = 0;
	*ctl = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = in[i];
		if (c == '%') {
			if (i + 2 >= n || hexval(in[i + 1]) < 0 || hexval(in[i + 2]) < 0)
				return 0;
			c = (unsigned char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f)
			*ctl = true;
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*len = o;
	return 1;
}

struct model {
	bool in_domain, ok;
	bool present[2];
	char val[2][4096];
	size_t len[2];
};

static void run_model(struct model *m, const uint8_t *body, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->in_domain = true;
	m->ok = false;
	if (n == 0)
		return;
	bool given[2] = {false, false};
	bool bad = false;
	size_t start = 0;
	for (;;) {
		size_t end = start;
		while (end < n && body[end] != '&')
			end++;
		size_t eq = start;
		while (eq < end && body[eq] != '=')
			eq++;
		if (end == start || eq == end || eq == start)
			return; /* malformed pair: 400 */
		char name[64];
		size_t nl = 0;
		bool ctl = false;
		int d = model_decode(name, sizeof(name), &nl, body + start, eq - start, &ctl);
		if (d <= 0) {
			m->in_domain = false; /* the parser's order of checks decides */
			return;
		}
		if (ctl)
			return; /* a control byte in a name: 400 */
		int f = -1;
		for (int i = 0; i < 2; i++)
			if (strlen(fields[i].name) == nl && memcmp(fields[i].name, name, nl) == 0)
				f = i;
		if (f >= 0) {
			if (given[f])
				return; /* given twice: 400 */
			given[f] = true;
			size_t vl = end - eq - 1;
			if (vl > 0) {
				if (vl > 3 * fields[f].max_len)
					return; /* too long even before decoding */
				char tmp[4096];
				size_t dl = 0;
				d = model_decode(tmp, sizeof(tmp), &dl, body + eq + 1, vl, &ctl);
				if (d == 0 || ctl || dl > fields[f].max_len)
					bad = true;
				if (d == 1 && !bad) {
					memcpy(m->val[f], tmp, dl + 1);
					m->len[f] = dl;
					m->present[f] = true;
				}
				if (bad)
					return;
			}
		}
		if (end == n)
			break;
		start = end + 1;
	}
	m->ok = m->present[0]; /* token is required */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		CHECK(sodium_init() >= 0);
		ready = true;
	}
	if (size > 4000)
		return 0;
	struct pc_arena arena;
	struct pc_input in;
	char detail[160];
	pc_arena_init(&arena);
	int st = pc_input_form_parse(&arena, (const char *)data, size, fields, 2, &in, detail, sizeof(detail));
	CHECK(st == 0 || st == 400);
	struct model m;
	run_model(&m, data, size);
	if (m.in_domain)
		CHECK((st == 0) == m.ok);
	if (st == 0) {
		for (int i = 0; i < 2; i++) {
			CHECK(in.present[i] == (in.v[i].str.s != NULL));
			if (!in.present[i])
				continue;
			const char *s = in.v[i].str.s;
			size_t len = in.v[i].str.len;
			CHECK(len <= fields[i].max_len && strlen(s) == len);
			for (size_t k = 0; k < len; k++)
				CHECK((unsigned char)s[k] >= 0x20 && (unsigned char)s[k] != 0x7f);
			if (m.in_domain)
				CHECK(m.present[i] && m.len[i] == len && memcmp(m.val[i], s, len) == 0);
		}
		CHECK(in.owned[0]);
		CHECK(pc_secret_live() == 1);
		pc_input_wipe(&in);
	} else {
		CHECK(strlen(detail) > 0);
	}
	CHECK(pc_secret_live() == 0);
	pc_arena_reset(&arena);
	return 0;
}
