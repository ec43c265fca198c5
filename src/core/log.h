/*
 * log.h — JSON-lines logging on stderr.
 *
 * One line per event, written with a single write(2) so lines from several
 * threads never interleave. Keys and values are escaped as JSON strings.
 * WARNING: never log a secret: no cookie, Authorization value, token, key,
 * password or unmasked URL goes through these functions. The credential
 * guard (core/redact.h) every line passes on its way out is the last line
 * of defence, for what a client sends where it does not belong — not a
 * licence. The access log
 * (pc_log_access) is buffered per thread and flushed by the loop's timer,
 * so it costs no system call per request.
 */
#ifndef PC_CORE_LOG_H
#define PC_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PC_LOGLINE_MAX 2048

struct pc_logline {
	char buf[PC_LOGLINE_MAX];
	size_t len;
	bool truncated;
};

/* Starts {"time":"...","level":"...","event":"..."} */
void pc_logline_begin(struct pc_logline *l, const char *level, const char *event);
void pc_logline_str(struct pc_logline *l, const char *key, const char *value);
void pc_logline_strn(struct pc_logline *l, const char *key, const char *value, size_t len);
void pc_logline_int(struct pc_logline *l, const char *key, int64_t value);
void pc_logline_bool(struct pc_logline *l, const char *key, bool value);
/* Closes the object and writes the line to stderr at once. */
void pc_logline_emit(struct pc_logline *l);
/* Closes the object and appends the line to this thread's access buffer. */
void pc_logline_emit_buffered(struct pc_logline *l);

/* PORTCULLIS_LOG_FORMAT=text: every line is written as
 * "TIME LEVEL EVENT key=value ..." instead of JSON. Call once at start,
 * before threads. */
void pc_log_set_text(bool text);
/* The text form of one JSON log line of ours (in[0..n), with its "}\n"):
 * time, level and event bare, then key=value; a string value with a space,
 * quote, backslash or '=' (or empty) keeps its JSON quotes and escapes.
 * Returns the bytes written to out, a '\n' last (never more than n). */
size_t pc_log_json_to_text(char *out, size_t cap, const char *in, size_t n);

/* One-field convenience: {"level":level,"event":event,"message":msg}. */
void pc_log(const char *level, const char *event, const char *msg);

/* For a best-effort call whose failure must not change the answer but must
 * not go unseen either (a last-used touch, a counter, an audit event of
 * noise): nothing when e is PC_OK (0), else one "warn" line naming what
 * failed and the error code. Returns e. */
int pc_log_if_failed(int e, const char *event, const char *what);

/* A plain text line on stderr (the command line's diagnostics, not JSON),
 * printf-style, '\n' added when missing, through the credential guard
 * (sink "cli"). For the lines that can echo what an operator typed; the
 * deliberate outputs (a generated key, a user id) are not log lines. */
void pc_log_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes this thread's buffered lines to stderr (call from the loop's timer
 * and before the thread ends). */
void pc_log_flush_thread(void);

/* Appends s[0..n) to out as the inside of a JSON string (no quotes), bounded
 * by cap; returns bytes written, or the bytes needed + cap+1 when it does not
 * fit (the output is then not terminated). The text is pc_text_escape's
 * (core/text.h: '\\' doubled, NUL and bytes outside valid UTF-8 as \xHH),
 * then JSON-escaped, so a log field and an API listing show the same text. */
size_t pc_json_escape(char *out, size_t cap, const char *s, size_t n);

/* "2026-11-23T04:40:34.123Z" into out (at least 25 bytes). */
void pc_log_time(char *out, size_t cap);

#endif
