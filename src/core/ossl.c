/*
 * ossl.c — see ossl.h. The one file of ours that includes OpenSSL: HMAC()
 * one-shot (OpenSSL 3 deprecates only HMAC_CTX_*), EVP_PKEY for RSA keys,
 * EVP_DigestSign/Verify for RS256. Keys are parsed from DER on every call
 * (no long-lived OpenSSL object holds a secret outside this file) and freed
 * with EVP_PKEY_free, which clears RSA's private numbers.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "core/b64url.h"
#include "core/ossl.h"

static const EVP_MD *md_of(enum pc_ossl_md md)
{
	switch (md) {
	case PC_OSSL_SHA1: return EVP_sha1();
	case PC_OSSL_SHA256: return EVP_sha256();
	case PC_OSSL_SHA512: return EVP_sha512();
	}
	return NULL;
}

int pc_ossl_hmac(uint8_t *out, size_t cap, size_t *len, enum pc_ossl_md md, const uint8_t *key, size_t key_len,
                 const uint8_t *msg, size_t msg_len)
{
	*len = 0;
	const EVP_MD *m = md_of(md);
	if (m == NULL || cap < PC_OSSL_MAC_MAX || key_len > (size_t)INT32_MAX)
		return -1;
	unsigned n = 0;
	if (HMAC(m, key, (int)key_len, msg, msg_len, out, &n) == NULL) {
		sodium_memzero(out, cap);
		return -1;
	}
	*len = n;
	return 0;
}

int pc_ossl_digest(uint8_t *out, size_t cap, size_t *len, enum pc_ossl_md md, const uint8_t *msg, size_t msg_len)
{
	*len = 0;
	const EVP_MD *m = md_of(md);
	if (m == NULL || cap < PC_OSSL_MAC_MAX)
		return -1;
	unsigned n = 0;
	if (EVP_Digest(msg, msg_len, out, &n, m, NULL) != 1) {
		sodium_memzero(out, cap);
		return -1;
	}
	*len = n;
	return 0;
}

/* The key in der (PKCS#8 private key of type RSA), or NULL. */
static EVP_PKEY *rsa_of(const uint8_t *der, size_t len)
{
	if (der == NULL || len == 0 || len > PC_RSA_DER_MAX)
		return NULL;
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, (long)len);
	if (k == NULL)
		return NULL;
	if (p != der + len || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA || EVP_PKEY_get_bits(k) != PC_RSA_BITS) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

int pc_ossl_rsa_generate(uint8_t *der, size_t cap, size_t *len)
{
	*len = 0;
	EVP_PKEY *k = EVP_RSA_gen(PC_RSA_BITS);
	if (k == NULL)
		return -1;
	int rc = -1;
	unsigned char *buf = NULL;
	int n = i2d_PrivateKey(k, &buf);
	if (n > 0 && (size_t)n <= cap) {
		memcpy(der, buf, (size_t)n);
		*len = (size_t)n;
		rc = 0;
	}
	if (buf != NULL) {
		OPENSSL_clear_free(buf, n > 0 ? (size_t)n : 0);
	}
	EVP_PKEY_free(k);
	return rc;
}

static int bn_b64(char *out, size_t cap, EVP_PKEY *k, const char *param)
{
	BIGNUM *bn = NULL;
	if (EVP_PKEY_get_bn_param(k, param, &bn) != 1 || bn == NULL)
		return -1;
	uint8_t raw[PC_RSA_SIG_BYTES];
	int n = BN_num_bytes(bn);
	int rc = -1;
	if (n > 0 && (size_t)n <= sizeof(raw) && BN_bn2bin(bn, raw) == n && ((size_t)n * 4 + 2) / 3 + 1 <= cap) {
		pc_b64url_encode(out, cap, raw, (size_t)n);
		rc = 0;
	}
	BN_free(bn);
	return rc;
}

int pc_ossl_rsa_public(char n[PC_RSA_N_B64], char e[PC_RSA_E_B64], const uint8_t *der, size_t len)
{
	n[0] = e[0] = '\0';
	EVP_PKEY *k = rsa_of(der, len);
	if (k == NULL)
		return -1;
	int rc = bn_b64(n, PC_RSA_N_B64, k, OSSL_PKEY_PARAM_RSA_N) == 0 &&
	                 bn_b64(e, PC_RSA_E_B64, k, OSSL_PKEY_PARAM_RSA_E) == 0
	         ? 0
	         : -1;
	EVP_PKEY_free(k);
	if (rc != 0)
		n[0] = e[0] = '\0';
	return rc;
}

int pc_ossl_rs256_sign(uint8_t sig[PC_RSA_SIG_BYTES], const uint8_t *der, size_t der_len, const uint8_t *msg,
                       size_t msg_len)
{
	memset(sig, 0, PC_RSA_SIG_BYTES);
	EVP_PKEY *k = rsa_of(der, der_len);
	if (k == NULL)
		return -1;
	int rc = -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = PC_RSA_SIG_BYTES;
	if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestSign(ctx, sig, &n, msg, msg_len) == 1 && n == PC_RSA_SIG_BYTES)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	if (rc != 0)
		memset(sig, 0, PC_RSA_SIG_BYTES);
	return rc;
}

int pc_ossl_rs256_verify(const uint8_t *sig, size_t sig_len, const uint8_t *der, size_t der_len, const uint8_t *msg,
                         size_t msg_len)
{
	if (sig_len != PC_RSA_SIG_BYTES)
		return -1;
	EVP_PKEY *k = rsa_of(der, der_len);
	if (k == NULL)
		return -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
	         EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}
