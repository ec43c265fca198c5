/*
 * access.c — the access rules in force, swapped on SIGHUP, and the one
 * decision /verify, `portcullis access check` and the console call.
 *
 * Readers never lock: they load the current pointer. A swap publishes the
 * new set and RETIRES the old one instead of freeing it (a loop may still
 * be deciding with it); retired sets are freed at close. Reloads are rare
 * (an operator's SIGHUP), so what is kept is a few rule sets at most, and
 * no reader can ever touch a freed set (authz/rules.h's WARNING).
 */
#include "core/text.h"
#include "svc/access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "obs/metrics.h"

/* Without a rules file: any signed-in user (the behaviour before rules). */
static const char implicit_rules[] = "one_factor\n";

static struct pc_rules *load(const char *path, bool *implicit, char *err, size_t errlen)
{
	*implicit = path == NULL || path[0] == '\0';
	if (*implicit)
		return pc_rules_parse(implicit_rules, sizeof(implicit_rules) - 1, err, errlen);
	return pc_rules_load_file(path, err, errlen);
}

int pc_access_open(struct pc_access_state *acc, const char *path, char *err, size_t errlen)
{
	memset(acc, 0, sizeof(*acc));
	if (path != NULL && strlen(path) >= sizeof(acc->path)) {
		snprintf(err, errlen, "PORTCULLIS_ACCESS_RULES_FILE: path too long");
		return -1;
	}
	snprintf(acc->path, sizeof(acc->path), "%s", path != NULL ? path : "");
	bool implicit;
	struct pc_rules *r = load(acc->path, &implicit, err, errlen);
	if (r == NULL)
		return -1;
	if (pthread_mutex_init(&acc->mu, NULL) != 0) {
		pc_rules_free(r);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	atomic_store(&acc->implicit, implicit);
	atomic_store(&acc->rules, r);
	return 0;
}

void pc_access_close(struct pc_access_state *acc)
{
	struct pc_rules *r = acc != NULL ? atomic_load(&acc->rules) : NULL;
	if (r == NULL)
		return;
	pc_rules_free(r);
	for (size_t i = 0; i < acc->n_retired; i++)
		pc_rules_free(acc->retired[i]);
	free(acc->retired);
	acc->retired = NULL;
	acc->n_retired = 0;
	atomic_store(&acc->rules, NULL);
	pthread_mutex_destroy(&acc->mu);
}

int pc_access_reload(struct pc_access_state *acc, char *err, size_t errlen)
{
	bool implicit;
	struct pc_rules *next = load(acc->path, &implicit, err, errlen);
	struct pc_logline l;
	pthread_mutex_lock(&acc->mu);
	struct pc_rules **grown = next != NULL ? realloc(acc->retired, (acc->n_retired + 1) * sizeof(*grown)) : NULL;
	if (grown != NULL) {
		acc->retired = grown;
		acc->retired[acc->n_retired++] = atomic_load(&acc->rules);
		atomic_store(&acc->implicit, implicit);
		atomic_store_explicit(&acc->rules, next, memory_order_release);
	}
	pthread_mutex_unlock(&acc->mu);
	if (grown == NULL) {
		if (next != NULL) {
			pc_rules_free(next);
			snprintf(err, errlen, "out of memory");
		}
		pc_metrics_access_reload(false);
		pc_logline_begin(&l, "error", "access_rules_reload");
		pc_logline_str(&l, "result", "failed: the rules in force are kept");
		pc_logline_str(&l, "error", err);
		pc_logline_emit(&l);
		return -1;
	}
	pc_metrics_access_reload(true);
	pc_logline_begin(&l, "info", "access_rules_reload");
	pc_logline_str(&l, "result", "ok");
	pc_logline_int(&l, "rules", (int64_t)pc_rules_count(next));
	pc_logline_emit(&l);
	return 0;
}

const struct pc_rules *pc_access_rules(struct pc_access_state *acc)
{
	return atomic_load_explicit(&acc->rules, memory_order_acquire);
}

int pc_access_forwarded(struct pc_access_request *out, struct pc_ip *addr, char *host_buf, size_t host_cap,
                        char *path_buf, size_t path_cap, const struct pc_access_input *in)
{
	memset(out, 0, sizeof(*out));
	size_t hl = 0, pl = 0;
	if (in->host_len > 0 &&
	    pc_authz_host_normalize(host_buf, host_cap, &hl, in->host, in->host_len) != PC_NORM_OK)
		return -1;
	if (in->host_len == 0)
		host_buf[0] = '\0';
	const char *target = in->target_len > 0 ? in->target : "/";
	size_t tl = in->target_len > 0 ? in->target_len : 1;
	if (tl >= path_cap || pc_authz_path_normalize(path_buf, path_cap, &pl, target, tl) != PC_NORM_OK)
		return -1;
	out->host = host_buf;
	out->host_len = hl;
	out->path = path_buf;
	out->path_len = pl;
	out->method = in->method_len > 0 ? pc_method_lookup(in->method, in->method_len) : PC_METHOD_GET;
	const char *why;
	out->addr = in->client_addr != NULL &&
	                    pc_ip_parse(addr, &why, in->client_addr, strlen(in->client_addr)) == 0
	                ? addr
	                : NULL;
	return 0;
}

void pc_access_subject_of(struct pc_access_subject *out, const struct pc_principal *p, const char **names,
                          char *buf, size_t cap)
{
	memset(out, 0, sizeof(*out));
	if (p == NULL || p->method == PC_AUTH_ANONYMOUS)
		return;
	out->signed_in = true;
	out->factors = p->factors >= 2 ? 2 : 1; /* the session's (or token's) own record */
	out->email = p->email;
	out->email_len = strlen(p->email);
	out->n_groups = pc_groups_split(names, buf, cap, p->groups);
	out->groups = names;
}

/* The metric's policy: the deciding rule's (recorded by the decision: a
 * scan of the rules for its line cost 1,000 steps a request with 1,000
 * rules, 13% of /verify, found by bench/access_rules.sh), or "none". */
static unsigned policy_of(const struct pc_access_decision *d)
{
	return d->line != 0 ? (unsigned)d->policy : PC_ACCESS_POLICIES - 1;
}

enum pc_access_outcome pc_access_decide_now(struct pc_access_decision *out, struct pc_access_state *acc,
                                            const struct pc_access_query *query,
                                            const struct pc_access_request *req,
                                            const struct pc_access_subject *subject)
{
	const struct pc_rules *r = pc_access_rules(acc);
	enum pc_access_outcome o = pc_access_decide(out, r, query, req, subject);
	pc_metrics_access(policy_of(out), (unsigned)o);
	if (atomic_load_explicit(&acc->implicit, memory_order_relaxed))
		out->line = 0;
	return o;
}

void pc_access_describe(char *out, size_t cap, struct pc_access_state *acc, const struct pc_access_decision *d)
{
	const struct pc_rules *r = pc_access_rules(acc);
	if (atomic_load_explicit(&acc->implicit, memory_order_relaxed)) {
		snprintf(out, cap, "no rules file: any signed-in user (one_factor)%s",
		         d->by_query ? "; the verify URL's requirements decided" : "");
		return;
	}
	for (size_t i = 0; d->line != 0 && i < pc_rules_count(r); i++) {
		if (pc_rules_line(r, i) != d->line)
			continue;
		char text[PC_AUTHZ_FORMAT_MAX + 1];
		if (pc_rules_format(text, sizeof(text), r, i) < 0)
			snprintf(text, sizeof(text), "(too long to print)");
		snprintf(out, cap, "line %u: %s%s", d->line, text,
		         d->by_query ? "; the verify URL's requirements decided" : "");
		return;
	}
	snprintf(out, cap, "no rule matched: deny%s", d->by_query ? "; the verify URL's requirements decided" : "");
}

static const char *outcome_word(const struct pc_access_decision *d)
{
	return d->outcome == PC_ACCESS_ALLOW && d->bypass ? "BYPASS" : pc_access_outcome_name(d->outcome);
}

int pc_access_probe(struct pc_access_state *acc, const struct pc_access_probe *in, struct pc_access_answer *out,
                    const char **why)
{
	memset(out, 0, sizeof(*out));
	const char *s = in->url != NULL ? strstr(in->url, "://") : NULL;
	if (s == NULL || s == in->url) {
		*why = "the URL needs a scheme and a host (https://app.example.com/path)";
		return -1;
	}
	s += 3;
	size_t host_len = strcspn(s, "/?#");
	const char *target = s[host_len] == '\0' ? "/" : s + host_len;
	if (host_len == 0) {
		*why = "the URL has no host";
		return -1;
	}
	if (in->user != NULL && in->factors != 1 && in->factors != 2) {
		*why = "factors is one or two";
		return -1;
	}
	const char *list[PC_AUTHZ_MAX_VALUES];
	char gbuf[PC_AUTHZ_MAX_VALUES * (PC_AUTHZ_GROUP_MAX + 1)];
	struct pc_access_subject sub = {0};
	if (in->user != NULL) {
		sub.signed_in = true;
		sub.factors = in->factors;
		sub.email = in->user;
		sub.email_len = strlen(in->user);
		if (in->groups != NULL && in->groups[0] != '\0') {
			if (strlen(in->groups) >= sizeof(gbuf)) {
				*why = "too many groups";
				return -1;
			}
			snprintf(gbuf, sizeof(gbuf), "%s", in->groups);
			for (char *save = NULL, *g = strtok_r(gbuf, ",", &save); g != NULL; g = strtok_r(NULL, ",", &save)) {
				if (sub.n_groups == PC_AUTHZ_MAX_VALUES) {
					*why = "too many groups";
					return -1;
				}
				list[sub.n_groups++] = g;
			}
			sub.groups = list;
		}
	}
	out->outcome = "BAD_REQUEST";
	struct pc_access_query q;
	const char *qwhy = "";
	const char *query = in->query != NULL ? in->query : "";
	if (pc_access_query_parse(&q, &qwhy, query, strlen(query)) != 0) {
		snprintf(out->text, sizeof(out->text), "the verify URL's query: %s: /verify answers 400", qwhy);
		return 0;
	}
	const char *method = in->method != NULL ? in->method : "";
	char hbuf[PC_AUTHZ_HOST_MAX + 1], pbuf[PC_AUTHZ_PATH_MAX + 1];
	struct pc_ip ip;
	struct pc_access_request req;
	struct pc_access_input fwd = {s, host_len, target, strlen(target), method, strlen(method),
	                              in->addr != NULL && in->addr[0] != '\0' ? in->addr : NULL};
	out->ambiguous = true;
	if (strlen(target) > PC_AUTHZ_PATH_MAX ||
	    pc_access_forwarded(&req, &ip, hbuf, sizeof(hbuf), pbuf, sizeof(pbuf), &fwd) != 0) {
		snprintf(out->text, sizeof(out->text),
		         "the host or path is ambiguous: /verify never allows it (401 anonymous, 403 signed in)");
		return 0;
	}
	struct pc_access_decision d;
	enum pc_access_outcome o = pc_access_decide(&d, pc_access_rules(acc), q.present ? &q : NULL, &req, &sub);
	if (d.ambiguous) {
		snprintf(out->text, sizeof(out->text),
		         "letter case would change the decision (an app that folds case serves another rule's path): "
		         "/verify never allows it (401 anonymous, 403 signed in)");
		return 0;
	}
	out->ambiguous = false;
	if (atomic_load_explicit(&acc->implicit, memory_order_relaxed))
		d.line = 0;
	out->outcome = outcome_word(&d);
	out->allowed = o == PC_ACCESS_ALLOW;
	out->line = d.line;
	pc_access_describe(out->text, sizeof(out->text), acc, &d);
	return 0;
}

void pc_access_each_rule(struct pc_access_state *acc, bool *implicit,
                         int (*fn)(void *arg, unsigned line, const char *text), void *arg)
{
	const struct pc_rules *r = pc_access_rules(acc);
	*implicit = atomic_load_explicit(&acc->implicit, memory_order_relaxed);
	for (size_t i = 0; i < pc_rules_count(r); i++) {
		char text[PC_AUTHZ_FORMAT_MAX + 1];
		if (pc_rules_format(text, sizeof(text), r, i) < 0)
			snprintf(text, sizeof(text), "(too long to print)");
		if (fn(arg, *implicit ? 0 : pc_rules_line(r, i), text) != 0)
			return;
	}
}
