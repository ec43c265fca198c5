/*
 * fuzz_webauthn_attestation.c — libFuzzer target for
 * pc_wa_attestation_parse (WebAuthn L2 §6.5.4, fmt "none" only) against
 * the independent model of webauthn_model.h: accepted exactly when the
 * model accepts, the authData found at the model's offset. Then the whole
 * registration (pc_wa_register, libfido2 included) runs on the input with
 * a fixed clientDataJSON: no crash, and whatever it accepts has a key of
 * an offered algorithm, an id within bounds, and the rpIdHash of the RP ID
 * it was given.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/webauthn.h"
#include "fuzz.h"
#include "webauthn_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	CHECK(buf != NULL);
	memcpy(buf, data, size);
	size_t off, len;
	bool want = model_attestation(buf, size, &off, &len);
	const uint8_t *ad = NULL;
	size_t adl = 99;
	enum pc_wa_why why = pc_wa_attestation_parse(&ad, &adl, buf, size);
	CHECK((why == PC_WA_OK) == want);
	if (want)
		CHECK(ad == buf + off && adl == len);
	else
		CHECK(ad == NULL && adl == 0);

	static const uint8_t cd[] = "{\"type\":\"webauthn.create\"}";
	static const int algs[] = {PC_WA_ES256, PC_WA_EDDSA, PC_WA_RS256};
	struct pc_wa_credential cred;
	why = pc_wa_register(&cred, cd, sizeof(cd) - 1, buf, size, "localhost", false, algs, 3);
	if (why == PC_WA_OK) {
		uint8_t h[32];
		crypto_hash_sha256(h, (const uint8_t *)"localhost", 9);
		CHECK(want && memcmp(ad, h, 32) == 0 && (ad[32] & PC_WA_FLAG_UP));
		CHECK(pc_wa_alg_known(cred.alg) && cred.id_len >= 1 && cred.id_len <= PC_WA_CRED_ID_MAX);
		CHECK(cred.pubkey_len == (cred.alg == PC_WA_ES256 ? 64u : cred.alg == PC_WA_EDDSA ? 32u : 259u));
	}
	free(buf);
	return 0;
}
