/*
 * fuzz_path.c — libFuzzer target for the forwarded path and host
 * normalisers (src/authz/path.c), each compared with a second, deliberately
 * naive model written from path.h's rules:
 *
 * - path: decode every escape into (byte, was-escaped) pairs, refuse on the
 *   forbidden set, split the decoded bytes on raw "/", check the segments,
 *   check the decoded bytes are UTF-8, then re-encode: unreserved bytes raw,
 *   bytes that were raw stay raw, the rest as upper-case %HH. The verdict and
 *   the output must be the model's, and the output must be a fixed point.
 * - host: lower-case, split the port off at the only ":", check labels one by
 *   one (or inet_pton/inet_ntop for a bracketed literal).
 * - the /verify query (pc_access_query_parse): split on "&", then on the
 *   first "=", decode, split groups on ","; same verdict, policy and groups.
 * The whole input goes to all three.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz/access.h"
#include "authz/path.h"
#include "core/text.h"
#include "fuzz.h"

static bool is_unreserved(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

static bool is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint8_t hex_of(uint8_t c)
{
	return (uint8_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}

/* RFC 3986 pchar without pct-encoded, written out as a set. */
static bool in_set(uint8_t c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

#define SUB_DELIMS_NO_SEMI "!$&'()*+,="

static int model_path(char *out, size_t *olen, const uint8_t *d, size_t n)
{
	if (n > PC_AUTHZ_PATH_MAX)
		return PC_NORM_TOO_LONG;
	if (n == 0 || d[0] != '/')
		return PC_NORM_AMBIGUOUS;
	size_t end = n;
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '?') {
			end = i;
			break;
		}
	}
	/* the query: pchar / "/" / "?" with well-formed escapes */
	for (size_t i = end + 1; i < n; i++) {
		if (d[i] == '%') {
			if (i + 2 >= n || !is_hex(d[i + 1]) || !is_hex(d[i + 2]))
				return PC_NORM_AMBIGUOUS;
			i += 2;
		} else if (!is_unreserved(d[i]) && !in_set(d[i], SUB_DELIMS_NO_SEMI ";:@/?")) {
			return PC_NORM_AMBIGUOUS;
		}
	}
	/* decode everything */
	uint8_t *b = malloc(end + 1);
	bool *esc = malloc(end + 1);
	CHECK(b != NULL && esc != NULL);
	size_t m = 0;
	int rc = PC_NORM_AMBIGUOUS;
	for (size_t i = 0; i < end; i++) {
		if (d[i] == '%') {
			if (i + 2 >= end || !is_hex(d[i + 1]) || !is_hex(d[i + 2]))
				goto out;
			b[m] = (uint8_t)(hex_of(d[i + 1]) * 16 + hex_of(d[i + 2]));
			esc[m++] = true;
			i += 2;
		} else {
			if (!is_unreserved(d[i]) && !in_set(d[i], SUB_DELIMS_NO_SEMI ":@/"))
				goto out;
			b[m] = d[i];
			esc[m++] = false;
		}
	}
	for (size_t i = 0; i < m; i++) {
		if (esc[i] && (b[i] == '/' || b[i] == '%' || b[i] == '\\' || b[i] == ';'))
			goto out;
		if (b[i] < 0x20 || b[i] == 0x7f)
			goto out;
	}
	if (!pc_utf8_valid((const char *)b, m))
		goto out;
	/* segments between raw slashes; b[0] is the leading "/" */
	size_t start = 1;
	for (size_t i = 1; i <= m; i++) {
		if (i < m && !(b[i] == '/' && !esc[i]))
			continue;
		size_t sl = i - start;
		bool last = i == m;
		if (sl == 0 && !last)
			goto out;
		if ((sl == 1 && b[start] == '.') || (sl == 2 && b[start] == '.' && b[start + 1] == '.'))
			goto out;
		start = i + 1;
	}
	size_t o = 0;
	for (size_t i = 0; i < m; i++) {
		if (!esc[i] || is_unreserved(b[i])) {
			out[o++] = (char)b[i];
		} else {
			out[o++] = '%';
			out[o++] = "0123456789ABCDEF"[b[i] >> 4];
			out[o++] = "0123456789ABCDEF"[b[i] & 15];
		}
	}
	out[o] = '\0';
	*olen = o;
	rc = PC_NORM_OK;
out:
	free(b);
	free(esc);
	return rc;
}

static bool port_ok(const char *s, size_t n)
{
	if (n == 0 || n > 5 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	char buf[6];
	memcpy(buf, s, n);
	buf[n] = '\0';
	long v = strtol(buf, NULL, 10);
	return v >= 1 && v <= 65535;
}

static int model_host(char *out, size_t *olen, const uint8_t *d, size_t n)
{
	if (n > PC_AUTHZ_HOST_IN_MAX)
		return PC_NORM_TOO_LONG;
	if (n == 0)
		return PC_NORM_AMBIGUOUS;
	char low[PC_AUTHZ_HOST_IN_MAX + 1];
	for (size_t i = 0; i < n; i++)
		low[i] = (char)((d[i] >= 'A' && d[i] <= 'Z') ? d[i] + 32 : d[i]);
	low[n] = '\0';
	if (memchr(low, '\0', n) != NULL)
		return PC_NORM_AMBIGUOUS;
	if (low[0] == '[') {
		char *close = strchr(low, ']');
		if (close == NULL)
			return PC_NORM_AMBIGUOUS;
		if (close[1] != '\0' && (close[1] != ':' || !port_ok(close + 2, strlen(close + 2))))
			return PC_NORM_AMBIGUOUS;
		*close = '\0';
		uint8_t a[16];
		char txt[INET6_ADDRSTRLEN];
		if (inet_pton(AF_INET6, low + 1, a) != 1)
			return PC_NORM_AMBIGUOUS;
		CHECK(inet_ntop(AF_INET6, a, txt, sizeof(txt)) != NULL);
		*olen = (size_t)snprintf(out, PC_AUTHZ_HOST_MAX + 1, "[%s]", txt);
		return PC_NORM_OK;
	}
	char *colon = strchr(low, ':');
	if (colon != NULL) {
		if (strchr(colon + 1, ':') != NULL || !port_ok(colon + 1, strlen(colon + 1)))
			return PC_NORM_AMBIGUOUS;
		*colon = '\0';
	}
	size_t nl = strlen(low);
	if (nl == 0 || nl > 253)
		return PC_NORM_AMBIGUOUS;
	/* labels */
	char *save = NULL, copy[PC_AUTHZ_HOST_IN_MAX + 1];
	memcpy(copy, low, nl + 1);
	if (copy[0] == '.' || copy[nl - 1] == '.' || strstr(copy, "..") != NULL)
		return PC_NORM_AMBIGUOUS;
	for (char *l = strtok_r(copy, ".", &save); l != NULL; l = strtok_r(NULL, ".", &save)) {
		size_t ll = strlen(l);
		if (ll == 0 || ll > 63 || l[0] == '-' || l[ll - 1] == '-')
			return PC_NORM_AMBIGUOUS;
		for (size_t i = 0; i < ll; i++) {
			if (!((l[i] >= 'a' && l[i] <= 'z') || (l[i] >= '0' && l[i] <= '9') || l[i] == '-'))
				return PC_NORM_AMBIGUOUS;
		}
	}
	memcpy(out, low, nl + 1);
	*olen = nl;
	return PC_NORM_OK;
}

static bool name_ok(const char *g)
{
	size_t n = strlen(g);
	if (n < 1 || n > 64 || !((g[0] >= 'a' && g[0] <= 'z') || (g[0] >= '0' && g[0] <= '9')))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (!((g[i] >= 'a' && g[i] <= 'z') || (g[i] >= '0' && g[i] <= '9') || strchr("._-", g[i]) != NULL))
			return false;
	}
	return true;
}

/* Returns -1 or 0; on 0 fills policy (1 or 2), groups as one ",a,b,"
 * string, whether a requirement was given and whether redirect=true. */
static int model_query(int *policy, char *groups, int *present, int *redirect, int *csrf, const uint8_t *d,
                       size_t n)
{
	*policy = 1;
	*present = 0;
	*redirect = 0;
	*csrf = 0;
	groups[0] = '\0';
	if (n > PC_AUTHZ_QUERY_MAX)
		return -1;
	if (n == 0)
		return 0;
	char *q = malloc(n + 1);
	CHECK(q != NULL);
	memcpy(q, d, n);
	q[n] = '\0';
	if (memchr(d, '\0', n) != NULL) { /* a raw NUL is not a name or a value byte */
		free(q);
		return -1;
	}
	int rc = -1, seen_g = 0, seen_p = 0, seen_r = 0, seen_c = 0;
	/* strsep keeps empty fields, as "a&&b" must be refused */
	char *rest = q, *param;
	while ((param = strsep(&rest, "&")) != NULL) {
		char *eq = strchr(param, '=');
		if (eq == NULL)
			goto out;
		*eq = '\0';
		char *v = eq + 1, val[PC_AUTHZ_QUERY_MAX + 1];
		size_t vn = 0;
		for (size_t i = 0; v[i]; i++) {
			if (v[i] == '%') {
				if (!is_hex((uint8_t)v[i + 1]) || !is_hex((uint8_t)v[i + 2]))
					goto out;
				val[vn++] = (char)(hex_of((uint8_t)v[i + 1]) * 16 + hex_of((uint8_t)v[i + 2]));
				i += 2;
			} else {
				val[vn++] = v[i];
			}
		}
		if (vn == 0)
			goto out;
		if (strcmp(param, "redirect") == 0 && !seen_r) {
			/* exactly "true", not escaped */
			seen_r = 1;
			if (strcmp(v, "true") != 0)
				goto out;
			*redirect = 1;
		} else if (strcmp(param, "csrf") == 0 && !seen_c) {
			seen_c = 1;
			if (strcmp(v, "token") != 0)
				goto out;
			*csrf = 1;
		} else if (strcmp(param, "policy") == 0 && !seen_p) {
			seen_p = 1;
			if (vn == 10 && memcmp(val, "one_factor", 10) == 0)
				*policy = 1;
			else if (vn == 10 && memcmp(val, "two_factor", 10) == 0)
				*policy = 2;
			else
				goto out;
		} else if (strcmp(param, "group") == 0 && !seen_g) {
			seen_g = 1;
			if (memchr(val, '\0', vn) != NULL)
				goto out;
			val[vn] = '\0';
			size_t count = 0;
			char *gr = val, *g;
			strcat(groups, ",");
			while ((g = strsep(&gr, ",")) != NULL) {
				if (!name_ok(g) || ++count > PC_AUTHZ_MAX_VALUES)
					goto out;
				strcat(groups, g);
				strcat(groups, ",");
			}
		} else {
			goto out;
		}
	}
	*present = seen_g || seen_p;
	rc = 0;
out:
	free(q);
	return rc;
}

static void check_query(const uint8_t *data, size_t size, const char *in)
{
	struct pc_access_query q;
	const char *why = NULL;
	int wp, wpresent, wredirect, wcsrf;
	static char wg[2 * PC_AUTHZ_QUERY_MAX + 4], got[2 * PC_AUTHZ_QUERY_MAX + 4];
	int rc = pc_access_query_parse(&q, &why, in, size);
	int wrc = model_query(&wp, wg, &wpresent, &wredirect, &wcsrf, data, size);
	CHECK(rc == wrc);
	if (rc != 0) {
		CHECK(why != NULL && !q.present && q.n_groups == 0);
		return;
	}
	CHECK(q.present == (wpresent != 0));
	CHECK(q.redirect == (wredirect != 0));
	CHECK(q.csrf_token == (wcsrf != 0));
	CHECK((q.policy == PC_POLICY_TWO_FACTOR ? 2 : 1) == wp);
	got[0] = '\0';
	if (q.n_groups > 0)
		strcat(got, ",");
	for (size_t i = 0; i < q.n_groups; i++) {
		strcat(got, q.groups[i]);
		strcat(got, ",");
	}
	CHECK(strcmp(got, wg) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly sized copy, so ASan sees a read past the end */
	char *in = malloc(size ? size : 1);
	CHECK(in != NULL);
	if (size)
		memcpy(in, data, size);
	size_t cap = size + 1;
	char *out = malloc(cap), *want = malloc(cap);
	CHECK(out != NULL && want != NULL);
	size_t n = 7, wn = 0;
	enum pc_norm rc = pc_authz_path_normalize(out, cap, &n, in, size);
	int wrc = model_path(want, &wn, data, size);
	CHECK((int)rc == wrc);
	if (rc == PC_NORM_OK) {
		CHECK(n == wn && memcmp(out, want, n) == 0 && out[n] == '\0');
		CHECK(n <= size);
		char *again = malloc(n + 1);
		size_t n2;
		CHECK(again != NULL);
		CHECK(pc_authz_path_normalize(again, n + 1, &n2, out, n) == PC_NORM_OK);
		CHECK(n2 == n && memcmp(again, out, n) == 0);
		free(again);
	} else {
		CHECK(n == 0 && out[0] == '\0');
	}

	char h[PC_AUTHZ_HOST_MAX + 1], wh[PC_AUTHZ_HOST_MAX + 1];
	size_t hn = 7, whn = 0;
	rc = pc_authz_host_normalize(h, sizeof(h), &hn, in, size);
	wrc = model_host(wh, &whn, data, size);
	CHECK((int)rc == wrc);
	if (rc == PC_NORM_OK)
		CHECK(hn == whn && memcmp(h, wh, hn) == 0 && h[hn] == '\0');
	else
		CHECK(hn == 0 && h[0] == '\0');
	check_query(data, size, in);
	free(in);
	free(out);
	free(want);
	return 0;
}
