/*
 * cidr.h — IP addresses and CIDR blocks: a strict text parser and a matcher,
 * shared by every module that compares a client address with a list
 * (trusted proxies in config, net= in the access rules).
 *
 * Addresses are kept as 16 bytes in network order; an IPv4 address uses the
 * first 4. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack
 * socket reports for an IPv4 client) is always stored as the IPv4 address,
 * so "10.0.0.0/8" matches it; an IPv6 block is tested against an IPv4
 * address in its mapped form, so "::/0" matches every address and
 * "::ffff:10.0.0.0/104" matches 10.0.0.0/8.
 *
 * Strictness (one spelling per block, so a typo cannot widen it):
 * - IPv4: exactly four decimal octets 0-255, no leading zeros ("010" could be
 *   octal to inet_aton), no shorthand ("10.1"), no sign, no spaces.
 * - IPv6: RFC 4291 section 2.2 text form as inet_pton accepts it; no zone
 *   ("%eth0"), no brackets.
 * - Prefix: decimal without leading zeros, 0-32 or 0-128; absent means a
 *   single address (/32, /128).
 * - Host bits beyond the prefix must be zero: "10.0.0.1/8" is refused (did
 *   the operator mean 10.0.0.0/8 or 10.0.0.1/32?), never silently masked.
 * /0 is accepted here; a caller that must not trust "everyone" (the trusted
 * proxy list) refuses it itself.
 */
#ifndef PC_CORE_CIDR_H
#define PC_CORE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct sockaddr;

/* Longest text pc_cidr_parse reads: a full IPv6 address with an embedded
 * IPv4 tail (45 bytes) plus "/128". Longer input is refused before copying. */
#define PC_CIDR_TEXT_MAX 49

struct pc_ip {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes, rest zero */
};

/* A block: the trusted proxies (config) and net= of the access rules. */
struct pc_cidr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; host bits zero */
	unsigned prefix;  /* 0-32 or 0-128 */
};

/* Parses one address (s, len: not NUL-terminated). Returns 0, or -1 with *out
 * zeroed and *why (when why is not NULL) a static English reason. */
PC_MUST_USE int pc_ip_parse(struct pc_ip *out, const char **why, const char *s, size_t len);

/* Converts a socket address (AF_INET or AF_INET6). Returns 0, or -1 for
 * another family. A mapped IPv4 address becomes AF_INET. */
PC_MUST_USE int pc_ip_from_sockaddr(struct pc_ip *out, const struct sockaddr *sa);

/* Parses "ADDR" or "ADDR/PREFIX" under the rules above. Returns 0, or -1
 * with *out zeroed and *why a static reason. */
PC_MUST_USE int pc_cidr_parse(struct pc_cidr *out, const char **why, const char *s, size_t len);

/* Whether ip is inside the block (see the header comment for mapped IPv4). */
PC_MUST_USE bool pc_cidr_contains(const struct pc_cidr *c, const struct pc_ip *ip);

/* Writes the canonical text ("10.0.0.0/8", "2001:db8::/32") into out (cap
 * bytes, NUL-terminated). Returns its length, or -1 when cap is too small. */
PC_MUST_USE int pc_cidr_format(char *out, size_t cap, const struct pc_cidr *c);

#endif
