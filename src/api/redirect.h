/*
 * redirect.h — where the login page may send a user back to (no open
 * redirect).
 *
 * rd (already percent-decoded once) is accepted when it is
 *   - a path on this site: starts with exactly one "/" (not "//", not
 *     "/\"), or
 *   - an absolute http(s) URL whose host[:port] is the request's Host, or
 *     whose origin is listed in PORTCULLIS_ALLOWED_REDIRECTS; the Host
 *     counts only when it is inside PORTCULLIS_COOKIE_DOMAIN or is the host
 *     of a PORTCULLIS_ALLOWED_ORIGINS entry, if either is set (a proxy that
 *     forwards any Host must not make any host "this site"), or whose host
 *     is PORTCULLIS_COOKIE_DOMAIN or a name under it (portal mode: the
 *     apps the session cookie reaches),
 * and contains no control character, space or backslash anywhere (browsers
 * treat "\" as "/" and strip tabs and newlines, which is how "/\evil" and
 * "/\t/evil" become //evil). Everything else goes to the fallback.
 */
#ifndef PC_API_REDIRECT_H
#define PC_API_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/err.h"
#include "http/parser.h"

PC_MUST_USE bool pc_redirect_allowed(const char *rd, size_t len, struct pc_str host, const struct pc_config *cfg);

/* Whether host[:port] (n bytes, no NUL needed) is PORTCULLIS_COOKIE_DOMAIN
 * or a name under it ("." + the domain at its end), letter case aside:
 * where the domain-wide session cookie is sent. False with no domain. */
PC_MUST_USE bool pc_redirect_in_cookie_domain(struct pc_str host, const struct pc_config *cfg);

/* Strict percent-decoding of a query value ('+' is a space). 0, or -1 on a
 * bad escape, a NUL, or no room. */
PC_MUST_USE int pc_query_decode(char *out, size_t cap, size_t *out_len, const char *in, size_t len);

/* Finds name=value in a query string; 1 found (value pointers set), 0 not
 * found, -1 present more than once. */
PC_MUST_USE int pc_query_get(struct pc_str query, const char *name, struct pc_str *value);

#endif
