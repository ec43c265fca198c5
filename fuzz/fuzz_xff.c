/*
 * fuzz_xff.c — libFuzzer target for the X-Forwarded-For walk
 * (pc_xff_client), the code that decides which address a request from a
 * trusted proxy is charged to (rate limits, audit, logs).
 *
 * The input is split at '\n' into X-Forwarded-For field values of one
 * request, which the real HTTP parser parses:
 *
 *   "GET / HTTP/1.1\r\nHost: a\r\n" + "X-Forwarded-For: " + line + "\r\n" ... "\r\n"
 *
 * When the head parses, the address pc_xff_client picks must equal an
 * independent model of the rule in xff.h, written the other way round:
 * first split every line into its comma-separated items, then walk the
 * items right to left — an item empty after trimming SP/HTAB is skipped;
 * an item too long or not an IPv4/IPv6 address stops the walk with the
 * address before it; an address becomes the client and
 * stops the walk unless it is a trusted proxy. Also: the result is
 * NUL-terminated inside its buffer (a canary after it stays intact), and is
 * the peer or an address.
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
#include "http/parser.h"
#include "http/xff.h"
#include "fuzz.h"

static const char PEER[] = "10.9.9.9";
static struct pc_config cfg;

static void load(void)
{
	char entry[] = "PORTCULLIS_TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1,2001:db8::/32,::ffff:172.16.0.0/108";
	char *envp[] = {entry, NULL};
	char err[256];
	CHECK(pc_config_load(&cfg, envp, false, err, sizeof(err)) == 0);
}

static bool parse_addr(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

struct item {
	const char *p;
	size_t n;
};

#define MAX_ITEMS 4096

/* The rule of xff.h, items first. */
static void model(const struct pc_http_request *h, char out[PC_CLIENT_ADDR_MAX])
{
	static struct item items[MAX_ITEMS];
	size_t n_items = 0;
	for (size_t i = 0; i < h->n_headers; i++) {
		if (!pc_str_ieq(h->headers[i].name, "X-Forwarded-For") || h->headers[i].value.len == 0)
			continue;
		const char *p = h->headers[i].value.p, *end = p + h->headers[i].value.len;
		for (;;) {
			const char *c = memchr(p, ',', (size_t)(end - p));
			const char *e = c ? c : end;
			CHECK(n_items < MAX_ITEMS);
			items[n_items++] = (struct item){p, (size_t)(e - p)};
			if (c == NULL)
				break;
			p = c + 1;
		}
	}
	strcpy(out, PEER);
	for (size_t i = n_items; i-- > 0;) {
		const char *a = items[i].p, *b = a + items[i].n;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		size_t n = (size_t)(b - a);
		char tmp[PC_CLIENT_ADDR_MAX];
		if (n == 0)
			continue;
		if (n >= sizeof(tmp))
			return;
		memcpy(tmp, a, n);
		tmp[n] = '\0';
		struct sockaddr_storage ss;
		if (!parse_addr(tmp, &ss))
			return;
		memcpy(out, tmp, n + 1);
		if (!pc_config_addr_trusted(&cfg, (struct sockaddr *)&ss))
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		load();
		ready = true;
	}
	if (size > 4096)
		return 0;
	/* each input byte may be a '\n' that costs a field name and a CRLF */
	static char buf[4096 * 20 + 256];
	size_t len = 0;
	const char *pre = "GET / HTTP/1.1\r\nHost: a\r\n";
	memcpy(buf, pre, strlen(pre));
	len = strlen(pre);
	size_t i = 0;
	while (i <= size) {
		const uint8_t *nl = i < size ? memchr(data + i, '\n', size - i) : NULL;
		size_t e = nl ? (size_t)(nl - data) : size;
		memcpy(buf + len, "X-Forwarded-For: ", 17);
		len += 17;
		memcpy(buf + len, data + i, e - i);
		len += e - i;
		memcpy(buf + len, "\r\n", 2);
		len += 2;
		i = e + 1;
	}
	memcpy(buf + len, "\r\n", 2);
	len += 2;

	struct pc_http_parser p;
	static struct pc_http_request req;
	pc_http_parser_init(&p);
	memset(&req, 0, sizeof(req));
	const char *why = NULL;
	if (pc_http_parse_head(&p, &req, buf, len, 0, &why) != PC_HTTP_DONE)
		return 0;

	struct {
		char client[PC_CLIENT_ADDR_MAX];
		char canary[8];
	} got;
	memset(got.canary, 0x5a, sizeof(got.canary));
	strcpy(got.client, PEER);
	pc_xff_client(&cfg, &req, got.client);
	for (size_t k = 0; k < sizeof(got.canary); k++)
		CHECK((unsigned char)got.canary[k] == 0x5a);
	CHECK(memchr(got.client, '\0', sizeof(got.client)) != NULL);

	char want[PC_CLIENT_ADDR_MAX];
	model(&req, want);
	CHECK(strcmp(got.client, want) == 0);
	if (strcmp(got.client, PEER) != 0) {
		struct sockaddr_storage ss;
		CHECK(parse_addr(got.client, &ss));
	}
	return 0;
}
