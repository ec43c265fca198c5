/*
 * path.h — normalisers for the request path and host that a reverse proxy
 * forwards to /verify (X-Original-URI / X-Forwarded-Uri, Host /
 * X-Forwarded-Host), so the access rules compare one canonical spelling.
 *
 * Policy: anything that two servers could read differently is refused
 * ("ambiguous"), never repaired. The proxy, the protected application and
 * portcullis would otherwise disagree on which path a request names, and a
 * rule on /admin/ could be stepped around with /x/../admin/ or /admin;x.
 *
 * Path (RFC 3986 section 3.3 path-absolute, section 6.2.2 normalisation):
 * - must start with "/"; a "?query" is cut off (not part of the path; its
 *   bytes must still be RFC 3986 query characters with well-formed escapes);
 * - an escape of an unreserved character (ALPHA DIGIT - . _ ~) is decoded
 *   ("/%61dmin/" is "/admin/"); every other escape stays, hex upper-cased;
 * - ambiguous: a "." or ".." segment (also %2e), an empty segment ("//"), an
 *   encoded "/" (%2f), "\" raw or %5c, ";" raw or %3b (path parameters:
 *   Tomcat and Spring strip them, so "/admin;x" reaches /admin), %25 (a
 *   double encoding), "#", a control byte raw or encoded, a raw byte outside
 *   pchar (space " < > ^ ` { | } non-ASCII), a malformed escape;
 * - case is kept: paths compare case-sensitively, as nginx locations do
 *   ("/ADMIN/" is not "/admin/"; an application that folds case must be
 *   protected with rules for each spelling, or better, deny by default).
 *
 * Host (RFC 7230 section 5.4, RFC 1123 section 2.1 names):
 * - lower-cased; one optional ":port" (1-65535, no leading zeros) removed;
 * - a DNS name: labels of [a-z0-9-] 1-63 bytes, not starting or ending
 *   with "-", separated by single dots, no trailing dot, at most 253 bytes;
 *   or a bracketed IPv6 literal, rewritten in its RFC 5952 form;
 * - anything else is ambiguous.
 */
#ifndef PC_AUTHZ_PATH_H
#define PC_AUTHZ_PATH_H

#include <stddef.h>

#include "core/err.h"
#include "core/limits.h"

/* Longest raw target accepted: the HTTP parser's request-target limit, so a
 * target that reached us in a header is never longer than one in a request
 * line. The normalised path is never longer than its input. */
#define PC_AUTHZ_PATH_MAX PC_HTTP_MAX_URI_BYTES


enum pc_norm {
	PC_NORM_OK = 0,
	PC_NORM_AMBIGUOUS = -1, /* refuse the request (400 / deny) */
	PC_NORM_TOO_LONG = -2,  /* over the limit above (414 / deny) */
};

/* Normalises the raw request target (path and optional query), len bytes,
 * not NUL-terminated. Writes the path, NUL-terminated, into out (cap must be
 * at least len + 1: asserted; a release build answers PC_NORM_TOO_LONG) and
 * its length into *out_len. On failure out is "" and *out_len 0. */
PC_MUST_USE enum pc_norm pc_authz_path_normalize(char *out, size_t cap, size_t *out_len, const char *target,
                                                 size_t len);

/* Normalises a Host value (len bytes) into out (cap at least
 * PC_AUTHZ_HOST_MAX + 1: asserted; a release build answers PC_NORM_TOO_LONG),
 * NUL-terminated, length in *out_len. On failure out is "" and *out_len 0. */
PC_MUST_USE enum pc_norm pc_authz_host_normalize(char *out, size_t cap, size_t *out_len, const char *host,
                                                 size_t len);

#endif
