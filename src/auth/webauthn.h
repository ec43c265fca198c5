/*
 * webauthn.h — the relying party's checks of WebAuthn ceremonies (W3C
 * WebAuthn Level 2, §7.1 registering a credential, §7.2 verifying an
 * assertion): clientDataJSON, authenticator data, the attestation object
 * and COSE public keys, parsed by us with every length bounded before it is
 * used; signatures verified by libfido2 (as pam-u2f does). The ONLY file
 * that includes fido.h.
 *
 * What is ours (libfido2 1.12 leaves it to the caller): the clientDataJSON
 * type, challenge and origin; crossOrigin/topOrigin refused; the rpIdHash
 * of a registration (fmt "none" verifies nothing in libfido2); UP always,
 * UV when required, AT on registration and not on assertion; no extensions
 * (ED refused: none are asked for) and no trailing bytes after the
 * authenticator data; attestation format "none" only (no certificate chain
 * is trusted); COSE keys of exactly ES256 (-7, P-256), EdDSA (-8, Ed25519)
 * and RS256 (-257, RSA-2048 with a 3-byte exponent, what libfido2's raw
 * RS256 key holds), every coordinate its exact size, no unknown label.
 *
 * The CBOR reader is a small one of our own for the subset these
 * structures use (unsigned and negative integers, byte and text strings,
 * maps; definite lengths only, bounded nesting): every declared length is
 * checked against the bytes that remain before anything is read or
 * allocated — libcbor's cbor_load allocates from a declared count first.
 * Nothing here allocates but libfido2's own objects; no fixed buffer is
 * filled from an attacker's length (Glewlwyd's CVE-2021-40818,
 * CVE-2022-27240, CVE-2023-49208).
 */
#ifndef PC_AUTH_WEBAUTHN_H
#define PC_AUTH_WEBAUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Bounds, checked when parsing (research/next-capabilities.md §2). */
#define PC_WA_CLIENTDATA_MAX 4096  /* clientDataJSON bytes */
#define PC_WA_ATTOBJ_MAX 8192      /* attestationObject bytes */
#define PC_WA_AUTHDATA_MAX 4096    /* authenticator data bytes */
#define PC_WA_CRED_ID_MAX 1023     /* credential id (WebAuthn L2 §6.5.1) */
#define PC_WA_SIG_MAX 512          /* an RSA-4096 signature; DER ECDSA is ~72 */
#define PC_WA_PUBKEY_MAX 259       /* raw key: ES256 64, EdDSA 32, RS256 256 + 3 */
#define PC_WA_CHALLENGE_BYTES 32
#define PC_WA_USER_HANDLE_BYTES 32 /* random per user; at most 64 by the spec */
#define PC_WA_RP_ID_MAX 253

/* COSE algorithm identifiers accepted (RFC 9053 / IANA). */
#define PC_WA_ES256 (-7)
#define PC_WA_EDDSA (-8)
#define PC_WA_RS256 (-257)

/* Authenticator data flags (WebAuthn L2 §6.1). */
#define PC_WA_FLAG_UP 0x01
#define PC_WA_FLAG_UV 0x04
#define PC_WA_FLAG_BE 0x08
#define PC_WA_FLAG_BS 0x10
#define PC_WA_FLAG_AT 0x40
#define PC_WA_FLAG_ED 0x80

/* Why a ceremony was refused: its name goes into the audit event. */
enum pc_wa_why {
	PC_WA_OK = 0,
	PC_WA_MALFORMED,     /* not the structure it claims to be */
	PC_WA_TOO_LARGE,     /* a length above its bound */
	PC_WA_TYPE,          /* clientDataJSON type is not this ceremony's */
	PC_WA_CHALLENGE,     /* challenge missing or not 32 bytes of base64url */
	PC_WA_ORIGIN,        /* origin is not the configured one */
	PC_WA_CROSS_ORIGIN,  /* crossOrigin true, or a topOrigin */
	PC_WA_RP_ID,         /* rpIdHash is not SHA-256 of our RP ID */
	PC_WA_UP,            /* user presence flag clear */
	PC_WA_UV,            /* user verification required but not done */
	PC_WA_FLAGS,         /* AT/ED not as the ceremony needs, or BS without BE */
	PC_WA_TRAILING,      /* bytes after the structure */
	PC_WA_FMT,           /* an attestation format other than "none" */
	PC_WA_ALG,           /* a key algorithm not offered */
	PC_WA_KEY,           /* a COSE key of the wrong shape */
	PC_WA_SIGNATURE,     /* the signature does not verify */
	/* decided by the caller (svc/passkeys.c), named here for the audit */
	PC_WA_REPLAYED,      /* the challenge is unknown, used, expired or not this binding's */
	PC_WA_CREDENTIAL,    /* no such credential, or another user's */
	PC_WA_USER_HANDLE,   /* the user handle is not the credential's */
	PC_WA_CLONE,         /* the sign count went backwards: a cloned authenticator? */
	PC_WA_DISABLED,      /* the credential's user is disabled */
};
const char *pc_wa_why_name(enum pc_wa_why why);

enum pc_wa_ceremony { PC_WA_CREATE, PC_WA_GET };

/*
 * clientDataJSON (WebAuthn L2 §5.8.1), parsed strictly (jansson, duplicate
 * keys refused): an object whose "type" is "webauthn.create" or
 * "webauthn.get" as ceremony says, whose "challenge" is the unpadded
 * base64url of exactly PC_WA_CHALLENGE_BYTES bytes (decoded into
 * challenge: the caller finds and consumes it), whose "origin" equals
 * origin byte for byte, with no "crossOrigin": true and no "topOrigin".
 * Other members are ignored (the spec lets browsers add some).
 */
PC_MUST_USE enum pc_wa_why pc_wa_clientdata_parse(uint8_t challenge[PC_WA_CHALLENGE_BYTES], const uint8_t *json,
                                                  size_t len, enum pc_wa_ceremony ceremony, const char *origin);

/* Authenticator data, parsed (pointers borrow the input). */
struct pc_wa_authdata {
	uint8_t rp_id_hash[32];
	uint8_t flags;
	uint32_t sign_count;
	bool attested;             /* AT: the fields below are set */
	uint8_t aaguid[16];
	const uint8_t *cred_id;
	size_t cred_id_len;        /* 1..PC_WA_CRED_ID_MAX */
	const uint8_t *cose_key;
	size_t cose_key_len;
	int alg;                   /* the COSE key's alg */
};

/*
 * Authenticator data (WebAuthn L2 §6.1): 37 bytes, then for a
 * registration (attested true: AT must be set) the attested credential
 * data (§6.5.1: AAGUID, a 2-byte length, the credential id, one COSE key
 * that pc_wa_cose_parse accepts), and nothing after it. ED (extensions)
 * is refused; an assertion's data is exactly 37 bytes. Flags are not
 * judged here beyond AT/ED (pc_wa_flags_check).
 */
PC_MUST_USE enum pc_wa_why pc_wa_authdata_parse(struct pc_wa_authdata *out, const uint8_t *p, size_t n,
                                                bool attested);

/* UP set; UV set when require_uv; never BS (backed up) without BE
 * (backup eligible): PC_WA_FLAGS. */
PC_MUST_USE enum pc_wa_why pc_wa_flags_check(uint8_t flags, bool require_uv);

/*
 * One COSE_Key (RFC 9052 §7, RFC 9053): a definite CBOR map of the labels
 * 1 (kty), 3 (alg) and the key parameters of that kty, each exactly once,
 * nothing else, using exactly n bytes. EC2: crv 1 (P-256), x and y of 32
 * bytes, alg -7. OKP: crv 6 (Ed25519), x of 32 bytes, alg -8. RSA: n of
 * 256 bytes, e of 3 bytes, alg -257. *alg the key's alg; *used the bytes
 * the map took (n when trailing is false, else it may stop short).
 */
PC_MUST_USE enum pc_wa_why pc_wa_cose_parse(int *alg, size_t *used, const uint8_t *p, size_t n, bool trailing);

/*
 * attestationObject (WebAuthn L2 §6.5.4): a definite CBOR map of exactly
 * "fmt", "attStmt" and "authData", nothing after it. Only fmt "none" with
 * an empty attStmt is accepted (PC_WA_FMT otherwise). *authdata borrows
 * the input.
 */
PC_MUST_USE enum pc_wa_why pc_wa_attestation_parse(const uint8_t **authdata, size_t *authdata_len,
                                                   const uint8_t *p, size_t n);

/* A credential a registration produced. */
struct pc_wa_credential {
	uint8_t id[PC_WA_CRED_ID_MAX];
	size_t id_len;
	uint8_t pubkey[PC_WA_PUBKEY_MAX]; /* libfido2's raw form (pam-u2f's) */
	size_t pubkey_len;
	int alg;
	uint32_t sign_count;
	uint8_t flags;
};

/*
 * A registration after its clientDataJSON was accepted
 * (pc_wa_clientdata_parse, challenge consumed): the attestation object
 * parsed, the rpIdHash equal to SHA-256(rp_id), the flags (UP, UV when
 * require_uv, AT), the key's alg one of algs[nalgs], then the credential
 * decoded by libfido2 (fido_cred_*: type, rp, client data hash, raw
 * authdata, fmt none) into out. PC_WA_OK or why not (out zeroed).
 */
PC_MUST_USE enum pc_wa_why pc_wa_register(struct pc_wa_credential *out, const uint8_t *clientdata, size_t cd_len,
                                          const uint8_t *attobj, size_t ao_len, const char *rp_id, bool require_uv,
                                          const int *algs, size_t nalgs);

/*
 * An assertion after its clientDataJSON was accepted: the authenticator
 * data parsed (37 bytes exactly), its rpIdHash SHA-256(rp_id), the flags
 * (UP; UV when require_uv), then the signature over authData ||
 * SHA-256(clientDataJSON) verified by libfido2 (fido_assert_verify) with
 * the stored key (alg, pubkey). *sign_count and *flags from the data.
 */
PC_MUST_USE enum pc_wa_why pc_wa_assert(uint32_t *sign_count, uint8_t *flags, const uint8_t *clientdata,
                                        size_t cd_len, const uint8_t *authdata, size_t ad_len, const uint8_t *sig,
                                        size_t sig_len, const char *rp_id, bool require_uv, int alg,
                                        const uint8_t *pubkey, size_t pubkey_len);

/*
 * Clone detection (WebAuthn L2 §6.1.1): a counter that does not move
 * forward, unless both are 0 (authenticators without a counter, synced
 * passkeys). true: refuse.
 */
bool pc_wa_sign_count_regressed(uint32_t stored, uint32_t seen);

/* Whether alg is one this file verifies. */
bool pc_wa_alg_known(int alg);

#endif
