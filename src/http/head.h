/*
 * head.h — the head of every response, written in one place.
 *
 * Status line, the security headers, X-Request-Id, Date, Cache-Control,
 * Content-Type, Content-Length, Connection, the handler's own headers and
 * the blank line: handlers' answers and the HTTP layer's own errors all go
 * through pc_head_write, so no response can leave a security header out.
 * The security block is built once at start (pc_head_security) and copied;
 * numbers are written without printf.
 */
#ifndef PC_HTTP_HEAD_H
#define PC_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

#include "http/problem.h"

enum pc_head_conn { PC_HEAD_CONN_NONE, PC_HEAD_CONN_CLOSE, PC_HEAD_CONN_KEEP_ALIVE };

struct pc_head {
	int status;                  /* 100..599 */
	const char *security;        /* pc_head_security's block */
	size_t security_len;
	const char *request_id;      /* NUL-terminated */
	const char *date;            /* "Date: ...\r\n" */
	size_t date_len;
	bool cacheable;              /* no-cache (static files) or no-store */
	const char *ctype;           /* NULL: no Content-Type */
	size_t body_len;             /* Content-Length, except on 1xx, 204, 304 */
	enum pc_head_conn conn;
	const char *extra;           /* the handler's header lines, CRLF-terminated */
	size_t extra_len;
};

/* Standard reason phrase ("Not Found"), "Unknown" for others. Static
 * storage. */
const char *pc_http_reason(int status);

/* The security headers block (CRLF-terminated lines) into out; returns its
 * length, 0 when cap is too small. */
size_t pc_head_security(char *out, size_t cap, bool xss_block);

/* An upper bound of what pc_head_write writes for h. */
size_t pc_head_size(const struct pc_head *h);

/* The RFC 9457 problem document of kind (PC_PROB__COUNT: the default kind
 * of status) into out[cap]: {"type":"/api/v1/problems/<slug>","title":<the
 * kind's>,"status":<the kind's>[,"detail":...]} (problem.h); a status with
 * no kind gets "about:blank" and its reason phrase. *len 0 when it does not
 * fit. detail (may be NULL) is JSON-escaped. Every error body, the
 * handlers' and the HTTP layer's own, is written here. */
void pc_head_problem_body(char *out, size_t cap, size_t *len, int status, enum pc_problem kind, const char *detail);

/* Writes the head into out (pc_head_size(h) bytes available); returns the
 * bytes written. */
size_t pc_head_write(char *out, const struct pc_head *h);

#endif
