/*
 * cidr.c — strict IP address and CIDR parsing, and block membership.
 *
 * IPv4 is parsed by hand (inet_pton's leniency differs between libcs and
 * inet_aton reads "010" as octal); IPv6 goes through inet_pton on a bounded
 * NUL-terminated copy, after refusing a zone and every byte outside the
 * RFC 4291 text alphabet. Invariants: a parsed block has its host bits zero;
 * a parsed address is never an IPv4-mapped AF_INET6 (see cidr.h).
 */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return -1;
}

/* Decimal without sign or leading zeros, at most max. */
static int parse_dec(unsigned *out, const char *s, size_t len, unsigned max)
{
	unsigned v = 0;
	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_v4(uint8_t out[4], const char *s, size_t len)
{
	size_t part = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		unsigned v;
		if (part == 4 || parse_dec(&v, s + start, i - start, 255) != 0)
			return -1;
		out[part++] = (uint8_t)v;
		start = i + 1;
	}
	return part == 4 ? 0 : -1;
}

static void normalise_mapped(struct pc_ip *ip)
{
	if (ip->family == AF_INET6 && memcmp(ip->addr, v4mapped, 12) == 0) {
		uint8_t v4[4];
		memcpy(v4, ip->addr + 12, 4);
		memset(ip->addr, 0, sizeof(ip->addr));
		memcpy(ip->addr, v4, 4);
		ip->family = AF_INET;
	}
}

/* Parses without the mapped-IPv4 normalisation (a block needs the raw form). */
static int parse_raw(struct pc_ip *out, const char **why, const char *s, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return fail(why, "empty address");
	if (memchr(s, ':', len) == NULL) {
		if (parse_v4(out->addr, s, len) != 0) {
			memset(out, 0, sizeof(*out));
			return fail(why, "not an IPv4 address (four decimal octets 0-255, no leading zeros)");
		}
		out->family = AF_INET;
		return 0;
	}
	char buf[INET6_ADDRSTRLEN];
	if (len >= sizeof(buf))
		return fail(why, "IPv6 address too long");
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
		      c == '.'))
			return fail(why, "not an IPv6 address (hex groups and colons; no zone, no brackets)");
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, out->addr) != 1) {
		memset(out, 0, sizeof(*out));
		return fail(why, "not an IPv6 address");
	}
	/* glibc accepts leading zeros in an embedded IPv4 tail; we do not */
	const char *dot = memchr(s, '.', len);
	if (dot != NULL) {
		const char *tail = s + len;
		while (tail > s && tail[-1] != ':')
			tail--;
		uint8_t v4[4];
		if (parse_v4(v4, tail, (size_t)(s + len - tail)) != 0) {
			memset(out, 0, sizeof(*out));
			return fail(why, "not an IPv6 address (bad embedded IPv4 part)");
		}
	}
	out->family = AF_INET6;
	return 0;
}

int pc_ip_parse(struct pc_ip *out, const char **why, const char *s, size_t len)
{
	if (parse_raw(out, why, s, len) != 0)
		return -1;
	normalise_mapped(out);
	return 0;
}

int pc_ip_from_sockaddr(struct pc_ip *out, const struct sockaddr *sa)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		memcpy(out->addr, &in->sin_addr, 4);
		out->family = AF_INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(out->addr, &in6->sin6_addr, 16);
		out->family = AF_INET6;
		normalise_mapped(out);
		return 0;
	}
	return -1;
}

int pc_cidr_parse(struct pc_cidr *out, const char **why, const char *s, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (len > PC_CIDR_TEXT_MAX)
		return fail(why, "too long for an address block");
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	struct pc_ip ip;
	if (parse_raw(&ip, why, s, alen) != 0)
		return -1;
	unsigned maxp = ip.family == AF_INET ? 32 : 128;
	unsigned prefix = maxp;
	if (slash != NULL &&
	    parse_dec(&prefix, slash + 1, len - alen - 1, maxp) != 0)
		return fail(why, ip.family == AF_INET ? "prefix must be 0-32 (decimal, no leading zeros)"
		                                      : "prefix must be 0-128 (decimal, no leading zeros)");
	for (unsigned bit = prefix; bit < maxp; bit++) {
		if (ip.addr[bit / 8] & (0x80u >> (bit % 8)))
			return fail(why, "host bits set beyond the prefix (write the network address)");
	}
	out->family = ip.family;
	memcpy(out->addr, ip.addr, sizeof(out->addr));
	out->prefix = prefix;
	return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

bool pc_cidr_contains(const struct pc_cidr *c, const struct pc_ip *ip)
{
	if (c->family == ip->family)
		return prefix_equal(c->addr, ip->addr, c->prefix);
	if (c->family == AF_INET6 && ip->family == AF_INET) {
		uint8_t mapped[16];
		memcpy(mapped, v4mapped, 12);
		memcpy(mapped + 12, ip->addr, 4);
		return prefix_equal(c->addr, mapped, c->prefix);
	}
	return false; /* an IPv4 block never holds a non-mapped IPv6 address */
}

int pc_cidr_format(char *out, size_t cap, const struct pc_cidr *c)
{
	char a[INET6_ADDRSTRLEN];
	if (inet_ntop(c->family, c->addr, a, sizeof(a)) == NULL)
		return -1;
	int n = snprintf(out, cap, "%s/%u", a, c->prefix);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}
