/*
 * kv.h — TTL keys and counters: rate limits now, revocations and Redis later.
 *
 * The local implementation (local.c) is an in-process hash table guarded by
 * a mutex, safe to call from loop threads (it never blocks on I/O) and from
 * the worker pool. Expired keys are invisible at once and purged lazily and
 * by pc_kv_sweep(). Keys are at most PC_KV_KEY_MAX bytes of printable ASCII.
 *
 * A Redis implementation will sit behind the same functions (then they block
 * on the network and are called from the worker pool, and can return
 * PC_ERR_UNAVAILABLE).
 */
#ifndef PC_KV_KV_H
#define PC_KV_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PC_KV_KEY_MAX 200

struct pc_kv;

/* url NULL or "" (or "local:"): the in-process table. Returns 0 or -1 + err. */
int pc_kv_open(struct pc_kv **out, const char *url, char *err, size_t errlen);
void pc_kv_close(struct pc_kv *kv);

/* Clock injection for tests: the kv uses now() in seconds; NULL restores
 * time(NULL). */
void pc_kv_set_clock(struct pc_kv *kv, int64_t (*now)(void));

/*
 * Fixed-window counter: adds 1 to key, creating it with value 1 and the
 * given TTL when absent or expired (the TTL is NOT extended by later
 * increments). *value: the new value; *ttl_left: seconds until it expires
 * (>= 1). PC_ERR_INTERNAL for a bad key or out of memory.
 */
enum pc_err pc_kv_incr(struct pc_kv *kv, const char *key, int64_t ttl_seconds,
                       int64_t *value, int64_t *ttl_left);
/* Reads a live key; PC_ERR_NOT_FOUND when absent or expired. */
enum pc_err pc_kv_get(struct pc_kv *kv, const char *key, int64_t *value, int64_t *ttl_left);
/* Sets key = value with a TTL (replacing any old value and TTL). */
enum pc_err pc_kv_set(struct pc_kv *kv, const char *key, int64_t value, int64_t ttl_seconds);
/* Deletes; PC_OK whether or not it existed. */
enum pc_err pc_kv_del(struct pc_kv *kv, const char *key);
/* Drops every expired key; returns how many. */
size_t pc_kv_sweep(struct pc_kv *kv);
/* Live keys now (for metrics and tests). */
size_t pc_kv_count(struct pc_kv *kv);

#endif
