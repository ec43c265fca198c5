/*
 * otp.h — HOTP (RFC 4226) and TOTP (RFC 6238) codes, and their check.
 *
 * The only file of ours that uses OpenSSL's libcrypto (otp.c): the one-shot
 * HMAC() with SHA-1 (what authenticator apps default to, and libsodium
 * lacks), SHA-256 or SHA-512. Codes are 6 or 8 decimal digits; the check
 * compares every candidate in constant time and tries all of them whatever
 * matched, so its time does not tell which step matched.
 */
#ifndef PC_CORE_OTP_H
#define PC_CORE_OTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum pc_otp_alg { PC_OTP_SHA1 = 0, PC_OTP_SHA256 = 1, PC_OTP_SHA512 = 2 };

#define PC_OTP_DIGITS_DEFAULT 6
#define PC_OTP_PERIOD_DEFAULT 30
#define PC_OTP_SKEW 1         /* steps either side of now (RFC 6238 §5.2) */
#define PC_OTP_SECRET_BYTES 20 /* 160 bits: RFC 4226 §4 R6, Authelia's and Kratos' size */
#define PC_OTP_SECRET_MAX 64
#define PC_OTP_CODE_MAX 8

/* "SHA1", "SHA256", "SHA512" (the otpauth URI's spelling); NULL for others. */
const char *pc_otp_alg_name(enum pc_otp_alg alg);
/* Parses those names; -1 for anything else. */
PC_MUST_USE int pc_otp_alg_parse(enum pc_otp_alg *out, const char *name);

/* Whether digits is one we issue (6 or 8). */
bool pc_otp_digits_ok(unsigned digits);

/*
 * The HOTP value for counter (RFC 4226 §5.3 dynamic truncation), written as
 * `digits` decimal digits with leading zeros into out[digits + 1].
 * Returns 0, or -1 (bad digits, empty or too long key, HMAC failure: out
 * is then "").
 */
PC_MUST_USE int pc_hotp(char *out, size_t cap, const uint8_t *key, size_t key_len, enum pc_otp_alg alg,
                        uint64_t counter, unsigned digits);

/* The TOTP step of unix time now (floor(now / period)); 0 before 1970. */
uint64_t pc_totp_step(int64_t now, unsigned period);

/*
 * Checks code (text, len bytes) against the steps now-skew .. now+skew.
 * Returns 0 with *step the matched step, -1 when none matches or code is
 * not exactly `digits` ASCII digits. Every candidate is computed and
 * compared (sodium_memcmp) whatever matched.
 */
PC_MUST_USE int pc_totp_check(uint64_t *step, const char *code, size_t len, const uint8_t *key, size_t key_len,
                              enum pc_otp_alg alg, unsigned digits, unsigned period, int64_t now, unsigned skew);

#endif
