/* test_decide.c — access decisions as a user or an attacker sees them:
 * the table in tests/vectors/access_table.tsv against access_rules.conf
 * (every case through the same normalisers and query parser /verify uses),
 * the empty set, and the host index against a naive first-match scan over
 * random rule sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>

#include "authz/access.h"
#include "authz/path.h"
#include "authz/rules.h"

static const char *vec_path(char *buf, size_t cap, const char *file)
{
	const char *dir = getenv("PC_VECTORS");
	snprintf(buf, cap, "%s/%s", dir ? dir : "tests/vectors", file);
	return buf;
}

static enum pc_method method_of(const char *s)
{
	static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
	for (int i = 0; i < PC_METHOD__COUNT; i++) {
		if (strcmp(s, names[i]) == 0)
			return (enum pc_method)i;
	}
	return PC_METHOD__COUNT;
}

/* One table case to its outcome name ("BYPASS", "BAD_REQUEST", ...) and line. */
static void run_case(char *got, size_t cap, unsigned *line, const struct pc_rules *rules, char **col)
{
	*line = 0;
	/* url: scheme "://" authority target */
	const char *url = col[0];
	const char *auth = strstr(url, "://");
	assert_non_null(auth);
	auth += 3;
	const char *target = strchr(auth, '/');
	assert_non_null(target);
	char host[PC_AUTHZ_HOST_MAX + 1], path[PC_AUTHZ_PATH_MAX + 1];
	size_t hl, pl;
	if (pc_authz_host_normalize(host, sizeof(host), &hl, auth, (size_t)(target - auth)) != PC_NORM_OK ||
	    pc_authz_path_normalize(path, sizeof(path), &pl, target, strlen(target)) != PC_NORM_OK) {
		snprintf(got, cap, "BAD_REQUEST");
		return;
	}
	struct pc_access_query q;
	const char *why = NULL;
	const char *qs = strcmp(col[6], "-") == 0 ? "" : col[6];
	if (pc_access_query_parse(&q, &why, qs, strlen(qs)) != 0) {
		assert_non_null(why);
		snprintf(got, cap, "BAD_REQUEST");
		return;
	}
	struct pc_ip ip;
	bool have_ip = strcmp(col[2], "-") != 0;
	if (have_ip)
		assert_int_equal(pc_ip_parse(&ip, NULL, col[2], strlen(col[2])), 0);
	struct pc_access_request req = {host, hl, path, pl, method_of(col[1]), have_ip ? &ip : NULL};

	char groups_buf[512];
	const char *groups[PC_AUTHZ_MAX_VALUES];
	size_t ng = 0;
	if (strcmp(col[4], "-") != 0) {
		snprintf(groups_buf, sizeof(groups_buf), "%s", col[4]);
		for (char *save = NULL, *g = strtok_r(groups_buf, ",", &save); g; g = strtok_r(NULL, ",", &save))
			groups[ng++] = g;
	}
	unsigned factors = (unsigned)atoi(col[5]);
	struct pc_access_subject subj = {factors > 0, factors, NULL, 0, groups, ng};
	if (factors > 0) {
		subj.email = col[3];
		subj.email_len = strlen(col[3]);
	}
	struct pc_access_decision d;
	memset(&d, 0x5a, sizeof(d));
	enum pc_access_outcome o = pc_access_decide(&d, rules, &q, &req, &subj);
	assert_int_equal(o, d.outcome);
	assert_int_equal(pc_access_allowed(&d), o == PC_ACCESS_ALLOW);
	if (d.bypass)
		assert_int_equal(o, PC_ACCESS_ALLOW);
	if (d.ambiguous) {
		/* letter case would change the decision: refused like an
		 * ambiguous path (401 anonymous, 403 signed in), no rule named */
		assert_int_equal(o, factors > 0 ? PC_ACCESS_DENY : PC_ACCESS_LOGIN);
		assert_false(d.bypass);
		assert_int_equal(d.line, 0);
		snprintf(got, cap, "BAD_REQUEST");
		return;
	}
	snprintf(got, cap, "%s", d.bypass ? "BYPASS" : pc_access_outcome_name(o));
	*line = d.line;
}

static void test_table(void **state)
{
	(void)state;
	char p[512], err[512];
	struct pc_rules *rules = pc_rules_load_file(vec_path(p, sizeof(p), "access_rules.conf"), err, sizeof(err));
	if (rules == NULL)
		print_error("%s\n", err);
	assert_non_null(rules);
	FILE *f = fopen(vec_path(p, sizeof(p), "access_table.tsv"), "r");
	assert_non_null(f);
	char line[2048];
	size_t cases = 0, bad_request = 0, failures = 0;
	unsigned lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *col[9];
		size_t n = 0;
		for (char *s = line; n < 9; n++) {
			col[n] = s;
			char *tab = strchr(s, '\t');
			if (tab == NULL) {
				n++;
				break;
			}
			*tab = '\0';
			s = tab + 1;
		}
		assert_int_equal(n, 9);
		char got[32];
		unsigned got_line;
		run_case(got, sizeof(got), &got_line, rules, col);
		unsigned want_line = (unsigned)atoi(col[8]);
		if (strcmp(got, col[7]) != 0 || got_line != want_line) {
			print_error("access_table.tsv:%u %s %s user=%s groups=%s factors=%s query=%s: want %s line %u, "
			            "got %s line %u\n",
			            lineno, col[1], col[0], col[3], col[4], col[5], col[6], col[7], want_line, got,
			            got_line);
			failures++;
		}
		cases++;
		bad_request += strcmp(col[7], "BAD_REQUEST") == 0;
	}
	fclose(f);
	pc_rules_free(rules);
	assert_true(cases >= 40);
	assert_true(bad_request >= 30);
	assert_int_equal(failures, 0);
}

static void test_no_rules(void **state)
{
	(void)state;
	char err[64];
	struct pc_rules *empty = pc_rules_parse("# nothing\n", 10, err, sizeof(err));
	assert_non_null(empty);
	const char *g[] = {"ops"};
	struct pc_access_request req = {"app.example.com", 15, "/", 1, PC_METHOD_GET, NULL};
	struct pc_access_subject admin = {true, 2, "a@b.c", 5, g, 1};
	struct pc_access_decision d;
	assert_int_equal(pc_access_decide(&d, empty, NULL, &req, &admin), PC_ACCESS_DENY);
	assert_int_equal(d.line, 0);
	assert_false(d.bypass);
	assert_int_equal(pc_access_decide(&d, NULL, NULL, &req, &admin), PC_ACCESS_DENY);
	assert_int_equal(d.line, 0);
	pc_rules_free(empty);
}

static void test_query_parse(void **state)
{
	(void)state;
	struct pc_access_query q;
	const char *why;
	assert_int_equal(pc_access_query_parse(&q, &why, "", 0), 0);
	assert_false(q.present);
	assert_int_equal(pc_access_query_parse(&q, &why, "group=a,b.c,d_e-f&policy=two_factor", 35), 0);
	assert_true(q.present);
	assert_int_equal(q.policy, PC_POLICY_TWO_FACTOR);
	assert_int_equal(q.n_groups, 3);
	assert_string_equal(q.groups[0], "a");
	assert_string_equal(q.groups[1], "b.c");
	assert_string_equal(q.groups[2], "d_e-f");
	assert_int_equal(pc_access_query_parse(&q, &why, "policy=one_factor", 17), 0);
	assert_int_equal(q.n_groups, 0);
	assert_int_equal(q.policy, PC_POLICY_ONE_FACTOR);
	assert_false(q.redirect);
	/* redirect=true says how to answer, not who may pass: no requirement */
	assert_int_equal(pc_access_query_parse(&q, &why, "redirect=true", 13), 0);
	assert_false(q.present);
	assert_true(q.redirect);
	assert_int_equal(pc_access_query_parse(&q, &why, "group=ops&redirect=true", 23), 0);
	assert_true(q.present);
	assert_true(q.redirect);
	assert_int_equal(q.n_groups, 1);
	assert_false(q.csrf_token);
	assert_int_equal(pc_access_query_parse(&q, &why, "csrf=token", 10), 0);
	assert_false(q.present);
	assert_true(q.csrf_token);
	static const char *const bad[] = {
		"group", "=ops", "group=", "policy=", "group=ops&", "&group=ops", "group=ops&&policy=one_factor",
		"group=ops&group=ops", "policy=one_factor&policy=two_factor", "Group=ops", "group=ops;policy=x",
		"policy=TWO_FACTOR", "policy=bypass", "policy=deny", "group=%", "group=%4", "group=%zz", "group=a+b",
		"group=a%00", "policy=one_factor%00", "policy=two_factor%00x", "policy=one_facto", "group=a,", "group=,a", "group=a b", "group=.a", "groups=a", "rd=https://x",
		"redirect=", "redirect=TRUE", "redirect=1", "redirect=%74rue", "redirect=true&redirect=true", "redirect",
		"redirect=true&", "redirect=truex", "csrf=", "csrf=Token", "csrf=true", "csrf=token&csrf=token", "csrf",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		q.present = true;
		if (pc_access_query_parse(&q, &why, bad[i], strlen(bad[i])) == 0)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(pc_access_query_parse(&q, &why, bad[i], strlen(bad[i])), -1);
		assert_non_null(why);
		assert_false(q.present);
		assert_false(q.redirect);
		assert_false(q.csrf_token);
		assert_int_equal(q.n_groups, 0);
	}
	/* 64 groups fit, 65 do not; the byte limit is separate */
	char big[PC_AUTHZ_QUERY_MAX + 2];
	size_t o = (size_t)snprintf(big, sizeof(big), "group=");
	for (int i = 0; i < 64; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%sg%d", i ? "," : "", i);
	assert_int_equal(pc_access_query_parse(&q, &why, big, o), 0);
	assert_int_equal(q.n_groups, 64);
	o += (size_t)snprintf(big + o, sizeof(big) - o, ",g64");
	assert_int_equal(pc_access_query_parse(&q, &why, big, o), -1);
	/* bytes: 1024 accepted, 1025 refused as too long (not as a bad name) */
	o = (size_t)snprintf(big, sizeof(big), "policy=one_factor&group=");
	for (int i = 0; i < 60; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s%015d", i ? "," : "", i);
	while (o < PC_AUTHZ_QUERY_MAX)
		big[o++] = 'z'; /* lengthen the last name: still at most 64 bytes */
	assert_int_equal(pc_access_query_parse(&q, &why, big, PC_AUTHZ_QUERY_MAX), 0);
	big[o++] = 'z';
	assert_int_equal(pc_access_query_parse(&q, &why, big, PC_AUTHZ_QUERY_MAX + 1), -1);
	assert_string_equal(why, "query too long");
}

/* ---- the index against a naive first-match scan ---- */

static const char *const r_hosts[] = {"a.example.com", "b.example.com", "x.a.example.com", "example.com",
                                      "other.test", "a.other.test"};
static const char *const r_wild[] = {"example.com", "a.example.com", "other.test", "com"};
static const char *const r_paths[] = {"/", "/admin/", "/admin", "/api/", "/a"};
static const char *const r_groups[] = {"ops", "staff"};

struct mrule {
	int policy;
	int host_kind; /* 0 none, 1 exact, 2 wildcard */
	int host, path, methods, group;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static bool naive_host(const struct mrule *m, const char *h)
{
	if (m->host_kind == 0)
		return true;
	if (m->host_kind == 1)
		return strcmp(r_hosts[m->host], h) == 0;
	const char *s = r_wild[m->host];
	size_t hl = strlen(h), sl = strlen(s);
	return hl > sl + 1 && h[hl - sl - 1] == '.' && strcmp(h + hl - sl, s) == 0;
}

static int naive(const struct mrule *rs, size_t n, const char *h, const char *p, int method, bool signed_in,
                 int group, unsigned *line)
{
	for (size_t i = 0; i < n; i++) {
		const struct mrule *m = &rs[i];
		if (!naive_host(m, h))
			continue;
		if (m->path >= 0) {
			const char *rp = r_paths[m->path];
			size_t rl = strlen(rp);
			bool pre = strncmp(p, rp, rl) == 0;
			bool dir = rl > 1 && rp[rl - 1] == '/' && strlen(p) == rl - 1 && strncmp(p, rp, rl - 1) == 0;
			if (!pre && !dir)
				continue;
		}
		if (m->methods && !(m->methods & (1 << method)))
			continue;
		*line = (unsigned)i + 1;
		if (m->group >= 0) {
			if (!signed_in)
				return PC_ACCESS_LOGIN;
			if (m->group != group)
				continue;
		}
		if (m->policy == PC_POLICY_DENY)
			return PC_ACCESS_DENY;
		if (m->policy == PC_POLICY_BYPASS)
			return 100; /* bypass */
		if (!signed_in)
			return PC_ACCESS_LOGIN;
		return m->policy == PC_POLICY_TWO_FACTOR ? PC_ACCESS_SECOND_FACTOR : PC_ACCESS_ALLOW; /* 1 factor */
	}
	*line = 0;
	return PC_ACCESS_DENY;
}

static void test_index_vs_scan(void **state)
{
	(void)state;
	static const char *const req_hosts[] = {"a.example.com", "b.example.com", "x.a.example.com", "example.com",
	                                        "y.x.a.example.com", "other.test", "a.other.test", "z.com", "com",
	                                        "unrelated.net"};
	static const char *const req_paths[] = {"/", "/admin", "/admin/", "/admin/x", "/administrator", "/api",
	                                        "/api/v1", "/a", "/b"};
	char *text = malloc(64 * 200);
	assert_non_null(text);
	for (int round = 0; round < 200; round++) {
		struct mrule rs[64];
		size_t n = 1 + rnd(64), o = 0;
		for (size_t i = 0; i < n; i++) {
			struct mrule *m = &rs[i];
			m->policy = (int)rnd(4);
			m->host_kind = (int)rnd(3);
			m->host = m->host_kind == 1 ? (int)rnd(6) : (int)rnd(4);
			m->path = (int)rnd(6) - 1;
			m->methods = rnd(3) == 0 ? (int)(1 + rnd(3)) : 0; /* GET and/or HEAD */
			m->group = m->policy != PC_POLICY_BYPASS && rnd(3) == 0 ? (int)rnd(2) : -1;
			o += (size_t)sprintf(text + o, "%s", pc_policy_name((enum pc_policy)m->policy));
			if (m->host_kind == 1)
				o += (size_t)sprintf(text + o, " host=%s", r_hosts[m->host]);
			if (m->host_kind == 2)
				o += (size_t)sprintf(text + o, " host=*.%s", r_wild[m->host]);
			if (m->path >= 0)
				o += (size_t)sprintf(text + o, " path=%s", r_paths[m->path]);
			if (m->methods)
				o += (size_t)sprintf(text + o, " method=%s%s%s", m->methods & 1 ? "GET" : "",
				                     m->methods == 3 ? "," : "", m->methods & 2 ? "HEAD" : "");
			if (m->group >= 0)
				o += (size_t)sprintf(text + o, " group=%s", r_groups[m->group]);
			text[o++] = '\n';
		}
		char err[256];
		struct pc_rules *r = pc_rules_parse(text, o, err, sizeof(err));
		if (r == NULL)
			print_error("%s\n", err);
		assert_non_null(r);
		for (int k = 0; k < 100; k++) {
			const char *h = req_hosts[rnd(10)], *p = req_paths[rnd(9)];
			int method = (int)rnd(3);
			bool si = rnd(2);
			int group = (int)rnd(3); /* 2: neither */
			const char *g[1] = {group < 2 ? r_groups[group] : "sales"};
			struct pc_access_request req = {h, strlen(h), p, strlen(p), (enum pc_method)method, NULL};
			struct pc_access_subject subj = {si, 1, "u@x.y", 5, g, 1};
			struct pc_access_decision d;
			unsigned want_line;
			int want = naive(rs, n, h, p, method, si, group, &want_line);
			enum pc_access_outcome oc = pc_access_decide(&d, r, NULL, &req, &subj);
			assert_int_equal(oc, d.outcome);
			int got = d.bypass ? 100 : (int)d.outcome;
			if (got != want || d.line != want_line)
				print_error("round %d: %s %s: want %d line %u, got %d line %u\n%s", round, h, p, want,
				            want_line, got, d.line, text);
			assert_int_equal(got, want);
			assert_int_equal(d.line, want_line);
		}
		pc_rules_free(r);
	}
	free(text);
}

/* ---- swapping sets under readers (SIGHUP) ---- */

static pthread_mutex_t swap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pc_rules *current;
static volatile int stop_readers;

static void *reader(void *arg)
{
	(void)arg;
	struct pc_access_request req = {"app.example.com", 15, "/", 1, PC_METHOD_GET, NULL};
	struct pc_access_subject anon = {false, 0, NULL, 0, NULL, 0};
	unsigned long n = 0;
	while (!stop_readers || n < 1000) {
		pthread_mutex_lock(&swap_lock);
		struct pc_rules *r = pc_rules_ref(current);
		pthread_mutex_unlock(&swap_lock);
		struct pc_access_decision d;
		enum pc_access_outcome o = pc_access_decide(&d, r, NULL, &req, &anon);
		/* every set in the swap has the answer on line 1 or 2 */
		if (!((o == PC_ACCESS_LOGIN && d.line == 1) || (o == PC_ACCESS_DENY && d.line == 2)))
			abort();
		pc_rules_unref(r);
		n++;
	}
	return NULL;
}

/* Readers decide on whatever set is current while the main thread swaps in
 * new ones and drops the old: ASan reports a use after free and
 * LeakSanitizer a lost set if the reference count is wrong. */
static void test_swap_under_readers(void **state)
{
	(void)state;
	static const char *const texts[] = {"one_factor host=app.example.com\n", "deny path=/x\ndeny\n"};
	char err[128];
	current = pc_rules_parse(texts[0], strlen(texts[0]), err, sizeof(err));
	assert_non_null(current);
	pthread_t t[3];
	stop_readers = 0;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
	for (int i = 1; i <= 300; i++) {
		const char *tx = texts[i % 2];
		struct pc_rules *next = pc_rules_parse(tx, strlen(tx), err, sizeof(err));
		assert_non_null(next);
		pthread_mutex_lock(&swap_lock);
		struct pc_rules *old = current;
		current = next;
		pthread_mutex_unlock(&swap_lock);
		pc_rules_unref(old);
	}
	stop_readers = 1;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pc_rules_unref(current);
	current = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_no_rules),
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_index_vs_scan),
		cmocka_unit_test(test_swap_under_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
