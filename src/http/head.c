/* head.c — see head.h. */
#include "http/head.h"

#include <stdio.h>
#include <string.h>

#include "http/request.h"

size_t pc_head_security(char *out, size_t cap, bool xss_block)
{
	int n = snprintf(out, cap,
	                 "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n"
	                 "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
	                 "X-Frame-Options: DENY\r\n"
	                 "X-Content-Type-Options: nosniff\r\n"
	                 "Referrer-Policy: no-referrer\r\n"
	                 "Cross-Origin-Opener-Policy: same-origin\r\n"
	                 "Cross-Origin-Resource-Policy: same-origin\r\n"
	                 "Permissions-Policy: accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()\r\n"
	                 "X-XSS-Protection: %s\r\n",
	                 xss_block ? "1; mode=block" : "0");
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* 20 digits hold any size_t */
#define DIGITS_MAX 20

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_uint(char *p, size_t v)
{
	char tmp[DIGITS_MAX];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static bool has_length(int status)
{
	return status != 204 && status != 304 && !(status >= 100 && status < 200);
}

size_t pc_head_size(const struct pc_head *h)
{
	return 128 + strlen(pc_http_reason(h->status)) + h->security_len + strlen(h->request_id) +
	       h->date_len + (h->ctype ? strlen(h->ctype) : 0) + DIGITS_MAX + h->extra_len;
}

size_t pc_head_write(char *out, const struct pc_head *h)
{
	char *p = out;
	p = PUT_LIT(p, "HTTP/1.1 ");
	p = put_uint(p, (size_t)h->status);
	*p++ = ' ';
	const char *reason = pc_http_reason(h->status);
	p = put(p, reason, strlen(reason));
	p = PUT_LIT(p, "\r\n");
	p = put(p, h->security, h->security_len);
	p = PUT_LIT(p, "X-Request-Id: ");
	p = put(p, h->request_id, strlen(h->request_id));
	p = PUT_LIT(p, "\r\n");
	p = put(p, h->date, h->date_len);
	p = h->cacheable ? PUT_LIT(p, "Cache-Control: no-cache\r\n") : PUT_LIT(p, "Cache-Control: no-store\r\n");
	if (h->ctype) {
		p = PUT_LIT(p, "Content-Type: ");
		p = put(p, h->ctype, strlen(h->ctype));
		p = PUT_LIT(p, "\r\n");
	}
	if (has_length(h->status)) {
		p = PUT_LIT(p, "Content-Length: ");
		p = put_uint(p, h->body_len);
		p = PUT_LIT(p, "\r\n");
	}
	if (h->conn == PC_HEAD_CONN_CLOSE)
		p = PUT_LIT(p, "Connection: close\r\n");
	else if (h->conn == PC_HEAD_CONN_KEEP_ALIVE)
		p = PUT_LIT(p, "Connection: keep-alive\r\n");
	p = put(p, h->extra, h->extra_len);
	p = PUT_LIT(p, "\r\n");
	return (size_t)(p - out);
}
