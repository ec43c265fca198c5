/* test_passwords.c — THE password policy (svc/passwords.c): common
 * passwords, the user's own context (email parts, "portcullis", the public
 * host) and breached ones refused with their reason; passphrases and
 * random passwords accepted; lengths counted in code points (minimum) and
 * bytes (maximum); the floor bounded by the configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/strength.h"
#include "config/config.h"
#include "svc/passwords.h"

static struct pc_config cfg;
static struct pc_svc ctx;

static int setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&ctx, 0, sizeof(ctx));
	cfg.password_min_score = 3;
	snprintf(cfg.public_host, sizeof(cfg.public_host), "login.acme-widgets.io");
	ctx.cfg = &cfg;
	return 0;
}

static const char *EMAIL = "jennifer.walsh@acme-widgets.io";

static const char *reason(const char *email, const char *pw)
{
	static struct pc_pw_verdict v;
	enum pc_err e = pc_passwords_check(&ctx, email, pw, strlen(pw), &v);
	if (e == PC_OK)
		return "ok";
	assert_int_equal(e, PC_ERR_WEAK_PASSWORD);
	assert_non_null(v.message);
	return v.reason;
}

#define REFUSED(pw, why)                                                                         \
	do {                                                                                     \
		const char *r_ = reason(EMAIL, pw);                                              \
		if (strcmp(r_, why) != 0)                                                        \
			fail_msg("\"%s\": expected %s, got %s", pw, why, r_);                     \
	} while (0)

static void test_common_refused(void **state)
{
	(void)state;
	const char *common[] = {"password1234567", "aaaaaaaaaaaaaaa", "123456789012345", "qwertyuiopasdfgh",
	                        "passwordpassword", "iloveyouiloveyou", "P@ssw0rd12345678", "abcdefghijklmnop",
	                        "monkeymonkey123", "Password1234567!"};
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		REFUSED(common[i], "too_common");
}

static void test_context_refused(void **state)
{
	(void)state;
	REFUSED("jennifer.walsh2024!", "contains_email");
	REFUSED("jennifer.walsh@acme-widgets.io", "contains_email");
	REFUSED("Jennifer.Walsh1990", "contains_email");
	REFUSED("acme-widgets.io2024", "contains_email"); /* the email's domain */
	REFUSED("walsh-walsh-walsh", "contains_email");
	REFUSED("portcullis-2024!", "contains_site_name");
	REFUSED("P0rtcull1s2024!!", "contains_site_name"); /* leet */
	/* the public host, for a user whose email says nothing of it */
	const char *r = reason("pat@example.org", "login.acme-widgets.io1");
	assert_string_equal(r, "contains_site_name");
	/* the same password says nothing about someone else's email */
	assert_string_not_equal(reason("pat@example.org", "jennifer.walsh2024!"), "contains_email");
}

static void test_passphrases_accepted(void **state)
{
	(void)state;
	const char *good[] = {"correct horse battery staple", "purple monkey dishwasher",
	                      "pw-AbCdEfGhIjKlMnOp", "Tr0ub4dor&3-lantern", "Звёздное небо над головой",
	                      "日本語のパスワードはとても長いです", "naïve café résumé tango",
	                      "jennifer prefers long walks on beaches"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *r = reason(EMAIL, good[i]);
		if (strcmp(r, "ok") != 0)
			fail_msg("\"%s\" refused: %s", good[i], r);
	}
	/* a strong password with the email inside is not refused for it */
	assert_string_equal(reason(EMAIL, "jennifer: quartz lantern ferry mosaic"), "ok");
}

static void test_lengths(void **state)
{
	(void)state;
	REFUSED("short-Xq9#vL2", "too_short");
	/* 14 code points of 2 bytes (28 bytes) is short; 15 is long enough */
	REFUSED("ééééééééééééèè", "too_short");
	assert_string_equal(reason(EMAIL, "Ωπ∂ƒ©˙∆˚¬…æ≈ç√∫"), "ok");
	char big[PC_PASSWORD_MAX + 2];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(big); i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (char)('a' + (x >> 16) % 26);
	}
	struct pc_pw_verdict v;
	assert_int_equal(pc_passwords_check(&ctx, EMAIL, big, PC_PASSWORD_MAX + 1, &v), PC_ERR_WEAK_PASSWORD);
	assert_string_equal(v.reason, "too_long");
	assert_int_equal(pc_passwords_check(&ctx, EMAIL, big, PC_PASSWORD_MAX, &v), PC_OK);
	/* 64 characters allowed, as NIST asks: 64 code points of 4 bytes */
	char emoji[64 * 4 + 1] = "";
	for (int i = 0; i < 64; i++)
		memcpy(emoji + 4 * i, i % 3 ? "\xF0\x9F\x8C\xB2" : "\xF0\x9F\x90\xA2", 4);
	assert_int_equal(pc_passwords_check(&ctx, EMAIL, emoji, 256, &v), PC_OK);
	assert_int_equal(pc_passwords_check(&ctx, EMAIL, "abc\0def-ghi-jkl-mno", 19, &v), PC_ERR_WEAK_PASSWORD);
	assert_string_equal(v.reason, "invalid_utf8");
	assert_int_equal(pc_passwords_check(&ctx, EMAIL, "\xC3\x28-not-utf8-at-all", 19, &v), PC_ERR_WEAK_PASSWORD);
	assert_string_equal(v.reason, "invalid_utf8");
	/* no composition rule: spaces only between words, lowercase only */
	assert_string_equal(reason(EMAIL, "orbit velvet canyon thistle"), "ok");
}

static void test_floor(void **state)
{
	(void)state;
	struct pc_pw_verdict v;
	const char *pw = "qwertyuiop-blue7"; /* between the bands: accepted at 2, refused at 4 */
	struct pc_strength s;
	assert_int_equal(pc_strength_estimate(&s, pw, strlen(pw), (const char *const[]){NULL}), 0);
	cfg.password_min_score = 2;
	enum pc_err at2 = pc_passwords_check(&ctx, EMAIL, pw, strlen(pw), &v);
	cfg.password_min_score = 4;
	enum pc_err at4 = pc_passwords_check(&ctx, EMAIL, pw, strlen(pw), &v);
	assert_int_equal(at2 == PC_OK, s.score >= 2);
	assert_int_equal(at4, s.score >= 4 ? PC_OK : PC_ERR_WEAK_PASSWORD);
	assert_int_equal(v.min_score, 4);
	/* the score bands */
	assert_int_equal(pc_strength_score(0), 0);
	assert_int_equal(pc_strength_score(9.9), 0);
	assert_int_equal(pc_strength_score(10), 1);
	assert_int_equal(pc_strength_score(26.5), 2);
	assert_int_equal(pc_strength_score(26.6), 3);
	assert_int_equal(pc_strength_score(33.3), 4);
}

static void test_context_words(void **state)
{
	(void)state;
	const char *w[17];
	char buf[1024];
	size_t ne = 0;
	size_t n = pc_passwords_context_words(w, 17, buf, sizeof(buf), "Jo.Ann+pc@Mail.Example.COM",
	                                      "auth.example.com", &ne);
	const char *want[] = {"jo.ann+pc@mail.example.com", "jo.ann+pc", "ann", "mail.example.com", "mail", "example",
	                      "portcullis", "auth.example.com", "auth"};
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	assert_int_equal(ne, 6);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(w[i], want[i]);
	assert_null(w[n]);
	n = pc_passwords_context_words(w, 17, buf, sizeof(buf), "", "", &ne);
	assert_int_equal(n, 1);
	assert_int_equal(ne, 0);
	assert_string_equal(w[0], "portcullis");
}

static void test_breached(void **state)
{
	(void)state;
	/* five strong-looking passwords that a breach published */
	const char *five[] = {"Gravel-Sunset-Oboe-88", "marmalade umbrella kinetic", "Xk9#mQ2$vL7!pR4z",
	                      "tangerine ocelot 1987 forever", "Quasar_Lullaby_Fjord"};
	char lines[5][64];
	for (int i = 0; i < 5; i++) {
		uint8_t h[20];
		unsigned int hn = 0;
		assert_int_equal(EVP_Digest(five[i], strlen(five[i]), h, &hn, EVP_sha1(), NULL), 1);
		for (int j = 0; j < 20; j++)
			snprintf(lines[i] + 2 * j, 3, "%02X", h[j]);
		snprintf(lines[i] + 40, 24, ":%d", 17 + i);
	}
	qsort(lines, 5, sizeof(lines[0]), (int (*)(const void *, const void *))strcmp);
	char path[] = "/tmp/pc-pw-breached-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	for (int i = 0; i < 5; i++) {
		assert_true(write(fd, lines[i], strlen(lines[i])) > 0);
		assert_int_equal(write(fd, "\r\n", 2), 2);
	}
	close(fd);
	char err[256];
	/* before the file: each is accepted */
	for (int i = 0; i < 5; i++)
		assert_string_equal(reason(EMAIL, five[i]), "ok");
	assert_int_equal(pc_breached_open(&ctx.breached, path, err, sizeof(err)), 0);
	for (int i = 0; i < 5; i++)
		REFUSED(five[i], "breached");
	assert_string_equal(reason(EMAIL, "correct horse battery staple"), "ok");
	/* a weak one says weak, whatever the file */
	REFUSED("password1234567", "too_common");
	pc_breached_free(ctx.breached);
	ctx.breached = NULL;
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_common_refused, setup),
		cmocka_unit_test_setup(test_context_refused, setup),
		cmocka_unit_test_setup(test_passphrases_accepted, setup),
		cmocka_unit_test_setup(test_lengths, setup),
		cmocka_unit_test_setup(test_floor, setup),
		cmocka_unit_test_setup(test_context_words, setup),
		cmocka_unit_test_setup(test_breached, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
