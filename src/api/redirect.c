/*
 * redirect.c — see redirect.h; and GET /api/v1/auth/continue.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/redirect.h"
#include "auth/auth.h"
#include "core/pct.h"

int pc_query_decode(char *out, size_t cap, size_t *out_len, const char *in, size_t len)
{
	return pc_pct_decode(out, cap, out_len, in, len, PC_PCT_PLUS_SPACE);
}

int pc_query_get(struct pc_str query, const char *name, struct pc_str *value)
{
	size_t nl = strlen(name);
	int found = 0;
	const char *p = query.p, *end = query.p ? query.p + query.len : NULL;
	while (p != NULL && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			if (found)
				return -1;
			found = 1;
			value->p = p + nl + 1;
			value->len = (size_t)(stop - p - (ptrdiff_t)nl - 1);
		}
		p = amp ? amp + 1 : end;
	}
	return found;
}

static bool ieq_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

bool pc_redirect_in_cookie_domain(struct pc_str host, const struct pc_config *cfg)
{
	size_t dl = strlen(cfg->cookie_domain);
	size_t hl = host.len;
	const char *colon = memchr(host.p, ':', host.len);
	if (colon != NULL)
		hl = (size_t)(colon - host.p);
	return dl > 0 && (hl == dl || (hl > dl && host.p[hl - dl - 1] == '.')) &&
	       ieq_n(host.p + hl - dl, cfg->cookie_domain, dl);
}

/* Whether the request's Host may stand for "this site". The Host is the
 * client's word, and a proxy that forwards any Host (a catch-all server
 * block, an absolute-form target) would let rd=https://evil/ pass as this
 * site. When the operator has said what the site is, the Host must be
 * part of it: inside PORTCULLIS_COOKIE_DOMAIN (the domain or a subdomain of
 * it), or the host[:port] of a PORTCULLIS_ALLOWED_ORIGINS entry. With
 * neither set, the proxy must pin Host (README: "Deployment behind a proxy"). */
static bool host_is_site(struct pc_str host, const struct pc_config *cfg)
{
	if (host.p == NULL || host.len == 0)
		return false;
	if (cfg->cookie_domain[0] == '\0' && cfg->n_allowed_origins == 0)
		return true;
	if (pc_redirect_in_cookie_domain(host, cfg))
		return true;
	for (size_t i = 0; i < cfg->n_allowed_origins; i++) {
		const char *sep = strstr(cfg->allowed_origins[i], "://");
		if (sep != NULL && strlen(sep + 3) == host.len && ieq_n(sep + 3, host.p, host.len))
			return true;
	}
	return false;
}

bool pc_redirect_allowed(const char *rd, size_t len, struct pc_str host, const struct pc_config *cfg)
{
	if (len == 0 || len > PC_HTTP_MAX_URI_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)rd[i];
		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return false;
	}
	if (rd[0] == '/')
		return len == 1 || rd[1] != '/';
	size_t scheme;
	if (len > 8 && ieq_n(rd, "https://", 8))
		scheme = 8;
	else if (len > 7 && ieq_n(rd, "http://", 7))
		scheme = 7;
	else
		return false; /* "https:evil", "javascript:", "evil.example/..." */
	const char *auth = rd + scheme;
	size_t alen = strcspn(auth, "/?#");
	if (alen == 0 || memchr(auth, '@', alen) != NULL)
		return false; /* userinfo: "https://site@evil" */
	if (host.p != NULL && alen == host.len && ieq_n(auth, host.p, alen) && host_is_site(host, cfg))
		return true;
	/* any host the session cookie reaches (the portal's apps) */
	if (pc_redirect_in_cookie_domain((struct pc_str){auth, alen}, cfg))
		return true;
	size_t olen = scheme + alen;
	for (size_t i = 0; i < cfg->n_allowed_redirects; i++) {
		const char *o = cfg->allowed_redirects[i];
		if (strlen(o) == olen && ieq_n(o, rd, olen))
			return true;
	}
	return false;
}

void pc_api_continue(struct pc_req *r)
{
	struct pc_str v;
	char rd[PC_HTTP_MAX_URI_BYTES + 1];
	size_t n = 0;
	char admin[PC_PATH_PREFIX_MAX + 8];
	snprintf(admin, sizeof(admin), "%s/admin", r->prefix);
	const char *location = admin;
	if (pc_query_get(r->http->query, "rd", &v) == 1 &&
	    pc_query_decode(rd, sizeof(rd), &n, v.p, v.len) == 0 &&
	    pc_redirect_allowed(rd, n, r->http->host, pc_auth_of(r)->cfg))
		location = rd;
	pc_resp_header(r, "Location", location);
	pc_respond_empty(r, 303);
}
