/* password.c — see password.h. */
#include "auth/password.h"

#include <sodium.h>
#include <errno.h>
#include <semaphore.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>


static char dummy_hash[crypto_pwhash_STRBYTES];

/* Argon2id is built to eat CPU and memory. The worker pool has more threads
 * than a small machine has cores, so a login flood could take every core
 * from the event loops; at most this many hashes run at once (half the
 * cores, at least one), the rest wait their turn on the pool. */
static sem_t hash_slots;
static bool slots_ready;

static void slot_take(void)
{
	if (!slots_ready)
		return;
	while (sem_wait(&hash_slots) != 0 && errno == EINTR) {
	}
}

static void slot_give(void)
{
	if (slots_ready)
		sem_post(&hash_slots);
}

int pc_password_hash(char out[128], const char *pw, size_t len, const struct pc_pwcost *cost)
{
	slot_take();
	int rc = crypto_pwhash_str(out, pw, len, cost->opslimit, cost->memlimit) == 0 ? 0 : -1;
	slot_give();
	return rc;
}

int pc_password_verify(const char *hash, const char *pw, size_t len)
{
	if (memchr(hash, '\0', crypto_pwhash_STRBYTES) == NULL)
		return -1;
	slot_take();
	int rc = crypto_pwhash_str_verify(hash, pw, len) == 0 ? 0 : -1;
	slot_give();
	return rc;
}

bool pc_password_needs_rehash(const char *hash, const struct pc_pwcost *cost)
{
	return crypto_pwhash_str_needs_rehash(hash, cost->opslimit, cost->memlimit) != 0;
}

int pc_password_init(const struct pc_pwcost *cost)
{
	if (!slots_ready) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned n = cores > 1 ? (unsigned)(cores / 2) : 1;
		if (sem_init(&hash_slots, 0, n) == 0)
			slots_ready = true;
	}
	uint8_t rnd[32];
	randombytes_buf(rnd, sizeof(rnd));
	int rc = crypto_pwhash_str(dummy_hash, (const char *)rnd, sizeof(rnd), cost->opslimit,
	                           cost->memlimit);
	sodium_memzero(rnd, sizeof(rnd));
	return rc == 0 ? 0 : -1;
}

void pc_password_dummy_verify(const char *pw, size_t len)
{
	/* the result is irrelevant: only the time spent matters */
	slot_take();
	(void)!crypto_pwhash_str_verify(dummy_hash, pw, len);
	slot_give();
}
