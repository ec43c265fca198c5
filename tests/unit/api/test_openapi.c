/* test_openapi.c — the OpenAPI document is complete and agrees with the
 * code: every route row has its entry in pc_op_docs and every entry a row,
 * every component it names exists, every JSON body schema matches its
 * handler's field table; and every problem kind is well formed. A route
 * added without its description fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api/api.h"
#include "api/docs.h"
#include "http/problem.h"

static void test_document_complete(void **state)
{
	(void)state;
	char report[8192];
	int n = -1;
	json_t *doc = pc_openapi_build(NULL, report, sizeof(report), &n);
	assert_non_null(doc);
	if (n != 0)
		fail_msg("%d inconsistencies:\n%s", n, report);
	/* every row is an operation with responses and security */
	json_t *paths = json_object_get(doc, "paths");
	for (size_t i = 0; i < pc_n_routes; i++) {
		json_t *item = json_object_get(paths, pc_routes[i].pattern);
		assert_non_null(item);
		assert_true(json_object_size(item) >= 1);
	}
	json_decref(doc);
}

/* The drift check itself: a schema that agrees passes; each way of
 * disagreeing with the field table is reported. */
static void test_body_check(void **state)
{
	(void)state;
	static const struct pc_field fields[] = {
		{"name", PC_F_STRING, true, 100},
		{"count", PC_F_INT, false, 0},
		{"secret", PC_F_SECRET, true, 256},
	};
	static const struct pc_fields f = PC_FIELDS(fields);
	static const char good[] =
		"{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"secret\"],"
		"\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":100,\"minLength\":1},"
		"\"count\":{\"type\":\"integer\"},\"secret\":{\"type\":\"string\",\"maxLength\":256}}}";
	static const char *const bad[] = {
		/* unknown members allowed */
		"{\"type\":\"object\",\"required\":[\"name\",\"secret\"],\"properties\":{\"name\":{\"type\":\"string\","
		"\"maxLength\":100},\"count\":{\"type\":\"integer\"},\"secret\":{\"type\":\"string\",\"maxLength\":256}}}",
		/* another bound */
		"{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"secret\"],\"properties\":{"
		"\"name\":{\"type\":\"string\",\"maxLength\":99},\"count\":{\"type\":\"integer\"},\"secret\":{\"type\":"
		"\"string\",\"maxLength\":256}}}",
		/* a required member not required */
		"{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\"],\"properties\":{\"name\":{"
		"\"type\":\"string\",\"maxLength\":100},\"count\":{\"type\":\"integer\"},\"secret\":{\"type\":\"string\","
		"\"maxLength\":256}}}",
		/* another type */
		"{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"secret\"],\"properties\":{"
		"\"name\":{\"type\":\"string\",\"maxLength\":100},\"count\":{\"type\":\"string\",\"maxLength\":0},"
		"\"secret\":{\"type\":\"string\",\"maxLength\":256}}}",
		/* a member missing, one extra */
		"{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"secret\"],\"properties\":{"
		"\"name\":{\"type\":\"string\",\"maxLength\":100},\"total\":{\"type\":\"integer\"},\"secret\":{\"type\":"
		"\"string\",\"maxLength\":256}}}",
	};
	char report[1024];
	json_t *s = json_loads(good, 0, NULL);
	assert_non_null(s);
	if (pc_openapi_check_body(s, &f, report, sizeof(report)) != 0)
		fail_msg("a matching schema was refused:\n%s", report);
	json_decref(s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = json_loads(bad[i], 0, NULL);
		assert_non_null(s);
		if (pc_openapi_check_body(s, &f, report, sizeof(report)) == 0)
			fail_msg("drift %zu not reported", i);
		json_decref(s);
	}
}

static void test_problem_kinds(void **state)
{
	(void)state;
	for (int k = 0; k < PC_PROB__COUNT; k++) {
		const struct pc_problem_kind *p = &pc_problem_kinds[k];
		assert_non_null(p->slug);
		assert_true(p->status >= 400 && p->status <= 599);
		assert_non_null(p->title);
		assert_non_null(p->meaning);
		assert_non_null(p->action);
		for (const char *c = p->slug; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-');
		assert_int_equal(pc_problem_find(p->slug, strlen(p->slug)), k);
		for (int j = 0; j < k; j++)
			assert_string_not_equal(pc_problem_kinds[j].slug, p->slug);
	}
	/* every default kind answers with its own status */
	for (int s = 400; s < 600; s++) {
		enum pc_problem k = pc_problem_for_status(s);
		if (k != PC_PROB__COUNT)
			assert_int_equal(pc_problem_kinds[k].status, s);
	}
	assert_int_equal(pc_problem_find("nope", 4), PC_PROB__COUNT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document_complete),
		cmocka_unit_test(test_body_check),
		cmocka_unit_test(test_problem_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
