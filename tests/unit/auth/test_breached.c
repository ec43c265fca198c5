/* test_breached.c — the breached-password list (auth/breached.c) and its
 * line parser (core/hibp.c): a 5-line file in HIBP's format with the
 * lookup at the first line, the last, the middle and between lines, CRLF,
 * a last line without LF, and files refused at start (not sorted,
 * malformed, empty, a line too long, a blank line at the end). */
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

#include "auth/breached.h"
#include "core/hibp.h"

static void sha1_hex(char out[41], const char *pw)
{
	uint8_t h[20];
	unsigned int n = 0;
	assert_int_equal(EVP_Digest(pw, strlen(pw), h, &n, EVP_sha1(), NULL), 1);
	for (int i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02X", h[i]);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes lines (already formatted) to a temporary file; returns its path
 * in path[64]. */
static void write_file(char path[64], const char *text)
{
	snprintf(path, 64, "/tmp/pc-breached-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Five passwords, hashed, sorted, as HIBP lines with eol. */
static const char *five[] = {"breached-one-horse", "breached-two-battery", "breached-three-staple",
                             "breached-four-correct", "breached-five-lantern"};

static void make_five(char path[64], const char *eol, bool final_eol)
{
	char lines[5][80];
	char *sorted[5];
	for (int i = 0; i < 5; i++) {
		char hex[41];
		sha1_hex(hex, five[i]);
		snprintf(lines[i], sizeof(lines[i]), "%s:%d", hex, (i + 1) * 1000 + i);
		sorted[i] = lines[i];
	}
	qsort(sorted, 5, sizeof(sorted[0]), cmp_str);
	char text[600] = "";
	for (int i = 0; i < 5; i++) {
		strcat(text, sorted[i]);
		if (i < 4 || final_eol)
			strcat(text, eol);
	}
	write_file(path, text);
}

static bool listed(const struct pc_breached *b, const char *pw)
{
	bool found = true;
	assert_int_equal(pc_breached_contains(b, pw, strlen(pw), &found), 0);
	return found;
}

static void check_five(const char *eol, bool final_eol)
{
	char path[64];
	char err[256] = "";
	make_five(path, eol, final_eol);
	struct pc_breached *b = NULL;
	assert_int_equal(pc_breached_open(&b, path, err, sizeof(err)), 0);
	/* every line, so the first and the last are among them */
	for (int i = 0; i < 5; i++)
		assert_true(listed(b, five[i]));
	assert_false(listed(b, "not-breached-at-all"));
	assert_false(listed(b, "breached-one-hors"));
	assert_false(listed(b, ""));
	/* below the first and above the last line (hashes 00.. and FF..
	 * would be found by neither search direction) */
	for (int i = 0; i < 200; i++) {
		char pw[32];
		snprintf(pw, sizeof(pw), "probe-%d", i);
		assert_false(listed(b, pw));
	}
	pc_breached_free(b);
	unlink(path);
}

static void test_lookup_lf(void **state)
{
	(void)state;
	check_five("\n", true);
}

static void test_lookup_crlf(void **state)
{
	(void)state;
	check_five("\r\n", true);
}

static void test_lookup_no_final_eol(void **state)
{
	(void)state;
	check_five("\n", false);
	check_five("\r\n", false);
}

static void test_one_line(void **state)
{
	(void)state;
	char path[64], hex[41], text[80], err[256];
	sha1_hex(hex, "only-this-one");
	snprintf(text, sizeof(text), "%s:1\n", hex);
	write_file(path, text);
	struct pc_breached *b = NULL;
	assert_int_equal(pc_breached_open(&b, path, err, sizeof(err)), 0);
	assert_true(listed(b, "only-this-one"));
	assert_false(listed(b, "only-this-two"));
	pc_breached_free(b);
	unlink(path);
}

static void refused(const char *text, const char *why)
{
	char path[64], err[256] = "";
	write_file(path, text);
	struct pc_breached *b = (struct pc_breached *)1;
	assert_int_equal(pc_breached_open(&b, path, err, sizeof(err)), -1);
	assert_null(b);
	if (strstr(err, why) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", why, err);
	unlink(path);
}

static void test_refused_at_start(void **state)
{
	(void)state;
	const char *a = "0000000000000000000000000000000000000001:5\n";
	const char *z = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:7\n";
	const char *m = "8000000000000000000000000000000000000000:9\n";
	char text[400];
	snprintf(text, sizeof(text), "%s%s%s", z, m, a); /* descending */
	refused(text, "not sorted");
	snprintf(text, sizeof(text), "%s%s%s", a, z, m); /* the last line below the one before */
	refused(text, "not sorted");
	snprintf(text, sizeof(text), "%s%s%s", a, a, z); /* a duplicate */
	refused(text, "not sorted");
	refused("", "empty");
	refused("hello world\n", "malformed line at byte 0");
	snprintf(text, sizeof(text), "%s%s", a, "8000000000000000000000000000000000000000\n"); /* no count */
	refused(text, "malformed");
	snprintf(text, sizeof(text), "%s%s\n", a, z); /* a blank line at the end */
	refused(text, "malformed");
	snprintf(text, sizeof(text), "%s%.40s:123456789012345678901234567890\n", a, z + 0); /* a line too long */
	refused(text, "malformed");
	char err[256] = "";
	struct pc_breached *b = NULL;
	assert_int_equal(pc_breached_open(&b, "/nonexistent/pc-breached", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));
	assert_int_equal(pc_breached_open(&b, "/tmp", err, sizeof(err)), -1);
}

/* A bigger file: 5,000 sorted lines of varying width; every one found,
 * hashes next to them not. */
static void test_lookup_many(void **state)
{
	(void)state;
	enum { N = 5000 };
	char path[64];
	size_t cap = (size_t)N * 64 + 1;
	char *text = malloc(cap), (*lines)[64] = malloc(sizeof(*lines) * N);
	char **sorted = malloc(sizeof(*sorted) * N);
	assert_non_null(text);
	for (int i = 0; i < N; i++) {
		char pw[32], hex[41];
		snprintf(pw, sizeof(pw), "many-%d", i);
		sha1_hex(hex, pw);
		/* counts of 1 to 20 digits: lines of different widths */
		snprintf(lines[i], 64, "%s:%.*s", hex, 1 + i % 20, "12345678901234567890");
		sorted[i] = lines[i];
	}
	qsort(sorted, N, sizeof(*sorted), cmp_str);
	size_t used = 0;
	for (int i = 0; i < N; i++)
		used += (size_t)snprintf(text + used, cap - used, "%s%s", sorted[i], i % 2 ? "\r\n" : "\n");
	write_file(path, text);
	char err[256];
	struct pc_breached *b = NULL;
	if (pc_breached_open(&b, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	size_t est = pc_breached_lines_estimate(b);
	assert_true(est > N / 2 && est < N * 2);
	for (int i = 0; i < N; i++) {
		char pw[32];
		snprintf(pw, sizeof(pw), "many-%d", i);
		assert_true(listed(b, pw));
		snprintf(pw, sizeof(pw), "many-%d-not", i);
		assert_false(listed(b, pw));
	}
	pc_breached_free(b);
	unlink(path);
	free(text);
	free(lines);
	free(sorted);
}

static void test_line_parse(void **state)
{
	(void)state;
	uint8_t h[PC_HIBP_HASH_BYTES];
	uint64_t n;
	const char *ok = "000000005AD76BD555C1D6D771DE417A4B87E4B4:10";
	assert_int_equal(pc_hibp_line_parse(h, &n, ok, strlen(ok)), 0);
	assert_int_equal(h[4], 0x5A);
	assert_int_equal(n, 10);
	assert_int_equal(pc_hibp_line_parse(h, &n, "000000005ad76bd555c1d6d771de417a4b87e4b4:3\r", 43), 0);
	assert_int_equal(n, 3);
	assert_int_equal(h[19], 0xB4);
	const char *bad[] = {
		"",
		"000000005AD76BD555C1D6D771DE417A4B87E4B4",          /* no count */
		"000000005AD76BD555C1D6D771DE417A4B87E4B4:",         /* empty count */
		"000000005AD76BD555C1D6D771DE417A4B87E4B:10",        /* 39 digits */
		"000000005AD76BD555C1D6D771DE417A4B87E4B4X:10",      /* 41 */
		"G00000005AD76BD555C1D6D771DE417A4B87E4B4:10",       /* not hex */
		"000000005AD76BD555C1D6D771DE417A4B87E4B4: 10",      /* space */
		"000000005AD76BD555C1D6D771DE417A4B87E4B4:10 ",      /* trailing space */
		"000000005AD76BD555C1D6D771DE417A4B87E4B4:-1",       /* sign */
		"000000005AD76BD555C1D6D771DE417A4B87E4B4:18446744073709551616", /* overflow */
		"000000005AD76BD555C1D6D771DE417A4B87E4B4:10\r\r",   /* two CRs */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pc_hibp_line_parse(h, &n, bad[i], strlen(bad[i])), -1);
		assert_int_equal(n, 0);
		assert_int_equal(h[4], 0);
	}
	/* NUL inside */
	assert_int_equal(pc_hibp_line_parse(h, &n, "000000005AD76BD555C1D6D771DE417A4B87E4B4:1\0", 43), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_parse),     cmocka_unit_test(test_lookup_lf),
		cmocka_unit_test(test_lookup_crlf),    cmocka_unit_test(test_lookup_no_final_eol),
		cmocka_unit_test(test_one_line),       cmocka_unit_test(test_refused_at_start),
		cmocka_unit_test(test_lookup_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
