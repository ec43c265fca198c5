/*
 * factors.h — second factors: a TOTP credential and recovery codes, as
 * rules (enrol, confirm, remove, regenerate, list), and the second step of
 * a sign-in.
 *
 * The TOTP secret is 20 random bytes (RFC 4226 §4), sealed at rest with
 * XChaCha20-Poly1305 under the TOTP subkey (key id byte first, so the
 * previous key still opens it during a rotation), with
 * "portcullis:totp:<row id>" as associated data: a sealed secret copied to
 * another row does not open. It is handed out once, at enrolment, and
 * becomes active only when a code confirms it; that code's step counts as
 * used. A step is accepted at most once per user (the store's conditional
 * update), so a code cannot be replayed on this or any other instance.
 *
 * Recovery codes: PC_RECOVERY_CODES codes of 10 Crockford base32
 * characters (50 bits), shown as XXXXX-XXXXX once, stored as BLAKE2b-256
 * keyed with the recovery subkey over the normalised code (upper case, no
 * '-' or spaces, O read as 0, I and L as 1). Each is spent once.
 *
 * Every attempt at a code takes a slot of the per-account login limit
 * under "factor:<user id>" (shared through Redis when configured) before
 * anything is checked; every outcome is audited.
 */
#ifndef PC_SVC_FACTORS_H
#define PC_SVC_FACTORS_H

#include "svc/svc.h"

#define PC_TOTP_ISSUER "portcullis"
#define PC_RECOVERY_CODE_LEN 11 /* XXXXX-XXXXX */
#define PC_TOTP_URI_MAX 512
/* A session waiting for its second step lives this long (seconds). */
#define PC_PENDING_SESSION_S 600
/* A session waiting for a second factor to be set up: time to install an
 * authenticator app and scan the code. */
#define PC_ENROL_SESSION_S 1800

/* What an enrolment hands out, once. Secrets: the caller wipes it. */
struct pc_totp_enrolment {
	char secret[64];               /* base32, no padding */
	char uri[PC_TOTP_URI_MAX];     /* otpauth://totp/... */
	char algorithm[8];
	unsigned digits, period;
};

typedef char pc_recovery_codes[PC_RECOVERY_CODES][PC_RECOVERY_CODE_LEN + 1];

/* What a user has (never a secret). */
struct pc_factors_info {
	bool totp;              /* a confirmed credential */
	bool totp_pending;      /* enrolled, not confirmed */
	char algorithm[8];
	int64_t digits, period, totp_created_at;
	int64_t recovery_left;
};

/* A new, unconfirmed TOTP credential for the actor (replacing an
 * unconfirmed one). PC_ERR_CONFLICT when one is active. Event
 * "totp.enrol". */
PC_MUST_USE enum pc_err pc_factors_totp_enrol(struct pc_svc *ctx, const struct pc_principal *actor,
                                              struct pc_totp_enrolment *out);

/* The otpauth URI of the actor's credential while it is not confirmed yet
 * (for the enrolment QR code); PC_ERR_NOT_FOUND once it is active (the
 * secret is never handed out again) or when there is none. */
PC_MUST_USE enum pc_err pc_factors_totp_pending_uri(struct pc_svc *ctx, const struct pc_principal *actor,
                                                    char uri[PC_TOTP_URI_MAX]);

/* Confirms the actor's pending credential with a code: it becomes active
 * and a fresh batch of recovery codes is made (into codes: the caller
 * shows them once and wipes them). Event "totp.confirm". PC_ERR_NOT_FOUND
 * (no pending credential, or the code is wrong: "totp.confirm_failed"),
 * PC_ERR_THROTTLED (*retry_after). */
PC_MUST_USE enum pc_err pc_factors_totp_confirm(struct pc_svc *ctx, const struct pc_principal *actor,
                                                const char *code, size_t len, pc_recovery_codes codes,
                                                int64_t *retry_after);

/* Removes the actor's TOTP credential and recovery codes, proved by the
 * actor's password or a current TOTP code (proof, len). Event
 * "totp.delete". PC_ERR_NOT_FOUND (nothing enrolled, or the proof is
 * wrong: "totp.delete_failed"), PC_ERR_THROTTLED. */
PC_MUST_USE enum pc_err pc_factors_totp_delete(struct pc_svc *ctx, const struct pc_principal *actor,
                                               const char *proof, size_t len, int64_t *retry_after);

/* A new batch of recovery codes for the actor (the old batch dies), proved
 * by the password. Needs an active TOTP credential (PC_ERR_NOT_FOUND
 * otherwise). Event "recovery.generate". */
PC_MUST_USE enum pc_err pc_factors_recovery_regenerate(struct pc_svc *ctx, const struct pc_principal *actor,
                                                       const char *password, size_t len, pc_recovery_codes codes,
                                                       int64_t *retry_after);

PC_MUST_USE enum pc_err pc_factors_list(struct pc_svc *ctx, const struct pc_principal *actor,
                                        struct pc_factors_info *out);

/* The second factors user_id holds: a confirmed TOTP credential (TOTP and
 * recovery codes), passkeys — counted whether or not passkeys are on now,
 * so that turning them off never makes a passkey user's password a whole
 * sign-in. */
#define PC_METHODS_TOTP 1u
#define PC_METHODS_RECOVERY 2u
#define PC_METHODS_PASSKEY 4u
PC_MUST_USE enum pc_err pc_factors_methods(struct pc_svc *ctx, const char *user_id, unsigned *methods);

/* Whether user_id has an active second factor (any method). */
PC_MUST_USE enum pc_err pc_factors_active(struct pc_svc *ctx, const char *user_id, bool *active);

/* The second factors of methods that can be taken here now: a passkey only
 * while passkeys are on. */
unsigned pc_factors_usable(const struct pc_svc *ctx, unsigned methods);

enum pc_factor_method { PC_FACTOR_TOTP = 0, PC_FACTOR_RECOVERY = 1 };

/*
 * Checks a second factor of user_id (for a sign-in: actor is the pending
 * session's principal): a TOTP code (its step accepted once: event
 * "totp.use") or a recovery code (spent: event "recovery.use").
 * PC_ERR_NOT_FOUND for a wrong, replayed or spent code (audited
 * "auth.second_factor_failed" {method, reason}), PC_ERR_THROTTLED.
 */
PC_MUST_USE enum pc_err pc_factors_check(struct pc_svc *ctx, const struct pc_principal *actor, const char *user_id,
                                         enum pc_factor_method method, const char *code, size_t len,
                                         int64_t *retry_after);

/*
 * The second step of a sign-in: pending is the principal of the session
 * that waits for it. The factor checked (pc_factors_check), then the
 * pending session replaced by a new one (new id and secret: no fixation
 * across the step) with factors 2 — event "auth.second_factor" {method}.
 * sess, secret (wipe it) and user are filled on PC_OK.
 */
PC_MUST_USE enum pc_err pc_factors_second_step(struct pc_svc *ctx, const struct pc_principal *pending,
                                               enum pc_factor_method method, const char *code, size_t len,
                                               struct pc_user *user, struct pc_session *sess,
                                               uint8_t secret[PC_SESSION_SECRET_BYTES], int64_t *retry_after);

/* A change the actor proves with their password or a current TOTP code
 * (when they have one): a slot of the account limit first, a failure
 * audited as failed_action. PC_OK, PC_ERR_NOT_FOUND, PC_ERR_THROTTLED. */
PC_MUST_USE enum pc_err pc_factors_prove(struct pc_svc *ctx, const struct pc_principal *actor, const char *proof,
                                         size_t len, const char *what, const char *failed_action,
                                         int64_t *retry_after);

/* A slot of the per-account limit under "factor:<user_id>" (subject holds
 * the key); > 0: refused for that many seconds (audited
 * "auth.factor_throttled" {attempt: what}). */
int64_t pc_factors_take_slot(struct pc_svc *ctx, const struct pc_principal *actor, const char *user_id,
                             struct pc_throttle_slot *slot, char subject[PC_ID_LEN + 8], const char *what);
/* Audits a failed factor: action on user user_id {method, reason}. */
void pc_factors_failed(struct pc_svc *ctx, const struct pc_principal *actor, const char *action, const char *user_id,
                       const char *method, const char *reason);

/* Normalises a recovery code as typed into out[11] (10 characters);
 * 0, or -1 when it is not one. Exposed for the tests and the fuzzer. */
PC_MUST_USE int pc_recovery_normalize(char out[11], const char *in, size_t len);

/* Whether PORTCULLIS_REQUIRE_SECOND_FACTOR covers a user of this role. */
PC_MUST_USE bool pc_factors_required(const struct pc_svc *ctx, enum pc_role role);

/* A sign-in whose session waited for a second factor to be set up
 * (actor->must_enrol) and has one now: the pending session is replaced by
 * a new one (new id and secret) that counts both factors. method names
 * the factor set up ("totp", "passkey"), factors the session's record
 * (PC_FACTORS_*, two factors). Event "auth.enrolled". */
PC_MUST_USE enum pc_err pc_factors_enrol_finish(struct pc_svc *ctx, const struct pc_principal *actor,
                                                const char *method, unsigned factors, struct pc_session *sess,
                                                uint8_t secret[PC_SESSION_SECRET_BYTES]);

/* Account recovery: an admin removes user_id's second factors (TOTP,
 * recovery codes, passkeys) and ends every session and token of the user, in one
 * transaction with the event "factors.reset". PC_ERR_FORBIDDEN for a
 * non-admin; PC_ERR_NOT_FOUND when the user has no factor. */
PC_MUST_USE enum pc_err pc_factors_reset(struct pc_svc *ctx, const struct pc_principal *actor, const char *user_id);

#endif
