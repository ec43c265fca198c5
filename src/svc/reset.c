/*
 * reset.c — forgot-password (see reset.h): same answer, same work, for
 * known and unknown addresses.
 */
#include "svc/reset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"
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

/* ---- changing one's own email ---- */

enum pc_err pc_email_change_request(struct pc_svc *ctx, const struct pc_principal *actor, const char *new_email,
                                    const char *password, size_t password_len, bool *wrong_password,
                                    int64_t *retry_after)
{
	*wrong_password = false;
	*retry_after = 0;
	if (!pc_outbox_enabled(ctx))
		return PC_ERR_INTERNAL;
	if (actor->user_id[0] == '\0')
		return PC_ERR_FORBIDDEN; /* an API key has no email */
	struct pc_auth *a = &ctx->auth;
	struct pc_throttle_slot slot;
	pc_throttle_take(&a->throttle, &a->login_account, actor->email, &slot, retry_after);
	if (*retry_after > 0)
		return PC_ERR_THROTTLED;
	struct pc_user u, other;
	enum pc_err e = pc_store_user_get(ctx->store, actor->user_id, &u);
	if (e != PC_OK) {
		pc_throttle_release(&slot);
		goto out;
	}
	if (pc_password_verify(u.password_hash, password, password_len) != 0) {
		*wrong_password = true;
		e = PC_ERR_NOT_FOUND;
		goto out;
	}
	pc_throttle_reset(&slot);
	e = pc_store_user_get_by_email(ctx->store, new_email, &other);
	sodium_memzero(other.password_hash, sizeof(other.password_hash));
	if (e == PC_OK) {
		e = PC_ERR_CONFLICT;
		goto out;
	}
	if (e != PC_ERR_NOT_FOUND)
		goto out;
	uint8_t token[32], th[32];
	char tok[48], link[PC_RESET_LINK_MAX], body[2048];
	struct pc_outbox_buf *b = malloc(sizeof(*b));
	e = PC_ERR_INTERNAL;
	if (b == NULL)
		goto out;
	randombytes_buf(token, sizeof(token));
	crypto_generichash(th, sizeof(th), token, sizeof(token), NULL, 0);
	pc_b64url_encode(tok, sizeof(tok), token, sizeof(token));
	snprintf(link, sizeof(link), "%s/reset#email_token=%s", ctx->cfg->public_url, tok);
	snprintf(body, sizeof(body),
	         "Hello,\n\nthe account %s at %s asked to use this address (%s) from now on.\n\n"
	         "Open this link within 24 hours to confirm it:\n\n%s\n\n"
	         "If you did not ask for this, ignore this mail: nothing changes.\n\n-- portcullis at %s\n",
	         u.email, ctx->cfg->public_host, new_email, link, ctx->cfg->public_host);
	e = pc_outbox_prepare(ctx, b, "email_change_confirm", new_email, "Confirm your new email address", body);
	sodium_memzero(tok, sizeof(tok));
	sodium_memzero(link, sizeof(link));
	sodium_memzero(body, sizeof(body));
	sodium_memzero(token, sizeof(token));
	if (e == PC_OK) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "user.email_change_request", "user", u.id, "{s:s}", "new_email", new_email);
		ev.mail = &b->mail;
		e = pc_store_email_change_create(ctx->store, actor, &ev, u.id, th, new_email,
		                                 pc_svc_now(ctx) + PC_EMAIL_CHANGE_TTL);
		if (e == PC_OK)
			pc_outbox_wake();
	}
	sodium_memzero(b, sizeof(*b));
	free(b);
out:
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	return e;
}

enum pc_err pc_email_change_confirm(struct pc_svc *ctx, const struct pc_principal *actor, const uint8_t token[32],
                                    int64_t *retry_after)
{
	struct pc_auth *a = &ctx->auth;
	struct pc_throttle_slot slot;
	*retry_after = 0;
	pc_throttle_take(&a->throttle, &a->reset_addr, actor->client_addr, &slot, retry_after);
	if (*retry_after > 0)
		return PC_ERR_THROTTLED;
	if (token == NULL)
		return PC_ERR_NOT_FOUND;
	uint8_t th[32];
	char uid[PC_ID_LEN + 1], new_email[PC_EMAIL_MAX + 1];
	struct pc_user u;
	crypto_generichash(th, sizeof(th), token, 32, NULL, 0);
	int64_t now = pc_svc_now(ctx);
	enum pc_err e = pc_store_email_change_peek(ctx->store, th, now, uid, new_email);
	if (e == PC_OK)
		e = pc_store_user_get(ctx->store, uid, &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e == PC_OK) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "user.email_change", "user", uid, "{s:s,s:s}", "old", u.email, "new", new_email);
		/* the notice goes to the address that is being replaced */
		struct pc_outbox_buf *nb = pc_notify_new(ctx, &ev, u.email, PC_NOTICE_EMAIL_CHANGED);
		e = pc_store_email_change_confirm(ctx->store, actor, &ev, th, now, uid, new_email);
		pc_notify_done(nb, e);
		if (e == PC_OK)
			pc_auth_invalidate(&ctx->auth, uid);
	}
	if (e != PC_ERR_NOT_FOUND)
		pc_throttle_release(&slot);
	return e;
}
