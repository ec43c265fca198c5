/*
 * fuzz_cose_key.c — libFuzzer target for pc_wa_cose_parse (COSE keys from
 * authenticator data) against the independent model of webauthn_model.h:
 * with trailing bytes allowed, accepted exactly when the model accepts,
 * with the same alg and length; without, only when the key uses every
 * byte. The input is copied to a heap block of exactly its size, so a
 * read past it is an ASan report.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/webauthn.h"
#include "fuzz.h"
#include "webauthn_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	CHECK(buf != NULL);
	memcpy(buf, data, size);
	int malg = 0, alg = -1;
	size_t mused = 0, used = 99;
	bool want = model_cose(buf, size, &malg, &mused);
	enum pc_wa_why why = pc_wa_cose_parse(&alg, &used, buf, size, true);
	CHECK((why == PC_WA_OK) == want);
	if (want) {
		CHECK(alg == malg && used == mused && pc_wa_alg_known(alg));
	} else {
		CHECK(alg == 0 && used == 0);
	}
	why = pc_wa_cose_parse(&alg, &used, buf, size, false);
	CHECK((why == PC_WA_OK) == (want && mused == size));
	free(buf);
	return 0;
}
