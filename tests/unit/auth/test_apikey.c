/* test_apikey.c — the API key format: shape, checksum, entropy, and every
 * single-character change refused before any lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "auth/apikey.h"

static uint8_t subkey[32];

static void test_generate_parse(void **state)
{
	(void)state;
	char key[PC_APIKEY_LEN + 1], prefix[PC_APIKEY_PREFIX_LEN + 1], back[PC_APIKEY_PREFIX_LEN + 1];
	uint8_t h[32], h2[32];
	pc_apikey_generate(key, prefix, h, subkey);
	assert_int_equal(strlen(key), PC_APIKEY_LEN);
	assert_int_equal(strncmp(key, "pc_", 3), 0);
	assert_true(pc_apikey_parse(key, strlen(key), back));
	assert_string_equal(prefix, back);
	pc_apikey_hash(h2, key, strlen(key), subkey);
	assert_memory_equal(h, h2, 32);
	/* the hash is keyed: another subkey gives another hash */
	uint8_t other[32];
	memcpy(other, subkey, 32);
	other[0] ^= 1;
	pc_apikey_hash(h2, key, strlen(key), other);
	assert_memory_not_equal(h, h2, 32);
}

static void test_unique(void **state)
{
	(void)state;
	char a[PC_APIKEY_LEN + 1], b[PC_APIKEY_LEN + 1], pa[16], pb[16];
	uint8_t h[32];
	pc_apikey_generate(a, pa, h, subkey);
	pc_apikey_generate(b, pb, h, subkey);
	assert_string_not_equal(a, b);
	assert_string_not_equal(pa, pb);
}

static void test_every_change_refused(void **state)
{
	(void)state;
	char key[PC_APIKEY_LEN + 1], prefix[PC_APIKEY_PREFIX_LEN + 1];
	uint8_t h[32];
	pc_apikey_generate(key, prefix, h, subkey);
	const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF_-+/= ";
	for (size_t i = 0; i < PC_APIKEY_LEN; i++) {
		for (size_t k = 0; k < sizeof(alphabet) - 1; k++) {
			if (alphabet[k] == key[i])
				continue;
			char m[PC_APIKEY_LEN + 1];
			memcpy(m, key, sizeof(m));
			m[i] = alphabet[k];
			assert_false(pc_apikey_parse(m, PC_APIKEY_LEN, prefix));
		}
	}
	assert_false(pc_apikey_parse(key, PC_APIKEY_LEN - 1, prefix));
	char longer[PC_APIKEY_LEN + 2];
	memcpy(longer, key, PC_APIKEY_LEN);
	longer[PC_APIKEY_LEN] = 'a';
	assert_false(pc_apikey_parse(longer, PC_APIKEY_LEN + 1, prefix));
	assert_false(pc_apikey_parse("", 0, prefix));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(subkey, sizeof(subkey));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_parse),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_every_change_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
