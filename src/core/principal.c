/*
 * principal.c (core) — method names and random ids, for every actor.
 */
#include <sodium.h>
#include <string.h>

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

const char *pc_role_name(enum pc_role r)
{
	switch (r) {
	case PC_ROLE_ADMIN:
		return "admin";
	case PC_ROLE_MEMBER:
		return "member";
	case PC_ROLE_NONE:
		break;
	}
	return "";
}

int pc_role_parse(enum pc_role *out, const char *s, size_t n)
{
	if (n == 5 && memcmp(s, "admin", 5) == 0)
		*out = PC_ROLE_ADMIN;
	else if (n == 6 && memcmp(s, "member", 6) == 0)
		*out = PC_ROLE_MEMBER;
	else
		return -1;
	return 0;
}
