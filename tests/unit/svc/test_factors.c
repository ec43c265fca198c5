/* test_factors.c — svc/factors.c driven without HTTP, on a fixed clock:
 * enrol and confirm (the confirming step is spent), the sealed secret bound
 * to its row (a sealed secret moved to another user's row does not open),
 * the second step (replay refused, a recovery code typed in lower case with
 * spaces accepted once), a pending login, and removal needing the password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "svc_fx.h"

#include <sqlite3.h>

#include "core/base32.h"
#include "core/otp.h"
#include "svc/factors.h"

static int64_t fixed_now = 1800000015;
static int64_t clk(void)
{
	return fixed_now;
}

/* The code of the base32 secret at step offset d from now. */
static void code_at(char out[7], const char *b32, int d)
{
	uint8_t key[64];
	size_t n = 0;
	assert_int_equal(pc_base32_decode(key, sizeof(key), &n, b32, strlen(b32)), 0);
	assert_int_equal(pc_hotp(out, 7, key, n, PC_OTP_SHA1, pc_totp_step(fixed_now, 30) + (uint64_t)(int64_t)d, 6), 0);
	sodium_memzero(key, sizeof(key));
}

static void enrol(struct fx *f, const struct pc_principal *p, struct pc_totp_enrolment *en)
{
	assert_int_equal(pc_factors_totp_enrol(&f->ctx, p, en), PC_OK);
	assert_int_equal(strlen(en->secret), 32);
	assert_non_null(strstr(en->uri, en->secret));
}

static void test_enrol_confirm_second_step(void **state)
{
	struct fx *f = *state;
	f->ctx.clock = clk;
	struct pc_user u;
	fx_first_user(f, "admin@example.test", &u);
	struct pc_principal p;
	fx_login(f, "admin@example.test", FX_PW, &p, NULL);
	struct pc_totp_enrolment en;
	enrol(f, &p, &en);
	struct pc_factors_info info;
	assert_int_equal(pc_factors_list(&f->ctx, &p, &info), PC_OK);
	assert_true(info.totp_pending && !info.totp);
	pc_recovery_codes codes;
	int64_t retry = 0;
	char c[7];
	assert_int_equal(pc_factors_totp_confirm(&f->ctx, &p, "000000", 6, codes, &retry),
	                 PC_ERR_NOT_FOUND); /* (one in a million: the right code) */
	code_at(c, en.secret, -1);
	assert_int_equal(pc_factors_totp_confirm(&f->ctx, &p, c, 6, codes, &retry), PC_OK);
	assert_int_equal(strlen(codes[0]), 11);
	assert_int_equal(pc_factors_list(&f->ctx, &p, &info), PC_OK);
	assert_true(info.totp && !info.totp_pending);
	assert_int_equal(info.recovery_left, PC_RECOVERY_CODES);
	char uri[PC_TOTP_URI_MAX];
	assert_int_equal(pc_factors_totp_pending_uri(&f->ctx, &p, uri), PC_ERR_NOT_FOUND);

	/* a password login now waits for the second step */
	struct pc_user lu;
	struct pc_session s;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	assert_int_equal(pc_sessions_login(&f->ctx, &f->anon, "admin@example.test", FX_PW, strlen(FX_PW), &lu, &s,
	                                   secret, &retry),
	                 PC_OK);
	assert_true(s.pending);
	assert_int_equal(s.expires_at, fixed_now + PC_PENDING_SESSION_S);
	struct pc_principal pending;
	pc_svc_session_principal(&pending, &f->anon, &lu, &s);
	/* the confirming step is spent: its code cannot finish a sign-in */
	struct pc_session full;
	uint8_t fsecret[PC_SESSION_SECRET_BYTES];
	assert_int_equal(pc_factors_second_step(&f->ctx, &pending, PC_FACTOR_TOTP, c, 6, &lu, &full, fsecret, &retry),
	                 PC_ERR_NOT_FOUND);
	code_at(c, en.secret, 0);
	assert_int_equal(pc_factors_second_step(&f->ctx, &pending, PC_FACTOR_TOTP, c, 6, &lu, &full, fsecret, &retry),
	                 PC_OK);
	assert_string_not_equal(full.id, s.id);
	assert_int_equal(full.factors, 2);
	assert_int_equal(full.second_factor_at, fixed_now);
	/* the pending session is gone: the same step again has nothing to finish, and is a replay anyway */
	assert_int_equal(pc_factors_check(&f->ctx, &pending, u.id, PC_FACTOR_TOTP, c, 6, &retry), PC_ERR_NOT_FOUND);
	/* a recovery code as people type it, once */
	char typed[32];
	snprintf(typed, sizeof(typed), " %.5s %.5s ", codes[3], codes[3] + 6);
	for (char *q = typed; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	assert_int_equal(pc_factors_check(&f->ctx, &pending, u.id, PC_FACTOR_RECOVERY, typed, strlen(typed), &retry),
	                 PC_OK);
	assert_int_equal(pc_factors_check(&f->ctx, &pending, u.id, PC_FACTOR_RECOVERY, typed, strlen(typed), &retry),
	                 PC_ERR_NOT_FOUND);
	/* removal: the password, not another */
	assert_int_equal(pc_factors_totp_delete(&f->ctx, &p, FX_PW2, strlen(FX_PW2), &retry), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_factors_totp_delete(&f->ctx, &p, FX_PW, strlen(FX_PW), &retry), PC_OK);
	bool active = true;
	assert_int_equal(pc_factors_active(&f->ctx, u.id, &active), PC_OK);
	assert_false(active);
	sodium_memzero(codes, sizeof(codes));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(fsecret, sizeof(fsecret));
}

/* The row id is the associated data: a sealed secret copied into another
 * user's row opens for neither code. */
static void test_sealed_secret_bound_to_row(void **state)
{
	struct fx *f = *state;
	f->ctx.clock = clk;
	struct pc_user a, b;
	fx_first_user(f, "a@example.test", &a);
	assert_int_equal(pc_users_add(&f->ctx, &f->sys, "b@example.test", PC_ROLE_MEMBER, FX_PW, strlen(FX_PW), &b, NULL), PC_OK);
	struct pc_principal pa, pb;
	fx_login(f, "a@example.test", FX_PW, &pa, NULL);
	fx_login(f, "b@example.test", FX_PW, &pb, NULL);
	struct pc_totp_enrolment ea, eb;
	enrol(f, &pa, &ea);
	enrol(f, &pb, &eb);
	char path[128], sql[512];
	snprintf(path, sizeof(path), "%s/pc.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
	         "UPDATE totp_credentials SET secret_sealed = (SELECT secret_sealed FROM totp_credentials WHERE "
	         "user_id = '%s') WHERE user_id = '%s'",
	         b.id, a.id);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	pc_recovery_codes codes;
	int64_t retry = 0;
	char c[7];
	code_at(c, eb.secret, 0);
	assert_int_equal(pc_factors_totp_confirm(&f->ctx, &pa, c, 6, codes, &retry), PC_ERR_NOT_FOUND);
	code_at(c, ea.secret, 0);
	assert_int_equal(pc_factors_totp_confirm(&f->ctx, &pa, c, 6, codes, &retry), PC_ERR_NOT_FOUND);
	char uri[PC_TOTP_URI_MAX];
	assert_int_equal(pc_factors_totp_pending_uri(&f->ctx, &pa, uri), PC_ERR_INTERNAL);
	/* b's own row still opens */
	code_at(c, eb.secret, 0);
	assert_int_equal(pc_factors_totp_confirm(&f->ctx, &pb, c, 6, codes, &retry), PC_OK);
	sodium_memzero(codes, sizeof(codes));
}

static void test_recovery_normalize(void **state)
{
	(void)state;
	char out[11];
	assert_int_equal(pc_recovery_normalize(out, "abcde-fghjk", 11), 0);
	assert_string_equal(out, "ABCDEFGHJK");
	assert_int_equal(pc_recovery_normalize(out, "o1l2i 3456-7", 12), 0);
	assert_string_equal(out, "0112134567");
	assert_int_equal(pc_recovery_normalize(out, "ABCDE-FGHJ", 10), -1);   /* 9 */
	assert_int_equal(pc_recovery_normalize(out, "ABCDE-FGHJKM", 12), -1); /* 11 */
	assert_int_equal(pc_recovery_normalize(out, "ABCDE-FGHJU", 11), -1);  /* U: not Crockford */
	assert_int_equal(pc_recovery_normalize(out, "ABCDE\0FGHJK", 11), -1);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enrol_confirm_second_step, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sealed_secret_bound_to_row, fx_setup, fx_teardown),
		cmocka_unit_test(test_recovery_normalize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
