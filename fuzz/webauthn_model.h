/*
 * webauthn_model.h — the independent models the WebAuthn fuzz targets
 * check src/auth/webauthn.c against: a second, separately written reader
 * of the CBOR subset (RFC 8949: integers, byte and text strings, arrays,
 * maps, false/true/null; definite lengths; nesting bounded as the server
 * bounds it) and the rules of COSE keys, authenticator data and
 * attestation objects as plain statements of what must be accepted.
 *
 * Header-only, included by one target each.
 */
#ifndef PC_FUZZ_WEBAUTHN_MODEL_H
#define PC_FUZZ_WEBAUTHN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct m_item {
	int major;
	uint64_t val;            /* integer value, length, or count */
	const uint8_t *bytes;    /* strings: their bytes */
};

struct m_in {
	const uint8_t *p;
	size_t left;
};

static __attribute__((unused)) bool m_take(struct m_in *in, size_t n, const uint8_t **out)
{
	if (in->left < n)
		return false;
	*out = in->p;
	in->p += n;
	in->left -= n;
	return true;
}

/* One item's head (and a string's bytes). */
static __attribute__((unused)) bool m_item(struct m_in *in, struct m_item *it)
{
	const uint8_t *b;
	if (!m_take(in, 1, &b))
		return false;
	it->major = b[0] >> 5;
	unsigned ai = b[0] & 31u;
	it->val = ai;
	it->bytes = NULL;
	if (ai >= 28)
		return false;
	if (ai >= 24) {
		size_t n = ai == 24 ? 1 : ai == 25 ? 2 : ai == 26 ? 4 : 8;
		if (!m_take(in, n, &b))
			return false;
		it->val = 0;
		for (size_t i = 0; i < n; i++)
			it->val = it->val * 256 + b[i];
	}
	if (it->major == 2 || it->major == 3)
		return it->val <= in->left && m_take(in, (size_t)it->val, &it->bytes);
	return true;
}

/* One whole item, skipped; nested at most to depth 4 below where it starts. */
static __attribute__((unused)) bool m_skip(struct m_in *in, int depth)
{
	struct m_item it;
	if (depth > 4 || !m_item(in, &it))
		return false;
	if (it.major == 0 || it.major == 1 || it.major == 2 || it.major == 3)
		return true;
	if (it.major == 7)
		return it.val >= 20 && it.val <= 22;
	if (it.major != 4 && it.major != 5)
		return false;
	uint64_t n = it.major == 5 ? it.val * 2 : it.val;
	if (it.val > in->left || n > in->left)
		return false;
	for (uint64_t i = 0; i < n; i++)
		if (!m_skip(in, depth + 1))
			return false;
	return true;
}

/* An integer item within 32 bits signed. */
static __attribute__((unused)) bool m_int(struct m_in *in, int64_t *v)
{
	struct m_item it;
	if (!m_item(in, &it) || (it.major != 0 && it.major != 1) || it.val > 0x7fffffffu)
		return false;
	*v = it.major == 0 ? (int64_t)it.val : -1 - (int64_t)it.val;
	return true;
}

/*
 * A COSE key that must be accepted: a map of 3 to 5 pairs whose labels are
 * 1, 3, -1, -2, -3 at most once each, with exactly these shapes —
 *   EC2 (kty 2): alg -7, crv (-1) 1, x (-2) and y (-3) 32-byte strings;
 *   OKP (kty 1): alg -8, crv 6, x 32 bytes, no y;
 *   RSA (kty 3): alg -257, n (-1) 256 bytes with its top bit set, e (-2) 3 bytes.
 * *used: bytes the map took. alg: its alg.
 */
static __attribute__((unused)) bool model_cose(const uint8_t *p, size_t n, int *alg, size_t *used)
{
	struct m_in in = {p, n};
	struct m_item top;
	*alg = 0;
	*used = 0;
	if (n > 4096 || !m_item(&in, &top) || top.major != 5 || top.val < 3 || top.val > 5)
		return false;
	int64_t kty = 0, a = 0, crv = 0;
	bool has[5] = {false}, crv_is_int = false;
	size_t len[5] = {0};
	const uint8_t *str[5] = {NULL};
	for (uint64_t i = 0; i < top.val; i++) {
		int64_t label;
		if (!m_int(&in, &label))
			return false;
		int k = label == 1 ? 0 : label == 3 ? 1 : label == -1 ? 2 : label == -2 ? 3 : label == -3 ? 4 : -1;
		if (k < 0 || has[k])
			return false;
		has[k] = true;
		if (k <= 1) {
			if (!m_int(&in, k == 0 ? &kty : &a))
				return false;
			continue;
		}
		struct m_in save = in;
		struct m_item it;
		if (!m_item(&in, &it))
			return false;
		if (k == 2 && (it.major == 0 || it.major == 1)) {
			in = save;
			if (!m_int(&in, &crv))
				return false;
			crv_is_int = true;
		} else if (it.major == 2) {
			str[k] = it.bytes;
			len[k] = (size_t)it.val;
		} else {
			return false;
		}
	}
	size_t count = 0;
	for (int k = 0; k < 5; k++)
		count += has[k];
	bool ok = false;
	if (kty == 2)
		ok = a == -7 && count == 5 && crv_is_int && crv == 1 && len[3] == 32 && len[4] == 32;
	else if (kty == 1)
		ok = a == -8 && count == 4 && !has[4] && crv_is_int && crv == 6 && len[3] == 32;
	else if (kty == 3)
		ok = a == -257 && count == 4 && !has[4] && !crv_is_int && len[2] == 256 && (str[2][0] & 0x80) && len[3] == 3;
	if (!ok)
		return false;
	*alg = (int)a;
	*used = n - in.left;
	return true;
}

/*
 * Authenticator data that must be accepted: at most 4096 bytes; 37 at
 * least; no ED flag (0x80); AT (0x40) set exactly when attested; without
 * AT exactly 37 bytes; with it 16 bytes of AAGUID, a big-endian length of
 * 1 to 1023, that many bytes of id, then one COSE key the model accepts,
 * ending exactly at the end.
 */
static __attribute__((unused)) bool model_authdata(const uint8_t *p, size_t n, bool attested, size_t *id_off, size_t *id_len,
                           size_t *key_off, int *alg)
{
	*id_off = *id_len = *key_off = 0;
	*alg = 0;
	if (n > 4096 || n < 37 || (p[32] & 0x80) || ((p[32] & 0x40) != 0) != attested)
		return false;
	if (!attested)
		return n == 37;
	if (n < 37 + 18)
		return false;
	size_t idl = (size_t)p[53] * 256 + p[54];
	if (idl < 1 || idl > 1023 || n - 55 < idl)
		return false;
	size_t used;
	if (!model_cose(p + 55 + idl, n - 55 - idl, alg, &used) || 55 + idl + used != n)
		return false;
	*id_off = 55;
	*id_len = idl;
	*key_off = 55 + idl;
	return true;
}

/*
 * An attestation object that must be accepted: at most 8192 bytes; a map
 * of exactly 3 pairs keyed by the text strings "fmt", "attStmt",
 * "authData", each once, in any order; fmt the text "none"; attStmt an
 * empty map; authData a byte string of at most 4096 bytes; nothing after.
 * (A well-formed non-empty attStmt, or another fmt, is refused too.)
 */
static __attribute__((unused)) bool model_attestation(const uint8_t *p, size_t n, size_t *ad_off, size_t *ad_len)
{
	struct m_in in = {p, n};
	struct m_item top;
	*ad_off = *ad_len = 0;
	if (n > 8192 || !m_item(&in, &top) || top.major != 5 || top.val != 3)
		return false;
	bool fmt = false, stmt = false, ad = false, none = false, empty = false;
	for (int i = 0; i < 3; i++) {
		struct m_item k, v;
		if (!m_item(&in, &k) || k.major != 3)
			return false;
		if (k.val == 3 && memcmp(k.bytes, "fmt", 3) == 0 && !fmt) {
			if (!m_item(&in, &v) || v.major != 3 || v.val > 32)
				return false;
			none = v.val == 4 && memcmp(v.bytes, "none", 4) == 0;
			if (!none)
				return false;
			fmt = true;
		} else if (k.val == 7 && memcmp(k.bytes, "attStmt", 7) == 0 && !stmt) {
			struct m_in peek = in;
			if (!m_item(&peek, &v) || v.major != 5)
				return false;
			empty = v.val == 0;
			if (!m_skip(&in, 0))
				return false;
			stmt = true;
		} else if (k.val == 8 && memcmp(k.bytes, "authData", 8) == 0 && !ad) {
			if (!m_item(&in, &v) || v.major != 2 || v.val > 4096)
				return false;
			*ad_off = (size_t)(v.bytes - p);
			*ad_len = (size_t)v.val;
			ad = true;
		} else {
			return false;
		}
	}
	if (in.left != 0 || !none || !empty) {
		*ad_off = *ad_len = 0;
		return false;
	}
	return true;
}

#endif
