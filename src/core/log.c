/*
 * log.c — JSON-lines logging; see log.h.
 *
 * Lines are built in a fixed buffer on the caller's stack. A value that does
 * not fit is cut and the line marked "truncated": a log line can never grow
 * without bound because of a long request path.
 *
 * Every finished line passes the credential guard (core/redact.h) on its way
 * out: pc_logline_emit as sink "log", the buffered access lines as sink
 * "access", pc_log_plain as sink "cli". A build for the bench alone can turn
 * it off (-DPC_BENCH_NO_LOG_GUARD) to measure what it costs; no other build
 * has that switch.
 */
#include "core/log.h"
#include "core/redact.h"
#include "core/text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define ACCESS_BUF_BYTES (32 * 1024)

static _Thread_local char access_buf[ACCESS_BUF_BYTES];
static _Thread_local size_t access_len;
/* a guarded line: markers can be longer than what they replace */
static _Thread_local char guard_buf[PC_REDACT_CAP(PC_LOGLINE_MAX)];

_Static_assert(PC_REDACT_CAP(PC_LOGLINE_MAX) <= ACCESS_BUF_BYTES, "a guarded line fits the access buffer");

static size_t guard(char *out, size_t cap, const char *line, size_t n, unsigned flags,
                    enum pc_redact_sink sink)
{
#ifdef PC_BENCH_NO_LOG_GUARD
	(void)flags;
	(void)sink;
	if (n > cap)
		return cap + 1;
	memcpy(out, line, n);
	return n;
#else
	return pc_redact_sink(out, cap, line, n, flags, sink);
#endif
}

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* stderr gone: nothing sensible left to do */
		}
		p += (size_t)w;
		n -= (size_t)w;
	}
}

/* "YYYY-MM-DDTHH:MM:SS" of the current second, per thread: formatted once
 * a second instead of once a line (every request writes an access line) */
static _Thread_local time_t tl_sec = -1;
static _Thread_local char tl_date[32];
static _Thread_local size_t tl_date_len;

void pc_log_time(char *out, size_t cap)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != tl_sec) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		tl_date_len = strftime(tl_date, sizeof(tl_date), "%Y-%m-%dT%H:%M:%S", &tm);
		tl_sec = ts.tv_sec;
	}
	int ms = (int)(ts.tv_nsec / 1000000);
	if (cap < tl_date_len + 6) {
		snprintf(out, cap, "%.*s.%03dZ", (int)tl_date_len, tl_date, ms);
		return;
	}
	memcpy(out, tl_date, tl_date_len);
	char *p = out + tl_date_len;
	p[0] = '.';
	p[1] = (char)('0' + ms / 100);
	p[2] = (char)('0' + ms / 10 % 10);
	p[3] = (char)('0' + ms % 10);
	p[4] = 'Z';
	p[5] = '\0';
}

size_t pc_json_escape(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		/* a run of bytes that stand for themselves, copied at once */
		size_t run = i;
		while (run < n && u[run] >= 0x20 && u[run] < 0x7f && u[run] != '"' && u[run] != '\\')
			run++;
		if (run > i) {
			if (o + (run - i) > cap)
				return cap + 1;
			memcpy(out + o, u + i, run - i);
			o += run - i;
			i = run;
			continue;
		}
		char tmp[8];
		size_t tl = 0;
		size_t adv = 1;
		unsigned char c = u[i];
		if (c == '"') {
			tmp[0] = '\\';
			tmp[1] = '"';
			tl = 2;
		} else if ((c < 0x20 && c != 0) || c == 0x7f) {
			memcpy(tmp, "\\u00", 4);
			tmp[4] = hex[c >> 4];
			tmp[5] = hex[c & 15];
			tl = 6;
		} else { /* the text escape of core/text.h, each '\\' of it as "\\\\" */
			char unit[4];
			size_t ul = pc_text_escape_unit(unit, &adv, u + i, n - i);
			for (size_t k = 0; k < ul; k++) {
				if (unit[k] == '\\')
					tmp[tl++] = '\\';
				tmp[tl++] = unit[k];
			}
		}
		if (o + tl > cap)
			return cap + 1;
		memcpy(out + o, tmp, tl);
		o += tl;
		i += adv;
	}
	return o;
}

static void put_raw(struct pc_logline *l, const char *s, size_t n)
{
	/* keep 2 bytes for the closing "}\n" */
	if (l->truncated || l->len + n > sizeof(l->buf) - 2) {
		l->truncated = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_key(struct pc_logline *l, const char *key)
{
	put_raw(l, ",\"", 2);
	put_raw(l, key, strlen(key));
	put_raw(l, "\":", 2);
}

static void put_string(struct pc_logline *l, const char *v, size_t n)
{
	put_raw(l, "\"", 1);
	if (!l->truncated) {
		size_t room = sizeof(l->buf) - 3 - l->len; /* quote + "}\n" */
		size_t w = pc_json_escape(l->buf + l->len, room, v, n);
		if (w > room) {
			l->truncated = true;
			return;
		}
		l->len += w;
	}
	put_raw(l, "\"", 1);
}

void pc_logline_begin(struct pc_logline *l, const char *level, const char *event)
{
	char t[32];
	l->len = 0;
	l->truncated = false;
	pc_log_time(t, sizeof(t));
	put_raw(l, "{\"time\":\"", 9);
	put_raw(l, t, strlen(t));
	put_raw(l, "\",\"level\":\"", 11);
	put_raw(l, level, strlen(level));
	put_raw(l, "\",\"event\":", 10);
	put_string(l, event, strlen(event));
}

void pc_logline_str(struct pc_logline *l, const char *key, const char *value)
{
	pc_logline_strn(l, key, value ? value : "", value ? strlen(value) : 0);
}

void pc_logline_strn(struct pc_logline *l, const char *key, const char *value, size_t len)
{
	put_key(l, key);
	put_string(l, value, len);
}

void pc_logline_int(struct pc_logline *l, const char *key, int64_t value)
{
	char n[24];
	size_t w = sizeof(n);
	uint64_t u = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
	do {
		n[--w] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (value < 0)
		n[--w] = '-';
	put_key(l, key);
	put_raw(l, n + w, sizeof(n) - w);
}

void pc_logline_bool(struct pc_logline *l, const char *key, bool value)
{
	put_key(l, key);
	put_raw(l, value ? "true" : "false", value ? 4 : 5);
}

static bool text_format; /* set once at start, before threads */

void pc_log_set_text(bool text)
{
	text_format = text;
}

/* A JSON string token (with its quotes) that can be shown bare in a text
 * line: not empty, and no byte a reader would take for a separator or an
 * escape. */
static bool bare_ok(const char *tok, size_t n)
{
	if (n <= 2)
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (tok[i] == ' ' || tok[i] == '"' || tok[i] == '\\' || tok[i] == '=')
			return false;
	return true;
}

size_t pc_log_json_to_text(char *out, size_t cap, const char *in, size_t n)
{
	size_t o = 0, i = 0, field = 0;
	if (cap == 0)
		return 0;
	if (n > 0 && in[0] == '{')
		i = 1;
	while (i < n && in[i] == '"') {
		size_t ks = ++i;
		while (i < n && in[i] != '"')
			i++; /* keys are ours: plain identifiers */
		size_t ke = i;
		if (i + 1 >= n || in[i + 1] != ':')
			break;
		i += 2;
		size_t vs = i;
		if (i < n && in[i] == '"') {
			for (i++; i < n && in[i] != '"'; i++)
				if (in[i] == '\\')
					i++;
			i++;
		} else {
			while (i < n && in[i] != ',' && in[i] != '}')
				i++;
		}
		size_t ve = i < n ? i : n;
		/* time level event, then key=value */
		bool named = field >= 3;
		bool bare = in[vs] != '"' || bare_ok(in + vs, ve - vs);
		size_t need = (o ? 1 : 0) + (named ? ke - ks + 1 : 0) + (ve - vs);
		if (o + need + 1 >= cap)
			break;
		if (o)
			out[o++] = ' ';
		if (named) {
			memcpy(out + o, in + ks, ke - ks);
			o += ke - ks;
			out[o++] = '=';
		}
		if (bare && in[vs] == '"') {
			memcpy(out + o, in + vs + 1, ve - vs - 2);
			o += ve - vs - 2;
		} else {
			memcpy(out + o, in + vs, ve - vs);
			o += ve - vs;
		}
		field++;
		if (i < n && in[i] == ',')
			i++;
	}
	out[o++] = '\n';
	return o;
}

static void finish(struct pc_logline *l)
{
	if (l->truncated) {
		/* Cut back to a clean point: drop the partial field and say so. */
		static const char mark[] = ",\"truncated\":true";
		size_t cut = l->len;
		while (cut > 0 && l->buf[cut - 1] != ',')
			cut--;
		if (cut > 0)
			cut--;
		if (cut + sizeof(mark) - 1 + 2 <= sizeof(l->buf)) {
			l->len = cut;
			memcpy(l->buf + l->len, mark, sizeof(mark) - 1);
			l->len += sizeof(mark) - 1;
		}
	}
	l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	if (text_format) {
		/* a formatting step of the one write path: same fields, same
		 * escapes (a value with a space or a quote stays a JSON string, so
		 * no value can forge a field or a line) */
		char text[PC_LOGLINE_MAX];
		size_t n = pc_log_json_to_text(text, sizeof(text), l->buf, l->len);
		memcpy(l->buf, text, n);
		l->len = n;
	}
}

void pc_logline_emit(struct pc_logline *l)
{
	finish(l);
	size_t n = guard(guard_buf, sizeof(guard_buf), l->buf, l->len, PC_REDACT_JSON, PC_REDACT_SINK_LOG);
	if (n <= sizeof(guard_buf))
		write_all(guard_buf, n);
}

void pc_log_flush_thread(void)
{
	if (access_len > 0) {
		write_all(access_buf, access_len);
		access_len = 0;
	}
}

void pc_logline_emit_buffered(struct pc_logline *l)
{
	finish(l);
	size_t room = PC_REDACT_CAP(l->len);
	if (access_len + room > sizeof(access_buf))
		pc_log_flush_thread();
	size_t n = guard(access_buf + access_len, room, l->buf, l->len, PC_REDACT_JSON, PC_REDACT_SINK_ACCESS);
	if (n <= room)
		access_len += n;
}

void pc_log_plain(const char *fmt, ...)
{
	char line[PC_LOGLINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	size_t n = (size_t)w < sizeof(line) - 1 ? (size_t)w : sizeof(line) - 2;
	if (n == 0 || line[n - 1] != '\n')
		line[n++] = '\n';
	size_t r = guard(guard_buf, sizeof(guard_buf), line, n, 0, PC_REDACT_SINK_CLI);
	if (r <= sizeof(guard_buf))
		write_all(guard_buf, r);
}

void pc_log(const char *level, const char *event, const char *msg)
{
	struct pc_logline l;
	pc_logline_begin(&l, level, event);
	if (msg)
		pc_logline_str(&l, "message", msg);
	pc_logline_emit(&l);
}

int pc_log_if_failed(int e, const char *event, const char *what)
{
	if (e != 0) {
		struct pc_logline l;
		pc_logline_begin(&l, "warn", event);
		pc_logline_str(&l, "failed", what);
		pc_logline_int(&l, "code", e);
		pc_logline_emit(&l);
	}
	return e;
}
