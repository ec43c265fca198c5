/*
 * fuzz_cookie_header.c — libFuzzer target for the Cookie header parser.
 *
 * The input is the value of one Cookie field in an otherwise fixed request:
 *
 *   "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + data + "\r\n\r\n"
 *
 * On PC_HTTP_DONE every cookie name and value must lie inside the buffer,
 * names must be non-empty tokens, no name may appear twice, there are at
 * most PC_HTTP_MAX_COOKIES, and pc_http_cookie_get() finds each one.
 *
 * When the data holds only field-value bytes (no CR, LF or other CTL but
 * HTAB, no DEL), the head is well formed except for the cookie string, so
 * the verdict is fully predicted by an independent model of the rules in
 * parser.h (RFC 6265 4.2.1, nameless pairs skipped): 400 for a bad or
 * repeated name, 431 for too many pairs or too long a head, else DONE with
 * exactly the model's pairs. Any difference aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "fuzz.h"

static const char prefix[] = "GET / HTTP/1.1\r\nHost: a\r\nCookie: ";
static const char suffix[] = "\r\n\r\n";

static struct pc_http_request req;

struct model_cookie {
	size_t name_off, name_len, value_off, value_len;
};
static struct model_cookie model[PC_HTTP_MAX_COOKIES];

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 9110 5.5: VCHAR, obs-text, SP, HTAB */
static bool is_fvalue(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* The model's verdict for the cookie string v[0..n) (offsets are from v):
 * PC_HTTP_DONE with *count pairs in model[], or 400/431. */
static int model_cookies(const char *v, size_t n, size_t *count)
{
	size_t i = 0, c = 0;
	/* the field value itself loses its leading and trailing OWS */
	while (n > 0 && is_ows(v[n - 1]))
		n--;
	while (i < n && is_ows(v[i]))
		i++;
	while (i < n) {
		size_t start = i;
		while (i < n && v[i] != ';')
			i++;
		size_t a = start, b = i;
		i++; /* past the ';' (or past the end) */
		while (a < b && is_ows(v[a]))
			a++;
		while (b > a && is_ows(v[b - 1]))
			b--;
		if (a == b)
			continue;
		size_t eq = a;
		while (eq < b && v[eq] != '=')
			eq++;
		if (eq == b)
			continue; /* nameless: skipped */
		if (eq == a)
			return 400;
		for (size_t k = a; k < eq; k++)
			if (!is_tchar((unsigned char)v[k]))
				return 400;
		for (size_t k = 0; k < c; k++)
			if (model[k].name_len == eq - a && memcmp(v + model[k].name_off, v + a, eq - a) == 0)
				return 400;
		if (c == PC_HTTP_MAX_COOKIES)
			return 431;
		model[c].name_off = a;
		model[c].name_len = eq - a;
		model[c].value_off = eq + 1;
		model[c].value_len = b - eq - 1;
		c++;
	}
	*count = c;
	return PC_HTTP_DONE;
}

static void check_in(const char *buf, size_t size, struct pc_str s)
{
	CHECK(s.p != NULL);
	CHECK(s.p >= buf && s.len <= size && (size_t)(s.p - buf) <= size - s.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t pl = sizeof(prefix) - 1, sl = sizeof(suffix) - 1;
	const size_t total = pl + size + sl;
	/* exactly sized, so ASan sees any read past the head */
	char *buf = malloc(total);
	CHECK(buf != NULL);
	memcpy(buf, prefix, pl);
	if (size > 0)
		memcpy(buf + pl, data, size);
	memcpy(buf + pl + size, suffix, sl);

	struct pc_http_parser p;
	const char *why = NULL;
	pc_http_parser_init(&p);
	int rc = pc_http_parse_head(&p, &req, buf, total, PC_HTTP_MAX_BODY_DEFAULT, &why);
	CHECK(rc == PC_HTTP_NEED_MORE || rc == PC_HTTP_DONE || (rc >= 400 && rc <= 505 && why != NULL));

	if (rc == PC_HTTP_DONE) {
		CHECK(req.head_len <= total);
		CHECK(req.n_cookies <= PC_HTTP_MAX_COOKIES);
		for (size_t i = 0; i < req.n_cookies; i++) {
			const struct pc_http_cookie *ck = &req.cookies[i];
			check_in(buf, req.head_len, ck->name);
			check_in(buf, req.head_len, ck->value);
			CHECK(ck->name.len > 0);
			for (size_t k = 0; k < ck->name.len; k++)
				CHECK(is_tchar((unsigned char)ck->name.p[k]));
			/* a value never runs into the next pair or the line end */
			CHECK(memchr(ck->value.p, ';', ck->value.len) == NULL);
			CHECK(memchr(ck->value.p, '\r', ck->value.len) == NULL);
			CHECK(memchr(ck->value.p, '\n', ck->value.len) == NULL);
			CHECK(ck->name.p + ck->name.len + 1 == ck->value.p && ck->name.p[ck->name.len] == '=');
			for (size_t j = 0; j < i; j++)
				CHECK(req.cookies[j].name.len != ck->name.len ||
				      memcmp(req.cookies[j].name.p, ck->name.p, ck->name.len) != 0);
			/* lookup by name finds this very pair */
			static char name[PC_HTTP_MAX_HEAD_BYTES + 1];
			if (ck->name.len < sizeof(name)) {
				memcpy(name, ck->name.p, ck->name.len);
				name[ck->name.len] = '\0';
				CHECK(pc_http_cookie_get(&req, name) == ck);
			}
		}
	}

	/* the differential check, when the data cannot change the head's shape */
	bool plain = true;
	for (size_t i = 0; i < size && plain; i++)
		plain = is_fvalue(data[i]);
	if (plain) {
		size_t count = 0;
		int want = model_cookies(buf + pl, size, &count);
		if (total > PC_HTTP_MAX_HEAD_BYTES)
			want = 431; /* the scan refuses an over-long head first */
		/* the boundary of the head limit is the parser's own business
		 * (tested in fuzz_parser); stay clear of it here */
		bool near_limit = total + 8 > PC_HTTP_MAX_HEAD_BYTES && total < PC_HTTP_MAX_HEAD_BYTES + 8;
		if (!near_limit) {
			CHECK(rc == want);
			if (rc == PC_HTTP_DONE) {
				CHECK(req.head_len == total);
				CHECK(req.n_cookies == count);
				for (size_t i = 0; i < count; i++) {
					CHECK(req.cookies[i].name.p == buf + pl + model[i].name_off);
					CHECK(req.cookies[i].name.len == model[i].name_len);
					CHECK(req.cookies[i].value.p == buf + pl + model[i].value_off);
					CHECK(req.cookies[i].value.len == model[i].value_len);
				}
			}
		}
	}
	free(buf);
	return 0;
}
