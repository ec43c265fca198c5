/*
 * outbox.h — mail: queued in the transaction of its cause, delivered by one
 * sender thread per instance.
 *
 * Queueing: a service builds the message (core/mail.h, from a fixed
 * template), seals it (XChaCha20-Poly1305 under a key derived from the
 * master key, the row id as associated data: the outbox never holds a
 * reset link in clear) and ATTACHES it to the audit event of the change
 * (pc_outbox_attach / pc_notify_attach); the store inserts it in the
 * event's transaction, so the mail exists exactly when the change does.
 *
 * Delivery (pc_outbox_start): a dedicated thread — never a loop, never the
 * worker pool — claims one due row at a time with a lease
 * (PC_OUTBOX_LEASE_S; a conditional UPDATE, so two instances never hold
 * one row), hands it to the SMTP server (mail/smtp.h), and right after the
 * server's 250 for the data records it sent (blanking the message). A
 * failure is retried with exponential backoff (PC_OUTBOX_BACKOFF_S doubling,
 * at most PC_OUTBOX_BACKOFF_MAX_S) up to PC_OUTBOX_MAX_ATTEMPTS, then given
 * up; a permanent refusal (5xx) is given up at once.
 *
 * Guarantee: at least once, and exactly once unless this instance dies (or
 * loses the database) in the window between the server's 250 and the
 * commit of sent_at — a few milliseconds: then the lease runs out and the
 * mail is sent again. A crash at any other moment sends it once: before
 * the 250 the server has not accepted it (the lease expires and it is
 * retried); after the commit it is marked sent.
 *
 * Without PORTCULLIS_SMTP_URL email is off: nothing is queued, no thread.
 */
#ifndef PC_SVC_OUTBOX_H
#define PC_SVC_OUTBOX_H

#include "svc/svc.h"

#define PC_OUTBOX_LEASE_S 300      /* > the SMTP timeouts (mail/smtp.h) */
#define PC_OUTBOX_BACKOFF_S 5      /* first retry after 5 s, then 10, 20, ... */
#define PC_OUTBOX_BACKOFF_MAX_S 3600
#define PC_OUTBOX_MAX_ATTEMPTS 12  /* about two and a half hours of trying */
#define PC_OUTBOX_POLL_MS 2000     /* an idle sender looks for due mail this often */
_Static_assert(PC_OUTBOX_LEASE_S > 60 + 10, "the lease outlives one SMTP exchange");

/* A mail being queued: the row and its sealed text (the caller's storage;
 * big: keep it off small stacks). */
struct pc_outbox_buf {
	struct pc_outbox_mail mail;
	char sealed[PC_OUTBOX_SEALED_MAX + 1];
};

/* Whether email is configured (PORTCULLIS_SMTP_URL). */
PC_MUST_USE bool pc_outbox_enabled(const struct pc_svc *ctx);

/* Derives the sealing key (from cfg->keys). Call once before queueing or
 * sending; 0, or -1 with err. A no-op when email is off. */
PC_MUST_USE int pc_outbox_init(struct pc_svc *ctx, char *err, size_t errlen);
void pc_outbox_free(void);

/*
 * Builds the message (From: PORTCULLIS_SMTP_FROM, To: to, subject, body)
 * and seals it into b; kind names it in logs ("password_reset", ...).
 * PC_OK; PC_ERR_INTERNAL when a field is refused by core/mail.c (logged:
 * never a stored email in practice) or email is off.
 */
PC_MUST_USE enum pc_err pc_outbox_prepare(struct pc_svc *ctx, struct pc_outbox_buf *b, const char *kind,
                                          const char *to, const char *subject, const char *body);

/* What a security notice is about. */
enum pc_notice {
	PC_NOTICE_PASSWORD_CHANGED,
	PC_NOTICE_PASSWORD_RESET,
	PC_NOTICE_EMAIL_CHANGED,      /* to the OLD address */
	PC_NOTICE_SECOND_FACTOR_ADDED,
	PC_NOTICE_SECOND_FACTOR_REMOVED,
	PC_NOTICE_RECOVERY_CODE_USED,
	PC_NOTICE_PASSKEY_ADDED,
};

/*
 * THE call for a security notice, in the same transaction as its cause:
 * prepares the notice for `to` in b and attaches it to ev, so the store
 * call that writes ev also queues the mail. Email off: nothing (ev
 * untouched), PC_OK. A notice that cannot be built is logged and skipped
 * (PC_OK): a notice never blocks the change it reports.
 *   struct pc_outbox_buf *b = malloc(sizeof(*b));
 *   pc_svc_event(&ev, actor, "user.password_change", "user", u.id, NULL);
 *   (void)pc_notify_attach(ctx, &ev, b, u.email, PC_NOTICE_PASSWORD_CHANGED);
 *   e = pc_store_...(..., &ev, ...);   // the notice commits with the change
 *   free(b);
 */
PC_MUST_USE enum pc_err pc_notify_attach(struct pc_svc *ctx, struct pc_audit_event *ev, struct pc_outbox_buf *b,
                                         const char *to, enum pc_notice kind);

/* pc_notify_attach with the buffer allocated here: NULL when email is off
 * or out of memory (ev untouched). Pass the result to pc_notify_done after
 * the store call that writes ev, with that call's result:
 *   struct pc_outbox_buf *nb = pc_notify_new(ctx, &ev, u.email, PC_NOTICE_PASSWORD_CHANGED);
 *   e = pc_store_...(..., &ev, ...);
 *   pc_notify_done(nb, e);
 */
struct pc_outbox_buf *pc_notify_new(struct pc_svc *ctx, struct pc_audit_event *ev, const char *to,
                                    enum pc_notice kind);
/* Frees nb (NULL: nothing) and, when the change committed (e == PC_OK),
 * wakes the sender. */
void pc_notify_done(struct pc_outbox_buf *nb, enum pc_err e);

/* Starts the sender thread (email on). 0, or -1 logged. */
PC_MUST_USE int pc_outbox_start(struct pc_svc *ctx);
/* Wakes the sender now (a mail was just queued in this instance). */
void pc_outbox_wake(void);
/* Stops the sender: an exchange in flight is abandoned (its lease runs
 * out; it is retried). Safe when never started. */
void pc_outbox_stop(void);

#endif
