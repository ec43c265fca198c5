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

#include "core/cidr.h"
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

/* Room for one list item: an address, a CIDR, or "unix:" and a path (with
 * room to say a path is too long rather than the item). */
#define ITEM_MAX 160
_Static_assert(ITEM_MAX > 5 + PC_UNIX_PATH_MAX + 1, "a unix item and then some");

/* An address list's next item (the n-th so far, at most max of them, each
 * named `what` in the error), copied NUL-terminated into buf[ITEM_MAX]. 1:
 * no more items; 0: one in buf; -1: an error in err. */
static int next_address(struct items *it, char buf[ITEM_MAX], size_t n, size_t max, const char *what,
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
	if (len >= ITEM_MAX)
		return pc_errf(err, errlen, "%s: item %zu is too long for an address", name, n + 1);
	memcpy(buf, item, len);
	buf[len] = '\0';
	return 0;
}

/* "unix:" then an absolute path of visible ASCII (no spaces: the list is
 * read by people and shells), at most PC_UNIX_PATH_MAX bytes, no empty,
 * "." or ".." segment (one spelling per path), not repeating an earlier
 * item's path. */
static int parse_unix(struct pc_config *cfg, size_t n, const char *path, const char *name, char *err,
                      size_t errlen)
{
	size_t len = strlen(path);
	bool visible = true;
	for (size_t i = 0; i < len; i++)
		visible = visible && path[i] > 0x20 && path[i] < 0x7f;
	if (len == 0 || path[0] != '/' || !visible || path[len - 1] == '/' || strstr(path, "//") != NULL ||
	    strstr(path, "/./") != NULL ||
	    strstr(path, "/../") != NULL || (len >= 2 && strcmp(path + len - 2, "/.") == 0) ||
	    (len >= 3 && strcmp(path + len - 3, "/..") == 0))
		return pc_errf(err, errlen, "%s: item %zu is not unix:/absolute/path (visible ASCII, no spaces, no empty, "
		            "'.' or '..' segment, not a directory)", name, n + 1);
	if (len > PC_UNIX_PATH_MAX)
		return pc_errf(err, errlen, "%s: item %zu: a unix socket path has at most %d bytes", name, n + 1,
		               PC_UNIX_PATH_MAX);
	for (size_t j = 0; j < n; j++)
		if (strcmp(cfg->listen[j].path, path) == 0)
			return pc_errf(err, errlen, "%s: item %zu repeats item %zu", name, n + 1, j + 1);
	memcpy(cfg->listen[n].path, path, len + 1);
	return 0;
}

int pc_config_parse_listen(struct pc_config *cfg, const char *name, const char *s, char *err, size_t errlen)
{
	struct items it = {s, s[0] == '\0'};
	size_t n = 0;
	uint8_t seen[PC_MAX_LISTEN][17]; /* address, then 4 or 6 (0: a unix socket) */
	char buf[ITEM_MAX];
	int rc;
	while ((rc = next_address(&it, buf, n, PC_MAX_LISTEN, "addresses", name, err, errlen)) == 0) {
		memset(&cfg->listen[n], 0, sizeof(cfg->listen[n]));
		if (strncmp(buf, "unix:", 5) == 0) {
			if (parse_unix(cfg, n, buf + 5, name, err, errlen) != 0)
				return -1;
			memset(seen[n], 0, sizeof(seen[n]));
			n++;
			continue;
		}
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

int pc_config_parse_proxies(struct pc_config *cfg, const char *name, const char *s, char *err, size_t errlen)
{
	struct items it = {s, s[0] == '\0'};
	size_t n = 0, items = 0;
	char buf[ITEM_MAX];
	int rc;
	cfg->trust_unix = false;
	/* room for "unix" and one CIDR too many: the limit named is the CIDRs' */
	while ((rc = next_address(&it, buf, items, PC_MAX_TRUSTED_PROXIES + 2, "entries", name, err, errlen)) == 0) {
		items++;
		/* "unix": whoever connects over a unix socket of PORTCULLIS_LISTEN
		 * (the socket file's permissions decide who can) */
		if (strcmp(buf, "unix") == 0) {
			if (cfg->trust_unix)
				return pc_errf(err, errlen, "%s: item %zu repeats \"unix\"", name, items);
			cfg->trust_unix = true;
			continue;
		}
		if (n == PC_MAX_TRUSTED_PROXIES)
			return pc_errf(err, errlen, "%s has more than %d entries", name, PC_MAX_TRUSTED_PROXIES);
		const char *why = "";
		struct pc_cidr *c = &cfg->trusted_proxies[n];
		if (pc_cidr_parse(c, &why, buf, strlen(buf)) != 0)
			return pc_errf(err, errlen, "%s: item %zu: %s", name, items, why);
		/* /0 would believe X-Forwarded-For from the whole internet */
		if (c->prefix == 0)
			return pc_errf(err, errlen, "%s: item %zu trusts every address (prefix /0); name the proxies",
			            name, items);
		n++;
	}
	if (rc < 0)
		return -1;
	cfg->n_trusted_proxies = n;
	return 0;
}

bool pc_config_addr_trusted(const struct pc_config *cfg, const struct sockaddr *addr)
{
	struct pc_ip ip;
	if (cfg == NULL || addr == NULL)
		return false;
	if (addr->sa_family == AF_UNIX)
		return cfg->trust_unix;
	if (pc_ip_from_sockaddr(&ip, addr) != 0)
		return false;
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++)
		if (pc_cidr_contains(&cfg->trusted_proxies[i], &ip))
			return true;
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

int pc_config_parse_public_url(struct pc_config *cfg, const char *name, const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);
	if (n == 0)
		return 0;
	if (n >= sizeof(cfg->public_url))
		return pc_errf(err, errlen, "%s is longer than %zu bytes", name, sizeof(cfg->public_url) - 1);
	const char *rest = strstr(s, "://");
	const char *path = rest ? strchr(rest + 3, '/') : NULL;
	size_t olen = path ? (size_t)(path - s) : n;
	if (!origin_valid(s, olen))
		return pc_errf(err, errlen, "%s is not a URL like https://auth.example.com (http or https, lowercase "
		            "host, optional port and path, no query, no trailing slash)", name);
	if (path != NULL) {
		size_t plen = n - olen;
		if (path[plen - 1] == '/')
			return pc_errf(err, errlen, "%s must not end with a slash", name);
		for (size_t i = 0; i < plen; i++) {
			char c = path[i];
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			          strchr("/-._~", c) != NULL;
			if (!ok || (c == '/' && i + 1 < plen && path[i + 1] == '/'))
				return pc_errf(err, errlen, "%s has a path with a character other than letters, digits, "
				            "'/', '-', '.', '_' and '~' (or an empty segment)", name);
		}
		if (strstr(path, "/./") || strstr(path, "/../") || (plen >= 2 && strcmp(path + plen - 2, "/.") == 0) ||
		    (plen >= 3 && strcmp(path + plen - 3, "/..") == 0))
			return pc_errf(err, errlen, "%s has a '.' or '..' segment", name);
	}
	memcpy(cfg->public_url, s, n + 1);
	memcpy(cfg->public_origin, s, olen);
	cfg->public_origin[olen] = '\0';
	const char *h = strstr(cfg->public_origin, "://") + 3;
	size_t hl;
	if (h[0] == '[') {
		hl = (size_t)(strchr(h, ']') - h) + 1;
	} else {
		const char *colon = strchr(h, ':');
		hl = colon ? (size_t)(colon - h) : strlen(h);
	}
	memcpy(cfg->public_host, h, hl);
	cfg->public_host[hl] = '\0';
	cfg->public_https = strncmp(s, "https://", 8) == 0;
	return 0;
}

int pc_config_parse_rp_id(struct pc_config *cfg, const char *name, const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s), hl = strlen(cfg->public_host);
	cfg->webauthn_rp_id[0] = '\0';
	if (cfg->public_origin[0] == '\0') {
		if (n != 0)
			return pc_errf(err, errlen, "%s needs PORTCULLIS_PUBLIC_URL (the WebAuthn origin)", name);
		return 0;
	}
	if (n == 0) {
		/* an IP literal cannot be an RP ID (WebAuthn L2 §5.1.3: a valid domain) */
		bool ip = cfg->public_host[0] == '[' || strspn(cfg->public_host, "0123456789.") == hl;
		if (!ip)
			memcpy(cfg->webauthn_rp_id, cfg->public_host, hl + 1);
		return 0;
	}
	bool chars = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") == n && s[0] != '.' && s[0] != '-' &&
	             s[n - 1] != '.' && strstr(s, "..") == NULL;
	/* the host itself, or a suffix of it at a label boundary (WebAuthn L2
	 * §5.1.3: a registrable domain suffix of the origin's effective domain) */
	bool suffix = n == hl ? strcmp(s, cfg->public_host) == 0
	                      : n < hl && cfg->public_host[hl - n - 1] == '.' && strcmp(cfg->public_host + hl - n, s) == 0;
	if (!chars || !suffix || (strchr(s, '.') == NULL && n != hl))
		return pc_errf(err, errlen, "%s must be the host of PORTCULLIS_PUBLIC_URL (%s) or a registrable suffix of it",
		               name, cfg->public_host);
	memcpy(cfg->webauthn_rp_id, s, n + 1);
	return 0;
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

int pc_config_parse_smtp_url(struct pc_config *cfg, const char *name, const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);
	if (n == 0)
		return 0;
	/* the host[:port] part is checked as an origin's (lowercase DNS name,
	 * IPv4 or [IPv6], port 1-65535) under a scheme origin_valid knows */
	char room[sizeof(cfg->smtp_url) + 8];
	bool implicit = strncmp(s, "smtps://", 8) == 0;
	size_t skip = implicit ? 8 : strncmp(s, "smtp://", 7) == 0 ? 7 : 0;
	if (n >= sizeof(cfg->smtp_url))
		return pc_errf(err, errlen, "%s is longer than %zu bytes", name, sizeof(cfg->smtp_url) - 1);
	size_t hl = n - skip;
	if (hl > 0 && s[n - 1] == '/')
		hl--;
	if (skip == 0 || hl == 0 || snprintf(room, sizeof(room), "https://%.*s", (int)hl, s + skip) < 0 ||
	    !origin_valid(room, strlen(room)) || memchr(s + skip, '@', n - skip) != NULL)
		return pc_errf(err, errlen, "%s is not smtp://host[:port] (STARTTLS required) or smtps://host[:port] "
		            "(lowercase host, no credentials: set PORTCULLIS_SMTP_USER and PORTCULLIS_SMTP_PASSWORD; no "
		            "path)", name);
	/* port 0 (which origin_valid allows for listeners) cannot be dialled */
	const char *hp = s + skip, *close = memchr(hp, ']', hl), *colon = NULL;
	for (const char *c = close ? close : hp; c < hp + hl; c++)
		if (*c == ':')
			colon = c;
	bool zero = colon != NULL && colon + 1 < hp + hl;
	for (const char *c = colon ? colon + 1 : hp + hl; c < hp + hl; c++)
		zero = zero && *c == '0';
	if (zero)
		return pc_errf(err, errlen, "%s has port 0", name);
	memcpy(cfg->smtp_url, s, skip + hl);
	cfg->smtp_url[skip + hl] = '\0';
	cfg->smtp_implicit_tls = implicit;
	return 0;
}
