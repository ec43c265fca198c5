/*
 * request.h — what a handler sees: one parsed request and the ways to answer.
 *
 * A handler is called on a loop thread with a struct pc_req whose head and
 * body are complete and validated. It must answer exactly once, with one of
 * the pc_respond_* functions, either before it returns or later from a
 * `done` callback of pc_req_defer(). Anything that can block (password
 * hashing, the store, files) goes through pc_req_defer(): its `work` runs on
 * the worker pool, its `done` back on the loop.
 *
 * Every response gets the security headers, X-Request-Id, Date,
 * Content-Length and Connection from the server; handlers add only what is
 * theirs (Set-Cookie, Location, Retry-After, ...) with pc_resp_header().
 * Errors are RFC 9457 problem documents (pc_respond_problem).
 *
 * Lifetime: the request, its arena and every pointer in it live until the
 * response has been written; the arena is then reset. No header comment
 * below says otherwise, so: handlers own nothing they did not allocate.
 */
#ifndef PC_HTTP_REQUEST_H
#define PC_HTTP_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#include "core/arena.h"
#include "core/err.h"
#include "http/parser.h"
#include "http/problem.h"

#define PC_ROUTE_MAX_PARAMS 4
/* Bytes of a response's own headers: /verify's identity headers with 32
 * groups (2 KiB) and an X-Auth-Assertion carrying them again (4 KiB) fit. */
#define PC_RESP_EXTRA_HEADERS 12288

struct pc_req;
struct pc_app;
struct pc_principal;

typedef void (*pc_handler_fn)(struct pc_req *r);

enum pc_access { PC_PUBLIC = 0, PC_AUTHENTICATED = 1 };

/* One row of the route table (src/api/routes.c). Rows with the same pattern
 * and different methods form one resource; the router answers 405 with
 * Allow for a method no row serves. GET rows also serve HEAD. */
struct pc_route {
	enum pc_method method;
	const char *pattern; /* "/api/v1/users/{id}": {name} matches one non-empty segment */
	pc_handler_fn handler;
	enum pc_access access;
	const char *summary; /* one line for the OpenAPI document */
	unsigned flags;      /* PC_ROUTE_* */
	size_t metric_index; /* filled by pc_router_init: same for all rows of a pattern */
	size_t literal_len;  /* filled by pc_router_init: strlen(pattern) with no {name}, else 0 */
};

/* The route's responses may be cached (static files); others: no-store. */
#define PC_ROUTE_CACHEABLE 1u
/* Exempt from the CSRF check even on unsafe methods. */
#define PC_ROUTE_NO_CSRF 2u
/* Sets the session cookie (login, setup): CSRF-checked even without one. */
#define PC_ROUTE_SETS_SESSION 4u
/* CSRF-checked only when the request is authenticated (logout: with a dead
 * session there is nothing a forged request could end). */
#define PC_ROUTE_CSRF_IF_AUTH 16u
/* The handler reads the Authorization header itself (an OAuth client's
 * Basic credentials, a bearer token of its own kind): the authenticate
 * stage neither reads it nor X-API-Key, so they are never counted as failed
 * sign-ins; a session cookie is still read. */
#define PC_ROUTE_OWN_AUTH 128u

/* Stages run in order for every routed request; each either continues
 * (PC_NEXT), has answered (PC_DONE), or has deferred work whose `done`
 * callback will call pc_req_next(). Installed by main from the feature
 * modules, so src/http never depends on them. */
enum pc_step { PC_NEXT = 0, PC_DONE = 1, PC_ASYNC = 2 };
typedef enum pc_step (*pc_stage_fn)(struct pc_req *r);

#define PC_MAX_STAGES 8

struct pc_req {
	const struct pc_http_request *http; /* validated head */
	const char *body;                   /* NULL when no body */
	size_t body_len;
	const struct pc_route *route;       /* NULL before routing */
	struct pc_str params[PC_ROUTE_MAX_PARAMS];
	const char *param_names[PC_ROUTE_MAX_PARAMS];
	size_t n_params;
	char request_id[33];
	char client_addr[PC_CLIENT_ADDR_MAX]; /* socket peer, or X-Forwarded-For from a trusted proxy */
	bool peer_trusted;                    /* the socket peer is a trusted proxy */
	/* The path prefix this request came in under (PORTCULLIS_PATH_PREFIX,
	 * stripped before routing), or the X-Forwarded-Prefix of a trusted
	 * proxy that stripped it; "" when none. Every link portcullis emits
	 * (redirects, the pages' own links) starts with it. */
	char prefix[PC_PATH_PREFIX_MAX + 1];
	const struct pc_principal *principal; /* authenticated identity; NULL when anonymous */
	const struct pc_principal *pending;   /* a session waiting for its second step (then principal is NULL) */
	const struct pc_principal *actor;     /* who acts: the principal, or an anonymous actor */
	int auth_failure;                     /* 0, or 1 + enum pc_auth_failure of a rejected credential */
	struct pc_arena arena;
	struct pc_app *app;
	uint64_t started_ns;  /* monotonic, head complete */
	int64_t now;          /* wall clock seconds at head complete */

	/* response state, owned by the server */
	int status;
	bool responded;
	unsigned stage;
	char extra[PC_RESP_EXTRA_HEADERS];
	size_t extra_len;
	bool extra_overflow;
	void *conn; /* the server's connection */
};

/* A readiness probe: returns 0 when the backend answers. Runs on the worker
 * pool, so it may block (with its own timeout). */
struct pc_probe {
	const char *name;
	int (*check)(struct pc_app *app);
};
#define PC_MAX_PROBES 4

/* The application the server serves: configuration, routes, stages and the
 * feature modules' state (opaque to src/http). */
struct pc_app {
	const struct pc_config *cfg;
	const struct pc_route *routes;
	size_t n_routes;
	pc_stage_fn stages[PC_MAX_STAGES]; /* before the handler, in order */
	size_t n_stages;
	struct pc_probe probes[PC_MAX_PROBES];
	size_t n_probes;
	void *store;
	void *kv;
	void *features; /* auth, audit, ...: each module keeps its state here */
	void (*on_reload)(struct pc_app *app); /* SIGHUP, on the main thread; NULL: ignored */
};

/* Adds "name: value\r\n" to the response. Returns 0, or -1 when the name or
 * value contains a byte not allowed in a field (CR, LF, NUL, CTL) or the
 * extra header space is full (the response then becomes a 500). */
int pc_resp_header(struct pc_req *r, const char *name, const char *value);

/* Answers with a body copied from body[0..len). content_type NULL: none. */
void pc_respond(struct pc_req *r, int status, const char *content_type, const char *body,
                size_t len);
/* Answers with `json` serialised compactly; steals the reference. A NULL
 * json (failed construction) answers 500. */
void pc_respond_json(struct pc_req *r, int status, json_t *json);
/* 204/201/... without a body. */
void pc_respond_empty(struct pc_req *r, int status);
/* RFC 9457 problem of the default kind of status (http/problem.h):
 * {"type":"/api/v1/problems/<kind>","title","status","detail"}. detail must
 * not contain secrets; it may be NULL (and is dropped on a 5xx but 503). */
void pc_respond_problem(struct pc_req *r, int status, const char *detail);
/* The same for a named kind, whose status it answers with. */
void pc_respond_problem_kind(struct pc_req *r, enum pc_problem kind, const char *detail);

/* Runs work(r, data) on the worker pool, then done(r, data) on the loop.
 * done must answer or call pc_req_next(). If the client has gone away
 * meanwhile, done still runs and its answer is discarded. Returns 0, or -1
 * when the work could not be queued (the caller answers 503). */
typedef void (*pc_work_fn)(struct pc_req *r, void *data);
PC_MUST_USE int pc_req_defer(struct pc_req *r, pc_work_fn work, pc_work_fn done, void *data);

/* Continues with the next stage (or the handler) after PC_ASYNC. */
void pc_req_next(struct pc_req *r);

/* Route parameter by name ("id"), or a pc_str with p == NULL. */
struct pc_str pc_req_param(const struct pc_req *r, const char *name);

#endif
