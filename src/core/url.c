/*
 * url.c — connection URLs shown to a person: the password masked.
 *
 * A database or Redis URL may carry a password in its userinfo or in a
 * password= parameter; every message, log line and `config check` that
 * names such a URL goes through pc_url_mask first. Masking errs towards
 * hiding too much (see the comments below).
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "core/url.h"

struct sbuf {
	char *p;
	size_t cap, len;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n && b->len + 1 < b->cap; i++)
		b->p[b->len++] = s[i];
	b->p[b->len] = '\0';
}

/* Copies s[0..n) masking the value of every key ending in "password"
 * (password=, sslpassword=; any case), whether in a URL query
 * (value ends at '&' or '#') or a libpq keyword string (ends at a blank,
 * or at the closing quote of a quoted value). */
static void put_masking_params(struct sbuf *b, const char *s, size_t n)
{
	static const char key[] = "password=";
	const size_t kl = sizeof(key) - 1;
	size_t i = 0;
	while (i < n) {
		if (n - i >= kl && strncasecmp(s + i, key, kl) == 0) {
			put(b, s + i, kl);
			i += kl;
			size_t j = i;
			if (j < n && s[j] == '\'') {
				for (j++; j < n && s[j] != '\''; j++)
					if (s[j] == '\\' && j + 1 < n)
						j++;
				if (j < n)
					j++;
			} else {
				while (j < n && s[j] != '&' && s[j] != '#' && s[j] != ' ' && s[j] != '\t')
					j++;
			}
			if (j > i)
				put(b, "****", 4);
			i = j;
			continue;
		}
		put(b, s + i, 1);
		i++;
	}
}

void pc_url_mask(char *out, size_t outlen, const char *url)
{
	struct sbuf b = {out, outlen, 0};
	if (out == NULL || outlen == 0)
		return;
	out[0] = '\0';
	if (url == NULL)
		return;
	size_t n = strlen(url);
	const char *sep = strstr(url, "://");
	if (sep != NULL) {
		const char *auth = sep + 3;
		/* The last '@' ends the userinfo: a password with an unescaped '@',
		 * '/' or '?' is still hidden (too much is masked rather than too
		 * little when the query has an '@' too). */
		const char *at = strrchr(auth, '@');
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon != NULL) {
			put_masking_params(&b, url, (size_t)(colon + 1 - url));
			put(&b, "****", 4);
			put_masking_params(&b, at, n - (size_t)(at - url));
			return;
		}
	}
	put_masking_params(&b, url, n);
}

bool pc_url_prefix_valid(const char *p, size_t len)
{
	if (p == NULL || len < 2 || len > PC_PATH_PREFIX_MAX || p[0] != '/' || p[len - 1] == '/')
		return false;
	size_t seg = 1; /* start of the current segment */
	for (size_t i = 1; i <= len; i++) {
		if (i < len && p[i] != '/') {
			char c = p[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '.' || c == '_' || c == '~'))
				return false;
			continue;
		}
		size_t sl = i - seg;
		if (sl == 0 || (sl == 1 && p[seg] == '.') || (sl == 2 && p[seg] == '.' && p[seg + 1] == '.'))
			return false;
		seg = i + 1;
	}
	return true;
}
