/*
 * passwords.c — see passwords.h. The words of the user's context are split
 * the way people reuse them: "alice.smith@mail.example.com" gives
 * alice.smith@mail.example.com, alice.smith, alice, smith,
 * mail.example.com, mail, example (top-level labels such as "com" are too
 * short or too common to help). The same for the public host.
 */
#include "svc/passwords.h"

#include <ctype.h>
#include <string.h>

#include "auth/breached.h"
#include "auth/strength.h"
#include "core/text.h"

#define WORDS_BUF 1024

static const struct pc_pw_verdict refusals[] = {
	{"invalid_utf8", "The password must be valid UTF-8 without NUL characters.", -1, 0},
	{"too_short", "The password must be at least 15 characters long; a few unrelated words make a good one.", -1,
	 0},
	{"too_long", "The password must be at most 1024 bytes long.", -1, 0},
	{"too_common", "This password is too common or too easy to guess; a few unrelated words make a stronger one.",
	 -1, 0},
	{"contains_email", "This password is too easy to guess: it is built on your email address.", -1, 0},
	{"contains_site_name", "This password is too easy to guess: it is built on the name of this service.", -1, 0},
	{"breached", "This password appears in a list of passwords exposed in data breaches; choose another one.", -1,
	 0},
};
enum { R_UTF8, R_SHORT, R_LONG, R_COMMON, R_EMAIL, R_SITE, R_BREACHED };

static enum pc_err refuse(struct pc_pw_verdict *v, int which, int score, int min_score)
{
	if (v != NULL) {
		*v = refusals[which];
		v->score = score;
		v->min_score = min_score;
	}
	return PC_ERR_WEAK_PASSWORD;
}

/* Unicode code points in valid UTF-8 s[0..n): bytes that do not continue
 * a sequence. */
static size_t code_points(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

struct wordlist {
	const char **words;
	size_t n, max;
	char *buf;
	size_t used, cap;
};

static void add_word(struct wordlist *w, const char *s, size_t len)
{
	if (len < 3 || w->n + 1 >= w->max || w->used + len + 1 > w->cap)
		return;
	char *d = w->buf + w->used;
	for (size_t i = 0; i < len; i++)
		d[i] = (char)tolower((unsigned char)s[i]);
	d[len] = '\0';
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->words[i], d) == 0)
			return;
	w->words[w->n++] = d;
	w->words[w->n] = NULL;
	w->used += len + 1;
}

/* s, then its pieces split at any of seps; the last piece skipped when
 * skip_last (a host's top-level label). */
static void add_split(struct wordlist *w, const char *s, size_t len, const char *seps, bool skip_last)
{
	add_word(w, s, len);
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && strchr(seps, s[i]) == NULL)
			continue;
		if (i > start && !(skip_last && i == len))
			add_word(w, s + start, i - start);
		start = i + 1;
	}
}

size_t pc_passwords_context_words(const char **words, size_t max, char *buf, size_t cap, const char *email,
                                  const char *host, size_t *n_email)
{
	struct wordlist w = {words, 0, max, buf, 0, cap};
	if (max > 0)
		words[0] = NULL;
	const char *at = email != NULL ? strrchr(email, '@') : NULL;
	if (at != NULL) {
		add_word(&w, email, strlen(email));
		add_split(&w, email, (size_t)(at - email), ".-_+", false);
		add_split(&w, at + 1, strlen(at + 1), ".", true);
	}
	*n_email = w.n;
	add_word(&w, "portcullis", 10);
	if (host != NULL && host[0] != '\0')
		add_split(&w, host, strlen(host), ".", true);
	return w.n;
}

/* Lowercase with the common leet substitutions undone, for "does the
 * password hold this word". */
static char unleet(char c)
{
	switch (c) {
	case '4': case '@': return 'a';
	case '3': return 'e';
	case '1': case '!': case '|': return 'i';
	case '0': return 'o';
	case '5': case '$': return 's';
	case '7': case '+': return 't';
	default: return (char)tolower((unsigned char)c);
	}
}

static bool holds_word(const char *pw, size_t len, const char *word)
{
	size_t wl = strlen(word);
	for (size_t i = 0; i + wl <= len; i++) {
		size_t j = 0;
		while (j < wl && unleet(pw[i + j]) == unleet(word[j]))
			j++;
		if (j == wl)
			return true;
	}
	return false;
}

enum pc_err pc_passwords_check(const struct pc_svc *ctx, const char *email, const char *pw, size_t len,
                               struct pc_pw_verdict *v)
{
	int floor = ctx->cfg != NULL && ctx->cfg->password_min_score >= PC_PASSWORD_SCORE_MIN
	                ? ctx->cfg->password_min_score
	                : PC_PASSWORD_SCORE_DEFAULT;
	if (v != NULL)
		*v = (struct pc_pw_verdict){NULL, NULL, -1, floor};
	if (len > PC_PASSWORD_MAX)
		return refuse(v, R_LONG, -1, floor);
	if (!pc_utf8_valid(pw, len))
		return refuse(v, R_UTF8, -1, floor);
	if (code_points(pw, len) < PC_PASSWORD_MIN)
		return refuse(v, R_SHORT, -1, floor);

	const char *words[PC_STRENGTH_WORDS_MAX + 1];
	char buf[WORDS_BUF];
	size_t n_email = 0;
	size_t n = pc_passwords_context_words(words, PC_STRENGTH_WORDS_MAX + 1, buf, sizeof(buf), email,
	                                      ctx->cfg != NULL ? ctx->cfg->public_host : NULL, &n_email);
	struct pc_strength s;
	if (pc_strength_estimate(&s, pw, len, words) != 0)
		return PC_ERR_INTERNAL;
	if (s.score < floor) {
		int why = R_COMMON;
		for (size_t i = 0; s.user_word && why == R_COMMON && i < n; i++)
			if (holds_word(pw, len, words[i]))
				why = i < n_email ? R_EMAIL : R_SITE;
		return refuse(v, why, s.score, floor);
	}
	if (ctx->breached != NULL) {
		bool found = false;
		if (pc_breached_contains(ctx->breached, pw, len, &found) != 0)
			return PC_ERR_UNAVAILABLE;
		if (found)
			return refuse(v, R_BREACHED, s.score, floor);
	}
	if (v != NULL)
		v->score = s.score;
	return PC_OK;
}
