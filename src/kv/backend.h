/*
 * backend.h — inside src/kv/ only: what local.c (the kv handle, the
 * dispatch and the in-process table) and redis.c (the Redis backend) share.
 *
 * The public functions in local.c check keys, channels and message sizes
 * and clamp TTLs once, for both backends, then either run on the local table
 * or forward to pc_kv_redis_*: a Redis backend therefore sees only valid
 * keys (printable ASCII, 1..PC_KV_KEY_MAX bytes) and TTLs in
 * 1..PC_KV_TTL_MAX seconds.
 *
 * Subscriptions live in the handle (struct pc_kv_subs) for both backends:
 * an append-only array, never shrunk nor moved until the handle is closed, so
 * a reader that has read n under the lock may use entries [0, n) without it.
 */
#ifndef PC_KV_BACKEND_H
#define PC_KV_BACKEND_H

#include <pthread.h>

#include "kv/kv.h"

/* At most ten years, so now + ttl cannot overflow. */
#define PC_KV_TTL_MAX 315360000

struct pc_kv_sub {
	char channel[PC_KV_KEY_MAX + 1];
	size_t channel_len;
	void (*cb)(const char *msg, size_t len, void *ctx);
	void *ctx;
};

struct pc_kv_subs {
	pthread_mutex_t mu;
	size_t n;
	struct pc_kv_sub e[PC_KV_SUBSCRIPTIONS_MAX];
};

/* How many subscriptions are registered now (entries [0, n) are stable). */
size_t pc_kv_subs_count(struct pc_kv_subs *s);
/* Calls every subscriber of channel[0..channel_len) with msg; channel NULL:
 * every subscriber (the "messages may be lost" notice, msg NULL, len 0).
 * Holds no lock while a callback runs. */
void pc_kv_subs_deliver(struct pc_kv_subs *s, const char *channel, size_t channel_len,
                        const char *msg, size_t len);

struct pc_kv_redis;

/* url starts with "redis://" or "rediss://". subs: the handle's
 * subscriptions, which must outlive the backend. 0, or -1 + err (never the
 * password). */
int pc_kv_redis_open(struct pc_kv_redis **out, const char *url, struct pc_kv_subs *subs,
                     char *err, size_t errlen);
/* Stops the subscriber thread, closes every connection, wipes the password. */
void pc_kv_redis_close(struct pc_kv_redis *r);

enum pc_err pc_kv_redis_incr(struct pc_kv_redis *r, const char *key, int64_t ttl_seconds,
                             int64_t *value, int64_t *ttl_left);
enum pc_err pc_kv_redis_get(struct pc_kv_redis *r, const char *key, int64_t *value,
                            int64_t *ttl_left);
enum pc_err pc_kv_redis_set(struct pc_kv_redis *r, const char *key, int64_t value,
                            int64_t ttl_seconds);
enum pc_err pc_kv_redis_del(struct pc_kv_redis *r, const char *key);
size_t pc_kv_redis_count(struct pc_kv_redis *r);
enum pc_err pc_kv_redis_ping(struct pc_kv_redis *r);
enum pc_err pc_kv_redis_publish(struct pc_kv_redis *r, const char *channel, const char *msg,
                                size_t len);
/* Starts the subscriber thread if it is not running: 0 or -1. */
int pc_kv_redis_sub_start(struct pc_kv_redis *r);
/* Tells the thread that subscription index was registered and waits (about
 * a second at most) until it is live. */
void pc_kv_redis_sub_wait(struct pc_kv_redis *r, size_t index);
bool pc_kv_redis_sub_healthy(struct pc_kv_redis *r);

#endif
