/*
 * users.c — users are a shared administration: any authenticated user may
 * list, add and delete users and issue password reset tokens. Changing a
 * password ends the user's other sessions; redeeming a reset token ends all
 * of them.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "auth/cache.h"
#include "api/input.h"
#include "audit/chain.h"
#include "core/b64url.h"
#include "obs/metrics.h"

#define RESET_TOKEN_BYTES 32
#define RESET_TOKEN_TTL 3600
#define RESET_TOKEN_B64 43 /* base64url of 32 bytes, no padding */

struct users_state {
	enum pc_err err;
	struct pc_user user;
	struct pc_user *list;
	size_t n;
	char *password;
	size_t password_len;
	char *new_password;
	size_t new_password_len;
	char id[PC_ID_LEN + 1];
	uint8_t token[RESET_TOKEN_BYTES];
	uint8_t token_hash[32];
	int64_t expires_at;
	bool wrong_password;
	bool bad_token;
	int64_t retry_after;
};

/* ---------- GET /api/v1/users ---------- */

static void list_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	st->err = pc_store_user_list(pc_auth_of(r)->store, &st->list, &st->n);
}

static void list_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		pc_api_store_error(r, st->err, NULL, NULL);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < st->n; i++) {
		json_array_append_new(arr, pc_api_user_json(&st->list[i]));
		sodium_memzero(st->list[i].password_hash, sizeof(st->list[i].password_hash));
	}
	free(st->list);
	pc_respond_json(r, 200, json_pack("{s:o}", "users", arr));
}

void pc_api_users_list(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st != NULL)
		pc_api_defer(r, list_work, list_done, st);
}

/* ---------- POST /api/v1/users ---------- */

static const struct pc_field create_fields[] = {
	{"email", PC_F_STRING, true, 1024},
	{"password", PC_F_STRING, true, PC_PASSWORD_MAX},
};

static void create_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	struct pc_auth *a = pc_auth_of(r);
	pc_random_id(st->user.id);
	st->user.created_at = r->now;
	st->user.password_changed_at = r->now;
	if (pc_password_hash(st->user.password_hash, st->password, st->password_len, &a->cost) != 0) {
		st->err = PC_ERR_INTERNAL;
		return;
	}
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, r->principal, "user.create", "user", st->user.id);
	snprintf(ev.details, sizeof(ev.details), "{\"email\":\"%s\"}", st->user.email);
	st->err = pc_store_user_create(a->store, r->principal, &ev, &st->user);
}

static void create_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	sodium_memzero(st->password, st->password_len);
	if (st->err != PC_OK) {
		pc_api_store_error(r, st->err, NULL, "A user with this email already exists.");
		return;
	}
	char loc[64];
	snprintf(loc, sizeof(loc), "/api/v1/users/%s", st->user.id);
	pc_resp_header(r, "Location", loc);
	pc_respond_json(r, 201, json_pack("{s:o}", "user", pc_api_user_json(&st->user)));
}

void pc_api_users_create(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_input in;
	if (pc_input_or_respond(r, create_fields, 2, &in) != 0)
		return;
	if (pc_email_normalize(st->user.email, sizeof(st->user.email), in.v[0].str.s, in.v[0].str.len) != 0) {
		pc_respond_problem(r, 400, "Field \"email\" is not a valid email address.");
		return;
	}
	const char *why;
	if (pc_password_policy(in.v[1].str.s, in.v[1].str.len, &why) != 0) {
		pc_respond_problem(r, 400, why);
		return;
	}
	st->password = (char *)in.v[1].str.s;
	st->password_len = in.v[1].str.len;
	pc_api_defer(r, create_work, create_done, st);
}

/* ---------- DELETE /api/v1/users/{id} ---------- */

static void delete_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, r->principal, "user.delete", "user", st->id);
	/* revoke first: if the delete then fails, the user only has to log in
	 * again; the other order could leave a deleted user's tokens valid */
	st->err = pc_api_revoke_tokens(r, NULL, NULL, 0, NULL, NULL, st->id);
	if (st->err == PC_OK)
		st->err = pc_store_user_delete(pc_auth_of(r)->store, r->principal, &ev, st->id);
	if (st->err == PC_OK)
		pc_auth_invalidate(pc_auth_of(r), st->id);
}

static void delete_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		pc_api_store_error(r, st->err, "No such user.", "The last user cannot be deleted.");
		return;
	}
	if (strcmp(st->id, r->principal->user_id) == 0)
		pc_api_clear_session_cookie(r);
	pc_respond_empty(r, 204);
}

static int id_param_or_respond(struct pc_req *r, char out[PC_ID_LEN + 1])
{
	struct pc_str id = pc_req_param(r, "id");
	if (!pc_api_id_valid(id)) {
		pc_respond_problem(r, 404, "No such user.");
		return -1;
	}
	memcpy(out, id.p, PC_ID_LEN);
	out[PC_ID_LEN] = '\0';
	return 0;
}

void pc_api_users_delete(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || id_param_or_respond(r, st->id) != 0)
		return;
	pc_api_defer(r, delete_work, delete_done, st);
}

/* ---------- PUT /api/v1/users/me/password ---------- */

static const struct pc_field password_fields[] = {
	{"current_password", PC_F_STRING, true, PC_PASSWORD_MAX},
	{"new_password", PC_F_STRING, true, PC_PASSWORD_MAX},
};

static void password_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	struct pc_auth *a = pc_auth_of(r);
	/* guessing the current password through this route counts as failed logins */
	st->retry_after = pc_api_throttled(r, &a->login_account, r->principal->email);
	if (st->retry_after > 0)
		return;
	st->err = pc_store_user_get(a->store, r->principal->user_id, &st->user);
	if (st->err != PC_OK)
		return;
	if (pc_password_verify(st->user.password_hash, st->password, st->password_len) != 0) {
		st->wrong_password = true;
		pc_api_count_failure(r, &a->login_account, r->principal->email);
		return;
	}
	char h[PC_PWHASH_MAX];
	if (pc_password_hash(h, st->new_password, st->new_password_len, &a->cost) != 0) {
		st->err = PC_ERR_INTERNAL;
		return;
	}
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, r->principal, "user.password_change", "user", st->user.id);
	const char *keep = r->principal->method == PC_AUTH_SESSION ? r->principal->session_id : NULL;
	st->err = pc_api_revoke_tokens(r, NULL, NULL, 0, NULL, NULL, st->user.id);
	if (st->err == PC_OK)
		st->err = pc_store_user_set_password(a->store, r->principal, &ev, st->user.id, h, keep);
	if (st->err == PC_OK)
		pc_auth_invalidate(pc_auth_of(r), st->user.id);
	sodium_memzero(h, sizeof(h));
}

static void password_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	sodium_memzero(st->password, st->password_len);
	sodium_memzero(st->new_password, st->new_password_len);
	sodium_memzero(st->user.password_hash, sizeof(st->user.password_hash));
	if (st->retry_after > 0) {
		pc_api_respond_throttled(r, st->retry_after);
		return;
	}
	if (st->wrong_password) {
		pc_respond_problem(r, 403, "The current password is not correct.");
		return;
	}
	if (st->err != PC_OK) {
		pc_api_store_error(r, st->err, "No such user.", NULL);
		return;
	}
	pc_respond_empty(r, 204);
}

void pc_api_users_password(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	if (r->principal->user_id[0] == '\0') {
		pc_respond_problem(r, 403, "Only a user can change their password.");
		return;
	}
	struct pc_input in;
	if (pc_input_or_respond(r, password_fields, 2, &in) != 0)
		return;
	const char *why;
	if (pc_password_policy(in.v[1].str.s, in.v[1].str.len, &why) != 0) {
		pc_respond_problem(r, 400, why);
		return;
	}
	st->password = (char *)in.v[0].str.s;
	st->password_len = in.v[0].str.len;
	st->new_password = (char *)in.v[1].str.s;
	st->new_password_len = in.v[1].str.len;
	pc_api_defer(r, password_work, password_done, st);
}

/* ---------- POST /api/v1/users/{id}/password-reset ---------- */

static void reset_issue_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	struct pc_auth *a = pc_auth_of(r);
	st->err = pc_store_user_get(a->store, st->id, &st->user);
	if (st->err != PC_OK)
		return;
	sodium_memzero(st->user.password_hash, sizeof(st->user.password_hash));
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, r->principal, "user.password_reset_issue", "user", st->id);
	st->err = pc_store_reset_create(a->store, r->principal, &ev, st->id, st->token_hash, st->expires_at);
}

static void reset_issue_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	if (st->err != PC_OK) {
		sodium_memzero(st->token, sizeof(st->token));
		pc_api_store_error(r, st->err, "No such user.", NULL);
		return;
	}
	char tok[RESET_TOKEN_B64 + 1];
	sodium_bin2base64(tok, sizeof(tok), st->token, sizeof(st->token),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(st->token, sizeof(st->token));
	pc_metrics_inc(PC_CTR_RESET_TOKENS_ISSUED);
	pc_respond_json(r, 201, json_pack("{s:s,s:o,s:s}", "token", tok, "expires_at",
	                                  pc_api_time_json(st->expires_at), "user_id", st->id));
	sodium_memzero(tok, sizeof(tok));
}

void pc_api_users_reset_issue(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || id_param_or_respond(r, st->id) != 0)
		return;
	randombytes_buf(st->token, sizeof(st->token));
	crypto_generichash(st->token_hash, sizeof(st->token_hash), st->token, sizeof(st->token), NULL, 0);
	st->expires_at = r->now + RESET_TOKEN_TTL;
	pc_api_defer(r, reset_issue_work, reset_issue_done, st);
}

/* ---------- POST /api/v1/auth/password-reset ---------- */

static const struct pc_field redeem_fields[] = {
	{"token", PC_F_STRING, true, 256},
	{"new_password", PC_F_STRING, true, PC_PASSWORD_MAX},
};

static void redeem_work(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	struct pc_auth *a = pc_auth_of(r);
	st->retry_after = pc_api_throttled(r, &a->reset_addr, r->actor->client_addr);
	if (st->retry_after > 0)
		return;
	if (st->bad_token) {
		pc_api_count_failure(r, &a->reset_addr, r->actor->client_addr);
		return;
	}
	char h[PC_PWHASH_MAX];
	if (pc_password_hash(h, st->new_password, st->new_password_len, &a->cost) != 0) {
		st->err = PC_ERR_INTERNAL;
		return;
	}
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, r->actor, "user.password_reset", "user", "");
	st->err = pc_store_reset_redeem(a->store, r->actor, &ev, st->token_hash, h, r->now, st->id);
	if (st->err == PC_ERR_NOT_FOUND)
		pc_api_count_failure(r, &a->reset_addr, r->actor->client_addr);
	if (st->err == PC_OK) {
		pc_auth_invalidate(pc_auth_of(r), st->id);
		(void)pc_api_revoke_tokens(r, NULL, NULL, 0, NULL, NULL, st->id);
	}
	sodium_memzero(h, sizeof(h));
}

static void redeem_done(struct pc_req *r, void *data)
{
	struct users_state *st = data;
	sodium_memzero(st->new_password, st->new_password_len);
	if (st->retry_after > 0) {
		pc_api_respond_throttled(r, st->retry_after);
		return;
	}
	if (st->bad_token || st->err == PC_ERR_NOT_FOUND) {
		pc_respond_problem(r, 400, "The reset token is not valid, used or expired.");
		return;
	}
	if (st->err != PC_OK) {
		pc_api_store_error(r, st->err, NULL, NULL);
		return;
	}
	pc_respond_empty(r, 204);
}

void pc_api_password_reset(struct pc_req *r)
{
	struct users_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL)
		return;
	struct pc_input in;
	if (pc_input_or_respond(r, redeem_fields, 2, &in) != 0)
		return;
	const char *why;
	if (pc_password_policy(in.v[1].str.s, in.v[1].str.len, &why) != 0) {
		pc_respond_problem(r, 400, why);
		return;
	}
	size_t bin_len = 0;
	if (in.v[0].str.len != RESET_TOKEN_B64 ||
	    pc_b64url_decode(st->token, sizeof(st->token), &bin_len, in.v[0].str.s, in.v[0].str.len) != 0 ||
	    bin_len != sizeof(st->token)) {
		/* counted on the worker pool like any other bad token */
		st->bad_token = true;
		pc_api_defer(r, redeem_work, redeem_done, st);
		return;
	}
	crypto_generichash(st->token_hash, sizeof(st->token_hash), st->token, sizeof(st->token), NULL, 0);
	sodium_memzero(st->token, sizeof(st->token));
	st->new_password = (char *)in.v[1].str.s;
	st->new_password_len = in.v[1].str.len;
	pc_api_defer(r, redeem_work, redeem_done, st);
}
