/*
 * revocation.c — see revocation.h.
 *
 * Invariant (under mu): every revocation numbered <= applied is in set.
 * applied only moves by a message numbered applied + 1, or by a catch-up
 * that read the store's counter (upto) and then every unexpired row
 * numbered in (applied, upto]. doubt counts the events after which the
 * table may miss something; trusted turns true only when a catch-up that
 * began with the current doubt succeeded. The hot path reads trusted and
 * the subscription's health without mu (atomics and one poll(2)), then the
 * table (its own mutex, never blocks).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/revocation.h"
#include "core/log.h"
#include "core/num.h"
#include "obs/metrics.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct pc_kv *set;     /* the table; set and freed by start/stop */
static bool own_set;          /* set is ours (Redis), not a->kv (embedded) */
static struct pc_kv *channel; /* a->kv with Redis, else NULL */
static struct pc_store *store;
static int64_t applied;       /* under mu */
static uint64_t doubt;        /* under mu */
static bool stopping, thread_on;
static pthread_t thread;
static atomic_bool trusted;

/* "jti:<jti>" (checked on every bearer request: no printf) */
static int key_of(char *out, size_t cap, const char *jti, size_t n)
{
	if (n + 5 > cap)
		return -1;
	memcpy(out, "jti:", 4);
	memcpy(out + 4, jti, n);
	out[4 + n] = '\0';
	return 0;
}

/* Puts one jti in the table until exp; 0, or -1 (bad jti, no memory). */
static int table_put(const char *jti, size_t n, int64_t exp, int64_t now)
{
	char key[PC_KV_KEY_MAX + 1];
	int64_t ttl = exp - now;
	if (ttl <= 0)
		return 0; /* expired: the token is refused by its exp anyway */
	if (key_of(key, sizeof(key), jti, n) != 0 || pc_kv_set(set, key, 1, ttl) != PC_OK)
		return -1;
	return 0;
}

/* Under mu: the table may miss something from now on. */
static void distrust_locked(const char *why)
{
	doubt++;
	if (atomic_exchange(&trusted, false))
		pc_log("warning", "revocation_catch_up", why);
	pthread_cond_broadcast(&cv);
}

/*
 * A message: "<seq>\n" then one "<exp> <jti>\n" per revoked token. Applied
 * when seq follows applied; ignored when older; anything else (a gap, a
 * line we cannot read, the "!" of a list too long to announce) sends the
 * instance to the store.
 */
static void apply_message(const char *msg, size_t len, int64_t now)
{
	const char *p = msg, *end = msg + len;
	const char *nl = memchr(p, '\n', len);
	int64_t seq;
	if (nl == NULL || pc_num_i64(&seq, p, (size_t)(nl - p), 1, INT64_MAX) != 0) {
		distrust_locked("an unreadable revocation announcement: catching up from the store");
		return;
	}
	if (seq <= applied)
		return;
	if (seq != applied + 1) {
		distrust_locked("a revocation announcement out of sequence: catching up from the store");
		return;
	}
	for (p = nl + 1; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		const char *sp = nl != NULL ? memchr(p, ' ', (size_t)(nl - p)) : NULL;
		int64_t exp;
		size_t jn = sp != NULL ? (size_t)(nl - sp - 1) : 0;
		if (sp == NULL || pc_num_i64(&exp, p, (size_t)(sp - p), 1, INT64_MAX) != 0 || jn == 0 ||
		    jn > PC_JTI_MAX || table_put(sp + 1, jn, exp, now) != 0) {
			distrust_locked("a revocation announcement not applied: catching up from the store");
			return;
		}
	}
	applied = seq;
}

/* The subscriber thread: a message, or NULL when the subscription was lost
 * and is back (delivered before it reports healthy). */
static void on_message(const char *msg, size_t len, void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&mu);
	if (set != NULL) {
		if (msg == NULL)
			distrust_locked("the revocation subscription was lost: catching up from the store");
		else
			apply_message(msg, len, (int64_t)time(NULL));
	}
	pthread_mutex_unlock(&mu);
}

/*
 * One catch-up: reads the rows after applied, applies them and moves
 * applied; trusts the table when no doubt arose meanwhile. Called with mu
 * held; releases it around the store read. *loaded: rows applied.
 */
static enum pc_err catch_up_locked(size_t *loaded)
{
	uint64_t d = doubt;
	int64_t after = applied, upto = 0;
	struct pc_revoked *list = NULL;
	size_t n = 0;
	*loaded = 0;
	/* the subscription live before the read: whatever commits after the
	 * read is announced to us (one not yet live may not be) */
	bool live = channel == NULL || pc_kv_subscription_healthy(channel);
	pthread_mutex_unlock(&mu);
	int64_t now = (int64_t)time(NULL);
	enum pc_err e = pc_store_revoked_since(store, after, now, &list, &n, &upto);
	pthread_mutex_lock(&mu);
	for (size_t i = 0; e == PC_OK && i < n; i++)
		if (table_put(list[i].jti, strnlen(list[i].jti, sizeof(list[i].jti)), list[i].expires_at, now) != 0)
			e = PC_ERR_INTERNAL;
		else
			(*loaded)++;
	free(list);
	if (e != PC_OK)
		return e;
	if (upto > applied)
		applied = upto;
	if (live && doubt == d && !atomic_exchange(&trusted, true) && channel != NULL)
		pc_log("info", "revocation_catch_up", "the revocation list is current again");
	return PC_OK;
}

/* Under mu: waits ms, or less when doubt arises or stop begins. */
static void wait_ms(int ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	uint64_t d = doubt;
	while (!stopping && doubt == d)
		if (pthread_cond_timedwait(&cv, &mu, &t) != 0)
			break;
}

/* Catches up whenever doubt arises; retries a failed read every second;
 * reads again once the subscription is live when a read could not be
 * trusted; polls the store every PC_REVOCATION_POLL_S. The table sweeps
 * its expired entries itself when full (kv/local.c), as in embedded mode. */
static void *catch_up_main(void *arg)
{
	(void)arg;
	bool failing = false;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		size_t loaded;
		if (channel != NULL && !atomic_load(&trusted) && !pc_kv_subscription_healthy(channel)) {
			/* a read now could not be trusted: wait for the subscription
			 * (its restoration raises doubt and wakes us; a first
			 * connection that was merely slow does not) */
			wait_ms(100);
			continue;
		}
		enum pc_err e = catch_up_locked(&loaded);
		if (e != PC_OK && !failing)
			pc_log("error", "revocation_catch_up", "cannot read the revocation list from the store; retrying");
		failing = e != PC_OK;
		if (failing) {
			wait_ms(1000);
		} else if (atomic_load(&trusted)) {
			wait_ms(PC_REVOCATION_POLL_S * 1000);
		}
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

enum pc_err pc_revocation_start(struct pc_auth *a, int64_t now, size_t *loaded)
{
	(void)now;
	*loaded = 0;
	pthread_mutex_lock(&mu);
	store = a->store;
	applied = 0;
	doubt = 0;
	stopping = false;
	atomic_store(&trusted, false);
	channel = pc_kv_is_local(a->kv) ? NULL : a->kv;
	own_set = channel != NULL;
	set = a->kv;
	pthread_mutex_unlock(&mu);
	char err[256];
	if (own_set && pc_kv_open(&set, NULL, err, sizeof(err)) != 0) {
		set = NULL;
		return PC_ERR_INTERNAL;
	}
	/* subscribed before the first read: what commits after it is announced */
	if (channel != NULL && pc_kv_subscribe(channel, PC_REVOCATION_CHANNEL, on_message, NULL) != 0) {
		pc_revocation_stop(a);
		return PC_ERR_INTERNAL;
	}
	pthread_mutex_lock(&mu);
	enum pc_err e = catch_up_locked(loaded);
	if (channel != NULL) {
		e = PC_OK; /* the thread retries; not trusted meanwhile */
		thread_on = pthread_create(&thread, NULL, catch_up_main, NULL) == 0;
		if (!thread_on)
			e = PC_ERR_INTERNAL;
	}
	pthread_mutex_unlock(&mu);
	if (e != PC_OK)
		pc_revocation_stop(a);
	return e;
}

void pc_revocation_stop(struct pc_auth *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_broadcast(&cv);
	bool join = thread_on;
	thread_on = false;
	pthread_mutex_unlock(&mu);
	if (join)
		pthread_join(thread, NULL);
	pthread_mutex_lock(&mu);
	if (own_set)
		pc_kv_close(set);
	set = NULL;
	own_set = false;
	channel = NULL;
	store = NULL;
	atomic_store(&trusted, false);
	pthread_mutex_unlock(&mu);
}

/* The announcement of one transaction's revocations: "<seq>\n<exp> <jti>\n"...,
 * or "<seq>\n!" when they do not fit one message (receivers then read the
 * store). Returns its length. */
static size_t announcement(char *out, size_t cap, const struct pc_revoked *list, size_t n, int64_t now)
{
	int k = snprintf(out, cap, "%" PRId64 "\n", list[0].seq);
	size_t len = (size_t)k;
	for (size_t i = 0; i < n; i++) {
		if (list[i].expires_at <= now)
			continue;
		k = snprintf(out + len, cap - len, "%" PRId64 " %s\n", list[i].expires_at, list[i].jti);
		if (k < 0 || (size_t)k >= cap - len) {
			k = snprintf(out, cap, "%" PRId64 "\n!", list[0].seq);
			return (size_t)k;
		}
		len += (size_t)k;
	}
	return len;
}

enum pc_err pc_revocation_add(struct pc_auth *a, const struct pc_revoked *list, size_t n, int64_t now)
{
	(void)a;
	enum pc_err rc = PC_OK;
	pthread_mutex_lock(&mu);
	struct pc_kv *ch = channel;
	for (size_t i = 0; set != NULL && i < n; i++) {
		if (table_put(list[i].jti, strnlen(list[i].jti, sizeof(list[i].jti)), list[i].expires_at, now) != 0)
			rc = PC_ERR_INTERNAL;
		else if (list[i].expires_at > now)
			pc_metrics_inc(PC_CTR_TOKENS_BLACKLISTED);
	}
	pthread_mutex_unlock(&mu);
	if (ch == NULL || n == 0 || list[0].seq <= 0)
		return rc;
	char msg[PC_KV_MSG_MAX];
	size_t len = announcement(msg, sizeof(msg), list, n, now);
	enum pc_err e = pc_kv_publish(ch, PC_REVOCATION_CHANNEL, msg, len);
	return e != PC_OK ? e : rc;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Settled first, trusted after: a delivery waited out may be the one that
 * withdraws trust. */
static bool trusted_now(int settle_us)
{
	return (channel == NULL || pc_kv_subscription_settled(channel, settle_us)) && atomic_load(&trusted);
}

bool pc_revocation_trusted(struct pc_auth *a)
{
	(void)a;
	return trusted_now(PC_REVOCATION_SETTLE_US);
}

int64_t pc_revocation_applied(void)
{
	pthread_mutex_lock(&mu);
	int64_t v = applied;
	pthread_mutex_unlock(&mu);
	return v;
}

enum pc_err pc_revocation_check(struct pc_auth *a, const char *jti, bool *revoked)
{
	uint64_t t0 = mono_ns();
	char key[PC_KV_KEY_MAX + 1];
	int64_t v, ttl;
	enum pc_err rc;
	*revoked = true; /* fail closed whatever happens below */
	/* trust first, then the table: a message delivered after this look
	 * arrived after the request did */
	(void)a;
	if (set == NULL || !trusted_now(PC_REVOCATION_SETTLE_US))
		rc = PC_ERR_UNAVAILABLE;
	else if (key_of(key, sizeof(key), jti, strlen(jti)) != 0)
		rc = PC_ERR_INTERNAL;
	else
		rc = pc_kv_get(set, key, &v, &ttl);
	if (rc == PC_ERR_NOT_FOUND) {
		*revoked = false;
		rc = PC_OK;
	} else if (rc == PC_OK) {
		*revoked = true;
	}
	pc_metrics_revocation_check(mono_ns() - t0);
	return rc;
}
