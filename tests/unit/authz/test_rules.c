/* test_rules.c — the access rules parser: every refusal names its line and
 * column, printing round-trips, and each limit holds at its edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz/rules.h"
#include "authz/rules_impl.h"

static struct pc_rules *parse(const char *s, char *err, size_t errlen)
{
	return pc_rules_parse(s, strlen(s), err, errlen);
}

struct ecase {
	const char *text;
	const char *err; /* exact message */
};

static const struct ecase errors[] = {
	{"one_factor paht=/x", "line 1, column 12: unknown criterion \"paht\" (host, path, method, net, user, group)"},
	{"# c\n\nallow host=a.com", "line 3, column 1: unknown policy \"allow\" (bypass, one_factor, two_factor or deny)"},
	{"deny host=a.com host=b.com", "line 1, column 17: duplicate criterion \"host\" (first at column 6)"},
	{"deny host=", "line 1, column 11: empty value for \"host\""},
	{"deny group=a,,b", "line 1, column 14: empty item in the list for \"group\""},
	{"deny group=a,", "line 1, column 14: empty item in the list for \"group\""},
	{"deny group=,a", "line 1, column 12: empty item in the list for \"group\""},
	{"deny host", "line 1, column 6: expected criterion=value, got \"host\""},
	{"deny host=a.*.com", "line 1, column 11: \"*\" is allowed only as the whole first label of a host (*.example.com)"},
	{"deny host=*example.com", "line 1, column 11: \"*\" is allowed only as the whole first label of a host (*.example.com)"},
	{"deny host=*.*.com", "line 1, column 11: \"*\" is allowed only as the whole first label of a host (*.example.com)"},
	{"deny host=*", "line 1, column 11: \"*\" is allowed only as the whole first label of a host (*.example.com)"},
	{"deny host=*.", "line 1, column 11: \"*.\" is not a host name"},
	{"deny host=App.com", "line 1, column 11: host \"App.com\" is not in normal form; write \"app.com\""},
	{"deny host=a.com:443", "line 1, column 11: host \"a.com:443\" is not in normal form; write \"a.com\""},
	{"deny host=a.com.", "line 1, column 11: \"a.com.\" is not a host name"},
	{"deny host=a.com,b.com", "line 1, column 16: host takes one value (write one rule per host)"},
	{"deny path=admin", "line 1, column 11: path \"admin\" is ambiguous (a path starts with \"/\" and has no \".\", \"..\", empty or \";\" segments, encoded \"/\", \"\\\" or \"%\")"},
	{"deny path=/x/../admin/", "line 1, column 11: path \"/x/../admin/\" is ambiguous (a path starts with \"/\" and has no \".\", \"..\", empty or \";\" segments, encoded \"/\", \"\\\" or \"%\")"},
	{"deny path=/%61dmin/", "line 1, column 11: path \"/%61dmin/\" is not in normal form; write \"/admin/\""},
	{"deny path=/a%3a", "line 1, column 11: path \"/a%3a\" is not in normal form; write \"/a%3A\""},
	{"deny path=/admin?x", "line 1, column 11: a path value has no query (\"?\")"},
	{"deny path=/a,/b", "line 1, column 13: path takes one value (write one rule per path)"},
	{"deny method=get", "line 1, column 13: unknown method \"get\" (GET HEAD POST PUT PATCH DELETE OPTIONS, upper case)"},
	{"deny method=GET,GET", "line 1, column 17: method GET listed twice"},
	{"deny method=TRACE", "line 1, column 13: unknown method \"TRACE\" (GET HEAD POST PUT PATCH DELETE OPTIONS, upper case)"},
	{"deny net=10.0.0.1/8", "line 1, column 10: net \"10.0.0.1/8\": host bits set beyond the prefix (write the network address)"},
	{"deny net=10.0.0.0/33", "line 1, column 10: net \"10.0.0.0/33\": prefix must be 0-32 (decimal, no leading zeros)"},
	{"deny net=010.0.0.0/8", "line 1, column 10: net \"010.0.0.0/8\": not an IPv4 address (four decimal octets 0-255, no leading zeros)"},
	{"deny net=10.0.0.0/8,10.0.0.0/8", "line 1, column 21: net 10.0.0.0/8 listed twice"},
	{"deny user=alice", "line 1, column 11: \"alice\" is not an email address"},
	{"deny user=a@b@c", "line 1, column 11: \"a@b@c\" is not an email address"},
	{"deny user=a@x.com,A@X.COM", "line 1, column 19: user \"A@X.COM\" listed twice"},
	{"deny group=Ops", "line 1, column 12: \"Ops\" is not a group name ([a-z0-9][a-z0-9._-]{0,63})"},
	{"deny group=-ops", "line 1, column 12: \"-ops\" is not a group name ([a-z0-9][a-z0-9._-]{0,63})"},
	{"deny group=ops,ops", "line 1, column 16: group \"ops\" listed twice"},
	{"bypass host=a.com group=ops", "line 1, column 19: bypass cannot have user= or group= (it applies before anyone signs in)"},
	{"bypass user=a@b.c", "line 1, column 8: bypass cannot have user= or group= (it applies before anyone signs in)"},
	{"deny host=a.com # why", "line 1, column 17: a comment must be on its own line"},
	{"deny\r\n", "line 1, column 5: carriage return (write the file with LF line endings)"},
	{"deny\n\x01", "line 2, column 1: control byte 0x01"},
	{"deny host=caf\xc3\xa9.com", "line 1, column 14: non-ASCII byte outside a comment"},
	{"# caf\xc3\n", "line 1, column 1: comment is not valid UTF-8"},
	{"\n\n\n   deny   \tpath=/x  method=GET,PUT,  ", "line 4, column 36: empty item in the list for \"method\""},
	{"DENY", "line 1, column 1: unknown policy \"DENY\" (bypass, one_factor, two_factor or deny)"},
	{"deny path=/a\x00", "line 1, column 13: control byte 0x00"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		char err[512];
		size_t len = strlen(errors[i].text);
		if (strcmp(errors[i].text, "deny path=/a") == 0)
			len++; /* the embedded NUL case */
		struct pc_rules *r = pc_rules_parse(errors[i].text, len, err, sizeof(err));
		if (r != NULL || strcmp(err, errors[i].err) != 0)
			print_error("case %zu: got \"%s\"\n", i, r ? "(accepted)" : err);
		assert_null(r);
		assert_string_equal(err, errors[i].err);
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	const char *text = "# the brief's example\n"
	                   "bypass      host=status.example.com path=/health\n"
	                   "deny        host=app.example.com path=/internal/\n"
	                   "two_factor  host=*.example.com path=/admin/ group=ops\n"
	                   "\n"
	                   "one_factor  host=app.example.com method=HEAD,GET\n"
	                   "one_factor\tgroup=staff,contractors host=wiki.example.com\n"
	                   "one_factor user=Alice@Example.COM,bob@example.com net=2001:0db8::/32,10.0.0.0/8\n"
	                   "deny\n";
	const char *want[] = {
		"bypass host=status.example.com path=/health",
		"deny host=app.example.com path=/internal/",
		"two_factor host=*.example.com path=/admin/ group=ops",
		"one_factor host=app.example.com method=GET,HEAD",
		"one_factor host=wiki.example.com group=staff,contractors",
		"one_factor net=2001:db8::/32,10.0.0.0/8 user=alice@example.com,bob@example.com",
		"deny",
	};
	const unsigned lines[] = {2, 3, 4, 6, 7, 8, 9};
	char err[256];
	struct pc_rules *r = parse(text, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(pc_rules_count(r), 7);
	for (size_t i = 0; i < 7; i++) {
		char out[PC_AUTHZ_FORMAT_MAX + 1];
		int n = pc_rules_format(out, sizeof(out), r, i);
		assert_int_equal(n, (int)strlen(want[i]));
		assert_string_equal(out, want[i]);
		assert_int_equal(pc_rules_line(r, i), lines[i]);
		/* the printed rule parses to itself */
		struct pc_rules *again = parse(out, err, sizeof(err));
		assert_non_null(again);
		char out2[PC_AUTHZ_FORMAT_MAX + 1];
		assert_int_equal(pc_rules_format(out2, sizeof(out2), again, 0), n);
		assert_string_equal(out2, out);
		pc_rules_free(again);
		/* too small a buffer: -1 and "" */
		assert_int_equal(pc_rules_format(out, (size_t)n, r, i), -1);
		assert_string_equal(out, "");
		assert_int_equal(pc_rules_format(out, (size_t)n + 1, r, i), n);
	}
	pc_rules_free(r);
}

static void test_empty_and_refs(void **state)
{
	(void)state;
	char err[128];
	struct pc_rules *r = parse("", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(pc_rules_count(r), 0);
	pc_rules_free(r);
	r = parse("# only\n  \n\t\n# comments\n", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(pc_rules_count(r), 0);
	/* two more references: the set survives until the last unref (ASan
	 * would report a use after free, LeakSanitizer a missing free) */
	assert_ptr_equal(pc_rules_ref(r), r);
	assert_ptr_equal(pc_rules_ref(r), r);
	pc_rules_free(r);
	pc_rules_unref(r);
	assert_int_equal(pc_rules_count(r), 0);
	pc_rules_unref(r);
	pc_rules_unref(NULL);
	pc_rules_free(NULL);
	/* no newline at the end, a rule on the last line */
	r = parse("deny path=/x", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(pc_rules_count(r), 1);
	pc_rules_free(r);
}

static void test_limits(void **state)
{
	(void)state;
	char err[256];
	/* rules: 10,000 accepted, 10,001 refused on the 10,001st */
	size_t cap = (PC_AUTHZ_MAX_RULES + 1) * 5 + 1;
	char *t = malloc(cap);
	assert_non_null(t);
	for (size_t i = 0; i <= PC_AUTHZ_MAX_RULES; i++)
		memcpy(t + i * 5, "deny\n", 5);
	struct pc_rules *r = pc_rules_parse(t, PC_AUTHZ_MAX_RULES * 5, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(pc_rules_count(r), PC_AUTHZ_MAX_RULES);
	pc_rules_free(r);
	r = pc_rules_parse(t, (PC_AUTHZ_MAX_RULES + 1) * 5, err, sizeof(err));
	assert_null(r);
	assert_string_equal(err, "line 10001, column 1: more than 10000 rules");
	free(t);

	/* line length: 4096 accepted, 4097 refused at column 4097 */
	char line[PC_AUTHZ_MAX_LINE + 2];
	memset(line, 0, sizeof(line));
	memcpy(line, "deny path=/", 11);
	memset(line + 11, 'a', PC_AUTHZ_MAX_LINE - 11);
	r = pc_rules_parse(line, PC_AUTHZ_MAX_LINE, err, sizeof(err));
	assert_non_null(r);
	pc_rules_free(r);
	line[PC_AUTHZ_MAX_LINE] = 'a';
	r = pc_rules_parse(line, PC_AUTHZ_MAX_LINE + 1, err, sizeof(err));
	assert_null(r);
	assert_string_equal(err, "line 1, column 4097: line longer than 4096 bytes");

	/* values: 64 accepted, the 65th refused at its column */
	char v[2048];
	size_t o = (size_t)snprintf(v, sizeof(v), "deny group=");
	for (int i = 0; i < PC_AUTHZ_MAX_VALUES; i++)
		o += (size_t)snprintf(v + o, sizeof(v) - o, "%sg%02d", i ? "," : "", i);
	r = parse(v, err, sizeof(err));
	assert_non_null(r);
	pc_rules_free(r);
	size_t col = o + 2;
	snprintf(v + o, sizeof(v) - o, ",g64");
	r = parse(v, err, sizeof(err));
	assert_null(r);
	char want[128];
	snprintf(want, sizeof(want), "line 1, column %zu: more than 64 values for \"group\"", col);
	assert_string_equal(err, want);

	/* a 64-byte group name is the longest */
	char g[128];
	snprintf(g, sizeof(g), "deny group=%.*s", 64, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	r = parse(g, err, sizeof(err));
	assert_non_null(r);
	pc_rules_free(r);
	snprintf(g, sizeof(g), "deny group=%.*s", 65, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	r = parse(g, err, sizeof(err));
	assert_null(r);

	/* the whole text */
	r = pc_rules_parse("", PC_AUTHZ_MAX_FILE_BYTES + 1, err, sizeof(err));
	assert_null(r);
	assert_string_equal(err, "rules text longer than 4194304 bytes");
}

static void test_load_file(void **state)
{
	(void)state;
	char path[] = "/tmp/pc-rules-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "one_factor host=app.example.com\ndeny\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char err[512];
	struct pc_rules *r = pc_rules_load_file(path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(pc_rules_count(r), 2);
	assert_int_equal(pc_rules_line(r, 1), 2);
	pc_rules_free(r);
	unlink(path);
	r = pc_rules_load_file(path, err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "No such file"));
	r = pc_rules_load_file("/tmp", err, sizeof(err));
	assert_null(r);
	assert_string_equal(err, "/tmp: not a regular file");
}

/* Fails the 1st, 2nd, ... allocation until the parse succeeds: every
 * failure is a clean NULL with "out of memory" (LeakSanitizer checks that
 * nothing allocated before it is lost). */
static void test_out_of_memory(void **state)
{
	(void)state;
	const char *text = "bypass host=status.example.com path=/health\n"
	                   "two_factor host=*.example.com path=/admin/ group=ops,staff\n"
	                   "one_factor host=app.example.com method=GET user=a@b.c net=10.0.0.0/8,::1\n"
	                   "deny\n";
	char err[128];
	unsigned long k;
	for (k = 1; k < 1000; k++) {
		pc_authz_fail_alloc_at = k;
		struct pc_rules *r = parse(text, err, sizeof(err));
		if (r != NULL) {
			assert_int_equal(pc_rules_count(r), 4);
			pc_rules_free(r);
			break;
		}
		assert_string_equal(err, "out of memory");
	}
	pc_authz_fail_alloc_at = 0;
	assert_true(k > 5); /* the parse allocates several times */
	assert_true(k < 1000);
}

static void test_file_limits(void **state)
{
	(void)state;
	char path[] = "/tmp/pc-rules-big-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, PC_AUTHZ_MAX_FILE_BYTES + 1), 0);
	close(fd);
	char err[512], want[600];
	struct pc_rules *r = pc_rules_load_file(path, err, sizeof(err));
	assert_null(r);
	snprintf(want, sizeof(want), "%s: larger than %d bytes", path, PC_AUTHZ_MAX_FILE_BYTES);
	assert_string_equal(err, want);
	/* at the limit: read, then refused for its NUL bytes on line 1 */
	assert_int_equal(truncate(path, PC_AUTHZ_MAX_FILE_BYTES), 0);
	r = pc_rules_load_file(path, err, sizeof(err));
	assert_null(r);
	assert_string_equal(err, "line 1, column 4097: line longer than 4096 bytes");
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_and_refs),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_file_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
