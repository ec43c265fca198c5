/*
 * verify.c — GET /api/v1/auth/verify, forward authentication for nginx
 * (auth_request), Traefik (ForwardAuth) and Caddy (forward_auth).
 *
 * The authenticate stage has already turned the forwarded credential —
 * session cookie, bearer JWT or API key — into a principal, on the warm
 * path without a store round trip (JWTs verify in memory; sessions and keys
 * come from the validity cache). Here:
 *   - no principal: 401 (the proxy turns it into a redirect to /login);
 *     with the original URI (X-Original-URI from nginx, X-Forwarded-Uri from
 *     Traefik/Caddy, from PORTCULLIS_TRUSTED_PROXIES only) the 401 also
 *     carries X-Auth-Redirect: /login?rd=<that URI, percent-encoded> — nginx
 *     cannot encode, and a raw ?rd=$request_uri loses all after its first "&";
 *   - the original method (X-Original-Method from nginx, X-Forwarded-Method
 *     from Traefik/Caddy — believed only from PORTCULLIS_TRUSTED_PROXIES) is
 *     unsafe and the credential is the session cookie: the forwarded
 *     request must pass the same CSRF check as our own API, else 403
 *     (PORTCULLIS_VERIFY_CSRF). Each proxy passes the client's copy of the
 *     other header through, so when both arrive an unsafe one wins;
 *   - otherwise 200 with X-Auth-User-Id, X-Auth-Email, X-Auth-Method,
 *     X-Auth-Session, and optionally X-Auth-Assertion, a 60-second JWT
 *     (audience "portcullis-upstream") the app can verify with the JWKS.
 */
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/common.h"
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

/* 401: X-Auth-Redirect, the login page with the original URI as ?rd=,
 * every byte but unreserved ones percent-encoded (no CR/LF can reach the
 * header); none from an untrusted peer, for a URI that is not a path, or
 * one too long to carry (the proxy then sends the browser to /login). */
/* second: to the login page's second step (a one-factor session that a
 * two_factor rule refused), else to sign in. */
static void login_redirect(struct pc_req *r, bool second)
{
	const char *login = second ? "/login?second_factor=1&rd=" : "/login?rd=";
	if (!r->peer_trusted)
		return;
	const struct pc_http_header *u = pc_http_header_get(r->http, "X-Original-URI");
	if (u == NULL)
		u = pc_http_header_get(r->http, "X-Forwarded-Uri");
	if (u == NULL || u->value.len == 0 || u->value.p[0] != '/')
		return;
	char out[1024];
	size_t n = strlen(login), enc;
	memcpy(out, login, n);
	if (pc_pct_encode(out + n, sizeof(out) - n, &enc, u->value.p, u->value.len) != 0)
		return;
	pc_resp_header(r, "X-Auth-Redirect", out);
}

/* The CSRF rule of csrf_stage.c for a forwarded request (Origin included:
 * the same check, as the README promises). 0 or a reason. */
static int forwarded_csrf(const struct pc_req *r, enum pc_csrf_failure *why)
{
	const struct pc_auth *a = pc_auth_of(r);
	const struct pc_http_header *site = pc_http_header_get(r->http, "Sec-Fetch-Site");
	if (site != NULL && pc_str_ieq(site->value, "cross-site")) {
		*why = PC_CSRFF_CROSS_SITE;
		return -1;
	}
	/* the app's host: nginx and Caddy pass its Host on; Traefik asks with
	 * our own Host and names the app's in X-Forwarded-Host */
	const struct pc_http_header *origin = pc_http_header_get(r->http, "Origin");
	const struct pc_http_header *fhost = pc_http_header_get(r->http, "X-Forwarded-Host");
	if (origin != NULL && !pc_csrf_origin_ok(a->cfg, origin->value, r->http->host) &&
	    (fhost == NULL || !pc_csrf_origin_ok(a->cfg, origin->value, fhost->value))) {
		*why = PC_CSRFF_FOREIGN_ORIGIN;
		return -1;
	}
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
static int decide_or_respond(struct pc_req *r, const struct pc_http_header *m, struct pc_access_decision *d)
{
	struct pc_access_query q;
	const char *why = "";
	if (pc_access_query_parse(&q, &why, r->http->query.p, r->http->query.len) != 0) {
		char detail[256];
		snprintf(detail, sizeof(detail), "The verify URL's query is not understood: %s.", why);
		pc_respond_problem(r, 400, detail);
		return -1;
	}
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
	if (in.target_len > PC_AUTHZ_PATH_MAX ||
	    pc_access_forwarded(&req, &ip, host, sizeof(host), path, sizeof(path), &in) != 0) {
		memset(d, 0, sizeof(*d));
		d->outcome = r->principal == NULL ? PC_ACCESS_LOGIN : PC_ACCESS_DENY;
		d->ambiguous = true;
		pc_metrics_access(PC_ACCESS_POLICIES - 1, (unsigned)d->outcome);
		return (int)d->outcome;
	}
	struct pc_access_subject sub;
	pc_access_subject_of(&sub, r->principal);
	return (int)pc_access_decide_now(d, &pc_svc_of(r)->access, q.present ? &q : NULL, &req, &sub);
}

void pc_api_verify(struct pc_req *r)
{
	const struct pc_principal *p = r->principal;
	const struct pc_auth *a = pc_auth_of(r);
	const struct pc_http_header *m = original_method(r);
	struct pc_access_decision d;
	int o = decide_or_respond(r, m, &d);
	if (o < 0)
		return;
	if (o == PC_ACCESS_ALLOW && d.bypass) {
		/* allowed without signing in: no identity reaches the app */
		pc_respond_empty(r, 200);
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
		pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
		login_redirect(r, o == PC_ACCESS_SECOND_FACTOR && p != NULL);
		pc_respond_problem(r, 401, o == PC_ACCESS_SECOND_FACTOR && p != NULL
		                               ? "A second factor is required: sign in again with your password and code."
		                               : "Authentication is required.");
		return;
	}
	if (a->cfg->verify_csrf && m != NULL && unsafe(m->value) && p->method == PC_AUTH_SESSION) {
		enum pc_csrf_failure why;
		if (forwarded_csrf(r, &why) != 0) {
			pc_metrics_csrf_failure(why);
			pc_respond_problem(r, 403, "The forwarded request failed the CSRF check.");
			return;
		}
	}
	pc_resp_header(r, "X-Auth-User-Id", p->user_id);
	pc_resp_header(r, "X-Auth-Email", p->email);
	pc_resp_header(r, "X-Auth-Method", pc_auth_method_name(p->method));
	pc_resp_header(r, "X-Auth-Session", p->session_id);
	pc_resp_header(r, "X-Auth-Factors", p->factors >= 2 ? "2" : "1");
	if (a->cfg->auth_assertion && p->user_id[0] != '\0') {
		char tok[2048], jti[PC_JTI_MAX + 1];
		struct pc_jwt_policy pol = {a->jwt.issuer, ASSERTION_AUDIENCE, a->jwt.leeway_s};
		if (pc_jwt_issue_amr(a->ring, &pol, p->user_id, p->session_id[0] ? p->session_id : NULL, p->email, p->factors,
		                 r->now, ASSERTION_LIFETIME, tok, sizeof(tok), jti) == 0)
			pc_resp_header(r, "X-Auth-Assertion", tok);
	}
	pc_respond_empty(r, 200);
}
