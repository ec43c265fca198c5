/* text.h — byte-level text checks shared by every parser of untrusted input. */
#ifndef PC_CORE_TEXT_H
#define PC_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"

/* Length of the valid UTF-8 sequence at s (n bytes available): 1-4, or 0
 * when invalid (overlong, surrogate, above U+10FFFF, truncated). */
size_t pc_utf8_seq_len(const unsigned char *s, size_t n);
/* Whole buffer is valid UTF-8 with no NUL. */
PC_MUST_USE bool pc_utf8_valid(const char *s, size_t n);

/* A user's display name (X-Auth-Name): "" (none), or valid UTF-8 of at
 * most PC_USER_NAME_MAX bytes with no control character (C0, DEL, C1: it
 * goes into a header line and a page), not starting or ending with a
 * space. */
PC_MUST_USE bool pc_user_name_valid(const char *s, size_t n);

/* A group name: [a-z0-9][a-z0-9._-]{0,63} (access rules, users' groups). */
bool pc_group_name_valid(const char *s, size_t n);
/* A user's groups as stored: "" or names joined by ',', each valid, no name
 * twice, at most PC_USER_GROUPS_MAX. */
PC_MUST_USE bool pc_groups_text_valid(const char *s, size_t n);
/* Appends group name (n bytes) to the groups text out (PC_USER_GROUPS_TEXT
 * + 1 bytes, *at bytes used), after a ',' when not the first: 0, or -1
 * when the name is not valid or would not fit (out unchanged). Whole-text
 * rules (no name twice, the count) are pc_groups_text_valid's, after. */
PC_MUST_USE int pc_groups_append(char *out, size_t *at, const char *name, size_t n);
/* Splits a valid groups text (copied into buf, cap >= its length + 1) into
 * NUL-terminated names: names[] (PC_USER_GROUPS_MAX slots) point into buf.
 * Returns how many. */
size_t pc_groups_split(const char **names, char *buf, size_t cap, const char *s);

/*
 * pc_text_escape — any bytes (an attacker's User-Agent, say) as text that is
 * valid UTF-8 without NUL, so it can become a JSON string, a log field or an
 * audit line and never be dropped:
 *   - a valid UTF-8 sequence other than NUL and '\' stands for itself;
 *   - '\' becomes "\\";
 *   - NUL and every byte that is not part of a valid sequence (RFC 3629
 *     section 4: Latin-1 0xE9, an overlong 0xC0 0xAF, a lone continuation, a
 *     surrogate, a cut sequence) becomes "\xHH", two upper-case hex digits.
 * Why not U+FFFD: it merges "\xE9" and "\xFF" into one character, so two
 * different clients would look alike in the trail. Why '\' is doubled: no
 * mapping of all byte strings into UTF-8 can be the identity on UTF-8 and
 * stay one-to-one (the text "\xE9" and the byte 0xE9 would meet), so the
 * escape character escapes itself and the mapping is reversible: read
 * "\\" as '\' and "\xHH" as the byte 0xHH.
 * Writes at most cap bytes including a terminating NUL, cut only between
 * whole escapes; returns the length of the whole escape (snprintf style:
 * it fit when the return is < cap). PC_TEXT_ESCAPE_CAP(n) always fits.
 */
#define PC_TEXT_ESCAPE_CAP(n) (4 * (n) + 1)
size_t pc_text_escape(char *out, size_t cap, const char *s, size_t n);
/* Length of the escape of the unit at s (n > 0 bytes available) into unit
 * (at most 4 bytes); *adv receives how many input bytes it consumed. The
 * step pc_text_escape and pc_json_escape share. */
size_t pc_text_escape_unit(char unit[4], size_t *adv, const unsigned char *s, size_t n);

#endif
