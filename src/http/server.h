/*
 * server.h — the libuv HTTP/1.1 server: one loop per thread, SO_REUSEPORT.
 *
 * pc_server_run() binds every PORTCULLIS_LISTEN address once per thread
 * (the first bind of a ":0" address picks the port the others reuse), logs
 * one {"event":"listening","address":...} line per address, runs the loops
 * and returns when SIGTERM or SIGINT has drained them: listeners closed,
 * idle connections closed, in-flight requests given shutdown_timeout to
 * finish. Returns 0 on a clean stop, 1 when it could not start.
 */
#ifndef PC_HTTP_SERVER_H
#define PC_HTTP_SERVER_H

#include <signal.h>

#include "core/err.h"
#include "http/request.h"

PC_MUST_USE int pc_server_run(struct pc_app *app);

/* The signals pc_server_run waits for (SIGTERM, SIGINT, SIGHUP) into *set,
 * and blocked in the calling thread: call it before the first thread
 * starts, so every thread inherits the mask and none takes a stop with the
 * default action (no drain, a unix socket file left behind). */
void pc_server_block_signals(sigset_t *set);

#endif
