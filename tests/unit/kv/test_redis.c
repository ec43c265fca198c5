/* test_redis.c — the Redis kv against real redis-server processes: the local
 * kv's semantics (with real, short TTLs where local's tests move a fake
 * clock), exact concurrent increments across handles, the key prefix, URLs
 * and AUTH, outages (stopped, frozen) and recovery, pub/sub and its health,
 * and persistence with an AOF. Also local pub/sub. Without redis-server the
 * test fails, unless PC_SKIP_REDIS=1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "kv/kv.h"
#include "kv/redis_harness.h"
#include "kv/ratelimit_cases.h"

static struct rh_server main_srv;
static char main_url[64];

/* ---- helpers ---------------------------------------------------------------- */

static struct pc_kv *open_ok(const char *url)
{
	struct pc_kv *kv = NULL;
	char err[256] = "";
	int rc = pc_kv_open(&kv, url, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "pc_kv_open: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(kv);
	return kv;
}

/* A raw hiredis connection to a test server (for what the kv cannot see). */
static redisContext *raw(int port)
{
	redisContext *c = redisConnect("127.0.0.1", port);
	assert_non_null(c);
	assert_int_equal(c->err, 0);
	return c;
}

static void raw_cmd(redisContext *c, const char *cmd)
{
	redisReply *r = redisCommand(c, cmd);
	assert_non_null(r);
	freeReplyObject(r);
}

static void main_url_set(void)
{
	snprintf(main_url, sizeof(main_url), "redis://127.0.0.1:%d", main_srv.port);
}

static int group_setup(void **state)
{
	(void)state;
	if (rh_start(&main_srv) != 0)
		return -1;
	main_url_set();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rh_destroy(&main_srv);
	return 0;
}

static int setup(void **state)
{
	if (main_srv.pid == 0 && rh_start(&main_srv) != 0) /* a test left it down */
		return -1;
	redisContext *c = redisConnect("127.0.0.1", main_srv.port);
	if (c == NULL || c->err != 0)
		return -1;
	freeReplyObject(redisCommand(c, "FLUSHALL"));
	redisFree(c);
	struct pc_kv *kv;
	char err[256];
	if (pc_kv_open(&kv, main_url, err, sizeof(err)) != 0)
		return -1;
	*state = kv;
	return 0;
}

static int teardown(void **state)
{
	pc_kv_close(*state);
	return 0;
}

/* ---- the local kv's semantics ----------------------------------------------- */

static void test_incr_ttl_not_extended(void **state)
{
	struct pc_kv *kv = *state;
	int64_t v, ttl;
	assert_false(pc_kv_is_local(kv));
	double t0 = rh_now();
	assert_int_equal(pc_kv_incr(kv, "a", 2, &v, &ttl), PC_OK);
	assert_int_equal(v, 1);
	assert_int_equal(ttl, 2);
	rh_sleep_ms(1100);
	assert_int_equal(pc_kv_incr(kv, "a", 2, &v, &ttl), PC_OK);
	assert_int_equal(v, 2);
	assert_int_equal(ttl, 1); /* the window is fixed at creation */
	rh_sleep_ms((int)((t0 + 2.05 - rh_now()) * 1000));
	assert_int_equal(pc_kv_get(kv, "a", &v, &ttl), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_kv_incr(kv, "a", 2, &v, &ttl), PC_OK);
	assert_int_equal(v, 1);
	assert_int_equal(ttl, 2);
	/* TTLs are clamped like local's: at least one second */
	assert_int_equal(pc_kv_incr(kv, "z", 0, &v, &ttl), PC_OK);
	assert_int_equal(ttl, 1);
}

static void test_set_get_del(void **state)
{
	struct pc_kv *kv = *state;
	int64_t v, ttl;
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_kv_set(kv, "k", 42, 100), PC_OK);
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_OK);
	assert_int_equal(v, 42);
	assert_int_equal(ttl, 100);
	assert_int_equal(pc_kv_set(kv, "k", 7, 5), PC_OK); /* replaces value and TTL */
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_OK);
	assert_int_equal(v, 7);
	assert_int_equal(ttl, 5);
	assert_int_equal(pc_kv_set(kv, "neg", INT64_MIN, 5), PC_OK);
	assert_int_equal(pc_kv_get(kv, "neg", &v, &ttl), PC_OK);
	assert_true(v == INT64_MIN);
	assert_int_equal(pc_kv_incr(kv, "k", 100, &v, &ttl), PC_OK); /* counts on a set key */
	assert_int_equal(v, 8);
	assert_int_equal(ttl, 5);
	assert_int_equal(pc_kv_del(kv, "k"), PC_OK);
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_kv_del(kv, "k"), PC_OK);
	/* a key set to 0 keeps its TTL when counted up to 1 (as local) */
	assert_int_equal(pc_kv_set(kv, "z", 0, 5), PC_OK);
	assert_int_equal(pc_kv_incr(kv, "z", 100, &v, &ttl), PC_OK);
	assert_int_equal(v, 1);
	assert_int_equal(ttl, 5);
}

static void test_bad_keys(void **state)
{
	struct pc_kv *kv = *state;
	int64_t v, ttl;
	char big[PC_KV_KEY_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pc_kv_incr(kv, "", 10, &v, &ttl), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_incr(kv, "a b", 10, &v, &ttl), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_incr(kv, "a\nb", 10, &v, &ttl), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_set(kv, big, 1, 10), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_get(kv, "a\r\nFLUSHALL", &v, &ttl), PC_ERR_INTERNAL);
	big[PC_KV_KEY_MAX] = '\0'; /* exactly the maximum is fine */
	assert_int_equal(pc_kv_set(kv, big, 1, 10), PC_OK);
	assert_int_equal(pc_kv_get(kv, big, &v, &ttl), PC_OK);
	assert_int_equal(v, 1);
}

static void test_sweep_and_count(void **state)
{
	struct pc_kv *kv = *state;
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(pc_kv_set(kv, key, i, i % 2 ? 1 : 100), PC_OK);
	}
	assert_int_equal(pc_kv_count(kv), 1000);
	int64_t v, ttl;
	assert_int_equal(pc_kv_get(kv, "k999", &v, &ttl), PC_OK);
	assert_int_equal(v, 999);
	rh_sleep_ms(1100);
	assert_int_equal(pc_kv_sweep(kv), 0); /* Redis expires keys itself */
	assert_int_equal(pc_kv_count(kv), 500);
	assert_int_equal(pc_kv_get(kv, "k998", &v, &ttl), PC_OK);
	assert_int_equal(pc_kv_get(kv, "k999", &v, &ttl), PC_ERR_NOT_FOUND);
}

struct incr_arg {
	struct pc_kv *kv;
	int n;
};

static void *incr_thread(void *p)
{
	struct incr_arg *a = p;
	int64_t v, ttl;
	for (int i = 0; i < a->n; i++)
		if (pc_kv_incr(a->kv, "shared", 1000, &v, &ttl) != PC_OK)
			return (void *)1;
	return NULL;
}

/* 8 threads on two handles (two instances sharing one Redis): no lost
 * update, and the TTL set once. */
static void test_concurrent_incr_exact(void **state)
{
	struct pc_kv *kv = *state;
	struct pc_kv *other = open_ok(main_url);
	pthread_t t[8];
	struct incr_arg a = {kv, 2000}, b = {other, 2000};
	double t0 = rh_now();
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, incr_thread, i % 2 ? &a : &b), 0);
	for (int i = 0; i < 8; i++) {
		void *res;
		pthread_join(t[i], &res);
		assert_null(res);
	}
	fprintf(stderr, "# 16000 increments from 8 threads: %.2f s\n", rh_now() - t0);
	int64_t v, ttl;
	assert_int_equal(pc_kv_get(kv, "shared", &v, &ttl), PC_OK);
	assert_int_equal(v, 16000);
	assert_true(ttl <= 1000 && ttl >= 990);
	pc_kv_close(other);
}


static void test_ratelimit_window(void **state)
{
	ratelimit_window_case(*state, NULL, 60);
}

struct take_arg {
	struct pc_kv *kv;
	int rounds;
	int admitted;
};

/* rounds attempts at one subject; counts the admitted ones. */
static void *take_thread(void *p)
{
	struct take_arg *a = p;
	struct pc_ratelimit rl = {"take", 10, 60};
	for (int i = 0; i < a->rounds; i++) {
		int64_t ra;
		if (pc_ratelimit_take(a->kv, &rl, "victim@example.com", &ra) == PC_OK && ra == 0)
			__atomic_fetch_add(&a->admitted, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* 8 threads over two handles (two instances sharing Redis), 25 attempts
 * each at one subject: exactly the limit admitted, the count left at it. */
static void test_ratelimit_take_concurrent(void **state)
{
	struct pc_kv *kv = *state;
	struct pc_kv *other = open_ok(main_url);
	struct take_arg a = {kv, 25, 0}, b = {other, 25, 0};
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, take_thread, i % 2 ? &a : &b), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(a.admitted + b.admitted, 10);
	struct pc_ratelimit rl = {"take", 10, 60};
	int64_t ra;
	assert_int_equal(pc_ratelimit_take(kv, &rl, "victim@example.com", &ra), PC_OK);
	assert_true(ra > 0 && ra <= 60);
	/* one slot given back (a success): exactly one more is admitted */
	assert_int_equal(pc_ratelimit_release(other, &rl, "victim@example.com"), PC_OK);
	assert_int_equal(pc_ratelimit_take(kv, &rl, "victim@example.com", &ra), PC_OK);
	assert_int_equal(ra, 0);
	assert_int_equal(pc_ratelimit_take(other, &rl, "victim@example.com", &ra), PC_OK);
	assert_true(ra > 0);
	pc_kv_close(other);
}


/* ---- Redis specifics --------------------------------------------------------- */

static void test_prefix_isolation(void **state)
{
	struct pc_kv *kv = *state;
	redisContext *c = raw(main_srv.port);
	raw_cmd(c, "SET a 5");
	raw_cmd(c, "SET foreign 1");
	assert_int_equal(pc_kv_set(kv, "a", 1, 100), PC_OK);
	redisReply *r = redisCommand(c, "GET portcullis:a");
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, "1");
	freeReplyObject(r);
	r = redisCommand(c, "GET a");
	assert_string_equal(r->str, "5"); /* the application's own key is untouched */
	freeReplyObject(r);
	int64_t v, ttl;
	assert_int_equal(pc_kv_get(kv, "foreign", &v, &ttl), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_kv_count(kv), 1); /* ours only, not DBSIZE */
	assert_int_equal(pc_kv_del(kv, "a"), PC_OK);
	r = redisCommand(c, "EXISTS a");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	/* what we did not write is an error, not a crash nor a guess */
	raw_cmd(c, "SET portcullis:junk notanumber");
	raw_cmd(c, "HSET portcullis:hash f 1");
	assert_int_equal(pc_kv_get(kv, "junk", &v, &ttl), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_incr(kv, "junk", 10, &v, &ttl), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_incr(kv, "hash", 10, &v, &ttl), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_get(kv, "hash", &v, &ttl), PC_ERR_INTERNAL);
	/* the kv still works after error replies */
	assert_int_equal(pc_kv_set(kv, "b", 2, 10), PC_OK);
	redisFree(c);
}

static void test_urls(void **state)
{
	(void)state;
	struct pc_kv *kv;
	char err[256];
	char url[128];
	/* no TLS in this build: refused, and said so */
	snprintf(url, sizeof(url), "rediss://127.0.0.1:%d", main_srv.port);
	assert_int_equal(pc_kv_open(&kv, url, err, sizeof(err)), -1);
	assert_null(kv);
	assert_non_null(strstr(err, "TLS"));
	const char *bad[] = {
		"redis://", "redis://:6379", "redis://h:0", "redis://h:65536", "redis://h:12x",
		"redis://h/abc", "redis://h/1?timeout=1", "redis://user@h", "redis://h h",
		"redis://:@h", "redis://:%zz@h", "redis://:%00@h", "redis://[::1", "memcached://h",
		"redis:/h", "REDIS://h",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(pc_kv_open(&kv, bad[i], err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
	/* the password is never in an error */
	assert_int_equal(pc_kv_open(&kv, "redis://:s3cr3t-pw@127.0.0.1:notaport", err, sizeof(err)), -1);
	assert_null(strstr(err, "s3cr3t"));
	assert_int_equal(pc_kv_open(&kv, "redis://u:s3cr3t-pw@bad host", err, sizeof(err)), -1);
	assert_null(strstr(err, "s3cr3t"));
	/* local */
	kv = open_ok("local:");
	assert_true(pc_kv_is_local(kv));
	assert_int_equal(pc_kv_ping(kv), PC_OK);
	pc_kv_close(kv);
	/* a database number; a Redis refusal of it fails the open */
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", main_srv.port);
	kv = open_ok(url);
	assert_int_equal(pc_kv_set(kv, "indb3", 1, 100), PC_OK);
	pc_kv_close(kv);
	redisContext *c = raw(main_srv.port);
	redisReply *r = redisCommand(c, "EXISTS portcullis:indb3");
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	raw_cmd(c, "SELECT 3");
	r = redisCommand(c, "EXISTS portcullis:indb3");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/999", main_srv.port);
	assert_int_equal(pc_kv_open(&kv, url, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SELECT"));
	/* an unreachable Redis does not fail the open; calls fail fast */
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", rh_free_port());
	kv = open_ok(url);
	int64_t v, ttl;
	double t0 = rh_now();
	assert_int_equal(pc_kv_ping(kv), PC_ERR_UNAVAILABLE);
	assert_int_equal(pc_kv_get(kv, "x", &v, &ttl), PC_ERR_UNAVAILABLE);
	assert_true(rh_now() - t0 < 1.0);
	pc_kv_close(kv);
}

static double time_of_ops(struct pc_kv *kv, enum pc_err want)
{
	int64_t v, ttl;
	double worst = 0;
	for (int i = 0; i < 3; i++) {
		double t0 = rh_now();
		assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), want);
		assert_int_equal(pc_kv_set(kv, "k", 1, 100), want);
		assert_int_equal(pc_kv_incr(kv, "n", 100, &v, &ttl), want);
		assert_int_equal(pc_kv_del(kv, "n"), want);
		assert_int_equal(pc_kv_ping(kv), want);
		assert_int_equal(pc_kv_publish(kv, "ch", "m", 1), want);
		if (want != PC_OK)
			assert_int_equal(pc_kv_count(kv), 0);
		double t = rh_now() - t0;
		if (t > worst)
			worst = t;
	}
	return worst;
}

/* Waits up to ms for every call to work again; returns the seconds taken. */
static double recover(struct pc_kv *kv, int ms)
{
	double t0 = rh_now();
	while (pc_kv_set(kv, "k", 1, 100) != PC_OK) {
		assert_true(rh_now() - t0 < ms / 1000.0);
		rh_sleep_ms(10);
	}
	return rh_now() - t0;
}

static void test_outage_and_recovery(void **state)
{
	struct pc_kv *kv = *state;
	assert_int_equal(pc_kv_set(kv, "k", 1, 100), PC_OK);
	/* stopped: every call fails at once, without hanging */
	rh_stop(&main_srv);
	double worst = time_of_ops(kv, PC_ERR_UNAVAILABLE);
	fprintf(stderr, "# redis stopped: slowest round of 7 calls %.3f s\n", worst);
	assert_true(worst < 1.0);
	/* restarted on the same port: calls work again by themselves */
	assert_int_equal(rh_start(&main_srv), 0);
	fprintf(stderr, "# redis restarted: calls work again after %.3f s\n", recover(kv, 2000));
	time_of_ops(kv, PC_OK);

	/* frozen (accepts connections, answers nothing): the timeout bounds
	 * each call, and the hold-off makes the next ones fail at once */
	kill(main_srv.pid, SIGSTOP);
	int64_t v, ttl;
	double t0 = rh_now();
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_ERR_UNAVAILABLE);
	double t1 = rh_now();
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_ERR_UNAVAILABLE);
	double t2 = rh_now();
	fprintf(stderr, "# redis frozen: first call %.3f s, next %.3f s\n", t1 - t0, t2 - t1);
	assert_true(t1 - t0 < 1.2);
	assert_true(t2 - t1 < 0.1);
	kill(main_srv.pid, SIGCONT);
	recover(kv, 3000);
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_OK);
}

/* ---- pub/sub ------------------------------------------------------------------ */

struct rec {
	pthread_mutex_t mu;
	int n, nulls;
	char last[64];
	size_t last_len;
	struct pc_kv *kv;
	bool healthy_at_null;
};

#define REC_INIT {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", 0, NULL, false}

static void on_msg(const char *msg, size_t len, void *ctx)
{
	struct rec *r = ctx;
	pthread_mutex_lock(&r->mu);
	if (msg == NULL) {
		r->nulls += len == 0 ? 1 : 1000; /* a length with NULL is a bug */
		if (r->kv != NULL && pc_kv_subscription_healthy(r->kv))
			r->healthy_at_null = true;
	} else {
		r->n++;
		r->last_len = len < sizeof(r->last) ? len : sizeof(r->last);
		memcpy(r->last, msg, r->last_len);
	}
	pthread_mutex_unlock(&r->mu);
}

static int rec_count(struct rec *r, bool nulls)
{
	pthread_mutex_lock(&r->mu);
	int n = nulls ? r->nulls : r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static bool wait_count(struct rec *r, int want, int ms)
{
	for (double end = rh_now() + ms / 1000.0; rh_now() < end; rh_sleep_ms(5))
		if (rec_count(r, false) >= want)
			return true;
	return rec_count(r, false) >= want;
}

static bool wait_healthy(struct pc_kv *kv, bool want, int ms, double *took)
{
	double t0 = rh_now();
	for (double end = t0 + ms / 1000.0; rh_now() < end; rh_sleep_ms(5))
		if (pc_kv_subscription_healthy(kv) == want)
			break;
	*took = rh_now() - t0;
	return pc_kv_subscription_healthy(kv) == want;
}

/* Runs fn with stderr sent to a file; returns what was written (static). */
static const char *capture_stderr(void (*fn)(void *), void *arg)
{
	static char out[16384];
	char path[] = "/tmp/pc-kv-stderr-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return out;
}

#define PW "pw@:/%Secret-1"
#define PW_URL "pw%40%3A%2F%25Secret-1"
#define PW2 "another-Secret-2"

struct auth_case {
	struct rh_server *srv;
};

static void auth_body(void *p)
{
	struct auth_case *a = p;
	struct pc_kv *kv;
	char err[256], url[160];
	int64_t v, ttl;
	/* right password (%-encoded in the URL), with and without a user */
	snprintf(url, sizeof(url), "redis://:%s@127.0.0.1:%d", PW_URL, a->srv->port);
	kv = open_ok(url);
	assert_int_equal(pc_kv_set(kv, "k", 1, 100), PC_OK);
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_OK);
	pc_kv_close(kv);
	snprintf(url, sizeof(url), "redis://default:%s@127.0.0.1:%d", PW_URL, a->srv->port);
	kv = open_ok(url);
	assert_int_equal(pc_kv_ping(kv), PC_OK);
	pc_kv_close(kv);
	/* wrong password, and none: the open fails and does not say it */
	snprintf(url, sizeof(url), "redis://:wrong-Guess-9@127.0.0.1:%d", a->srv->port);
	assert_int_equal(pc_kv_open(&kv, url, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AUTH"));
	assert_null(strstr(err, "wrong-Guess-9"));
	fprintf(stderr, "open error: %s\n", err);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", a->srv->port);
	assert_int_equal(pc_kv_open(&kv, url, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NOAUTH"));
	/* the password changes under a running kv: calls fail, the subscriber
	 * logs, and still nothing shows the password */
	snprintf(url, sizeof(url), "redis://:%s@127.0.0.1:%d", PW_URL, a->srv->port);
	kv = open_ok(url);
	/* static: a late delivery after the test returned must not touch a dead frame */
	static struct rec rc = REC_INIT;
	assert_int_equal(pc_kv_subscribe(kv, "c", on_msg, &rc), 0);
	assert_true(pc_kv_subscription_healthy(kv));
	rh_stop(a->srv);
	a->srv->password = PW2;
	assert_int_equal(rh_start(a->srv), 0);
	rh_sleep_ms(300); /* past the hold-off */
	assert_int_equal(pc_kv_get(kv, "k", &v, &ttl), PC_ERR_UNAVAILABLE);
	assert_int_equal(pc_kv_ping(kv), PC_ERR_UNAVAILABLE);
	assert_false(pc_kv_subscription_healthy(kv));
	pc_kv_close(kv);
	/* the password-protected server is not served by a wrong URL either */
	snprintf(url, sizeof(url), "redis://:%s@127.0.0.1:%d", PW_URL, a->srv->port);
	assert_int_equal(pc_kv_open(&kv, url, err, sizeof(err)), -1);
	fprintf(stderr, "open error: %s\n", err);
}

static void test_password_auth(void **state)
{
	(void)state;
	struct rh_server srv = {.password = PW};
	assert_int_equal(rh_start(&srv), 0);
	struct auth_case a = {&srv};
	const char *log = capture_stderr(auth_body, &a);
	fprintf(stderr, "%s", log);
	assert_non_null(strstr(log, "refused AUTH"));
	assert_non_null(strstr(log, "kv_subscription"));
	assert_null(strstr(log, "Secret"));
	assert_null(strstr(log, "wrong-Guess"));
	rh_destroy(&srv);
}

static void test_local_pubsub(void **state)
{
	(void)state;
	struct pc_kv *kv = open_ok(NULL);
	/* static: a late delivery after the test returned must not touch a dead frame */
	static struct rec a = REC_INIT, b = REC_INIT;
	assert_true(pc_kv_subscription_healthy(kv));
	assert_int_equal(pc_kv_subscribe(kv, "inv", on_msg, &a), 0);
	assert_int_equal(pc_kv_subscribe(kv, "other", on_msg, &b), 0);
	assert_int_equal(pc_kv_subscribe(kv, "bad channel", on_msg, &b), -1);
	assert_int_equal(pc_kv_subscribe(kv, "x", NULL, &b), -1);
	assert_int_equal(pc_kv_publish(kv, "inv", "a\0b", 3), PC_OK);
	assert_int_equal(a.n, 1); /* delivered at once, on this thread */
	assert_int_equal(a.last_len, 3);
	assert_memory_equal(a.last, "a\0b", 3);
	assert_int_equal(b.n, 0);
	assert_int_equal(pc_kv_publish(kv, "inv", NULL, 0), PC_OK);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.last_len, 0);
	assert_int_equal(a.nulls, 0); /* an empty message is not the "lost" notice */
	assert_int_equal(pc_kv_publish(kv, "nobody", "x", 1), PC_OK);
	static char big[PC_KV_MSG_MAX + 1];
	assert_int_equal(pc_kv_publish(kv, "inv", big, sizeof(big)), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_publish(kv, "in v", "x", 1), PC_ERR_INTERNAL);
	for (int i = 2; i < PC_KV_SUBSCRIPTIONS_MAX; i++)
		assert_int_equal(pc_kv_subscribe(kv, "more", on_msg, &b), 0);
	assert_int_equal(pc_kv_subscribe(kv, "more", on_msg, &b), -1);
	assert_true(pc_kv_subscription_healthy(kv));
	pc_kv_close(kv);
}

static void test_pubsub_across_handles(void **state)
{
	struct pc_kv *a = *state;
	struct pc_kv *b = open_ok(main_url);
	/* static: a late delivery after the test returned must not touch a dead frame */
	static struct rec ra = REC_INIT, ra2 = REC_INIT, rb = REC_INIT;
	assert_true(pc_kv_subscription_healthy(a)); /* nothing subscribed yet */
	double t0 = rh_now();
	assert_int_equal(pc_kv_subscribe(a, "inv", on_msg, &ra), 0);
	fprintf(stderr, "# subscribe: %.3f s\n", rh_now() - t0);
	assert_int_equal(pc_kv_subscribe(a, "inv", on_msg, &ra2), 0);
	assert_int_equal(pc_kv_subscribe(b, "other", on_msg, &rb), 0);
	assert_true(pc_kv_subscription_healthy(a));
	assert_true(pc_kv_subscription_healthy(b));
	/* published right after subscribe returned: not lost */
	t0 = rh_now();
	assert_int_equal(pc_kv_publish(b, "inv", "hello\0world", 11), PC_OK);
	assert_true(wait_count(&ra, 1, 2000));
	fprintf(stderr, "# publish to delivery: %.3f s\n", rh_now() - t0);
	assert_true(wait_count(&ra2, 1, 2000));
	pthread_mutex_lock(&ra.mu);
	assert_int_equal(ra.last_len, 11);
	assert_memory_equal(ra.last, "hello\0world", 11);
	pthread_mutex_unlock(&ra.mu);
	/* the publisher's own subscribers get its messages too */
	assert_int_equal(pc_kv_publish(a, "inv", "2", 1), PC_OK);
	assert_true(wait_count(&ra, 2, 2000));
	assert_int_equal(pc_kv_publish(a, "other", "3", 1), PC_OK);
	assert_true(wait_count(&rb, 1, 2000));
	rh_sleep_ms(50);
	assert_int_equal(rec_count(&ra, false), 2); /* channels are separate */
	assert_int_equal(rec_count(&rb, false), 1);
	/* on the wire, channels carry the prefix too */
	redisContext *c = raw(main_srv.port);
	redisReply *r = redisCommand(c, "PUBLISH inv raw");
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	r = redisCommand(c, "PUBLISH portcullis:inv raw");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
	assert_true(wait_count(&ra, 3, 2000));
	static char big[PC_KV_MSG_MAX + 1];
	assert_int_equal(pc_kv_publish(a, "inv", big, sizeof(big)), PC_ERR_INTERNAL);
	assert_int_equal(pc_kv_publish(a, "inv", big, PC_KV_MSG_MAX), PC_OK);
	assert_int_equal(rec_count(&ra, true), 0);
	pc_kv_close(b);
}

static void test_subscription_health(void **state)
{
	struct pc_kv *a = *state;
	struct pc_kv *b = open_ok(main_url);
	/* static: a late delivery after the test returned must not touch a dead frame */
	static struct rec ra = REC_INIT;
	ra.kv = a;
	assert_int_equal(pc_kv_subscribe(a, "inv", on_msg, &ra), 0);
	assert_true(pc_kv_subscription_healthy(a));
	double took;

	/* Redis stops: unhealthy at once */
	rh_stop(&main_srv);
	assert_true(wait_healthy(a, false, 1000, &took));
	fprintf(stderr, "# stopped: unhealthy after %.3f s\n", took);
	assert_int_equal(pc_kv_publish(b, "inv", "lost", 4), PC_ERR_UNAVAILABLE);
	assert_int_equal(rh_start(&main_srv), 0);
	assert_true(wait_healthy(a, true, 5000, &took));
	fprintf(stderr, "# restarted: healthy again after %.3f s\n", took);
	/* the "messages may be lost" notice came once, before healthy */
	assert_int_equal(rec_count(&ra, true), 1);
	assert_false(ra.healthy_at_null);
	recover(b, 2000);
	assert_int_equal(pc_kv_publish(b, "inv", "after", 5), PC_OK);
	assert_true(wait_count(&ra, 1, 2000));

	/* Redis freezes (the network goes silent): found by the PING */
	kill(main_srv.pid, SIGSTOP);
	assert_true(wait_healthy(a, false, 4000, &took));
	fprintf(stderr, "# frozen: unhealthy after %.3f s\n", took);
	kill(main_srv.pid, SIGCONT);
	assert_true(wait_healthy(a, true, 5000, &took));
	fprintf(stderr, "# thawed: healthy again after %.3f s\n", took);
	assert_int_equal(rec_count(&ra, true), 2);
	recover(b, 3000);
	assert_int_equal(pc_kv_publish(b, "inv", "again", 5), PC_OK);
	assert_true(wait_count(&ra, 2, 2000));
	pc_kv_close(b);
}

/* Subscribing while Redis is down registers anyway; it goes live later. */
static void test_subscribe_while_down(void **state)
{
	struct pc_kv *a = *state;
	/* static: a late delivery after the test returned must not touch a dead frame */
	static struct rec ra = REC_INIT;
	rh_stop(&main_srv);
	double t0 = rh_now();
	assert_int_equal(pc_kv_subscribe(a, "inv", on_msg, &ra), 0);
	fprintf(stderr, "# subscribe while down returned after %.3f s\n", rh_now() - t0);
	assert_true(rh_now() - t0 < 1.5);
	assert_false(pc_kv_subscription_healthy(a));
	assert_int_equal(rh_start(&main_srv), 0);
	double took;
	assert_true(wait_healthy(a, true, 5000, &took));
	assert_int_equal(rec_count(&ra, true), 1);
	recover(a, 2000);
	assert_int_equal(pc_kv_publish(a, "inv", "x", 1), PC_OK);
	assert_true(wait_count(&ra, 1, 2000));
}

/* Revocations outlive a Redis restart when Redis keeps an AOF. */
static void test_persistence_aof(void **state)
{
	(void)state;
	struct rh_server srv = {.appendonly = true};
	assert_int_equal(rh_start(&srv), 0);
	char url[64];
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv.port);
	struct pc_kv *kv = open_ok(url);
	assert_int_equal(pc_kv_set(kv, "revoked:jti-1", 1, 100), PC_OK);
	assert_int_equal(pc_kv_set(kv, "short", 1, 1), PC_OK);
	rh_stop(&srv);
	rh_sleep_ms(1100);
	assert_int_equal(rh_start(&srv), 0); /* same port, same directory */
	recover(kv, 2000);
	int64_t v, ttl;
	assert_int_equal(pc_kv_get(kv, "revoked:jti-1", &v, &ttl), PC_OK);
	assert_int_equal(v, 1);
	assert_true(ttl > 90 && ttl <= 100);
	assert_int_equal(pc_kv_get(kv, "short", &v, &ttl), PC_ERR_NOT_FOUND); /* expired meanwhile */
	pc_kv_close(kv);
	rh_destroy(&srv);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest local_tests[] = {
		cmocka_unit_test(test_local_pubsub),
	};
	int rc = cmocka_run_group_tests_name("kv_local_pubsub", local_tests, NULL, NULL);
	if (!rh_available()) {
		const char *skip = getenv("PC_SKIP_REDIS");
		if (skip != NULL && strcmp(skip, "1") == 0) {
			fprintf(stderr, "redis-server not found: Redis kv tests SKIPPED (PC_SKIP_REDIS=1)\n");
			return rc;
		}
		fprintf(stderr, "redis-server not found on PATH: install redis-server, "
		                "or set PC_SKIP_REDIS=1 to skip these tests\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_incr_ttl_not_extended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_get_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_and_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_incr_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_reset_and_odd_subjects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit_take_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_urls, setup, teardown),
		cmocka_unit_test(test_password_auth),
		cmocka_unit_test_setup_teardown(test_outage_and_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pubsub_across_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscription_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_while_down, setup, teardown),
		cmocka_unit_test(test_persistence_aof),
	};
	return rc | cmocka_run_group_tests_name("kv_redis", tests, group_setup, group_teardown);
}
