/* test_revocation.c — the in-memory revocation list (src/auth/revocation.c)
 * over a SQLite store, embedded and with a real redis-server: revocations
 * announced in sequence are applied at once; a gap, an unreadable
 * announcement or a lost subscription makes the instance catch up from the
 * store by sequence number, and it refuses to answer (PC_ERR_UNAVAILABLE)
 * until it has. "Another instance" is played by this test: it writes the
 * store and publishes (or does not) on a second kv handle. Without
 * redis-server the Redis part fails, unless PC_SKIP_REDIS=1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/revocation.h"
#include "kv/kv.h"
#include "kv/redis_harness.h"
#include "store/store.h"

static struct rh_server srv;
static uint8_t KEY[32];

struct fx {
	char dir[64];
	struct pc_store *s;
	struct pc_kv *kv;  /* this instance's */
	struct pc_kv *pub; /* "the other instance's" */
	struct pc_auth a;
	struct pc_principal sys;
};

static struct fx *fx_new(bool redis)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	char url[128], err[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/pc-revoc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(url, sizeof(url), "sqlite:%s/pc.db", f->dir);
	assert_int_equal(pc_store_open(&f->s, url, KEY, err, sizeof(err)), 0);
	if (redis) {
		snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
		assert_int_equal(pc_kv_open(&f->kv, url, err, sizeof(err)), 0);
		assert_int_equal(pc_kv_open(&f->pub, url, err, sizeof(err)), 0);
	} else {
		assert_int_equal(pc_kv_open(&f->kv, NULL, err, sizeof(err)), 0);
	}
	f->a.store = f->s;
	f->a.kv = f->kv;
	f->sys.method = PC_AUTH_SYSTEM;
	strcpy(f->sys.client_addr, "local");
	strcpy(f->sys.user_agent, "test");
	return f;
}

static void fx_free(struct fx *f)
{
	pc_revocation_stop(&f->a);
	pc_kv_close(f->pub);
	pc_kv_close(f->kv);
	pc_store_close(f->s);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

/* The other instance revokes jti in the store; its sequence number. */
static int64_t store_revoke(struct fx *f, const char *jti)
{
	struct pc_revoked *out = NULL;
	size_t n = 0;
	int64_t now = (int64_t)time(NULL);
	assert_int_equal(pc_store_tokens_revoke(f->s, &f->sys, NULL, jti, now + 600, NULL, NULL, NULL, now, &out, &n),
	                 PC_OK);
	assert_int_equal(n, 1);
	int64_t seq = out[0].seq;
	free(out);
	return seq;
}

/* ... and announces it (as pc_revocation_add does: pc_kv_publish returns
 * once every subscriber's copy is on its way). */
static void announce(struct fx *f, int64_t seq, const char *jti)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "%" PRId64 "\n%" PRId64 " %s\n", seq, (int64_t)time(NULL) + 600, jti);
	assert_int_equal(pc_kv_publish(f->pub, PC_REVOCATION_CHANNEL, msg, (size_t)n), PC_OK);
}

enum verdict { V_UNAVAILABLE, V_REVOKED, V_VALID };

static enum verdict check(struct fx *f, const char *jti)
{
	bool revoked = false;
	enum pc_err e = pc_revocation_check(&f->a, jti, &revoked);
	if (e != PC_OK) {
		assert_true(revoked); /* fails closed */
		return V_UNAVAILABLE;
	}
	return revoked ? V_REVOKED : V_VALID;
}

/* Waits (at most ms) for check(jti) == want, asserting every answer before
 * it is one of the allowed ones. */
static void settle(struct fx *f, const char *jti, enum verdict want, unsigned allowed, int ms)
{
	double until = rh_now() + ms / 1000.0;
	for (;;) {
		enum verdict v = check(f, jti);
		if (v == want)
			return;
		assert_true((allowed & (1u << v)) != 0);
		assert_true(rh_now() < until);
		rh_sleep_ms(10);
	}
}

#define ANY_BUT_VALID ((1u << V_UNAVAILABLE) | (1u << V_REVOKED))

/* A Redis-mode instance, started and trusting its (empty) list. */
static struct fx *started(void)
{
	struct fx *f = fx_new(true);
	size_t loaded;
	assert_int_equal(pc_revocation_start(&f->a, (int64_t)time(NULL), &loaded), PC_OK);
	settle(f, "some-valid-jti-01", V_VALID, 1u << V_UNAVAILABLE, 3000);
	return f;
}

static void test_embedded(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	int64_t s1 = store_revoke(f, "before-start-jti-1");
	size_t loaded;
	assert_int_equal(pc_revocation_start(&f->a, (int64_t)time(NULL), &loaded), PC_OK);
	assert_int_equal(loaded, 1);
	assert_int_equal(pc_revocation_applied(), s1);
	assert_true(pc_revocation_trusted(&f->a));
	assert_int_equal(check(f, "before-start-jti-1"), V_REVOKED);
	assert_int_equal(check(f, "never-revoked-jti"), V_VALID);
	/* this instance's own revocation: applied at once */
	struct pc_revoked r = {.jti = "added-here-jti-01", .expires_at = (int64_t)time(NULL) + 60, .seq = s1 + 1};
	assert_int_equal(pc_revocation_add(&f->a, &r, 1, (int64_t)time(NULL)), PC_OK);
	assert_int_equal(check(f, "added-here-jti-01"), V_REVOKED);
	fx_free(f);
}

/* Announced in sequence: applied before the publisher's PUBLISH returns,
 * as far as any check can tell — never "valid" afterwards. */
static void test_announced_in_sequence(void **state)
{
	(void)state;
	struct fx *f = started();
	for (int i = 0; i < 20; i++) {
		char jti[32];
		snprintf(jti, sizeof(jti), "in-sequence-jti-%02d", i);
		assert_int_equal(check(f, jti), V_VALID);
		int64_t seq = store_revoke(f, jti);
		announce(f, seq, jti);
		settle(f, jti, V_REVOKED, ANY_BUT_VALID, 2000);
		assert_int_equal(pc_revocation_applied(), seq);
	}
	fx_free(f);
}

/* A gap: seq 2 is only in the store; seq 3 is announced. The instance does
 * not trust its list until it has read the store from its last number. */
static void test_gap_catches_up(void **state)
{
	(void)state;
	struct fx *f = started();
	int64_t s2 = store_revoke(f, "silent-gap-jti-01");
	int64_t s3 = store_revoke(f, "announced-jti-0003");
	assert_int_equal(s3, s2 + 1);
	/* not announced: unknown here until something says so (the poll) */
	announce(f, s3, "announced-jti-0003");
	settle(f, "silent-gap-jti-01", V_REVOKED, ANY_BUT_VALID, 3000);
	assert_int_equal(check(f, "announced-jti-0003"), V_REVOKED);
	assert_true(pc_revocation_applied() >= s3);
	/* an old announcement changes nothing */
	announce(f, s2, "silent-gap-jti-01");
	settle(f, "some-valid-jti-01", V_VALID, 1u << V_UNAVAILABLE, 3000);
	fx_free(f);
}

/* An announcement it cannot read: catch up, never trust it blindly. */
static void test_unreadable_announcement(void **state)
{
	(void)state;
	struct fx *f = started();
	int64_t s = store_revoke(f, "too-long-to-say-jti");
	char msg[32];
	int n = snprintf(msg, sizeof(msg), "%" PRId64 "\n!", s);
	assert_int_equal(pc_kv_publish(f->pub, PC_REVOCATION_CHANNEL, msg, (size_t)n), PC_OK);
	settle(f, "too-long-to-say-jti", V_REVOKED, ANY_BUT_VALID, 3000);
	assert_int_equal(pc_revocation_applied(), s);
	fx_free(f);
}

/* Redis restarts while revocations are made and not announced: unavailable
 * while it is down, then every one is known before the list is trusted. */
static void test_lost_subscription_catches_up(void **state)
{
	(void)state;
	struct fx *f = started();
	rh_stop(&srv);
	settle(f, "some-valid-jti-01", V_UNAVAILABLE, 1u << V_VALID, 3000);
	char jti[5][32];
	for (int i = 0; i < 5; i++) {
		snprintf(jti[i], sizeof(jti[i]), "while-down-jti-%02d", i);
		(void)store_revoke(f, jti[i]);
	}
	assert_int_equal(check(f, jti[0]), V_UNAVAILABLE);
	assert_int_equal(rh_start(&srv), 0);
	settle(f, "some-valid-jti-01", V_VALID, 1u << V_UNAVAILABLE, 10000);
	for (int i = 0; i < 5; i++)
		assert_int_equal(check(f, jti[i]), V_REVOKED);
	fx_free(f);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(KEY, sizeof(KEY));
	const struct CMUnitTest local_tests[] = {
		cmocka_unit_test(test_embedded),
	};
	int rc = cmocka_run_group_tests_name("revocation_embedded", local_tests, NULL, NULL);
	if (!rh_available()) {
		const char *skip = getenv("PC_SKIP_REDIS");
		if (skip != NULL && strcmp(skip, "1") == 0)
			return rc;
		fprintf(stderr, "redis-server not found on PATH (PC_SKIP_REDIS=1 skips)\n");
		return 1;
	}
	rh_install_reaper();
	if (rh_start(&srv) != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_announced_in_sequence),
		cmocka_unit_test(test_gap_catches_up),
		cmocka_unit_test(test_unreadable_announcement),
		cmocka_unit_test(test_lost_subscription_catches_up),
	};
	rc |= cmocka_run_group_tests_name("revocation_redis", tests, NULL, NULL);
	rh_destroy(&srv);
	return rc;
}
