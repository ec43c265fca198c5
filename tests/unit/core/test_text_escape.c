/* test_text_escape.c — pc_text_escape (core/text.h), the one rule by which
 * bytes a client controls (a User-Agent) become text for the audit trail,
 * the listings and the logs: valid UTF-8 stands for itself, '\' is doubled,
 * NUL and every byte outside a valid sequence is \xHH. Checked against a
 * decoder written here (the escape must be reversible, so different inputs
 * stay different) and against pc_utf8_valid (the output is always UTF-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "core/text.h"

/* "\\" -> '\', "\xHH" -> 0xHH, anything else itself: -1 on a lone '\'. */
static long unescape(unsigned char *out, const char *s)
{
	size_t o = 0;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] != '\\') {
			out[o++] = (unsigned char)s[i];
			continue;
		}
		if (s[i + 1] == '\\') {
			out[o++] = '\\';
			i++;
		} else if (s[i + 1] == 'x' && strchr("0123456789ABCDEF", s[i + 2]) && s[i + 2] &&
		           strchr("0123456789ABCDEF", s[i + 3]) && s[i + 3]) {
			out[o++] = (unsigned char)((strchr("0123456789ABCDEF", s[i + 2]) - "0123456789ABCDEF") << 4 |
			                           (strchr("0123456789ABCDEF", s[i + 3]) - "0123456789ABCDEF"));
			i += 3;
		} else {
			return -1;
		}
	}
	return (long)o;
}

static const char *esc(const char *s, size_t n)
{
	static char out[PC_TEXT_ESCAPE_CAP(64)];
	assert_true(n <= 64);
	size_t w = pc_text_escape(out, sizeof(out), s, n);
	assert_true(w < sizeof(out));
	assert_int_equal(strlen(out), w);
	return out;
}

#define E(lit) esc(lit, sizeof(lit) - 1)

static void test_known_answers(void **state)
{
	(void)state;
	assert_string_equal(E(""), "");
	assert_string_equal(E("Mozilla/5.0 (X11)"), "Mozilla/5.0 (X11)");
	assert_string_equal(E("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92");
	assert_string_equal(E("a\"b\t\x7f"), "a\"b\t\x7f"); /* JSON's business, not ours */
	assert_string_equal(E("C:\\x"), "C:\\\\x");     /* the text \x is not a byte */
	assert_string_equal(E("x\0y"), "x\\x00y");
	/* each invalid-sequence class of RFC 3629 section 4 */
	assert_string_equal(E("e2e-ua/\xe9/"), "e2e-ua/\\xE9/");            /* Latin-1 */
	assert_string_equal(E("e2e-ua/\xc0\xaf/"), "e2e-ua/\\xC0\\xAF/");   /* overlong 2-byte */
	assert_string_equal(E("\xe0\x80\xaf"), "\\xE0\\x80\\xAF");          /* overlong 3-byte */
	assert_string_equal(E("\xf0\x80\x80\xaf"), "\\xF0\\x80\\x80\\xAF"); /* overlong 4-byte */
	assert_string_equal(E("e2e-ua/\x80/"), "e2e-ua/\\x80/");            /* lone continuation */
	assert_string_equal(E("\xed\xa0\x80"), "\\xED\\xA0\\x80");          /* surrogate */
	assert_string_equal(E("\xf4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80"); /* above U+10FFFF */
	assert_string_equal(E("ok\xe2\x82"), "ok\\xE2\\x82");               /* cut short at the end */
	assert_string_equal(E("\xe2\x82z"), "\\xE2\\x82z");                 /* cut short by ASCII */
	assert_string_equal(E("\xc3\xc3\xa9"), "\\xC3\xc3\xa9");            /* lead then a whole one */
	assert_string_equal(E("\xfe\xff"), "\\xFE\\xFF");                   /* never used */
	/* the three of the attack differ, and none is U+FFFD */
	assert_string_not_equal(esc("\xe9", 1), "\\xC0\\xAF");
}

/* Every byte value alone: itself when it is ASCII other than NUL and '\',
 * else one \xHH (or "\\"), and the decoder gets the byte back. */
static void test_every_byte(void **state)
{
	(void)state;
	for (unsigned b = 0; b < 256; b++) {
		char in[1] = {(char)b};
		const char *o = esc(in, 1);
		char want[8];
		if (b == '\\')
			strcpy(want, "\\\\");
		else if (b != 0 && b < 0x80)
			snprintf(want, sizeof(want), "%c", b);
		else
			snprintf(want, sizeof(want), "\\x%02X", b);
		assert_string_equal(o, want);
		unsigned char back[4];
		assert_int_equal(unescape(back, o), 1);
		assert_int_equal(back[0], b);
	}
}

/* Random bytes from the classes that matter: the output is UTF-8 without
 * NUL, decodes to the input (so two inputs never meet), and a valid UTF-8
 * input without '\' and NUL is unchanged. */
static void test_round_trip(void **state)
{
	(void)state;
	static const unsigned char alphabet[] = {'a', '/', '\\', 'x', 'E', '9', 0x00, 0x7f, 0x80, 0xa9, 0xaf, 0xbf,
	                                         0xc0, 0xc3, 0xe2, 0xe9, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 0x82};
	unsigned char in[32], back[32];
	char out[PC_TEXT_ESCAPE_CAP(sizeof(in))];
	for (int round = 0; round < 50000; round++) {
		size_t n = randombytes_uniform(sizeof(in) + 1);
		for (size_t i = 0; i < n; i++)
			in[i] = randombytes_uniform(3) == 0 ? (unsigned char)randombytes_uniform(256)
			                                    : alphabet[randombytes_uniform(sizeof(alphabet))];
		size_t w = pc_text_escape(out, sizeof(out), (const char *)in, n);
		assert_true(w < sizeof(out));
		assert_true(pc_utf8_valid(out, w));
		assert_int_equal(unescape(back, out), (long)n);
		assert_memory_equal(back, in, n);
		if (pc_utf8_valid((const char *)in, n) && memchr(in, '\\', n) == NULL) {
			assert_int_equal(w, n);
			assert_memory_equal(out, in, n);
		}
	}
}

/* Too small: cut between whole escapes, always terminated, the whole
 * length returned; cap 0 writes nothing. */
static void test_capacity(void **state)
{
	(void)state;
	char out[16];
	memset(out, '#', sizeof(out));
	assert_int_equal(pc_text_escape(out, 0, "a", 1), 1);
	assert_int_equal(out[0], '#');
	assert_int_equal(pc_text_escape(out, 1, "a", 1), 1);
	assert_string_equal(out, "");
	assert_int_equal(pc_text_escape(out, 2, "a", 1), 1);
	assert_string_equal(out, "a");
	memset(out, '#', sizeof(out));
	assert_int_equal(pc_text_escape(out, 4, "a\xe9", 2), 5);
	assert_string_equal(out, "a");
	assert_int_equal(out[2], '#');
	assert_int_equal(pc_text_escape(out, 6, "a\xe9", 2), 5);
	assert_string_equal(out, "a\\xE9");
	assert_int_equal(pc_text_escape(out, 3, "\xc3\xa9z", 3), 3);
	assert_string_equal(out, "\xc3\xa9");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_capacity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
