/*
 * num.h — the one parser of decimal integers from untrusted or configured
 * text (OpenBSD strtonum, Kore kore_strtonum), length-delimited.
 *
 * Accepted: one or more ASCII digits, and for pc_num_i64 one leading '-'
 * when min < 0. Refused: empty input, '+', any space or other byte, a
 * base prefix, trailing garbage, overflow, a value outside [min, max].
 * Leading zeros are accepted ("007" is 7): callers that need one canonical
 * spelling check that themselves.
 */
#ifndef PC_CORE_NUM_H
#define PC_CORE_NUM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Parses s[0..len) into *out. Returns 0, or -1 with *out = 0 and errno
 * EINVAL (not a number: empty, a sign, a non-digit, trailing bytes) or
 * ERANGE (a number, but it overflows or lies outside [min, max]).
 * min <= max (asserted). */
PC_MUST_USE int pc_num_u64(uint64_t *out, const char *s, size_t len, uint64_t min, uint64_t max);
PC_MUST_USE int pc_num_i64(int64_t *out, const char *s, size_t len, int64_t min, int64_t max);

#endif
