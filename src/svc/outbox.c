/*
 * outbox.c — sealing, queueing and the sender thread (see outbox.h for the
 * guarantees). The sender is one pthread: it blocks on the store and on
 * the SMTP exchange, which is what a dedicated thread is for; the loops and
 * the worker pool never wait on a mail server.
 */
#include "svc/outbox.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/b64url.h"
#include "core/log.h"
#include "core/mail.h"
#include "mail/smtp.h"
#include "obs/metrics.h"

#define SEAL_AD_PREFIX "portcullis:mail:"
#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KDF_CONTEXT "pcoutbox" /* crypto_kdf: 8 bytes */

/* The sealing keys: one per key generation (current, previous), derived
 * from each master key; sodium_malloc'd, read-only once set. */
struct mail_keys {
	uint8_t id[2];
	uint8_t k[2][crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	bool has_previous;
};

static struct {
	struct mail_keys *keys;
	struct pc_svc *ctx;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool woken;
	char owner[PC_ID_LEN + 1];
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

bool pc_outbox_enabled(const struct pc_svc *ctx)
{
	return ctx != NULL && ctx->cfg != NULL && ctx->cfg->smtp_url[0] != '\0';
}

int pc_outbox_init(struct pc_svc *ctx, char *err, size_t errlen)
{
	if (!pc_outbox_enabled(ctx) || S.keys != NULL)
		return 0;
	const struct pc_keys *mk = ctx->cfg->keys;
	if (mk == NULL)
		return pc_errf(err, errlen, "email needs PORTCULLIS_SECRET_KEY");
	struct mail_keys *k = sodium_malloc(sizeof(*k));
	if (k == NULL)
		return pc_errf(err, errlen, "cannot allocate locked memory for the mail key");
	sodium_memzero(k, sizeof(*k));
	k->id[0] = mk->current.id;
	crypto_kdf_derive_from_key(k->k[0], sizeof(k->k[0]), 1, KDF_CONTEXT, mk->current.master);
	if (mk->has_previous) {
		k->id[1] = mk->previous.id;
		crypto_kdf_derive_from_key(k->k[1], sizeof(k->k[1]), 1, KDF_CONTEXT, mk->previous.master);
		k->has_previous = true;
	}
	sodium_mprotect_readonly(k);
	S.keys = k;
	return 0;
}

void pc_outbox_free(void)
{
	if (S.keys != NULL)
		sodium_free(S.keys);
	S.keys = NULL;
}

static void seal_ad(char ad[sizeof(SEAL_AD_PREFIX) + PC_ID_LEN], const char *row_id)
{
	snprintf(ad, sizeof(SEAL_AD_PREFIX) + PC_ID_LEN, SEAL_AD_PREFIX "%s", row_id);
}

enum pc_err pc_outbox_prepare(struct pc_svc *ctx, struct pc_outbox_buf *b, const char *kind, const char *to,
                              const char *subject, const char *body)
{
	memset(&b->mail, 0, sizeof(b->mail));
	b->sealed[0] = '\0';
	if (!pc_outbox_enabled(ctx) || S.keys == NULL)
		return PC_ERR_INTERNAL;
	/* message, then the sealed form, in one heap block: not the stack */
	uint8_t *buf = malloc(1 + NONCE + PC_OUTBOX_MESSAGE_MAX + TAG);
	char *msg = malloc(PC_OUTBOX_MESSAGE_MAX);
	enum pc_err e = PC_ERR_INTERNAL;
	size_t len = 0;
	if (buf == NULL || msg == NULL)
		goto out;
	uint8_t rnd[16];
	randombytes_buf(rnd, sizeof(rnd));
	struct pc_mail_fields f = {
		.from = ctx->cfg->smtp_from, .from_name = "portcullis", .to = to, .subject = subject,
		.body = body, .body_len = strlen(body), .date = pc_svc_now(ctx), .msgid_random = rnd,
	};
	enum pc_mail_result r = pc_mail_build(msg, PC_OUTBOX_MESSAGE_MAX, &len, &f);
	if (r != PC_MAIL_OK) {
		struct pc_logline l;
		pc_logline_begin(&l, "error", "mail_refused");
		pc_logline_str(&l, "kind", kind);
		pc_logline_str(&l, "reason", r == PC_MAIL_TOO_BIG ? "too big" : "a field is not allowed in a header");
		pc_logline_emit(&l);
		goto out;
	}
	pc_random_id(b->mail.id);
	b->mail.created_at = pc_svc_now(ctx);
	snprintf(b->mail.kind, sizeof(b->mail.kind), "%s", kind);
	snprintf(b->mail.recipient, sizeof(b->mail.recipient), "%s", to);
	char ad[sizeof(SEAL_AD_PREFIX) + PC_ID_LEN];
	seal_ad(ad, b->mail.id);
	buf[0] = S.keys->id[0];
	randombytes_buf(buf + 1, NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 1 + NONCE, NULL, (const uint8_t *)msg, len,
	                                           (const uint8_t *)ad, strlen(ad), NULL, buf + 1, S.keys->k[0]);
	pc_b64url_encode(b->sealed, sizeof(b->sealed), buf, 1 + NONCE + len + TAG);
	b->mail.sealed = b->sealed;
	e = PC_OK;
out:
	if (msg != NULL) {
		sodium_memzero(msg, PC_OUTBOX_MESSAGE_MAX);
		free(msg);
	}
	if (buf != NULL) {
		sodium_memzero(buf, 1 + NONCE + PC_OUTBOX_MESSAGE_MAX + TAG);
		free(buf);
	}
	return e;
}

/* Opens a claimed row's message into msg (PC_OUTBOX_MESSAGE_MAX), *len. */
static int unseal(char *msg, size_t *len, const struct pc_outbox_row *row)
{
	size_t cap = 1 + NONCE + PC_OUTBOX_MESSAGE_MAX + TAG, n = 0;
	uint8_t *buf = malloc(cap);
	unsigned long long pl = 0;
	int rc = -1;
	*len = 0;
	if (buf == NULL)
		return -1;
	char ad[sizeof(SEAL_AD_PREFIX) + PC_ID_LEN];
	seal_ad(ad, row->id);
	if (pc_b64url_decode(buf, cap, &n, row->sealed, strlen(row->sealed)) == 0 && n > 1 + NONCE + TAG) {
		int which = buf[0] == S.keys->id[0] ? 0 : S.keys->has_previous && buf[0] == S.keys->id[1] ? 1 : -1;
		if (which >= 0 &&
		    crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)msg, &pl, NULL, buf + 1 + NONCE, n - 1 - NONCE,
		                                               (const uint8_t *)ad, strlen(ad), buf + 1,
		                                               S.keys->k[which]) == 0) {
			*len = (size_t)pl;
			rc = 0;
		}
	}
	sodium_memzero(buf, cap);
	free(buf);
	return rc;
}

/* ---- notices ---- */

struct notice_text {
	const char *kind, *subject, *what;
};

static const struct notice_text notices[] = {
	[PC_NOTICE_PASSWORD_CHANGED] = {"notice.password_changed", "Your password was changed",
	                                "The password of your account was changed."},
	[PC_NOTICE_PASSWORD_RESET] = {"notice.password_reset", "Your password was reset",
	                              "The password of your account was reset with a reset link, and every "
	                              "session of the account was ended."},
	[PC_NOTICE_EMAIL_CHANGED] = {"notice.email_changed", "The email address of your account was changed",
	                             "The email address of your account was changed; mail now goes to the new "
	                             "address, not to this one."},
	[PC_NOTICE_SECOND_FACTOR_ADDED] = {"notice.factor_added", "A second factor was added to your account",
	                                   "A second factor (an authenticator app) was added to your account."},
	[PC_NOTICE_SECOND_FACTOR_REMOVED] = {"notice.factor_removed", "A second factor was removed from your account",
	                                     "A second factor was removed from your account."},
	[PC_NOTICE_RECOVERY_CODE_USED] = {"notice.recovery_code", "A recovery code of your account was used",
	                                  "One of your recovery codes was used to sign in."},
	[PC_NOTICE_PASSKEY_ADDED] = {"notice.passkey_added", "A passkey was added to your account",
	                             "A passkey was added to your account."},
};

enum pc_err pc_notify_attach(struct pc_svc *ctx, struct pc_audit_event *ev, struct pc_outbox_buf *b, const char *to,
                             enum pc_notice kind)
{
	if (!pc_outbox_enabled(ctx))
		return PC_OK;
	if ((size_t)kind >= sizeof(notices) / sizeof(notices[0]))
		return PC_ERR_INTERNAL;
	const struct notice_text *t = &notices[kind];
	char body[2048];
	snprintf(body, sizeof(body),
	         "Hello,\n\n%s\n\nFrom the address: %s\n\nIf this was you, there is nothing to do.\n"
	         "If it was not, reset your password at once (%s/reset) and tell your administrator.\n\n"
	         "-- portcullis at %s\n",
	         t->what, ev->client_addr[0] ? ev->client_addr : "unknown", ctx->cfg->public_url, ctx->cfg->public_host);
	if (pc_outbox_prepare(ctx, b, t->kind, to, t->subject, body) != PC_OK)
		return PC_OK; /* logged; the change goes on without its notice */
	ev->mail = &b->mail;
	return PC_OK;
}

struct pc_outbox_buf *pc_notify_new(struct pc_svc *ctx, struct pc_audit_event *ev, const char *to,
                                    enum pc_notice kind)
{
	if (!pc_outbox_enabled(ctx) || to == NULL || to[0] == '\0')
		return NULL;
	struct pc_outbox_buf *b = malloc(sizeof(*b));
	if (b == NULL)
		return NULL;
	if (pc_notify_attach(ctx, ev, b, to, kind) != PC_OK || ev->mail != &b->mail) {
		free(b);
		return NULL;
	}
	return b;
}

void pc_notify_done(struct pc_outbox_buf *nb, enum pc_err e)
{
	if (nb == NULL)
		return;
	sodium_memzero(nb, sizeof(*nb));
	free(nb);
	if (e == PC_OK)
		pc_outbox_wake();
}

/* ---- the sender ---- */

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

void pc_outbox_wake(void)
{
	pthread_mutex_lock(&S.mu);
	S.woken = true;
	pthread_cond_signal(&S.cv);
	pthread_mutex_unlock(&S.mu);
}

/* Waits up to ms, or until woken or stopped. */
static void nap(unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&S.mu);
	while (!S.woken && !atomic_load(&S.stop))
		if (pthread_cond_timedwait(&S.cv, &S.mu, &ts) != 0)
			break;
	S.woken = false;
	pthread_mutex_unlock(&S.mu);
}

static void log_delivery(const char *level, const char *event, const struct pc_outbox_row *row, const char *detail)
{
	struct pc_logline l;
	pc_logline_begin(&l, level, event);
	pc_logline_str(&l, "mail_id", row->id);
	pc_logline_int(&l, "attempt", row->attempts);
	pc_logline_str(&l, "detail", detail);
	pc_logline_emit(&l);
}

/* Records the outcome; SENT is retried until it sticks (the only step of
 * the at-least-once window: until it commits, a crash resends). */
static void finish(const struct pc_outbox_row *row, enum pc_outbox_outcome o, int64_t next_at, const char *error)
{
	for (int tries = 0;; tries++) {
		enum pc_err e = pc_store_outbox_finish(S.ctx->store, row->id, S.owner, o, now_s(), next_at, error);
		if (e == PC_OK || e == PC_ERR_NOT_FOUND || o != PC_OUTBOX_SENT || atomic_load(&S.stop) || tries > 60) {
			if (e != PC_OK)
				log_delivery("error", "mail_mark_failed", row, e == PC_ERR_NOT_FOUND ? "lease lost" : "store error");
			return;
		}
		nap(1000);
	}
}

static void deliver(const struct pc_outbox_row *row)
{
	char err[512];
	size_t len = 0;
	char *msg = malloc(PC_OUTBOX_MESSAGE_MAX);
	if (msg == NULL) {
		finish(row, PC_OUTBOX_RETRY, now_s() + PC_OUTBOX_BACKOFF_S, "out of memory");
		return;
	}
	if (unseal(msg, &len, row) != 0) {
		pc_metrics_inc(PC_CTR_MAIL_GIVEN_UP);
		log_delivery("error", "mail_given_up", row, "the sealed message does not open (master key rotated away?)");
		finish(row, PC_OUTBOX_FAILED, 0, "the sealed message does not open");
		free(msg);
		return;
	}
	enum pc_smtp_result r = pc_smtp_send(S.ctx->cfg, row->recipient, msg, len, &S.stop, err, sizeof(err));
	sodium_memzero(msg, PC_OUTBOX_MESSAGE_MAX);
	free(msg);
	err[PC_OUTBOX_ERROR_MAX - 1] = '\0';
	if (r == PC_SMTP_SENT) {
		finish(row, PC_OUTBOX_SENT, 0, "");
		pc_metrics_inc(PC_CTR_MAIL_SENT);
		log_delivery("info", "mail_sent", row, err);
		return;
	}
	pc_metrics_inc(PC_CTR_MAIL_ATTEMPT_FAILED);
	if (r == PC_SMTP_PERMANENT || row->attempts >= PC_OUTBOX_MAX_ATTEMPTS) {
		pc_metrics_inc(PC_CTR_MAIL_GIVEN_UP);
		finish(row, PC_OUTBOX_FAILED, 0, err);
		log_delivery("error", "mail_given_up", row, err);
		return;
	}
	int64_t delay = PC_OUTBOX_BACKOFF_S;
	for (int64_t i = 1; i < row->attempts && delay < PC_OUTBOX_BACKOFF_MAX_S; i++)
		delay *= 2;
	if (delay > PC_OUTBOX_BACKOFF_MAX_S)
		delay = PC_OUTBOX_BACKOFF_MAX_S;
	finish(row, PC_OUTBOX_RETRY, now_s() + delay, err);
	log_delivery("warn", "mail_retry", row, err);
}

static void *sender_main(void *arg)
{
	(void)arg;
	struct pc_outbox_row *row = malloc(sizeof(*row));
	if (row == NULL)
		return NULL;
	while (!atomic_load(&S.stop)) {
		int64_t now = now_s();
		enum pc_err e = pc_store_outbox_claim(S.ctx->store, S.owner, now + PC_OUTBOX_LEASE_S, now, row);
		if (e == PC_OK) {
			deliver(row);
			sodium_memzero(row, sizeof(*row));
			continue;
		}
		int64_t depth;
		if (pc_store_outbox_depth(S.ctx->store, &depth) == PC_OK)
			pc_metrics_mail_depth(depth);
		nap(PC_OUTBOX_POLL_MS);
	}
	free(row);
	pc_log_flush_thread();
	return NULL;
}

int pc_outbox_start(struct pc_svc *ctx)
{
	if (!pc_outbox_enabled(ctx) || S.started)
		return 0;
	S.ctx = ctx;
	pc_random_id(S.owner);
	atomic_store(&S.stop, false);
	if (pthread_create(&S.thread, NULL, sender_main, NULL) != 0) {
		pc_log("error", "startup", "cannot start the mail sender thread");
		return -1;
	}
	S.started = true;
	return 0;
}

void pc_outbox_stop(void)
{
	if (!S.started)
		return;
	atomic_store(&S.stop, true);
	pc_outbox_wake();
	pthread_join(S.thread, NULL);
	S.started = false;
}
