/*
 * fuzz_apikey.c — libFuzzer target for pc_apikey_parse().
 *
 * Each input is used two ways:
 *
 * 1. As a presented key. The verdict must equal an independent model of the
 *    format in apikey.h: exactly PC_APIKEY_LEN bytes, "pc_", 12 characters
 *    of [a-z0-9], "_", 64 + 8 lowercase hex digits, and the last 8 the hex
 *    of the first 4 bytes of BLAKE2b-256 over the rest (recomputed here with
 *    crypto_generichash). An accepted key's prefix is copied out
 *    NUL-terminated, and the prefix buffer is not written past its size.
 *
 * 2. As an XOR mask over a key from pc_apikey_generate (bytes past the key
 *    are appended). With an all-zero mask it parses; a mutated key that is
 *    accepted must still satisfy the model (a consistent change of body and
 *    checksum is possible in principle, not by chance).
 *
 * 3. As a key body (its first 80 bytes) to which this target appends the
 *    right checksum, so the shape checks are tested on their own: without
 *    it a wrong alphabet would hide behind a checksum no fuzzer can forge.
 *
 * libsodium's RNG is deterministic so the generated key is the same in
 * every run.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/apikey.h"
#include "fuzz.h"

#define BODY_LEN (4 + PC_APIKEY_PREFIX_LEN + PC_APIKEY_SECRET_HEX)
_Static_assert(BODY_LEN + PC_APIKEY_CHECK_HEX == PC_APIKEY_LEN, "key layout");

static char key[PC_APIKEY_LEN + 1];
static uint8_t subkey[32];

static void init(void)
{
	fuzz_sodium_init();
	for (size_t i = 0; i < sizeof(subkey); i++)
		subkey[i] = (uint8_t)(3 + 17 * i);
	rng_counter = 0;
	char prefix[PC_APIKEY_PREFIX_LEN + 1];
	uint8_t hash[32];
	pc_apikey_generate(key, prefix, hash, subkey);
	CHECK(strlen(key) == PC_APIKEY_LEN);
}

static bool lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool lower_hex(unsigned char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

static bool model(const char *t, size_t len)
{
	if (len != PC_APIKEY_LEN || t[0] != 'p' || t[1] != 'c' || t[2] != '_' ||
	    t[3 + PC_APIKEY_PREFIX_LEN] != '_')
		return false;
	for (size_t i = 3; i < 3 + PC_APIKEY_PREFIX_LEN; i++)
		if (!lower_alnum((unsigned char)t[i]))
			return false;
	for (size_t i = 4 + PC_APIKEY_PREFIX_LEN; i < PC_APIKEY_LEN; i++)
		if (!lower_hex((unsigned char)t[i]))
			return false;
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), (const uint8_t *)t, BODY_LEN, NULL, 0);
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < PC_APIKEY_CHECK_HEX / 2; i++)
		if (t[BODY_LEN + 2 * i] != hex[h[i] >> 4] || t[BODY_LEN + 2 * i + 1] != hex[h[i] & 15])
			return false;
	return true;
}

/* Parses t and checks the verdict against the model; returns it. */
static bool parse_checked(const char *t, size_t len)
{
	/* exactly the documented size, on the heap, so ASan sees a write past it */
	char *prefix = malloc(PC_APIKEY_PREFIX_LEN + 1);
	CHECK(prefix != NULL);
	memset(prefix, 0x5a, PC_APIKEY_PREFIX_LEN + 1);
	bool ok = pc_apikey_parse(t, len, prefix);
	CHECK(ok == model(t, len));
	if (ok) {
		CHECK(memcmp(prefix, t + 3, PC_APIKEY_PREFIX_LEN) == 0);
		CHECK(prefix[PC_APIKEY_PREFIX_LEN] == '\0');
	}
	free(prefix);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}

	char *t = malloc(size ? size : 1); /* exactly sized for ASan */
	CHECK(t != NULL);
	if (size > 0)
		memcpy(t, data, size);
	(void)parse_checked(t, size);
	free(t);

	size_t len = size > PC_APIKEY_LEN ? size : PC_APIKEY_LEN;
	char *m = malloc(len);
	CHECK(m != NULL);
	bool zero = size <= PC_APIKEY_LEN;
	for (size_t i = 0; i < len; i++) {
		uint8_t b = i < size ? data[i] : 0;
		if (i < PC_APIKEY_LEN) {
			m[i] = (char)((uint8_t)key[i] ^ b);
			zero = zero && b == 0;
		} else {
			m[i] = (char)b;
		}
	}
	bool ok = parse_checked(m, len);
	if (zero)
		CHECK(ok);
	free(m);

	if (size >= BODY_LEN) {
		char *k = malloc(PC_APIKEY_LEN);
		CHECK(k != NULL);
		memcpy(k, data, BODY_LEN);
		uint8_t h[32];
		crypto_generichash(h, sizeof(h), data, BODY_LEN, NULL, 0);
		static const char hex[] = "0123456789abcdef";
		for (size_t i = 0; i < PC_APIKEY_CHECK_HEX / 2; i++) {
			k[BODY_LEN + 2 * i] = hex[h[i] >> 4];
			k[BODY_LEN + 2 * i + 1] = hex[h[i] & 15];
		}
		(void)parse_checked(k, PC_APIKEY_LEN);
		free(k);
	}
	return 0;
}
