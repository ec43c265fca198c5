/*
 * jwt.c — see jwt.h.
 *
 * HS256 uses the multi-part HMAC API with the key's real length: the
 * one-shot crypto_auth_hmacsha256() takes exactly 32 bytes and silently
 * computes something else for RFC 7515's 64-byte key (shared/vectors/jws.md).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/jwt.h"
#include "core/b64url.h"
#include "core/principal.h"
#include "core/text.h"

#define HS256_SIG 32
#define EDDSA_SIG 64
#define MAX_HEADER 1024
#define MAX_DATE 253402300799LL /* 9999-12-31T23:59:59Z */

static const char *const alg_names[] = {"HS256", "EdDSA"};

const char *pc_jwt_status_name(enum pc_jwt_status st)
{
	static const char *const names[] = {"ok", "malformed", "bad_alg", "unknown_kid",
	                                    "bad_signature", "bad_claims", "expired",
	                                    "not_yet_valid"};
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

static void hs256(uint8_t out[HS256_SIG], const struct pc_jws_key *k, const char *in, size_t len)
{
	crypto_auth_hmacsha256_state st;
	if (k->prepared)
		st = k->hmac_state;
	else
		crypto_auth_hmacsha256_init(&st, k->secret, k->secret_len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)in, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* The header: a JSON object with exactly our members. Chooses the key. */
static enum pc_jwt_status check_header(const struct pc_jws_keyring *ring, const uint8_t *hdr,
                                       size_t len, const struct pc_jws_key **key)
{
	json_error_t jerr;
	json_t *h = json_loadb((const char *)hdr, len, JSON_REJECT_DUPLICATES, &jerr);
	if (h == NULL || !json_is_object(h)) {
		json_decref(h);
		return PC_JWT_MALFORMED;
	}
	enum pc_jwt_status st = PC_JWT_OK;
	const char *name;
	json_t *v;
	const char *kid = NULL;
	bool have_alg = false;
	json_object_foreach(h, name, v) {
		if (strcmp(name, "alg") == 0) {
			/* exact, case-sensitive: "none", "None", "HS512", ... all differ */
			if (!json_is_string(v) || strcmp(json_string_value(v), alg_names[ring->alg]) != 0) {
				st = PC_JWT_BAD_ALG;
				break;
			}
			have_alg = true;
		} else if (strcmp(name, "typ") == 0) {
			const char *t = json_is_string(v) ? json_string_value(v) : "";
			if (strcasecmp(t, "JWT") != 0 && strcasecmp(t, "at+jwt") != 0 &&
			    strcasecmp(t, "application/at+jwt") != 0) {
				st = PC_JWT_MALFORMED;
				break;
			}
		} else if (strcmp(name, "kid") == 0) {
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > PC_JWT_KID_MAX) {
				st = PC_JWT_UNKNOWN_KID;
				break;
			}
			kid = json_string_value(v);
		} else {
			/* crit, jku, jwk, x5u, x5c, b64, zip, enc, cty and anything
			 * else: we never act on them, so we do not accept them. */
			st = PC_JWT_MALFORMED;
			break;
		}
	}
	if (st == PC_JWT_OK && !have_alg)
		st = PC_JWT_BAD_ALG;
	if (st == PC_JWT_OK) {
		*key = NULL;
		if (kid == NULL) {
			/* no kid: only unambiguous while a single key is live */
			if (ring->n_keys == 1)
				*key = &ring->keys[0];
		} else {
			for (size_t i = 0; i < ring->n_keys; i++)
				if (strcmp(ring->keys[i].kid, kid) == 0)
					*key = &ring->keys[i];
		}
		if (*key == NULL)
			st = PC_JWT_UNKNOWN_KID;
	}
	json_decref(h);
	return st;
}

/* *ours: the header was byte for byte one we issue (so, after the
 * signature, the payload is one pc_jwt_issue wrote). */
static enum pc_jwt_status jws_verify(const struct pc_jws_keyring *ring, const char *token, size_t len,
                                     uint8_t *payload, size_t cap, size_t *payload_len, bool *ours)
{
	*ours = false;
	if (len == 0 || len > PC_JWT_MAX_BYTES)
		return PC_JWT_MALFORMED;
	const char *d1 = memchr(token, '.', len);
	if (d1 == NULL)
		return PC_JWT_MALFORMED;
	const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
	if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
		return PC_JWT_MALFORMED; /* two segments, or JWE's five */
	size_t hlen = (size_t)(d1 - token);
	size_t plen = (size_t)(d2 - d1 - 1);
	size_t slen = len - (size_t)(d2 + 1 - token);

	const struct pc_jws_key *key = NULL;
	/* our own header, byte for byte: already known to be valid */
	for (size_t i = 0; i < ring->n_keys && key == NULL; i++)
		if (ring->keys[i].prepared && ring->keys[i].header_b64_len == hlen &&
		    memcmp(ring->keys[i].header_b64, token, hlen) == 0)
			key = &ring->keys[i];
	*ours = key != NULL;
	if (key == NULL) {
		uint8_t hdr[MAX_HEADER];
		size_t hn = 0;
		if (hlen == 0 || pc_b64url_decode(hdr, sizeof(hdr), &hn, token, hlen) != 0)
			return PC_JWT_MALFORMED;
		enum pc_jwt_status st = check_header(ring, hdr, hn, &key);
		if (st != PC_JWT_OK)
			return st;
	}

	uint8_t sig[EDDSA_SIG];
	size_t sn = 0;
	size_t want = ring->alg == PC_JWS_HS256 ? HS256_SIG : EDDSA_SIG;
	if (pc_b64url_decode(sig, sizeof(sig), &sn, d2 + 1, slen) != 0 || sn != want)
		return PC_JWT_BAD_SIGNATURE;
	size_t signed_len = (size_t)(d2 - token);
	if (ring->alg == PC_JWS_HS256) {
		uint8_t mac[HS256_SIG];
		hs256(mac, key, token, signed_len);
		int bad = sodium_memcmp(mac, sig, HS256_SIG);
		sodium_memzero(mac, sizeof(mac));
		if (bad != 0)
			return PC_JWT_BAD_SIGNATURE;
	} else if (crypto_sign_verify_detached(sig, (const uint8_t *)token, signed_len,
	                                       key->public_key) != 0) {
		return PC_JWT_BAD_SIGNATURE;
	}
	if (pc_b64url_decode(payload, cap, payload_len, d1 + 1, plen) != 0)
		return PC_JWT_MALFORMED;
	return PC_JWT_OK;
}

enum pc_jwt_status pc_jws_verify(const struct pc_jws_keyring *ring, const char *token, size_t len,
                                 uint8_t *payload, size_t cap, size_t *payload_len)
{
	bool ours;
	return jws_verify(ring, token, len, payload, cap, payload_len, &ours);
}

int pc_jws_sign(const struct pc_jws_keyring *ring, const char *header_json,
                const uint8_t *payload, size_t payload_len, char *out, size_t cap)
{
	if (ring->n_keys == 0 || !ring->keys[0].can_sign)
		return -1;
	const struct pc_jws_key *k = &ring->keys[0];
	size_t hl = strlen(header_json);
	size_t need = sodium_base64_ENCODED_LEN(hl, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
	              sodium_base64_ENCODED_LEN(payload_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
	              sodium_base64_ENCODED_LEN(EDDSA_SIG, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 2;
	if (need > cap)
		return -1;
	pc_b64url_encode(out, cap, (const uint8_t *)header_json, hl);
	size_t n = strlen(out);
	out[n++] = '.';
	pc_b64url_encode(out + n, cap - n, payload, payload_len);
	n += strlen(out + n);
	uint8_t sig[EDDSA_SIG];
	size_t sl;
	if (ring->alg == PC_JWS_HS256) {
		hs256(sig, k, out, n);
		sl = HS256_SIG;
	} else {
		crypto_sign_detached(sig, NULL, (const uint8_t *)out, n, k->secret);
		sl = EDDSA_SIG;
	}
	out[n++] = '.';
	pc_b64url_encode(out + n, cap - n, sig, sl);
	sodium_memzero(sig, sizeof(sig));
	return 0;
}

/* An integer NumericDate in (0, year 9999]; floats and strings refused. */
static bool date_of(json_t *claims, const char *name, bool required, int64_t *out)
{
	json_t *v = json_object_get(claims, name);
	*out = 0;
	if (v == NULL)
		return !required;
	if (!json_is_integer(v))
		return false;
	json_int_t x = json_integer_value(v);
	if (x <= 0 || x > MAX_DATE)
		return false;
	*out = (int64_t)x;
	return true;
}

static bool string_of(json_t *claims, const char *name, bool required, char *out, size_t cap,
                      size_t min)
{
	json_t *v = json_object_get(claims, name);
	out[0] = '\0';
	if (v == NULL)
		return !required;
	if (!json_is_string(v))
		return false;
	size_t n = json_string_length(v);
	if (n < min || n >= cap || memchr(json_string_value(v), '\0', n) != NULL)
		return false;
	memcpy(out, json_string_value(v), n + 1);
	return true;
}

/* The optional "role" claim: a role name. */
static bool role_of(json_t *claims, char *out, size_t cap)
{
	enum pc_role r;
	if (!string_of(claims, "role", false, out, cap, 1))
		return false;
	return out[0] == '\0' || pc_role_parse(&r, out, strlen(out)) == 0;
}

/* The optional "groups" claim: an array of at most PC_USER_GROUPS_MAX
 * distinct group names, joined into out (PC_USER_GROUPS_TEXT + 1). */
static bool groups_of(json_t *claims, char *out)
{
	json_t *v = json_object_get(claims, "groups");
	size_t at = 0, i;
	json_t *g;
	out[0] = '\0';
	if (v == NULL)
		return true;
	if (!json_is_array(v) || json_array_size(v) > PC_USER_GROUPS_MAX)
		return false;
	json_array_foreach(v, i, g) {
		if (!json_is_string(g) || pc_groups_append(out, &at, json_string_value(g), json_string_length(g)) != 0)
			return false;
	}
	return pc_groups_text_valid(out, at);
}

/* Our jtis are base64url; a foreign alphabet cannot name a kv key safely. */
static bool jti_ok(const char *jti)
{
	for (const char *p = jti; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			return false;
	return true;
}

static bool audience_ok(json_t *claims, const char *aud)
{
	json_t *v = json_object_get(claims, "aud");
	if (json_is_string(v))
		return strcmp(json_string_value(v), aud) == 0;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	size_t i;
	json_t *e;
	bool found = false;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return false;
		if (strcmp(json_string_value(e), aud) == 0)
			found = true;
	}
	return found;
}

/* ---- the fast path: claims we wrote ourselves ----
 *
 * Only for a token whose header is byte for byte ours and whose signature
 * verified under our key: its payload is then exactly what pc_jwt_issue
 * wrote (compact, fixed member order, integers, strings without escapes
 * for every value we put there). A scanner for that one shape replaces the
 * general JSON parse (3 of the 7 microseconds of a verify). Anything else —
 * an escape, another order, a missing member — falls back to jansson, so
 * the verdict never depends on the path. */

struct scan {
	const char *p, *end;
};

static bool lit(struct scan *sc, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, s, n) != 0)
		return false;
	sc->p += n;
	return true;
}

/* a printable-ASCII string without escapes up to the next '"' (not
 * consumed). Anything else — an escape, a control byte, any byte of 0x80 or
 * more — is for jansson, which alone decides what is valid UTF-8. */
static bool str(struct scan *sc, char *out, size_t cap)
{
	const char *q = sc->p;
	while (q < sc->end && *q != '"') {
		if (*q == '\\' || (unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
			return false;
		q++;
	}
	size_t n = (size_t)(q - sc->p);
	if (q == sc->end || n >= cap)
		return false;
	memcpy(out, sc->p, n);
	out[n] = '\0';
	sc->p = q;
	return true;
}

/* A NumericDate as pc_jwt_issue writes it: no sign, no leading zero, at
 * most MAX_DATE. Its own loop rather than pc_num_i64 (core/num.h): it finds
 * the number's end itself, on the verify hot path. */
static bool num(struct scan *sc, int64_t *out)
{
	int64_t v = 0;
	const char *q = sc->p;
	if (q == sc->end || *q < '1' || *q > '9')
		return false;
	while (q < sc->end && *q >= '0' && *q <= '9') {
		v = v * 10 + (*q - '0');
		if (v > MAX_DATE)
			return false;
		q++;
	}
	sc->p = q;
	*out = v;
	return true;
}

/* The groups array after its '[' up to and including its ']': quoted names
 * separated by ',', joined into out; validated as a whole. */
static bool fast_groups(struct scan *sc, char *out)
{
	size_t at = 0;
	out[0] = '\0';
	if (lit(sc, "]"))
		return true;
	for (;;) {
		char name[PC_AUTHZ_GROUP_MAX + 1];
		if (!lit(sc, "\"") || !str(sc, name, sizeof(name)) || !lit(sc, "\""))
			return false;
		if (pc_groups_append(out, &at, name, strlen(name)) != 0)
			return false;
		if (lit(sc, "]"))
			break;
		if (!lit(sc, ","))
			return false;
	}
	return pc_groups_text_valid(out, at);
}

/*
 * WARNING: the place to update when a claim is added to (or reordered in)
 * pc_jwt_issue, or to struct pc_jwt_claims: this scanner accepts exactly
 * the members pc_jwt_issue writes, in its order. A claim it does not know
 * makes every token we issue fall back to jansson (correct, but the fast
 * path silently stops being taken); a claim read here but not by the
 * general path below it in pc_jwt_verify would make the verdict depend on
 * the path. Keep pc_jwt_issue, this scanner and that path in step.
 */
static bool fast_claims(const uint8_t *payload, size_t n, struct pc_jwt_claims *out, char *iss,
                        char *aud, size_t cap)
{
	struct scan sc = {(const char *)payload, (const char *)payload + n};
	out->sid[0] = out->email[0] = out->role[0] = out->groups[0] = '\0';
	if (!lit(&sc, "{\"iss\":\"") || !str(&sc, iss, cap) || !lit(&sc, "\",\"sub\":\"") ||
	    !str(&sc, out->sub, sizeof(out->sub)) || !lit(&sc, "\",\"aud\":\"") || !str(&sc, aud, cap) ||
	    !lit(&sc, "\",\"exp\":") || !num(&sc, &out->exp) || !lit(&sc, ",\"nbf\":") ||
	    !num(&sc, &out->nbf) || !lit(&sc, ",\"iat\":") || !num(&sc, &out->iat) ||
	    !lit(&sc, ",\"jti\":\"") || !str(&sc, out->jti, sizeof(out->jti)) || !lit(&sc, "\""))
		return false;
	/* optional, but never empty when present (the general path's minimum) */
	if (lit(&sc, ",\"sid\":\"") &&
	    (!str(&sc, out->sid, sizeof(out->sid)) || out->sid[0] == '\0' || !lit(&sc, "\"")))
		return false;
	if (lit(&sc, ",\"email\":\"") &&
	    (!str(&sc, out->email, sizeof(out->email)) || out->email[0] == '\0' || !lit(&sc, "\"")))
		return false;
	/* role and groups come together, as pc_jwt_issue writes them */
	if (lit(&sc, ",\"role\":\"")) {
		enum pc_role role;
		if (!str(&sc, out->role, sizeof(out->role)) || pc_role_parse(&role, out->role, strlen(out->role)) != 0 ||
		    !lit(&sc, "\",\"groups\":[") || !fast_groups(&sc, out->groups))
			return false;
	}
	out->factors = 1;
	if (lit(&sc, ",\"amr\":[\"pwd\",\"otp\",\"mfa\"]"))
		out->factors = PC_FACTORS_PWD_OTP;
	else if (lit(&sc, ",\"amr\":[\"pwd\",\"hwk\",\"mfa\"]"))
		out->factors = PC_FACTORS_PWD_HWK;
	else if (lit(&sc, ",\"amr\":[\"hwk\",\"mfa\"]"))
		out->factors = PC_FACTORS_HWK;
	else if (lit(&sc, ",\"amr\":[\"pwd\",\"swk\",\"mfa\"]"))
		out->factors = PC_FACTORS_PWD_SWK;
	else if (lit(&sc, ",\"amr\":[\"swk\",\"mfa\"]"))
		out->factors = PC_FACTORS_SWK;
	else if (sc.p < sc.end && *sc.p == ',' && !lit(&sc, ",\"amr\":[\"pwd\"]"))
		return false;
	return lit(&sc, "}") && sc.p == sc.end && out->sub[0] != '\0';
}

/* amr (RFC 8176), optional: an array of strings; without "mfa"
 * PC_FACTORS_PWD, with it PC_FACTORS_PWD_HWK or PC_FACTORS_HWK when it
 * holds "hwk" (with or without "pwd"), the _SWK pair for "swk", else
 * PC_FACTORS_PWD_OTP. */
static bool amr_of(json_t *claims, unsigned *factors)
{
	json_t *v = json_object_get(claims, "amr");
	*factors = 1;
	if (v == NULL)
		return true;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 8)
		return false;
	size_t i;
	json_t *m;
	bool mfa = false, hwk = false, swk = false, pwd = false;
	json_array_foreach(v, i, m) {
		if (!json_is_string(m))
			return false;
		mfa = mfa || strcmp(json_string_value(m), "mfa") == 0;
		hwk = hwk || strcmp(json_string_value(m), "hwk") == 0;
		swk = swk || strcmp(json_string_value(m), "swk") == 0;
		pwd = pwd || strcmp(json_string_value(m), "pwd") == 0;
	}
	if (mfa)
		*factors = hwk   ? (pwd ? PC_FACTORS_PWD_HWK : PC_FACTORS_HWK)
		           : swk ? (pwd ? PC_FACTORS_PWD_SWK : PC_FACTORS_SWK)
		                 : PC_FACTORS_PWD_OTP;
	return true;
}

/* The checks every claim set passes, however it was parsed. */
static enum pc_jwt_status check_claims(const struct pc_jwt_policy *pol, int64_t now,
                                       const struct pc_jwt_claims *c)
{
	if (c->exp + pol->leeway_s <= now)
		return PC_JWT_EXPIRED;
	if ((c->nbf != 0 && c->nbf > now + pol->leeway_s) || (c->iat != 0 && c->iat > now + pol->leeway_s))
		return PC_JWT_NOT_YET_VALID;
	return PC_JWT_OK;
}

enum pc_jwt_status pc_jwt_verify(const struct pc_jws_keyring *ring, const struct pc_jwt_policy *pol,
                                 const char *token, size_t len, int64_t now,
                                 struct pc_jwt_claims *out)
{
	uint8_t payload[PC_JWT_MAX_BYTES];
	size_t pn = 0;
	bool ours = false;
	enum pc_jwt_status st = jws_verify(ring, token, len, payload, sizeof(payload), &pn, &ours);
	if (st != PC_JWT_OK)
		return st;
	char iss[256], aud[256];
	if (ours && fast_claims(payload, pn, out, iss, aud, sizeof(iss))) {
		sodium_memzero(payload, pn);
		if (strcmp(iss, pol->issuer) != 0 || strcmp(aud, pol->audience) != 0 ||
		    strlen(out->jti) < 16 || !jti_ok(out->jti))
			return PC_JWT_BAD_CLAIMS;
		return check_claims(pol, now, out);
	}
	json_error_t jerr;
	json_t *c = json_loadb((const char *)payload, pn, JSON_REJECT_DUPLICATES, &jerr);
	if (c == NULL || !json_is_object(c)) {
		json_decref(c);
		return PC_JWT_MALFORMED;
	}
	st = PC_JWT_BAD_CLAIMS;
	json_t *iss_v = json_object_get(c, "iss");
	if (!date_of(c, "exp", true, &out->exp) || !date_of(c, "nbf", false, &out->nbf) ||
	    !date_of(c, "iat", false, &out->iat) ||
	    !string_of(c, "sub", true, out->sub, sizeof(out->sub), 1) ||
	    !string_of(c, "jti", true, out->jti, sizeof(out->jti), 16) ||
	    !string_of(c, "sid", false, out->sid, sizeof(out->sid), 1) ||
	    !string_of(c, "email", false, out->email, sizeof(out->email), 1) ||
	    !role_of(c, out->role, sizeof(out->role)) || !groups_of(c, out->groups) || !jti_ok(out->jti) ||
	    !json_is_string(iss_v) || strcmp(json_string_value(iss_v), pol->issuer) != 0 ||
	    !audience_ok(c, pol->audience) || !amr_of(c, &out->factors))
		goto out;
	st = check_claims(pol, now, out);
out:
	json_decref(c);
	sodium_memzero(payload, pn);
	return st;
}

enum pc_jwt_status pc_jwt_verify_cached(struct pc_jwt_cache *cache, const struct pc_jws_keyring *ring,
                                        const struct pc_jwt_policy *pol, const char *token, size_t len,
                                        int64_t now, struct pc_jwt_claims *out)
{
	if (len > PC_JWT_MAX_BYTES)
		return pc_jwt_verify(ring, pol, token, len, now, out);
	if (!cache->keyed) {
		randombytes_buf(cache->key, sizeof(cache->key));
		cache->keyed = true;
	}
	uint8_t tag[crypto_shorthash_siphashx24_BYTES];
	crypto_shorthash_siphashx24(tag, (const unsigned char *)token, len, cache->key);
	size_t i = ((size_t)tag[0] | (size_t)tag[1] << 8) & (PC_JWT_CACHE_SLOTS - 1);
	if (cache->slot[i].ring == ring && cache->slot[i].pol == pol &&
	    sodium_memcmp(cache->slot[i].tag, tag, sizeof(tag)) == 0) {
		*out = cache->slot[i].c;
		enum pc_jwt_status st = check_claims(pol, now, out);
		if (st != PC_JWT_OK)
			cache->slot[i].ring = NULL; /* expired: it never comes back */
		return st;
	}
	enum pc_jwt_status st = pc_jwt_verify(ring, pol, token, len, now, out);
	if (st == PC_JWT_OK) {
		memcpy(cache->slot[i].tag, tag, sizeof(tag));
		cache->slot[i].ring = ring;
		cache->slot[i].pol = pol;
		cache->slot[i].c = *out;
	}
	return st;
}

/* The header we issue with key k (compact JSON, fixed member order). */
static char *header_json(const struct pc_jws_keyring *ring, const struct pc_jws_key *k)
{
	json_t *hdr = k->kid[0] != '\0'
		? json_pack("{s:s,s:s,s:s}", "alg", alg_names[ring->alg], "typ", "JWT", "kid", k->kid)
		: json_pack("{s:s,s:s}", "alg", alg_names[ring->alg], "typ", "JWT");
	char *h = hdr ? json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(hdr);
	return h;
}

void pc_jws_ring_prepare(struct pc_jws_keyring *ring)
{
	for (size_t i = 0; i < ring->n_keys; i++) {
		struct pc_jws_key *k = &ring->keys[i];
		k->prepared = false;
		char *h = header_json(ring, k);
		if (h == NULL || sodium_base64_ENCODED_LEN(strlen(h), sodium_base64_VARIANT_URLSAFE_NO_PADDING) >
		                     sizeof(k->header_b64)) {
			free(h);
			continue;
		}
		pc_b64url_encode(k->header_b64, sizeof(k->header_b64), (const uint8_t *)h, strlen(h));
		k->header_b64_len = strlen(k->header_b64);
		free(h);
		if (ring->alg == PC_JWS_HS256)
			crypto_auth_hmacsha256_init(&k->hmac_state, k->secret, k->secret_len);
		k->prepared = true;
	}
}

int pc_jwt_issue(const struct pc_jws_keyring *ring, const struct pc_jwt_policy *pol,
                 const char *sub, const char *sid, const char *email, const char *role,
                 const char *groups, int64_t now, int64_t lifetime_s, char *out, size_t cap,
                 char *jti_out)
{
	return pc_jwt_issue_amr(ring, pol, sub, sid, email, role, groups, 0, now, lifetime_s, out, cap, jti_out);
}

json_t *pc_jwt_amr_json(unsigned factors)
{
	switch (PC_FACTORS_OF(factors)) {
	case PC_FACTORS_PWD_HWK:
		return json_pack("[sss]", "pwd", "hwk", "mfa");
	case PC_FACTORS_HWK:
		return json_pack("[ss]", "hwk", "mfa");
	case PC_FACTORS_PWD_SWK:
		return json_pack("[sss]", "pwd", "swk", "mfa");
	case PC_FACTORS_SWK:
		return json_pack("[ss]", "swk", "mfa");
	case PC_FACTORS_PWD_OTP:
		return json_pack("[sss]", "pwd", "otp", "mfa");
	default:
		return json_pack("[s]", "pwd");
	}
}

int pc_jwt_issue_amr(const struct pc_jws_keyring *ring, const struct pc_jwt_policy *pol,
                     const char *sub, const char *sid, const char *email, const char *role, const char *groups,
                     unsigned factors, int64_t now, int64_t lifetime_s, char *out, size_t cap, char *jti_out)
{
	if (ring->n_keys == 0)
		return -1;
	uint8_t raw[16];
	randombytes_buf(raw, sizeof(raw));
	pc_b64url_encode(jti_out, PC_JTI_MAX + 1, raw, sizeof(raw));
	json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "iss", pol->issuer, "sub", sub,
	                           "aud", pol->audience, "exp", (json_int_t)(now + lifetime_s),
	                           "nbf", (json_int_t)now, "iat", (json_int_t)now, "jti", jti_out);
	int rc = -1;
	char *h = NULL, *p = NULL;
	if (claims == NULL)
		goto out;
	if (sid != NULL && sid[0] != '\0')
		json_object_set_new(claims, "sid", json_string(sid));
	if (email != NULL && email[0] != '\0')
		json_object_set_new(claims, "email", json_string(email));
	if (role != NULL && role[0] != '\0') {
		json_t *arr = json_array();
		const char *names[PC_USER_GROUPS_MAX];
		char buf[PC_USER_GROUPS_TEXT + 1];
		size_t n = groups != NULL ? pc_groups_split(names, buf, sizeof(buf), groups) : 0;
		for (size_t i = 0; arr != NULL && i < n; i++)
			json_array_append_new(arr, json_string(names[i]));
		json_object_set_new(claims, "role", json_string(role));
		json_object_set_new(claims, "groups", arr);
	}
	if (factors != 0)
		json_object_set_new(claims, "amr", pc_jwt_amr_json(factors));
	h = header_json(ring, &ring->keys[0]);
	p = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (h != NULL && p != NULL)
		rc = pc_jws_sign(ring, h, (const uint8_t *)p, strlen(p), out, cap);
out:
	free(h);
	free(p);
	json_decref(claims);
	return rc;
}
