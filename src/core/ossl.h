/*
 * ossl.h — THE facade over OpenSSL's libcrypto: the one file of ours that
 * includes an OpenSSL header is ossl.c. Everything else (TOTP's HMAC, the
 * OIDC provider's RSA keys and RS256 signatures) goes through here, so the
 * library is swapped or audited in one place. No crypto primitive is ours:
 * each function is a thin, checked call into libcrypto.
 *
 * RSA keys travel as PKCS#8 DER (private, a secret: callers seal it at rest
 * and wipe every copy) and as their public JWK members n and e (base64url,
 * RFC 7518 §6.3.1). Every function clears its outputs first and returns 0,
 * or -1 on any failure (a bad key, no room, libcrypto refusing).
 */
#ifndef PC_CORE_OSSL_H
#define PC_CORE_OSSL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum pc_ossl_md { PC_OSSL_SHA1 = 0, PC_OSSL_SHA256 = 1, PC_OSSL_SHA512 = 2 };

#define PC_OSSL_MAC_MAX 64      /* SHA-512 */
#define PC_RSA_BITS 2048
#define PC_RSA_DER_MAX 2400     /* a 2048-bit PKCS#8 private key is ~1.2 KB */
#define PC_RSA_SIG_BYTES 256    /* 2048 bits */
#define PC_RSA_N_B64 (343 + 1)  /* 256 bytes in base64url, NUL */
#define PC_RSA_E_B64 (8 + 1)

/* The digest md of msg into out (cap >= PC_OSSL_MAC_MAX), its length in
 * *len (the breached-password file is keyed by SHA-1). */
PC_MUST_USE int pc_ossl_digest(uint8_t *out, size_t cap, size_t *len, enum pc_ossl_md md, const uint8_t *msg,
                               size_t msg_len);

/* HMAC(md, key, msg) into out (cap >= PC_OSSL_MAC_MAX), its length in *len. */
PC_MUST_USE int pc_ossl_hmac(uint8_t *out, size_t cap, size_t *len, enum pc_ossl_md md, const uint8_t *key,
                             size_t key_len, const uint8_t *msg, size_t msg_len);

/* A fresh RSA-2048 key (e = 65537) as PKCS#8 DER into der (cap >=
 * PC_RSA_DER_MAX), its length in *len. WARNING: der is a private key. */
PC_MUST_USE int pc_ossl_rsa_generate(uint8_t *der, size_t cap, size_t *len);

/* The public members of a private key: n and e, base64url without padding. */
PC_MUST_USE int pc_ossl_rsa_public(char n[PC_RSA_N_B64], char e[PC_RSA_E_B64], const uint8_t *der, size_t len);

/* RSASSA-PKCS1-v1_5 with SHA-256 (JWS RS256, RFC 7518 §3.3) of msg under
 * the private key der: PC_RSA_SIG_BYTES into sig. */
PC_MUST_USE int pc_ossl_rs256_sign(uint8_t sig[PC_RSA_SIG_BYTES], const uint8_t *der, size_t der_len,
                                   const uint8_t *msg, size_t msg_len);

/* Whether sig is a valid RS256 signature of msg by the key der (private
 * DER: its public half is used). 0 valid, -1 anything else. */
PC_MUST_USE int pc_ossl_rs256_verify(const uint8_t *sig, size_t sig_len, const uint8_t *der, size_t der_len,
                                     const uint8_t *msg, size_t msg_len);

#endif
