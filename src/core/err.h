/* err.h — the error enum for calls whose callers branch on the reason.
 * Plain success/failure stays int 0/-1 (STYLE.md). */
#ifndef PC_CORE_ERR_H
#define PC_CORE_ERR_H

enum pc_err {
	PC_OK = 0,
	PC_ERR_INTERNAL = -1,    /* a bug or corruption: 500 */
	PC_ERR_NOT_FOUND = -2,   /* 404 (or a generic 401 for credentials) */
	PC_ERR_CONFLICT = -3,    /* 409: unique key, first user exists, last user */
	PC_ERR_UNAVAILABLE = -4, /* 503: backend down, busy past its timeout, disk full/read-only */
};

#endif
