/*
 * oidc.h — the OpenID Connect provider, as rules: clients, signing keys,
 * the authorization step, the token endpoint, UserInfo, RP-initiated
 * logout and remembered consents. The HTTP shapes are api/oidc.c's; the
 * parameter parsing is oidc_params.c's (pure, fuzzed).
 *
 * Off unless PORTCULLIS_PUBLIC_URL is set: it is the issuer. Records live
 * in the store as documents (store.h "OpenID Connect records").
 *
 *  - Clients: id (32 hex), name, exact redirect and post-logout URIs,
 *    confidential (a secret generated here, shown once, stored as a
 *    BLAKE2b-256 keyed with the OIDC subkey, compared in constant time) or
 *    public (PKCE required), first-party (no consent screen), allowed
 *    scopes, allowed groups ("" any), whether a second factor is required,
 *    the ID token alg (RS256, the default, or EdDSA).
 *  - Keys: one current key per algorithm: RSA-2048 (core/ossl.h, PKCS#8
 *    DER) and Ed25519 (libsodium), the private part sealed with
 *    XChaCha20-Poly1305 under the OIDC subkey (key id byte first, the kid as
 *    associated data). The newest of each algorithm signs; rotation makes a
 *    new one of each; a retired key stays published until every token it
 *    signed has expired.
 *  - Codes: 256 random bits, stored as their hash for 60 s with the client,
 *    redirect_uri, PKCE challenge, nonce, scope, user, session, auth_time
 *    and factors; redeemed once by a conditional update; presented again,
 *    the refresh family (and access tokens) it produced are revoked.
 *  - Tokens: an opaque access token ("pcoa_", stored hashed, usable at
 *    UserInfo only, never at the API), a refresh token ("pcor_", kept in
 *    the API's refresh table under a hash of another domain, so neither
 *    endpoint accepts the other's) rotated with reuse detection by the
 *    store's rotation, and an ID token.
 */
#ifndef PC_SVC_OIDC_H
#define PC_SVC_OIDC_H

#include <jansson.h>

#include "core/limits.h"
#include "svc/svc.h"

#define PC_OIDC_NAME_MAX 128
#define PC_OIDC_SECRET_PREFIX "pcos_"
#define PC_OIDC_SECRET_LEN (5 + 43)
#define PC_OIDC_TOKEN_LEN (5 + 43) /* pcoa_, pcor_, codes */
#define PC_OIDC_JWT_MAX 8192
#define PC_OIDC_SCOPES_SUPPORTED "openid profile email groups offline_access"

struct pc_oidc_client {
	char id[PC_OIDC_KEY_MAX + 1];
	char name[PC_OIDC_NAME_MAX + 1];
	char redirect_uris[PC_OIDC_URIS_MAX][PC_OIDC_URI_MAX + 1];
	size_t n_redirect;
	char logout_uris[PC_OIDC_URIS_MAX][PC_OIDC_URI_MAX + 1];
	size_t n_logout;
	bool public_client, first_party, require_mfa;
	char scopes[PC_OIDC_SCOPE_MAX + 1];     /* allowed, space separated */
	char groups[PC_USER_GROUPS_TEXT + 1];   /* allowed, "a,b"; "" : anyone */
	char alg[8];                            /* "RS256" (default) or "EdDSA" */
	uint8_t secret_hash[32];                /* confidential clients */
	int64_t created_at;
};

/* ---- clients (admins: PC_SVC_MANAGE_USERS) ---- */

/* Creates c (id and created_at filled here; secret for a confidential
 * client into secret, shown once: the caller wipes it). Rules: a name, 1..16
 * redirect URIs and 0..16 post-logout URIs, each an absolute https URL (http
 * only for localhost, *.localhost, 127.0.0.1, [::1]) without fragment or
 * userinfo; scopes among PC_OIDC_SCOPES_SUPPORTED with openid; valid groups;
 * alg RS256 or EdDSA. PC_ERR_INVALID with *why, PC_ERR_FORBIDDEN. Event
 * "oidc.client_create". */
PC_MUST_USE enum pc_err pc_oidc_client_create(struct pc_svc *ctx, const struct pc_principal *actor,
                                              struct pc_oidc_client *c, char secret[PC_OIDC_SECRET_LEN + 1],
                                              const char **why);
PC_MUST_USE enum pc_err pc_oidc_client_get(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                                           struct pc_oidc_client *out);
/* Every client; *out malloc'd (free it). */
PC_MUST_USE enum pc_err pc_oidc_client_list(struct pc_svc *ctx, const struct pc_principal *actor,
                                            struct pc_oidc_client **out, size_t *n);
/* Replaces the client's settings with c's (same rules as create; the id,
 * secret and created_at stay). Event "oidc.client_update". */
PC_MUST_USE enum pc_err pc_oidc_client_update(struct pc_svc *ctx, const struct pc_principal *actor,
                                              const struct pc_oidc_client *c, const char **why);
PC_MUST_USE enum pc_err pc_oidc_client_delete(struct pc_svc *ctx, const struct pc_principal *actor, const char *id);
/* The client as JSON (never its secret hash). New reference. */
json_t *pc_oidc_client_json(const struct pc_oidc_client *c);

/* ---- keys ---- */

/* A new signing key of each algorithm (their kids into kid, RS256, and
 * kid_eddsa, each of cap bytes); the older keys of an algorithm that got
 * its new key are retired (published until their tokens expired), and
 * retired keys past that are deleted. Events "oidc.key_create" {alg} per
 * new key, "oidc.key_retire" and "oidc.key_delete" per old one. */
PC_MUST_USE enum pc_err pc_oidc_key_rotate(struct pc_svc *ctx, const struct pc_principal *actor, char *kid,
                                           char *kid_eddsa, size_t cap);
/* The JWKS document: the current key of each algorithm and retired keys
 * whose tokens may still live. New reference in *out. */
PC_MUST_USE enum pc_err pc_oidc_jwks(struct pc_svc *ctx, json_t **out);
/* The discovery document. New reference. */
json_t *pc_oidc_discovery(const struct pc_config *cfg);

/* ---- the authorization step ---- */

/* What /authorize was asked (oidc_params.c fills it). */
struct pc_oidc_authz {
	char response_type[16];
	char client_id[PC_OIDC_KEY_MAX + 1];
	char redirect_uri[PC_OIDC_URI_MAX + 1];
	char scope[PC_OIDC_SCOPE_MAX + 1];
	char state[PC_OIDC_STATE_MAX + 1];
	char nonce[PC_OIDC_NONCE_MAX + 1];
	char code_challenge[PC_OIDC_VERIFIER_MAX + 1];
	char code_challenge_method[16];
	char prompt[32];
	char acr_values[64];
	char request[8];     /* only its presence matters: request objects are refused */
	int64_t max_age;     /* -1: not given */
	int64_t login_at;    /* pc_login: when this flow sent the user to sign in (0: never) */
	bool has_client_id, has_redirect_uri, has_state;
};

/* Parses an /authorize query string (RFC 6749 §3.1: each parameter at most
 * once, unknown ones ignored; strict percent-decoding). 0, or -1 with
 * *bad the name of the parameter at fault (a duplicate, an escape, too
 * long). */
PC_MUST_USE int pc_oidc_authz_parse(struct pc_oidc_authz *out, const char *query, size_t len, const char **bad);

/* Whether s is one of PC_OIDC_SCOPES_SUPPORTED-style space separated tokens
 * each in allowed (both space separated, no empty token). */
PC_MUST_USE bool pc_oidc_scopes_within(const char *s, const char *allowed);

enum pc_oidc_outcome {
	PC_OIDC_ERROR_PAGE,     /* client or redirect_uri not valid: never redirect */
	PC_OIDC_ERROR_REDIRECT, /* error, error_description to the redirect_uri */
	PC_OIDC_LOGIN,          /* sign in (again) first */
	PC_OIDC_CONSENT,        /* ask the user */
	PC_OIDC_CODE,           /* code to the redirect_uri */
};

struct pc_oidc_decision {
	enum pc_oidc_outcome outcome;
	const char *error;            /* OAuth/OIDC error code */
	const char *description;
	bool login_mfa;               /* LOGIN: a second factor is needed */
	char code[PC_OIDC_TOKEN_LEN + 1];
	char client_name[PC_OIDC_NAME_MAX + 1];
};

/* Decides an authorization request for the principal p (NULL: signed
 * out): client and redirect_uri first (ERROR_PAGE), then the request
 * (ERROR_REDIRECT: unsupported_response_type, invalid_request, invalid_scope,
 * login_required, consent_required, access_denied for a user outside the
 * client's groups or without a second factor the client requires), then
 * sign-in (prompt=login, max_age, a second factor), consent (remembered;
 * consented: the user just said yes on the consent page, remembered from
 * now), and the code. A code is written with no event (the grant is audited
 * at the token step, "oidc.code" is written when the code is issued). */
PC_MUST_USE enum pc_err pc_oidc_authorize(struct pc_svc *ctx, const struct pc_principal *p,
                                          const struct pc_oidc_authz *req, bool consented,
                                          struct pc_oidc_decision *out);

/* ---- the token endpoint ---- */

struct pc_oidc_token_req {
	const char *grant_type, *code, *redirect_uri, *code_verifier, *refresh_token, *scope;
	const char *client_id;     /* from Basic or the body */
	const char *client_secret; /* a secret: owned by the caller */
	size_t client_secret_len;
	bool basic;                /* the client authenticated with HTTP Basic */
};

struct pc_oidc_token_out {
	int status;               /* HTTP status of an error (400, 401) */
	const char *error;        /* RFC 6749 §5.2 code, NULL on success */
	const char *description;
	char access[PC_OIDC_TOKEN_LEN + 1];
	char refresh[PC_OIDC_TOKEN_LEN + 1];
	char id_token[PC_OIDC_JWT_MAX];
	char scope[PC_OIDC_SCOPE_MAX + 1];
	int64_t expires_in;
	int64_t retry_after; /* a 429: seconds until the user may refresh again */
};

/* Runs a token request for actor (anonymous, the client's address). PC_OK
 * with out->error NULL (tokens, wipe them) or set (the OAuth error to
 * answer); another pc_err for the store. */
PC_MUST_USE enum pc_err pc_oidc_token(struct pc_svc *ctx, const struct pc_principal *actor,
                                      const struct pc_oidc_token_req *req, struct pc_oidc_token_out *out);

/* The UserInfo claims of an access token: PC_OK with *out (new
 * reference), PC_ERR_NOT_FOUND for an unknown, expired or revoked token. */
PC_MUST_USE enum pc_err pc_oidc_userinfo(struct pc_svc *ctx, const char *token, size_t len, json_t **out);

/* ---- RP-initiated logout ---- */

/* Checks an end_session request: id_token_hint (ours, signature checked,
 * expiry ignored) and/or client_id name the client; a
 * post_logout_redirect_uri must be registered for it exactly. PC_OK with
 * target filled ("" : no redirect; the state appended), PC_ERR_INVALID with
 * *why. */
PC_MUST_USE enum pc_err pc_oidc_logout_check(struct pc_svc *ctx, const char *id_token_hint, const char *client_id,
                                             const char *post_logout_redirect_uri, const char *state,
                                             char *target, size_t cap, const char **why);

/* ---- consents ---- */

/* The actor's remembered consents as a JSON array. */
PC_MUST_USE enum pc_err pc_oidc_consents(struct pc_svc *ctx, const struct pc_principal *actor, json_t **out);
/* Forgets the actor's consent to client_id. Event "oidc.consent_revoke". */
PC_MUST_USE enum pc_err pc_oidc_consent_revoke(struct pc_svc *ctx, const struct pc_principal *actor,
                                               const char *client_id);

#endif
