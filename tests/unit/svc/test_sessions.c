/* test_sessions.c — svc/sessions.c driven without HTTP: login, ending one
 * or all sessions, logout, and the tokens each ending revokes; sign-ins
 * racing a change of the credentials (the credential epoch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

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

/* ---- sign-ins racing a credential change ----
 *
 * A login's first reading of the context's clock comes after its password
 * check and before its write (the new session's times; the token pair's
 * principal): a clock that makes the change there, once, puts the change
 * exactly between the check and the write, the window of the race. */

enum race { RACE_NONE, RACE_PASSWORD, RACE_END_ALL, RACE_DELETE, RACE_RESET };
static struct {
	enum race kind;
	struct fx *f;
	struct pc_principal own, admin; /* the user's own session; an administrator */
	char user_id[PC_ID_LEN + 1];
	int ran;
} race;

static int64_t racing_clock(void)
{
	enum race kind = race.kind;
	race.kind = RACE_NONE; /* once; the change reads the clock too */
	struct pc_svc *ctx = &race.f->ctx;
	bool wrong = false;
	int64_t retry = 0;
	size_t ended = 0;
	uint8_t token[PC_RESET_TOKEN_BYTES];
	switch (kind) {
	case RACE_NONE:
		break;
	case RACE_PASSWORD:
		assert_int_equal(pc_users_password_change(ctx, &race.own, FX_PW, strlen(FX_PW), FX_PW2, strlen(FX_PW2),
		                                          &wrong, &retry, NULL, NULL, NULL),
		                 PC_OK);
		race.ran++;
		break;
	case RACE_END_ALL:
		assert_int_equal(pc_sessions_end_all(ctx, &race.own, true, &ended), PC_OK);
		race.ran++;
		break;
	case RACE_DELETE:
		assert_int_equal(pc_users_delete(ctx, &race.admin, race.user_id), PC_OK);
		race.ran++;
		break;
	case RACE_RESET:
		assert_int_equal(pc_users_reset_issue(ctx, &race.admin, race.user_id, token, &retry), PC_OK);
		assert_int_equal(pc_users_reset_redeem(ctx, &race.f->anon, token, FX_PW2, strlen(FX_PW2), &retry, NULL), PC_OK);
		sodium_memzero(token, sizeof(token));
		race.ran++;
		break;
	}
	return (int64_t)time(NULL);
}

/* An administrator, and a user logged in once (race.own) whose sign-ins
 * the next reading of the clock races with kind. */
static void race_setup(struct fx *f, enum race kind)
{
	struct pc_user a, u;
	memset(&race, 0, sizeof(race));
	race.f = f;
	fx_first_user(f, "admin@example.test", &a);
	fx_login(f, "admin@example.test", FX_PW, &race.admin, NULL);
	assert_int_equal(pc_users_create(&f->ctx, &race.admin, "user@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &u, NULL), PC_OK);
	memcpy(race.user_id, u.id, sizeof(race.user_id));
	fx_login(f, "user@example.test", FX_PW, &race.own, NULL);
	f->ctx.clock = racing_clock;
	race.kind = kind;
}

/* A cookie login checked against the old credentials, written after kind
 * ended them: refused like a wrong password, no session, "auth.login_stale". */
static void race_session_login(struct fx *f, enum race kind)
{
	race_setup(f, kind);
	size_t logins = fx_count(f, "auth.login");
	struct pc_user u;
	struct pc_session s;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t retry = 0;
	assert_int_equal(pc_sessions_login(&f->ctx, &f->anon, "user@example.test", FX_PW, strlen(FX_PW), &u, &s,
	                                   secret, &retry),
	                 PC_ERR_NOT_FOUND);
	assert_int_equal(race.ran, 1);
	assert_true(sodium_is_zero(secret, sizeof(secret)));
	assert_int_equal(fx_count(f, "auth.login"), logins);
	assert_int_equal(fx_count(f, "auth.login_stale"), 1);
	assert_int_equal(fx_count(f, "auth.login_failed"), 0); /* the password was right */
	struct pc_audit_event ev;
	fx_event(f, "auth.login_stale", &ev);
	assert_string_equal(ev.details, "{\"email\":\"user@example.test\"}");
	assert_string_equal(ev.resource_id, race.user_id);
	/* the next login reads the new epoch: the race, not the account, failed */
	if (kind == RACE_END_ALL)
		fx_login(f, "user@example.test", FX_PW, &race.own, NULL);
}

static void test_login_racing_password_change(void **state)
{
	race_session_login(*state, RACE_PASSWORD);
}

static void test_login_racing_reset(void **state)
{
	race_session_login(*state, RACE_RESET);
}

static void test_login_racing_end_all(void **state)
{
	race_session_login(*state, RACE_END_ALL);
}

static void test_login_racing_delete(void **state)
{
	race_session_login(*state, RACE_DELETE);
}

/* A token pair (POST /auth/token) racing a password change: refused, and
 * the access token minted before the refused write is never handed out. */
static void test_token_login_racing_password_change(void **state)
{
	struct fx *f = *state;
	race_setup(f, RACE_PASSWORD);
	size_t issued = fx_count(f, "token.issue");
	struct pc_token_pair out;
	int64_t retry = 0;
	assert_int_equal(pc_tokens_login(&f->ctx, &f->anon, "user@example.test", FX_PW, strlen(FX_PW), &out, &retry),
	                 PC_ERR_NOT_FOUND);
	assert_int_equal(race.ran, 1);
	assert_true(sodium_is_zero((const unsigned char *)&out, sizeof(out)));
	assert_int_equal(fx_count(f, "token.issue"), issued);
	assert_int_equal(fx_count(f, "auth.login_stale"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login_racing_password_change, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_racing_reset, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_racing_end_all, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_racing_delete, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_token_login_racing_password_change, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_and_end, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_login, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
