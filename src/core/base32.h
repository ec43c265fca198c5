/*
 * base32.h — RFC 4648 §6 base32 (A-Z, 2-7), strict, as otpauth URIs carry
 * TOTP secrets (no padding: the Key Uri Format omits it).
 *
 * The decoder accepts exactly one text per value: upper-case alphabet only,
 * no padding, no whitespace, a length that some byte count encodes to
 * (len % 8 in {0,2,4,5,7}) and zero spare bits. Anything else is -1 with
 * nothing decoded left in out. fuzz/fuzz_base32.c checks it against a
 * model.
 */
#ifndef PC_CORE_BASE32_H
#define PC_CORE_BASE32_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Characters for n bytes, no padding: ceil(8n/5). */
#define PC_BASE32_LEN(n) (((n) * 8 + 4) / 5)

/* Encodes in[0..n) without padding into out (cap >= PC_BASE32_LEN(n) + 1).
 * Returns 0, or -1 when it does not fit (out is then ""). */
PC_MUST_USE int pc_base32_encode(char *out, size_t cap, const uint8_t *in, size_t n);

/* Decodes in[0..len) into out (cap bytes). 0 with *out_len, or -1. */
PC_MUST_USE int pc_base32_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t len);

#endif
