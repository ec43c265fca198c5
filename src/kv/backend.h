/*
 * backend.h — inside src/kv/ only: what a kv backend provides, and the
 * handle every backend embeds (the shape of src/store/backend.h).
 *
 * kv.c owns the public functions of kv.h: it checks keys, channels and
 * message sizes and clamps TTLs once, for every backend, then calls the
 * backend through its ops table. A backend therefore sees only valid keys
 * (printable ASCII, 1..PC_KV_KEY_MAX bytes, NUL-terminated, key_len their
 * length) and TTLs in 1..PC_KV_TTL_MAX seconds.
 *
 * A backend allocates its own handle with malloc/calloc, struct pc_kv as
 * its FIRST member with `ops` set; kv.c initialises `subs` after the open
 * and, after ops->close, releases `subs` and frees the handle with free().
 *
 * Dependencies: kv.c -> local.c, redis.c (their open functions only);
 * redis.c -> redis_sub.c -> redis_conn.c. No backend calls kv.c: the
 * registry's read side below is inline for that reason.
 *
 * Subscriptions live in the handle (struct pc_kv_subs) for every backend:
 * an append-only array, never shrunk nor moved until the handle is closed,
 * so a reader that has read n under the lock may use entries [0, n) without
 * it. kv.c appends (pc_kv_subscribe); backends read and deliver.
 */
#ifndef PC_KV_BACKEND_H
#define PC_KV_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "core/err.h"
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

struct pc_kv_ops {
	/* Calls never block on I/O (loop threads may make them): pc_kv_is_local. */
	bool local;
	/* Stops every thread that could deliver to kv->subs, releases what the
	 * backend holds; does not free kv itself (kv.c does). */
	void (*close)(struct pc_kv *kv);
	enum pc_err (*incr)(struct pc_kv *kv, const char *key, size_t key_len, int64_t ttl_seconds,
	                    int64_t *value, int64_t *ttl_left);
	enum pc_err (*decr)(struct pc_kv *kv, const char *key, size_t key_len);
	enum pc_err (*get)(struct pc_kv *kv, const char *key, size_t key_len, int64_t *value,
	                   int64_t *ttl_left);
	enum pc_err (*set)(struct pc_kv *kv, const char *key, size_t key_len, int64_t value,
	                   int64_t ttl_seconds);
	enum pc_err (*del)(struct pc_kv *kv, const char *key, size_t key_len);
	size_t (*sweep)(struct pc_kv *kv);
	size_t (*count)(struct pc_kv *kv);
	enum pc_err (*ping)(struct pc_kv *kv);
	/* NULL: the backend's clock is not ours (pc_kv_set_clock is a no-op). */
	void (*set_clock)(struct pc_kv *kv, int64_t (*now)(void));
	/* msg is never NULL (kv.c passes "" for an empty message). */
	enum pc_err (*publish)(struct pc_kv *kv, const char *channel, size_t channel_len,
	                       const char *msg, size_t len);
	/* Before a subscription is registered: start whatever will deliver it;
	 * 0 or -1. NULL: nothing to start (publish delivers). */
	int (*sub_start)(struct pc_kv *kv);
	/* After subscription `index` was registered: wait (briefly) until it is
	 * live. NULL: live at once. */
	void (*sub_wait)(struct pc_kv *kv, size_t index);
	/* NULL: always healthy. settle_us: see pc_kv_subscription_settled. */
	bool (*sub_healthy)(struct pc_kv *kv, int settle_us);
};

struct pc_kv {
	const struct pc_kv_ops *ops;
	struct pc_kv_subs subs;
};

/* The in-process table (local.c). 0, or -1 with err. */
PC_MUST_USE int pc_kv_local_open(struct pc_kv **out, char *err, size_t errlen);

/* Redis (redis.c): url starts with "redis://" or "rediss://" (refused).
 * 0, or -1 with err (never the password). */
PC_MUST_USE int pc_kv_redis_open(struct pc_kv **out, const char *url, char *err, size_t errlen);

/* ---- the registry's read side ------------------------------------------- */

/* How many subscriptions are registered now (entries [0, n) are stable). */
static inline size_t pc_kv_subs_count(struct pc_kv_subs *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Calls every subscriber of channel[0..channel_len) with msg; channel NULL:
 * every subscriber (the "messages may be lost" notice, msg NULL, len 0).
 * Holds no lock while a callback runs. */
static inline void pc_kv_subs_deliver(struct pc_kv_subs *s, const char *channel,
                                      size_t channel_len, const char *msg, size_t len)
{
	size_t n = pc_kv_subs_count(s);
	for (size_t i = 0; i < n; i++) {
		const struct pc_kv_sub *e = &s->e[i];
		if (channel == NULL ||
		    (e->channel_len == channel_len && memcmp(e->channel, channel, channel_len) == 0))
			e->cb(msg, len, e->ctx);
	}
}

#endif
