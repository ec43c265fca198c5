/* test_cidr.c — the strict CIDR parser and matcher: one spelling per block,
 * host bits refused, IPv4-mapped IPv6 clients matched by IPv4 blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/cidr.h"

static int cidr(struct pc_cidr *c, const char *s)
{
	const char *why = NULL;
	int rc = pc_cidr_parse(c, &why, s, strlen(s));
	if (rc != 0)
		assert_non_null(why);
	return rc;
}

static bool in(const char *block, const char *addr)
{
	struct pc_cidr c;
	struct pc_ip ip;
	assert_int_equal(cidr(&c, block), 0);
	assert_int_equal(pc_ip_parse(&ip, NULL, addr, strlen(addr)), 0);
	return pc_cidr_contains(&c, &ip);
}

static void test_accepted(void **state)
{
	(void)state;
	static const char *const ok[][2] = {
		{"10.0.0.0/8", "10.0.0.0/8"},     {"10.0.0.1", "10.0.0.1/32"},
		{"0.0.0.0/0", "0.0.0.0/0"},       {"192.168.1.128/25", "192.168.1.128/25"},
		{"255.255.255.255/32", "255.255.255.255/32"},
		{"2001:db8::/32", "2001:db8::/32"}, {"2001:DB8::/32", "2001:db8::/32"},
		{"::/0", "::/0"},                 {"::1", "::1/128"},
		{"fe80::/10", "fe80::/10"},       {"::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"},
		{"2001:0db8:0000::/48", "2001:db8::/48"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct pc_cidr c;
		char buf[64];
		assert_int_equal(cidr(&c, ok[i][0]), 0);
		assert_int_equal(pc_cidr_format(buf, sizeof(buf), &c), (int)strlen(ok[i][1]));
		assert_string_equal(buf, ok[i][1]);
	}
}

static void test_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08",
		"10.0.0.0/8/8", "010.0.0.0/8", "10.00.0.0/16", "10.0.0", "10.0.0.0.0", "10.0.0.256", "10.0.0.-1",
		"10.0.0.0 /8", " 10.0.0.0/8", "10.0.0.0/8 ", "0x0a.0.0.0/8", "10..0.0/8", "10.0.0.0/1000",
		"2001:db8::1/32", "2001:db8::/129", "2001:db8::/048", "fe80::1%eth0", "[::1]", "::g",
		"1:2:3:4:5:6:7:8:9", "::ffff:010.0.0.1", "2001:db8:::/48", ":::", "10.0.0.0/8\n",
		"10.0.0.1\0", "12345678901234567890123456789012345678901234567890",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pc_cidr c;
		memset(&c, 0x55, sizeof(c));
		const char *why = NULL;
		size_t len = strlen(bad[i]) + (strcmp(bad[i], "10.0.0.1") == 0 ? 1 : 0);
		if (pc_cidr_parse(&c, &why, bad[i], len) == 0)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(pc_cidr_parse(&c, &why, bad[i], len), -1);
		assert_non_null(why);
		assert_int_equal(c.family, 0);
		assert_int_equal(c.prefix, 0);
	}
	/* the embedded NUL: length 9 covers "10.0.0.1\0" */
	struct pc_cidr c;
	const char *why;
	assert_int_equal(pc_cidr_parse(&c, &why, "10.0.0.1\0", 9), -1);
}

static void test_contains(void **state)
{
	(void)state;
	assert_true(in("10.0.0.0/8", "10.255.255.255"));
	assert_true(in("10.0.0.0/8", "10.0.0.0"));
	assert_false(in("10.0.0.0/8", "11.0.0.0"));
	assert_false(in("10.0.0.0/8", "9.255.255.255"));
	assert_true(in("192.168.1.128/25", "192.168.1.200"));
	assert_false(in("192.168.1.128/25", "192.168.1.127"));
	assert_true(in("10.0.0.1", "10.0.0.1"));
	assert_false(in("10.0.0.1", "10.0.0.2"));
	assert_true(in("0.0.0.0/0", "203.0.113.9"));
	assert_false(in("0.0.0.0/0", "2001:db8::1"));
	assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(in("2001:db8::/32", "2001:db9::1"));
	assert_true(in("fe80::/10", "febf::1"));
	assert_false(in("fe80::/10", "fec0::1"));
	/* a mapped IPv4 client is its IPv4 address */
	assert_true(in("10.0.0.0/8", "::ffff:10.1.2.3"));
	assert_false(in("10.0.0.0/8", "::ffff:11.1.2.3"));
	/* an IPv6 block sees an IPv4 client in its mapped form */
	assert_true(in("::/0", "10.1.2.3"));
	assert_true(in("::ffff:10.0.0.0/104", "10.1.2.3"));
	assert_false(in("::ffff:10.0.0.0/104", "11.1.2.3"));
	assert_false(in("2001:db8::/32", "10.1.2.3"));
	/* an IPv4 block never holds a plain IPv6 address */
	assert_false(in("0.0.0.0/0", "::a01:203"));
}

static void test_sockaddr(void **state)
{
	(void)state;
	struct sockaddr_in6 s6;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr), 1);
	struct pc_ip ip;
	assert_int_equal(pc_ip_from_sockaddr(&ip, (struct sockaddr *)&s6), 0);
	assert_int_equal(ip.family, AF_INET);
	assert_memory_equal(ip.addr, "\xc0\x00\x02\x01", 4);
	struct sockaddr_in s4;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(0x0a000001);
	assert_int_equal(pc_ip_from_sockaddr(&ip, (struct sockaddr *)&s4), 0);
	assert_int_equal(ip.family, AF_INET);
	struct sockaddr sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	assert_int_equal(pc_ip_from_sockaddr(&ip, &sa), -1);
	assert_int_equal(ip.family, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_sockaddr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
