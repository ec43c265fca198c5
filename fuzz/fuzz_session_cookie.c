/*
 * fuzz_session_cookie.c — libFuzzer target for pc_session_open().
 *
 * Two uses of each input, both with fixed test keys:
 *
 * 1. The bytes are a cookie value. Whatever the result, the outputs must be
 *    clean on failure (secret zeroed, expiry 0). Accepting is possible only
 *    for exactly PC_SESSION_COOKIE_LEN canonical base64url characters that
 *    decode to a sealed value under a known key id; the decoded value must
 *    re-encode to the very input (one text per value).
 *
 * 2. The bytes are an XOR mask over a cookie sealed by pc_session_seal()
 *    (bytes past the cookie's length are appended to it). The result may
 *    open only when the mask is all zero and nothing was appended; it then
 *    opens to the sealed secret and expiry. Checked for the current key,
 *    for a cookie sealed under the previous key during rotation, and for an
 *    expired cookie (zero mask: EXPIRED; any other mask: never OK or
 *    EXPIRED, since expiry is read only after the ciphertext is authentic).
 *
 * 3. As the content of a cookie that this target seals itself, following
 *    session.h (XChaCha20-Poly1305 under the session subkey, the purpose
 *    string as associated data), so the checks after decryption are
 *    reached: byte 0 picks the key id byte (current, previous or raw) and
 *    the sealing key; then come the nonce, the secret and the expiry. The
 *    verdict must equal the model: unknown id, or sealed under a key other
 *    than the one the id names: TAMPERED; expiry (signed, big-endian) not
 *    after now: EXPIRED; else OK with that secret and expiry.
 *
 * libsodium's RNG is replaced by a deterministic one reset for each input,
 * so the sealed cookies (their nonces) are the same in every run and a
 * crashing input reproduces.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/session.h"
#include "core/b64url.h"
#define PC_FUZZ_KEYSETS
#include "fuzz.h"

static const int64_t NOW = 1800000000;

/* ---- keys ---- */

static struct pc_keys keys_a, keys_rot;
static char sealed_a[PC_SESSION_COOKIE_LEN + 1];      /* under a, live */
static char sealed_expired[PC_SESSION_COOKIE_LEN + 1]; /* under a, expired */
static uint8_t secret_a[PC_SESSION_SECRET_BYTES];

static void init(void)
{
	fuzz_sodium_init();
	make_key_rings(&keys_a, &keys_rot); /* rotation: a is the previous key */

	rng_counter = 0;
	randombytes_buf(secret_a, sizeof(secret_a));
	pc_session_seal(sealed_a, secret_a, NOW + 3600, &keys_a);
	pc_session_seal(sealed_expired, secret_a, NOW - 1, &keys_a);
	CHECK(strlen(sealed_a) == PC_SESSION_COOKIE_LEN);
	CHECK(strlen(sealed_expired) == PC_SESSION_COOKIE_LEN);
}

static bool b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* Opens value and checks the outputs' contract; returns the status. */
static enum pc_cookie_status open_checked(const char *value, size_t len, const struct pc_keys *keys,
                                          uint8_t secret[PC_SESSION_SECRET_BYTES], int64_t *exp)
{
	memset(secret, 0xa5, PC_SESSION_SECRET_BYTES);
	*exp = -7;
	enum pc_cookie_status st = pc_session_open(secret, exp, value, len, keys, NOW);
	CHECK(st == PC_COOKIE_OK || st == PC_COOKIE_TAMPERED || st == PC_COOKIE_EXPIRED);
	if (st != PC_COOKIE_OK) {
		CHECK(sodium_is_zero(secret, PC_SESSION_SECRET_BYTES));
		CHECK(*exp == 0);
	} else {
		CHECK(*exp > NOW);
	}
	if (st != PC_COOKIE_TAMPERED) {
		/* got as far as the ciphertext: the text was canonical */
		CHECK(len == PC_SESSION_COOKIE_LEN);
		for (size_t i = 0; i < len; i++)
			CHECK(b64url_char((unsigned char)value[i]));
		uint8_t raw[PC_SESSION_SEALED_BYTES];
		size_t n = 0;
		CHECK(pc_b64url_decode(raw, sizeof(raw), &n, value, len) == 0 && n == sizeof(raw));
		CHECK(raw[0] == keys->current.id || (keys->has_previous && raw[0] == keys->previous.id));
		char again[PC_SESSION_COOKIE_LEN + 1];
		pc_b64url_encode(again, sizeof(again), raw, n);
		CHECK(memcmp(again, value, len) == 0 && again[len] == '\0');
	}
	return st;
}

/* Mask mode: sealed ^ data (+ appended excess) under keys. */
static void masked(const char *sealed, const struct pc_keys *keys, const uint8_t *data, size_t size,
                   enum pc_cookie_status want_when_zero)
{
	size_t len = size > PC_SESSION_COOKIE_LEN ? size : PC_SESSION_COOKIE_LEN;
	char *v = malloc(len);
	CHECK(v != NULL);
	bool zero = size <= PC_SESSION_COOKIE_LEN;
	for (size_t i = 0; i < len; i++) {
		uint8_t m = i < size ? data[i] : 0;
		if (i < PC_SESSION_COOKIE_LEN) {
			v[i] = (char)((uint8_t)sealed[i] ^ m);
			zero = zero && m == 0;
		} else {
			v[i] = (char)m;
		}
	}
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t exp;
	enum pc_cookie_status st = open_checked(v, len, keys, secret, &exp);
	if (zero) {
		CHECK(st == want_when_zero);
		if (st == PC_COOKIE_OK) {
			CHECK(memcmp(secret, secret_a, sizeof(secret)) == 0);
			CHECK(exp == NOW + 3600);
		}
	} else {
		CHECK(st == PC_COOKIE_TAMPERED);
	}
	free(v);
}

/* Mode 3: the plaintext from the input, sealed here. */
static void resealed(const uint8_t *data, size_t size)
{
	static const unsigned char ad[] = "portcullis session v1";
	uint8_t in[1 + 24 + PC_SESSION_SECRET_BYTES + 8 + 1] = {0};
	memcpy(in, data, size < sizeof(in) ? size : sizeof(in));
	const uint8_t sel = in[0];
	const struct pc_keys *keys = sel & 8 ? &keys_a : &keys_rot;
	uint8_t sealed[PC_SESSION_SEALED_BYTES];
	switch (sel & 3) {
	case 0: sealed[0] = keys->current.id; break;
	case 1: sealed[0] = keys_rot.previous.id; break;
	default: sealed[0] = in[sizeof(in) - 1]; break;
	}
	const struct pc_keyset *signer = sel & 4 ? &keys_rot.previous : &keys->current;
	memcpy(sealed + 1, in + 1, 24);
	const uint8_t *plain = in + 25;
	crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + 25, NULL, plain, PC_SESSION_SECRET_BYTES + 8, ad,
	                                           sizeof(ad) - 1, NULL, sealed + 1,
	                                           signer->sub[PC_SUBKEY_SESSION]);
	char v[PC_SESSION_COOKIE_LEN + 1];
	pc_b64url_encode(v, sizeof(v), sealed, sizeof(sealed));
	CHECK(strlen(v) == PC_SESSION_COOKIE_LEN);

	/* it opens when the id byte names the keyset it was sealed with */
	const uint8_t *sk = signer->sub[PC_SUBKEY_SESSION];
	bool opens = (sealed[0] == keys->current.id && memcmp(sk, keys->current.sub[PC_SUBKEY_SESSION], 32) == 0) ||
	             (keys->has_previous && sealed[0] == keys->previous.id &&
	              memcmp(sk, keys->previous.sub[PC_SUBKEY_SESSION], 32) == 0);
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u = (u << 8) | plain[PC_SESSION_SECRET_BYTES + i];
	const int64_t exp_in = (int64_t)u;

	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t exp;
	enum pc_cookie_status st = open_checked(v, PC_SESSION_COOKIE_LEN, keys, secret, &exp);
	if (!opens) {
		CHECK(st == PC_COOKIE_TAMPERED);
	} else if (exp_in <= NOW) {
		CHECK(st == PC_COOKIE_EXPIRED);
	} else {
		CHECK(st == PC_COOKIE_OK);
		CHECK(memcmp(secret, plain, PC_SESSION_SECRET_BYTES) == 0 && exp == exp_in);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}
	rng_counter = 1000;

	/* 1. the bytes as a cookie value (exactly sized for ASan) */
	char *v = malloc(size ? size : 1);
	CHECK(v != NULL);
	if (size > 0)
		memcpy(v, data, size);
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t exp;
	(void)open_checked(v, size, &keys_a, secret, &exp);
	(void)open_checked(v, size, &keys_rot, secret, &exp);
	free(v);

	/* 2. the bytes as a mask over sealed cookies */
	masked(sealed_a, &keys_a, data, size, PC_COOKIE_OK);
	masked(sealed_a, &keys_rot, data, size, PC_COOKIE_OK); /* sealed under the previous key */
	masked(sealed_expired, &keys_a, data, size, PC_COOKIE_EXPIRED);
	resealed(data, size);
	return 0;
}
