/*
 * listen.c — the listening sockets and the loop threads.
 *
 * Every PORTCULLIS_LISTEN address is bound once per loop with SO_REUSEPORT
 * (the first bind of a ":0" address picks the port the others reuse), so
 * the kernel spreads connections over the loops and no loop hands a
 * connection to another. Each loop thread owns its listeners, its
 * connections (conn.c) and two timers: the tick that refreshes the Date
 * header and flushes the thread's log buffer, and the shutdown timer that
 * closes what is still open shutdown_timeout after a stop was asked.
 *
 * One server per address: SO_REUSEPORT would let a second process (a
 * second portcullis with another database, say) bind the same address and
 * silently take half the connections. So before the first bind of a fixed
 * port, a probe socket WITHOUT SO_REUSEPORT binds it: if anything listens
 * there, the probe fails and the server refuses to start. The probe is
 * closed before our SO_REUSEPORT sockets bind; two servers started in the
 * same instant could both pass it (a window of microseconds), which the
 * probe cannot close — nothing short of not using SO_REUSEPORT would.
 */
#include "http/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/log.h"
#include "obs/metrics.h"

#define TICK_MS 100

static void update_date(struct loop_ctx *lc)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	lc->date_len = strftime(lc->date, sizeof(lc->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

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
		pc_conn_close(c);
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
			pc_conn_close(c);
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

/* reuseport false: the probe (see the top of the file). */
static int bind_socket(const struct pc_listen *l, uint16_t port, bool reuseport, uint16_t *bound,
                       char *err, size_t errlen)
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
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (!reuseport && bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		if (errno == EADDRINUSE)
			snprintf(err, errlen,
			         "cannot listen on %s port %u: another process already listens there "
			         "(a second portcullis, or another server); one server per address",
			         l->host, (unsigned)port);
		else
			snprintf(err, errlen, "cannot listen on %s port %u: %s", l->host, (unsigned)port,
			         strerror(errno));
		close(fd);
		return -1;
	}
	if (!reuseport) {
		*bound = port;
		return fd;
	}
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

int pc_listen_bind(struct server *srv)
{
	const struct pc_config *cfg = srv->cfg;
	char err[256];
	for (unsigned t = 0; t < srv->n_loops; t++)
		for (size_t i = 0; i < PC_MAX_LISTEN; i++)
			srv->loops[t].fds[i] = -1;

	for (size_t i = 0; i < cfg->n_listen; i++) {
		uint16_t port = cfg->listen[i].port;
		if (port != 0) {
			/* a port the kernel picks (0) is free by construction */
			uint16_t unused = 0;
			int probe = bind_socket(&cfg->listen[i], port, false, &unused, err, sizeof(err));
			if (probe < 0) {
				struct pc_logline l;
				pc_logline_begin(&l, "error", "startup");
				pc_logline_str(&l, "message", err);
				pc_logline_emit(&l);
				return -1;
			}
			close(probe);
		}
		for (unsigned t = 0; t < srv->n_loops; t++) {
			uint16_t bound = 0;
			int fd = bind_socket(&cfg->listen[i], port, true, &bound, err, sizeof(err));
			if (fd < 0) {
				struct pc_logline l;
				pc_logline_begin(&l, "error", "startup");
				pc_logline_str(&l, "message", err);
				pc_logline_emit(&l);
				return -1;
			}
			port = bound;
			srv->loops[t].fds[i] = fd;
		}
		char addr[96];
		if (strchr(cfg->listen[i].host, ':'))
			snprintf(addr, sizeof(addr), "[%s]:%u", cfg->listen[i].host, (unsigned)port);
		else
			snprintf(addr, sizeof(addr), "%s:%u", cfg->listen[i].host, (unsigned)port);
		/* the address to open in a browser on this machine: a wildcard
		 * address is reached through loopback */
		char url[128];
		const char *h = cfg->listen[i].host;
		if (strcmp(h, "0.0.0.0") == 0)
			h = "127.0.0.1";
		else if (strcmp(h, "::") == 0)
			h = "::1";
		snprintf(url, sizeof(url), strchr(h, ':') ? "http://[%s]:%u/" : "http://%s:%u/", h, (unsigned)port);
		struct pc_logline l;
		pc_logline_begin(&l, "info", "listening");
		pc_logline_str(&l, "address", addr);
		pc_logline_int(&l, "threads", cfg->threads);
		pc_logline_str(&l, "url", url);
		pc_logline_emit(&l);
	}

	return 0;
}

unsigned pc_listen_start(struct server *srv)
{
	const struct pc_config *cfg = srv->cfg;
	unsigned started = 0;
	for (unsigned t = 0; t < srv->n_loops; t++) {
		bool listening = true;
		struct loop_ctx *lc = &srv->loops[t];
		lc->srv = srv;
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
			    uv_listen((uv_stream_t *)&lc->listeners[i], 1024, pc_conn_accept) != 0) {
				pc_log("error", "startup", "cannot listen");
				listening = false;
				break;
			}
			lc->fds[i] = -1; /* owned by the handle now */
			lc->n_listeners++;
		}
		/* the loops already started are stopped and joined by the caller */
		if (!listening)
			break;
		if (pthread_create(&lc->thread, NULL, loop_main, lc) != 0) {
			pc_log("error", "startup", "cannot start a loop thread");
			break;
		}
		started++;
	}
	return started;
}

void pc_listen_stop(struct server *srv, unsigned started)
{
	for (unsigned t = 0; t < started; t++)
		uv_async_send(&srv->loops[t].stop_async);
	for (unsigned t = 0; t < started; t++)
		pthread_join(srv->loops[t].thread, NULL);
}

void pc_listen_close_fds(struct server *srv)
{
	if (srv->loops == NULL)
		return;
	for (unsigned t = 0; t < srv->n_loops; t++)
		for (size_t i = 0; i < PC_MAX_LISTEN; i++)
			if (srv->loops[t].fds[i] >= 0)
				close(srv->loops[t].fds[i]);
}
