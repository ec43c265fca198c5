/*
 * hibp.h — one line of a breached-password file in the format Have I Been
 * Pwned publishes its SHA-1 list in: 40 hex digits of a password's SHA-1,
 * ':', the number of times it was seen (decimal), an optional CR. Case of
 * the hex digits is free (HIBP ships uppercase; the bytes are compared, so
 * the order is the same either way). Nothing else: no spaces, no comments,
 * no empty line, no count missing.
 */
#ifndef PC_CORE_HIBP_H
#define PC_CORE_HIBP_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PC_HIBP_HASH_BYTES 20

/* Parses s[0..len) (the line without its LF; a trailing CR is allowed)
 * into hash and *count. 0, or -1 (hash and *count zeroed) when the line
 * is not exactly that shape or the count overflows 64 bits. */
PC_MUST_USE int pc_hibp_line_parse(uint8_t hash[PC_HIBP_HASH_BYTES], uint64_t *count, const char *s, size_t len);

#endif
