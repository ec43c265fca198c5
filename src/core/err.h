/* err.h — the error enum for calls whose callers branch on the reason, and
 * PC_MUST_USE, the mark of every call whose result must be looked at.
 * Plain success/failure stays int 0/-1 (STYLE.md).
 *
 * Each code means one thing, so a caller maps it without knowing which
 * function returned it (api/common.c holds the one mapping to HTTP). */
#ifndef PC_CORE_ERR_H
#define PC_CORE_ERR_H

/* On every function returning enum pc_err or an int 0/-1 verdict, and on
 * every security predicate (a bool that says "allowed", "valid", "revoked"):
 * a caller that drops the result would read "fine". */
#define PC_MUST_USE __attribute__((warn_unused_result))

#include <stddef.h>

/* Formats one error line into err[errlen] (nothing when err is NULL or
 * errlen 0) and returns -1, so a parser can `return pc_errf(...)`. The line
 * must quote no secret: callers name the variable or field, not its value. */
__attribute__((format(printf, 3, 4)))
int pc_errf(char *err, size_t errlen, const char *fmt, ...);

enum pc_err {
	PC_OK = 0,
	PC_ERR_INTERNAL = -1,    /* a bug or corruption: 500 */
	PC_ERR_NOT_FOUND = -2,   /* 404 (or a generic 401 for credentials) */
	PC_ERR_CONFLICT = -3,    /* 409: a unique key (email, API key prefix) is taken */
	PC_ERR_UNAVAILABLE = -4, /* 503: backend down, busy past its timeout, disk full/read-only */
	PC_ERR_SET_UP = -5,      /* 409: the first user exists already */
	PC_ERR_LAST_USER = -6,   /* 409: the change would leave no user (or no admin) */
	PC_ERR_REUSED = -7,      /* 401: a single-use credential presented again (refresh reuse) */
	PC_ERR_TAMPERED = -8,    /* stored data fails its keyed hash (audit chain broken) */
	PC_ERR_THROTTLED = -9,   /* 429: a rate limit refused the attempt before any work */
	PC_ERR_STALE = -10,      /* 401: a sign-in checked against credentials changed since */
	PC_ERR_FORBIDDEN = -11,  /* 403: the actor's role does not allow the action */
	PC_ERR_LAST_ADMIN = -12, /* 409: the change would leave no enabled admin */
	PC_ERR_ENROL = -13,      /* 403: the user must set up a second factor first */
	PC_ERR_WEAK_PASSWORD = -14, /* 400: a new password breaks the policy (svc/passwords.h) */
	PC_ERR_INVALID = -20,    /* 400: input the service's rules refuse (an OIDC client setting) */
};

#endif
