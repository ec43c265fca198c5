/*
 * fuzz_oidc_params.c — libFuzzer target for the OpenID Connect request
 * parameters: the /oidc/authorize query (pc_oidc_authz_parse), scope lists
 * (pc_oidc_scopes_within) and the /oidc/token form (pc_input_form_parse
 * with the token endpoint's fields).
 *
 * - pc_oidc_authz_parse agrees with an independent model: split on '&',
 *   the name before the first '=', known names only, an empty value is
 *   omitted, a known name twice refuses, values percent-decoded ('+' a
 *   space, no NUL or control byte) and fitting their field, max_age and
 *   pc_login 1..10 digits, string values well-formed UTF-8; on success every field equals the model's.
 * - pc_oidc_scopes_within agrees with a model over single-space separated
 *   tokens, and a list is always within itself when it is well formed.
 * - the token form: every value present is within its max_len and holds
 *   no control byte; no secret is left in the struct after wiping.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/docs.h"
#include "api/input.h"
#include "svc/oidc.h"
#include "fuzz.h"

static int hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* percent-decoding with '+' as space, no NUL or control byte: length or -1 */
static long decode(char *out, const char *in, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)in[i];
		if (c == '%') {
			if (len - i < 3 || hex((uint8_t)in[i + 1]) < 0 || hex((uint8_t)in[i + 2]) < 0)
				return -1;
			c = (uint8_t)(hex((uint8_t)in[i + 1]) << 4 | hex((uint8_t)in[i + 2]));
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return (long)n;
}

/* well-formed UTF-8 by the table of RFC 3629 section 4 (byte ranges, not
 * code points: a second derivation from the one in core/text.c) */
static bool utf8_model(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t l = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		if (l == 0 || n - i < l)
			return false;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		for (size_t k = 1; k < l; k++)
			if (s[i + k] < (k == 1 ? lo : 0x80) || s[i + k] > (k == 1 ? hi : 0xbf))
				return false;
		i += l;
	}
	return true;
}

struct mfield {
	const char *name;
	size_t cap; /* bytes with the NUL; 0: a number */
	char val[600];
	bool seen;
};

static bool model(struct mfield *f, size_t nf, int64_t *max_age, int64_t *login, const char *q, size_t len)
{
	*max_age = -1;
	*login = 0;
	const char *p = q, *end = q + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		size_t nl = eq ? (size_t)(eq - p) : (size_t)(pe - p);
		const char *v = eq ? eq + 1 : pe;
		size_t vl = (size_t)(pe - v);
		for (size_t k = 0; k < nf; k++) {
			if (strlen(f[k].name) != nl || memcmp(f[k].name, p, nl) != 0 || vl == 0)
				continue;
			if (f[k].seen)
				return false;
			f[k].seen = true;
			char tmp[2048];
			long d = vl < sizeof(tmp) ? decode(tmp, v, vl) : -1;
			size_t cap = f[k].cap ? f[k].cap : 16;
			if (cap > PC_OIDC_URI_MAX + 1)
				cap = PC_OIDC_URI_MAX + 1;
			if (d < 0 || (size_t)d + 1 > cap)
				return false;
			if (f[k].cap == 0) {
				if (d == 0 || d > 10)
					return false;
				int64_t x = 0;
				for (long i = 0; i < d; i++) {
					if (tmp[i] < '0' || tmp[i] > '9')
						return false;
					x = x * 10 + (tmp[i] - '0');
				}
				if (strcmp(f[k].name, "max_age") == 0)
					*max_age = x;
				else
					*login = x;
			} else {
				if (!utf8_model((const uint8_t *)tmp, (size_t)d))
					return false;
				/* request and request_uri share one field: the later wins */
				memcpy(strcmp(f[k].name, "request_uri") == 0 ? f[k - 1].val : f[k].val, tmp, (size_t)d + 1);
			}
		}
		p = pe + 1;
	}
	return true;
}

static void check_authz(const uint8_t *data, size_t size)
{
	struct pc_oidc_authz a;
	const char *bad = NULL;
	int rc = pc_oidc_authz_parse(&a, (const char *)data, size, &bad);
	struct mfield f[] = {
		{"response_type", sizeof(a.response_type), "", false},
		{"client_id", sizeof(a.client_id), "", false},
		{"redirect_uri", sizeof(a.redirect_uri), "", false},
		{"scope", sizeof(a.scope), "", false},
		{"state", sizeof(a.state), "", false},
		{"nonce", sizeof(a.nonce), "", false},
		{"code_challenge", sizeof(a.code_challenge), "", false},
		{"code_challenge_method", sizeof(a.code_challenge_method), "", false},
		{"prompt", sizeof(a.prompt), "", false},
		{"acr_values", sizeof(a.acr_values), "", false},
		{"request", sizeof(a.request), "", false},
		{"request_uri", sizeof(a.request), "", false},
		{"max_age", 0, "", false},
		{"pc_login", 0, "", false},
	};
	int64_t max_age, login;
	bool ok = model(f, sizeof(f) / sizeof(f[0]), &max_age, &login, (const char *)data, size);
	CHECK(ok == (rc == 0));
	if (!ok) {
		CHECK(bad != NULL);
		return;
	}
	const char *got[] = {a.response_type, a.client_id, a.redirect_uri, a.scope, a.state, a.nonce,
	                     a.code_challenge, a.code_challenge_method, a.prompt, a.acr_values};
	for (size_t k = 0; k < 10; k++)
		CHECK(strcmp(got[k], f[k].val) == 0);
	CHECK(strcmp(a.request, f[10].val) == 0);
	CHECK(a.max_age == max_age && a.login_at == login);
	CHECK(a.has_client_id == f[1].seen && a.has_redirect_uri == f[2].seen && a.has_state == f[4].seen);
}

/* the scope model: tokens separated by exactly one space */
static bool model_within(const char *s, const char *allowed)
{
	size_t n = strlen(s);
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || strstr(s, "  ") != NULL)
		return false;
	char buf[300];
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n + 1);
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
		bool found = false;
		char ab[300];
		snprintf(ab, sizeof(ab), "%s", allowed);
		for (char *s2 = NULL, *u = strtok_r(ab, " ", &s2); u != NULL; u = strtok_r(NULL, " ", &s2))
			found |= strcmp(t, u) == 0;
		if (!found)
			return false;
	}
	return true;
}

static void check_scopes(const uint8_t *data, size_t size)
{
	char s[260];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	memcpy(s, data, n);
	s[n] = '\0';
	if (strlen(s) != n)
		return;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f')
			return; /* strtok_r would split on nothing but ' ' anyway; keep the model simple */
	CHECK(pc_oidc_scopes_within(s, PC_OIDC_SCOPES_SUPPORTED) == model_within(s, PC_OIDC_SCOPES_SUPPORTED));
	if (model_within(s, s))
		CHECK(pc_oidc_scopes_within(s, s));
}


static void check_token_form(const uint8_t *data, size_t size)
{
	struct pc_arena arena;
	pc_arena_init(&arena);
	struct pc_input in;
	char detail[160];
	const struct pc_field *token_fields = pc_api_fields_oidc_token.f; /* the endpoint's own table */
	int rc = pc_input_form_parse(&arena, (const char *)data, size, token_fields, pc_api_fields_oidc_token.n, &in, detail,
	                             sizeof(detail));
	if (rc != 0) {
		pc_arena_reset(&arena);
		CHECK(pc_secret_live() == 0);
		return;
	}
	for (size_t i = 0; i < pc_api_fields_oidc_token.n; i++) {
		if (!in.present[i])
			continue;
		CHECK(in.v[i].str.len <= token_fields[i].max_len);
		for (size_t j = 0; j < in.v[i].str.len; j++)
			CHECK((uint8_t)in.v[i].str.s[j] >= 0x20 && (uint8_t)in.v[i].str.s[j] != 0x7f);
	}
	pc_input_wipe(&in);
	pc_arena_reset(&arena);
	CHECK(pc_secret_live() == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		fuzz_sodium_init();
		ready = true;
	}
	if (size > 8192)
		return 0;
	check_authz(data, size);
	check_scopes(data, size);
	check_token_form(data, size);
	return 0;
}
