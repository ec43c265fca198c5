/*
 * apikey.c — see apikey.h.
 */
#include <string.h>

#include <sodium.h>

#include "auth/apikey.h"

static const char prefix_alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static void checksum(char out[PC_APIKEY_CHECK_HEX + 1], const char *body, size_t len)
{
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), (const uint8_t *)body, len, NULL, 0);
	sodium_bin2hex(out, PC_APIKEY_CHECK_HEX + 1, h, PC_APIKEY_CHECK_HEX / 2);
}

void pc_apikey_hash(uint8_t hash[32], const char *text, size_t len, const uint8_t subkey[32])
{
	crypto_generichash(hash, 32, (const uint8_t *)text, len, subkey, 32);
}

void pc_apikey_generate(char *out, char *prefix, uint8_t hash[32], const uint8_t subkey[32])
{
	for (size_t i = 0; i < PC_APIKEY_PREFIX_LEN; i++)
		prefix[i] = prefix_alphabet[randombytes_uniform(sizeof(prefix_alphabet) - 1)];
	prefix[PC_APIKEY_PREFIX_LEN] = '\0';
	uint8_t secret[PC_APIKEY_SECRET_HEX / 2];
	randombytes_buf(secret, sizeof(secret));
	memcpy(out, "pc_", 3);
	memcpy(out + 3, prefix, PC_APIKEY_PREFIX_LEN);
	out[3 + PC_APIKEY_PREFIX_LEN] = '_';
	sodium_bin2hex(out + 4 + PC_APIKEY_PREFIX_LEN, PC_APIKEY_SECRET_HEX + 1, secret, sizeof(secret));
	sodium_memzero(secret, sizeof(secret));
	size_t body = 4 + PC_APIKEY_PREFIX_LEN + PC_APIKEY_SECRET_HEX;
	checksum(out + body, out, body);
	pc_apikey_hash(hash, out, PC_APIKEY_LEN, subkey);
}

static bool in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

bool pc_apikey_parse(const char *text, size_t len, char *prefix)
{
	if (len != PC_APIKEY_LEN || memcmp(text, "pc_", 3) != 0 || text[3 + PC_APIKEY_PREFIX_LEN] != '_')
		return false;
	for (size_t i = 3; i < 3 + PC_APIKEY_PREFIX_LEN; i++)
		if (!in_set(text[i], prefix_alphabet))
			return false;
	for (size_t i = 4 + PC_APIKEY_PREFIX_LEN; i < len; i++)
		if (!in_set(text[i], "0123456789abcdef"))
			return false;
	size_t body = 4 + PC_APIKEY_PREFIX_LEN + PC_APIKEY_SECRET_HEX;
	char want[PC_APIKEY_CHECK_HEX + 1];
	checksum(want, text, body);
	if (memcmp(want, text + body, PC_APIKEY_CHECK_HEX) != 0)
		return false;
	memcpy(prefix, text + 3, PC_APIKEY_PREFIX_LEN);
	prefix[PC_APIKEY_PREFIX_LEN] = '\0';
	return true;
}
