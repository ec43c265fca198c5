/* test_redirect.c — the login redirect is never open: every known bypass
 * form is refused, same-site paths and listed origins are allowed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api/redirect.h"

static struct pc_config cfg;
static const struct pc_str HOST = {"auth.example.com", 16};

/* rd as it arrives in the query string: decoded once, then checked */
static bool allowed(const char *raw)
{
	char rd[4200];
	size_t n;
	if (pc_query_decode(rd, sizeof(rd), &n, raw, strlen(raw)) != 0)
		return false;
	return pc_redirect_allowed(rd, n, HOST, &cfg);
}

static void test_allowed(void **state)
{
	(void)state;
	const char *ok[] = {
		"/", "/admin", "/app/page?x=1#frag", "%2Fapp", "https://auth.example.com/x",
		"HTTPS://AUTH.EXAMPLE.COM/x", "http://auth.example.com", "https://app.example.com/dash",
		"https%3A%2F%2Fapp.example.com%2Fdash", "/%252F%252Fevil.example", /* a path on this site */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!allowed(ok[i]))
			fail_msg("refused %s", ok[i]);
}

static void test_refused(void **state)
{
	(void)state;
	const char *bad[] = {
		"//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "%2F%2Fevil.example",
		"%2F%5Cevil.example", "/%09/evil.example", "/%0A/evil.example", "%0D%0ALocation:%20x",
		"https:evil.example", "https:/evil.example", "http:\\\\evil.example", "https://evil.example",
		"https://evil.example/auth.example.com", "https://auth.example.com@evil.example/",
		"https://auth.example.com.evil.example/", "https://app.example.com:444/", "javascript:alert(1)",
		"JaVaScRiPt:alert(1)", "data:text/html,x", "evil.example", "", " /admin", "/admin ",
		"%", "%zz", "%00", "/caf\xc3\xa9", "ftp://auth.example.com/", "https://", "//",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (allowed(bad[i]))
			fail_msg("allowed %s", bad[i]);
}

static void test_query(void **state)
{
	(void)state;
	struct pc_str v;
	struct pc_str q = {"a=1&rd=%2Fx&b=2", 15};
	assert_int_equal(pc_query_get(q, "rd", &v), 1);
	assert_int_equal(v.len, 4);
	struct pc_str dup = {"rd=/a&rd=/b", 11};
	assert_int_equal(pc_query_get(dup, "rd", &v), -1);
	struct pc_str none = {NULL, 0};
	assert_int_equal(pc_query_get(none, "rd", &v), 0);
	struct pc_str prefix = {"rdx=/a", 6};
	assert_int_equal(pc_query_get(prefix, "rd", &v), 0);
}

static bool allowed_with(const char *rd, const char *host)
{
	struct pc_str h = {host, strlen(host)};
	return pc_redirect_allowed(rd, strlen(rd), h, &cfg);
}

/* The finding: a proxy that forwards any Host made any host "this site".
 * Once the operator names the site (cookie domain, allowed origins), a Host
 * outside it no longer counts; paths and listed redirects still do. */
static void test_host_must_be_the_site(void **state)
{
	(void)state;
	struct pc_config saved = cfg;
	/* nothing configured: the Host is taken as the site (the proxy pins it) */
	assert_true(allowed_with("https://evil.example/x", "evil.example"));
	strcpy(cfg.cookie_domain, "example.com");
	assert_false(allowed_with("https://evil.example/x", "evil.example"));
	assert_false(allowed_with("https://notexample.com/x", "notexample.com"));
	assert_false(allowed_with("https://example.com.evil.example/", "example.com.evil.example"));
	assert_true(allowed_with("https://auth.example.com/x", "auth.example.com"));
	assert_true(allowed_with("https://example.com:8443/x", "example.com:8443"));
	assert_true(allowed_with("/admin", "evil.example"));
	assert_true(allowed_with("https://app.example.com/dash", "evil.example")); /* listed */
	cfg.cookie_domain[0] = '\0';
	strcpy(cfg.allowed_origins[0], "https://auth.example.com");
	cfg.n_allowed_origins = 1;
	assert_false(allowed_with("https://evil.example/x", "evil.example"));
	assert_false(allowed_with("https://auth.example.com:444/x", "auth.example.com:444"));
	assert_true(allowed_with("https://auth.example.com/x", "auth.example.com"));
	cfg = saved;
}

/* Portal mode: rd may name any host under the cookie domain (the apps the
 * domain-wide session cookie reaches), whatever the request's Host; only a
 * name that IS the domain or ends in "." + it, never one that merely ends
 * with its letters, and never with userinfo. */
static void test_cookie_domain_hosts(void **state)
{
	(void)state;
	struct pc_config saved = cfg;
	strcpy(cfg.cookie_domain, "example.com");
	const char *ok[] = {"https://wiki.example.com/page?a=1&b=2", "http://app.example.com:8080/x", "https://example.com/",
	                    "https://a.b.example.com", "HTTPS://WIKI.EXAMPLE.COM/x"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!pc_redirect_allowed(ok[i], strlen(ok[i]), HOST, &cfg))
			fail_msg("refused %s", ok[i]);
	const char *bad[] = {"https://evilexample.com/", "https://example.com.evil.example/", "https://wiki.example.com@evil.example/",
	                     "https://evil.example/?.example.com", "https://evil.example#.example.com", "https://example.co/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pc_redirect_allowed(bad[i], strlen(bad[i]), HOST, &cfg))
			fail_msg("allowed %s", bad[i]);
	cfg = saved;
	/* no cookie domain: another host is not allowed for being a sibling */
	assert_false(pc_redirect_allowed("https://wiki.example.com/", 25, HOST, &cfg));
}

int main(void)
{
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.allowed_redirects[0], "https://app.example.com");
	cfg.n_allowed_redirects = 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_host_must_be_the_site),
		cmocka_unit_test(test_cookie_domain_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
