/* test_apikeys.c — svc/apikeys.c driven without HTTP: create, rename,
 * delete, each with its event; the secret only in create's answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "svc_fx.h"
#include "svc/apikeys.h"

static void test_lifecycle(void **state)
{
	struct fx *f = *state;
	struct pc_user a;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_principal pa;
	fx_login(f, "admin@example.test", FX_PW, &pa, NULL);

	struct pc_api_key k, got;
	char secret[PC_APIKEY_LEN + 1];
	assert_int_equal(pc_apikeys_create(&f->ctx, &pa, "ci deploy", 0, &k, secret), PC_OK);
	assert_int_equal(strlen(secret), PC_APIKEY_LEN);
	assert_string_equal(k.created_by, a.id);
	char prefix[PC_APIKEY_PREFIX_LEN + 1];
	assert_true(pc_apikey_parse(secret, strlen(secret), prefix));
	assert_string_equal(prefix, k.prefix);
	sodium_memzero(secret, sizeof(secret));
	struct pc_audit_event ev;
	char want[256];
	fx_event(f, "api_key.create", &ev);
	assert_string_equal(ev.resource_type, "api_key");
	assert_string_equal(ev.resource_id, k.id);
	assert_string_equal(ev.actor_user_id, a.id);
	snprintf(want, sizeof(want), "{\"name\":\"ci deploy\",\"prefix\":\"%s\"}", k.prefix);
	assert_string_equal(ev.details, want);

	assert_int_equal(pc_apikeys_rename(&f->ctx, &pa, k.id, "ci \"prod\"", &got), PC_OK);
	assert_string_equal(got.name, "ci \"prod\"");
	fx_event(f, "api_key.update", &ev);
	assert_string_equal(ev.resource_id, k.id);
	assert_string_equal(ev.details, "{\"name\":\"ci \\\"prod\\\"\"}"); /* escaped, valid JSON */

	struct pc_api_key *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_apikeys_list(&f->ctx, &pa, &list, &n), PC_OK);
	assert_int_equal(n, 1);
	free(list);

	assert_int_equal(pc_apikeys_delete(&f->ctx, &pa, k.id), PC_OK);
	fx_event(f, "api_key.delete", &ev);
	assert_string_equal(ev.resource_id, k.id);
	assert_string_equal(ev.details, "{}");
	assert_int_equal(pc_apikeys_get(&f->ctx, &pa, k.id, &got), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_apikeys_delete(&f->ctx, &pa, k.id), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_apikeys_rename(&f->ctx, &pa, k.id, "x", &got), PC_ERR_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
