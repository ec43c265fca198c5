/* test_roles.c — the rights table of svc.h (pc_svc_may) and the rules of
 * issue 15 driven through the services without HTTP: what a member is
 * refused (and that each refusal is audited), what an admin may, the last
 * enabled admin, disabling (sessions end, login refused like a wrong
 * password, reversible), and a member's view of the audit trail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "svc/auditlog.h"
#include "svc_fx.h"

/* A principal of each kind, for the table. */
static struct pc_principal who(enum pc_auth_method m, enum pc_role r)
{
	struct pc_principal p;
	memset(&p, 0, sizeof(p));
	p.method = m;
	p.role = r;
	if (m == PC_AUTH_SESSION || m == PC_AUTH_JWT)
		pc_random_id(p.user_id);
	if (m == PC_AUTH_API_KEY)
		pc_random_id(p.session_id);
	strcpy(p.client_addr, "192.0.2.9");
	return p;
}

static void test_rights_table(void **state)
{
	struct fx *f = *state;
	static const struct {
		enum pc_auth_method m;
		enum pc_role r;
		bool users, keys, audit;
	} rows[] = {
		{PC_AUTH_SESSION, PC_ROLE_ADMIN, true, true, true},
		{PC_AUTH_JWT, PC_ROLE_ADMIN, true, true, true},
		{PC_AUTH_SESSION, PC_ROLE_MEMBER, false, true, false},
		{PC_AUTH_JWT, PC_ROLE_MEMBER, false, true, false},
		{PC_AUTH_SESSION, PC_ROLE_NONE, false, false, false},
		{PC_AUTH_SYSTEM, PC_ROLE_NONE, true, true, true},
		{PC_AUTH_ANONYMOUS, PC_ROLE_ADMIN, false, false, false},
		{PC_AUTH_API_KEY, PC_ROLE_NONE, false, false, false}, /* PORTCULLIS_API_KEYS_CAN_ADMIN false */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pc_principal p = who(rows[i].m, rows[i].r);
		assert_int_equal(pc_svc_may(&f->ctx, &p, PC_SVC_MANAGE_USERS), rows[i].users);
		assert_int_equal(pc_svc_may(&f->ctx, &p, PC_SVC_MANAGE_API_KEYS), rows[i].keys);
		assert_int_equal(pc_svc_may(&f->ctx, &p, PC_SVC_READ_AUDIT), rows[i].audit);
	}
	assert_false(pc_svc_may(&f->ctx, NULL, PC_SVC_MANAGE_API_KEYS));
	/* an API key administers where the operator said so */
	struct pc_config cfg = f->cfg;
	cfg.api_keys_can_admin = true;
	const struct pc_config *saved = f->ctx.cfg;
	f->ctx.cfg = &cfg;
	struct pc_principal k = who(PC_AUTH_API_KEY, PC_ROLE_NONE);
	assert_true(pc_svc_may(&f->ctx, &k, PC_SVC_MANAGE_USERS));
	assert_true(pc_svc_may(&f->ctx, &k, PC_SVC_READ_AUDIT));
	assert_true(pc_svc_may(&f->ctx, &k, PC_SVC_MANAGE_API_KEYS));
	f->ctx.cfg = saved;
}

/* admin a (first user), member b; their session principals. */
static void two_users(struct fx *f, struct pc_user *a, struct pc_user *b, struct pc_principal *pa,
                      struct pc_principal *pb, uint8_t ha[32], uint8_t hb[32])
{
	fx_first_user(f, "admin@example.test", a);
	assert_int_equal(a->role, PC_ROLE_ADMIN);
	fx_login(f, "admin@example.test", FX_PW, pa, ha);
	assert_int_equal(pa->role, PC_ROLE_ADMIN);
	assert_int_equal(pc_users_create(&f->ctx, pa, "bob@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), b, NULL),
	                 PC_OK);
	assert_int_equal(b->role, PC_ROLE_MEMBER);
	fx_login(f, "bob@example.test", FX_PW, pb, hb);
	assert_int_equal(pb->role, PC_ROLE_MEMBER);
}

/* The takeover of issue 15, and every other admin-only action, refused to
 * a member; each refusal is an "authz.denied" event; the admin's session
 * is untouched. */
static void test_member_refused(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b, tmp;
	struct pc_principal pa, pb;
	uint8_t ha[32], hb[32];
	two_users(f, &a, &b, &pa, &pb, ha, hb);
	size_t denied = fx_count(f, "authz.denied");
	uint8_t token[PC_RESET_TOKEN_BYTES];
	int64_t exp = 0;
	assert_int_equal(pc_users_reset_issue(&f->ctx, &pb, a.id, token, &exp), PC_ERR_FORBIDDEN);
	assert_int_equal(exp, 0);
	struct pc_user_patch demote = {.has_role = true, .role = PC_ROLE_MEMBER};
	struct pc_user_patch disable = {.has_disabled = true, .disabled = true};
	struct pc_user_patch promote_self = {.has_role = true, .role = PC_ROLE_ADMIN};
	assert_int_equal(pc_users_update(&f->ctx, &pb, a.id, &demote, &tmp), PC_ERR_FORBIDDEN);
	assert_int_equal(pc_users_update(&f->ctx, &pb, a.id, &disable, &tmp), PC_ERR_FORBIDDEN);
	assert_int_equal(pc_users_update(&f->ctx, &pb, b.id, &promote_self, &tmp), PC_ERR_FORBIDDEN);
	assert_int_equal(pc_users_delete(&f->ctx, &pb, a.id), PC_ERR_FORBIDDEN);
	assert_int_equal(pc_users_create(&f->ctx, &pb, "eve@example.test", PC_ROLE_ADMIN, FX_PW, strlen(FX_PW), &tmp, NULL),
	                 PC_ERR_FORBIDDEN);
	struct pc_user *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_users_list(&f->ctx, &pb, &list, &n), PC_ERR_FORBIDDEN);
	struct pc_session *sl = NULL;
	assert_int_equal(pc_sessions_list_of(&f->ctx, &pb, a.id, &sl, &n), PC_ERR_FORBIDDEN);
	assert_int_equal(pc_users_get(&f->ctx, &pb, a.id, &tmp), PC_ERR_FORBIDDEN);
	assert_int_equal(fx_count(f, "authz.denied") - denied, 9);
	struct pc_audit_event ev;
	fx_event(f, "authz.denied", &ev);
	assert_string_equal(ev.actor_user_id, b.id);
	assert_string_equal(ev.resource_type, "user");
	assert_string_equal(ev.resource_id, a.id);
	/* nothing changed; the admin's session lives */
	assert_int_equal(pc_store_user_get(f->ctx.store, a.id, &tmp), PC_OK);
	assert_int_equal(tmp.role, PC_ROLE_ADMIN);
	assert_false(tmp.disabled);
	assert_true(fx_session_alive(f, ha));
	assert_int_equal(pc_store_user_get(f->ctx.store, b.id, &tmp), PC_OK);
	assert_int_equal(tmp.role, PC_ROLE_MEMBER);
	/* what a member may: their own profile and sessions */
	assert_int_equal(pc_users_get(&f->ctx, &pb, b.id, &tmp), PC_OK);
	assert_int_equal(pc_sessions_list_of(&f->ctx, &pb, b.id, &sl, &n), PC_OK);
	assert_int_equal(n, 1);
	free(sl);
	/* not a reset token, even for oneself: a stolen session would set a
	 * password without the current one */
	assert_int_equal(pc_users_reset_issue(&f->ctx, &pb, b.id, token, &exp), PC_ERR_FORBIDDEN);
	assert_int_equal(pc_users_reset_issue(&f->ctx, &pa, b.id, token, &exp), PC_OK);
	sodium_memzero(token, sizeof(token));
	/* the admin may all of it */
	assert_int_equal(pc_sessions_list_of(&f->ctx, &pa, b.id, &sl, &n), PC_OK);
	assert_int_equal(n, 1);
	free(sl);
	assert_int_equal(pc_users_update(&f->ctx, &pa, b.id, &promote_self, &tmp), PC_OK);
	assert_int_equal(tmp.role, PC_ROLE_ADMIN);
}

static void test_last_admin_service(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b, tmp;
	struct pc_principal pa, pb;
	uint8_t ha[32], hb[32];
	two_users(f, &a, &b, &pa, &pb, ha, hb);
	struct pc_user_patch demote = {.has_role = true, .role = PC_ROLE_MEMBER};
	struct pc_user_patch disable = {.has_disabled = true, .disabled = true};
	/* the only admin cannot demote or disable themselves, nor be deleted */
	assert_int_equal(pc_users_update(&f->ctx, &pa, a.id, &demote, &tmp), PC_ERR_LAST_ADMIN);
	assert_int_equal(pc_users_update(&f->ctx, &pa, a.id, &disable, &tmp), PC_ERR_LAST_ADMIN);
	assert_int_equal(pc_users_delete(&f->ctx, &f->sys, a.id), PC_ERR_LAST_ADMIN);
	assert_true(fx_session_alive(f, ha));
	/* with a second admin it may */
	struct pc_user_patch promote = {.has_role = true, .role = PC_ROLE_ADMIN};
	assert_int_equal(pc_users_update(&f->ctx, &pa, b.id, &promote, &tmp), PC_OK);
	assert_int_equal(pc_users_update(&f->ctx, &pa, a.id, &demote, &tmp), PC_OK);
	assert_int_equal(tmp.role, PC_ROLE_MEMBER);
}

static void test_disable(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b, tmp;
	struct pc_principal pa, pb;
	uint8_t ha[32], hb[32];
	two_users(f, &a, &b, &pa, &pb, ha, hb);
	struct pc_token_pair pair;
	int64_t retry = 0;
	assert_int_equal(pc_tokens_login(&f->ctx, &f->anon, "bob@example.test", FX_PW, strlen(FX_PW), &pair, &retry),
	                 PC_OK);
	struct pc_user_patch disable = {.has_disabled = true, .disabled = true};
	assert_int_equal(pc_users_update(&f->ctx, &pa, b.id, &disable, &tmp), PC_OK);
	assert_true(tmp.disabled);
	assert_false(fx_session_alive(f, hb));
	assert_true(fx_session_alive(f, ha));
	/* the refresh family is gone; the access token is revoked */
	uint8_t rh[32];
	assert_int_equal(pc_tokens_refresh_parse(rh, pair.refresh, strlen(pair.refresh)), 0);
	struct pc_token_pair next;
	assert_int_equal(pc_tokens_refresh(&f->ctx, &f->anon, rh, &next, &retry), PC_ERR_NOT_FOUND);
	bool revoked = false;
	assert_int_equal(pc_revocation_check(&f->ctx.auth, pair.jti, &revoked), PC_OK);
	assert_true(revoked);
	/* login: the answer of a wrong password, right password or not */
	struct pc_user u;
	struct pc_session s;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	assert_int_equal(pc_sessions_login(&f->ctx, &f->anon, "bob@example.test", FX_PW, strlen(FX_PW), &u, &s, secret,
	                                   &retry),
	                 PC_ERR_NOT_FOUND);
	assert_int_equal(pc_sessions_login(&f->ctx, &f->anon, "bob@example.test", FX_PW2, strlen(FX_PW2), &u, &s,
	                                   secret, &retry),
	                 PC_ERR_NOT_FOUND);
	assert_int_equal(pc_tokens_login(&f->ctx, &f->anon, "bob@example.test", FX_PW, strlen(FX_PW), &pair, &retry),
	                 PC_ERR_NOT_FOUND);
	/* reversible */
	disable.disabled = false;
	assert_int_equal(pc_users_update(&f->ctx, &pa, b.id, &disable, &tmp), PC_OK);
	assert_int_equal(pc_sessions_login(&f->ctx, &f->anon, "bob@example.test", FX_PW, strlen(FX_PW), &u, &s, secret,
	                                   &retry),
	                 PC_OK);
	sodium_memzero(secret, sizeof(secret));
}

static void test_member_audit_view(void **state)
{
	struct fx *f = *state;
	struct pc_user a, b, c, tmp;
	struct pc_principal pa, pb;
	uint8_t ha[32], hb[32];
	two_users(f, &a, &b, &pa, &pb, ha, hb);
	assert_int_equal(pc_users_create(&f->ctx, &pa, "carol@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &c, NULL),
	                 PC_OK);
	struct pc_user_patch g = {.has_groups = true, .groups = "staff"};
	assert_int_equal(pc_users_update(&f->ctx, &pa, b.id, &g, &tmp), PC_OK);
	struct pc_audit_filter flt = {.limit = 200};
	struct pc_audit_event *list = NULL;
	size_t n = 0, all = 0;
	assert_int_equal(pc_auditlog_list(&f->ctx, &pa, &flt, &list, &all), PC_OK);
	free(list);
	assert_int_equal(pc_auditlog_list(&f->ctx, &pb, &flt, &list, &n), PC_OK);
	assert_true(n > 0 && n < all);
	bool saw_update = false;
	for (size_t i = 0; i < n; i++) {
		bool mine = strcmp(list[i].actor_user_id, b.id) == 0 ||
		            (strcmp(list[i].resource_type, "user") == 0 && strcmp(list[i].resource_id, b.id) == 0);
		assert_true(mine);
		saw_update |= strcmp(list[i].action, "user.update") == 0;
	}
	assert_true(saw_update); /* the admin's change of bob concerns bob */
	free(list);
	/* asking for another actor's events yields none of theirs */
	flt.user_id = a.id;
	assert_int_equal(pc_auditlog_list(&f->ctx, &pb, &flt, &list, &n), PC_OK);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(list[i].resource_id, b.id);
	free(list);
	/* an API key without PORTCULLIS_API_KEYS_CAN_ADMIN reads nothing */
	struct pc_principal k = who(PC_AUTH_API_KEY, PC_ROLE_NONE);
	flt.user_id = NULL;
	assert_int_equal(pc_auditlog_list(&f->ctx, &k, &flt, &list, &n), PC_ERR_FORBIDDEN);
	assert_null(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rights_table, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_member_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_last_admin_service, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_disable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_member_audit_view, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
