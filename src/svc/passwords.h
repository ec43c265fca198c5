/*
 * passwords.h — THE password policy: every password portcullis sets (setup,
 * a user added by an admin or the command line, a change, a reset) passes
 * pc_passwords_check first, in the service that sets it.
 *
 * In order, the first rule broken is the reason:
 *   invalid_utf8   not valid UTF-8, or holds NUL;
 *   too_short      under PC_PASSWORD_MIN (15) Unicode code points;
 *   too_long       over PC_PASSWORD_MAX (1,024) bytes;
 *   contains_email / contains_site_name / too_common
 *                  under PORTCULLIS_PASSWORD_MIN_SCORE by zxcvbn, whose
 *                  extra words are the user's email, its local part and
 *                  domain and their pieces, "portcullis" and the public
 *                  host and its labels; the reason names the user's own
 *                  words when the password holds one of them;
 *   breached       its SHA-1 is in PORTCULLIS_BREACHED_PASSWORDS_FILE.
 * No composition rule (NIST SP 800-63B): any characters, spaces included.
 *
 * BLOCKS (the breached file is read from disk): call it where the services
 * run, on the worker pool or the command line.
 */
#ifndef PC_SVC_PASSWORDS_H
#define PC_SVC_PASSWORDS_H

#include "svc/svc.h"

/* Why a password was refused: reason is machine-readable (the problem's
 * `reason` member), message a sentence for the user. Static strings. */
struct pc_pw_verdict {
	const char *reason;
	const char *message;
	int score;        /* zxcvbn's score, when it was computed (else -1) */
	int min_score;    /* the floor it had to reach */
};

/*
 * Checks pw[0..len) for the user with email (the normalised address; ""
 * when not known yet: the context words are then the service's alone).
 * PC_OK; PC_ERR_WEAK_PASSWORD with *v filled (v may be NULL);
 * PC_ERR_UNAVAILABLE when the breached file cannot be read (refused: the
 * check fails closed).
 */
PC_MUST_USE enum pc_err pc_passwords_check(const struct pc_svc *ctx, const char *email, const char *pw, size_t len,
                                           struct pc_pw_verdict *v);

/* The extra dictionary words for email and host into words (lowercase,
 * each at least 3 bytes, no duplicates), NULL-terminated; buf holds their
 * text. Exposed for the tests. Returns how many. */
size_t pc_passwords_context_words(const char **words, size_t max, char *buf, size_t cap, const char *email,
                                  const char *host, size_t *n_email);

#endif
