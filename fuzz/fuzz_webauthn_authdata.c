/*
 * fuzz_webauthn_authdata.c — libFuzzer target for pc_wa_authdata_parse
 * (WebAuthn L2 §6.1) against the independent model of webauthn_model.h.
 * The first input byte's low bit says registration (attested credential
 * data expected) or assertion; the rest is the authenticator data, in a
 * heap block of exactly its size. Accepted exactly when the model accepts;
 * then the fields match the model's offsets (the pointers lie inside the
 * input), the flags and sign count are the bytes at 32..36. Then
 * pc_wa_flags_check and, for an assertion, pc_wa_assert with a fixed key
 * run on it (no crash, and a forged input never verifies).
 */
#include <stdlib.h>
#include <string.h>

#include "auth/webauthn.h"
#include "fuzz.h"
#include "webauthn_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool attested = data[0] & 1;
	size_t n = size - 1;
	uint8_t *buf = malloc(n ? n : 1);
	CHECK(buf != NULL);
	memcpy(buf, data + 1, n);
	size_t id_off, id_len, key_off;
	int malg;
	bool want = model_authdata(buf, n, attested, &id_off, &id_len, &key_off, &malg);
	struct pc_wa_authdata a;
	enum pc_wa_why why = pc_wa_authdata_parse(&a, buf, n, attested);
	CHECK((why == PC_WA_OK) == want);
	if (want) {
		CHECK(a.flags == buf[32]);
		CHECK(a.sign_count == ((uint32_t)buf[33] << 24 | (uint32_t)buf[34] << 16 | (uint32_t)buf[35] << 8 | buf[36]));
		CHECK(memcmp(a.rp_id_hash, buf, 32) == 0);
		CHECK(a.attested == attested);
		if (attested) {
			CHECK(a.cred_id == buf + id_off && a.cred_id_len == id_len);
			CHECK(a.cose_key == buf + key_off && a.cose_key + a.cose_key_len == buf + n && a.alg == malg);
		}
		bool up = buf[32] & PC_WA_FLAG_UP, uv = buf[32] & PC_WA_FLAG_UV;
		bool bs_ok = !(buf[32] & PC_WA_FLAG_BS) || (buf[32] & PC_WA_FLAG_BE);
		CHECK((pc_wa_flags_check(a.flags, false) == PC_WA_OK) == (up && bs_ok));
		CHECK((pc_wa_flags_check(a.flags, true) == PC_WA_OK) == (up && uv && bs_ok));
	}
	if (!attested) {
		/* an Ed25519 key of all 0x01: nothing here is signed by it */
		static const uint8_t pk[32] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		                               1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
		static const uint8_t cd[] = "{}";
		uint8_t sig[64];
		memset(sig, 0x5a, sizeof(sig));
		uint32_t count;
		uint8_t flags;
		CHECK(pc_wa_assert(&count, &flags, cd, 2, buf, n, sig, sizeof(sig), "localhost", false, PC_WA_EDDSA, pk,
		                   sizeof(pk)) != PC_WA_OK);
	}
	free(buf);
	return 0;
}
