/*
 * parser.c — strict HTTP/1.1 request-head parser: see parser.h for what is
 * accepted. Grammar from RFC 9112 (message syntax), RFC 9110 (fields),
 * RFC 3986 (request-target, Host) and RFC 6265 4.2.1 (Cookie).
 *
 * Two phases. While the head is incomplete, scan_head() looks at each new
 * byte once: it refuses bytes no head may contain (NUL, other CTLs, DEL,
 * bare CR, bare LF), enforces the method, target and head size limits, and
 * stops at the empty line that ends the head. Only then does validate_head()
 * parse the complete head, once, and fill the request.
 *
 * Invariant that makes incremental and all-at-once parsing agree: every
 * decision of the scan depends only on the bytes up to the one it is looking
 * at, and validation starts only after the scan has passed the whole head.
 * However the bytes are split across calls, the first fault in byte order
 * decides, so the verdict (status and *why) is the same.
 *
 * The scan never moves past the byte that decided a verdict (the bad byte,
 * or the LF that ends the head), so calling again with the same buffer gives
 * the same verdict instead of scanning body bytes as if they were head.
 *
 * Nothing here allocates, and character classes come from the table below,
 * not from <ctype.h>, whose answers depend on the locale.
 */
#include "http/parser.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "core/num.h"

/* validate_head zeroes a request up to `headers` and sets n_cookies: no
 * other field may sit after `headers`. */
static_assert(offsetof(struct pc_http_request, n_cookies) ==
                  offsetof(struct pc_http_request, headers) + sizeof(((struct pc_http_request *)0)->headers),
              "n_cookies follows the headers array");
static_assert(offsetof(struct pc_http_request, cookies) + sizeof(((struct pc_http_request *)0)->cookies) ==
                  sizeof(struct pc_http_request),
              "the cookies array ends the request");

/* Character classes. Percent-encoding is checked by the callers, so '%' is
 * in none of the RFC 3986 classes. */
#define C_TCHAR 0x01   /* RFC 9110 5.6.2 tchar */
#define C_PCHAR 0x02   /* RFC 3986 3.3 pchar: unreserved / sub-delims / ":" / "@" */
#define C_REGNAME 0x04 /* RFC 3986 3.2.2 reg-name: unreserved / sub-delims */
#define C_HEX 0x08     /* HEXDIG, either case */
#define C_DIGIT 0x10   /* DIGIT */
#define C_ALPHA 0x20   /* ALPHA */
#define C_FVALUE 0x40  /* RFC 9110 5.5 field-value bytes: VCHAR, obs-text, SP, HTAB */
#define C_BAD 0x80     /* never in a head: CTL other than HTAB, CR, LF; DEL */

static const unsigned char cls[256] = {
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x00, 0x80, 0x80, 0x00, 0x80, 0x80, /* 0x00 */
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 0x10 */
	0x40, 0x47, 0x40, 0x41, 0x47, 0x41, 0x47, 0x47, 0x46, 0x46, 0x47, 0x47, 0x46, 0x47, 0x47, 0x40, /* 0x20  !"#$%&'()*+,-./ */
	0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x42, 0x46, 0x40, 0x46, 0x40, 0x40, /* 0x30 0-9:;<=>? */
	0x42, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, /* 0x40 @A-O */
	0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x40, 0x40, 0x40, 0x41, 0x47, /* 0x50 P-Z[\]^_ */
	0x41, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, /* 0x60 `a-o */
	0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x40, 0x41, 0x40, 0x47, 0x80, /* 0x70 p-z{|}~DEL */
	0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, /* 0x80 obs-text */
	0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
	0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
	0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
	0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
	0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
	0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
	0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
};

/* "HTTP/1.1": the only version length RFC 9112 2.3 allows. */
#define VERSION_BYTES 8
/* Longest request line (without CRLF) that can still be valid: a longer one
 * has a method or target over its limit, or a malformed version. */
#define REQUEST_LINE_MAX (PC_HTTP_MAX_METHOD_BYTES + 1 + PC_HTTP_MAX_URI_BYTES + 1 + VERSION_BYTES)
#define NO_SP ((size_t)-1)

/* Fields the parser interprets. The first F_SINGLETONS may appear once:
 * a second copy of any of them is how a request smuggles a value past a
 * component that reads the other copy. */
enum field {
	F_HOST,
	F_CONTENT_LENGTH,
	F_CONTENT_TYPE,
	F_COOKIE,
	F_AUTHORIZATION,
	F_ORIGIN,
	F_SEC_FETCH_SITE,
	F_X_CSRF_TOKEN,
	F_X_API_KEY,
	F_X_ORIGINAL_METHOD,
	F_X_ORIGINAL_URI,
	F_X_FORWARDED_METHOD,
	F_X_FORWARDED_URI,
	F_X_FORWARDED_HOST,
	F_SINGLETONS,
	F_TRANSFER_ENCODING = F_SINGLETONS,
	F_CONNECTION,
	F_EXPECT,
	F_OTHER
};

static const char *const field_names[F_OTHER] = {
	[F_HOST] = "Host",
	[F_CONTENT_LENGTH] = "Content-Length",
	[F_CONTENT_TYPE] = "Content-Type",
	[F_COOKIE] = "Cookie",
	[F_AUTHORIZATION] = "Authorization",
	[F_ORIGIN] = "Origin",
	[F_SEC_FETCH_SITE] = "Sec-Fetch-Site",
	[F_X_CSRF_TOKEN] = "X-CSRF-Token",
	[F_X_API_KEY] = "X-API-Key",
	[F_X_ORIGINAL_METHOD] = "X-Original-Method",
	[F_X_ORIGINAL_URI] = "X-Original-URI",
	[F_X_FORWARDED_METHOD] = "X-Forwarded-Method",
	[F_X_FORWARDED_URI] = "X-Forwarded-Uri",
	[F_X_FORWARDED_HOST] = "X-Forwarded-Host",
	[F_TRANSFER_ENCODING] = "Transfer-Encoding",
	[F_CONNECTION] = "Connection",
	[F_EXPECT] = "Expect",
};

_Static_assert(F_SINGLETONS <= 32, "singleton bits fit in an unsigned");

/* What the field lines said, gathered for the checks that span fields. */
struct fields {
	unsigned seen;            /* bit per singleton field */
	bool host_from_target;    /* absolute-form: the target's authority wins */
	size_t te_codings;        /* transfer codings over all TE lines */
	bool te_chunked_only;     /* the single coding is "chunked" */
	bool te_seen;
	bool conn_close;
	bool conn_keep_alive;
	bool expect_continue;
	bool expect_other;
};

static bool is(unsigned char c, unsigned char cl)
{
	return (cls[c] & cl) != 0;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static bool mem_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Shrinks [*s, *s + *n) past OWS on both sides (RFC 9110 5.6.3). */
static void trim_ows(const char **s, size_t *n)
{
	while (*n > 0 && is_ows((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*s)[*n - 1]))
		(*n)--;
}

static bool all_of(const char *s, size_t n, unsigned char cl)
{
	for (size_t i = 0; i < n; i++)
		if (!is((unsigned char)s[i], cl))
			return false;
	return true;
}

/* The length of the leading run of field-value bytes (C_FVALUE: VCHAR,
 * obs-text, SP, HTAB) in s[0..n): eight bytes at a time while none of them
 * is below 0x20 or DEL, then byte by byte (an HTAB, the one byte below 0x20
 * allowed, is judged there). The word test has no false negative. */
static size_t fvalue_run(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;
	while (i + 8 <= n) {
		uint64_t x;
		memcpy(&x, s + i, sizeof(x));
		uint64_t y = x ^ (ones * 0x7f);
		if ((((x - ones * 0x20) & ~x) | ((y - ones) & ~y)) & highs)
			break;
		i += 8;
	}
	while (i < n && is((unsigned char)s[i], C_FVALUE))
		i++;
	return i;
}

static int fail(const char **why, int status, const char *msg)
{
	*why = msg;
	return status;
}

/* ---------- phase 1: the byte scan ---------- */

/* Offset of the SP that ends the method, if the scan has passed it. The
 * method is at most PC_HTTP_MAX_METHOD_BYTES, so this looks at a few bytes
 * per call, not at the whole line again. */
static size_t find_method_sp(const char *buf, size_t scanned)
{
	size_t n = scanned < PC_HTTP_MAX_METHOD_BYTES + 1 ? scanned : PC_HTTP_MAX_METHOD_BYTES + 1;
	const char *sp = memchr(buf, ' ', n);
	return sp != NULL ? (size_t)(sp - buf) : NO_SP;
}

/* One byte of the request line other than CR/LF, checked on arrival so that
 * a long method or target is refused before the line ends (the client could
 * otherwise make us buffer a whole head's worth of it). */
static int scan_request_line_byte(const char *buf, size_t i, size_t *sp, const char **why)
{
	unsigned char c = (unsigned char)buf[i];

	if (*sp == NO_SP) {
		if (c == ' ') {
			if (i == 0)
				return fail(why, 400, "The request line does not start with a method.");
			*sp = i;
			return 0;
		}
		if (!is(c, C_TCHAR))
			return fail(why, 400, "The method is not a valid token.");
		/* a token longer than any method we know: RFC 9112 3 suggests 501 */
		if (i >= PC_HTTP_MAX_METHOD_BYTES)
			return fail(why, 501, "The method is not implemented.");
		return 0;
	}
	/* the byte that would be the target's (limit+1)-th: is the target still going? */
	if (i == *sp + 1 + PC_HTTP_MAX_URI_BYTES && c != ' ' &&
	    memchr(buf + *sp + 1, ' ', PC_HTTP_MAX_URI_BYTES) == NULL)
		return fail(why, 414, "The request target is too long.");
	if (i >= REQUEST_LINE_MAX)
		return fail(why, 414, "The request line is too long.");
	return 0;
}

/* A CRLF ends at buf[i]. Returns 0 to go on, 1 when it ends the head. */
static int scan_line_end(struct pc_http_parser *p, size_t i, const char **why)
{
	size_t line_len = i - 1 - p->line_start;

	if (!p->request_line_done) {
		/* RFC 9112 2.2 lets a server skip empty lines before the request
		 * line; we refuse them instead (strict): no client we serve sends
		 * them, and bytes left over from a previous message are exactly
		 * what a desynchronised or smuggling peer produces. */
		if (line_len == 0)
			return fail(why, 400, "The request starts with an empty line.");
		p->request_line_done = true;
		p->line_start = i + 1;
		return 0;
	}
	if (line_len == 0)
		return 1;
	p->line_start = i + 1;
	return 0;
}

/*
 * Scans buf[p->scanned, len). Returns 0 (need more), 1 with *head_len set
 * when the head is complete, or an error status.
 */
static int scan_head(struct pc_http_parser *p, const char *buf, size_t len, size_t *head_len,
                     const char **why)
{
	size_t sp = p->request_line_done ? NO_SP : find_method_sp(buf, p->scanned);
	size_t i;
	int rc = 0;

	size_t lim = len < PC_HTTP_MAX_HEAD_BYTES ? len : PC_HTTP_MAX_HEAD_BYTES;
	for (i = p->scanned; i < len; i++) {
		/* In the fields, a run of field-value bytes (VCHAR, obs-text, SP,
		 * HTAB) needs none of the checks below: skip it in a tight loop.
		 * Not after a CR, whose next byte must be judged. */
		if (p->request_line_done && (i == 0 || buf[i - 1] != '\r')) {
			i += fvalue_run(buf + i, lim - i);
			if (i == len)
				break;
		}
		unsigned char c = (unsigned char)buf[i];

		if (i >= PC_HTTP_MAX_HEAD_BYTES)
			rc = fail(why, 431, "The request head is too large.");
		else if (i > 0 && buf[i - 1] == '\r')
			rc = c == '\n' ? scan_line_end(p, i, why)
			               : fail(why, 400, "The request contains a CR not followed by LF.");
		else if (c == '\n')
			rc = fail(why, 400, "The request contains a LF not preceded by CR.");
		else if (c == '\r')
			continue; /* judged with the next byte */
		else if (is(c, C_BAD))
			rc = fail(why, 400, "The request head contains a control character.");
		else if (!p->request_line_done)
			rc = scan_request_line_byte(buf, i, &sp, why);
		if (rc != 0)
			break; /* stay on the deciding byte: a repeated call decides the same */
	}
	p->scanned = i;
	if (rc == 1)
		*head_len = i + 1;
	return rc;
}

/* ---------- phase 2: validating the complete head ---------- */

/* RFC 3986 3.2.2 IPv4address: four dec-octets, no leading zeros. */
static bool ipv4_ok(const char *s, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		size_t start = i;
		unsigned v = 0;
		while (i < n && i - start < 3 && is((unsigned char)s[i], C_DIGIT))
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return false;
	}
	return i == n;
}

/* RFC 3986 3.2.2 IPv6address (no zone identifier, no IPvFuture). */
static bool ipv6_ok(const char *s, size_t n)
{
	size_t i = 0, pieces = 0;
	bool elided = false;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		elided = true;
		i = 2;
	} else if (n == 0 || s[0] == ':') {
		return false;
	}
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != ':' && s[j] != '.')
			j++;
		if (j < n && s[j] == '.') {
			/* a trailing IPv4address stands for the last two pieces */
			if (!ipv4_ok(s + i, n - i))
				return false;
			pieces += 2;
			break;
		}
		if (j == i || j - i > 4 || !all_of(s + i, j - i, C_HEX))
			return false;
		pieces++;
		if (j == n)
			break;
		if (j + 1 < n && s[j + 1] == ':') {
			if (elided)
				return false;
			elided = true;
			i = j + 2;
		} else {
			i = j + 1;
			if (i == n)
				return false; /* trailing single colon */
		}
	}
	/* "::" stands for at least one piece (RFC 4291 2.2) */
	return elided ? pieces <= 7 : pieces == 8;
}

/* reg-name: unreserved / pct-encoded / sub-delims. A name of digits, dots
 * and percent-encodings only must be a real IPv4address: "1.2.3",
 * "0127.0.0.1" or "%31.2.3.4" mean different hosts to different resolvers
 * and decoders, so we refuse the ambiguity. */
static bool reg_name_ok(const char *s, size_t n)
{
	bool numeric = true;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n || !is((unsigned char)s[i + 1], C_HEX) ||
			    !is((unsigned char)s[i + 2], C_HEX))
				return false;
			i += 2;
			continue;
		}
		if (!is(c, C_REGNAME))
			return false;
		if (!is(c, C_DIGIT) && c != '.')
			numeric = false;
	}
	return !numeric || ipv4_ok(s, n);
}

/* port: 1 to 5 digits, at most 65535. An empty port ("host:") is allowed by
 * RFC 3986 but no client we serve sends it; refusing it keeps one spelling. */
static bool port_ok(const char *s, size_t n)
{
	uint64_t v;

	return n <= 5 && pc_num_u64(&v, s, n, 0, 65535) == 0;
}

/* uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2). Empty is refused:
 * an http(s) URI with an empty host is invalid (RFC 9110 4.2.1, 4.2.2). */
static bool host_ok(const char *s, size_t n)
{
	const char *end = s + n, *rest;

	if (n == 0)
		return false;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (close == NULL || !ipv6_ok(s + 1, (size_t)(close - s - 1)))
			return false;
		rest = close + 1;
	} else {
		const char *colon = memchr(s, ':', n);
		rest = colon != NULL ? colon : end;
		if (!reg_name_ok(s, (size_t)(rest - s)))
			return false;
	}
	if (rest == end)
		return true;
	return rest[0] == ':' && port_ok(rest + 1, (size_t)(end - rest - 1));
}

/* absolute-path [ "?" query ] (RFC 9112 3.2.1), or for absolute-form the
 * path-abempty [ "?" query ] after the authority, where an empty path
 * means "/" (RFC 9112 3.3): then path is `slash`, a "/" elsewhere in the
 * buffer, so that every pointer in the request stays inside it. */
static int parse_path_query(struct pc_http_request *req, const char *s, size_t n,
                            const char *slash, const char **why)
{
	size_t q = n;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '?' && q == n) {
			q = i;
		} else if (c == '%') {
			if (i + 2 >= n || !is((unsigned char)s[i + 1], C_HEX) ||
			    !is((unsigned char)s[i + 2], C_HEX))
				return fail(why, 400, "The request target has a malformed percent-encoding.");
			i += 2;
		} else if (c != '/' && c != '?' && !is(c, C_PCHAR)) {
			return fail(why, 400, "The request target contains a character that is not allowed.");
		}
	}
	if (q == 0) {
		req->path.p = slash;
		req->path.len = 1;
	} else {
		req->path.p = s;
		req->path.len = q;
	}
	if (q < n) {
		req->query.p = s + q + 1;
		req->query.len = n - q - 1;
	}
	return 0;
}

/* Length of a leading "http://" or "https://" (scheme is case-insensitive,
 * RFC 3986 3.1), or 0. */
static size_t http_scheme_len(const char *s, size_t n)
{
	if (n >= 7 && mem_ieq(s, "http://", 7))
		return 7;
	if (n >= 8 && mem_ieq(s, "https://", 8))
		return 8;
	return 0;
}

/* request-target (RFC 9112 3.2) for an already recognised method. */
static int parse_target(struct pc_http_request *req, struct fields *f, const char *t, size_t n,
                        const char **why)
{
	req->target.p = t;
	req->target.len = n;
	if (n == 0)
		return fail(why, 400, "The request target is empty.");
	/* the scan refused this already; kept so validation is complete alone */
	if (n > PC_HTTP_MAX_URI_BYTES)
		return fail(why, 414, "The request target is too long.");
	if (n == 1 && t[0] == '*') {
		if (req->method != PC_METHOD_OPTIONS)
			return fail(why, 400, "The asterisk target is only allowed with OPTIONS.");
		req->path.p = t;
		req->path.len = 1;
		return 0;
	}
	if (t[0] == '/')
		return parse_path_query(req, t, n, t, why);

	size_t skip = http_scheme_len(t, n);
	if (skip == 0)
		return fail(why, 400, "The request target must be a path or an http(s) URI.");
	size_t a = skip, b = skip;
	while (b < n && t[b] != '/' && t[b] != '?')
		b++;
	/* userinfo ('@') is not a reg-name character, so host_ok refuses it as
	 * RFC 9110 4.2.4 asks */
	if (!host_ok(t + a, b - a))
		return fail(why, 400, "The request target has an invalid authority.");
	req->host.p = t + a;
	req->host.len = b - a;
	f->host_from_target = true;
	/* t[skip - 1] is the second slash of "://" */
	return parse_path_query(req, t + b, n - b, t + skip - 1, why);
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3), case-sensitive. */
static int parse_version(struct pc_http_request *req, const char *v, size_t n, const char **why)
{
	if (n != VERSION_BYTES || memcmp(v, "HTTP/", 5) != 0 || !is((unsigned char)v[5], C_DIGIT) ||
	    v[6] != '.' || !is((unsigned char)v[7], C_DIGIT))
		return fail(why, 400, "The HTTP version is malformed.");
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return fail(why, 505, "Only HTTP/1.0 and HTTP/1.1 are supported.");
	req->version_minor = v[7] - '0';
	return 0;
}

/*
 * request-line = method SP request-target SP HTTP-version (RFC 9112 3).
 * Order: syntax (400), then version (505), then method (501), then the
 * target's form, which depends on the method.
 */
static int parse_request_line(struct pc_http_request *req, struct fields *f, const char *line,
                              size_t n, const char **why)
{
	const char *end = line + n;
	const char *sp1 = memchr(line, ' ', n);
	const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
	int rc;

	if (sp2 == NULL)
		return fail(why, 400, "The request line is malformed.");
	size_t mlen = (size_t)(sp1 - line);
	/* the scan refused these already; kept so validation is complete alone */
	if (mlen == 0 || !all_of(line, mlen, C_TCHAR))
		return fail(why, 400, "The method is not a valid token.");
	rc = parse_version(req, sp2 + 1, (size_t)(end - sp2 - 1), why);
	if (rc != 0)
		return rc;
	enum pc_method m = pc_method_lookup(line, mlen);
	if (m == PC_METHOD__COUNT)
		return fail(why, 501, "The method is not implemented.");
	req->method = m;
	return parse_target(req, f, sp1 + 1, (size_t)(sp2 - sp1 - 1), why);
}

static enum field field_of(const char *name, size_t n)
{
	for (int i = 0; i < F_OTHER; i++)
		if (strlen(field_names[i]) == n && mem_ieq(field_names[i], name, n))
			return (enum field)i;
	return F_OTHER;
}

/* Content-Length = 1*DIGIT (RFC 9110 8.6): no sign, no space, no list, one
 * field line. Too large values saturate instead of overflowing; the 413
 * is decided after all fields are read. Its own digit loop, not pc_num_u64
 * (core/num.h): the digits were checked by all_of's table already on this
 * per-request path, and an overflow must saturate (413), not fail (400). */
static int parse_content_length(struct pc_http_request *req, struct pc_str v, const char **why)
{
	uint64_t n = 0;

	if (v.len == 0 || !all_of(v.p, v.len, C_DIGIT))
		return fail(why, 400, "The Content-Length is not a decimal number.");
	for (size_t i = 0; i < v.len; i++) {
		unsigned d = (unsigned)(v.p[i] - '0');
		if (n > (UINT64_MAX - d) / 10) {
			n = UINT64_MAX;
			break;
		}
		n = n * 10 + d;
	}
	req->has_content_length = true;
	req->content_length = n;
	return 0;
}

/* cookie-string (RFC 6265 4.2.1): "name=value" pairs split on ";", with
 * optional spaces around each pair. Names are exact (case-sensitive); a
 * repeated name is refused because which copy a reader takes would differ
 * between components (cookie tossing). Empty pairs ("a=1;;b=2", a trailing
 * ";") and pairs without "=" carry no name and are skipped. */
static int parse_cookies(struct pc_http_request *req, struct pc_str v, const char **why)
{
	size_t i = 0;

	while (i < v.len) {
		const char *s = v.p + i;
		const char *semi = memchr(s, ';', v.len - i);
		size_t n = semi != NULL ? (size_t)(semi - s) : v.len - i;
		i += n + 1;
		trim_ows(&s, &n);
		if (n == 0)
			continue;
		const char *eq = memchr(s, '=', n);
		if (eq == NULL)
			continue; /* a nameless cookie (document.cookie = "x") as browsers
			           * send it: not ours, and refusing it would lock the
			           * protected app's users out */
		size_t nlen = (size_t)(eq - s);
		if (nlen == 0 || !all_of(s, nlen, C_TCHAR))
			return fail(why, 400, "A cookie name is not a valid token.");
		for (size_t k = 0; k < req->n_cookies; k++)
			if (req->cookies[k].name.len == nlen && memcmp(req->cookies[k].name.p, s, nlen) == 0)
				return fail(why, 400, "A cookie name appears twice.");
		if (req->n_cookies == PC_HTTP_MAX_COOKIES)
			return fail(why, 431, "Too many cookies.");
		struct pc_http_cookie *ck = &req->cookies[req->n_cookies++];
		ck->name.p = s;
		ck->name.len = nlen;
		ck->value.p = eq + 1;
		ck->value.len = n - nlen - 1;
	}
	return 0;
}

/* Calls fn on each non-empty element of a comma list (RFC 9110 5.6.1),
 * with OWS removed. */
static void each_list_element(struct pc_str v, void (*fn)(struct fields *, const char *, size_t),
                              struct fields *f)
{
	size_t i = 0;

	while (i < v.len) {
		const char *s = v.p + i;
		const char *comma = memchr(s, ',', v.len - i);
		size_t n = comma != NULL ? (size_t)(comma - s) : v.len - i;
		i += n + 1;
		trim_ows(&s, &n);
		if (n > 0)
			fn(f, s, n);
	}
}

static void on_connection_token(struct fields *f, const char *s, size_t n)
{
	if (n == 5 && mem_ieq(s, "close", 5))
		f->conn_close = true;
	else if (n == 10 && mem_ieq(s, "keep-alive", 10))
		f->conn_keep_alive = true;
}

static void on_transfer_coding(struct fields *f, const char *s, size_t n)
{
	f->te_codings++;
	f->te_chunked_only = f->te_codings == 1 && n == 7 && mem_ieq(s, "chunked", 7);
}

/* The field-specific rules for one field line already stored in req. */
static int interpret_field(struct pc_http_request *req, struct fields *f,
                           const struct pc_http_header *h, const char **why)
{
	enum field id = field_of(h->name.p, h->name.len);

	if (id < F_SINGLETONS) {
		if (f->seen & (1u << id))
			return fail(why, 400, "A header field that must appear once appears twice.");
		f->seen |= 1u << id;
	}
	switch (id) {
	case F_HOST:
		if (!host_ok(h->value.p, h->value.len))
			return fail(why, 400, "The Host header field is invalid.");
		/* absolute-form: Host is still required and checked, but the
		 * target's authority is the one used (RFC 9112 3.2.2) */
		if (!f->host_from_target)
			req->host = h->value;
		return 0;
	case F_CONTENT_LENGTH:
		return parse_content_length(req, h->value, why);
	case F_COOKIE:
		return parse_cookies(req, h->value, why);
	case F_TRANSFER_ENCODING:
		f->te_seen = true;
		each_list_element(h->value, on_transfer_coding, f);
		return 0;
	case F_CONNECTION:
		each_list_element(h->value, on_connection_token, f);
		return 0;
	case F_EXPECT:
		/* the only expectation defined (RFC 9110 10.1.1); token is case-insensitive */
		if (h->value.len == 12 && mem_ieq(h->value.p, "100-continue", 12))
			f->expect_continue = true;
		else
			f->expect_other = true;
		return 0;
	default:
		return 0;
	}
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 5). */
static int parse_field_line(struct pc_http_request *req, struct fields *f, const char *line,
                            size_t n, const char **why)
{
	/* RFC 9112 5.2: obs-fold may be refused; before the first field it
	 * is whitespace after the start-line (RFC 9112 2.2), refused too */
	if (n > 0 && is_ows(line[0]))
		return fail(why, 400, "Folded header field lines are not accepted.");
	const char *colon = memchr(line, ':', n);
	if (colon == NULL)
		return fail(why, 400, "A header field line has no colon.");
	size_t nlen = (size_t)(colon - line);
	if (nlen == 0)
		return fail(why, 400, "A header field name is empty.");
	if (is_ows(line[nlen - 1]))
		return fail(why, 400, "Whitespace before the colon of a header field is not allowed.");
	if (!all_of(line, nlen, C_TCHAR))
		return fail(why, 400, "A header field name is not a valid token.");
	const char *v = colon + 1;
	size_t vlen = n - nlen - 1;
	/* the scan refused CTLs already; this states the whole rule */
	if (fvalue_run(v, vlen) != vlen)
		return fail(why, 400, "A header field value contains a forbidden character.");
	trim_ows(&v, &vlen);
	if (req->n_headers == PC_HTTP_MAX_HEADERS)
		return fail(why, 431, "Too many header fields.");
	struct pc_http_header *h = &req->headers[req->n_headers++];
	h->name.p = line;
	h->name.len = nlen;
	h->value.p = v;
	h->value.len = vlen;
	return interpret_field(req, f, h, why);
}

/* The rules that span fields, after all of them are read. Order: every 400
 * first, then the statuses that answer a valid but unserved request. */
static int check_message(struct pc_http_request *req, const struct fields *f, uint64_t max_body,
                         const char **why)
{
	/* RFC 9112 3.2: every HTTP/1.1 request carries Host */
	if (req->version_minor == 1 && !(f->seen & (1u << F_HOST)))
		return fail(why, 400, "The Host header field is missing.");
	if (f->te_seen) {
		/* both framings at once is the classic smuggling shape (RFC 9112 6.1) */
		if (req->has_content_length)
			return fail(why, 400, "Transfer-Encoding and Content-Length are both present.");
		if (f->te_codings == 0)
			return fail(why, 400, "The Transfer-Encoding is empty.");
		if (f->te_chunked_only)
			return fail(why, 411, "Chunked request bodies are not accepted; send Content-Length.");
		return fail(why, 501, "The transfer coding is not implemented.");
	}
	if (req->has_content_length && req->content_length > max_body)
		return fail(why, 413, "The request body is too large.");
	if (f->expect_other)
		return fail(why, 417, "Only the 100-continue expectation is supported.");
	return 0;
}

static int validate_head(struct pc_http_request *req, const char *buf, size_t head_len,
                         uint64_t max_body, const char **why)
{
	struct fields f;
	int rc;

	/* everything but the two arrays (5 KiB), which are only ever read up
	 * to their counts; the layout this relies on is asserted below */
	memset(req, 0, offsetof(struct pc_http_request, headers));
	req->n_cookies = 0;
	memset(&f, 0, sizeof(f));
	req->head_len = head_len;
	/* the scan guarantees every CR is followed by LF */
	const char *line = buf;
	const char *end = buf + head_len - 2; /* the CRLF of the empty line */
	const char *cr = memchr(line, '\r', (size_t)(end - line));
	rc = parse_request_line(req, &f, line, (size_t)(cr - line), why);
	if (rc != 0)
		return rc;
	for (line = cr + 2; line < end; line = cr + 2) {
		cr = memchr(line, '\r', (size_t)(end - line));
		rc = parse_field_line(req, &f, line, (size_t)(cr - line), why);
		if (rc != 0)
			return rc;
	}
	rc = check_message(req, &f, max_body, why);
	if (rc != 0)
		return rc;
	if (req->version_minor == 1)
		req->keep_alive = !f.conn_close;
	else
		req->keep_alive = f.conn_keep_alive && !f.conn_close;
	/* RFC 9110 10.1.1: a 100-continue in an HTTP/1.0 request is ignored */
	req->expect_continue = f.expect_continue && req->version_minor == 1;
	return PC_HTTP_DONE;
}

/* ---------- public API ---------- */

void pc_http_parser_init(struct pc_http_parser *p)
{
	memset(p, 0, sizeof(*p));
}

int pc_http_parse_head(struct pc_http_parser *p, struct pc_http_request *req, const char *buf,
                       size_t len, uint64_t max_body, const char **why)
{
	const char *ignored;
	size_t head_len = 0;

	assert(p != NULL && req != NULL && (buf != NULL || len == 0));
	assert(len >= p->scanned); /* the whole buffer, every time */
	if (why == NULL)
		why = &ignored;
	*why = NULL;
	int rc = scan_head(p, buf, len, &head_len, why);
	if (rc != 1)
		return rc;
	return validate_head(req, buf, head_len, max_body, why);
}

const struct pc_http_header *pc_http_header_get(const struct pc_http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (pc_str_ieq(req->headers[i].name, name))
			return &req->headers[i];
	return NULL;
}

const struct pc_http_cookie *pc_http_cookie_get(const struct pc_http_request *req, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->n_cookies; i++)
		if (req->cookies[i].name.len == n && memcmp(req->cookies[i].name.p, name, n) == 0)
			return &req->cookies[i];
	return NULL;
}

bool pc_str_ieq(struct pc_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && (n == 0 || mem_ieq(s.p, lit, n));
}
