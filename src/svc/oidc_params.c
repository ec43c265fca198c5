/*
 * oidc_params.c — the /authorize query string (OIDC Core §3.1.2.1, RFC 6749
 * §3.1) into struct pc_oidc_authz, and scope lists. Pure functions over
 * core/: fuzzed by fuzz/fuzz_oidc_params.c against an independent model.
 *
 * Each known parameter at most once (a duplicate is refused, RFC 6749
 * §3.1); a parameter without a value counts as omitted; unknown parameters
 * are ignored; values are percent-decoded strictly ('+' is a space; a bad
 * escape, NUL or control byte refuses the request) and must fit their
 * field (too long refuses, never truncates).
 */
#include <errno.h>
#include <string.h>

#include "core/num.h"
#include "core/pct.h"
#include "core/text.h"
#include "svc/oidc.h"

struct param {
	const char *name;
	size_t off, cap;
};

#define P(n, f) {n, offsetof(struct pc_oidc_authz, f), sizeof(((struct pc_oidc_authz *)0)->f)}
static const struct param params[] = {
	P("response_type", response_type),
	P("client_id", client_id),
	P("redirect_uri", redirect_uri),
	P("scope", scope),
	P("state", state),
	P("nonce", nonce),
	P("code_challenge", code_challenge),
	P("code_challenge_method", code_challenge_method),
	P("prompt", prompt),
	P("acr_values", acr_values),
	P("request", request),
	P("request_uri", request),
	{"max_age", 0, 0},
	{"pc_login", 0, 0},
};
#undef P
#define N_PARAMS (sizeof(params) / sizeof(params[0]))

/* A decimal in 0..10^10 (strict: digits only). */
static int small_int(int64_t *out, const char *s, size_t n)
{
	*out = 0;
	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*out = *out * 10 + (s[i] - '0');
	}
	return 0;
}

int pc_oidc_authz_parse(struct pc_oidc_authz *out, const char *q, size_t len, const char **bad)
{
	memset(out, 0, sizeof(*out));
	out->max_age = -1;
	*bad = NULL;
	bool seen[N_PARAMS] = {false};
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && q[end] != '&')
			end++;
		const char *pair = q + i;
		size_t plen = end - i;
		i = end + 1;
		if (plen == 0)
			continue;
		const char *eq = memchr(pair, '=', plen);
		size_t nlen = eq != NULL ? (size_t)(eq - pair) : plen;
		const char *val = eq != NULL ? eq + 1 : pair + plen;
		size_t vlen = eq != NULL ? plen - nlen - 1 : 0;
		size_t k = 0;
		for (; k < N_PARAMS; k++)
			if (strlen(params[k].name) == nlen && memcmp(params[k].name, pair, nlen) == 0)
				break;
		if (k == N_PARAMS)
			continue; /* unknown: ignored */
		if (vlen == 0)
			continue; /* no value: omitted */
		if (seen[k]) {
			*bad = params[k].name;
			return -1;
		}
		seen[k] = true;
		char tmp[PC_OIDC_URI_MAX + 1];
		size_t cap = params[k].cap != 0 ? params[k].cap : 16;
		if (cap > sizeof(tmp))
			cap = sizeof(tmp);
		size_t dlen = 0;
		if (pc_pct_decode(tmp, cap, &dlen, val, vlen, PC_PCT_PLUS_SPACE | PC_PCT_NO_CTL) != 0) {
			*bad = params[k].name;
			return -1;
		}
		if (params[k].cap != 0) {
			if (!pc_utf8_valid(tmp, dlen)) { /* a string parameter is text: nonce and state go into JSON */
				*bad = params[k].name;
				return -1;
			}
			memcpy((char *)out + params[k].off, tmp, dlen + 1);
			if (strcmp(params[k].name, "client_id") == 0)
				out->has_client_id = true;
			else if (strcmp(params[k].name, "redirect_uri") == 0)
				out->has_redirect_uri = true;
			else if (strcmp(params[k].name, "state") == 0)
				out->has_state = true;
		} else {
			int64_t v = 0;
			if (small_int(&v, tmp, dlen) != 0) {
				*bad = params[k].name;
				return -1;
			}
			if (strcmp(params[k].name, "max_age") == 0)
				out->max_age = v;
			else
				out->login_at = v;
		}
	}
	/* request and request_uri share one field (the later wins): either
	 * one makes pc_oidc_authorize refuse the request */
	return 0;
}

/* Whether the space separated list has the token t[0..n). */
static bool has_token(const char *list, const char *t, size_t n)
{
	const char *p = list;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e != '\0' && *e != ' ')
			e++;
		if ((size_t)(e - p) == n && n > 0 && memcmp(p, t, n) == 0)
			return true;
		p = e;
	}
	return false;
}

bool pc_oidc_scopes_within(const char *s, const char *allowed)
{
	size_t len = strlen(s);
	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
		return false;
	const char *p = s;
	while (*p != '\0') {
		const char *e = p;
		while (*e != '\0' && *e != ' ')
			e++;
		if (e == p || !has_token(allowed, p, (size_t)(e - p)))
			return false; /* an empty token (two spaces) or one not allowed */
		p = *e == ' ' ? e + 1 : e;
		if (*p == '\0' && *e == ' ')
			return false;
	}
	return true;
}
