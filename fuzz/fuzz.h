/*
 * fuzz.h — what every libFuzzer target here shares: CHECK (abort on a broken
 * invariant, so libFuzzer keeps the input), a deterministic libsodium RNG
 * (reset per input, so issued tokens and nonces are the same in every run
 * and a crash reproduces), and test key sets derived as the server derives
 * them.
 *
 * Header-only (static functions): each target is one translation unit.
 */
#ifndef PC_FUZZ_H
#define PC_FUZZ_H

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                   \
	do {                          \
		if (!(cond))          \
			abort();      \
	} while (0)

/* the next draw of the deterministic RNG; set it to restart a sequence */
static uint64_t rng_counter __attribute__((unused));

static void det_buf(void *buf, size_t n)
{
	uint8_t seed[randombytes_SEEDBYTES] = "portcullis fuzz deterministic!!";
	memcpy(seed, &rng_counter, sizeof(rng_counter));
	rng_counter++;
	randombytes_buf_deterministic(buf, n, seed);
}

static uint32_t det_random(void)
{
	uint32_t r;
	det_buf(&r, sizeof(r));
	return r;
}

static const char *det_name(void)
{
	return "fuzz-deterministic";
}

static struct randombytes_implementation det_impl __attribute__((unused)) = {
	.implementation_name = det_name,
	.random = det_random,
	.buf = det_buf,
};

/* Installs the deterministic RNG and initialises libsodium (call once). */
static inline void fuzz_sodium_init(void)
{
	CHECK(randombytes_set_implementation(&det_impl) == 0);
	CHECK(sodium_init() >= 0);
}

#ifdef PC_FUZZ_KEYSETS
#include "config/config.h"

/* A key set from a fixed master key, derived as the server derives it. */
static void make_keyset(struct pc_keyset *ks, uint8_t fill)
{
	memset(ks, 0, sizeof(*ks));
	for (size_t i = 0; i < sizeof(ks->master); i++)
		ks->master[i] = (uint8_t)(fill + 31 * i);
	for (int i = 1; i < PC_SUBKEY__COUNT; i++)
		crypto_kdf_derive_from_key(ks->sub[i], 32, (uint64_t)i, "portcull", ks->master);
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), ks->master, sizeof(ks->master), NULL, 0);
	ks->id = h[0];
}

/* `one`: a single key set; `rot`: a rotation with another set current and
 * `one`'s as the previous (their ids differ, as the server requires). */
static void make_key_rings(struct pc_keys *one, struct pc_keys *rot)
{
	memset(one, 0, sizeof(*one));
	memset(rot, 0, sizeof(*rot));
	make_keyset(&one->current, 1);
	uint8_t fill = 2;
	struct pc_keyset b;
	do
		make_keyset(&b, fill++);
	while (b.id == one->current.id);
	rot->current = b;
	rot->previous = one->current;
	rot->has_previous = true;
}
#endif

#endif
