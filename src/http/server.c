/*
 * server.c — pc_server_run: start-up, waiting for the stop signal, teardown.
 *
 * Start-up builds what every loop shares (the security header block, the
 * route table's metric indices, the metrics and connection-limit tables),
 * binds the sockets and starts the loops (listen.c); the calling thread
 * then waits for SIGTERM or SIGINT, blocked in every thread (SIGHUP calls
 * app->on_reload and waits on), and stops the
 * loops, which drain their connections (conn.c) before they return.
 */
#include "http/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/log.h"
#include "http/conn.h"
#include "http/head.h"
#include "http/router.h"
#include "obs/metrics.h"

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

void pc_server_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

int pc_server_run(struct pc_app *app)
{
	const struct pc_config *cfg = app->cfg;
	static struct server srv;
	const char *names[256];
	int rc = 1;

	memset(&srv, 0, sizeof(srv));
	srv.app = app;
	srv.cfg = cfg;
	srv.max_buf = PC_HTTP_MAX_HEAD_BYTES + (size_t)cfg->max_body_bytes;
	srv.on_request = pc_req_route;
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
	{
		const char *probe_names[PC_METRICS_BACKENDS];
		size_t n = 0;
		for (size_t i = 0; i < app->n_probes && n < PC_METRICS_BACKENDS; i++)
			probe_names[n++] = app->probes[i].name;
		pc_metrics_backends(probe_names, n);
	}
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);

	srv.n_loops = cfg->threads;
	srv.loops = calloc(srv.n_loops, sizeof(*srv.loops));
	if (srv.loops == NULL)
		goto out;
	/* blocked before the "listening" lines too (cmd_serve blocked them
	 * already; a caller that did not): whoever starts the server may stop
	 * it the moment it says it listens */
	sigset_t sigs;
	pc_server_block_signals(&sigs);
	if (pc_listen_bind(&srv) != 0)
		goto out;

	unsigned started = pc_listen_start(&srv);
	if (started == srv.n_loops) {
		int sig = 0;
		/* SIGHUP reloads what can be reloaded (the access rules) and goes on */
		while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
			if (app->on_reload != NULL)
				app->on_reload(app);
		/* the socket files go first: a server started now takes the
		 * paths instead of finding this one still listening there */
		pc_listen_unlink(&srv);
		struct pc_logline l;
		pc_logline_begin(&l, "info", "stopping");
		pc_logline_str(&l, "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		pc_logline_emit(&l);
		rc = 0;
	}
	pc_listen_stop(&srv, started);
	pc_log("info", "stopped", NULL);
out:
	pc_listen_close_fds(&srv);
	free(srv.loops);
	pc_connlimit_free();
	pc_metrics_free();
	pc_log_flush_thread();
	return rc;
}
