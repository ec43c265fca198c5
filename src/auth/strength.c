/* strength.c — see strength.h. */
#include "auth/strength.h"

#include <math.h>
#include <sodium.h>
#include <string.h>
#include <zxcvbn.h>

#include "core/limits.h"

int pc_strength_score(double bits)
{
	/* zxcvbn's bands, in guesses: 10^3, 10^6, 10^8, 10^10 */
	static const double band[] = {3, 6, 8, 10};
	double guesses_log10 = bits * log10(2.0);
	int s = 0;
	while (s < 4 && guesses_log10 >= band[s])
		s++;
	return s;
}

int pc_strength_estimate(struct pc_strength *out, const char *pw, size_t len, const char *const *words)
{
	memset(out, 0, sizeof(*out));
	if (len > PC_PASSWORD_MAX || memchr(pw, '\0', len) != NULL)
		return -1;
	const char *dict[PC_STRENGTH_WORDS_MAX + 1];
	size_t n = 0;
	for (; words != NULL && words[n] != NULL; n++) {
		if (n == PC_STRENGTH_WORDS_MAX)
			return -1;
		dict[n] = words[n];
	}
	dict[n] = NULL;
	char buf[PC_PASSWORD_MAX + 1];
	memcpy(buf, pw, len);
	buf[len] = '\0';
	ZxcMatch_t *info = NULL;
	double bits = ZxcvbnMatch(buf, dict, &info);
	sodium_memzero(buf, sizeof(buf));
	for (ZxcMatch_t *m = info; m != NULL; m = m->Next) {
		int t = (int)m->Type & ~(int)MULTIPLE_MATCH;
		if (t == USER_MATCH || t == USER_LEET_MATCH)
			out->user_word = true;
	}
	ZxcvbnFreeInfo(info);
	if (!(bits >= 0)) /* NaN from a degenerate input: the weakest */
		bits = 0;
	out->bits = bits;
	out->score = pc_strength_score(bits);
	return 0;
}
