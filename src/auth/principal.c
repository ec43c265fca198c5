/*
 * principal.c (auth) — the anonymous actor of a request (its client
 * address and User-Agent). The authenticated principals are built by
 * authenticate.c; method names and ids are core/principal.c.
 */
#include <assert.h>
#include <string.h>

#include "auth/principal.h"
#include "http/request.h"

void pc_principal_anonymous(struct pc_principal *p, const struct pc_req *r)
{
	assert(p != NULL && r != NULL);
	memset(p, 0, sizeof(*p));
	p->method = PC_AUTH_ANONYMOUS;
	size_t n = strnlen(r->client_addr, sizeof(r->client_addr) - 1);
	_Static_assert(sizeof(p->client_addr) == sizeof(r->client_addr), "same address buffer");
	memcpy(p->client_addr, r->client_addr, n);
	p->client_addr[n] = '\0';
	_Static_assert(sizeof(p->request_id) == sizeof(r->request_id), "same request id buffer");
	memcpy(p->request_id, r->request_id, sizeof(p->request_id));
	p->request_id[sizeof(p->request_id) - 1] = '\0';
	if (r->http != NULL) {
		const struct pc_http_header *h = pc_http_header_get(r->http, "User-Agent");
		if (h != NULL && h->value.p != NULL) {
			const char *v = h->value.p;
			size_t len = h->value.len;
			n = len < PC_UA_MAX ? len : PC_UA_MAX;
			/* cut at a character boundary, not inside a UTF-8 sequence */
			while (n > 0 && n < len && ((unsigned char)v[n] & 0xC0) == 0x80)
				n--;
			/* the parser refuses NUL in field values; stop at one anyway */
			const char *nul = memchr(v, '\0', n);
			if (nul != NULL)
				n = (size_t)(nul - v);
			memcpy(p->user_agent, v, n);
			p->user_agent[n] = '\0';
		}
	}
	p->authenticated_at = r->now;
}
