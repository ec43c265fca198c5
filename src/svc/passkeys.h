/*
 * passkeys.h — passkeys (WebAuthn credentials) as rules: register (options
 * + finish), list, rename, delete; and their use, as the second step of a
 * sign-in and as a sign-in of their own (a discoverable credential: the
 * user handle names the user).
 *
 * On only when PORTCULLIS_PUBLIC_URL is set (the origin) with an RP ID
 * (PORTCULLIS_WEBAUTHN_RP_ID or the URL's host); PC_ERR_NOT_FOUND from
 * every call otherwise.
 *
 * A ceremony's challenge is 32 random bytes; only its hash is stored, with
 * the ceremony (register, second, signin), what it is bound to (the
 * session; the pending session; the pre-session of an anonymous browser)
 * and an expiry 5 minutes on. The clientDataJSON names the challenge; it
 * is consumed (a conditional DELETE: once, across every instance) before
 * anything else is checked, so a failed attempt burns it too.
 *
 * The user handle is 32 random bytes per user, made at their first
 * registration and carried by every passkey of theirs: never the user id
 * or email. A sign-in with a passkey alone needs user verification (UV):
 * the authenticator's PIN or biometric is the second factor.
 *
 * Every outcome is audited: passkey.register, passkey.rename,
 * passkey.delete, passkey.use, and passkey.failed {ceremony, reason} for
 * each refusal — "clone_suspected" when the sign count went backwards.
 * A second step takes a slot of the per-account limit ("factor:<user
 * id>") like a TOTP code; a passwordless sign-in (options and finish) a
 * slot of the per-address ceiling of password sign-ins, never the
 * account's, and its refusals before a passkey is found are audited as
 * noise (pc_auth_audit_noise_event).
 */
#ifndef PC_SVC_PASSKEYS_H
#define PC_SVC_PASSKEYS_H

#include <jansson.h>

#include "auth/webauthn.h"
#include "svc/svc.h"

/* Passkeys a user may hold. */
#define PC_PASSKEYS_MAX 16
/* A ceremony's lifetime, seconds (and the timeout given to the browser). */
#define PC_WA_CHALLENGE_TTL_S 300
/* Live challenges one binding may hold (a session, a pre-session). */
#define PC_WA_CHALLENGES_PER_BINDING 8

/* Whether passkeys are configured. */
bool pc_passkeys_on(const struct pc_svc *ctx);

/* What a browser sent back (navigator.credentials.*), decoded and bounded
 * by the caller (lengths checked against auth/webauthn.h's maxima). */
struct pc_wa_response {
	char credential_id[PC_PASSKEY_CRED_ID_TEXT + 1]; /* base64url, as rawId */
	const uint8_t *clientdata;
	size_t clientdata_len;
	const uint8_t *attestation; /* registration */
	size_t attestation_len;
	const uint8_t *authdata;    /* assertion */
	size_t authdata_len;
	const uint8_t *signature;
	size_t signature_len;
	const uint8_t *user_handle; /* assertion; may be NULL */
	size_t user_handle_len;
};

/*
 * PublicKeyCredentialCreationOptions for the actor (a user): a fresh
 * challenge bound to the actor's session (or, for a token, the user), the
 * user's handle, the algorithms offered (alg 0: EdDSA, ES256, RS256 in
 * that order; else only alg), the actor's passkeys as excludeCredentials,
 * attestation "none", a resident key preferred. *options: a new reference.
 * The actor proves it is them first (proof: the password or a current TOTP
 * code, pc_factors_prove, a slot of the account limit; a failure audited
 * passkey.register_failed): the challenge is made only then, and the
 * finish needs one, so a stolen session cookie or access token alone never
 * adds a passkey. PC_ERR_NOT_FOUND (passkeys off, or a wrong proof),
 * PC_ERR_THROTTLED (*retry_after; or too many live challenges),
 * PC_ERR_CONFLICT (PC_PASSKEYS_MAX reached).
 */
PC_MUST_USE enum pc_err pc_passkeys_register_options(struct pc_svc *ctx, const struct pc_principal *actor, int alg,
                                                     const char *proof, size_t len, int64_t *retry_after,
                                                     json_t **options);

/*
 * Finishes a registration: the clientDataJSON (webauthn.create, our origin,
 * a challenge of this actor's), then pc_wa_register, then the passkey
 * stored under name (may be ""; "Passkey" then) with transports.
 * PC_ERR_NOT_FOUND for a refused ceremony (*why: the reason, audited),
 * PC_ERR_CONFLICT when the credential is registered already or the user
 * has PC_PASSKEYS_MAX. out: the stored passkey on PC_OK.
 */
PC_MUST_USE enum pc_err pc_passkeys_register_finish(struct pc_svc *ctx, const struct pc_principal *actor,
                                                    const struct pc_wa_response *resp, const char *name,
                                                    const char *transports, struct pc_passkey *out,
                                                    enum pc_wa_why *why);

/* The actor's passkeys (malloc'd; free()). */
PC_MUST_USE enum pc_err pc_passkeys_list(struct pc_svc *ctx, const struct pc_principal *actor,
                                         struct pc_passkey **out, size_t *n);
/* Renames the actor's passkey id. PC_ERR_NOT_FOUND. Event passkey.rename. */
PC_MUST_USE enum pc_err pc_passkeys_rename(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                                           const char *name);
/* Deletes the actor's passkey id, proved by their password or a current
 * TOTP code (pc_factors_prove). PC_ERR_NOT_FOUND, PC_ERR_THROTTLED. Event
 * passkey.delete. */
PC_MUST_USE enum pc_err pc_passkeys_delete(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                                           const char *proof, size_t len, int64_t *retry_after);

/*
 * PublicKeyCredentialRequestOptions: a fresh challenge for purpose
 * (PC_WA_PURPOSE_SECOND: binding is the pending session and user_id's
 * passkeys are allowCredentials; PC_WA_PURPOSE_SIGNIN: binding is the
 * pre-session, allowCredentials empty, user verification required; a
 * slot of the per-address sign-in ceiling taken, PC_ERR_THROTTLED with
 * *retry_after over it).
 */
PC_MUST_USE enum pc_err pc_passkeys_assert_options(struct pc_svc *ctx, const struct pc_principal *actor,
                                                   const char *purpose, const char *binding, const char *user_id,
                                                   json_t **options, int64_t *retry_after);

/*
 * The second step of a sign-in with a passkey of pending's user: the
 * assertion checked (challenge of this pending session; the passkey the
 * user's; signature; UP; sign count), then the pending session replaced by
 * a new one with factors 2 (pc_factors_second_step's contract). *why says
 * what was refused (PC_ERR_NOT_FOUND).
 */
PC_MUST_USE enum pc_err pc_passkeys_second_step(struct pc_svc *ctx, const struct pc_principal *pending,
                                                const struct pc_wa_response *resp, struct pc_user *user,
                                                struct pc_session *sess, uint8_t secret[PC_SESSION_SECRET_BYTES],
                                                int64_t *retry_after, enum pc_wa_why *why);

/*
 * A sign-in with a passkey alone: the assertion checked (challenge of this
 * pre-session; the user handle equal to the passkey's; UV required), then
 * a new session of the passkey's user with factors 2 (event auth.login
 * {method: passkey}). A disabled user is refused like a bad assertion.
 */
PC_MUST_USE enum pc_err pc_passkeys_signin(struct pc_svc *ctx, const struct pc_principal *actor, const char *binding,
                                           const struct pc_wa_response *resp, struct pc_user *user,
                                           struct pc_session *sess, uint8_t secret[PC_SESSION_SECRET_BYTES],
                                           int64_t *retry_after, enum pc_wa_why *why);

/* How many passkeys user_id has. */
PC_MUST_USE enum pc_err pc_passkeys_count(struct pc_svc *ctx, const char *user_id, size_t *n);

#endif
