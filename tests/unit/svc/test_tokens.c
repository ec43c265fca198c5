/* test_tokens.c — svc/tokens.c driven without HTTP: issue, rotation,
 * reuse detection revoking the family, the hourly refresh limit, login
 * throttling, revocation of one's own tokens only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "svc_fx.h"

static void refresh_hash_of(const struct pc_token_pair *p, uint8_t h[32])
{
	assert_int_equal(pc_tokens_refresh_parse(h, p->refresh, strlen(p->refresh)), 0);
}

static void test_rotation_and_reuse(void **state)
{
	struct fx *f = *state;
	struct pc_user a;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_token_pair p0, p1, p2;
	int64_t retry = 0;
	assert_int_equal(pc_tokens_login(&f->ctx, &f->anon, "admin@example.test", FX_PW, strlen(FX_PW), &p0, &retry),
	                 PC_OK);
	struct pc_audit_event ev;
	fx_event(f, "token.issue", &ev);
	char want[128];
	snprintf(want, sizeof(want), "{\"jti\":\"%s\",\"via\":\"password\"}", p0.jti);
	assert_string_equal(ev.details, want);
	assert_string_equal(ev.actor_user_id, a.id);
	char family[PC_ID_LEN + 1];
	snprintf(family, sizeof(family), "%s", ev.resource_id);

	uint8_t h0[32], h1[32];
	refresh_hash_of(&p0, h0);
	assert_int_equal(pc_tokens_refresh(&f->ctx, &f->anon, h0, &p1, &retry), PC_OK);
	assert_string_not_equal(p1.refresh, p0.refresh);
	fx_event(f, "token.refresh", &ev);
	assert_string_equal(ev.resource_id, family);

	/* the used token again: the whole family goes, its access tokens too */
	assert_int_equal(pc_tokens_refresh(&f->ctx, &f->anon, h0, &p2, &retry), PC_ERR_REUSED);
	assert_string_equal(p2.refresh, "");
	fx_event(f, "token.reuse", &ev);
	assert_string_equal(ev.resource_id, family);
	assert_string_equal(ev.details, "{\"action\":\"family revoked\"}");
	bool revoked = false;
	assert_int_equal(pc_revocation_check(&f->ctx.auth, p1.jti, &revoked), PC_OK);
	assert_true(revoked);
	refresh_hash_of(&p1, h1);
	assert_int_equal(pc_tokens_refresh(&f->ctx, &f->anon, h1, &p2, &retry), PC_ERR_NOT_FOUND);
	sodium_memzero(&p0, sizeof(p0));
	sodium_memzero(&p1, sizeof(p1));
}

static void test_refresh_limit(void **state)
{
	struct fx *f = *state;
	struct pc_user a;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_token_pair p;
	int64_t retry = 0;
	assert_int_equal(pc_tokens_login(&f->ctx, &f->anon, "admin@example.test", FX_PW, strlen(FX_PW), &p, &retry),
	                 PC_OK);
	uint8_t h[32];
	for (int i = 0; i < 3; i++) { /* PORTCULLIS_REFRESH_LIMIT=3 */
		refresh_hash_of(&p, h);
		assert_int_equal(pc_tokens_refresh(&f->ctx, &f->anon, h, &p, &retry), PC_OK);
	}
	refresh_hash_of(&p, h);
	assert_int_equal(pc_tokens_refresh(&f->ctx, &f->anon, h, &p, &retry), PC_ERR_THROTTLED);
	assert_true(retry > 0 && retry <= 3600);
}

static void test_login_throttle(void **state)
{
	struct fx *f = *state;
	struct pc_user a, u;
	fx_first_user(f, "admin@example.test", &a);
	int64_t retry = 0;
	enum pc_err e = PC_OK;
	int failures = 0;
	for (int i = 0; i < 12 && e != PC_ERR_THROTTLED; i++) {
		e = pc_tokens_check_password(&f->ctx, &f->anon, "admin@example.test", "wrong password!", 15, &u, &retry);
		if (e == PC_ERR_NOT_FOUND)
			failures++;
	}
	assert_int_equal(e, PC_ERR_THROTTLED);
	assert_true(retry > 0);
	assert_int_equal(failures, 10); /* PORTCULLIS_LOGIN_MAX_FAILURES' default */
	assert_int_equal(fx_count(f, "auth.login_failed"), 10);
	struct pc_audit_event ev;
	fx_event(f, "auth.login_failed", &ev);
	assert_string_equal(ev.details, "{\"email\":\"admin@example.test\"}");
	assert_string_equal(ev.resource_id, a.id);
	/* even the right password is refused while throttled */
	assert_int_equal(pc_tokens_check_password(&f->ctx, &f->anon, "admin@example.test", FX_PW, strlen(FX_PW), &u,
	                                          &retry),
	                 PC_ERR_THROTTLED);
}

static void test_revoke_own_only(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b;
	fx_first_user(f, "admin@example.test", &a);
	assert_int_equal(pc_users_create(&f->ctx, &f->sys, "b@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &b, NULL), PC_OK);
	struct pc_principal pa, pb;
	fx_login(f, "admin@example.test", FX_PW, &pa, NULL);
	fx_login(f, "b@example.test", FX_PW, &pb, NULL);
	struct pc_token_pair ta;
	assert_int_equal(pc_tokens_issue(&f->ctx, &pa, &ta), PC_OK);
	uint8_t h[32];
	refresh_hash_of(&ta, h);
	/* b cannot revoke a's family: nothing happens, no error */
	assert_int_equal(pc_tokens_revoke_refresh(&f->ctx, &pb, h), PC_OK);
	assert_int_equal(fx_count(f, "token.revoke"), 0);
	assert_int_equal(pc_tokens_revoke_refresh(&f->ctx, &pa, h), PC_OK);
	assert_int_equal(fx_count(f, "token.revoke"), 1);
	bool revoked = false;
	assert_int_equal(pc_revocation_check(&f->ctx.auth, ta.jti, &revoked), PC_OK);
	assert_true(revoked);
	struct pc_token_pair next;
	int64_t retry = 0;
	assert_int_equal(pc_tokens_refresh(&f->ctx, &f->anon, h, &next, &retry), PC_ERR_NOT_FOUND);
	sodium_memzero(&ta, sizeof(ta));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rotation_and_reuse, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_refresh_limit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_throttle, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_revoke_own_only, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
