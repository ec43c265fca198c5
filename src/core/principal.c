/*
 * principal.c (core) — method names and random ids, for every actor.
 */
#include <sodium.h>

#include "core/principal.h"

const char *pc_auth_method_name(enum pc_auth_method m)
{
	switch (m) {
	case PC_AUTH_ANONYMOUS:
		return "anonymous";
	case PC_AUTH_SESSION:
		return "session";
	case PC_AUTH_JWT:
		return "jwt";
	case PC_AUTH_API_KEY:
		return "api_key";
	case PC_AUTH_SYSTEM:
		return "system";
	}
	return "unknown";
}

void pc_random_id(char out[PC_ID_LEN + 1])
{
	uint8_t b[PC_ID_LEN / 2];
	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(out, PC_ID_LEN + 1, b, sizeof(b));
	sodium_memzero(b, sizeof(b));
}
