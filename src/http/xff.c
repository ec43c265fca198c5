/*
 * xff.c — the client address behind trusted proxies; see xff.h.
 */
#include "http/xff.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "config/addr.h"

/* One X-Forwarded-For value, right to left. Returns true when the client
 * is found (an untrusted address, or garbage: then the last trusted hop
 * stays), false to go on with the previous header line. Empty items are
 * skipped, as RFC 9110 5.6.1 asks of every list. */
static bool walk(const struct pc_config *cfg, struct pc_str v, char client[PC_CLIENT_ADDR_MAX])
{
	const char *start = v.p;
	const char *end = start + v.len; /* the current item is [comma, end) */
	for (;;) {
		const char *comma = end;
		while (comma > start && comma[-1] != ',')
			comma--;
		const char *a = comma, *b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		size_t n = (size_t)(b - a);
		if (n > 0) {
			char tmp[PC_CLIENT_ADDR_MAX];
			if (n >= sizeof(tmp))
				return true;
			memcpy(tmp, a, n);
			tmp[n] = '\0';
			struct sockaddr_storage ss;
			memset(&ss, 0, sizeof(ss));
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			if (inet_pton(AF_INET, tmp, &s4->sin_addr) == 1)
				s4->sin_family = AF_INET;
			else if (inet_pton(AF_INET6, tmp, &s6->sin6_addr) == 1)
				s6->sin6_family = AF_INET6;
			else
				return true; /* garbage: keep the last trusted hop */
			memcpy(client, tmp, n + 1);
			if (!pc_config_addr_trusted(cfg, (struct sockaddr *)&ss))
				return true;
		}
		if (comma == start)
			return false;
		end = comma - 1; /* the ',' itself */
	}
}

void pc_xff_client(const struct pc_config *cfg, const struct pc_http_request *h,
                   char client[PC_CLIENT_ADDR_MAX])
{
	for (size_t i = h->n_headers; i-- > 0;) {
		if (!pc_str_ieq(h->headers[i].name, "X-Forwarded-For"))
			continue;
		if (walk(cfg, h->headers[i].value, client))
			return;
	}
}
