/*
 * smtp.h — hands one finished message to the configured mail server
 * (PORTCULLIS_SMTP_*), through libcurl. The only file of ours that
 * includes curl/curl.h (scripts/check-layers.sh).
 *
 * Transport security: smtp:// requires STARTTLS (CURLUSESSL_ALL): a server
 * that does not offer it, or whose certificate does not verify, is refused
 * before MAIL FROM — there is no cleartext fallback. smtps:// is TLS from
 * the first byte. The certificate is always verified (against
 * PORTCULLIS_SMTP_CA_FILE when set, else the system's store), host name
 * included. Only PORTCULLIS_SMTP_INSECURE=true (smtp:// only) sends
 * without TLS, for a relay on this host or a private network.
 *
 * pc_smtp_send BLOCKS for up to the connect and transfer timeouts: call it
 * from the mail sender's own thread (svc/outbox.c), never from a loop.
 */
#ifndef PC_MAIL_SMTP_H
#define PC_MAIL_SMTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/err.h"

#define PC_SMTP_CONNECT_TIMEOUT_S 10
#define PC_SMTP_TIMEOUT_S 60 /* the whole exchange; well under the outbox lease */

enum pc_smtp_result {
	PC_SMTP_SENT = 0,      /* the server answered 250 to the end of DATA */
	PC_SMTP_TRANSIENT = 1, /* try again later: network, TLS, 4xx, timeout, stopped */
	PC_SMTP_PERMANENT = 2, /* the server refused the message or recipient (5xx) */
};

/* Once, before any thread sends: loads libcurl.so.4 (dlopen) and runs
 * curl_global_init. 0, or -1 (not installed, or a symbol missing). */
PC_MUST_USE int pc_smtp_global_init(void);
void pc_smtp_global_cleanup(void);

/*
 * Sends msg (len bytes, a whole RFC 5322 message with CRLF line ends, from
 * core/mail.h) to `to` from cfg->smtp_from. stop: when it becomes true the
 * exchange is abandoned (PC_SMTP_TRANSIENT). err receives one line without
 * secrets (curl's error text and the server's reply code).
 */
PC_MUST_USE enum pc_smtp_result pc_smtp_send(const struct pc_config *cfg, const char *to, const char *msg,
                                             size_t len, const atomic_bool *stop, char *err, size_t errlen);

#endif
