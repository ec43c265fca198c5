/*
 * metrics.c — see metrics.h.
 *
 * Layout of a shard: counts[route][method][status slot] and, per route, a
 * latency histogram. Status codes map to a fixed slot list; a code outside
 * it lands in the "other" slot labelled by its class would lose information,
 * so every code portcullis can produce is listed.
 */
#include "obs/metrics.h"
#include "core/redact.h"

#include <dirent.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const int status_codes[] = {
	100, 200, 201, 204, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 408,
	409, 410, 411, 413, 414, 415, 417, 422, 429, 431, 500, 501, 502, 503, 504, 505,
};
#define N_STATUS (sizeof(status_codes) / sizeof(status_codes[0]))
#define STATUS_OTHER N_STATUS /* one extra slot for anything else */
#define N_SLOTS (N_STATUS + 1)
/* methods, plus one for requests refused before their method was known */
#define N_METHODS (PC_METHOD__COUNT + 1)

/* Seconds: from 100 µs (a cached verify) to 10 s (a deadline). */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                 5,      10};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))
static uint64_t bucket_ns[N_BUCKETS];

struct histogram {
	_Atomic uint64_t le[N_BUCKETS + 1]; /* last: +Inf */
	_Atomic uint64_t sum_ns;
};

struct shard {
	_Atomic uint64_t *counts; /* [routes][methods][slots] */
	struct histogram *hist;   /* [routes] */
	char pad[64];
};

static const char *const auth_failure_names[PC_AUTHF__COUNT] = {
	"tampered_cookie", "expired",         "unknown_session", "bad_credentials",
	"throttled",       "invalid_token",   "revoked_token",   "invalid_api_key",
	"backend_unavailable",
};

static struct {
	unsigned n_threads;
	size_t n_routes; /* including the two extra */
	const char **route_names;
	struct shard *shards;
	_Atomic int64_t open_connections;
	atomic_bool throttle_fallback;
	atomic_llong mail_depth;
	_Atomic uint64_t counters[PC_CTR__COUNT];
	_Atomic uint64_t auth_failures[PC_AUTHF__COUNT];
	_Atomic uint64_t csrf_failures[PC_CSRFF__COUNT];
	_Atomic uint64_t access[PC_ACCESS_POLICIES][PC_ACCESS_OUTCOMES];
	_Atomic uint64_t access_reloads[2]; /* failed, ok */
	struct histogram revocation;
	/* backends the /ready probes name: set by the last /metrics or /ready */
	struct {
		const char *name; /* static: a probe's name */
		atomic_int up;    /* -1 never probed, 0 down, 1 up */
	} backends[PC_METRICS_BACKENDS];
	int64_t start_time_s; /* the process start (/proc/self/stat), or init time */
} M;

static _Thread_local struct shard *my_shard;

static size_t status_slot(int status)
{
	for (size_t i = 0; i < N_STATUS; i++)
		if (status_codes[i] == status)
			return i;
	return STATUS_OTHER;
}

static void observe(struct histogram *h, uint64_t ns, bool shared)
{
	size_t i = 0;
	while (i < N_BUCKETS && ns > bucket_ns[i])
		i++;
	if (shared) {
		atomic_fetch_add_explicit(&h->le[i], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
	} else {
		/* single writer: plain load + store, no locked instruction */
		atomic_store_explicit(&h->le[i], atomic_load_explicit(&h->le[i], memory_order_relaxed) + 1,
		                      memory_order_relaxed);
		atomic_store_explicit(&h->sum_ns,
		                      atomic_load_explicit(&h->sum_ns, memory_order_relaxed) + ns,
		                      memory_order_relaxed);
	}
}

/* The process start time in unix seconds: /proc/self/stat field 22
 * (clock ticks after boot) plus the boot time of /proc/stat; 0 when
 * unreadable. */
static int64_t process_start_time(void)
{
	char buf[1024];
	long long btime = -1;
	FILE *f = fopen("/proc/stat", "re");
	if (f == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (sscanf(buf, "btime %lld", &btime) == 1)
			break;
	fclose(f);
	f = fopen("/proc/self/stat", "re");
	if (f == NULL || btime < 0) {
		if (f != NULL)
			fclose(f);
		return 0;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after the command name, which may hold spaces: the last ')' */
	char *p = strrchr(buf, ')');
	unsigned long long ticks = 0;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
	                        &ticks) != 1)
		return 0;
	long hz = sysconf(_SC_CLK_TCK);
	return hz > 0 ? (int64_t)btime + (int64_t)(ticks / (unsigned long long)hz) : 0;
}

void pc_metrics_backend_up(const char *name, bool up)
{
	for (size_t i = 0; i < PC_METRICS_BACKENDS && M.backends[i].name != NULL; i++) {
		if (strcmp(M.backends[i].name, name) == 0) {
			atomic_store(&M.backends[i].up, up ? 1 : 0);
			return;
		}
	}
}

void pc_metrics_backends(const char *const *names, size_t n)
{
	for (size_t i = 0; i < PC_METRICS_BACKENDS; i++) {
		M.backends[i].name = i < n ? names[i] : NULL;
		atomic_store(&M.backends[i].up, -1);
	}
}

int pc_metrics_init(unsigned n_threads, const char *const *route_names, size_t n_routes)
{
	M.start_time_s = process_start_time();
	if (M.start_time_s == 0)
		M.start_time_s = (int64_t)time(NULL);
	for (size_t i = 0; i < N_BUCKETS; i++)
		bucket_ns[i] = (uint64_t)(buckets[i] * 1e9);
	M.n_threads = n_threads;
	M.n_routes = n_routes + 2;
	M.route_names = calloc(M.n_routes, sizeof(*M.route_names));
	M.shards = calloc(n_threads, sizeof(*M.shards));
	if (M.route_names == NULL || M.shards == NULL)
		goto fail;
	for (size_t i = 0; i < n_routes; i++)
		M.route_names[i] = route_names[i];
	M.route_names[PC_METRICS_ROUTE_UNMATCHED(n_routes)] = "unmatched";
	M.route_names[PC_METRICS_ROUTE_NONE(n_routes)] = "none";
	for (unsigned t = 0; t < n_threads; t++) {
		M.shards[t].counts = calloc(M.n_routes * N_METHODS * N_SLOTS, sizeof(uint64_t));
		M.shards[t].hist = calloc(M.n_routes, sizeof(struct histogram));
		if (M.shards[t].counts == NULL || M.shards[t].hist == NULL)
			goto fail;
	}
	return 0;
fail:
	pc_metrics_free();
	return -1;
}

void pc_metrics_free(void)
{
	if (M.shards != NULL) {
		for (unsigned t = 0; t < M.n_threads; t++) {
			free(M.shards[t].counts);
			free(M.shards[t].hist);
		}
	}
	free(M.shards);
	free(M.route_names);
	M.shards = NULL;
	M.route_names = NULL;
}

void pc_metrics_bind_thread(unsigned thread)
{
	my_shard = (M.shards != NULL && thread < M.n_threads) ? &M.shards[thread] : NULL;
}

void pc_metrics_request(size_t route, enum pc_method method, int status, uint64_t duration_ns)
{
	struct shard *s = my_shard;
	if (s == NULL || route >= M.n_routes)
		return;
	unsigned m = (unsigned)method < PC_METHOD__COUNT ? (unsigned)method : PC_METHOD__COUNT;
	_Atomic uint64_t *c = &s->counts[(route * N_METHODS + m) * N_SLOTS + status_slot(status)];
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
	observe(&s->hist[route], duration_ns, false);
}

void pc_metrics_connections(int delta)
{
	atomic_fetch_add_explicit(&M.open_connections, delta, memory_order_relaxed);
}

void pc_metrics_inc(enum pc_counter c)
{
	pc_metrics_add(c, 1);
}

void pc_metrics_add(enum pc_counter c, uint64_t n)
{
	if ((unsigned)c < PC_CTR__COUNT)
		atomic_fetch_add_explicit(&M.counters[c], n, memory_order_relaxed);
}

static const char *const csrf_failure_names[PC_CSRFF__COUNT] = {
	"missing_header", "missing_cookie", "mismatch", "invalid",
	"expired", "wrong_session", "cross_site", "foreign_origin",
};

const char *pc_metrics_csrf_failure_name(enum pc_csrf_failure reason)
{
	return (unsigned)reason < PC_CSRFF__COUNT ? csrf_failure_names[reason] : "unknown";
}

static const char *const access_policy_names[PC_ACCESS_POLICIES] = {"bypass", "one_factor", "two_factor",
                                                                     "deny", "none"};
static const char *const access_outcome_names[PC_ACCESS_OUTCOMES] = {"allow", "login", "second_factor",
                                                                     "deny"};

void pc_metrics_access(unsigned policy, unsigned outcome)
{
	if (policy < PC_ACCESS_POLICIES && outcome < PC_ACCESS_OUTCOMES)
		atomic_fetch_add_explicit(&M.access[policy][outcome], 1, memory_order_relaxed);
}

void pc_metrics_access_reload(bool ok)
{
	atomic_fetch_add_explicit(&M.access_reloads[ok ? 1 : 0], 1, memory_order_relaxed);
}

void pc_metrics_csrf_failure(enum pc_csrf_failure reason)
{
	if ((unsigned)reason < PC_CSRFF__COUNT)
		atomic_fetch_add_explicit(&M.csrf_failures[reason], 1, memory_order_relaxed);
}

void pc_metrics_auth_failure(enum pc_auth_failure reason)
{
	if ((unsigned)reason < PC_AUTHF__COUNT)
		atomic_fetch_add_explicit(&M.auth_failures[reason], 1, memory_order_relaxed);
}

void pc_metrics_revocation_check(uint64_t duration_ns)
{
	observe(&M.revocation, duration_ns, true);
}

void pc_metrics_mail_depth(int64_t n)
{
	atomic_store_explicit(&M.mail_depth, (long long)n, memory_order_relaxed);
}

void pc_metrics_throttle_fallback_active(bool active)
{
	atomic_store_explicit(&M.throttle_fallback, active, memory_order_relaxed);
}

/* Growable text buffer for rendering; out of memory sticks. */
struct text {
	char *p;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void tprintf(struct text *t, const char *fmt, ...)
{
	if (t->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t ncap = t->cap * 2 + (size_t)n + 1;
		char *np = realloc(t->p, ncap);
		if (np == NULL) {
			t->oom = true;
			return;
		}
		t->p = np;
		t->cap = ncap;
	}
}

static void render_histogram(struct text *t, const char *name, const char *labels,
                             const uint64_t *le, uint64_t sum_ns)
{
	uint64_t cum = 0;
	const char *sep = labels[0] ? "," : "";
	for (size_t i = 0; i < N_BUCKETS; i++) {
		cum += le[i];
		tprintf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, buckets[i],
		        (unsigned long long)cum);
	}
	cum += le[N_BUCKETS];
	tprintf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
	if (labels[0]) {
		tprintf(t, "%s_sum{%s} %.9f\n", name, labels, (double)sum_ns / 1e9);
		tprintf(t, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
	} else {
		tprintf(t, "%s_sum %.9f\n", name, (double)sum_ns / 1e9);
		tprintf(t, "%s_count %llu\n", name, (unsigned long long)cum);
	}
}

static uint64_t ld(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

/* build_info and the process collector's standard names (the Prometheus
 * client libraries' process_* metrics), read from /proc/self. */
static void render_process(struct text *t)
{
	tprintf(t, "# HELP portcullis_build_info The build: version and the libsodium it runs with.\n"
	           "# TYPE portcullis_build_info gauge\n"
	           "portcullis_build_info{version=\"%s\",libsodium=\"%s\"} 1\n",
	        PC_VERSION, sodium_version_string());
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		tprintf(t, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
		           "# TYPE process_cpu_seconds_total counter\n"
		           "process_cpu_seconds_total %.6f\n",
		        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		                (double)ru.ru_stime.tv_usec / 1e6);
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long size = 0, resident = 0;
	if (f != NULL) {
		if (fscanf(f, "%llu %llu", &size, &resident) == 2) {
			long page = sysconf(_SC_PAGESIZE);
			tprintf(t, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
			           "# TYPE process_resident_memory_bytes gauge\n"
			           "process_resident_memory_bytes %llu\n"
			           "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
			           "# TYPE process_virtual_memory_bytes gauge\n"
			           "process_virtual_memory_bytes %llu\n",
			        resident * (unsigned long long)page, size * (unsigned long long)page);
		}
		fclose(f);
	}
	DIR *d = opendir("/proc/self/fd");
	if (d != NULL) {
		unsigned long long n = 0;
		for (struct dirent *e; (e = readdir(d)) != NULL;)
			n += e->d_name[0] != '.';
		closedir(d);
		tprintf(t, "# HELP process_open_fds Number of open file descriptors.\n"
		           "# TYPE process_open_fds gauge\n"
		           "process_open_fds %llu\n", n > 0 ? n - 1 : 0); /* not the one reading the directory */
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		tprintf(t, "# HELP process_max_fds Maximum number of open file descriptors.\n"
		           "# TYPE process_max_fds gauge\n"
		           "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	tprintf(t, "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
	           "# TYPE process_start_time_seconds gauge\n"
	           "process_start_time_seconds %lld\n", (long long)M.start_time_s);
}

size_t pc_metrics_render(char **out)
{
	struct text t = {.cap = 16384};
	*out = NULL;
	t.p = malloc(t.cap);
	if (t.p == NULL)
		return 0;
	t.p[0] = '\0';

	tprintf(&t, "# HELP http_requests_total HTTP requests answered, by route pattern, method and status.\n"
	            "# TYPE http_requests_total counter\n");
	for (size_t r = 0; r < M.n_routes; r++) {
		for (unsigned m = 0; m < N_METHODS; m++) {
			for (size_t s = 0; s < N_SLOTS; s++) {
				uint64_t sum = 0;
				for (unsigned th = 0; th < M.n_threads; th++)
					sum += ld(&M.shards[th].counts[(r * N_METHODS + m) * N_SLOTS + s]);
				if (sum == 0)
					continue;
				char status[8];
				if (s == STATUS_OTHER)
					snprintf(status, sizeof(status), "other");
				else
					snprintf(status, sizeof(status), "%d", status_codes[s]);
				tprintf(&t, "http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
				        M.route_names[r], m < PC_METHOD__COUNT ? pc_method_name((enum pc_method)m) : "none", status,
				        (unsigned long long)sum);
			}
		}
	}

	tprintf(&t, "# HELP http_request_duration_seconds Time from a complete request head to the response queued, by route pattern.\n"
	            "# TYPE http_request_duration_seconds histogram\n");
	for (size_t r = 0; r < M.n_routes; r++) {
		uint64_t le[N_BUCKETS + 1] = {0};
		uint64_t sum_ns = 0, total = 0;
		for (unsigned th = 0; th < M.n_threads; th++) {
			struct histogram *h = &M.shards[th].hist[r];
			for (size_t i = 0; i <= N_BUCKETS; i++)
				le[i] += ld(&h->le[i]);
			sum_ns += ld(&h->sum_ns);
		}
		for (size_t i = 0; i <= N_BUCKETS; i++)
			total += le[i];
		if (total == 0)
			continue;
		char labels[256];
		snprintf(labels, sizeof(labels), "route=\"%s\"", M.route_names[r]);
		render_histogram(&t, "http_request_duration_seconds", labels, le, sum_ns);
	}

	tprintf(&t, "# HELP http_open_connections Client connections open now.\n"
	            "# TYPE http_open_connections gauge\n"
	            "http_open_connections %lld\n",
	        (long long)atomic_load_explicit(&M.open_connections, memory_order_relaxed));

	static const struct {
		enum pc_counter c;
		const char *name, *help;
	} counters[] = {
		{PC_CTR_TOKENS_BLACKLISTED, "security_tokens_blacklisted_total", "Token ids added to the revocation list."},
		{PC_CTR_CSRF_GENERATED, "security_csrf_tokens_generated_total", "CSRF tokens handed out."},
		{PC_CTR_RESET_TOKENS_ISSUED, "security_password_reset_tokens_issued_total", "One-time password reset tokens issued."},
		{PC_CTR_THROTTLE_FALLBACK, "security_throttle_fallback_total", "Throttle slots taken on per-instance counters because Redis could not answer."},
		{PC_CTR_MAIL_SENT, "mail_sent_total", "Mails the SMTP server accepted."},
		{PC_CTR_MAIL_ATTEMPT_FAILED, "mail_delivery_failures_total", "Mail delivery attempts that failed (to be retried or given up)."},
		{PC_CTR_MAIL_GIVEN_UP, "mail_given_up_total", "Mails given up after the last attempt or a permanent refusal."},
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		tprintf(&t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i].name,
		        counters[i].help, counters[i].name, counters[i].name,
		        (unsigned long long)ld(&M.counters[counters[i].c]));

	tprintf(&t, "# HELP mail_outbox_depth Mails waiting in the outbox (neither sent nor given up), as this instance's sender last counted.\n"
	            "# TYPE mail_outbox_depth gauge\n"
	            "mail_outbox_depth %lld\n",
	        (long long)atomic_load_explicit(&M.mail_depth, memory_order_relaxed));
	tprintf(&t, "# HELP security_throttle_fallback_active 1 while the throttles count on per-instance counters (Redis unreachable).\n"
	            "# TYPE security_throttle_fallback_active gauge\n"
	            "security_throttle_fallback_active %d\n",
	        atomic_load_explicit(&M.throttle_fallback, memory_order_relaxed) ? 1 : 0);

	tprintf(&t, "# HELP security_csrf_validations_failed_total Unsafe requests refused by the CSRF check, by reason.\n"
	            "# TYPE security_csrf_validations_failed_total counter\n");
	for (size_t i = 0; i < PC_CSRFF__COUNT; i++)
		tprintf(&t, "security_csrf_validations_failed_total{reason=\"%s\"} %llu\n", csrf_failure_names[i],
		        (unsigned long long)ld(&M.csrf_failures[i]));

	tprintf(&t, "# HELP security_auth_failures_total Failed authentication attempts, by reason.\n"
	            "# TYPE security_auth_failures_total counter\n");
	for (size_t i = 0; i < PC_AUTHF__COUNT; i++)
		tprintf(&t, "security_auth_failures_total{reason=\"%s\"} %llu\n", auth_failure_names[i],
		        (unsigned long long)ld(&M.auth_failures[i]));

	/* counted by the guard in core (core/redact.h): every series from 0, so
	 * the PortcullisCredentialLeak alert sees the first increase */
	tprintf(&t, "# HELP security_credential_leaks_total Credentials the log guard replaced with a marker "
	            "before the line was written, by sink and kind: any increase is an incident.\n"
	            "# TYPE security_credential_leaks_total counter\n");
	for (int i = 0; i < PC_REDACT_SINK_N; i++)
		for (int k = 0; k < PC_REDACT_KIND_N; k++)
			tprintf(&t, "security_credential_leaks_total{sink=\"%s\",kind=\"%s\"} %llu\n",
			        pc_redact_sink_name(i), pc_redact_kind_name(k),
			        (unsigned long long)pc_redact_total(i, k));

	tprintf(&t, "# HELP access_decisions_total Forward-auth access decisions, by the deciding rule's policy "
	            "(none: no rule matched) and outcome.\n"
	            "# TYPE access_decisions_total counter\n");
	for (size_t i = 0; i < PC_ACCESS_POLICIES; i++)
		for (size_t j = 0; j < PC_ACCESS_OUTCOMES; j++)
			tprintf(&t, "access_decisions_total{policy=\"%s\",outcome=\"%s\"} %llu\n", access_policy_names[i],
			        access_outcome_names[j], (unsigned long long)ld(&M.access[i][j]));
	tprintf(&t, "# HELP access_rules_reloads_total Reloads of the access rules file (SIGHUP), by result.\n"
	            "# TYPE access_rules_reloads_total counter\n"
	            "access_rules_reloads_total{result=\"ok\"} %llu\n"
	            "access_rules_reloads_total{result=\"failed\"} %llu\n",
	        (unsigned long long)ld(&M.access_reloads[1]), (unsigned long long)ld(&M.access_reloads[0]));

	render_process(&t);
	tprintf(&t, "# HELP portcullis_backend_up 1 when the backend answered the last probe (of /metrics or /ready), 0 when not.\n"
	            "# TYPE portcullis_backend_up gauge\n");
	for (size_t i = 0; i < PC_METRICS_BACKENDS && M.backends[i].name != NULL; i++) {
		int up = atomic_load(&M.backends[i].up);
		if (up >= 0)
			tprintf(&t, "portcullis_backend_up{backend=\"%s\"} %d\n", M.backends[i].name, up);
	}

	tprintf(&t, "# HELP security_revocation_check_duration_seconds Time to check a token id against the revocation list.\n"
	            "# TYPE security_revocation_check_duration_seconds histogram\n");
	{
		uint64_t le[N_BUCKETS + 1];
		for (size_t i = 0; i <= N_BUCKETS; i++)
			le[i] = ld(&M.revocation.le[i]);
		render_histogram(&t, "security_revocation_check_duration_seconds", "", le,
		                 ld(&M.revocation.sum_ns));
	}

	if (t.oom) {
		free(t.p);
		return 0;
	}
	*out = t.p;
	return t.len;
}
