/*
 * cache.c — see cache.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/cache.h"

struct slot {
	bool used;
	uint8_t key[32];
	int64_t until;
	struct pc_cache_hit v;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;
static _Atomic int64_t ttl;
static atomic_bool trusted = true;
static uint64_t generation; /* under mu */
static bool (*health_fn)(void *);
static void *health_ctx;

void pc_cache_set_health(bool (*healthy)(void *ctx), void *ctx)
{
	health_ctx = ctx;
	health_fn = healthy;
}

int pc_cache_init(void)
{
	pthread_mutex_lock(&mu);
	if (slots == NULL)
		slots = calloc(PC_CACHE_SLOTS, sizeof(*slots));
	pthread_mutex_unlock(&mu);
	return slots != NULL ? 0 : -1;
}

void pc_cache_free(void)
{
	pthread_mutex_lock(&mu);
	free(slots);
	slots = NULL;
	pthread_mutex_unlock(&mu);
}

void pc_cache_set_ttl(int64_t seconds)
{
	atomic_store(&ttl, seconds);
	if (seconds <= 0)
		pc_cache_clear();
}

void pc_cache_set_trusted(bool t)
{
	atomic_store(&trusted, t);
	if (!t)
		pc_cache_clear();
}

bool pc_cache_enabled(void)
{
	return slots != NULL && atomic_load(&ttl) > 0 && atomic_load(&trusted) &&
	       (health_fn == NULL || health_fn(health_ctx));
}

static size_t index_of(const uint8_t key[32])
{
	/* the key is already a cryptographic hash: its bytes are uniform */
	uint32_t x;
	memcpy(&x, key, sizeof(x));
	return x % PC_CACHE_SLOTS;
}

bool pc_cache_get(const uint8_t key[32], int64_t now, struct pc_cache_hit *out)
{
	if (!pc_cache_enabled())
		return false;
	bool hit = false;
	pthread_mutex_lock(&mu);
	struct slot *s = &slots[index_of(key)];
	if (s->used && s->until > now && sodium_memcmp(s->key, key, 32) == 0) {
		*out = s->v;
		hit = true;
	}
	pthread_mutex_unlock(&mu);
	return hit;
}

uint64_t pc_cache_generation(void)
{
	pthread_mutex_lock(&mu);
	uint64_t g = generation;
	pthread_mutex_unlock(&mu);
	return g;
}

void pc_cache_put(const uint8_t key[32], int64_t now, const struct pc_cache_hit *v, uint64_t gen)
{
	int64_t t = atomic_load(&ttl);
	if (!pc_cache_enabled() || t <= 0)
		return;
	pthread_mutex_lock(&mu);
	if (gen != generation) {
		pthread_mutex_unlock(&mu);
		return;
	}
	struct slot *s = &slots[index_of(key)];
	s->used = true;
	memcpy(s->key, key, 32);
	s->until = now + t;
	if (v->expires_at != 0 && v->expires_at < s->until)
		s->until = v->expires_at;
	s->v = *v;
	pthread_mutex_unlock(&mu);
}

void pc_cache_drop(const char *tag)
{
	if (slots == NULL || tag == NULL || tag[0] == '\0')
		return;
	pthread_mutex_lock(&mu);
	generation++;
	for (size_t i = 0; i < PC_CACHE_SLOTS; i++) {
		struct slot *s = &slots[i];
		if (s->used && (strcmp(s->v.session_id, tag) == 0 || strcmp(s->v.user_id, tag) == 0))
			s->used = false;
	}
	pthread_mutex_unlock(&mu);
}

void pc_cache_clear(void)
{
	if (slots == NULL)
		return;
	pthread_mutex_lock(&mu);
	generation++;
	memset(slots, 0, PC_CACHE_SLOTS * sizeof(*slots));
	pthread_mutex_unlock(&mu);
}
