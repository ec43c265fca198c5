/*
 * factors.c — see factors.h.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "config/config.h"
#include "core/b64url.h"
#include "core/base32.h"
#include "core/log.h"
#include "core/otp.h"
#include "core/pct.h"
#include "svc/factors.h"
#include "svc/outbox.h"
#include "svc/passkeys.h"

#define SEAL_AD_PREFIX "portcullis:totp:"
#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* ---- sealing the secret ---- */

static void seal_ad(char ad[sizeof(SEAL_AD_PREFIX) + PC_ID_LEN], const char *row_id)
{
	snprintf(ad, sizeof(SEAL_AD_PREFIX) + PC_ID_LEN, SEAL_AD_PREFIX "%s", row_id);
}

/* secret[n] sealed under the current TOTP subkey into out (base64url). */
static int seal(char out[PC_TOTP_SEALED_MAX + 1], const uint8_t *secret, size_t n, const char *row_id,
                const struct pc_keys *keys)
{
	uint8_t buf[1 + NONCE + PC_OTP_SECRET_MAX + TAG];
	char ad[sizeof(SEAL_AD_PREFIX) + PC_ID_LEN];
	if (n > PC_OTP_SECRET_MAX || sodium_base64_ENCODED_LEN(1 + NONCE + n + TAG, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > PC_TOTP_SEALED_MAX + 1)
		return -1;
	seal_ad(ad, row_id);
	buf[0] = keys->current.id;
	randombytes_buf(buf + 1, NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 1 + NONCE, NULL, secret, n, (const uint8_t *)ad, strlen(ad),
	                                           NULL, buf + 1, keys->current.sub[PC_SUBKEY_TOTP]);
	pc_b64url_encode(out, PC_TOTP_SEALED_MAX + 1, buf, 1 + NONCE + n + TAG);
	return 0;
}

/* Opens a sealed secret into secret (cap PC_OTP_SECRET_MAX), *n its length.
 * -1 (secret wiped) when it does not open. */
static int unseal(uint8_t secret[PC_OTP_SECRET_MAX], size_t *n, const char *sealed, const char *row_id,
                  const struct pc_keys *keys)
{
	uint8_t buf[1 + NONCE + PC_OTP_SECRET_MAX + TAG];
	size_t len = 0;
	unsigned long long pl = 0;
	char ad[sizeof(SEAL_AD_PREFIX) + PC_ID_LEN];
	*n = 0;
	if (pc_b64url_decode(buf, sizeof(buf), &len, sealed, strlen(sealed)) != 0 || len < 1 + NONCE + TAG + 1)
		return -1;
	const struct pc_keyset *ks = buf[0] == keys->current.id                         ? &keys->current
	                             : keys->has_previous && buf[0] == keys->previous.id ? &keys->previous
	                                                                                 : NULL;
	seal_ad(ad, row_id);
	if (ks == NULL || crypto_aead_xchacha20poly1305_ietf_decrypt(secret, &pl, NULL, buf + 1 + NONCE,
	                                                             len - 1 - NONCE, (const uint8_t *)ad,
	                                                             strlen(ad), buf + 1, ks->sub[PC_SUBKEY_TOTP]) != 0) {
		sodium_memzero(secret, PC_OTP_SECRET_MAX);
		return -1;
	}
	*n = (size_t)pl;
	return 0;
}

/* ---- recovery codes ---- */

int pc_recovery_normalize(char out[11], const char *in, size_t len)
{
	size_t o = 0;
	memset(out, 0, 11);
	if (len > 32)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c == 'O')
			c = '0';
		else if (c == 'I' || c == 'L')
			c = '1';
		if (c == '\0' || strchr(crockford, c) == NULL || o == 10) {
			sodium_memzero(out, 11);
			return -1;
		}
		out[o++] = c;
	}
	if (o != 10) {
		sodium_memzero(out, 11);
		return -1;
	}
	return 0;
}

static void recovery_hash(uint8_t out[32], const char norm[10], const struct pc_keys *keys)
{
	crypto_generichash(out, 32, (const uint8_t *)norm, 10, keys->current.sub[PC_SUBKEY_RECOVERY], 32);
}

/* A fresh batch into codes (shown) and hashes (stored). */
static void recovery_batch(pc_recovery_codes codes, uint8_t hashes[PC_RECOVERY_CODES][32],
                           const struct pc_keys *keys)
{
	for (int i = 0; i < PC_RECOVERY_CODES; i++) {
		char norm[11];
		for (int j = 0; j < 10; j++)
			norm[j] = crockford[randombytes_uniform(32)];
		norm[10] = '\0';
		recovery_hash(hashes[i], norm, keys);
		memcpy(codes[i], norm, 5);
		codes[i][5] = '-';
		memcpy(codes[i] + 6, norm + 5, 5);
		codes[i][11] = '\0';
		sodium_memzero(norm, sizeof(norm));
	}
}

/* ---- throttling and events ---- */

/* A slot of the account limit under "factor:<user_id>"; > 0: refused. */
int64_t pc_factors_take_slot(struct pc_svc *ctx, const struct pc_principal *actor, const char *user_id,
                             struct pc_throttle_slot *slot, char subject[PC_ID_LEN + 8], const char *what)
{
	int64_t retry = 0;
	snprintf(subject, PC_ID_LEN + 8, "factor:%s", user_id);
	pc_throttle_take(&ctx->auth.throttle, &ctx->auth.login_account, subject, slot, &retry);
	if (retry > 0) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "auth.factor_throttled", "user", user_id, "{s:s,s:I}", "attempt", what,
		             "retry_after", (json_int_t)retry);
		pc_auth_audit_noise_event(&ctx->auth, actor, &ev);
	}
	return retry;
}

void pc_factors_failed(struct pc_svc *ctx, const struct pc_principal *actor, const char *action, const char *user_id,
                       const char *method, const char *reason)
{
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, action, "user", user_id, "{s:s,s:s}", "method", method, "reason", reason);
	pc_log_if_failed(pc_store_audit_append(ctx->store, actor, &ev), "audit_append", action);
}

/* Whether code matches t now; *step the step it matched. */
static bool code_matches(struct pc_svc *ctx, const struct pc_totp *t, const char *code, size_t len, int64_t *step)
{
	uint8_t secret[PC_OTP_SECRET_MAX];
	size_t n = 0;
	enum pc_otp_alg alg;
	uint64_t st = 0;
	bool ok = false;
	*step = 0;
	if (pc_otp_alg_parse(&alg, t->algorithm) != 0 || t->digits < 6 || t->digits > 8 || t->period < 1 ||
	    t->period > 300) {
		pc_log("error", "totp", "a stored TOTP credential has parameters this version does not know");
		return false;
	}
	if (unseal(secret, &n, t->secret_sealed, t->id, ctx->cfg->keys) != 0) {
		pc_log("error", "totp", "a stored TOTP secret does not open (another key, or tampered)");
		return false;
	}
	ok = pc_totp_check(&st, code, len, secret, n, alg, (unsigned)t->digits, (unsigned)t->period,
	                   pc_svc_now(ctx), PC_OTP_SKEW) == 0 &&
	     st > 0 && st <= INT64_MAX;
	sodium_memzero(secret, sizeof(secret));
	*step = ok ? (int64_t)st : 0;
	return ok;
}

/* The actor's password is proof; PC_OK, PC_ERR_NOT_FOUND. */
static enum pc_err password_ok(struct pc_svc *ctx, const char *user_id, const char *pw, size_t len)
{
	struct pc_user u;
	enum pc_err e = pc_store_user_get(ctx->store, user_id, &u);
	if (e == PC_OK && pc_password_verify(u.password_hash, pw, len) != 0)
		e = PC_ERR_NOT_FOUND;
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	return e;
}

/* The otpauth URI (Key Uri Format: label "issuer:account", the secret in
 * base32 without padding, and the parameters). 0 or -1. */
static int build_uri(char uri[PC_TOTP_URI_MAX], const char *email, const char *secret_b32, const struct pc_totp *t)
{
	char label[3 * (PC_EMAIL_MAX + 16) + 1];
	size_t ll = 0;
	char who[PC_EMAIL_MAX + 16];
	snprintf(who, sizeof(who), "%s:%s", PC_TOTP_ISSUER, email);
	if (pc_pct_encode(label, sizeof(label), &ll, who, strlen(who)) != 0)
		return -1;
	int w = snprintf(uri, PC_TOTP_URI_MAX, "otpauth://totp/%s?secret=%s&issuer=%s&algorithm=%s&digits=%u&period=%u",
	                 label, secret_b32, PC_TOTP_ISSUER, t->algorithm, (unsigned)t->digits, (unsigned)t->period);
	return w < 0 || w >= PC_TOTP_URI_MAX ? -1 : 0;
}

/* ---- the rules ---- */

enum pc_err pc_factors_totp_enrol(struct pc_svc *ctx, const struct pc_principal *actor,
                                  struct pc_totp_enrolment *out)
{
	memset(out, 0, sizeof(*out));
	if (actor->user_id[0] == '\0')
		return PC_ERR_NOT_FOUND;
	struct pc_totp t;
	memset(&t, 0, sizeof(t));
	pc_random_id(t.id);
	snprintf(t.user_id, sizeof(t.user_id), "%s", actor->user_id);
	snprintf(t.algorithm, sizeof(t.algorithm), "%s", pc_otp_alg_name(PC_OTP_SHA1));
	t.digits = PC_OTP_DIGITS_DEFAULT;
	t.period = PC_OTP_PERIOD_DEFAULT;
	t.created_at = pc_svc_now(ctx);
	uint8_t secret[PC_OTP_SECRET_BYTES];
	randombytes_buf(secret, sizeof(secret));
	enum pc_err e = PC_ERR_INTERNAL;
	if (seal(t.secret_sealed, secret, sizeof(secret), t.id, ctx->cfg->keys) != 0 ||
	    pc_base32_encode(out->secret, sizeof(out->secret), secret, sizeof(secret)) != 0 ||
	    build_uri(out->uri, actor->email, out->secret, &t) != 0)
		goto out;
	snprintf(out->algorithm, sizeof(out->algorithm), "%s", t.algorithm);
	out->digits = (unsigned)t.digits;
	out->period = (unsigned)t.period;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "totp.enrol", "totp", t.id, "{s:s,s:I,s:I}", "algorithm", t.algorithm, "digits",
	             (json_int_t)t.digits, "period", (json_int_t)t.period);
	e = pc_store_totp_put(ctx->store, actor, &ev, &t);
out:
	sodium_memzero(secret, sizeof(secret));
	if (e != PC_OK)
		sodium_memzero(out, sizeof(*out));
	return e;
}

enum pc_err pc_factors_totp_pending_uri(struct pc_svc *ctx, const struct pc_principal *actor,
                                        char uri[PC_TOTP_URI_MAX])
{
	memset(uri, 0, PC_TOTP_URI_MAX);
	struct pc_totp t;
	enum pc_err e = pc_store_totp_get(ctx->store, actor->user_id, &t);
	if (e == PC_OK && t.confirmed)
		e = PC_ERR_NOT_FOUND;
	if (e != PC_OK)
		return e;
	uint8_t secret[PC_OTP_SECRET_MAX];
	char b32[PC_BASE32_LEN(PC_OTP_SECRET_MAX) + 1];
	size_t n = 0;
	e = PC_ERR_INTERNAL;
	if (unseal(secret, &n, t.secret_sealed, t.id, ctx->cfg->keys) == 0 &&
	    pc_base32_encode(b32, sizeof(b32), secret, n) == 0 && build_uri(uri, actor->email, b32, &t) == 0)
		e = PC_OK;
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(b32, sizeof(b32));
	if (e != PC_OK)
		sodium_memzero(uri, PC_TOTP_URI_MAX);
	return e;
}

enum pc_err pc_factors_totp_confirm(struct pc_svc *ctx, const struct pc_principal *actor, const char *code,
                                    size_t len, pc_recovery_codes codes, int64_t *retry_after)
{
	memset(codes, 0, sizeof(pc_recovery_codes));
	*retry_after = 0;
	struct pc_totp t;
	enum pc_err e = pc_store_totp_get(ctx->store, actor->user_id, &t);
	if (e != PC_OK)
		return e;
	if (t.confirmed)
		return PC_ERR_CONFLICT;
	struct pc_throttle_slot slot;
	char subject[PC_ID_LEN + 8];
	*retry_after = pc_factors_take_slot(ctx, actor, actor->user_id, &slot, subject, "totp.confirm");
	if (*retry_after > 0)
		return PC_ERR_THROTTLED;
	int64_t step;
	if (!code_matches(ctx, &t, code, len, &step)) {
		pc_factors_failed(ctx, actor, "totp.confirm_failed", actor->user_id, "totp", "wrong");
		return PC_ERR_NOT_FOUND;
	}
	uint8_t hashes[PC_RECOVERY_CODES][32];
	recovery_batch(codes, hashes, ctx->cfg->keys);
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "totp.confirm", "totp", t.id, "{s:I}", "recovery_codes", (json_int_t)PC_RECOVERY_CODES);
	struct pc_outbox_buf *nb = pc_notify_new(ctx, &ev, actor->email, PC_NOTICE_SECOND_FACTOR_ADDED);
	e = pc_store_totp_confirm(ctx->store, actor, &ev, t.id, step, (const uint8_t(*)[32])hashes, PC_RECOVERY_CODES);
	pc_notify_done(nb, e);
	sodium_memzero(hashes, sizeof(hashes));
	if (e == PC_ERR_NOT_FOUND)
		pc_factors_failed(ctx, actor, "totp.confirm_failed", actor->user_id, "totp", "replayed");
	if (e != PC_OK) {
		sodium_memzero(codes, sizeof(pc_recovery_codes));
		return e;
	}
	pc_throttle_reset(&slot);
	pc_auth_invalidate(&ctx->auth, actor->user_id);
	return PC_OK;
}

/* A proof of the actor's: the password, or a current TOTP code of t (its
 * step then used). */
static enum pc_err proof_ok(struct pc_svc *ctx, const struct pc_principal *actor, const struct pc_totp *t,
                            const char *proof, size_t len)
{
	int64_t step;
	if (t != NULL && t->confirmed && code_matches(ctx, t, proof, len, &step)) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "totp.use", "totp", t->id, "{s:s}", "for", "proof");
		enum pc_err e = pc_store_totp_use(ctx->store, actor, &ev, t->id, step);
		return e == PC_ERR_REUSED ? PC_ERR_NOT_FOUND : e;
	}
	return password_ok(ctx, actor->user_id, proof, len);
}

/* A change the actor proves: a slot of the account limit, then the proof
 * (the password; or, when t is given, a current code of t), a failure
 * audited as `failed_action`. PC_OK, PC_ERR_NOT_FOUND, PC_ERR_THROTTLED. */
static enum pc_err proved(struct pc_svc *ctx, const struct pc_principal *actor, const struct pc_totp *t,
                          const char *proof, size_t len, const char *what, const char *failed_action,
                          int64_t *retry_after)
{
	struct pc_throttle_slot slot;
	char subject[PC_ID_LEN + 8];
	*retry_after = pc_factors_take_slot(ctx, actor, actor->user_id, &slot, subject, what);
	if (*retry_after > 0)
		return PC_ERR_THROTTLED;
	enum pc_err e = t != NULL ? proof_ok(ctx, actor, t, proof, len) : password_ok(ctx, actor->user_id, proof, len);
	if (e == PC_ERR_NOT_FOUND)
		pc_factors_failed(ctx, actor, failed_action, actor->user_id, "password", "wrong");
	if (e == PC_OK)
		pc_throttle_reset(&slot);
	return e;
}

enum pc_err pc_factors_prove(struct pc_svc *ctx, const struct pc_principal *actor, const char *proof, size_t len,
                             const char *what, const char *failed_action, int64_t *retry_after)
{
	*retry_after = 0;
	struct pc_totp t;
	enum pc_err e = pc_store_totp_get(ctx->store, actor->user_id, &t);
	if (e != PC_OK && e != PC_ERR_NOT_FOUND)
		return e;
	e = proved(ctx, actor, e == PC_OK ? &t : NULL, proof, len, what, failed_action, retry_after);
	sodium_memzero(&t, sizeof(t));
	return e;
}

enum pc_err pc_factors_totp_delete(struct pc_svc *ctx, const struct pc_principal *actor, const char *proof,
                                   size_t len, int64_t *retry_after)
{
	*retry_after = 0;
	struct pc_totp t;
	enum pc_err e = pc_store_totp_get(ctx->store, actor->user_id, &t);
	if (e != PC_OK)
		return e;
	e = proved(ctx, actor, &t, proof, len, "totp.delete", "totp.delete_failed", retry_after);
	if (e != PC_OK)
		return e;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "totp.delete", "totp", t.id, NULL);
	struct pc_outbox_buf *nb = pc_notify_new(ctx, &ev, actor->email, PC_NOTICE_SECOND_FACTOR_REMOVED);
	e = pc_store_totp_delete(ctx->store, actor, &ev, actor->user_id);
	pc_notify_done(nb, e);
	if (e == PC_OK)
		pc_auth_invalidate(&ctx->auth, actor->user_id);
	return e;
}

enum pc_err pc_factors_recovery_regenerate(struct pc_svc *ctx, const struct pc_principal *actor,
                                           const char *password, size_t len, pc_recovery_codes codes,
                                           int64_t *retry_after)
{
	memset(codes, 0, sizeof(pc_recovery_codes));
	*retry_after = 0;
	struct pc_totp t;
	enum pc_err e = pc_store_totp_get(ctx->store, actor->user_id, &t);
	if (e == PC_OK && !t.confirmed)
		e = PC_ERR_NOT_FOUND;
	if (e != PC_OK)
		return e;
	e = proved(ctx, actor, NULL, password, len, "recovery.generate", "recovery.generate_failed", retry_after);
	if (e != PC_OK)
		return e;
	uint8_t hashes[PC_RECOVERY_CODES][32];
	recovery_batch(codes, hashes, ctx->cfg->keys);
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "recovery.generate", "user", actor->user_id, "{s:I}", "codes",
	             (json_int_t)PC_RECOVERY_CODES);
	e = pc_store_recovery_set(ctx->store, actor, &ev, actor->user_id, (const uint8_t(*)[32])hashes,
	                          PC_RECOVERY_CODES);
	sodium_memzero(hashes, sizeof(hashes));
	if (e != PC_OK)
		sodium_memzero(codes, sizeof(pc_recovery_codes));
	return e;
}

enum pc_err pc_factors_list(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_factors_info *out)
{
	memset(out, 0, sizeof(*out));
	struct pc_totp t;
	enum pc_err e = pc_store_totp_get(ctx->store, actor->user_id, &t);
	if (e == PC_OK) {
		out->totp = t.confirmed;
		out->totp_pending = !t.confirmed;
		snprintf(out->algorithm, sizeof(out->algorithm), "%s", t.algorithm);
		out->digits = t.digits;
		out->period = t.period;
		out->totp_created_at = t.created_at;
	} else if (e != PC_ERR_NOT_FOUND) {
		return e;
	}
	sodium_memzero(&t, sizeof(t));
	return pc_store_recovery_left(ctx->store, actor->user_id, &out->recovery_left);
}

enum pc_err pc_factors_methods(struct pc_svc *ctx, const char *user_id, unsigned *methods)
{
	struct pc_totp t;
	*methods = 0;
	enum pc_err e = pc_store_totp_get(ctx->store, user_id, &t);
	if (e == PC_OK && t.confirmed)
		*methods |= PC_METHODS_TOTP | PC_METHODS_RECOVERY;
	sodium_memzero(&t, sizeof(t));
	if (e != PC_OK && e != PC_ERR_NOT_FOUND)
		return e;
	size_t n = 0;
	e = pc_passkeys_count(ctx, user_id, &n); /* whatever the configuration */
	if (n > 0)
		*methods |= PC_METHODS_PASSKEY;
	return e;
}

unsigned pc_factors_usable(const struct pc_svc *ctx, unsigned methods)
{
	return pc_passkeys_on(ctx) ? methods : methods & ~PC_METHODS_PASSKEY;
}

enum pc_err pc_factors_active(struct pc_svc *ctx, const char *user_id, bool *active)
{
	unsigned m = 0;
	enum pc_err e = pc_factors_methods(ctx, user_id, &m);
	*active = e == PC_OK && m != 0;
	return e;
}

static const char *method_name(enum pc_factor_method m)
{
	return m == PC_FACTOR_TOTP ? "totp" : "recovery";
}

enum pc_err pc_factors_check(struct pc_svc *ctx, const struct pc_principal *actor, const char *user_id,
                             enum pc_factor_method method, const char *code, size_t len, int64_t *retry_after)
{
	*retry_after = 0;
	struct pc_throttle_slot slot;
	char subject[PC_ID_LEN + 8];
	*retry_after = pc_factors_take_slot(ctx, actor, user_id, &slot, subject, method_name(method));
	if (*retry_after > 0)
		return PC_ERR_THROTTLED;
	struct pc_audit_event ev;
	enum pc_err e;
	if (method == PC_FACTOR_TOTP) {
		struct pc_totp t;
		int64_t step;
		e = pc_store_totp_get(ctx->store, user_id, &t);
		if (e == PC_OK && !t.confirmed)
			e = PC_ERR_NOT_FOUND;
		if (e != PC_OK && e != PC_ERR_NOT_FOUND)
			return e;
		if (e == PC_ERR_NOT_FOUND || !code_matches(ctx, &t, code, len, &step)) {
			pc_factors_failed(ctx, actor, "auth.second_factor_failed", user_id, "totp", "wrong");
			return PC_ERR_NOT_FOUND;
		}
		pc_svc_event(&ev, actor, "totp.use", "totp", t.id, "{s:I}", "step", (json_int_t)step);
		e = pc_store_totp_use(ctx->store, actor, &ev, t.id, step);
		if (e == PC_ERR_REUSED) {
			pc_factors_failed(ctx, actor, "auth.second_factor_failed", user_id, "totp", "replayed");
			return PC_ERR_NOT_FOUND;
		}
	} else {
		char norm[11];
		uint8_t h[32];
		if (pc_recovery_normalize(norm, code, len) != 0) {
			pc_factors_failed(ctx, actor, "auth.second_factor_failed", user_id, "recovery", "malformed");
			return PC_ERR_NOT_FOUND;
		}
		recovery_hash(h, norm, ctx->cfg->keys);
		sodium_memzero(norm, sizeof(norm));
		pc_svc_event(&ev, actor, "recovery.use", "user", user_id, NULL);
		struct pc_outbox_buf *nb = pc_notify_new(ctx, &ev, actor->email, PC_NOTICE_RECOVERY_CODE_USED);
		e = pc_store_recovery_spend(ctx->store, actor, &ev, user_id, h, pc_svc_now(ctx));
		pc_notify_done(nb, e);
		sodium_memzero(h, sizeof(h));
		if (e == PC_ERR_NOT_FOUND) {
			pc_factors_failed(ctx, actor, "auth.second_factor_failed", user_id, "recovery", "unknown or spent");
			return PC_ERR_NOT_FOUND;
		}
	}
	if (e == PC_OK)
		pc_throttle_reset(&slot);
	return e;
}

enum pc_err pc_factors_second_step(struct pc_svc *ctx, const struct pc_principal *pending,
                                   enum pc_factor_method method, const char *code, size_t len, struct pc_user *user,
                                   struct pc_session *sess, uint8_t secret[PC_SESSION_SECRET_BYTES],
                                   int64_t *retry_after)
{
	memset(user, 0, sizeof(*user));
	enum pc_err e = pc_factors_check(ctx, pending, pending->user_id, method, code, len, retry_after);
	if (e != PC_OK)
		return e;
	e = pc_store_user_get(ctx->store, pending->user_id, user);
	sodium_memzero(user->password_hash, sizeof(user->password_hash));
	if (e != PC_OK)
		return e;
	pc_svc_session_new(ctx, sess, secret, pending, user->id);
	sess->factors = 2;
	sess->second_factor_at = pc_svc_now(ctx);
	struct pc_audit_event ev;
	pc_svc_event(&ev, pending, "auth.second_factor", "session", sess->id, "{s:s,s:s}", "method", method_name(method),
	             "pending_session", pending->session_id);
	e = pc_store_session_promote(ctx->store, pending, &ev, pending->session_id, sess);
	if (e != PC_OK) {
		sodium_memzero(secret, PC_SESSION_SECRET_BYTES);
		return e;
	}
	pc_auth_invalidate(&ctx->auth, pending->session_id);
	return PC_OK;
}

bool pc_factors_required(const struct pc_svc *ctx, enum pc_role role)
{
	switch (ctx->cfg->require_second_factor) {
	case PC_REQUIRE_2FA_ALL:
		return true;
	case PC_REQUIRE_2FA_ADMINS:
		return role == PC_ROLE_ADMIN;
	case PC_REQUIRE_2FA_NONE:
	default:
		return false;
	}
}

enum pc_err pc_factors_enrol_finish(struct pc_svc *ctx, const struct pc_principal *actor, const char *method,
                                    unsigned factors, struct pc_session *sess, uint8_t secret[PC_SESSION_SECRET_BYTES])
{
	if (!actor->must_enrol || actor->method != PC_AUTH_SESSION || PC_FACTORS_OF(factors) < 2)
		return PC_ERR_NOT_FOUND;
	pc_svc_session_new(ctx, sess, secret, actor, actor->user_id);
	sess->factors = PC_FACTORS_OF(factors);
	sess->second_factor_at = pc_svc_now(ctx);
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "auth.enrolled", "session", sess->id, "{s:s,s:s}", "method", method,
	             "pending_session", actor->session_id);
	enum pc_err e = pc_store_session_promote(ctx->store, actor, &ev, actor->session_id, sess);
	if (e != PC_OK) {
		sodium_memzero(secret, PC_SESSION_SECRET_BYTES);
		return e;
	}
	pc_auth_invalidate(&ctx->auth, actor->session_id);
	return PC_OK;
}

enum pc_err pc_factors_reset(struct pc_svc *ctx, const struct pc_principal *actor, const char *user_id)
{
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "user", user_id);
	if (e != PC_OK)
		return e;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "factors.reset", "user", user_id, NULL);
	struct pc_revoked *revoked = NULL;
	size_t n_revoked = 0;
	e = pc_store_factors_reset(ctx->store, actor, &ev, user_id, &revoked, &n_revoked);
	pc_svc_revoked_add(ctx, revoked, n_revoked);
	if (e == PC_OK)
		pc_auth_invalidate(&ctx->auth, user_id);
	return e;
}
