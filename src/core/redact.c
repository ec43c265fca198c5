/*
 * redact.c — the last-line guard; see redact.h for what it recognises.
 *
 * One left-to-right pass. Bytes that can start nothing (not a base64url
 * character, '.', '\\' or '%') are copied in runs. A run of [A-Za-z0-9_.-]
 * is looked at once: as a field name (then the field's value is replaced and
 * the scan goes on after it), as "Bearer" (then the token after it), else
 * segment by segment ('.' splits) against the kind table and the JWT shape.
 * Escapes are consumed whole, so a replacement never starts or ends inside
 * one, and every replacement lies inside a string of a JSON line: markers
 * hold no byte that JSON escapes, and a field value ends at its closing
 * quote at the latest.
 */
#include "core/redact.h"

#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#define NAME_MAX_LEN 40    /* a field name longer than this is no name */
#define BEARER_MIN_LEN 16  /* "Bearer " + fewer characters is prose */

static _Atomic uint64_t totals[PC_REDACT_SINK_N][PC_REDACT_KIND_N];

static const char *const sink_names[PC_REDACT_SINK_N] = {
	[PC_REDACT_SINK_LOG] = "log",
	[PC_REDACT_SINK_ACCESS] = "access",
	[PC_REDACT_SINK_AUDIT] = "audit",
	[PC_REDACT_SINK_CLI] = "cli",
};

/* ---------- character classes ---------- */

/* 1: base64url [A-Za-z0-9_-], 2: '.', 4: '\\', 8: '%' — the bytes that can
 * start something; every other byte is copied in runs */
#define C_WORD 1
#define C_DOT 2
static const uint8_t cls[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 4, 0, 0, 1,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static inline bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_word(unsigned char c)
{
	return cls[c] & C_WORD;
}
static inline bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static inline bool is_lhex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

/* the base64url value of a word character */
static inline unsigned b64val(unsigned char c)
{
	if (is_upper(c))
		return c - 'A';
	if (is_lower(c))
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	return c == '-' ? 62 : 63;
}

/* ---------- the word recognisers (a segment: word characters only) ---------- */

static bool mixed_case(const unsigned char *s, size_t n)
{
	bool up = false, lo = false;
	for (size_t i = 0; i < n && !(up && lo); i++) {
		up |= is_upper(s[i]);
		lo |= is_lower(s[i]);
	}
	return up && lo;
}

/* the last character of 32 or 74 bytes in base64url carries 2 spare bits,
 * zero in the one canonical encoding */
static bool canonical2(const unsigned char *s, size_t n)
{
	return n > 0 && (b64val(s[n - 1]) & 3) == 0;
}

static bool w_session(const unsigned char *s, size_t n)
{
	return n == 108 && mixed_case(s, n);
}

static bool w_csrf(const unsigned char *s, size_t n)
{
	return n == 99 && canonical2(s, n) && mixed_case(s, n);
}

static bool w_reset(const unsigned char *s, size_t n)
{
	return n == 43 && canonical2(s, n) && mixed_case(s, n);
}

static bool w_refresh(const unsigned char *s, size_t n)
{
	return n == 47 && memcmp(s, "pcr_", 4) == 0 && canonical2(s, n);
}

bool pc_redact_is_apikey(const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	enum { PRE = 12, SECRET = 64, CHECK = 8, BODY = 3 + PRE + 1 + SECRET };
	if (n != BODY + CHECK || memcmp(s, "pc_", 3) != 0 || s[3 + PRE] != '_')
		return false;
	for (size_t i = 3; i < 3 + PRE; i++)
		if (!is_lower(s[i]) && !is_digit(s[i]))
			return false;
	for (size_t i = 3 + PRE + 1; i < n; i++)
		if (!is_lhex(s[i]))
			return false;
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), s, BODY, NULL, 0);
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < CHECK / 2; i++)
		if (s[BODY + 2 * i] != hex[h[i] >> 4] || s[BODY + 2 * i + 1] != hex[h[i] & 15])
			return false;
	return true;
}

static bool w_apikey(const unsigned char *s, size_t n)
{
	return pc_redact_is_apikey((const char *)s, n);
}

/* The kinds. A row with a word recogniser is tried on every segment; the
 * hooks (oidc_code, totp_secret) get theirs from the wave that adds them. */
static const struct {
	const char *name;
	bool (*word)(const unsigned char *s, size_t n);
} kinds[PC_REDACT_KIND_N] = {
	[PC_REDACT_SESSION_COOKIE] = {"session_cookie", w_session},
	[PC_REDACT_CSRF_TOKEN] = {"csrf_token", w_csrf},
	[PC_REDACT_RESET_TOKEN] = {"reset_token", w_reset},
	[PC_REDACT_REFRESH_TOKEN] = {"refresh_token", w_refresh},
	[PC_REDACT_API_KEY] = {"api_key", w_apikey},
	[PC_REDACT_JWT] = {"jwt", NULL},
	[PC_REDACT_OIDC_CODE] = {"oidc_code", NULL},
	[PC_REDACT_TOTP_SECRET] = {"totp_secret", NULL},
	[PC_REDACT_AUTHORIZATION] = {"authorization", NULL},
	[PC_REDACT_COOKIE] = {"cookie", NULL},
	[PC_REDACT_PASSWORD] = {"password", NULL},
	[PC_REDACT_SECRET_FIELD] = {"secret_field", NULL},
};

static int word_kind(const unsigned char *s, size_t n)
{
	if (n < 43 || n > 108) /* no recognised word is shorter or longer */
		return -1;
	for (int k = 0; k < PC_REDACT_KIND_N; k++)
		if (kinds[k].word != NULL && kinds[k].word(s, n))
			return k;
	return -1;
}

/* ---------- field names ---------- */

/* The kind of a field named s[0..n) (case-insensitive, '-' = '_'), or -1;
 * *header: a header name, which also counts in "Name: value" form. Called
 * only for a run followed by '=', ':' or a quote, so a JSON line's keys are
 * the usual callers: it must be cheap on "time", "path", "status". */
static int field_kind(const unsigned char *s, size_t n, bool *header)
{
	*header = false;
	if (n < 3 || n > NAME_MAX_LEN)
		return -1;
	char low[NAME_MAX_LEN];
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '.')
			return -1;
		low[i] = (char)(is_upper(c) ? c + 32 : c == '-' ? '_' : c);
	}
	/* contains "passw"/"passwd" or "secret", ends in "token" */
	for (size_t i = 0; i + 5 <= n; i++) {
		if (low[i] == 'p' && memcmp(low + i, "passw", 5) == 0)
			return PC_REDACT_PASSWORD;
		if (low[i] == 's' && i + 6 <= n && memcmp(low + i, "secret", 6) == 0)
			return PC_REDACT_SECRET_FIELD;
	}
	if (n >= 5 && memcmp(low + n - 5, "token", 5) == 0) {
		if (n == 12 && memcmp(low, "x_csrf_token", 12) == 0) {
			*header = true;
			return PC_REDACT_CSRF_TOKEN;
		}
		return PC_REDACT_SECRET_FIELD;
	}
	static const struct {
		const char *name;
		uint8_t len;
		int8_t kind;
		bool header;
	} exact[] = {
		{"authorization", 13, PC_REDACT_AUTHORIZATION, true},
		{"proxy_authorization", 19, PC_REDACT_AUTHORIZATION, true},
		{"cookie", 6, PC_REDACT_COOKIE, true},
		{"set_cookie", 10, PC_REDACT_COOKIE, true},
		{"session", 7, PC_REDACT_COOKIE, false},
		{"x_api_key", 9, PC_REDACT_SECRET_FIELD, true},
		{"api_key", 7, PC_REDACT_SECRET_FIELD, false},
		{"apikey", 6, PC_REDACT_SECRET_FIELD, false},
	};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (exact[i].len == n && memcmp(low, exact[i].name, n) == 0) {
			*header = exact[i].header;
			return exact[i].kind;
		}
	return -1;
}

/* ---------- output ---------- */

/* The output is the input but at replacements: bytes are copied lazily,
 * in[done..) up to the next replacement, so a clean line is one memcpy. */
struct out {
	char *p;
	size_t cap, len;
	bool over;
	uint32_t *counts;
	const unsigned char *in;
	size_t done;
};

static inline void put(struct out *o, const char *s, size_t n)
{
	if (o->over || n > o->cap - o->len) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* Replaces in[start..end) with the kind's marker. */
static void mark(struct out *o, size_t start, size_t end, int kind)
{
	put(o, (const char *)o->in + o->done, start - o->done);
	put(o, "[redacted:", 10);
	put(o, kinds[kind].name, strlen(kinds[kind].name));
	put(o, "]", 1);
	o->done = end;
	if (o->counts != NULL)
		o->counts[kind]++;
}

/* ---------- escapes ---------- */

/* The length of the escape at in[i] == '\\' (at least 1). JSON: \uXXXX, or
 * '\\' and one character; an escaped backslash followed by xHH is core/text.h's
 * escape of a byte and is taken whole. Raw: \xHH, else the backslash alone. */
static size_t esc_len(const unsigned char *in, size_t n, size_t i, unsigned flags)
{
	if (!(flags & PC_REDACT_JSON)) {
		if (i + 3 < n && in[i + 1] == 'x' && is_hex(in[i + 2]) && is_hex(in[i + 3]))
			return 4;
		return 1;
	}
	if (i + 1 >= n)
		return 1;
	if (in[i + 1] == 'u') {
		if (i + 5 < n && is_hex(in[i + 2]) && is_hex(in[i + 3]) && is_hex(in[i + 4]) &&
		    is_hex(in[i + 5]))
			return 6;
		return 2;
	}
	if (in[i + 1] == '\\' && i + 4 < n && in[i + 2] == 'x' && is_hex(in[i + 3]) && is_hex(in[i + 4]))
		return 5;
	return 2;
}

/* Whether the quote at in[q] is escaped (an odd number of backslashes
 * before it). */
static bool quote_escaped(const unsigned char *in, size_t q, size_t lo)
{
	size_t k = 0;
	while (q > lo + k && in[q - 1 - k] == '\\')
		k++;
	return k & 1;
}

enum vstyle { V_STRING, V_NESTED, V_QUERY, V_HEADER };

/* The end of a field value starting at in[v]. */
static size_t value_end(const unsigned char *in, size_t n, size_t v, enum vstyle st, unsigned flags)
{
	bool json = flags & PC_REDACT_JSON;
	size_t i = v;
	while (i < n) {
		unsigned char c = in[i];
		if (c == '"')
			return i; /* unescaped: escapes are stepped over below */
		if (c == '\\' && json) {
			size_t el = esc_len(in, n, i, flags);
			bool quote = el == 2 && in[i + 1] == '"';
			bool bs = el >= 2 && in[i + 1] == '\\'; /* el 1: a backslash that ends the text */
			if (quote && st != V_STRING)
				return i; /* \" closes a nested string and ends a query value */
			if (!bs && !quote && st != V_STRING && st != V_NESTED)
				return i; /* \n, \u000a...: a line break ends a header or query */
			i += el;
			continue;
		}
		if (!json && (c == '\n' || c == '\r'))
			return i;
		if (st == V_QUERY && (c == '&' || c == ';' || c == ' ' || c == '\t' || c == '#'))
			return i;
		i++;
	}
	return n;
}

static size_t skip_spaces(const unsigned char *in, size_t n, size_t i)
{
	while (i < n && (in[i] == ' ' || in[i] == '\t'))
		i++;
	return i;
}

/* The field whose name is in[a..b): replaces its value and returns the index
 * after it, or 0 when in[a..b) does not name a field here. */
static size_t field(struct out *o, const unsigned char *in, size_t n, size_t a, size_t b, unsigned flags)
{
	if (b >= n)
		return 0;
	bool json = flags & PC_REDACT_JSON;
	bool header;
	int kind;
	size_t v;
	enum vstyle st;
	if (in[b] == '=') {
		if ((kind = field_kind(in + a, b - a, &header)) < 0)
			return 0;
		v = b + 1;
		st = V_QUERY;
	} else if (in[b] == ':') {
		if ((kind = field_kind(in + a, b - a, &header)) < 0 || !header)
			return 0;
		v = skip_spaces(in, n, b + 1);
		st = V_HEADER;
	} else if ((in[b] == '"' || in[b] == '\\') && a > 0 && in[a - 1] == '"') {
		/* "name":"value", or \"name\":\"value\" inside a JSON string */
		bool nested = json && quote_escaped(in, a - 1, 0);
		size_t i = b;
		if (nested) {
			if (i + 1 >= n || in[i] != '\\' || in[i + 1] != '"')
				return 0;
			i += 2;
		} else {
			if (in[i] != '"')
				return 0;
			i++;
		}
		i = skip_spaces(in, n, i);
		if (i >= n || in[i] != ':')
			return 0;
		i = skip_spaces(in, n, i + 1);
		if (nested) {
			if (i + 1 >= n || in[i] != '\\' || in[i + 1] != '"')
				return 0;
			v = i + 2;
			st = V_NESTED;
		} else {
			if (i >= n || in[i] != '"')
				return 0;
			v = i + 1;
			st = V_STRING;
		}
		if ((kind = field_kind(in + a, b - a, &header)) < 0)
			return 0;
	} else {
		return 0; /* no field follows: the usual case, decided without the name */
	}
	size_t e = value_end(in, n, v, st, flags);
	if (e == v || (e - v >= 10 && memcmp(in + v, "[redacted:", 10) == 0))
		return 0; /* nothing to hide, or hidden already */
	mark(o, v, e, kind);
	return e;
}

/* "Bearer <token68>" with in[a..b) = "Bearer": the index after the token,
 * or 0. */
static size_t bearer(struct out *o, const unsigned char *in, size_t n, size_t a, size_t b)
{
	if (b - a != 6 || b + 1 >= n || in[b] != ' ')
		return 0;
	static const char w[] = "bearer";
	for (size_t i = 0; i < 6; i++)
		if ((in[a + i] | 32) != w[i])
			return 0;
	size_t e = b + 1;
	while (e < n && (is_word(in[e]) || in[e] == '.' || in[e] == '~' || in[e] == '+' || in[e] == '/'))
		e++;
	while (e < n && in[e] == '=')
		e++;
	if (e - (b + 1) < BEARER_MIN_LEN || memcmp(in + b + 1, "[redacted:", 10) == 0)
		return 0;
	mark(o, b + 1, e, PC_REDACT_AUTHORIZATION);
	return e;
}

static bool starts_jwt(const unsigned char *s, size_t n)
{
	return n >= 3 && s[0] == 'e' && s[1] == 'y' && s[2] == 'J';
}

/* The run in[a..b) of word characters and dots, segment by segment. */
static void run(struct out *o, const unsigned char *in, size_t a, size_t b, bool dots)
{
	if (b - a < 43 && !dots)
		return; /* one segment, shorter than any format: most runs */
	size_t s = a;
	while (s <= b) {
		size_t e = s;
		while (e < b && in[e] != '.')
			e++;
		/* eyJ… . nonempty [. any]: a token cut before its signature (a
		 * User-Agent is kept to 255 bytes) still shows its claims */
		if (e < b && starts_jwt(in + s, e - s)) {
			size_t e2 = e + 1;
			while (e2 < b && in[e2] != '.')
				e2++;
			if (e2 > e + 1) {
				size_t end = e2;
				if (e2 < b) {
					end = e2 + 1;
					while (end < b && in[end] != '.')
						end++;
				}
				mark(o, s, end, PC_REDACT_JWT);
				if (end == b)
					return;
				s = end + 1;
				continue;
			}
		}
		int k = word_kind(in + s, e - s);
		if (k >= 0)
			mark(o, s, e, k);
		if (e == b)
			return;
		s = e + 1;
	}
}

size_t pc_redact(char *out, size_t cap, const char *text, size_t n, unsigned flags,
                 uint32_t counts[PC_REDACT_KIND_N])
{
	const unsigned char *in = (const unsigned char *)text;
	struct out o = {.p = out, .cap = cap, .counts = counts, .in = in};
	size_t i = 0;
	while (i < n) {
		while (i < n && cls[in[i]] == 0)
			i++;
		if (i >= n)
			break;
		unsigned char c = in[i];
		if (c == '\\') {
			i += esc_len(in, n, i, flags);
			continue;
		}
		if (c == '%') {
			i += i + 2 < n && is_hex(in[i + 1]) && is_hex(in[i + 2]) ? 3 : 1;
			continue;
		}
		size_t j = i;
		unsigned seen = 0;
		while (j < n && (cls[in[j]] & (C_WORD | C_DOT)))
			seen |= cls[in[j++]];
		size_t next = field(&o, in, n, i, j, flags);
		if (next == 0)
			next = bearer(&o, in, n, i, j);
		if (next == 0) {
			run(&o, in, i, j, seen & C_DOT);
			next = j;
		}
		i = next;
	}
	put(&o, (const char *)in + o.done, n - o.done);
	return o.over ? cap + 1 : o.len;
}

size_t pc_redact_sink(char *out, size_t cap, const char *in, size_t n, unsigned flags,
                      enum pc_redact_sink sink)
{
	uint32_t counts[PC_REDACT_KIND_N] = {0};
	size_t len = pc_redact(out, cap, in, n, flags, counts);
	for (int k = 0; k < PC_REDACT_KIND_N; k++)
		if (counts[k] != 0)
			atomic_fetch_add_explicit(&totals[sink][k], counts[k], memory_order_relaxed);
	return len;
}

unsigned pc_redact_inplace(char *s, size_t cap, unsigned flags, enum pc_redact_sink sink)
{
	char tmp[PC_REDACT_CAP(PC_REDACT_INPLACE_MAX)];
	size_t n = strnlen(s, cap);
	if (n == cap) /* not terminated: a programmer's mistake; look at what fits */
		n = cap - 1;
	uint32_t counts[PC_REDACT_KIND_N] = {0};
	size_t len = pc_redact(tmp, sizeof(tmp), s, n, flags, counts);
	unsigned total = 0;
	int first = -1;
	for (int k = 0; k < PC_REDACT_KIND_N; k++) {
		if (counts[k] == 0)
			continue;
		if (first < 0)
			first = k;
		total += counts[k];
		atomic_fetch_add_explicit(&totals[sink][k], counts[k], memory_order_relaxed);
	}
	if (len > sizeof(tmp) && total == 0) {
		/* longer than the guard looks at in place: fail closed */
		first = PC_REDACT_SECRET_FIELD;
		total = 1;
		atomic_fetch_add_explicit(&totals[sink][first], 1, memory_order_relaxed);
	}
	if (total != 0 && len < cap) {
		memcpy(s, tmp, len);
		s[len] = '\0';
	} else if (total != 0) {
		const char *name = kinds[first].name;
		size_t nl = strlen(name);
		char m[PC_REDACT_MARKER_MAX + 1];
		memcpy(m, "[redacted:", 10);
		memcpy(m + 10, name, nl);
		m[10 + nl] = ']';
		size_t w = 11 + nl < cap ? 11 + nl : cap - 1;
		memcpy(s, m, w);
		s[w] = '\0';
	}
	sodium_memzero(tmp, sizeof(tmp));
	return total;
}

uint64_t pc_redact_total(enum pc_redact_sink sink, enum pc_redact_kind kind)
{
	if ((unsigned)sink >= PC_REDACT_SINK_N || (unsigned)kind >= PC_REDACT_KIND_N)
		return 0;
	return atomic_load_explicit(&totals[sink][kind], memory_order_relaxed);
}

const char *pc_redact_kind_name(enum pc_redact_kind kind)
{
	return (unsigned)kind < PC_REDACT_KIND_N ? kinds[kind].name : "?";
}

const char *pc_redact_sink_name(enum pc_redact_sink sink)
{
	return (unsigned)sink < PC_REDACT_SINK_N ? sink_names[sink] : "?";
}
