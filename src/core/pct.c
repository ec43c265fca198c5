/*
 * pct.c — percent-encoding and decoding (see pct.h).
 *
 * Both walk the input once and check the room left before every write, so
 * neither reads or writes past a bound whatever the input; on failure the
 * output is emptied, so a caller that forgets the result (it cannot
 * silently: PC_MUST_USE) still holds no half-decoded value.
 */
#include "core/pct.h"

#include <errno.h>
#include <stdbool.h>

int pc_pct_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int fail(char *out, size_t cap, size_t *out_len, int e)
{
	if (cap > 0)
		out[0] = '\0';
	*out_len = 0;
	errno = e;
	return -1;
}

int pc_pct_decode(char *out, size_t cap, size_t *out_len, const char *in, size_t len, unsigned flags)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '%') {
			if (len - i < 3)
				return fail(out, cap, out_len, EINVAL);
			int h = pc_pct_hexval((unsigned char)in[i + 1]), l = pc_pct_hexval((unsigned char)in[i + 2]);
			if (h < 0 || l < 0)
				return fail(out, cap, out_len, EINVAL);
			c = (unsigned char)(h * 16 + l);
			i += 2;
		} else if (c == '+' && (flags & PC_PCT_PLUS_SPACE)) {
			c = ' ';
		}
		if (c == '\0' || ((flags & PC_PCT_NO_CTL) && (c < 0x20 || c == 0x7f)))
			return fail(out, cap, out_len, EINVAL);
		if (n + 1 >= cap)
			return fail(out, cap, out_len, ERANGE);
		out[n++] = (char)c;
	}
	if (cap == 0)
		return fail(out, cap, out_len, ERANGE);
	out[n] = '\0';
	*out_len = n;
	return 0;
}

int pc_pct_encode(char *out, size_t cap, size_t *out_len, const char *in, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		            c == '-' || c == '.' || c == '_' || c == '~';
		if (n + (keep ? 1 : 3) >= cap)
			return fail(out, cap, out_len, ERANGE);
		if (keep) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (cap == 0)
		return fail(out, cap, out_len, ERANGE);
	out[n] = '\0';
	*out_len = n;
	return 0;
}
