/* test_store_conformance_outbox.c — the store's migration 10, on SQLite
 * and on PostgreSQL (store_fx.h): a mail attached to an audit event commits
 * with the change and only with it; the forgot-password transaction runs
 * for known and unknown addresses alike (a row written either way) and
 * queues a token and a deliverable mail only for an enabled user; claims are exclusive (a live lease keeps every other
 * owner out, an expired one lets the next in), every outcome needs the
 * lease, a sent mail is blanked; 8 threads claiming 40 mails get each
 * exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/chain.h"
#include "store/backend.h"
#include "store/store.h"

static const int64_t NOW = 1800000000;

#include "store_fx.h"
#include "store_helpers.h"

static enum pc_role next_role = PC_ROLE_MEMBER;

/* Not store_helpers.h's add_user: the event carries mail, the result may be
 * a refusal (want), and the role is next_role (a member unless set). */
static void add_user_mail(struct fx *f, struct pc_user *u, const char *email, struct pc_outbox_mail *mail,
                          enum pc_err want)
{
	struct pc_audit_event ev;
	mk_user(u, email);
	u->role = next_role;
	next_role = PC_ROLE_MEMBER;
	pc_audit_event_init(&ev, &f->sys, "user.create", "user", u->id);
	ev.mail = mail;
	assert_int_equal(pc_store_user_create(f->s, &f->sys, &ev, u), want);
}

static void mk_mail(struct pc_outbox_mail *m, const char *to, const char *sealed)
{
	memset(m, 0, sizeof(*m));
	pc_random_id(m->id);
	m->created_at = NOW;
	strcpy(m->kind, "test");
	snprintf(m->recipient, sizeof(m->recipient), "%s", to);
	m->sealed = sealed;
}

static void test_outbox_with_the_change(void **state)
{
	struct fx *f = *state;
	struct pc_user a, dup;
	struct pc_outbox_mail m1, m2;
	mk_mail(&m1, "a@example.com", "sealed-one");
	add_user_mail(f, &a, "a@example.com", &m1, PC_OK);
	assert_int_equal(count(f, "mail_outbox"), 1);
	/* the change fails (the email is taken): its mail is not queued */
	mk_mail(&m2, "a@example.com", "sealed-two");
	add_user_mail(f, &dup, "a@example.com", &m2, PC_ERR_CONFLICT);
	assert_int_equal(count(f, "mail_outbox"), 1);
	int64_t depth = -1;
	assert_int_equal(pc_store_outbox_depth(f->s, &depth), PC_OK);
	assert_int_equal(depth, 1);
}

static void test_reset_request(void **state)
{
	struct fx *f = *state;
	struct pc_user a, off, admin;
	next_role = PC_ROLE_ADMIN; /* the last enabled admin stays */
	add_user_mail(f, &admin, "admin@example.com", NULL, PC_OK);
	add_user_mail(f, &a, "a@example.com", NULL, PC_OK);
	add_user_mail(f, &off, "off@example.com", NULL, PC_OK);
	struct pc_user_patch p = {.has_disabled = true, .disabled = true};
	struct pc_audit_event ev;
	struct pc_user out;
	pc_audit_event_init(&ev, &f->sys, "user.update", "user", off.id);
	unsigned changed = 0;
	assert_int_equal(pc_store_user_update(f->s, &f->sys, &ev, off.id, &p, &out, &changed, NULL, NULL), PC_OK);
	int64_t events = count(f, "audit_events");
	struct pc_principal anon;
	memset(&anon, 0, sizeof(anon));
	strcpy(anon.client_addr, "192.0.2.7");
	const char *emails[] = {"nobody@example.com", "off@example.com", "a@example.com"};
	for (size_t i = 0; i < 3; i++) {
		uint8_t th[32];
		randombytes_buf(th, sizeof(th));
		struct pc_outbox_mail m;
		mk_mail(&m, emails[i], "sealed");
		pc_audit_event_init(&ev, &anon, "user.password_reset_request", "user", "");
		assert_int_equal(pc_store_reset_request(f->s, &anon, &ev, emails[i], th, NOW + 1800, &m), PC_OK);
		assert_true(ev.seq > 0);
		assert_string_equal(ev.resource_id, i == 2 ? a.id : "");
	}
	assert_int_equal(count(f, "audit_events"), events + 3);
	assert_int_equal(count(f, "reset_tokens"), 1);
	/* a row per request (the same write), only the known one waiting */
	assert_int_equal(count(f, "mail_outbox"), 3);
	assert_int_equal(raw(f, "SELECT count(*) FROM mail_outbox WHERE recipient = '' AND message_sealed = ''"
	                        " AND failed_at IS NOT NULL"), 2);
	int64_t depth = -1;
	assert_int_equal(pc_store_outbox_depth(f->s, &depth), PC_OK);
	assert_int_equal(depth, 1);
	struct pc_outbox_row row;
	assert_int_equal(pc_store_outbox_claim(f->s, "owner-a", NOW + 300, NOW, &row), PC_OK);
	assert_string_equal(row.recipient, "a@example.com");
	assert_string_equal(row.sealed, "sealed");
}

static void test_claims(void **state)
{
	struct fx *f = *state;
	struct pc_user a;
	struct pc_outbox_mail m;
	mk_mail(&m, "a@example.com", "sealed-text");
	add_user_mail(f, &a, "a@example.com", &m, PC_OK);
	struct pc_outbox_row r;
	/* not due yet */
	assert_int_equal(pc_store_outbox_claim(f->s, "A", NOW - 1 + 300, NOW - 1, &r), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_outbox_claim(f->s, "A", NOW + 300, NOW, &r), PC_OK);
	assert_string_equal(r.id, m.id);
	assert_int_equal(r.attempts, 1);
	/* held: nobody else gets it, nobody else may record its outcome */
	assert_int_equal(pc_store_outbox_claim(f->s, "B", NOW + 10 + 300, NOW + 10, &r), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_outbox_finish(f->s, m.id, "B", PC_OUTBOX_SENT, NOW + 10, 0, ""), PC_ERR_NOT_FOUND);
	/* A retries it later */
	assert_int_equal(pc_store_outbox_finish(f->s, m.id, "A", PC_OUTBOX_RETRY, NOW + 10, NOW + 20, "421 busy"), PC_OK);
	assert_int_equal(pc_store_outbox_claim(f->s, "B", NOW + 19 + 300, NOW + 19, &r), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_outbox_claim(f->s, "B", NOW + 20 + 300, NOW + 20, &r), PC_OK);
	assert_int_equal(r.attempts, 2);
	/* B dies holding it; after the lease C takes it over, and B's late
	 * outcome is refused */
	assert_int_equal(pc_store_outbox_claim(f->s, "C", NOW + 319 + 300, NOW + 319, &r), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_outbox_claim(f->s, "C", NOW + 320 + 300, NOW + 320, &r), PC_OK);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(pc_store_outbox_finish(f->s, m.id, "B", PC_OUTBOX_SENT, NOW + 321, 0, ""), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_outbox_finish(f->s, m.id, "C", PC_OUTBOX_SENT, NOW + 321, 0, ""), PC_OK);
	/* sent: blanked, never claimed again, not in the depth */
	assert_int_equal(raw(f, "SELECT count(*) FROM mail_outbox WHERE message_sealed = '' AND sent_at IS NOT NULL"), 1);
	assert_int_equal(pc_store_outbox_claim(f->s, "D", NOW + 9999 + 300, NOW + 9999, &r), PC_ERR_NOT_FOUND);
	int64_t depth = -1;
	assert_int_equal(pc_store_outbox_depth(f->s, &depth), PC_OK);
	assert_int_equal(depth, 0);
	/* given up: also blanked and out of the queue */
	struct pc_user b;
	struct pc_outbox_mail m2;
	mk_mail(&m2, "b@example.com", "sealed-b");
	add_user_mail(f, &b, "b@example.com", &m2, PC_OK);
	assert_int_equal(pc_store_outbox_claim(f->s, "A", NOW + 300, NOW, &r), PC_OK);
	assert_int_equal(pc_store_outbox_finish(f->s, m2.id, "A", PC_OUTBOX_FAILED, NOW, 0, "550 no such user"), PC_OK);
	assert_int_equal(pc_store_outbox_depth(f->s, &depth), PC_OK);
	assert_int_equal(depth, 0);
	assert_int_equal(raw(f, "SELECT count(*) FROM mail_outbox WHERE message_sealed = '' AND failed_at IS NOT NULL"), 1);
}

/* the email change: pending until confirmed, once, and a taken address */
static void test_email_change(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b;
	add_user_mail(f, &a, "a@example.com", NULL, PC_OK);
	add_user_mail(f, &b, "b@example.com", NULL, PC_OK);
	uint8_t t1[32], t2[32], t3[32];
	randombytes_buf(t1, 32);
	randombytes_buf(t2, 32);
	randombytes_buf(t3, 32);
	struct pc_audit_event ev;
	struct pc_outbox_mail m;
	mk_mail(&m, "new@example.com", "sealed");
	pc_audit_event_init(&ev, &f->sys, "user.email_change_request", "user", a.id);
	ev.mail = &m;
	assert_int_equal(pc_store_email_change_create(f->s, &f->sys, &ev, a.id, t1, "old-try@example.com", NOW + 100), PC_OK);
	pc_audit_event_init(&ev, &f->sys, "user.email_change_request", "user", a.id);
	assert_int_equal(pc_store_email_change_create(f->s, &f->sys, &ev, a.id, t2, "new@example.com", NOW + 100), PC_OK);
	assert_int_equal(count(f, "email_changes"), 1); /* the newer request replaced the older */
	assert_int_equal(count(f, "mail_outbox"), 1);
	pc_audit_event_init(&ev, &f->sys, "user.email_change_request", "user", b.id);
	assert_int_equal(pc_store_email_change_create(f->s, &f->sys, &ev, b.id, t3, "new@example.com", NOW + 100), PC_OK);
	char uid[PC_ID_LEN + 1], email[PC_EMAIL_MAX + 1];
	assert_int_equal(pc_store_email_change_peek(f->s, t1, NOW, uid, email), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_email_change_peek(f->s, t2, NOW + 100, uid, email), PC_ERR_NOT_FOUND); /* expired */
	assert_int_equal(pc_store_email_change_peek(f->s, t2, NOW, uid, email), PC_OK);
	assert_string_equal(uid, a.id);
	assert_string_equal(email, "new@example.com");
	pc_audit_event_init(&ev, &f->sys, "user.email_change", "user", "");
	assert_int_equal(pc_store_email_change_confirm(f->s, &f->sys, &ev, t2, NOW, uid, email), PC_OK);
	assert_string_equal(ev.resource_id, a.id);
	struct pc_user got;
	assert_int_equal(pc_store_user_get(f->s, a.id, &got), PC_OK);
	assert_string_equal(got.email, "new@example.com");
	pc_audit_event_init(&ev, &f->sys, "user.email_change", "user", "");
	assert_int_equal(pc_store_email_change_confirm(f->s, &f->sys, &ev, t2, NOW, uid, email), PC_ERR_NOT_FOUND);
	/* b's pending change to the address a now has: refused, nothing changed */
	int64_t events = count(f, "audit_events");
	pc_audit_event_init(&ev, &f->sys, "user.email_change", "user", "");
	assert_int_equal(pc_store_email_change_confirm(f->s, &f->sys, &ev, t3, NOW, uid, email), PC_ERR_CONFLICT);
	assert_int_equal(count(f, "audit_events"), events);
	assert_int_equal(pc_store_user_get(f->s, b.id, &got), PC_OK);
	assert_string_equal(got.email, "b@example.com");
}

#define RACE_MAILS 40
#define RACE_THREADS 8

struct race {
	struct pc_store *s[2];
	atomic_int claimed[RACE_MAILS];
	char ids[RACE_MAILS][PC_ID_LEN + 1];
	atomic_int total;
};

struct racer {
	struct race *r;
	int n;
};

static void *race_main(void *arg)
{
	struct racer *me = arg;
	char owner[16];
	snprintf(owner, sizeof(owner), "owner-%d", me->n);
	struct pc_outbox_row *row = malloc(sizeof(*row));
	for (;;) {
		enum pc_err e = pc_store_outbox_claim(me->r->s[me->n % 2], owner, NOW + 300, NOW, row);
		if (e == PC_ERR_NOT_FOUND)
			break;
		if (e != PC_OK)
			continue; /* busy: try again */
		for (int i = 0; i < RACE_MAILS; i++)
			if (strcmp(me->r->ids[i], row->id) == 0)
				atomic_fetch_add(&me->r->claimed[i], 1);
		atomic_fetch_add(&me->r->total, 1);
	}
	free(row);
	return NULL;
}

static void test_claim_race(void **state)
{
	struct fx *f = *state;
	static struct race r;
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < RACE_MAILS; i++) {
		struct pc_user u;
		struct pc_outbox_mail m;
		char email[64];
		snprintf(email, sizeof(email), "u%d@example.com", i);
		mk_mail(&m, email, "sealed");
		add_user_mail(f, &u, email, &m, PC_OK);
		memcpy(r.ids[i], m.id, sizeof(r.ids[i]));
	}
	r.s[0] = f->s;
	r.s[1] = open_second(f);
	pthread_t t[RACE_THREADS];
	struct racer who[RACE_THREADS];
	for (int i = 0; i < RACE_THREADS; i++) {
		who[i] = (struct racer){&r, i};
		assert_int_equal(pthread_create(&t[i], NULL, race_main, &who[i]), 0);
	}
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	pc_store_close(r.s[1]);
	assert_int_equal(atomic_load(&r.total), RACE_MAILS);
	for (int i = 0; i < RACE_MAILS; i++)
		assert_int_equal(atomic_load(&r.claimed[i]), 1);
}

int main(void)
{
	if (fx_init() != 0)
		return 1;
	const struct CMUnitTest both[] = {
		FX_T(test_outbox_with_the_change),
		FX_T(test_reset_request),
		FX_T(test_claims),
		FX_T(test_email_change),
		FX_T(test_claim_race),
	};
	const struct CMUnitTest none[] = {FX_NONE};
	return FX_RUN(both, none, none);
}
