/*
 * stream.c — see stream.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/stream.h"
#include "core/redact.h"
#include "core/text.h"

#define LINE_MAX_BYTES 8192

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int out_fd = -1;
static bool own_fd;
static enum pc_audit_format format;

int pc_audit_stream_open(const char *dest, enum pc_audit_format fmt, char *err, size_t errlen)
{
	pc_audit_stream_close();
	format = fmt;
	if (strcmp(dest, "off") == 0)
		return 0;
	if (strcmp(dest, "stderr") == 0) {
		out_fd = STDERR_FILENO;
		own_fd = false;
		return 0;
	}
	int fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "PORTCULLIS_AUDIT_LOG: cannot open the file: %s", strerror(errno));
		return -1;
	}
	out_fd = fd;
	own_fd = true;
	return 0;
}

void pc_audit_stream_close(void)
{
	pthread_mutex_lock(&mu);
	if (own_fd && out_fd >= 0)
		close(out_fd);
	out_fd = -1;
	own_fd = false;
	pthread_mutex_unlock(&mu);
}

static void iso_ms(char out[32], int64_t ms)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	char b[24];
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", b, (int)(ms % 1000));
}

const char *pc_audit_level(const char *action)
{
	static const char *const warn[] = {"_failed", "_throttled", "_stale", ".failed", ".reuse", ".tampered_cookie"};
	size_t n = strlen(action);
	for (size_t i = 0; i < sizeof(warn) / sizeof(warn[0]); i++) {
		size_t k = strlen(warn[i]);
		if (n >= k && strcmp(action + n - k, warn[i]) == 0)
			return "warn";
	}
	return "info";
}

size_t pc_audit_stream_format(char *out, size_t cap, const struct pc_audit_event *ev,
                              enum pc_audit_format fmt)
{
	char t[32];
	iso_ms(t, ev->time_ms);
	json_error_t jerr;
	json_t *details = json_loads(ev->details, JSON_REJECT_DUPLICATES, &jerr);
	if (details == NULL)
		details = json_object();
	/* the User-Agent is the client's bytes: escaped (core/text.h), so a line
	 * is never lost to a string that is not UTF-8 */
	char ua[PC_TEXT_ESCAPE_CAP(sizeof(ev->user_agent))];
	pc_text_escape(ua, sizeof(ua), ev->user_agent, strnlen(ev->user_agent, sizeof(ev->user_agent)));
	int n;
	if (fmt == PC_AUDIT_TEXT) {
		/* "api_key.create" -> "CREATE"; values are ours (ids, emails, JSON
		 * we produced) but the user agent, the client's: escaped, then
		 * quoted as a JSON string so a space or a newline cannot forge a
		 * field or a line */
		const char *dot = strrchr(ev->action, '.');
		const char *verb = dot ? dot + 1 : ev->action;
		char up[48];
		size_t i;
		for (i = 0; verb[i] && i < sizeof(up) - 1; i++)
			up[i] = (char)(verb[i] >= 'a' && verb[i] <= 'z' ? verb[i] - 'a' + 'A' : verb[i]);
		up[i] = '\0';
		char *ds = json_dumps(details, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_t *uaj = json_string(ua);
		char *uas = uaj ? json_dumps(uaj, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY) : NULL;
		n = snprintf(out, cap,
		             "AUDIT: %s %s | time=%s level=%s action=%s user_email=%s user_id=%s session_id=%s "
		             "auth_method=%s client=%s resource_id=%s request_id=%s user_agent=%s details=%s\n",
		             up, ev->resource_type, t, pc_audit_level(ev->action), ev->action, ev->actor_email,
		             ev->actor_user_id, ev->actor_session_id, ev->auth_method, ev->client_addr,
		             ev->resource_id, ev->request_id, uas ? uas : "\"\"", ds ? ds : "{}");
		free(uas);
		json_decref(uaj);
		free(ds);
	} else {
		char hex[65];
		sodium_bin2hex(hex, sizeof(hex), ev->hash, sizeof(ev->hash));
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s}", "event",
		                      "audit", "time", t, "level", pc_audit_level(ev->action), "request_id",
		                      ev->request_id, "id", ev->id, "seq", (json_int_t)ev->seq, "action", ev->action,
		                      "resource_type", ev->resource_type, "resource_id", ev->resource_id,
		                      "user_id", ev->actor_user_id, "user_email", ev->actor_email, "session_id",
		                      ev->actor_session_id, "auth_method", ev->auth_method, "client_address",
		                      ev->client_addr, "user_agent", ua, "details", details, "hash", hex);
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
		n = s ? snprintf(out, cap, "%s\n", s) : -1;
		free(s);
		json_decref(o);
	}
	json_decref(details);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void pc_audit_stream_emit(const struct pc_audit_event *ev)
{
	if (out_fd < 0)
		return;
	char raw[LINE_MAX_BYTES];
	size_t rn = pc_audit_stream_format(raw, sizeof(raw), ev, format);
	if (rn == 0)
		return;
	/* the event was redacted before it was stored (audit/chain.h); the
	 * line passes the guard again, for whatever the formatting added */
	char line[PC_REDACT_CAP(LINE_MAX_BYTES)];
	size_t n = pc_redact_sink(line, sizeof(line), raw, rn, PC_REDACT_JSON, PC_REDACT_SINK_AUDIT);
	if (n > sizeof(line))
		return;
	pthread_mutex_lock(&mu);
	if (out_fd >= 0) {
		size_t off = 0;
		while (off < n) {
			ssize_t w = write(out_fd, line + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	pthread_mutex_unlock(&mu);
}
