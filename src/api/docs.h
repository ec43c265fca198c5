/*
 * docs.h — what the OpenAPI document says about each operation, beyond
 * the route table's path, method, access rule and summary.
 *
 * One entry per row of pc_routes, keyed by the row's handler (docs.c), so
 * an entry cannot describe a route that does not exist and a route without
 * an entry is reported by pc_openapi_build (tests/unit/api/test_openapi.c
 * and tests/e2e/openapi.test.mjs fail on it; the operation is served with
 * x-undocumented). The reusable schemas, headers and parameters
 * are JSON in src/api/openapi_components.json (embedded at build time); an
 * entry names them. A request body names both the handler's own field
 * table (api/input.h) and its schema, and pc_openapi_build proves the two
 * agree member for member (names, types, required, maxLength,
 * additionalProperties false), so the schema cannot drift from what
 * input.c accepts.
 *
 * Derived, not written here: security (from the access rule, the method
 * and the CSRF flags), 401 authentication-required on authenticated
 * routes, 403 forbidden on admin routes, 403 csrf-failed on CSRF-checked
 * ones, 400/413/415 on routes with a body, 500 everywhere, 503 on
 * authenticated routes, and 4XX/5XX ranges (the HTTP layer's own problems)
 * on every operation.
 */
#ifndef PC_API_DOCS_H
#define PC_API_DOCS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/input.h"
#include "http/request.h"

/* A handler's field table, with its length. */
struct pc_fields {
	const struct pc_field *f;
	size_t n;
};
#define PC_FIELDS(a) {(a), sizeof(a) / sizeof((a)[0])}

extern const struct pc_fields pc_api_fields_credentials; /* auth.c: login, token */
extern const struct pc_fields pc_api_fields_new_credentials; /* auth.c: setup */
extern const struct pc_fields pc_api_fields_refresh;     /* tokens.c */
extern const struct pc_fields pc_api_fields_revoke;      /* tokens.c */
extern const struct pc_fields pc_api_fields_introspect;  /* tokens.c */
extern const struct pc_fields pc_api_fields_password;    /* users.c: PUT /users/me/password */
extern const struct pc_fields pc_api_fields_redeem;      /* users.c: POST /auth/password-reset */
extern const struct pc_fields pc_api_fields_reset_request; /* reset.c: POST /auth/password-reset/request */
extern const struct pc_fields pc_api_fields_email_change;  /* reset.c: POST /users/me/email */
extern const struct pc_fields pc_api_fields_email_confirm; /* reset.c: POST /auth/email-change/confirm */
extern const struct pc_fields pc_api_fields_key_create;  /* apikeys.c */
extern const struct pc_fields pc_api_fields_key_rename;  /* apikeys.c */
extern const struct pc_fields pc_api_fields_access_check; /* access.c */
extern const struct pc_fields pc_api_fields_users_create; /* users.c */
extern const struct pc_fields pc_api_fields_users_patch;  /* users.c */
extern const struct pc_fields pc_api_fields_totp_confirm; /* factors.c */
extern const struct pc_fields pc_api_fields_totp_delete;  /* factors.c */
extern const struct pc_fields pc_api_fields_recovery;     /* factors.c */
extern const struct pc_fields pc_api_fields_second_factor; /* factors.c */
extern const struct pc_fields pc_api_fields_passkey_options;   /* passkeys.c */
extern const struct pc_fields pc_api_fields_passkey_register;  /* passkeys.c */
extern const struct pc_fields pc_api_fields_passkey_rename;    /* passkeys.c */
extern const struct pc_fields pc_api_fields_passkey_delete;    /* passkeys.c */
extern const struct pc_fields pc_api_fields_passkey_assertion; /* passkeys.c */
extern const struct pc_fields pc_api_fields_oidc_token;   /* oidc.c: POST /oidc/token (form) */
extern const struct pc_fields pc_api_fields_oidc_consent; /* oidc.c: POST /oidc/authorize (form) */
extern const struct pc_fields pc_api_fields_oidc_logout;  /* oidc.c: /oidc/logout (query or form) */
extern const struct pc_fields pc_api_fields_oidc_client;  /* oidc.c: its names only (the body is read by hand) */

/* One success answer. */
struct pc_doc_ok {
	int status;              /* 0: unused slot */
	const char *description;
	const char *schema;      /* a components/schemas name; NULL: no body */
	const char *media;       /* NULL: application/json; else comma-separated media types */
	const char *headers;     /* comma-separated components/headers names, or NULL */
};

/* Credentials an otherwise public route looks at when they come. */
#define PC_DOC_SESSION 1u
#define PC_DOC_BEARER 2u
#define PC_DOC_API_KEY 4u

#define PC_DOC_P(kind) (UINT64_C(1) << (kind))
_Static_assert(PC_PROB__COUNT <= 64, "problem kinds fit the mask");

struct pc_op_doc {
	pc_handler_fn handler;       /* the key: the route row with this handler */
	const char *tag;
	const char *description;     /* NULL: the summary says it all */
	const struct pc_fields *body; /* the handler's field table; NULL: no JSON body */
	const char *body_schema;     /* components/schemas name of the body */
	bool body_optional;          /* POST /auth/token: empty with a session */
	bool body_own;               /* a JSON body the handler reads itself (arrays pc_input does not
	                                take: the OIDC clients), described by body_schema, no field table */
	bool body_form;              /* also application/x-www-form-urlencoded (pc_input_oauth_or_respond):
	                                the same members, unknown ones ignored (RFC 6749 3.2) */
	const char *params;          /* comma-separated components/parameters names */
	struct pc_doc_ok ok[3];
	uint64_t problems;           /* PC_DOC_P(kind) | ...: besides the derived ones */
	const char *unauth_headers;  /* components/headers names on the 401, besides WWW-Authenticate */
	bool html_403;               /* a 403 may also be a text/html page (verify ?redirect=true) */
	unsigned optional_auth;      /* PC_DOC_*: public route that uses these when sent */
	unsigned only_auth;          /* PC_DOC_*: authenticated route that takes only these (0: all three) */
};

extern const struct pc_op_doc pc_op_docs[];
extern const size_t pc_n_op_docs;

/* The components JSON text (generated from src/api/openapi_components.json). */
extern const char pc_openapi_components[];

struct pc_config;
/*
 * Builds the OpenAPI document (a new reference; NULL only when out of
 * memory). cfg (may be NULL: the defaults) names the session cookie.
 * *n_problems gets the number of inconsistencies found — a route without
 * an entry, an entry without a route, an unknown component, a body schema
 * that disagrees with its field table — each described on one line of
 * report (may be NULL).
 */
json_t *pc_openapi_build(const struct pc_config *cfg, char *report, size_t report_cap, int *n_problems);
/* The body check of pc_openapi_build alone: the number of ways schema
 * disagrees with what input.c accepts from fields (described in report). */
int pc_openapi_check_body(const json_t *schema, const struct pc_fields *fields, char *report, size_t report_cap);

#endif
