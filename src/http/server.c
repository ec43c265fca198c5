/*
 * server.c — libuv loops, connections, deadlines, and writing responses.
 *
 * Invariants:
 *  - One request per connection is in flight at a time; pipelined bytes wait
 *    in the input buffer and are parsed only after the previous response has
 *    been written, so answers leave in request order.
 *  - The input buffer is never moved (realloc'd) while the parsed request
 *    points into it: it grows only before a head is complete, and is sized
 *    for the whole body once the head is known (re-parsing if it moved).
 *  - Every response, including protocol errors produced here, is built by
 *    build_response(): security headers, X-Request-Id, Date, Cache-Control.
 *  - A protocol error answers, half-closes, and drains what the client still
 *    sends for a short while (lingering close) so the answer is not lost to
 *    a TCP reset; nothing after the bad request is parsed.
 *  - A connection's memory is freed only when both its handles are closed
 *    and no deferred work refers to it.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config/config.h"
#include "core/log.h"
#include "http/connlimit.h"
#include "http/head.h"
#include "http/router.h"
#include "http/xff.h"
#include "obs/metrics.h"

#define INITIAL_BUF 4096
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (256 * 1024)
#define TICK_MS 100

enum conn_state { CS_IDLE, CS_HEAD, CS_BODY, CS_HANDLING, CS_LINGER };

struct loop_ctx;

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uint64_t deadline; /* loop ms when the connection's current phase ends; 0: none */
	struct loop_ctx *lc;
	struct conn *prev, *next;
	int handles_open;
	int pending_work;
	enum conn_state state;
	bool close_after;
	bool closing;
	bool in_process;
	bool sent_continue;
	bool writing;
	bool reading;    /* uv_read_start in effect */
	bool eof;        /* the client half-closed: never read again */
	bool peer_trusted;
	bool counted;
	struct pc_addrkey key;
	char peer[PC_CLIENT_ADDR_MAX];
	char *buf;
	size_t len, cap;
	size_t req_total;
	size_t lingered;
	struct pc_http_parser parser;
	struct pc_http_request http;
	struct pc_req req;
	char *out;
	size_t out_len, out_cap;
	uv_write_t wr;
	uv_shutdown_t sd;
};

struct server;

struct loop_ctx {
	uv_loop_t loop;
	uv_tcp_t listeners[PC_MAX_LISTEN];
	size_t n_listeners;
	uv_async_t stop_async;
	uv_timer_t tick;
	uv_timer_t shutdown_timer;
	struct conn *conns;
	unsigned index;
	bool stopping;
	char date[64];
	size_t date_len;
	char reqid_prefix[17];
	uint64_t reqid_counter;
	struct server *srv;
	pthread_t thread;
	int fds[PC_MAX_LISTEN];
};

struct server {
	struct pc_app *app;
	const struct pc_config *cfg;
	size_t n_patterns;
	struct loop_ctx *loops;
	unsigned n_loops;
	char sec_headers[1024];
	size_t sec_headers_len;
	size_t max_buf;
};

struct work {
	uv_work_t w;
	struct conn *c;
	pc_work_fn work, done;
	void *data;
};

static void process(struct conn *c);
static void close_conn(struct conn *c);

/* ---------- small helpers ---------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void update_date(struct loop_ctx *lc)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	lc->date_len = strftime(lc->date, sizeof(lc->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

static void next_request_id(struct loop_ctx *lc, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t n = ++lc->reqid_counter;
	memcpy(out, lc->reqid_prefix, 16);
	for (int i = 15; i >= 0; i--) {
		out[16 + i] = hex[n & 15];
		n >>= 4;
	}
	out[32] = '\0';
}

const char *pc_http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---------- connection lifetime ---------- */

static void maybe_free(struct conn *c)
{
	if (c->handles_open > 0 || c->pending_work > 0 || c->writing)
		return;
	struct loop_ctx *lc = c->lc;
	if (c->prev)
		c->prev->next = c->next;
	else
		lc->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->counted) {
		pc_connlimit_release(&c->key, c->peer_trusted);
		pc_metrics_connections(-1);
	}
	pc_arena_reset(&c->req.arena);
	free(c->buf);
	free(c->out);
	free(c);
	if (lc->stopping && lc->conns == NULL) {
		uv_timer_stop(&lc->shutdown_timer);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	c->handles_open--;
	maybe_free(c);
}

static void close_conn(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_timeout(uv_timer_t *t);

/*
 * Deadlines are lazy. A connection has one deadline (header, body, idle,
 * write or linger; none while a handler works) and one timer that never
 * fires after it. The timer is started only when a deadline comes earlier
 * than the timer's; one that fires early re-arms to the deadline then in
 * force (on_timeout). A keep-alive connection moves its idle deadline on
 * every answer without touching libuv's timer heap: three heap operations
 * a request fewer, and the timer fires about once per idle timeout.
 */
static void sync_timer(struct conn *c)
{
	if (c->closing || c->deadline == 0)
		return;
	uint64_t now = uv_now(&c->lc->loop);
	if (uv_is_active((uv_handle_t *)&c->timer) && now + uv_timer_get_due_in(&c->timer) <= c->deadline)
		return; /* it fires first, and re-arms then */
	uv_timer_start(&c->timer, on_timeout, c->deadline > now ? c->deadline - now : 0, 0);
}

/* The deadline ms from now (loop time), set but not yet synced: process()
 * syncs when it returns, so a request that completes within the same call
 * never starts a timer for its header deadline. */
static void set_deadline(struct conn *c, unsigned ms)
{
	c->deadline = uv_now(&c->lc->loop) + ms;
}

static void arm(struct conn *c, unsigned ms)
{
	set_deadline(c, ms);
	sync_timer(c);
}

/* No deadline while a handler works; a running timer fires and finds none. */
static void disarm(struct conn *c)
{
	c->deadline = 0;
}

/* ---------- building a response ---------- */

static int out_reserve(struct conn *c, size_t need)
{
	if (c->out_cap - c->out_len >= need)
		return 0;
	size_t ncap = c->out_cap ? c->out_cap : 1024;
	while (ncap - c->out_len < need) {
		if (ncap > (SIZE_MAX / 2))
			return -1;
		ncap *= 2;
	}
	char *n = realloc(c->out, ncap);
	if (n == NULL)
		return -1;
	c->out = n;
	c->out_cap = ncap;
	return 0;
}

static void out_put(struct conn *c, const char *s, size_t n)
{
	/* reserved beforehand by build_response */
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
}

static void after_write(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Back-pressure: reading stops while the buffer is full of bytes behind a
 * request in flight, and resumes once that request is answered. */
static void read_pause(struct conn *c)
{
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

static void read_resume(struct conn *c)
{
	if (!c->reading && !c->eof && !c->closing) {
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
			c->reading = true;
	}
}

static void on_write(uv_write_t *w, int status)
{
	struct conn *c = w->data;
	c->writing = false;
	if (status < 0 || c->closing) {
		close_conn(c);
		maybe_free(c);
		return;
	}
	after_write(c);
}

static void send_out(struct conn *c)
{
	uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);
	int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n == (int)c->out_len) {
		after_write(c);
		return;
	}
	if (n < 0 && n != UV_EAGAIN) {
		close_conn(c);
		return;
	}
	size_t off = n > 0 ? (size_t)n : 0;
	b = uv_buf_init(c->out + off, (unsigned)(c->out_len - off));
	c->writing = true;
	c->wr.data = c;
	/* a client that does not read gets the body deadline to take its answer */
	arm(c, c->lc->srv->cfg->body_timeout_ms);
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
		c->writing = false;
		close_conn(c);
	}
}

static void log_access(struct conn *c, const struct pc_req *r, int status, size_t bytes,
                       uint64_t dur_ns)
{
	struct pc_logline l;
	pc_logline_begin(&l, "info", "access");
	pc_logline_str(&l, "request_id", r->request_id);
	pc_logline_str(&l, "client", r->client_addr[0] ? r->client_addr : c->peer);
	if (r->http) {
		pc_logline_str(&l, "method", pc_method_name(r->http->method));
		pc_logline_strn(&l, "path", r->http->path.p, r->http->path.len);
	} else {
		pc_logline_str(&l, "method", "-");
		pc_logline_str(&l, "path", "-");
	}
	pc_logline_int(&l, "status", status);
	pc_logline_int(&l, "bytes", (int64_t)bytes);
	pc_logline_int(&l, "duration_us", (int64_t)(dur_ns / 1000));
	pc_logline_emit_buffered(&l);
}

/* Builds the whole response in c->out and sends it. */
static void build_response(struct conn *c, int status, const char *ctype, const char *body,
                           size_t body_len)
{
	struct pc_req *r = &c->req;
	struct server *srv = c->lc->srv;
	bool head_only = r->http != NULL && r->http->method == PC_METHOD_HEAD;
	bool cacheable = r->route != NULL && (r->route->flags & PC_ROUTE_CACHEABLE) && status < 400;

	if (r->extra_overflow) {
		/* a handler tried to add a header that does not fit: never send a
		 * response missing one of its own headers (a Set-Cookie, say) */
		static const char p500[] = "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500}";
		status = 500;
		ctype = "application/problem+json";
		body = p500;
		body_len = sizeof(p500) - 1;
		r->extra_len = 0;
		cacheable = false;
	}
	if (c->lc->stopping)
		c->close_after = true;

	struct pc_head h = {
		.status = status,
		.security = srv->sec_headers,
		.security_len = srv->sec_headers_len,
		.request_id = r->request_id,
		.date = c->lc->date,
		.date_len = c->lc->date_len,
		.cacheable = cacheable,
		.ctype = ctype,
		.body_len = body_len,
		.conn = c->close_after ? PC_HEAD_CONN_CLOSE
		        : r->http != NULL && r->http->version_minor == 0 ? PC_HEAD_CONN_KEEP_ALIVE
		                                                          : PC_HEAD_CONN_NONE,
		.extra = r->extra,
		.extra_len = r->extra_len,
	};
	c->out_len = 0;
	if (out_reserve(c, pc_head_size(&h) + (head_only ? 0 : body_len)) != 0) {
		close_conn(c);
		return;
	}
	c->out_len = pc_head_write(c->out, &h);
	if (!head_only && body_len > 0)
		out_put(c, body, body_len);

	r->status = status;
	r->responded = true;
	uint64_t dur = now_ns() - r->started_ns;
	size_t route_idx = r->route ? r->route->metric_index
	                   : r->http ? PC_METRICS_ROUTE_UNMATCHED(srv->n_patterns)
	                             : PC_METRICS_ROUTE_NONE(srv->n_patterns);
	pc_metrics_request(route_idx, r->http ? r->http->method : PC_METHOD__COUNT, status, dur);
	if (srv->cfg->access_log)
		log_access(c, r, status, c->out_len, dur);
	send_out(c);
}

static void problem_body(char *out, size_t cap, size_t *len, int status, const char *detail)
{
	char esc[512];
	size_t el = 0;
	if (detail) {
		el = pc_json_escape(esc, sizeof(esc), detail, strlen(detail));
		if (el > sizeof(esc))
			el = 0;
	}
	int n;
	if (detail)
		n = snprintf(out, cap,
		             "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,\"detail\":\"%.*s\"}",
		             pc_http_reason(status), status, (int)el, esc);
	else
		n = snprintf(out, cap, "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d}",
		             pc_http_reason(status), status);
	*len = (n > 0 && (size_t)n < cap) ? (size_t)n : 0;
}

/* A protocol error before routing: answer, then close after draining. */
static void protocol_error(struct conn *c, int status, const char *why)
{
	struct pc_req *r = &c->req;
	r->http = NULL;
	r->route = NULL;
	r->extra_len = 0;
	r->extra_overflow = false;
	r->started_ns = now_ns();
	r->client_addr[0] = '\0';
	next_request_id(c->lc, r->request_id);
	c->close_after = true;
	c->state = CS_HANDLING;
	char body[768];
	size_t len;
	problem_body(body, sizeof(body), &len, status, why);
	build_response(c, status, "application/problem+json", body, len);
}

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
	build_response(c, status, content_type, body, len);
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

void pc_respond_problem(struct pc_req *r, int status, const char *detail)
{
	char body[768];
	size_t len;
	problem_body(body, sizeof(body), &len, status, status >= 500 && status != 503 ? NULL : detail);
	pc_respond(r, status, "application/problem+json", body, len);
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
			process(c);
	}
	free(wk);
	if (c->closing)
		maybe_free(c);
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

/* ---------- requests ---------- */

/* Client address: the peer, or from a trusted peer what its
 * X-Forwarded-For says (xff.h). */
_Static_assert(PC_CLIENT_ADDR_MAX == PC_CLIENT_ADDR_MAX, "one address size");
static void resolve_client(struct conn *c, struct pc_req *r)
{
	memcpy(r->client_addr, c->peer, sizeof(r->client_addr));
	r->peer_trusted = c->peer_trusted;
	if (c->peer_trusted)
		pc_xff_client(c->lc->srv->cfg, r->http, r->client_addr);
}

static void dispatch(struct conn *c)
{
	struct loop_ctx *lc = c->lc;
	struct server *srv = lc->srv;
	struct pc_req *r = &c->req;

	c->state = CS_HANDLING;
	disarm(c);
	r->http = &c->http;
	r->body = c->http.content_length > 0 ? c->buf + c->http.head_len : NULL;
	r->body_len = (size_t)c->http.content_length;
	r->route = NULL;
	r->n_params = 0;
	r->principal = NULL;
	r->actor = NULL;
	r->auth_failure = 0;
	r->app = srv->app;
	r->started_ns = now_ns();
	r->now = (int64_t)time(NULL);
	r->status = 0;
	r->responded = false;
	r->stage = 0;
	r->extra_len = 0;
	r->extra_overflow = false;
	r->conn = c;
	next_request_id(lc, r->request_id);
	resolve_client(c, r);
	if (!c->http.keep_alive || lc->stopping)
		c->close_after = true;

	if (c->http.path.len == 1 && c->http.path.p[0] == '*') {
		/* OPTIONS * (the parser admits asterisk-form only with OPTIONS) */
		char allow[96];
		pc_router_allow_string(allow, sizeof(allow), (1u << PC_METHOD__COUNT) - 1);
		pc_resp_header(r, "Allow", allow);
		pc_respond_empty(r, 204);
		return;
	}
	const struct pc_route *route;
	unsigned allow;
	enum pc_match m = pc_router_match(srv->app->routes, srv->app->n_routes, c->http.method,
	                                  c->http.path, r, &route, &allow);
	if (m == PC_MATCH_NOT_FOUND) {
		pc_respond_problem(r, 404, "No resource at this path.");
		return;
	}
	if (m == PC_MATCH_METHOD) {
		char a[96];
		r->route = route; /* labels the metrics with the pattern */
		pc_router_allow_string(a, sizeof(a), allow);
		pc_resp_header(r, "Allow", a);
		if (c->http.method == PC_METHOD_OPTIONS)
			pc_respond_empty(r, 204);
		else
			pc_respond_problem(r, 405, "This resource does not serve that method.");
		return;
	}
	r->route = route;
	pc_req_next(r);
}

static void on_shutdown_done(uv_shutdown_t *sd, int status)
{
	struct conn *c = sd->data;
	(void)status;
	c->writing = false;
	if (c->closing) {
		maybe_free(c);
		return;
	}
	/* keep reading (and discarding) until EOF or the linger deadline */
	arm(c, LINGER_MS);
}

static void after_write(struct conn *c)
{
	struct loop_ctx *lc = c->lc;
	pc_arena_reset(&c->req.arena);
	c->req.http = NULL;
	if (c->close_after) {
		c->state = CS_LINGER;
		c->lingered = 0;
		c->sd.data = c;
		c->writing = true; /* the shutdown request refers to c */
		/* libuv shuts down once the socket is writable: a client that
		 * does not read gets the body deadline for that too */
		arm(c, lc->srv->cfg->body_timeout_ms);
		if (uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, on_shutdown_done) != 0) {
			c->writing = false;
			close_conn(c);
		}
		return;
	}
	size_t rest = c->len - c->req_total;
	if (rest > 0)
		memmove(c->buf, c->buf + c->req_total, rest);
	c->len = rest;
	c->req_total = 0;
	c->sent_continue = false;
	pc_http_parser_init(&c->parser);
	if (rest == 0 && c->cap > INITIAL_BUF) {
		/* give a large body's memory back while the connection idles */
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
	if (rest > 0) {
		c->state = CS_HEAD;
		arm(c, lc->srv->cfg->header_timeout_ms);
	} else {
		c->state = CS_IDLE;
		arm(c, lc->srv->cfg->idle_timeout_ms);
		if (lc->stopping) {
			close_conn(c);
			return;
		}
	}
	read_resume(c);
	if (!c->in_process)
		process(c);
}

static void process(struct conn *c)
{
	struct server *srv = c->lc->srv;
	c->in_process = true;
	while (!c->closing && !c->writing && c->len > 0) {
		if (c->state == CS_HANDLING || c->state == CS_LINGER)
			break;
		if (c->state == CS_IDLE) {
			c->state = CS_HEAD;
			set_deadline(c, srv->cfg->header_timeout_ms); /* synced below */
		}
		if (c->state == CS_HEAD && c->parser.scanned == 0) {
			/* RFC 9112 2.2: ignore empty lines before a request line (old
			 * clients send a CRLF after a POST body). The header deadline
			 * already runs, so CRLFs cannot hold a connection open. */
			size_t skip = 0;
			while (skip + 1 < c->len && c->buf[skip] == '\r' && c->buf[skip + 1] == '\n')
				skip += 2;
			if (skip > 0) {
				memmove(c->buf, c->buf + skip, c->len - skip);
				c->len -= skip;
				if (c->len == 0)
					break;
			}
		}
		if (c->state == CS_HEAD) {
			const char *why = NULL;
			int rc = pc_http_parse_head(&c->parser, &c->http, c->buf, c->len,
			                            srv->cfg->max_body_bytes, &why);
			if (rc == PC_HTTP_NEED_MORE)
				break;
			if (rc != PC_HTTP_DONE) {
				protocol_error(c, rc, why);
				break;
			}
			c->req_total = c->http.head_len + (size_t)c->http.content_length;
			if (c->http.content_length > 0) {
				if (c->cap < c->req_total) {
					char *old = c->buf;
					char *nb = realloc(c->buf, c->req_total);
					if (nb == NULL) {
						protocol_error(c, 503, "Out of memory.");
						break;
					}
					c->buf = nb;
					c->cap = c->req_total;
					if (nb != old) {
						/* the parsed head pointed into the old buffer */
						pc_http_parser_init(&c->parser);
						rc = pc_http_parse_head(&c->parser, &c->http, c->buf, c->len,
						                        srv->cfg->max_body_bytes, &why);
						if (rc != PC_HTTP_DONE) {
							protocol_error(c, rc == PC_HTTP_NEED_MORE ? 400 : rc, why);
							break;
						}
					}
				}
				c->state = CS_BODY;
				arm(c, srv->cfg->body_timeout_ms);
			}
		}
		if (c->state == CS_BODY && c->len < c->req_total) {
			if (c->http.expect_continue && !c->sent_continue) {
				static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
				uv_buf_t b = uv_buf_init(cont, sizeof(cont) - 1);
				c->sent_continue = true;
				(void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
			}
			break;
		}
		dispatch(c);
	}
	c->in_process = false;
	sync_timer(c);
}

/* ---------- libuv callbacks ---------- */

static void on_timeout(uv_timer_t *t)
{
	struct conn *c = t->data;
	if (c->closing || c->deadline == 0)
		return;
	if (uv_now(&c->lc->loop) < c->deadline) {
		sync_timer(c); /* fired for a deadline since moved later */
		return;
	}
	if (c->writing || c->state == CS_IDLE || c->state == CS_LINGER || c->state == CS_HANDLING) {
		close_conn(c);
		return;
	}
	protocol_error(c, 408, c->state == CS_HEAD ? "The request head was not completed in time."
	                                           : "The request body was not completed in time.");
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct conn *c = h->data;
	static _Thread_local char discard[4096];
	if (c->state == CS_LINGER) {
		*buf = uv_buf_init(discard, sizeof(discard));
		return;
	}
	/* Grow only while no parsed request points into the buffer. */
	bool may_grow = c->state == CS_IDLE || c->state == CS_HEAD;
	size_t max = c->lc->srv->max_buf;
	if (may_grow && c->cap - c->len < 1024 && c->cap < max) {
		size_t ncap = c->cap ? c->cap * 2 : INITIAL_BUF;
		if (ncap > max)
			ncap = max;
		char *nb = realloc(c->buf, ncap);
		if (nb != NULL) {
			c->buf = nb;
			c->cap = ncap;
		}
	}
	*buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	(void)buf;
	if (c->closing)
		return;
	if (nread == UV_ENOBUFS) {
		/* buffer full of pipelined bytes behind a request in flight:
		 * stop reading until it is answered (back-pressure) */
		read_pause(c);
		return;
	}
	if (nread < 0) {
		if (c->state == CS_HANDLING && nread == UV_EOF) {
			/* half-close: answer what was asked, then close */
			c->close_after = true;
			c->eof = true;
			read_pause(c);
			return;
		}
		close_conn(c);
		return;
	}
	if (nread == 0)
		return;
	if (c->state == CS_LINGER) {
		c->lingered += (size_t)nread;
		if (c->lingered > LINGER_MAX_BYTES)
			close_conn(c);
		return;
	}
	c->len += (size_t)nread;
	if (c->state == CS_HANDLING && c->len == c->cap)
		read_pause(c);
	process(c);
}

static void addr_key(const struct sockaddr_storage *ss, struct pc_addrkey *k, char *text, size_t cap)
{
	memset(k, 0, sizeof(*k));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		k->bytes[10] = 0xff;
		k->bytes[11] = 0xff;
		memcpy(k->bytes + 12, &a->sin_addr, 4);
		inet_ntop(AF_INET, &a->sin_addr, text, (socklen_t)cap);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		memcpy(k->bytes, &a->sin6_addr, 16);
		inet_ntop(AF_INET6, &a->sin6_addr, text, (socklen_t)cap);
	} else {
		snprintf(text, cap, "unknown");
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct loop_ctx *lc = server->data;
	if (status < 0 || lc->stopping)
		return;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->lc = lc;
	uv_tcp_init(&lc->loop, &c->tcp);
	uv_timer_init(&lc->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->handles_open = 2;
	pc_arena_init(&c->req.arena);
	c->next = lc->conns;
	if (lc->conns)
		lc->conns->prev = c;
	lc->conns = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		close_conn(c);
		return;
	}
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) != 0) {
		close_conn(c);
		return;
	}
	addr_key(&ss, &c->key, c->peer, sizeof(c->peer));
	c->peer_trusted = pc_config_addr_trusted(lc->srv->cfg, (struct sockaddr *)&ss);
	if (!pc_connlimit_acquire(&c->key, c->peer_trusted)) {
		close_conn(c); /* over a limit: the cheapest answer is none */
		return;
	}
	c->counted = true;
	pc_metrics_connections(1);
	uv_tcp_nodelay(&c->tcp, 1);
	c->state = CS_IDLE;
	/* a fresh connection gets the header deadline to send its first byte */
	arm(c, lc->srv->cfg->header_timeout_ms);
	read_resume(c);
	if (!c->reading)
		close_conn(c);
}

/* ---------- loops, start and stop ---------- */

static void on_tick(uv_timer_t *t)
{
	struct loop_ctx *lc = t->data;
	update_date(lc);
	pc_log_flush_thread();
}

static void on_shutdown_timer(uv_timer_t *t)
{
	struct loop_ctx *lc = t->data;
	for (struct conn *c = lc->conns; c != NULL; c = c->next)
		close_conn(c);
}

static void on_stop(uv_async_t *a)
{
	struct loop_ctx *lc = a->data;
	if (lc->stopping)
		return;
	lc->stopping = true;
	for (size_t i = 0; i < lc->n_listeners; i++)
		uv_close((uv_handle_t *)&lc->listeners[i], NULL);
	struct conn *next;
	for (struct conn *c = lc->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == CS_IDLE && !c->writing && c->pending_work == 0)
			close_conn(c);
		else
			c->close_after = true;
	}
	uv_timer_start(&lc->shutdown_timer, on_shutdown_timer, lc->srv->cfg->shutdown_timeout_ms, 0);
	uv_unref((uv_handle_t *)&lc->shutdown_timer);
}

static void *loop_main(void *arg)
{
	struct loop_ctx *lc = arg;
	pc_metrics_bind_thread(lc->index);
	uv_run(&lc->loop, UV_RUN_DEFAULT);
	/* the loop ran dry: close what is left and let the callbacks run */
	uv_close((uv_handle_t *)&lc->tick, NULL);
	uv_close((uv_handle_t *)&lc->stop_async, NULL);
	uv_close((uv_handle_t *)&lc->shutdown_timer, NULL);
	uv_run(&lc->loop, UV_RUN_DEFAULT);
	uv_loop_close(&lc->loop);
	pc_log_flush_thread();
	return NULL;
}

static int bind_socket(const struct pc_listen *l, uint16_t port, uint16_t *bound, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int family;
	memset(&ss, 0, sizeof(ss));
	if (strchr(l->host, ':') != NULL) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		family = a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, l->host, &a->sin6_addr) != 1)
			goto bad;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		family = a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, l->host, &a->sin_addr) != 1)
			goto bad;
		sl = sizeof(*a);
	}
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 1024) != 0) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s", l->host, (unsigned)port, strerror(errno));
		close(fd);
		return -1;
	}
	struct sockaddr_storage got;
	socklen_t gl = sizeof(got);
	getsockname(fd, (struct sockaddr *)&got, &gl);
	*bound = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
	                                  : ((struct sockaddr_in *)&got)->sin_port);
	return fd;
bad:
	snprintf(err, errlen, "not a numeric address: %s", l->host);
	return -1;
}

static void build_security_headers(struct server *srv)
{
	srv->sec_headers_len = pc_head_security(srv->sec_headers, sizeof(srv->sec_headers),
	                                        srv->cfg->xss_protection == PC_XSS_BLOCK);
	if (srv->sec_headers_len == 0)
		abort(); /* the buffer is sized for the block: never answer without it */
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int pc_server_run(struct pc_app *app)
{
	const struct pc_config *cfg = app->cfg;
	static struct server srv;
	const char *names[256];
	int rc = 1;
	char err[256];

	memset(&srv, 0, sizeof(srv));
	srv.app = app;
	srv.cfg = cfg;
	srv.max_buf = PC_HTTP_MAX_HEAD_BYTES + (size_t)cfg->max_body_bytes;
	build_security_headers(&srv);
	int np = pc_router_init((struct pc_route *)app->routes, app->n_routes, names, 256);
	if (np < 0) {
		pc_log("error", "startup", "the route table is invalid");
		return 1;
	}
	srv.n_patterns = (size_t)np;
	if (pc_metrics_init(cfg->threads, names, srv.n_patterns) != 0 ||
	    pc_connlimit_init(cfg->max_connections, cfg->max_connections_per_addr) != 0) {
		pc_log("error", "startup", "out of memory");
		return 1;
	}
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);

	srv.n_loops = cfg->threads;
	srv.loops = calloc(srv.n_loops, sizeof(*srv.loops));
	if (srv.loops == NULL)
		goto out;
	for (unsigned t = 0; t < srv.n_loops; t++)
		for (size_t i = 0; i < PC_MAX_LISTEN; i++)
			srv.loops[t].fds[i] = -1;

	for (size_t i = 0; i < cfg->n_listen; i++) {
		uint16_t port = cfg->listen[i].port;
		for (unsigned t = 0; t < srv.n_loops; t++) {
			uint16_t bound = 0;
			int fd = bind_socket(&cfg->listen[i], port, &bound, err, sizeof(err));
			if (fd < 0) {
				struct pc_logline l;
				pc_logline_begin(&l, "error", "startup");
				pc_logline_str(&l, "message", err);
				pc_logline_emit(&l);
				goto out;
			}
			port = bound;
			srv.loops[t].fds[i] = fd;
		}
		char addr[96];
		if (strchr(cfg->listen[i].host, ':'))
			snprintf(addr, sizeof(addr), "[%s]:%u", cfg->listen[i].host, (unsigned)port);
		else
			snprintf(addr, sizeof(addr), "%s:%u", cfg->listen[i].host, (unsigned)port);
		struct pc_logline l;
		pc_logline_begin(&l, "info", "listening");
		pc_logline_str(&l, "address", addr);
		pc_logline_int(&l, "threads", cfg->threads);
		pc_logline_emit(&l);
	}

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	unsigned started = 0;
	for (unsigned t = 0; t < srv.n_loops; t++) {
		struct loop_ctx *lc = &srv.loops[t];
		lc->srv = &srv;
		lc->index = t;
		uv_loop_init(&lc->loop);
		uint8_t rnd[8];
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(lc->reqid_prefix, sizeof(lc->reqid_prefix), rnd, sizeof(rnd));
		update_date(lc);
		uv_timer_init(&lc->loop, &lc->tick);
		lc->tick.data = lc;
		uv_timer_start(&lc->tick, on_tick, TICK_MS, TICK_MS);
		uv_unref((uv_handle_t *)&lc->tick);
		uv_timer_init(&lc->loop, &lc->shutdown_timer);
		lc->shutdown_timer.data = lc;
		uv_async_init(&lc->loop, &lc->stop_async, on_stop);
		lc->stop_async.data = lc;
		uv_unref((uv_handle_t *)&lc->stop_async);
		for (size_t i = 0; i < cfg->n_listen; i++) {
			uv_tcp_init(&lc->loop, &lc->listeners[i]);
			lc->listeners[i].data = lc;
			if (uv_tcp_open(&lc->listeners[i], lc->fds[i]) != 0 ||
			    uv_listen((uv_stream_t *)&lc->listeners[i], 1024, on_connection) != 0) {
				pc_log("error", "startup", "cannot listen");
				goto out;
			}
			lc->fds[i] = -1; /* owned by the handle now */
			lc->n_listeners++;
		}
		if (pthread_create(&lc->thread, NULL, loop_main, lc) != 0) {
			pc_log("error", "startup", "cannot start a loop thread");
			break;
		}
		started++;
	}
	if (started == srv.n_loops) {
		int sig = 0;
		sigwait(&sigs, &sig);
		struct pc_logline l;
		pc_logline_begin(&l, "info", "stopping");
		pc_logline_str(&l, "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		pc_logline_emit(&l);
		rc = 0;
	}
	for (unsigned t = 0; t < started; t++)
		uv_async_send(&srv.loops[t].stop_async);
	for (unsigned t = 0; t < started; t++)
		pthread_join(srv.loops[t].thread, NULL);
	pc_log("info", "stopped", NULL);
out:
	if (srv.loops != NULL) {
		for (unsigned t = 0; t < srv.n_loops; t++)
			for (size_t i = 0; i < PC_MAX_LISTEN; i++)
				if (srv.loops[t].fds[i] >= 0)
					close(srv.loops[t].fds[i]);
	}
	free(srv.loops);
	pc_connlimit_free();
	pc_metrics_free();
	pc_log_flush_thread();
	return rc;
}
