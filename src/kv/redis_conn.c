/*
 * redis_conn.c — the Redis backend's connections: the URL, one connection
 * authenticated and on its db, and the helpers every Redis call needs
 * (monotonic clock, the SIGPIPE guard, the key prefix).
 *
 * The password is kept in sodium_malloc'd, read-only memory and is never
 * logged or put in an error; hiredis's output buffer that carried the AUTH
 * command is freed, not wiped (caveat). A host name is resolved by
 * getaddrinfo, which the timeout does not bound.
 */
#include "kv/redis.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/num.h"
#include "core/pct.h"

int64_t pc_kv_redis_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec pc_kv_redis_mono_deadline(int64_t ms_from_now)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms_from_now / 1000;
	ts.tv_nsec += (ms_from_now % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

void pc_kv_redis_sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t s, pending;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &s, &g->old);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

void pc_kv_redis_sigpipe_restore(struct sigpipe_guard *g)
{
	sigset_t s, pending;
	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
		const struct timespec zero = {0, 0};
		while (sigtimedwait(&s, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

size_t pc_kv_redis_prefixed(char *out, const char *name)
{
	size_t n = strlen(name); /* checked by kv.c: <= PC_KV_KEY_MAX */
	memcpy(out, PREFIX, PREFIX_LEN);
	memcpy(out + PREFIX_LEN, name, n);
	out[PREFIX_LEN + n] = '\0';
	return PREFIX_LEN + n;
}

/* Copies an error reply for a message: printable ASCII only, bounded. */
static void copy_printable(char *out, size_t outlen, const char *s, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n && j + 1 < outlen; i++)
		out[j++] = (s[i] >= 0x20 && s[i] <= 0x7e) ? s[i] : '?';
	if (outlen > 0)
		out[j] = '\0';
}

#define URL_FORM "expected redis://[[user]:password@]host[:port][/db]"

int pc_kv_redis_parse_url(struct pc_kv_redis *r, const char *url, char *err, size_t errlen)
{
	if (strncmp(url, "rediss://", 9) == 0) {
		snprintf(err, errlen, "kv: rediss:// (Redis over TLS) is not supported: this build "
		                      "has no TLS; use redis:// on a trusted network or a TLS tunnel");
		return -1;
	}
	const char *p = url + 8; /* "redis://" */
	const char *at = strrchr(p, '@');
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon == NULL) {
			snprintf(err, errlen, "kv: bad redis URL: user without password (" URL_FORM ")");
			return -1;
		}
		char tmp[1024];
		size_t ulen = (size_t)(colon - p), plen = (size_t)(at - colon - 1);
		size_t n;
		if (ulen > 0) {
			if (pc_pct_decode(tmp, sizeof(tmp), &n, p, ulen, PC_PCT_NO_CTL) != 0 || n == 0 ||
			    (r->user = strdup(tmp)) == NULL) {
				sodium_memzero(tmp, sizeof(tmp));
				snprintf(err, errlen, "kv: bad redis URL: bad user name (" URL_FORM ")");
				return -1;
			}
		}
		if (pc_pct_decode(tmp, sizeof(tmp), &n, colon + 1, plen, PC_PCT_NO_CTL) != 0 || n == 0) {
			sodium_memzero(tmp, sizeof(tmp));
			snprintf(err, errlen, "kv: bad redis URL: empty or malformed password (" URL_FORM ")");
			return -1;
		}
		r->password = sodium_malloc(n + 1);
		if (r->password == NULL) {
			sodium_memzero(tmp, sizeof(tmp));
			snprintf(err, errlen, "kv: out of memory");
			return -1;
		}
		memcpy(r->password, tmp, n + 1);
		r->password_len = n;
		sodium_memzero(tmp, sizeof(tmp));
		sodium_mprotect_readonly(r->password);
		p = at + 1;
	}
	/* host */
	const char *h = p, *hend;
	if (*p == '[') {
		hend = strchr(p, ']');
		if (hend == NULL) {
			snprintf(err, errlen, "kv: bad redis URL: unclosed '[' (" URL_FORM ")");
			return -1;
		}
		h = p + 1;
		p = hend + 1;
		for (const char *c = h; c < hend; c++)
			if (!(isxdigit((unsigned char)*c) || *c == ':' || *c == '.')) {
				snprintf(err, errlen, "kv: bad redis URL: bad IPv6 address");
				return -1;
			}
	} else {
		while (*p != '\0' && *p != ':' && *p != '/')
			p++;
		hend = p;
		for (const char *c = h; c < hend; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_')) {
				snprintf(err, errlen, "kv: bad redis URL: bad host name (" URL_FORM ")");
				return -1;
			}
	}
	size_t hlen = (size_t)(hend - h);
	if (hlen == 0 || hlen >= sizeof(r->host)) {
		snprintf(err, errlen, "kv: bad redis URL: no host (" URL_FORM ")");
		return -1;
	}
	memcpy(r->host, h, hlen);
	r->host[hlen] = '\0';
	/* port */
	r->port = 6379;
	if (*p == ':') {
		const char *q = ++p;
		while (*p != '\0' && *p != '/')
			p++;
		int64_t port;
		if (pc_num_i64(&port, q, (size_t)(p - q), 1, 65535) != 0) {
			snprintf(err, errlen, "kv: bad redis URL: port must be 1-65535 (" URL_FORM ")");
			return -1;
		}
		r->port = (int)port;
	}
	/* db */
	r->db = 0;
	if (*p == '/') {
		p++;
		size_t n = strlen(p);
		int64_t db = 0;
		if (n > 0 && pc_num_i64(&db, p, n, 0, 65535) != 0) {
			snprintf(err, errlen, "kv: bad redis URL: the path must be a database number, "
			                      "no options (" URL_FORM ")");
			return -1;
		}
		r->db = (int)db;
		p += n;
	}
	if (*p != '\0') {
		snprintf(err, errlen, "kv: bad redis URL: unexpected text after the host (" URL_FORM ")");
		return -1;
	}
	snprintf(r->where, sizeof(r->where), strchr(r->host, ':') ? "[%s]:%d" : "%s:%d", r->host,
	         r->port);
	return 0;
}

bool pc_kv_redis_transient_error(const char *s)
{
	static const char *const t[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN"};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strncmp(s, t[i], strlen(t[i])) == 0)
			return true;
	return strncmp(s, "ERR max number of clients", 25) == 0;
}

/* One set-up command; 0, or -1 with err and *rejected. */
static int setup_step(struct pc_kv_redis *r, redisContext *c, int argc, const char **argv,
                      const size_t *lens, char *err, size_t errlen, bool *rejected)
{
	redisReply *rep = redisCommandArgv(c, argc, argv, lens);
	if (rep == NULL) {
		char why[128];
		copy_printable(why, sizeof(why), c->errstr, strnlen(c->errstr, sizeof(c->errstr)));
		snprintf(err, errlen, "kv: connection to redis at %.200s failed: %s", r->where, why);
		return -1;
	}
	int rc = 0;
	if (rep->type == REDIS_REPLY_ERROR) {
		char why[128];
		copy_printable(why, sizeof(why), rep->str, rep->len);
		/* argv[0] only: AUTH's arguments are the credentials */
		snprintf(err, errlen, "kv: redis at %.200s refused %s: %s", r->where, argv[0], why);
		*rejected = !pc_kv_redis_transient_error(rep->str);
		rc = -1;
	}
	freeReplyObject(rep);
	return rc;
}

redisContext *pc_kv_redis_connect(struct pc_kv_redis *r, bool probe, char *err, size_t errlen,
                                  bool *rejected)
{
	*rejected = false;
	const struct timeval tv = {PC_KV_REDIS_TIMEOUT_MS / 1000,
	                           (PC_KV_REDIS_TIMEOUT_MS % 1000) * 1000};
	redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
	if (c == NULL || c->err != 0) {
		char why[128] = "out of memory";
		if (c != NULL)
			copy_printable(why, sizeof(why), c->errstr, strnlen(c->errstr, sizeof(c->errstr)));
		snprintf(err, errlen, "kv: cannot connect to redis at %.200s: %s", r->where, why);
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
		snprintf(err, errlen, "kv: cannot set up the connection to redis at %.200s", r->where);
		redisFree(c);
		return NULL;
	}
	if (r->password != NULL) {
		const char *av[3];
		size_t al[3];
		int ac = 0;
		av[ac] = "AUTH";
		al[ac++] = 4;
		if (r->user != NULL) {
			av[ac] = r->user;
			al[ac++] = strlen(r->user);
		}
		av[ac] = r->password;
		al[ac++] = r->password_len;
		if (setup_step(r, c, ac, av, al, err, errlen, rejected) != 0)
			goto fail;
	}
	if (r->db != 0) {
		char db[16];
		int n = snprintf(db, sizeof(db), "%d", r->db);
		const char *av[2] = {"SELECT", db};
		size_t al[2] = {6, (size_t)n};
		if (setup_step(r, c, 2, av, al, err, errlen, rejected) != 0)
			goto fail;
	}
	if (probe) {
		const char *av[1] = {"PING"};
		size_t al[1] = {4};
		if (setup_step(r, c, 1, av, al, err, errlen, rejected) != 0)
			goto fail;
	}
	return c;
fail:
	redisFree(c);
	return NULL;
}

