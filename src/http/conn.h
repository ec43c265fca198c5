/*
 * conn.h — inside src/http/ only: the server's connection, loop and server
 * state, and what its files call in each other.
 *
 *   conn.c     a connection: accept, read, parse, deadlines, write, close
 *   request.c  request.h's functions: answering, deferring, the pipeline
 *   listen.c   sockets (SO_REUSEPORT), one loop thread per core, stopping
 *   server.c   pc_server_run: start-up, the signal wait, teardown
 *
 * Calls point one way: server.c -> listen.c -> conn.c <- request.c, and
 * server.c, conn.c, request.c -> head.c (status line, headers, problem
 * bodies). The connection reaches the pipeline only through
 * srv->on_request.
 *
 * Everything here runs on the connection's loop thread, except what
 * request.c's deferred work runs on the worker pool (it sees only its
 * struct pc_req).
 */
#ifndef PC_HTTP_CONN_H
#define PC_HTTP_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "config/config.h"
#include "core/err.h"
#include "http/connlimit.h"
#include "http/request.h"

enum conn_state { CS_IDLE, CS_HEAD, CS_BODY, CS_HANDLING, CS_LINGER };

struct loop_ctx;

/* A connection's or a listener's stream: TCP, or a unix socket
 * (PORTCULLIS_LISTEN unix:/path); everything past accept sees the stream. */
union pc_stream {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct conn {
	union pc_stream io;
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
	union pc_stream listeners[PC_MAX_LISTEN];
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
	/* the unix sockets this server made (PORTCULLIS_LISTEN unix:/path), by
	 * listen item: removed at exit if the file is still the one made */
	bool unix_made[PC_MAX_LISTEN];
	dev_t unix_dev[PC_MAX_LISTEN];
	ino_t unix_ino[PC_MAX_LISTEN];
	char sec_headers[1024];
	size_t sec_headers_len;
	size_t max_buf;
	/* the pipeline a complete request goes to: pc_req_route, installed by
	 * server.c, so the connection calls nothing of request.c by name */
	void (*on_request)(struct pc_req *r);
};

/* ---- conn.c ---------------------------------------------------------------- */

/* Monotonic nanoseconds. */
uint64_t pc_conn_now_ns(void);
/* The uv_listen callback: accepts one connection onto server's loop. */
void pc_conn_accept(uv_stream_t *server, int status);
/* Parses and dispatches what the buffer holds, as far as the state allows;
 * syncs the deadline timer when it returns. */
void pc_conn_process(struct conn *c);
/* Closes both handles (once); the memory goes in pc_conn_maybe_free. */
void pc_conn_close(struct conn *c);
/* Frees c once its handles are closed, no deferred work refers to it and
 * no write is under way. */
void pc_conn_maybe_free(struct conn *c);
/* Builds the whole response (pc_head_write: the security headers and the
 * rest) in c->out, counts and logs it, and sends it. */
void pc_conn_respond(struct conn *c, int status, const char *ctype, const char *body,
                     size_t body_len);

/* ---- request.c --------------------------------------------------------------- */

/* Routes a request whose fields the connection has filled (OPTIONS *, 404,
 * 405 with Allow) and runs the stages and the handler. */
void pc_req_route(struct pc_req *r);

/* ---- listen.c ---------------------------------------------------------------- */

/* Binds every PORTCULLIS_LISTEN address once per loop (srv->loops[t].fds;
 * a unix socket once, duplicated for each loop) and logs each address. 0,
 * or -1 after logging why. */
PC_MUST_USE int pc_listen_bind(struct server *srv);
/* Starts one loop thread per srv->loops entry on its bound sockets; returns
 * how many started (all of them on success). */
unsigned pc_listen_start(struct server *srv);
/* Asks the first `started` loops to stop and waits for their threads. */
void pc_listen_stop(struct server *srv, unsigned started);
/* Closes every socket still owned by no loop, and removes the unix socket
 * files this server made. */
void pc_listen_close_fds(struct server *srv);
/* Removes the unix socket files this server made and that are still its
 * own (same device and inode): at once when a stop is asked, so a new
 * server can take the path while this one drains. */
void pc_listen_unlink(struct server *srv);

#endif
