/*
 * stream.h — audit events as a stream (PORTCULLIS_AUDIT_LOG), besides the
 * store: JSON lines by default, or the text line
 *   AUDIT: CREATE api_key | user_email=... user_id=... session_id=... resource_id=... details={...}
 * Written after the event's transaction committed (an event that rolled
 * back is never streamed). Lines are written whole with one write(2) under
 * a mutex, so concurrent events never interleave.
 */
#ifndef PC_AUDIT_STREAM_H
#define PC_AUDIT_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "audit/event.h"
#include "config/config.h"
#include "core/err.h"

/* dest: "stderr", "off", or a file path (opened O_APPEND, created 0600).
 * 0, or -1 with err. */
PC_MUST_USE int pc_audit_stream_open(const char *dest, enum pc_audit_format fmt, char *err,
                                     size_t errlen);
void pc_audit_stream_close(void);

/* Formats one event as a line (with '\n') into out; returns its length, or
 * 0 when it does not fit. */
size_t pc_audit_stream_format(char *out, size_t cap, const struct pc_audit_event *ev,
                              enum pc_audit_format fmt);

/* Writes the event to the stream, if one is open. */
void pc_audit_stream_emit(const struct pc_audit_event *ev);

/* The level of an audit line: "warn" for a refused or suspicious attempt
 * (*_failed, *_throttled, *_stale, csrf.failed, token.reuse,
 * auth.tampered_cookie), else "info". */
const char *pc_audit_level(const char *action);

#endif
