/*
 * pct.h — percent-encoding (RFC 3986 2.1), written once.
 *
 * Decoding is strict: a '%' must be followed by two hex digits (either
 * case), and no decoded byte may be NUL (%00 or a raw NUL): a C string
 * made from the result cannot be cut short. Encoding keeps only the
 * unreserved characters (RFC 3986 2.3: ALPHA DIGIT - . _ ~) and writes
 * every other byte as %XX with upper-case hex, so the result is safe in a
 * query value, a userinfo and a header line (no CR, LF, space, quote).
 */
#ifndef PC_CORE_PCT_H
#define PC_CORE_PCT_H

#include <stddef.h>

#include "core/err.h"

/* '+' decodes to a space (application/x-www-form-urlencoded query values). */
#define PC_PCT_PLUS_SPACE 1u
/* Refuse every control byte (0x00-0x1f, 0x7f) in the result, raw or
 * decoded, not only NUL (credentials, host names). */
#define PC_PCT_NO_CTL 2u

/* Decodes in[0..len) into out (cap bytes, NUL-terminated) and sets
 * *out_len. Returns 0, or -1 with out[0] = '\0' (when cap > 0) and errno
 * EINVAL (a malformed escape, a NUL, a refused control byte) or ERANGE
 * (the result and its NUL do not fit in cap). out and in may be the same
 * buffer (the result is never longer). */
PC_MUST_USE int pc_pct_decode(char *out, size_t cap, size_t *out_len, const char *in, size_t len,
                              unsigned flags);

/* The value of one hex digit (either case), or -1. */
int pc_pct_hexval(unsigned char c);

/* Encodes in[0..len) into out (cap bytes, NUL-terminated) and sets
 * *out_len. Returns 0, or -1 with errno ERANGE when the result and its NUL
 * do not fit (out then holds "" when cap > 0: never a truncated encoding). */
PC_MUST_USE int pc_pct_encode(char *out, size_t cap, size_t *out_len, const char *in, size_t len);

#endif
