/*
 * redis.h — inside the Redis backend only (redis.c, redis_sub.c,
 * redis_conn.c): the backend's handle and what its three files share.
 *
 *   redis_conn.c  the URL, one authenticated connection, clocks, SIGPIPE
 *   redis_sub.c   the subscriber thread (pub/sub)         -> redis_conn.c
 *   redis.c       the pool, the commands, open and close  -> both
 */
#ifndef PC_KV_REDIS_H
#define PC_KV_REDIS_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "core/err.h"
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

struct pc_kv_redis {
	struct pc_kv kv; /* first: the handle kv.c sees (its subs are ours to deliver to) */

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

/* ---- redis_conn.c ----------------------------------------------------------- */

int64_t pc_kv_redis_mono_ms(void);
/* CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait. */
struct timespec pc_kv_redis_mono_deadline(int64_t ms_from_now);

/* SIGPIPE blocked around hiredis's write(2), and one we caused consumed. */
struct sigpipe_guard {
	sigset_t old;
	bool was_pending;
};
void pc_kv_redis_sigpipe_block(struct sigpipe_guard *g);
void pc_kv_redis_sigpipe_restore(struct sigpipe_guard *g);

/* "portcullis:" + name into out[NAME_MAX_LEN + 1]; returns the length. */
size_t pc_kv_redis_prefixed(char *out, const char *name);

/* Whether an error reply means "Redis is busy or starting", not "refused". */
bool pc_kv_redis_transient_error(const char *s);

/* Fills host, port, db, user, password from url. 0, or -1 with err, which
 * never quotes the URL. */
PC_MUST_USE int pc_kv_redis_parse_url(struct pc_kv_redis *r, const char *url, char *err, size_t errlen);

/*
 * A new connection, authenticated and on the right db; NULL on failure with
 * one line in err. *rejected: Redis answered but refused us (AUTH, SELECT,
 * or NOAUTH on the probe's PING) — a configuration error, not an outage.
 * Caller blocks SIGPIPE.
 */
redisContext *pc_kv_redis_connect(struct pc_kv_redis *r, bool probe, char *err, size_t errlen,
                                  bool *rejected);

/* ---- redis_sub.c ------------------------------------------------------------ */

/* Starts the subscriber thread if it is not running: 0 or -1. */
PC_MUST_USE int pc_kv_redis_sub_start(struct pc_kv *kv);
/* Tells the thread that subscription index was registered and waits (about
 * a second at most) until it is live. */
void pc_kv_redis_sub_wait(struct pc_kv *kv, size_t index);
PC_MUST_USE bool pc_kv_redis_sub_healthy(struct pc_kv *kv, int settle_us);
/* Stops the subscriber thread (if started) and waits for it. */
void pc_kv_redis_sub_stop(struct pc_kv_redis *r);

#endif
