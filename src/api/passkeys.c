/*
 * passkeys.c — passkeys over HTTP: registration options and finish, list,
 * rename, delete (users/me/passkeys); the passkey second step of a sign-in
 * (auth/second-factor/passkey) and the passwordless sign-in (auth/passkey).
 *
 * HTTP only: the rules are svc/passkeys.c's, run on the worker pool. A
 * browser's answer (navigator.credentials.create/get) comes flattened,
 * every binary field base64url without padding (decoded strictly, each
 * bounded by auth/webauthn.h's maxima before it is decoded): {id,
 * clientDataJSON, attestationObject, transports?, name?} for a
 * registration, {id, clientDataJSON, authenticatorData, signature,
 * userHandle?} for an assertion. Every refusal is one 400 passkey-refused
 * (the audit trail holds the reason), never a 500.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/docs.h"
#include "api/input.h"
#include "auth/csrf.h"
#include "core/b64url.h"
#include "core/text.h"
#include "svc/factors.h"
#include "svc/passkeys.h"

#define B64_OF(n) (((n) * 4 + 2) / 3) /* unpadded base64url length of n bytes */

struct passkeys_state {
	enum pc_err err;
	enum pc_wa_why why;
	int64_t retry_after;
	int alg;
	json_t *options;
	struct pc_passkey key;
	struct pc_passkey *list;
	size_t n;
	char id[PC_ID_LEN + 1];
	char name[PC_PASSKEY_NAME_MAX + 1];
	char transports[PC_PASSKEY_TRANSPORTS_MAX + 1];
	char binding[48];
	struct pc_secret proof;
	struct pc_wa_response resp;
	uint8_t clientdata[PC_WA_CLIENTDATA_MAX];
	uint8_t attestation[PC_WA_ATTOBJ_MAX];
	uint8_t authdata[PC_WA_AUTHDATA_MAX];
	uint8_t signature[PC_WA_SIG_MAX];
	uint8_t user_handle[64];
	struct pc_user user;
	struct pc_session sess;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	enum pc_err enrol_err; /* the sign-in that waited for this passkey: promoted? */
};

static const char off_detail[] = "Passkeys are not configured here (PORTCULLIS_PUBLIC_URL).";

static bool on_or_respond(struct pc_req *r)
{
	if (!pc_passkeys_on(pc_svc_of(r))) {
		pc_respond_problem(r, 404, off_detail);
		return false;
	}
	return true;
}

static struct passkeys_state *user_state_or_respond(struct pc_req *r)
{
	if (r->principal->user_id[0] == '\0') {
		pc_respond_problem(r, 403, "Only a user has passkeys.");
		return NULL;
	}
	return pc_api_state_or_respond(r, sizeof(struct passkeys_state));
}

static json_t *passkey_json(const struct pc_passkey *k)
{
	return json_pack("{s:s,s:s,s:s,s:i,s:s,s:I,s:o,s:o,s:b,s:b}", "id", k->id, "name", k->name, "credential_id",
	                 k->credential_id, "alg", (int)k->alg, "transports", k->transports, "sign_count",
	                 (json_int_t)k->sign_count, "created_at", pc_api_time_json(k->created_at), "last_used_at",
	                 k->last_used_at ? pc_api_time_json(k->last_used_at) : json_null(), "user_verified",
	                 (k->flags & PC_WA_FLAG_UV) != 0, "backup_eligible", (k->flags & PC_WA_FLAG_BE) != 0);
}

/* Decodes a base64url field into out (cap bytes); 0, or -1 after answering. */
static int b64_field_or_respond(struct pc_req *r, const char *field, const char *s, size_t len, uint8_t *out,
                                size_t cap, size_t *n)
{
	char detail[128];
	*n = 0;
	if (len > B64_OF(cap) || pc_b64url_decode(out, cap, n, s, len) != 0 || *n == 0) {
		snprintf(detail, sizeof(detail), "Field \"%s\" must be unpadded base64url of 1 to %zu bytes.", field, cap);
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, detail);
		return -1;
	}
	return 0;
}

/* The credential id as the store keeps it: the canonical base64url of 1 to
 * 1023 bytes. */
static int cred_id_or_respond(struct pc_req *r, struct passkeys_state *st, const char *s, size_t len)
{
	uint8_t raw[PC_WA_CRED_ID_MAX];
	size_t n = 0;
	if (b64_field_or_respond(r, "id", s, len, raw, sizeof(raw), &n) != 0)
		return -1;
	pc_b64url_encode(st->resp.credential_id, sizeof(st->resp.credential_id), raw, n);
	return 0;
}

static int name_ok(const char *s, size_t len)
{
	if (len > PC_PASSKEY_NAME_MAX || !pc_utf8_valid(s, len))
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9f))
			return -1;
	}
	return 0;
}

static int name_or_respond(struct pc_req *r, char out[PC_PASSKEY_NAME_MAX + 1], const char *s, size_t len,
                           bool empty_ok)
{
	if ((!empty_ok && len == 0) || name_ok(s, len) != 0) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY,
		                        "Field \"name\" must be up to 64 bytes of UTF-8 without control characters.");
		return -1;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static void refused(struct pc_req *r, struct passkeys_state *st, const char *ceremony)
{
	char detail[200];
	if (st->err == PC_ERR_NOT_FOUND && st->why != PC_WA_OK) {
		snprintf(detail, sizeof(detail), "The passkey %s was refused (%s).", ceremony,
		         /* a registration may say why; a sign-in says nothing of the account */
		         strcmp(ceremony, "registration") == 0 ? pc_wa_why_name(st->why) : "see the audit trail");
		pc_respond_problem_kind(r, PC_PROB_PASSKEY_REFUSED, detail);
		return;
	}
	pc_api_error(r, st->err,
	             &(struct pc_api_say){.not_found = off_detail,
	                                  .conflict = "This passkey is registered already, or you have 16 passkeys.",
	                                  .throttled = "Too many attempts; try again later.",
	                                  .retry_after = st->retry_after});
}

/* ---------- POST /api/v1/users/me/passkeys/options ---------- */

static const struct pc_field options_fields[] = {
	{"alg", PC_F_INT, false, 0},
	{"password", PC_F_SECRET, false, PC_PASSWORD_MAX},
	{"code", PC_F_SECRET, false, 64},
};
const struct pc_fields pc_api_fields_passkey_options = PC_FIELDS(options_fields);

static void reg_options_work(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	st->err = pc_passkeys_register_options(pc_svc_of(r), r->principal, st->alg, st->proof.s, st->proof.len,
	                                       &st->retry_after, &st->options);
}

static void reg_options_done(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	if (st->err == PC_ERR_NOT_FOUND && pc_passkeys_on(pc_svc_of(r))) {
		pc_respond_problem(r, 404, "The password or code is wrong.");
		return;
	}
	if (st->err != PC_OK) {
		refused(r, st, "options");
		return;
	}
	pc_respond_json(r, 200, json_pack("{s:o}", "publicKey", st->options));
}

static void options_done(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	if (st->err != PC_OK) {
		refused(r, st, "options");
		return;
	}
	pc_respond_json(r, 200, json_pack("{s:o}", "publicKey", st->options));
}

void pc_api_passkeys_options(struct pc_req *r)
{
	struct passkeys_state *st = user_state_or_respond(r);
	struct pc_input in;
	if (st == NULL || !on_or_respond(r) || pc_input_or_respond(r, options_fields, 3, &in) != 0)
		return;
	/* range-checked as 64 bits before it is an int (2^32 - 7 is not -7) */
	if (in.present[0] && (in.v[0].i < INT32_MIN || in.v[0].i > INT32_MAX || !pc_wa_alg_known((int)in.v[0].i))) {
		pc_input_wipe(&in);
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"alg\" must be -7 (ES256), -8 (EdDSA) or -257 (RS256).");
		return;
	}
	if (in.present[1] == in.present[2] && !(r->principal->must_enrol && !in.present[1])) {
		pc_input_wipe(&in);
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY,
		                        "Prove it is you: give either \"password\" or a current TOTP \"code\".");
		return;
	}
	st->alg = in.present[0] ? (int)in.v[0].i : 0;
	if (in.present[1] || in.present[2])
		pc_input_take(&in, in.present[1] ? 1 : 2, &st->proof);
	pc_input_wipe(&in);
	pc_api_defer_secrets(r, reg_options_work, reg_options_done, st, &st->proof, 1);
}

/* ---------- POST /api/v1/users/me/passkeys ---------- */

static const struct pc_field register_fields[] = {
	{"id", PC_F_STRING, true, B64_OF(PC_WA_CRED_ID_MAX)},
	{"clientDataJSON", PC_F_STRING, true, B64_OF(PC_WA_CLIENTDATA_MAX)},
	{"attestationObject", PC_F_STRING, true, B64_OF(PC_WA_ATTOBJ_MAX)},
	{"transports", PC_F_STRING, false, PC_PASSKEY_TRANSPORTS_MAX},
	{"name", PC_F_STRING, false, PC_PASSKEY_NAME_MAX},
};
const struct pc_fields pc_api_fields_passkey_register = PC_FIELDS(register_fields);

static void register_work(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	st->err = pc_passkeys_register_finish(pc_svc_of(r), r->principal, &st->resp, st->name, st->transports, &st->key,
	                                      &st->why);
	/* a sign-in that waited for this: its session becomes a full one */
	if (st->err == PC_OK && r->principal->must_enrol)
		st->enrol_err = pc_factors_enrol_finish(pc_svc_of(r), r->principal, "passkey",
		                                        (st->key.flags & PC_WA_FLAG_BE) ? PC_FACTORS_PWD_SWK
		                                                                        : PC_FACTORS_PWD_HWK,
		                                        &st->sess, st->secret);
}

static void register_done(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	if (st->err != PC_OK) {
		refused(r, st, "registration");
		return;
	}
	if (r->principal->must_enrol && st->enrol_err == PC_OK &&
	    pc_api_session_cookie_or_respond(r, st->secret, &st->sess) != 0)
		return;
	pc_respond_json(r, 201, passkey_json(&st->key));
}

void pc_api_passkeys_register(struct pc_req *r)
{
	struct passkeys_state *st = user_state_or_respond(r);
	struct pc_input in;
	if (st == NULL || !on_or_respond(r) || pc_input_or_respond(r, register_fields, 5, &in) != 0)
		return;
	const char *tr = in.present[3] ? in.v[3].str.s : "";
	if (strspn(tr, "abcdefghijklmnopqrstuvwxyz-,") != strlen(tr)) {
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Field \"transports\" must be names like usb,internal.");
		return;
	}
	snprintf(st->transports, sizeof(st->transports), "%s", tr);
	if (cred_id_or_respond(r, st, in.v[0].str.s, in.v[0].str.len) != 0 ||
	    b64_field_or_respond(r, "clientDataJSON", in.v[1].str.s, in.v[1].str.len, st->clientdata,
	                         sizeof(st->clientdata), &st->resp.clientdata_len) != 0 ||
	    b64_field_or_respond(r, "attestationObject", in.v[2].str.s, in.v[2].str.len, st->attestation,
	                         sizeof(st->attestation), &st->resp.attestation_len) != 0 ||
	    name_or_respond(r, st->name, in.present[4] ? in.v[4].str.s : "", in.present[4] ? in.v[4].str.len : 0,
	                    true) != 0)
		return;
	st->resp.clientdata = st->clientdata;
	st->resp.attestation = st->attestation;
	pc_api_defer(r, register_work, register_done, st);
}

/* ---------- GET /api/v1/users/me/passkeys ---------- */

static void list_work(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	st->err = pc_passkeys_list(pc_svc_of(r), r->principal, &st->list, &st->n);
}

static void list_done(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err, NULL);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(arr, passkey_json(&st->list[i]));
	free(st->list);
	st->list = NULL;
	pc_respond_json(r, 200, json_pack("{s:o,s:b}", "passkeys", arr, "enabled", pc_passkeys_on(pc_svc_of(r))));
}

void pc_api_passkeys_list(struct pc_req *r)
{
	struct passkeys_state *st = user_state_or_respond(r);
	if (st != NULL)
		pc_api_defer(r, list_work, list_done, st);
}

/* ---------- PATCH, DELETE /api/v1/users/me/passkeys/{id} ---------- */

static int id_or_respond(struct pc_req *r, char out[PC_ID_LEN + 1])
{
	struct pc_str id = pc_req_param(r, "id");
	if (!pc_api_id_valid(id)) {
		pc_respond_problem(r, 404, "No such passkey.");
		return -1;
	}
	memcpy(out, id.p, PC_ID_LEN);
	out[PC_ID_LEN] = '\0';
	return 0;
}

static const struct pc_field rename_fields[] = {{"name", PC_F_STRING, true, PC_PASSKEY_NAME_MAX}};
const struct pc_fields pc_api_fields_passkey_rename = PC_FIELDS(rename_fields);

static void rename_work(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	st->err = pc_passkeys_rename(pc_svc_of(r), r->principal, st->id, st->name);
}

static void changed_done(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	if (st->err != PC_OK) {
		pc_api_error(r, st->err,
		             &(struct pc_api_say){.not_found = "No such passkey, or the password or code is wrong.",
		                                  .retry_after = st->retry_after});
		return;
	}
	pc_respond_empty(r, 204);
}

void pc_api_passkeys_rename(struct pc_req *r)
{
	struct passkeys_state *st = user_state_or_respond(r);
	struct pc_input in;
	if (st == NULL || id_or_respond(r, st->id) != 0 || pc_input_or_respond(r, rename_fields, 1, &in) != 0 ||
	    name_or_respond(r, st->name, in.v[0].str.s, in.v[0].str.len, false) != 0)
		return;
	pc_api_defer(r, rename_work, changed_done, st);
}

static const struct pc_field delete_fields[] = {
	{"password", PC_F_SECRET, false, PC_PASSWORD_MAX},
	{"code", PC_F_SECRET, false, 64},
};
const struct pc_fields pc_api_fields_passkey_delete = PC_FIELDS(delete_fields);

static void delete_work(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	st->err = pc_passkeys_delete(pc_svc_of(r), r->principal, st->id, st->proof.s, st->proof.len, &st->retry_after);
}

void pc_api_passkeys_delete(struct pc_req *r)
{
	struct passkeys_state *st = user_state_or_respond(r);
	struct pc_input in;
	if (st == NULL || id_or_respond(r, st->id) != 0 || pc_input_or_respond(r, delete_fields, 2, &in) != 0)
		return;
	if (in.present[0] == in.present[1]) {
		pc_input_wipe(&in);
		pc_respond_problem_kind(r, PC_PROB_INVALID_BODY, "Give either \"password\" or \"code\".");
		return;
	}
	pc_input_take(&in, in.present[0] ? 0 : 1, &st->proof);
	pc_input_wipe(&in);
	pc_api_defer_secrets(r, delete_work, changed_done, st, &st->proof, 1);
}

/* ---------- assertions: second step and passwordless sign-in ---------- */

static const struct pc_field assert_fields[] = {
	{"id", PC_F_STRING, true, B64_OF(PC_WA_CRED_ID_MAX)},
	{"clientDataJSON", PC_F_STRING, true, B64_OF(PC_WA_CLIENTDATA_MAX)},
	{"authenticatorData", PC_F_STRING, true, B64_OF(PC_WA_AUTHDATA_MAX)},
	{"signature", PC_F_STRING, true, B64_OF(PC_WA_SIG_MAX)},
	{"userHandle", PC_F_STRING, false, B64_OF(64)},
};
const struct pc_fields pc_api_fields_passkey_assertion = PC_FIELDS(assert_fields);

static int assertion_or_respond(struct pc_req *r, struct passkeys_state *st)
{
	struct pc_input in;
	if (pc_input_or_respond(r, assert_fields, 5, &in) != 0)
		return -1;
	if (cred_id_or_respond(r, st, in.v[0].str.s, in.v[0].str.len) != 0 ||
	    b64_field_or_respond(r, "clientDataJSON", in.v[1].str.s, in.v[1].str.len, st->clientdata,
	                         sizeof(st->clientdata), &st->resp.clientdata_len) != 0 ||
	    b64_field_or_respond(r, "authenticatorData", in.v[2].str.s, in.v[2].str.len, st->authdata,
	                         sizeof(st->authdata), &st->resp.authdata_len) != 0 ||
	    b64_field_or_respond(r, "signature", in.v[3].str.s, in.v[3].str.len, st->signature, sizeof(st->signature),
	                         &st->resp.signature_len) != 0)
		return -1;
	if (in.present[4] && in.v[4].str.len > 0) {
		if (b64_field_or_respond(r, "userHandle", in.v[4].str.s, in.v[4].str.len, st->user_handle,
		                         sizeof(st->user_handle), &st->resp.user_handle_len) != 0)
			return -1;
		st->resp.user_handle = st->user_handle;
	}
	st->resp.clientdata = st->clientdata;
	st->resp.authdata = st->authdata;
	st->resp.signature = st->signature;
	return 0;
}

/* The pending session, or -1 after answering 401. */
static int pending_or_respond(struct pc_req *r)
{
	if (r->pending != NULL)
		return 0;
	pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
	pc_respond_problem(r, 401, "No sign-in is waiting for a second factor; sign in with your password first.");
	return -1;
}

static void second_options_work(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	st->err = pc_passkeys_assert_options(pc_svc_of(r), r->pending, PC_WA_PURPOSE_SECOND, r->pending->session_id,
	                                     r->pending->user_id, &st->options, &st->retry_after);
}

void pc_api_passkey_second_options(struct pc_req *r)
{
	struct passkeys_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || !on_or_respond(r) || pending_or_respond(r) != 0)
		return;
	pc_api_defer(r, second_options_work, options_done, st);
}

static void second_work(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	st->err = pc_passkeys_second_step(pc_svc_of(r), r->pending, &st->resp, &st->user, &st->sess, st->secret,
	                                  &st->retry_after, &st->why);
}

static void session_done(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	if (st->err != PC_OK) {
		sodium_memzero(st->secret, sizeof(st->secret));
		refused(r, st, "sign-in");
		return;
	}
	if (pc_api_session_cookie_or_respond(r, st->secret, &st->sess) != 0)
		return;
	pc_respond_json(r, 200, json_pack("{s:o,s:i,s:s}", "user", pc_api_user_json(&st->user), "factors", 2, "method",
	                                  "passkey"));
}

void pc_api_passkey_second(struct pc_req *r)
{
	struct passkeys_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || !on_or_respond(r) || assertion_or_respond(r, st) != 0 || pending_or_respond(r) != 0)
		return;
	pc_api_defer(r, second_work, session_done, st);
}

/* The pre-session this anonymous browser holds (its CSRF check passed with
 * it), as a binding: "p:" and 32 hex digits of BLAKE2b of the id. */
static int presession_or_respond(struct pc_req *r, char out[48])
{
	const struct pc_http_cookie *ck = pc_http_cookie_get(r->http, PC_CSRF_PRESESSION_COOKIE);
	if (ck == NULL || !pc_csrf_presession_valid(ck->value.p, ck->value.len)) {
		pc_respond_problem_kind(r, PC_PROB_CSRF_FAILED,
		                        "Get a CSRF token first (GET /api/v1/auth/csrf-token): it sets the pre-session.");
		return -1;
	}
	uint8_t h[16];
	crypto_generichash(h, sizeof(h), (const uint8_t *)ck->value.p, ck->value.len, NULL, 0);
	memcpy(out, "p:", 2);
	sodium_bin2hex(out + 2, 46, h, sizeof(h));
	return 0;
}

static void signin_options_work(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	st->err = pc_passkeys_assert_options(pc_svc_of(r), r->actor, PC_WA_PURPOSE_SIGNIN, st->binding, NULL,
	                                     &st->options, &st->retry_after);
}

void pc_api_passkey_signin_options(struct pc_req *r)
{
	struct passkeys_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || !on_or_respond(r) || presession_or_respond(r, st->binding) != 0)
		return;
	pc_api_defer(r, signin_options_work, options_done, st);
}

static void signin_work(struct pc_req *r, void *data)
{
	struct passkeys_state *st = data;
	st->err = pc_passkeys_signin(pc_svc_of(r), r->actor, st->binding, &st->resp, &st->user, &st->sess, st->secret,
	                             &st->retry_after, &st->why);
}

void pc_api_passkey_signin(struct pc_req *r)
{
	struct passkeys_state *st = pc_api_state_or_respond(r, sizeof(*st));
	if (st == NULL || !on_or_respond(r) || assertion_or_respond(r, st) != 0 ||
	    presession_or_respond(r, st->binding) != 0)
		return;
	pc_api_defer(r, signin_work, session_done, st);
}
