/* test_redact.c — the credential guard every log line passes (core/redact.h):
 * each of portcullis' own formats, minted here by the real code that issues
 * it (session seal, CSRF issue, API key generation, JWT signing) or by the
 * format's definition, is replaced by its marker wherever a client might put
 * it — a path, a query string, a header value in a JSON string, after an
 * escape — and counted; look-alikes (a wrong checksum, a hex hash, an id, a
 * snake_case name) pass unchanged; a JSON line stays JSON; fields named like
 * credentials lose their values; a line is never dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/apikey.h"
#include "core/log.h"
#include "core/redact.h"

static char out[PC_REDACT_CAP(8192)];
static uint32_t counts[PC_REDACT_KIND_N];

static const char *red(const char *in, unsigned flags)
{
	memset(counts, 0, sizeof(counts));
	size_t n = pc_redact(out, sizeof(out), in, strlen(in), flags, counts);
	assert_true(n < sizeof(out));
	out[n] = '\0';
	return out;
}

static unsigned total(void)
{
	unsigned t = 0;
	for (int k = 0; k < PC_REDACT_KIND_N; k++)
		t += counts[k];
	return t;
}

static void b64(char *o, size_t cap, const uint8_t *b, size_t n)
{
	sodium_bin2base64(o, cap, b, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* a random base64url token of nbytes that has both letter cases */
static void token(char *o, size_t cap, size_t nbytes)
{
	uint8_t b[128];
	do {
		randombytes_buf(b, nbytes);
		b64(o, cap, b, nbytes);
	} while (strpbrk(o, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == NULL ||
	         strpbrk(o, "abcdefghijklmnopqrstuvwxyz") == NULL);
}

static void expect(const char *in, unsigned flags, const char *want, int kind)
{
	const char *got = red(in, flags);
	assert_string_equal(got, want);
	if (kind >= 0)
		assert_true(counts[kind] >= 1);
	else
		assert_int_equal(total(), 0);
}

static void the_formats(void **state)
{
	(void)state;
	char line[1024], want[1024];
	char sess[200], csrf[200], reset[100], refresh[120], key[PC_APIKEY_LEN + 1], prefix[16];
	token(sess, sizeof(sess), 81);
	token(csrf, sizeof(csrf), 74);
	token(reset, sizeof(reset), 32);
	char r43[100];
	token(r43, sizeof(r43), 32);
	snprintf(refresh, sizeof(refresh), "pcr_%s", r43);
	uint8_t h[32], sub[32] = {1};
	pc_apikey_generate(key, prefix, h, sub);
	assert_int_equal(strlen(sess), 108);
	assert_int_equal(strlen(csrf), 99);
	const struct {
		const char *v;
		int kind;
	} cases[] = {
	    {sess, PC_REDACT_SESSION_COOKIE}, {csrf, PC_REDACT_CSRF_TOKEN},
	    {reset, PC_REDACT_RESET_TOKEN},   {refresh, PC_REDACT_REFRESH_TOKEN},
	    {key, PC_REDACT_API_KEY},
	    {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmVfMTIzNDU2Nzg5MA", PC_REDACT_JWT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = pc_redact_kind_name(cases[i].kind);
		/* a path segment, a query value, a JSON string, after escapes */
		snprintf(line, sizeof(line), "{\"path\":\"/api/v1/%s/x?q=%s&z=1\",\"ua\":\"a\\u0001%s\\\\x01%s%%22%s.\"}",
		         cases[i].v, cases[i].v, cases[i].v, cases[i].v, cases[i].v);
		snprintf(want, sizeof(want),
		         "{\"path\":\"/api/v1/[redacted:%s]/x?q=[redacted:%s]&z=1\",\"ua\":\"a\\u0001[redacted:%s]\\\\x01[redacted:%s]%%22[redacted:%s].\"}",
		         name, name, name, name, name);
		expect(line, PC_REDACT_JSON, want, cases[i].kind);
		assert_int_equal(counts[cases[i].kind], 5);
		assert_int_equal(total(), 5);
		json_error_t e;
		json_t *j = json_loads(out, 0, &e);
		assert_non_null(j);
		json_decref(j);
		/* raw text (an audit field before encoding) */
		snprintf(line, sizeof(line), "user %s<%s>", cases[i].v, cases[i].v);
		snprintf(want, sizeof(want), "user [redacted:%s]<[redacted:%s]>", name, name);
		expect(line, 0, want, cases[i].kind);
	}
	/* an API key with a wrong checksum is text */
	char bad[PC_APIKEY_LEN + 1];
	memcpy(bad, key, sizeof(bad));
	bad[PC_APIKEY_LEN - 1] = bad[PC_APIKEY_LEN - 1] == '0' ? '1' : '0';
	expect(bad, 0, bad, -1);
	assert_true(pc_redact_is_apikey(key, strlen(key)));
	assert_false(pc_redact_is_apikey(bad, strlen(bad)));
	/* the same key, as auth/apikey.c parses it */
	char p2[16];
	assert_true(pc_apikey_parse(key, strlen(key), p2));
}

static void look_alikes_pass(void **state)
{
	(void)state;
	const char *same[] = {
	    /* an audit hash (64 hex), an id (32 hex), a request id */
	    "{\"hash\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"id\":\"0123456789abcdef0123456789abcdef\"}",
	    /* 43 characters without an upper-case letter */
	    "store_postgres_retries_exhausted_and_gone_x",
	    /* 43 characters, not canonical (spare bits set) */
	    "AbcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPB",
	    /* a JWT header alone, a version string, prose */
	    "eyJhbGciOiJIUzI1NiJ9 eyJ.", "portcullis 1.2.3", "Bearer token required",
	    "{\"event\":\"access\",\"method\":\"GET\",\"path\":\"/api/v1/users?limit=10\",\"status\":200}",
	    "{\"code\":5,\"failed\":\"touch\"}", "{\"password_changed\":true}",
	    "{\"token\":\"\"}", "{\"password\":\"[redacted:password]\"}",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		expect(same[i], PC_REDACT_JSON, same[i], -1);
}

static void fields(void **state)
{
	(void)state;
	expect("{\"path\":\"/login?email=a@b.c&password=hunter2&x=1\"}", PC_REDACT_JSON,
	       "{\"path\":\"/login?email=a@b.c&password=[redacted:password]&x=1\"}", PC_REDACT_PASSWORD);
	expect("{\"path\":\"/x?access_token=abc.def&y\"}", PC_REDACT_JSON,
	       "{\"path\":\"/x?access_token=[redacted:secret_field]&y\"}", PC_REDACT_SECRET_FIELD);
	expect("{\"ua\":\"Authorization: Basic dXNlcjpwYXNz\",\"n\":1}", PC_REDACT_JSON,
	       "{\"ua\":\"Authorization: [redacted:authorization]\",\"n\":1}", PC_REDACT_AUTHORIZATION);
	expect("{\"ua\":\"curl Bearer abcdefghijklmnop/+~qrstu== x\"}", PC_REDACT_JSON,
	       "{\"ua\":\"curl Bearer [redacted:authorization] x\"}", PC_REDACT_AUTHORIZATION);
	expect("{\"Cookie\":\"__Host-portcullis_session=abc; b=c\",\"new_password\":\"p\\\"q\\\\r\"}", PC_REDACT_JSON,
	       "{\"Cookie\":\"[redacted:cookie]\",\"new_password\":\"[redacted:password]\"}", PC_REDACT_COOKIE);
	assert_int_equal(counts[PC_REDACT_PASSWORD], 1);
	/* JSON inside a JSON string (a client's body in a header) */
	expect("{\"ua\":\"{\\\"password\\\":\\\"s3cret\\\",\\\"a\\\":1}\"}", PC_REDACT_JSON,
	       "{\"ua\":\"{\\\"password\\\":\\\"[redacted:password]\\\",\\\"a\\\":1}\"}", PC_REDACT_PASSWORD);
	/* the audit text line */
	expect("AUDIT: LOGIN_FAILED user | user_agent=\"x\" details={\"email\":\"a\",\"secret\":\"zz\"}\n",
	       PC_REDACT_JSON,
	       "AUDIT: LOGIN_FAILED user | user_agent=\"x\" details={\"email\":\"a\",\"secret\":\"[redacted:secret_field]\"}\n",
	       PC_REDACT_SECRET_FIELD);
	/* a JWT cut before its signature still shows its claims */
	expect("ua eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn", 0, "ua [redacted:jwt]", PC_REDACT_JWT);
	/* a JWT behind a dot, in a short run (found by fuzz_redact) */
	expect("a .eyJzxIn.r b", 0, "a .[redacted:jwt] b", PC_REDACT_JWT);
	/* a value that runs to a backslash ending the text (found by fuzz_redact) */
	expect("{\"password\":\"abc\\", PC_REDACT_JSON, "{\"password\":\"[redacted:password]", PC_REDACT_PASSWORD);
	/* raw mode: a header value runs to the end of the line */
	expect("Cookie: a=b c=d", 0, "Cookie: [redacted:cookie]", PC_REDACT_COOKIE);
}

static void json_stays_json_and_fits(void **state)
{
	(void)state;
	/* many short fields: the worst growth, still within PC_REDACT_CAP */
	char in[2048], big[PC_REDACT_CAP(2048)];
	size_t n = 0;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "{\"p\":\"");
	while (n + 16 < sizeof(in))
		n += (size_t)snprintf(in + n, sizeof(in) - n, "token=x&");
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\"}");
	uint32_t c[PC_REDACT_KIND_N] = {0};
	size_t w = pc_redact(big, sizeof(big), in, n, PC_REDACT_JSON, c);
	assert_true(w <= sizeof(big));
	json_error_t e;
	json_t *j = json_loadb(big, w, 0, &e);
	assert_non_null(j);
	json_decref(j);
	/* too small a buffer: cap + 1, never a write past it */
	char small[16];
	assert_int_equal(pc_redact(small, sizeof(small), in, n, PC_REDACT_JSON, NULL), sizeof(small) + 1);
}

static void counted_by_sink_and_in_place(void **state)
{
	(void)state;
	char tok[100];
	token(tok, sizeof(tok), 32);
	uint64_t before = pc_redact_total(PC_REDACT_SINK_AUDIT, PC_REDACT_RESET_TOKEN);
	char field[128];
	snprintf(field, sizeof(field), "%s", tok);
	assert_int_equal(pc_redact_inplace(field, sizeof(field), 0, PC_REDACT_SINK_AUDIT), 1);
	assert_string_equal(field, "[redacted:reset_token]");
	assert_int_equal(pc_redact_total(PC_REDACT_SINK_AUDIT, PC_REDACT_RESET_TOKEN), before + 1);
	/* does not fit: the marker alone */
	char small[30];
	snprintf(small, sizeof(small), "passwd=a");
	assert_int_equal(pc_redact_inplace(small, 12, 0, PC_REDACT_SINK_AUDIT), 1);
	assert_string_equal(small, "[redacted:p");
	/* nothing to hide: unchanged */
	char plain[] = "alice@example.com";
	assert_int_equal(pc_redact_inplace(plain, sizeof(plain), 0, PC_REDACT_SINK_AUDIT), 0);
	assert_string_equal(plain, "alice@example.com");
	assert_string_equal(pc_redact_sink_name(PC_REDACT_SINK_ACCESS), "access");
	assert_string_equal(pc_redact_kind_name(PC_REDACT_OIDC_CODE), "oidc_code");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_formats),
	    cmocka_unit_test(look_alikes_pass),
	    cmocka_unit_test(fields),
	    cmocka_unit_test(json_stays_json_and_fits),
	    cmocka_unit_test(counted_by_sink_and_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
