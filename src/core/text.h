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

/* A group name: [a-z0-9][a-z0-9._-]{0,63} (access rules, users' groups). */
bool pc_group_name_valid(const char *s, size_t n);

#endif
