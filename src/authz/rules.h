/*
 * rules.h — the access rules file for forward auth: parsing, printing and
 * the lifetime of an immutable, reference-counted rule set.
 *
 * Format: one rule per line; "#" starts a comment line (only as the first
 * non-blank byte: "#" is not a value byte anywhere); blank lines are
 * ignored; fields are separated by spaces or tabs:
 *
 *   POLICY [host=H] [path=P] [method=M,...] [net=CIDR,...] [user=EMAIL,...]
 *          [group=G,...]
 *
 * POLICY is bypass, one_factor, two_factor or deny. Each criterion at most
 * once per line, in any order; values are comma-separated with no spaces and
 * none empty. Strictness, so that a typo is an error and never a wider rule:
 * - host: a DNS name in the form path.h's host normaliser produces (lower
 *   case, no port, no trailing dot), or "*.SUFFIX" where SUFFIX is such a
 *   name; "*" only as the whole first label. Upper case is refused rather
 *   than folded, so the printed rule is the written one.
 * - path: a normalised path (path.h) without query: "/admin/" is accepted,
 *   "/x/../admin", "/%61dmin" or "/admin?x" are refused with the form to
 *   write. A prefix not ending in "/" is a plain byte prefix: "/admin"
 *   also covers "/administrator"; write "/admin/" for the directory.
 * - method: GET HEAD POST PUT PATCH DELETE OPTIONS, upper case.
 * - net: CIDR blocks under core/cidr.h's strict rules.
 * - user: email addresses, stored lower-cased (compared ASCII
 *   case-insensitively).
 * - group: [a-z0-9][a-z0-9._-]{0,63}.
 * - bypass with user= or group= is refused: bypass applies before anyone
 *   signs in, so a subject criterion could never be evaluated for it.
 * The file must be ASCII except inside comments (UTF-8 there); a CR, a NUL
 * or another control byte other than tab is refused anywhere.
 *
 * Errors name the 1-based line and byte column: "line 3, column 12: unknown
 * criterion \"paht\"".
 *
 * Sharing: a set is immutable after parsing. It starts with one reference;
 * pc_rules_ref adds one (atomically), pc_rules_unref / pc_rules_free drop
 * one and the last frees. On SIGHUP the server parses the new set, swaps
 * it in and unrefs the old one; a loop that holds a reference keeps reading
 * the old set safely until it drops it.
 * WARNING: reading the shared "current" pointer and pc_rules_ref must not
 * race with the swapper's final unref: take both under the lock the swapper
 * holds for the swap (test_decide.c does), or give each loop its own
 * reference that the swapper replaces through the loop (uv_async). A bare
 * atomic load followed by pc_rules_ref can touch a freed set.
 */
#ifndef PC_AUTHZ_RULES_H
#define PC_AUTHZ_RULES_H

#include <stddef.h>

#include "core/err.h"
#include "core/limits.h"


/* Longest printed rule: a line can never print longer than it was written
 * plus spacing normalisation, which only removes bytes; net= blocks print in
 * canonical form, at most 49 bytes each. */
#define PC_AUTHZ_FORMAT_MAX (PC_AUTHZ_MAX_LINE + PC_AUTHZ_MAX_VALUES * 50)

enum pc_policy {
	PC_POLICY_BYPASS = 0, /* allowed without signing in; no identity headers */
	PC_POLICY_ONE_FACTOR, /* signed in */
	PC_POLICY_TWO_FACTOR, /* signed in with a second factor */
	PC_POLICY_DENY,       /* 403 for everyone */
};

struct pc_rules;

/* Parses text (len bytes, need not be NUL-terminated). Returns the new set
 * (one reference, owned by the caller), or NULL with a message in err
 * (errlen bytes, NUL-terminated) naming line and column, or "out of memory".
 * An empty text (or only comments) is a valid set with no rules: every
 * request is denied. */
PC_MUST_USE struct pc_rules *pc_rules_parse(const char *text, size_t len, char *err, size_t errlen);

/* Reads and parses the file at path (a regular file of at most
 * PC_AUTHZ_MAX_FILE_BYTES). Returns the set or NULL with err as above, the
 * path and the OS error for an I/O failure. */
PC_MUST_USE struct pc_rules *pc_rules_load_file(const char *path, char *err, size_t errlen);

/* Adds a reference; returns r. Thread-safe. */
struct pc_rules *pc_rules_ref(struct pc_rules *r);
/* Drops a reference; the last one frees the set. NULL is a no-op.
 * WARNING: after the call the caller must not touch r. */
void pc_rules_unref(struct pc_rules *r);
/* pc_rules_unref under the house name for the creator's reference. */
void pc_rules_free(struct pc_rules *r);

/* Number of rules (comments and blank lines are not rules). */
size_t pc_rules_count(const struct pc_rules *r);
/* Line number (1-based, in the parsed text) of rule i < count. */
unsigned pc_rules_line(const struct pc_rules *r, size_t i);
/* The policy of rule i (i < pc_rules_count). */
enum pc_policy pc_rules_policy(const struct pc_rules *r, size_t i);

/* Writes rule i (< count) in canonical form into out (cap bytes,
 * NUL-terminated): the policy and criteria in the fixed order host, path,
 * method, net, user, group, single spaces, values as stored. Parsing the
 * output gives the same rule. Returns the length, or -1 when cap is too
 * small (out then ""). PC_AUTHZ_FORMAT_MAX + 1 bytes always suffice. */
PC_MUST_USE int pc_rules_format(char *out, size_t cap, const struct pc_rules *r, size_t i);

/* Policy names ("bypass", ...); NULL for an out-of-range value. */
const char *pc_policy_name(enum pc_policy p);

#endif
