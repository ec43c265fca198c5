/*
 * reset.c — forgot-password (see reset.h): same answer, same work, for
 * known and unknown addresses.
 */
#include "svc/reset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/b64url.h"
#include "svc/outbox.h"
#include "svc/users.h"

void pc_reset_link(char out[PC_RESET_LINK_MAX], const struct pc_svc *ctx, const uint8_t token[32])
{
	char tok[48];
	pc_b64url_encode(tok, sizeof(tok), token, 32);
	snprintf(out, PC_RESET_LINK_MAX, "%s/reset#token=%s", ctx->cfg->public_url, tok);
	sodium_memzero(tok, sizeof(tok));
}

enum pc_err pc_reset_request(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                             int64_t *retry_after)
{
	*retry_after = 0;
	if (!pc_outbox_enabled(ctx))
		return PC_ERR_INTERNAL;
	/* every request counts, found or not: nothing is given back */
	const struct pc_ratelimit per_email = {"reset_request_email", PC_RESET_REQUEST_PER_EMAIL, 3600};
	const struct pc_ratelimit per_addr = {"reset_request_addr", ctx->cfg->login_max_failures_per_address,
	                                      ctx->cfg->login_window_s};
	const struct pc_ratelimit *const rls[] = {&per_addr, &per_email};
	const char *const subjects[] = {actor->client_addr, email};
	struct pc_throttle_slot slots[2];
	pc_throttle_take_all(&ctx->auth.throttle, slots, 2, rls, subjects, retry_after);
	if (*retry_after > 0)
		return PC_ERR_THROTTLED;

	uint8_t token[PC_RESET_TOKEN_BYTES], th[32];
	char link[PC_RESET_LINK_MAX], body[2048];
	enum pc_err e = PC_ERR_INTERNAL;
	struct pc_outbox_buf *b = malloc(sizeof(*b));
	if (b == NULL)
		return PC_ERR_INTERNAL;
	randombytes_buf(token, sizeof(token));
	/* the hash pc_users_reset_redeem looks up (svc/users.c reset_hash) */
	crypto_generichash(th, sizeof(th), token, sizeof(token), NULL, 0);
	pc_reset_link(link, ctx, token);
	snprintf(body, sizeof(body),
	         "Hello,\n\nsomeone (hopefully you) asked to reset the password of the account\n%s at %s.\n\n"
	         "Open this link within 30 minutes to choose a new password:\n\n%s\n\n"
	         "The link works once. Setting a new password signs you out everywhere;\nthen sign in with the new "
	         "password.\n\nIf you did not ask for this, ignore this mail: your password stays as it is.\n\n"
	         "-- portcullis at %s\n",
	         email, ctx->cfg->public_host, link, ctx->cfg->public_host);
	e = pc_outbox_prepare(ctx, b, "password_reset", email, "Reset your password", body);
	sodium_memzero(link, sizeof(link));
	sodium_memzero(body, sizeof(body));
	sodium_memzero(token, sizeof(token));
	if (e == PC_OK) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "user.password_reset_request", "user", "", NULL);
		/* no wake of the sender: it would start sending right after the
		 * answer only when the account exists, which a client timing its
		 * next request could see; the sender's next poll (at most
		 * PC_OUTBOX_POLL_MS later) picks the mail up */
		e = pc_store_reset_request(ctx->store, actor, &ev, email, th, pc_svc_now(ctx) + PC_RESET_REQUEST_TTL,
		                           &b->mail);
	}
	sodium_memzero(b, sizeof(*b));
	free(b);
	return e;
}
