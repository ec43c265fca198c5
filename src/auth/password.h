/*
 * password.h — Argon2id password hashing. The policy a new password must
 * meet is the service layer's (svc/passwords.h).
 *
 * Hashing and verifying are deliberately slow (tens of milliseconds and
 * ~19 MiB each): call them ONLY from the worker pool.
 */
#ifndef PC_AUTH_PASSWORD_H
#define PC_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"

/* OWASP's Argon2id minimum: m = 19 MiB, t = 2, p = 1 (libsodium uses p = 1). */
#define PC_PWHASH_OPSLIMIT_MIN 2
#define PC_PWHASH_MEMLIMIT_MIN (19u * 1024u * 1024u)

struct pc_pwcost {
	unsigned long long opslimit;
	size_t memlimit;
};

/* Hashes into out (crypto_pwhash_STRBYTES). 0, or -1 out of memory. */
PC_MUST_USE int pc_password_hash(char out[128], const char *pw, size_t len, const struct pc_pwcost *cost);

/* 0 when pw matches hash; -1 otherwise (including a malformed hash). */
PC_MUST_USE int pc_password_verify(const char *hash, const char *pw, size_t len);

/* Whether hash was made with parameters other than cost (upgrade it). */
bool pc_password_needs_rehash(const char *hash, const struct pc_pwcost *cost);

/* Verifies pw against a fixed dummy hash of the same cost, so a login for an
 * unknown account costs what a real one costs (no timing oracle). Call
 * pc_password_init once at start. */
PC_MUST_USE int pc_password_init(const struct pc_pwcost *cost);
void pc_password_dummy_verify(const char *pw, size_t len);

#endif
