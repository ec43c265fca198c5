/*
 * jwt.h — compact JWS access tokens, issued and verified strictly (RFC 8725).
 *
 * The accepted algorithm is fixed by our key (HS256 under the JWT subkey, or
 * EdDSA/Ed25519 with a configured signing key), never read from the token:
 * a token whose "alg" differs from the key's is refused before anything is
 * verified. Refused as well: "crit", key-carrying header members (jku, jwk,
 * x5u, x5c), a "typ" other than JWT or at+jwt, JWE and JSON serialization
 * (anything but exactly three segments), duplicate JSON members, any
 * non-canonical base64url, a signature of the wrong length, an unknown kid
 * (or a missing one while two keys are live), non-integer or absurd dates,
 * exp in the past, nbf or iat in the future (beyond the leeway), missing
 * exp/jti/sub, a wrong iss or aud, and tokens over PC_JWT_MAX_BYTES.
 *
 * Two layers: pc_jws_* is the signature layer (used by the RFC known-answer
 * tests, whose payloads are not our claims), pc_jwt_* adds the claims.
 */
#ifndef PC_AUTH_JWT_H
#define PC_AUTH_JWT_H

#include <stdbool.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#include <sodium.h>
#include "core/err.h"

#define PC_JWT_MAX_BYTES 8192
#define PC_JWT_KID_MAX 64
#define PC_JWT_SUB_MAX 64
#define PC_JWT_MAX_KEYS 2 /* current and previous */

enum pc_jws_alg { PC_JWS_HS256 = 0, PC_JWS_EDDSA = 1 };

struct pc_jws_key {
	char kid[PC_JWT_KID_MAX + 1]; /* "" : none (only allowed when it is the only key) */
	uint8_t secret[64];           /* HS256: the HMAC key; EdDSA: the libsodium secret key */
	size_t secret_len;            /* HS256: 32..64 */
	uint8_t public_key[crypto_sign_PUBLICKEYBYTES]; /* EdDSA */
	bool can_sign;                /* false for a verify-only (previous) key */
	/* filled by pc_jws_ring_prepare (optional: a speed-up, same results) */
	bool prepared;
	crypto_auth_hmacsha256_state hmac_state; /* after init with the key */
	char header_b64[192];        /* the header segment we issue with this key */
	size_t header_b64_len;
};

struct pc_jws_keyring {
	enum pc_jws_alg alg;
	struct pc_jws_key keys[PC_JWT_MAX_KEYS];
	size_t n_keys; /* keys[0] signs */
};

enum pc_jwt_status {
	PC_JWT_OK = 0,
	PC_JWT_MALFORMED,   /* framing, base64url, JSON, header members */
	PC_JWT_BAD_ALG,     /* alg is not our key's (none included) */
	PC_JWT_UNKNOWN_KID,
	PC_JWT_BAD_SIGNATURE,
	PC_JWT_BAD_CLAIMS,  /* missing or mistyped claims, wrong iss/aud */
	PC_JWT_EXPIRED,
	PC_JWT_NOT_YET_VALID,
};

/* Precomputes per key the HMAC state after the key block and the header
 * segment we issue, so verifying our own tokens skips two compression
 * rounds and the header's JSON parse. Call before making the ring
 * read-only. */
void pc_jws_ring_prepare(struct pc_jws_keyring *ring);

/* Name for logs and the problem detail. */
const char *pc_jwt_status_name(enum pc_jwt_status st);

/*
 * Verifies the signature layer of a compact JWS: header checked as above,
 * signature under the keyring. On PC_JWT_OK, payload (cap bytes) holds the
 * decoded payload and *payload_len its length.
 */
PC_MUST_USE enum pc_jwt_status pc_jws_verify(const struct pc_jws_keyring *ring, const char *token, size_t len,
                                             uint8_t *payload, size_t cap, size_t *payload_len);

/* Signs header.payload (both given as JSON text) into out. 0, or -1 when it
 * does not fit or no key can sign. */
PC_MUST_USE int pc_jws_sign(const struct pc_jws_keyring *ring, const char *header_json,
                            const uint8_t *payload, size_t payload_len, char *out, size_t cap);

struct pc_jwt_policy {
	const char *issuer;
	const char *audience;
	int64_t leeway_s; /* 0..60 */
};

struct pc_jwt_claims {
	char sub[PC_JWT_SUB_MAX + 1];
	char sid[PC_JWT_SUB_MAX + 1]; /* "" when absent */
	char jti[PC_JTI_MAX + 1]; /* 16..64 characters of [A-Za-z0-9_-] */
	char email[PC_EMAIL_MAX + 1]; /* private claim, "" when absent */
	char role[8];                 /* private claim "admin"/"member", "" when absent */
	char groups[PC_USER_GROUPS_TEXT + 1]; /* private claim (an array of group
	                                       * names), joined by ','; "" when absent or empty */
	int64_t exp, nbf, iat;        /* nbf/iat 0 when absent */
	unsigned factors;             /* from amr (RFC 8176): PC_FACTORS_* (1 without "mfa") */
};

/* Verifies signature and claims at time now. */
PC_MUST_USE enum pc_jwt_status pc_jwt_verify(const struct pc_jws_keyring *ring, const struct pc_jwt_policy *pol,
                                             const char *token, size_t len, int64_t now,
                                             struct pc_jwt_claims *out);

/*
 * A cache of verified tokens for one thread (no lock): a token seen before
 * skips the signature and the claims parse, not the time checks. A slot is
 * found by a 128-bit SipHash (crypto_shorthash_siphashx24) of the whole
 * token under a random per-cache key, compared in constant time: to be
 * served a cached verdict a token must collide with a verified one under a
 * key the attacker never sees. Only a PC_JWT_OK verdict is kept, with the
 * ring and policy it was reached under; on a hit exp, nbf and iat are
 * checked against `now` again, and revocation stays the caller's check on
 * every request. Zero-initialise; the key is drawn on first use.
 */
#define PC_JWT_CACHE_SLOTS 256 /* a power of two */
struct pc_jwt_cache {
	bool keyed;
	uint8_t key[crypto_shorthash_siphashx24_KEYBYTES];
	struct {
		uint8_t tag[crypto_shorthash_siphashx24_BYTES];
		const struct pc_jws_keyring *ring; /* NULL: empty slot */
		const struct pc_jwt_policy *pol;
		struct pc_jwt_claims c;
	} slot[PC_JWT_CACHE_SLOTS];
};

/* pc_jwt_verify through the cache: the same verdicts and claims. */
PC_MUST_USE enum pc_jwt_status pc_jwt_verify_cached(struct pc_jwt_cache *cache, const struct pc_jws_keyring *ring,
                                                    const struct pc_jwt_policy *pol, const char *token, size_t len,
                                                    int64_t now, struct pc_jwt_claims *out);

/* Issues an access token with iss, sub, aud, exp = now + lifetime, nbf =
 * iat = now, a fresh 128-bit jti (returned in jti_out, PC_JTI_MAX + 1
 * bytes), sid and email (either may be NULL), and, when role is not NULL
 * or "", role and groups (a valid groups text, "a,b", written as the array
 * ["a","b"]; NULL or "": []). 0 or -1. */
PC_MUST_USE int pc_jwt_issue(const struct pc_jws_keyring *ring, const struct pc_jwt_policy *pol,
                             const char *sub, const char *sid, const char *email, const char *role,
                             const char *groups, int64_t now, int64_t lifetime_s, char *out, size_t cap,
                             char *jti_out);
/* The amr claim (RFC 8176) of a factor record (PC_FACTORS_*), the one
 * mapping for access tokens and OIDC ID tokens. */
json_t *pc_jwt_amr_json(unsigned factors);

/* pc_jwt_issue with an amr claim (RFC 8176) last, by PC_FACTORS_*: ["pwd"],
 * ["pwd","otp","mfa"], ["pwd","hwk","mfa"], ["hwk","mfa"], the same with "swk" (0: no amr, as
 * pc_jwt_issue). */
PC_MUST_USE int pc_jwt_issue_amr(const struct pc_jws_keyring *ring, const struct pc_jwt_policy *pol,
                                 const char *sub, const char *sid, const char *email, const char *role,
                                 const char *groups, unsigned factors, int64_t now, int64_t lifetime_s, char *out,
                                 size_t cap, char *jti_out);

#endif
