/*
 * verify.c — GET /api/v1/auth/verify, forward authentication for nginx
 * (auth_request), Traefik (ForwardAuth) and Caddy (forward_auth).
 *
 * The authenticate stage has already turned the forwarded credential —
 * session cookie, bearer JWT or API key — into a principal, on the warm
 * path without a store round trip (JWTs verify in memory; sessions and keys
 * come from the validity cache). Here:
 *   - no principal: 401 (the proxy turns it into a redirect to the login
 *     page); with the original URI (X-Original-URI from nginx,
 *     X-Forwarded-Uri from Traefik/Caddy, from PORTCULLIS_TRUSTED_PROXIES
 *     only) the 401 also carries X-Auth-Redirect: <prefix>/login?rd=<that
 *     URI, percent-encoded> (the prefix this request came in under), or in
 *     portal mode (PORTCULLIS_PUBLIC_URL) the portal's absolute login URL
 *     with the original absolute URL in rd — nginx cannot encode, and a raw
 *     ?rd=$request_uri loses all after its first "&";
 *   - the original method (X-Original-Method from nginx, X-Forwarded-Method
 *     from Traefik/Caddy — believed only from PORTCULLIS_TRUSTED_PROXIES) is
 *     unsafe and the credential is the session cookie: the forwarded
 *     request must pass the same CSRF check as our own API, else 403
 *     (PORTCULLIS_VERIFY_CSRF). Each proxy passes the client's copy of the
 *     other header through, so when both arrive an unsafe one wins;
 *   - otherwise 200 with X-Auth-Method and, for a user, X-Auth-User-Id,
 *     X-Auth-Email, X-Auth-Name (when the user has a display name),
 *     X-Auth-Session, X-Auth-Role, X-Auth-Groups (names
 *     joined by ',', empty when none), or, for an API key (which
 *     authenticates as itself), X-Auth-Key-Id and X-Auth-Key-Name and no
 *     user header; and optionally X-Auth-Assertion, a 60-second JWT
 *     (audience "portcullis-upstream") the app can verify with the JWKS.
 */
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/common.h"
#include "api/redirect.h"
#include "auth/csrf.h"
#include "auth/session.h"
#include "core/log.h"
#include "core/pct.h"
#include "obs/metrics.h"
#include "svc/access.h"
#include "svc/svc.h"

#define ASSERTION_LIFETIME 60
#define ASSERTION_AUDIENCE "portcullis-upstream"

static bool unsafe(struct pc_str m)
{
	return !(pc_str_ieq(m, "GET") || pc_str_ieq(m, "HEAD") || pc_str_ieq(m, "OPTIONS"));
}

/* The forwarded method; NULL when none. nginx sets X-Original-Method and
 * passes a client's X-Forwarded-Method; Traefik and Caddy set
 * X-Forwarded-Method and pass a client's X-Original-Method: an unsafe one
 * wins, so a client cannot talk a forwarded POST down to GET. From a peer
 * that is not a trusted proxy only an unsafe claim counts: it can only make
 * the CSRF check stricter (the access rules never see it). */
static const struct pc_http_header *original_method(const struct pc_req *r)
{
	const struct pc_http_header *o = pc_http_header_get(r->http, "X-Original-Method");
	const struct pc_http_header *f = pc_http_header_get(r->http, "X-Forwarded-Method");
	const struct pc_http_header *m = o == NULL || (f != NULL && !unsafe(o->value)) ? (f != NULL ? f : o) : o;
	if (!r->peer_trusted && (m == NULL || !unsafe(m->value)))
		return NULL;
	return m;
}

/* Whether h[0..n) may stand in a URL we build: a host[:port] of letters,
 * digits, '-', '.', ':' and IPv6 brackets; nothing that could end the
 * authority ('/', '?', '#', '@', '\\') or a header line. */
static bool host_chars_ok(const char *h, size_t n)
{
	if (n == 0 || n > PC_AUTHZ_HOST_IN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.' || c == ':' || c == '[' || c == ']'))
			return false;
	}
	return true;
}

/* The original request's absolute URL, from a trusted proxy only: nginx's
 * X-Original-URL (scheme://host$request_uri), else the scheme, host and
 * URI it forwarded (X-Forwarded-Proto, X-Forwarded-Host or Host,
 * X-Original-URI or X-Forwarded-Uri; Caddy and Traefik send these). The
 * scheme is http or https (https when none is named); no control byte or
 * space anywhere. 0, or -1 when there is none to build. *host gets the
 * host[:port] part. */
static int original_url(const struct pc_req *r, char *out, size_t cap, struct pc_str *host)
{
	if (!r->peer_trusted)
		return -1;
	const struct pc_http_header *full = pc_http_header_get(r->http, "X-Original-URL");
	if (full != NULL) {
		struct pc_str v = full->value;
		size_t sch = v.len > 8 && pc_str_ieq((struct pc_str){v.p, 8}, "https://")  ? 8
		             : v.len > 7 && pc_str_ieq((struct pc_str){v.p, 7}, "http://") ? 7
		                                                                            : 0;
		if (sch == 0 || v.len >= cap)
			return -1;
		size_t hl = 0;
		while (sch + hl < v.len && v.p[sch + hl] != '/')
			hl++;
		if (sch + hl == v.len || !host_chars_ok(v.p + sch, hl))
			return -1;
		for (size_t i = sch + hl; i < v.len; i++) {
			if ((unsigned char)v.p[i] <= 0x20 || (unsigned char)v.p[i] >= 0x7f)
				return -1;
		}
		memcpy(out, v.p, v.len);
		out[v.len] = '\0';
		*host = (struct pc_str){out + sch, hl};
		return 0;
	}
	const struct pc_http_header *u = pc_http_header_get(r->http, "X-Original-URI");
	if (u == NULL)
		u = pc_http_header_get(r->http, "X-Forwarded-Uri");
	const struct pc_http_header *h = pc_http_header_get(r->http, "X-Forwarded-Host");
	struct pc_str hv = h != NULL ? h->value : r->http->host;
	const struct pc_http_header *pr = pc_http_header_get(r->http, "X-Forwarded-Proto");
	const char *scheme = "https";
	if (pr != NULL && pc_str_ieq(pr->value, "http"))
		scheme = "http";
	else if (pr != NULL && !pc_str_ieq(pr->value, "https"))
		return -1;
	if (u == NULL || u->value.len == 0 || u->value.p[0] != '/' || !host_chars_ok(hv.p, hv.len))
		return -1;
	size_t sl = strlen(scheme);
	if (sl + 3 + hv.len + u->value.len >= cap)
		return -1;
	for (size_t i = 0; i < u->value.len; i++) {
		if ((unsigned char)u->value.p[i] <= 0x20 || (unsigned char)u->value.p[i] >= 0x7f)
			return -1;
	}
	int n = snprintf(out, cap, "%s://%.*s%.*s", scheme, (int)hv.len, hv.p, (int)u->value.len, u->value.p);
	*host = (struct pc_str){out + sl + 3, hv.len};
	return n > 0 ? 0 : -1;
}

/* Whether a session cookie set by the portal reaches host[:port]: the
 * portal's own host, or, with PORTCULLIS_COOKIE_DOMAIN, a host inside it. */
static bool cookie_reaches(const struct pc_config *cfg, struct pc_str host)
{
	size_t hl = host.len;
	const char *colon = host.len > 0 && host.p[0] != '[' ? memchr(host.p, ':', host.len) : NULL;
	if (colon != NULL)
		hl = (size_t)(colon - host.p);
	return pc_str_ieq((struct pc_str){host.p, hl}, cfg->public_host) || pc_redirect_in_cookie_domain(host, cfg);
}

/* 401: X-Auth-Redirect, the login page with where to come back to as ?rd=,
 * every byte but unreserved ones percent-encoded (no CR/LF can reach the
 * header, and "&" stays inside rd); none from an untrusted peer, for a URI
 * that is not a path, or one too long to carry (the proxy then sends the
 * browser to the bare login page).
 *   - Portal mode (PORTCULLIS_PUBLIC_URL): the portal's login page,
 *     absolute, with the original absolute URL in rd; for a host the
 *     portal's session cookie cannot reach (outside the cookie domain) the
 *     page is told so (uncovered=1) and explains it instead of looping.
 *   - Otherwise: this site's login page under the prefix the request came
 *     in with (/.portcullis/login, or /login), with the original URI.
 * second: to the login page's second step (a one-factor session that a
 * two_factor rule refused), else to sign in. browser: also as Location (a
 * 302 for ?redirect=true). */
static void login_redirect(struct pc_req *r, bool browser, bool second)
{
	const struct pc_config *cfg = pc_auth_of(r)->cfg;
	bool portal = cfg->public_url[0] != '\0';
	char base[sizeof(cfg->public_url) + PC_PATH_PREFIX_MAX + 32];
	snprintf(base, sizeof(base), "%s/login%s", portal ? cfg->public_url : r->prefix,
	         second ? "?second_factor=1" : "");
	char back[PC_HTTP_MAX_URI_BYTES + PC_AUTHZ_HOST_IN_MAX + 16];
	const char *rd = NULL;
	size_t rd_len = 0;
	bool uncovered = false;
	if (portal) {
		struct pc_str host;
		if (original_url(r, back, sizeof(back), &host) == 0) {
			rd = back;
			rd_len = strlen(back);
			uncovered = !cookie_reaches(cfg, host);
		}
	} else if (r->peer_trusted) {
		const struct pc_http_header *u = pc_http_header_get(r->http, "X-Original-URI");
		if (u == NULL)
			u = pc_http_header_get(r->http, "X-Forwarded-Uri");
		if (u != NULL && u->value.len > 0 && u->value.p[0] == '/') {
			rd = u->value.p;
			rd_len = u->value.len;
		}
	}
	char out[4096];
	size_t n = 0, enc;
	if (rd != NULL) {
		n = (size_t)snprintf(out, sizeof(out), "%s%s%srd=", base, second ? "&" : "?",
		                     uncovered ? "uncovered=1&" : "");
		if (n < sizeof(out) && pc_pct_encode(out + n, sizeof(out) - n, &enc, rd, rd_len) == 0)
			pc_resp_header(r, "X-Auth-Redirect", out);
		else
			rd = NULL;
	}
	if (rd == NULL)
		snprintf(out, sizeof(out), "%s", base);
	if (browser)
		pc_resp_header(r, "Location", out);
}

/* With ?redirect=true (Caddy, Traefik: they pass verify's answer on to the
 * client): a browser's navigation, a forwarded GET or HEAD that accepts
 * HTML, is sent to the login page (302) and shown a page for 403. */
static bool accepts_html(const struct pc_req *r)
{
	const struct pc_http_header *acc = pc_http_header_get(r->http, "Accept");
	if (acc == NULL)
		return false;
	for (size_t i = 0; i + 9 <= acc->value.len; i++) {
		if (pc_str_ieq((struct pc_str){acc->value.p + i, 9}, "text/html"))
			return true;
	}
	return false;
}

static bool browser_navigation(const struct pc_req *r, const struct pc_http_header *m)
{
	if (m != NULL && !pc_str_ieq(m->value, "GET") && !pc_str_ieq(m->value, "HEAD"))
		return false;
	return accepts_html(r);
}

static const char forbidden_page[] =
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
	"content=\"width=device-width\"><title>Not allowed</title></head><body><h1>Not allowed</h1><p>You are "
	"signed in, but your account may not open this page. Ask an administrator for access, or <a "
	"href=\"%s/login\">sign in as someone else</a>.</p></body></html>\n";

static const char refused_page[] =
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
	"content=\"width=device-width\"><title>Request refused</title></head><body><h1>Request refused</h1><p>This "
	"request seems to come from another site, so it was not sent on. If you sent it from this site, go back, "
	"reload the page and try again.</p></body></html>\n";

/* The origin ("scheme://host[:port]") of a Referer value; len 0 if none. */
static struct pc_str referer_origin(struct pc_str ref)
{
	const char *sep = memmem(ref.p, ref.len, "://", 3);
	if (sep == NULL)
		return (struct pc_str){ref.p, 0};
	size_t start = (size_t)(sep + 3 - ref.p), end = start;
	while (end < ref.len && ref.p[end] != '/' && ref.p[end] != '?' && ref.p[end] != '#')
		end++;
	return (struct pc_str){ref.p, end};
}

/* Whether an origin is the app's site: nginx and Caddy pass the app's
 * Host on; Traefik asks with our own Host and names the app's in
 * X-Forwarded-Host. */
static bool app_origin(const struct pc_req *r, struct pc_str origin)
{
	const struct pc_config *cfg = pc_auth_of(r)->cfg;
	const struct pc_http_header *fhost = pc_http_header_get(r->http, "X-Forwarded-Host");
	return pc_csrf_origin_ok(cfg, origin, r->http->host) ||
	       (fhost != NULL && pc_csrf_origin_ok(cfg, origin, fhost->value));
}

/* A forwarded unsafe request with the session cookie. By default it is
 * refused only on the browser's evidence that it comes from another site:
 * Sec-Fetch-Site cross-site, an Origin (or, without one, a Referer) that is
 * not the app's, or Sec-Fetch-Site same-site with no Origin to tell which
 * sibling sent it. SameSite=Strict already keeps the cookie off cross-site
 * requests; this is the defence in depth, and it needs nothing from the
 * app. With csrf=token (an app that sends portcullis' token) the token is
 * required too, as csrf_stage.c requires it of portcullis' own API. 0 or
 * a reason. */
static int forwarded_csrf(const struct pc_req *r, bool token_required, enum pc_csrf_failure *why)
{
	const struct pc_auth *a = pc_auth_of(r);
	const struct pc_http_header *site = pc_http_header_get(r->http, "Sec-Fetch-Site");
	if (site != NULL && pc_str_ieq(site->value, "cross-site")) {
		*why = PC_CSRFF_CROSS_SITE;
		return -1;
	}
	const struct pc_http_header *origin = pc_http_header_get(r->http, "Origin");
	if (origin != NULL && !app_origin(r, origin->value)) {
		*why = PC_CSRFF_FOREIGN_ORIGIN;
		return -1;
	}
	if (origin == NULL) {
		const struct pc_http_header *ref = pc_http_header_get(r->http, "Referer");
		struct pc_str ro = ref != NULL ? referer_origin(ref->value) : (struct pc_str){NULL, 0};
		if (ref != NULL && ro.len > 0 && !app_origin(r, ro)) {
			*why = PC_CSRFF_FOREIGN_ORIGIN;
			return -1;
		}
		if (site != NULL && pc_str_ieq(site->value, "same-site")) {
			*why = PC_CSRFF_CROSS_SITE;
			return -1;
		}
	}
	if (!token_required)
		return 0;
	const struct pc_http_header *hdr = pc_http_header_get(r->http, PC_CSRF_HEADER);
	const struct pc_http_cookie *ck = pc_http_cookie_get(r->http, PC_CSRF_COOKIE);
	if (hdr == NULL || hdr->value.len == 0) {
		*why = PC_CSRFF_MISSING_HEADER;
		return -1;
	}
	if (ck == NULL || ck->value.len == 0) {
		*why = PC_CSRFF_MISSING_COOKIE;
		return -1;
	}
	if (hdr->value.len != ck->value.len || sodium_memcmp(hdr->value.p, ck->value.p, hdr->value.len) != 0) {
		*why = PC_CSRFF_MISMATCH;
		return -1;
	}
	const struct pc_http_cookie *pre = pc_http_cookie_get(r->http, PC_CSRF_PRESESSION_COOKIE);
	switch (pc_csrf_verify(hdr->value.p, hdr->value.len, a->cfg->keys, r->principal->session_id,
	                       pre ? pre->value.p : NULL, pre ? pre->value.len : 0, r->now)) {
	case PC_CSRF_OK:
		return 0;
	case PC_CSRF_EXPIRED:
		*why = PC_CSRFF_EXPIRED;
		return -1;
	case PC_CSRF_WRONG_BINDING:
		*why = PC_CSRFF_WRONG_SESSION;
		return -1;
	default:
		*why = PC_CSRFF_INVALID;
		return -1;
	}
}

static const char *header_value(const struct pc_req *r, const char *name, size_t *len)
{
	const struct pc_http_header *h = pc_http_header_get(r->http, name);
	*len = h != NULL ? h->value.len : 0;
	return h != NULL ? h->value.p : "";
}

/* The access decision for the forwarded request (svc/access.h): the rules
 * file and this URL's own requirements (?group=&policy=). Returns the
 * outcome, or -1 after answering 400 (a query the operator got wrong). A
 * forwarded URL that is ambiguous (dot segments, encoded slashes, ...) is
 * never allowed: LOGIN when anonymous (nginx turns only 401 and 403 into
 * pages; anything else is its 500), DENY when signed in. */
/* Two headers that name the same thing (nginx's X-Original-URI and
 * X-Original-Method, Traefik's and Caddy's X-Forwarded-Uri and
 * X-Forwarded-Method) and disagree: one of them came from the client, which
 * the proxy passed on (auth_request and forward_auth copy every client
 * header), and we cannot tell which. Ambiguous: never allowed. */
static bool forwarded_disagree(const struct pc_req *r)
{
	if (!r->peer_trusted)
		return false;
	static const char *const pairs[][2] = {{"X-Original-URI", "X-Forwarded-Uri"},
	                                       {"X-Original-Method", "X-Forwarded-Method"}};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const struct pc_http_header *a = pc_http_header_get(r->http, pairs[i][0]);
		const struct pc_http_header *b = pc_http_header_get(r->http, pairs[i][1]);
		if (a == NULL || b == NULL)
			continue;
		if (a->value.len != b->value.len)
			return true;
		for (size_t k = 0; k < a->value.len; k++) {
			unsigned char x = (unsigned char)a->value.p[k], y = (unsigned char)b->value.p[k];
			if (i == 1) { /* methods: any case */
				x = (unsigned char)(x >= 'a' && x <= 'z' ? x - 32 : x);
				y = (unsigned char)(y >= 'a' && y <= 'z' ? y - 32 : y);
			}
			if (x != y)
				return true;
		}
	}
	/* nginx's X-Original-URL (the absolute URL, for the portal's rd) must
	 * name the same request as the URI the decision is made on */
	const struct pc_http_header *full = pc_http_header_get(r->http, "X-Original-URL");
	const struct pc_http_header *uri = pc_http_header_get(r->http, "X-Original-URI");
	if (uri == NULL)
		uri = pc_http_header_get(r->http, "X-Forwarded-Uri");
	if (full != NULL && uri != NULL) {
		const char *sep = memmem(full->value.p, full->value.len, "://", 3);
		const char *path = sep != NULL ? memchr(sep + 3, '/', (size_t)(full->value.p + full->value.len - sep - 3))
		                               : NULL;
		size_t pl = path != NULL ? (size_t)(full->value.p + full->value.len - path) : 0;
		if (path == NULL || pl != uri->value.len || memcmp(path, uri->value.p, pl) != 0)
			return true;
	}
	return false;
}

static int decide_or_respond(struct pc_req *r, const struct pc_http_header *m, struct pc_access_decision *d,
                             bool *redirect, bool *csrf_token)
{
	struct pc_access_query q;
	const char *why = "";
	if (pc_access_query_parse(&q, &why, r->http->query.p, r->http->query.len) != 0) {
		char detail[256];
		snprintf(detail, sizeof(detail), "The verify URL's query is not understood: %s.", why);
		pc_respond_problem_kind(r, PC_PROB_INVALID_QUERY, detail);
		return -1;
	}
	*redirect = q.redirect;
	*csrf_token = q.csrf_token;
	/* what the proxy forwarded, from a trusted proxy only (else this
	 * request itself: its Host, "/", GET) */
	struct pc_access_input in = {0};
	in.host = header_value(r, r->peer_trusted ? "X-Forwarded-Host" : "Host", &in.host_len);
	if (in.host_len == 0)
		in.host = header_value(r, "Host", &in.host_len);
	if (r->peer_trusted) {
		in.target = header_value(r, "X-Original-URI", &in.target_len);
		if (in.target_len == 0)
			in.target = header_value(r, "X-Forwarded-Uri", &in.target_len);
	}
	if (m != NULL && r->peer_trusted) {
		in.method = m->value.p;
		in.method_len = m->value.len;
	}
	in.client_addr = r->client_addr;
	char host[PC_AUTHZ_HOST_MAX + 1], path[PC_AUTHZ_PATH_MAX + 1];
	struct pc_ip ip;
	struct pc_access_request req;
	if (in.target_len > PC_AUTHZ_PATH_MAX || forwarded_disagree(r) ||
	    pc_access_forwarded(&req, &ip, host, sizeof(host), path, sizeof(path), &in) != 0) {
		memset(d, 0, sizeof(*d));
		d->outcome = r->principal == NULL ? PC_ACCESS_LOGIN : PC_ACCESS_DENY;
		d->ambiguous = true;
		pc_metrics_access(PC_ACCESS_POLICIES - 1, (unsigned)d->outcome);
		return (int)d->outcome;
	}
	struct pc_access_subject sub;
	const char *names[PC_USER_GROUPS_MAX];
	char buf[PC_USER_GROUPS_TEXT + 1];
	pc_access_subject_of(&sub, r->principal, names, buf, sizeof(buf));
	return (int)pc_access_decide_now(d, &pc_svc_of(r)->access, q.present ? &q : NULL, &req, &sub);
}

void pc_api_verify(struct pc_req *r)
{
	const struct pc_principal *p = r->principal;
	const struct pc_auth *a = pc_auth_of(r);
	const struct pc_http_header *m = original_method(r);
	struct pc_access_decision d;
	bool redirect = false, csrf_token = false;
	int o = decide_or_respond(r, m, &d, &redirect, &csrf_token);
	if (o < 0)
		return;
	bool browser = redirect && browser_navigation(r, m);
	if (o == PC_ACCESS_ALLOW && d.bypass) {
		/* allowed without signing in: no identity reaches the app */
		pc_respond_empty(r, 200);
		return;
	}
	if (o == PC_ACCESS_DENY && browser) {
		/* the link: the portal's login page, or this site's under the prefix
		 * (both checked characters: nothing to escape in HTML) */
		char page[sizeof(forbidden_page) + sizeof(a->cfg->public_url) + PC_PATH_PREFIX_MAX];
		int n = snprintf(page, sizeof(page), forbidden_page,
		                 a->cfg->public_url[0] != '\0' ? a->cfg->public_url : r->prefix);
		pc_resp_header(r, "Cache-Control", "no-store");
		pc_respond(r, 403, "text/html; charset=utf-8", page, (size_t)n);
		return;
	}
	if (o == PC_ACCESS_DENY) {
		pc_respond_problem(r, 403, d.ambiguous ? "The forwarded host or path is ambiguous (dot segments, "
		                                         "encoded slashes, backslashes, path parameters, control "
		                                         "bytes, bad escapes, or letter case that would change "
		                                         "the decision)."
		                                       : "Access to this resource is not allowed.");
		return;
	}
	if (o == PC_ACCESS_LOGIN || o == PC_ACCESS_SECOND_FACTOR || p == NULL) {
		login_redirect(r, browser, o == PC_ACCESS_SECOND_FACTOR && p != NULL);
		if (browser) {
			pc_respond_empty(r, 302);
			return;
		}
		pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
		pc_respond_problem(r, 401, o == PC_ACCESS_SECOND_FACTOR && p != NULL
		                               ? "A second factor is required: sign in again with your password and code."
		                               : "Authentication is required.");
		return;
	}
	if (a->cfg->verify_csrf && m != NULL && unsafe(m->value) && p->method == PC_AUTH_SESSION) {
		enum pc_csrf_failure why;
		if (forwarded_csrf(r, csrf_token, &why) != 0) {
			pc_metrics_csrf_failure(why);
			struct pc_logline l;
			pc_logline_begin(&l, "warn", "forwarded_csrf_refused");
			pc_logline_str(&l, "reason", pc_metrics_csrf_failure_name(why));
			pc_logline_str(&l, "request_id", r->request_id);
			pc_logline_emit(&l);
			/* a refused form post is a page load too (any method) */
			if (redirect && accepts_html(r)) {
				pc_resp_header(r, "Cache-Control", "no-store");
				pc_respond(r, 403, "text/html; charset=utf-8", refused_page, sizeof(refused_page) - 1);
				return;
			}
			char detail[160];
			snprintf(detail, sizeof(detail), "The forwarded request failed the CSRF check (%s).",
			         pc_metrics_csrf_failure_name(why));
			pc_respond_problem_kind(r, PC_PROB_CSRF_FAILED, detail);
			return;
		}
	}
	pc_resp_header(r, "X-Auth-Method", pc_auth_method_name(p->method));
	if (p->method == PC_AUTH_API_KEY) {
		/* a key authenticates as itself: no user headers at all, so an app
		 * that reads X-Auth-User-Id never sees an empty one */
		pc_resp_header(r, "X-Auth-Key-Id", p->session_id);
		pc_resp_header(r, "X-Auth-Key-Name", p->key_name);
		pc_respond_empty(r, 200);
		return;
	}
	pc_resp_header(r, "X-Auth-User-Id", p->user_id);
	pc_resp_header(r, "X-Auth-Email", p->email);
	/* UTF-8 without control characters (pc_user_name_valid at every
	 * write): a valid field value as it is */
	if (p->name[0] != '\0')
		pc_resp_header(r, "X-Auth-Name", p->name);
	pc_resp_header(r, "X-Auth-Session", p->session_id);
	pc_resp_header(r, "X-Auth-Role", pc_role_name(p->role));
	/* names of [a-z0-9._-] joined by ',': nothing to escape */
	pc_resp_header(r, "X-Auth-Groups", p->groups);
	pc_resp_header(r, "X-Auth-Factors", p->factors >= 2 ? "2" : "1");
	if (a->cfg->auth_assertion && p->user_id[0] != '\0') {
		char tok[6144], jti[PC_JTI_MAX + 1];
		struct pc_jwt_policy pol = {a->jwt.issuer, ASSERTION_AUDIENCE, a->jwt.leeway_s};
		if (pc_jwt_issue_amr(a->ring, &pol, p->user_id, p->session_id[0] ? p->session_id : NULL, p->email,
		                     pc_role_name(p->role), p->groups, p->factors, r->now, ASSERTION_LIFETIME, tok,
		                     sizeof(tok), jti) == 0)
			pc_resp_header(r, "X-Auth-Assertion", tok);
	}
	pc_respond_empty(r, 200);
}
