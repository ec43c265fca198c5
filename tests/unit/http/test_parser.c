/* test_parser.c — the strict request-head parser against every rule of
 * src/http/parser.h, each with an accepted and a refused case and the exact
 * status. Every request is parsed twice, all at once and one byte per call,
 * and both verdicts must agree (status, detail, and where the head ends), so
 * each test is also a test of the incremental scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/method.h"
#include "http/parser.h"

#define MAXB ((uint64_t)PC_HTTP_MAX_BODY_DEFAULT)

/* Large: keep them off the stack. */
static struct pc_http_request rq;  /* the all-at-once result, inspected by tests */
static struct pc_http_request rq2; /* the byte-by-byte result */
static const char *why;
static char big[3 * PC_HTTP_MAX_HEAD_BYTES];

static int parse_once(struct pc_http_request *r, const char *s, size_t n, uint64_t max,
                      const char **w)
{
	struct pc_http_parser p;
	pc_http_parser_init(&p);
	return pc_http_parse_head(&p, r, s, n, max, w);
}

/* Feeds s one more byte per call. Every call before the verdict must say
 * NEED_MORE; *at is the prefix length that produced the verdict. */
static int parse_bytewise(struct pc_http_request *r, const char *s, size_t n, uint64_t max,
                          const char **w, size_t *at)
{
	struct pc_http_parser p;
	pc_http_parser_init(&p);
	for (size_t k = 1; k <= n; k++) {
		int rc = pc_http_parse_head(&p, r, s, k, max, w);
		if (rc != PC_HTTP_NEED_MORE) {
			*at = k;
			return rc;
		}
		assert_null(*w);
	}
	*at = n;
	return PC_HTTP_NEED_MORE;
}

static int check_max(const char *s, size_t n, uint64_t max)
{
	const char *w2 = NULL;
	size_t at = 0;
	int a = parse_once(&rq, s, n, max, &why);
	int b = parse_bytewise(&rq2, s, n, max, &w2, &at);

	assert_int_equal(a, b);
	assert_ptr_equal(why, w2);
	if (a == PC_HTTP_DONE) {
		assert_null(why);
		assert_int_equal(rq.head_len, at); /* DONE exactly when the last LF arrives */
		assert_true(rq.head_len <= n);
		assert_int_equal(rq.method, rq2.method);
		assert_int_equal(rq.n_headers, rq2.n_headers);
		assert_int_equal(rq.n_cookies, rq2.n_cookies);
		assert_int_equal(rq.keep_alive, rq2.keep_alive);
		assert_int_equal(rq.content_length, rq2.content_length);
		/* the parser's verdict is stable when asked again */
		struct pc_http_parser p;
		pc_http_parser_init(&p);
		assert_int_equal(pc_http_parse_head(&p, &rq2, s, n, max, &w2), PC_HTTP_DONE);
		assert_int_equal(pc_http_parse_head(&p, &rq2, s, n, max, &w2), PC_HTTP_DONE);
		assert_int_equal(rq2.head_len, rq.head_len);
	} else if (a != PC_HTTP_NEED_MORE) {
		assert_non_null(why);
		assert_true(a >= 400 && a <= 505);
	}
	return a;
}

static int check(const char *s, size_t n)
{
	return check_max(s, n, MAXB);
}

/* String literal (may hold NULs). */
#define ST(lit) check((lit), sizeof(lit) - 1)
/* A request with the given request line and Host. */
#define RL(line) ST(line "\r\nHost: example.com\r\n\r\n")
/* An HTTP/1.1 GET with Host plus the given field lines ("X: y\r\n"...). */
#define HDR(fields) ST("GET / HTTP/1.1\r\nHost: example.com\r\n" fields "\r\n")

static bool str_is(struct pc_str s, const char *lit)
{
	return s.p != NULL && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static void test_basic(void **state)
{
	(void)state;
	static const char r[] = "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
	assert_int_equal(ST(r), PC_HTTP_DONE);
	assert_int_equal(rq.method, PC_METHOD_GET);
	assert_int_equal(rq.version_minor, 1);
	assert_true(str_is(rq.target, "/a/b?x=1&y=%20"));
	assert_true(str_is(rq.path, "/a/b"));
	assert_true(str_is(rq.query, "x=1&y=%20"));
	assert_true(str_is(rq.host, "example.com"));
	assert_true(rq.keep_alive);
	assert_false(rq.expect_continue);
	assert_false(rq.has_content_length);
	assert_int_equal(rq.content_length, 0);
	assert_int_equal(rq.head_len, sizeof(r) - 1);
	assert_int_equal(rq.n_headers, 2);
	assert_int_equal(rq.n_cookies, 0);

	/* no query: p NULL; empty query: p set, length 0 */
	assert_int_equal(RL("GET /x HTTP/1.1"), PC_HTTP_DONE);
	assert_null(rq.query.p);
	assert_int_equal(RL("GET /x? HTTP/1.1"), PC_HTTP_DONE);
	assert_non_null(rq.query.p);
	assert_int_equal(rq.query.len, 0);
	assert_true(str_is(rq.path, "/x"));
	/* '?' and '/' inside the query, pchar specials in the path */
	assert_int_equal(RL("GET /a:b@c!$&'()*+,;=-._~ HTTP/1.1"), PC_HTTP_DONE);
	assert_int_equal(RL("GET /p?a/b?c HTTP/1.1"), PC_HTTP_DONE);
	assert_true(str_is(rq.query, "a/b?c"));
}

static void test_need_more(void **state)
{
	(void)state;
	static const char r[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct pc_http_parser p;
	for (size_t k = 0; k < sizeof(r) - 1; k++) {
		pc_http_parser_init(&p);
		assert_int_equal(pc_http_parse_head(&p, &rq, r, k, MAXB, &why), PC_HTTP_NEED_MORE);
		assert_null(why);
	}
	/* a CR at the end is judged only when the next byte comes */
	assert_int_equal(ST("GET / HTTP/1.1\r"), PC_HTTP_NEED_MORE);
	assert_int_equal(ST("GET / HTTP/1.1\r\nHost: a\r\n\r"), PC_HTTP_NEED_MORE);
	/* why may be NULL */
	pc_http_parser_init(&p);
	assert_int_equal(pc_http_parse_head(&p, &rq, "GET\n", 4, MAXB, NULL), 400);
}

static void test_methods(void **state)
{
	(void)state;
	static const struct {
		const char *req;
		enum pc_method m;
	} ok[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", PC_METHOD_GET },
		{ "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", PC_METHOD_HEAD },
		{ "POST / HTTP/1.1\r\nHost: a\r\n\r\n", PC_METHOD_POST },
		{ "PUT / HTTP/1.1\r\nHost: a\r\n\r\n", PC_METHOD_PUT },
		{ "PATCH / HTTP/1.1\r\nHost: a\r\n\r\n", PC_METHOD_PATCH },
		{ "DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", PC_METHOD_DELETE },
		{ "OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n", PC_METHOD_OPTIONS },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(check(ok[i].req, strlen(ok[i].req)), PC_HTTP_DONE);
		assert_int_equal(rq.method, ok[i].m);
		const char *name = pc_method_name(ok[i].m);
		assert_memory_equal(ok[i].req, name, strlen(name));
		assert_int_equal(ok[i].req[strlen(name)], ' ');
	}
	assert_string_equal(pc_method_name(PC_METHOD_OPTIONS), "OPTIONS");
	assert_string_equal(pc_method_name(PC_METHOD_PATCH), "PATCH");
	assert_string_equal(pc_method_name(PC_METHOD__COUNT), "UNKNOWN");

	assert_int_equal(RL("TRACE / HTTP/1.1"), 501);
	assert_int_equal(RL("CONNECT example.com:443 HTTP/1.1"), 501);
	assert_int_equal(RL("FOO / HTTP/1.1"), 501);
	assert_int_equal(RL("get / HTTP/1.1"), 501); /* methods are case-sensitive */
	assert_int_equal(RL("G@T / HTTP/1.1"), 400);
	assert_int_equal(ST("G@"), 400); /* before the line ends */
	assert_int_equal(RL("GE(T / HTTP/1.1"), 400);
	assert_int_equal(RL(" GET / HTTP/1.1"), 400);
	assert_int_equal(ST(" "), 400);
	assert_int_equal(RL("GET\t/ HTTP/1.1"), 400);
	assert_int_equal(ST("GET\r\nHost: a\r\n\r\n"), 400);
	/* a 16-byte token is still judged as a method; a 17th byte is refused
	 * before the line ends */
	assert_int_equal(RL("ABCDEFGHIJKLMNOP / HTTP/1.1"), 501);
	assert_int_equal(ST("ABCDEFGHIJKLMNOPQ"), 501);
	/* a malformed method wins over a bad version, found earlier in the line */
	assert_int_equal(RL("G@T / HTTP/2.0"), 400);
}

static void test_targets(void **state)
{
	(void)state;
	/* absolute-form: the authority replaces Host (RFC 9112 3.2.2) */
	assert_int_equal(ST("GET http://api.example:8080/v1?q=1 HTTP/1.1\r\nHost: other\r\n\r\n"),
	                 PC_HTTP_DONE);
	assert_true(str_is(rq.host, "api.example:8080"));
	assert_true(str_is(rq.path, "/v1"));
	assert_true(str_is(rq.query, "q=1"));
	assert_true(str_is(rq.target, "http://api.example:8080/v1?q=1"));
	assert_true(str_is(pc_http_header_get(&rq, "host")->value, "other"));
	/* the Host line may come before the target is known to win: order does not matter */
	assert_int_equal(ST("GET HTTPS://[::1]/ HTTP/1.1\r\nHost: other\r\n\r\n"), PC_HTTP_DONE);
	assert_true(str_is(rq.host, "[::1]"));
	/* empty path means "/", still pointing into the buffer */
	assert_int_equal(RL("GET https://example.com HTTP/1.1"), PC_HTTP_DONE);
	assert_true(str_is(rq.path, "/"));
	assert_true(rq.path.p > rq.target.p && rq.path.p < rq.target.p + rq.target.len);
	assert_null(rq.query.p);
	assert_int_equal(RL("GET http://example.com?x HTTP/1.1"), PC_HTTP_DONE);
	assert_true(str_is(rq.path, "/"));
	assert_true(str_is(rq.query, "x"));
	/* absolute-form still needs a valid Host line in HTTP/1.1 (RFC 9112 3.2) */
	assert_int_equal(ST("GET http://example.com/ HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(ST("GET http://example.com/ HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
	assert_int_equal(ST("GET http://example.com/ HTTP/1.0\r\n\r\n"), PC_HTTP_DONE);
	assert_true(str_is(rq.host, "example.com"));
	/* bad absolute forms */
	assert_int_equal(RL("GET ftp://example.com/ HTTP/1.1"), 400);
	assert_int_equal(RL("GET http:/example.com/ HTTP/1.1"), 400);
	assert_int_equal(RL("GET http:///x HTTP/1.1"), 400);
	assert_int_equal(RL("GET http://user:pw@example.com/ HTTP/1.1"), 400);
	assert_int_equal(RL("GET http://example.com:99999/ HTTP/1.1"), 400);
	assert_int_equal(RL("GET http://exa mple.com/ HTTP/1.1"), 400);
	assert_int_equal(RL("GET http://example.com/#frag HTTP/1.1"), 400);

	/* asterisk-form only with OPTIONS */
	assert_int_equal(RL("OPTIONS * HTTP/1.1"), PC_HTTP_DONE);
	assert_true(str_is(rq.path, "*"));
	assert_null(rq.query.p);
	assert_int_equal(RL("GET * HTTP/1.1"), 400);
	assert_int_equal(RL("OPTIONS *x HTTP/1.1"), 400);
	/* authority-form is for CONNECT, which we do not implement */
	assert_int_equal(RL("GET example.com:443 HTTP/1.1"), 400);
	assert_int_equal(RL("OPTIONS example.com:443 HTTP/1.1"), 400);
	assert_int_equal(RL("GET a/b HTTP/1.1"), 400);

	/* percent-encoding */
	assert_int_equal(RL("GET /%2F%aB?%00 HTTP/1.1"), PC_HTTP_DONE);
	assert_int_equal(RL("GET /%zz HTTP/1.1"), 400);
	assert_int_equal(RL("GET /%4 HTTP/1.1"), 400);
	assert_int_equal(RL("GET /% HTTP/1.1"), 400);
	assert_int_equal(RL("GET /?a=%G1 HTTP/1.1"), 400);

	/* bytes outside pchar / query */
	assert_int_equal(RL("GET /a\x01 HTTP/1.1"), 400);
	assert_int_equal(RL("GET /a\x7f HTTP/1.1"), 400);
	assert_int_equal(RL("GET /a\tb HTTP/1.1"), 400);
	assert_int_equal(RL("GET /\xc3\xa9 HTTP/1.1"), 400);
	assert_int_equal(RL("GET /a b HTTP/1.1"), 400);
	assert_int_equal(RL("GET  / HTTP/1.1"), 400);
	assert_int_equal(RL("GET  HTTP/1.1"), 400); /* empty target */
	assert_int_equal(RL("GET /a\"b HTTP/1.1"), 400);
	assert_int_equal(RL("GET /<script> HTTP/1.1"), 400);
	assert_int_equal(RL("GET /a\\b HTTP/1.1"), 400);
	assert_int_equal(RL("GET /a#b HTTP/1.1"), 400);
	assert_int_equal(RL("GET /{} HTTP/1.1"), 400);
}

/* "GET /aaa... HTTP/1.1\r\nHost: a\r\n\r\n" with a target of n bytes; with
 * tail false, only "GET /aaa..." without the rest of the line. */
static size_t long_target(size_t n, bool tail)
{
	size_t k = 0;
	memcpy(big, "GET /", 5);
	k = 5;
	memset(big + k, 'a', n - 1);
	k += n - 1;
	if (tail) {
		static const char rest[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
		memcpy(big + k, rest, sizeof(rest) - 1);
		k += sizeof(rest) - 1;
	}
	return k;
}

static void test_uri_limit(void **state)
{
	(void)state;
	size_t n = long_target(PC_HTTP_MAX_URI_BYTES, true);
	assert_int_equal(check(big, n), PC_HTTP_DONE);
	assert_int_equal(rq.target.len, PC_HTTP_MAX_URI_BYTES);

	n = long_target(PC_HTTP_MAX_URI_BYTES + 1, true);
	assert_int_equal(check(big, n), 414);
	/* refused before the line ends: the buffer holds just method and target */
	n = long_target(PC_HTTP_MAX_URI_BYTES + 1, false);
	assert_int_equal(check(big, n), 414);
	n = long_target(PC_HTTP_MAX_URI_BYTES, false);
	assert_int_equal(check(big, n), PC_HTTP_NEED_MORE);

	/* with the longest method the limit is the same */
	memcpy(big, "ABCDEFGHIJKLMNOP ", 17);
	memset(big + 17, 'a', PC_HTTP_MAX_URI_BYTES + 1);
	big[17] = '/';
	assert_int_equal(check(big, 17 + PC_HTTP_MAX_URI_BYTES + 1), 414);
	assert_int_equal(check(big, 17 + PC_HTTP_MAX_URI_BYTES), PC_HTTP_NEED_MORE);

	/* short target, endless version: the request line limit */
	memcpy(big, "GET / ", 6);
	memset(big + 6, 'H', 5000);
	assert_int_equal(check(big, 6 + 5000), 414);
}

static void test_versions(void **state)
{
	(void)state;
	assert_int_equal(RL("GET / HTTP/1.1"), PC_HTTP_DONE);
	assert_int_equal(rq.version_minor, 1);
	assert_int_equal(RL("GET / HTTP/1.0"), PC_HTTP_DONE);
	assert_int_equal(rq.version_minor, 0);
	assert_int_equal(RL("GET / HTTP/2.0"), 505);
	assert_int_equal(RL("GET / HTTP/0.9"), 505);
	assert_int_equal(RL("GET / HTTP/1.2"), 505);
	assert_int_equal(RL("GET / HTTP/1.10"), 400);
	assert_int_equal(RL("GET / http/1.1"), 400);
	assert_int_equal(RL("GET / HTTP/1.1 "), 400);
	assert_int_equal(RL("GET / HTTP/1"), 400);
	assert_int_equal(RL("GET / HTTP/a.b"), 400);
	assert_int_equal(RL("GET / HTTP 1.1"), 400);
	assert_int_equal(RL("GET /"), 400);
	assert_int_equal(RL("GET / "), 400);
	/* the version is judged before the method */
	assert_int_equal(RL("FOO / HTTP/2.0"), 505);
}

static void test_leading_empty_line(void **state)
{
	(void)state;
	/* strict: RFC 9112 2.2 allows ignoring it, we refuse it */
	assert_int_equal(ST("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(ST("\r\n"), 400);
	assert_int_equal(ST("\n"), 400);
}

static void test_field_syntax(void **state)
{
	(void)state;
	assert_int_equal(HDR("X-A: 1\r\n"), PC_HTTP_DONE);
	/* obs-fold */
	assert_int_equal(HDR("X-A: 1\r\n 2\r\n"), 400);
	assert_int_equal(HDR("X-A: 1\r\n\t2\r\n"), 400);
	assert_int_equal(HDR("X-A: 1\r\n X-B: 2\r\n"), 400);
	assert_non_null(strstr(why, "Folded"));
	assert_int_equal(ST("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400);
	/* whitespace before the colon */
	assert_int_equal(HDR("X-A : 1\r\n"), 400);
	assert_int_equal(HDR("X-A\t: 1\r\n"), 400);
	assert_int_equal(ST("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
	/* name */
	assert_int_equal(HDR(": 1\r\n"), 400);
	assert_int_equal(HDR("X-A 1\r\n"), 400);
	assert_int_equal(HDR("X@A: 1\r\n"), 400);
	assert_int_equal(HDR("X\"A: 1\r\n"), 400);
	assert_int_equal(HDR("X-\xc3\xa9: 1\r\n"), 400);
	assert_int_equal(HDR("!#$%&'*+-.^_`|~09azAZ: 1\r\n"), PC_HTTP_DONE);
	/* value: HTAB, SP, VCHAR and obs-text are fine */
	assert_int_equal(HDR("X-A: a\tb c ~\x80\xff\r\n"), PC_HTTP_DONE);
	assert_true(str_is(pc_http_header_get(&rq, "x-a")->value, "a\tb c ~\x80\xff"));
	/* NUL, DEL, other CTLs */
	assert_int_equal(HDR("X-A: a\0b\r\n"), 400);
	assert_int_equal(HDR("X-A: a\x7f\r\n"), 400);
	assert_int_equal(HDR("X-A: a\x01\r\n"), 400);
	assert_int_equal(HDR("X-A: a\x1b[31m\r\n"), 400);
	assert_int_equal(HDR("X-A: a\x0b\r\n"), 400);
	assert_int_equal(HDR("X-A: a\x0c\r\n"), 400);
	/* bare CR, bare LF */
	assert_int_equal(HDR("X-A: a\rb\r\n"), 400);
	assert_int_equal(HDR("X-A: a\nb\r\n"), 400);
	assert_int_equal(ST("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);
	assert_int_equal(ST("GET / HTTP/1.1\r\nHost: a\n\n"), 400);
	assert_int_equal(ST("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);
	assert_int_equal(ST("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"), 400);
}

/* These faults are seen in the byte they arrive in, long before the head
 * could complete: the buffer never holds an end of head. */
static void test_incremental_rejects(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
#define B(lit) { lit, sizeof(lit) - 1 }
		B("GET / HTTP/1.1\r\nHost: a\rX"),
		B("GET / HTTP/1.1\r\nHost: a\n"),
		B("GET / HTTP/1.1\r\nX-A: \0"),
		B("GET /\0"),
		B("G\0"),
		B("GET / HTTP/1.1\r\nX-A: \x7f"),
		B("GET / HTTP/1.1\r\nX-A: \x01"),
		B("GET / HTTP/1.1\n"),
		B("GET / HTTP/1.1\r\r"),
		B("\n"),
		B("\r\n"),
#undef B
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t at = 0;
		const char *w = NULL;
		assert_int_equal(parse_bytewise(&rq2, bad[i].s, bad[i].n, MAXB, &w, &at), 400);
		if (at != bad[i].n)
			fail_msg("case %zu decided at %zu of %zu", i, at, bad[i].n);
		assert_int_equal(check(bad[i].s, bad[i].n), 400);
	}
}

static size_t fill_headers(size_t n_fields)
{
	size_t k = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (size_t i = 1; i < n_fields; i++)
		k += (size_t)snprintf(big + k, sizeof(big) - k, "X-H%zu: v\r\n", i);
	k += (size_t)snprintf(big + k, sizeof(big) - k, "\r\n");
	return k;
}

static void test_header_count(void **state)
{
	(void)state;
	size_t n = fill_headers(PC_HTTP_MAX_HEADERS);
	assert_int_equal(check(big, n), PC_HTTP_DONE);
	assert_int_equal(rq.n_headers, PC_HTTP_MAX_HEADERS);
	n = fill_headers(PC_HTTP_MAX_HEADERS + 1);
	assert_int_equal(check(big, n), 431);
}

/* A head of exactly `total` bytes: one filler field sized to fit. */
static size_t head_of(size_t total)
{
	static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: ";
	size_t k = sizeof(pre) - 1;
	memcpy(big, pre, k);
	size_t fill = total - k - 4;
	memset(big + k, 'f', fill);
	k += fill;
	memcpy(big + k, "\r\n\r\n", 4);
	return k + 4;
}

static void test_head_limit(void **state)
{
	(void)state;
	size_t n = head_of(PC_HTTP_MAX_HEAD_BYTES);
	assert_int_equal(n, PC_HTTP_MAX_HEAD_BYTES);
	assert_int_equal(check(big, n), PC_HTTP_DONE);
	assert_int_equal(rq.head_len, PC_HTTP_MAX_HEAD_BYTES);

	n = head_of(PC_HTTP_MAX_HEAD_BYTES + 1);
	assert_int_equal(check(big, n), 431);
	/* before any end of head: a field that never ends */
	n = head_of(PC_HTTP_MAX_HEAD_BYTES + 1000);
	size_t at = 0;
	const char *w = NULL;
	assert_int_equal(parse_bytewise(&rq2, big, n, MAXB, &w, &at), 431);
	assert_int_equal(at, PC_HTTP_MAX_HEAD_BYTES + 1);
	assert_int_equal(check(big, PC_HTTP_MAX_HEAD_BYTES + 1), 431);
	assert_int_equal(check(big, PC_HTTP_MAX_HEAD_BYTES), PC_HTTP_NEED_MORE);
}

static void test_host(void **state)
{
	(void)state;
	static const char *const good[] = {
		"example.com", "example.com:8080", "EXAMPLE.com", "localhost.", "a",
		"127.0.0.1", "127.0.0.1:65535", "0.0.0.0:0", "[::1]", "[::1]:443",
		"[2001:db8::ff00:42:8329]", "[::ffff:192.0.2.1]", "[1:2:3:4:5:6:7:8]",
		"[1::]", "[1:2:3:4:5:6:1.2.3.4]", "xn--bcher-kva.example", "a%41b",
		"a_b-c~d", "sub.example.com:00080", "host!$&'()*+,;=",
	};
	static const char *const bad[] = {
		"", "a b", "a:", "a:65536", "a:123456", "a:-1", "a:1a", "a:1:2",
		"[::1", "[::1]x", "[::1]:", "[zz::1]", "[1:2:3:4:5:6:7:8:9]", "[1:2:3:4:5:6:7]",
		"[1::2::3]", "[1:2:3:4::5:6:7:8]", "[:1:2:3:4:5:6:7]", "[1:2:3:4:5:6:7:]", "[::1%25eth0]",
		"[v1.fe]", "[1.2.3.4]", "[::12345]", "1.2.3", "256.1.1.1", "01.2.3.4",
		"1.2.3.4.", "1.2.3.4.5", "a@b", "a/b", "a?b", "a#b", "a%4", "a%zz",
		"[::1]]", "[::1]1234", "a:4294967376", "a:000080", "%31.2.3.4", "a[b]", "\xc3\xa9.example", "::1",
	};
	char r[256];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int n = snprintf(r, sizeof(r), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);
		assert_int_equal(check(r, (size_t)n), PC_HTTP_DONE);
		assert_true(str_is(rq.host, good[i]));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = snprintf(r, sizeof(r), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
		if (check(r, (size_t)n) != 400)
			fail_msg("Host \"%s\" was not refused", bad[i]);
	}
	/* OWS around the value is not part of it */
	assert_int_equal(ST("GET / HTTP/1.1\r\nHost: \t a.b:1 \t\r\n\r\n"), PC_HTTP_DONE);
	assert_true(str_is(rq.host, "a.b:1"));
	/* required in 1.1, optional in 1.0 */
	assert_int_equal(ST("GET / HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(ST("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n"), 400);
	assert_int_equal(ST("GET / HTTP/1.0\r\n\r\n"), PC_HTTP_DONE);
	assert_null(rq.host.p);
	assert_int_equal(ST("GET / HTTP/1.0\r\nHost: bad host\r\n\r\n"), 400);
	/* once */
	assert_int_equal(ST("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
	assert_int_equal(ST("GET / HTTP/1.1\r\nHost: a\r\nhOST: b\r\n\r\n"), 400);
}

static void test_content_length(void **state)
{
	(void)state;
	assert_int_equal(HDR("Content-Length: 5\r\n"), PC_HTTP_DONE);
	assert_true(rq.has_content_length);
	assert_int_equal(rq.content_length, 5);
	assert_int_equal(HDR("content-length:0\r\n"), PC_HTTP_DONE);
	assert_true(rq.has_content_length);
	assert_int_equal(rq.content_length, 0);
	assert_int_equal(HDR("Content-Length: 7 \t\r\n"), PC_HTTP_DONE);
	assert_int_equal(rq.content_length, 7);
	assert_int_equal(HDR("Content-Length: 007\r\n"), PC_HTTP_DONE);
	assert_int_equal(rq.content_length, 7);

	assert_int_equal(HDR("Content-Length: 5\r\nContent-Length: 5\r\n"), 400);
	assert_int_equal(HDR("Content-Length: 5\r\nContent-Length: 6\r\n"), 400);
	assert_int_equal(HDR("Content-Length: +5\r\n"), 400);
	assert_int_equal(HDR("Content-Length:  5,5\r\n"), 400);
	assert_int_equal(HDR("Content-Length: 5,5\r\n"), 400);
	assert_int_equal(HDR("Content-Length: 5, 5\r\n"), 400);
	assert_int_equal(HDR("Content-Length: -1\r\n"), 400);
	assert_int_equal(HDR("Content-Length: 1 2\r\n"), 400);
	assert_int_equal(HDR("Content-Length:\r\n"), 400);
	assert_int_equal(HDR("Content-Length: 0x10\r\n"), 400);
	assert_int_equal(HDR("Content-Length: 1e3\r\n"), 400);
	assert_int_equal(HDR("Content-Length: \"5\"\r\n"), 400);
	/* too big is not invalid: no overflow, 413 */
	assert_int_equal(HDR("Content-Length: 99999999999999999999999\r\n"), 413);
	assert_int_equal(HDR("Content-Length: 18446744073709551615\r\n"), 413);
	assert_int_equal(HDR("Content-Length: 18446744073709551616\r\n"), 413);
	assert_int_equal(HDR("Content-Length: 99999999999999999999999x\r\n"), 400);
	/* against the caller's limit */
	static const char r[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\n\r\n";
	assert_int_equal(check_max(r, sizeof(r) - 1, 1024), PC_HTTP_DONE);
	assert_int_equal(check_max(r, sizeof(r) - 1, 1023), 413);
	assert_int_equal(check_max(r, sizeof(r) - 1, 0), 413);
	/* the other checks of the field come first */
	static const char r2[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\nContent-Length: 2000\r\n\r\n";
	assert_int_equal(check_max(r2, sizeof(r2) - 1, 1024), 400);
}

static void test_transfer_encoding(void **state)
{
	(void)state;
	assert_int_equal(HDR("Transfer-Encoding: chunked\r\n"), 411);
	assert_int_equal(HDR("Transfer-Encoding: Chunked \r\n"), 411);
	assert_int_equal(HDR("Transfer-Encoding: gzip\r\n"), 501);
	assert_int_equal(HDR("Transfer-Encoding: gzip, chunked\r\n"), 501);
	assert_int_equal(HDR("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 501);
	assert_int_equal(HDR("Transfer-Encoding: chunked;x=1\r\n"), 501);
	assert_int_equal(HDR("Transfer-Encoding:\r\n"), 400);
	assert_int_equal(HDR("Transfer-Encoding: ,\r\n"), 400);
	assert_int_equal(HDR("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400);
	assert_int_equal(HDR("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400);
	assert_int_equal(HDR("Content-Length: 5\r\nTransfer-Encoding: gzip\r\n"), 400);
	/* not the same field */
	assert_int_equal(HDR("Transfer-Encodings: chunked\r\n"), PC_HTTP_DONE);
	assert_int_equal(HDR("Transfer-Encoding : chunked\r\n"), 400);
}

static void test_singletons(void **state)
{
	(void)state;
	static const struct {
		const char *name, *value;
	} f[] = {
		{ "Host", "a" },
		{ "Content-Length", "1" },
		{ "Content-Type", "application/json" },
		{ "Cookie", "a=1" },
		{ "Authorization", "Bearer x" },
		{ "Origin", "https://a" },
		{ "Sec-Fetch-Site", "same-origin" },
		{ "X-CSRF-Token", "t" },
		{ "X-API-Key", "k" },
		{ "X-Original-Method", "GET" },
		{ "X-Original-URI", "/x" },
		{ "X-Forwarded-Method", "GET" },
		{ "X-Forwarded-Uri", "/x" },
		{ "X-Forwarded-Host", "a" },
	};
	char r[512];
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *host = strcmp(f[i].name, "Host") == 0 ? "" : "Host: a\r\n";
		int n = snprintf(r, sizeof(r), "POST / HTTP/1.1\r\n%s%s: %s\r\n\r\n", host, f[i].name,
		                 f[i].value);
		assert_int_equal(check(r, (size_t)n), PC_HTTP_DONE);
		n = snprintf(r, sizeof(r), "POST / HTTP/1.1\r\n%s%s: %s\r\nX-Between: 1\r\n%s: %s\r\n\r\n",
		             host, f[i].name, f[i].value, f[i].name, f[i].value);
		if (check(r, (size_t)n) != 400)
			fail_msg("duplicate %s was not refused", f[i].name);
		/* names are case-insensitive, so a differently cased copy is a copy */
		n = snprintf(r, sizeof(r), "POST / HTTP/1.1\r\n%s%s: %s\r\nX-FORWARDED-HOST: a\r\n"
		             "X-Forwarded-Host: a\r\n\r\n", host, f[i].name, f[i].value);
		assert_int_equal(check(r, (size_t)n), 400);
	}
	/* fields that may repeat */
	assert_int_equal(HDR("Accept: a\r\nAccept: b\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\n"),
	                 PC_HTTP_DONE);
	assert_true(str_is(pc_http_header_get(&rq, "accept")->value, "a"));
}

static void test_cookies(void **state)
{
	(void)state;
	assert_int_equal(HDR("Cookie: a=1; b=2;c=3;  d=x=y ; e=; F=\"q\"\r\n"), PC_HTTP_DONE);
	assert_int_equal(rq.n_cookies, 6);
	assert_true(str_is(pc_http_cookie_get(&rq, "a")->value, "1"));
	assert_true(str_is(pc_http_cookie_get(&rq, "b")->value, "2"));
	assert_true(str_is(pc_http_cookie_get(&rq, "c")->value, "3"));
	assert_true(str_is(pc_http_cookie_get(&rq, "d")->value, "x=y"));
	assert_int_equal(pc_http_cookie_get(&rq, "e")->value.len, 0);
	assert_true(str_is(pc_http_cookie_get(&rq, "F")->value, "\"q\""));
	/* exact, case-sensitive lookup */
	assert_null(pc_http_cookie_get(&rq, "f"));
	assert_null(pc_http_cookie_get(&rq, "A"));
	assert_null(pc_http_cookie_get(&rq, "a "));
	assert_null(pc_http_cookie_get(&rq, ""));
	/* names differing only in case are different cookies */
	assert_int_equal(HDR("Cookie: sid=1; SID=2\r\n"), PC_HTTP_DONE);
	assert_true(str_is(pc_http_cookie_get(&rq, "SID")->value, "2"));
	/* empty pairs carry nothing */
	assert_int_equal(HDR("Cookie: a=1;\r\n"), PC_HTTP_DONE);
	assert_int_equal(rq.n_cookies, 1);
	assert_int_equal(HDR("Cookie: a=1;; b=2\r\n"), PC_HTTP_DONE);
	assert_int_equal(rq.n_cookies, 2);
	assert_int_equal(HDR("Cookie:\r\n"), PC_HTTP_DONE);
	assert_int_equal(rq.n_cookies, 0);

	assert_int_equal(HDR("Cookie: a=1; a=2\r\n"), 400);
	assert_int_equal(HDR("Cookie: a=1; b=2; a=1\r\n"), 400);
	assert_int_equal(HDR("Cookie: a b=1\r\n"), 400);
	assert_int_equal(HDR("Cookie: a =1\r\n"), 400);
	assert_int_equal(HDR("Cookie: =1\r\n"), 400);
	assert_int_equal(HDR("Cookie: a@b=1\r\n"), 400);
	assert_int_equal(HDR("Cookie: a(b)=1\r\n"), 400);
	/* a nameless cookie, as browsers send document.cookie = "novalue" */
	assert_int_equal(HDR("Cookie: novalue; a=1\r\n"), PC_HTTP_DONE);
	assert_int_equal(rq.n_cookies, 1);
	assert_true(str_is(pc_http_cookie_get(&rq, "a")->value, "1"));
	assert_int_equal(HDR("Cookie: a=1\r\nCookie: b=2\r\n"), 400);

	char r[2048];
	size_t k = (size_t)snprintf(r, sizeof(r), "GET / HTTP/1.1\r\nHost: a\r\nCookie: ");
	for (int i = 0; i < PC_HTTP_MAX_COOKIES; i++)
		k += (size_t)snprintf(r + k, sizeof(r) - k, "%sc%d=%d", i ? "; " : "", i, i);
	size_t base = k;
	k += (size_t)snprintf(r + k, sizeof(r) - k, "\r\n\r\n");
	assert_int_equal(check(r, k), PC_HTTP_DONE);
	assert_int_equal(rq.n_cookies, PC_HTTP_MAX_COOKIES);
	assert_true(str_is(pc_http_cookie_get(&rq, "c63")->value, "63"));
	k = base + (size_t)snprintf(r + base, sizeof(r) - base, "; extra=1\r\n\r\n");
	assert_int_equal(check(r, k), 431);
}

static void test_expect(void **state)
{
	(void)state;
	assert_int_equal(HDR("Expect: 100-continue\r\n"), PC_HTTP_DONE);
	assert_true(rq.expect_continue);
	assert_int_equal(HDR("Expect:  100-Continue \r\n"), PC_HTTP_DONE);
	assert_true(rq.expect_continue);
	assert_int_equal(HDR("X-Expect: foo\r\n"), PC_HTTP_DONE);
	assert_false(rq.expect_continue);
	assert_int_equal(HDR("Expect: 200-ok\r\n"), 417);
	assert_int_equal(HDR("Expect: 100-continue, foo\r\n"), 417);
	assert_int_equal(HDR("Expect: 100-continue\r\nExpect: foo\r\n"), 417);
	assert_int_equal(HDR("Expect:\r\n"), 417);
	/* RFC 9110 10.1.1: ignored in HTTP/1.0 */
	assert_int_equal(ST("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"),
	                 PC_HTTP_DONE);
	assert_false(rq.expect_continue);
	/* an invalid request stays 400, not 417 */
	assert_int_equal(ST("POST / HTTP/1.1\r\nExpect: x\r\n\r\n"), 400);
}

static void test_keep_alive(void **state)
{
	(void)state;
	assert_int_equal(HDR(""), PC_HTTP_DONE);
	assert_true(rq.keep_alive);
	assert_int_equal(HDR("Connection: close\r\n"), PC_HTTP_DONE);
	assert_false(rq.keep_alive);
	assert_int_equal(HDR("Connection: Keep-Alive, CLOSE\r\n"), PC_HTTP_DONE);
	assert_false(rq.keep_alive);
	assert_int_equal(HDR("Connection: upgrade\r\nConnection: close\r\n"), PC_HTTP_DONE);
	assert_false(rq.keep_alive);
	assert_int_equal(HDR("Connection: closed, xclose\r\n"), PC_HTTP_DONE);
	assert_true(rq.keep_alive);
	assert_int_equal(HDR("Connection: keep-alive\r\n"), PC_HTTP_DONE);
	assert_true(rq.keep_alive);
	assert_int_equal(HDR("X-Connection: close\r\n"), PC_HTTP_DONE);
	assert_true(rq.keep_alive);

	assert_int_equal(ST("GET / HTTP/1.0\r\n\r\n"), PC_HTTP_DONE);
	assert_false(rq.keep_alive);
	assert_int_equal(ST("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), PC_HTTP_DONE);
	assert_true(rq.keep_alive);
	assert_int_equal(ST("GET / HTTP/1.0\r\nConnection: foo ,\tKeep-Alive\r\n\r\n"), PC_HTTP_DONE);
	assert_true(rq.keep_alive);
	assert_int_equal(ST("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"), PC_HTTP_DONE);
	assert_false(rq.keep_alive);
	assert_int_equal(ST("GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n"), PC_HTTP_DONE);
	assert_false(rq.keep_alive);
}

static void test_lookup(void **state)
{
	(void)state;
	assert_int_equal(HDR("Content-Type:  \t application/json \t \r\nX-Empty:\r\nX-Sp:   \r\n"),
	                 PC_HTTP_DONE);
	const struct pc_http_header *h = pc_http_header_get(&rq, "content-type");
	assert_non_null(h);
	assert_true(str_is(h->name, "Content-Type")); /* case preserved */
	assert_true(str_is(h->value, "application/json"));
	assert_ptr_equal(pc_http_header_get(&rq, "CONTENT-TYPE"), h);
	assert_null(pc_http_header_get(&rq, "Content-Typ"));
	assert_null(pc_http_header_get(&rq, "Content-Type2"));
	h = pc_http_header_get(&rq, "x-empty");
	assert_non_null(h);
	assert_int_equal(h->value.len, 0);
	h = pc_http_header_get(&rq, "X-SP");
	assert_non_null(h);
	assert_int_equal(h->value.len, 0);

	struct pc_str s = { "Hello-World", 11 };
	assert_true(pc_str_ieq(s, "hello-world"));
	assert_true(pc_str_ieq(s, "HELLO-WORLD"));
	assert_false(pc_str_ieq(s, "hello-worl"));
	assert_false(pc_str_ieq(s, "hello_world"));
	struct pc_str none = { NULL, 0 };
	assert_true(pc_str_ieq(none, ""));
	assert_false(pc_str_ieq(none, "a"));
	/* no locale folding: '[' and '{' differ by 0x20 but are not letters */
	struct pc_str br = { "[", 1 };
	assert_false(pc_str_ieq(br, "{"));
}

static void test_pipelined(void **state)
{
	(void)state;
	static const char two[] = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	                          "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
	static const size_t first = sizeof("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n") - 1;
	assert_int_equal(ST(two), PC_HTTP_DONE);
	assert_int_equal(rq.head_len, first);
	assert_int_equal(rq.content_length, 5);
	assert_true(str_is(rq.path, "/a"));
	assert_memory_equal(two + rq.head_len, "hello", 5);
	/* the next request starts after the body */
	size_t next = rq.head_len + 5;
	assert_int_equal(check(two + next, sizeof(two) - 1 - next), PC_HTTP_DONE);
	assert_true(str_is(rq.path, "/b"));
	assert_int_equal(rq.head_len, sizeof(two) - 1 - next);

	/* garbage after the head is body or the next request: never looked at */
	static const char junk[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\0\n\r\x7f";
	assert_int_equal(ST(junk), PC_HTTP_DONE);
	assert_int_equal(rq.head_len, sizeof(junk) - 1 - 4);
}

/* The cases that broke libmicrohttpd-style parsers, and request smuggling. */
static void test_traps(void **state)
{
	(void)state;
	/* a folded continuation that would join into "X-Forwarded-For" */
	assert_int_equal(HDR("X-Forwarded-: 1.2.3.4\r\n For\r\n"), 400);
	/* CL.CL: two lengths, pipelined request hidden in the body of one */
	assert_int_equal(ST("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n"
	                    "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"),
	                 400);
	/* TE.CL */
	assert_int_equal(ST("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
	                    "5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n"),
	                 400);
	/* TE with whitespace before the colon, the classic obfuscation */
	assert_int_equal(HDR("Transfer-Encoding : chunked\r\nContent-Length: 3\r\n"), 400);
	assert_int_equal(HDR("Transfer-Encoding:\x0b" "chunked\r\n"), 400);
	/* NUL inside a value, then more bytes */
	assert_int_equal(HDR("X-User: admin\0evil\r\n"), 400);
	/* NUL in a name */
	assert_int_equal(HDR("X-U\0ser: admin\r\n"), 400);
	/* a bare LF ending a field would make a second, hidden field */
	assert_int_equal(HDR("X-A: 1\nContent-Length: 10\r\n"), 400);
	/* CR as the only line end */
	assert_int_equal(ST("GET / HTTP/1.1\rHost: a\r\r"), 400);
}

/* A mix of valid and invalid requests, split at every point into two calls. */
static void test_split_points(void **state)
{
	(void)state;
	static const char *const reqs[] = {
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /api?x=1 HTTP/1.1\r\nHost: a:1\r\nContent-Length: 2\r\nCookie: s=1; t=2\r\n\r\n{}",
		"GET http://h/ HTTP/1.1\r\nHost: z\r\n\r\nGET / HTTP/1.1\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nExpect: nope\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		size_t n = strlen(reqs[i]);
		const char *w1 = NULL, *w2 = NULL;
		int whole = parse_once(&rq, reqs[i], n, MAXB, &w1);
		for (size_t cut = 0; cut <= n; cut++) {
			struct pc_http_parser p;
			pc_http_parser_init(&p);
			int rc = pc_http_parse_head(&p, &rq2, reqs[i], cut, MAXB, &w2);
			if (rc == PC_HTTP_NEED_MORE)
				rc = pc_http_parse_head(&p, &rq2, reqs[i], n, MAXB, &w2);
			assert_int_equal(rc, whole);
			assert_ptr_equal(w1, w2);
			if (rc == PC_HTTP_DONE)
				assert_int_equal(rq2.head_len, rq.head_len);
		}
		(void)check(reqs[i], n);
	}
}

/* Every byte value at every position of a long field value (the scan and
 * the value check go eight bytes at a time): refused exactly when it is a
 * control character other than HTAB, or DEL; CR and LF break the line. */
static void test_field_value_bytes(void **state)
{
	(void)state;
	char req[160];
	const char *pre = "GET / HTTP/1.1\r\nHost: example.com\r\nX-Long: ";
	size_t pl = strlen(pre);
	for (int pos = 0; pos < 24; pos++) {
		for (int b = 0; b < 256; b++) {
			if (pos == 0 && (b == ' ' || b == '\t'))
				continue; /* leading whitespace is trimmed, not a byte of the value */
			memcpy(req, pre, pl);
			char *v = req + pl;
			memset(v, 'a', 32);
			v[pos] = (char)b;
			memcpy(v + 32, "\r\n\r\n", 4);
			int want = (b < 0x20 && b != '\t') || b == 0x7f ? 400 : PC_HTTP_DONE;
			int got = check(req, pl + 36);
			if (got != want)
				fail_msg("byte 0x%02x at %d: got %d, want %d", b, pos, got, want);
		}
	}
}

/* The detail sentences are static text, never bytes from the request. */
static void test_why_is_static(void **state)
{
	(void)state;
	assert_int_equal(RL("GET /SECRET\x01 HTTP/1.1"), 400);
	assert_null(strstr(why, "SECRET"));
	assert_int_equal(HDR("X-SECRET : 1\r\n"), 400);
	assert_null(strstr(why, "SECRET"));
	assert_int_equal(HDR("Host: SECRET\r\n"), 400);
	assert_null(strstr(why, "SECRET"));
	assert_true(strlen(why) > 10 && why[strlen(why) - 1] == '.');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_field_value_bytes),
		cmocka_unit_test(test_need_more),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_uri_limit),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_leading_empty_line),
		cmocka_unit_test(test_field_syntax),
		cmocka_unit_test(test_incremental_rejects),
		cmocka_unit_test(test_header_count),
		cmocka_unit_test(test_head_limit),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_singletons),
		cmocka_unit_test(test_cookies),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_traps),
		cmocka_unit_test(test_split_points),
		cmocka_unit_test(test_why_is_static),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
