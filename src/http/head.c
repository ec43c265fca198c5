/* head.c — see head.h; and the reason phrases (RFC 9110 15), whose one user
 * is the status line written here (and the problem title, request.c). */
#include "http/head.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

const char *pc_http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

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

void pc_head_problem_body(char *out, size_t cap, size_t *len, int status, enum pc_problem kind, const char *detail)
{
	char esc[512];
	size_t el = 0;
	if (detail) {
		el = pc_json_escape(esc, sizeof(esc), detail, strlen(detail));
		if (el > sizeof(esc))
			el = 0;
	}
	if (kind >= PC_PROB__COUNT)
		kind = pc_problem_for_status(status);
	/* a kind fixes its status; a status without a kind is about:blank */
	char type[64] = "about:blank";
	const char *title = pc_http_reason(status);
	if (kind < PC_PROB__COUNT) {
		status = pc_problem_kinds[kind].status;
		title = pc_problem_kinds[kind].title;
		snprintf(type, sizeof(type), "%s%s", PC_PROBLEM_TYPE_PREFIX, pc_problem_kinds[kind].slug);
	}
	int n;
	if (detail)
		n = snprintf(out, cap, "{\"type\":\"%s\",\"title\":\"%s\",\"status\":%d,\"detail\":\"%.*s\"}", type,
		             title, status, (int)el, esc);
	else
		n = snprintf(out, cap, "{\"type\":\"%s\",\"title\":\"%s\",\"status\":%d}", type, title, status);
	*len = (n > 0 && (size_t)n < cap) ? (size_t)n : 0;
}
