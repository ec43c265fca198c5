/*
 * mail.c — strict RFC 5322 message builder (see mail.h for the rules).
 *
 * Invariant: every header byte written comes from a fixed template or
 * from a value that passed pc_mail_header_text_valid / pc_mail_addr_valid
 * (printable ASCII only) before the first byte was written; the body goes
 * through the quoted-printable encoder, which writes printable ASCII and
 * CRLF only. So the message holds no bare CR, no bare LF, no NUL, no line
 * longer than PC_MAIL_LINE_MAX, whatever the fields held.
 */
#include "core/mail.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/text.h"

/* RFC 5322 3.2.3 atext. */
static bool atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool pc_mail_addr_valid(const char *s, size_t n)
{
	if (s == NULL || n < 3 || n > PC_MAIL_ADDR_MAX)
		return false;
	const char *at = memchr(s, '@', n);
	if (at == NULL)
		return false;
	size_t local = (size_t)(at - s), dom = n - local - 1;
	if (local == 0 || local > 64 || dom == 0)
		return false;
	for (size_t i = 0; i < local; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(atext(c) || (c == '.' && i > 0 && i + 1 < local && s[i - 1] != '.')))
			return false;
	}
	size_t label = 0;
	for (size_t i = 0; i < dom; i++) {
		unsigned char c = (unsigned char)at[1 + i];
		if (c == '.') {
			if (label == 0 || at[i] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(alnum(c) || (c == '-' && label > 0)) || ++label > 63)
			return false;
	}
	return label > 0 && at[dom] != '-';
}

bool pc_mail_header_text_valid(const char *s, size_t n, size_t max)
{
	if (s == NULL || n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* The output buffer: writes past cap are counted, not made. */
struct out {
	char *p;
	size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n < o->cap)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Body text: valid UTF-8, no NUL, no control but TAB, LF and the CR of a
 * CRLF. */
static bool body_valid(const char *s, size_t n)
{
	if (!pc_utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return false;
		} else if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
			return false;
		}
	}
	return true;
}

/* RFC 2045 6.7: one body line (no line end) encoded, soft breaks keeping
 * every encoded line at most PC_MAIL_QP_LINE octets including the '='. A
 * '.' opening a line is encoded too, so no relay can read it as the end of
 * data even without dot-stuffing. */
static void qp_line(struct out *o, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		char tok[3];
		size_t tl;
		bool last = i + 1 == n;
		bool lit = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
		if (c == '.' && col == 0)
			lit = false;
		if (lit) {
			tok[0] = (char)c;
			tl = 1;
		} else {
			tok[0] = '=';
			tok[1] = hex[c >> 4];
			tok[2] = hex[c & 15];
			tl = 3;
		}
		/* room for this token and, unless it ends the line, a soft break */
		if (col + tl > PC_MAIL_QP_LINE - (last ? 0 : 1)) {
			puts_(o, "=\r\n");
			col = 0;
			if (c == '.') { /* now at a line start: encode it */
				tok[0] = '=';
				tok[1] = hex[c >> 4];
				tok[2] = hex[c & 15];
				tl = 3;
			}
		}
		put(o, tok, tl);
		col += tl;
	}
	puts_(o, "\r\n");
}

static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

enum pc_mail_result pc_mail_build(char *out, size_t cap, size_t *len, const struct pc_mail_fields *f)
{
	*len = 0;
	if (cap > 0)
		out[0] = '\0';
	size_t from_len = f->from ? strlen(f->from) : 0, to_len = f->to ? strlen(f->to) : 0;
	size_t subj_len = f->subject ? strlen(f->subject) : 0;
	size_t name_len = f->from_name ? strlen(f->from_name) : 0;
	if (from_len > PC_MAIL_ADDR_MAX || to_len > PC_MAIL_ADDR_MAX || subj_len > PC_MAIL_SUBJECT_MAX ||
	    name_len > PC_MAIL_NAME_MAX || f->body_len > PC_MAIL_BODY_MAX)
		return PC_MAIL_TOO_BIG;
	if (!pc_mail_addr_valid(f->from, from_len) || !pc_mail_addr_valid(f->to, to_len) ||
	    !pc_mail_header_text_valid(f->subject, subj_len, PC_MAIL_SUBJECT_MAX) ||
	    (name_len > 0 && (!pc_mail_header_text_valid(f->from_name, name_len, PC_MAIL_NAME_MAX) ||
	                      strpbrk(f->from_name, "\"\\") != NULL)) ||
	    f->body == NULL || !body_valid(f->body, f->body_len) || f->msgid_random == NULL)
		return PC_MAIL_INVALID;
	time_t t = (time_t)f->date;
	struct tm tm;
	if (f->date < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return PC_MAIL_INVALID;

	struct out o = {out, cap, 0};
	char line[128];
	/* RFC 5322 3.3: day-of-week, date, time, zone */
	snprintf(line, sizeof(line), "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", wday[tm.tm_wday],
	         tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	puts_(&o, line);
	puts_(&o, "From: ");
	if (name_len > 0) {
		puts_(&o, "\"");
		put(&o, f->from_name, name_len);
		puts_(&o, "\" <");
		put(&o, f->from, from_len);
		puts_(&o, ">\r\n");
	} else {
		put(&o, f->from, from_len);
		puts_(&o, "\r\n");
	}
	puts_(&o, "To: ");
	put(&o, f->to, to_len);
	puts_(&o, "\r\nSubject: ");
	put(&o, f->subject, subj_len);
	puts_(&o, "\r\nMessage-ID: <");
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < 16; i++) {
		char h[2] = {hex[f->msgid_random[i] >> 4], hex[f->msgid_random[i] & 15]};
		put(&o, h, 2);
	}
	const char *dom = strchr(f->from, '@') + 1;
	put(&o, "@", 1);
	puts_(&o, dom);
	puts_(&o, ">\r\nMIME-Version: 1.0\r\n"
	          "Content-Type: text/plain; charset=utf-8\r\n"
	          "Content-Transfer-Encoding: quoted-printable\r\n"
	          "Auto-Submitted: auto-generated\r\n"
	          "\r\n");
	const unsigned char *b = (const unsigned char *)f->body;
	size_t start = 0;
	for (size_t i = 0; i <= f->body_len; i++) {
		if (i == f->body_len || b[i] == '\n') {
			size_t end = i;
			if (end > start && b[end - 1] == '\r')
				end--;
			if (i == f->body_len && end == start && start > 0)
				break; /* the text ended with a line end */
			qp_line(&o, b + start, end - start);
			start = i + 1;
		}
	}
	if (o.len >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return PC_MAIL_TOO_BIG;
	}
	out[o.len] = '\0';
	*len = o.len;
	return PC_MAIL_OK;
}
