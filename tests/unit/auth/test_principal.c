/* test_principal.c — the anonymous actor taken from a request, method names
 * and random ids (src/auth/principal.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "auth/principal.h"
#include "http/request.h"

static struct pc_http_request http;

static void set_ua(const char *v, size_t len)
{
	memset(&http, 0, sizeof(http));
	http.n_headers = 2;
	http.headers[0].name = (struct pc_str){"Host", 4};
	http.headers[0].value = (struct pc_str){"example.com", 11};
	http.headers[1].name = (struct pc_str){"user-agent", 10};
	http.headers[1].value = (struct pc_str){v, len};
}

static void test_anonymous(void **state)
{
	(void)state;
	static struct pc_req r;
	memset(&r, 0, sizeof(r));
	strcpy(r.client_addr, "2001:db8::7");
	r.now = 1800000000;
	set_ua("curl/8.0", 8);
	r.http = &http;
	struct pc_principal p;
	memset(&p, 0x5A, sizeof(p));
	pc_principal_anonymous(&p, &r);
	assert_int_equal(p.method, PC_AUTH_ANONYMOUS);
	assert_string_equal(p.user_id, "");
	assert_string_equal(p.email, "");
	assert_string_equal(p.session_id, "");
	assert_string_equal(p.client_addr, "2001:db8::7");
	assert_string_equal(p.user_agent, "curl/8.0");
	assert_int_equal(p.authenticated_at, 1800000000);

	/* no head (an internal caller): no user agent */
	r.http = NULL;
	pc_principal_anonymous(&p, &r);
	assert_string_equal(p.user_agent, "");
	assert_string_equal(p.client_addr, "2001:db8::7");
}

static void test_long_user_agent(void **state)
{
	(void)state;
	static struct pc_req r;
	static char ua[600];
	memset(&r, 0, sizeof(r));
	memset(ua, 'a', sizeof(ua));
	set_ua(ua, sizeof(ua));
	r.http = &http;
	struct pc_principal p;
	pc_principal_anonymous(&p, &r);
	assert_int_equal(strlen(p.user_agent), PC_UA_MAX);

	/* a two-byte character straddling the limit is dropped whole */
	ua[PC_UA_MAX - 1] = (char)0xC3;
	ua[PC_UA_MAX] = (char)0xA9;
	pc_principal_anonymous(&p, &r);
	assert_int_equal(strlen(p.user_agent), PC_UA_MAX - 1);
}

static void test_names_and_ids(void **state)
{
	(void)state;
	assert_string_equal(pc_auth_method_name(PC_AUTH_ANONYMOUS), "anonymous");
	assert_string_equal(pc_auth_method_name(PC_AUTH_SESSION), "session");
	assert_string_equal(pc_auth_method_name(PC_AUTH_JWT), "jwt");
	assert_string_equal(pc_auth_method_name(PC_AUTH_API_KEY), "api_key");
	assert_string_equal(pc_auth_method_name(PC_AUTH_SYSTEM), "system");
	char a[PC_ID_LEN + 1], b[PC_ID_LEN + 1];
	pc_random_id(a);
	pc_random_id(b);
	assert_int_equal(strlen(a), PC_ID_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), PC_ID_LEN);
	assert_string_not_equal(a, b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anonymous),
		cmocka_unit_test(test_long_user_agent),
		cmocka_unit_test(test_names_and_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
