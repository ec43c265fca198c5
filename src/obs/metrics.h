/*
 * metrics.h — Prometheus metrics registry.
 *
 * Request counters and latency histograms are sharded per loop thread: the
 * owning thread updates its shard with relaxed atomic loads and stores (no
 * lock, no shared cache line), and /metrics sums the shards. Security
 * counters are rare events and use shared relaxed atomic increments.
 * Text format: Prometheus exposition 0.0.4; `promtool check metrics` passes.
 */
#ifndef PC_OBS_METRICS_H
#define PC_OBS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/method.h"

enum pc_counter {
	PC_CTR_TOKENS_BLACKLISTED = 0,
	PC_CTR_CSRF_GENERATED,
	PC_CTR_RESET_TOKENS_ISSUED,
	PC_CTR_THROTTLE_FALLBACK, /* throttle slots taken on per-instance counters (Redis down) */
	PC_CTR_MAIL_SENT,         /* mails the SMTP server accepted */
	PC_CTR_MAIL_ATTEMPT_FAILED, /* delivery attempts that failed (retried or given up) */
	PC_CTR_MAIL_GIVEN_UP,     /* mails given up after the last attempt or a permanent refusal */
	PC_CTR__COUNT
};

/* Why an authentication attempt failed: the `reason` label. Never reorder:
 * the names table in metrics.c follows this order. */
enum pc_auth_failure {
	PC_AUTHF_TAMPERED_COOKIE = 0,
	PC_AUTHF_EXPIRED,
	PC_AUTHF_UNKNOWN_SESSION,
	PC_AUTHF_BAD_CREDENTIALS,
	PC_AUTHF_THROTTLED,
	PC_AUTHF_INVALID_TOKEN,
	PC_AUTHF_REVOKED_TOKEN,
	PC_AUTHF_INVALID_API_KEY,
	PC_AUTHF_BACKEND_UNAVAILABLE,
	PC_AUTHF__COUNT
};

/* Why the CSRF check refused a request: the `reason` label of
 * security_csrf_validations_failed_total. Never reorder. */
enum pc_csrf_failure {
	PC_CSRFF_MISSING_HEADER = 0,
	PC_CSRFF_MISSING_COOKIE,
	PC_CSRFF_MISMATCH,
	PC_CSRFF_INVALID,
	PC_CSRFF_EXPIRED,
	PC_CSRFF_WRONG_SESSION,
	PC_CSRFF_CROSS_SITE,
	PC_CSRFF_FOREIGN_ORIGIN,
	PC_CSRFF__COUNT
};

/* A method of PC_METHOD__COUNT labels requests refused before their method
 * was known (method="none"). Route indices: 0..n_routes-1 are the route table's patterns; these two
 * follow them. */
#define PC_METRICS_ROUTE_UNMATCHED(n_routes) ((n_routes))
#define PC_METRICS_ROUTE_NONE(n_routes) ((n_routes) + 1)

/* Call once before the loops start. route_names[i] labels route i (the
 * pattern). Returns 0 or -1 (out of memory). */
PC_MUST_USE int pc_metrics_init(unsigned n_threads, const char *const *route_names, size_t n_routes);
void pc_metrics_free(void);

/* Binds the calling thread to shard `thread` (0..n_threads-1). */
void pc_metrics_bind_thread(unsigned thread);

void pc_metrics_request(size_t route, enum pc_method method, int status, uint64_t duration_ns);
void pc_metrics_connections(int delta);
void pc_metrics_inc(enum pc_counter c);
void pc_metrics_add(enum pc_counter c, uint64_t n);
void pc_metrics_auth_failure(enum pc_auth_failure reason);
void pc_metrics_csrf_failure(enum pc_csrf_failure reason);
/* Forward-auth decisions: policy 0-3 as enum pc_policy (authz/rules.h),
 * PC_ACCESS_POLICIES - 1 when no rule matched; outcome as enum
 * pc_access_outcome. Plain numbers: obs/ knows no feature. */
#define PC_ACCESS_POLICIES 5
#define PC_ACCESS_OUTCOMES 4
void pc_metrics_access(unsigned policy, unsigned outcome);
void pc_metrics_access_reload(bool ok);
/* The label of a CSRF failure reason ("missing_header", ...). */
const char *pc_metrics_csrf_failure_name(enum pc_csrf_failure reason);
void pc_metrics_revocation_check(uint64_t duration_ns);
/* Whether the throttles count on per-instance counters now (Redis down):
 * the gauge security_throttle_fallback_active. */
void pc_metrics_throttle_fallback_active(bool active);

/* Mails waiting in the outbox (neither sent nor given up), as the sender
 * last counted them: the gauge mail_outbox_depth. */
void pc_metrics_mail_depth(int64_t n);

/* The backends /ready probes, as portcullis_backend_up{backend=NAME}:
 * pc_metrics_backends names them once at start (static strings, at most
 * PC_METRICS_BACKENDS); each probe reports with pc_metrics_backend_up. A
 * backend never probed yet is not rendered. */
#define PC_METRICS_BACKENDS 4
void pc_metrics_backends(const char *const *names, size_t n);
void pc_metrics_backend_up(const char *name, bool up);

/* Renders the exposition text into a malloc'd buffer (*out, caller frees);
 * returns its length, or 0 with *out NULL when out of memory. */
size_t pc_metrics_render(char **out);

#endif
