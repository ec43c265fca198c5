/*
 * passkeys.c — see passkeys.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "core/b64url.h"
#include "core/log.h"
#include "svc/factors.h"
#include "svc/outbox.h"
#include "svc/passkeys.h"
#include "svc/tokens.h"

bool pc_passkeys_on(const struct pc_svc *ctx)
{
	return ctx->cfg->webauthn_rp_id[0] != '\0' && ctx->cfg->public_origin[0] != '\0';
}

static const int all_algs[] = {PC_WA_EDDSA, PC_WA_ES256, PC_WA_RS256};

/* A register challenge's purpose names what its options offered: every
 * algorithm ("register"), or one ("register/<alg>"), so that the finish
 * holds the authenticator to it. */
static const struct {
	const char *purpose;
	int alg;
} register_purposes[] = {
	{PC_WA_PURPOSE_REGISTER, 0},
	{PC_WA_PURPOSE_REGISTER "/-8", PC_WA_EDDSA},
	{PC_WA_PURPOSE_REGISTER "/-7", PC_WA_ES256},
	{PC_WA_PURPOSE_REGISTER "/-257", PC_WA_RS256},
};
#define N_REGISTER_PURPOSES (sizeof(register_purposes) / sizeof(register_purposes[0]))
_Static_assert(PC_WA_EDDSA == -8 && PC_WA_ES256 == -7 && PC_WA_RS256 == -257, "register purposes");

static const char *register_purpose(int alg)
{
	for (size_t i = 0; i < N_REGISTER_PURPOSES; i++)
		if (register_purposes[i].alg == alg)
			return register_purposes[i].purpose;
	return NULL;
}

static void challenge_hash(uint8_t out[32], const uint8_t challenge[PC_WA_CHALLENGE_BYTES])
{
	crypto_generichash(out, 32, challenge, PC_WA_CHALLENGE_BYTES, NULL, 0);
}

/* What a registration's challenge is bound to: the session, or (a bearer
 * token without one) the user. */
static void register_binding(char out[PC_ID_LEN + 8], const struct pc_principal *actor)
{
	if (actor->session_id[0] != '\0')
		snprintf(out, PC_ID_LEN + 8, "s:%s", actor->session_id);
	else
		snprintf(out, PC_ID_LEN + 8, "u:%s", actor->user_id);
}

/* A fresh challenge stored for purpose/binding; its base64url into b64. */
static enum pc_err new_challenge(struct pc_svc *ctx, char b64[64], const char *purpose, const char *binding,
                                 const char *handle)
{
	uint8_t ch[PC_WA_CHALLENGE_BYTES], h[32];
	randombytes_buf(ch, sizeof(ch));
	challenge_hash(h, ch);
	pc_b64url_encode(b64, 64, ch, sizeof(ch));
	sodium_memzero(ch, sizeof(ch));
	int64_t now = pc_svc_now(ctx);
	return pc_store_wa_challenge_put(ctx->store, h, purpose, binding, handle, now + PC_WA_CHALLENGE_TTL_S, now,
	                                 PC_WA_CHALLENGES_PER_BINDING);
}

static json_t *descriptor(const char *credential_id)
{
	return json_pack("{s:s,s:s}", "type", "public-key", "id", credential_id);
}

enum pc_err pc_passkeys_count(struct pc_svc *ctx, const char *user_id, size_t *n)
{
	struct pc_passkey *list = NULL;
	*n = 0;
	enum pc_err e = pc_store_passkey_list(ctx->store, user_id, &list, n);
	free(list);
	return e;
}

enum pc_err pc_passkeys_register_options(struct pc_svc *ctx, const struct pc_principal *actor, int alg,
                                         const char *proof, size_t len, int64_t *retry_after, json_t **options)
{
	*options = NULL;
	*retry_after = 0;
	if (!pc_passkeys_on(ctx) || actor->user_id[0] == '\0')
		return PC_ERR_NOT_FOUND;
	if (alg != 0 && !pc_wa_alg_known(alg))
		return PC_ERR_NOT_FOUND;
	/* the proof first: a register challenge exists only once it is given,
	 * and the finish consumes one, so a stolen session or token alone never
	 * adds a passkey */
	/* (a sign-in held for enrolment has just given the password: that is
	 * the proof, PORTCULLIS_REQUIRE_SECOND_FACTOR) */
	enum pc_err e = actor->must_enrol ? PC_OK
	                                  : pc_factors_prove(ctx, actor, proof, len, "passkey.register",
	                                                     "passkey.register_failed", retry_after);
	if (e != PC_OK)
		return e;
	struct pc_passkey *list = NULL;
	size_t n = 0;
	e = pc_store_passkey_list(ctx->store, actor->user_id, &list, &n);
	if (e != PC_OK)
		return e;
	if (n >= PC_PASSKEYS_MAX) {
		free(list);
		return PC_ERR_CONFLICT;
	}
	char handle[PC_PASSKEY_HANDLE_TEXT + 1];
	if (n > 0) {
		memcpy(handle, list[0].user_handle, sizeof(handle));
	} else {
		uint8_t raw[PC_WA_USER_HANDLE_BYTES];
		randombytes_buf(raw, sizeof(raw));
		pc_b64url_encode(handle, sizeof(handle), raw, sizeof(raw));
	}
	char binding[PC_ID_LEN + 8], b64[64];
	register_binding(binding, actor);
	e = new_challenge(ctx, b64, register_purpose(alg), binding, handle);
	if (e != PC_OK) {
		free(list);
		return e;
	}
	json_t *params = json_array(), *exclude = json_array();
	for (size_t i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++)
		if (alg == 0 || alg == all_algs[i])
			json_array_append_new(params, json_pack("{s:s,s:i}", "type", "public-key", "alg", all_algs[i]));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(exclude, descriptor(list[i].credential_id));
	free(list);
	*options = json_pack("{s:{s:s,s:s},s:{s:s,s:s,s:s},s:s,s:o,s:i,s:s,s:{s:s,s:b,s:s},s:o}", "rp", "id",
	                     ctx->cfg->webauthn_rp_id, "name", "portcullis", "user", "id", handle, "name", actor->email,
	                     "displayName", actor->email, "challenge", b64, "pubKeyCredParams", params, "timeout",
	                     PC_WA_CHALLENGE_TTL_S * 1000, "attestation", "none", "authenticatorSelection",
	                     "residentKey", "preferred", "requireResidentKey", false, "userVerification", "preferred",
	                     "excludeCredentials", exclude);
	return *options != NULL ? PC_OK : PC_ERR_INTERNAL;
}

/* A refusal: audited passkey.failed {ceremony, reason}. */
static void refused(struct pc_svc *ctx, const struct pc_principal *actor, const char *user_id, const char *ceremony,
                    enum pc_wa_why why)
{
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "passkey.failed", "user", user_id, "{s:s,s:s}", "ceremony", ceremony, "reason",
	             pc_wa_why_name(why));
	pc_log_if_failed(pc_store_audit_append(ctx->store, actor, &ev), "audit_append", "passkey.failed");
}

/* A refusal before a passkey (and so an account) is known: with no user
 * named (a passwordless sign-in) an anonymous client causes it at will, so
 * it is audited as noise (at most so often per address). */
static void refused_early(struct pc_svc *ctx, const struct pc_principal *actor, const char *user_id,
                          const char *ceremony, enum pc_wa_why why)
{
	if (user_id != NULL) {
		refused(ctx, actor, user_id, ceremony, why);
		return;
	}
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "passkey.failed", "user", "", "{s:s,s:s}", "ceremony", ceremony, "reason",
	             pc_wa_why_name(why));
	pc_auth_audit_noise_event(&ctx->auth, actor, &ev);
}

/* The clientDataJSON checked and its challenge consumed. */
static enum pc_wa_why challenge_ok(struct pc_svc *ctx, const struct pc_wa_response *resp,
                                   enum pc_wa_ceremony ceremony, const char *purpose, const char *binding,
                                   char handle[PC_PASSKEY_HANDLE_TEXT + 1], enum pc_err *err)
{
	uint8_t ch[PC_WA_CHALLENGE_BYTES], h[32];
	*err = PC_OK;
	enum pc_wa_why why = pc_wa_clientdata_parse(ch, resp->clientdata, resp->clientdata_len, ceremony,
	                                            ctx->cfg->public_origin);
	if (why != PC_WA_OK)
		return why;
	challenge_hash(h, ch);
	enum pc_err e = pc_store_wa_challenge_take(ctx->store, h, purpose, binding, pc_svc_now(ctx), handle);
	if (e == PC_ERR_NOT_FOUND)
		return PC_WA_REPLAYED;
	*err = e;
	return e == PC_OK ? PC_WA_OK : PC_WA_MALFORMED;
}

enum pc_err pc_passkeys_register_finish(struct pc_svc *ctx, const struct pc_principal *actor,
                                        const struct pc_wa_response *resp, const char *name, const char *transports,
                                        struct pc_passkey *out, enum pc_wa_why *why)
{
	memset(out, 0, sizeof(*out));
	*why = PC_WA_OK;
	if (!pc_passkeys_on(ctx) || actor->user_id[0] == '\0')
		return PC_ERR_NOT_FOUND;
	char binding[PC_ID_LEN + 8];
	register_binding(binding, actor);
	enum pc_err e = PC_OK;
	/* the challenge under whichever purpose its options gave it (one
	 * conditional DELETE each; at most one matches) */
	size_t p = 0;
	for (; p < N_REGISTER_PURPOSES; p++) {
		*why = challenge_ok(ctx, resp, PC_WA_CREATE, register_purposes[p].purpose, binding, out->user_handle, &e);
		if (e != PC_OK)
			return e;
		if (*why != PC_WA_REPLAYED)
			break;
	}
	int offered = p < N_REGISTER_PURPOSES ? register_purposes[p].alg : 0;
	struct pc_wa_credential cred;
	if (*why == PC_WA_OK)
		*why = pc_wa_register(&cred, resp->clientdata, resp->clientdata_len, resp->attestation,
		                      resp->attestation_len, ctx->cfg->webauthn_rp_id, false,
		                      offered != 0 ? &offered : all_algs,
		                      offered != 0 ? 1 : sizeof(all_algs) / sizeof(all_algs[0]));
	if (*why == PC_WA_OK) {
		/* the id the client names (rawId) is the attested one */
		char attested[PC_PASSKEY_CRED_ID_TEXT + 1];
		pc_b64url_encode(attested, sizeof(attested), cred.id, cred.id_len);
		if (strcmp(attested, resp->credential_id) != 0)
			*why = PC_WA_CREDENTIAL;
	}
	if (*why != PC_WA_OK) {
		refused(ctx, actor, actor->user_id, "register", *why);
		memset(out, 0, sizeof(*out));
		return PC_ERR_NOT_FOUND;
	}
	pc_random_id(out->id);
	snprintf(out->user_id, sizeof(out->user_id), "%s", actor->user_id);
	pc_b64url_encode(out->credential_id, sizeof(out->credential_id), cred.id, cred.id_len);
	pc_b64url_encode(out->public_key, sizeof(out->public_key), cred.pubkey, cred.pubkey_len);
	out->alg = cred.alg;
	out->sign_count = cred.sign_count;
	snprintf(out->name, sizeof(out->name), "%s", name[0] != '\0' ? name : "Passkey");
	snprintf(out->transports, sizeof(out->transports), "%s", transports);
	out->flags = cred.flags;
	out->created_at = pc_svc_now(ctx);
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "passkey.register", "passkey", out->id, "{s:s,s:i,s:b,s:b}", "name", out->name, "alg",
	             (int)out->alg, "user_verified", (cred.flags & PC_WA_FLAG_UV) != 0, "backup_eligible",
	             (cred.flags & PC_WA_FLAG_BE) != 0);
	/* a security notice to the user, queued with the change */
	struct pc_outbox_buf *nb = pc_notify_new(ctx, &ev, actor->email, PC_NOTICE_PASSKEY_ADDED);
	e = pc_store_passkey_add(ctx->store, actor, &ev, out, PC_PASSKEYS_MAX);
	pc_notify_done(nb, e);
	if (e == PC_OK)
		pc_auth_invalidate(&ctx->auth, actor->user_id);
	else
		memset(out, 0, sizeof(*out));
	return e;
}

enum pc_err pc_passkeys_list(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_passkey **out,
                             size_t *n)
{
	*out = NULL;
	*n = 0;
	if (actor->user_id[0] == '\0')
		return PC_ERR_NOT_FOUND;
	return pc_store_passkey_list(ctx->store, actor->user_id, out, n);
}

enum pc_err pc_passkeys_rename(struct pc_svc *ctx, const struct pc_principal *actor, const char *id, const char *name)
{
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "passkey.rename", "passkey", id, "{s:s}", "name", name);
	return pc_store_passkey_rename(ctx->store, actor, &ev, actor->user_id, id, name);
}

enum pc_err pc_passkeys_delete(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                               const char *proof, size_t len, int64_t *retry_after)
{
	enum pc_err e = pc_factors_prove(ctx, actor, proof, len, "passkey.delete", "passkey.delete_failed", retry_after);
	if (e != PC_OK)
		return e;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "passkey.delete", "passkey", id, NULL);
	e = pc_store_passkey_delete(ctx->store, actor, &ev, actor->user_id, id);
	if (e == PC_OK)
		pc_auth_invalidate(&ctx->auth, actor->user_id);
	return e;
}

/* A slot of the per-address sign-in ceiling (what a password sign-in
 * takes), for a passwordless ceremony; > 0: refused (audited as noise). */
static int64_t addr_slot(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_throttle_slot *slot)
{
	int64_t retry = 0;
	pc_throttle_take(&ctx->auth.throttle, &ctx->auth.login_addr, actor->client_addr, slot, &retry);
	if (retry > 0) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "auth.login_throttled", "user", "", "{s:s,s:I}", "method", "passkey",
		             "retry_after", (json_int_t)retry);
		pc_auth_audit_noise_event(&ctx->auth, actor, &ev);
	}
	return retry;
}

enum pc_err pc_passkeys_assert_options(struct pc_svc *ctx, const struct pc_principal *actor, const char *purpose,
                                       const char *binding, const char *user_id, json_t **options,
                                       int64_t *retry_after)
{
	*options = NULL;
	*retry_after = 0;
	if (!pc_passkeys_on(ctx))
		return PC_ERR_NOT_FOUND;
	/* an anonymous ceremony started counts against the address (its
	 * successful finish gives the slot back), so one address cannot fill
	 * the challenge table */
	struct pc_throttle_slot slot = {0};
	if (user_id == NULL && (*retry_after = addr_slot(ctx, actor, &slot)) > 0)
		return PC_ERR_THROTTLED;
	json_t *allow = json_array();
	if (user_id != NULL) {
		struct pc_passkey *list = NULL;
		size_t n = 0;
		enum pc_err e = pc_store_passkey_list(ctx->store, user_id, &list, &n);
		if (e == PC_OK && n == 0)
			e = PC_ERR_NOT_FOUND;
		for (size_t i = 0; e == PC_OK && i < n; i++)
			json_array_append_new(allow, descriptor(list[i].credential_id));
		free(list);
		if (e != PC_OK) {
			json_decref(allow);
			return e;
		}
	}
	char b64[64];
	enum pc_err e = new_challenge(ctx, b64, purpose, binding, "");
	if (e != PC_OK) {
		pc_throttle_release(&slot);
		json_decref(allow);
		return e;
	}
	*options = json_pack("{s:s,s:s,s:i,s:o,s:s}", "challenge", b64, "rpId", ctx->cfg->webauthn_rp_id, "timeout",
	                     PC_WA_CHALLENGE_TTL_S * 1000, "allowCredentials", allow, "userVerification",
	                     user_id == NULL ? "required" : "preferred");
	return *options != NULL ? PC_OK : PC_ERR_INTERNAL;
}

/*
 * An assertion for purpose/binding: the clientDataJSON and its challenge,
 * the passkey by credential id (user_id's when given; else the user
 * handle must be the passkey's), for a second step a slot of the user's
 * limit (a passwordless sign-in is throttled by its address only, the
 * caller's slot: a stranger's guesses never lock the account out), the
 * signature and flags, the sign count, then the use stored (event
 * passkey.use). Refusals before a passkey is found are audited as noise
 * when no user is named. *k the passkey on PC_OK; PC_ERR_NOT_FOUND with
 * *why.
 */
static enum pc_err assertion(struct pc_svc *ctx, const struct pc_principal *actor, const char *purpose,
                             const char *binding, const char *user_id, const struct pc_wa_response *resp,
                             struct pc_passkey *k, uint8_t *flags_out, int64_t *retry_after, enum pc_wa_why *why)
{
	const char *ceremony = user_id != NULL ? "second_factor" : "signin";
	char unused[PC_PASSKEY_HANDLE_TEXT + 1];
	enum pc_err e;
	memset(k, 0, sizeof(*k));
	*retry_after = 0;
	*why = challenge_ok(ctx, resp, PC_WA_GET, purpose, binding, unused, &e);
	if (e != PC_OK)
		return e;
	if (*why != PC_WA_OK) {
		refused_early(ctx, actor, user_id, ceremony, *why);
		return PC_ERR_NOT_FOUND;
	}
	e = pc_store_passkey_by_credential(ctx->store, resp->credential_id, k);
	if (e != PC_OK && e != PC_ERR_NOT_FOUND)
		return e;
	if (e == PC_ERR_NOT_FOUND || (user_id != NULL && strcmp(k->user_id, user_id) != 0)) {
		*why = PC_WA_CREDENTIAL;
		refused_early(ctx, actor, user_id, ceremony, *why);
		memset(k, 0, sizeof(*k));
		return PC_ERR_NOT_FOUND;
	}
	struct pc_throttle_slot slot = {0};
	char subject[PC_ID_LEN + 8];
	if (user_id != NULL) {
		*retry_after = pc_factors_take_slot(ctx, actor, k->user_id, &slot, subject, "passkey");
		if (*retry_after > 0) {
			memset(k, 0, sizeof(*k));
			return PC_ERR_THROTTLED;
		}
	}
	if (user_id == NULL) {
		char handle[PC_PASSKEY_HANDLE_TEXT + 1] = "";
		if (resp->user_handle != NULL && resp->user_handle_len == PC_WA_USER_HANDLE_BYTES)
			pc_b64url_encode(handle, sizeof(handle), resp->user_handle, resp->user_handle_len);
		if (strlen(handle) != strlen(k->user_handle) ||
		    sodium_memcmp(handle, k->user_handle, strlen(handle)) != 0)
			*why = PC_WA_USER_HANDLE;
	} else if (resp->user_handle != NULL && resp->user_handle_len > 0) {
		/* an authenticator may return it in a second step too: it must match */
		char handle[PC_PASSKEY_HANDLE_TEXT + 1] = "";
		if (resp->user_handle_len == PC_WA_USER_HANDLE_BYTES)
			pc_b64url_encode(handle, sizeof(handle), resp->user_handle, resp->user_handle_len);
		if (strcmp(handle, k->user_handle) != 0)
			*why = PC_WA_USER_HANDLE;
	}
	uint8_t pk[PC_WA_PUBKEY_MAX];
	size_t pkl = 0;
	uint32_t count = 0;
	uint8_t flags = 0;
	if (*why == PC_WA_OK && pc_b64url_decode(pk, sizeof(pk), &pkl, k->public_key, strlen(k->public_key)) != 0) {
		pc_log("error", "passkey", "a stored passkey public key does not decode");
		memset(k, 0, sizeof(*k));
		pc_throttle_release(&slot);
		return PC_ERR_INTERNAL;
	}
	if (*why == PC_WA_OK)
		*why = pc_wa_assert(&count, &flags, resp->clientdata, resp->clientdata_len, resp->authdata,
		                    resp->authdata_len, resp->signature, resp->signature_len, ctx->cfg->webauthn_rp_id,
		                    user_id == NULL, (int)k->alg, pk, pkl);
	if (*why == PC_WA_OK && pc_wa_sign_count_regressed((uint32_t)k->sign_count, count))
		*why = PC_WA_CLONE;
	if (*why != PC_WA_OK) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "passkey.failed", "passkey", k->id, "{s:s,s:s,s:s,s:I,s:I}", "ceremony", ceremony,
		             "reason", pc_wa_why_name(*why), "user", k->user_id, "stored_sign_count",
		             (json_int_t)k->sign_count, "sign_count", (json_int_t)count);
		pc_log_if_failed(pc_store_audit_append(ctx->store, actor, &ev), "audit_append", "passkey.failed");
		memset(k, 0, sizeof(*k));
		return PC_ERR_NOT_FOUND;
	}
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "passkey.use", "passkey", k->id, "{s:s,s:s,s:I,s:b}", "for", ceremony, "user",
	             k->user_id, "sign_count", (json_int_t)count, "user_verified", (flags & PC_WA_FLAG_UV) != 0);
	e = pc_store_passkey_use(ctx->store, actor, &ev, k->id, k->sign_count, count, pc_svc_now(ctx));
	if (e == PC_ERR_REUSED) { /* another use moved the counter between our read and write */
		*why = PC_WA_CLONE;
		refused(ctx, actor, k->user_id, ceremony, *why);
		memset(k, 0, sizeof(*k));
		return PC_ERR_NOT_FOUND;
	}
	if (e == PC_OK)
		pc_throttle_reset(&slot);
	else
		memset(k, 0, sizeof(*k));
	*flags_out = flags;
	return e;
}

/* The amr kind of a passkey: "swk" for a synced one (BE: backup eligible,
 * the key may leave the device), "hwk" for one bound to its device. */
static unsigned passkey_factors(uint8_t flags, bool with_password)
{
	if (flags & PC_WA_FLAG_BE)
		return with_password ? PC_FACTORS_PWD_SWK : PC_FACTORS_SWK;
	return with_password ? PC_FACTORS_PWD_HWK : PC_FACTORS_HWK;
}

enum pc_err pc_passkeys_second_step(struct pc_svc *ctx, const struct pc_principal *pending,
                                    const struct pc_wa_response *resp, struct pc_user *user, struct pc_session *sess,
                                    uint8_t secret[PC_SESSION_SECRET_BYTES], int64_t *retry_after,
                                    enum pc_wa_why *why)
{
	memset(user, 0, sizeof(*user));
	*why = PC_WA_OK;
	if (!pc_passkeys_on(ctx))
		return PC_ERR_NOT_FOUND;
	struct pc_passkey k;
	uint8_t flags = 0;
	enum pc_err e = assertion(ctx, pending, PC_WA_PURPOSE_SECOND, pending->session_id, pending->user_id, resp, &k,
	                          &flags, retry_after, why);
	if (e != PC_OK)
		return e;
	e = pc_store_user_get(ctx->store, pending->user_id, user);
	sodium_memzero(user->password_hash, sizeof(user->password_hash));
	if (e != PC_OK)
		return e;
	pc_svc_session_new(ctx, sess, secret, pending, user->id);
	sess->factors = passkey_factors(flags, true);
	sess->second_factor_at = pc_svc_now(ctx);
	struct pc_audit_event ev;
	pc_svc_event(&ev, pending, "auth.second_factor", "session", sess->id, "{s:s,s:s,s:s}", "method", "passkey",
	             "passkey", k.id, "pending_session", pending->session_id);
	e = pc_store_session_promote(ctx->store, pending, &ev, pending->session_id, sess);
	if (e != PC_OK) {
		sodium_memzero(secret, PC_SESSION_SECRET_BYTES);
		return e;
	}
	pc_auth_invalidate(&ctx->auth, pending->session_id);
	return PC_OK;
}

enum pc_err pc_passkeys_signin(struct pc_svc *ctx, const struct pc_principal *actor, const char *binding,
                               const struct pc_wa_response *resp, struct pc_user *user, struct pc_session *sess,
                               uint8_t secret[PC_SESSION_SECRET_BYTES], int64_t *retry_after, enum pc_wa_why *why)
{
	memset(user, 0, sizeof(*user));
	*why = PC_WA_OK;
	if (!pc_passkeys_on(ctx))
		return PC_ERR_NOT_FOUND;
	/* the address ceiling of password sign-ins: a failure keeps the slot;
	 * a success gives it back, and the one its options took */
	struct pc_throttle_slot slot;
	if ((*retry_after = addr_slot(ctx, actor, &slot)) > 0)
		return PC_ERR_THROTTLED;
	struct pc_passkey k;
	uint8_t flags = 0;
	int64_t unused_retry = 0;
	enum pc_err e = assertion(ctx, actor, PC_WA_PURPOSE_SIGNIN, binding, NULL, resp, &k, &flags, &unused_retry, why);
	if (e != PC_OK) {
		if (e != PC_ERR_NOT_FOUND) /* not an attempt: the store failed */
			pc_throttle_release(&slot);
		return e;
	}
	struct pc_throttle_slot options_slot = slot;
	pc_throttle_release(&slot);
	pc_throttle_release(&options_slot);
	e = pc_store_user_get(ctx->store, k.user_id, user);
	sodium_memzero(user->password_hash, sizeof(user->password_hash));
	if (e == PC_OK && user->disabled) {
		*why = PC_WA_DISABLED;
		refused(ctx, actor, user->id, "signin", *why);
		e = PC_ERR_NOT_FOUND;
	}
	if (e != PC_OK) {
		memset(user, 0, sizeof(*user));
		return e;
	}
	pc_svc_session_new(ctx, sess, secret, actor, user->id);
	sess->cred_epoch = user->cred_epoch;
	sess->factors = passkey_factors(flags, false);
	sess->second_factor_at = pc_svc_now(ctx);
	struct pc_principal self;
	pc_svc_session_principal(&self, actor, user, sess);
	struct pc_audit_event ev;
	pc_svc_event(&ev, &self, "auth.login", "session", sess->id, "{s:s,s:s}", "method", "passkey", "passkey", k.id);
	e = pc_tokens_signin_written(ctx, actor, user, pc_store_session_create(ctx->store, &self, &ev, sess));
	if (e != PC_OK)
		sodium_memzero(secret, PC_SESSION_SECRET_BYTES);
	return e;
}
