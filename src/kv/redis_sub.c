/*
 * redis_sub.c — the Redis backend's subscriber thread (pub/sub).
 *
 * One thread per handle, started by the first subscription, with its own
 * connection. It sends PING after a second of silence and gives the
 * connection up when nothing answers within another second; then it
 * reconnects with capped, jittered backoff and subscribes again. live_n (the
 * subscriptions live on the current connection) drops to 0 the moment the
 * connection is given up: that is what "healthy" reads. The thread runs
 * with every signal blocked. Messages go to the handle's registry
 * (backend.h), the publisher's own included.
 */
#include "kv/redis.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "core/log.h"

static bool stopping(struct pc_kv_redis *r)
{
	pthread_mutex_lock(&r->mu);
	bool s = r->stopping;
	pthread_mutex_unlock(&r->mu);
	return s;
}

static void set_live(struct pc_kv_redis *r, size_t n)
{
	pthread_mutex_lock(&r->mu);
	r->live_n = n;
	pthread_cond_broadcast(&r->live_cv);
	pthread_mutex_unlock(&r->mu);
}

static void wake(struct pc_kv_redis *r)
{
	char b = 1;
	/* the pipe is non-blocking: when full, the thread is woken anyway */
	if (write(r->wake[1], &b, 1) < 0)
		return;
}

static void drain(int fd)
{
	char buf[64];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Sleeps ms, or less when woken; true when the handle is closing. */
static bool sub_sleep(struct pc_kv_redis *r, int ms)
{
	struct pollfd p = {.fd = r->wake[0], .events = POLLIN};
	if (poll(&p, 1, ms) > 0)
		drain(r->wake[0]);
	return stopping(r);
}

/* Sleeps the backoff (+0-25 % jitter) and doubles it; true when closing. */
static bool sub_backoff(struct pc_kv_redis *r, int *backoff)
{
	int ms = *backoff + (int)randombytes_uniform((uint32_t)*backoff / 4 + 1);
	*backoff = *backoff * 2 > SUB_BACKOFF_MAX_MS ? SUB_BACKOFF_MAX_MS : *backoff * 2;
	return sub_sleep(r, ms);
}

static int flush_out(redisContext *c)
{
	int done = 0;
	while (!done)
		if (redisBufferWrite(c, &done) != REDIS_OK)
			return -1;
	return 0;
}

static bool str_is(const redisReply *e, const char *s)
{
	size_t n = strlen(s);
	return e->type == REDIS_REPLY_STRING && e->len == n && strncasecmp(e->str, s, n) == 0;
}

static void sub_log(struct pc_kv_redis *r, const char *level, const char *event, const char *msg)
{
	struct pc_logline l;
	pc_logline_begin(&l, level, event);
	pc_logline_str(&l, "redis", r->where);
	pc_logline_str(&l, "message", msg);
	pc_logline_emit(&l);
}

/* A push from Redis: a message is delivered, a subscribe confirmation is
 * counted; anything else (PONG) only proved the connection alive. */
static void sub_handle(struct pc_kv_redis *r, const redisReply *rep, size_t *confirmed)
{
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 || rep->element[0]->type != REDIS_REPLY_STRING)
		return;
	const redisReply *ch = rep->element[1];
	if (str_is(rep->element[0], "subscribe")) {
		(*confirmed)++;
	} else if (str_is(rep->element[0], "message") && ch->type == REDIS_REPLY_STRING &&
	           rep->element[2]->type == REDIS_REPLY_STRING && ch->len > PREFIX_LEN &&
	           memcmp(ch->str, PREFIX, PREFIX_LEN) == 0) {
		pc_kv_subs_deliver(&r->kv.subs, ch->str + PREFIX_LEN, ch->len - PREFIX_LEN,
		                   rep->element[2]->str, rep->element[2]->len);
	}
}

/*
 * One connection's life: subscribes every registered channel (new ones as
 * they come), delivers messages, PINGs after SUB_PING_MS of silence and
 * returns when the connection fails, does not answer in time, or close
 * begins. *down: subscriptions were lost before this connection (the
 * "messages may be lost" notice is due). Returns whether it became live.
 */
static bool sub_session(struct pc_kv_redis *r, redisContext *c, bool *down)
{
	size_t sent = 0, confirmed = 0, published = 0;
	bool was_live = false;
	int64_t last_rx = pc_kv_redis_mono_ms(), ping_sent = -1;
	atomic_store(&r->sub_fd, c->fd);
	for (;;) {
		if (stopping(r))
			return was_live;
		size_t n = pc_kv_subs_count(&r->kv.subs);
		if (sent < n) {
			for (; sent < n; sent++) {
				char ch[NAME_MAX_LEN + 1];
				const char *av[2] = {"SUBSCRIBE", ch};
				const size_t al[2] = {9, pc_kv_redis_prefixed(ch, r->kv.subs.e[sent].channel)};
				if (redisAppendCommandArgv(c, 2, av, al) != REDIS_OK)
					return was_live;
			}
			if (flush_out(c) != 0)
				return was_live;
		}
		if (confirmed == sent && (published != sent || !was_live)) {
			if (*down) {
				/* before healthy turns true: callers drop their caches */
				pc_kv_subs_deliver(&r->kv.subs, NULL, 0, NULL, 0);
				sub_log(r, "info", "kv_subscription_restored", "subscriptions are live again");
				*down = false;
			}
			set_live(r, sent);
			published = sent;
			was_live = true;
		}
		int64_t now = pc_kv_redis_mono_ms();
		int64_t timeout;
		if (ping_sent >= 0) {
			if (now - ping_sent >= SUB_PING_MS)
				return was_live; /* no answer: the connection is dead */
			timeout = SUB_PING_MS - (now - ping_sent);
		} else if (now - last_rx >= SUB_PING_MS) {
			const char *av[1] = {"PING"};
			const size_t al[1] = {4};
			if (redisAppendCommandArgv(c, 1, av, al) != REDIS_OK || flush_out(c) != 0)
				return was_live;
			ping_sent = now;
			timeout = SUB_PING_MS;
		} else {
			timeout = SUB_PING_MS - (now - last_rx);
		}
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = r->wake[0], .events = POLLIN}};
		int k = poll(p, 2, (int)timeout);
		if (k < 0 && errno != EINTR)
			return was_live;
		if (k <= 0)
			continue;
		if (p[1].revents != 0)
			drain(r->wake[0]);
		if (p[0].revents == 0)
			continue;
		atomic_fetch_add(&r->rx_gen, 1); /* odd: delivering */
		bool ok = redisBufferRead(c) == REDIS_OK;
		last_rx = pc_kv_redis_mono_ms();
		ping_sent = -1;
		while (ok) {
			void *rep = NULL;
			if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
				ok = false;
			if (rep == NULL)
				break;
			sub_handle(r, rep, &confirmed);
			freeReplyObject(rep);
		}
		atomic_fetch_add(&r->rx_gen, 1); /* even: delivered */
		if (!ok)
			return was_live;
	}
}

static void *sub_main(void *arg)
{
	struct pc_kv_redis *r = arg;
	int backoff = SUB_BACKOFF_MIN_MS;
	bool down = false;
	char last_err[512] = "";
	while (!stopping(r)) {
		char err[512];
		bool rejected;
		redisContext *c = pc_kv_redis_connect(r, false, err, sizeof(err), &rejected);
		if (c == NULL) {
			/* once per outage and reason, not once per attempt */
			if (strcmp(err, last_err) != 0)
				sub_log(r, "warn", "kv_subscription_down", err);
			memcpy(last_err, err, sizeof(err));
			down = true;
			if (sub_backoff(r, &backoff))
				break;
			continue;
		}
		last_err[0] = '\0';
		bool was_live = sub_session(r, c, &down);
		set_live(r, 0); /* unhealthy from this moment */
		atomic_store(&r->sub_fd, -1);
		redisFree(c);
		if (stopping(r))
			break;
		if (!down) {
			sub_log(r, "warn", "kv_subscription_lost",
			        "subscriber connection lost; cached entries are not trusted until it is back");
			down = true;
		}
		/* after a live session, reconnect at once (a restart is quick); a
		 * connection that never got live waits like a failed connect */
		if (was_live) {
			backoff = SUB_BACKOFF_MIN_MS;
		} else if (sub_backoff(r, &backoff)) {
			break;
		}
	}
	return NULL;
}

int pc_kv_redis_sub_start(struct pc_kv *kv)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	int rc = 0;
	pthread_mutex_lock(&r->mu);
	if (!r->sub_started) {
		/* the thread takes no signal: the process's handlers stay where
		 * they are, and a SIGPIPE from its socket is never delivered */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&r->sub_thread, NULL, sub_main, r) == 0 ? 0 : -1;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		r->sub_started = rc == 0;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void pc_kv_redis_sub_wait(struct pc_kv *kv, size_t index)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	wake(r);
	struct timespec deadline = pc_kv_redis_mono_deadline(2 * PC_KV_REDIS_TIMEOUT_MS);
	pthread_mutex_lock(&r->mu);
	while (r->live_n <= index)
		if (pthread_cond_timedwait(&r->live_cv, &r->mu, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&r->mu);
}

static bool sub_live(struct pc_kv_redis *r, size_t n)
{
	pthread_mutex_lock(&r->mu);
	bool h = r->live_n >= n;
	pthread_mutex_unlock(&r->mu);
	return h;
}

/*
 * Live, and nothing published is waiting to be delivered: no unread bytes on
 * the subscriber's socket and no delivery under way (rx_gen even and
 * unchanged around the look). Redis queues a message for its subscribers
 * before its answer to the publisher and sends both in the same pass, so
 * once an instance has answered a logout, every other instance has dropped
 * the entry or finds the message waiting here and bypasses its cache: the
 * next request, on any instance, is refused. One poll(2), no round trip.
 * settle_us > 0: bytes waiting or a delivery under way are waited out (the
 * subscriber's keepalive PONG arrives every second: a caller that must
 * answer should not fail for it), sleeping, at most that long.
 */
bool pc_kv_redis_sub_healthy(struct pc_kv *kv, int settle_us)
{
	struct pc_kv_redis *r = (struct pc_kv_redis *)kv;
	size_t n = pc_kv_subs_count(&r->kv.subs);
	if (!sub_live(r, n) || n == 0)
		return n == 0;
	for (int waited = 0;; waited += 20) {
		unsigned g1 = atomic_load(&r->rx_gen);
		int fd = atomic_load(&r->sub_fd);
		if (fd < 0)
			return false;
		if ((g1 & 1) == 0) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int k = poll(&p, 1, 0);
			if (k < 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0)
				return false;
			if (k == 0 && atomic_load(&r->rx_gen) == g1)
				return true;
		}
		/* something to read, or being delivered: not now, or once it is */
		if (waited >= settle_us)
			return false;
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
		if (!sub_live(r, n))
			return false;
	}
}

void pc_kv_redis_sub_stop(struct pc_kv_redis *r)
{
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	bool started = r->sub_started;
	pthread_mutex_unlock(&r->mu);
	if (started) {
		wake(r);
		pthread_join(r->sub_thread, NULL);
	}
}
