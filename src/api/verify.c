/*
 * verify.c — GET /api/v1/auth/verify, forward authentication for nginx
 * (auth_request), Traefik (ForwardAuth) and Caddy (forward_auth).
 *
 * The authenticate stage has already turned the forwarded credential —
 * session cookie, bearer JWT or API key — into a principal, on the warm
 * path without a store round trip (JWTs verify in memory; sessions and keys
 * come from the validity cache). Here:
 *   - no principal: 401 (the proxy turns it into a redirect to /login);
 *   - the original method (X-Original-Method from nginx, X-Forwarded-Method
 *     from Traefik/Caddy — believed only from PORTCULLIS_TRUSTED_PROXIES) is
 *     unsafe and the credential is the session cookie: the forwarded
 *     request must pass the same CSRF check as our own API, else 403
 *     (PORTCULLIS_VERIFY_CSRF);
 *   - otherwise 200 with X-Auth-User-Id, X-Auth-Email, X-Auth-Method,
 *     X-Auth-Session, and optionally X-Auth-Assertion, a 60-second JWT
 *     (audience "portcullis-upstream") the app can verify with the JWKS.
 */
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/common.h"
#include "auth/csrf.h"
#include "auth/session.h"
#include "obs/metrics.h"

#define ASSERTION_LIFETIME 60
#define ASSERTION_AUDIENCE "portcullis-upstream"

/* The forwarded method, from a trusted proxy only; NULL when none. */
static const struct pc_http_header *original_method(const struct pc_req *r)
{
	if (!r->peer_trusted)
		return NULL;
	const struct pc_http_header *m = pc_http_header_get(r->http, "X-Original-Method");
	return m != NULL ? m : pc_http_header_get(r->http, "X-Forwarded-Method");
}

static bool unsafe(struct pc_str m)
{
	return !(pc_str_ieq(m, "GET") || pc_str_ieq(m, "HEAD") || pc_str_ieq(m, "OPTIONS"));
}

/* The CSRF rule of csrf_stage.c for a forwarded request. 0 or a reason. */
static int forwarded_csrf(const struct pc_req *r, enum pc_csrf_failure *why)
{
	const struct pc_auth *a = pc_auth_of(r);
	const struct pc_http_header *site = pc_http_header_get(r->http, "Sec-Fetch-Site");
	if (site != NULL && pc_str_ieq(site->value, "cross-site")) {
		*why = PC_CSRFF_CROSS_SITE;
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
	switch (pc_csrf_verify(hdr->value.p, hdr->value.len, a->cfg->keys, r->principal->session_id, r->now)) {
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

void pc_api_verify(struct pc_req *r)
{
	const struct pc_principal *p = r->principal;
	const struct pc_auth *a = pc_auth_of(r);
	if (p == NULL) {
		pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
		pc_respond_problem(r, 401, "Authentication is required.");
		return;
	}
	const struct pc_http_header *m = original_method(r);
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
	if (a->cfg->auth_assertion && p->user_id[0] != '\0') {
		char tok[2048], jti[PC_JWT_JTI_MAX + 1];
		struct pc_jwt_policy pol = {a->jwt.issuer, ASSERTION_AUDIENCE, a->jwt.leeway_s};
		if (pc_jwt_issue(a->ring, &pol, p->user_id, p->session_id[0] ? p->session_id : NULL, p->email,
		                 r->now, ASSERTION_LIFETIME, tok, sizeof(tok), jti) == 0)
			pc_resp_header(r, "X-Auth-Assertion", tok);
	}
	pc_respond_empty(r, 200);
}
