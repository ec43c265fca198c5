/* test_session.c — the sealed session cookie: round trip, rotation, and
 * every kind of tampering refused at the seal/open level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "auth/session.h"

static struct pc_keys keys_a, keys_b, keys_rot;

static void make_keyset(struct pc_keyset *ks, uint8_t fill)
{
	memset(ks, 0, sizeof(*ks));
	randombytes_buf(ks->master, sizeof(ks->master));
	ks->master[0] = fill;
	for (int i = 1; i < PC_SUBKEY__COUNT; i++)
		crypto_kdf_derive_from_key(ks->sub[i], 32, (uint64_t)i, "portcull", ks->master);
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), ks->master, sizeof(ks->master), NULL, 0);
	ks->id = h[0];
}

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	make_keyset(&keys_a.current, 1);
	do
		make_keyset(&keys_b.current, 2);
	while (keys_b.current.id == keys_a.current.id);
	/* rotation: b is current, a is previous */
	keys_rot.current = keys_b.current;
	keys_rot.previous = keys_a.current;
	keys_rot.has_previous = true;
	return 0;
}

static const int64_t NOW = 1800000000;

static void sealed(char out[PC_SESSION_COOKIE_LEN + 1], uint8_t secret[32], const struct pc_keys *k)
{
	randombytes_buf(secret, 32);
	pc_session_seal(out, secret, NOW + 3600, k);
	assert_int_equal(strlen(out), PC_SESSION_COOKIE_LEN);
}

static void test_round_trip(void **state)
{
	(void)state;
	char v[PC_SESSION_COOKIE_LEN + 1];
	uint8_t s[32], got[32];
	int64_t exp;
	sealed(v, s, &keys_a);
	assert_int_equal(pc_session_open(got, &exp, v, strlen(v), &keys_a, NOW), PC_COOKIE_OK);
	assert_memory_equal(got, s, 32);
	assert_int_equal(exp, NOW + 3600);
}

static void test_two_seals_differ(void **state)
{
	(void)state;
	char v1[PC_SESSION_COOKIE_LEN + 1], v2[PC_SESSION_COOKIE_LEN + 1];
	uint8_t s[32];
	randombytes_buf(s, 32);
	pc_session_seal(v1, s, NOW + 10, &keys_a);
	pc_session_seal(v2, s, NOW + 10, &keys_a);
	assert_string_not_equal(v1, v2); /* fresh nonce every time */
}

static void test_every_bit_flip_refused(void **state)
{
	(void)state;
	char v[PC_SESSION_COOKIE_LEN + 1];
	uint8_t s[32], got[32], raw[PC_SESSION_SEALED_BYTES];
	int64_t exp;
	size_t bl;
	sealed(v, s, &keys_a);
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), v, strlen(v), NULL, &bl, NULL,
	                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	for (size_t bit = 0; bit < sizeof(raw) * 8; bit++) {
		uint8_t t[PC_SESSION_SEALED_BYTES];
		char tv[PC_SESSION_COOKIE_LEN + 1];
		memcpy(t, raw, sizeof(t));
		t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		sodium_bin2base64(tv, sizeof(tv), t, sizeof(t), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		assert_int_equal(pc_session_open(got, &exp, tv, strlen(tv), &keys_a, NOW), PC_COOKIE_TAMPERED);
		uint8_t zero[32] = {0};
		assert_memory_equal(got, zero, 32);
	}
	/* and every bit of the text form */
	for (size_t i = 0; i < PC_SESSION_COOKIE_LEN; i++) {
		for (int b = 0; b < 8; b++) {
			char tv[PC_SESSION_COOKIE_LEN + 1];
			memcpy(tv, v, sizeof(tv));
			tv[i] = (char)(tv[i] ^ (1 << b));
			if (tv[i] == '\0')
				continue; /* would shorten the string: covered by truncation */
			assert_int_not_equal(pc_session_open(got, &exp, tv, PC_SESSION_COOKIE_LEN, &keys_a, NOW),
			                     PC_COOKIE_OK);
		}
	}
}

static void test_truncated_extended_padded(void **state)
{
	(void)state;
	char v[PC_SESSION_COOKIE_LEN + 8];
	uint8_t s[32], got[32];
	int64_t exp;
	sealed(v, s, &keys_a);
	for (size_t n = 0; n < PC_SESSION_COOKIE_LEN; n++)
		assert_int_equal(pc_session_open(got, &exp, v, n, &keys_a, NOW), PC_COOKIE_TAMPERED);
	strcat(v, "A");
	assert_int_equal(pc_session_open(got, &exp, v, strlen(v), &keys_a, NOW), PC_COOKIE_TAMPERED);
	v[PC_SESSION_COOKIE_LEN] = '=';
	assert_int_equal(pc_session_open(got, &exp, v, strlen(v), &keys_a, NOW), PC_COOKIE_TAMPERED);
}

static void test_reencoded_refused(void **state)
{
	(void)state;
	char v[PC_SESSION_COOKIE_LEN + 1], std[PC_SESSION_COOKIE_LEN + 4];
	uint8_t s[32], got[32], raw[PC_SESSION_SEALED_BYTES];
	int64_t exp;
	size_t bl;
	/* find a value whose standard base64 differs (has + or /) */
	for (int tries = 0; tries < 200; tries++) {
		sealed(v, s, &keys_a);
		if (strpbrk(v, "-_") != NULL)
			break;
	}
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), v, strlen(v), NULL, &bl, NULL,
	                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	sodium_bin2base64(std, sizeof(std), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	assert_int_equal(pc_session_open(got, &exp, std, strlen(std), &keys_a, NOW), PC_COOKIE_TAMPERED);
	/* a space inside */
	char sp[PC_SESSION_COOKIE_LEN + 1];
	memcpy(sp, v, sizeof(sp));
	sp[50] = ' ';
	assert_int_equal(pc_session_open(got, &exp, sp, PC_SESSION_COOKIE_LEN, &keys_a, NOW), PC_COOKIE_TAMPERED);
}

static void test_other_key_refused(void **state)
{
	(void)state;
	char v[PC_SESSION_COOKIE_LEN + 1];
	uint8_t s[32], got[32];
	int64_t exp;
	sealed(v, s, &keys_b);
	assert_int_equal(pc_session_open(got, &exp, v, strlen(v), &keys_a, NOW), PC_COOKIE_TAMPERED);
}

static void test_previous_key_opens(void **state)
{
	(void)state;
	char v[PC_SESSION_COOKIE_LEN + 1];
	uint8_t s[32], got[32];
	int64_t exp;
	sealed(v, s, &keys_a); /* sealed before rotation */
	assert_int_equal(pc_session_open(got, &exp, v, strlen(v), &keys_rot, NOW), PC_COOKIE_OK);
	assert_memory_equal(got, s, 32);
	sealed(v, s, &keys_rot); /* new cookies use the new key */
	assert_int_equal(pc_session_open(got, &exp, v, strlen(v), &keys_b, NOW), PC_COOKIE_OK);
	assert_int_equal(pc_session_open(got, &exp, v, strlen(v), &keys_a, NOW), PC_COOKIE_TAMPERED);
}

static void test_expired(void **state)
{
	(void)state;
	char v[PC_SESSION_COOKIE_LEN + 1];
	uint8_t s[32], got[32];
	int64_t exp;
	randombytes_buf(s, 32);
	pc_session_seal(v, s, NOW, &keys_a);
	assert_int_equal(pc_session_open(got, &exp, v, strlen(v), &keys_a, NOW), PC_COOKIE_EXPIRED);
	assert_int_equal(pc_session_open(got, &exp, v, strlen(v), &keys_a, NOW - 1), PC_COOKIE_OK);
}

static void test_cookie_header(void **state)
{
	(void)state;
	struct pc_config cfg;
	char h[512];
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(pc_session_cookie_header(h, sizeof(h), &cfg, "v", 2592000), 0);
	assert_string_equal(h, "__Host-portcullis_session=v; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=2592000");
	strcpy(cfg.cookie_domain, "example.com");
	assert_int_equal(pc_session_cookie_header(h, sizeof(h), &cfg, "v", 0), 0);
	assert_string_equal(h, "__Secure-portcullis_session=v; Path=/; Domain=example.com; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
}

/* The touch rule of auth/authenticate.c, replayed: a request at t writes
 * last_seen_at when it is at least the interval old, and fails when it is
 * idle_s old. Requests every `every` seconds for `span`: alive at the end? */
static bool survives(int64_t idle_s, int64_t every, int64_t span)
{
	int64_t last_seen = 0;
	for (int64_t t = every; t <= span; t += every) {
		if (last_seen + idle_s <= t)
			return false;
		if (last_seen + pc_session_touch_interval(idle_s) <= t)
			last_seen = t;
	}
	return true;
}

static void test_touch_interval(void **state)
{
	(void)state;
	assert_int_equal(pc_session_touch_interval(60), 15);
	assert_int_equal(pc_session_touch_interval(7 * 86400), PC_SESSION_TOUCH_MAX);
	assert_int_equal(pc_session_touch_interval(240), 60);
	assert_int_equal(pc_session_touch_interval(3), 1);
	/* the finding: idle 60 s, used every 10 s, must outlive 80 s */
	assert_true(survives(60, 10, 80));
	assert_true(survives(60, 10, 3600));
	/* any timeout from the minimum up: used at three quarters of it
	 * (minus the 10 s verify cache, whose hits do not write) lives on */
	for (int64_t idle = 60; idle <= 3 * 86400; idle += idle < 600 ? 1 : 397) {
		int64_t every = idle - pc_session_touch_interval(idle) - 10;
		assert_true(pc_session_touch_interval(idle) * 4 <= idle);
		assert_true(survives(idle, every, 20 * idle));
		assert_false(survives(idle, idle, 2 * idle)); /* and idleness still ends it */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_two_seals_differ),
		cmocka_unit_test(test_every_bit_flip_refused),
		cmocka_unit_test(test_truncated_extended_padded),
		cmocka_unit_test(test_reencoded_refused),
		cmocka_unit_test(test_other_key_refused),
		cmocka_unit_test(test_previous_key_opens),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_cookie_header),
		cmocka_unit_test(test_touch_interval),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
