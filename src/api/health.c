/*
 * health.c — liveness, readiness and metrics endpoints.
 *
 * /health touches nothing: it says the loop answers. /ready asks every
 * configured backend (probes run on the worker pool, since they do I/O) and
 * names the first one that does not answer. /ready?scope=verify leaves out
 * the store: what bearer-token verification needs (Redis and a current
 * revocation list, when configured), for a node a load balancer keeps in
 * rotation for verification while the shared store is down (README,
 * "Readiness for load balancers"). /metrics probes too (the
 * portcullis_backend_up gauges), then renders the registry.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/redirect.h"
#include "obs/metrics.h"

void pc_api_health(struct pc_req *r)
{
	static const char body[] = "{\"status\":\"ok\"}";
	pc_respond(r, 200, "application/json", body, sizeof(body) - 1);
}

struct ready_state {
	const char *failed; /* name of the first probe that failed, or NULL */
	bool verify_only;   /* ?scope=verify: the store is not asked */
};

static bool skipped(const struct ready_state *st, const char *name)
{
	return st->verify_only && strcmp(name, "store") == 0;
}

/* Every probe (each also sets its portcullis_backend_up gauge). */
static void probe_all(struct pc_req *r, struct ready_state *st)
{
	for (size_t i = 0; i < r->app->n_probes; i++) {
		if (skipped(st, r->app->probes[i].name))
			continue;
		bool up = r->app->probes[i].check(r->app) == 0;
		pc_metrics_backend_up(r->app->probes[i].name, up);
		if (!up && st->failed == NULL)
			st->failed = r->app->probes[i].name;
	}
}

static void ready_work(struct pc_req *r, void *data)
{
	probe_all(r, data);
}

static void ready_done(struct pc_req *r, void *data)
{
	struct ready_state *st = data;
	if (st->failed != NULL) {
		char detail[128];
		snprintf(detail, sizeof(detail), "Backend not ready: %s.", st->failed);
		pc_resp_header(r, "Retry-After", "5");
		pc_respond_problem(r, 503, detail);
		return;
	}
	json_t *checks = json_object();
	for (size_t i = 0; i < r->app->n_probes; i++)
		if (!skipped(st, r->app->probes[i].name))
			json_object_set_new(checks, r->app->probes[i].name, json_string("ok"));
	pc_respond_json(r, 200, json_pack("{s:s,s:s,s:o}", "status", "ready", "scope", st->verify_only ? "verify" : "all",
	                                  "checks", checks));
}

void pc_api_ready(struct pc_req *r)
{
	struct ready_state *st = pc_arena_alloc(&r->arena, sizeof(*st));
	if (st == NULL) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	st->failed = NULL;
	st->verify_only = false;
	struct pc_str q = r->http->query, v;
	if (q.len > 0) {
		if (pc_query_get(q, "scope", &v) != 1 || v.len != 6 || memcmp(v.p, "verify", 6) != 0 ||
		    q.len != sizeof("scope=verify") - 1) {
			pc_respond_problem_kind(r, PC_PROB_INVALID_QUERY, "The only query /ready takes is scope=verify.");
			return;
		}
		st->verify_only = true;
	}
	if (r->app->n_probes == 0) {
		ready_done(r, st);
		return;
	}
	if (pc_req_defer(r, ready_work, ready_done, st) != 0)
		pc_respond_problem(r, 503, "The server is overloaded.");
}

static void metrics_work(struct pc_req *r, void *data)
{
	probe_all(r, data);
}

static void metrics_done(struct pc_req *r, void *data)
{
	(void)data;
	char *text = NULL;
	size_t len = pc_metrics_render(&text);
	if (text == NULL) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

/* The backends are probed first (on the worker pool: they do I/O), so
 * portcullis_backend_up is current at every scrape. */
void pc_api_metrics(struct pc_req *r)
{
	struct ready_state *st = pc_arena_alloc(&r->arena, sizeof(*st));
	if (st == NULL) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	st->failed = NULL;
	st->verify_only = false;
	if (r->app->n_probes == 0 || pc_req_defer(r, metrics_work, metrics_done, st) != 0)
		metrics_done(r, st); /* overloaded: the gauges of the last probe */
}
