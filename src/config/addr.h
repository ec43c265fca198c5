/*
 * addr.h — network addresses in the configuration (addr.c): parsing
 * PORTCULLIS_LISTEN, PORTCULLIS_TRUSTED_PROXIES and origin lists, and the
 * trusted-proxy check the HTTP layer makes for every connection.
 *
 * The parsers take the variable's name for their error line, which names
 * the item by position and never quotes it; each returns 0, or -1 with
 * that line in err.
 */
#ifndef PC_CONFIG_ADDR_H
#define PC_CONFIG_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config/config.h"
#include "core/err.h"

/* "a.b.c.d:port,[v6]:port,unix:/path" into cfg->listen / n_listen: at
 * most PC_MAX_LISTEN, numeric, ports 0-65535, unix socket paths absolute
 * and at most PC_UNIX_PATH_MAX bytes, no repeats, at least one. */
PC_MUST_USE int pc_config_parse_listen(struct pc_config *cfg, const char *name, const char *s,
                                       char *err, size_t errlen);

/* "addr[/prefix],...,unix" into cfg->trusted_proxies / n_trusted_proxies
 * (at most PC_MAX_TRUSTED_PROXIES, no host bits, no /0) and trust_unix (the
 * item "unix": peers on a unix socket); "" is an empty list. */
PC_MUST_USE int pc_config_parse_proxies(struct pc_config *cfg, const char *name, const char *s,
                                        char *err, size_t errlen);

/* "https://host[:port],..." appended to list[*count..] (at most
 * PC_MAX_ALLOWED_ORIGINS in all): lowercase, no path, no trailing slash. */
/* PORTCULLIS_PUBLIC_URL: scheme://host[:port][/path], the address users
 * see for portcullis; fills public_url, public_origin, public_host (no
 * port, brackets kept for IPv6) and public_https. "" leaves them empty. */
PC_MUST_USE int pc_config_parse_public_url(struct pc_config *cfg, const char *name, const char *s, char *err,
                                           size_t errlen);
/* PORTCULLIS_WEBAUTHN_RP_ID, after the public URL: "" gives public_host
 * (none for an IP literal: passkeys off), else it must be public_host or a
 * suffix of it at a label boundary holding a dot. Without a public URL it
 * must be empty, and webauthn_rp_id stays "" (passkeys off). */
PC_MUST_USE int pc_config_parse_rp_id(struct pc_config *cfg, const char *name, const char *s, char *err,
                                      size_t errlen);

/* PORTCULLIS_SMTP_URL: smtp://host[:port] (STARTTLS required) or
 * smtps://host[:port] (TLS from the first byte), lowercase host, no
 * credentials, path or query; fills smtp_url and smtp_implicit_tls. ""
 * leaves them empty (email off). */
PC_MUST_USE int pc_config_parse_smtp_url(struct pc_config *cfg, const char *name, const char *s, char *err,
                                         size_t errlen);

PC_MUST_USE int pc_config_parse_origins(char (*list)[256], size_t *count, const char *name,
                                        const char *s, char *err, size_t errlen);

/* Whether addr (AF_INET/AF_INET6 sockaddr) is inside one of the trusted
 * proxy CIDRs, or (AF_UNIX) whether unix-socket peers are trusted; false
 * for NULL arguments. A security predicate: true means
 * its X-Forwarded-For is believed. */
PC_MUST_USE bool pc_config_addr_trusted(const struct pc_config *cfg, const struct sockaddr *addr);

#endif
