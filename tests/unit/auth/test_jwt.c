/* test_jwt.c — JWS known answers (RFC 7515 A.1, RFC 8037 A.4) and every
 * refusal RFC 8725 asks for, with an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/b64url.h"

static const int64_t NOW = 1800000000;
static const struct pc_jwt_policy POL = {"https://auth.example", "app", 30};

/* key=value lines of tests/vectors/<file> */
static void vector(const char *file, const char *name, char *out, size_t cap)
{
	const char *dir = getenv("PC_VECTORS");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/vectors", file);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[1024];
	size_t nl = strlen(name);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, nl) == 0 && line[nl] == '=') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, cap, "%s", line + nl + 1);
		}
	}
	fclose(f);
	assert_true(out[0] != '\0');
}

static void hs_ring(struct pc_jws_keyring *ring, const char *kid)
{
	memset(ring, 0, sizeof(*ring));
	ring->alg = PC_JWS_HS256;
	ring->n_keys = 1;
	snprintf(ring->keys[0].kid, sizeof(ring->keys[0].kid), "%s", kid);
	memset(ring->keys[0].secret, 0x5a, 32);
	ring->keys[0].secret[0] = 1;
	ring->keys[0].secret_len = 32;
	ring->keys[0].can_sign = true;
}

static void ed_ring(struct pc_jws_keyring *ring, const char *kid)
{
	memset(ring, 0, sizeof(*ring));
	ring->alg = PC_JWS_EDDSA;
	ring->n_keys = 1;
	snprintf(ring->keys[0].kid, sizeof(ring->keys[0].kid), "%s", kid);
	crypto_sign_keypair(ring->keys[0].public_key, ring->keys[0].secret);
	ring->keys[0].secret_len = crypto_sign_SECRETKEYBYTES;
	ring->keys[0].can_sign = true;
}

/* Signs arbitrary header and claims text with the ring's key. */
static void craft(const struct pc_jws_keyring *ring, const char *hdr, const char *claims, char *out,
                  size_t cap)
{
	assert_int_equal(pc_jws_sign(ring, hdr, (const uint8_t *)claims, strlen(claims), out, cap), 0);
}

static enum pc_jwt_status check(const struct pc_jws_keyring *ring, const char *tok)
{
	struct pc_jwt_claims c;
	return pc_jwt_verify(ring, &POL, tok, strlen(tok), NOW, &c);
}

#define GOOD_CLAIMS "{\"iss\":\"https://auth.example\",\"sub\":\"u1\",\"aud\":\"app\",\"exp\":1800000600,\"iat\":1800000000,\"jti\":\"0123456789abcdef0123\"}"

static void test_rfc7515_a1(void **state)
{
	(void)state;
	char k64[128], tok[512], wrong[64];
	vector("jws_rfc7515_a1.txt", "key", k64, sizeof(k64));
	vector("jws_rfc7515_a1.txt", "token", tok, sizeof(tok));
	vector("jws_rfc7515_a1.txt", "wrong_oneshot_sig", wrong, sizeof(wrong));
	struct pc_jws_keyring ring = {.alg = PC_JWS_HS256, .n_keys = 1};
	size_t n;
	assert_int_equal(pc_b64url_decode(ring.keys[0].secret, 64, &n, k64, strlen(k64)), 0);
	assert_int_equal(n, 64);
	ring.keys[0].secret_len = 64;
	uint8_t payload[512];
	size_t pn;
	assert_int_equal(pc_jws_verify(&ring, tok, strlen(tok), payload, sizeof(payload), &pn), PC_JWT_OK);
	const char want[] = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
	assert_int_equal(pn, sizeof(want) - 1);
	assert_memory_equal(payload, want, pn);
	/* the one-shot API's answer (32-byte key) is not this signature */
	assert_null(strstr(tok, wrong));
	/* as a JWT it is refused: expired on a real clock, and no sub/jti */
	struct pc_jwt_claims c;
	struct pc_jwt_policy joe = {"joe", "x", 0};
	assert_int_not_equal(pc_jwt_verify(&ring, &joe, tok, strlen(tok), NOW, &c), PC_JWT_OK);
	/* one changed signature character fails */
	tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'X' ? 'Y' : 'X';
	assert_int_equal(pc_jws_verify(&ring, tok, strlen(tok), payload, sizeof(payload), &pn),
	                 PC_JWT_BAD_SIGNATURE);
}

static void test_rfc8037_a4(void **state)
{
	(void)state;
	char d[64], x[64], hdr[64], pl[64], tok[256];
	vector("jws_rfc8037_a4.txt", "d", d, sizeof(d));
	vector("jws_rfc8037_a4.txt", "x", x, sizeof(x));
	vector("jws_rfc8037_a4.txt", "header", hdr, sizeof(hdr));
	vector("jws_rfc8037_a4.txt", "payload", pl, sizeof(pl));
	vector("jws_rfc8037_a4.txt", "token", tok, sizeof(tok));
	uint8_t seed[32], xpk[32];
	size_t n;
	assert_int_equal(pc_b64url_decode(seed, 32, &n, d, strlen(d)), 0);
	assert_int_equal(pc_b64url_decode(xpk, 32, &n, x, strlen(x)), 0);
	struct pc_jws_keyring ring = {.alg = PC_JWS_EDDSA, .n_keys = 1};
	crypto_sign_seed_keypair(ring.keys[0].public_key, ring.keys[0].secret, seed);
	ring.keys[0].can_sign = true;
	assert_memory_equal(ring.keys[0].public_key, xpk, 32);
	char out[256];
	assert_int_equal(pc_jws_sign(&ring, hdr, (const uint8_t *)pl, strlen(pl), out, sizeof(out)), 0);
	assert_string_equal(out, tok); /* Ed25519 is deterministic */
	uint8_t payload[64];
	size_t pn;
	assert_int_equal(pc_jws_verify(&ring, tok, strlen(tok), payload, sizeof(payload), &pn), PC_JWT_OK);
	assert_int_equal(pn, strlen(pl));
	sodium_memzero(seed, sizeof(seed));
}

static void test_issue_verify(void **state)
{
	(void)state;
	struct pc_jws_keyring rings[2];
	hs_ring(&rings[0], "k1");
	ed_ring(&rings[1], "e1");
	for (int i = 0; i < 4; i++) {
		if (i == 2) { /* the same again with the fast path */
			pc_jws_ring_prepare(&rings[0]);
			pc_jws_ring_prepare(&rings[1]);
			assert_true(rings[0].keys[0].prepared && rings[1].keys[0].prepared);
		}
		struct pc_jws_keyring *rg = &rings[i % 2];
		char tok[1024], jti[PC_JTI_MAX + 1];
		assert_int_equal(pc_jwt_issue(rg, &POL, "user-1", "sess-1", "a@example.com", "member", "ops,staff", NOW, 900, tok, sizeof(tok), jti), 0);
		struct pc_jwt_claims c;
		assert_int_equal(pc_jwt_verify(rg, &POL, tok, strlen(tok), NOW, &c), PC_JWT_OK);
		assert_string_equal(c.sub, "user-1");
		assert_string_equal(c.sid, "sess-1");
		assert_string_equal(c.email, "a@example.com");
		assert_string_equal(c.role, "member");
		assert_string_equal(c.groups, "ops,staff");
		assert_string_equal(c.jti, jti);
		assert_true(strlen(jti) >= 22); /* 128 bits */
		assert_int_equal(c.exp, NOW + 900);
		/* expired at exp + leeway, valid just before */
		assert_int_equal(pc_jwt_verify(rg, &POL, tok, strlen(tok), NOW + 900 + 29, &c), PC_JWT_OK);
		assert_int_equal(pc_jwt_verify(rg, &POL, tok, strlen(tok), NOW + 900 + 30, &c), PC_JWT_EXPIRED);
		/* every single bit flipped: refused */
		size_t len = strlen(tok);
		for (size_t p = 0; p < len; p++)
			for (int b = 0; b < 8; b++) {
				char m[1024];
				memcpy(m, tok, len + 1);
				m[p] = (char)(m[p] ^ (1 << b));
				assert_int_not_equal(pc_jwt_verify(rg, &POL, m, len, NOW, &c), PC_JWT_OK);
			}
	}
}

static void test_alg_confusion(void **state)
{
	(void)state;
	struct pc_jws_keyring hs, ed;
	hs_ring(&hs, "k1");
	ed_ring(&ed, "k1");
	char tok[1024];
	/* alg none in every spelling, with an empty signature */
	const char *nones[] = {"none", "None", "NONE", "nOnE"};
	for (size_t i = 0; i < 4; i++) {
		char hdr[128], h64[256], c64[512];
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"k1\"}", nones[i]);
		pc_b64url_encode(h64, sizeof(h64), (const uint8_t *)hdr, strlen(hdr));
		pc_b64url_encode(c64, sizeof(c64), (const uint8_t *)GOOD_CLAIMS, strlen(GOOD_CLAIMS));
		snprintf(tok, sizeof(tok), "%s.%s.", h64, c64);
		assert_int_equal(check(&hs, tok), PC_JWT_BAD_ALG);
		assert_int_equal(check(&ed, tok), PC_JWT_BAD_ALG);
	}
	/* another alg than the key's */
	craft(&hs, "{\"alg\":\"HS512\",\"kid\":\"k1\"}", GOOD_CLAIMS, tok, sizeof(tok));
	assert_int_equal(check(&hs, tok), PC_JWT_BAD_ALG);
	craft(&hs, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", GOOD_CLAIMS, tok, sizeof(tok));
	assert_int_equal(check(&hs, tok), PC_JWT_OK);
	assert_int_equal(check(&ed, tok), PC_JWT_BAD_ALG);
	/* HS256 with the Ed25519 public key as the HMAC secret */
	struct pc_jws_keyring evil = hs;
	memcpy(evil.keys[0].secret, ed.keys[0].public_key, 32);
	craft(&evil, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", GOOD_CLAIMS, tok, sizeof(tok));
	assert_int_equal(check(&ed, tok), PC_JWT_BAD_ALG);
	/* missing alg */
	craft(&hs, "{\"kid\":\"k1\"}", GOOD_CLAIMS, tok, sizeof(tok));
	assert_int_equal(check(&hs, tok), PC_JWT_BAD_ALG);
}

static void test_header_rules(void **state)
{
	(void)state;
	struct pc_jws_keyring hs;
	hs_ring(&hs, "k1");
	char tok[1024];
	struct {
		const char *hdr;
		enum pc_jwt_status want;
	} cases[] = {
		{"{\"alg\":\"HS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", PC_JWT_OK},
		{"{\"alg\":\"HS256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}", PC_JWT_OK},
		{"{\"alg\":\"HS256\",\"kid\":\"k1\",\"typ\":\"JOSE\"}", PC_JWT_MALFORMED},
		{"{\"alg\":\"HS256\",\"kid\":\"k1\",\"crit\":[\"exp\"]}", PC_JWT_MALFORMED},
		{"{\"alg\":\"HS256\",\"kid\":\"k1\",\"jku\":\"https://evil\"}", PC_JWT_MALFORMED},
		{"{\"alg\":\"HS256\",\"kid\":\"k1\",\"jwk\":{}}", PC_JWT_MALFORMED},
		{"{\"alg\":\"HS256\",\"kid\":\"k1\",\"alg\":\"HS256\"}", PC_JWT_MALFORMED},
		{"{\"alg\":\"HS256\",\"kid\":\"nope\"}", PC_JWT_UNKNOWN_KID},
		{"{\"alg\":\"HS256\",\"kid\":7}", PC_JWT_UNKNOWN_KID},
		{"[\"alg\",\"HS256\"]", PC_JWT_MALFORMED},
		{"\"HS256\"", PC_JWT_MALFORMED},
		{"{\"alg\":\"HS256\",\"kid\":\"k1\"", PC_JWT_MALFORMED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		craft(&hs, cases[i].hdr, GOOD_CLAIMS, tok, sizeof(tok));
		assert_int_equal(check(&hs, tok), cases[i].want);
	}
	/* no kid: fine with one key, refused while two are live */
	craft(&hs, "{\"alg\":\"HS256\"}", GOOD_CLAIMS, tok, sizeof(tok));
	assert_int_equal(check(&hs, tok), PC_JWT_OK);
	struct pc_jws_keyring two = hs;
	two.n_keys = 2;
	two.keys[1] = hs.keys[0];
	snprintf(two.keys[1].kid, sizeof(two.keys[1].kid), "k0");
	assert_int_equal(check(&two, tok), PC_JWT_UNKNOWN_KID);
	/* previous key still verifies by kid */
	struct pc_jws_keyring old;
	hs_ring(&old, "k0");
	old.keys[0].secret[1] = 9;
	two.keys[1] = old.keys[0];
	craft(&old, "{\"alg\":\"HS256\",\"kid\":\"k0\"}", GOOD_CLAIMS, tok, sizeof(tok));
	assert_int_equal(check(&two, tok), PC_JWT_OK);
	assert_int_equal(check(&hs, tok), PC_JWT_UNKNOWN_KID);
}

static void test_framing(void **state)
{
	(void)state;
	struct pc_jws_keyring hs;
	hs_ring(&hs, "k1");
	char tok[1024], m[1200];
	craft(&hs, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", GOOD_CLAIMS, tok, sizeof(tok));
	assert_int_equal(check(&hs, tok), PC_JWT_OK);
	size_t len = strlen(tok);
	const char *d2 = strrchr(tok, '.');
	/* JWE-like five segments, two segments, JSON serialization, empty */
	snprintf(m, sizeof(m), "%s.a.b", tok);
	assert_int_equal(check(&hs, m), PC_JWT_MALFORMED);
	snprintf(m, sizeof(m), "%.*s", (int)(d2 - tok), tok);
	assert_int_equal(check(&hs, m), PC_JWT_MALFORMED);
	assert_int_equal(check(&hs, "{\"payload\":\"x\",\"signatures\":[]}"), PC_JWT_MALFORMED);
	assert_int_equal(check(&hs, ""), PC_JWT_MALFORMED);
	assert_int_equal(check(&hs, ".."), PC_JWT_MALFORMED);
	/* padding, whitespace, standard alphabet */
	snprintf(m, sizeof(m), "%s=", tok);
	assert_int_not_equal(check(&hs, m), PC_JWT_OK);
	snprintf(m, sizeof(m), "%s ", tok);
	assert_int_not_equal(check(&hs, m), PC_JWT_OK);
	snprintf(m, sizeof(m), " %s", tok);
	assert_int_not_equal(check(&hs, m), PC_JWT_OK);
	memcpy(m, tok, len + 1);
	for (size_t i = 0; i < len; i++)
		if (m[i] == '-' || m[i] == '_')
			m[i] = m[i] == '-' ? '+' : '/';
	if (strcmp(m, tok) != 0)
		assert_int_not_equal(check(&hs, m), PC_JWT_OK);
	/* non-zero trailing bits: the 43rd signature char carries 2 spare bits */
	memcpy(m, tok, len + 1);
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int v = (int)(strchr(alpha, m[len - 1]) - alpha);
	m[len - 1] = alpha[v ^ 1];
	assert_int_not_equal(check(&hs, m), PC_JWT_OK);
	/* signature of the wrong length */
	snprintf(m, sizeof(m), "%.*sAAAA", (int)len, tok);
	assert_int_equal(check(&hs, m), PC_JWT_BAD_SIGNATURE);
	snprintf(m, sizeof(m), "%.*s", (int)(len - 4), tok);
	assert_int_equal(check(&hs, m), PC_JWT_BAD_SIGNATURE);
	/* over 8 KiB */
	static char huge[PC_JWT_MAX_BYTES + 1024];
	char big_claims[PC_JWT_MAX_BYTES];
	snprintf(big_claims, sizeof(big_claims), "{\"iss\":\"https://auth.example\",\"sub\":\"u1\",\"aud\":\"app\",\"exp\":1800000600,\"jti\":\"0123456789abcdef0123\",\"pad\":\"%06000d\"}", 0);
	craft(&hs, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", big_claims, huge, sizeof(huge));
	assert_true(strlen(huge) > PC_JWT_MAX_BYTES);
	assert_int_equal(check(&hs, huge), PC_JWT_MALFORMED);
}

static void test_claims(void **state)
{
	(void)state;
	struct pc_jws_keyring hs;
	hs_ring(&hs, "k1");
	char tok[2048];
#define C(body) "{\"iss\":\"https://auth.example\",\"aud\":\"app\"," body "}"
	struct {
		const char *claims;
		enum pc_jwt_status want;
	} cases[] = {
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\""), PC_JWT_OK},
		{"{\"iss\":\"https://auth.example\",\"aud\":[\"x\",\"app\"],\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\"}", PC_JWT_OK},
		{C("\"sub\":\"u\",\"jti\":\"0123456789abcdef\""), PC_JWT_BAD_CLAIMS},                     /* no exp */
		{C("\"exp\":1800000600,\"jti\":\"0123456789abcdef\""), PC_JWT_BAD_CLAIMS},               /* no sub */
		{C("\"sub\":\"u\",\"exp\":1800000600"), PC_JWT_BAD_CLAIMS},                              /* no jti */
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"short\""), PC_JWT_BAD_CLAIMS},            /* jti < 128 bits */
		{C("\"sub\":\"u\",\"exp\":1800000600.5,\"jti\":\"0123456789abcdef\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1.8e9,\"jti\":\"0123456789abcdef\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":\"1800000600\",\"jti\":\"0123456789abcdef\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":-1,\"jti\":\"0123456789abcdef\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":99999999999999,\"jti\":\"0123456789abcdef\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"nbf\":true,\"jti\":\"0123456789abcdef\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":7,\"exp\":1800000600,\"jti\":\"0123456789abcdef\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"sub\":\"v\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\""), PC_JWT_MALFORMED},
		{C("\"sub\":\"u\\u0000admin\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\""), PC_JWT_MALFORMED},
		{"{\"iss\":\"https://evil\",\"aud\":\"app\",\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\"}", PC_JWT_BAD_CLAIMS},
		{"{\"aud\":\"app\",\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\"}", PC_JWT_BAD_CLAIMS},
		{"{\"iss\":\"https://auth.example\",\"aud\":\"other\",\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\"}", PC_JWT_BAD_CLAIMS},
		{"{\"iss\":\"https://auth.example\",\"aud\":[],\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\"}", PC_JWT_BAD_CLAIMS},
		{"{\"iss\":\"https://auth.example\",\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\"}", PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1799999970,\"jti\":\"0123456789abcdef\""), PC_JWT_EXPIRED},    /* exp + leeway == now */
		{C("\"sub\":\"u\",\"exp\":1799999971,\"jti\":\"0123456789abcdef\""), PC_JWT_OK},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"nbf\":1800000031,\"jti\":\"0123456789abcdef\""), PC_JWT_NOT_YET_VALID},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"nbf\":1800000030,\"jti\":\"0123456789abcdef\""), PC_JWT_OK},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"iat\":1800000031,\"jti\":\"0123456789abcdef\""), PC_JWT_NOT_YET_VALID},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789 abcdef\""), PC_JWT_BAD_CLAIMS}, /* jti alphabet */
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"email\":5"), PC_JWT_BAD_CLAIMS},
		/* role and groups (issue 15): a role name, an array of distinct
		 * group names, at most 32 */
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"role\":\"admin\",\"groups\":[\"ops\",\"a.b\"]"), PC_JWT_OK},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"groups\":[]"), PC_JWT_OK},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"role\":\"root\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"role\":\"\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"role\":1"), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"groups\":\"ops\""), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"groups\":[\"Ops\"]"), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"groups\":[\"a,b\"]"), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"groups\":[\"ops\",\"ops\"]"), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"groups\":[7]"), PC_JWT_BAD_CLAIMS},
		{C("\"sub\":\"u\",\"exp\":1800000600,\"jti\":\"0123456789abcdef\",\"groups\":[\"g1\",\"g2\",\"g3\",\"g4\",\"g5\",\"g6\",\"g7\",\"g8\",\"g9\",\"g10\",\"g11\",\"g12\",\"g13\",\"g14\",\"g15\",\"g16\",\"g17\",\"g18\",\"g19\",\"g20\",\"g21\",\"g22\",\"g23\",\"g24\",\"g25\",\"g26\",\"g27\",\"g28\",\"g29\",\"g30\",\"g31\",\"g32\",\"g33\"]"), PC_JWT_BAD_CLAIMS},
		{"[1,2,3]", PC_JWT_MALFORMED},
		{"not json", PC_JWT_MALFORMED},
	};
#undef C
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		craft(&hs, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", cases[i].claims, tok, sizeof(tok));
		if (check(&hs, tok) != cases[i].want)
			fail_msg("case %zu: got %s, want %s", i, pc_jwt_status_name(check(&hs, tok)),
			         pc_jwt_status_name(cases[i].want));
	}
}

/* A prepared ring refuses exactly what an unprepared one does. */
static void test_prepared_same_verdicts(void **state)
{
	(void)state;
	struct pc_jws_keyring plain, fast;
	hs_ring(&plain, "k1");
	fast = plain;
	pc_jws_ring_prepare(&fast);
	const char *hdrs[] = {"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
	                      "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}", "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k2\"}",
	                      "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\",\"crit\":[]}"};
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		char tok[1024];
		craft(&plain, hdrs[i], GOOD_CLAIMS, tok, sizeof(tok));
		assert_int_equal(check(&fast, tok), check(&plain, tok));
	}
	/* our exact header and member order (the scanner's shape), with every
	 * kind of wrong value: the same verdict as the general parser */
#define OURS(iss, aud, exp, jti, tail) "{\"iss\":\"" iss "\",\"sub\":\"u1\",\"aud\":\"" aud "\",\"exp\":" exp ",\"nbf\":1800000000,\"iat\":1800000000,\"jti\":\"" jti "\"" tail "}"
	const char *claims[] = {
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ""),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"sid\":\"s1\",\"email\":\"a@b.c\""),
		OURS("https://evil.example", "app", "1800000600", "0123456789abcdef", ""),
		OURS("https://auth.example", "other", "1800000600", "0123456789abcdef", ""),
		OURS("https://auth.example", "app", "1700000000", "0123456789abcdef", ""),
		OURS("https://auth.example", "app", "1800000600", "short", ""),
		OURS("https://auth.example", "app", "1800000600", "0123456789 abcdef", ""),
		OURS("https:\\/\\/auth.example", "app", "1800000600", "0123456789abcdef", ""),
		OURS("https://auth.example", "app", "01800000600", "0123456789abcdef", ""),
		OURS("https://auth.example", "app", "1800000600.0", "0123456789abcdef", ""),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"sid\":5"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"jti\":\"0123456789abcdeg\""),
		/* found by fuzz_jwt (fuzz/regressions/fuzz_jwt-2.bin): an empty sid
		 * or email is refused by the general path, so by the scanner too */
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"sid\":\"\""),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"sid\":\"s1\",\"email\":\"\""),
		/* fuzz_jwt-1.bin: bytes that are not UTF-8 (jansson refuses the
		 * document), and valid UTF-8 beyond ASCII (accepted by both) */
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"email\":\"a\xff@b.c\""),
		OURS("https://auth.ex\xc3" "ample", "app", "1800000600", "0123456789abcdef", ""),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"email\":\"j\xc3\xb6rg@b.c\""),
		/* role and groups, as pc_jwt_issue writes them, and wrong ones */
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"email\":\"a@b.c\",\"role\":\"member\",\"groups\":[]"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"email\":\"a@b.c\",\"role\":\"admin\",\"groups\":[\"ops\",\"staff.eu\"]"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"role\":\"member\",\"groups\":[\"ops\"]"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"role\":\"root\",\"groups\":[]"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"role\":\"member\",\"groups\":[\"Ops\"]"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"role\":\"member\",\"groups\":[\"ops\",\"ops\"]"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"role\":\"member\",\"groups\":[\"a,b\"]"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"role\":\"member\",\"groups\":[\"ops\",]"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"role\":\"member\",\"groups\":[\"\"]"),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"role\":\"member\""),
		OURS("https://auth.example", "app", "1800000600", "0123456789abcdef", ",\"groups\":[\"ops\"],\"role\":\"member\""),
	};
#undef OURS
	for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
		char tok[1024];
		craft(&plain, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", claims[i], tok, sizeof(tok));
		if (check(&fast, tok) != check(&plain, tok))
			fail_msg("claims %zu: fast %s, general %s", i, pc_jwt_status_name(check(&fast, tok)),
			         pc_jwt_status_name(check(&plain, tok)));
	}
	assert_true(fast.keys[0].prepared);
	assert_int_equal(fast.keys[0].header_b64_len, strlen("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0"));
}

/* The per-thread cache of verified tokens gives exactly pc_jwt_verify's
 * verdicts and claims: for the same token later (expiry checked again),
 * for every one-byte change of a cached token, under another key, and with
 * slots evicted by many tokens. */
static void test_verify_cached(void **state)
{
	(void)state;
	struct pc_jws_keyring ring, other;
	hs_ring(&ring, "k1");
	hs_ring(&other, "k1");
	other.keys[0].secret[1] = 2; /* same kid, another key */
	static struct pc_jwt_cache cache;
	memset(&cache, 0, sizeof(cache));
	char tok[1024], jti[PC_JTI_MAX + 1];
	assert_int_equal(pc_jwt_issue(&ring, &POL, "u1", "s1", "a@b.c", "admin", "", NOW, 600, tok, sizeof(tok), jti), 0);
	size_t len = strlen(tok);
	struct pc_jwt_claims want, got;
	memset(&want, 0, sizeof(want));
	assert_int_equal(pc_jwt_verify(&ring, &POL, tok, len, NOW, &want), PC_JWT_OK);
	for (int k = 0; k < 2; k++) { /* a miss, then a hit */
		memset(&got, 0, sizeof(got));
		assert_int_equal(pc_jwt_verify_cached(&cache, &ring, &POL, tok, len, NOW + k, &got), PC_JWT_OK);
		assert_memory_equal(&got, &want, sizeof(got));
	}
	/* cached, then expired: the time is checked on a hit */
	assert_int_equal(pc_jwt_verify_cached(&cache, &ring, &POL, tok, len, NOW + 600 + 30, &got), PC_JWT_EXPIRED);
	assert_int_equal(pc_jwt_verify(&ring, &POL, tok, len, NOW + 600 + 30, &got), PC_JWT_EXPIRED);
	assert_int_equal(pc_jwt_verify_cached(&cache, &ring, &POL, tok, len, NOW, &got), PC_JWT_OK);
	/* another key with the same kid: not served from the cache */
	assert_int_equal(pc_jwt_verify_cached(&cache, &other, &POL, tok, len, NOW, &got), PC_JWT_BAD_SIGNATURE);
	/* every one-byte change of the cached token: the uncached verdict */
	char bad[1024];
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, tok, len + 1);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		assert_int_equal(pc_jwt_verify_cached(&cache, &ring, &POL, tok, len, NOW, &got), PC_JWT_OK);
		enum pc_jwt_status plain = pc_jwt_verify(&ring, &POL, bad, len, NOW, &got);
		assert_int_not_equal(plain, PC_JWT_OK);
		assert_int_equal(pc_jwt_verify_cached(&cache, &ring, &POL, bad, len, NOW, &got), plain);
	}
	/* a prefix of the token (same bytes, shorter) */
	assert_int_not_equal(pc_jwt_verify_cached(&cache, &ring, &POL, tok, len - 1, NOW, &got), PC_JWT_OK);
	/* many tokens through the slots: every verdict and claim set right */
	for (int i = 0; i < 4 * PC_JWT_CACHE_SLOTS; i++) {
		char sub[16];
		snprintf(sub, sizeof(sub), "u%d", i);
		assert_int_equal(pc_jwt_issue(&ring, &POL, sub, NULL, NULL, NULL, NULL, NOW, 600, tok, sizeof(tok), jti), 0);
		for (int k = 0; k < 2; k++) {
			assert_int_equal(pc_jwt_verify_cached(&cache, &ring, &POL, tok, strlen(tok), NOW, &got), PC_JWT_OK);
			assert_string_equal(got.sub, sub);
			assert_string_equal(got.jti, jti);
		}
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7515_a1),
		cmocka_unit_test(test_rfc8037_a4),
		cmocka_unit_test(test_issue_verify),
		cmocka_unit_test(test_alg_confusion),
		cmocka_unit_test(test_header_rules),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_prepared_same_verdicts),
		cmocka_unit_test(test_verify_cached),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
