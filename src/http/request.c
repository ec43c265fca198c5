/*
 * request.c — the handler-facing API of request.h: response headers, the
 * pc_respond_* answers, deferring work to the pool, and the pipeline that
 * routes a request and runs the stages and the handler.
 *
 * A request belongs to its connection (r->conn, conn.h); answering hands the
 * response to the connection (pc_conn_respond), which writes it and, after
 * the write, moves on to the next pipelined request. Handlers never see the
 * connection.
 */
#include "http/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/log.h"
#include "core/url.h"
#include "http/conn.h"
#include "http/head.h"
#include "http/router.h"

struct work {
	uv_work_t w;
	struct conn *c;
	pc_work_fn work, done;
	void *data;
};

/* ---------- the handler-facing API (request.h) ---------- */

static bool field_name_ok(const char *s)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch != 0 && strchr(tchar, ch) != NULL)))
			return false;
	}
	return true;
}

static bool field_value_ok(const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

int pc_resp_header(struct pc_req *r, const char *name, const char *value)
{
	if (!field_name_ok(name) || !field_value_ok(value)) {
		r->extra_overflow = true;
		return -1;
	}
	size_t nl = strlen(name), vl = strlen(value);
	if (r->extra_len + nl + vl + 4 > sizeof(r->extra)) {
		r->extra_overflow = true;
		return -1;
	}
	char *p = r->extra + r->extra_len;
	memcpy(p, name, nl);
	p[nl] = ':';
	p[nl + 1] = ' ';
	memcpy(p + nl + 2, value, vl);
	p[nl + 2 + vl] = '\r';
	p[nl + 3 + vl] = '\n';
	r->extra_len += nl + vl + 4;
	return 0;
}

void pc_respond(struct pc_req *r, int status, const char *content_type, const char *body, size_t len)
{
	struct conn *c = r->conn;
	if (r->responded) {
		pc_log("error", "double_response", "a handler answered twice; second answer dropped");
		return;
	}
	if (c->closing) {
		r->responded = true;
		return;
	}
	pc_conn_respond(c, status, content_type, body, len);
}

void pc_respond_json(struct pc_req *r, int status, json_t *json)
{
	if (json == NULL) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	char *s = json_dumps(json, JSON_COMPACT);
	json_decref(json);
	if (s == NULL) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_respond(r, status, "application/json", s, strlen(s));
	free(s);
}

void pc_respond_empty(struct pc_req *r, int status)
{
	pc_respond(r, status, NULL, NULL, 0);
}

static void respond_problem(struct pc_req *r, int status, enum pc_problem kind, const char *detail)
{
	char body[768];
	size_t len;
	if (kind < PC_PROB__COUNT)
		status = pc_problem_kinds[kind].status;
	pc_head_problem_body(body, sizeof(body), &len, status, kind, status >= 500 && status != 503 ? NULL : detail);
	pc_respond(r, status, "application/problem+json", body, len);
}

void pc_respond_problem(struct pc_req *r, int status, const char *detail)
{
	respond_problem(r, status, PC_PROB__COUNT, detail);
}

void pc_respond_problem_kind(struct pc_req *r, enum pc_problem kind, const char *detail)
{
	respond_problem(r, 500, kind, detail);
}

static void on_work(uv_work_t *w)
{
	struct work *wk = w->data;
	wk->work(&wk->c->req, wk->data);
}

static void on_work_done(uv_work_t *w, int status)
{
	(void)status;
	struct work *wk = w->data;
	struct conn *c = wk->c;
	c->pending_work--;
	if (!c->closing) {
		/* answering may finish the request; the next pipelined one is
		 * started below, not from inside done() */
		bool was = c->in_process;
		c->in_process = true;
		wk->done(&c->req, wk->data);
		if (!c->req.responded && c->pending_work == 0 && !c->closing) {
			pc_log("error", "no_response", "deferred work finished without answering");
			pc_respond_problem(&c->req, 500, NULL);
		}
		c->in_process = was;
		if (!was && !c->closing && (c->state == CS_IDLE || c->state == CS_HEAD))
			pc_conn_process(c);
	}
	free(wk);
	if (c->closing)
		pc_conn_maybe_free(c);
}

int pc_req_defer(struct pc_req *r, pc_work_fn work, pc_work_fn done, void *data)
{
	struct conn *c = r->conn;
	struct work *wk = malloc(sizeof(*wk));
	if (wk == NULL)
		return -1;
	wk->w.data = wk;
	wk->c = c;
	wk->work = work;
	wk->done = done;
	wk->data = data;
	if (uv_queue_work(&c->lc->loop, &wk->w, on_work, on_work_done) != 0) {
		free(wk);
		return -1;
	}
	c->pending_work++;
	return 0;
}

void pc_req_next(struct pc_req *r)
{
	struct pc_app *app = r->app;
	while (r->stage < app->n_stages) {
		enum pc_step s = app->stages[r->stage++](r);
		if (s != PC_NEXT)
			return;
	}
	if (r->route->access != PC_PUBLIC && r->principal == NULL) {
		/* the last word: no stage can forget this */
		pc_respond_problem(r, 401, "Authentication is required.");
		return;
	}
	r->route->handler(r);
	if (!r->responded && r->conn != NULL && ((struct conn *)r->conn)->pending_work == 0) {
		pc_log("error", "no_response", "a handler returned without answering");
		pc_respond_problem(r, 500, NULL);
	}
}

/* Route parameter by name: param_names[i] points just past the '{' of the
 * pattern (router.c), so a name matches when its "}" follows. */
struct pc_str pc_req_param(const struct pc_req *r, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < r->n_params; i++) {
		const char *pn = r->param_names[i];
		if (strncmp(pn, name, nl) == 0 && pn[nl] == '}')
			return r->params[i];
	}
	return (struct pc_str){NULL, 0};
}

/* ---------- the pipeline ---------- */

/* The path to route: under PORTCULLIS_PATH_PREFIX ("/.portcullis/login"),
 * the rest of it ("/login"), remembering the prefix for the links this
 * request's answer emits; else the path as it is, with the prefix a
 * trusted proxy says it stripped (X-Forwarded-Prefix), if valid. The
 * prefix is matched exactly and only before a "/": "/.portcullisx" and
 * "/.Portcullis/" are paths like any other (404). */
static struct pc_str route_path(struct pc_req *r)
{
	struct pc_str path = r->http->path;
	const char *pre = r->app->cfg != NULL ? r->app->cfg->path_prefix : "";
	size_t pl = strlen(pre);
	r->prefix[0] = '\0';
	if (pl > 0 && path.len > pl && memcmp(path.p, pre, pl) == 0 && path.p[pl] == '/') {
		memcpy(r->prefix, pre, pl + 1);
		return (struct pc_str){path.p + pl, path.len - pl};
	}
	const struct pc_http_header *fp = r->peer_trusted ? pc_http_header_get(r->http, "X-Forwarded-Prefix") : NULL;
	if (fp != NULL && pc_url_prefix_valid(fp->value.p, fp->value.len)) {
		memcpy(r->prefix, fp->value.p, fp->value.len);
		r->prefix[fp->value.len] = '\0';
	}
	return path;
}

void pc_req_route(struct pc_req *r)
{
	struct pc_str path = route_path(r);
	if (r->http->path.len == 1 && r->http->path.p[0] == '*') {
		/* OPTIONS * (the parser admits asterisk-form only with OPTIONS) */
		char allow[96];
		pc_router_allow_string(allow, sizeof(allow), (1u << PC_METHOD__COUNT) - 1);
		pc_resp_header(r, "Allow", allow);
		pc_respond_empty(r, 204);
		return;
	}
	const struct pc_route *route;
	unsigned allow;
	enum pc_match m = pc_router_match(r->app->routes, r->app->n_routes, r->http->method, path, r, &route, &allow);
	if (m == PC_MATCH_NOT_FOUND) {
		pc_respond_problem(r, 404, "No resource at this path.");
		return;
	}
	if (m == PC_MATCH_METHOD) {
		char a[96];
		r->route = route; /* labels the metrics with the pattern */
		pc_router_allow_string(a, sizeof(a), allow);
		pc_resp_header(r, "Allow", a);
		if (r->http->method == PC_METHOD_OPTIONS)
			pc_respond_empty(r, 204);
		else
			pc_respond_problem(r, 405, "This resource does not serve that method.");
		return;
	}
	r->route = route;
	pc_req_next(r);
}
