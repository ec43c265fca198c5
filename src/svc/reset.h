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

#endif
