/* test_mail.c — pc_mail_build: a known message, and the header-injection
 * corpus (CR, LF, CRLF, NUL, TAB, DEL, 8-bit, over-long values, encoded
 * words, folding attempts) against every field that reaches a mail: From,
 * the From display name, To, Subject, and the body (where CR/LF are line
 * ends that must come out as quoted-printable lines and never as headers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/mail.h"

static const uint8_t rnd[16] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

static struct pc_mail_fields base(void)
{
	return (struct pc_mail_fields){
		.from = "noreply@auth.example.com", .from_name = "portcullis", .to = "ann@example.org",
		.subject = "Reset your password", .body = "Hello,\nopen https://auth.example.com/reset#t=abc\n",
		.body_len = 51, .date = 1764914268, .msgid_random = rnd,
	};
}

static enum pc_mail_result build(const struct pc_mail_fields *f, char *out, size_t cap, size_t *len)
{
	return pc_mail_build(out, cap, len, f);
}

static void test_known(void **state)
{
	(void)state;
	struct pc_mail_fields f = base();
	f.body_len = strlen(f.body);
	char out[4096];
	size_t len;
	assert_int_equal(build(&f, out, sizeof(out), &len), PC_MAIL_OK);
	assert_int_equal(len, strlen(out));
	assert_string_equal(out, "Date: Fri, 05 Dec 2025 05:57:48 +0000\r\n"
	                         "From: \"portcullis\" <noreply@auth.example.com>\r\n"
	                         "To: ann@example.org\r\n"
	                         "Subject: Reset your password\r\n"
	                         "Message-ID: <deadbeef000102030405060708090a0b@auth.example.com>\r\n"
	                         "MIME-Version: 1.0\r\n"
	                         "Content-Type: text/plain; charset=utf-8\r\n"
	                         "Content-Transfer-Encoding: quoted-printable\r\n"
	                         "Auto-Submitted: auto-generated\r\n"
	                         "\r\n"
	                         "Hello,\r\n"
	                         "open https://auth.example.com/reset#t=3Dabc\r\n");
}

/* The injection corpus: each string is put into each header field in turn
 * (alone, as a prefix and as a suffix of a valid value) and must be refused. */
static const char *const evil[] = {
	"\r", "\n", "\r\n", "\r\nBcc: eve@evil.test", "\nBcc: eve@evil.test", "\rBcc: eve@evil.test",
	"\r\n\r\nbody", "\r\n.\r\nMAIL FROM:<eve@evil.test>", "\t", "\x7f", "\x01", "\x1b[31m", "\xc3\xa9",
	"\xe2\x80\xa8", "\xff", "\r\n Folded: x",
};

static void expect_refused(struct pc_mail_fields *f)
{
	char out[4096];
	size_t len = 7;
	enum pc_mail_result r = build(f, out, sizeof(out), &len);
	assert_int_not_equal(r, PC_MAIL_OK);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
}

static void test_injection_headers(void **state)
{
	(void)state;
	char v[512];
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		for (int field = 0; field < 4; field++) {
			for (int where = 0; where < 3; where++) {
				struct pc_mail_fields f = base();
				f.body_len = strlen(f.body);
				const char *good = field == 0 ? f.from : field == 1 ? f.from_name : field == 2 ? f.to : f.subject;
				if (where == 0)
					snprintf(v, sizeof(v), "%s", evil[i]);
				else if (where == 1)
					snprintf(v, sizeof(v), "%s%s", evil[i], good);
				else
					snprintf(v, sizeof(v), "%s%s", good, evil[i]);
				if (field == 0)
					f.from = v;
				else if (field == 1)
					f.from_name = v;
				else if (field == 2)
					f.to = v;
				else
					f.subject = v;
				expect_refused(&f);
			}
		}
	}
}

/* A NUL ends a C string: the field seen is what precedes it, so a NUL
 * cannot hide a header; in the body (explicit length) it is refused. */
static void test_nul(void **state)
{
	(void)state;
	struct pc_mail_fields f = base();
	static const char body[] = "line one\0Bcc: eve@evil.test\n";
	f.body = body;
	f.body_len = sizeof(body) - 1;
	expect_refused(&f);
}

static void test_long(void **state)
{
	(void)state;
	char v[2048];
	struct pc_mail_fields f = base();
	f.body_len = strlen(f.body);
	memset(v, 'a', sizeof(v));
	v[PC_MAIL_SUBJECT_MAX] = '\0';
	f.subject = v;
	char out[8192];
	size_t len;
	assert_int_equal(build(&f, out, sizeof(out), &len), PC_MAIL_OK);
	v[PC_MAIL_SUBJECT_MAX] = 'a';
	v[PC_MAIL_SUBJECT_MAX + 1] = '\0';
	assert_int_equal(build(&f, out, sizeof(out), &len), PC_MAIL_TOO_BIG);
	/* a 65-octet local part, a 64-octet label, a 255-octet address */
	f = base();
	f.body_len = strlen(f.body);
	memset(v, 'a', 65);
	strcpy(v + 65, "@example.org");
	f.to = v;
	expect_refused(&f);
	memset(v, 'b', 64);
	v[0] = 'x';
	v[1] = '@';
	strcpy(v + 66, ".org");
	f.to = v;
	expect_refused(&f);
	/* a body line of 5000 bytes comes out in lines of at most 76 */
	f = base();
	memset(v, 'c', 2000);
	f.body = v;
	f.body_len = 2000;
	assert_int_equal(build(&f, out, sizeof(out), &len), PC_MAIL_OK);
	const char *b = strstr(out, "\r\n\r\n") + 4;
	for (const char *p = b; *p != '\0';) {
		const char *e = strstr(p, "\r\n");
		assert_non_null(e);
		assert_true(e - p <= PC_MAIL_QP_LINE);
		p = e + 2;
	}
	/* the buffer too small: TOO_BIG, nothing written */
	f = base();
	f.body_len = strlen(f.body);
	expect_refused(&(struct pc_mail_fields){0});
	assert_int_equal(build(&f, out, 100, &len), PC_MAIL_TOO_BIG);
	assert_string_equal(out, "");
}

/* An encoded word in the subject is literal ASCII (refused only if it held
 * a control); the builder never produces one. */
static void test_encoded_words(void **state)
{
	(void)state;
	struct pc_mail_fields f = base();
	f.body_len = strlen(f.body);
	f.subject = "=?utf-8?b?QmNjOiBldmVAZXZpbC50ZXN0?=";
	char out[4096];
	size_t len;
	assert_int_equal(build(&f, out, sizeof(out), &len), PC_MAIL_OK);
	assert_non_null(strstr(out, "\r\nSubject: =?utf-8?b?QmNjOiBldmVAZXZpbC50ZXN0?=\r\nMessage-ID"));
	f.subject = "=?utf-8?q?a=0D=0ABcc:_eve@evil.test?=\r\n";
	expect_refused(&f);
}

/* The body: CR/LF become lines; a line that looks like a header or the SMTP
 * end of data stays in the body; 8-bit UTF-8 is encoded; bad UTF-8, a bare
 * CR and controls are refused. */
static void test_body(void **state)
{
	(void)state;
	struct pc_mail_fields f = base();
	static const char body[] = "caf\xc3\xa9 \r\n.\r\nBcc: eve@evil.test\n\nend \t";
	f.body = body;
	f.body_len = sizeof(body) - 1;
	char out[4096];
	size_t len;
	assert_int_equal(build(&f, out, sizeof(out), &len), PC_MAIL_OK);
	const char *b = strstr(out, "\r\n\r\n") + 4;
	assert_string_equal(b, "caf=C3=A9=20\r\n=2E\r\nBcc: eve@evil.test\r\n\r\nend =09\r\n");
	static const char *const bad[] = {"a\rb", "a\r", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "a\x01", "a\x7f",
	                                  "\x1b[2J"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f.body = bad[i];
		f.body_len = strlen(bad[i]);
		expect_refused(&f);
	}
}

static void test_addr(void **state)
{
	(void)state;
	static const char *const ok[] = {"a@b", "first.last+tag@mail.example.com", "x!#$%&'*+-/=?^_`{|}~@e-x.org"};
	static const char *const no[] = {"", "@", "a@", "@b", "a@@b", ".a@b", "a.@b", "a..b@c", "a@-b", "a@b-",
	                                 "a@b..c", "a@.b", "a b@c", "\"a\"@b", "a@[127.0.0.1]", "a@b_c", "<a@b>",
	                                 "a@b\r\n", "A@b.c>"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(pc_mail_addr_valid(ok[i], strlen(ok[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(pc_mail_addr_valid(no[i], strlen(no[i])));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),         cmocka_unit_test(test_injection_headers),
		cmocka_unit_test(test_nul),           cmocka_unit_test(test_long),
		cmocka_unit_test(test_encoded_words), cmocka_unit_test(test_body),
		cmocka_unit_test(test_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
