/*
 * kv.c — the kv handle: opening by URL scheme, the argument checks every
 * backend relies on, dispatch through the backend's ops table, and the
 * subscription registry (the write side; backend.h has the read side).
 *
 * Keys and channels are checked here once (printable ASCII, 1..PC_KV_KEY_MAX
 * bytes), TTLs clamped to 1..PC_KV_TTL_MAX, messages bounded by
 * PC_KV_MSG_MAX; a backend sees nothing else (backend.h).
 */
#include "kv/kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/backend.h"

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
	struct pc_kv *kv;
	if ((redis ? pc_kv_redis_open(&kv, url, err, errlen) : pc_kv_local_open(&kv, err, errlen)) != 0)
		return -1;
	if (pthread_mutex_init(&kv->subs.mu, NULL) != 0) {
		kv->ops->close(kv);
		free(kv);
		snprintf(err, errlen, "kv: out of memory");
		return -1;
	}
	kv->subs.n = 0;
	*out = kv;
	return 0;
}

void pc_kv_close(struct pc_kv *kv)
{
	if (kv == NULL)
		return;
	kv->ops->close(kv);
	pthread_mutex_destroy(&kv->subs.mu);
	free(kv);
}

bool pc_kv_is_local(const struct pc_kv *kv)
{
	return kv->ops->local;
}

void pc_kv_set_clock(struct pc_kv *kv, int64_t (*now)(void))
{
	if (kv->ops->set_clock != NULL)
		kv->ops->set_clock(kv, now);
}

enum pc_err pc_kv_incr(struct pc_kv *kv, const char *key, int64_t ttl_seconds,
                       int64_t *value, int64_t *ttl_left)
{
	size_t len;
	if (!key_valid(key, &len))
		return PC_ERR_INTERNAL;
	return kv->ops->incr(kv, key, len, ttl_clamp(ttl_seconds), value, ttl_left);
}

enum pc_err pc_kv_decr(struct pc_kv *kv, const char *key)
{
	size_t len;
	if (!key_valid(key, &len))
		return PC_ERR_INTERNAL;
	return kv->ops->decr(kv, key, len);
}

enum pc_err pc_kv_get(struct pc_kv *kv, const char *key, int64_t *value, int64_t *ttl_left)
{
	size_t len;
	if (!key_valid(key, &len))
		return PC_ERR_INTERNAL;
	return kv->ops->get(kv, key, len, value, ttl_left);
}

enum pc_err pc_kv_set(struct pc_kv *kv, const char *key, int64_t value, int64_t ttl_seconds)
{
	size_t len;
	if (!key_valid(key, &len))
		return PC_ERR_INTERNAL;
	return kv->ops->set(kv, key, len, value, ttl_clamp(ttl_seconds));
}

enum pc_err pc_kv_del(struct pc_kv *kv, const char *key)
{
	size_t len;
	if (!key_valid(key, &len))
		return PC_ERR_INTERNAL;
	return kv->ops->del(kv, key, len);
}

size_t pc_kv_sweep(struct pc_kv *kv)
{
	return kv->ops->sweep(kv);
}

size_t pc_kv_count(struct pc_kv *kv)
{
	return kv->ops->count(kv);
}

enum pc_err pc_kv_ping(struct pc_kv *kv)
{
	return kv->ops->ping(kv);
}

/* ---- pub/sub ---------------------------------------------------------------- */

int pc_kv_subscribe(struct pc_kv *kv, const char *channel,
                    void (*cb)(const char *msg, size_t len, void *ctx), void *ctx)
{
	size_t len;
	if (cb == NULL || !key_valid(channel, &len))
		return -1;
	if (kv->ops->sub_start != NULL && kv->ops->sub_start(kv) != 0)
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
	if (kv->ops->sub_wait != NULL)
		kv->ops->sub_wait(kv, i);
	return 0;
}

enum pc_err pc_kv_publish(struct pc_kv *kv, const char *channel, const char *msg, size_t len)
{
	size_t channel_len;
	if (!key_valid(channel, &channel_len) || !msg_valid(msg, len))
		return PC_ERR_INTERNAL;
	return kv->ops->publish(kv, channel, channel_len, msg != NULL ? msg : "", len);
}

bool pc_kv_subscription_healthy(struct pc_kv *kv)
{
	return kv->ops->sub_healthy != NULL ? kv->ops->sub_healthy(kv, 0) : true;
}

bool pc_kv_subscription_settled(struct pc_kv *kv, int max_us)
{
	return kv->ops->sub_healthy != NULL ? kv->ops->sub_healthy(kv, max_us) : true;
}
