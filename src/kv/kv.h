/*
 * kv.h — TTL keys and counters: rate limits now, revocations and Redis later.
 *
 * The local implementation (local.c) is an in-process hash table guarded by
 * a mutex, safe to call from loop threads (it never blocks on I/O) and from
 * the worker pool. Expired keys are invisible at once and purged lazily and
 * by pc_kv_sweep(). Keys are at most PC_KV_KEY_MAX bytes of printable ASCII.
 *
 * The Redis implementation (redis.c) sits behind the same functions: then
 * they block on the network (bounded by PC_KV_REDIS_TIMEOUT_MS per connect
 * and per read/write) and must be called from the worker pool, never from a
 * loop thread (ask pc_kv_is_local()), and any of them can return
 * PC_ERR_UNAVAILABLE. Semantics are the same as local's: keys are stored
 * under the "portcullis:" prefix, TTLs are kept by Redis (sweep returns 0)
 * and the clock is Redis's (pc_kv_set_clock is a no-op).
 */
#ifndef PC_KV_KV_H
#define PC_KV_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PC_KV_KEY_MAX 200
/* A pub/sub message (an invalidation names one subject: small). */
#define PC_KV_MSG_MAX 4096
/* Subscriptions per kv handle (one per cache that listens). */
#define PC_KV_SUBSCRIPTIONS_MAX 32
/* Redis: connect timeout, and the bound on each socket read/write. */
#define PC_KV_REDIS_TIMEOUT_MS 500

struct pc_kv;

/*
 * url NULL or "" (or "local:"): the in-process table.
 * "redis://[[user]:password@]host[:port][/db]": Redis (port 6379, db 0 by
 * default; user and password may be %-encoded). "rediss://" is refused: this
 * build has no TLS. Opening a Redis kv tries one connection: a Redis that
 * answers but rejects the password or the db fails the open; an unreachable
 * one does not (the kv reconnects by itself; pc_kv_ping tells readiness).
 * Returns 0, or -1 with one line in err that never holds the password.
 * pc_kv_close(NULL) is a no-op; no call may be in flight on kv.
 */
PC_MUST_USE int pc_kv_open(struct pc_kv **out, const char *url, char *err, size_t errlen);
void pc_kv_close(struct pc_kv *kv);

/* true: the in-process table, whose calls never block (loop threads may call
 * them). false: a remote kv, whose calls block on the network — callers on a
 * loop thread must defer them to the worker pool. */
bool pc_kv_is_local(const struct pc_kv *kv);

/* Readiness: PC_OK when the backend answers now (always for local),
 * PC_ERR_UNAVAILABLE otherwise. */
PC_MUST_USE enum pc_err pc_kv_ping(struct pc_kv *kv);

/* Clock injection for tests: the kv uses now() in seconds; NULL restores
 * time(NULL). */
void pc_kv_set_clock(struct pc_kv *kv, int64_t (*now)(void));

/*
 * Fixed-window counter: adds 1 to key, creating it with value 1 and the
 * given TTL when absent or expired (the TTL is NOT extended by later
 * increments). *value: the new value; *ttl_left: seconds until it expires
 * (>= 1). PC_ERR_INTERNAL for a bad key or out of memory.
 */
PC_MUST_USE enum pc_err pc_kv_incr(struct pc_kv *kv, const char *key, int64_t ttl_seconds,
                                   int64_t *value, int64_t *ttl_left);
/* Gives one back: subtracts 1 from a live key, keeping its TTL, never below
 * 0; an absent or expired key stays absent (PC_OK). One atomic step, like
 * incr: a reservation taken with incr is released with decr. */
PC_MUST_USE enum pc_err pc_kv_decr(struct pc_kv *kv, const char *key);
/* Reads a live key; PC_ERR_NOT_FOUND when absent or expired. */
PC_MUST_USE enum pc_err pc_kv_get(struct pc_kv *kv, const char *key, int64_t *value, int64_t *ttl_left);
/* Sets key = value with a TTL (replacing any old value and TTL). */
PC_MUST_USE enum pc_err pc_kv_set(struct pc_kv *kv, const char *key, int64_t value, int64_t ttl_seconds);
/* Deletes; PC_OK whether or not it existed. */
PC_MUST_USE enum pc_err pc_kv_del(struct pc_kv *kv, const char *key);
/* Drops every expired key; returns how many. */
size_t pc_kv_sweep(struct pc_kv *kv);
/* Live keys now (for metrics and tests). Redis: the keys under our prefix,
 * counted with SCAN — it walks the whole database, so it is O(keys) and
 * approximate while keys change; 0 when Redis is unreachable. */
size_t pc_kv_count(struct pc_kv *kv);

/*
 * Pub/sub, for cache invalidation between instances.
 *
 * pc_kv_subscribe registers cb for channel (the same rules as keys) until
 * pc_kv_close; returns 0, or -1 for a bad channel, more than
 * PC_KV_SUBSCRIPTIONS_MAX subscriptions or no memory. cb(msg, len, ctx)
 * gets each message published on the channel afterwards, the publisher's own
 * included; msg is len bytes, not NUL-terminated, valid only during the call.
 *   local: pc_kv_publish calls the subscribers at once, on its own thread.
 *   Redis: a subscriber thread with its own connection calls them, one
 *   message at a time, so cb must be thread-safe and quick. pc_kv_subscribe
 *   waits (at most about a second) for the subscription to be live in Redis,
 *   and returns 0 even when Redis is down: the thread keeps trying.
 * WARNING: after the Redis subscription was lost and is live again, every cb
 * is called once with msg == NULL, len == 0: messages may have been missed,
 * drop everything cached — before pc_kv_subscription_healthy turns true.
 * WARNING: a cb must not call pc_kv_subscribe or pc_kv_close (the Redis
 * subscriber thread would wait on itself).
 *
 * pc_kv_publish: returns once Redis has written the message to every
 * subscriber's connection (PUBLISH, then a PING: two round trips).
 * PC_OK, PC_ERR_UNAVAILABLE (Redis unreachable),
 * PC_ERR_INTERNAL (bad channel, len > PC_KV_MSG_MAX).
 *
 * pc_kv_subscription_healthy: false from the moment the subscriber
 * connection is found dead (at once when Redis closes it, within about two
 * seconds when the network goes silent) until every subscription is live
 * again; a caller must not trust what it cached while it is false. Always
 * true for local, and for Redis while there is no subscription. Never
 * blocks (loop threads may call it); pc_kv_subscribe and pc_kv_publish do.
 */
PC_MUST_USE int pc_kv_subscribe(struct pc_kv *kv, const char *channel,
                                void (*cb)(const char *msg, size_t len, void *ctx), void *ctx);
PC_MUST_USE enum pc_err pc_kv_publish(struct pc_kv *kv, const char *channel, const char *msg, size_t len);
PC_MUST_USE bool pc_kv_subscription_healthy(struct pc_kv *kv);
/*
 * pc_kv_subscription_settled: pc_kv_subscription_healthy for a caller that
 * must answer rather than bypass a cache: when the subscription is live and
 * the only doubt is a delivery under way or bytes waiting unread (a message,
 * or just the PONG of the subscriber's keepalive), it sleeps in 20 us steps,
 * at most max_us, until they are delivered. Down: false at once.
 */
PC_MUST_USE bool pc_kv_subscription_settled(struct pc_kv *kv, int max_us);

#endif
