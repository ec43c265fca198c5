/*
 * csrf_stage.c — the CSRF check every routed request passes (auth.h).
 *
 * Checked: POST, PUT, PATCH and DELETE that carry the session cookie (valid
 * or not: it is the ambient credential a forged request would ride on) or
 * that would set it (routes flagged PC_ROUTE_SETS_SESSION: login, setup).
 * Exempt: safe methods, routes flagged PC_ROUTE_NO_CSRF, and requests with
 * no session cookie, whose credential (if any) is an Authorization header a
 * cross-site page cannot attach.
 *
 * A checked request needs, in this order: no `Sec-Fetch-Site: cross-site`;
 * an Origin, when sent, that is this service's own (its host equals Host)
 * or listed in PORTCULLIS_ALLOWED_ORIGINS; X-CSRF-Token equal to the
 * __Host-portcullis_csrf cookie; and that token authentic, unexpired and
 * bound to this request's session (or, when it has none, to the pre-session
 * id in its __Host-portcullis_presession cookie).
 * A refusal is 403, counted by reason, and written to the audit trail.
 */
#include <string.h>

#include <sodium.h>

#include "audit/chain.h"
#include "auth/auth.h"
#include "auth/csrf.h"
#include "auth/session.h"
#include "config/config.h"
#include "obs/metrics.h"

struct csrf_fail {
	enum pc_csrf_failure why;
};

static void audit_work(struct pc_req *r, void *data)
{
	struct csrf_fail *f = data;
	char details[512];
	snprintf(details, sizeof(details), "{\"reason\":\"%s\",\"method\":\"%s\",\"route\":\"%s\"}",
	         pc_metrics_csrf_failure_name(f->why), pc_method_name(r->http->method), r->route->pattern);
	pc_auth_audit_noise(r, "csrf.failed", details);
}

static void audit_done(struct pc_req *r, void *data)
{
	(void)data;
	pc_respond_problem_kind(r, PC_PROB_CSRF_FAILED, "The request failed the CSRF check: fetch a token from "
	                           "GET /api/v1/auth/csrf-token and send it in X-CSRF-Token.");
}

static enum pc_step refuse(struct pc_req *r, enum pc_csrf_failure why)
{
	pc_metrics_csrf_failure(why);
	struct csrf_fail *f = pc_arena_alloc(&r->arena, sizeof(*f));
	if (f != NULL) {
		f->why = why;
		if (pc_req_defer(r, audit_work, audit_done, f) == 0)
			return PC_ASYNC;
	}
	audit_done(r, NULL);
	return PC_DONE;
}

bool pc_csrf_origin_ok(const struct pc_config *cfg, struct pc_str origin, struct pc_str host)
{
	for (size_t i = 0; i < cfg->n_allowed_origins; i++) {
		size_t n = strlen(cfg->allowed_origins[i]);
		if (n == origin.len && memcmp(cfg->allowed_origins[i], origin.p, n) == 0)
			return true;
	}
	const char *sep = memmem(origin.p, origin.len, "://", 3);
	if (sep == NULL || host.p == NULL)
		return false;
	struct pc_str scheme = {origin.p, (size_t)(sep - origin.p)};
	if (!pc_str_ieq(scheme, "https") && !pc_str_ieq(scheme, "http"))
		return false;
	struct pc_str auth = {sep + 3, origin.len - (size_t)(sep + 3 - origin.p)};
	if (auth.len != host.len)
		return false;
	for (size_t i = 0; i < auth.len; i++) {
		char a = auth.p[i], b = host.p[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

enum pc_step pc_stage_csrf(struct pc_req *r)
{
	enum pc_method m = r->http->method;
	if (m == PC_METHOD_GET || m == PC_METHOD_HEAD || m == PC_METHOD_OPTIONS ||
	    (r->route->flags & PC_ROUTE_NO_CSRF))
		return PC_NEXT;
	if ((r->route->flags & PC_ROUTE_CSRF_IF_AUTH) && r->principal == NULL && r->pending == NULL)
		return PC_NEXT;
	const struct pc_auth *a = pc_auth_of(r);
	if (!(r->route->flags & PC_ROUTE_SETS_SESSION) &&
	    pc_http_cookie_get(r->http, pc_session_cookie_name(a->cfg)) == NULL)
		return PC_NEXT;

	const struct pc_http_header *site = pc_http_header_get(r->http, "Sec-Fetch-Site");
	if (site != NULL && pc_str_ieq(site->value, "cross-site"))
		return refuse(r, PC_CSRFF_CROSS_SITE);
	const struct pc_http_header *origin = pc_http_header_get(r->http, "Origin");
	if (origin != NULL && !pc_csrf_origin_ok(pc_auth_of(r)->cfg, origin->value, r->http->host))
		return refuse(r, PC_CSRFF_FOREIGN_ORIGIN);

	const struct pc_http_header *hdr = pc_http_header_get(r->http, PC_CSRF_HEADER);
	if (hdr == NULL || hdr->value.len == 0)
		return refuse(r, PC_CSRFF_MISSING_HEADER);
	const struct pc_http_cookie *ck = pc_http_cookie_get(r->http, PC_CSRF_COOKIE);
	if (ck == NULL || ck->value.len == 0)
		return refuse(r, PC_CSRFF_MISSING_COOKIE);
	if (hdr->value.len != ck->value.len ||
	    sodium_memcmp(hdr->value.p, ck->value.p, hdr->value.len) != 0)
		return refuse(r, PC_CSRFF_MISMATCH);

	/* a session waiting for its second step binds its token like any other */
	const struct pc_principal *p = r->principal != NULL ? r->principal : r->pending;
	const char *sid = p != NULL && p->method == PC_AUTH_SESSION ? p->session_id : NULL;
	const struct pc_http_cookie *pre = pc_http_cookie_get(r->http, PC_CSRF_PRESESSION_COOKIE);
	switch (pc_csrf_verify(hdr->value.p, hdr->value.len, a->cfg->keys, sid, pre ? pre->value.p : NULL,
	                       pre ? pre->value.len : 0, r->now)) {
	case PC_CSRF_OK:
		return PC_NEXT;
	case PC_CSRF_EXPIRED:
		return refuse(r, PC_CSRFF_EXPIRED);
	case PC_CSRF_WRONG_BINDING:
		return refuse(r, PC_CSRFF_WRONG_SESSION);
	case PC_CSRF_INVALID:
	default:
		return refuse(r, PC_CSRFF_INVALID);
	}
}
