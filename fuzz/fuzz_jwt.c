/*
 * fuzz_jwt.c — libFuzzer target for JWT verification (pc_jwt_verify and
 * its signature layer pc_jws_verify), with three key rings: HS256 with one
 * key, HS256 during a rotation (two keys, kid required) and EdDSA.
 *
 * Each input is used three ways:
 *
 * 1. As a token. pc_jwt_verify may say OK only when pc_jws_verify says OK;
 *    when the signature layer refuses, the JWT layer gives the same status.
 *    Accepted claims are NUL-terminated within their fields and meet the
 *    policy (jti alphabet and length, exp/nbf/iat against the clock).
 *
 * 2. As an XOR mask over tokens issued by pc_jwt_issue (bytes past a
 *    token's end are appended). A token verifies only with an all-zero
 *    mask and nothing appended, and then with the claims it was issued with.
 *
 * 3. As the text to sign: the header JSON up to the first NUL and the
 *    payload after it (no NUL: our usual header, the whole input as the
 *    payload), signed with each ring's key. Then the signature must never be
 *    what is refused by a single-key ring, the decoded payload must be the
 *    signed bytes, the verdict on the claims must match an independent model
 *    of the rules in jwt.h (written from the header's contract, with exact
 *    string comparison), and the token must never verify under another
 *    ring, including HS256 keyed with the Ed25519 public key (alg confusion).
 *
 * Every verification runs twice, with the ring as configured and with a
 * copy passed through pc_jws_ring_prepare (precomputed HMAC state, our own
 * header recognised byte for byte, a scanner for the claims we write):
 * jwt.h promises "same results", so status and claims must be identical;
 * so must pc_jwt_verify_cached, asked twice with one cache for every input.
 * Mode 3 with no NUL in the input signs under exactly the header we issue,
 * so arbitrary payloads reach that scanner.
 *
 * libsodium's RNG is made deterministic (reset per input) so issued tokens
 * are the same in every run and a crash reproduces.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "auth/jwt.h"
#include "core/b64url.h"
#include "fuzz.h"

static const int64_t NOW = 1800000000;
static const struct pc_jwt_policy POL = {"https://auth.example", "app", 30};
#define MAX_DATE 253402300799LL

/* ---- rings and issued tokens ---- */

enum { R_HS, R_HS_ROT, R_ED, R_EVIL, N_RINGS };
#define N_VERIFY_RINGS 3 /* R_EVIL only signs */

static struct pc_jws_keyring rings[N_RINGS]; /* as configured */
static struct pc_jws_keyring prep[N_RINGS];  /* the same, prepared */
static const char *const default_header[N_RINGS] = {
	[R_HS] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
	[R_HS_ROT] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k2\"}",
	[R_ED] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"e1\"}",
	[R_EVIL] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"e1\"}",
};

struct issued {
	char tok[1024];
	size_t len;
	char jti[PC_JTI_MAX + 1];
};
static struct issued issued[N_VERIFY_RINGS];

static void hs_key(struct pc_jws_key *k, const char *kid, uint8_t fill)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->kid, sizeof(k->kid), "%s", kid);
	for (size_t i = 0; i < 32; i++)
		k->secret[i] = (uint8_t)(fill + 13 * i);
	k->secret_len = 32;
	k->can_sign = true;
}

static void init(void)
{
	fuzz_sodium_init();
	memset(rings, 0, sizeof(rings));

	rings[R_HS].alg = PC_JWS_HS256;
	rings[R_HS].n_keys = 1;
	hs_key(&rings[R_HS].keys[0], "k1", 1);

	rings[R_HS_ROT].alg = PC_JWS_HS256;
	rings[R_HS_ROT].n_keys = 2;
	hs_key(&rings[R_HS_ROT].keys[0], "k2", 2);
	hs_key(&rings[R_HS_ROT].keys[1], "k1", 1); /* the previous key: R_HS's */
	rings[R_HS_ROT].keys[1].can_sign = false;

	uint8_t seed[32];
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(7 + 29 * i);
	rings[R_ED].alg = PC_JWS_EDDSA;
	rings[R_ED].n_keys = 1;
	snprintf(rings[R_ED].keys[0].kid, sizeof(rings[R_ED].keys[0].kid), "e1");
	crypto_sign_seed_keypair(rings[R_ED].keys[0].public_key, rings[R_ED].keys[0].secret, seed);
	rings[R_ED].keys[0].secret_len = crypto_sign_SECRETKEYBYTES;
	rings[R_ED].keys[0].can_sign = true;

	/* HS256 keyed with the Ed25519 public key: the alg-confusion forger */
	rings[R_EVIL].alg = PC_JWS_HS256;
	rings[R_EVIL].n_keys = 1;
	hs_key(&rings[R_EVIL].keys[0], "e1", 0);
	memcpy(rings[R_EVIL].keys[0].secret, rings[R_ED].keys[0].public_key, 32);

	for (int r = 0; r < N_RINGS; r++) {
		prep[r] = rings[r];
		pc_jws_ring_prepare(&prep[r]);
		for (size_t k = 0; k < prep[r].n_keys; k++)
			CHECK(prep[r].keys[k].prepared);
	}

	for (int r = 0; r < N_VERIFY_RINGS; r++) {
		rng_counter = (uint64_t)r;
		CHECK(pc_jwt_issue(&rings[r], &POL, "user-1", "sess-1", "a@example.com", "member", "ops", NOW, 900,
		                   issued[r].tok, sizeof(issued[r].tok), issued[r].jti) == 0);
		issued[r].len = strlen(issued[r].tok);
		/* a prepared ring issues the very same token */
		char again[1024], jti[PC_JTI_MAX + 1];
		rng_counter = (uint64_t)r;
		CHECK(pc_jwt_issue(&prep[r], &POL, "user-1", "sess-1", "a@example.com", "member", "ops", NOW, 900, again,
		                   sizeof(again), jti) == 0);
		CHECK(strcmp(again, issued[r].tok) == 0 && strcmp(jti, issued[r].jti) == 0);
		struct pc_jwt_claims c;
		CHECK(pc_jwt_verify(&rings[r], &POL, issued[r].tok, issued[r].len, NOW, &c) == PC_JWT_OK);
		CHECK(pc_jwt_verify(&prep[r], &POL, issued[r].tok, issued[r].len, NOW, &c) == PC_JWT_OK);
	}
}

/* ---- checks ---- */

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool jti_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
	       ch == '_';
}

static void check_claims(const struct pc_jwt_claims *c)
{
	CHECK(terminated(c->sub, sizeof(c->sub)));
	CHECK(terminated(c->sid, sizeof(c->sid)));
	CHECK(terminated(c->jti, sizeof(c->jti)));
	CHECK(terminated(c->email, sizeof(c->email)));
	CHECK(strlen(c->sub) >= 1);
	size_t jl = strlen(c->jti);
	CHECK(jl >= 16 && jl <= PC_JTI_MAX);
	for (size_t i = 0; i < jl; i++)
		CHECK(jti_char(c->jti[i]));
	CHECK(c->exp > 0 && c->exp <= MAX_DATE && c->exp + POL.leeway_s > NOW);
	CHECK(c->nbf >= 0 && c->nbf <= NOW + POL.leeway_s);
	CHECK(c->iat >= 0 && c->iat <= NOW + POL.leeway_s);
}

static size_t dots(const char *t, size_t n)
{
	size_t d = 0;
	for (size_t i = 0; i < n; i++)
		d += t[i] == '.';
	return d;
}

/* Verifies with both layers and checks how they relate. */
static enum pc_jwt_status verify_one(const struct pc_jws_keyring *ring, const char *tok, size_t len,
                                     struct pc_jwt_claims *c, uint8_t *payload, size_t *pn)
{
	memset(c, 0xa5, sizeof(*c));
	enum pc_jwt_status st = pc_jwt_verify(ring, &POL, tok, len, NOW, c);
	enum pc_jwt_status js = pc_jws_verify(ring, tok, len, payload, PC_JWT_MAX_BYTES, pn);
	CHECK((unsigned)st <= PC_JWT_NOT_YET_VALID && (unsigned)js <= PC_JWT_NOT_YET_VALID);
	CHECK(js == PC_JWT_OK || js == PC_JWT_MALFORMED || js == PC_JWT_BAD_ALG ||
	      js == PC_JWT_UNKNOWN_KID || js == PC_JWT_BAD_SIGNATURE);
	if (js != PC_JWT_OK)
		CHECK(st == js);
	if (js == PC_JWT_OK) {
		CHECK(len <= PC_JWT_MAX_BYTES && dots(tok, len) == 2);
		CHECK(*pn <= PC_JWT_MAX_BYTES);
	}
	if (st == PC_JWT_OK) {
		CHECK(js == PC_JWT_OK);
		check_claims(c);
	}
	return st;
}

/* verify_one with ring r as configured and prepared: the same verdict, the
 * same claims, the same payload. */
static uint8_t payload2[PC_JWT_MAX_BYTES];

static enum pc_jwt_status verify_checked(int r, const char *tok, size_t len, struct pc_jwt_claims *c,
                                         uint8_t *payload, size_t *pn)
{
	struct pc_jwt_claims c2;
	size_t pn2 = 0;
	enum pc_jwt_status st = verify_one(&rings[r], tok, len, c, payload, pn);
	enum pc_jwt_status st2 = verify_one(&prep[r], tok, len, &c2, payload2, &pn2);
	CHECK(st == st2);
	/* through the cache of verified tokens, twice (a miss, then maybe a
	 * hit): the same verdict and claims */
	static struct pc_jwt_cache cache;
	for (int k = 0; k < 2; k++) {
		struct pc_jwt_claims c3;
		CHECK(pc_jwt_verify_cached(&cache, &prep[r], &POL, tok, len, NOW, &c3) == st);
		if (st == PC_JWT_OK)
			CHECK(strcmp(c->sub, c3.sub) == 0 && strcmp(c->sid, c3.sid) == 0 &&
			      strcmp(c->jti, c3.jti) == 0 && strcmp(c->email, c3.email) == 0 &&
			      c->exp == c3.exp && c->nbf == c3.nbf && c->iat == c3.iat);
	}
	if (st == PC_JWT_OK) {
		CHECK(strcmp(c->sub, c2.sub) == 0 && strcmp(c->sid, c2.sid) == 0);
		CHECK(strcmp(c->jti, c2.jti) == 0 && strcmp(c->email, c2.email) == 0);
		CHECK(c->exp == c2.exp && c->nbf == c2.nbf && c->iat == c2.iat);
		CHECK(*pn == pn2 && memcmp(payload, payload2, pn2) == 0);
	}
	return st;
}

/* ---- the claims model (from jwt.h, exact comparisons) ---- */

static bool m_date(json_t *o, const char *name, bool required)
{
	json_t *v = json_object_get(o, name);
	if (v == NULL)
		return !required;
	if (!json_is_integer(v))
		return false;
	json_int_t x = json_integer_value(v);
	return x > 0 && x <= MAX_DATE;
}

static bool m_string(json_t *o, const char *name, bool required, size_t min, size_t max)
{
	json_t *v = json_object_get(o, name);
	if (v == NULL)
		return !required;
	if (!json_is_string(v))
		return false;
	size_t n = json_string_length(v);
	return n >= min && n <= max && memchr(json_string_value(v), '\0', n) == NULL;
}

static bool m_equal(json_t *v, const char *want)
{
	return json_is_string(v) && json_string_length(v) == strlen(want) &&
	       memcmp(json_string_value(v), want, strlen(want)) == 0;
}

static enum pc_jwt_status model_claims(const uint8_t *payload, size_t pn)
{
	json_error_t jerr;
	json_t *c = json_loadb((const char *)payload, pn, JSON_REJECT_DUPLICATES, &jerr);
	if (c == NULL || !json_is_object(c)) {
		json_decref(c);
		return PC_JWT_MALFORMED;
	}
	enum pc_jwt_status st = PC_JWT_BAD_CLAIMS;
	bool ok = m_date(c, "exp", true) && m_date(c, "nbf", false) && m_date(c, "iat", false) &&
	          m_string(c, "sub", true, 1, PC_JWT_SUB_MAX) && m_string(c, "jti", true, 16, PC_JTI_MAX) &&
	          m_string(c, "sid", false, 1, PC_JWT_SUB_MAX) && m_string(c, "email", false, 1, PC_EMAIL_MAX) &&
	          m_equal(json_object_get(c, "iss"), POL.issuer);
	if (ok) {
		const char *jti = json_string_value(json_object_get(c, "jti"));
		for (size_t i = 0; jti[i] != '\0'; i++)
			ok = ok && jti_char(jti[i]);
	}
	if (ok) {
		json_t *aud = json_object_get(c, "aud");
		if (json_is_array(aud) && json_array_size(aud) > 0) {
			bool found = false, all_strings = true;
			for (size_t i = 0; i < json_array_size(aud); i++) {
				json_t *e = json_array_get(aud, i);
				all_strings = all_strings && json_is_string(e);
				found = found || m_equal(e, POL.audience);
			}
			ok = all_strings && found;
		} else {
			ok = m_equal(aud, POL.audience);
		}
	}
	if (ok) {
		json_int_t exp = json_integer_value(json_object_get(c, "exp"));
		json_t *nbf = json_object_get(c, "nbf"), *iat = json_object_get(c, "iat");
		if (exp + POL.leeway_s <= NOW)
			st = PC_JWT_EXPIRED;
		else if ((nbf != NULL && json_integer_value(nbf) > NOW + POL.leeway_s) ||
		         (iat != NULL && json_integer_value(iat) > NOW + POL.leeway_s))
			st = PC_JWT_NOT_YET_VALID;
		else
			st = PC_JWT_OK;
	}
	json_decref(c);
	return st;
}

/* The accepted claims are the payload's. */
static void check_claims_match(const struct pc_jwt_claims *c, const uint8_t *payload, size_t pn)
{
	json_error_t jerr;
	json_t *o = json_loadb((const char *)payload, pn, JSON_REJECT_DUPLICATES, &jerr);
	CHECK(o != NULL);
	CHECK(m_equal(json_object_get(o, "sub"), c->sub));
	CHECK(m_equal(json_object_get(o, "jti"), c->jti));
	json_t *sid = json_object_get(o, "sid"), *email = json_object_get(o, "email");
	CHECK(sid == NULL ? c->sid[0] == '\0' : m_equal(sid, c->sid));
	CHECK(email == NULL ? c->email[0] == '\0' : m_equal(email, c->email));
	CHECK(json_integer_value(json_object_get(o, "exp")) == c->exp);
	json_t *nbf = json_object_get(o, "nbf"), *iat = json_object_get(o, "iat");
	CHECK(nbf == NULL ? c->nbf == 0 : json_integer_value(nbf) == c->nbf);
	CHECK(iat == NULL ? c->iat == 0 : json_integer_value(iat) == c->iat);
	json_decref(o);
}

/* ---- the three modes ---- */

static uint8_t payload[PC_JWT_MAX_BYTES];

static void as_token(const uint8_t *data, size_t size)
{
	char *tok = malloc(size ? size : 1); /* exactly sized for ASan */
	CHECK(tok != NULL);
	if (size > 0)
		memcpy(tok, data, size);
	for (int r = 0; r < N_VERIFY_RINGS; r++) {
		struct pc_jwt_claims c;
		size_t pn = 0;
		(void)verify_checked(r, tok, size, &c, payload, &pn);
	}
	free(tok);
}

static void as_mask(const uint8_t *data, size_t size)
{
	for (int r = 0; r < N_VERIFY_RINGS; r++) {
		const struct issued *is = &issued[r];
		size_t len = size > is->len ? size : is->len;
		char *t = malloc(len);
		CHECK(t != NULL);
		bool zero = size <= is->len;
		for (size_t i = 0; i < len; i++) {
			uint8_t m = i < size ? data[i] : 0;
			if (i < is->len) {
				t[i] = (char)((uint8_t)is->tok[i] ^ m);
				zero = zero && m == 0;
			} else {
				t[i] = (char)m;
			}
		}
		struct pc_jwt_claims c;
		size_t pn = 0;
		enum pc_jwt_status st = verify_checked(r, t, len, &c, payload, &pn);
		if (zero) {
			CHECK(st == PC_JWT_OK);
			CHECK(strcmp(c.sub, "user-1") == 0 && strcmp(c.sid, "sess-1") == 0);
			CHECK(strcmp(c.email, "a@example.com") == 0 && strcmp(c.jti, is->jti) == 0);
			CHECK(c.exp == NOW + 900 && c.nbf == NOW && c.iat == NOW);
		} else {
			CHECK(st != PC_JWT_OK);
		}
		/* a token of one ring never verifies under another key */
		for (int o = 0; o < N_VERIFY_RINGS; o++) {
			if (o == r || (r == R_HS && o == R_HS_ROT))
				continue; /* R_HS_ROT holds R_HS's key as its previous one */
			CHECK(verify_checked(o, t, len, &c, payload, &pn) != PC_JWT_OK);
		}
		free(t);
	}
}

static void as_signed(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	char *hdr = NULL;
	const uint8_t *pl = data;
	size_t pl_len = size;
	if (nul != NULL) {
		size_t hl = (size_t)(nul - data);
		hdr = malloc(hl + 1);
		CHECK(hdr != NULL);
		memcpy(hdr, data, hl);
		hdr[hl] = '\0';
		pl = nul + 1;
		pl_len = size - hl - 1;
	}
	size_t cap = 2 * size + 512;
	char *tok = malloc(cap);
	CHECK(tok != NULL);
	for (int r = 0; r < N_RINGS; r++) {
		const char *h = hdr != NULL ? hdr : default_header[r];
		CHECK(pc_jws_sign(&rings[r], h, pl, pl_len, tok, cap) == 0);
		size_t len = strlen(tok);
		struct pc_jwt_claims c;
		size_t pn = 0;
		if (r != R_EVIL) {
			enum pc_jwt_status st = verify_checked(r, tok, len, &c, payload, &pn);
			enum pc_jwt_status js = pc_jws_verify(&rings[r], tok, len, payload, sizeof(payload), &pn);
			/* signed with the ring's own signing key: the signature is
			 * never what fails, unless the header names the other key */
			if (rings[r].n_keys == 1)
				CHECK(js != PC_JWT_BAD_SIGNATURE);
			if (hdr == NULL && len <= PC_JWT_MAX_BYTES)
				CHECK(js == PC_JWT_OK);
			if (js == PC_JWT_OK) {
				CHECK(pn == pl_len && (pl_len == 0 || memcmp(payload, pl, pl_len) == 0));
				enum pc_jwt_status want = model_claims(pl, pl_len);
				CHECK(st == want);
				if (st == PC_JWT_OK)
					check_claims_match(&c, pl, pl_len);
			}
		}
		for (int o = 0; o < N_VERIFY_RINGS; o++) {
			if (o == r || (r == R_HS && o == R_HS_ROT))
				continue;
			CHECK(verify_checked(o, tok, len, &c, payload, &pn) != PC_JWT_OK);
		}
	}
	free(tok);
	free(hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}
	rng_counter = 1000;
	as_token(data, size);
	as_mask(data, size);
	as_signed(data, size);
	return 0;
}
