/*
 * routes.c — THE route table: every path portcullis serves, its method,
 * handler and access rule. Nothing is routed that is not here, and a test
 * walks this table (GET /api/v1/openapi.json lists it) to prove every
 * non-public row answers 401 anonymously. Literal patterns come before
 * parameterised ones that could match the same path.
 */
#include "api/api.h"

#define PUB PC_PUBLIC
#define AUTH PC_AUTHENTICATED

struct pc_route pc_routes[] = {
	{PC_METHOD_GET, "/health", pc_api_health, PUB, "Liveness: the server answers.", PC_ROUTE_NO_CSRF, 0},
	{PC_METHOD_GET, "/ready", pc_api_ready, PUB, "Readiness: every configured backend answers.", PC_ROUTE_NO_CSRF, 0},
	{PC_METHOD_GET, "/metrics", pc_api_metrics, PUB, "Prometheus metrics.", PC_ROUTE_NO_CSRF, 0},

	{PC_METHOD_GET, "/api/v1/openapi.json", pc_api_openapi, PUB, "This description of the API, generated from the route table.", PC_ROUTE_NO_CSRF, 0},

	{PC_METHOD_GET, "/api/v1/setup", pc_api_setup_get, PUB, "Whether the first user still has to be created.", 0, 0},
	{PC_METHOD_POST, "/api/v1/setup", pc_api_setup_post, PUB, "Create the first user (only while there is none) and sign in.", PC_ROUTE_SETS_SESSION, 0},

	{PC_METHOD_GET, "/api/v1/auth/csrf-token", pc_api_csrf_token, PUB, "A CSRF token (also set as the __Host-portcullis_csrf cookie), bound to your session or, before login, to a pre-session id.", 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/login", pc_api_login, PUB, "Sign in with email and password: sets the session cookie.", PC_ROUTE_SETS_SESSION, 0},
	{PC_METHOD_POST, "/api/v1/auth/logout", pc_api_logout, PUB, "End the current session and clear the cookie.", 0, 0},
	{PC_METHOD_GET, "/api/v1/auth/me", pc_api_me, AUTH, "The authenticated principal.", 0, 0},
	{PC_METHOD_POST, "/api/v1/auth/password-reset", pc_api_password_reset, PUB, "Redeem a one-time password reset token.", 0, 0},

	{PC_METHOD_GET, "/api/v1/sessions", pc_api_sessions_list, AUTH, "Your sessions; the current one is marked.", 0, 0},
	{PC_METHOD_DELETE, "/api/v1/sessions", pc_api_sessions_delete_all, AUTH, "End your other sessions (?all=true: the current one too).", 0, 0},
	{PC_METHOD_DELETE, "/api/v1/sessions/{id}", pc_api_sessions_delete, AUTH, "End one of your sessions.", 0, 0},

	{PC_METHOD_GET, "/api/v1/users", pc_api_users_list, AUTH, "List users.", 0, 0},
	{PC_METHOD_POST, "/api/v1/users", pc_api_users_create, AUTH, "Add a user.", 0, 0},
	{PC_METHOD_PUT, "/api/v1/users/me/password", pc_api_users_password, AUTH, "Change your password; ends your other sessions.", 0, 0},
	{PC_METHOD_DELETE, "/api/v1/users/{id}", pc_api_users_delete, AUTH, "Delete a user and end their sessions.", 0, 0},
	{PC_METHOD_POST, "/api/v1/users/{id}/password-reset", pc_api_users_reset_issue, AUTH, "Issue a one-time password reset token (1 hour).", 0, 0},
};

const size_t pc_n_routes = sizeof(pc_routes) / sizeof(pc_routes[0]);
