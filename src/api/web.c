/*
 * web.c — serving the embedded web/ assets.
 *
 * The pages are static: no inline script or style, no external host, so
 * they run under the strict CSP every response carries. They talk to the
 * JSON API only, with CSRF tokens. Static files answer with an ETag and
 * Cache-Control: no-cache (revalidate), and 304 to a matching
 * If-None-Match.
 */
#include <string.h>

#include "api/api.h"
#include "api/web.h"

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

void pc_web_static(struct pc_req *r)
{
	struct pc_str name = pc_req_param(r, "file");
	/* only names of embedded files match; no path is ever opened */
	serve(r, pc_web_find(name.p, name.len));
}
