/* hibp.c — see hibp.h. */
#include "core/hibp.h"

#include <string.h>

#include "core/num.h"

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int pc_hibp_line_parse(uint8_t hash[PC_HIBP_HASH_BYTES], uint64_t *count, const char *s, size_t len)
{
	memset(hash, 0, PC_HIBP_HASH_BYTES);
	*count = 0;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len < 2 * PC_HIBP_HASH_BYTES + 2 || s[2 * PC_HIBP_HASH_BYTES] != ':')
		return -1;
	uint8_t h[PC_HIBP_HASH_BYTES];
	for (size_t i = 0; i < PC_HIBP_HASH_BYTES; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		h[i] = (uint8_t)(hi << 4 | lo);
	}
	uint64_t n;
	const char *c = s + 2 * PC_HIBP_HASH_BYTES + 1;
	if (pc_num_u64(&n, c, len - 2 * PC_HIBP_HASH_BYTES - 1, 0, UINT64_MAX) != 0)
		return -1;
	memcpy(hash, h, sizeof(h));
	*count = n;
	return 0;
}
