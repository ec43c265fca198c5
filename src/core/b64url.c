/* b64url.c — see b64url.h. */
#include "core/b64url.h"

#include <sodium.h>

static int in_alphabet(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int pc_b64url_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t len)
{
	const char *end = NULL;
	*out_len = 0;
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!in_alphabet((unsigned char)in[i]))
			return -1;
	if (len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
		return -1;
	if (sodium_base642bin(out, cap, in, len, NULL, out_len, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != in + len) {
		sodium_memzero(out, cap);
		*out_len = 0;
		return -1;
	}
	/* spare bits: the last character must carry zeros where no data is */
	if (len % 4 != 0) {
		static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		unsigned char last = (unsigned char)in[len - 1];
		unsigned v = 0;
		while (tbl[v] != (char)last)
			v++;
		unsigned mask = len % 4 == 2 ? 0x0f : 0x03;
		if (v & mask) {
			sodium_memzero(out, cap);
			*out_len = 0;
			return -1;
		}
	}
	return 0;
}

void pc_b64url_encode(char *out, size_t cap, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
