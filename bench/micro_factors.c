/*
 * micro_factors.c — the cost of checking a second factor at sign-in, with a
 * same-run baseline: one Ed25519 signature verification by libsodium
 * (crypto_sign_verify_detached over the 69 bytes an assertion signs), the
 * unit everything else is reported in.
 *
 *   WebAuthn assertion, EdDSA   pc_wa_assert: authenticator data parsed,
 *                               rpIdHash, flags, SHA-256 of clientDataJSON,
 *                               libfido2's fido_assert_verify (Ed25519)
 *   WebAuthn assertion, ES256   the same with a P-256 key (ECDSA, OpenSSL)
 *   clientDataJSON parse        pc_wa_clientdata_parse of a browser's JSON
 *   TOTP check                  pc_totp_check of a 6-digit code, +-1 step
 *
 * These run once per sign-in, never per request: /verify does not look at
 * factors beyond the session's record. Prints ns/op and the ratio to the
 * baseline; best of 5 rounds. Run: pc_micro_factors [ops_per_round].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "auth/webauthn.h"
#include "core/otp.h"

static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char CD[] = "{\"type\":\"webauthn.get\",\"challenge\":\"q7bLdGl3Z3Q0c0xZb0Z3VmJ6c3d1cWZ6eGh0dmJtbnA\","
                         "\"origin\":\"https://auth.example.com\",\"crossOrigin\":false}";
static uint8_t authdata[37];
static uint8_t msg[69];
static uint8_t ed_pk[32], ed_sig[64];
static uint8_t ec_pk[64], ec_sig[80];
static size_t ec_sig_len;
static uint8_t totp_key[20];
static char totp_code[8];
static int64_t totp_now;

enum { BASE, WA_EDDSA, WA_ES256, CD_PARSE, TOTP, N_CASES };
static const char *const names[] = {"Ed25519 verify (libsodium, baseline)", "WebAuthn assertion, EdDSA",
                                    "WebAuthn assertion, ES256", "clientDataJSON parse", "TOTP check (SHA-1, +-1 step)"};

static void one(int c)
{
	uint32_t count;
	uint8_t flags, ch[32];
	uint64_t step;
	switch (c) {
	case BASE:
		sink += (uint64_t)crypto_sign_verify_detached(ed_sig, msg, sizeof(msg), ed_pk) + 1;
		break;
	case WA_EDDSA:
		sink += pc_wa_assert(&count, &flags, (const uint8_t *)CD, sizeof(CD) - 1, authdata, sizeof(authdata), ed_sig,
		                     sizeof(ed_sig), "auth.example.com", false, PC_WA_EDDSA, ed_pk, sizeof(ed_pk)) + 1;
		break;
	case WA_ES256:
		sink += pc_wa_assert(&count, &flags, (const uint8_t *)CD, sizeof(CD) - 1, authdata, sizeof(authdata), ec_sig,
		                     ec_sig_len, "auth.example.com", false, PC_WA_ES256, ec_pk, sizeof(ec_pk)) + 1;
		break;
	case CD_PARSE:
		sink += pc_wa_clientdata_parse(ch, (const uint8_t *)CD, sizeof(CD) - 1, PC_WA_GET, "https://auth.example.com") + 1;
		break;
	case TOTP:
		sink += (uint64_t)pc_totp_check(&step, totp_code, 6, totp_key, sizeof(totp_key), PC_OTP_SHA1, 6, 30, totp_now, 1) + step;
		break;
	}
}

static double run(int c, unsigned ops)
{
	double best = 1e18;
	for (int round = 0; round < 5; round++) {
		uint64_t t0 = now_ns();
		for (unsigned i = 0; i < ops; i++)
			one(c);
		double ns = (double)(now_ns() - t0) / ops;
		if (ns < best)
			best = ns;
	}
	return best;
}

static int setup(void)
{
	crypto_hash_sha256(authdata, (const uint8_t *)"auth.example.com", 16);
	authdata[32] = PC_WA_FLAG_UP | PC_WA_FLAG_UV;
	authdata[36] = 7;
	memcpy(msg, authdata, 37);
	crypto_hash_sha256(msg + 37, (const uint8_t *)CD, sizeof(CD) - 1);
	uint8_t sk[64];
	crypto_sign_keypair(ed_pk, sk);
	crypto_sign_detached(ed_sig, NULL, msg, sizeof(msg), sk);
	sodium_memzero(sk, sizeof(sk));

	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t pub[65];
	size_t pl = 0;
	ec_sig_len = sizeof(ec_sig);
	int ok = k != NULL && md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
	         EVP_DigestSign(md, ec_sig, &ec_sig_len, msg, sizeof(msg)) == 1 &&
	         EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &pl) == 1 && pl == 65;
	if (ok)
		memcpy(ec_pk, pub + 1, 64);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	if (!ok)
		return -1;

	randombytes_buf(totp_key, sizeof(totp_key));
	totp_now = (int64_t)time(NULL);
	return pc_hotp(totp_code, sizeof(totp_code), totp_key, sizeof(totp_key), PC_OTP_SHA1, (uint64_t)(totp_now / 30), 6);
}

int main(int argc, char **argv)
{
	unsigned ops = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 20000;
	if (sodium_init() < 0 || ops == 0 || setup() != 0) {
		fprintf(stderr, "pc_micro_factors: set-up failed\n");
		return 1;
	}
	/* every case must succeed, or its time means nothing */
	uint32_t count;
	uint8_t flags, ch[32];
	uint64_t step;
	if (pc_wa_assert(&count, &flags, (const uint8_t *)CD, sizeof(CD) - 1, authdata, 37, ed_sig, 64, "auth.example.com",
	                 false, PC_WA_EDDSA, ed_pk, 32) != PC_WA_OK ||
	    pc_wa_assert(&count, &flags, (const uint8_t *)CD, sizeof(CD) - 1, authdata, 37, ec_sig, ec_sig_len,
	                 "auth.example.com", false, PC_WA_ES256, ec_pk, 64) != PC_WA_OK ||
	    pc_wa_clientdata_parse(ch, (const uint8_t *)CD, sizeof(CD) - 1, PC_WA_GET, "https://auth.example.com") != PC_WA_OK ||
	    pc_totp_check(&step, totp_code, 6, totp_key, sizeof(totp_key), PC_OTP_SHA1, 6, 30, totp_now, 1) != 0) {
		fprintf(stderr, "pc_micro_factors: a case does not succeed\n");
		return 1;
	}
	double t[N_CASES];
	for (int c = 0; c < N_CASES; c++)
		t[c] = run(c, ops);
	printf("%-40s %12s %10s\n", "case", "ns/op", "x baseline");
	for (int c = 0; c < N_CASES; c++)
		printf("%-40s %12.0f %10.2f\n", names[c], t[c], t[c] / t[BASE]);
	return sink == 0;
}
