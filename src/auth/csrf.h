/*
 * csrf.h — OWASP's signed double-submit token, bound to the session.
 *
 *   token = base64url_nopad( key_id(1) || kind(1) || nonce(32) || expires_at(8, BE) || mac(32) )
 *   mac   = HMAC-SHA-256(csrf subkey, "pc-csrf-v1" || kind || nonce || expires_at || binding)
 *
 * kind 1 is bound to a session: binding = the session's public id. kind 0
 * is a pre-session token (before login or setup), bound to the pre-session
 * id: 32 random bytes in their own cookie, __Host-portcullis_presession
 * (HttpOnly: no script needs it). Its nonce is 16 random bytes followed by
 * the first 16 bytes of BLAKE2b(pre-session id), so the MAC covers the
 * binding (binding itself empty, as for every kind-0 token) and the token
 * is accepted only with the cookie it was issued with: a token fetched by
 * one client fails with another's cookies. The token shows the hash, never
 * the id, and a cross-site page can set neither __Host- cookie. A pre-session token is never
 * accepted on a request that has a session, a session token never on one
 * that has none or another one — so login, which creates a session, makes
 * the old token useless and hands out a new one.
 *
 * 74 bytes, 99 characters. The browser's script reads the (non-HttpOnly)
 * __Host-portcullis_csrf cookie and echoes it in X-CSRF-Token; a cross-site
 * page can do neither.
 */
#ifndef PC_AUTH_CSRF_H
#define PC_AUTH_CSRF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"

#define PC_CSRF_RAW_BYTES (1 + 1 + 32 + 8 + 32)
#define PC_CSRF_TOKEN_LEN 99
#define PC_CSRF_LIFETIME_S 3600
#define PC_CSRF_COOKIE "__Host-portcullis_csrf"
#define PC_CSRF_HEADER "X-CSRF-Token"
#define PC_CSRF_PRESESSION_COOKIE "__Host-portcullis_presession"
#define PC_CSRF_PRESESSION_LEN 43 /* base64url of 32 bytes, no padding */

enum pc_csrf_status {
	PC_CSRF_OK = 0,
	PC_CSRF_INVALID,       /* malformed, unknown key, bad MAC */
	PC_CSRF_EXPIRED,
	PC_CSRF_WRONG_BINDING, /* another session's, or pre-session vs session */
};

/* Issues a token bound to session_id (a public id), or, when session_id is
 * NULL, a pre-session token bound to the pre-session id `presession` (its
 * cookie value, which must then be given). out: PC_CSRF_TOKEN_LEN + 1. */
void pc_csrf_issue(char out[PC_CSRF_TOKEN_LEN + 1], const struct pc_keys *keys, const char *session_id,
                   const char *presession, int64_t now);

/* Verifies a token for a request whose session is session_id (NULL: none)
 * and whose pre-session cookie is presession[0..presession_len) (NULL: none;
 * consulted only for a pre-session token on a request without a session).
 * Order: authentic (else INVALID), unexpired (else EXPIRED), bound to this
 * request (else WRONG_BINDING). Constant time in the MAC and binding
 * comparisons. */
PC_MUST_USE enum pc_csrf_status pc_csrf_verify(const char *token, size_t len, const struct pc_keys *keys,
                                               const char *session_id, const char *presession,
                                               size_t presession_len, int64_t now);

/* A new pre-session id: PC_CSRF_PRESESSION_LEN base64url characters. */
void pc_csrf_presession_new(char out[PC_CSRF_PRESESSION_LEN + 1]);
/* The form of a pre-session id (43 base64url characters of 32 bytes). */
PC_MUST_USE bool pc_csrf_presession_valid(const char *s, size_t len);
/* Set-Cookie value for the pre-session id (HttpOnly; Secure;
 * SameSite=Strict; Path=/; Max-Age = a token's lifetime). 0 or -1. */
PC_MUST_USE int pc_csrf_presession_cookie_header(char *out, size_t cap, const char *id);

/* Set-Cookie value for the token (not HttpOnly; Secure; SameSite=Strict;
 * Path=/; Max-Age = its lifetime). 0, or -1 when it does not fit. */
PC_MUST_USE int pc_csrf_cookie_header(char *out, size_t cap, const char *token);

#endif
