/*
 * docs.c — the OpenAPI description of every operation (docs.h), one entry
 * per row of the route table, keyed by its handler. Adding a route: add its
 * entry here (pc_openapi_check, run by tests/unit/api/test_openapi.c and
 * the end-to-end openapi test, fails until it exists); a JSON body names
 * the handler's field table and a schema in openapi_components.json, which
 * must agree.
 */
#include "api/docs.h"

#include "api/api.h"

#define P PC_DOC_P
#define NONE NULL
#define JSON_OK(st, desc, schema, hdrs) {st, desc, schema, NULL, hdrs}

const struct pc_op_doc pc_op_docs[] = {
	/* ---------- operations ---------- */
	{pc_api_health, "operations", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "The server answers.", "Health", NULL)}, 0, NULL, 0},
	{pc_api_ready, "operations", "503 names the first backend that does not answer (store, redis, revocations).", NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "Every configured backend answers.", "Ready", NULL)}, P(PC_PROB_UNAVAILABLE), NULL, 0},
	{pc_api_metrics, "operations", NULL, NONE, NULL, false, false, NULL,
	 {{200, "The metrics.", "MetricsText", "text/plain", NULL}}, 0, NULL, 0},
	{pc_api_openapi, "operations", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "This document.", "OpenApiDocument", NULL)}, 0, NULL, 0},
	{pc_api_problems_list, "operations", "The kinds of error a problem+json body's `type` names.", NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "Every problem type.", "ProblemTypeList", NULL)}, 0, NULL, 0},
	{pc_api_problems_get, "operations", "What a problem+json body's `type` resolves to.", NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "The problem type.", "ProblemType", NULL)}, P(PC_PROB_NOT_FOUND), NULL, 0},

	/* ---------- setup and sign-in ---------- */
	{pc_api_setup_get, "auth", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "Whether setup is needed.", "SetupStatus", NULL)}, P(PC_PROB_UNAVAILABLE), NULL, 0},
	{pc_api_setup_post, "auth", "Needs a CSRF token from GET /api/v1/auth/csrf-token (pre-session). The password must meet the policy.",
	 &pc_api_fields_credentials, "NewCredentials", false, false, NULL,
	 {JSON_OK(201, "The first user, signed in: the session cookie and a CSRF token bound to it are set.", "UserEnvelope", "Set-Cookie")},
	 P(PC_PROB_WEAK_PASSWORD) | P(PC_PROB_ALREADY_SET_UP) | P(PC_PROB_UNAVAILABLE), NULL, 0},
	{pc_api_csrf_token, "auth", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "A token; the __Host-portcullis_csrf cookie (and, before sign-in, __Host-portcullis_presession) is set.", "CsrfToken", "Set-Cookie")},
	 0, NULL, PC_DOC_SESSION},
	{pc_api_login, "auth", "Needs a CSRF token from GET /api/v1/auth/csrf-token. Every bad email or password gets the same 401; failures are throttled per account and per address.",
	 &pc_api_fields_credentials, "Credentials", false, false, NULL,
	 {JSON_OK(200, "Signed in: a new session cookie and a CSRF token bound to it are set.", "UserEnvelope", "Set-Cookie")},
	 P(PC_PROB_INVALID_CREDENTIALS) | P(PC_PROB_THROTTLED) | P(PC_PROB_UNAVAILABLE), NULL, 0},
	{pc_api_logout, "auth", "Idempotent: without a live session or token it answers 204 too. With a bearer token, revokes it and its refresh family.", NONE, NULL, false, false, NULL,
	 {{204, "Signed out; a session cookie is cleared.", NULL, NULL, "Set-Cookie"}}, P(PC_PROB_UNAVAILABLE), NULL,
	 PC_DOC_SESSION | PC_DOC_BEARER},
	{pc_api_me, "auth", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "The principal.", "Principal", NULL)}, 0, NULL, 0},
	{pc_api_token, "tokens", "With {email,password}: throttled and failing exactly like login. With an empty body and the session cookie (and its CSRF token): a pair for that session.",
	 &pc_api_fields_credentials, "Credentials", true, false, NULL,
	 {JSON_OK(200, "A token pair.", "TokenPair", "Pragma")},
	 P(PC_PROB_INVALID_CREDENTIALS) | P(PC_PROB_THROTTLED) | P(PC_PROB_UNAVAILABLE), NULL, PC_DOC_SESSION},
	{pc_api_refresh, "tokens", "The old refresh token dies; presenting it again revokes the whole family. Limited per user and hour (PORTCULLIS_REFRESH_LIMIT).",
	 &pc_api_fields_refresh, "RefreshRequest", false, false, NULL,
	 {JSON_OK(200, "A new token pair.", "TokenPair", "Pragma")},
	 P(PC_PROB_INVALID_REFRESH_TOKEN) | P(PC_PROB_THROTTLED) | P(PC_PROB_UNAVAILABLE), NULL, 0},
	{pc_api_revoke, "tokens", "RFC 7009: 200 whether or not the token was yours, known or valid.",
	 &pc_api_fields_revoke, "RevokeRequest", false, false, NULL,
	 {JSON_OK(200, "Done (or nothing to do).", "Empty", NULL)}, 0, NULL, 0},
	{pc_api_verify, "forward auth", "Asked by nginx auth_request, Traefik ForwardAuth or Caddy forward_auth for every request. The forwarded request (X-Original-*, X-Forwarded-*, from PORTCULLIS_TRUSTED_PROXIES only) is decided by the access rules and this URL's group/policy; an unsafe forwarded method with the session cookie must pass the CSRF check (PORTCULLIS_VERIFY_CSRF).",
	 NONE, NULL, false, false, "VerifyGroup,VerifyPolicy,XOriginalUri,XOriginalMethod,XForwardedMethod,XForwardedHost,XForwardedUri",
	 {{200, "Allowed: the proxy lets the request through with these headers (none for a bypass rule).", NULL, NULL,
	   "X-Auth-User-Id,X-Auth-Email,X-Auth-Method,X-Auth-Session,X-Auth-Assertion"}},
	 P(PC_PROB_AUTHENTICATION_REQUIRED) | P(PC_PROB_FORBIDDEN) | P(PC_PROB_CSRF_FAILED) | P(PC_PROB_INVALID_QUERY) | P(PC_PROB_UNAVAILABLE),
	 "X-Auth-Redirect", PC_DOC_SESSION | PC_DOC_BEARER | PC_DOC_API_KEY},
	{pc_api_continue, "forward auth", NULL, NONE, NULL, false, false, "ContinueRd",
	 {{303, "Go to rd, or to /admin.", NULL, NULL, "Location"}}, 0, NULL, 0},
	{pc_api_password_reset, "users", "Ends every session of the user. Failed redemptions are throttled per address.",
	 &pc_api_fields_redeem, "PasswordResetRedeem", false, false, NULL,
	 {{204, "The password is changed.", NULL, NULL, NULL}},
	 P(PC_PROB_WEAK_PASSWORD) | P(PC_PROB_INVALID_RESET_TOKEN) | P(PC_PROB_THROTTLED) | P(PC_PROB_UNAVAILABLE), NULL, 0},

	/* ---------- sessions ---------- */
	{pc_api_sessions_list, "sessions", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "Your sessions.", "SessionList", NULL)}, 0, NULL, 0},
	{pc_api_sessions_delete_all, "sessions", NULL, NONE, NULL, false, false, "SessionsAll",
	 {{204, "Ended; with all=true and a session cookie, the cookie is cleared.", NULL, NULL, "Set-Cookie"}},
	 P(PC_PROB_INVALID_QUERY), NULL, 0},
	{pc_api_sessions_delete, "sessions", NULL, NONE, NULL, false, false, NULL,
	 {{204, "Ended; the cookie is cleared when it was this request's session.", NULL, NULL, "Set-Cookie"}},
	 P(PC_PROB_NOT_FOUND), NULL, 0},

	/* ---------- users ---------- */
	{pc_api_users_list, "users", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "Every user.", "UserList", NULL)}, 0, NULL, 0},
	{pc_api_users_create, "users", "The password must meet the policy.", &pc_api_fields_credentials, "NewCredentials", false, false, NULL,
	 {JSON_OK(201, "The user.", "UserEnvelope", "Location")}, P(PC_PROB_WEAK_PASSWORD) | P(PC_PROB_CONFLICT), NULL, 0},
	{pc_api_users_password, "users", "Ends your other sessions and revokes your tokens. Wrong current passwords count as failed logins of your account.",
	 &pc_api_fields_password, "PasswordChange", false, false, NULL,
	 {{204, "Changed.", NULL, NULL, NULL}},
	 P(PC_PROB_WEAK_PASSWORD) | P(PC_PROB_WRONG_PASSWORD) | P(PC_PROB_FORBIDDEN) | P(PC_PROB_THROTTLED) | P(PC_PROB_NOT_FOUND), NULL, 0},
	{pc_api_users_delete, "users", "Ends their sessions and revokes their tokens.", NONE, NULL, false, false, NULL,
	 {{204, "Deleted; the cookie is cleared when you deleted yourself.", NULL, NULL, "Set-Cookie"}},
	 P(PC_PROB_NOT_FOUND) | P(PC_PROB_LAST_USER), NULL, 0},
	{pc_api_users_reset_issue, "users", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(201, "A one-time token, valid one hour.", "ResetToken", NULL)}, P(PC_PROB_NOT_FOUND), NULL, 0},

	/* ---------- API keys ---------- */
	{pc_api_keys_list, "api keys", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "Every API key.", "ApiKeyList", NULL)}, 0, NULL, 0},
	{pc_api_keys_create, "api keys", NULL, &pc_api_fields_key_create, "NewApiKey", false, false, NULL,
	 {JSON_OK(201, "The key, with its secret (shown only here).", "ApiKeyCreated", "Location")}, 0, NULL, 0},
	{pc_api_keys_get, "api keys", NULL, NONE, NULL, false, false, NULL,
	 {JSON_OK(200, "The key.", "ApiKey", NULL)}, P(PC_PROB_NOT_FOUND), NULL, 0},
	{pc_api_keys_rename, "api keys", NULL, &pc_api_fields_key_rename, "ApiKeyRename", false, false, NULL,
	 {JSON_OK(200, "The renamed key.", "ApiKey", NULL)}, P(PC_PROB_NOT_FOUND), NULL, 0},
	{pc_api_keys_delete, "api keys", NULL, NONE, NULL, false, false, NULL,
	 {{204, "Deleted.", NULL, NULL, NULL}}, P(PC_PROB_NOT_FOUND), NULL, 0},

	/* ---------- audit ---------- */
	{pc_api_audit_list, "audit", "Parameters are strict: an unknown or repeated one, or a value outside [A-Za-z0-9._-], is invalid-query.",
	 NONE, NULL, false, false, "AuditLimit,AuditCursor,AuditAction,AuditResourceType,AuditUserId",
	 {JSON_OK(200, "A page of events, newest first.", "AuditPage", NULL)}, P(PC_PROB_INVALID_QUERY), NULL, 0},

	/* ---------- keys and pages ---------- */
	{pc_api_jwks, "operations", NULL, NONE, NULL, false, false, NULL,
	 {{200, "The JWK set.", "Jwks", "application/jwk-set+json", NULL}}, 0, NULL, 0},
	{pc_web_login, "pages", NULL, NONE, NULL, false, false, "IfNoneMatch",
	 {{200, "The page.", "Html", "text/html", "ETag"}, {304, "Not modified.", NULL, NULL, "ETag"}}, 0, NULL, 0},
	{pc_web_admin, "pages", NULL, NONE, NULL, false, false, "IfNoneMatch",
	 {{200, "The page.", "Html", "text/html", "ETag"}, {304, "Not modified.", NULL, NULL, "ETag"}}, 0, NULL, 0},
	{pc_web_static, "pages", NULL, NONE, NULL, false, false, "IfNoneMatch",
	 {{200, "The file.", "Asset", "text/html,text/css,text/javascript,image/svg+xml", "ETag"}, {304, "Not modified.", NULL, NULL, "ETag"}},
	 P(PC_PROB_NOT_FOUND), NULL, 0},
};

const size_t pc_n_op_docs = sizeof(pc_op_docs) / sizeof(pc_op_docs[0]);
