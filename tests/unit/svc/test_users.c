/* test_users.c — svc/users.c driven without HTTP: the first user exactly
 * once, duplicates, the last user, what a deletion and a password change
 * end, and the command line's event equal to the API's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "svc_fx.h"

#define RACERS 8

struct racer {
	struct fx *f;
	int n;
	enum pc_err e;
};

static void *race_setup(void *arg)
{
	struct racer *r = arg;
	char email[64];
	struct pc_user u;
	struct pc_session s;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	snprintf(email, sizeof(email), "racer%d@example.test", r->n);
	r->e = pc_users_setup(&r->f->ctx, &r->f->anon, email, FX_PW, strlen(FX_PW), &u, &s, secret, NULL);
	sodium_memzero(secret, sizeof(secret));
	return NULL;
}

/* Concurrent first users: exactly one wins, every other one is told
 * SET_UP, one user and one "setup" event exist. */
static void test_setup_race(void **state)
{
	struct fx *f = *state;
	pthread_t t[RACERS];
	struct racer r[RACERS];
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){f, i, PC_ERR_INTERNAL};
		assert_int_equal(pthread_create(&t[i], NULL, race_setup, &r[i]), 0);
	}
	int won = 0, set_up = 0;
	for (int i = 0; i < RACERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		won += r[i].e == PC_OK;
		set_up += r[i].e == PC_ERR_SET_UP;
	}
	assert_int_equal(won, 1);
	assert_int_equal(set_up, RACERS - 1);
	struct pc_user *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_users_list(&f->ctx, &f->sys, &list, &n), PC_OK);
	assert_int_equal(n, 1);
	free(list);
	assert_int_equal(fx_count(f, "setup"), 1);
}

static void test_setup_once(void **state)
{
	struct fx *f = *state;
	bool done = true;
	assert_int_equal(pc_users_setup_done(&f->ctx, &done), PC_OK);
	assert_false(done);
	struct pc_user u, v;
	struct pc_session s;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	assert_int_equal(pc_users_setup(&f->ctx, &f->anon, "first@example.test", FX_PW, strlen(FX_PW), &u, &s, secret, NULL),
	                 PC_OK);
	assert_string_equal(s.user_id, u.id);
	assert_string_equal(u.password_hash, "");
	assert_int_equal(pc_users_setup(&f->ctx, &f->anon, "second@example.test", FX_PW, strlen(FX_PW), &v, &s, secret, NULL),
	                 PC_ERR_SET_UP);
	assert_int_equal(pc_users_setup_done(&f->ctx, &done), PC_OK);
	assert_true(done);
	/* one "setup" event, by the new user's own session, from the client */
	struct pc_audit_event ev;
	fx_event(f, "setup", &ev);
	assert_int_equal(fx_count(f, "setup"), 1);
	assert_string_equal(ev.resource_type, "user");
	assert_string_equal(ev.resource_id, u.id);
	assert_string_equal(ev.actor_user_id, u.id);
	assert_string_equal(ev.auth_method, "session");
	assert_string_equal(ev.client_addr, "192.0.2.7");
	struct pc_user *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_users_list(&f->ctx, &f->sys, &list, &n), PC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].password_hash, "");
	free(list);
	/* an anonymous client administers nothing */
	assert_int_equal(pc_users_list(&f->ctx, &f->anon, &list, &n), PC_ERR_FORBIDDEN);
	assert_int_equal(pc_users_create(&f->ctx, &f->anon, "x@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &v, NULL), PC_ERR_FORBIDDEN);
	assert_int_equal(pc_users_delete(&f->ctx, &f->anon, u.id), PC_ERR_FORBIDDEN);
}

static void test_create_duplicate(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b;
	fx_first_user(f, "admin@example.test", &a);
	assert_int_equal(pc_users_create(&f->ctx, &f->sys, "b@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &b, NULL), PC_OK);
	assert_int_equal(pc_users_create(&f->ctx, &f->sys, "b@example.test", PC_ROLE_MEMBER, FX_PW2, strlen(FX_PW2), &b, NULL),
	                 PC_ERR_CONFLICT);
	assert_int_equal(fx_count(f, "user.create"), 1);
}

static void test_delete_last_refused(void **state)
{
	struct fx *f = *state;
	struct pc_user a;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_principal pa;
	fx_login(f, "admin@example.test", FX_PW, &pa, NULL);
	enum pc_err e = pc_users_delete(&f->ctx, &pa, a.id);
	assert_int_equal(e, PC_ERR_LAST_USER);
	assert_int_equal(fx_count(f, "user.delete"), 0);
	assert_int_equal(pc_users_delete(&f->ctx, &pa, "0123456789abcdef0123456789abcdef"), PC_ERR_NOT_FOUND);
}

static void test_delete_ends_sessions_and_tokens(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b;
	fx_first_user(f, "admin@example.test", &a);
	assert_int_equal(pc_users_create(&f->ctx, &f->sys, "b@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &b, NULL), PC_OK);
	struct pc_principal pa, pb;
	uint8_t hb[32];
	fx_login(f, "admin@example.test", FX_PW, &pa, NULL);
	fx_login(f, "b@example.test", FX_PW, &pb, hb);
	struct pc_token_pair pair;
	assert_int_equal(pc_tokens_issue(&f->ctx, &pb, &pair), PC_OK);
	assert_true(fx_session_alive(f, hb));

	assert_int_equal(pc_users_delete(&f->ctx, &pa, b.id), PC_OK);
	assert_false(fx_session_alive(f, hb));
	bool revoked = false;
	assert_int_equal(pc_revocation_check(&f->ctx.auth, pair.jti, &revoked), PC_OK);
	assert_true(revoked);
	sodium_memzero(&pair, sizeof(pair));
	struct pc_audit_event ev;
	fx_event(f, "user.delete", &ev);
	assert_string_equal(ev.resource_id, b.id);
	assert_string_equal(ev.actor_user_id, a.id);
	assert_string_equal(ev.actor_session_id, pa.session_id);
}

static void test_password_change(void **state)
{
	struct fx *f = *state;
	struct pc_user a;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_principal p1, p2;
	uint8_t h1[32], h2[32];
	fx_login(f, "admin@example.test", FX_PW, &p1, h1);
	fx_login(f, "admin@example.test", FX_PW, &p2, h2);
	bool wrong = false;
	int64_t retry = 0;
	assert_int_equal(pc_users_password_change(&f->ctx, &p1, "not the password", 16, FX_PW2, strlen(FX_PW2), &wrong,
	                                          &retry, NULL, NULL, NULL),
	                 PC_ERR_NOT_FOUND);
	assert_true(wrong);
	assert_true(fx_session_alive(f, h2));
	assert_int_equal(fx_count(f, "user.password_change"), 0);

	assert_int_equal(pc_users_password_change(&f->ctx, &p1, FX_PW, strlen(FX_PW), FX_PW2, strlen(FX_PW2), &wrong,
	                                          &retry, NULL, NULL, NULL),
	                 PC_OK);
	assert_false(wrong);
	assert_true(fx_session_alive(f, h1)); /* the actor's own session stays */
	assert_false(fx_session_alive(f, h2));
	struct pc_audit_event ev;
	fx_event(f, "user.password_change", &ev);
	assert_string_equal(ev.resource_type, "user");
	assert_string_equal(ev.resource_id, a.id);
	assert_string_equal(ev.actor_session_id, p1.session_id);
	/* the new password logs in; the old one no longer does */
	struct pc_principal p3;
	fx_login(f, "admin@example.test", FX_PW2, &p3, NULL);
	struct pc_user u;
	assert_int_equal(pc_tokens_check_password(&f->ctx, &f->anon, "admin@example.test", FX_PW, strlen(FX_PW), &u,
	                                          &retry),
	                 PC_ERR_NOT_FOUND);
}

/* From a session, the change rotates it: the old cookie's secret dies, the
 * new one lives with the same sign-in; a weak new password changes nothing
 * and says why. */
static void test_password_change_rotates(void **state)
{
	struct fx *f = *state;
	struct pc_user a;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_principal p1, p2;
	uint8_t h1[32], h2[32], hn[32];
	fx_login(f, "admin@example.test", FX_PW, &p1, h1);
	fx_login(f, "admin@example.test", FX_PW, &p2, h2);
	bool wrong = false;
	int64_t retry = 0;
	struct pc_session rot;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	struct pc_pw_verdict weak;
	assert_int_equal(pc_users_password_change(&f->ctx, &p1, FX_PW, strlen(FX_PW), "password1234567", 15, &wrong,
	                                          &retry, &weak, &rot, secret),
	                 PC_ERR_WEAK_PASSWORD);
	assert_string_equal(weak.reason, "too_common");
	assert_false(wrong);
	assert_true(fx_session_alive(f, h1));
	assert_true(fx_session_alive(f, h2));
	assert_int_equal(fx_count(f, "user.password_change"), 0);
	assert_int_equal(pc_users_password_change(&f->ctx, &p1, FX_PW, strlen(FX_PW), "admin@example.test!!", 20,
	                                          &wrong, &retry, &weak, &rot, secret),
	                 PC_ERR_WEAK_PASSWORD);
	assert_string_equal(weak.reason, "contains_email");

	assert_int_equal(pc_users_password_change(&f->ctx, &p1, FX_PW, strlen(FX_PW), FX_PW2, strlen(FX_PW2), &wrong,
	                                          &retry, &weak, &rot, secret),
	                 PC_OK);
	assert_true(rot.id[0] != '\0');
	assert_string_not_equal(rot.id, p1.session_id);
	pc_session_secret_hash(hn, secret);
	sodium_memzero(secret, sizeof(secret));
	assert_false(fx_session_alive(f, h1)); /* the old id and secret are gone */
	assert_false(fx_session_alive(f, h2));
	assert_true(fx_session_alive(f, hn)); /* the same sign-in, under its new id */
	struct pc_session now;
	assert_int_equal(pc_store_session_get(f->ctx.store, hn, &now), PC_OK);
	assert_string_equal(now.id, rot.id);
	assert_string_equal(now.user_id, a.id);
	struct pc_audit_event ev;
	fx_event(f, "user.password_change", &ev);
	assert_non_null(strstr(ev.details, "\"session_rotated\":true"));
	/* the old session, presented again, cannot change it back */
	assert_int_equal(pc_users_password_change(&f->ctx, &p1, FX_PW2, strlen(FX_PW2), FX_PW, strlen(FX_PW), &wrong,
	                                          &retry, &weak, &rot, secret),
	                 PC_ERR_STALE);
}

/* `portcullis user add` and POST /api/v1/users write the same event:
 * action, resource, details; only the actor differs. */
static void test_cli_event_equals_api(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b, c;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_audit_event first;
	fx_event(f, "setup", &first);
	assert_string_equal(first.resource_id, a.id);
	assert_string_equal(first.auth_method, "system");

	struct pc_principal pa;
	fx_login(f, "admin@example.test", FX_PW, &pa, NULL);
	assert_int_equal(pc_users_create(&f->ctx, &pa, "api@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &b, NULL), PC_OK);
	struct pc_audit_event api, cli;
	fx_event(f, "user.create", &api);
	assert_int_equal(pc_users_add(&f->ctx, &f->sys, "cli@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &c, NULL), PC_OK);
	fx_event(f, "user.create", &cli);

	assert_string_equal(api.action, cli.action);
	assert_string_equal(api.resource_type, cli.resource_type);
	assert_string_equal(api.resource_id, b.id);
	assert_string_equal(cli.resource_id, c.id);
	assert_string_equal(api.details, "{\"email\":\"api@example.test\",\"role\":\"member\"}");
	assert_string_equal(cli.details, "{\"email\":\"cli@example.test\",\"role\":\"member\"}");
	assert_string_equal(api.auth_method, "session");
	assert_string_equal(cli.auth_method, "system");
	assert_string_equal(cli.user_agent, "portcullis user add");
	/* a duplicate through the command line is the API's CONFLICT */
	assert_int_equal(pc_users_add(&f->ctx, &f->sys, "cli@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &c, NULL), PC_ERR_CONFLICT);
}

static void test_reset(void **state)
{
	struct fx *f = *state;
	struct pc_user a;
	fx_first_user(f, "admin@example.test", &a);
	struct pc_principal pa;
	uint8_t ha[32];
	fx_login(f, "admin@example.test", FX_PW, &pa, ha);
	uint8_t token[PC_RESET_TOKEN_BYTES];
	int64_t exp = 0, retry = 0;
	assert_int_equal(pc_users_reset_issue(&f->ctx, &pa, a.id, token, &exp), PC_OK);
	assert_int_equal(pc_users_reset_redeem(&f->ctx, &f->anon, token, FX_PW2, strlen(FX_PW2), &retry, NULL), PC_OK);
	assert_false(fx_session_alive(f, ha)); /* a reset ends every session */
	assert_int_equal(pc_users_reset_redeem(&f->ctx, &f->anon, token, FX_PW, strlen(FX_PW), &retry, NULL),
	                 PC_ERR_NOT_FOUND); /* single use */
	assert_int_equal(pc_users_reset_redeem(&f->ctx, &f->anon, NULL, FX_PW, strlen(FX_PW), &retry, NULL), PC_ERR_NOT_FOUND);
	struct pc_audit_event ev;
	fx_event(f, "user.password_reset_issue", &ev);
	assert_string_equal(ev.resource_id, a.id);
	fx_event(f, "user.password_reset", &ev);
	assert_string_equal(ev.auth_method, "anonymous");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_setup_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_setup_race, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_duplicate, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_delete_last_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_delete_ends_sessions_and_tokens, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_password_change_rotates, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_password_change, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cli_event_equals_api, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reset, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
