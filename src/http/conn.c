/*
 * conn.c — one connection: accept, read, parse, deadlines, dispatch, write,
 * linger and close (the state machine of conn.h's struct conn).
 *
 * Invariants:
 *  - One request per connection is in flight at a time; pipelined bytes wait
 *    in the input buffer and are parsed only after the previous response has
 *    been written, so answers leave in request order.
 *  - The input buffer is never moved (realloc'd) while the parsed request
 *    points into it: it grows only before a head is complete, and is sized
 *    for the whole body once the head is known (re-parsing if it moved).
 *  - Every response, including protocol errors produced here, is built by
 *    pc_conn_respond(): security headers, X-Request-Id, Date, Cache-Control.
 *  - A protocol error answers, half-closes, and drains what the client still
 *    sends for a short while (lingering close) so the answer is not lost to
 *    a TCP reset; nothing after the bad request is parsed.
 *  - A connection's memory is freed only when both its handles are closed
 *    and no deferred work refers to it.
 */
#include "http/conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <uv.h>

#include "config/addr.h"
#include "core/log.h"
#include "http/head.h"
#include "http/xff.h"
#include "obs/metrics.h"

#define INITIAL_BUF 4096
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (256 * 1024)

/* ---------- small helpers ---------- */

uint64_t pc_conn_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

/* ---------- connection lifetime ---------- */

void pc_conn_maybe_free(struct conn *c)
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
	pc_conn_maybe_free(c);
}

void pc_conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_timer_stop(&c->timer);
	uv_close(&c->io.handle, on_handle_closed);
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

/* The deadline ms from now (loop time), set but not yet synced: pc_conn_process()
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
	/* reserved beforehand by pc_conn_respond */
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
		uv_read_stop(&c->io.stream);
		c->reading = false;
	}
}

static void read_resume(struct conn *c)
{
	if (!c->reading && !c->eof && !c->closing) {
		if (uv_read_start(&c->io.stream, on_alloc, on_read) == 0)
			c->reading = true;
	}
}

static void on_write(uv_write_t *w, int status)
{
	struct conn *c = w->data;
	c->writing = false;
	if (status < 0 || c->closing) {
		pc_conn_close(c);
		pc_conn_maybe_free(c);
		return;
	}
	after_write(c);
}

static void send_out(struct conn *c)
{
	uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);
	int n = uv_try_write(&c->io.stream, &b, 1);
	if (n == (int)c->out_len) {
		after_write(c);
		return;
	}
	if (n < 0 && n != UV_EAGAIN) {
		pc_conn_close(c);
		return;
	}
	size_t off = n > 0 ? (size_t)n : 0;
	b = uv_buf_init(c->out + off, (unsigned)(c->out_len - off));
	c->writing = true;
	c->wr.data = c;
	/* a client that does not read gets the body deadline to take its answer */
	arm(c, c->lc->srv->cfg->body_timeout_ms);
	if (uv_write(&c->wr, &c->io.stream, &b, 1, on_write) != 0) {
		c->writing = false;
		pc_conn_close(c);
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

void pc_conn_respond(struct conn *c, int status, const char *ctype, const char *body,
                           size_t body_len)
{
	struct pc_req *r = &c->req;
	struct server *srv = c->lc->srv;
	bool head_only = r->http != NULL && r->http->method == PC_METHOD_HEAD;
	bool cacheable = r->route != NULL && (r->route->flags & PC_ROUTE_CACHEABLE) && status < 400;

	if (r->extra_overflow) {
		/* a handler tried to add a header that does not fit: never send a
		 * response missing one of its own headers (a Set-Cookie, say) */
		static const char p500[] = "{\"type\":\"" PC_PROBLEM_TYPE_PREFIX "internal-error\",\"title\":\"Internal error\",\"status\":500}";
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
		pc_conn_close(c);
		return;
	}
	c->out_len = pc_head_write(c->out, &h);
	if (!head_only && body_len > 0)
		out_put(c, body, body_len);

	r->status = status;
	r->responded = true;
	uint64_t dur = pc_conn_now_ns() - r->started_ns;
	size_t route_idx = r->route ? r->route->metric_index
	                   : r->http ? PC_METRICS_ROUTE_UNMATCHED(srv->n_patterns)
	                             : PC_METRICS_ROUTE_NONE(srv->n_patterns);
	pc_metrics_request(route_idx, r->http ? r->http->method : PC_METHOD__COUNT, status, dur);
	if (srv->cfg->access_log)
		log_access(c, r, status, c->out_len, dur);
	send_out(c);
}

/* A protocol error before routing: answer, then close after draining. */
static void protocol_error(struct conn *c, int status, const char *why)
{
	struct pc_req *r = &c->req;
	r->http = NULL;
	r->route = NULL;
	r->extra_len = 0;
	r->extra_overflow = false;
	r->started_ns = pc_conn_now_ns();
	r->client_addr[0] = '\0';
	next_request_id(c->lc, r->request_id);
	c->close_after = true;
	c->state = CS_HANDLING;
	char body[768];
	size_t len;
	pc_head_problem_body(body, sizeof(body), &len, status, PC_PROB__COUNT, why);
	pc_conn_respond(c, status, "application/problem+json", body, len);
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
	r->pending = NULL; /* a keep-alive connection: never the last request's (arena freed) */
	r->auth_failure = 0;
	r->app = srv->app;
	r->started_ns = pc_conn_now_ns();
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

	srv->on_request(r);
}

static void on_shutdown_done(uv_shutdown_t *sd, int status)
{
	struct conn *c = sd->data;
	(void)status;
	c->writing = false;
	if (c->closing) {
		pc_conn_maybe_free(c);
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
		if (uv_shutdown(&c->sd, &c->io.stream, on_shutdown_done) != 0) {
			c->writing = false;
			pc_conn_close(c);
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
			pc_conn_close(c);
			return;
		}
	}
	read_resume(c);
	if (!c->in_process)
		pc_conn_process(c);
}

void pc_conn_process(struct conn *c)
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
				(void)uv_try_write(&c->io.stream, &b, 1);
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
		pc_conn_close(c);
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
		pc_conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	if (c->state == CS_LINGER) {
		c->lingered += (size_t)nread;
		if (c->lingered > LINGER_MAX_BYTES)
			pc_conn_close(c);
		return;
	}
	c->len += (size_t)nread;
	if (c->state == CS_HANDLING && c->len == c->cap)
		read_pause(c);
	pc_conn_process(c);
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
	} else if (ss->ss_family == AF_UNIX) {
		/* every unix-socket peer shares one key, "::", which no TCP peer
		 * can have (the unspecified address) */
		snprintf(text, cap, "unix");
	} else {
		snprintf(text, cap, "unknown");
	}
}

void pc_conn_accept(uv_stream_t *server, int status)
{
	struct loop_ctx *lc = server->data;
	if (status < 0 || lc->stopping)
		return;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->lc = lc;
	bool unix_socket = server->type == UV_NAMED_PIPE;
	if (unix_socket)
		uv_pipe_init(&lc->loop, &c->io.pipe, 0);
	else
		uv_tcp_init(&lc->loop, &c->io.tcp);
	uv_timer_init(&lc->loop, &c->timer);
	c->io.handle.data = c;
	c->timer.data = c;
	c->handles_open = 2;
	pc_arena_init(&c->req.arena);
	c->next = lc->conns;
	if (lc->conns)
		lc->conns->prev = c;
	lc->conns = c;
	if (uv_accept(server, &c->io.stream) != 0) {
		pc_conn_close(c);
		return;
	}
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (unix_socket)
		ss.ss_family = AF_UNIX; /* the peer of a unix socket has no address */
	else if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&ss, &sl) != 0) {
		pc_conn_close(c);
		return;
	}
	addr_key(&ss, &c->key, c->peer, sizeof(c->peer));
	c->peer_trusted = pc_config_addr_trusted(lc->srv->cfg, (struct sockaddr *)&ss);
	if (!pc_connlimit_acquire(&c->key, c->peer_trusted)) {
		pc_conn_close(c); /* over a limit: the cheapest answer is none */
		return;
	}
	c->counted = true;
	pc_metrics_connections(1);
	if (!unix_socket)
		uv_tcp_nodelay(&c->io.tcp, 1);
	c->state = CS_IDLE;
	/* a fresh connection gets the header deadline to send its first byte */
	arm(c, lc->srv->cfg->header_timeout_ms);
	read_resume(c);
	if (!c->reading)
		pc_conn_close(c);
}
