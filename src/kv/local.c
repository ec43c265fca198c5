/*
 * local.c — the in-process kv: a chained hash table under one mutex.
 *
 * Operations are O(1) and never block on I/O, so loop threads may call them.
 * Buckets are chosen with keyed SipHash (crypto_shorthash, a fresh key per
 * process) so a client cannot choose keys — emails, addresses — that all
 * land in one bucket. The table holds at most PC_KV_LOCAL_MAX_KEYS live keys;
 * when full, it sweeps expired keys, and if still full refuses new keys
 * (PC_ERR_UNAVAILABLE) rather than growing without bound under a flood of
 * distinct subjects.
 *
 * This file also owns the handle and the dispatch: every public function
 * checks its arguments once, for both backends, then runs on the table or
 * forwards to redis.c (kv->redis != NULL; the table is then unused). Local
 * pub/sub calls the subscribers at once on the publisher's thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "kv/backend.h"
#include "kv/kv.h"

#define PC_KV_LOCAL_MAX_KEYS (1u << 20)
#define PC_KV_LOCAL_MIN_BUCKETS 1024u

struct kv_entry {
	struct kv_entry *next;
	int64_t value;
	int64_t expires_at; /* seconds */
	size_t key_len;
	char key[];
};

struct pc_kv {
	struct pc_kv_redis *redis; /* NULL: the local table below */
	struct pc_kv_subs subs;
	pthread_mutex_t mu;
	struct kv_entry **buckets;
	size_t n_buckets; /* power of two */
	size_t n_keys;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	int64_t (*now)(void);
};

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

static bool key_valid(const char *key, size_t *len)
{
	if (key == NULL)
		return false;
	size_t n = strnlen(key, PC_KV_KEY_MAX + 1);
	if (n == 0 || n > PC_KV_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return false;
	*len = n;
	return true;
}

static size_t bucket_of(const struct pc_kv *kv, const char *key, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, (const unsigned char *)key, len, kv->hash_key);
	uint64_t v;
	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (kv->n_buckets - 1));
}

static bool msg_valid(const char *msg, size_t len)
{
	return len <= PC_KV_MSG_MAX && (msg != NULL || len == 0);
}

static int64_t ttl_clamp(int64_t ttl)
{
	if (ttl < 1)
		return 1;
	if (ttl > PC_KV_TTL_MAX)
		return PC_KV_TTL_MAX;
	return ttl;
}

int pc_kv_open(struct pc_kv **out, const char *url, char *err, size_t errlen)
{
	*out = NULL;
	bool redis = url != NULL && (strncmp(url, "redis://", 8) == 0 || strncmp(url, "rediss://", 9) == 0);
	if (!redis && url != NULL && url[0] != '\0' && strcmp(url, "local:") != 0) {
		snprintf(err, errlen, "kv: unsupported URL scheme (expected local: or redis://)");
		return -1;
	}
	struct pc_kv *kv = calloc(1, sizeof(*kv));
	if (kv == NULL) {
		snprintf(err, errlen, "kv: out of memory");
		return -1;
	}
	if (pthread_mutex_init(&kv->mu, NULL) != 0) {
		free(kv);
		snprintf(err, errlen, "kv: out of memory");
		return -1;
	}
	if (pthread_mutex_init(&kv->subs.mu, NULL) != 0) {
		pthread_mutex_destroy(&kv->mu);
		free(kv);
		snprintf(err, errlen, "kv: out of memory");
		return -1;
	}
	kv->now = wall_now;
	if (redis) {
		if (pc_kv_redis_open(&kv->redis, url, &kv->subs, err, errlen) != 0) {
			pc_kv_close(kv);
			return -1;
		}
		*out = kv;
		return 0;
	}
	kv->n_buckets = PC_KV_LOCAL_MIN_BUCKETS;
	kv->buckets = calloc(kv->n_buckets, sizeof(*kv->buckets));
	if (kv->buckets == NULL) {
		pc_kv_close(kv);
		snprintf(err, errlen, "kv: out of memory");
		return -1;
	}
	crypto_shorthash_keygen(kv->hash_key);
	*out = kv;
	return 0;
}

void pc_kv_close(struct pc_kv *kv)
{
	if (kv == NULL)
		return;
	pc_kv_redis_close(kv->redis);
	for (size_t i = 0; i < kv->n_buckets; i++) {
		struct kv_entry *e = kv->buckets[i];
		while (e != NULL) {
			struct kv_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(kv->buckets);
	pthread_mutex_destroy(&kv->subs.mu);
	pthread_mutex_destroy(&kv->mu);
	sodium_memzero(kv->hash_key, sizeof(kv->hash_key));
	free(kv);
}

bool pc_kv_is_local(const struct pc_kv *kv)
{
	return kv->redis == NULL;
}

void pc_kv_set_clock(struct pc_kv *kv, int64_t (*now)(void))
{
	pthread_mutex_lock(&kv->mu);
	kv->now = now != NULL ? now : wall_now;
	pthread_mutex_unlock(&kv->mu);
}

/* Finds a key; an expired entry found on the way is unlinked and freed.
 * Returns the link that points at the live entry, or NULL. Caller locks. */
static struct kv_entry **find(struct pc_kv *kv, const char *key, size_t len, int64_t now)
{
	struct kv_entry **link = &kv->buckets[bucket_of(kv, key, len)];
	while (*link != NULL) {
		struct kv_entry *e = *link;
		if (e->expires_at <= now) {
			*link = e->next;
			free(e);
			kv->n_keys--;
			continue;
		}
		if (e->key_len == len && memcmp(e->key, key, len) == 0)
			return link;
		link = &e->next;
	}
	return NULL;
}

static size_t sweep_locked(struct pc_kv *kv, int64_t now)
{
	size_t dropped = 0;
	for (size_t i = 0; i < kv->n_buckets; i++) {
		struct kv_entry **link = &kv->buckets[i];
		while (*link != NULL) {
			struct kv_entry *e = *link;
			if (e->expires_at <= now) {
				*link = e->next;
				free(e);
				kv->n_keys--;
				dropped++;
			} else {
				link = &e->next;
			}
		}
	}
	return dropped;
}

/* Doubles the bucket array when the load passes 1; failure just keeps the
 * longer chains. Caller locks. */
static void maybe_grow(struct pc_kv *kv)
{
	if (kv->n_keys < kv->n_buckets)
		return;
	size_t n = kv->n_buckets * 2;
	struct kv_entry **b = calloc(n, sizeof(*b));
	if (b == NULL)
		return;
	struct kv_entry **old = kv->buckets;
	size_t old_n = kv->n_buckets;
	kv->buckets = b;
	kv->n_buckets = n;
	for (size_t i = 0; i < old_n; i++) {
		struct kv_entry *e = old[i];
		while (e != NULL) {
			struct kv_entry *next = e->next;
			size_t j = bucket_of(kv, e->key, e->key_len);
			e->next = b[j];
			b[j] = e;
			e = next;
		}
	}
	free(old);
}

/* A new entry at the head of its bucket. Caller locks. */
static struct kv_entry *insert(struct pc_kv *kv, const char *key, size_t len, int64_t now)
{
	if (kv->n_keys >= PC_KV_LOCAL_MAX_KEYS && sweep_locked(kv, now) == 0)
		return NULL;
	struct kv_entry *e = malloc(sizeof(*e) + len + 1);
	if (e == NULL)
		return NULL;
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->key_len = len;
	size_t j = bucket_of(kv, key, len);
	e->next = kv->buckets[j];
	kv->buckets[j] = e;
	kv->n_keys++;
	maybe_grow(kv);
	return e;
}

enum pc_err pc_kv_incr(struct pc_kv *kv, const char *key, int64_t ttl_seconds,
                       int64_t *value, int64_t *ttl_left)
{
	size_t len;
	if (!key_valid(key, &len))
		return PC_ERR_INTERNAL;
	if (kv->redis != NULL)
		return pc_kv_redis_incr(kv->redis, key, ttl_clamp(ttl_seconds), value, ttl_left);
	enum pc_err rc = PC_OK;
	pthread_mutex_lock(&kv->mu);
	int64_t now = kv->now();
	struct kv_entry **link = find(kv, key, len, now);
	struct kv_entry *e = link != NULL ? *link : NULL;
	if (e == NULL) {
		e = insert(kv, key, len, now);
		if (e == NULL) {
			rc = PC_ERR_UNAVAILABLE;
			goto out;
		}
		e->value = 0;
		e->expires_at = now + ttl_clamp(ttl_seconds);
	}
	if (e->value < INT64_MAX)
		e->value++;
	*value = e->value;
	*ttl_left = e->expires_at - now;
out:
	pthread_mutex_unlock(&kv->mu);
	return rc;
}

enum pc_err pc_kv_get(struct pc_kv *kv, const char *key, int64_t *value, int64_t *ttl_left)
{
	size_t len;
	if (!key_valid(key, &len))
		return PC_ERR_INTERNAL;
	if (kv->redis != NULL)
		return pc_kv_redis_get(kv->redis, key, value, ttl_left);
	pthread_mutex_lock(&kv->mu);
	int64_t now = kv->now();
	struct kv_entry **link = find(kv, key, len, now);
	enum pc_err rc = PC_ERR_NOT_FOUND;
	if (link != NULL) {
		*value = (*link)->value;
		*ttl_left = (*link)->expires_at - now;
		rc = PC_OK;
	}
	pthread_mutex_unlock(&kv->mu);
	return rc;
}

enum pc_err pc_kv_set(struct pc_kv *kv, const char *key, int64_t value, int64_t ttl_seconds)
{
	size_t len;
	if (!key_valid(key, &len))
		return PC_ERR_INTERNAL;
	if (kv->redis != NULL)
		return pc_kv_redis_set(kv->redis, key, value, ttl_clamp(ttl_seconds));
	enum pc_err rc = PC_OK;
	pthread_mutex_lock(&kv->mu);
	int64_t now = kv->now();
	struct kv_entry **link = find(kv, key, len, now);
	struct kv_entry *e = link != NULL ? *link : insert(kv, key, len, now);
	if (e == NULL) {
		rc = PC_ERR_UNAVAILABLE;
	} else {
		e->value = value;
		e->expires_at = now + ttl_clamp(ttl_seconds);
	}
	pthread_mutex_unlock(&kv->mu);
	return rc;
}

enum pc_err pc_kv_del(struct pc_kv *kv, const char *key)
{
	size_t len;
	if (!key_valid(key, &len))
		return PC_ERR_INTERNAL;
	if (kv->redis != NULL)
		return pc_kv_redis_del(kv->redis, key);
	pthread_mutex_lock(&kv->mu);
	struct kv_entry **link = find(kv, key, len, kv->now());
	if (link != NULL) {
		struct kv_entry *e = *link;
		*link = e->next;
		free(e);
		kv->n_keys--;
	}
	pthread_mutex_unlock(&kv->mu);
	return PC_OK;
}

size_t pc_kv_sweep(struct pc_kv *kv)
{
	if (kv->redis != NULL)
		return 0; /* Redis expires keys itself */
	pthread_mutex_lock(&kv->mu);
	size_t n = sweep_locked(kv, kv->now());
	pthread_mutex_unlock(&kv->mu);
	return n;
}

size_t pc_kv_count(struct pc_kv *kv)
{
	if (kv->redis != NULL)
		return pc_kv_redis_count(kv->redis);
	pthread_mutex_lock(&kv->mu);
	sweep_locked(kv, kv->now());
	size_t n = kv->n_keys;
	pthread_mutex_unlock(&kv->mu);
	return n;
}

enum pc_err pc_kv_ping(struct pc_kv *kv)
{
	return kv->redis != NULL ? pc_kv_redis_ping(kv->redis) : PC_OK;
}

/* ---- pub/sub ---------------------------------------------------------------- */

size_t pc_kv_subs_count(struct pc_kv_subs *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void pc_kv_subs_deliver(struct pc_kv_subs *s, const char *channel, size_t channel_len,
                        const char *msg, size_t len)
{
	size_t n = pc_kv_subs_count(s);
	for (size_t i = 0; i < n; i++) {
		const struct pc_kv_sub *e = &s->e[i];
		if (channel == NULL ||
		    (e->channel_len == channel_len && memcmp(e->channel, channel, channel_len) == 0))
			e->cb(msg, len, e->ctx);
	}
}

int pc_kv_subscribe(struct pc_kv *kv, const char *channel,
                    void (*cb)(const char *msg, size_t len, void *ctx), void *ctx)
{
	size_t len;
	if (cb == NULL || !key_valid(channel, &len))
		return -1;
	if (kv->redis != NULL && pc_kv_redis_sub_start(kv->redis) != 0)
		return -1;
	pthread_mutex_lock(&kv->subs.mu);
	if (kv->subs.n == PC_KV_SUBSCRIPTIONS_MAX) {
		pthread_mutex_unlock(&kv->subs.mu);
		return -1;
	}
	size_t i = kv->subs.n;
	struct pc_kv_sub *e = &kv->subs.e[i];
	memcpy(e->channel, channel, len);
	e->channel[len] = '\0';
	e->channel_len = len;
	e->cb = cb;
	e->ctx = ctx;
	kv->subs.n = i + 1;
	pthread_mutex_unlock(&kv->subs.mu);
	if (kv->redis != NULL)
		pc_kv_redis_sub_wait(kv->redis, i);
	return 0;
}

enum pc_err pc_kv_publish(struct pc_kv *kv, const char *channel, const char *msg, size_t len)
{
	size_t channel_len;
	if (!key_valid(channel, &channel_len) || !msg_valid(msg, len))
		return PC_ERR_INTERNAL;
	if (kv->redis != NULL)
		return pc_kv_redis_publish(kv->redis, channel, msg != NULL ? msg : "", len);
	pc_kv_subs_deliver(&kv->subs, channel, channel_len, msg != NULL ? msg : "", len);
	return PC_OK;
}

bool pc_kv_subscription_healthy(struct pc_kv *kv)
{
	return kv->redis != NULL ? pc_kv_redis_sub_healthy(kv->redis) : true;
}
