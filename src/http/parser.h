/*
 * parser.h — strict HTTP/1.1 request-head parser (RFC 9112, RFC 9110).
 *
 * Pure code: no sockets, no allocation, no libuv. The caller accumulates the
 * bytes of one request in a buffer and calls pc_http_parse_head() each time
 * more arrive, passing the WHOLE buffer from the request's first byte. The
 * parser remembers how far it has scanned in struct pc_http_parser, so each
 * byte is looked at once while the head is incomplete; bare CR or bare LF is
 * refused as soon as it is seen, and the size limits are enforced before the
 * head is complete (414 for a request line longer than the URI limit allows,
 * 431 for a head over PC_HTTP_MAX_HEAD_BYTES).
 *
 * When the head is complete, the request line and every field line are
 * validated and `req` is filled. All pointers in `req` point INTO the
 * caller's buffer: it must not move or change while `req` is used.
 *
 * What is accepted (everything else is an error, with the status given):
 *   request-line = method SP request-target SP HTTP-version CRLF   (400)
 *   method: GET HEAD POST PUT PATCH DELETE OPTIONS; TRACE, CONNECT and any
 *     other well-formed token: 501; a malformed token: 400
 *   request-target: origin-form; absolute-form with http/https scheme (its
 *     authority replaces Host, RFC 9112 3.2.2); asterisk-form with OPTIONS
 *     only; authority-form: 400. Bytes outside RFC 3986 pchar/query, or a
 *     malformed %XX: 400. Longer than PC_HTTP_MAX_URI_BYTES: 414.
 *   HTTP-version: exactly HTTP/1.0 or HTTP/1.1; any other well-formed
 *     HTTP/x.y: 505; malformed: 400.
 *   field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 5)
 *     name: tchar only, no whitespace before the colon (400);
 *     obs-fold (a line starting with SP/HTAB): 400;
 *     value: VCHAR, obs-text, SP, HTAB only: any other CTL, DEL, NUL: 400.
 *   more than PC_HTTP_MAX_HEADERS fields: 431.
 *   Host: required for HTTP/1.1 (400); at most once (400); a valid
 *     uri-host[:port] (400).
 *   Content-Length: at most once, 1*DIGIT, no sign/space/list (400);
 *     larger than the caller's body limit: 413.
 *   Transfer-Encoding: with Content-Length: 400; exactly "chunked": 411
 *     (portcullis bodies are small JSON documents with a known length; we do
 *     not decode chunked bodies — one framing, no smuggling surface); any
 *     other coding: 501.
 *   Singleton fields (Host, Content-Length, Content-Type, Cookie,
 *     Authorization, Origin, Sec-Fetch-Site, X-CSRF-Token, X-API-Key,
 *     X-Original-Method, X-Original-URI, X-Forwarded-Method,
 *     X-Forwarded-Uri, X-Forwarded-Host): a second line is 400.
 *   Cookie: "name=value" pairs separated by ";" and optional spaces; a name
 *     must be a token; a name that appears twice: 400; more than
 *     PC_HTTP_MAX_COOKIES pairs: 431.
 *   Expect: only "100-continue" (sets expect_continue); anything else: 417.
 */
#ifndef PC_HTTP_PARSER_H
#define PC_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/method.h"


/* Return values of pc_http_parse_head(); errors are HTTP status codes. */
#define PC_HTTP_NEED_MORE 0
#define PC_HTTP_DONE 1

struct pc_str {
	const char *p; /* NULL when absent */
	size_t len;
};

struct pc_http_header {
	struct pc_str name;  /* as sent (case preserved) */
	struct pc_str value; /* leading and trailing OWS removed */
};

struct pc_http_cookie {
	struct pc_str name;
	struct pc_str value;
};

struct pc_http_request {
	enum pc_method method;
	int version_minor;        /* 0 or 1 */
	struct pc_str target;     /* raw request-target as sent */
	struct pc_str path;       /* "/..." ("*" for asterisk-form); not decoded */
	struct pc_str query;      /* after '?', without it; p NULL when none */
	struct pc_str host;       /* Host field, or the absolute-form authority */
	bool keep_alive;          /* per version and Connection */
	bool expect_continue;     /* Expect: 100-continue */
	bool has_content_length;
	uint64_t content_length;  /* 0 when absent */
	size_t head_len;          /* bytes of the head including the final CRLFCRLF */

	/* The two arrays stay last, each after its count: validate_head zeroes
	 * only what comes before `headers` (parser.c asserts the layout). */
	size_t n_headers;
	struct pc_http_header headers[PC_HTTP_MAX_HEADERS];

	size_t n_cookies;
	struct pc_http_cookie cookies[PC_HTTP_MAX_COOKIES];
};

/* Incremental scan state; zero it (or pc_http_parser_init) per request. */
struct pc_http_parser {
	size_t scanned;      /* bytes of buf already checked */
	size_t line_start;   /* offset of the current line */
	bool request_line_done;
};

void pc_http_parser_init(struct pc_http_parser *p);

/*
 * Looks at buf[0..len) — everything received so far for this request.
 * Returns PC_HTTP_NEED_MORE (0) while the head is incomplete and valid so
 * far, PC_HTTP_DONE (1) when `req` is filled (req->head_len tells where the
 * body starts), or an HTTP error status (400, 413, 414, 417, 431, 501, 505,
 * 411) with *why set to a short static English sentence for the problem
 * detail. max_body is the body limit used for the 413 decision.
 * `req` is only meaningful after PC_HTTP_DONE.
 */
PC_MUST_USE int pc_http_parse_head(struct pc_http_parser *p, struct pc_http_request *req,
                                   const char *buf, size_t len, uint64_t max_body,
                                   const char **why);

/* Case-insensitive lookup of a header field by name; NULL when absent.
 * For singleton fields the parser guarantees at most one. */
const struct pc_http_header *pc_http_header_get(const struct pc_http_request *req,
                                                const char *name);

/* Exact (case-sensitive, RFC 6265) lookup of a cookie; NULL when absent. */
const struct pc_http_cookie *pc_http_cookie_get(const struct pc_http_request *req,
                                                const char *name);


/* Case-insensitive ASCII comparison of a pc_str with a NUL-terminated literal. */
bool pc_str_ieq(struct pc_str s, const char *lit);

#endif
