/*
 * docs.c — the OpenAPI description of every operation (docs.h), one entry
 * per row of the route table, keyed by its handler. Adding a route: add its
 * entry here (tests/unit/api/test_openapi.c and tests/e2e/openapi.test.mjs
 * fail until it exists, and the latter until it exercises the route); a
 * JSON body names the handler's field table (exported with PC_FIELDS,
 * declared in docs.h) and a schema in openapi_components.json, which must
 * agree.
 */
#include "api/docs.h"

#include "api/api.h"

#define P PC_DOC_P
#define JSON_OK(st, desc, schema, hdrs) {st, desc, schema, NULL, hdrs}

const struct pc_op_doc pc_op_docs[] = {
	/* ---------- operations ---------- */
	{
		.handler = pc_api_health,
		.tag = "operations",
		.ok = {JSON_OK(200, "The server answers.", "Health", NULL)},
	},
	{
		.handler = pc_api_ready,
		.tag = "operations",
		.description = "503 names the first backend that does not answer (store, redis, revocations).",
		.params = "ReadyScope",
		.ok = {JSON_OK(200, "Every configured backend answers.", "Ready", NULL)},
		.problems = P(PC_PROB_UNAVAILABLE) | P(PC_PROB_INVALID_QUERY),
	},
	{
		.handler = pc_api_metrics,
		.tag = "operations",
		.ok = {{200, "The metrics.", "MetricsText", "text/plain", NULL}},
	},
	{
		.handler = pc_api_openapi,
		.tag = "operations",
		.ok = {JSON_OK(200, "This document.", "OpenApiDocument", NULL)},
	},
	{
		.handler = pc_api_problems_list,
		.tag = "operations",
		.description = "The kinds of error a problem+json body's `type` names.",
		.ok = {JSON_OK(200, "Every problem type.", "ProblemTypeList", NULL)},
	},
	{
		.handler = pc_api_problems_get,
		.tag = "operations",
		.description = "What a problem+json body's `type` resolves to.",
		.ok = {JSON_OK(200, "The problem type.", "ProblemType", NULL)},
		.problems = P(PC_PROB_NOT_FOUND),
	},

	/* ---------- setup and sign-in ---------- */
	{
		.handler = pc_api_setup_get,
		.tag = "auth",
		.ok = {JSON_OK(200, "Whether setup is needed.", "SetupStatus", NULL)},
		.problems = P(PC_PROB_UNAVAILABLE),
	},
	{
		.handler = pc_api_setup_post,
		.tag = "auth",
		.description = "Needs a CSRF token from GET /api/v1/auth/csrf-token (pre-session). The password must meet the policy.",
		.body = &pc_api_fields_credentials,
		.body_schema = "NewCredentials",
		.ok = {JSON_OK(201, "The first user, signed in: the session cookie and a CSRF token bound to it are set.", "UserEnvelope", "Set-Cookie")},
		.problems = P(PC_PROB_WEAK_PASSWORD) | P(PC_PROB_ALREADY_SET_UP) | P(PC_PROB_UNAVAILABLE),
	},
	{
		.handler = pc_api_csrf_token,
		.tag = "auth",
		.ok = {JSON_OK(200, "A token; the __Host-portcullis_csrf cookie (and, before sign-in, __Host-portcullis_presession) is set.", "CsrfToken", "Set-Cookie")},
		.optional_auth = PC_DOC_SESSION,
	},
	{
		.handler = pc_api_login,
		.tag = "auth",
		.description = "Needs a CSRF token from GET /api/v1/auth/csrf-token. Every bad email or password gets the same 401; failures are throttled per account and per address.",
		.body = &pc_api_fields_credentials,
		.body_schema = "Credentials",
		.ok = {JSON_OK(200, "Signed in: a new session cookie and a CSRF token bound to it are set (for a user with a second factor: a pending session and second_factor_required).", "LoginResult", "Set-Cookie")},
		.problems = P(PC_PROB_INVALID_CREDENTIALS) | P(PC_PROB_THROTTLED) | P(PC_PROB_UNAVAILABLE),
	},
	{
		.handler = pc_api_logout,
		.tag = "auth",
		.description = "Idempotent: without a live session or token it answers 204 too. With a bearer token, revokes it and its refresh family.",
		.ok = {{204, "Signed out; a session cookie is cleared.", NULL, NULL, "Set-Cookie"}},
		.problems = P(PC_PROB_UNAVAILABLE),
		.optional_auth = PC_DOC_SESSION | PC_DOC_BEARER,
	},
	{
		.handler = pc_api_me,
		.tag = "auth",
		.ok = {JSON_OK(200, "The principal.", "Principal", NULL)},
	},
	{
		.handler = pc_api_token,
		.tag = "tokens",
		.description = "With {email,password}: throttled and failing exactly like login. With an empty body and the session cookie (and its CSRF token): a pair for that session.",
		.body = &pc_api_fields_credentials,
		.body_schema = "Credentials",
		.body_optional = true,
		.ok = {JSON_OK(200, "A token pair.", "TokenPair", "Pragma")},
		.problems = P(PC_PROB_INVALID_CREDENTIALS) | P(PC_PROB_THROTTLED) | P(PC_PROB_UNAVAILABLE),
		.optional_auth = PC_DOC_SESSION,
	},
	{
		.handler = pc_api_refresh,
		.tag = "tokens",
		.description = "The old refresh token dies; presenting it again revokes the whole family. Limited per user and hour (PORTCULLIS_REFRESH_LIMIT).",
		.body = &pc_api_fields_refresh,
		.body_schema = "RefreshRequest",
		.ok = {JSON_OK(200, "A new token pair.", "TokenPair", "Pragma")},
		.problems = P(PC_PROB_INVALID_REFRESH_TOKEN) | P(PC_PROB_THROTTLED) | P(PC_PROB_UNAVAILABLE),
	},
	{
		.handler = pc_api_revoke,
		.tag = "tokens",
		.description = "RFC 7009: 200 whether or not the token was yours, known or valid.",
		.body = &pc_api_fields_revoke,
		.body_schema = "RevokeRequest",
		.body_form = true,
		.ok = {JSON_OK(200, "Done (or nothing to do).", "Empty", NULL)},
	},
	{
		.handler = pc_api_introspect,
		.tag = "tokens",
		.description = "RFC 7662, for resource servers that cannot verify JWTs themselves: sees revocations made on any instance. Only an API key may ask (403 forbidden for others).",
		.body = &pc_api_fields_introspect,
		.body_schema = "IntrospectRequest",
		.body_form = true,
		.ok = {JSON_OK(200, "Whether the token is live, and its claims when it is.", "Introspection", NULL)},
		.problems = P(PC_PROB_FORBIDDEN),
		.only_auth = PC_DOC_API_KEY,
	},
	{
		.handler = pc_api_verify,
		.tag = "forward auth",
		.description = "Asked by nginx auth_request, Traefik ForwardAuth or Caddy forward_auth for every request. The forwarded request (X-Original-*, X-Forwarded-*, from PORTCULLIS_TRUSTED_PROXIES only) is decided by the access rules and this URL's group/policy; an unsafe forwarded method with the session cookie must pass the CSRF check (PORTCULLIS_VERIFY_CSRF).",
		.params = "VerifyGroup,VerifyPolicy,VerifyRedirect,VerifyCsrf,XOriginalUri,XOriginalMethod,XForwardedMethod,XForwardedHost,XForwardedUri,Accept",
		.ok = {{200, "Allowed: the proxy lets the request through with these headers (none for a bypass rule).", NULL, NULL, "X-Auth-User-Id,X-Auth-Email,X-Auth-Method,X-Auth-Session,X-Auth-Role,X-Auth-Groups,X-Auth-Key-Id,X-Auth-Key-Name,X-Auth-Assertion"},
		       {302, "With ?redirect=true, a browser's navigation that must sign in: to the login page.", NULL, NULL, "Location,X-Auth-Redirect"}},
		.html_403 = true,
		.problems = P(PC_PROB_AUTHENTICATION_REQUIRED) | P(PC_PROB_FORBIDDEN) | P(PC_PROB_CSRF_FAILED) | P(PC_PROB_INVALID_QUERY) | P(PC_PROB_UNAVAILABLE),
		.unauth_headers = "X-Auth-Redirect",
		.optional_auth = PC_DOC_SESSION | PC_DOC_BEARER | PC_DOC_API_KEY,
	},
	{
		.handler = pc_api_continue,
		.tag = "forward auth",
		.params = "ContinueRd",
		.ok = {{303, "Go to rd, or to /admin.", NULL, NULL, "Location"}},
	},
	{
		.handler = pc_api_password_reset,
		.tag = "users",
		.description = "Ends every session of the user. Failed redemptions are throttled per address.",
		.body = &pc_api_fields_redeem,
		.body_schema = "PasswordResetRedeem",
		.ok = {{204, "The password is changed.", NULL, NULL, NULL}},
		.problems = P(PC_PROB_WEAK_PASSWORD) | P(PC_PROB_INVALID_RESET_TOKEN) | P(PC_PROB_THROTTLED) | P(PC_PROB_UNAVAILABLE),
	},

	/* ---------- sessions ---------- */
	{
		.handler = pc_api_sessions_list,
		.tag = "sessions",
		.ok = {JSON_OK(200, "Your sessions.", "SessionList", NULL)},
	},
	{
		.handler = pc_api_sessions_delete_all,
		.tag = "sessions",
		.params = "SessionsAll",
		.ok = {{204, "Ended; with all=true and a session cookie, the cookie is cleared.", NULL, NULL, "Set-Cookie"}},
		.problems = P(PC_PROB_INVALID_QUERY),
	},
	{
		.handler = pc_api_sessions_delete,
		.tag = "sessions",
		.ok = {{204, "Ended; the cookie is cleared when it was this request's session.", NULL, NULL, "Set-Cookie"}},
		.problems = P(PC_PROB_NOT_FOUND),
	},

	/* ---------- users ---------- */
	{
		.handler = pc_api_users_list,
		.tag = "users",
		.ok = {JSON_OK(200, "Every user.", "UserList", NULL)},
	},
	{
		.handler = pc_api_users_create,
		.tag = "users",
		.description = "Admins only. The password must meet the policy; role defaults to member.",
		.body = &pc_api_fields_users_create,
		.body_schema = "NewUser",
		.ok = {JSON_OK(201, "The user.", "UserEnvelope", "Location")},
		.problems = P(PC_PROB_WEAK_PASSWORD) | P(PC_PROB_CONFLICT),
	},
	{
		.handler = pc_api_users_get,
		.tag = "users",
		.description = "Yourself, or anyone for an admin (a member asking for another user: 403, audited).",
		.ok = {JSON_OK(200, "The user.", "UserEnvelope", NULL)},
		.problems = P(PC_PROB_NOT_FOUND) | P(PC_PROB_FORBIDDEN),
	},
	{
		.handler = pc_api_users_patch,
		.tag = "users",
		.description = "Admins only. Disabling ends the user's sessions and tokens at once on every instance; a role, group or email change takes effect on the next request. The last enabled admin can be neither demoted nor disabled.",
		.body = &pc_api_fields_users_patch,
		.body_schema = "UserPatch",
		.ok = {JSON_OK(200, "The user as changed.", "UserEnvelope", NULL)},
		.problems = P(PC_PROB_NOT_FOUND) | P(PC_PROB_CONFLICT) | P(PC_PROB_LAST_ADMIN),
	},
	{
		.handler = pc_api_users_sessions,
		.tag = "users",
		.description = "Yours, or anyone's for an admin (a member asking for another user: 403, audited).",
		.ok = {JSON_OK(200, "The user's live sessions.", "SessionList", NULL)},
		.problems = P(PC_PROB_NOT_FOUND) | P(PC_PROB_FORBIDDEN),
	},
	{
		.handler = pc_api_users_password,
		.tag = "users",
		.description = "Ends your other sessions and revokes your tokens. Wrong current passwords count as failed logins of your account.",
		.body = &pc_api_fields_password,
		.body_schema = "PasswordChange",
		.ok = {{204, "Changed.", NULL, NULL, NULL}},
		.problems = P(PC_PROB_WEAK_PASSWORD) | P(PC_PROB_WRONG_PASSWORD) | P(PC_PROB_FORBIDDEN) | P(PC_PROB_THROTTLED) | P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_users_delete,
		.tag = "users",
		.description = "Admins only. Ends their sessions and revokes their tokens; never the last user or the last enabled admin.",
		.ok = {{204, "Deleted; the cookie is cleared when you deleted yourself.", NULL, NULL, "Set-Cookie"}},
		.problems = P(PC_PROB_NOT_FOUND) | P(PC_PROB_LAST_USER) | P(PC_PROB_LAST_ADMIN),
	},
	{
		.handler = pc_api_users_reset_issue,
		.tag = "users",
		.ok = {JSON_OK(201, "A one-time token, valid one hour.", "ResetToken", NULL)},
		.problems = P(PC_PROB_NOT_FOUND),
	},

	/* ---------- second factors ---------- */
	{
		.handler = pc_api_factors_list,
		.tag = "second factor",
		.ok = {JSON_OK(200, "Your second factors.", "Factors", NULL)},
	},
	{
		.handler = pc_api_totp_enrol,
		.tag = "second factor",
		.description = "Replaces an enrolment that was never confirmed; refused (409) while a TOTP authenticator is active.",
		.ok = {JSON_OK(201, "The secret, shown once.", "TotpEnrolment", NULL)},
		.problems = P(PC_PROB_CONFLICT),
	},
	{
		.handler = pc_api_totp_qr,
		.tag = "second factor",
		.ok = {{200, "The otpauth URI as a QR code (no script inside; no-store).", "Svg", "image/svg+xml", NULL}},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_totp_confirm,
		.tag = "second factor",
		.body = &pc_api_fields_totp_confirm,
		.body_schema = "TotpCode",
		.ok = {JSON_OK(200, "Active; the recovery codes, shown once.", "TotpConfirmed", NULL)},
		.problems = P(PC_PROB_INVALID_CODE) | P(PC_PROB_THROTTLED),
	},
	{
		.handler = pc_api_totp_delete,
		.tag = "second factor",
		.body = &pc_api_fields_totp_delete,
		.body_schema = "TotpRemoval",
		.ok = {{204, "Removed, with the recovery codes.", NULL, NULL, NULL}},
		.problems = P(PC_PROB_INVALID_CODE) | P(PC_PROB_NOT_FOUND) | P(PC_PROB_THROTTLED),
	},
	{
		.handler = pc_api_recovery_regenerate,
		.tag = "second factor",
		.body = &pc_api_fields_recovery,
		.body_schema = "PasswordOnly",
		.ok = {JSON_OK(200, "The new batch, shown once.", "RecoveryCodes", NULL)},
		.problems = P(PC_PROB_NOT_FOUND) | P(PC_PROB_THROTTLED),
	},
	{
		.handler = pc_api_second_factor,
		.tag = "auth",
		.description = "The second step of a sign-in that answered second_factor_required: its credential is the pending session (cookie) and the CSRF token bound to it.",
		.body = &pc_api_fields_second_factor,
		.body_schema = "SecondFactor",
		.ok = {JSON_OK(200, "Signed in with two factors; a new session cookie.", "SecondFactorDone", "Set-Cookie")},
		.problems = P(PC_PROB_INVALID_CODE) | P(PC_PROB_AUTHENTICATION_REQUIRED) | P(PC_PROB_THROTTLED),
	},

	/* ---------- API keys ---------- */
	{
		.handler = pc_api_keys_list,
		.tag = "api keys",
		.ok = {JSON_OK(200, "Every API key.", "ApiKeyList", NULL)},
	},
	{
		.handler = pc_api_keys_create,
		.tag = "api keys",
		.body = &pc_api_fields_key_create,
		.body_schema = "NewApiKey",
		.ok = {JSON_OK(201, "The key, with its secret (shown only here).", "ApiKeyCreated", "Location")},
	},
	{
		.handler = pc_api_keys_get,
		.tag = "api keys",
		.ok = {JSON_OK(200, "The key.", "ApiKey", NULL)},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_keys_rename,
		.tag = "api keys",
		.body = &pc_api_fields_key_rename,
		.body_schema = "ApiKeyRename",
		.ok = {JSON_OK(200, "The renamed key.", "ApiKey", NULL)},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_keys_delete,
		.tag = "api keys",
		.ok = {{204, "Deleted.", NULL, NULL, NULL}},
		.problems = P(PC_PROB_NOT_FOUND),
	},

	/* ---------- access rules ---------- */
	{
		.handler = pc_api_access_rules,
		.tag = "forward auth",
		.ok = {JSON_OK(200, "The rules in force.", "AccessRules", NULL)},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_access_check,
		.tag = "forward auth",
		.description = "Decides nothing for real and changes nothing: the rules file's answer for a request, as portcullis access check prints it.",
		.body = &pc_api_fields_access_check,
		.body_schema = "AccessCheck",
		.ok = {JSON_OK(200, "The decision and the rule that made it.", "AccessDecision", NULL)},
		.problems = P(PC_PROB_NOT_FOUND),
	},

	/* ---------- audit ---------- */
	{
		.handler = pc_api_audit_list,
		.tag = "audit",
		.description = "Parameters are strict: an unknown or repeated one, or a value outside [A-Za-z0-9._-], is invalid-query.",
		.params = "AuditLimit,AuditCursor,AuditAction,AuditResourceType,AuditUserId",
		.ok = {JSON_OK(200, "A page of events, newest first.", "AuditPage", NULL)},
		.problems = P(PC_PROB_INVALID_QUERY),
	},

	/* ---------- keys and pages ---------- */
	{
		.handler = pc_api_jwks,
		.tag = "operations",
		.ok = {{200, "The JWK set.", "Jwks", "application/jwk-set+json", NULL}},
	},
	/* ---------- OpenID Connect ---------- */
	{
		.handler = pc_api_oidc_clients_list,
		.tag = "oidc",
		.ok = {JSON_OK(200, "Every client (no secret).", "OidcClientList", NULL)},
	},
	{
		.handler = pc_api_oidc_clients_create,
		.tag = "oidc",
		.description = "name and redirect_uris required; post_logout_redirect_uris, public, first_party, require_mfa, scopes, allowed_groups, alg (RS256). A confidential client's client_secret is in this answer only.",
		.body_schema = "OidcClientNew",
		.body_own = true,
		.ok = {JSON_OK(201, "The client, with its secret (shown only here).", "OidcClient", "Location")},
		.problems = P(PC_PROB_INVALID_BODY) | P(PC_PROB_UNSUPPORTED_MEDIA_TYPE),
	},
	{
		.handler = pc_api_oidc_clients_get,
		.tag = "oidc",
		.ok = {JSON_OK(200, "The client.", "OidcClient", NULL)},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_oidc_clients_patch,
		.tag = "oidc",
		.description = "Any subset of the members but public: the fields named replace the stored ones, under the same rules as creation.",
		.body_schema = "OidcClientNew",
		.body_own = true,
		.ok = {JSON_OK(200, "The client.", "OidcClient", NULL)},
		.problems = P(PC_PROB_NOT_FOUND) | P(PC_PROB_INVALID_BODY) | P(PC_PROB_UNSUPPORTED_MEDIA_TYPE),
	},
	{
		.handler = pc_api_oidc_clients_delete,
		.tag = "oidc",
		.ok = {{204, "Deleted.", NULL, NULL, NULL}},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_oidc_consents_list,
		.tag = "oidc",
		.ok = {JSON_OK(200, "Your consents.", "OidcConsents", NULL)},
	},
	{
		.handler = pc_api_oidc_consents_delete,
		.tag = "oidc",
		.ok = {{204, "Revoked.", NULL, NULL, NULL}},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_oidc_discovery,
		.tag = "oidc",
		.ok = {JSON_OK(200, "The provider's metadata (OpenID Connect Discovery 1.0).", "OidcDiscovery", NULL)},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_oidc_jwks,
		.tag = "oidc",
		.ok = {JSON_OK(200, "The RSA keys (RFC 7517).", "OidcJwks", NULL)},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_oidc_authorize,
		.tag = "oidc",
		.description = "A request arriving cross-site (Sec-Fetch-Site) first gets a page that re-navigates to the same URL from this site, so the SameSite=Strict session cookie comes with it. Then: an error page (400) when the client or redirect_uri is not valid; 303 to the redirect_uri with code (or error), state and iss; 303 to /login when the user must sign in (again, or with a second factor); the consent page (200).",
		.params = "OidcAuthorizeQuery",
		.ok = {{200, "The consent page, or the same-site re-navigation.", "Html", "text/html", NULL},
		       {303, "To the client (code or error) or to /login.", NULL, NULL, "Location"}},
		.problems = P(PC_PROB_INVALID_QUERY),
		.optional_auth = PC_DOC_SESSION,
	},
	{
		.handler = pc_api_oidc_consent,
		.tag = "oidc",
		.description = "The consent page's form (application/x-www-form-urlencoded: q, the authorize query; decision, allow or deny), refused when the browser says it comes from elsewhere. Answers a page that sends the browser to the client (CSP form-action would block a redirect).",
		.ok = {{200, "A page that continues to the client.", "Html", "text/html", NULL}},
		.problems = P(PC_PROB_CSRF_FAILED) | P(PC_PROB_INVALID_BODY),
		.optional_auth = PC_DOC_SESSION,
	},
	{
		.handler = pc_api_oidc_token,
		.tag = "oidc",
		.description = "application/x-www-form-urlencoded (RFC 6749 §4.1.3, §6): grant_type, code, redirect_uri, code_verifier, refresh_token, scope; client_secret_basic or client_id + client_secret in the body. Errors are RFC 6749 §5.2 JSON.",
		.ok = {JSON_OK(200, "Tokens (no-store).", "OidcTokens", "Pragma")},
		.problems = P(PC_PROB_NOT_FOUND),
	},
	{
		.handler = pc_api_oidc_userinfo,
		.tag = "oidc",
		.description = "Authorization: Bearer <the access_token of /oidc/token>; 401 {error: invalid_token} otherwise.",
		.ok = {JSON_OK(200, "The claims of the token's scope.", "OidcUserInfo", NULL)},
	},
	{
		.handler = pc_api_oidc_userinfo_post,
		.tag = "oidc",
		.description = "As GET (OpenID Connect Core §5.3.1: both are supported).",
		.ok = {JSON_OK(200, "The claims of the token's scope.", "OidcUserInfo", NULL)},
	},
	{
		.handler = pc_api_oidc_logout,
		.tag = "oidc",
		.params = "OidcLogoutQuery",
		.ok = {{200, "The confirmation page (signed in) or a signed-out page.", "Html", "text/html", NULL},
		       {303, "Signed out already: on to the post_logout_redirect_uri.", NULL, NULL, "Location"}},
		.optional_auth = PC_DOC_SESSION,
	},
	{
		.handler = pc_api_oidc_logout_post,
		.tag = "oidc",
		.description = "The confirmation form (the same parameters, form-encoded), refused when the browser says it comes from elsewhere: ends the session, then a page that continues to the post_logout_redirect_uri.",
		.ok = {{200, "Signed out; a page that continues to the client.", "Html", "text/html", "Set-Cookie"}},
		.problems = P(PC_PROB_CSRF_FAILED),
		.optional_auth = PC_DOC_SESSION,
	},
	{
		.handler = pc_web_root,
		.tag = "pages",
		.description = "For people who type the bare address: a browser goes to the console or the login page; an API client gets 404.",
		.params = "Accept",
		.ok = {{303, "To /admin when signed in with the session cookie, else /login.", NULL, NULL, "Location,Vary"}},
		.problems = P(PC_PROB_NOT_FOUND),
		.optional_auth = PC_DOC_SESSION,
	},
	{
		.handler = pc_web_login,
		.tag = "pages",
		.params = "IfNoneMatch",
		.ok = {{200, "The page.", "Html", "text/html", "ETag"}, {304, "Not modified.", NULL, NULL, "ETag"}},
	},
	{
		.handler = pc_web_logout,
		.tag = "pages",
		.description = "Apps link to it; its button signs out with the CSRF token, then follows rd through /api/v1/auth/continue.",
		.params = "LogoutRd,IfNoneMatch",
		.ok = {{200, "The page.", "Html", "text/html", "ETag"}, {304, "Not modified.", NULL, NULL, "ETag"}},
	},
	{
		.handler = pc_web_logout_post,
		.tag = "pages",
		.description = "For a sign-out form on a page of this site (an app behind the proxy), which cannot send the CSRF token: refused only when the browser says it comes from elsewhere (Sec-Fetch-Site: cross-site, or a foreign Origin). Ends the session of the cookie, if any; a form body is not read.",
		.params = "LogoutRd",
		.ok = {{303, "Signed out (when signed in); go to rd when allowed, else /admin.", NULL, NULL, "Location,Set-Cookie"}},
		.problems = P(PC_PROB_CSRF_FAILED) | P(PC_PROB_UNAVAILABLE),
		.optional_auth = PC_DOC_SESSION,
	},
	{
		.handler = pc_web_admin,
		.tag = "pages",
		.params = "IfNoneMatch",
		.ok = {{200, "The page.", "Html", "text/html", "ETag"}, {304, "Not modified.", NULL, NULL, "ETag"}},
	},
	{
		.handler = pc_web_static,
		.tag = "pages",
		.params = "IfNoneMatch",
		.ok = {{200, "The file.", "Asset", "text/html,text/css,text/javascript,image/svg+xml", "ETag"}, {304, "Not modified.", NULL, NULL, "ETag"}},
		.problems = P(PC_PROB_NOT_FOUND),
	},
};

const size_t pc_n_op_docs = sizeof(pc_op_docs) / sizeof(pc_op_docs[0]);
