/*
 * principal.h — who is acting (the type every layer passes down).
 *
 * A struct pc_principal is created only by the authentication step (or by
 * a successful login/setup, which authenticates), is const everywhere
 * after, and is the first argument of every store and service function that
 * changes state, so the audit trail always knows its actor. An anonymous
 * actor (setup, login attempts, password-reset redemption) is a principal
 * with method PC_AUTH_ANONYMOUS and no user: it still carries the client
 * address and user agent the audit trail records.
 */
#ifndef PC_CORE_PRINCIPAL_H
#define PC_CORE_PRINCIPAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"

enum pc_auth_method {
	PC_AUTH_ANONYMOUS = 0,
	PC_AUTH_SESSION,
	PC_AUTH_JWT,
	PC_AUTH_API_KEY,
	PC_AUTH_SYSTEM, /* the command line (user add) */
};

/* A user's role (issue 15). Stored as its name; NONE is no user (anonymous,
 * an API key, which authenticates as itself). */
enum pc_role {
	PC_ROLE_NONE = 0,
	PC_ROLE_MEMBER,
	PC_ROLE_ADMIN,
};

/* How a session or token family signed in (its `factors` record): the
 * value is the factor count for 1 and 2, and every value from 2 up counts
 * as two factors; the kind decides the access token's amr (RFC 8176). */
#define PC_FACTORS_PWD 1     /* password: amr ["pwd"] */
#define PC_FACTORS_PWD_OTP 2 /* password + TOTP or recovery code: ["pwd","otp","mfa"] */
#define PC_FACTORS_PWD_HWK 3 /* password + passkey: ["pwd","hwk","mfa"] */
#define PC_FACTORS_HWK 4     /* a passkey alone, user verified: ["hwk","mfa"] */
/* the same with a synced passkey (its BE flag: backup eligible, the key
 * can leave the device): "swk", software-secured key, for "hwk" */
#define PC_FACTORS_PWD_SWK 5 /* ["pwd","swk","mfa"] */
#define PC_FACTORS_SWK 6     /* ["swk","mfa"] */
#define PC_FACTORS_MAX 6
/* A stored or carried record as one of the above (unknown: password only). */
#define PC_FACTORS_OF(v) ((v) >= 2 && (v) <= PC_FACTORS_MAX ? (unsigned)(v) : 1u)

struct pc_principal {
	enum pc_auth_method method;
	enum pc_role role;              /* the user's at authentication; SYSTEM: admin */
	char user_id[PC_ID_LEN + 1];    /* "" when anonymous or API key */
	char email[PC_EMAIL_MAX + 1];   /* "" when anonymous */
	char session_id[PC_ID_LEN + 1]; /* public session id (cookie, or the JWT's sid) / API key id */
	char token_jti[PC_JTI_MAX + 1]; /* JWT: the access token's jti, for logout */
	int64_t token_exp;              /* JWT: its exp */
	int64_t authenticated_at;       /* unix seconds */
	unsigned factors;               /* sessions and JWTs: PC_FACTORS_* (>= 2: two factors) */
	char client_addr[PC_CLIENT_ADDR_MAX];
	char user_agent[PC_UA_MAX + 1];
	char request_id[33];            /* the HTTP request's X-Request-Id; "" off HTTP */
	char groups[PC_USER_GROUPS_TEXT + 1]; /* the user's, joined by ',' ("" : none) */
	char name[PC_USER_NAME_MAX + 1];      /* sessions: the user's display name ("" : none) */
	char key_name[PC_APIKEY_NAME_MAX + 1]; /* API key: its name */
	bool must_enrol;                /* a pending session that may only set up a second factor */
};

/* "admin", "member" ("" for NONE). */
const char *pc_role_name(enum pc_role r);
/* The role named by s (n bytes): 0, or -1 when it names none. */
PC_MUST_USE int pc_role_parse(enum pc_role *out, const char *s, size_t n);

const char *pc_auth_method_name(enum pc_auth_method m);

/* Fresh random id: 32 lowercase hex chars + NUL. */
void pc_random_id(char out[PC_ID_LEN + 1]);

#endif
