/*
 * micro.c — micro-benchmarks of the per-request security work, each with a
 * baseline measured in the same run so the figures read as ratios:
 *
 *   csrf_issue, csrf_verify        vs one HMAC-SHA-256 of 64 bytes
 *   jwt_verify (HS256, EdDSA)      vs one HMAC-SHA-256 of the same token text
 *   revocation check, 10^3 and 10^6 revoked jtis (embedded kv)
 *                                  vs the same check on an empty list
 *   session cookie open            vs one HMAC-SHA-256 of 64 bytes
 *
 * Prints ns/op (best of 5 rounds). Run: build/pc_micro [ops_per_round]
 * [redis://host:port]: with a Redis URL, also the revocation check against
 * Redis (the kv call the server makes per bearer request), as p50/p99 of
 * single calls, beside a PING round trip on the same connection pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth/csrf.h"
#include "auth/jwt.h"
#include "auth/session.h"
#include "config/config.h"
#include "core/b64url.h"
#include "http/head.h"
#include "kv/kv.h"

static volatile unsigned sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef void (*op_fn)(void *ctx, unsigned i);

static double bench(op_fn f, void *ctx, unsigned ops)
{
	double best = 1e18;
	for (int round = 0; round < 5; round++) {
		uint64_t t0 = now_ns();
		for (unsigned i = 0; i < ops; i++)
			f(ctx, i);
		double ns = (double)(now_ns() - t0) / ops;
		if (ns < best)
			best = ns;
	}
	return best;
}

static void report(const char *name, double ns, const char *base, double base_ns)
{
	printf("%-34s %9.1f ns/op   %-26s %8.1f ns/op   ratio %5.2fx\n", name, ns, base, base_ns, ns / base_ns);
}

/* ---- contexts ---- */

static struct pc_keys keys;
static uint8_t hmac_key[32];

static void op_hmac64(void *ctx, unsigned i)
{
	(void)ctx;
	uint8_t in[64], mac[32];
	memset(in, (int)i, sizeof(in));
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, hmac_key, sizeof(hmac_key));
	crypto_auth_hmacsha256_update(&st, in, sizeof(in));
	crypto_auth_hmacsha256_final(&st, mac);
	sink += mac[0];
}

static void op_csrf_issue(void *ctx, unsigned i)
{
	(void)i;
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t, &keys, ctx, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 1800000000);
	sink += (unsigned)t[5];
}

static char csrf_token[PC_CSRF_TOKEN_LEN + 1];
static void op_csrf_verify(void *ctx, unsigned i)
{
	(void)i;
	sink += (unsigned)pc_csrf_verify(csrf_token, PC_CSRF_TOKEN_LEN, &keys, ctx, NULL, 0, 1800000000);
}

struct jwt_ctx {
	struct pc_jws_keyring ring;
	struct pc_jwt_policy pol;
	char tok[1024];
	size_t len;
};

static void op_jwt_verify(void *ctx, unsigned i)
{
	(void)i;
	struct jwt_ctx *c = ctx;
	struct pc_jwt_claims cl;
	sink += (unsigned)pc_jwt_verify(&c->ring, &c->pol, c->tok, c->len, 1800000000, &cl);
}

static struct pc_jwt_cache jwt_cache;
static void op_jwt_cached(void *ctx, unsigned i)
{
	(void)i;
	struct jwt_ctx *c = ctx;
	struct pc_jwt_claims cl;
	sink += (unsigned)pc_jwt_verify_cached(&jwt_cache, &c->ring, &c->pol, c->tok, c->len, 1800000000, &cl);
}

static void op_hmac_token(void *ctx, unsigned i)
{
	(void)i;
	struct jwt_ctx *c = ctx;
	uint8_t mac[32];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, hmac_key, sizeof(hmac_key));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)c->tok, c->len);
	crypto_auth_hmacsha256_final(&st, mac);
	sink += mac[0];
}

struct rev_ctx {
	struct pc_kv *kv;
	char keys[64][40];
};

static void op_rev_check(void *ctx, unsigned i)
{
	struct rev_ctx *c = ctx;
	int64_t v, ttl;
	sink += (unsigned)pc_kv_get(c->kv, c->keys[i % 64], &v, &ttl);
}

/* base64url: ours (strict, constant-time per character) against
 * libsodium's decoder on the same text, the size of a JWT payload */
static char b64_text[344];
static size_t b64_len;
static uint8_t b64_out[256];
static void op_b64_ours(void *ctx, unsigned i)
{
	(void)ctx;
	b64_text[0] = "ABCD"[i & 3];
	size_t n = 0;
	if (pc_b64url_decode(b64_out, sizeof(b64_out), &n, b64_text, b64_len) == 0)
		sink += b64_out[0] + (unsigned)n;
	else
		abort();
}

static void op_b64_sodium(void *ctx, unsigned i)
{
	(void)ctx;
	b64_text[0] = "ABCD"[i & 3];
	size_t n = 0;
	if (sodium_base642bin(b64_out, sizeof(b64_out), b64_text, b64_len, NULL, &n, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0)
		sink += b64_out[0] + (unsigned)n;
}

/* the head of a verify answer (200, identity headers) with the security
 * headers, against copying the same bytes */
static char sec_block[1024], head_out[4096], head_copy[4096];
static size_t head_copy_len;
static struct pc_head head = {
	.status = 200,
	.request_id = "0123456789abcdef0123456789abcdef",
	.date = "Date: Mon, 23 Nov 2026 11:00:00 GMT\r\n",
	.date_len = 37,
	.ctype = "application/json",
	.body_len = 2,
	.extra = "X-Auth-User-Id: 0123456789abcdef0123456789abcdef\r\nX-Auth-Email: user@example.com\r\n"
	         "X-Auth-Method: jwt\r\nX-Auth-Session: fedcba9876543210fedcba9876543210\r\n",
};
static void op_head_write(void *ctx, unsigned i)
{
	(void)ctx;
	head.body_len = 2 + (i & 7);
	sink += (unsigned)pc_head_write(head_out, &head);
}

static void op_head_copy(void *ctx, unsigned i)
{
	(void)ctx;
	memcpy(head_out, head_copy, head_copy_len - (i & 1));
	sink += (unsigned char)head_out[i & 63];
}

static char cookie[PC_SESSION_COOKIE_LEN + 1];
static void op_cookie_open(void *ctx, unsigned i)
{
	(void)ctx;
	(void)i;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t exp;
	sink += (unsigned)pc_session_open(secret, &exp, cookie, PC_SESSION_COOKIE_LEN, &keys, 1800000000);
}

static void make_keyset(struct pc_keyset *ks)
{
	randombytes_buf(ks->master, sizeof(ks->master));
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), ks->master, sizeof(ks->master), NULL, 0);
	ks->id = h[0];
	for (int i = 1; i < PC_SUBKEY__COUNT; i++)
		crypto_kdf_derive_from_key(ks->sub[i], PC_SECRET_KEY_BYTES, (uint64_t)i, "portcull", ks->master);
}

static struct pc_kv *revocation_list(size_t n)
{
	struct pc_kv *kv;
	char err[128];
	if (pc_kv_open(&kv, NULL, err, sizeof(err)) != 0)
		exit(1);
	char key[64];
	for (size_t i = 0; i < n; i++) {
		uint8_t raw[16];
		randombytes_buf(raw, sizeof(raw));
		char b[40];
		sodium_bin2base64(b, sizeof(b), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		snprintf(key, sizeof(key), "jti:%s", b);
		if (pc_kv_set(kv, key, 1, 900) != PC_OK) {
			fprintf(stderr, "micro: cannot fill the kv\n");
			exit(1);
		}
	}
	return kv;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void redis_latency(const char *url, unsigned n)
{
	struct pc_kv *kv;
	char err[256];
	if (pc_kv_open(&kv, url, err, sizeof(err)) != 0 || pc_kv_is_local(kv)) {
		fprintf(stderr, "micro: cannot open %s: %s\n", url, err);
		return;
	}
	for (int i = 0; i < 1000; i++) /* 10^3 revoked, and warm connections */
	{
		char key[64];
		snprintf(key, sizeof(key), "jti:benchrevoked%06d", i);
		if (pc_kv_set(kv, key, 1, 600) != PC_OK) {
			fprintf(stderr, "micro: cannot fill %s\n", url);
			pc_kv_close(kv);
			return;
		}
	}
	uint64_t *get = calloc(n, sizeof(*get)), *ping = calloc(n, sizeof(*ping));
	for (unsigned i = 0; i < n; i++) {
		int64_t v, ttl;
		uint64_t t0 = now_ns();
		sink += (unsigned)pc_kv_get(kv, "jti:notrevoked0123456789", &v, &ttl);
		uint64_t t1 = now_ns();
		sink += (unsigned)pc_kv_ping(kv);
		uint64_t t2 = now_ns();
		get[i] = t1 - t0;
		ping[i] = t2 - t1;
	}
	qsort(get, n, sizeof(*get), cmp_u64);
	qsort(ping, n, sizeof(*ping), cmp_u64);
	printf("revocation check, Redis (loopback)   p50 %7.1f us  p99 %7.1f us   PING p50 %7.1f us  p99 %7.1f us   ratio p99 %5.2fx\n",
	       get[n / 2] / 1e3, get[n * 99 / 100] / 1e3, ping[n / 2] / 1e3, ping[n * 99 / 100] / 1e3,
	       (double)get[n * 99 / 100] / (double)ping[n * 99 / 100]);
	free(get);
	free(ping);
	pc_kv_close(kv);
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	unsigned ops = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000;
	make_keyset(&keys.current);
	randombytes_buf(hmac_key, sizeof(hmac_key));
	const char *sid = "0123456789abcdef0123456789abcdef";
	double base = bench(op_hmac64, NULL, ops);

	report("csrf_issue (session-bound)", bench(op_csrf_issue, (void *)sid, ops), "hmac-sha256(64 B)", base);
	pc_csrf_issue(csrf_token, &keys, sid, NULL, 1800000000);
	report("csrf_verify", bench(op_csrf_verify, (void *)sid, ops), "hmac-sha256(64 B)", base);

	uint8_t secret[PC_SESSION_SECRET_BYTES];
	randombytes_buf(secret, sizeof(secret));
	pc_session_seal(cookie, secret, 1800000000 + 3600, &keys);
	report("session cookie open", bench(op_cookie_open, NULL, ops), "hmac-sha256(64 B)", base);

	struct jwt_ctx *jc = calloc(1, sizeof(*jc));
	jc->pol = (struct pc_jwt_policy){"portcullis", "portcullis", 30};
	for (int alg = 0; alg < 2; alg++) {
		memset(&jc->ring, 0, sizeof(jc->ring));
		jc->ring.n_keys = 1;
		jc->ring.keys[0].can_sign = true;
		snprintf(jc->ring.keys[0].kid, sizeof(jc->ring.keys[0].kid), "k1");
		if (alg == 0) {
			jc->ring.alg = PC_JWS_HS256;
			randombytes_buf(jc->ring.keys[0].secret, 32);
			jc->ring.keys[0].secret_len = 32;
		} else {
			jc->ring.alg = PC_JWS_EDDSA;
			crypto_sign_keypair(jc->ring.keys[0].public_key, jc->ring.keys[0].secret);
		}
		pc_jws_ring_prepare(&jc->ring);
		char jti[PC_JTI_MAX + 1];
		if (pc_jwt_issue(&jc->ring, &jc->pol, sid, sid, "user@example.com", "member", "staff", 1800000000, 900, jc->tok,
		                 sizeof(jc->tok), jti) != 0)
			return 1;
		jc->len = strlen(jc->tok);
		report(alg == 0 ? "jwt_verify HS256" : "jwt_verify EdDSA",
		       bench(op_jwt_verify, jc, alg == 0 ? ops : ops / 10), "hmac-sha256(token text)",
		       bench(op_hmac_token, jc, ops));
		if (alg == 0)
			report("jwt_verify HS256, seen before", bench(op_jwt_cached, jc, ops),
			       "hmac-sha256(token text)", bench(op_hmac_token, jc, ops));
	}

	uint8_t raw[255];
	randombytes_buf(raw, sizeof(raw));
	pc_b64url_encode(b64_text, sizeof(b64_text), raw, sizeof(raw));
	b64_len = strlen(b64_text);
	report("b64url decode, 340 chars", bench(op_b64_ours, NULL, ops), "sodium_base642bin, same",
	       bench(op_b64_sodium, NULL, ops));

	head.security_len = pc_head_security(sec_block, sizeof(sec_block), false);
	head.security = sec_block;
	head.extra_len = strlen(head.extra);
	head_copy_len = pc_head_write(head_copy, &head);
	report("response head + security headers", bench(op_head_write, NULL, ops), "memcpy of the same bytes",
	       bench(op_head_copy, NULL, ops));

	struct rev_ctx *rc = calloc(1, sizeof(*rc));
	for (int i = 0; i < 64; i++)
		snprintf(rc->keys[i], sizeof(rc->keys[i]), "jti:notrevoked%02dABCDEFGHIJ", i);
	rc->kv = revocation_list(0);
	double empty = bench(op_rev_check, rc, ops);
	pc_kv_close(rc->kv);
	size_t sizes[2] = {1000, 1000000};
	for (int s = 0; s < 2; s++) {
		rc->kv = revocation_list(sizes[s]);
		char name[64];
		snprintf(name, sizeof(name), "revocation check, %zu revoked", sizes[s]);
		report(name, bench(op_rev_check, rc, ops), "same check, empty list", empty);
		pc_kv_close(rc->kv);
	}
	free(rc);
	free(jc);
	if (argc > 2)
		redis_latency(argv[2], ops / 10 > 20000 ? 20000 : ops / 10);
	sodium_memzero(&keys, sizeof(keys));
	return 0;
}
