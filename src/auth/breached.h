/*
 * breached.h — an operator's list of breached passwords
 * (PORTCULLIS_BREACHED_PASSWORDS_FILE): SHA-1 hashes, sorted, one per line
 * in Have I Been Pwned's `HEX:COUNT` format (core/hibp.h), LF or CRLF.
 *
 * The file is never loaded: a lookup is a binary search over byte offsets
 * with pread, each probe moved to the start of the next line (lines need
 * not have one width: counts differ), about 2 x log2(lines) reads of 64
 * bytes — some 70 for HIBP's billion. Opening it checks the first line, the
 * last one and PC_BREACHED_SAMPLE lines spread over it for format and
 * strictly ascending order, so a file that is not sorted (which would make
 * the search miss hashes silently) is refused at start. The check is a
 * sample: a file sorted in the large but disordered in a few places passes
 * it, and lookups inside those places may miss.
 *
 * Thread-safe once opened (pread only). SHA-1 comes from libcrypto.
 */
#ifndef PC_AUTH_BREACHED_H
#define PC_AUTH_BREACHED_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct pc_breached;

/* Opens and checks path. 0 with *out set, or -1 with one line in err
 * (what is wrong, with the byte offset of the offending line). */
PC_MUST_USE int pc_breached_open(struct pc_breached **out, const char *path, char *err, size_t errlen);
/* Closes; NULL is a no-op. */
void pc_breached_free(struct pc_breached *b);

/* Whether the SHA-1 of pw[0..len) is listed: 0 with *found, or -1 when
 * the file cannot be read or a probed line is malformed (*found false). */
PC_MUST_USE int pc_breached_contains(const struct pc_breached *b, const char *pw, size_t len, bool *found);

/* How many lines the file has, estimated from the sample (for the log). */
size_t pc_breached_lines_estimate(const struct pc_breached *b);

#endif
