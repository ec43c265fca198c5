/* test_json_escape.c — pc_json_escape, which every log line and problem
 * body goes through: what a client controls (a path, a header, an email)
 * must come out as one JSON string, with nothing that closes the string,
 * breaks the line, or is not UTF-8, and two different inputs never the same
 * string (the text is pc_text_escape's: '\\' doubled, NUL and bad bytes as
 * \xHH; test_text_escape.c tests that rule). The fast path copies runs of
 * plain bytes at once; a byte-at-a-time reference below must agree with it on
 * every input, and on every output capacity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "core/log.h"
#include "core/text.h"

/* The rule, one byte at a time (the implementation before the fast path). */
static size_t reference(char *out, size_t cap, const unsigned char *u, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		char tmp[8];
		size_t tl, adv = 1;
		unsigned char c = u[i];
		if (c == '"') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			tl = 2;
		} else if (c == '\\') {
			memcpy(tmp, "\\\\\\\\", 4);
			tl = 4;
		} else if (c == 0) {
			memcpy(tmp, "\\\\x00", 5);
			tl = 5;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(tmp, "\\u00", 4);
			tmp[4] = hex[c >> 4];
			tmp[5] = hex[c & 15];
			tl = 6;
		} else if (c < 0x80) {
			tmp[0] = (char)c;
			tl = 1;
		} else if ((adv = pc_utf8_seq_len(u + i, n - i)) == 0) {
			memcpy(tmp, "\\\\x", 3);
			tmp[3] = "0123456789ABCDEF"[c >> 4];
			tmp[4] = "0123456789ABCDEF"[c & 15];
			tl = 5;
			adv = 1;
		} else {
			memcpy(tmp, u + i, adv);
			tl = adv;
		}
		if (o + tl > cap)
			return cap + 1;
		memcpy(out + o, tmp, tl);
		o += tl;
		i += adv;
	}
	return o;
}

static const char *esc(const char *s, size_t n)
{
	static char out[256];
	size_t w = pc_json_escape(out, sizeof(out) - 1, s, n);
	assert_true(w < sizeof(out));
	out[w] = '\0';
	return out;
}

#define E(lit) esc(lit, sizeof(lit) - 1)

static void test_known_answers(void **state)
{
	(void)state;
	assert_string_equal(E(""), "");
	assert_string_equal(E("/api/v1/auth/verify"), "/api/v1/auth/verify");
	assert_string_equal(E("a\"b\\c"), "a\\\"b\\\\\\\\c"); /* the text a"b\\c */
	assert_string_equal(E("\"}\n{\"level\":\"error"), "\\\"}\\u000a{\\\"level\\\":\\\"error");
	assert_string_equal(E("\r\t\x01\x1f\x7f"), "\\u000d\\u0009\\u0001\\u001f\\u007f");
	assert_string_equal(E("x\0y"), "x\\\\x00y"); /* a NUL does not end it: text x\x00y */
	assert_string_equal(E("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92");
	/* not UTF-8: a lone continuation, an overlong '/', a surrogate, a
	 * sequence cut short, a byte never used: each bad byte the text \xHH
	 * (JSON "\\xHH"), never U+FFFD, which would make them all alike */
	assert_string_equal(E("a\x80z"), "a\\\\x80z");
	assert_string_equal(E("\xc0\xaf"), "\\\\xC0\\\\xAF");
	assert_string_equal(E("\xed\xa0\x80"), "\\\\xED\\\\xA0\\\\x80");
	assert_string_equal(E("ok\xe2\x82"), "ok\\\\xE2\\\\x82");
	assert_string_equal(E("\xff"), "\\\\xFF");
	assert_string_equal(E("e2e-ua/\xe9/"), "e2e-ua/\\\\xE9/");
}

/* Exactly full is fine; one byte short is cap + 1, never a write past cap. */
static void test_capacity(void **state)
{
	(void)state;
	char out[64];
	memset(out, '#', sizeof(out));
	assert_int_equal(pc_json_escape(out, 5, "hello", 5), 5);
	memset(out, '#', sizeof(out));
	assert_int_equal(pc_json_escape(out, 4, "hello", 5), 5);
	assert_int_equal(out[4], '#');
	assert_int_equal(pc_json_escape(out, 7, "ab\"cd\"", 6), 8);
	assert_int_equal(pc_json_escape(out, 8, "ab\"cd\"", 6), 8);
	memset(out, '#', sizeof(out));
	assert_int_equal(pc_json_escape(out, 5, "\x01", 1), 6);
	assert_int_equal(out[0], '#');
	assert_int_equal(pc_json_escape(out, 4, "\xe9", 1), 5);
	assert_int_equal(out[0], '#'); /* an escape is written whole or not at all */
	assert_int_equal(pc_json_escape(out, 0, "", 0), 0);
	assert_int_equal(pc_json_escape(out, 0, "a", 1), 1);
}

/* Random inputs drawn from the bytes that matter (plain, quote, backslash,
 * controls, DEL, UTF-8 leads and continuations), at every capacity from 0
 * to enough: the same answer and the same bytes as the reference. */
static void test_agrees_with_reference(void **state)
{
	(void)state;
	static const unsigned char alphabet[] = {'a', 'Z', '0', ' ', '/', '~', '"', '\\', 0x00, 0x09, 0x0a,
	                                         0x1f, 0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xff};
	unsigned char in[48];
	char got[6 * sizeof(in) + 1], want[6 * sizeof(in) + 1];
	for (int round = 0; round < 20000; round++) {
		size_t n = randombytes_uniform(sizeof(in) + 1);
		for (size_t i = 0; i < n; i++)
			in[i] = randombytes_uniform(4) == 0 ? (unsigned char)(0x20 + randombytes_uniform(0x5f))
			                                    : alphabet[randombytes_uniform(sizeof(alphabet))];
		size_t full = reference(want, sizeof(want), in, n);
		assert_true(full <= sizeof(want));
		for (size_t cap = 0; cap <= full + 1; cap += (full > 40 ? 7 : 1)) {
			memset(got, '#', sizeof(got));
			memset(want, '#', sizeof(want));
			size_t a = pc_json_escape(got, cap, (const char *)in, n);
			size_t b = reference(want, cap, in, n);
			assert_int_equal(a, b);
			if (a <= cap) /* what fits is the same; what does not is refused */
				assert_memory_equal(got, want, a);
			for (size_t i = cap; i < sizeof(got); i++)
				assert_int_equal(got[i], '#'); /* nothing past cap */
		}
	}
}

/* PORTCULLIS_LOG_FORMAT=text: the text form of our JSON lines. */
static void test_text_lines(void **state)
{
	(void)state;
	static const struct {
		const char *json, *text;
	} cases[] = {
		{"{\"time\":\"2026-01-01T00:00:00.000Z\",\"level\":\"info\",\"event\":\"listening\",\"address\":\"127.0.0.1:8080\",\"threads\":2}\n",
		 "2026-01-01T00:00:00.000Z info listening address=127.0.0.1:8080 threads=2\n"},
		{"{\"time\":\"T\",\"level\":\"warn\",\"event\":\"x\",\"message\":\"two words\",\"ok\":true,\"n\":-3}\n",
		 "T warn x message=\"two words\" ok=true n=-3\n"},
		/* a value that could forge a field or a line keeps its JSON escapes */
		{"{\"time\":\"T\",\"level\":\"info\",\"event\":\"x\",\"ua\":\"a\\\" b=c\\n\",\"e\":\"\",\"q\":\"k=v\"}\n",
		 "T info x ua=\"a\\\" b=c\\n\" e=\"\" q=\"k=v\"\n"},
		{"{\"time\":\"T\",\"level\":\"info\",\"event\":\"x\",\"truncated\":true}\n", "T info x truncated=true\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[PC_LOGLINE_MAX];
		size_t n = pc_log_json_to_text(out, sizeof(out), cases[i].json, strlen(cases[i].json));
		assert_true(n <= strlen(cases[i].json));
		out[n] = '\0';
		assert_string_equal(out, cases[i].text);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_agrees_with_reference),
		cmocka_unit_test(test_text_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
