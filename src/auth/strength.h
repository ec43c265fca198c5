/*
 * strength.h — how hard a password is to guess, from zxcvbn-c (the one
 * file that includes zxcvbn.h): its estimate in bits (log2 of the guesses
 * an attacker trying likely passwords first would need) and zxcvbn's score
 * (0-4) from it, with the user's own words (email parts, the service's
 * name, its host) as an extra dictionary.
 *
 * zxcvbn-c with its dictionaries compiled in (Debian's libzxcvbn) is
 * reentrant; it copies the password into buffers it frees without wiping
 * (a known gap: the copy lives in freed heap memory until reused).
 */
#ifndef PC_AUTH_STRENGTH_H
#define PC_AUTH_STRENGTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* The most extra words one check takes. */
#define PC_STRENGTH_WORDS_MAX 16

struct pc_strength {
	double bits;      /* zxcvbn's entropy estimate */
	int score;        /* 0-4: guesses under 10^3, 10^6, 10^8, 10^10, above */
	bool user_word;   /* one of the extra words (or a leet spelling of it) was matched */
};

/* Estimates pw[0..len) (valid UTF-8 without NUL, len <= PC_PASSWORD_MAX)
 * with words (NULL-terminated, lowercase, at most PC_STRENGTH_WORDS_MAX).
 * 0, or -1 out of memory or input out of bounds. */
PC_MUST_USE int pc_strength_estimate(struct pc_strength *out, const char *pw, size_t len, const char *const *words);

/* The score of an estimate in bits. */
int pc_strength_score(double bits);

#endif
