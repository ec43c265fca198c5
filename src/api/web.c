/*
 * web.c — serving the embedded web/ assets.
 *
 * The pages are static: no inline script or style, no external host, so
 * they run under the strict CSP every response carries. They talk to the
 * JSON API only, with CSRF tokens. Static files answer with an ETag and
 * Cache-Control: no-cache (revalidate), and 304 to a matching
 * If-None-Match.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/web.h"
#include "core/principal.h"

const struct pc_web_asset *pc_web_find(const char *name, size_t len)
{
	for (size_t i = 0; i < pc_web_n_assets; i++)
		if (strlen(pc_web_assets[i].name) == len && memcmp(pc_web_assets[i].name, name, len) == 0)
			return &pc_web_assets[i];
	return NULL;
}

static void serve(struct pc_req *r, const struct pc_web_asset *a)
{
	if (a == NULL) {
		pc_respond_problem(r, 404, "No such file.");
		return;
	}
	pc_resp_header(r, "ETag", a->etag);
	const struct pc_http_header *inm = pc_http_header_get(r->http, "If-None-Match");
	if (inm != NULL && inm->value.len == strlen(a->etag) &&
	    memcmp(inm->value.p, a->etag, inm->value.len) == 0) {
		pc_respond_empty(r, 304);
		return;
	}
	pc_respond(r, 200, a->content_type, (const char *)a->data, a->len);
}

/* Whether the Accept header names text/html (a browser navigating; an
 * API client asks for JSON or nothing). Case-insensitive, as a media range
 * of its own: "text/html" followed by ',', ';', space or the end. */
static bool wants_html(const struct pc_req *r)
{
	static const char want[] = "text/html";
	const size_t wl = sizeof(want) - 1;
	const struct pc_http_header *h = pc_http_header_get(r->http, "Accept");
	if (h == NULL)
		return false;
	for (size_t i = 0; i + wl <= h->value.len; i++) {
		if (strncasecmp(h->value.p + i, want, wl) != 0)
			continue;
		bool start = i == 0 || h->value.p[i - 1] == ',' || h->value.p[i - 1] == ' ';
		bool end = i + wl == h->value.len || h->value.p[i + wl] == ',' || h->value.p[i + wl] == ';' ||
		           h->value.p[i + wl] == ' ';
		if (start && end)
			return true;
	}
	return false;
}

void pc_web_root(struct pc_req *r)
{
	pc_resp_header(r, "Vary", "Accept");
	if (!wants_html(r)) {
		pc_respond_problem(r, 404, "Nothing here: the API is under /api/v1/ (GET /api/v1/openapi.json).");
		return;
	}
	/* the console signs a visitor in first; send one who is not to login */
	bool signed_in = r->principal != NULL && r->principal->method == PC_AUTH_SESSION;
	char to[PC_PATH_PREFIX_MAX + 8];
	snprintf(to, sizeof(to), "%s%s", r->prefix, signed_in ? "/admin" : "/login");
	pc_resp_header(r, "Location", to);
	pc_respond_empty(r, 303);
}

void pc_web_login(struct pc_req *r)
{
	serve(r, pc_web_find("login.html", 10));
}

void pc_web_admin(struct pc_req *r)
{
	serve(r, pc_web_find("admin.html", 10));
}

void pc_web_logout(struct pc_req *r)
{
	serve(r, pc_web_find("logout.html", 11));
}

void pc_web_reset(struct pc_req *r)
{
	serve(r, pc_web_find("reset.html", 10));
}

void pc_web_static(struct pc_req *r)
{
	struct pc_str name = pc_req_param(r, "file");
	/* only names of embedded files match; no path is ever opened */
	serve(r, pc_web_find(name.p, name.len));
}
