/*
 * fuzz_csrf.c — libFuzzer target for pc_csrf_verify().
 *
 * Each input is used two ways, with fixed test keys (one key, and a
 * rotation where the first key is the previous one):
 *
 * 1. As a token, checked for a session-less request and for a request with
 *    a session. OK, EXPIRED and WRONG_BINDING for a pre-session token all
 *    need the text to be exactly PC_CSRF_TOKEN_LEN canonical base64url
 *    characters under a known key id (one text per value: the decoded bytes
 *    re-encode to the input); OK also needs a kind that matches the request
 *    and an expiry in the future.
 *
 * 2. As an XOR mask over tokens issued by pc_csrf_issue (bytes past the
 *    token are appended): a pre-session token and a session token. With an
 *    all-zero mask they verify (and give WRONG_BINDING on the wrong kind of
 *    request or another session); with any other mask never OK and never
 *    EXPIRED, since expiry is looked at only after the MAC.
 *
 * 3. As the fields of a token that this target MACs itself, following the
 *    construction in csrf.h (HMAC-SHA-256 under the csrf subkey over
 *    "pc-csrf-v1" || kind || nonce || expires_at || binding), so the checks
 *    after the MAC are reached: byte 0 picks the key id byte (the current
 *    key's, the previous key's, or a raw byte), the MAC key and binding and
 *    the request's session; then come kind, nonce and expiry. The verdict
 *    must equal a model of the rules in csrf.h (unknown key or kind > 1:
 *    INVALID; kind against the request's session: WRONG_BINDING; MAC under
 *    another key or binding: WRONG_BINDING for a session token, INVALID for
 *    a pre-session one; expiry past INT64_MAX or not after now: EXPIRED; a
 *    pre-session token whose nonce does not end in the first 16 bytes of
 *    BLAKE2b-personal("pc-presession-1", the request's pre-session id):
 *    WRONG_BINDING). When the first nonce byte is odd, that hash is planted,
 *    so OK is reached for pre-session tokens too.
 *
 * libsodium's RNG is deterministic (reset per input) so the issued tokens
 * are the same in every run and a crash reproduces.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/csrf.h"
#include "core/b64url.h"
#define PC_FUZZ_KEYSETS
#include "fuzz.h"

static const int64_t NOW = 1800000000;
static const char SID[] = "0123456789abcdef0123456789abcdef";
static const char SID2[] = "fedcba9876543210fedcba9876543210";
/* the fuzzing client's pre-session id, and a stranger's */
static const char PRE[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
static const char PRE2[] = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4";

/* ---- keys and tokens ---- */

static struct pc_keys keys_a, keys_rot;
static char tok_pre[PC_CSRF_TOKEN_LEN + 1];  /* pre-session, under a */
static char tok_sess[PC_CSRF_TOKEN_LEN + 1]; /* bound to SID, under a */

static void init(void)
{
	fuzz_sodium_init();
	make_key_rings(&keys_a, &keys_rot); /* rotation: a is the previous key */
	rng_counter = 0;
	pc_csrf_issue(tok_pre, &keys_a, NULL, PRE, NOW);
	pc_csrf_issue(tok_sess, &keys_a, SID, NULL, NOW);
	CHECK(strlen(tok_pre) == PC_CSRF_TOKEN_LEN && strlen(tok_sess) == PC_CSRF_TOKEN_LEN);
}

static bool b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* Verifies and checks what each status implies about the text. */
static enum pc_csrf_status verify_with(const char *t, size_t len, const struct pc_keys *keys, const char *sid,
                                       const char *pre)
{
	enum pc_csrf_status st = pc_csrf_verify(t, len, keys, sid, pre, pre ? strlen(pre) : 0, NOW);
	CHECK(st == PC_CSRF_OK || st == PC_CSRF_INVALID || st == PC_CSRF_EXPIRED ||
	      st == PC_CSRF_WRONG_BINDING);
	if (st != PC_CSRF_INVALID) {
		CHECK(len == PC_CSRF_TOKEN_LEN);
		for (size_t i = 0; i < len; i++)
			CHECK(b64url_char((unsigned char)t[i]));
		uint8_t raw[PC_CSRF_RAW_BYTES];
		size_t n = 0;
		CHECK(pc_b64url_decode(raw, sizeof(raw), &n, t, len) == 0 && n == sizeof(raw));
		char again[PC_CSRF_TOKEN_LEN + 1];
		pc_b64url_encode(again, sizeof(again), raw, n);
		CHECK(memcmp(again, t, len) == 0 && again[len] == '\0');
		CHECK(raw[0] == keys->current.id || (keys->has_previous && raw[0] == keys->previous.id));
		CHECK(raw[1] <= 1);
		if (st == PC_CSRF_OK || st == PC_CSRF_EXPIRED)
			CHECK((raw[1] == 1) == (sid != NULL)); /* the kind fits the request */
		if (st == PC_CSRF_OK) {
			uint64_t exp = 0;
			for (int i = 0; i < 8; i++)
				exp = (exp << 8) | raw[34 + i];
			CHECK(exp <= (uint64_t)INT64_MAX && (int64_t)exp > NOW);
		}
	}
	return st;
}

/* A request from the client whose pre-session id is PRE. */
static enum pc_csrf_status verify_checked(const char *t, size_t len, const struct pc_keys *keys,
                                          const char *sid)
{
	return verify_with(t, len, keys, sid, PRE);
}

static void masked(const char *tok, const uint8_t *data, size_t size, bool bound)
{
	size_t len = size > PC_CSRF_TOKEN_LEN ? size : PC_CSRF_TOKEN_LEN;
	char *t = malloc(len);
	CHECK(t != NULL);
	bool zero = size <= PC_CSRF_TOKEN_LEN;
	for (size_t i = 0; i < len; i++) {
		uint8_t m = i < size ? data[i] : 0;
		if (i < PC_CSRF_TOKEN_LEN) {
			t[i] = (char)((uint8_t)tok[i] ^ m);
			zero = zero && m == 0;
		} else {
			t[i] = (char)m;
		}
	}
	const struct pc_keys *ks[2] = {&keys_a, &keys_rot};
	for (int k = 0; k < 2; k++) {
		enum pc_csrf_status own = verify_checked(t, len, ks[k], bound ? SID : NULL);
		enum pc_csrf_status other = verify_checked(t, len, ks[k], bound ? NULL : SID);
		enum pc_csrf_status stranger = verify_checked(t, len, ks[k], SID2);
		enum pc_csrf_status thief = verify_with(t, len, ks[k], bound ? SID : NULL, PRE2);
		enum pc_csrf_status bare = verify_with(t, len, ks[k], bound ? SID : NULL, NULL);
		if (zero) {
			CHECK(own == PC_CSRF_OK);
			/* another client's cookie, or none: only a session token passes */
			CHECK(thief == (bound ? PC_CSRF_OK : PC_CSRF_WRONG_BINDING));
			CHECK(bare == (bound ? PC_CSRF_OK : PC_CSRF_WRONG_BINDING));
			CHECK(other == PC_CSRF_WRONG_BINDING);
			CHECK(stranger == PC_CSRF_WRONG_BINDING);
		} else {
			CHECK(own != PC_CSRF_OK && own != PC_CSRF_EXPIRED);
			CHECK(other != PC_CSRF_OK && other != PC_CSRF_EXPIRED);
			CHECK(stranger != PC_CSRF_OK && stranger != PC_CSRF_EXPIRED);
			CHECK(thief != PC_CSRF_OK && thief != PC_CSRF_EXPIRED);
			CHECK(bare != PC_CSRF_OK && bare != PC_CSRF_EXPIRED);
		}
	}
	free(t);
}

static void mac_of(uint8_t mac[32], const struct pc_keyset *ks, const uint8_t *raw, const char *binding)
{
	static const char tag[] = "pc-csrf-v1";
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, ks->sub[PC_SUBKEY_CSRF], PC_SECRET_KEY_BYTES);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)tag, sizeof(tag) - 1);
	crypto_auth_hmacsha256_update(&st, raw + 1, 1 + 32 + 8);
	if (binding != NULL)
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)binding, strlen(binding));
	crypto_auth_hmacsha256_final(&st, mac);
}

static const char *pick_sid(unsigned v)
{
	return v == 0 ? NULL : v == 1 ? SID : SID2;
}

/* Mode 3: fields from the input, a MAC made here. */
static void remac(const uint8_t *data, size_t size)
{
	uint8_t in[1 + 1 + 32 + 8 + 1] = {0};
	memcpy(in, data, size < sizeof(in) ? size : sizeof(in));
	const uint8_t sel = in[0];
	const struct pc_keys *keys = &keys_rot;
	uint8_t raw[PC_CSRF_RAW_BYTES];
	switch (sel & 3) {
	case 0: raw[0] = keys->current.id; break;
	case 1: raw[0] = keys->previous.id; break;
	default: raw[0] = in[sizeof(in) - 1]; break;
	}
	const struct pc_keyset *signer = sel & 4 ? &keys->previous : &keys->current;
	const char *binding = pick_sid((sel >> 3) % 3);
	const char *req = pick_sid((sel >> 5) % 3);
	memcpy(raw + 1, in + 1, 1 + 32 + 8);
	static const uint8_t personal[crypto_generichash_blake2b_PERSONALBYTES] = "pc-presession-1";
	uint8_t pre_hash[16];
	crypto_generichash_blake2b_salt_personal(pre_hash, 16, (const uint8_t *)PRE, strlen(PRE), NULL, 0, NULL,
	                                         personal);
	if (in[2] & 1)
		memcpy(raw + 2 + 16, pre_hash, 16);
	mac_of(raw + 42, signer, raw, binding);
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_b64url_encode(t, sizeof(t), raw, sizeof(raw));
	CHECK(strlen(t) == PC_CSRF_TOKEN_LEN);

	const struct pc_keyset *ks = raw[0] == keys->current.id ? &keys->current
	                             : raw[0] == keys->previous.id ? &keys->previous
	                                                           : NULL;
	const uint8_t kind = raw[1];
	uint64_t exp = 0;
	for (int i = 0; i < 8; i++)
		exp = (exp << 8) | raw[34 + i];
	/* whether the MAC verifies for the binding b */
#define MAC_OK(b) (ks == signer && (binding == NULL ? (b) == NULL : (b) != NULL && strcmp(binding, (b)) == 0))
	enum pc_csrf_status want;
	if (ks == NULL || kind > 1)
		want = PC_CSRF_INVALID;
	else if (kind == 1 && req == NULL)
		want = PC_CSRF_WRONG_BINDING;
	else if (kind == 0 && req != NULL)
		want = MAC_OK((const char *)NULL) ? PC_CSRF_WRONG_BINDING : PC_CSRF_INVALID;
	else if (!MAC_OK(kind == 1 ? req : NULL))
		want = kind == 1 ? PC_CSRF_WRONG_BINDING : PC_CSRF_INVALID;
	else if (exp > (uint64_t)INT64_MAX || (int64_t)exp <= NOW)
		want = PC_CSRF_EXPIRED;
	else if (kind == 0 && memcmp(raw + 2 + 16, pre_hash, 16) != 0)
		want = PC_CSRF_WRONG_BINDING;
	else
		want = PC_CSRF_OK;
#undef MAC_OK
	CHECK(verify_checked(t, PC_CSRF_TOKEN_LEN, keys, req) == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}
	rng_counter = 1000;

	char *t = malloc(size ? size : 1); /* exactly sized for ASan */
	CHECK(t != NULL);
	if (size > 0)
		memcpy(t, data, size);
	(void)verify_checked(t, size, &keys_a, NULL);
	(void)verify_checked(t, size, &keys_a, SID);
	(void)verify_checked(t, size, &keys_rot, SID);
	free(t);

	masked(tok_pre, data, size, false);
	masked(tok_sess, data, size, true);
	remac(data, size);
	return 0;
}
