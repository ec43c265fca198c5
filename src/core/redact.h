/*
 * redact.h — the last-line guard: every line portcullis writes (the
 * application log, the access log, the audit stream, the command line's
 * diagnostics) passes through pc_redact before write(2), and every stored
 * audit event before its hash is computed (audit/chain.c).
 *
 * It recognises portcullis' own credential formats and the request fields
 * that carry credentials, and replaces each match with "[redacted:<kind>]"
 * — the line is never dropped, and a line that was JSON stays JSON (every
 * replacement lies inside a string; escapes are never split).
 *
 * Recognised (a "word" is a maximal run of base64url characters
 * [A-Za-z0-9_-]; '.' splits a run into segments):
 *   session_cookie  a 108-character word (sealed cookie, auth/session.h)
 *                   with an upper- and a lower-case letter
 *   csrf_token      a 99-character canonical word (auth/csrf.h), mixed case
 *   reset_token     a 43-character canonical word, mixed case: the
 *                   password-reset token (32 bytes; the pre-session id has
 *                   the same shape and is caught as one)
 *   refresh_token   "pcr_" + 43 canonical characters (svc/tokens.h)
 *   api_key         "pc_" + 12 [a-z0-9] + "_" + 64 + 8 lowercase hex whose
 *                   last 8 are the key's checksum (auth/apikey.h): a
 *                   look-alike with a wrong checksum is text
 *   jwt             segments "eyJ…" "." nonempty, then "." any (compact
 *                   JWS; without the signature too: a token cut short by a
 *                   length limit still carries its claims)
 *   oidc_code, totp_secret   hooks: rows of the kind table without a
 *                   recogniser yet; the wave that adds them fills one in
 *   authorization   the value after "Authorization:" / "Proxy-Authorization:",
 *                   and the token after "Bearer " (16 characters or more)
 *   cookie          the value of a Cookie / Set-Cookie / session field
 *   password        the value of a field whose name holds "passw" (password, passwd)
 *   secret_field    the value of a field named *token, *secret*, api_key,
 *                   apikey, x-api-key
 * A field is `"name":"value"` (JSON, also nested as \"name\":\"value\"),
 * `name=value` (query strings, forms, text) or `Name: value` (the header
 * names only); only a string value is replaced, never an empty one.
 *
 * Boundaries are escape-aware: a JSON escape (\" \\ \n \u00XX …), the text
 * escape \xHH of core/text.h and a percent escape %XX end a word, so a token
 * glued to an escaped byte is still seen. Single pass, no allocation, no
 * regex: each byte is looked at a bounded number of times (a word is
 * checked against a fixed table, a checksum is computed only for an exact
 * API-key shape).
 */
#ifndef PC_CORE_REDACT_H
#define PC_CORE_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pc_redact_kind {
	PC_REDACT_SESSION_COOKIE,
	PC_REDACT_CSRF_TOKEN,
	PC_REDACT_RESET_TOKEN,
	PC_REDACT_REFRESH_TOKEN,
	PC_REDACT_API_KEY,
	PC_REDACT_JWT,
	PC_REDACT_OIDC_CODE,   /* hook: no recogniser yet */
	PC_REDACT_TOTP_SECRET, /* hook: no recogniser yet */
	PC_REDACT_AUTHORIZATION,
	PC_REDACT_COOKIE,
	PC_REDACT_PASSWORD,
	PC_REDACT_SECRET_FIELD,
	PC_REDACT_KIND_N
};

/* Where a line goes: the label of security_credential_leaks_total. */
enum pc_redact_sink {
	PC_REDACT_SINK_LOG,    /* application log lines (pc_logline_emit) */
	PC_REDACT_SINK_ACCESS, /* access log lines */
	PC_REDACT_SINK_AUDIT,  /* audit events (store and stream) */
	PC_REDACT_SINK_CLI,    /* the command line's diagnostics on stderr */
	PC_REDACT_SINK_N
};

/* PC_REDACT_JSON: the text is JSON or holds JSON strings: backslash escapes
 * are JSON's. 0: raw bytes (an audit event's fields before encoding). */
#define PC_REDACT_JSON 1u

/* The longest marker, "[redacted:session_cookie]". */
#define PC_REDACT_MARKER_MAX 25
/* Output room that always suffices for n input bytes: the shortest match
 * that grows ("token=x", 7 bytes) grows by at most PC_REDACT_MARKER_MAX. */
#define PC_REDACT_CAP(n) ((n) * 5 + 32)

/* Copies in[0..n) to out with every recognised credential replaced by its
 * marker; returns the output length. out must not overlap in; cap should
 * be PC_REDACT_CAP(n) — with less, returns cap + 1 when it does not fit
 * (out is then unusable). counts (may be NULL) gets += 1 per replacement
 * by kind. Pure: no global state. */
size_t pc_redact(char *out, size_t cap, const char *in, size_t n, unsigned flags,
                 uint32_t counts[PC_REDACT_KIND_N]);

/* pc_redact, then adds the counts to the sink's counters. */
size_t pc_redact_sink(char *out, size_t cap, const char *in, size_t n, unsigned flags,
                      enum pc_redact_sink sink);

/* Redacts the NUL-terminated string s (capacity cap) in place, counting in
 * sink; when the redacted text does not fit, s becomes the first match's
 * marker alone, and a string longer than PC_REDACT_INPLACE_MAX * 5 bytes
 * (none of an audit event's fields) becomes a marker whole. No allocation.
 * Returns the number of replacements. */
#define PC_REDACT_INPLACE_MAX 1024
unsigned pc_redact_inplace(char *s, size_t cap, unsigned flags, enum pc_redact_sink sink);

/* Replacements so far (for the metrics registry, obs/metrics.c). */
uint64_t pc_redact_total(enum pc_redact_sink sink, enum pc_redact_kind kind);
const char *pc_redact_kind_name(enum pc_redact_kind kind);
const char *pc_redact_sink_name(enum pc_redact_sink sink);

/* Whether text[0..n) is an API key of the portcullis format with a valid
 * checksum (the shape of auth/apikey.h, checked here too because core
 * cannot call auth/). */
bool pc_redact_is_apikey(const char *text, size_t n);

#endif
