/*
 * fuzz_rules.c — libFuzzer target for the access rules parser and the
 * decision (src/authz/rules.c, access.c), compared with a second, naive
 * model written from rules.h and access.h:
 *
 * - the model splits lines and tokens with plain loops, validates each value
 *   (host and path through the normalisers, which fuzz_path checks against
 *   their own model; CIDRs through core/cidr.c, unit-tested), and builds the
 *   canonical text of each rule;
 * - accepted by both or refused by both; when refused, the error names the
 *   model's first bad line ("line N, column C: ..." with 1 <= C <= the
 *   line's length + 1); when accepted, the same rule count, line numbers and
 *   printed rules, and every printed rule parses back to itself;
 * - decisions: for each rule's host (a name under a wildcard) and path, an
 *   anonymous request and a signed-in two-factor request without groups are
 *   decided by the engine and by a first-match scan over the model's rules:
 *   same outcome, bypass flag and line (this exercises the host index).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/access.h"
#include "authz/path.h"
#include "authz/rules.h"
#include "core/cidr.h"
#include "core/text.h"
#include "fuzz.h"

static const char *const POL[] = {"bypass", "one_factor", "two_factor", "deny"};
static const char *const CRIT[] = {"host", "path", "method", "net", "user", "group"};
static const char *const METH[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

struct mrule {
	unsigned line;
	int policy;
	char host[PC_AUTHZ_HOST_MAX + 1];
	bool has_host, wild, has_path, has_net, has_group;
	unsigned methods;
	char *path;  /* the strings are copies sized to fit (freed by model_free) */
	char *users; /* ",a@b,c@d," lower-cased, or "" */
	char *text;
};

/* Scratch space for the rule being parsed (the fuzzer runs one thread). */
static char s_path[PC_AUTHZ_MAX_LINE + 1];
static char s_users[PC_AUTHZ_MAX_LINE + 2];
static char s_text[PC_AUTHZ_FORMAT_MAX + 1];

struct model {
	struct mrule *r;
	size_t n;
	unsigned err_line; /* 0: accepted */
};

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static void cat(char *dst, size_t cap, const char *s, size_t n)
{
	size_t l = strlen(dst);
	CHECK(l + n < cap);
	memcpy(dst + l, s, n);
	dst[l + n] = '\0';
}

static bool group_ok(const char *s, size_t n)
{
	if (n < 1 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	}
	return true;
}

static bool email_ok(const char *s, size_t n)
{
	size_t ats = 0, at = 0;
	if (n > 254)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == ',')
			return false;
		if (s[i] == '@') {
			ats++;
			at = i;
		}
	}
	return ats == 1 && at > 0 && at < n - 1;
}

#define C__MAXC 6

static bool model_value(struct mrule *m, int c, const char *v, size_t n, char *canon, size_t idx)
{
	char norm[PC_AUTHZ_MAX_LINE + 1];
	size_t nl;
	if (c == 0) { /* host */
		bool wild = n >= 2 && v[0] == '*' && v[1] == '.';
		const char *name = wild ? v + 2 : v;
		size_t nn = wild ? n - 2 : n;
		if (memchr(name, '*', nn) != NULL)
			return false;
		if (pc_authz_host_normalize(norm, sizeof(norm), &nl, name, nn) != PC_NORM_OK)
			return false;
		if (nl != nn || memcmp(norm, name, nn) != 0 || (wild && name[0] == '['))
			return false;
		m->has_host = true;
		m->wild = wild;
		memcpy(m->host, norm, nl + 1);
		cat(canon, PC_AUTHZ_FORMAT_MAX, v, n);
		return true;
	}
	if (c == 1) { /* path */
		if (memchr(v, '?', n) != NULL)
			return false;
		if (pc_authz_path_normalize(norm, sizeof(norm), &nl, v, n) != PC_NORM_OK)
			return false;
		if (nl != n || memcmp(norm, v, n) != 0)
			return false;
		m->has_path = true;
		memcpy(s_path, v, n);
		s_path[n] = '\0';
		cat(canon, PC_AUTHZ_FORMAT_MAX, v, n);
		return true;
	}
	if (c == 2) { /* method: canonical text is built from the mask later */
		for (int k = 0; k < 7; k++) {
			if (strlen(METH[k]) == n && memcmp(METH[k], v, n) == 0) {
				if (m->methods & (1u << k))
					return false;
				m->methods |= 1u << k;
				return true;
			}
		}
		return false;
	}
	if (c == 3) { /* net */
		struct pc_cidr cidr;
		const char *why;
		char txt[64], probe[80];
		if (pc_cidr_parse(&cidr, &why, v, n) != 0)
			return false;
		CHECK(pc_cidr_format(txt, sizeof(txt), &cidr) > 0);
		snprintf(probe, sizeof(probe), ",%s,", txt);
		char list[PC_AUTHZ_FORMAT_MAX + 2];
		snprintf(list, sizeof(list), ",%s,", canon);
		if (idx > 0 && strstr(list, probe) != NULL)
			return false;
		if (idx > 0)
			cat(canon, PC_AUTHZ_FORMAT_MAX, ",", 1);
		cat(canon, PC_AUTHZ_FORMAT_MAX, txt, strlen(txt));
		m->has_net = true;
		return true;
	}
	/* user, group */
	char low[PC_AUTHZ_MAX_LINE + 1], probe[PC_AUTHZ_MAX_LINE + 3], list[PC_AUTHZ_FORMAT_MAX + 2];
	if (c == 4 ? !email_ok(v, n) : !group_ok(v, n))
		return false;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)((v[i] >= 'A' && v[i] <= 'Z') ? v[i] + 32 : v[i]);
	low[n] = '\0';
	snprintf(probe, sizeof(probe), ",%s,", low);
	snprintf(list, sizeof(list), ",%s,", canon);
	if (idx > 0 && strstr(list, probe) != NULL)
		return false;
	if (idx > 0)
		cat(canon, PC_AUTHZ_FORMAT_MAX, ",", 1);
	cat(canon, PC_AUTHZ_FORMAT_MAX, low, n);
	if (c == 4) {
		if (s_users[0] == '\0')
			cat(s_users, sizeof(s_users), ",", 1);
		cat(s_users, sizeof(s_users), low, n);
		cat(s_users, sizeof(s_users), ",", 1);
	} else {
		m->has_group = true;
	}
	return true;
}

/* Returns true when the line is fine (a rule is appended when it holds one). */
static bool model_line(struct model *md, const char *s, size_t n, unsigned line)
{
	if (n > PC_AUTHZ_MAX_LINE)
		return false;
	size_t p = 0;
	while (p < n && blank(s[p]))
		p++;
	bool comment = p < n && s[p] == '#';
	for (size_t i = 0; i < n; i++) {
		unsigned char u = (unsigned char)s[i];
		if ((u < 0x20 && u != '\t') || u == 0x7f)
			return false;
		if (u >= 0x80 && !comment)
			return false;
	}
	if (comment)
		return pc_utf8_valid(s + p, n - p);
	/* tokens */
	const char *tok[PC_AUTHZ_MAX_LINE];
	size_t tl[PC_AUTHZ_MAX_LINE], nt = 0;
	for (size_t i = 0; i < n;) {
		if (blank(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !blank(s[j]))
			j++;
		tok[nt] = s + i;
		tl[nt++] = j - i;
		i = j;
	}
	if (nt == 0)
		return true;
	if (md->n == PC_AUTHZ_MAX_RULES)
		return false;
	struct mrule *m = &md->r[md->n];
	memset(m, 0, sizeof(*m));
	m->line = line;
	m->policy = -1;
	s_path[0] = s_users[0] = s_text[0] = '\0';
	for (int k = 0; k < 4; k++) {
		if (strlen(POL[k]) == tl[0] && memcmp(POL[k], tok[0], tl[0]) == 0)
			m->policy = k;
	}
	if (m->policy < 0)
		return false;
	static char canon[C__MAXC][PC_AUTHZ_FORMAT_MAX];
	bool seen[C__MAXC] = {0};
	for (int c = 0; c < C__MAXC; c++)
		canon[c][0] = '\0';
	for (size_t t = 1; t < nt; t++) {
		if (tok[t][0] == '#')
			return false;
		const char *eq = memchr(tok[t], '=', tl[t]);
		if (eq == NULL)
			return false;
		int c = -1;
		for (int k = 0; k < C__MAXC; k++) {
			if (strlen(CRIT[k]) == (size_t)(eq - tok[t]) && memcmp(CRIT[k], tok[t], (size_t)(eq - tok[t])) == 0)
				c = k;
		}
		if (c < 0 || seen[c])
			return false;
		seen[c] = true;
		const char *v = eq + 1, *end = tok[t] + tl[t];
		if (v == end)
			return false;
		size_t idx = 0;
		for (const char *a = v;; idx++) {
			const char *b = a;
			while (b < end && *b != ',')
				b++;
			if (b == a || idx >= PC_AUTHZ_MAX_VALUES || ((c == 0 || c == 1) && idx > 0))
				return false;
			if (!model_value(m, c, a, (size_t)(b - a), canon[c], idx))
				return false;
			if (b == end)
				break;
			a = b + 1;
		}
	}
	if (m->policy == 0 && (seen[4] || seen[5]))
		return false;
	snprintf(s_text, sizeof(s_text), "%s", POL[m->policy]);
	for (int c = 0; c < C__MAXC; c++) {
		if (!seen[c])
			continue;
		cat(s_text, sizeof(s_text), " ", 1);
		cat(s_text, sizeof(s_text), CRIT[c], strlen(CRIT[c]));
		cat(s_text, sizeof(s_text), "=", 1);
		if (c == 2) {
			bool first = true;
			for (int k = 0; k < 7; k++) {
				if (!(m->methods & (1u << k)))
					continue;
				if (!first)
					cat(s_text, sizeof(s_text), ",", 1);
				cat(s_text, sizeof(s_text), METH[k], strlen(METH[k]));
				first = false;
			}
		} else {
			cat(s_text, sizeof(s_text), canon[c], strlen(canon[c]));
		}
	}
	m->path = strdup(s_path);
	m->users = strdup(s_users);
	m->text = strdup(s_text);
	CHECK(m->path != NULL && m->users != NULL && m->text != NULL);
	md->n++;
	return true;
}

static void model_parse(struct model *md, const char *t, size_t len)
{
	unsigned line = 0;
	md->n = 0;
	md->err_line = 0;
	for (size_t p = 0; p < len;) {
		size_t e = p;
		while (e < len && t[e] != '\n')
			e++;
		line++;
		if (!model_line(md, t + p, e - p, line)) {
			md->err_line = line;
			return;
		}
		p = e + 1;
	}
}

static bool model_path_eq(const char *a, const char *b, size_t n, bool fold)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i], y = b[i];
		if (fold && x >= 'A' && x <= 'Z')
			x = (char)(x + 32);
		if (fold && y >= 'A' && y <= 'Z')
			y = (char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

/* First-match scan over the model (access.h): outcome*2 + bypass, line;
 * with fold, paths compare ignoring ASCII case. */
static int model_scan(const struct model *md, const char *host, const char *path, bool signed_in,
                      const char *email, bool fold, unsigned *line)
{
	size_t hl = strlen(host), pl = strlen(path);
	for (size_t i = 0; i < md->n; i++) {
		const struct mrule *m = &md->r[i];
		if (m->has_host) {
			size_t sl = strlen(m->host);
			if (m->wild ? !(hl > sl + 1 && host[hl - sl - 1] == '.' && strcmp(host + hl - sl, m->host) == 0)
			            : strcmp(host, m->host) != 0)
				continue;
		}
		if (m->has_path) {
			size_t rl = strlen(m->path);
			bool pre = pl >= rl && model_path_eq(path, m->path, rl, fold);
			bool dir = rl > 1 && m->path[rl - 1] == '/' && pl == rl - 1 && model_path_eq(path, m->path, pl, fold);
			if (!pre && !dir)
				continue;
		}
		if (m->methods && !(m->methods & 1u)) /* requests are GET */
			continue;
		if (m->has_net) /* requests carry no address */
			continue;
		*line = m->line;
		if (m->users[0] || m->has_group) {
			if (!signed_in)
				return PC_ACCESS_LOGIN * 2;
			char probe[300];
			snprintf(probe, sizeof(probe), ",%s,", email);
			if (m->has_group || (m->users[0] && strstr(m->users, probe) == NULL))
				continue;
		}
		switch (m->policy) {
		case 0:
			return PC_ACCESS_ALLOW * 2 + 1;
		case 1:
		case 2:
			return (signed_in ? PC_ACCESS_ALLOW : PC_ACCESS_LOGIN) * 2;
		default:
			return PC_ACCESS_DENY * 2;
		}
	}
	*line = 0;
	return PC_ACCESS_DENY * 2;
}

/* The decision: the case-sensitive scan, unless folding case would change
 * it (then ambiguous: sign in, or deny when signed in; line 0). */
static int model_decide(const struct model *md, const char *host, const char *path, bool signed_in,
                        const char *email, unsigned *line)
{
	unsigned fl;
	int exact = model_scan(md, host, path, signed_in, email, false, line);
	/* Unicode folds that land on ASCII (U+017F, U+212A, U+0130, U+0131),
	 * written as the normaliser writes them (upper-case hex escapes) */
	static const char *const from[] = {"%C5%BF", "%E2%84%AA", "%C4%B0", "%C4%B1"};
	static const char to[] = {'s', 'k', 'i', 'i'};
	char folded[PC_AUTHZ_PATH_MAX + 1];
	size_t o = 0;
	for (const char *c = path; *c != '\0' && o < PC_AUTHZ_PATH_MAX;) {
		int k = 0;
		while (k < 4 && strncmp(c, from[k], strlen(from[k])) != 0)
			k++;
		if (k < 4) {
			folded[o++] = to[k];
			c += strlen(from[k]);
		} else {
			folded[o++] = *c++;
		}
	}
	folded[o] = '\0';
	if (model_scan(md, host, folded, signed_in, email, true, &fl) / 2 == exact / 2)
		return exact; /* the same outcome, bypass or not */
	*line = 0;
	return (signed_in ? PC_ACCESS_DENY : PC_ACCESS_LOGIN) * 2;
}

static void check_decisions(const struct pc_rules *r, const struct model *md)
{
	size_t lim = md->n < 32 ? md->n : 32;
	for (size_t i = 0; i <= lim; i++) {
		char host[PC_AUTHZ_HOST_MAX + 1] = "unlisted.test";
		const char *path = "/";
		if (i < lim) {
			const struct mrule *m = &md->r[i];
			if (m->has_host && m->wild && strlen(m->host) + 2 <= PC_AUTHZ_HOST_MAX)
				snprintf(host, sizeof(host), "x.%s", m->host);
			else if (m->has_host && !m->wild)
				snprintf(host, sizeof(host), "%s", m->host);
			if (m->has_path)
				path = m->path;
		}
		/* the rule's path, and the same path in capitals (letter case
		 * that may change the decision) */
		char upper[PC_AUTHZ_PATH_MAX + 1];
		snprintf(upper, sizeof(upper), "%s", path);
		for (char *c = upper; *c; c++)
			*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
		/* and with its first i written as U+0131 (dotless i), which
		 * Unicode-folding apps read as i */
		char dotless[PC_AUTHZ_PATH_MAX + 1];
		const char *ip = strchr(upper, 'I');
		if (ip != NULL && strlen(upper) + 5 <= PC_AUTHZ_PATH_MAX)
			snprintf(dotless, sizeof(dotless), "%.*s%%C4%%B1%s", (int)(ip - upper), upper, ip + 1);
		else
			snprintf(dotless, sizeof(dotless), "%s", upper);
		for (int who = 0; who < 6; who++) {
			if (who >= 4)
				path = dotless;
			else if (who >= 2)
				path = upper;
			const char *email = "a@b.c";
			if (who % 2 == 1 && i < lim && md->r[i].users[0]) {
				static char first[300];
				const char *u = md->r[i].users + 1;
				size_t ul = strcspn(u, ",");
				snprintf(first, sizeof(first), "%.*s", (int)ul, u);
				email = first;
			}
			struct pc_access_request req = {host, strlen(host), path, strlen(path), PC_METHOD_GET, NULL};
			struct pc_access_subject s = {who % 2 == 1, 2, email, strlen(email), NULL, 0};
			struct pc_access_decision d;
			unsigned wl;
			int want = model_decide(md, host, path, who % 2 == 1, email, &wl);
			enum pc_access_outcome o = pc_access_decide(&d, r, NULL, &req, &s);
			CHECK(o == d.outcome);
			CHECK((int)d.outcome * 2 + (int)d.bypass == want);
			CHECK(d.line == wl);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	CHECK(text != NULL);
	if (size)
		memcpy(text, data, size);
	char err[512];
	struct pc_rules *r = pc_rules_parse(text, size, err, sizeof(err));

	struct model md;
	size_t lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	md.r = calloc(lines, sizeof(*md.r));
	CHECK(md.r != NULL);
	model_parse(&md, text, size);

	if (md.err_line != 0) {
		CHECK(r == NULL);
		unsigned el = 0;
		size_t col = 0;
		CHECK(sscanf(err, "line %u, column %zu: ", &el, &col) == 2);
		CHECK(el == md.err_line);
		/* the line's length */
		size_t p = 0;
		for (unsigned l = 1; l < el; l++)
			p = (size_t)((const char *)memchr(text + p, '\n', size - p) - text) + 1;
		const char *nl = memchr(text + p, '\n', size - p);
		size_t ll = (nl ? (size_t)(nl - text) : size) - p;
		CHECK(col >= 1 && col <= ll + 1);
	} else {
		CHECK(r != NULL);
		CHECK(pc_rules_count(r) == md.n);
		for (size_t i = 0; i < md.n; i++) {
			char out[PC_AUTHZ_FORMAT_MAX + 1];
			int n = pc_rules_format(out, sizeof(out), r, i);
			CHECK(n >= 0 && (size_t)n == strlen(md.r[i].text) && strcmp(out, md.r[i].text) == 0);
			CHECK(pc_rules_line(r, i) == md.r[i].line);
			char e2[256];
			struct pc_rules *again = pc_rules_parse(out, (size_t)n, e2, sizeof(e2));
			CHECK(again != NULL && pc_rules_count(again) == 1);
			char out2[PC_AUTHZ_FORMAT_MAX + 1];
			CHECK(pc_rules_format(out2, sizeof(out2), again, 0) == n && strcmp(out2, out) == 0);
			pc_rules_free(again);
		}
		check_decisions(r, &md);
		pc_rules_free(r);
	}
	for (size_t i = 0; i < md.n; i++) {
		free(md.r[i].path);
		free(md.r[i].users);
		free(md.r[i].text);
	}
	free(md.r);
	free(text);
	return 0;
}
