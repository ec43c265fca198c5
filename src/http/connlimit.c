/* connlimit.c — see connlimit.h. */
#include "http/connlimit.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	struct pc_addrkey key;
	uint32_t count; /* 0: empty */
};

static struct {
	pthread_mutex_t mu;
	struct slot *slots;
	size_t mask;
	unsigned total, max_total, max_per_addr;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
} L = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Keyed hash (SipHash): an attacker cannot pick addresses that collide. */
static size_t hash(const struct pc_addrkey *k)
{
	uint64_t h;
	crypto_shorthash((unsigned char *)&h, k->bytes, sizeof(k->bytes), L.hash_key);
	return (size_t)h & L.mask;
}

int pc_connlimit_init(unsigned max_total, unsigned max_per_addr)
{
	size_t n = 16;
	while (n < (size_t)max_total * 2)
		n <<= 1;
	L.slots = calloc(n, sizeof(*L.slots));
	if (L.slots == NULL)
		return -1;
	L.mask = n - 1;
	L.total = 0;
	L.max_total = max_total;
	L.max_per_addr = max_per_addr;
	randombytes_buf(L.hash_key, sizeof(L.hash_key));
	return 0;
}

void pc_connlimit_free(void)
{
	free(L.slots);
	L.slots = NULL;
}

static struct slot *find(const struct pc_addrkey *k, bool *found)
{
	size_t i = hash(k);
	for (;;) {
		struct slot *s = &L.slots[i];
		if (s->count == 0) {
			*found = false;
			return s;
		}
		if (memcmp(s->key.bytes, k->bytes, sizeof(k->bytes)) == 0) {
			*found = true;
			return s;
		}
		i = (i + 1) & L.mask;
	}
}

bool pc_connlimit_acquire(const struct pc_addrkey *k, bool exempt)
{
	bool ok = false;
	pthread_mutex_lock(&L.mu);
	if (L.total >= L.max_total)
		goto out;
	if (!exempt) {
		bool found;
		struct slot *s = find(k, &found);
		if (found && s->count >= L.max_per_addr)
			goto out;
		if (!found)
			s->key = *k;
		s->count++;
	}
	L.total++;
	ok = true;
out:
	pthread_mutex_unlock(&L.mu);
	return ok;
}

void pc_connlimit_release(const struct pc_addrkey *k, bool exempt)
{
	pthread_mutex_lock(&L.mu);
	L.total--;
	if (!exempt) {
		bool found;
		struct slot *s = find(k, &found);
		if (found && --s->count == 0) {
			/* backward-shift deletion keeps every probe chain unbroken */
			size_t i = (size_t)(s - L.slots);
			size_t j = i;
			for (;;) {
				j = (j + 1) & L.mask;
				if (L.slots[j].count == 0)
					break;
				size_t home = hash(&L.slots[j].key);
				/* move j into the hole at i if its home is not in (i, j] */
				if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
					L.slots[i] = L.slots[j];
					L.slots[j].count = 0;
					i = j;
				}
			}
			L.slots[i].count = 0;
		}
	}
	pthread_mutex_unlock(&L.mu);
}
