/*
 * connlimit.h — global and per-client-address connection accounting.
 *
 * Shared by every loop thread; a connection is counted at accept and
 * released at close. The per-address table is an open-addressed hash with
 * linear probing and backward-shift deletion, sized for the global limit, so
 * it never grows and never allocates after start. Protected by one mutex:
 * accept and close are far rarer than requests.
 */
#ifndef PC_HTTP_CONNLIMIT_H
#define PC_HTTP_CONNLIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include "core/err.h"

struct pc_addrkey {
	uint8_t bytes[16]; /* IPv4 as ::ffff:a.b.c.d */
};

PC_MUST_USE int pc_connlimit_init(unsigned max_total, unsigned max_per_addr);
void pc_connlimit_free(void);
/* Counts one connection; false (nothing counted) when over a limit.
 * exempt: the peer is a trusted proxy and only the global limit applies. */
PC_MUST_USE bool pc_connlimit_acquire(const struct pc_addrkey *k, bool exempt);
void pc_connlimit_release(const struct pc_addrkey *k, bool exempt);

#endif
