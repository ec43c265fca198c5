/*
 * mail.h — one RFC 5322 message built strictly from fixed templates.
 *
 * Choice (documented in the README, "Email"): header fields are printable
 * US-ASCII only. Every byte of every header field value is checked against
 * 0x20-0x7E before anything is written: CR, LF, NUL, TAB, DEL, any other
 * control and any byte >= 0x80 make the build fail, so no value can end a
 * header line early, start a new header or smuggle an SMTP command, and no
 * RFC 2047 encoded-word is ever produced (a value that LOOKS like one,
 * "=?utf-8?b?...?=", is passed through as the literal ASCII it is: mail
 * readers decode it, which shows the same text the value held; it cannot
 * add a line). Our subjects are fixed English templates, so nothing is
 * lost. Text that may hold more (the body) is UTF-8 in a
 * text/plain; charset=utf-8 part encoded quoted-printable (RFC 2045 6.7):
 * every output line is at most 76 octets plus CRLF, only printable ASCII
 * goes on the wire, and no body line can start a new header block or be
 * read as the SMTP end of data (libcurl dot-stuffs "\r\n." anyway).
 *
 * Addresses (From, To) are a strict addr-spec subset: dot-atom local part
 * (RFC 5322 3.2.3 atext) of 1-64 octets, '@', a DNS host name (letters,
 * digits, '-', labels of 1-63), at most 254 octets in all; no display-name
 * on To, an optional printable display name on From (quoted; '"' and '\'
 * refused). Non-ASCII addresses (SMTPUTF8) are refused.
 *
 * Depends on core/ only; no allocation: the caller gives the buffer.
 */
#ifndef PC_CORE_MAIL_H
#define PC_CORE_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PC_MAIL_ADDR_MAX 254      /* RFC 5321 4.5.3.1.3 path less the brackets */
#define PC_MAIL_NAME_MAX 64       /* From display name */
#define PC_MAIL_SUBJECT_MAX 150   /* "Subject: " + this stays far below 998 */
#define PC_MAIL_BODY_MAX 8192     /* bytes of body text before encoding */
#define PC_MAIL_LINE_MAX 998      /* RFC 5322 2.1.1: octets per line, CRLF excluded */
#define PC_MAIL_QP_LINE 76        /* RFC 2045 6.7 (5): encoded line length */
/* Room for any message pc_mail_build accepts: the headers (< 1 KiB), and
 * the body at worst 3 bytes per input byte plus a soft break per 25. */
#define PC_MAIL_MESSAGE_MAX (1024 + 4 * PC_MAIL_BODY_MAX)

enum pc_mail_result {
	PC_MAIL_OK = 0,
	PC_MAIL_INVALID = -1, /* a field holds a byte or shape it may not */
	PC_MAIL_TOO_BIG = -2, /* a field is longer than its limit, or cap too small */
};

struct pc_mail_fields {
	const char *from;      /* addr-spec */
	const char *from_name; /* display name or NULL/"" */
	const char *to;        /* addr-spec */
	const char *subject;   /* printable ASCII, 1..PC_MAIL_SUBJECT_MAX */
	const char *body;      /* UTF-8 text, '\n' or "\r\n" line ends; TAB allowed */
	size_t body_len;
	int64_t date;          /* unix seconds, for Date: */
	const uint8_t *msgid_random; /* 16 random bytes for Message-ID */
};

/* Whether s (n bytes) is an address pc_mail_build accepts. */
PC_MUST_USE bool pc_mail_addr_valid(const char *s, size_t n);
/* Whether s (n bytes) may be a header field value: 1..max printable ASCII. */
PC_MUST_USE bool pc_mail_header_text_valid(const char *s, size_t n, size_t max);

/*
 * Builds the whole message (headers, blank line, quoted-printable body;
 * every line ending CRLF) into out[cap], NUL-terminated, its length in
 * *len. Message-ID is <32 hex of msgid_random @ the From domain>.
 * Returns PC_MAIL_OK, PC_MAIL_INVALID or PC_MAIL_TOO_BIG; on failure out
 * holds "" and *len is 0.
 */
PC_MUST_USE enum pc_mail_result pc_mail_build(char *out, size_t cap, size_t *len,
                                              const struct pc_mail_fields *f);

#endif
