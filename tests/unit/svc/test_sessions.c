/* test_sessions.c — svc/sessions.c driven without HTTP: login, ending one
 * or all sessions, logout, and the tokens each ending revokes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "svc_fx.h"

static void test_login_and_end(void **state)
{
	struct fx *f = *state;
	struct pc_user a;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_principal p1, p2, p3;
	uint8_t h1[32], h2[32], h3[32];
	fx_login(f, "admin@example.test", FX_PW, &p1, h1);
	fx_login(f, "admin@example.test", FX_PW, &p2, h2);
	fx_login(f, "admin@example.test", FX_PW, &p3, h3);
	struct pc_audit_event ev;
	fx_event(f, "auth.login", &ev);
	assert_string_equal(ev.resource_id, p3.session_id);
	assert_string_equal(ev.actor_session_id, p3.session_id);
	assert_string_equal(ev.client_addr, "192.0.2.7");

	struct pc_session *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_sessions_list(&f->ctx, &p1, &list, &n), PC_OK);
	assert_int_equal(n, 3);
	free(list);

	struct pc_token_pair t2;
	assert_int_equal(pc_tokens_issue(&f->ctx, &p2, &t2), PC_OK);
	assert_int_equal(pc_sessions_end(&f->ctx, &p1, p2.session_id), PC_OK);
	assert_false(fx_session_alive(f, h2));
	bool revoked = false;
	assert_int_equal(pc_revocation_check(&f->ctx.auth, t2.jti, &revoked), PC_OK);
	assert_true(revoked);
	sodium_memzero(&t2, sizeof(t2));
	assert_int_equal(pc_sessions_end(&f->ctx, &p1, p2.session_id), PC_ERR_NOT_FOUND);

	size_t ended = 0;
	assert_int_equal(pc_sessions_end_all(&f->ctx, &p1, false, &ended), PC_OK);
	assert_int_equal(ended, 1);
	assert_true(fx_session_alive(f, h1));
	assert_false(fx_session_alive(f, h3));
	fx_event(f, "session.delete_all", &ev);
	assert_string_equal(ev.details, "{\"including_current\":false}");

	assert_int_equal(pc_sessions_logout(&f->ctx, &p1), PC_OK);
	assert_false(fx_session_alive(f, h1));
	fx_event(f, "auth.logout", &ev);
	assert_string_equal(ev.resource_id, p1.session_id);
	assert_int_equal(pc_sessions_logout(&f->ctx, &p1), PC_ERR_NOT_FOUND);
}

static void test_bad_login(void **state)
{
	struct fx *f = *state;
	struct pc_user a, u;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_session s;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t retry = 0;
	/* unknown account and wrong password: the same answer */
	assert_int_equal(pc_sessions_login(&f->ctx, &f->anon, "nobody@example.test", FX_PW, strlen(FX_PW), &u, &s, secret,
	                                   &retry),
	                 PC_ERR_NOT_FOUND);
	assert_int_equal(pc_sessions_login(&f->ctx, &f->anon, "admin@example.test", FX_PW2, strlen(FX_PW2), &u, &s,
	                                   secret, &retry),
	                 PC_ERR_NOT_FOUND);
	assert_int_equal(fx_count(f, "auth.login_failed"), 2);
	assert_int_equal(fx_count(f, "auth.login"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login_and_end, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_login, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
