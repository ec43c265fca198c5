/*
 * oidc.c — the OpenID Connect provider's HTTP side (the rules are
 * svc/oidc.c's): discovery, JWKS, /oidc/authorize (GET, and POST from the
 * consent page), /oidc/token, /oidc/userinfo, /oidc/logout, and the admin
 * and user APIs under /api/v1/oidc/.
 *
 * The SameSite=Strict trap: a user following a link from an app on another
 * site arrives at /oidc/authorize (or /oidc/logout) without the session
 * cookie. A request the browser marks Sec-Fetch-Site: cross-site is
 * answered with a tiny page of this site that re-navigates to the same URL
 * (meta refresh): that navigation starts on this site, so the browser sends
 * the Strict cookie with it. Nothing else changes: the cookie stays
 * Strict, the API's CSRF rules stay as they are, and /oidc/authorize
 * changes no state before the consent form (a POST from a page of this
 * site, Origin checked) says yes.
 *
 * Answers to a form POST that send the browser to another site are a page
 * with a meta refresh and a link, not a 303: CSP form-action 'self' (every
 * response's) would block a form's redirect to the app.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "api/common.h"
#include "api/docs.h"
#include "api/input.h"
#include "core/pct.h"
#include "core/text.h"
#include "svc/oidc.h"
#include "svc/sessions.h"

/* ---------- pages ---------- */

/* HTML-escapes s into a growing buffer. */
struct buf {
	char *p;
	size_t len, cap;
	bool bad;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->bad || b->len + n + 1 > b->cap) {
		b->bad = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void esc(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': puts_(b, "&amp;"); break;
		case '<': puts_(b, "&lt;"); break;
		case '>': puts_(b, "&gt;"); break;
		case '"': puts_(b, "&quot;"); break;
		case '\'': puts_(b, "&#39;"); break;
		default: put(b, s, 1);
		}
	}
}

static bool buf_init(struct pc_req *r, struct buf *b, size_t cap)
{
	b->p = pc_arena_alloc(&r->arena, cap);
	b->len = 0;
	b->cap = cap;
	b->bad = b->p == NULL;
	if (b->p != NULL)
		b->p[0] = '\0';
	return !b->bad;
}

static void page_head(struct buf *b, const char *title, const char *refresh)
{
	puts_(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
	if (refresh != NULL) {
		puts_(b, "<meta http-equiv=\"refresh\" content=\"0;url=");
		esc(b, refresh);
		puts_(b, "\">");
	}
	puts_(b, "<title>");
	esc(b, title);
	puts_(b, " — portcullis</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>"
	         "<body><main class=\"card\"><h1>");
	esc(b, title);
	puts_(b, "</h1>");
}

static void page_send(struct pc_req *r, struct buf *b, int status)
{
	puts_(b, "</main></body></html>\n");
	if (b->bad) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_resp_header(r, "Cache-Control", "no-store");
	pc_respond(r, status, "text/html; charset=utf-8", b->p, b->len);
}

static void error_page(struct pc_req *r, int status, const char *text)
{
	struct buf b;
	if (!buf_init(r, &b, 4096)) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	page_head(&b, "Sign-in request refused", NULL);
	puts_(&b, "<p role=\"alert\">");
	esc(&b, text);
	puts_(&b, "</p><p>Go back to the application and try again, or ask its administrator.</p>");
	page_send(r, &b, status);
}

/* A page that sends the browser on to url at once (and a link, for a
 * browser that does not follow a meta refresh). */
static void hop_page(struct pc_req *r, const char *url, const char *title)
{
	struct buf b;
	if (!buf_init(r, &b, 4096 + 6 * strlen(url))) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	page_head(&b, title, url);
	puts_(&b, "<p><a href=\"");
	esc(&b, url);
	puts_(&b, "\">Continue</a></p>");
	page_send(r, &b, 200);
}

/* Whether the browser says the navigation came from another site. */
static bool cross_site(const struct pc_req *r)
{
	const struct pc_http_header *site = pc_http_header_get(r->http, "Sec-Fetch-Site");
	return site != NULL && pc_str_ieq(site->value, "cross-site");
}

/* The same-site re-navigation (see the top of this file). */
static bool hop_or_continue(struct pc_req *r)
{
	if (!cross_site(r) || r->principal != NULL)
		return false;
	/* from the parsed path and query: an absolute-form target
	 * (http://host/oidc/authorize?...) hops to this site's own path */
	const struct pc_str path = r->http->path, q = r->http->query;
	size_t len = path.len + (q.p != NULL ? 1 + q.len : 0);
	char *url = pc_arena_alloc(&r->arena, len + 1);
	if (url == NULL) {
		pc_respond_problem(r, 500, NULL);
		return true;
	}
	if (path.len == 0 || path.p[0] != '/') {
		error_page(r, 400, "The request target is not a path.");
		return true;
	}
	memcpy(url, path.p, path.len);
	if (q.p != NULL) {
		url[path.len] = '?';
		memcpy(url + path.len + 1, q.p, q.len);
	}
	url[len] = '\0';
	hop_page(r, url, "Signing in");
	return true;
}

/* Whether a form POST may come from a page of this site, judged as POST
 * /logout judges it: refused on the browser's evidence of another site
 * (Sec-Fetch-Site cross-site or same-site, an Origin that is not this
 * site). Without either header the request is no browser's cross-site
 * form: SameSite=Strict kept the session cookie off such a request. */
static bool same_site_form(const struct pc_req *r)
{
	const struct pc_http_header *origin = pc_http_header_get(r->http, "Origin");
	const struct pc_http_header *site = pc_http_header_get(r->http, "Sec-Fetch-Site");
	const struct pc_config *cfg = pc_auth_of(r)->cfg;
	if (site != NULL && (pc_str_ieq(site->value, "cross-site") || pc_str_ieq(site->value, "same-site")))
		return false;
	return origin == NULL || pc_csrf_origin_ok(cfg, origin->value, r->http->host);
}

/* Appends "&name=value" (value percent-encoded) to b. */
static void query_add(struct buf *b, const char *name, const char *value)
{
	char enc[PC_OIDC_STATE_MAX * 3 + 1];
	size_t n = 0;
	if (pc_pct_encode(enc, sizeof(enc), &n, value, strlen(value)) != 0) {
		b->bad = true;
		return;
	}
	puts_(b, strchr(b->p, '?') != NULL ? "&" : "?");
	puts_(b, name);
	puts_(b, "=");
	put(b, enc, n);
}

/* ---------- discovery, JWKS ---------- */

void pc_api_oidc_discovery(struct pc_req *r)
{
	const struct pc_config *cfg = pc_auth_of(r)->cfg;
	if (cfg->public_url[0] == '\0') {
		pc_respond_problem(r, 404, "OpenID Connect is off: PORTCULLIS_PUBLIC_URL is not set.");
		return;
	}
	pc_respond_json(r, 200, pc_oidc_discovery(cfg));
}

struct jwks_state {
	enum pc_err err;
	json_t *doc;
};

static void jwks_work(struct pc_req *r, void *data)
{
	struct jwks_state *st = data;
	st->err = pc_oidc_jwks(pc_svc_of(r), &st->doc);
}

static void jwks_done(struct pc_req *r, void *data)
{
	struct jwks_state *st = data;
	if (st->err == PC_ERR_NOT_FOUND) {
		pc_respond_problem(r, 404, "OpenID Connect is off: PORTCULLIS_PUBLIC_URL is not set.");
		return;
	}
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	pc_respond_json(r, 200, st->doc);
}

void pc_api_oidc_jwks(struct pc_req *r)
{
	struct jwks_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, jwks_work, jwks_done, st);
}

/* ---------- /oidc/authorize ---------- */

struct authz_state {
	enum pc_err err;
	struct pc_oidc_authz req;
	struct pc_oidc_decision d;
	bool consented, denied;
	const char *query; /* the raw query (arena) */
};

static void authz_work(struct pc_req *r, void *data)
{
	struct authz_state *st = data;
	st->err = pc_oidc_authorize(pc_svc_of(r), r->principal, &st->req, st->consented && !st->denied, &st->d);
}

/* The query without its pc_login parameter (this flow's own marker). */
static void query_without_login(struct buf *b, const char *q)
{
	const char *p = q;
	bool first = true;
	while (*p != '\0') {
		const char *e = strchr(p, '&');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (!(n >= 9 && memcmp(p, "pc_login=", 9) == 0) && n > 0) {
			if (!first)
				puts_(b, "&");
			put(b, p, n);
			first = false;
		}
		p += n;
		if (*p == '&')
			p++;
	}
}

static void consent_page(struct pc_req *r, struct authz_state *st)
{
	struct buf b;
	if (!buf_init(r, &b, 8192 + 6 * strlen(st->query))) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	page_head(&b, "Allow access?", NULL);
	puts_(&b, "<p><strong>");
	esc(&b, st->d.client_name);
	puts_(&b, "</strong> asks to sign you in as <strong>");
	esc(&b, r->principal->email);
	puts_(&b, "</strong> and to read:</p><ul>");
	static const struct {
		const char *scope, *text;
	} what[] = {
		{"openid", "your user id"},
		{"profile", "your name"},
		{"email", "your email address"},
		{"groups", "your groups"},
		{"offline_access", "access while you are away (a refresh token)"},
	};
	for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		if (!pc_oidc_scopes_within(what[i].scope, st->req.scope))
			continue;
		puts_(&b, "<li>");
		puts_(&b, what[i].text);
		puts_(&b, "</li>");
	}
	puts_(&b, "</ul><form method=\"post\" action=\"/oidc/authorize\"><input type=\"hidden\" name=\"q\" value=\"");
	esc(&b, st->query);
	puts_(&b, "\"><p class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"allow\" autofocus>Allow</button> "
	          "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button></p></form>"
	          "<p class=\"hint\">Your answer is remembered for this application until you revoke it in the console.</p>");
	page_send(r, &b, 200);
}

static void authz_done(struct pc_req *r, void *data)
{
	struct authz_state *st = data;
	if (st->err != PC_OK) {
		sodium_memzero(st->d.code, sizeof(st->d.code));
		pc_api_error(r, st->err, NULL);
		return;
	}
	struct pc_oidc_decision *d = &st->d;
	if (st->denied && d->outcome != PC_OIDC_ERROR_PAGE && d->outcome != PC_OIDC_ERROR_REDIRECT) {
		sodium_memzero(d->code, sizeof(d->code));
		d->outcome = PC_OIDC_ERROR_REDIRECT;
		d->error = "access_denied";
		d->description = "The user denied the request.";
	}
	const struct pc_config *cfg = pc_auth_of(r)->cfg;
	struct buf b;
	switch (d->outcome) {
	case PC_OIDC_ERROR_PAGE:
		error_page(r, 400, d->description);
		return;
	case PC_OIDC_LOGIN: {
		if (!buf_init(r, &b, 3 * 2 * PC_HTTP_MAX_URI_BYTES)) {
			pc_respond_problem(r, 500, NULL);
			return;
		}
		struct buf inner; /* sized by the query: a consent form's q is up to PC_HTTP_MAX_URI_BYTES */
		if (!buf_init(r, &inner, strlen(st->query) + 64)) {
			pc_respond_problem(r, 500, NULL);
			return;
		}
		puts_(&inner, "/oidc/authorize?");
		query_without_login(&inner, st->query);
		char at[32];
		snprintf(at, sizeof(at), "&pc_login=%lld", (long long)r->now);
		puts_(&inner, at);
		puts_(&b, "/login");
		char *enc = pc_arena_alloc(&r->arena, inner.len * 3 + 1);
		size_t n = 0;
		if (inner.bad || enc == NULL || pc_pct_encode(enc, inner.len * 3 + 1, &n, inner.p, inner.len) != 0) {
			pc_respond_problem(r, 500, NULL);
			return;
		}
		if (n + 64 > PC_HTTP_MAX_URI_BYTES) { /* the way back would not fit a request line */
			error_page(r, 400, "The sign-in request is too long to carry through the sign-in page.");
			return;
		}
		puts_(&b, "?rd=");
		put(&b, enc, n);
		if (d->login_mfa)
			puts_(&b, "&second_factor=1");
		else if (r->principal != NULL)
			puts_(&b, "&reauth=1");
		if (b.bad) {
			pc_respond_problem(r, 500, NULL);
			return;
		}
		pc_resp_header(r, "Location", b.p);
		pc_respond_empty(r, 303);
		return;
	}
	case PC_OIDC_CONSENT:
		consent_page(r, st);
		return;
	case PC_OIDC_ERROR_REDIRECT:
	case PC_OIDC_CODE:
		break;
	}
	if (!buf_init(r, &b, PC_OIDC_URI_MAX + 3 * PC_OIDC_STATE_MAX + 1024)) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	puts_(&b, st->req.redirect_uri);
	if (d->outcome == PC_OIDC_CODE) {
		query_add(&b, "code", d->code);
		sodium_memzero(d->code, sizeof(d->code));
	} else {
		query_add(&b, "error", d->error);
		query_add(&b, "error_description", d->description);
	}
	if (st->req.has_state)
		query_add(&b, "state", st->req.state);
	/* RFC 9207's iss on a code only: discovery does not advertise it, and
	 * mod_auth_openidc 2.4 reads an iss without a code as a login started
	 * by a third party, hiding the error from the user */
	if (d->outcome == PC_OIDC_CODE)
		query_add(&b, "iss", cfg->public_url);
	if (b.bad) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	if (st->consented) { /* the answer to a form: see the top of this file */
		hop_page(r, b.p, "Signing in");
		return;
	}
	pc_resp_header(r, "Location", b.p);
	pc_respond_empty(r, 303);
}

static void authz_start(struct pc_req *r, struct authz_state *st, const char *q, size_t len)
{
	const char *bad = NULL;
	if (pc_oidc_authz_parse(&st->req, q, len, &bad) != 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "The parameter %s is malformed, too long or given twice.", bad);
		error_page(r, 400, msg);
		return;
	}
	char *copy = pc_arena_alloc(&r->arena, len + 1);
	if (copy == NULL) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	memcpy(copy, q, len);
	copy[len] = '\0';
	st->query = copy;
	pc_api_defer(r, authz_work, authz_done, st);
}

void pc_api_oidc_authorize(struct pc_req *r)
{
	if (hop_or_continue(r))
		return;
	struct authz_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_str q = r->http->query;
	authz_start(r, st, q.p != NULL ? q.p : "", q.p != NULL ? q.len : 0);
}

static const struct pc_field consent_fields[] = {
	{"q", PC_F_STRING, true, PC_HTTP_MAX_URI_BYTES},
	{"decision", PC_F_STRING, true, 8},
};
const struct pc_fields pc_api_fields_oidc_consent = PC_FIELDS(consent_fields);

void pc_api_oidc_consent(struct pc_req *r)
{
	if (!same_site_form(r)) {
		pc_respond_problem_kind(r, PC_PROB_CSRF_FAILED, "A consent form must come from a page of this site.");
		return;
	}
	if (r->principal == NULL || r->principal->method != PC_AUTH_SESSION) {
		error_page(r, 400, "You are not signed in any more: go back to the application and start again.");
		return;
	}
	struct authz_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_input in;
	char detail[160];
	int status = pc_input_form_parse(&r->arena, r->body != NULL ? r->body : "", r->body_len, consent_fields, 2, &in,
	                                 detail, sizeof(detail));
	if (status != 0) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, detail);
		return;
	}
	st->consented = true;
	st->denied = strcmp(in.v[1].str.s, "allow") != 0;
	authz_start(r, st, in.v[0].str.s, in.v[0].str.len);
}

/* ---------- /oidc/token ---------- */

struct token_state {
	enum pc_err err;
	struct pc_oidc_token_req req;
	struct pc_oidc_token_out out;
	struct pc_secret secret;
	char basic_id[PC_OIDC_KEY_MAX + 1];
};

static const struct pc_field token_fields[] = {
	{"grant_type", PC_F_STRING, false, 64},
	{"code", PC_F_STRING, false, 128},
	{"redirect_uri", PC_F_STRING, false, PC_OIDC_URI_MAX},
	{"code_verifier", PC_F_STRING, false, 256},
	{"refresh_token", PC_F_SECRET, false, 128},
	{"client_id", PC_F_STRING, false, PC_OIDC_KEY_MAX},
	{"client_secret", PC_F_SECRET, false, 128},
	{"scope", PC_F_STRING, false, PC_OIDC_SCOPE_MAX},
};
const struct pc_fields pc_api_fields_oidc_token = PC_FIELDS(token_fields);

static void oauth_error(struct pc_req *r, int status, const char *error, const char *desc, bool basic)
{
	if (status == 401)
		pc_resp_header(r, "WWW-Authenticate", basic ? "Basic realm=\"portcullis\"" : "Bearer realm=\"portcullis\"");
	pc_resp_header(r, "Cache-Control", "no-store");
	pc_respond_json(r, status, json_pack("{s:s,s:s}", "error", error, "error_description", desc));
}

static void token_work(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	st->req.client_secret = st->secret.s;
	st->req.client_secret_len = st->secret.len;
	st->err = pc_oidc_token(pc_svc_of(r), r->actor, &st->req, &st->out);
}

static void token_done(struct pc_req *r, void *data)
{
	struct token_state *st = data;
	struct pc_oidc_token_out *o = &st->out;
	if (st->err == PC_ERR_NOT_FOUND) {
		pc_respond_problem(r, 404, "OpenID Connect is off: PORTCULLIS_PUBLIC_URL is not set.");
	} else if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
	} else if (o->error != NULL) {
		if (o->retry_after > 0) {
			char ra[24];
			snprintf(ra, sizeof(ra), "%lld", (long long)o->retry_after);
			pc_resp_header(r, "Retry-After", ra);
		}
		oauth_error(r, o->status, o->error, o->description, st->req.basic);
	} else {
		pc_resp_header(r, "Cache-Control", "no-store");
		pc_resp_header(r, "Pragma", "no-cache");
		json_t *body = json_pack("{s:s,s:s,s:I,s:s,s:s}", "access_token", o->access, "token_type", "Bearer",
		                         "expires_in", (json_int_t)o->expires_in, "refresh_token", o->refresh, "scope",
		                         o->scope);
		if (body != NULL && o->id_token[0] != '\0') /* none for a refresh narrowed to scopes without openid */
			json_object_set_new(body, "id_token", json_string(o->id_token));
		pc_respond_json(r, 200, body);
	}
	sodium_memzero(o, sizeof(*o));
}

/* "Basic base64(urlencoded id ':' urlencoded secret)" (RFC 6749 §2.3.1).
 * 1 parsed, 0 absent, -1 malformed. */
static int basic_auth(struct token_state *st, const struct pc_req *r)
{
	const struct pc_http_header *h = pc_http_header_get(r->http, "Authorization");
	if (h == NULL)
		return 0;
	struct pc_str v = h->value;
	if (v.len < 7 || !pc_str_ieq((struct pc_str){v.p, 6}, "basic ") || v.len > 6 + 1024)
		return -1;
	char raw[800];
	size_t n = 0;
	if (sodium_base642bin((unsigned char *)raw, sizeof(raw) - 1, v.p + 6, v.len - 6, NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	raw[n] = '\0';
	char *colon = memchr(raw, ':', n);
	int rc = -1;
	size_t il = 0, sl = 0;
	char sec[256];
	if (colon != NULL &&
	    pc_pct_decode(st->basic_id, sizeof(st->basic_id), &il, raw, (size_t)(colon - raw),
	                  PC_PCT_PLUS_SPACE | PC_PCT_NO_CTL) == 0 &&
	    pc_pct_decode(sec, sizeof(sec), &sl, colon + 1, n - (size_t)(colon + 1 - raw), PC_PCT_PLUS_SPACE | PC_PCT_NO_CTL) ==
	            0 &&
	    il > 0) {
		st->secret.s = sodium_malloc(sl + 1);
		if (st->secret.s != NULL) {
			memcpy(st->secret.s, sec, sl + 1);
			st->secret.len = sl;
			rc = 1;
		}
	}
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(sec, sizeof(sec));
	return rc;
}

void pc_api_oidc_token(struct pc_req *r)
{
	struct token_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	int basic = basic_auth(st, r);
	if (basic < 0) {
		oauth_error(r, 401, "invalid_client", "The Authorization header is not HTTP Basic with a client.", true);
		return;
	}
	struct pc_input in;
	char detail[160];
	const struct pc_http_header *ct = pc_http_header_get(r->http, "Content-Type");
	if (ct == NULL || ct->value.len < 33 ||
	    !pc_str_ieq((struct pc_str){ct->value.p, 33}, "application/x-www-form-urlencoded")) {
		pc_secret_free(&st->secret);
		oauth_error(r, 400, "invalid_request", "The body must be application/x-www-form-urlencoded.", false);
		return;
	}
	if (pc_input_form_parse(&r->arena, r->body != NULL ? r->body : "", r->body_len, token_fields, 8, &in, detail,
	                        sizeof(detail)) != 0) {
		pc_secret_free(&st->secret);
		oauth_error(r, 400, "invalid_request", detail, false);
		return;
	}
	st->req.grant_type = in.v[0].str.s;
	st->req.code = in.v[1].str.s;
	st->req.redirect_uri = in.v[2].str.s;
	st->req.code_verifier = in.v[3].str.s;
	st->req.client_id = in.v[5].str.s;
	st->req.scope = in.v[7].str.s;
	struct pc_secret refresh, body_secret;
	pc_input_take(&in, 4, &refresh);
	pc_input_take(&in, 6, &body_secret);
	pc_input_wipe(&in);
	if (basic == 1) {
		if (body_secret.s != NULL && body_secret.len > 0) {
			pc_secret_free(&refresh);
			pc_secret_free(&body_secret);
			pc_secret_free(&st->secret);
			oauth_error(r, 400, "invalid_request", "Use one client authentication method, not two.", true);
			return;
		}
		if (st->req.client_id != NULL && strcmp(st->req.client_id, st->basic_id) != 0) {
			pc_secret_free(&refresh);
			pc_secret_free(&body_secret);
			pc_secret_free(&st->secret);
			oauth_error(r, 400, "invalid_request", "client_id differs from the Basic credentials.", true);
			return;
		}
		st->req.client_id = st->basic_id;
		st->req.basic = true;
		pc_secret_free(&body_secret);
	} else {
		st->secret = body_secret;
	}
	/* the refresh token travels as a secret; the service reads it as text */
	char *rt = NULL;
	if (refresh.s != NULL) {
		rt = pc_arena_alloc(&r->arena, refresh.len + 1);
		if (rt != NULL)
			memcpy(rt, refresh.s, refresh.len + 1);
	}
	pc_secret_free(&refresh);
	st->req.refresh_token = rt;
	pc_api_defer_secrets(r, token_work, token_done, st, &st->secret, 1);
}

/* ---------- /oidc/userinfo ---------- */

struct userinfo_state {
	enum pc_err err;
	char token[PC_OIDC_TOKEN_LEN + 1];
	size_t len;
	json_t *claims;
};

static void userinfo_work(struct pc_req *r, void *data)
{
	struct userinfo_state *st = data;
	st->err = pc_oidc_userinfo(pc_svc_of(r), st->token, st->len, &st->claims);
	sodium_memzero(st->token, sizeof(st->token));
}

static void userinfo_done(struct pc_req *r, void *data)
{
	struct userinfo_state *st = data;
	if (st->err == PC_ERR_NOT_FOUND) {
		pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\", error=\"invalid_token\"");
		pc_respond_json(r, 401, json_pack("{s:s}", "error", "invalid_token"));
		return;
	}
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	pc_resp_header(r, "Cache-Control", "no-store");
	pc_respond_json(r, 200, st->claims);
}

void pc_api_oidc_userinfo(struct pc_req *r)
{
	struct userinfo_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	const struct pc_http_header *h = pc_http_header_get(r->http, "Authorization");
	struct pc_str v = h != NULL ? h->value : (struct pc_str){NULL, 0};
	if (v.len != 7 + PC_OIDC_TOKEN_LEN || !pc_str_ieq((struct pc_str){v.p, 7}, "bearer ")) {
		pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
		pc_respond_json(r, 401, json_pack("{s:s}", "error", "invalid_token"));
		return;
	}
	memcpy(st->token, v.p + 7, PC_OIDC_TOKEN_LEN);
	st->len = PC_OIDC_TOKEN_LEN;
	pc_api_defer(r, userinfo_work, userinfo_done, st);
}

void pc_api_oidc_userinfo_post(struct pc_req *r)
{
	pc_api_oidc_userinfo(r);
}

/* ---------- /oidc/logout ---------- */

struct logout_state {
	enum pc_err err;
	const char *why;
	const char *hint, *client_id, *plr, *state;
	char target[PC_OIDC_URI_MAX + 3 * PC_OIDC_STATE_MAX + 16];
	bool post;
};

static const struct pc_field logout_fields[] = {
	{"id_token_hint", PC_F_STRING, false, PC_OIDC_JWT_MAX},
	{"client_id", PC_F_STRING, false, PC_OIDC_KEY_MAX},
	{"post_logout_redirect_uri", PC_F_STRING, false, PC_OIDC_URI_MAX},
	{"state", PC_F_STRING, false, PC_OIDC_STATE_MAX},
};
const struct pc_fields pc_api_fields_oidc_logout = PC_FIELDS(logout_fields);

static void logout_work(struct pc_req *r, void *data)
{
	struct logout_state *st = data;
	struct pc_svc *ctx = pc_svc_of(r);
	st->err = pc_oidc_logout_check(ctx, st->hint, st->client_id, st->plr, st->state, st->target, sizeof(st->target),
	                               &st->why);
	if (st->err == PC_OK && st->post && r->principal != NULL && r->principal->method == PC_AUTH_SESSION) {
		enum pc_err e = pc_sessions_logout(ctx, r->principal);
		if (e != PC_OK && e != PC_ERR_NOT_FOUND)
			st->err = e;
	}
}

static void logout_done(struct pc_req *r, void *data)
{
	struct logout_state *st = data;
	if (st->err == PC_ERR_INVALID) {
		error_page(r, 400, st->why);
		return;
	}
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	bool signed_in = r->principal != NULL && r->principal->method == PC_AUTH_SESSION;
	if (st->post && signed_in)
		pc_api_clear_session_cookie(r);
	if (st->post || !signed_in) {
		if (st->target[0] != '\0') {
			if (st->post)
				hop_page(r, st->target, "Signed out");
			else {
				pc_resp_header(r, "Location", st->target);
				pc_respond_empty(r, 303);
			}
			return;
		}
		struct buf b;
		if (!buf_init(r, &b, 2048)) {
			pc_respond_problem(r, 500, NULL);
			return;
		}
		page_head(&b, "Signed out", NULL);
		puts_(&b, "<p>You are signed out of portcullis.</p>");
		page_send(r, &b, 200);
		return;
	}
	/* signed in: ask (RP-Initiated Logout §2: the OP should confirm) */
	struct buf b;
	if (!buf_init(r, &b, 4 * PC_OIDC_JWT_MAX)) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	page_head(&b, "Sign out?", NULL);
	puts_(&b, "<p>An application asks to sign you out of portcullis (");
	esc(&b, r->principal->email);
	puts_(&b, ").</p><form method=\"post\" action=\"/oidc/logout\">");
	const char *names[4] = {"id_token_hint", "client_id", "post_logout_redirect_uri", "state"};
	const char *vals[4] = {st->hint, st->client_id, st->plr, st->state};
	for (int i = 0; i < 4; i++) {
		if (vals[i] == NULL)
			continue;
		puts_(&b, "<input type=\"hidden\" name=\"");
		puts_(&b, names[i]);
		puts_(&b, "\" value=\"");
		esc(&b, vals[i]);
		puts_(&b, "\">");
	}
	puts_(&b, "<p class=\"actions\"><button type=\"submit\" autofocus>Sign out</button></p></form>");
	page_send(r, &b, 200);
}

static void logout_start(struct pc_req *r, bool post, const char *body, size_t len)
{
	struct logout_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_input in;
	char detail[160];
	memset(&in, 0, sizeof(in));
	if (len > 0 && pc_input_form_parse(&r->arena, body, len, logout_fields, 4, &in, detail, sizeof(detail)) != 0) {
		error_page(r, 400, detail);
		return;
	}
	st->hint = in.v[0].str.s;
	st->client_id = in.v[1].str.s;
	st->plr = in.v[2].str.s;
	st->state = in.v[3].str.s;
	st->post = post;
	pc_api_defer(r, logout_work, logout_done, st);
}

void pc_api_oidc_logout(struct pc_req *r)
{
	if (hop_or_continue(r))
		return;
	struct pc_str q = r->http->query;
	logout_start(r, false, q.p != NULL ? q.p : "", q.p != NULL ? q.len : 0);
}

void pc_api_oidc_logout_post(struct pc_req *r)
{
	if (!same_site_form(r)) {
		pc_respond_problem_kind(r, PC_PROB_CSRF_FAILED, "A sign-out form must come from a page of this site.");
		return;
	}
	logout_start(r, true, r->body != NULL ? r->body : "", r->body_len);
}

/* ---------- /api/v1/oidc/clients ---------- */

struct clients_state {
	enum pc_err err;
	const char *why;
	struct pc_oidc_client c;
	struct pc_oidc_client *list;
	size_t n;
	char secret[PC_OIDC_SECRET_LEN + 1];
	char kid[PC_OIDC_KEY_MAX + 1];
	json_t *doc;
	bool patch_fields[16];
};

static const struct pc_field client_fields[] = {
	{"name", PC_F_STRING, true, PC_OIDC_NAME_MAX},
	{"redirect_uris", PC_F_STRING, true, 0},
	{"post_logout_redirect_uris", PC_F_STRING, false, 0},
	{"public", PC_F_BOOL, false, 0},
	{"first_party", PC_F_BOOL, false, 0},
	{"require_mfa", PC_F_BOOL, false, 0},
	{"scopes", PC_F_STRING, false, PC_OIDC_SCOPE_MAX},
	{"allowed_groups", PC_F_GROUPS, false, PC_USER_GROUPS_MAX},
};
const struct pc_fields pc_api_fields_oidc_client = PC_FIELDS(client_fields);

/* The JSON body of a create (all = true) or a patch into c. -1 after
 * answering. Arrays of URIs are beyond pc_input: read here, as strictly. */
static int client_body_or_respond(struct pc_req *r, struct pc_oidc_client *c, bool all)
{
	const struct pc_http_header *ct = pc_http_header_get(r->http, "Content-Type");
	if (ct == NULL || ct->value.len < 16 || !pc_str_ieq((struct pc_str){ct->value.p, 16}, "application/json")) {
		pc_respond_problem_kind(r, PC_PROB_UNSUPPORTED_MEDIA_TYPE, "The body must be application/json.");
		return -1;
	}
	json_error_t jerr;
	json_t *j = json_loadb(r->body != NULL ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *bad = NULL;
	if (!json_is_object(j))
		bad = "The body must be a JSON object.";
	const char *k;
	json_t *v;
	size_t at = 0;
	if (bad == NULL) {
		json_object_foreach(j, k, v) {
			if (strcmp(k, "name") == 0 && json_is_string(v) && json_string_length(v) <= PC_OIDC_NAME_MAX)
				snprintf(c->name, sizeof(c->name), "%s", json_string_value(v));
			else if ((strcmp(k, "redirect_uris") == 0 || strcmp(k, "post_logout_redirect_uris") == 0) &&
			         json_is_array(v) && json_array_size(v) <= PC_OIDC_URIS_MAX) {
				bool lo = k[0] == 'p';
				size_t i;
				json_t *u;
				json_array_foreach(v, i, u) {
					if (!json_is_string(u) || json_string_length(u) > PC_OIDC_URI_MAX) {
						bad = "URIs must be strings of at most 512 bytes.";
						break;
					}
					snprintf(lo ? c->logout_uris[i] : c->redirect_uris[i], PC_OIDC_URI_MAX + 1, "%s",
					         json_string_value(u));
				}
				if (lo)
					c->n_logout = json_array_size(v);
				else
					c->n_redirect = json_array_size(v);
			} else if (strcmp(k, "public") == 0 && json_is_boolean(v) && all)
				c->public_client = json_is_true(v);
			else if (strcmp(k, "first_party") == 0 && json_is_boolean(v))
				c->first_party = json_is_true(v);
			else if (strcmp(k, "require_mfa") == 0 && json_is_boolean(v))
				c->require_mfa = json_is_true(v);
			else if (strcmp(k, "scopes") == 0 && json_is_string(v) && json_string_length(v) <= PC_OIDC_SCOPE_MAX)
				snprintf(c->scopes, sizeof(c->scopes), "%s", json_string_value(v));
			else if (strcmp(k, "alg") == 0 && json_is_string(v) && json_string_length(v) < sizeof(c->alg))
				snprintf(c->alg, sizeof(c->alg), "%s", json_string_value(v));
			else if (strcmp(k, "allowed_groups") == 0 && json_is_array(v) &&
			         json_array_size(v) <= PC_USER_GROUPS_MAX) {
				size_t i;
				json_t *g;
				c->groups[0] = '\0';
				at = 0;
				json_array_foreach(v, i, g) {
					if (!json_is_string(g) ||
					    pc_groups_append(c->groups, &at, json_string_value(g), json_string_length(g)) != 0) {
						bad = "allowed_groups must be group names.";
						break;
					}
				}
			} else {
				bad = "Unknown field, or a field of the wrong type.";
			}
			if (bad != NULL)
				break;
		}
	}
	if (bad == NULL && all && (c->name[0] == '\0' || c->n_redirect == 0))
		bad = "name and redirect_uris are required.";
	json_decref(j);
	if (bad != NULL) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, bad);
		return -1;
	}
	return 0;
}

static void clients_list_work(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	st->err = pc_oidc_client_list(pc_svc_of(r), r->principal, &st->list, &st->n);
}

static void clients_list_done(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(a, pc_oidc_client_json(&st->list[i]));
	free(st->list);
	pc_respond_json(r, 200, json_pack("{s:o}", "clients", a));
}

void pc_api_oidc_clients_list(struct pc_req *r)
{
	struct clients_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, clients_list_work, clients_list_done, st);
}

static void clients_create_work(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	st->err = pc_oidc_client_create(pc_svc_of(r), r->principal, &st->c, st->secret, &st->why);
}

static void clients_one_done(struct pc_req *r, struct clients_state *st, int status)
{
	if (st->err == PC_ERR_INVALID) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, st->why);
		return;
	}
	if (st->err != PC_OK) {
		sodium_memzero(st->secret, sizeof(st->secret));
		struct pc_api_say say = {.not_found = "No such client."};
		pc_api_error(r, st->err, &say);
		return;
	}
	json_t *o = pc_oidc_client_json(&st->c);
	if (o != NULL && st->secret[0] != '\0')
		json_object_set_new(o, "client_secret", json_string(st->secret));
	sodium_memzero(st->secret, sizeof(st->secret));
	if (status == 201) {
		char loc[128];
		snprintf(loc, sizeof(loc), "/api/v1/oidc/clients/%s", st->c.id);
		pc_resp_header(r, "Location", loc);
		pc_resp_header(r, "Cache-Control", "no-store");
	}
	pc_respond_json(r, status, o);
}

static void clients_create_done(struct pc_req *r, void *data)
{
	clients_one_done(r, data, 201);
}

void pc_api_oidc_clients_create(struct pc_req *r)
{
	struct clients_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || client_body_or_respond(r, &st->c, true) != 0)
		return;
	pc_api_defer(r, clients_create_work, clients_create_done, st);
}

static int client_id_or_respond(struct pc_req *r, char out[PC_OIDC_KEY_MAX + 1])
{
	struct pc_str id = pc_req_param(r, "id");
	if (!pc_api_id_valid(id)) {
		pc_respond_problem(r, 404, "No such client.");
		return -1;
	}
	memcpy(out, id.p, PC_ID_LEN);
	out[PC_ID_LEN] = '\0';
	return 0;
}

static void clients_get_work(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	char id[PC_OIDC_KEY_MAX + 1];
	memcpy(id, st->c.id, sizeof(id));
	st->err = pc_oidc_client_get(pc_svc_of(r), r->principal, id, &st->c);
}

static void clients_get_done(struct pc_req *r, void *data)
{
	clients_one_done(r, data, 200);
}

void pc_api_oidc_clients_get(struct pc_req *r)
{
	struct clients_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || client_id_or_respond(r, st->c.id) != 0)
		return;
	pc_api_defer(r, clients_get_work, clients_get_done, st);
}

static void clients_patch_work(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	struct pc_svc *ctx = pc_svc_of(r);
	struct pc_oidc_client *cur = malloc(sizeof(*cur));
	if (cur == NULL) {
		st->err = PC_ERR_INTERNAL;
		return;
	}
	st->err = pc_oidc_client_get(ctx, r->principal, st->c.id, cur);
	if (st->err == PC_OK) {
		/* the fields the patch named replace the stored ones */
		const struct pc_oidc_client *p = &st->c;
		if (st->patch_fields[0])
			memcpy(cur->name, p->name, sizeof(cur->name));
		if (st->patch_fields[1]) {
			memcpy(cur->redirect_uris, p->redirect_uris, sizeof(cur->redirect_uris));
			cur->n_redirect = p->n_redirect;
		}
		if (st->patch_fields[2]) {
			memcpy(cur->logout_uris, p->logout_uris, sizeof(cur->logout_uris));
			cur->n_logout = p->n_logout;
		}
		if (st->patch_fields[3])
			cur->first_party = p->first_party;
		if (st->patch_fields[4])
			cur->require_mfa = p->require_mfa;
		if (st->patch_fields[5])
			memcpy(cur->scopes, p->scopes, sizeof(cur->scopes));
		if (st->patch_fields[6])
			memcpy(cur->groups, p->groups, sizeof(cur->groups));
		if (st->patch_fields[7])
			memcpy(cur->alg, p->alg, sizeof(cur->alg));
		st->err = pc_oidc_client_update(ctx, r->principal, cur, &st->why);
		if (st->err == PC_OK)
			st->c = *cur;
	}
	free(cur);
}

void pc_api_oidc_clients_patch(struct pc_req *r)
{
	struct clients_state *st = pc_api_state_or_respond(r, sizeof(*st));
	char id[PC_OIDC_KEY_MAX + 1];
	if (st == NULL || client_id_or_respond(r, id) != 0)
		return;
	/* which fields the body names */
	json_t *j = json_loadb(r->body != NULL ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, NULL);
	static const char *const names[8] = {"name", "redirect_uris", "post_logout_redirect_uris", "first_party",
	                                     "require_mfa", "scopes", "allowed_groups", "alg"};
	for (int i = 0; i < 8; i++)
		st->patch_fields[i] = json_object_get(j, names[i]) != NULL;
	json_decref(j);
	if (client_body_or_respond(r, &st->c, false) != 0)
		return;
	memcpy(st->c.id, id, sizeof(id));
	pc_api_defer(r, clients_patch_work, clients_get_done, st);
}

static void clients_delete_work(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	st->err = pc_oidc_client_delete(pc_svc_of(r), r->principal, st->c.id);
}

static void clients_delete_done(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	if (st->err != PC_OK) {
		struct pc_api_say say = {.not_found = "No such client."};
		pc_api_error(r, st->err, &say);
		return;
	}
	pc_respond_empty(r, 204);
}

void pc_api_oidc_clients_delete(struct pc_req *r)
{
	struct clients_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || client_id_or_respond(r, st->c.id) != 0)
		return;
	pc_api_defer(r, clients_delete_work, clients_delete_done, st);
}

/* ---------- /api/v1/oidc/consents ---------- */

static void consents_work(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	st->err = pc_oidc_consents(pc_svc_of(r), r->principal, &st->doc);
}

static void consents_done(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	pc_respond_json(r, 200, json_pack("{s:o}", "consents", st->doc));
}

void pc_api_oidc_consents_list(struct pc_req *r)
{
	struct clients_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, consents_work, consents_done, st);
}

static void consent_revoke_work(struct pc_req *r, void *data)
{
	struct clients_state *st = data;
	st->err = pc_oidc_consent_revoke(pc_svc_of(r), r->principal, st->c.id);
}

void pc_api_oidc_consents_delete(struct pc_req *r)
{
	struct clients_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || client_id_or_respond(r, st->c.id) != 0)
		return;
	pc_api_defer(r, consent_revoke_work, clients_delete_done, st);
}
