/*
 * addr.c — network addresses in the configuration: listen addresses,
 * trusted proxy CIDRs (and the check of a peer against them), origins.
 *
 * Only numeric addresses are accepted (inet_pton): a host name would make
 * start-up, and trust, depend on DNS. A CIDR must be written as its network
 * address (no host bits set) and /0 is refused, so a typo cannot trust the
 * whole internet. Errors name the variable and the item's position, never
 * its text.
 */
#include "config/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/num.h"

/* Walks a comma-separated list. An empty list has no items; "a,,b" and
 * "a," have an empty item, which the callers refuse. */
struct items {
	const char *p;
	bool done;
};

static int items_next(struct items *it, const char **item, size_t *len)
{
	if (it->done)
		return 1;
	const char *comma = strchr(it->p, ',');
	*item = it->p;
	if (comma != NULL) {
		*len = (size_t)(comma - it->p);
		it->p = comma + 1;
	} else {
		*len = strlen(it->p);
		it->done = true;
	}
	return 0;
}

/* An address list's next item (the n-th so far, at most max of them, each
 * named `what` in the error), copied NUL-terminated into buf[80]. 1: no
 * more items; 0: one in buf; -1: an error in err. */
static int next_address(struct items *it, char buf[80], size_t n, size_t max, const char *what,
                        const char *name, char *err, size_t errlen)
{
	const char *item;
	size_t len;
	if (items_next(it, &item, &len) != 0)
		return 1;
	if (len == 0)
		return pc_errf(err, errlen, "%s has an empty item (no spaces or stray commas allowed)", name);
	if (n == max)
		return pc_errf(err, errlen, "%s has more than %zu %s", name, max, what);
	if (len >= 80)
		return pc_errf(err, errlen, "%s: item %zu is too long for an address", name, n + 1);
	memcpy(buf, item, len);
	buf[len] = '\0';
	return 0;
}

int pc_config_parse_listen(struct pc_config *cfg, const char *name, const char *s, char *err, size_t errlen)
{
	struct items it = {s, s[0] == '\0'};
	size_t n = 0;
	uint8_t seen[PC_MAX_LISTEN][17]; /* address, then 4 or 6 */
	char buf[80];
	int rc;
	while ((rc = next_address(&it, buf, n, PC_MAX_LISTEN, "addresses", name, err, errlen)) == 0) {
		const char *host, *port;
		int family;
		uint8_t addr[16];
		uint64_t p;
		if (buf[0] == '[') {
			char *close = strstr(buf, "]:");
			if (close == NULL)
				return pc_errf(err, errlen, "%s: item %zu is not [IPv6]:port", name, n + 1);
			*close = '\0';
			host = buf + 1;
			port = close + 2;
			family = AF_INET6;
		} else {
			char *colon = strrchr(buf, ':');
			if (colon == NULL)
				return pc_errf(err, errlen, "%s: item %zu has no port (expected a.b.c.d:port or [IPv6]:port)",
				            name, n + 1);
			*colon = '\0';
			if (strchr(buf, ':') != NULL)
				return pc_errf(err, errlen, "%s: item %zu is an IPv6 address without brackets (write [IPv6]:port)",
				            name, n + 1);
			host = buf;
			port = colon + 1;
			family = AF_INET;
		}
		if (inet_pton(family, host, addr) != 1)
			return pc_errf(err, errlen, "%s: item %zu is not a numeric %s address (host names are not accepted)",
			            name, n + 1, family == AF_INET ? "IPv4" : "IPv6");
		if (pc_num_u64(&p, port, strlen(port), 0, 65535) != 0)
			return pc_errf(err, errlen, "%s: item %zu has an invalid port (0 to 65535)", name, n + 1);
		uint8_t key[17] = {0};
		memcpy(key, addr, family == AF_INET ? 4 : 16);
		key[16] = family == AF_INET ? 4 : 6;
		for (size_t j = 0; j < n; j++)
			if (memcmp(seen[j], key, sizeof(key)) == 0 && cfg->listen[j].port == p)
				return pc_errf(err, errlen, "%s: item %zu repeats item %zu", name, n + 1, j + 1);
		memcpy(seen[n], key, sizeof(key));
		inet_ntop(family, addr, cfg->listen[n].host, sizeof(cfg->listen[n].host));
		cfg->listen[n].port = (uint16_t)p;
		n++;
	}
	if (rc < 0)
		return -1;
	if (n == 0)
		return pc_errf(err, errlen, "%s lists no address", name);
	cfg->n_listen = n;
	return 0;
}

static bool host_bits_zero(const uint8_t *addr, unsigned bytes, unsigned prefix)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned bit0 = i * 8;
		uint8_t keep = prefix >= bit0 + 8 ? 0xff : prefix <= bit0 ? 0 : (uint8_t)(0xff << (8 - (prefix - bit0)));
		if (addr[i] & (uint8_t)~keep)
			return false;
	}
	return true;
}

int pc_config_parse_proxies(struct pc_config *cfg, const char *name, const char *s, char *err, size_t errlen)
{
	struct items it = {s, s[0] == '\0'};
	size_t n = 0;
	char buf[80];
	int rc;
	while ((rc = next_address(&it, buf, n, PC_MAX_TRUSTED_PROXIES, "entries", name, err, errlen)) == 0) {
		struct pc_cidr *c;
		c = &cfg->trusted_proxies[n];
		c->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
		unsigned maxp = c->family == AF_INET ? 32 : 128;
		char *slash = strchr(buf, '/');
		uint64_t prefix = maxp;
		if (slash != NULL) {
			*slash = '\0';
			if (pc_num_u64(&prefix, slash + 1, strlen(slash + 1), 0, maxp) != 0)
				return pc_errf(err, errlen, "%s: item %zu has an invalid prefix length (0 to %u)", name,
				            n + 1, maxp);
			/* /0 would believe X-Forwarded-For from the whole internet */
			if (prefix == 0)
				return pc_errf(err, errlen, "%s: item %zu trusts every address (prefix /0); name the proxies",
				            name, n + 1);
		}
		if (inet_pton(c->family, buf, c->addr) != 1)
			return pc_errf(err, errlen, "%s: item %zu is not a numeric IPv4 or IPv6 address or CIDR", name,
			            n + 1);
		c->prefix = (unsigned)prefix;
		if (!host_bits_zero(c->addr, maxp / 8, c->prefix))
			return pc_errf(err, errlen, "%s: item %zu has host bits set after the prefix (write the network "
			            "address)", name, n + 1);
		n++;
	}
	if (rc < 0)
		return -1;
	cfg->n_trusted_proxies = n;
	return 0;
}

static bool prefix_match(const uint8_t *net, const uint8_t *a, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	if (memcmp(net, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net[full] & mask) == (a[full] & mask);
}

bool pc_config_addr_trusted(const struct pc_config *cfg, const struct sockaddr *addr)
{
	uint8_t v6[16];
	const uint8_t *v4 = NULL;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (cfg == NULL || addr == NULL)
		return false;
	if (addr->sa_family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, addr, sizeof(sin));
		/* also as ::ffff:a.b.c.d, for a proxy list written that way */
		memcpy(v6, mapped, 12);
		memcpy(v6 + 12, &sin.sin_addr, 4);
		v4 = v6 + 12;
	} else if (addr->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, addr, sizeof(sin6));
		memcpy(v6, &sin6.sin6_addr, 16);
		if (memcmp(v6, mapped, 12) == 0)
			v4 = v6 + 12;
	} else {
		return false;
	}
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
		const struct pc_cidr *c = &cfg->trusted_proxies[i];
		if (c->family == AF_INET && v4 != NULL && prefix_match(c->addr, v4, c->prefix))
			return true;
		if (c->family == AF_INET6 && prefix_match(c->addr, v6, c->prefix))
			return true;
	}
	return false;
}

/* scheme://host[:port], http or https, lowercase host of DNS characters or
 * an [IPv6] literal, no path, no trailing slash: compared byte for byte
 * with the Origin header. */
static bool origin_valid(const char *s, size_t n)
{
	size_t i;
	if (n > 7 && memcmp(s, "http://", 7) == 0)
		i = 7;
	else if (n > 8 && memcmp(s, "https://", 8) == 0)
		i = 8;
	else
		return false;
	size_t host = i;
	if (i < n && s[i] == '[') {
		while (i < n && s[i] != ']')
			if (!(strchr("0123456789abcdef:.", s[i++]) || s[i - 1] == '['))
				return false;
		if (i >= n)
			return false;
		i++;
	} else {
		while (i < n && (s[i] == '-' || s[i] == '.' || (s[i] >= 'a' && s[i] <= 'z') ||
		                 (s[i] >= '0' && s[i] <= '9')))
			i++;
	}
	if (i == host)
		return false;
	if (i < n && s[i] == ':') {
		size_t d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d || i - d > 5)
			return false;
	}
	return i == n;
}

int pc_config_parse_origins(char (*list)[256], size_t *count, const char *name, const char *s, char *err,
                            size_t errlen)
{
	struct items it = {s, s[0] == '\0'};
	const char *item;
	size_t len;
	while (items_next(&it, &item, &len) == 0) {
		if (len == 0)
			return pc_errf(err, errlen, "%s has an empty item (no spaces or stray commas allowed)", name);
		if (*count == PC_MAX_ALLOWED_ORIGINS)
			return pc_errf(err, errlen, "%s has more than %d origins", name, PC_MAX_ALLOWED_ORIGINS);
		if (len >= 256 || !origin_valid(item, len))
			return pc_errf(err, errlen, "%s item %zu is not an origin like https://app.example.com (lowercase, "
			            "no path)", name, *count + 1);
		memcpy(list[*count], item, len);
		list[*count][len] = '\0';
		(*count)++;
	}
	return 0;
}
