/*
 * rules.c — the access rules parser, printer, index builder and the set's
 * reference count (format and semantics in rules.h and access.h).
 *
 * The parser checks each line's length and bytes before tokenising it and
 * bounds every count (rules, values) before storing, so a hostile or
 * generated file costs at most the limits in rules.h. Every stored string
 * is a validated, canonical copy of bytes from the text, so the pool is
 * allocated once with the text's size and never moves; the other arrays
 * grow by doubling and are addressed by index.
 */
#include "authz/rules.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz/path.h"
#include "authz/rules_impl.h"
#include "core/cidr.h"
#include "core/limits.h"
#include "core/text.h"
#include "core/method.h"

enum crit { C_HOST, C_PATH, C_METHOD, C_NET, C_USER, C_GROUP, C__COUNT };
static const char *const crit_names[C__COUNT] = {"host", "path", "method", "net", "user", "group"};
static const char *const policy_names[] = {"bypass", "one_factor", "two_factor", "deny"};
static const char *const method_names[PC_METHOD__COUNT] = {"GET",   "HEAD",   "POST",   "PUT",
                                                           "PATCH", "DELETE", "OPTIONS"};

const char *pc_policy_name(enum pc_policy p)
{
	if ((unsigned)p >= sizeof(policy_names) / sizeof(policy_names[0]))
		return NULL;
	return policy_names[p];
}

unsigned long pc_authz_fail_alloc_at;

/* Every allocation of a rule set goes through these, so the out-of-memory
 * test can fail each one in turn. */
static void *fallible(void)
{
	return pc_authz_fail_alloc_at != 0 && --pc_authz_fail_alloc_at == 0 ? NULL : (void *)1;
}

static void *r_malloc(size_t n)
{
	return fallible() ? malloc(n) : NULL;
}

static void *r_calloc(size_t k, size_t n)
{
	return fallible() ? calloc(k, n) : NULL;
}

static void *r_realloc(void *p, size_t n)
{
	return fallible() ? realloc(p, n) : NULL;
}

/* Growable arrays while parsing. */
struct builder {
	struct pc_rules *r;
	size_t pool_len, pool_cap;
	size_t cap_rules, n_svs, cap_svs, n_nets, cap_nets;
	char *err;
	size_t errlen;
	unsigned line;
	const char *line_start;
};

/* Grows *arr (elements of size sz, *cap of them) to hold need; -1 on OOM. */
static int grow(void *arr, size_t *cap, size_t need, size_t sz)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	void *p = r_realloc(*(void **)arr, ncap * sz);
	if (p == NULL)
		return -1;
	*(void **)arr = p;
	*cap = ncap;
	return 0;
}

static int oom(struct builder *b)
{
	snprintf(b->err, b->errlen, "out of memory");
	return -1;
}

/* Copies s (n bytes) into quote as printable ASCII, cut at 40 bytes, so
 * an error message never carries control bytes from the file. */
static void quote(char *q, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == 40) {
			memcpy(q + o, "...", 3);
			o += 3;
			break;
		}
		q[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	q[o] = '\0';
}

__attribute__((format(printf, 3, 4))) static int fail_at(struct builder *b, const char *at, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(b->err, b->errlen, "line %u, column %zu: %s", b->line, (size_t)(at - b->line_start) + 1, msg);
	return -1;
}

/* Stores s (n bytes, already validated) NUL-terminated in the pool. */
static struct pc_sv pool_add(struct builder *b, const char *s, size_t n)
{
	struct pc_sv sv = {(uint32_t)b->pool_len, (uint32_t)n};
	/* every value is a validated, never longer copy of text bytes followed
	 * by a separator (or the end, once): the pool was sized for that */
	assert(b->pool_len + n + 1 <= b->pool_cap);
	memcpy(b->r->pool + b->pool_len, s, n);
	b->r->pool[b->pool_len + n] = '\0';
	b->pool_len += n + 1;
	return sv;
}

static bool email_ok(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	if (n > PC_EMAIL_MAX || at == NULL || at == s || at == s + n - 1 || memchr(at + 1, '@', (size_t)(s + n - at - 1)))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == ',')
			return false;
	}
	return true;
}

/* One value of criterion c at v (n bytes) into rule ru. */
static int add_value(struct builder *b, struct pc_rule *ru, enum crit c, const char *v, size_t n)
{
	const char *why = NULL;
	char q[64];
	quote(q, sizeof(q), v, n);
	switch (c) {
	case C_HOST: {
		char norm[PC_AUTHZ_HOST_MAX + 1];
		size_t nl;
		bool wild = n >= 2 && v[0] == '*' && v[1] == '.';
		const char *name = wild ? v + 2 : v;
		size_t name_n = wild ? n - 2 : n;
		if (memchr(name, '*', name_n) != NULL || (!wild && n > 0 && v[0] == '*'))
			return fail_at(b, v, "\"*\" is allowed only as the whole first label of a host (*.example.com)");
		if (pc_authz_host_normalize(norm, sizeof(norm), &nl, name, name_n) != PC_NORM_OK ||
		    (wild && name[0] == '['))
			return fail_at(b, v, "\"%s\" is not a host name", q);
		if (nl != name_n || memcmp(norm, name, nl) != 0)
			return fail_at(b, v, "host \"%s\" is not in normal form; write \"%s%s\"", q, wild ? "*." : "",
			               norm);
		ru->has_host = true;
		ru->host_wild = wild;
		ru->host = pool_add(b, norm, nl);
		return 0;
	}
	case C_PATH: {
		char norm[PC_AUTHZ_MAX_LINE + 1];
		size_t nl;
		if (memchr(v, '?', n) != NULL)
			return fail_at(b, v, "a path value has no query (\"?\")");
		enum pc_norm rc = pc_authz_path_normalize(norm, sizeof(norm), &nl, v, n);
		if (rc != PC_NORM_OK)
			return fail_at(b, v, "path \"%s\" is ambiguous (a path starts with \"/\" and has no \".\", \"..\", "
			                     "empty or \";\" segments, encoded \"/\", \"\\\" or \"%%\")", q);
		if (nl != n || memcmp(norm, v, n) != 0)
			return fail_at(b, v, "path \"%s\" is not in normal form; write \"%s\"", q, norm);
		ru->has_path = true;
		ru->path = pool_add(b, norm, nl);
		for (size_t i = 0; i < nl; i++)
			b->r->upper_paths |= norm[i] >= 'A' && norm[i] <= 'Z';
		return 0;
	}
	case C_METHOD:
		for (int m = 0; m < PC_METHOD__COUNT; m++) {
			if (strlen(method_names[m]) == n && memcmp(method_names[m], v, n) == 0) {
				if (ru->methods & (1u << m))
					return fail_at(b, v, "method %s listed twice", method_names[m]);
				ru->methods |= (uint8_t)(1u << m);
				return 0;
			}
		}
		return fail_at(b, v, "unknown method \"%s\" (GET HEAD POST PUT PATCH DELETE OPTIONS, upper case)", q);
	case C_NET: {
		struct pc_cidr cidr;
		if (pc_cidr_parse(&cidr, &why, v, n) != 0)
			return fail_at(b, v, "net \"%s\": %s", q, why);
		for (uint32_t i = 0; i < ru->n_nets; i++) {
			if (memcmp(&b->r->nets[ru->nets + i], &cidr, sizeof(cidr)) == 0)
				return fail_at(b, v, "net %s listed twice", q);
		}
		if (grow(&b->r->nets, &b->cap_nets, b->n_nets + 1, sizeof(cidr)) != 0)
			return oom(b);
		b->r->nets[b->n_nets++] = cidr;
		ru->n_nets++;
		return 0;
	}
	case C_USER:
	case C_GROUP: {
		char low[PC_EMAIL_MAX];
		if (c == C_USER) {
			if (!email_ok(v, n))
				return fail_at(b, v, "\"%s\" is not an email address", q);
			for (size_t i = 0; i < n; i++)
				low[i] = (v[i] >= 'A' && v[i] <= 'Z') ? (char)(v[i] - 'A' + 'a') : v[i];
		} else {
			if (!pc_group_name_valid(v, n))
				return fail_at(b, v, "\"%s\" is not a group name ([a-z0-9][a-z0-9._-]{0,63})", q);
			memcpy(low, v, n);
		}
		uint32_t first = c == C_USER ? ru->users : ru->groups;
		uint32_t *count = c == C_USER ? &ru->n_users : &ru->n_groups;
		for (uint32_t i = 0; i < *count; i++) {
			const struct pc_sv *o = &b->r->svs[first + i];
			if (o->len == n && memcmp(b->r->pool + o->off, low, n) == 0)
				return fail_at(b, v, "%s \"%s\" listed twice", crit_names[c], q);
		}
		if (grow(&b->r->svs, &b->cap_svs, b->n_svs + 1, sizeof(struct pc_sv)) != 0)
			return oom(b);
		b->r->svs[b->n_svs++] = pool_add(b, low, n);
		(*count)++;
		return 0;
	}
	default:
		return fail_at(b, v, "internal error");
	}
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses one line (s, n bytes, newline excluded) into a rule if it holds one. */
static int parse_line(struct builder *b, const char *s, size_t n)
{
	const char *end = s + n;
	const char *p = s;
	b->line_start = s;

	if (n > PC_AUTHZ_MAX_LINE)
		return fail_at(b, s + PC_AUTHZ_MAX_LINE, "line longer than %d bytes", PC_AUTHZ_MAX_LINE);
	while (p < end && blank(*p))
		p++;
	bool comment = p < end && *p == '#';
	for (const char *c = s; c < end; c++) {
		unsigned char u = (unsigned char)*c;
		if (u == '\r')
			return fail_at(b, c, "carriage return (write the file with LF line endings)");
		if ((u < 0x20 && u != '\t') || u == 0x7f)
			return fail_at(b, c, "control byte 0x%02x", u);
		if (u >= 0x80 && !comment)
			return fail_at(b, c, "non-ASCII byte outside a comment");
	}
	if (comment) {
		if (!pc_utf8_valid(p, (size_t)(end - p)))
			return fail_at(b, p, "comment is not valid UTF-8");
		return 0;
	}
	if (p == end)
		return 0;

	if (b->r->n_rules == PC_AUTHZ_MAX_RULES)
		return fail_at(b, p, "more than %d rules", PC_AUTHZ_MAX_RULES);
	if (grow(&b->r->rules, &b->cap_rules, b->r->n_rules + 1, sizeof(struct pc_rule)) != 0)
		return oom(b);
	struct pc_rule *ru = &b->r->rules[b->r->n_rules];
	memset(ru, 0, sizeof(*ru));
	ru->line = b->line;

	const char *tok = p;
	while (p < end && !blank(*p))
		p++;
	size_t tl = (size_t)(p - tok);
	char q[64];
	quote(q, sizeof(q), tok, tl);
	size_t pi;
	for (pi = 0; pi < 4; pi++) {
		if (strlen(policy_names[pi]) == tl && memcmp(policy_names[pi], tok, tl) == 0)
			break;
	}
	if (pi == 4)
		return fail_at(b, tok, "unknown policy \"%s\" (bypass, one_factor, two_factor or deny)", q);
	ru->policy = (enum pc_policy)pi;

	const char *seen[C__COUNT] = {0};
	for (;;) {
		while (p < end && blank(*p))
			p++;
		if (p == end)
			break;
		tok = p;
		while (p < end && !blank(*p))
			p++;
		tl = (size_t)(p - tok);
		quote(q, sizeof(q), tok, tl);
		if (tok[0] == '#')
			return fail_at(b, tok, "a comment must be on its own line");
		const char *eq = memchr(tok, '=', tl);
		if (eq == NULL)
			return fail_at(b, tok, "expected criterion=value, got \"%s\"", q);
		size_t nl = (size_t)(eq - tok);
		quote(q, sizeof(q), tok, nl);
		int c;
		for (c = 0; c < C__COUNT; c++) {
			if (strlen(crit_names[c]) == nl && memcmp(crit_names[c], tok, nl) == 0)
				break;
		}
		if (c == C__COUNT)
			return fail_at(b, tok, "unknown criterion \"%s\" (host, path, method, net, user, group)", q);
		if (seen[c] != NULL)
			return fail_at(b, tok, "duplicate criterion \"%s\" (first at column %zu)", crit_names[c],
			               (size_t)(seen[c] - s) + 1);
		seen[c] = tok;
		if (c == C_USER)
			ru->users = (uint32_t)b->n_svs;
		else if (c == C_GROUP)
			ru->groups = (uint32_t)b->n_svs;
		else if (c == C_NET)
			ru->nets = (uint32_t)b->n_nets;
		const char *v = eq + 1;
		if (v == p)
			return fail_at(b, v, "empty value for \"%s\"", crit_names[c]);
		size_t nvals = 0;
		for (;;) {
			const char *ve = memchr(v, ',', (size_t)(p - v));
			if (ve == NULL)
				ve = p;
			if (ve == v)
				return fail_at(b, v, "empty item in the list for \"%s\"", crit_names[c]);
			if ((c == C_HOST || c == C_PATH) && nvals == 1)
				return fail_at(b, v - 1, "%s takes one value (write one rule per %s)", crit_names[c],
				               crit_names[c]);
			if (++nvals > PC_AUTHZ_MAX_VALUES)
				return fail_at(b, v, "more than %d values for \"%s\"", PC_AUTHZ_MAX_VALUES, crit_names[c]);
			if (add_value(b, ru, (enum crit)c, v, (size_t)(ve - v)) != 0)
				return -1;
			if (ve == p)
				break;
			v = ve + 1;
			if (v == p)
				return fail_at(b, v, "empty item in the list for \"%s\"", crit_names[c]);
		}
	}
	if (ru->policy == PC_POLICY_BYPASS && (seen[C_USER] || seen[C_GROUP]))
		return fail_at(b, seen[C_USER] ? seen[C_USER] : seen[C_GROUP],
		               "bypass cannot have user= or group= (it applies before anyone signs in)");
	b->r->n_rules++;
	return 0;
}

/* Adds rule i to the slot for key (counting pass), or places it (fill pass). */
static int htab_build(struct pc_htab *t, struct pc_rules *r, bool wild)
{
	size_t keys = 0;
	for (size_t i = 0; i < r->n_rules; i++)
		keys += r->rules[i].has_host && r->rules[i].host_wild == wild;
	if (keys == 0)
		return 0;
	size_t cap = 16;
	while (cap < keys * 2)
		cap *= 2;
	t->slots = r_calloc(cap, sizeof(*t->slots));
	if (t->slots == NULL)
		return -1;
	t->mask = cap - 1;
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct pc_rule *ru = &r->rules[i];
		if (!ru->has_host || ru->host_wild != wild)
			continue;
		const char *k = r->pool + ru->host.off;
		uint64_t h = PC_AUTHZ_FNV_OFFSET;
		for (size_t j = ru->host.len; j > 0; j--)
			h = pc_authz_hash_step(h, (unsigned char)k[j - 1]);
		h = pc_authz_hash_final(h);
		size_t s = h & t->mask;
		while (t->slots[s].hash != 0 &&
		       !(t->slots[s].hash == h && t->slots[s].key.len == ru->host.len &&
		         memcmp(r->pool + t->slots[s].key.off, k, ru->host.len) == 0))
			s = (s + 1) & t->mask;
		if (t->slots[s].hash == 0) {
			t->slots[s].hash = h;
			t->slots[s].key = ru->host;
			t->n++;
		}
		t->slots[s].count++;
	}
	return 0;
}

/* Lays out the runs in idx: host-less first, then each slot's, in rule order. */
static int build_index(struct pc_rules *r)
{
	if (htab_build(&r->exact, r, false) != 0 || htab_build(&r->wild, r, true) != 0)
		return -1;
	r->idx = r_malloc((r->n_rules ? r->n_rules : 1) * sizeof(*r->idx));
	if (r->idx == NULL)
		return -1;
	uint32_t next = 0;
	for (size_t i = 0; i < r->n_rules; i++)
		r->free_count += !r->rules[i].has_host;
	r->free_start = 0;
	next = r->free_count;
	struct pc_htab *tabs[2] = {&r->exact, &r->wild};
	for (int t = 0; t < 2; t++) {
		for (size_t s = 0; s < (tabs[t]->n ? tabs[t]->mask + 1 : 0); s++) {
			struct pc_hslot *e = &tabs[t]->slots[s];
			if (e->hash == 0)
				continue;
			e->start = next;
			next += e->count;
			e->count = 0;
		}
	}
	uint32_t nfree = 0;
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct pc_rule *ru = &r->rules[i];
		if (!ru->has_host) {
			r->idx[nfree++] = (uint32_t)i;
			continue;
		}
		const struct pc_htab *t = ru->host_wild ? &r->wild : &r->exact;
		const char *k = r->pool + ru->host.off;
		uint64_t h = PC_AUTHZ_FNV_OFFSET;
		for (size_t j = ru->host.len; j > 0; j--)
			h = pc_authz_hash_step(h, (unsigned char)k[j - 1]);
		struct pc_hslot *e =
		    (struct pc_hslot *)pc_authz_htab_find(t, r->pool, pc_authz_hash_final(h), k, ru->host.len);
		r->idx[e->start + e->count++] = (uint32_t)i;
	}
	return 0;
}

struct pc_rules *pc_rules_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct builder b = {0};
	struct pc_rules *ret = NULL;
	char dummy[1];

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	b.err = err;
	b.errlen = errlen;
	if (len > PC_AUTHZ_MAX_FILE_BYTES) {
		snprintf(err, errlen, "rules text longer than %d bytes", PC_AUTHZ_MAX_FILE_BYTES);
		return NULL;
	}
	b.r = r_calloc(1, sizeof(*b.r));
	if (b.r == NULL) {
		oom(&b);
		return NULL;
	}
	atomic_init(&b.r->refs, 1);
	b.pool_cap = len + 1;
	b.r->pool = r_malloc(b.pool_cap);
	if (b.r->pool == NULL) {
		oom(&b);
		goto out;
	}
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		b.line++;
		if (parse_line(&b, p, (size_t)(le - p)) != 0)
			goto out;
		p = nl ? nl + 1 : end;
	}
	if (build_index(b.r) != 0) {
		oom(&b);
		goto out;
	}
	ret = b.r;
	b.r = NULL;
out:
	pc_rules_free(b.r);
	return ret;
}

struct pc_rules *pc_rules_load_file(const char *path, char *err, size_t errlen)
{
	struct pc_rules *ret = NULL;
	char *buf = NULL;
	size_t n = 0;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > PC_AUTHZ_MAX_FILE_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, PC_AUTHZ_MAX_FILE_BYTES);
		goto out;
	}
	/* one byte more than fstat said, to notice a file that grew meanwhile */
	size_t want = (size_t)st.st_size + 1;
	buf = r_malloc(want);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, want - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == want) {
			snprintf(err, errlen, "%s: changed while being read; try again", path);
			goto out;
		}
	}
	ret = pc_rules_parse(buf, n, err, errlen);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

struct pc_rules *pc_rules_ref(struct pc_rules *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

void pc_rules_unref(struct pc_rules *r)
{
	if (r == NULL)
		return;
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(r->exact.slots);
	free(r->wild.slots);
	free(r->idx);
	free(r->nets);
	free(r->svs);
	free(r->pool);
	free(r->rules);
	free(r);
}

void pc_rules_free(struct pc_rules *r)
{
	pc_rules_unref(r);
}

size_t pc_rules_count(const struct pc_rules *r)
{
	return r->n_rules;
}

unsigned pc_rules_line(const struct pc_rules *r, size_t i)
{
	assert(i < r->n_rules);
	return r->rules[i].line;
}

enum pc_policy pc_rules_policy(const struct pc_rules *r, size_t i)
{
	assert(i < r->n_rules);
	return r->rules[i].policy;
}

/* Appends to out at *o; false when it would not fit (with the NUL). */
static bool put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
	if (*o + n + 1 > cap)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return true;
}

static bool put_list(char *out, size_t cap, size_t *o, const struct pc_rules *r, const char *name, uint32_t first,
                     uint32_t n)
{
	if (n == 0)
		return true;
	if (!put(out, cap, o, " ", 1) || !put(out, cap, o, name, strlen(name)) || !put(out, cap, o, "=", 1))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		const struct pc_sv *v = &r->svs[first + i];
		if ((i > 0 && !put(out, cap, o, ",", 1)) || !put(out, cap, o, r->pool + v->off, v->len))
			return false;
	}
	return true;
}

int pc_rules_format(char *out, size_t cap, const struct pc_rules *r, size_t i)
{
	assert(i < r->n_rules);
	const struct pc_rule *ru = &r->rules[i];
	size_t o = 0;
	bool ok;
	const char *pn = policy_names[ru->policy];

	if (cap == 0)
		return -1;
	out[0] = '\0';
	ok = put(out, cap, &o, pn, strlen(pn));
	if (ok && ru->has_host)
		ok = put(out, cap, &o, ru->host_wild ? " host=*." : " host=", ru->host_wild ? 8 : 6) &&
		     put(out, cap, &o, r->pool + ru->host.off, ru->host.len);
	if (ok && ru->has_path)
		ok = put(out, cap, &o, " path=", 6) && put(out, cap, &o, r->pool + ru->path.off, ru->path.len);
	if (ok && ru->methods) {
		ok = put(out, cap, &o, " method=", 8);
		bool first = true;
		for (int m = 0; ok && m < PC_METHOD__COUNT; m++) {
			if (!(ru->methods & (1u << m)))
				continue;
			ok = (first || put(out, cap, &o, ",", 1)) &&
			     put(out, cap, &o, method_names[m], strlen(method_names[m]));
			first = false;
		}
	}
	if (ok && ru->n_nets) {
		ok = put(out, cap, &o, " net=", 5);
		for (uint32_t k = 0; ok && k < ru->n_nets; k++) {
			char c[64];
			int n = pc_cidr_format(c, sizeof(c), &r->nets[ru->nets + k]);
			ok = n > 0 && (k == 0 || put(out, cap, &o, ",", 1)) && put(out, cap, &o, c, (size_t)n);
		}
	}
	ok = ok && put_list(out, cap, &o, r, "user", ru->users, ru->n_users) &&
	     put_list(out, cap, &o, r, "group", ru->groups, ru->n_groups);
	if (!ok) {
		out[0] = '\0';
		return -1;
	}
	return (int)o;
}
