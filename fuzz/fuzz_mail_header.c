/*
 * fuzz_mail_header.c — libFuzzer target for core/mail.c (pc_mail_build).
 *
 * The input is split at 0xFF bytes into from, from_name, to, subject and
 * body. An independent model decides whether the build must succeed:
 * header fields are 0x20-0x7E only and within their limits, addresses are
 * local@domain by a separate hand-written grammar, the body is UTF-8 (by
 * a decoder written here) with no control but TAB, LF and CR before LF.
 * Then, on success:
 *   - every line ends CRLF, no bare CR or LF, no NUL, no line longer than
 *     998 octets, and every header line before the blank line is one of
 *     the fixed names (no field value could add one);
 *   - the header block has exactly one of each field;
 *   - the body lines are at most 76 octets, printable ASCII, TAB (never
 *     last) and '=' escapes only, and decoding them (a decoder written here) gives the body text
 *     back with CRLF line ends.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mail.h"
#include "fuzz.h"

static bool m_atext(uint8_t c)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~";
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return true;
	if (c >= '0' && c <= '9')
		return true;
	for (size_t i = 0; i < sizeof(specials) - 1; i++)
		if (c == (uint8_t)specials[i])
			return true;
	return false;
}

static bool m_addr(const uint8_t *s, size_t n)
{
	size_t at = n, ats = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '@') {
			at = i;
			ats++;
		}
	if (ats != 1 || n > 254 || at == 0 || at > 64 || at + 1 == n)
		return false;
	/* local: atoms separated by single dots */
	if (s[0] == '.' || s[at - 1] == '.')
		return false;
	for (size_t i = 0; i < at; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!m_atext(s[i])) {
			return false;
		}
	}
	/* domain: labels of [A-Za-z0-9-], 1..63, no '-' at either end */
	size_t i = at + 1;
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != '.')
			j++;
		size_t l = j - i;
		if (l == 0 || l > 63 || s[i] == '-' || s[j - 1] == '-')
			return false;
		for (size_t k = i; k < j; k++) {
			uint8_t c = s[k];
			if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '-'))
				return false;
		}
		i = j + 1;
	}
	return true;
}

static bool m_printable(const uint8_t *s, size_t n, size_t max, bool empty_ok)
{
	if (n == 0)
		return empty_ok;
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* UTF-8 (RFC 3629 table), written without core/text.c. */
static bool m_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t k;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static bool m_body(const uint8_t *s, size_t n)
{
	if (n > PC_MAIL_BODY_MAX || !m_utf8(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && !(i + 1 < n && s[i + 1] == '\n'))
			return false;
		if (s[i] == 0 || s[i] == 0x7f || (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r'))
			return false;
	}
	return true;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* five fields split at 0xFF (never valid in any of them) */
	char *f[5] = {0};
	size_t fl[5] = {0};
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= size && k < 5; i++) {
		if (i == size || data[i] == 0xff) {
			f[k] = malloc(i - start + 1);
			memcpy(f[k], data + start, i - start);
			f[k][i - start] = '\0';
			fl[k] = i - start;
			k++;
			start = i + 1;
		}
	}
	for (; k < 5; k++) {
		f[k] = calloc(1, 1);
		fl[k] = 0;
	}
	/* strlen stops at an embedded NUL: the builder sees the C string, the
	 * model too, except the body, which has an explicit length */
	for (int j = 0; j < 4; j++)
		fl[j] = strlen(f[j]);
	uint8_t rnd[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct pc_mail_fields mf = {
		.from = f[0], .from_name = f[1], .to = f[2], .subject = f[3],
		.body = f[4], .body_len = fl[4], .date = 1700000000, .msgid_random = rnd,
	};
	bool name_ok = m_printable((uint8_t *)f[1], fl[1], PC_MAIL_NAME_MAX, true) && strchr(f[1], '"') == NULL &&
	               strchr(f[1], '\\') == NULL;
	bool want = m_addr((uint8_t *)f[0], fl[0]) && m_addr((uint8_t *)f[2], fl[2]) && name_ok &&
	            m_printable((uint8_t *)f[3], fl[3], PC_MAIL_SUBJECT_MAX, false) && m_body((uint8_t *)f[4], fl[4]);
	size_t cap = PC_MAIL_MESSAGE_MAX;
	char *out = malloc(cap);
	size_t len = 99;
	enum pc_mail_result r = pc_mail_build(out, cap, &len, &mf);
	CHECK((r == PC_MAIL_OK) == want);
	if (r != PC_MAIL_OK) {
		CHECK(len == 0 && out[0] == '\0');
		goto done;
	}
	CHECK(strlen(out) == len);
	/* lines */
	static const char *const names[] = {"Date: ", "From: ", "To: ", "Subject: ", "Message-ID: ", "MIME-Version: ",
	                                    "Content-Type: ", "Content-Transfer-Encoding: ", "Auto-Submitted: "};
	int seen[9] = {0};
	bool in_body = false;
	char *dec = malloc(fl[4] * 2 + 16);
	size_t dn = 0;
	size_t p = 0;
	while (p < len) {
		size_t e = p;
		while (e < len && out[e] != '\r' && out[e] != '\n')
			e++;
		CHECK(e + 1 < len && out[e] == '\r' && out[e + 1] == '\n'); /* CRLF only */
		size_t ll = e - p;
		CHECK(ll <= PC_MAIL_LINE_MAX);
		for (size_t i = p; i < e; i++)
			CHECK(((uint8_t)out[i] >= 0x20 && (uint8_t)out[i] <= 0x7e) || (in_body && out[i] == '\t'));
		if (!in_body) {
			if (ll == 0) {
				in_body = true;
			} else {
				int which = -1;
				for (int j = 0; j < 9; j++)
					if (strncmp(out + p, names[j], strlen(names[j])) == 0)
						which = j;
				CHECK(which >= 0);
				seen[which]++;
			}
		} else {
			CHECK(ll <= PC_MAIL_QP_LINE);
			CHECK(ll == 0 || out[p] != '.');
			bool soft = ll > 0 && out[e - 1] == '=';
			size_t stop = soft ? e - 1 : e;
			if (!soft && ll > 0)
				CHECK(out[e - 1] != ' ' && out[e - 1] != '\t');
			for (size_t i = p; i < stop; i++) {
				if (out[i] == '=') {
					CHECK(i + 2 < stop);
					int h = unhex(out[i + 1]), l = unhex(out[i + 2]);
					CHECK(h >= 0 && l >= 0);
					dec[dn++] = (char)(h * 16 + l);
					i += 2;
				} else {
					dec[dn++] = out[i];
				}
			}
			if (!soft) {
				dec[dn++] = '\r';
				dec[dn++] = '\n';
			}
		}
		p = e + 2;
	}
	CHECK(in_body);
	for (int j = 0; j < 9; j++)
		CHECK(seen[j] == 1);
	/* the body, with CRLF line ends and one final line end */
	{
		char *want_b = malloc(fl[4] * 2 + 4);
		size_t wn = 0;
		for (size_t i = 0; i < fl[4]; i++) {
			if (f[4][i] == '\r')
				continue; /* always before '\n' (the model checked) */
			if (f[4][i] == '\n') {
				want_b[wn++] = '\r';
				want_b[wn++] = '\n';
			} else {
				want_b[wn++] = f[4][i];
			}
		}
		if (wn < 2 || want_b[wn - 2] != '\r' || want_b[wn - 1] != '\n' || fl[4] == 0) {
			want_b[wn++] = '\r';
			want_b[wn++] = '\n';
		}
		CHECK(dn == wn && memcmp(dec, want_b, wn) == 0);
		free(want_b);
	}
	free(dec);
done:
	free(out);
	for (int j = 0; j < 5; j++)
		free(f[j]);
	return 0;
}
