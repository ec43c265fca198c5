/*
 * xff.h — the client address behind trusted proxies (X-Forwarded-For).
 *
 * A request from a peer in PORTCULLIS_TRUSTED_PROXIES may name its client in
 * X-Forwarded-For. Every proxy appends the address it received from, so the
 * list is read right to left: the client is the right-most entry that is not
 * itself a trusted proxy. Several X-Forwarded-For lines form one list in
 * order (RFC 9110 5.3), so a proxy that adds its own line cannot leave the
 * client's forged first line in charge. Empty items are skipped (RFC 9110
 * 5.6.1). An item too long or not an IPv4/IPv6 address ends the walk: the
 * last trusted hop stays the client, never the garbage and never anything to
 * its left.
 *
 * Only addresses are believed: no port, no brackets, no "unknown", no
 * obfuscated identifiers (RFC 7239 "Forwarded" is not read).
 */
#ifndef PC_HTTP_XFF_H
#define PC_HTTP_XFF_H

#include "config/config.h"
#include "http/parser.h"


/* `client` holds the (trusted) peer's address on entry and the client's on
 * return, always NUL-terminated within PC_CLIENT_ADDR_MAX bytes. Call it only
 * for a trusted peer. */
void pc_xff_client(const struct pc_config *cfg, const struct pc_http_request *h,
                   char client[PC_CLIENT_ADDR_MAX]);

#endif
