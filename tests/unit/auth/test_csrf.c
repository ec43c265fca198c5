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
/* two clients' pre-session ids (the __Host-portcullis_presession cookie) */
static const char *PRE = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
static const char *PRE2 = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4";

/* A request whose session is sid and whose pre-session cookie is PRE. */
static enum pc_csrf_status verify(const char *t, const char *sid, int64_t now)
{
	return pc_csrf_verify(t, strlen(t), &keys, sid, PRE, strlen(PRE), now);
}

static void test_round_trip(void **state)
{
	(void)state;
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t, &keys, NULL, PRE, NOW);
	assert_int_equal(strlen(t), PC_CSRF_TOKEN_LEN);
	assert_int_equal(verify(t, NULL, NOW), PC_CSRF_OK);
	pc_csrf_issue(t, &keys, SID, NULL, NOW);
	assert_int_equal(verify(t, SID, NOW + PC_CSRF_LIFETIME_S - 1), PC_CSRF_OK);
	char t2[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t2, &keys, SID, NULL, NOW);
	assert_string_not_equal(t, t2); /* a fresh nonce each time */
}

static void test_binding(void **state)
{
	(void)state;
	char pre[PC_CSRF_TOKEN_LEN + 1], bound[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(pre, &keys, NULL, PRE, NOW);
	pc_csrf_issue(bound, &keys, SID, NULL, NOW);
	assert_int_equal(verify(bound, SID2, NOW), PC_CSRF_WRONG_BINDING); /* another session's */
	assert_int_equal(verify(pre, SID, NOW), PC_CSRF_WRONG_BINDING);    /* pre-session after login */
	assert_int_equal(verify(bound, NULL, NOW), PC_CSRF_WRONG_BINDING); /* session token, no session */
}

/* The finding: a pre-session token is accepted only with the pre-session
 * cookie it was issued with; another client's cookie, none, or one a byte
 * off is a wrong binding, checked after the MAC and the expiry. */
static void test_presession_binding(void **state)
{
	(void)state;
	char pre[PC_CSRF_TOKEN_LEN + 1], other[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(pre, &keys, NULL, PRE, NOW);
	pc_csrf_issue(other, &keys, NULL, PRE, NOW);
	assert_string_not_equal(pre, other); /* one client, two tokens: both fresh */
	assert_int_equal(pc_csrf_verify(pre, PC_CSRF_TOKEN_LEN, &keys, NULL, PRE, strlen(PRE), NOW), PC_CSRF_OK);
	assert_int_equal(pc_csrf_verify(other, PC_CSRF_TOKEN_LEN, &keys, NULL, PRE, strlen(PRE), NOW), PC_CSRF_OK);
	assert_int_equal(pc_csrf_verify(pre, PC_CSRF_TOKEN_LEN, &keys, NULL, PRE2, strlen(PRE2), NOW),
	                 PC_CSRF_WRONG_BINDING);
	assert_int_equal(pc_csrf_verify(pre, PC_CSRF_TOKEN_LEN, &keys, NULL, NULL, 0, NOW), PC_CSRF_WRONG_BINDING);
	assert_int_equal(pc_csrf_verify(pre, PC_CSRF_TOKEN_LEN, &keys, NULL, PRE, strlen(PRE) - 1, NOW),
	                 PC_CSRF_WRONG_BINDING);
	char near[64];
	strcpy(near, PRE);
	near[10] ^= 1;
	assert_int_equal(pc_csrf_verify(pre, PC_CSRF_TOKEN_LEN, &keys, NULL, near, strlen(near), NOW),
	                 PC_CSRF_WRONG_BINDING);
	/* expired before wrongly bound; a forgery is INVALID whatever the cookie */
	assert_int_equal(pc_csrf_verify(pre, PC_CSRF_TOKEN_LEN, &keys, NULL, PRE2, strlen(PRE2), NOW + PC_CSRF_LIFETIME_S),
	                 PC_CSRF_EXPIRED);
	char bad[PC_CSRF_TOKEN_LEN + 1];
	memcpy(bad, pre, sizeof(bad));
	bad[50] = bad[50] == 'A' ? 'B' : 'A';
	assert_int_equal(pc_csrf_verify(bad, PC_CSRF_TOKEN_LEN, &keys, NULL, PRE, strlen(PRE), NOW), PC_CSRF_INVALID);
	/* a session-bound token does not look at the pre-session cookie */
	char bound[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(bound, &keys, SID, NULL, NOW);
	assert_int_equal(pc_csrf_verify(bound, PC_CSRF_TOKEN_LEN, &keys, SID, NULL, 0, NOW), PC_CSRF_OK);
	assert_int_equal(pc_csrf_verify(bound, PC_CSRF_TOKEN_LEN, &keys, SID, PRE2, strlen(PRE2), NOW), PC_CSRF_OK);
}

static void test_presession_id(void **state)
{
	(void)state;
	char a[PC_CSRF_PRESESSION_LEN + 1], b[PC_CSRF_PRESESSION_LEN + 1], h[256];
	pc_csrf_presession_new(a);
	pc_csrf_presession_new(b);
	assert_int_equal(strlen(a), PC_CSRF_PRESESSION_LEN);
	assert_string_not_equal(a, b);
	assert_true(pc_csrf_presession_valid(a, strlen(a)));
	assert_true(pc_csrf_presession_valid(PRE, strlen(PRE)));
	assert_false(pc_csrf_presession_valid(a, strlen(a) - 1));
	assert_false(pc_csrf_presession_valid("", 0));
	a[3] = '+';
	assert_false(pc_csrf_presession_valid(a, strlen(a)));
	assert_false(pc_csrf_presession_valid("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9", 43)); /* stray bits */
	assert_int_equal(pc_csrf_presession_cookie_header(h, sizeof(h), b), 0);
	assert_non_null(strstr(h, "__Host-portcullis_presession="));
	assert_non_null(strstr(h, "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600"));
	assert_null(strstr(h, "Domain"));
	assert_int_equal(pc_csrf_presession_cookie_header(h, 50, b), -1);
}

static void test_expiry(void **state)
{
	(void)state;
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t, &keys, SID, NULL, NOW);
	assert_int_equal(verify(t, SID, NOW + PC_CSRF_LIFETIME_S), PC_CSRF_EXPIRED);
	assert_int_equal(verify(t, SID, NOW + 86400 * 365), PC_CSRF_EXPIRED);
}

static void test_rotation(void **state)
{
	(void)state;
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t, &keys, SID, NULL, NOW);
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
		pc_csrf_issue(t, &keys, sids[k], PRE, NOW);
		for (size_t i = 0; i < PC_CSRF_TOKEN_LEN; i++) {
			for (int b = 0; b < 8; b++) {
				char m[PC_CSRF_TOKEN_LEN + 1];
				memcpy(m, t, sizeof(m));
				m[i] = (char)(m[i] ^ (1 << b));
				if (m[i] == '\0')
					continue; /* shortens the string: covered below */
				assert_int_not_equal(pc_csrf_verify(m, PC_CSRF_TOKEN_LEN, &keys, sids[k], PRE, strlen(PRE), NOW),
				                     PC_CSRF_OK);
			}
		}
	}
}

static void test_malformed(void **state)
{
	(void)state;
	char t[PC_CSRF_TOKEN_LEN + 1];
	pc_csrf_issue(t, &keys, NULL, PRE, NOW);
	assert_int_equal(pc_csrf_verify(t, PC_CSRF_TOKEN_LEN - 1, &keys, NULL, PRE, strlen(PRE), NOW), PC_CSRF_INVALID);
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
	pc_csrf_issue(t, &keys, NULL, PRE, NOW);
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
		cmocka_unit_test_setup(test_presession_binding, setup),
		cmocka_unit_test_setup(test_presession_id, setup),
		cmocka_unit_test_setup(test_expiry, setup),
		cmocka_unit_test_setup(test_rotation, setup),
		cmocka_unit_test_setup(test_every_bit_flip, setup),
		cmocka_unit_test_setup(test_malformed, setup),
		cmocka_unit_test_setup(test_cookie_header, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
