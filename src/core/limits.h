/*
 * limits.h — every hard limit of portcullis, with the reason for its value.
 *
 * One place, so a reviewer can see the whole attack surface's sizes at once
 * (the habit of SQLite's sqliteLimit.h). Configurable limits have their
 * default and the range the configuration accepts here; the compile-time
 * checks at the bottom keep the defaults inside those ranges.
 */
#ifndef PC_CORE_LIMITS_H
#define PC_CORE_LIMITS_H

/* Whole request head (request line + header fields + CRLFs). Browsers send
 * 1-4 KiB; 16 KiB leaves room for large cookies from the protected app and
 * stays far below what could exhaust memory across many connections. 431. */
#define PC_HTTP_MAX_HEAD_BYTES 16384

/* Request target. 4 KiB is above any URL our API or the login redirect needs;
 * longer ones are almost always scanners or smuggling attempts. 414. */
#define PC_HTTP_MAX_URI_BYTES 4096

/* Number of header fields. Real clients send 5-20. 431. */
#define PC_HTTP_MAX_HEADERS 64

/* Method token length: the longest method we know is 7 bytes (OPTIONS). */
#define PC_HTTP_MAX_METHOD_BYTES 16

/* Cookie pairs in one Cookie header that we index (beyond it: 431). */
#define PC_HTTP_MAX_COOKIES 64

/* Request body: every body we accept is a small JSON document. 413. */
#define PC_HTTP_MAX_BODY_DEFAULT  (64 * 1024)
#define PC_HTTP_MAX_BODY_MIN      1024
#define PC_HTTP_MAX_BODY_MAX      (1024 * 1024)

/* Deadlines in milliseconds. The header deadline is counted from the first
 * byte of a request head however slowly the bytes trickle in (slowloris). */
#define PC_HTTP_HEADER_TIMEOUT_DEFAULT_MS 10000
#define PC_HTTP_BODY_TIMEOUT_DEFAULT_MS   10000
#define PC_HTTP_IDLE_TIMEOUT_DEFAULT_MS   60000
#define PC_HTTP_SHUTDOWN_TIMEOUT_DEFAULT_MS 10000
#define PC_TIMEOUT_MIN_MS 100
#define PC_TIMEOUT_MAX_MS 3600000

/* Connections. The per-address limit stops one client (a slowloris from a
 * single address) from taking every slot; trusted proxies are exempt because
 * all traffic arrives from them. */
#define PC_MAX_CONNECTIONS_DEFAULT          10000
#define PC_MAX_CONNECTIONS_PER_ADDR_DEFAULT 256
#define PC_MAX_CONNECTIONS_MAX              1000000

/* Loops (threads). */
#define PC_MAX_THREADS 64

/* Listening addresses in PORTCULLIS_LISTEN. */
#define PC_MAX_LISTEN 8

/* Trusted proxy CIDRs. */
#define PC_MAX_TRUSTED_PROXIES 32

/* Extra origins in PORTCULLIS_ALLOWED_ORIGINS. */
#define PC_MAX_ALLOWED_ORIGINS 16

/* Secret key material: libsodium's crypto_kdf master key size. */
#define PC_SECRET_KEY_BYTES 32

/* A response head we build never exceeds this (status line + our headers). */
#define PC_HTTP_MAX_RESPONSE_HEAD 4096

/* ---- identifiers and stored strings (the store's columns have the same bounds) ---- */

/* Every id we generate: hex of 16 random bytes (pc_random_id). */
#define PC_ID_LEN 32

/* An email address: RFC 5321's 256-byte path limit less the angle brackets. */
#define PC_EMAIL_MAX 254

/* The User-Agent we keep with a session or an audit event: enough to tell
 * browsers apart; longer values are cut (never refused: it is not ours). */
#define PC_UA_MAX 255

/* A client address as text: INET6_ADDRSTRLEN, NUL included. */
#define PC_CLIENT_ADDR_MAX 46

/* An Argon2id hash string: crypto_pwhash_STRBYTES. */
#define PC_PWHASH_MAX 128

/* Passwords: NIST SP 800-63B asks for at least 8 and allows at least 64;
 * 12 is OWASP's floor for a password without a second factor. The upper
 * bound keeps one Argon2id input small enough that a flood of long
 * passwords costs the same as short ones. */
#define PC_PASSWORD_MIN 12
#define PC_PASSWORD_MAX 1024

/* API key names, bytes of UTF-8 (shown in lists and headers). */
#define PC_APIKEY_NAME_MAX 100

/* The public lookup prefix of an API key, [a-z0-9]. */
#define PC_APIKEY_PREFIX_LEN 12

/* A JWT id as we issue it (hex of 16 bytes) with room for foreign ones the
 * parser must still bound. */
#define PC_JTI_MAX 64

/* One page of the audit listing: enough for a screen, small enough that a
 * page is one cheap index range scan. */
#define PC_AUDIT_PAGE_MAX 200

_Static_assert(PC_HTTP_MAX_URI_BYTES < PC_HTTP_MAX_HEAD_BYTES, "URI must fit in a head");
_Static_assert(PC_HTTP_MAX_HEAD_BYTES <= 65536, "head offsets are kept in size_t but tests assume <= 64 KiB");
_Static_assert(PC_HTTP_MAX_BODY_DEFAULT >= PC_HTTP_MAX_BODY_MIN && PC_HTTP_MAX_BODY_DEFAULT <= PC_HTTP_MAX_BODY_MAX, "body default in range");
_Static_assert(PC_HTTP_HEADER_TIMEOUT_DEFAULT_MS >= PC_TIMEOUT_MIN_MS && PC_HTTP_HEADER_TIMEOUT_DEFAULT_MS <= PC_TIMEOUT_MAX_MS, "timeout default in range");
_Static_assert(PC_HTTP_IDLE_TIMEOUT_DEFAULT_MS >= PC_TIMEOUT_MIN_MS && PC_HTTP_IDLE_TIMEOUT_DEFAULT_MS <= PC_TIMEOUT_MAX_MS, "timeout default in range");
_Static_assert(PC_MAX_CONNECTIONS_PER_ADDR_DEFAULT <= PC_MAX_CONNECTIONS_DEFAULT, "per-address limit below global");
_Static_assert(PC_HTTP_MAX_HEADERS >= 16 && PC_HTTP_MAX_HEADERS <= 256, "header count sane");

_Static_assert(PC_PASSWORD_MIN >= 8 && PC_PASSWORD_MAX >= 64, "NIST SP 800-63B bounds");

#endif
