/* test_path.c — the forwarded path and host normalisers: what an attacker's
 * spelling becomes, and which spellings are refused as ambiguous. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "authz/path.h"

struct pcase {
	const char *in;
	const char *want; /* NULL: ambiguous */
};

static const struct pcase paths[] = {
	/* the brief's cases */
	{"/x/../admin/", NULL},
	{"/%2e%2e/admin/", NULL},
	{"/admin%2f", NULL},
	{"//admin/", NULL},
	{"/admin;x", NULL},
	{"/admin%00", NULL},
	{"/%61dmin/", "/admin/"},
	{"/ADMIN/", "/ADMIN/"},
	/* accepted, canonical */
	{"/", "/"},
	{"/admin", "/admin"},
	{"/admin/", "/admin/"},
	{"/admin/x", "/admin/x"},
	{"/a/b/c/", "/a/b/c/"},
	{"/admin?x=1", "/admin"},
	{"/admin?", "/admin"},
	{"/admin?a=/../b;c", "/admin"},
	{"/?x", "/"},
	{"/%7Euser/", "/~user/"},
	{"/%7euser/", "/~user/"},
	{"/%2D%2E%5F%7E", "/-._~"},
	{"/a%20b", "/a%20b"},
	{"/a%c3%a9", "/a%C3%A9"},
	{"/a%3a", "/a%3A"},
	{"/%41%5a%30%39", "/AZ09"},
	{"/a%23b", "/a%23b"},
	{"/a%3fb", "/a%3Fb"},
	{"/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="},
	{"/...", "/..."},
	{"/.well-known/x", "/.well-known/x"},
	{"/a.b/", "/a.b/"},
	{"/..a", "/..a"},
	/* refused: dot segments in every spelling */
	{"/..", NULL},
	{"/.", NULL},
	{"/./admin/", NULL},
	{"/admin/.", NULL},
	{"/admin/..", NULL},
	{"/admin/./x", NULL},
	{"/%2e/admin/", NULL},
	{"/%2E%2E/admin/", NULL},
	{"/.%2e/admin/", NULL},
	{"/%2e./admin/", NULL},
	/* empty segments, separators */
	{"/admin//x", NULL},
	{"/admin//", NULL},
	{"/%2fadmin/", NULL},
	{"/admin%2F", NULL},
	{"/admin\\x", NULL},
	{"/admin%5cx", NULL},
	{"/admin%5Cx", NULL},
	{"/admin%3bx", NULL},
	{"/admin%3Bx", NULL},
	{"/admin;", NULL},
	/* double encoding, fragments, controls */
	{"/admin%252f", NULL},
	{"/%25", NULL},
	{"/admin#x", NULL},
	{"/admin%0a", NULL},
	{"/admin%0D", NULL},
	{"/admin%7f", NULL},
	{"/admin%1f", NULL},
	{"/admin\x01", NULL},
	{"/admin\t", NULL},
	{"/admin\x7f", NULL},
	/* raw bytes outside pchar */
	{"/a b", NULL},
	{"/a\"b", NULL},
	{"/a<b", NULL},
	{"/a>b", NULL},
	{"/a^b", NULL},
	{"/a`b", NULL},
	{"/a{b", NULL},
	{"/a|b", NULL},
	{"/a}b", NULL},
	{"/a[b", NULL},
	{"/a]b", NULL},
	{"/caf\xc3\xa9", NULL},
	{"/\xff", NULL},
	/* escaped non-ASCII must decode to UTF-8 (no overlong "/" or ".") */
	{"/a%e2%80%ae", "/a%E2%80%AE"},
	{"/%F0%9F%98%80", "/%F0%9F%98%80"},
	{"/a%c0%af", NULL},
	{"/a%c0%ae%c0%ae/", NULL},
	{"/a%e0%80%af", NULL},
	{"/a%ff", NULL},
	{"/a%80", NULL},
	{"/a%e2%80", NULL},
	{"/a%c3/%a9", NULL},
	{"/a%ed%a0%80", NULL},
	/* malformed escapes */
	{"/a%", NULL},
	{"/a%4", NULL},
	{"/a%4g", NULL},
	{"/a%g4", NULL},
	{"/a%?x", NULL},
	{"/a%4?x", NULL},
	{"/a%%41", NULL},
	/* not a path */
	{"", NULL},
	{"admin", NULL},
	{"*", NULL},
	{"http://evil/admin", NULL},
	{"?x", NULL},
	/* bad query bytes */
	{"/a?b c", NULL},
	{"/a?b#c", NULL},
	{"/a?%zz", NULL},
	{"/a?%4", NULL},
	{"/a?\x01", NULL},
	{"/a?b\xc3\xa9", NULL},
	{"/a?b=%41&c=/d?e;f", "/a"},
};

static void test_paths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const struct pcase *c = &paths[i];
		char out[256];
		size_t n = 99;
		memset(out, 'z', sizeof(out));
		enum pc_norm rc = pc_authz_path_normalize(out, sizeof(out), &n, c->in, strlen(c->in));
		if (c->want == NULL) {
			if (rc != PC_NORM_AMBIGUOUS)
				print_error("case %zu \"%s\": want ambiguous, got %d \"%s\"\n", i, c->in, rc, out);
			assert_int_equal(rc, PC_NORM_AMBIGUOUS);
			assert_int_equal(n, 0);
			assert_string_equal(out, "");
		} else {
			if (rc != PC_NORM_OK)
				print_error("case %zu \"%s\": want \"%s\", got %d\n", i, c->in, c->want, rc);
			assert_int_equal(rc, PC_NORM_OK);
			assert_string_equal(out, c->want);
			assert_int_equal(n, strlen(c->want));
			/* the normal form is a fixed point */
			char again[256];
			size_t n2;
			assert_int_equal(pc_authz_path_normalize(again, sizeof(again), &n2, out, n), PC_NORM_OK);
			assert_string_equal(again, out);
		}
	}
}

static void test_path_nul_and_length(void **state)
{
	(void)state;
	char out[PC_AUTHZ_PATH_MAX + 2];
	size_t n;
	/* a raw NUL inside the length is a byte like any other: refused */
	assert_int_equal(pc_authz_path_normalize(out, sizeof(out), &n, "/ad\0min", 7), PC_NORM_AMBIGUOUS);
	static char big[PC_AUTHZ_PATH_MAX + 1];
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	assert_int_equal(pc_authz_path_normalize(out, sizeof(out), &n, big, PC_AUTHZ_PATH_MAX), PC_NORM_OK);
	assert_int_equal(n, PC_AUTHZ_PATH_MAX);
	assert_int_equal(pc_authz_path_normalize(out, sizeof(out), &n, big, PC_AUTHZ_PATH_MAX + 1),
	                 PC_NORM_TOO_LONG);
	assert_int_equal(n, 0);
	/* exactly sized output buffer */
	assert_int_equal(pc_authz_path_normalize(out, 8, &n, "/%41bcd", 7), PC_NORM_OK);
	assert_string_equal(out, "/Abcd");
}

static const struct pcase hosts[] = {
	{"app.example.com", "app.example.com"},
	{"App.Example.COM", "app.example.com"},
	{"app.example.com:443", "app.example.com"},
	{"app.example.com:65535", "app.example.com"},
	{"app.example.com:1", "app.example.com"},
	{"localhost", "localhost"},
	{"10.0.0.1", "10.0.0.1"},
	{"10.0.0.1:8080", "10.0.0.1"},
	{"xn--bcher-kva.example", "xn--bcher-kva.example"},
	{"a-b.c", "a-b.c"},
	{"[::1]", "[::1]"},
	{"[::1]:8443", "[::1]"},
	{"[2001:DB8:0:0::1]", "[2001:db8::1]"},
	{"", NULL},
	{"app.example.com.", NULL},
	{".example.com", NULL},
	{"app..example.com", NULL},
	{"app.example.com:", NULL},
	{"app.example.com:0", NULL},
	{"app.example.com:65536", NULL},
	{"app.example.com:080", NULL},
	{"app.example.com:80:80", NULL},
	{"app.example.com:+80", NULL},
	{"app_x.example.com", NULL},
	{"app example.com", NULL},
	{"-app.example.com", NULL},
	{"app-.example.com", NULL},
	{"app.example.com/x", NULL},
	{"app.example.com\\x", NULL},
	{"user@app.example.com", NULL},
	{"*.example.com", NULL},
	{"caf\xc3\xa9.example", NULL},
	{"app%2eexample.com", NULL},
	{"[::1", NULL},
	{"[::1]x", NULL},
	{"[::1]:", NULL},
	{"[fe80::1%eth0]", NULL},
	{"[]", NULL},
	{"[1.2.3.4]", NULL},
	{"::1", NULL},
	{"0123456789012345678901234567890123456789012345678901234567890123.com", NULL},
};

static void test_hosts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		const struct pcase *c = &hosts[i];
		char out[PC_AUTHZ_HOST_MAX + 1];
		size_t n = 99;
		enum pc_norm rc = pc_authz_host_normalize(out, sizeof(out), &n, c->in, strlen(c->in));
		if ((rc == PC_NORM_OK) != (c->want != NULL))
			print_error("host case %zu \"%s\": got %d \"%s\"\n", i, c->in, rc, out);
		if (c->want == NULL) {
			assert_int_equal(rc, PC_NORM_AMBIGUOUS);
			assert_int_equal(n, 0);
			assert_string_equal(out, "");
		} else {
			assert_int_equal(rc, PC_NORM_OK);
			assert_string_equal(out, c->want);
			assert_int_equal(n, strlen(c->want));
		}
	}
}

static void test_host_lengths(void **state)
{
	(void)state;
	char name[400], out[PC_AUTHZ_HOST_MAX + 1];
	size_t n;
	/* 63-byte labels: four of them with dots is 255 bytes, one over */
	memset(name, 'a', sizeof(name));
	for (int i = 63; i < 400; i += 64)
		name[i] = '.';
	assert_int_equal(pc_authz_host_normalize(out, sizeof(out), &n, name, 63), PC_NORM_OK);
	assert_int_equal(pc_authz_host_normalize(out, sizeof(out), &n, name, 64), PC_NORM_AMBIGUOUS); /* dot */
	name[63] = 'a';
	assert_int_equal(pc_authz_host_normalize(out, sizeof(out), &n, name, 64), PC_NORM_AMBIGUOUS); /* label 64 */
	name[63] = '.';
	assert_int_equal(pc_authz_host_normalize(out, sizeof(out), &n, name, 253), PC_NORM_OK);
	assert_int_equal(n, 253);
	assert_int_equal(pc_authz_host_normalize(out, sizeof(out), &n, name, 254), PC_NORM_AMBIGUOUS);
	memcpy(name + 253, ":8080", 5);
	assert_int_equal(pc_authz_host_normalize(out, sizeof(out), &n, name, 258), PC_NORM_OK);
	assert_int_equal(pc_authz_host_normalize(out, sizeof(out), &n, name, PC_AUTHZ_HOST_IN_MAX + 1),
	                 PC_NORM_TOO_LONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_path_nul_and_length),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_host_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
