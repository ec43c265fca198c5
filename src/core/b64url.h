/*
 * b64url.h — strict, canonical base64url without padding (RFC 4648 §5).
 *
 * WARNING: libsodium 1.0.18's sodium_base642bin() is not strict enough on
 * its own: it stops at an unknown byte and still succeeds (a partial
 * decode), and its constant-time character mapping accepts the byte 0xDF as
 * if it were '_' (found by flipping every bit of a sealed cookie in
 * tests/unit/auth/test_session.c). It is also slow. The decoder here is our
 * own, constant-time per character like libsodium's: it refuses any byte
 * outside the alphabet, length % 4 == 1 and non-zero spare bits, so exactly
 * one text decodes to a given value (fuzz/fuzz_b64url.c checks it against a
 * model). On failure nothing decoded is left in out.
 */
#ifndef PC_CORE_B64URL_H
#define PC_CORE_B64URL_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

/* Decodes in[0..len) into out (cap bytes). Returns 0 with *out_len, or -1
 * for anything non-canonical or too long for out. */
PC_MUST_USE int pc_b64url_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t len);

/* Encodes; out needs 4*ceil(n/3)+1 bytes (sodium_base64_ENCODED_LEN). */
void pc_b64url_encode(char *out, size_t cap, const uint8_t *in, size_t n);

#endif
