/* test_input.c — secrets in request bodies: a password never lands in the
 * request arena, and every path frees and wipes its buffer — the early 400s
 * after the password was read included — while jansson's own copy (the
 * storage behind json_string_value) is zeroed before jansson frees it: by
 * input.c itself for every body jansson parsed, and by the allocator hook
 * (pc_input_json_init) for a body jansson refuses halfway, whose values it
 * frees inside json_loadb. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/input.h"

#define PW "S3cret-Passphrase-XYZ"

/* Blocks jansson freed while they still held the password: anywhere in
 * the block (whole_block), or at its start, where a string value's storage
 * holds it (json_string_value). */
static int freed_with_password;
static bool whole_block;

static void spy_free(void *p)
{
	if (p == NULL)
		return;
	size_t n = malloc_usable_size(p);
	if (whole_block ? memmem(p, n, PW, strlen(PW)) != NULL
	                : n >= strlen(PW) && memcmp(p, PW, strlen(PW)) == 0)
		freed_with_password++;
	memset(p, 0, n);
	free(p);
}

static bool arena_holds(const struct pc_arena *a, const char *s)
{
	return memmem(a->first, sizeof(a->first), s, strlen(s)) != NULL;
}

static const struct pc_field fields[] = {
	{"email", PC_F_STRING, true, 1024},
	{"password", PC_F_SECRET, true, 1024},
};

/* Bodies refused after (or before) the password was read; the last ones
 * jansson itself refuses after it built the password's string. */
static const char *const bodies[] = {
	"{\"password\":\"" PW "\",\"email\":42}",           /* a later field's type */
	"{\"password\":\"" PW "\",\"bogus\":1}",            /* an unknown field after it */
	"{\"bogus\":1,\"password\":\"" PW "\"}",            /* one before it: never looked at */
	"{\"password\":\"" PW "\"}",                        /* a required field missing */
	"{\"password\":\"" PW "\",\"email\":\"a\\u0000b\"}", /* jansson: NUL */
	"{\"password\":\"" PW "\",\"password\":\"x\"}",      /* jansson: duplicate */
	"{\"password\":\"" PW "\",",                        /* jansson: truncated */
};
#define N_PARSED 4 /* bodies jansson parses whole */

static void check_refused(size_t i)
{
	struct pc_arena arena;
	struct pc_input in;
	char detail[160];
	pc_arena_init(&arena);
	freed_with_password = 0;
	int status = pc_input_parse(&arena, bodies[i], strlen(bodies[i]), fields, 2, &in, detail, sizeof(detail));
	if (status != 400)
		fail_msg("body %zu: status %d", i, status);
	assert_int_equal(pc_secret_live(), 0);
	assert_null(in.v[1].str.s);
	assert_false(arena_holds(&arena, PW));
	if (freed_with_password != 0)
		fail_msg("body %zu: jansson freed the password unwiped", i);
	pc_arena_reset(&arena);
}

/* input.c wipes what jansson parsed (no allocator hook: jansson's frees go
 * straight to the spy). Only the value's storage is looked at here: the
 * lexer's scratch buffer is the hook's job. */
static void test_refused_bodies_wipe(void **state)
{
	(void)state;
	whole_block = false;
	json_set_alloc_funcs(malloc, spy_free);
	for (size_t i = 0; i < N_PARSED; i++)
		check_refused(i);
	json_set_alloc_funcs(malloc, free);
}

/* With the hook every jansson buffer is zeroed before release: nothing is
 * ever freed holding the password, for any body. */
static void test_refused_bodies_hook(void **state)
{
	(void)state;
	whole_block = true;
	pc_input_json_init(spy_free);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		check_refused(i);
}

static void test_accepted_body_owns_secret(void **state)
{
	(void)state;
	static const char body[] = "{\"email\":\"a@example.test\",\"password\":\"" PW "\"}";
	struct pc_arena arena;
	struct pc_input in;
	char detail[160];
	pc_arena_init(&arena);
	freed_with_password = 0;
	assert_int_equal(pc_input_parse(&arena, body, strlen(body), fields, 2, &in, detail, sizeof(detail)), 0);
	assert_int_equal(freed_with_password, 0);
	assert_string_equal(in.v[1].str.s, PW);
	assert_false(arena_holds(&arena, PW));
	assert_true(arena_holds(&arena, "a@example.test"));
	assert_int_equal(pc_secret_live(), 1);
	struct pc_secret sec;
	pc_input_take(&in, 1, &sec);
	pc_input_wipe(&in); /* nothing left: the secret was taken */
	assert_int_equal(pc_secret_live(), 1);
	assert_string_equal(sec.s, PW);
	pc_secret_free(&sec);
	assert_null(sec.s);
	assert_int_equal(pc_secret_live(), 0);
	pc_arena_reset(&arena);
}

/* The handler-level early 400: the email is refused after the password
 * was read. The fake request counts as answered already, so the answer is
 * dropped (with a "double_response" log line): what matters is the rest. */
static void test_credentials_early_400(void **state)
{
	(void)state;
	static const char body[] = "{\"email\":\"not an email\",\"password\":\"" PW "\"}";
	static struct pc_http_request http;
	static struct pc_req r;
	memset(&http, 0, sizeof(http));
	memset(&r, 0, sizeof(r));
	http.n_headers = 1;
	http.headers[0].name = (struct pc_str){"Content-Type", 12};
	http.headers[0].value = (struct pc_str){"application/json", 16};
	r.http = &http;
	r.body = body;
	r.body_len = strlen(body);
	r.responded = true;
	pc_arena_init(&r.arena);
	char email[PC_EMAIL_MAX + 1];
	struct pc_secret pw = {(char *)"not touched", 1};
	freed_with_password = 0;
	assert_int_equal(pc_api_credentials_or_respond(&r, email, &pw, false), -1);
	assert_null(pw.s);
	assert_int_equal(pc_secret_live(), 0);
	assert_false(arena_holds(&r.arena, PW));
	assert_int_equal(freed_with_password, 0);
	pc_arena_reset(&r.arena);
}

/* Form bodies (pc_input_form_parse): RFC 6749 3.2 semantics, strict
 * decoding, the secret decoded outside the arena, every refusal frees. */
static const struct pc_field form_fields[] = {
	{"token", PC_F_SECRET, true, 16},
	{"token_type_hint", PC_F_STRING, false, 16},
};

static int form(const char *body, struct pc_input *in, struct pc_arena *arena)
{
	char detail[160];
	return pc_input_form_parse(arena, body, strlen(body), form_fields, 2, in, detail, sizeof(detail));
}

static void test_form_bodies(void **state)
{
	(void)state;
	struct pc_arena arena;
	struct pc_input in;
	pc_arena_init(&arena);
	assert_int_equal(form("token=ab%2Bc+d&token_type_hint=access_token&client_id=x&zz", &in, &arena), 400);
	assert_int_equal(form("token=ab%2Bc+d&token_type_hint=access_token&client_id=x", &in, &arena), 0);
	assert_string_equal(in.v[0].str.s, "ab+c d");
	assert_int_equal(in.v[0].str.len, 6);
	assert_false(arena_holds(&arena, "ab+c d"));
	assert_string_equal(in.v[1].str.s, "access_token");
	assert_int_equal(pc_secret_live(), 1);
	pc_input_wipe(&in);
	assert_int_equal(pc_secret_live(), 0);
	/* a parameter without a value is omitted; an escaped name is a name */
	assert_int_equal(form("tok%65n=v&token_type_hint=", &in, &arena), 0);
	assert_string_equal(in.v[0].str.s, "v");
	assert_false(in.present[1]);
	pc_input_wipe(&in);
	/* a name longer than any known one is an unknown parameter */
	assert_int_equal(form("token=v&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1", &in, &arena),
	                 0);
	pc_input_wipe(&in);
	static const char *bad[] = {
		"", "token", "=v", "token=v&", "&token=v", "token=v&&x=1", "token=a&token=b",
		"token=v&token_type_hint=a&token_type_hint=b", "token=%", "token=%4", "token=%zz", "token=a%00b",
		"token=a%0Ab", "token=a\nb", "token=", "token_type_hint=x", "token=0123456789abcdefg",
		"token=v&token_type_hint=0123456789abcdefg", "t%zzoken=v",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(form(bad[i], &in, &arena), 400);
		assert_int_equal(pc_secret_live(), 0);
	}
	/* 16 decoded bytes fit, however they were escaped */
	assert_int_equal(form("token=%30123456789abcdef", &in, &arena), 0);
	assert_int_equal(in.v[0].str.len, 16);
	pc_input_wipe(&in);
	assert_int_equal(pc_secret_live(), 0);
	pc_arena_reset(&arena);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_bodies_wipe),
		cmocka_unit_test(test_refused_bodies_hook),
		cmocka_unit_test(test_accepted_body_owns_secret),
		cmocka_unit_test(test_credentials_early_400),
		cmocka_unit_test(test_form_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
