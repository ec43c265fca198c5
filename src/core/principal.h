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

#include "core/limits.h"

enum pc_auth_method {
	PC_AUTH_ANONYMOUS = 0,
	PC_AUTH_SESSION,
	PC_AUTH_JWT,
	PC_AUTH_API_KEY,
	PC_AUTH_SYSTEM, /* the command line (user add) */
};

struct pc_principal {
	enum pc_auth_method method;
	char user_id[PC_ID_LEN + 1];    /* "" when anonymous or API key */
	char email[PC_EMAIL_MAX + 1];   /* "" when anonymous */
	char session_id[PC_ID_LEN + 1]; /* public session id (cookie, or the JWT's sid) / API key id */
	char token_jti[PC_JTI_MAX + 1]; /* JWT: the access token's jti, for logout */
	int64_t token_exp;              /* JWT: its exp */
	int64_t authenticated_at;       /* unix seconds */
	unsigned factors;               /* sessions and JWTs: 1 (password) or 2 (and a second factor) */
	char client_addr[PC_CLIENT_ADDR_MAX];
	char user_agent[PC_UA_MAX + 1];
};

const char *pc_auth_method_name(enum pc_auth_method m);

/* Fresh random id: 32 lowercase hex chars + NUL. */
void pc_random_id(char out[PC_ID_LEN + 1]);

#endif
