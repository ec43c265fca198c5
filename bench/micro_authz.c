/*
 * micro_authz.c — cost of one forward-auth access decision (src/authz/),
 * the work /verify adds per request when a rules file is set:
 *
 *   decide, 1,000 rules, a request matching an early rule (line ~5)
 *   decide, 1,000 rules, a request matching a late rule (line ~1,000)
 *   decide, 1,000 rules, an unlisted host (all host-less rules, final deny)
 *   decide, no rules (baseline: the call itself)
 *   path and host normalisation of a typical forwarded target
 *
 * The set is realistic: 200 hosts with 5 rules each (bypass /health, a
 * two_factor /admin/ for a group, a deny with a net list, a method rule,
 * a one_factor catch-all), wildcard zones, and host-less rules at the
 * start (ACME and favicon bypass, a net deny) and end (a catch-all deny), 1,000 in all.
 * Prints ns/op, best of 5 rounds. Run: pc_micro_authz [ops_per_round]
 * `pc_micro_authz --print-rules` writes the same 1,000 rules as a rules file
 * (bench/run.sh serves /verify with it, beside a server without rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/access.h"
#include "authz/path.h"
#include "authz/rules.h"
#include "core/cidr.h"

static volatile unsigned sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct ctx {
	const struct pc_rules *rules;
	struct pc_access_request req;
	struct pc_access_subject subj;
	const char *target;
	const char *host;
};

typedef void (*op_fn)(struct ctx *c);

static void op_decide(struct ctx *c)
{
	struct pc_access_decision d;
	sink += (unsigned)pc_access_decide(&d, c->rules, NULL, &c->req, &c->subj) + d.line;
}

static void op_normalise(struct ctx *c)
{
	char path[PC_AUTHZ_PATH_MAX + 1], host[PC_AUTHZ_HOST_MAX + 1];
	size_t pl, hl;
	sink += (unsigned)pc_authz_path_normalize(path, sizeof(path), &pl, c->target, strlen(c->target));
	sink += (unsigned)pc_authz_host_normalize(host, sizeof(host), &hl, c->host, strlen(c->host));
	sink += (unsigned)(pl + hl);
}

static double bench(op_fn f, struct ctx *c, unsigned ops)
{
	double best = 1e18;
	for (int round = 0; round < 5; round++) {
		uint64_t t0 = now_ns();
		for (unsigned i = 0; i < ops; i++)
			f(c);
		double ns = (double)(now_ns() - t0) / ops;
		if (ns < best)
			best = ns;
	}
	return best;
}

static char *build_rules(size_t *len)
{
	size_t cap = 256 * 1024, o = 0;
	char *t = malloc(cap);
	if (t == NULL)
		exit(1);
	o += (size_t)snprintf(t + o, cap - o, "bypass path=/.well-known/acme-challenge/\n");
	o += (size_t)snprintf(t + o, cap - o, "bypass path=/favicon.ico method=GET,HEAD\n");
	o += (size_t)snprintf(t + o, cap - o, "deny net=192.0.2.0/24,198.51.100.0/24,2001:db8:bad::/48\n");
	for (int z = 0; z < 10; z++)
		o += (size_t)snprintf(t + o, cap - o, "two_factor host=*.zone%d.example.net group=ops,sre\n", z);
	for (int h = 0; h < 196; h++) {
		o += (size_t)snprintf(t + o, cap - o,
		                      "bypass host=h%03d.example.com path=/health\n"
		                      "two_factor host=h%03d.example.com path=/admin/ group=ops,admins\n"
		                      "deny host=h%03d.example.com path=/internal/ net=10.0.0.0/8,172.16.0.0/12\n"
		                      "one_factor host=h%03d.example.com path=/api/ method=GET,HEAD\n"
		                      "one_factor host=h%03d.example.com group=staff,contractors,team%d\n",
		                      h, h, h, h, h, h % 7);
	}
	for (int z = 0; z < 6; z++)
		o += (size_t)snprintf(t + o, cap - o, "one_factor host=*.apps%d.example.org\n", z);
	o += (size_t)snprintf(t + o, cap - o, "deny\n");
	*len = o;
	return t;
}

int main(int argc, char **argv)
{
	size_t len;
	char *text = build_rules(&len);
	if (argc > 1 && strcmp(argv[1], "--print-rules") == 0) {
		int ok = fwrite(text, 1, len, stdout) == len;
		free(text);
		return ok ? 0 : 1;
	}
	unsigned ops = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000000;
	char err[256];
	struct pc_rules *rules = pc_rules_parse(text, len, err, sizeof(err));
	struct pc_rules *empty = pc_rules_parse("", 0, err, sizeof(err));
	if (rules == NULL || empty == NULL) {
		fprintf(stderr, "parse: %s\n", err);
		return 1;
	}
	struct pc_ip ip;
	if (pc_ip_parse(&ip, NULL, "203.0.113.7", 11) != 0)
		return 1;
	const char *groups[] = {"staff", "team3"};
	struct pc_access_subject anon = {false, 0, NULL, 0, NULL, 0};
	struct pc_access_subject user = {true, 1, "alice@example.com", 17, groups, 2};

	printf("rules: %zu (%zu bytes of text)\n", pc_rules_count(rules), len);
	struct ctx early = {rules, {"h000.example.com", 16, "/health", 7, PC_METHOD_GET, &ip}, anon, NULL, NULL};
	struct ctx late = {rules, {"h195.example.com", 16, "/app/page", 9, PC_METHOD_POST, &ip}, user, NULL, NULL};
	struct ctx unlisted = {rules, {"other.test", 10, "/x", 2, PC_METHOD_GET, &ip}, user, NULL, NULL};
	struct ctx wild = {rules, {"a.b.apps5.example.org", 21, "/x", 2, PC_METHOD_GET, &ip}, user, NULL, NULL};
	struct ctx none = {empty, {"h000.example.com", 16, "/health", 7, PC_METHOD_GET, &ip}, anon, NULL, NULL};
	struct ctx norm = {NULL, {0}, anon, "/app/%7Euser/page.html?x=1&y=%2F", "H195.Example.com:443"};

	const struct ctx *show[] = {&early, &late, &unlisted, &wild};
	const char *what[] = {"early match", "late match", "unlisted host", "wildcard host (4 suffix probes)"};
	for (int i = 0; i < 4; i++) {
		struct pc_access_decision d;
		enum pc_access_outcome o = pc_access_decide(&d, rules, NULL, &show[i]->req, &show[i]->subj);
		printf("%s: %s line %u\n", what[i], pc_access_outcome_name(o), d.line);
	}

	printf("%-44s %8.1f ns/op\n", "decide, 1000 rules, early rule", bench(op_decide, &early, ops));
	printf("%-44s %8.1f ns/op\n", "decide, 1000 rules, late rule", bench(op_decide, &late, ops));
	printf("%-44s %8.1f ns/op\n", "decide, 1000 rules, unlisted host", bench(op_decide, &unlisted, ops));
	printf("%-44s %8.1f ns/op\n", "decide, 1000 rules, wildcard host", bench(op_decide, &wild, ops));
	printf("%-44s %8.1f ns/op\n", "decide, no rules (baseline)", bench(op_decide, &none, ops));
	printf("%-44s %8.1f ns/op\n", "normalise path + host", bench(op_normalise, &norm, ops));
	pc_rules_free(rules);
	pc_rules_free(empty);
	free(text);
	return sink == 42 ? 2 : 0;
}
