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
		cmocka_unit_test(test_problem_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
