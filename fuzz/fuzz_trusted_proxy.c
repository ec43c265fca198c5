/*
 * fuzz_trusted_proxy.c — libFuzzer target for pc_config_addr_trusted(), the
 * check that decides whether a peer is a trusted proxy (whose
 * X-Forwarded-For is then believed).
 *
 * The X-Forwarded-For walk itself (pc_xff_client) has its own target,
 * fuzz_xff.c; this one fuzzes what it relies on: the trusted-proxy list
 * parser (PORTCULLIS_TRUSTED_PROXIES) and the CIDR match.
 *
 * Input: byte 0 picks the address form (0: AF_INET, 1: AF_INET6,
 * 2: AF_INET6 IPv4-mapped ::ffff:a.b.c.d, 3: the family is taken from bytes
 * 1-2 too); bytes 1..16 are the address; anything after byte 16 is the
 * PORTCULLIS_TRUSTED_PROXIES value (up to a NUL). When it does not load, a
 * fixed list with IPv4, IPv6 and IPv4-mapped CIDRs is used.
 *
 * Invariants:
 * - a loaded list has one CIDR per comma item other than "unix", each of a
 *   known family with a prefix of 1..32 or 1..128 and no host bits set;
 *   "unix" is at most one item, and sets trust_unix exactly when present;
 * - pc_config_addr_trusted agrees with a bit-by-bit model: an IPv4 peer is
 *   checked against IPv4 CIDRs and, as ::ffff:a.b.c.d, against IPv6 ones;
 *   an IPv4-mapped IPv6 peer against both; an AF_UNIX peer exactly when
 *   the list text has the item "unix"; other families are never trusted;
 *   NULL config or address is never trusted;
 * - the sockaddr handed over is a heap block of exactly its family's size,
 *   so ASan sees a read past it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/addr.h"
#include "config/config.h"
#include "fuzz.h"

static const char default_list[] =
	"10.0.0.0/8,192.168.1.0/24,203.0.113.7,128.0.0.0/1,2001:db8::/32,::ffff:172.16.0.0/108,"
	"fe80::1,8000::/1,64:ff9b::/96";

static struct pc_config fixed_cfg, fuzz_cfg;

static int load(struct pc_config *cfg, const char *list)
{
	size_t l = strlen(list);
	char *entry = malloc(sizeof("PORTCULLIS_TRUSTED_PROXIES=") + l);
	CHECK(entry != NULL);
	memcpy(entry, "PORTCULLIS_TRUSTED_PROXIES=", sizeof("PORTCULLIS_TRUSTED_PROXIES=") - 1);
	memcpy(entry + sizeof("PORTCULLIS_TRUSTED_PROXIES=") - 1, list, l + 1);
	char *envp[] = {entry, NULL};
	char err[256];
	int rc = pc_config_load(cfg, envp, false, err, sizeof(err));
	free(entry);
	return rc;
}

static bool bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static bool model_match(const uint8_t *net, const uint8_t *a, unsigned prefix)
{
	for (unsigned i = 0; i < prefix; i++)
		if (bit(net, i) != bit(a, i))
			return false;
	return true;
}

/* whether the list text has the item "unix", read from the text itself */
static bool lists_unix(const char *list)
{
	for (const char *p = list;; p++) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 4 && memcmp(p, "unix", 4) == 0)
			return true;
		if (end == NULL)
			return false;
		p = end;
	}
}

static void check_list(const struct pc_config *cfg, const char *list)
{
	size_t items = list[0] == '\0' ? 0 : 1;
	for (const char *p = list; *p; p++)
		items += *p == ',';
	CHECK(cfg->trust_unix == lists_unix(list));
	CHECK(cfg->n_trusted_proxies == items - (cfg->trust_unix ? 1 : 0));
	CHECK(cfg->n_trusted_proxies <= PC_MAX_TRUSTED_PROXIES);
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
		const struct pc_cidr *c = &cfg->trusted_proxies[i];
		CHECK(c->family == AF_INET || c->family == AF_INET6);
		unsigned maxp = c->family == AF_INET ? 32 : 128;
		CHECK(c->prefix >= 1 && c->prefix <= maxp);
		for (unsigned b = c->prefix; b < maxp; b++)
			CHECK(!bit(c->addr, b));
	}
}

static bool model_trusted(const struct pc_config *cfg, const char *list, int family, const uint8_t addr[16],
                          uint16_t raw_family)
{
	if (family == -1 && raw_family == AF_UNIX)
		return lists_unix(list);
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint8_t v6[16];
	const uint8_t *v4 = NULL;
	if (family == AF_INET) {
		memcpy(v6, mapped, 12);
		memcpy(v6 + 12, addr, 4);
		v4 = addr;
	} else if (family == AF_INET6) {
		memcpy(v6, addr, 16);
		if (memcmp(addr, mapped, 12) == 0)
			v4 = addr + 12;
	} else {
		return false;
	}
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
		const struct pc_cidr *c = &cfg->trusted_proxies[i];
		if (c->family == AF_INET && v4 != NULL && model_match(c->addr, v4, c->prefix))
			return true;
		if (c->family == AF_INET6 && model_match(c->addr, v6, c->prefix))
			return true;
	}
	return false;
}

static void check_addr(const struct pc_config *cfg, const char *list, int family, const uint8_t addr[16],
                       uint16_t raw_family)
{
	bool got;
	if (family == AF_INET) {
		struct sockaddr_in *s = malloc(sizeof(*s));
		CHECK(s != NULL);
		memset(s, 0, sizeof(*s));
		s->sin_family = AF_INET;
		s->sin_port = htons(443);
		memcpy(&s->sin_addr, addr, 4);
		got = pc_config_addr_trusted(cfg, (struct sockaddr *)s);
		free(s);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *s = malloc(sizeof(*s));
		CHECK(s != NULL);
		memset(s, 0, sizeof(*s));
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(443);
		memcpy(&s->sin6_addr, addr, 16);
		got = pc_config_addr_trusted(cfg, (struct sockaddr *)s);
		free(s);
	} else {
		struct sockaddr *s = malloc(sizeof(*s));
		CHECK(s != NULL);
		memset(s, 0, sizeof(*s));
		s->sa_family = raw_family;
		memcpy(s->sa_data, addr, sizeof(s->sa_data));
		got = pc_config_addr_trusted(cfg, s);
		free(s);
	}
	CHECK(got == model_trusted(cfg, list, family, addr, raw_family));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		CHECK(load(&fixed_cfg, default_list) == 0);
		check_list(&fixed_cfg, default_list);
		ready = true;
	}
	if (size < 1)
		return 0;
	uint8_t addr[16] = {0};
	size_t an = size - 1 < 16 ? size - 1 : 16;
	memcpy(addr, data + 1, an);
	int family;
	uint16_t raw_family = 0;
	switch (data[0] & 3) {
	case 0:
		family = AF_INET;
		break;
	case 1:
		family = AF_INET6;
		break;
	case 2:
		family = AF_INET6;
		memmove(addr + 12, addr, 4);
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		break;
	default:
		raw_family = (uint16_t)(addr[0] | addr[1] << 8);
		family = raw_family == AF_INET || raw_family == AF_INET6 ? raw_family : -1;
		if (family == -1)
			break;
		memmove(addr, addr + 2, 14); /* the rest is the address */
		addr[14] = addr[15] = 0;
		break;
	}

	const struct pc_config *cfg = &fixed_cfg;
	const char *text = default_list;
	char *list = NULL;
	if (size > 17) {
		size_t l = size - 17;
		list = malloc(l + 1);
		CHECK(list != NULL);
		memcpy(list, data + 17, l);
		list[l] = '\0';
		if (load(&fuzz_cfg, list) == 0) {
			check_list(&fuzz_cfg, list);
			cfg = &fuzz_cfg;
			text = list;
		}
	}
	check_addr(cfg, text, family, addr, raw_family);
	free(list);
	CHECK(!pc_config_addr_trusted(NULL, (const struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET}));
	CHECK(!pc_config_addr_trusted(cfg, NULL));
	return 0;
}
