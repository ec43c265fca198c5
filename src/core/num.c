/*
 * num.c — strict decimal integers (see num.h).
 *
 * Digits are accumulated in an unsigned 64-bit value with an overflow check
 * before each step, so no input length is too long to reject correctly; the
 * sign is handled outside the accumulator, which is how INT64_MIN (whose
 * magnitude has no positive int64_t) parses.
 */
#include "core/num.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>

/* The magnitude of s[0..len), all digits, at least one. 0, or -1 with errno. */
static int magnitude(uint64_t *out, const char *s, size_t len)
{
	uint64_t v = 0;
	bool overflow = false;
	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			errno = EINVAL;
			return -1;
		}
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			overflow = true; /* keep scanning: "99999999999999999999x" is EINVAL */
		else
			v = v * 10 + d;
	}
	if (overflow) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int pc_num_u64(uint64_t *out, const char *s, size_t len, uint64_t min, uint64_t max)
{
	uint64_t v;
	assert(min <= max);
	*out = 0;
	if (magnitude(&v, s, len) != 0)
		return -1;
	if (v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int pc_num_i64(int64_t *out, const char *s, size_t len, int64_t min, int64_t max)
{
	uint64_t m;
	int64_t v;
	assert(min <= max);
	*out = 0;
	bool neg = len > 0 && s[0] == '-' && min < 0;
	if (magnitude(&m, s + neg, len - neg) != 0)
		return -1;
	if (neg) {
		if (m > (uint64_t)INT64_MAX + 1) {
			errno = ERANGE;
			return -1;
		}
		v = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
	} else {
		if (m > (uint64_t)INT64_MAX) {
			errno = ERANGE;
			return -1;
		}
		v = (int64_t)m;
	}
	if (v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}
