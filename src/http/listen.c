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
 *
 * A unix socket (unix:/path) is bound once and every loop listens on a
 * duplicate of it (the kernel wakes the loops and one accept wins). Made
 * with mode 0660: the socket file's owner and group may connect, which is
 * what a proxy on the same host needs and all the trust "unix" in
 * PORTCULLIS_TRUSTED_PROXIES gives. A socket file already there is
 * replaced only when nothing answers on it (a server killed before it
 * could remove it); anything else there is refused and left alone. The
 * file is removed at exit if it is still the one this server made.
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
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/log.h"
#include "obs/metrics.h"

#define TICK_MS 100

_Static_assert(PC_UNIX_PATH_MAX < sizeof(((struct sockaddr_un *)0)->sun_path), "a unix path and its NUL fit");

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
		uv_close(&lc->listeners[i].handle, NULL);
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

/* The unix socket of listen item i, bound and listening -> its fd; -1
 * with err. */
static int bind_unix(struct server *srv, size_t i, char *err, size_t errlen)
{
	const char *path = srv->cfg->listen[i].path;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t len = strlen(path);
	if (len >= sizeof(sa.sun_path)) { /* the configuration refuses it first */
		snprintf(err, errlen, "cannot listen on unix:%s: the path is too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, len + 1);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "cannot listen on unix:%s: something other than a socket is there (left "
			         "as it is)", path);
			return -1;
		}
		/* a socket file: a server killed before it could remove it left
		 * it, unless something still answers there */
		/* non-blocking: a live server whose accept queue is full answers
		 * EAGAIN instead of holding the start forever */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -1;
		}
		int rc = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		int e = errno;
		close(probe);
		if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
			snprintf(err, errlen, "cannot listen on unix:%s: another process already listens there (a "
			         "second portcullis, or another server); one server per address", path);
			return -1;
		}
		if (e != ECONNREFUSED) {
			snprintf(err, errlen, "cannot listen on unix:%s: %s", path, strerror(e));
			return -1;
		}
		if (unlink(path) != 0) {
			snprintf(err, errlen, "cannot listen on unix:%s: cannot remove the stale socket: %s", path,
			         strerror(errno));
			return -1;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "cannot listen on unix:%s: %s", path, strerror(errno));
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* the file is born 0660 (the umask only takes bits away; no moment
	 * with the process umask's wider mode) */
	mode_t old = umask(0117);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (rc != 0) {
		snprintf(err, errlen, "cannot listen on unix:%s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	if (listen(fd, 1024) != 0 || lstat(path, &st) != 0) {
		snprintf(err, errlen, "cannot listen on unix:%s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	srv->unix_made[i] = true;
	srv->unix_dev[i] = st.st_dev;
	srv->unix_ino[i] = st.st_ino;
	return fd;
}

static void log_startup_error(const char *err)
{
	struct pc_logline l;
	pc_logline_begin(&l, "error", "startup");
	pc_logline_str(&l, "message", err);
	pc_logline_emit(&l);
}

int pc_listen_bind(struct server *srv)
{
	const struct pc_config *cfg = srv->cfg;
	char err[256];
	for (unsigned t = 0; t < srv->n_loops; t++)
		for (size_t i = 0; i < PC_MAX_LISTEN; i++)
			srv->loops[t].fds[i] = -1;

	for (size_t i = 0; i < cfg->n_listen; i++) {
		if (cfg->listen[i].path[0] != '\0') {
			int fd = bind_unix(srv, i, err, sizeof(err));
			if (fd < 0) {
				log_startup_error(err);
				return -1;
			}
			srv->loops[0].fds[i] = fd;
			for (unsigned t = 1; t < srv->n_loops; t++) {
				srv->loops[t].fds[i] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
				if (srv->loops[t].fds[i] < 0) {
					snprintf(err, sizeof(err), "cannot listen on unix:%s: %s", cfg->listen[i].path,
					         strerror(errno));
					log_startup_error(err);
					return -1;
				}
			}
			char addr[PC_UNIX_PATH_MAX + 8];
			snprintf(addr, sizeof(addr), "unix:%s", cfg->listen[i].path);
			struct pc_logline l;
			pc_logline_begin(&l, "info", "listening");
			pc_logline_str(&l, "address", addr);
			pc_logline_int(&l, "threads", cfg->threads);
			pc_logline_emit(&l);
			continue;
		}
		uint16_t port = cfg->listen[i].port;
		if (port != 0) {
			/* a port the kernel picks (0) is free by construction */
			uint16_t unused = 0;
			int probe = bind_socket(&cfg->listen[i], port, false, &unused, err, sizeof(err));
			if (probe < 0) {
				log_startup_error(err);
				return -1;
			}
			close(probe);
		}
		for (unsigned t = 0; t < srv->n_loops; t++) {
			uint16_t bound = 0;
			int fd = bind_socket(&cfg->listen[i], port, true, &bound, err, sizeof(err));
			if (fd < 0) {
				log_startup_error(err);
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
			union pc_stream *h = &lc->listeners[i];
			int rc;
			if (cfg->listen[i].path[0] != '\0') {
				uv_pipe_init(&lc->loop, &h->pipe, 0);
				rc = uv_pipe_open(&h->pipe, lc->fds[i]);
			} else {
				uv_tcp_init(&lc->loop, &h->tcp);
				rc = uv_tcp_open(&h->tcp, lc->fds[i]);
			}
			h->handle.data = lc;
			if (rc != 0 || uv_listen(&h->stream, 1024, pc_conn_accept) != 0) {
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
	pc_listen_unlink(srv);
}

void pc_listen_unlink(struct server *srv)
{
	/* a unix socket file goes with its server, unless it is no longer
	 * the one made (another server replaced it) */
	for (size_t i = 0; i < PC_MAX_LISTEN; i++) {
		struct stat st;
		const char *path = srv->cfg->listen[i].path;
		if (srv->unix_made[i] && lstat(path, &st) == 0 && st.st_dev == srv->unix_dev[i] &&
		    st.st_ino == srv->unix_ino[i])
			unlink(path);
		srv->unix_made[i] = false;
	}
}
