/*
 * path.c — the forwarded path and host normalisers (rules in path.h).
 *
 * One pass over the bytes, writing into the caller's buffer: decoding only
 * shrinks and upper-casing hex keeps the length, so the output never
 * outgrows the input. A segment is checked when its closing "/" (or the end)
 * is reached, on the decoded bytes, so "%2e%2e" is caught as "..".
 */
#include "authz/path.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/pct.h"
#include "core/text.h"

static const char hexdig[] = "0123456789ABCDEF";

/* RFC 3986 section 2.3 unreserved */
static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

/* RFC 3986 section 3.3 pchar as a raw byte (without pct-encoded). */
static bool pchar_raw(unsigned char c)
{
	return unreserved(c) || strchr("!$&'()*+,;=:@", c) != NULL;
}

/* Raw bytes a path may hold besides "/" and "%": pchar less ";" (path
 * parameters, see path.h). strchr would match the NUL terminator: c is
 * never 0 here because callers test pchar_raw only for c != 0. */
static bool path_raw(unsigned char c)
{
	return c != 0 && c != ';' && pchar_raw(c);
}

/* A decoded byte that must not appear inside a segment in any spelling. */
static bool forbidden_decoded(unsigned char b)
{
	return b == '/' || b == '\\' || b == ';' || b == '%' || b < 0x20 || b == 0x7f;
}

/* RFC 3986 section 3.4: query = *( pchar / "/" / "?" ), escapes well formed. */
static bool query_ok(const unsigned char *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = q[i];
		if (c == '%') {
			if (i + 2 >= n || pc_pct_hexval(q[i + 1]) < 0 || pc_pct_hexval(q[i + 2]) < 0)
				return false;
			i += 2;
		} else if (c == 0 || (!pchar_raw(c) && c != '/' && c != '?')) {
			return false;
		}
	}
	return true;
}

/* The escaped non-ASCII bytes, decoded, are valid UTF-8: an overlong form
 * (%c0%af is "/" to a lenient decoder, the IIS "unicode" traversal) or a
 * stray byte could be read differently by the application. Runs on the
 * output, where every escape is a byte that stayed encoded. */
static bool escapes_utf8(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%')
			continue;
		unsigned char seq[4];
		size_t k = 0, j = i;
		while (k < 4 && j < n && s[j] == '%') {
			seq[k++] = (unsigned char)(pc_pct_hexval((unsigned char)s[j + 1]) << 4 | pc_pct_hexval((unsigned char)s[j + 2]));
			j += 3;
		}
		if (seq[0] < 0x80) {
			i += 2;
			continue;
		}
		size_t len = pc_utf8_seq_len(seq, k);
		if (len == 0)
			return false;
		i += 3 * len - 1;
	}
	return true;
}

static bool bad_segment(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

enum pc_norm pc_authz_path_normalize(char *out, size_t cap, size_t *out_len, const char *target, size_t len)
{
	const unsigned char *t = (const unsigned char *)target;
	enum pc_norm rc = PC_NORM_AMBIGUOUS;
	size_t o = 0, seg = 1;

	assert(cap >= len + 1 || len > PC_AUTHZ_PATH_MAX);
	*out_len = 0;
	if (cap == 0)
		return PC_NORM_TOO_LONG;
	out[0] = '\0';
	/* a short buffer is a caller bug (asserted): still never overrun it */
	if (len > PC_AUTHZ_PATH_MAX || cap < len + 1) {
		rc = PC_NORM_TOO_LONG;
		goto out;
	}
	if (len == 0 || t[0] != '/')
		goto out;
	const unsigned char *q = memchr(t, '?', len);
	size_t end = q != NULL ? (size_t)(q - t) : len;
	if (q != NULL && !query_ok(q + 1, len - end - 1))
		goto out;

	out[o++] = '/';
	for (size_t i = 1; i < end; i++) {
		unsigned char c = t[i];
		if (c == '/') {
			if (bad_segment(out + seg, o - seg))
				goto out;
			out[o++] = '/';
			seg = o;
		} else if (c == '%') {
			if (i + 2 >= end || pc_pct_hexval(t[i + 1]) < 0 || pc_pct_hexval(t[i + 2]) < 0)
				goto out;
			unsigned char b = (unsigned char)(pc_pct_hexval(t[i + 1]) << 4 | pc_pct_hexval(t[i + 2]));
			i += 2;
			if (unreserved(b)) {
				out[o++] = (char)b;
			} else if (forbidden_decoded(b)) {
				goto out;
			} else {
				out[o++] = '%';
				out[o++] = hexdig[b >> 4];
				out[o++] = hexdig[b & 15];
			}
		} else if (path_raw(c)) {
			out[o++] = (char)c;
		} else {
			goto out;
		}
	}
	/* the last segment may be empty (a trailing "/"), never "." or ".." */
	if (o > seg && bad_segment(out + seg, o - seg))
		goto out;
	if (!escapes_utf8(out, o))
		goto out;
	out[o] = '\0';
	*out_len = o;
	rc = PC_NORM_OK;
out:
	if (rc != PC_NORM_OK) {
		out[0] = '\0';
		*out_len = 0;
	}
	return rc;
}

static bool parse_port(const unsigned char *s, size_t n)
{
	unsigned v = 0;
	if (n == 0 || n > 5 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

static bool dns_name(char *out, const unsigned char *s, size_t n)
{
	size_t label = 0;
	if (n == 0 || n > PC_AUTHZ_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0 || out[i - 1] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			if (c == '-' && label == 0)
				return false;
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		out[i] = (char)c;
	}
	return label > 0 && out[n - 1] != '-';
}

enum pc_norm pc_authz_host_normalize(char *out, size_t cap, size_t *out_len, const char *host, size_t len)
{
	const unsigned char *h = (const unsigned char *)host;
	enum pc_norm rc = PC_NORM_AMBIGUOUS;
	size_t name_len;

	assert(cap >= PC_AUTHZ_HOST_MAX + 1);
	*out_len = 0;
	if (cap == 0)
		return PC_NORM_TOO_LONG;
	out[0] = '\0';
	if (len > PC_AUTHZ_HOST_IN_MAX || cap < PC_AUTHZ_HOST_MAX + 1) {
		rc = PC_NORM_TOO_LONG;
		goto out;
	}
	if (len == 0)
		goto out;
	if (h[0] == '[') {
		const unsigned char *close = memchr(h, ']', len);
		if (close == NULL)
			goto out;
		size_t inner = (size_t)(close - h) - 1;
		size_t after = len - inner - 2;
		if (after > 0 && (close[1] != ':' || !parse_port(close + 2, after - 1)))
			goto out;
		char buf[INET6_ADDRSTRLEN];
		uint8_t a[16];
		if (inner == 0 || inner >= sizeof(buf))
			goto out;
		for (size_t i = 0; i < inner; i++) {
			if (pc_pct_hexval(h[1 + i]) < 0 && h[1 + i] != ':' && h[1 + i] != '.')
				goto out;
		}
		memcpy(buf, h + 1, inner);
		buf[inner] = '\0';
		if (inet_pton(AF_INET6, buf, a) != 1 || inet_ntop(AF_INET6, a, buf, sizeof(buf)) == NULL)
			goto out;
		name_len = strlen(buf);
		out[0] = '[';
		memcpy(out + 1, buf, name_len);
		out[name_len + 1] = ']';
		name_len += 2;
	} else {
		const unsigned char *colon = memchr(h, ':', len);
		name_len = colon != NULL ? (size_t)(colon - h) : len;
		if (colon != NULL && !parse_port(colon + 1, len - name_len - 1))
			goto out;
		if (!dns_name(out, h, name_len))
			goto out;
	}
	out[name_len] = '\0';
	*out_len = name_len;
	rc = PC_NORM_OK;
out:
	if (rc != PC_NORM_OK) {
		out[0] = '\0';
		*out_len = 0;
	}
	return rc;
}
