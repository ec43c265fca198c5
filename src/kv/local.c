/*
 * local.c — the in-process kv backend: a chained hash table under one mutex.
 *
 * Operations are O(1) and never block on I/O, so loop threads may call them.
 * Buckets are chosen with keyed SipHash (crypto_shorthash, a fresh key per
 * process) so a client cannot choose keys — emails, addresses — that all
 * land in one bucket. The table holds at most PC_KV_LOCAL_MAX_KEYS live keys;
 * when full, it sweeps expired keys, and if still full refuses new keys
 * (PC_ERR_UNAVAILABLE) rather than growing without bound under a flood of
 * distinct subjects. Arguments were checked by kv.c (backend.h). Local
 * pub/sub calls the subscribers at once on the publisher's thread.
 */
#include "kv/backend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define PC_KV_LOCAL_MAX_KEYS (1u << 20)
#define PC_KV_LOCAL_MIN_BUCKETS 1024u

struct kv_entry {
	struct kv_entry *next;
	int64_t value;
	int64_t expires_at; /* seconds */
	size_t key_len;
	char key[];
};

struct kv_local {
	struct pc_kv kv; /* first: the handle kv.c sees */
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

static size_t bucket_of(const struct kv_local *kv, const char *key, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, (const unsigned char *)key, len, kv->hash_key);
	uint64_t v;
	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (kv->n_buckets - 1));
}

static void local_close(struct pc_kv *base)
{
	struct kv_local *kv = (struct kv_local *)base;
	for (size_t i = 0; i < kv->n_buckets; i++) {
		struct kv_entry *e = kv->buckets[i];
		while (e != NULL) {
			struct kv_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(kv->buckets);
	pthread_mutex_destroy(&kv->mu);
	sodium_memzero(kv->hash_key, sizeof(kv->hash_key));
}

static void local_set_clock(struct pc_kv *base, int64_t (*now)(void))
{
	struct kv_local *kv = (struct kv_local *)base;
	pthread_mutex_lock(&kv->mu);
	kv->now = now != NULL ? now : wall_now;
	pthread_mutex_unlock(&kv->mu);
}

/* Finds a key; an expired entry found on the way is unlinked and freed.
 * Returns the link that points at the live entry, or NULL. Caller locks. */
static struct kv_entry **find(struct kv_local *kv, const char *key, size_t len, int64_t now)
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

static size_t sweep_locked(struct kv_local *kv, int64_t now)
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
static void maybe_grow(struct kv_local *kv)
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
static struct kv_entry *insert(struct kv_local *kv, const char *key, size_t len, int64_t now)
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

static enum pc_err local_incr(struct pc_kv *base, const char *key, size_t len, int64_t ttl_seconds,
                              int64_t *value, int64_t *ttl_left)
{
	struct kv_local *kv = (struct kv_local *)base;
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
		e->expires_at = now + ttl_seconds;
	}
	if (e->value < INT64_MAX)
		e->value++;
	*value = e->value;
	*ttl_left = e->expires_at - now;
out:
	pthread_mutex_unlock(&kv->mu);
	return rc;
}

static enum pc_err local_decr(struct pc_kv *base, const char *key, size_t len)
{
	struct kv_local *kv = (struct kv_local *)base;
	pthread_mutex_lock(&kv->mu);
	struct kv_entry **link = find(kv, key, len, kv->now());
	if (link != NULL && (*link)->value > 0)
		(*link)->value--;
	pthread_mutex_unlock(&kv->mu);
	return PC_OK;
}

static enum pc_err local_get(struct pc_kv *base, const char *key, size_t len, int64_t *value,
                             int64_t *ttl_left)
{
	struct kv_local *kv = (struct kv_local *)base;
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

static enum pc_err local_set(struct pc_kv *base, const char *key, size_t len, int64_t value,
                             int64_t ttl_seconds)
{
	struct kv_local *kv = (struct kv_local *)base;
	enum pc_err rc = PC_OK;
	pthread_mutex_lock(&kv->mu);
	int64_t now = kv->now();
	struct kv_entry **link = find(kv, key, len, now);
	struct kv_entry *e = link != NULL ? *link : insert(kv, key, len, now);
	if (e == NULL) {
		rc = PC_ERR_UNAVAILABLE;
	} else {
		e->value = value;
		e->expires_at = now + ttl_seconds;
	}
	pthread_mutex_unlock(&kv->mu);
	return rc;
}

static enum pc_err local_del(struct pc_kv *base, const char *key, size_t len)
{
	struct kv_local *kv = (struct kv_local *)base;
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

static size_t local_sweep(struct pc_kv *base)
{
	struct kv_local *kv = (struct kv_local *)base;
	pthread_mutex_lock(&kv->mu);
	size_t n = sweep_locked(kv, kv->now());
	pthread_mutex_unlock(&kv->mu);
	return n;
}

static size_t local_count(struct pc_kv *base)
{
	struct kv_local *kv = (struct kv_local *)base;
	pthread_mutex_lock(&kv->mu);
	sweep_locked(kv, kv->now());
	size_t n = kv->n_keys;
	pthread_mutex_unlock(&kv->mu);
	return n;
}

static enum pc_err local_ping(struct pc_kv *base)
{
	(void)base;
	return PC_OK;
}

/* Local pub/sub: the subscribers are called at once, on this thread. */
static enum pc_err local_publish(struct pc_kv *base, const char *channel, size_t channel_len,
                                 const char *msg, size_t len)
{
	pc_kv_subs_deliver(&base->subs, channel, channel_len, msg, len);
	return PC_OK;
}

static const struct pc_kv_ops local_ops = {
	.local = true,
	.close = local_close,
	.incr = local_incr,
	.decr = local_decr,
	.get = local_get,
	.set = local_set,
	.del = local_del,
	.sweep = local_sweep,
	.count = local_count,
	.ping = local_ping,
	.set_clock = local_set_clock,
	.publish = local_publish,
};

int pc_kv_local_open(struct pc_kv **out, char *err, size_t errlen)
{
	*out = NULL;
	struct kv_local *kv = calloc(1, sizeof(*kv));
	if (kv == NULL)
		goto oom;
	kv->kv.ops = &local_ops;
	if (pthread_mutex_init(&kv->mu, NULL) != 0) {
		free(kv);
		goto oom;
	}
	kv->now = wall_now;
	kv->n_buckets = PC_KV_LOCAL_MIN_BUCKETS;
	kv->buckets = calloc(kv->n_buckets, sizeof(*kv->buckets));
	if (kv->buckets == NULL) {
		local_close(&kv->kv);
		free(kv);
		goto oom;
	}
	crypto_shorthash_keygen(kv->hash_key);
	*out = &kv->kv;
	return 0;
oom:
	snprintf(err, errlen, "kv: out of memory");
	return -1;
}
