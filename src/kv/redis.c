/*
 * redis.c — the kv on Redis (hiredis, blocking contexts), for many instances
 * sharing rate limits and revocations: the pool, the commands, open, close.
 *
 * Semantics equal local.c's: every key is stored as "portcullis:" + key (a
 * shared Redis is not polluted, and only our keys are counted); incr is one
 * Lua script, so the TTL is set only when the key is created, atomically
 * (EXPIRE NX is Redis 7 only), and decr is one script that keeps the TTL
 * and never recreates an expired key; TTLs are read with PTTL and rounded up, as a
 * whole-second local expiry would be. Redis expires keys itself: its clock,
 * not ours. Values are integers; unlike local's, a counter does not stop at
 * INT64_MAX (INCR fails: PC_ERR_INTERNAL) and is exact only below 2^53 (Lua
 * numbers are doubles) — far beyond any window's count.
 *
 * Commands use a pool of up to POOL_MAX connections, guarded by one mutex:
 * an idle connection is taken (and dropped if the server closed it meanwhile,
 * seen with a zero-timeout poll), or a new one is opened. Connecting and each
 * socket read and write are bounded by PC_KV_REDIS_TIMEOUT_MS; after a
 * connection fails, calls fail at once for HOLDOFF_MS, so a dead Redis costs
 * callers nothing and a restarted one is used again within HOLDOFF_MS.
 * Every failure is PC_ERR_UNAVAILABLE; an error reply that is ours (ERR,
 * WRONGTYPE) is PC_ERR_INTERNAL.
 *
 * The subscriber thread is redis_sub.c's, connecting is redis_conn.c's
 * (the URL, AUTH and SELECT, the SIGPIPE guard: SIGPIPE is blocked around
 * every command, and a SIGPIPE we caused is consumed, as libpq does).
 */
#include "kv/redis.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/log.h"
#include "core/num.h"

_Static_assert(PC_KV_REDIS_TIMEOUT_MS >= 10 && PC_KV_REDIS_TIMEOUT_MS <= 10000, "timeout sane");
_Static_assert(HOLDOFF_MS < PC_KV_REDIS_TIMEOUT_MS * 2, "a restarted Redis is used again soon");

/* Seconds left from a PTTL reply, rounded up, at least 1. */
static int64_t ttl_from_pttl(long long pttl)
{
	if (pttl < 0) /* no expiry: cannot be made through this API */
		return PC_KV_TTL_MAX;
	int64_t s = (pttl + 999) / 1000;
	return s < 1 ? 1 : s;
}

/* An idle connection is usable when nothing is waiting on it: a server that
 * closed it (restart, idle timeout) left an EOF to read. */
static bool conn_alive(redisContext *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	return c->err == 0 && poll(&p, 1, 0) == 0;
}

static void holdoff_locked(struct pc_kv_redis *r)
{
	r->holdoff_until_ms = pc_kv_redis_mono_ms() + HOLDOFF_MS;
	pthread_cond_broadcast(&r->pool_cv);
}

/* A connection for one command: PC_OK, or PC_ERR_UNAVAILABLE at once while
 * held off, after a failed connect, or when none is free within the
 * timeout. Caller blocks SIGPIPE. */
PC_MUST_USE static enum pc_err acquire(struct pc_kv_redis *r, redisContext **out)
{
	*out = NULL;
	struct timespec deadline = pc_kv_redis_mono_deadline(PC_KV_REDIS_TIMEOUT_MS);
	pthread_mutex_lock(&r->mu);
	for (;;) {
		if (pc_kv_redis_mono_ms() < r->holdoff_until_ms)
			break;
		if (r->n_idle > 0) {
			redisContext *c = r->idle[--r->n_idle];
			pthread_mutex_unlock(&r->mu);
			if (conn_alive(c)) {
				*out = c;
				return PC_OK;
			}
			redisFree(c);
			pthread_mutex_lock(&r->mu);
			r->n_open--;
			continue;
		}
		if (r->n_open < POOL_MAX) {
			r->n_open++;
			pthread_mutex_unlock(&r->mu);
			char err[512];
			bool rejected;
			redisContext *c = pc_kv_redis_connect(r, false, err, sizeof(err), &rejected);
			sodium_memzero(err, sizeof(err));
			if (c != NULL) {
				*out = c;
				return PC_OK;
			}
			pthread_mutex_lock(&r->mu);
			r->n_open--;
			holdoff_locked(r);
			break;
		}
		if (pthread_cond_timedwait(&r->pool_cv, &r->mu, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&r->mu);
	return PC_ERR_UNAVAILABLE;
}

/* Back to the pool, or closed (and calls held off) when it failed. */
static void release(struct pc_kv_redis *r, redisContext *c, bool ok)
{
	if (!ok)
		redisFree(c);
	pthread_mutex_lock(&r->mu);
	if (ok) {
		r->idle[r->n_idle++] = c;
		pthread_cond_signal(&r->pool_cv);
	} else {
		r->n_open--;
		holdoff_locked(r);
	}
	pthread_mutex_unlock(&r->mu);
}

/* An error reply: ours (a bad command or a key holding something else) is
 * INTERNAL; a server state (LOADING, BUSY, OOM, MISCONF, READONLY, NOAUTH...)
 * is UNAVAILABLE. */
static enum pc_err reply_error(const redisReply *rep)
{
	if (pc_kv_redis_transient_error(rep->str))
		return PC_ERR_UNAVAILABLE;
	if (strncmp(rep->str, "ERR", 3) == 0 || strncmp(rep->str, "WRONGTYPE", 9) == 0)
		return PC_ERR_INTERNAL;
	return PC_ERR_UNAVAILABLE;
}

/* Runs one command. PC_OK with *out (caller frees with freeReplyObject),
 * or an error and *out NULL. */
PC_MUST_USE static enum pc_err exec_argv(struct pc_kv_redis *r, redisReply **out, int argc,
                                         const char **argv, const size_t *lens)
{
	*out = NULL;
	struct sigpipe_guard g;
	pc_kv_redis_sigpipe_block(&g);
	redisContext *c;
	enum pc_err rc = acquire(r, &c);
	if (rc == PC_OK) {
		redisReply *rep = redisCommandArgv(c, argc, argv, lens);
		release(r, c, rep != NULL && c->err == 0);
		if (rep == NULL) {
			rc = PC_ERR_UNAVAILABLE;
		} else if (rep->type == REDIS_REPLY_ERROR) {
			rc = reply_error(rep);
			freeReplyObject(rep);
		} else {
			*out = rep;
		}
	}
	pc_kv_redis_sigpipe_restore(&g);
	return rc;
}

/* ---- operations ------------------------------------------------------------- */

/* The TTL is set only when INCR created the key, in the same atomic step:
 * a key made by INCR has no expiry (PTTL -1), and every key we write has
 * one (a foreign key without one gets ours, as a repair). INCR keeps an
 * existing key's TTL. */
static const char INCR_LUA[] =
	"local v = redis.call('INCR', KEYS[1])\n"
	"local t = redis.call('PTTL', KEYS[1])\n"
	"if t < 0 then\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
	"  t = redis.call('PTTL', KEYS[1])\n"
	"end\n"
	"return {v, t}\n";

/* DECR keeps the TTL; a key that is gone (expired) is not made again, and a
 * count stops at 0. */
static const char DECR_LUA[] =
	"local v = tonumber(redis.call('GET', KEYS[1]))\n"
	"if v and v > 0 then return redis.call('DECR', KEYS[1]) end\n"
	"return 0\n";

/* Value and TTL read at one instant (a key cannot expire in between). */
static const char GET_LUA[] =
	"local v = redis.call('GET', KEYS[1])\n"
	"if not v then return false end\n"
	"return {v, redis.call('PTTL', KEYS[1])}\n";

static enum pc_err redis_incr(struct pc_kv *kv, const char *key, size_t key_len,
                              int64_t ttl_seconds, int64_t *value, int64_t *ttl_left)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	(void)key_len;
	*value = 0;
	*ttl_left = 0;
	char k[NAME_MAX_LEN + 1], ttl[24];
	size_t kl = pc_kv_redis_prefixed(k, key);
	int tl = snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_seconds);
	const char *av[5] = {"EVAL", INCR_LUA, "1", k, ttl};
	const size_t al[5] = {4, sizeof(INCR_LUA) - 1, 1, kl, (size_t)tl};
	redisReply *rep;
	enum pc_err rc = exec_argv(r, &rep, 5, av, al);
	if (rc != PC_OK)
		return rc;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_INTEGER &&
	    rep->element[1]->type == REDIS_REPLY_INTEGER) {
		*value = rep->element[0]->integer;
		*ttl_left = ttl_from_pttl(rep->element[1]->integer);
	} else {
		rc = PC_ERR_INTERNAL;
	}
	freeReplyObject(rep);
	return rc;
}

static enum pc_err redis_decr(struct pc_kv *kv, const char *key, size_t key_len)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	(void)key_len;
	char k[NAME_MAX_LEN + 1];
	size_t kl = pc_kv_redis_prefixed(k, key);
	const char *av[4] = {"EVAL", DECR_LUA, "1", k};
	const size_t al[4] = {4, sizeof(DECR_LUA) - 1, 1, kl};
	redisReply *rep;
	enum pc_err rc = exec_argv(r, &rep, 4, av, al);
	if (rc != PC_OK)
		return rc;
	if (rep->type != REDIS_REPLY_INTEGER)
		rc = PC_ERR_INTERNAL;
	freeReplyObject(rep);
	return rc;
}

static enum pc_err redis_get(struct pc_kv *kv, const char *key, size_t key_len, int64_t *value,
                             int64_t *ttl_left)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	(void)key_len;
	*value = 0;
	*ttl_left = 0;
	char k[NAME_MAX_LEN + 1];
	size_t kl = pc_kv_redis_prefixed(k, key);
	const char *av[4] = {"EVAL", GET_LUA, "1", k};
	const size_t al[4] = {4, sizeof(GET_LUA) - 1, 1, kl};
	redisReply *rep;
	enum pc_err rc = exec_argv(r, &rep, 4, av, al);
	if (rc != PC_OK)
		return rc;
	if (rep->type == REDIS_REPLY_NIL) {
		rc = PC_ERR_NOT_FOUND;
	} else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	           rep->element[0]->type == REDIS_REPLY_STRING &&
	           rep->element[1]->type == REDIS_REPLY_INTEGER &&
	           pc_num_i64(value, rep->element[0]->str, rep->element[0]->len, INT64_MIN, INT64_MAX) == 0) {
		*ttl_left = ttl_from_pttl(rep->element[1]->integer);
	} else {
		*value = 0;
		rc = PC_ERR_INTERNAL; /* not an integer: not written by us */
	}
	freeReplyObject(rep);
	return rc;
}

static enum pc_err redis_set(struct pc_kv *kv, const char *key, size_t key_len, int64_t value,
                             int64_t ttl_seconds)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	(void)key_len;
	char k[NAME_MAX_LEN + 1], v[24], ttl[24];
	size_t kl = pc_kv_redis_prefixed(k, key);
	int vl = snprintf(v, sizeof(v), "%lld", (long long)value);
	int tl = snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_seconds);
	const char *av[5] = {"SET", k, v, "EX", ttl};
	const size_t al[5] = {3, kl, (size_t)vl, 2, (size_t)tl};
	redisReply *rep;
	enum pc_err rc = exec_argv(r, &rep, 5, av, al);
	if (rc != PC_OK)
		return rc;
	if (rep->type != REDIS_REPLY_STATUS)
		rc = PC_ERR_INTERNAL;
	freeReplyObject(rep);
	return rc;
}

static enum pc_err redis_del(struct pc_kv *kv, const char *key, size_t key_len)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	(void)key_len;
	char k[NAME_MAX_LEN + 1];
	size_t kl = pc_kv_redis_prefixed(k, key);
	const char *av[2] = {"DEL", k};
	const size_t al[2] = {3, kl};
	redisReply *rep;
	enum pc_err rc = exec_argv(r, &rep, 2, av, al);
	if (rc == PC_OK)
		freeReplyObject(rep);
	return rc;
}

static size_t redis_count(struct pc_kv *kv)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	char cursor[32] = "0";
	size_t total = 0;
	do {
		const char *av[6] = {"SCAN", cursor, "MATCH", PREFIX "*", "COUNT", "1000"};
		const size_t al[6] = {4, strlen(cursor), 5, PREFIX_LEN + 1, 5, 4};
		redisReply *rep;
		if (exec_argv(r, &rep, 6, av, al) != PC_OK)
			return 0;
		bool ok = rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
		          rep->element[0]->type == REDIS_REPLY_STRING &&
		          rep->element[0]->len < sizeof(cursor) &&
		          rep->element[1]->type == REDIS_REPLY_ARRAY;
		if (ok) {
			memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
			cursor[rep->element[0]->len] = '\0';
			total += rep->element[1]->elements;
		}
		freeReplyObject(rep);
		if (!ok)
			return 0;
	} while (strcmp(cursor, "0") != 0);
	return total;
}

static enum pc_err redis_ping(struct pc_kv *kv)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	const char *av[1] = {"PING"};
	const size_t al[1] = {4};
	redisReply *rep;
	enum pc_err rc = exec_argv(r, &rep, 1, av, al);
	if (rc != PC_OK)
		return PC_ERR_UNAVAILABLE;
	if (rep->type != REDIS_REPLY_STATUS)
		rc = PC_ERR_UNAVAILABLE;
	freeReplyObject(rep);
	return rc;
}

static enum pc_err redis_publish(struct pc_kv *kv, const char *channel, size_t channel_len,
                                 const char *msg, size_t len)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	(void)channel_len;
	char ch[NAME_MAX_LEN + 1];
	size_t cl = pc_kv_redis_prefixed(ch, channel);
	const char *av[3] = {"PUBLISH", ch, msg};
	const size_t al[3] = {7, cl, len};
	redisReply *rep;
	enum pc_err rc = exec_argv(r, &rep, 3, av, al);
	if (rc == PC_OK)
		freeReplyObject(rep);
	/* Redis writes its pending replies newest client first: the answer to
	 * PUBLISH can leave before the subscribers' copies, in the same pass.
	 * A PING answered is a later pass: every copy has been written. */
	if (rc == PC_OK)
		rc = redis_ping(kv);
	return rc;
}

/* ---- open / close ----------------------------------------------------------- */

static size_t redis_sweep(struct pc_kv *kv)
{
	(void)kv;
	return 0; /* Redis expires keys itself */
}

static void redis_close(struct pc_kv *kv)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	pc_kv_redis_sub_stop(r);
	for (size_t i = 0; i < r->n_idle; i++)
		redisFree(r->idle[i]);
	if (r->wake[0] >= 0)
		close(r->wake[0]);
	if (r->wake[1] >= 0)
		close(r->wake[1]);
	if (r->password != NULL)
		sodium_free(r->password); /* wipes */
	if (r->user != NULL) {
		sodium_memzero(r->user, strlen(r->user));
		free(r->user);
	}
	pthread_cond_destroy(&r->live_cv);
	pthread_cond_destroy(&r->pool_cv);
	pthread_mutex_destroy(&r->mu);
}

static const struct pc_kv_ops redis_ops = {
	.local = false,
	.close = redis_close,
	.incr = redis_incr,
	.decr = redis_decr,
	.get = redis_get,
	.set = redis_set,
	.del = redis_del,
	.sweep = redis_sweep,
	.count = redis_count,
	.ping = redis_ping,
	.set_clock = NULL, /* the clock is Redis's */
	.publish = redis_publish,
	.sub_start = pc_kv_redis_sub_start,
	.sub_wait = pc_kv_redis_sub_wait,
	.sub_healthy = pc_kv_redis_sub_healthy,
};

int pc_kv_redis_open(struct pc_kv **out, const char *url, char *err, size_t errlen)
{
	*out = NULL;
	struct pc_kv_redis *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "kv: out of memory");
		return -1;
	}
	r->kv.ops = &redis_ops;
	r->wake[0] = r->wake[1] = -1;
	atomic_init(&r->sub_fd, -1);
	atomic_init(&r->rx_gen, 0u);
	pthread_condattr_t ca;
	bool ok = pthread_mutex_init(&r->mu, NULL) == 0;
	if (ok && pthread_condattr_init(&ca) == 0) {
		ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
		     pthread_cond_init(&r->pool_cv, &ca) == 0;
		ok = ok && pthread_cond_init(&r->live_cv, &ca) == 0;
		pthread_condattr_destroy(&ca);
	} else {
		ok = false;
	}
	if (!ok || pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		/* init failures leave nothing worth destroying on Linux */
		free(r);
		snprintf(err, errlen, "kv: out of resources");
		return -1;
	}
	if (pc_kv_redis_parse_url(r, url, err, errlen) != 0) {
		redis_close(&r->kv);
		free(r);
		return -1;
	}
	/* One connection now: a wrong password or db is a configuration error
	 * to report at start; an unreachable Redis is an outage to ride out. */
	struct sigpipe_guard g;
	pc_kv_redis_sigpipe_block(&g);
	bool rejected;
	char why[512];
	redisContext *c = pc_kv_redis_connect(r, true, why, sizeof(why), &rejected);
	pc_kv_redis_sigpipe_restore(&g);
	if (c == NULL && rejected) {
		snprintf(err, errlen, "%s", why);
		redis_close(&r->kv);
		free(r);
		return -1;
	}
	if (c != NULL) {
		r->idle[r->n_idle++] = c;
		r->n_open = 1;
	} else {
		struct pc_logline l;
		pc_logline_begin(&l, "warn", "kv_redis_unreachable");
		pc_logline_str(&l, "message", why);
		pc_logline_emit(&l);
	}
	*out = &r->kv;
	return 0;
}
