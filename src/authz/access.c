/*
 * access.c — the access decision (semantics in access.h) and the strict
 * parser of the /verify query.
 *
 * The decision walks the candidate rules in file order: the run for the
 * exact host, the runs for each "*.suffix" the host has, and the host-less
 * run, merged by rule index. Host names have at most 127 labels (253 bytes),
 * so the merge holds at most 129 runs on the stack. No allocation, no
 * writes to the set: any number of threads may decide on one set.
 */
#include "authz/access.h"

#include <assert.h>
#include <string.h>

#include "authz/path.h"
#include "authz/rules_impl.h"
#include "core/pct.h"
#include "core/text.h"

/* Runs the merge can hold: exact + one per suffix (<= 127) + host-less. */
#define MAX_RUNS (2 + PC_AUTHZ_HOST_MAX / 2 + 1)

static const char *const outcome_names[] = {"ALLOW", "LOGIN", "SECOND_FACTOR", "DENY"};

const char *pc_access_outcome_name(enum pc_access_outcome o)
{
	if ((unsigned)o >= sizeof(outcome_names) / sizeof(outcome_names[0]))
		return NULL;
	return outcome_names[o];
}

static int qfail(struct pc_access_query *out, const char **why, const char *reason)
{
	memset(out, 0, sizeof(*out));
	if (why != NULL)
		*why = reason;
	return -1;
}

int pc_access_query_parse(struct pc_access_query *out, const char **why, const char *q, size_t len)
{
	bool seen_group = false, seen_policy = false, seen_redirect = false, seen_csrf = false;
	size_t o = 0;

	memset(out, 0, sizeof(*out));
	out->policy = PC_POLICY_ONE_FACTOR;
	if (len > PC_AUTHZ_QUERY_MAX)
		return qfail(out, why, "query too long");
	if (len == 0)
		return 0;
	const char *p = q, *end = q + len;
	while (p <= end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		if (eq == NULL)
			return qfail(out, why, "query parameter without \"=\" (or an empty one)");
		size_t nl = (size_t)(eq - p);
		bool is_group = nl == 5 && memcmp(p, "group", 5) == 0;
		bool is_policy = nl == 6 && memcmp(p, "policy", 6) == 0;
		bool is_redirect = nl == 8 && memcmp(p, "redirect", 8) == 0;
		bool is_csrf = nl == 4 && memcmp(p, "csrf", 4) == 0;
		if (!is_group && !is_policy && !is_redirect && !is_csrf)
			return qfail(out, why, "unknown query parameter (only group, policy, redirect and csrf)");
		if ((is_group && seen_group) || (is_policy && seen_policy) || (is_redirect && seen_redirect) ||
		    (is_csrf && seen_csrf))
			return qfail(out, why, "query parameter given twice");
		seen_group |= is_group;
		seen_policy |= is_policy;
		seen_redirect |= is_redirect;
		seen_csrf |= is_csrf;
		if (is_redirect || is_csrf) {
			/* how to answer and how strictly to check a forwarded unsafe
			 * request, not who may pass: they require nothing */
			const char *want = is_redirect ? "true" : "token";
			size_t wl = strlen(want);
			if ((size_t)(pe - eq - 1) != wl || memcmp(eq + 1, want, wl) != 0)
				return qfail(out, why, is_redirect ? "redirect must be true" : "csrf must be token");
			if (is_redirect)
				out->redirect = true;
			else
				out->csrf_token = true;
			if (amp == NULL)
				break;
			p = amp + 1;
			continue;
		}
		/* decode the value into buf, NUL-terminated */
		char *val = out->buf + o;
		size_t vn = 0;
		for (const char *c = eq + 1; c < pe; c++) {
			unsigned char b = (unsigned char)*c;
			if (b == '%') {
				if (pe - c < 3 || pc_pct_hexval((unsigned char)c[1]) < 0 || pc_pct_hexval((unsigned char)c[2]) < 0)
					return qfail(out, why, "malformed %-escape in the query");
				b = (unsigned char)(pc_pct_hexval((unsigned char)c[1]) << 4 | pc_pct_hexval((unsigned char)c[2]));
				c += 2;
			}
			val[vn++] = (char)b;
		}
		val[vn] = '\0';
		if (vn == 0)
			return qfail(out, why, "empty query parameter value");
		if (is_policy) {
			/* by length too: a decoded %00 must not end the comparison */
			if (vn == 10 && memcmp(val, "one_factor", 10) == 0)
				out->policy = PC_POLICY_ONE_FACTOR;
			else if (vn == 10 && memcmp(val, "two_factor", 10) == 0)
				out->policy = PC_POLICY_TWO_FACTOR;
			else
				return qfail(out, why, "policy must be one_factor or two_factor");
		} else {
			size_t start = 0;
			for (size_t i = 0; i <= vn; i++) {
				if (i < vn && val[i] != ',')
					continue;
				if (!pc_group_name_valid(val + start, i - start))
					return qfail(out, why, "bad group name in the query ([a-z0-9][a-z0-9._-]{0,63})");
				if (out->n_groups == PC_AUTHZ_MAX_VALUES)
					return qfail(out, why, "too many groups in the query");
				val[i] = '\0';
				out->groups[out->n_groups++] = val + start;
				start = i + 1;
			}
		}
		o += vn + 1;
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	out->present = seen_group || seen_policy;
	return 0;
}

static bool ascii_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

static bool subject_in_group(const struct pc_access_subject *s, const char *g, size_t gl)
{
	for (size_t i = 0; i < s->n_groups; i++) {
		if (strlen(s->groups[i]) == gl && memcmp(s->groups[i], g, gl) == 0)
			return true;
	}
	return false;
}

/* Paths compare byte for byte; with fold, ASCII letters compare
 * case-insensitively (the reading of an app that folds case). */
static bool path_eq(const char *a, const char *b, size_t n, bool fold)
{
	return fold ? ascii_ieq(a, b, n) : memcmp(a, b, n) == 0;
}

static bool object_matches(const struct pc_rules *r, const struct pc_rule *ru, const struct pc_access_request *req,
                           bool fold)
{
	if (ru->has_path) {
		const char *rp = r->pool + ru->path.off;
		size_t n = ru->path.len;
		bool prefix = req->path_len >= n && path_eq(req->path, rp, n, fold);
		bool dir = n > 1 && rp[n - 1] == '/' && req->path_len == n - 1 && path_eq(req->path, rp, n - 1, fold);
		if (!prefix && !dir)
			return false;
	}
	if (ru->methods != 0 &&
	    ((unsigned)req->method >= PC_METHOD__COUNT || !(ru->methods & (1u << (unsigned)req->method))))
		return false;
	if (ru->n_nets != 0) {
		if (req->addr == NULL)
			return false;
		bool in = false;
		for (uint32_t i = 0; i < ru->n_nets && !in; i++)
			in = pc_cidr_contains(&r->nets[ru->nets + i], req->addr);
		if (!in)
			return false;
	}
	return true;
}

static bool subject_matches(const struct pc_rules *r, const struct pc_rule *ru, const struct pc_access_subject *s)
{
	if (ru->n_users != 0) {
		bool in = false;
		for (uint32_t i = 0; i < ru->n_users && !in; i++) {
			const struct pc_sv *u = &r->svs[ru->users + i];
			in = s->email != NULL && s->email_len == u->len && ascii_ieq(s->email, r->pool + u->off, u->len);
		}
		if (!in)
			return false;
	}
	if (ru->n_groups != 0) {
		bool in = false;
		for (uint32_t i = 0; i < ru->n_groups && !in; i++) {
			const struct pc_sv *g = &r->svs[ru->groups + i];
			in = subject_in_group(s, r->pool + g->off, g->len);
		}
		if (!in)
			return false;
	}
	return true;
}

/* The rule's outcome for this subject, or -1 when the rule is skipped. */
static int rule_outcome(const struct pc_rules *r, const struct pc_rule *ru, const struct pc_access_request *req,
                        const struct pc_access_subject *s, bool fold, bool *bypass)
{
	if (!object_matches(r, ru, req, fold))
		return -1;
	if (ru->n_users != 0 || ru->n_groups != 0) {
		if (!s->signed_in)
			return PC_ACCESS_LOGIN;
		if (!subject_matches(r, ru, s))
			return -1;
	}
	switch (ru->policy) {
	case PC_POLICY_BYPASS:
		*bypass = true;
		return PC_ACCESS_ALLOW;
	case PC_POLICY_ONE_FACTOR:
		return s->signed_in ? PC_ACCESS_ALLOW : PC_ACCESS_LOGIN;
	case PC_POLICY_TWO_FACTOR:
		if (!s->signed_in)
			return PC_ACCESS_LOGIN;
		return s->factors >= 2 ? PC_ACCESS_ALLOW : PC_ACCESS_SECOND_FACTOR;
	case PC_POLICY_DENY:
	default:
		return PC_ACCESS_DENY;
	}
}

struct run {
	const uint32_t *p, *end;
};

static void add_run(struct run *runs, size_t *n, const struct pc_rules *r, const struct pc_hslot *e)
{
	if (e == NULL || e->count == 0)
		return;
	assert(*n < MAX_RUNS);
	runs[*n].p = r->idx + e->start;
	runs[*n].end = r->idx + e->start + e->count;
	(*n)++;
}

static void decide_rules(struct pc_access_decision *out, const struct pc_rules *r,
                         const struct pc_access_request *req, const struct pc_access_subject *s, bool fold)
{
	struct run runs[MAX_RUNS];
	size_t n = 0;

	out->outcome = PC_ACCESS_DENY;
	if (r == NULL || r->n_rules == 0)
		return;
	if (r->free_count) {
		runs[0].p = r->idx + r->free_start;
		runs[0].end = runs[0].p + r->free_count;
		n = 1;
	}
	if (req->host_len > 0 && req->host_len <= PC_AUTHZ_HOST_MAX && (r->exact.n || r->wild.n)) {
		uint64_t h = PC_AUTHZ_FNV_OFFSET;
		for (size_t i = req->host_len; i > 0; i--) {
			unsigned char c = (unsigned char)req->host[i - 1];
			/* at a dot, h is the hash of the proper suffix after it */
			if (c == '.' && r->wild.n && i < req->host_len)
				add_run(runs, &n, r,
				        pc_authz_htab_find(&r->wild, r->pool, pc_authz_hash_final(h), req->host + i,
				                           req->host_len - i));
			h = pc_authz_hash_step(h, c);
		}
		if (r->exact.n)
			add_run(runs, &n, r,
			        pc_authz_htab_find(&r->exact, r->pool, pc_authz_hash_final(h), req->host, req->host_len));
	}
	for (;;) {
		size_t best = n;
		for (size_t i = 0; i < n; i++) {
			if (runs[i].p < runs[i].end && (best == n || *runs[i].p < *runs[best].p))
				best = i;
		}
		if (best == n)
			return;
		const struct pc_rule *ru = &r->rules[*runs[best].p++];
		bool bypass = false;
		int o = rule_outcome(r, ru, req, s, fold, &bypass);
		if (o >= 0) {
			out->outcome = (enum pc_access_outcome)o;
			out->bypass = bypass;
			out->line = ru->line;
			out->policy = ru->policy;
			return;
		}
	}
}

static enum pc_access_outcome decide_query(const struct pc_access_query *q, const struct pc_access_subject *s)
{
	if (q == NULL || !q->present)
		return PC_ACCESS_ALLOW;
	if (!s->signed_in)
		return PC_ACCESS_LOGIN;
	if (q->n_groups != 0) {
		bool in = false;
		for (size_t i = 0; i < q->n_groups && !in; i++)
			in = subject_in_group(s, q->groups[i], strlen(q->groups[i]));
		if (!in)
			return PC_ACCESS_DENY;
	}
	if (q->policy == PC_POLICY_TWO_FACTOR && s->factors < 2)
		return PC_ACCESS_SECOND_FACTOR;
	return PC_ACCESS_ALLOW;
}

/* The normalised path (escapes in upper-case hex) with the UTF-8 escapes
 * of the non-ASCII letters that Unicode folds to ASCII replaced by those
 * letters, into out (at least len + 1 bytes). Whether there was any. */
static bool fold_unicode(char *out, size_t *out_len, const char *p, size_t len)
{
	static const struct {
		const char *esc;
		size_t n;
		char ascii;
	} map[] = {{"%C5%BF", 6, 's'}, {"%E2%84%AA", 9, 'k'}, {"%C4%B0", 6, 'i'}, {"%C4%B1", 6, 'i'}};
	bool any = false;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		bool hit = false;
		for (size_t k = 0; p[i] == '%' && k < sizeof(map) / sizeof(map[0]) && !hit; k++) {
			if (len - i >= map[k].n && memcmp(p + i, map[k].esc, map[k].n) == 0) {
				out[o++] = map[k].ascii;
				i += map[k].n;
				hit = any = true;
			}
		}
		if (!hit)
			out[o++] = p[i++];
	}
	out[o] = '\0';
	*out_len = o;
	return any;
}

enum pc_access_outcome pc_access_decide(struct pc_access_decision *out, const struct pc_rules *rules,
                                        const struct pc_access_query *query,
                                        const struct pc_access_request *req,
                                        const struct pc_access_subject *subject)
{
	memset(out, 0, sizeof(*out));
	decide_rules(out, rules, req, subject, false);
	/* Paths compare case-sensitively, as URLs do; but an app that folds
	 * case (IIS, some frameworks) serves /ADMIN/ as /admin/. An outcome
	 * that letter case would change is ambiguous: never allowed (allowed
	 * either way, with identity headers or without, is one outcome). */
	bool upper = rules != NULL && rules->upper_paths;
	for (size_t i = 0; i < req->path_len && !upper; i++)
		upper = req->path[i] >= 'A' && req->path[i] <= 'Z';
	/* and Unicode's case folding, where it lands on ASCII: an app that
	 * folds with Unicode rules (IIS, .NET's OrdinalIgnoreCase) reads
	 * U+017F as s, U+212A (Kelvin) as k, U+0130 and U+0131 as i */
	char fpath[PC_AUTHZ_PATH_MAX + 1];
	struct pc_access_request freq = *req;
	if (req->path_len <= PC_AUTHZ_PATH_MAX && memchr(req->path, '%', req->path_len) != NULL &&
	    fold_unicode(fpath, &freq.path_len, req->path, req->path_len)) {
		freq.path = fpath;
		upper = true;
	}
	if (upper) {
		struct pc_access_decision folded = {0};
		decide_rules(&folded, rules, &freq, subject, true);
		if (folded.outcome != out->outcome) {
			out->outcome = subject->signed_in ? PC_ACCESS_DENY : PC_ACCESS_LOGIN;
			out->bypass = false;
			out->ambiguous = true;
			out->line = 0;
		}
	}
	enum pc_access_outcome qo = decide_query(query, subject);
	/* the enum's order is the strictness order: ALLOW < LOGIN < SECOND_FACTOR < DENY */
	if (qo > out->outcome) {
		out->outcome = qo;
		out->by_query = true;
	}
	if (out->outcome != PC_ACCESS_ALLOW || (query != NULL && query->present))
		out->bypass = false;
	return out->outcome;
}
