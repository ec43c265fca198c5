/*
 * fuzz_webauthn_clientdata.c — libFuzzer target for
 * pc_wa_clientdata_parse (WebAuthn L2 §5.8.1) against a model.
 *
 * First byte even: the rest is raw bytes; whatever is accepted must hold,
 * as the model reads it, every rule (checked by a second strict parse of
 * our own with jansson's decoder only for the values: an object, type the
 * ceremony's, the challenge 43 characters of base64url of 32 bytes whose
 * decoding is what was returned, origin exactly ours, crossOrigin absent
 * or false, no topOrigin); and a refusal leaves the challenge zeroed.
 *
 * First byte odd: the rest chooses a document — which type, a challenge
 * (the right size, one byte short, padded, or with a non-alphabet
 * character), which origin (ours, another port, a prefix, upper case),
 * crossOrigin (absent, false, true, "false"), a topOrigin, an extra
 * member, a duplicated member — written by the target; the model knows
 * the verdict for each combination, and the parser must agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "auth/webauthn.h"
#include "fuzz.h"

#define ORIGIN "http://localhost:8080"

static uint8_t pick(const uint8_t *d, size_t n, size_t i)
{
	return i < n ? d[i] : 0;
}

static void raw_mode(const uint8_t *d, size_t n)
{
	uint8_t *buf = malloc(n ? n : 1);
	CHECK(buf != NULL);
	memcpy(buf, d, n);
	for (int c = 0; c < 2; c++) {
		uint8_t ch[PC_WA_CHALLENGE_BYTES];
		enum pc_wa_ceremony cer = c == 0 ? PC_WA_CREATE : PC_WA_GET;
		enum pc_wa_why why = pc_wa_clientdata_parse(ch, buf, n, cer, ORIGIN);
		if (why != PC_WA_OK) {
			static const uint8_t zero[PC_WA_CHALLENGE_BYTES];
			CHECK(memcmp(ch, zero, sizeof(zero)) == 0);
			continue;
		}
		json_t *o = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
		CHECK(o != NULL && json_is_object(o));
		CHECK(strcmp(json_string_value(json_object_get(o, "type")),
		             cer == PC_WA_CREATE ? "webauthn.create" : "webauthn.get") == 0);
		const char *chs = json_string_value(json_object_get(o, "challenge"));
		CHECK(chs != NULL && strlen(chs) == 43);
		char again[64];
		sodium_bin2base64(again, sizeof(again), ch, sizeof(ch), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		CHECK(strcmp(again, chs) == 0);
		CHECK(json_string_length(json_object_get(o, "origin")) == strlen(ORIGIN) &&
		      strcmp(json_string_value(json_object_get(o, "origin")), ORIGIN) == 0);
		json_t *x = json_object_get(o, "crossOrigin");
		CHECK(x == NULL || json_is_false(x));
		CHECK(json_object_get(o, "topOrigin") == NULL);
		json_decref(o);
	}
	free(buf);
}

static void structured_mode(const uint8_t *d, size_t n)
{
	unsigned type = pick(d, n, 0) % 4, chal = pick(d, n, 1) % 5, orig = pick(d, n, 2) % 5,
	         cross = pick(d, n, 3) % 4, extra = pick(d, n, 4) % 5;
	enum pc_wa_ceremony cer = pick(d, n, 5) & 1 ? PC_WA_GET : PC_WA_CREATE;
	uint8_t raw[33];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = pick(d, n, 6 + i);
	static const char *const types[] = {"webauthn.create", "webauthn.get", "webauthn.create ", "payment.get"};
	static const char *const origins[] = {ORIGIN, "http://localhost:8081", "http://localhost:808", "HTTP://localhost:8080",
	                                      "http://localhost:8080/"};
	char cs[80];
	if (chal == 0 || chal == 3 || chal == 4)
		sodium_bin2base64(cs, sizeof(cs), raw, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	else if (chal == 1)
		sodium_bin2base64(cs, sizeof(cs), raw, 31, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	else
		sodium_bin2base64(cs, sizeof(cs), raw, 32, sodium_base64_VARIANT_URLSAFE);
	if (chal == 3)
		cs[5] = '+';
	if (chal == 4)
		cs[42] = (char)(cs[42] == 'A' ? 'B' : 'A'); /* a non-zero spare bit, or another value */
	static const char *const crosses[] = {"", ",\"crossOrigin\":false", ",\"crossOrigin\":true", ",\"crossOrigin\":\"false\""};
	static const char *const extras[] = {"", ",\"other_keys_can_be_added_here\":\"x\"", ",\"topOrigin\":\"" ORIGIN "\"",
	                                     ",\"type\":\"webauthn.get\"", ",\"tokenBinding\":{\"status\":\"present\"}"};
	char doc[512];
	int w = snprintf(doc, sizeof(doc), "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\"%s%s}", types[type], cs,
	                 origins[orig], crosses[cross], extras[extra]);
	CHECK(w > 0 && (size_t)w < sizeof(doc));
	/* the model: every rule, as a statement */
	bool type_ok = (type == 0 && cer == PC_WA_CREATE) || (type == 1 && cer == PC_WA_GET);
	bool chal_ok = chal == 0 || (chal == 4 && false);
	if (chal == 4) {
		/* changing the last character either sets a spare bit (refused) or
		 * names other bytes: accepted only if it still decodes canonically */
		uint8_t back[33];
		size_t bl = 0;
		chal_ok = sodium_base642bin(back, sizeof(back), cs, strlen(cs), NULL, &bl, NULL,
		                            sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 && bl == 32;
		if (chal_ok) {
			char re[64];
			sodium_bin2base64(re, sizeof(re), back, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			chal_ok = strcmp(re, cs) == 0;
		}
	}
	bool want = extra != 3 && type_ok && chal_ok && orig == 0 && (cross == 0 || cross == 1) && extra != 2;
	uint8_t ch[PC_WA_CHALLENGE_BYTES];
	enum pc_wa_why why = pc_wa_clientdata_parse(ch, (const uint8_t *)doc, (size_t)w, cer, ORIGIN);
	CHECK((why == PC_WA_OK) == want);
	if (want && chal == 0)
		CHECK(memcmp(ch, raw, 32) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		structured_mode(data + 1, size - 1);
	else
		raw_mode(data + 1, size - 1);
	return 0;
}
