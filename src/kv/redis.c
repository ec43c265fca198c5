/*
 * redis.c — the kv on Redis (hiredis, blocking contexts), for many instances
 * sharing rate limits and revocations.
 *
 * Semantics equal local.c's: every key is stored as "portcullis:" + key (a
 * shared Redis is not polluted, and only our keys are counted); incr is one
 * Lua script, so the TTL is set only when the key is created, atomically
 * (EXPIRE NX is Redis 7 only); TTLs are read with PTTL and rounded up, as a
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
 * Pub/sub: one subscriber thread per handle, started by the first
 * subscription, with its own connection. It sends PING after a second of
 * silence and gives the connection up when nothing answers within another
 * second; then it reconnects with capped, jittered backoff and subscribes
 * again. live_n (the subscriptions live on the current connection) drops to 0
 * the moment the connection is given up: that is what "healthy" reads.
 *
 * hiredis writes with write(2): SIGPIPE is blocked around every command (and
 * a SIGPIPE we caused is consumed, as libpq does), and the subscriber thread
 * runs with every signal blocked. The password is kept in sodium_malloc'd,
 * read-only memory and is never logged or put in an error; hiredis's output
 * buffer that carried the AUTH command is freed, not wiped (caveat).
 * A host name is resolved by getaddrinfo, which the timeout does not bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "core/log.h"
#include "kv/backend.h"

#define PREFIX "portcullis:"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define NAME_MAX_LEN (PREFIX_LEN + PC_KV_KEY_MAX)

/* Connections per handle: more than the worker pool's threads, so a call
 * seldom waits; a call that finds all busy waits at most the timeout. */
#define POOL_MAX 16
/* After a connection failure, calls fail at once for this long. */
#define HOLDOFF_MS 200
/* The subscriber: PING after this much silence; dead if the answer takes
 * longer than this again. */
#define SUB_PING_MS 1000
/* Reconnect backoff of the subscriber: doubles from MIN to MAX, +0-25 %. */
#define SUB_BACKOFF_MIN_MS 100
#define SUB_BACKOFF_MAX_MS 1000

_Static_assert(PC_KV_REDIS_TIMEOUT_MS >= 10 && PC_KV_REDIS_TIMEOUT_MS <= 10000, "timeout sane");
_Static_assert(HOLDOFF_MS < PC_KV_REDIS_TIMEOUT_MS * 2, "a restarted Redis is used again soon");

struct pc_kv_redis {
	/* from the URL; immutable after open */
	char host[256];
	int port;
	int db;
	char *user;         /* NULL: AUTH with the password only */
	char *password;     /* sodium_malloc, read-only; NULL: no AUTH */
	size_t password_len;
	char where[300];    /* "host:port" for logs and errors */

	pthread_mutex_t mu;      /* guards everything below */
	pthread_cond_t pool_cv;  /* a connection came back to the pool */
	pthread_cond_t live_cv;  /* live_n changed */
	redisContext *idle[POOL_MAX];
	size_t n_idle;
	size_t n_open;      /* idle + in use */
	int64_t holdoff_until_ms;

	struct pc_kv_subs *subs;
	bool sub_started;
	bool stopping;
	size_t live_n;      /* subscriptions live on the subscriber's connection */
	/* the subscriber's socket while a session runs, else -1; rx_gen is odd
	 * while what was read from it is being delivered (see healthy) */
	atomic_int sub_fd;
	atomic_uint rx_gen;
	pthread_t sub_thread;
	int wake[2];        /* pipe: a new subscription or close */
};

/* ---- helpers ---------------------------------------------------------------- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec mono_deadline(int64_t ms_from_now)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms_from_now / 1000;
	ts.tv_nsec += (ms_from_now % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

struct sigpipe_guard {
	sigset_t old;
	bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t s, pending;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &s, &g->old);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	sigset_t s, pending;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
		const struct timespec zero = {0, 0};
		while (sigtimedwait(&s, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* "portcullis:" + name into out[NAME_MAX_LEN + 1]; returns the length. */
static size_t prefixed(char *out, const char *name)
{
	size_t n = strlen(name); /* checked by local.c: <= PC_KV_KEY_MAX */
	memcpy(out, PREFIX, PREFIX_LEN);
	memcpy(out + PREFIX_LEN, name, n);
	out[PREFIX_LEN + n] = '\0';
	return PREFIX_LEN + n;
}

/* Copies an error reply for a message: printable ASCII only, bounded. */
static void copy_printable(char *out, size_t outlen, const char *s, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n && j + 1 < outlen; i++)
		out[j++] = (s[i] >= 0x20 && s[i] <= 0x7e) ? s[i] : '?';
	if (outlen > 0)
		out[j] = '\0';
}

/* Strict decimal integer of a bulk string (our values): 0 or -1. */
static int parse_i64(const char *s, size_t n, int64_t *out)
{
	char buf[24];
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno != 0 || end != buf + n || buf[0] == '+' || buf[0] == ' ')
		return -1;
	*out = v;
	return 0;
}

/* Seconds left from a PTTL reply, rounded up, at least 1. */
static int64_t ttl_from_pttl(long long pttl)
{
	if (pttl < 0) /* no expiry: cannot be made through this API */
		return PC_KV_TTL_MAX;
	int64_t s = (pttl + 999) / 1000;
	return s < 1 ? 1 : s;
}

/* ---- URL -------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %-decodes s[0..n) into out (cap bytes incl. NUL); no control byte (NUL
 * included) may result. Returns the length or -1. */
static long pct_decode(char *out, size_t cap, const char *s, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (n - i < 3)
				return -1;
			int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (unsigned char)(h * 16 + l);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || j + 1 >= cap)
			return -1;
		out[j++] = (char)c;
	}
	out[j] = '\0';
	return (long)j;
}

/* Digits only, in [lo, hi]. */
static int parse_num(const char *s, size_t n, long lo, long hi, int *out)
{
	if (n == 0 || n > 9)
		return -1;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

#define URL_FORM "expected redis://[[user]:password@]host[:port][/db]"

/* Fills host, port, db, user, password. The error never quotes the URL. */
static int parse_url(struct pc_kv_redis *r, const char *url, char *err, size_t errlen)
{
	if (strncmp(url, "rediss://", 9) == 0) {
		snprintf(err, errlen, "kv: rediss:// (Redis over TLS) is not supported: this build "
		                      "has no TLS; use redis:// on a trusted network or a TLS tunnel");
		return -1;
	}
	const char *p = url + 8; /* "redis://" */
	const char *at = strrchr(p, '@');
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL) {
			snprintf(err, errlen, "kv: bad redis URL: user without password (" URL_FORM ")");
			return -1;
		}
		char tmp[1024];
		size_t ulen = (size_t)(colon - p), plen = (size_t)(at - colon - 1);
		if (ulen > 0) {
			long n = pct_decode(tmp, sizeof(tmp), p, ulen);
			if (n <= 0 || (r->user = strdup(tmp)) == NULL) {
				sodium_memzero(tmp, sizeof(tmp));
				snprintf(err, errlen, "kv: bad redis URL: bad user name (" URL_FORM ")");
				return -1;
			}
		}
		long n = pct_decode(tmp, sizeof(tmp), colon + 1, plen);
		if (n <= 0) {
			sodium_memzero(tmp, sizeof(tmp));
			snprintf(err, errlen, "kv: bad redis URL: empty or malformed password (" URL_FORM ")");
			return -1;
		}
		r->password = sodium_malloc((size_t)n + 1);
		if (r->password == NULL) {
			sodium_memzero(tmp, sizeof(tmp));
			snprintf(err, errlen, "kv: out of memory");
			return -1;
		}
		memcpy(r->password, tmp, (size_t)n + 1);
		r->password_len = (size_t)n;
		sodium_memzero(tmp, sizeof(tmp));
		sodium_mprotect_readonly(r->password);
		p = at + 1;
	}
	/* host */
	const char *h = p, *hend;
	if (*p == '[') {
		hend = strchr(p, ']');
		if (hend == NULL) {
			snprintf(err, errlen, "kv: bad redis URL: unclosed '[' (" URL_FORM ")");
			return -1;
		}
		h = p + 1;
		p = hend + 1;
		for (const char *c = h; c < hend; c++)
			if (!(hexval(*c) >= 0 || *c == ':' || *c == '.')) {
				snprintf(err, errlen, "kv: bad redis URL: bad IPv6 address");
				return -1;
			}
	} else {
		while (*p != '\0' && *p != ':' && *p != '/')
			p++;
		hend = p;
		for (const char *c = h; c < hend; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_')) {
				snprintf(err, errlen, "kv: bad redis URL: bad host name (" URL_FORM ")");
				return -1;
			}
	}
	size_t hlen = (size_t)(hend - h);
	if (hlen == 0 || hlen >= sizeof(r->host)) {
		snprintf(err, errlen, "kv: bad redis URL: no host (" URL_FORM ")");
		return -1;
	}
	memcpy(r->host, h, hlen);
	r->host[hlen] = '\0';
	/* port */
	r->port = 6379;
	if (*p == ':') {
		const char *q = ++p;
		while (*p != '\0' && *p != '/')
			p++;
		if (parse_num(q, (size_t)(p - q), 1, 65535, &r->port) != 0) {
			snprintf(err, errlen, "kv: bad redis URL: port must be 1-65535 (" URL_FORM ")");
			return -1;
		}
	}
	/* db */
	r->db = 0;
	if (*p == '/') {
		p++;
		size_t n = strlen(p);
		if (n > 0 && parse_num(p, n, 0, 65535, &r->db) != 0) {
			snprintf(err, errlen, "kv: bad redis URL: the path must be a database number, "
			                      "no options (" URL_FORM ")");
			return -1;
		}
		p += n;
	}
	if (*p != '\0') {
		snprintf(err, errlen, "kv: bad redis URL: unexpected text after the host (" URL_FORM ")");
		return -1;
	}
	snprintf(r->where, sizeof(r->where), strchr(r->host, ':') ? "[%s]:%d" : "%s:%d", r->host,
	         r->port);
	return 0;
}

/* ---- connections ------------------------------------------------------------ */

/* Error prefixes that mean "Redis is busy or starting", not "refused". */
static bool transient_error(const char *s)
{
	static const char *const t[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN"};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strncmp(s, t[i], strlen(t[i])) == 0)
			return true;
	return strncmp(s, "ERR max number of clients", 25) == 0;
}

/* One set-up command; 0, or -1 with err and *rejected. */
static int setup_step(struct pc_kv_redis *r, redisContext *c, int argc, const char **argv,
                      const size_t *lens, char *err, size_t errlen, bool *rejected)
{
	redisReply *rep = redisCommandArgv(c, argc, argv, lens);
	if (rep == NULL) {
		char why[128];
		copy_printable(why, sizeof(why), c->errstr, strnlen(c->errstr, sizeof(c->errstr)));
		snprintf(err, errlen, "kv: connection to redis at %.200s failed: %s", r->where, why);
		return -1;
	}
	int rc = 0;
	if (rep->type == REDIS_REPLY_ERROR) {
		char why[128];
		copy_printable(why, sizeof(why), rep->str, rep->len);
		/* argv[0] only: AUTH's arguments are the credentials */
		snprintf(err, errlen, "kv: redis at %.200s refused %s: %s", r->where, argv[0], why);
		*rejected = !transient_error(rep->str);
		rc = -1;
	}
	freeReplyObject(rep);
	return rc;
}

/*
 * A new connection, authenticated and on the right db; NULL on failure with
 * one line in err. *rejected: Redis answered but refused us (AUTH, SELECT,
 * or NOAUTH on the probe's PING) — a configuration error, not an outage.
 * Caller blocks SIGPIPE.
 */
static redisContext *connect_ctx(struct pc_kv_redis *r, bool probe, char *err, size_t errlen,
                                 bool *rejected)
{
	*rejected = false;
	const struct timeval tv = {PC_KV_REDIS_TIMEOUT_MS / 1000,
	                           (PC_KV_REDIS_TIMEOUT_MS % 1000) * 1000};
	redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
	if (c == NULL || c->err != 0) {
		char why[128] = "out of memory";
		if (c != NULL)
			copy_printable(why, sizeof(why), c->errstr, strnlen(c->errstr, sizeof(c->errstr)));
		snprintf(err, errlen, "kv: cannot connect to redis at %.200s: %s", r->where, why);
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
		snprintf(err, errlen, "kv: cannot set up the connection to redis at %.200s", r->where);
		redisFree(c);
		return NULL;
	}
	if (r->password != NULL) {
		const char *av[3];
		size_t al[3];
		int ac = 0;
		av[ac] = "AUTH";
		al[ac++] = 4;
		if (r->user != NULL) {
			av[ac] = r->user;
			al[ac++] = strlen(r->user);
		}
		av[ac] = r->password;
		al[ac++] = r->password_len;
		if (setup_step(r, c, ac, av, al, err, errlen, rejected) != 0)
			goto fail;
	}
	if (r->db != 0) {
		char db[16];
		int n = snprintf(db, sizeof(db), "%d", r->db);
		const char *av[2] = {"SELECT", db};
		size_t al[2] = {6, (size_t)n};
		if (setup_step(r, c, 2, av, al, err, errlen, rejected) != 0)
			goto fail;
	}
	if (probe) {
		const char *av[1] = {"PING"};
		size_t al[1] = {4};
		if (setup_step(r, c, 1, av, al, err, errlen, rejected) != 0)
			goto fail;
	}
	return c;
fail:
	redisFree(c);
	return NULL;
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
	r->holdoff_until_ms = mono_ms() + HOLDOFF_MS;
	pthread_cond_broadcast(&r->pool_cv);
}

/* A connection for one command: PC_OK, or PC_ERR_UNAVAILABLE at once while
 * held off, after a failed connect, or when none is free within the
 * timeout. Caller blocks SIGPIPE. */
static enum pc_err acquire(struct pc_kv_redis *r, redisContext **out)
{
	*out = NULL;
	struct timespec deadline = mono_deadline(PC_KV_REDIS_TIMEOUT_MS);
	pthread_mutex_lock(&r->mu);
	for (;;) {
		if (mono_ms() < r->holdoff_until_ms)
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
			redisContext *c = connect_ctx(r, false, err, sizeof(err), &rejected);
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
	if (transient_error(rep->str))
		return PC_ERR_UNAVAILABLE;
	if (strncmp(rep->str, "ERR", 3) == 0 || strncmp(rep->str, "WRONGTYPE", 9) == 0)
		return PC_ERR_INTERNAL;
	return PC_ERR_UNAVAILABLE;
}

/* Runs one command. PC_OK with *out (caller frees with freeReplyObject),
 * or an error and *out NULL. */
static enum pc_err exec_argv(struct pc_kv_redis *r, redisReply **out, int argc,
                             const char **argv, const size_t *lens)
{
	*out = NULL;
	struct sigpipe_guard g;
	sigpipe_block(&g);
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
	sigpipe_restore(&g);
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

/* Value and TTL read at one instant (a key cannot expire in between). */
static const char GET_LUA[] =
	"local v = redis.call('GET', KEYS[1])\n"
	"if not v then return false end\n"
	"return {v, redis.call('PTTL', KEYS[1])}\n";

enum pc_err pc_kv_redis_incr(struct pc_kv_redis *r, const char *key, int64_t ttl_seconds,
                             int64_t *value, int64_t *ttl_left)
{
	*value = 0;
	*ttl_left = 0;
	char k[NAME_MAX_LEN + 1], ttl[24];
	size_t kl = prefixed(k, key);
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

enum pc_err pc_kv_redis_get(struct pc_kv_redis *r, const char *key, int64_t *value,
                            int64_t *ttl_left)
{
	*value = 0;
	*ttl_left = 0;
	char k[NAME_MAX_LEN + 1];
	size_t kl = prefixed(k, key);
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
	           parse_i64(rep->element[0]->str, rep->element[0]->len, value) == 0) {
		*ttl_left = ttl_from_pttl(rep->element[1]->integer);
	} else {
		*value = 0;
		rc = PC_ERR_INTERNAL; /* not an integer: not written by us */
	}
	freeReplyObject(rep);
	return rc;
}

enum pc_err pc_kv_redis_set(struct pc_kv_redis *r, const char *key, int64_t value,
                            int64_t ttl_seconds)
{
	char k[NAME_MAX_LEN + 1], v[24], ttl[24];
	size_t kl = prefixed(k, key);
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

enum pc_err pc_kv_redis_del(struct pc_kv_redis *r, const char *key)
{
	char k[NAME_MAX_LEN + 1];
	size_t kl = prefixed(k, key);
	const char *av[2] = {"DEL", k};
	const size_t al[2] = {3, kl};
	redisReply *rep;
	enum pc_err rc = exec_argv(r, &rep, 2, av, al);
	if (rc == PC_OK)
		freeReplyObject(rep);
	return rc;
}

size_t pc_kv_redis_count(struct pc_kv_redis *r)
{
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

enum pc_err pc_kv_redis_ping(struct pc_kv_redis *r)
{
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

enum pc_err pc_kv_redis_publish(struct pc_kv_redis *r, const char *channel, const char *msg,
                                size_t len)
{
	char ch[NAME_MAX_LEN + 1];
	size_t cl = prefixed(ch, channel);
	const char *av[3] = {"PUBLISH", ch, msg};
	const size_t al[3] = {7, cl, len};
	redisReply *rep;
	enum pc_err rc = exec_argv(r, &rep, 3, av, al);
	if (rc == PC_OK)
		freeReplyObject(rep);
	return rc;
}

/* ---- subscriber thread ------------------------------------------------------ */

static bool stopping(struct pc_kv_redis *r)
{
	pthread_mutex_lock(&r->mu);
	bool s = r->stopping;
	pthread_mutex_unlock(&r->mu);
	return s;
}

static void set_live(struct pc_kv_redis *r, size_t n)
{
	pthread_mutex_lock(&r->mu);
	r->live_n = n;
	pthread_cond_broadcast(&r->live_cv);
	pthread_mutex_unlock(&r->mu);
}

static void wake(struct pc_kv_redis *r)
{
	char b = 1;
	/* the pipe is non-blocking: when full, the thread is woken anyway */
	if (write(r->wake[1], &b, 1) < 0)
		return;
}

static void drain(int fd)
{
	char buf[64];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Sleeps ms, or less when woken; true when the handle is closing. */
static bool sub_sleep(struct pc_kv_redis *r, int ms)
{
	struct pollfd p = {.fd = r->wake[0], .events = POLLIN};
	if (poll(&p, 1, ms) > 0)
		drain(r->wake[0]);
	return stopping(r);
}

/* Sleeps the backoff (+0-25 % jitter) and doubles it; true when closing. */
static bool sub_backoff(struct pc_kv_redis *r, int *backoff)
{
	int ms = *backoff + (int)randombytes_uniform((uint32_t)*backoff / 4 + 1);
	*backoff = *backoff * 2 > SUB_BACKOFF_MAX_MS ? SUB_BACKOFF_MAX_MS : *backoff * 2;
	return sub_sleep(r, ms);
}

static int flush_out(redisContext *c)
{
	int done = 0;
	while (!done)
		if (redisBufferWrite(c, &done) != REDIS_OK)
			return -1;
	return 0;
}

static bool str_is(const redisReply *e, const char *s)
{
	size_t n = strlen(s);
	return e->type == REDIS_REPLY_STRING && e->len == n && strncasecmp(e->str, s, n) == 0;
}

static void sub_log(struct pc_kv_redis *r, const char *level, const char *event, const char *msg)
{
	struct pc_logline l;
	pc_logline_begin(&l, level, event);
	pc_logline_str(&l, "redis", r->where);
	pc_logline_str(&l, "message", msg);
	pc_logline_emit(&l);
}

/* A push from Redis: a message is delivered, a subscribe confirmation is
 * counted; anything else (PONG) only proved the connection alive. */
static void sub_handle(struct pc_kv_redis *r, const redisReply *rep, size_t *confirmed)
{
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 || rep->element[0]->type != REDIS_REPLY_STRING)
		return;
	const redisReply *ch = rep->element[1];
	if (str_is(rep->element[0], "subscribe")) {
		(*confirmed)++;
	} else if (str_is(rep->element[0], "message") && ch->type == REDIS_REPLY_STRING &&
	           rep->element[2]->type == REDIS_REPLY_STRING && ch->len > PREFIX_LEN &&
	           memcmp(ch->str, PREFIX, PREFIX_LEN) == 0) {
		pc_kv_subs_deliver(r->subs, ch->str + PREFIX_LEN, ch->len - PREFIX_LEN,
		                   rep->element[2]->str, rep->element[2]->len);
	}
}

/*
 * One connection's life: subscribes every registered channel (new ones as
 * they come), delivers messages, PINGs after SUB_PING_MS of silence and
 * returns when the connection fails, does not answer in time, or close
 * begins. *down: subscriptions were lost before this connection (the
 * "messages may be lost" notice is due). Returns whether it became live.
 */
static bool sub_session(struct pc_kv_redis *r, redisContext *c, bool *down)
{
	size_t sent = 0, confirmed = 0, published = 0;
	bool was_live = false;
	int64_t last_rx = mono_ms(), ping_sent = -1;
	atomic_store(&r->sub_fd, c->fd);
	for (;;) {
		if (stopping(r))
			return was_live;
		size_t n = pc_kv_subs_count(r->subs);
		if (sent < n) {
			for (; sent < n; sent++) {
				char ch[NAME_MAX_LEN + 1];
				const char *av[2] = {"SUBSCRIBE", ch};
				const size_t al[2] = {9, prefixed(ch, r->subs->e[sent].channel)};
				if (redisAppendCommandArgv(c, 2, av, al) != REDIS_OK)
					return was_live;
			}
			if (flush_out(c) != 0)
				return was_live;
		}
		if (confirmed == sent && (published != sent || !was_live)) {
			if (*down) {
				/* before healthy turns true: callers drop their caches */
				pc_kv_subs_deliver(r->subs, NULL, 0, NULL, 0);
				sub_log(r, "info", "kv_subscription_restored", "subscriptions are live again");
				*down = false;
			}
			set_live(r, sent);
			published = sent;
			was_live = true;
		}
		int64_t now = mono_ms();
		int64_t timeout;
		if (ping_sent >= 0) {
			if (now - ping_sent >= SUB_PING_MS)
				return was_live; /* no answer: the connection is dead */
			timeout = SUB_PING_MS - (now - ping_sent);
		} else if (now - last_rx >= SUB_PING_MS) {
			const char *av[1] = {"PING"};
			const size_t al[1] = {4};
			if (redisAppendCommandArgv(c, 1, av, al) != REDIS_OK || flush_out(c) != 0)
				return was_live;
			ping_sent = now;
			timeout = SUB_PING_MS;
		} else {
			timeout = SUB_PING_MS - (now - last_rx);
		}
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = r->wake[0], .events = POLLIN}};
		int k = poll(p, 2, (int)timeout);
		if (k < 0 && errno != EINTR)
			return was_live;
		if (k <= 0)
			continue;
		if (p[1].revents != 0)
			drain(r->wake[0]);
		if (p[0].revents == 0)
			continue;
		atomic_fetch_add(&r->rx_gen, 1); /* odd: delivering */
		bool ok = redisBufferRead(c) == REDIS_OK;
		last_rx = mono_ms();
		ping_sent = -1;
		while (ok) {
			void *rep = NULL;
			if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
				ok = false;
			if (rep == NULL)
				break;
			sub_handle(r, rep, &confirmed);
			freeReplyObject(rep);
		}
		atomic_fetch_add(&r->rx_gen, 1); /* even: delivered */
		if (!ok)
			return was_live;
	}
}

static void *sub_main(void *arg)
{
	struct pc_kv_redis *r = arg;
	int backoff = SUB_BACKOFF_MIN_MS;
	bool down = false;
	char last_err[512] = "";
	while (!stopping(r)) {
		char err[512];
		bool rejected;
		redisContext *c = connect_ctx(r, false, err, sizeof(err), &rejected);
		if (c == NULL) {
			/* once per outage and reason, not once per attempt */
			if (strcmp(err, last_err) != 0)
				sub_log(r, "warn", "kv_subscription_down", err);
			memcpy(last_err, err, sizeof(err));
			down = true;
			if (sub_backoff(r, &backoff))
				break;
			continue;
		}
		last_err[0] = '\0';
		bool was_live = sub_session(r, c, &down);
		set_live(r, 0); /* unhealthy from this moment */
		atomic_store(&r->sub_fd, -1);
		redisFree(c);
		if (stopping(r))
			break;
		if (!down) {
			sub_log(r, "warn", "kv_subscription_lost",
			        "subscriber connection lost; cached entries are not trusted until it is back");
			down = true;
		}
		/* after a live session, reconnect at once (a restart is quick); a
		 * connection that never got live waits like a failed connect */
		if (was_live) {
			backoff = SUB_BACKOFF_MIN_MS;
		} else if (sub_backoff(r, &backoff)) {
			break;
		}
	}
	return NULL;
}

int pc_kv_redis_sub_start(struct pc_kv_redis *r)
{
	int rc = 0;
	pthread_mutex_lock(&r->mu);
	if (!r->sub_started) {
		/* the thread takes no signal: the process's handlers stay where
		 * they are, and a SIGPIPE from its socket is never delivered */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&r->sub_thread, NULL, sub_main, r) == 0 ? 0 : -1;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		r->sub_started = rc == 0;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void pc_kv_redis_sub_wait(struct pc_kv_redis *r, size_t index)
{
	wake(r);
	struct timespec deadline = mono_deadline(2 * PC_KV_REDIS_TIMEOUT_MS);
	pthread_mutex_lock(&r->mu);
	while (r->live_n <= index)
		if (pthread_cond_timedwait(&r->live_cv, &r->mu, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&r->mu);
}

/*
 * Live, and nothing published is waiting to be delivered: no unread bytes on
 * the subscriber's socket and no delivery under way (rx_gen even and
 * unchanged around the look). Redis queues a message for its subscribers
 * before its answer to the publisher and sends both in the same pass, so
 * once an instance has answered a logout, every other instance has dropped
 * the entry or finds the message waiting here and bypasses its cache: the
 * next request, on any instance, is refused. One poll(2), no round trip.
 */
bool pc_kv_redis_sub_healthy(struct pc_kv_redis *r)
{
	size_t n = pc_kv_subs_count(r->subs);
	pthread_mutex_lock(&r->mu);
	bool h = r->live_n >= n;
	pthread_mutex_unlock(&r->mu);
	if (!h || n == 0)
		return h;
	unsigned g1 = atomic_load(&r->rx_gen);
	int fd = atomic_load(&r->sub_fd);
	if ((g1 & 1) != 0 || fd < 0)
		return false;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 0) != 0)
		return false; /* something to read (or an error): not now */
	return atomic_load(&r->rx_gen) == g1;
}

/* ---- open / close ----------------------------------------------------------- */

int pc_kv_redis_open(struct pc_kv_redis **out, const char *url, struct pc_kv_subs *subs,
                     char *err, size_t errlen)
{
	*out = NULL;
	struct pc_kv_redis *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "kv: out of memory");
		return -1;
	}
	r->subs = subs;
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
	if (parse_url(r, url, err, errlen) != 0) {
		pc_kv_redis_close(r);
		return -1;
	}
	/* One connection now: a wrong password or db is a configuration error
	 * to report at start; an unreachable Redis is an outage to ride out. */
	struct sigpipe_guard g;
	sigpipe_block(&g);
	bool rejected;
	char why[512];
	redisContext *c = connect_ctx(r, true, why, sizeof(why), &rejected);
	sigpipe_restore(&g);
	if (c == NULL && rejected) {
		snprintf(err, errlen, "%s", why);
		pc_kv_redis_close(r);
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
	*out = r;
	return 0;
}

void pc_kv_redis_close(struct pc_kv_redis *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	bool started = r->sub_started;
	pthread_mutex_unlock(&r->mu);
	if (started) {
		wake(r);
		pthread_join(r->sub_thread, NULL);
	}
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
	free(r);
}
