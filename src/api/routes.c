/*
 * routes.c — THE route table: every path portcullis serves, its method,
 * handler and access rule. Nothing is routed that is not here, and a test
 * walks this table (GET /api/v1/openapi.json lists it) to prove every
 * non-public row answers 401 anonymously. Literal patterns come before
 * parameterised ones that could match the same path. The two zeros that end
 * each row (metric index, literal length) are filled in by pc_router_init.
 */
#include "api/api.h"
#include "auth/auth.h"

#define PUB PC_PUBLIC
#define AUTH PC_AUTHENTICATED
#define ADMIN PC_ROUTE_ADMIN

struct pc_route pc_routes[] = {
	{PC_METHOD_GET, "/health", pc_api_health, PUB, "Liveness: the server answers.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_GET, "/ready", pc_api_ready, PUB, "Readiness: every configured backend answers.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_GET, "/metrics", pc_api_metrics, PUB, "Prometheus metrics.", PC_ROUTE_NO_CSRF, 0, 0},

	{PC_METHOD_GET, "/api/v1/openapi.json", pc_api_openapi, PUB, "This description of the API, generated from the route table.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_GET, "/api/v1/problems", pc_api_problems_list, PUB, "Every problem type: the kinds of error a problem+json `type` names.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_GET, "/api/v1/problems/{kind}", pc_api_problems_get, PUB, "One problem type: what a problem+json `type` resolves to.", PC_ROUTE_NO_CSRF, 0, 0},

	{PC_METHOD_GET, "/api/v1/setup", pc_api_setup_get, PUB, "Whether the first user still has to be created.", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/setup", pc_api_setup_post, PUB, "Create the first user (only while there is none) and sign in.", PC_ROUTE_SETS_SESSION, 0, 0},

	{PC_METHOD_GET, "/api/v1/auth/csrf-token", pc_api_csrf_token, PUB, "A CSRF token (also set as the __Host-portcullis_csrf cookie), bound to your session or, before login, to a pre-session id.", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/login", pc_api_login, PUB, "Sign in with email and password: sets the session cookie.", PC_ROUTE_SETS_SESSION, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/second-factor", pc_api_second_factor, PUB, "Finish a sign-in that answered second_factor_required: {method: totp|recovery, code}; a new session cookie.", PC_ROUTE_SETS_SESSION, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/second-factor/passkey/options", pc_api_passkey_second_options, PUB, "WebAuthn request options for the passkey second step of a pending sign-in (allowCredentials: the user's passkeys).", PC_ROUTE_SETS_SESSION, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/second-factor/passkey", pc_api_passkey_second, PUB, "Finish a pending sign-in with a passkey assertion; a new session cookie.", PC_ROUTE_SETS_SESSION, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/passkey/options", pc_api_passkey_signin_options, PUB, "WebAuthn request options for a sign-in with a passkey alone (discoverable credential, user verification required), bound to the pre-session.", PC_ROUTE_SETS_SESSION, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/passkey", pc_api_passkey_signin, PUB, "Sign in with a passkey alone: its user handle names the user; sets the session cookie (two factors).", PC_ROUTE_SETS_SESSION, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/logout", pc_api_logout, PUB, "End the current session and clear the cookie.", PC_ROUTE_CSRF_IF_AUTH, 0, 0},
	{PC_METHOD_GET, "/api/v1/auth/me", pc_api_me, AUTH, "The authenticated principal.", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/token", pc_api_token, PUB, "An access token (JWT) and a refresh token, for email and password, or for the current session with an empty body.", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/refresh", pc_api_refresh, PUB, "Rotate a refresh token into a new pair; a reused one revokes its family.", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/revoke", pc_api_revoke, AUTH, "Revoke one of your access or refresh tokens (RFC 7009: form or JSON body, token and optional token_type_hint; 200 even if unknown).", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/introspect", pc_api_introspect, AUTH, "Token introspection for resource servers (RFC 7662), authenticated by an API key: form or JSON body, token and optional token_type_hint; {\"active\":false} for anything not live.", 0, 0, 0},
	{PC_METHOD_GET, "/api/v1/auth/verify", pc_api_verify, PUB, "Forward auth: 200 with X-Auth-* identity headers for a valid session cookie, bearer JWT or API key; 401 otherwise.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_GET, "/api/v1/auth/continue", pc_api_continue, PUB, "After login: 303 to ?rd= when it is this site or an allowed origin, else to /admin.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/password-reset", pc_api_password_reset, PUB, "Redeem a one-time password reset token.", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/email-change/confirm", pc_api_email_change_confirm, PUB, "Confirm an email change with the token of its mailed link {token}; a notice goes to the old address.", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/password-reset/request", pc_api_password_reset_request, PUB, "Forgot password: mail a reset link to the account with this address, if there is one.", 0, 0, 0},

	{PC_METHOD_GET, "/api/v1/sessions", pc_api_sessions_list, AUTH, "Your sessions; the current one is marked.", 0, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/sessions", pc_api_sessions_delete_all, AUTH, "End your other sessions and your tokens but those of this session (?all=true: this one too).", 0, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/sessions/{id}", pc_api_sessions_delete, AUTH, "End one of your sessions.", 0, 0, 0},

	{PC_METHOD_GET, "/api/v1/users", pc_api_users_list, AUTH, "List users (admins).", ADMIN, 0, 0},
	{PC_METHOD_POST, "/api/v1/users", pc_api_users_create, AUTH, "Add a user {email, password, role?} (admins; role defaults to member).", ADMIN, 0, 0},
	{PC_METHOD_POST, "/api/v1/users/me/email", pc_api_email_change, AUTH, "Change your email {email, current_password}: a confirmation link goes to the new address; nothing changes until it is opened.", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/users/me/password", pc_api_users_password, AUTH, "Change your password {current_password, new_password}: your other sessions and every token family end; this session goes on under a new id (new cookie).", 0, 0, 0},
	{PC_METHOD_PUT, "/api/v1/users/me/password", pc_api_users_password_put, AUTH, "The same as POST (kept for existing clients).", 0, 0, 0},
	{PC_METHOD_GET, "/api/v1/users/me/devices", pc_api_devices_list, AUTH, "Your token families (\"devices\"): API clients signed in with your password, or from one of your sessions.", 0, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/users/me/devices/{id}", pc_api_devices_revoke, AUTH, "End one of your token families: its refresh tokens die and its access tokens are revoked.", 0, 0, 0},
	{PC_METHOD_GET, "/api/v1/users/me/factors", pc_api_factors_list, AUTH, "Your second factors (never a secret): TOTP, recovery codes left, this session's factors.", PC_ROUTE_ENROL, 0, 0},
	{PC_METHOD_POST, "/api/v1/users/me/totp", pc_api_totp_enrol, AUTH, "Start TOTP enrolment: the secret, otpauth URI (shown once); active after confirm.", PC_ROUTE_ENROL, 0, 0},
	{PC_METHOD_GET, "/api/v1/users/me/totp/qr.svg", pc_api_totp_qr, AUTH, "The enrolment QR code (image/svg+xml, no-store) of the TOTP authenticator waiting for confirmation; 404 once active.", PC_ROUTE_ENROL, 0, 0},
	{PC_METHOD_POST, "/api/v1/users/me/totp/confirm", pc_api_totp_confirm, AUTH, "Activate TOTP with a current code {code}; returns 10 recovery codes, once.", PC_ROUTE_ENROL, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/users/me/totp", pc_api_totp_delete, AUTH, "Remove TOTP and recovery codes; needs {password} or a current {code}.", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/users/me/recovery-codes", pc_api_recovery_regenerate, AUTH, "A new batch of 10 recovery codes {password}; the old batch dies.", 0, 0, 0},
	{PC_METHOD_GET, "/api/v1/users/me/passkeys", pc_api_passkeys_list, AUTH, "Your passkeys (never a secret) and whether passkeys are configured; also for a sign-in held for enrolment (which factors it may set up).", PC_ROUTE_ENROL, 0, 0},
	{PC_METHOD_POST, "/api/v1/users/me/passkeys/options", pc_api_passkeys_options, AUTH, "WebAuthn creation options for a new passkey {alg?}: a challenge for 5 minutes bound to this session.", PC_ROUTE_ENROL, 0, 0},
	{PC_METHOD_POST, "/api/v1/users/me/passkeys", pc_api_passkeys_register, AUTH, "Register a passkey from the browser's answer {id, clientDataJSON, attestationObject, transports?, name?}.", PC_ROUTE_ENROL, 0, 0},
	{PC_METHOD_PATCH, "/api/v1/users/me/passkeys/{id}", pc_api_passkeys_rename, AUTH, "Rename one of your passkeys {name}.", 0, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/users/me/passkeys/{id}", pc_api_passkeys_delete, AUTH, "Delete one of your passkeys; needs {password} or a current TOTP {code}.", 0, 0, 0},
	{PC_METHOD_GET, "/api/v1/users/{id}", pc_api_users_get, AUTH, "One user: yourself, or anyone (admins).", 0, 0, 0},
	{PC_METHOD_PATCH, "/api/v1/users/{id}", pc_api_users_patch, AUTH, "Change a user's email, role, disabled state or groups (admins); the last enabled admin stays one.", ADMIN, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/users/{id}", pc_api_users_delete, AUTH, "Delete a user and end their sessions (admins; never the last enabled admin).", ADMIN, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/users/{id}/factors", pc_api_users_factors_reset, AUTH, "Account recovery (admins): remove a user's second factors and end all their sessions and tokens.", ADMIN, 0, 0},
	{PC_METHOD_GET, "/api/v1/users/{id}/sessions", pc_api_users_sessions, AUTH, "A user's live sessions: yours, or anyone's (admins).", 0, 0, 0},
	{PC_METHOD_POST, "/api/v1/users/{id}/password-reset", pc_api_users_reset_issue, AUTH, "Issue a one-time password reset token (1 hour) for a user (admins).", ADMIN, 0, 0},

	{PC_METHOD_GET, "/api/v1/api-keys", pc_api_keys_list, AUTH, "List every API key (shared resources).", ADMIN, 0, 0},
	{PC_METHOD_POST, "/api/v1/api-keys", pc_api_keys_create, AUTH, "Create an API key; the secret is shown in this answer only.", ADMIN, 0, 0},
	{PC_METHOD_GET, "/api/v1/api-keys/{id}", pc_api_keys_get, AUTH, "One API key (never its secret).", ADMIN, 0, 0},
	{PC_METHOD_PATCH, "/api/v1/api-keys/{id}", pc_api_keys_rename, AUTH, "Rename an API key.", ADMIN, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/api-keys/{id}", pc_api_keys_delete, AUTH, "Delete an API key.", ADMIN, 0, 0},

	{PC_METHOD_GET, "/api/v1/access/rules", pc_api_access_rules, AUTH, "The forward-auth access rules in force (read-only): line and canonical text of each; file null without a rules file.", ADMIN, 0, 0},
	{PC_METHOD_POST, "/api/v1/access/check", pc_api_access_check, AUTH, "Decide a forwarded request as /verify would ({url, method, user, groups, addr, factors, query}): the outcome and the rule that made it.", ADMIN, 0, 0},

	{PC_METHOD_GET, "/api/v1/audit", pc_api_audit_list, AUTH, "Audit events, newest first; filters action, resource_type, user_id; cursor pagination. Admins read every event, members those they caused or that concern them.", 0, 0, 0},

	{PC_METHOD_GET, "/.well-known/jwks.json", pc_api_jwks, PUB, "Public keys of the access tokens (EdDSA; empty with HS256).", PC_ROUTE_NO_CSRF | PC_ROUTE_CACHEABLE, 0, 0},

	{PC_METHOD_GET, "/api/v1/oidc/clients", pc_api_oidc_clients_list, AUTH, "OpenID Connect clients (admins; never a secret).", ADMIN, 0, 0},
	{PC_METHOD_POST, "/api/v1/oidc/clients", pc_api_oidc_clients_create, AUTH, "Register an OpenID Connect client (admins): a confidential one's client_secret is in this answer only.", ADMIN, 0, 0},
	{PC_METHOD_GET, "/api/v1/oidc/clients/{id}", pc_api_oidc_clients_get, AUTH, "One OpenID Connect client (admins).", ADMIN, 0, 0},
	{PC_METHOD_PATCH, "/api/v1/oidc/clients/{id}", pc_api_oidc_clients_patch, AUTH, "Change an OpenID Connect client's name, URIs, scopes, groups, first_party, require_mfa (admins).", ADMIN, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/oidc/clients/{id}", pc_api_oidc_clients_delete, AUTH, "Delete an OpenID Connect client (admins).", ADMIN, 0, 0},
	{PC_METHOD_GET, "/api/v1/oidc/consents", pc_api_oidc_consents_list, AUTH, "The applications you allowed to sign you in (OpenID Connect consents).", 0, 0, 0},
	{PC_METHOD_DELETE, "/api/v1/oidc/consents/{id}", pc_api_oidc_consents_delete, AUTH, "Revoke your consent to a client: it asks again next time.", 0, 0, 0},

	{PC_METHOD_GET, "/.well-known/openid-configuration", pc_api_oidc_discovery, PUB, "OpenID Connect discovery (404 without PORTCULLIS_PUBLIC_URL).", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_GET, "/oidc/jwks.json", pc_api_oidc_jwks, PUB, "The ID token signing keys (RS256 and EdDSA): the current one of each and retired ones until their tokens expired.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_GET, "/oidc/authorize", pc_api_oidc_authorize, PUB, "OpenID Connect authorization (code flow, PKCE S256): signs in, asks consent, redirects with a code.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_POST, "/oidc/authorize", pc_api_oidc_consent, PUB, "The consent page's form (Origin checked): allow or deny.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_POST, "/oidc/token", pc_api_oidc_token, PUB, "OpenID Connect token endpoint: authorization_code and refresh_token grants; client_secret_basic or _post.", PC_ROUTE_NO_CSRF | PC_ROUTE_OWN_AUTH, 0, 0},
	{PC_METHOD_GET, "/oidc/userinfo", pc_api_oidc_userinfo, PUB, "OpenID Connect UserInfo for an access token of /oidc/token.", PC_ROUTE_NO_CSRF | PC_ROUTE_OWN_AUTH, 0, 0},
	{PC_METHOD_POST, "/oidc/userinfo", pc_api_oidc_userinfo_post, PUB, "OpenID Connect UserInfo (POST).", PC_ROUTE_NO_CSRF | PC_ROUTE_OWN_AUTH, 0, 0},
	{PC_METHOD_GET, "/oidc/logout", pc_api_oidc_logout, PUB, "RP-initiated logout: checks post_logout_redirect_uri, asks the signed-in user to confirm.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_POST, "/oidc/logout", pc_api_oidc_logout_post, PUB, "The sign-out confirmation form (Origin checked): ends the session, then on to the app.", PC_ROUTE_NO_CSRF, 0, 0},

	{PC_METHOD_GET, "/", pc_web_root, PUB, "A browser (Accept: text/html) is sent to the console when signed in, else to the login page (303); anything else: 404.", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_GET, "/login", pc_web_login, PUB, "The login page (first-user setup when needed).", PC_ROUTE_NO_CSRF | PC_ROUTE_CACHEABLE, 0, 0},
	{PC_METHOD_GET, "/logout", pc_web_logout, PUB, "The sign-out page an app can link to (?rd=: where to go after): its button signs out with the CSRF token.", PC_ROUTE_NO_CSRF | PC_ROUTE_CACHEABLE, 0, 0},
	{PC_METHOD_POST, "/logout", pc_web_logout_post, PUB, "Sign out from a form on a page of this site (Origin checked, no token), then 303 to ?rd= when allowed, else /admin (the login page).", PC_ROUTE_NO_CSRF, 0, 0},
	{PC_METHOD_GET, "/reset", pc_web_reset, PUB, "The password reset page: asks for the address (forgot password), or, opened from a link (#token=... in the fragment), sets the new password.", PC_ROUTE_NO_CSRF | PC_ROUTE_CACHEABLE, 0, 0},
	{PC_METHOD_GET, "/admin", pc_web_admin, PUB, "The admin console (it signs you in first).", PC_ROUTE_NO_CSRF | PC_ROUTE_CACHEABLE, 0, 0},
	{PC_METHOD_GET, "/static/{file}", pc_web_static, PUB, "Scripts and styles of the pages.", PC_ROUTE_NO_CSRF | PC_ROUTE_CACHEABLE, 0, 0},
};

const size_t pc_n_routes = sizeof(pc_routes) / sizeof(pc_routes[0]);
