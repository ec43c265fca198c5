/* test_csrf.c — the signed double-submit token: binding, expiry, rotation,
 * and every single-bit change refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "auth/csrf.h"

static struct pc_keys keys;

static void make_keyset(struct pc_keyset *ks)
{
	randombytes_buf(ks->master, sizeof(ks->master));
	uint8_t h[32];
	crypto_generichash(h, sizeof(h), ks->master, sizeof(ks->master), NULL, 0);
	ks->id = h[0];
	for (int i = 1; i < PC_SUBKEY__COUNT; i++)
		crypto_kdf_derive_from_key(ks->sub[i], PC_SECRET_KEY_BYTES, (uint64_t)i, "portcull", ks->master);
}

static int setup(void **state)
{
	(void)state;
	do {
		make_keyset(&keys.current);
		make_keyset(&keys.previous);
	} while (keys.current.id == keys.previous.id);
	keys.has_previous = false;
	return 0;
}

static const char *SID = "0123456789abcdef0123456789abcdef";
static const char *SID2 = "fedcba9876543210fedcba9876543210";
static const int64_t NOW = 1800000000;

static enum pc_csrf_status verify(const char *t, const char *sid, int64_t now)
{
	return pc_csrf_verify(t, strlen(t), &keys, sid, now);
}

static void test_round_trip(void **state)
{
	(void)state;
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t, &keys, NULL, NOW);
	assert_int_equal(strlen(t), PC_CSRF_TOKEN_LEN);
	assert_int_equal(verify(t, NULL, NOW), PC_CSRF_OK);
	pc_csrf_issue(t, &keys, SID, NOW);
	assert_int_equal(verify(t, SID, NOW + PC_CSRF_LIFETIME_S - 1), PC_CSRF_OK);
	char t2[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t2, &keys, SID, NOW);
	assert_string_not_equal(t, t2); /* a fresh nonce each time */
}

static void test_binding(void **state)
{
	(void)state;
	char pre[PC_CSRF_TOKEN_LEN + 1], bound[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(pre, &keys, NULL, NOW);
	pc_csrf_issue(bound, &keys, SID, NOW);
	assert_int_equal(verify(bound, SID2, NOW), PC_CSRF_WRONG_BINDING); /* another session's */
	assert_int_equal(verify(pre, SID, NOW), PC_CSRF_WRONG_BINDING);    /* pre-session after login */
	assert_int_equal(verify(bound, NULL, NOW), PC_CSRF_WRONG_BINDING); /* session token, no session */
}

static void test_expiry(void **state)
{
	(void)state;
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t, &keys, SID, NOW);
	assert_int_equal(verify(t, SID, NOW + PC_CSRF_LIFETIME_S), PC_CSRF_EXPIRED);
	assert_int_equal(verify(t, SID, NOW + 86400 * 365), PC_CSRF_EXPIRED);
}

static void test_rotation(void **state)
{
	(void)state;
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t, &keys, SID, NOW);
	struct pc_keyset old = keys.current;
	keys.current = keys.previous;
	keys.previous = old;
	assert_int_equal(verify(t, SID, NOW), PC_CSRF_INVALID); /* old key not configured */
	keys.has_previous = true;
	assert_int_equal(verify(t, SID, NOW), PC_CSRF_OK); /* ... and now it is */
}

static void test_every_bit_flip(void **state)
{
	(void)state;
	const char *sids[2] = {NULL, SID};
	for (int k = 0; k < 2; k++) {
		char t[PC_CSRF_TOKEN_LEN + 1];
		pc_csrf_issue(t, &keys, sids[k], NOW);
		for (size_t i = 0; i < PC_CSRF_TOKEN_LEN; i++) {
			for (int b = 0; b < 8; b++) {
				char m[PC_CSRF_TOKEN_LEN + 1];
				memcpy(m, t, sizeof(m));
				m[i] = (char)(m[i] ^ (1 << b));
				if (m[i] == '\0')
					continue; /* shortens the string: covered below */
				assert_int_not_equal(pc_csrf_verify(m, PC_CSRF_TOKEN_LEN, &keys, sids[k], NOW),
				                     PC_CSRF_OK);
			}
		}
	}
}

static void test_malformed(void **state)
{
	(void)state;
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t, &keys, NULL, NOW);
	assert_int_equal(pc_csrf_verify(t, PC_CSRF_TOKEN_LEN - 1, &keys, NULL, NOW), PC_CSRF_INVALID);
	char longer[PC_CSRF_TOKEN_LEN + 2];
	memcpy(longer, t, PC_CSRF_TOKEN_LEN);
	longer[PC_CSRF_TOKEN_LEN] = 'A';
	longer[PC_CSRF_TOKEN_LEN + 1] = '\0';
	assert_int_equal(verify(longer, NULL, NOW), PC_CSRF_INVALID);
	assert_int_equal(verify("", NULL, NOW), PC_CSRF_INVALID);
	char std[PC_CSRF_TOKEN_LEN + 1];
	memcpy(std, t, sizeof(std));
	for (size_t i = 0; i < PC_CSRF_TOKEN_LEN; i++) /* standard alphabet re-encoding */
		if (std[i] == '-')
			std[i] = '+';
		else if (std[i] == '_')
			std[i] = '/';
	if (strcmp(std, t) != 0)
		assert_int_equal(verify(std, NULL, NOW), PC_CSRF_INVALID);
}

static void test_cookie_header(void **state)
{
	(void)state;
	char t[PC_CSRF_TOKEN_LEN + 1], h[256];
	pc_csrf_issue(t, &keys, NULL, NOW);
	assert_int_equal(pc_csrf_cookie_header(h, sizeof(h), t), 0);
	assert_non_null(strstr(h, "__Host-portcullis_csrf="));
	assert_non_null(strstr(h, "; Path=/; Secure; SameSite=Strict; Max-Age=3600"));
	assert_null(strstr(h, "HttpOnly")); /* the page's script must read it */
	assert_null(strstr(h, "Domain"));
	assert_int_equal(pc_csrf_cookie_header(h, 50, t), -1);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_round_trip, setup),
		cmocka_unit_test_setup(test_binding, setup),
		cmocka_unit_test_setup(test_expiry, setup),
		cmocka_unit_test_setup(test_rotation, setup),
		cmocka_unit_test_setup(test_every_bit_flip, setup),
		cmocka_unit_test_setup(test_malformed, setup),
		cmocka_unit_test_setup(test_cookie_header, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
