/*
 * problem.h — the kinds of error portcullis answers, one RFC 9457 problem
 * type each.
 *
 * Every problem+json body names its kind in `type` as the relative
 * reference "/api/v1/problems/<slug>" (RFC 9457 3.1.1 allows a relative
 * reference and recommends the full path), which resolves against the
 * request URI to this server's own description of the kind
 * (GET /api/v1/problems/<slug>). A kind fixes the status and the title, so
 * a client branches on `type` alone; `detail` says what happened this time.
 * The table is also what the OpenAPI document and the README list.
 *
 * A caller that names only a status gets that status's default kind
 * (pc_problem_for_status): the HTTP layer's own errors, and handlers whose
 * status says it all.
 */
#ifndef PC_HTTP_PROBLEM_H
#define PC_HTTP_PROBLEM_H

#include <stddef.h>

enum pc_problem {
	/* the HTTP layer (src/http): before or instead of a handler */
	PC_PROB_MALFORMED_REQUEST,
	PC_PROB_NOT_FOUND,
	PC_PROB_METHOD_NOT_ALLOWED,
	PC_PROB_REQUEST_TIMEOUT,
	PC_PROB_LENGTH_REQUIRED,
	PC_PROB_BODY_TOO_LARGE,
	PC_PROB_URI_TOO_LONG,
	PC_PROB_UNSUPPORTED_MEDIA_TYPE,
	PC_PROB_EXPECTATION_FAILED,
	PC_PROB_HEADER_TOO_LARGE,
	PC_PROB_INTERNAL_ERROR,
	PC_PROB_NOT_IMPLEMENTED,
	PC_PROB_UNAVAILABLE,
	PC_PROB_HTTP_VERSION,
	/* the API */
	PC_PROB_INVALID_BODY,
	PC_PROB_INVALID_QUERY,
	PC_PROB_WEAK_PASSWORD,
	PC_PROB_INVALID_RESET_TOKEN,
	PC_PROB_INVALID_CODE,
	PC_PROB_PASSKEY_REFUSED,
	PC_PROB_AUTHENTICATION_REQUIRED,
	PC_PROB_SECOND_FACTOR_REQUIRED,
	PC_PROB_INVALID_CREDENTIALS,
	PC_PROB_INVALID_REFRESH_TOKEN,
	PC_PROB_CSRF_FAILED,
	PC_PROB_FORBIDDEN,
	PC_PROB_ENROLMENT_REQUIRED,
	PC_PROB_WRONG_PASSWORD,
	PC_PROB_CONFLICT,
	PC_PROB_ALREADY_SET_UP,
	PC_PROB_LAST_USER,
	PC_PROB_LAST_ADMIN,
	PC_PROB_THROTTLED,
	PC_PROB_EMAIL_DISABLED,
	PC_PROB_INVALID_EMAIL_TOKEN,
	PC_PROB__COUNT
};

struct pc_problem_kind {
	const char *slug;    /* "csrf-failed": the last segment of the type URI */
	int status;
	const char *title;   /* the same for every occurrence */
	const char *meaning; /* one sentence: what happened */
	const char *action;  /* one sentence: what the client should do */
};

/* The type URIs' common prefix. */
#define PC_PROBLEM_TYPE_PREFIX "/api/v1/problems/"

extern const struct pc_problem_kind pc_problem_kinds[PC_PROB__COUNT];

/* The default kind of a status; PC_PROB__COUNT when it has none (the body
 * then says "about:blank" and the reason phrase). */
enum pc_problem pc_problem_for_status(int status);

/* The kind whose slug is s[0..len), or PC_PROB__COUNT. */
enum pc_problem pc_problem_find(const char *s, size_t len);

#endif
