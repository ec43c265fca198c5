/*
 * session.h — the sealed session cookie.
 *
 * The cookie carries a random 256-bit session secret and its absolute expiry,
 * sealed with XChaCha20-Poly1305 under the session subkey:
 *
 *   value = base64url_nopad( key_id(1) || nonce(24) || seal(secret(32) || expires_at(8, BE)) )
 *
 * with the cookie name's purpose string as associated data. 81 bytes, 108
 * characters. Opening is strict: exactly 108 canonical base64url characters
 * (no padding, no +/, no spare bits), a known key id (current key, or the
 * previous one during rotation), an authentic ciphertext, an unexpired
 * expiry — all checked before the store is asked anything. The store keeps
 * only BLAKE2b-256(secret).
 */
#ifndef PC_AUTH_SESSION_H
#define PC_AUTH_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"

#define PC_SESSION_SECRET_BYTES 32
#define PC_SESSION_SEALED_BYTES (1 + 24 + PC_SESSION_SECRET_BYTES + 8 + 16)
#define PC_SESSION_COOKIE_LEN 108 /* base64url of 81 bytes, no padding */

enum pc_cookie_status { PC_COOKIE_OK = 0, PC_COOKIE_TAMPERED, PC_COOKIE_EXPIRED };

/* Seals secret and expires_at under the current key. out: 109 bytes. */
void pc_session_seal(char out[PC_SESSION_COOKIE_LEN + 1], const uint8_t secret[PC_SESSION_SECRET_BYTES],
                     int64_t expires_at, const struct pc_keys *keys);

/* Opens a cookie value. On PC_COOKIE_OK, secret and *expires_at are set; on
 * any failure secret is zeroed. */
PC_MUST_USE enum pc_cookie_status pc_session_open(uint8_t secret[PC_SESSION_SECRET_BYTES], int64_t *expires_at,
                                                  const char *value, size_t len,
                                                  const struct pc_keys *keys, int64_t now);

/* How stale last_seen_at may grow before a request writes it again, for an
 * idle timeout of idle_s seconds: a quarter of the timeout, at most
 * PC_SESSION_TOUCH_MAX, at least 1. A session used more often than every
 * idle_s - interval seconds (minus the verify cache's lifetime, whose hits
 * do not write) never reaches its idle timeout; a fixed minute did not
 * keep that promise for PORTCULLIS_SESSION_IDLE_TIMEOUT=60s. */
#define PC_SESSION_TOUCH_MAX 60
int64_t pc_session_touch_interval(int64_t idle_s);

/* BLAKE2b-256 of the secret: what the store keeps. */
void pc_session_secret_hash(uint8_t out[32], const uint8_t secret[PC_SESSION_SECRET_BYTES]);

/* The session cookie's name for this configuration. */
const char *pc_session_cookie_name(const struct pc_config *cfg);

/* Writes a Set-Cookie value (without the header name) for the sealed value;
 * max_age 0 clears the cookie. Returns 0 or -1 (does not fit). */
PC_MUST_USE int pc_session_cookie_header(char *out, size_t cap, const struct pc_config *cfg,
                                         const char *value, int64_t max_age);

#endif
