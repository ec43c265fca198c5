/*
 * tokens.h — credentials checked, access and refresh tokens issued,
 * rotated and revoked, as rules (the HTTP shapes are api/tokens.c's).
 *
 * A refresh token is "pcr_" + 43 base64url characters (256 random bits);
 * the store keeps BLAKE2b-256 of the 32 bytes, its family, and the access
 * token issued with it. Rotation is single use; a used token presented
 * again revokes its whole family (refresh tokens and every access token
 * issued from it). At most PORTCULLIS_REFRESH_LIMIT refreshes per user per
 * clock hour (a throttle slot per {user_id}:{hour}, taken before the
 * rotation, never given back).
 */
#ifndef PC_SVC_TOKENS_H
#define PC_SVC_TOKENS_H

#include "auth/jwt.h"
#include "svc/factors.h"
#include "svc/svc.h"

#define PC_REFRESH_PREFIX "pcr_"
#define PC_REFRESH_RAW 32
#define PC_REFRESH_LEN (4 + 43)
#define PC_ACCESS_MAX 4096

/* The challenge of a password sign-in by a user with a second factor:
 * "pcm_" + a sealed pending session (as the session cookie seals it),
 * single use, PC_MFA_TOKEN_S seconds. */
#define PC_MFA_PREFIX "pcm_"
#define PC_MFA_TOKEN_LEN (4 + PC_SESSION_COOKIE_LEN)
#define PC_MFA_TOKEN_S 300

/* An issued pair — or, for a user with a second factor, only mfa_token.
 * Secrets: the caller wipes the whole struct. */
struct pc_token_pair {
	char access[PC_ACCESS_MAX];
	char jti[PC_JTI_MAX + 1];
	char refresh[PC_REFRESH_LEN + 1];
	int64_t expires_in; /* the access token's lifetime, seconds */
	char mfa_token[PC_MFA_TOKEN_LEN + 1]; /* "" unless a second factor is required */
};

/*
 * Checks email + password for actor (anonymous, with the client address):
 * a slot is taken first under the client address's ceiling and under the
 * account's limit, atomically (a throttled attempt does not hash:
 * PC_ERR_THROTTLED with *retry_after, audited as "auth.login_throttled"
 * {email, retry_after} within the audit-noise limit), then the user and the
 * password (an unknown email still pays for one hash). A failure keeps both
 * slots and is written as "auth.login_failed" {email}; a success gives the
 * address's slot back, clears the account's failures and upgrades a weak
 * hash. PC_OK (user filled, hash wiped), PC_ERR_NOT_FOUND
 * (bad credentials: one answer for both cases), PC_ERR_THROTTLED, or a
 * store error.
 */
PC_MUST_USE enum pc_err pc_tokens_check_password(struct pc_svc *ctx, const struct pc_principal *actor,
                                                 const char *email, const char *password, size_t len,
                                                 struct pc_user *user, int64_t *retry_after);

/*
 * The outcome e of writing a sign-in's session or token family under the
 * credential epoch its password check read: a stale epoch (a change ended
 * the credentials in between) or a user gone is written as
 * "auth.login_stale" {email} on the user and answered PC_ERR_NOT_FOUND,
 * the answer of a wrong password; anything else is returned as is.
 */
PC_MUST_USE enum pc_err pc_tokens_signin_written(struct pc_svc *ctx, const struct pc_principal *actor,
                                                 const struct pc_user *user, enum pc_err e);

/* A pair for email + password (checked as above); event "token.issue"
 * {jti, via: "password"} on the new family. A user with an active second
 * factor gets no pair: PC_OK with out->mfa_token set (event
 * "token.mfa_required"), to finish with pc_tokens_mfa. */
PC_MUST_USE enum pc_err pc_tokens_login(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                        const char *password, size_t len, struct pc_token_pair *out,
                                        int64_t *retry_after);
/* Finishes an mfa_token with a second factor (pc_factors_check): the
 * challenge is spent (single use), and a pair whose access token says
 * amr ["pwd","otp","mfa"] and whose family keeps factors 2 is issued
 * (event "token.issue" {via: "mfa"}). PC_ERR_NOT_FOUND for an unknown,
 * expired or spent mfa_token or a wrong code, PC_ERR_THROTTLED. */
PC_MUST_USE enum pc_err pc_tokens_mfa(struct pc_svc *ctx, const struct pc_principal *actor, const char *mfa_token,
                                      size_t len, enum pc_factor_method method, const char *code, size_t code_len,
                                      struct pc_token_pair *out, int64_t *retry_after);

/* A pair for the session principal actor, bound to its session; event
 * "token.issue" {jti, via: "session"}. */
PC_MUST_USE enum pc_err pc_tokens_issue(struct pc_svc *ctx, const struct pc_principal *actor,
                                        struct pc_token_pair *out);

/* "pcr_" + canonical base64url of 32 bytes -> its hash. 0 or -1. */
PC_MUST_USE int pc_tokens_refresh_parse(uint8_t hash[32], const char *s, size_t len);

/*
 * Rotates the refresh token whose hash is old_hash (actor: anonymous, the
 * client): PC_OK with a new pair (event "token.refresh" {jti}),
 * PC_ERR_NOT_FOUND (unknown, expired, revoked), PC_ERR_THROTTLED (over the
 * user's hourly limit, *retry_after), PC_ERR_REUSED (a used token again:
 * the family is revoked, event "token.reuse").
 */
PC_MUST_USE enum pc_err pc_tokens_refresh(struct pc_svc *ctx, const struct pc_principal *actor,
                                          const uint8_t old_hash[32], struct pc_token_pair *out,
                                          int64_t *retry_after);

/* Takes one of user_id's refreshes of this clock hour (every refresh
 * counts; PORTCULLIS_REFRESH_LIMIT): > 0, the seconds until one is
 * allowed. client NULL: the API's budget; an OpenID Connect client_id: that
 * client's own budget for the user, so one relying party refreshing on
 * schedule does not use up another's or the API's. */
int64_t pc_tokens_refresh_limited(struct pc_svc *ctx, const char *user_id, const char *client);

/* Revokes the family of a refresh token of the actor's own (another's or
 * an unknown one: PC_OK, nothing done — RFC 7009). Event "token.revoke". */
PC_MUST_USE enum pc_err pc_tokens_revoke_refresh(struct pc_svc *ctx, const struct pc_principal *actor,
                                                 const uint8_t hash[32]);
/* Revokes a verified access token of the actor's own (another's: PC_OK,
 * nothing done). Event "token.revoke" {jti}. */
PC_MUST_USE enum pc_err pc_tokens_revoke_access(struct pc_svc *ctx, const struct pc_principal *actor,
                                                const struct pc_jwt_claims *c);

/* Who may introspect tokens (RFC 7662): a resource server, i.e. a request
 * authenticated by an API key. Users see their own tokens by other means. */
PC_MUST_USE bool pc_tokens_may_introspect(const struct pc_principal *actor);

/* What introspection says of a live refresh token. */
struct pc_refresh_info {
	char user_id[PC_ID_LEN + 1];
	char email[PC_EMAIL_MAX + 1];
	char session_id[PC_ID_LEN + 1];
	char family_id[PC_ID_LEN + 1];
	int64_t iat, exp;
};
/* Whether the refresh token hashed to hash is live (known, not yet used,
 * not expired: a revoked family's tokens are deleted, a rotated one is
 * used): PC_OK with out filled, PC_ERR_NOT_FOUND when not, or a store
 * error. The actor must pass pc_tokens_may_introspect (else NOT_FOUND). */
PC_MUST_USE enum pc_err pc_tokens_introspect_refresh(struct pc_svc *ctx, const struct pc_principal *actor,
                                                     const uint8_t hash[32], struct pc_refresh_info *out);

#endif
