/*
 * reset.h — forgot-password: a reset link mailed to the account's address.
 *
 * The request answers the same whether or not an enabled account has the
 * address (the caller answers 202 either way), and does the same work
 * either way: the same throttles, a token drawn and hashed, the message
 * built and sealed, and one store transaction running the same statements
 * (store.h pc_store_reset_request) — only a user that exists gets a token
 * row and a mail. The link is PORTCULLIS_PUBLIC_URL + "/reset#token=..."
 * (never the request's Host): the token rides in the fragment, which no
 * browser sends to a server, so it never reaches access logs, proxies or a
 * Referer. It is redeemed by POST /api/v1/auth/password-reset like an
 * admin-issued one (pc_users_reset_redeem: single use, every other token
 * of the user burnt, every session and token family ended).
 */
#ifndef PC_SVC_RESET_H
#define PC_SVC_RESET_H

#include "svc/svc.h"

#define PC_RESET_REQUEST_TTL 1800 /* a mailed link: 30 minutes */
#define PC_RESET_REQUEST_PER_EMAIL 3 /* requests per address per hour */

/* The link for a raw reset token into out (cap >= PC_RESET_LINK_MAX). */
#define PC_RESET_LINK_MAX 640
void pc_reset_link(char out[PC_RESET_LINK_MAX], const struct pc_svc *ctx, const uint8_t token[32]);

/*
 * Requests a reset link for email (normalised by the caller): throttled per
 * address (PC_RESET_REQUEST_PER_EMAIL an hour, counted whether or not it
 * exists) and per client address (the login throttle's per-address limit
 * and window), both on the shared kv; then the token and the mail as
 * above. Event "user.password_reset_request" (resource: the user, or ""
 * when no enabled user has the address). PC_OK whether or not the account
 * exists; PC_ERR_THROTTLED (*retry_after); PC_ERR_UNAVAILABLE (store);
 * PC_ERR_INTERNAL when email is off (the API checks pc_outbox_enabled first).
 */
PC_MUST_USE enum pc_err pc_reset_request(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                         int64_t *retry_after);

/* ---- changing one's own email ---- */

#define PC_EMAIL_CHANGE_TTL 86400 /* a confirmation link: 24 hours */

/*
 * The actor asks to move their account to new_email (normalised by the
 * caller): the current password checked like a password change (a slot of
 * the account's login throttle, kept by a wrong guess: *wrong_password,
 * PC_ERR_NOT_FOUND; PC_ERR_THROTTLED, *retry_after); then a confirmation
 * link (PORTCULLIS_PUBLIC_URL/reset#email_token=..., 24 hours, once) is
 * mailed to the NEW address in the transaction that records the pending
 * change (it replaces an older pending one). Nothing changes until it is
 * confirmed. PC_ERR_CONFLICT: the address is another account's (or the
 * actor's own). PC_ERR_INTERNAL: email off (the API checks first).
 * Event "user.email_change_request" {new_email}.
 */
PC_MUST_USE enum pc_err pc_email_change_request(struct pc_svc *ctx, const struct pc_principal *actor,
                                                const char *new_email, const char *password, size_t password_len,
                                                bool *wrong_password, int64_t *retry_after);

/*
 * Confirms a change with its token (NULL: malformed, counted like an
 * unknown one): a slot per client address first (kept by a bad token),
 * then the account's email becomes the new address, and a notice goes to
 * the OLD address in the same transaction. Sessions stay (the credential
 * did not change); cached credentials are dropped so the next request
 * sees the new email. Event "user.email_change" {old, new}.
 * PC_ERR_NOT_FOUND (unknown, used or expired), PC_ERR_CONFLICT (taken
 * since), PC_ERR_THROTTLED.
 */
PC_MUST_USE enum pc_err pc_email_change_confirm(struct pc_svc *ctx, const struct pc_principal *actor,
                                                const uint8_t token[32], int64_t *retry_after);

#endif
