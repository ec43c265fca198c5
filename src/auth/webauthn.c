/*
 * webauthn.c — see webauthn.h. The one file that includes fido.h.
 */
#include <string.h>

#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <fido/rs256.h>
#include <jansson.h>
#include <sodium.h>

#include "auth/webauthn.h"
#include "core/b64url.h"

const char *pc_wa_why_name(enum pc_wa_why why)
{
	static const char *const names[] = {
		[PC_WA_OK] = "ok",
		[PC_WA_MALFORMED] = "malformed",
		[PC_WA_TOO_LARGE] = "too_large",
		[PC_WA_TYPE] = "type",
		[PC_WA_CHALLENGE] = "challenge",
		[PC_WA_ORIGIN] = "origin",
		[PC_WA_CROSS_ORIGIN] = "cross_origin",
		[PC_WA_RP_ID] = "rp_id",
		[PC_WA_UP] = "user_presence",
		[PC_WA_UV] = "user_verification",
		[PC_WA_FLAGS] = "flags",
		[PC_WA_TRAILING] = "trailing_bytes",
		[PC_WA_FMT] = "attestation_format",
		[PC_WA_ALG] = "algorithm",
		[PC_WA_KEY] = "key",
		[PC_WA_SIGNATURE] = "signature",
		[PC_WA_REPLAYED] = "challenge_unknown_or_used",
		[PC_WA_CREDENTIAL] = "unknown_credential",
		[PC_WA_USER_HANDLE] = "user_handle",
		[PC_WA_CLONE] = "clone_suspected",
		[PC_WA_DISABLED] = "user_disabled",
	};
	return (unsigned)why < sizeof(names) / sizeof(names[0]) && names[why] != NULL ? names[why] : "unknown";
}

bool pc_wa_alg_known(int alg)
{
	return alg == PC_WA_ES256 || alg == PC_WA_EDDSA || alg == PC_WA_RS256;
}

bool pc_wa_sign_count_regressed(uint32_t stored, uint32_t seen)
{
	if (stored == 0 && seen == 0)
		return false;
	return seen <= stored;
}

/* ---------- clientDataJSON ---------- */

enum pc_wa_why pc_wa_clientdata_parse(uint8_t challenge[PC_WA_CHALLENGE_BYTES], const uint8_t *json, size_t len,
                                      enum pc_wa_ceremony ceremony, const char *origin)
{
	memset(challenge, 0, PC_WA_CHALLENGE_BYTES);
	if (len > PC_WA_CLIENTDATA_MAX)
		return PC_WA_TOO_LARGE;
	if (len == 0 || memchr(json, '\0', len) != NULL)
		return PC_WA_MALFORMED;
	json_error_t jerr;
	json_t *o = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	enum pc_wa_why why = PC_WA_MALFORMED;
	if (o == NULL || !json_is_object(o))
		goto out;
	json_t *type = json_object_get(o, "type");
	json_t *chal = json_object_get(o, "challenge");
	json_t *orig = json_object_get(o, "origin");
	json_t *cross = json_object_get(o, "crossOrigin");
	if (!json_is_string(type) || !json_is_string(chal) || !json_is_string(orig))
		goto out;
	const char *want = ceremony == PC_WA_CREATE ? "webauthn.create" : "webauthn.get";
	if (json_string_length(type) != strlen(want) || strcmp(json_string_value(type), want) != 0) {
		why = PC_WA_TYPE;
		goto out;
	}
	size_t got = 0;
	uint8_t buf[PC_WA_CHALLENGE_BYTES + 1];
	if (json_string_length(chal) > 64 ||
	    pc_b64url_decode(buf, sizeof(buf), &got, json_string_value(chal), json_string_length(chal)) != 0 ||
	    got != PC_WA_CHALLENGE_BYTES) {
		why = PC_WA_CHALLENGE;
		goto out;
	}
	memcpy(challenge, buf, PC_WA_CHALLENGE_BYTES);
	if (json_string_length(orig) != strlen(origin) || strcmp(json_string_value(orig), origin) != 0) {
		why = PC_WA_ORIGIN;
		goto out;
	}
	if ((cross != NULL && !json_is_false(cross)) || json_object_get(o, "topOrigin") != NULL) {
		why = PC_WA_CROSS_ORIGIN;
		goto out;
	}
	why = PC_WA_OK;
out:
	if (why != PC_WA_OK)
		memset(challenge, 0, PC_WA_CHALLENGE_BYTES);
	json_decref(o);
	return why;
}

/* ---------- a bounded CBOR reader (RFC 8949), for the subset used ---------- */

enum { CB_UINT = 0, CB_NINT = 1, CB_BSTR = 2, CB_TSTR = 3, CB_ARRAY = 4, CB_MAP = 5, CB_TAG = 6, CB_SIMPLE = 7 };
#define CB_DEPTH 4

struct cb {
	const uint8_t *p;
	size_t n, i;
};

/* One head: major type and argument. -1 when truncated, indefinite, or
 * reserved (RFC 8949 §3: additional information 28-31). */
static int cb_head(struct cb *c, int *major, uint64_t *arg)
{
	if (c->i >= c->n)
		return -1;
	uint8_t b = c->p[c->i++];
	*major = b >> 5;
	uint8_t ai = b & 0x1f;
	if (ai < 24) {
		*arg = ai;
		return 0;
	}
	if (ai > 27)
		return -1;
	size_t k = (size_t)1 << (ai - 24);
	if (c->n - c->i < k)
		return -1;
	uint64_t v = 0;
	for (size_t j = 0; j < k; j++)
		v = v << 8 | c->p[c->i++];
	*arg = v;
	return 0;
}

/* A string's bytes after its head: bounded by what remains. */
static int cb_bytes(struct cb *c, uint64_t len, const uint8_t **out)
{
	if (len > c->n - c->i)
		return -1;
	*out = c->p + c->i;
	c->i += (size_t)len;
	return 0;
}

/* Skips one well-formed item (definite lengths; no floats, no tags). */
static int cb_skip(struct cb *c, int depth)
{
	int major;
	uint64_t arg;
	const uint8_t *s;
	if (depth > CB_DEPTH || cb_head(c, &major, &arg) != 0)
		return -1;
	switch (major) {
	case CB_UINT:
	case CB_NINT:
		return 0;
	case CB_BSTR:
	case CB_TSTR:
		return cb_bytes(c, arg, &s);
	case CB_ARRAY:
	case CB_MAP: {
		/* every item takes a byte at least: a count above what remains is a lie */
		uint64_t items = major == CB_MAP ? arg * 2 : arg;
		if (arg > c->n - c->i || items > c->n - c->i)
			return -1;
		for (uint64_t k = 0; k < items; k++)
			if (cb_skip(c, depth + 1) != 0)
				return -1;
		return 0;
	}
	case CB_SIMPLE:
		return arg == 20 || arg == 21 || arg == 22 ? 0 : -1; /* false, true, null */
	default:
		return -1;
	}
}

/* An integer (major 0 or 1) in [-2^31, 2^31). */
static int cb_int(struct cb *c, int64_t *v)
{
	int major;
	uint64_t arg;
	if (cb_head(c, &major, &arg) != 0 || (major != CB_UINT && major != CB_NINT) || arg > INT32_MAX)
		return -1;
	*v = major == CB_UINT ? (int64_t)arg : -1 - (int64_t)arg;
	return 0;
}

static int cb_string(struct cb *c, int want, const uint8_t **s, size_t *len)
{
	int major;
	uint64_t arg;
	if (cb_head(c, &major, &arg) != 0 || major != want || cb_bytes(c, arg, s) != 0)
		return -1;
	*len = (size_t)arg;
	return 0;
}

/* ---------- COSE keys ---------- */

enum pc_wa_why pc_wa_cose_parse(int *alg, size_t *used, const uint8_t *p, size_t n, bool trailing)
{
	*alg = 0;
	*used = 0;
	struct cb c = {p, n, 0};
	int major;
	uint64_t pairs;
	if (n > PC_WA_AUTHDATA_MAX)
		return PC_WA_TOO_LARGE;
	if (cb_head(&c, &major, &pairs) != 0 || major != CB_MAP)
		return PC_WA_MALFORMED;
	if (pairs < 3 || pairs > 5)
		return PC_WA_KEY;
	/* labels 1, 3, -1, -2, -3: seen once each. -1 is crv (EC2, OKP: an
	 * integer) or n (RSA: bytes); -2 is x or e; -3 is y. */
	int64_t kty = 0, calg = 0, crv = 0;
	bool crv_int = false;
	const uint8_t *b[4] = {NULL, NULL, NULL, NULL};
	size_t bl[4] = {0, 0, 0, 0};
	unsigned seen = 0;
	for (uint64_t k = 0; k < pairs; k++) {
		int64_t label;
		if (cb_int(&c, &label) != 0)
			return PC_WA_MALFORMED;
		unsigned bit = label == 1 ? 1u : label == 3 ? 2u : label == -1 ? 4u : label == -2 ? 8u : label == -3 ? 16u : 0u;
		if (bit == 0 || (seen & bit) != 0)
			return PC_WA_KEY;
		seen |= bit;
		if (label == 1 || label == 3) {
			if (cb_int(&c, label == 1 ? &kty : &calg) != 0)
				return PC_WA_MALFORMED;
			continue;
		}
		if (c.i >= c.n)
			return PC_WA_MALFORMED;
		int m = c.p[c.i] >> 5;
		if (label == -1 && (m == CB_UINT || m == CB_NINT)) {
			if (cb_int(&c, &crv) != 0)
				return PC_WA_MALFORMED;
			crv_int = true;
			continue;
		}
		size_t slot = (size_t)-label; /* 1, 2, 3 */
		if (cb_string(&c, CB_BSTR, &b[slot], &bl[slot]) != 0)
			return PC_WA_MALFORMED;
	}
	if (!trailing && c.i != n)
		return PC_WA_TRAILING;
	if (!pc_wa_alg_known((int)calg))
		return PC_WA_ALG;
	bool ok;
	if (kty == COSE_KTY_EC2)
		ok = calg == PC_WA_ES256 && seen == 31 && crv_int && crv == 1 && bl[2] == 32 && bl[3] == 32;
	else if (kty == COSE_KTY_OKP)
		ok = calg == PC_WA_EDDSA && seen == 15 && crv_int && crv == 6 && bl[2] == 32;
	else if (kty == COSE_KTY_RSA) /* a 2048-bit modulus, its top bit set; e of 3 bytes */
		ok = calg == PC_WA_RS256 && seen == 15 && !crv_int && bl[1] == 256 && bl[2] == 3 && (b[1][0] & 0x80) != 0;
	else
		ok = false;
	if (!ok)
		return PC_WA_KEY;
	*alg = (int)calg;
	*used = c.i;
	return PC_WA_OK;
}

/* ---------- authenticator data ---------- */

enum pc_wa_why pc_wa_authdata_parse(struct pc_wa_authdata *out, const uint8_t *p, size_t n, bool attested)
{
	memset(out, 0, sizeof(*out));
	if (n > PC_WA_AUTHDATA_MAX)
		return PC_WA_TOO_LARGE;
	if (n < 37)
		return PC_WA_MALFORMED;
	memcpy(out->rp_id_hash, p, 32);
	out->flags = p[32];
	out->sign_count = (uint32_t)p[33] << 24 | (uint32_t)p[34] << 16 | (uint32_t)p[35] << 8 | p[36];
	if ((out->flags & PC_WA_FLAG_ED) != 0 || ((out->flags & PC_WA_FLAG_AT) != 0) != attested)
		return PC_WA_FLAGS;
	if (!attested)
		return n == 37 ? PC_WA_OK : PC_WA_TRAILING;
	size_t i = 37;
	if (n - i < 18)
		return PC_WA_MALFORMED;
	memcpy(out->aaguid, p + i, 16);
	size_t idl = (size_t)p[i + 16] << 8 | p[i + 17];
	i += 18;
	if (idl == 0 || idl > PC_WA_CRED_ID_MAX)
		return PC_WA_TOO_LARGE;
	if (n - i < idl)
		return PC_WA_MALFORMED;
	out->cred_id = p + i;
	out->cred_id_len = idl;
	i += idl;
	size_t used = 0;
	enum pc_wa_why why = pc_wa_cose_parse(&out->alg, &used, p + i, n - i, true);
	if (why != PC_WA_OK)
		return why;
	out->cose_key = p + i;
	out->cose_key_len = used;
	out->attested = true;
	return i + used == n ? PC_WA_OK : PC_WA_TRAILING;
}

enum pc_wa_why pc_wa_flags_check(uint8_t flags, bool require_uv)
{
	if ((flags & PC_WA_FLAG_UP) == 0)
		return PC_WA_UP;
	if (require_uv && (flags & PC_WA_FLAG_UV) == 0)
		return PC_WA_UV;
	/* backed up (BS) but not backup eligible (BE): L2 §6.1 forbids it */
	if ((flags & PC_WA_FLAG_BS) != 0 && (flags & PC_WA_FLAG_BE) == 0)
		return PC_WA_FLAGS;
	return PC_WA_OK;
}

/* ---------- attestationObject ---------- */

static bool text_is(const uint8_t *s, size_t l, const char *want)
{
	return l == strlen(want) && memcmp(s, want, l) == 0;
}

enum pc_wa_why pc_wa_attestation_parse(const uint8_t **authdata, size_t *authdata_len, const uint8_t *p, size_t n)
{
	*authdata = NULL;
	*authdata_len = 0;
	if (n > PC_WA_ATTOBJ_MAX)
		return PC_WA_TOO_LARGE;
	struct cb c = {p, n, 0};
	int major;
	uint64_t pairs;
	if (cb_head(&c, &major, &pairs) != 0 || major != CB_MAP || pairs != 3)
		return PC_WA_MALFORMED;
	unsigned seen = 0;
	bool fmt_none = false, stmt_empty = false;
	const uint8_t *ad = NULL;
	size_t adl = 0;
	for (int k = 0; k < 3; k++) {
		const uint8_t *key;
		size_t kl;
		if (cb_string(&c, CB_TSTR, &key, &kl) != 0)
			return PC_WA_MALFORMED;
		if (text_is(key, kl, "fmt") && (seen & 1) == 0) {
			const uint8_t *f;
			size_t fl;
			if (cb_string(&c, CB_TSTR, &f, &fl) != 0 || fl > 32)
				return PC_WA_MALFORMED;
			if (!text_is(f, fl, "none"))
				return PC_WA_FMT;
			fmt_none = true;
			seen |= 1;
		} else if (text_is(key, kl, "attStmt") && (seen & 2) == 0) {
			size_t at = c.i;
			uint64_t m;
			if (cb_head(&c, &major, &m) != 0 || major != CB_MAP)
				return PC_WA_MALFORMED;
			stmt_empty = m == 0;
			c.i = at;
			if (cb_skip(&c, 0) != 0)
				return PC_WA_MALFORMED;
			seen |= 2;
		} else if (text_is(key, kl, "authData") && (seen & 4) == 0) {
			if (cb_string(&c, CB_BSTR, &ad, &adl) != 0)
				return PC_WA_MALFORMED;
			if (adl > PC_WA_AUTHDATA_MAX)
				return PC_WA_TOO_LARGE;
			seen |= 4;
		} else {
			return PC_WA_MALFORMED;
		}
	}
	if (c.i != n)
		return PC_WA_TRAILING;
	if (!fmt_none)
		return PC_WA_FMT;
	if (!stmt_empty)
		return PC_WA_FMT; /* "none" carries no statement (WebAuthn L2 §8.7) */
	*authdata = ad;
	*authdata_len = adl;
	return PC_WA_OK;
}

/* ---------- registration and assertion ---------- */

static void rp_hash(uint8_t out[32], const char *rp_id)
{
	crypto_hash_sha256(out, (const uint8_t *)rp_id, strlen(rp_id));
}

enum pc_wa_why pc_wa_register(struct pc_wa_credential *out, const uint8_t *clientdata, size_t cd_len,
                              const uint8_t *attobj, size_t ao_len, const char *rp_id, bool require_uv,
                              const int *algs, size_t nalgs)
{
	memset(out, 0, sizeof(*out));
	const uint8_t *ad;
	size_t adl;
	struct pc_wa_authdata a;
	uint8_t h[32], cdh[32];
	if (cd_len > PC_WA_CLIENTDATA_MAX)
		return PC_WA_TOO_LARGE;
	enum pc_wa_why why = pc_wa_attestation_parse(&ad, &adl, attobj, ao_len);
	if (why == PC_WA_OK)
		why = pc_wa_authdata_parse(&a, ad, adl, true);
	if (why != PC_WA_OK)
		return why;
	rp_hash(h, rp_id);
	if (sodium_memcmp(h, a.rp_id_hash, 32) != 0)
		return PC_WA_RP_ID;
	why = pc_wa_flags_check(a.flags, require_uv);
	if (why != PC_WA_OK)
		return why;
	bool offered = false;
	for (size_t i = 0; i < nalgs; i++)
		offered = offered || algs[i] == a.alg;
	if (!offered)
		return PC_WA_ALG;
	crypto_hash_sha256(cdh, clientdata, cd_len);
	fido_cred_t *cred = fido_cred_new();
	why = PC_WA_KEY;
	if (cred == NULL)
		goto out;
	if (fido_cred_set_type(cred, a.alg) != FIDO_OK || fido_cred_set_rp(cred, rp_id, NULL) != FIDO_OK ||
	    fido_cred_set_clientdata_hash(cred, cdh, sizeof(cdh)) != FIDO_OK ||
	    fido_cred_set_authdata_raw(cred, ad, adl) != FIDO_OK || fido_cred_set_fmt(cred, "none") != FIDO_OK)
		goto out;
	size_t kl = fido_cred_pubkey_len(cred), il = fido_cred_id_len(cred);
	if (kl == 0 || kl > sizeof(out->pubkey) || il != a.cred_id_len || il > sizeof(out->id) ||
	    memcmp(fido_cred_id_ptr(cred), a.cred_id, il) != 0)
		goto out;
	memcpy(out->pubkey, fido_cred_pubkey_ptr(cred), kl);
	out->pubkey_len = kl;
	memcpy(out->id, a.cred_id, il);
	out->id_len = il;
	out->alg = a.alg;
	out->sign_count = a.sign_count;
	out->flags = a.flags;
	why = PC_WA_OK;
out:
	fido_cred_free(&cred);
	if (why != PC_WA_OK)
		memset(out, 0, sizeof(*out));
	return why;
}

/* fido_assert_verify with the stored raw key of alg. */
static int verify_with(const fido_assert_t *as, int alg, const uint8_t *pk, size_t pkl)
{
	int rc = FIDO_ERR_INVALID_ARGUMENT;
	if (alg == PC_WA_ES256) {
		es256_pk_t *k = es256_pk_new();
		if (k != NULL && es256_pk_from_ptr(k, pk, pkl) == FIDO_OK)
			rc = fido_assert_verify(as, 0, COSE_ES256, k);
		es256_pk_free(&k);
	} else if (alg == PC_WA_EDDSA) {
		eddsa_pk_t *k = eddsa_pk_new();
		if (k != NULL && eddsa_pk_from_ptr(k, pk, pkl) == FIDO_OK)
			rc = fido_assert_verify(as, 0, COSE_EDDSA, k);
		eddsa_pk_free(&k);
	} else if (alg == PC_WA_RS256) {
		rs256_pk_t *k = rs256_pk_new();
		if (k != NULL && rs256_pk_from_ptr(k, pk, pkl) == FIDO_OK)
			rc = fido_assert_verify(as, 0, COSE_RS256, k);
		rs256_pk_free(&k);
	}
	return rc;
}

enum pc_wa_why pc_wa_assert(uint32_t *sign_count, uint8_t *flags, const uint8_t *clientdata, size_t cd_len,
                            const uint8_t *authdata, size_t ad_len, const uint8_t *sig, size_t sig_len,
                            const char *rp_id, bool require_uv, int alg, const uint8_t *pubkey, size_t pubkey_len)
{
	*sign_count = 0;
	*flags = 0;
	struct pc_wa_authdata a;
	uint8_t h[32], cdh[32];
	if (cd_len > PC_WA_CLIENTDATA_MAX || sig_len > PC_WA_SIG_MAX || pubkey_len > PC_WA_PUBKEY_MAX)
		return PC_WA_TOO_LARGE;
	if (sig_len == 0 || !pc_wa_alg_known(alg))
		return PC_WA_MALFORMED;
	enum pc_wa_why why = pc_wa_authdata_parse(&a, authdata, ad_len, false);
	if (why != PC_WA_OK)
		return why;
	rp_hash(h, rp_id);
	if (sodium_memcmp(h, a.rp_id_hash, 32) != 0)
		return PC_WA_RP_ID;
	why = pc_wa_flags_check(a.flags, require_uv);
	if (why != PC_WA_OK)
		return why;
	crypto_hash_sha256(cdh, clientdata, cd_len);
	fido_assert_t *as = fido_assert_new();
	why = PC_WA_SIGNATURE;
	if (as == NULL || fido_assert_set_rp(as, rp_id) != FIDO_OK ||
	    fido_assert_set_clientdata_hash(as, cdh, sizeof(cdh)) != FIDO_OK || fido_assert_set_count(as, 1) != FIDO_OK ||
	    fido_assert_set_authdata_raw(as, 0, authdata, ad_len) != FIDO_OK ||
	    fido_assert_set_sig(as, 0, sig, sig_len) != FIDO_OK || fido_assert_set_up(as, FIDO_OPT_TRUE) != FIDO_OK ||
	    fido_assert_set_uv(as, require_uv ? FIDO_OPT_TRUE : FIDO_OPT_OMIT) != FIDO_OK)
		goto out;
	if (verify_with(as, alg, pubkey, pubkey_len) != FIDO_OK)
		goto out;
	*sign_count = a.sign_count;
	*flags = a.flags;
	why = PC_WA_OK;
out:
	fido_assert_free(&as);
	return why;
}
