/*
 * fuzz_parser.c — libFuzzer target for the request-head parser.
 *
 * Each input is parsed all at once and again in three calls whose split
 * points come from the input's own bytes; the verdicts (status, detail,
 * head length) must agree, because the incremental scan promises that how
 * the bytes arrive does not change the answer. On PC_HTTP_DONE the request
 * must only point into the input and respect every limit. Any disagreement
 * or broken invariant aborts, which libFuzzer records as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/method.h"
#include "http/parser.h"
#include "fuzz.h"

static struct pc_http_request whole, split;

static void check_in(const char *buf, size_t size, struct pc_str s)
{
	if (s.p == NULL) {
		CHECK(s.len == 0);
		return;
	}
	CHECK(s.p >= buf && s.len <= size && (size_t)(s.p - buf) <= size - s.len);
}

static void check_request(const struct pc_http_request *r, const char *buf, size_t size)
{
	CHECK(r->head_len >= 4 && r->head_len <= size && r->head_len <= PC_HTTP_MAX_HEAD_BYTES);
	CHECK(memcmp(buf + r->head_len - 4, "\r\n\r\n", 4) == 0);
	CHECK((unsigned)r->method < PC_METHOD__COUNT);
	CHECK(r->version_minor == 0 || r->version_minor == 1);
	CHECK(r->target.p == buf + strlen(pc_method_name(r->method)) + 1);
	CHECK(r->target.len >= 1 && r->target.len <= PC_HTTP_MAX_URI_BYTES);
	check_in(buf, r->head_len, r->target);
	CHECK(r->path.p != NULL && r->path.len >= 1);
	check_in(buf, r->head_len, r->path);
	CHECK(r->path.p[0] == '/' || (r->path.len == 1 && r->path.p[0] == '*'));
	check_in(buf, r->head_len, r->query);
	check_in(buf, r->head_len, r->host);
	CHECK(r->version_minor == 0 || r->host.p != NULL);
	CHECK(r->n_headers <= PC_HTTP_MAX_HEADERS);
	for (size_t i = 0; i < r->n_headers; i++) {
		check_in(buf, r->head_len, r->headers[i].name);
		check_in(buf, r->head_len, r->headers[i].value);
		CHECK(r->headers[i].name.len > 0);
	}
	CHECK(pc_http_header_get(r, "") == NULL);
	CHECK(r->n_cookies <= PC_HTTP_MAX_COOKIES);
	for (size_t i = 0; i < r->n_cookies; i++) {
		check_in(buf, r->head_len, r->cookies[i].name);
		check_in(buf, r->head_len, r->cookies[i].value);
		CHECK(r->cookies[i].name.len > 0);
	}
	CHECK(r->content_length <= PC_HTTP_MAX_BODY_DEFAULT);
	CHECK(r->has_content_length || r->content_length == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct pc_http_parser p;
	const char *why_whole = NULL, *why_split = NULL;
	int rc_whole, rc_split = PC_HTTP_NEED_MORE;

	pc_http_parser_init(&p);
	rc_whole = pc_http_parse_head(&p, &whole, buf, size, PC_HTTP_MAX_BODY_DEFAULT, &why_whole);
	CHECK(rc_whole == PC_HTTP_NEED_MORE || rc_whole == PC_HTTP_DONE ||
	      (rc_whole >= 400 && rc_whole <= 505 && why_whole != NULL));

	/* split points from the input: its first and last bytes */
	size_t cut1 = 0, cut2 = 0;
	if (size > 0) {
		cut1 = ((size_t)data[0] * 131u + (size_t)data[size - 1]) % (size + 1);
		cut2 = cut1 + ((size_t)data[size - 1] * 257u) % (size - cut1 + 1);
	}
	const size_t cuts[3] = { cut1, cut2, size };
	pc_http_parser_init(&p);
	for (int i = 0; i < 3 && rc_split == PC_HTTP_NEED_MORE; i++)
		rc_split = pc_http_parse_head(&p, &split, buf, cuts[i], PC_HTTP_MAX_BODY_DEFAULT,
		                              &why_split);
	CHECK(rc_split == rc_whole);
	CHECK(why_split == why_whole);

	if (rc_whole == PC_HTTP_DONE) {
		CHECK(split.head_len == whole.head_len);
		CHECK(split.n_headers == whole.n_headers && split.n_cookies == whole.n_cookies);
		CHECK(split.content_length == whole.content_length);
		check_request(&whole, buf, size);
		/* asked again, the parser says the same */
		CHECK(pc_http_parse_head(&p, &split, buf, size, PC_HTTP_MAX_BODY_DEFAULT, &why_split) ==
		      PC_HTTP_DONE);
		CHECK(split.head_len == whole.head_len);
	}
	return 0;
}
