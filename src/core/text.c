/* text.c — see text.h. UTF-8 per RFC 3629 section 4 (the well-formed table). */
#include "core/text.h"

#include <string.h>

#include "core/limits.h"

size_t pc_utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

bool pc_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		if (u[i] == 0)
			return false;
		size_t l = pc_utf8_seq_len(u + i, n - i);
		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

bool pc_group_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > PC_AUTHZ_GROUP_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

bool pc_groups_text_valid(const char *s, size_t n)
{
	size_t count = 0, start = 0;
	if (n == 0)
		return true;
	if (n > PC_USER_GROUPS_TEXT)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		size_t len = i - start;
		if (!pc_group_name_valid(s + start, len) || ++count > PC_USER_GROUPS_MAX)
			return false;
		/* no name twice: a quadratic walk over at most 32 short names */
		for (size_t j = 0; j < start;) {
			size_t k = j;
			while (k < start && s[k] != ',')
				k++;
			if (k - j == len && memcmp(s + j, s + start, len) == 0)
				return false;
			j = k + 1;
		}
		start = i + 1;
	}
	return true;
}

int pc_groups_append(char *out, size_t *at, const char *name, size_t n)
{
	size_t sep = *at > 0 ? 1 : 0;
	if (!pc_group_name_valid(name, n) || *at + sep + n > PC_USER_GROUPS_TEXT)
		return -1;
	if (sep)
		out[(*at)++] = ',';
	memcpy(out + *at, name, n);
	*at += n;
	out[*at] = '\0';
	return 0;
}

size_t pc_groups_split(const char **names, char *buf, size_t cap, const char *s)
{
	size_t n = 0, len = strlen(s);
	if (len == 0 || len + 1 > cap)
		return 0;
	memcpy(buf, s, len + 1);
	names[n++] = buf;
	for (size_t i = 0; i < len && n < PC_USER_GROUPS_MAX; i++) {
		if (buf[i] == ',') {
			buf[i] = '\0';
			names[n++] = buf + i + 1;
		}
	}
	return n;
}

size_t pc_text_escape_unit(char unit[4], size_t *adv, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c = s[0];
	size_t l = c == 0 ? 0 : pc_utf8_seq_len(s, n);
	if (c == '\\') {
		*adv = 1;
		unit[0] = unit[1] = '\\';
		return 2;
	}
	if (l == 0) {
		*adv = 1;
		unit[0] = '\\';
		unit[1] = 'x';
		unit[2] = hex[c >> 4];
		unit[3] = hex[c & 15];
		return 4;
	}
	*adv = l;
	for (size_t i = 0; i < l && i < 4; i++) /* l <= 4: said for the compiler */
		unit[i] = (char)s[i];
	return l;
}

size_t pc_text_escape(char *out, size_t cap, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;
	bool fits = true;
	for (size_t i = 0; i < n;) {
		char unit[4];
		size_t adv;
		size_t ul = pc_text_escape_unit(unit, &adv, u + i, n - i);
		if (fits && o + ul < cap)
			memcpy(out + o, unit, ul);
		else if (fits) {
			fits = false;
			if (cap > 0)
				out[o] = '\0';
		}
		o += ul;
		i += adv;
	}
	if (fits && cap > 0)
		out[o] = '\0';
	return o;
}

bool pc_user_name_valid(const char *s, size_t n)
{
	if (n == 0)
		return true;
	if (n > PC_USER_NAME_MAX || s[0] == ' ' || s[n - 1] == ' ' || !pc_utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
		/* C1 controls U+0080..U+009F: 0xC2 0x80..0x9F */
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9f)
			return false;
	}
	return true;
}
