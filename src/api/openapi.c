/*
 * openapi.c — GET /api/v1/openapi.json, generated from the route table.
 *
 * Built from pc_routes itself, so it cannot drift from what is served: every
 * path and method, its summary, whether it needs authentication, and the
 * path parameters. The end-to-end route walk reads it to prove every
 * authenticated operation answers 401 to an anonymous request.
 */
#include <stdio.h>
#include <string.h>

#include "core/method.h"
#include "api/api.h"

static json_t *problem_response(const char *description)
{
	return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", description, "content",
	                 "application/problem+json", "schema", "$ref",
	                 "#/components/schemas/Problem");
}

static json_t *string_header(const char *description)
{
	return json_pack("{s:s,s:{s:s}}", "description", description, "schema", "type", "string");
}

/* The forward-auth contract of /api/v1/auth/verify: the identity headers of
 * a 200 and the login redirect of a 401 (the proxy's side of it). */
static void forward_auth_responses(json_t *responses)
{
	json_t *ok = json_pack("{s:s,s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}}", "description",
	                       "Authenticated: the proxy lets the request through with these headers",
	                       "headers", "X-Auth-User-Id", string_header("The user's id (absent for an API key)"),
	                       "X-Auth-Email", string_header("The user's email (absent for an API key)"),
	                       "X-Auth-Method", string_header("session, jwt or api_key"),
	                       "X-Auth-Session", string_header("The session id, when there is one (absent for an API key)"),
	                       "X-Auth-Role", string_header("admin or member (absent for an API key)"),
	                       "X-Auth-Groups",
	                       string_header("The user's groups joined by ',' (empty when none; absent for an API key)"),
	                       "X-Auth-Key-Id", string_header("An API key's id (only for an API key)"),
	                       "X-Auth-Key-Name", string_header("An API key's name (only for an API key)"),
	                       "X-Auth-Assertion",
	                       string_header("With PORTCULLIS_AUTH_ASSERTION: a 60-second JWT for the app (users only)"));
	json_t *no = problem_response("Not authenticated");
	json_object_set_new(no, "headers",
	                    json_pack("{s:o}", "X-Auth-Redirect",
	                              string_header("From a trusted proxy that sent the original URI: "
	                                            "/login?rd=<that URI, percent-encoded>")));
	json_object_set_new(responses, "200", ok);
	json_object_set_new(responses, "401", no);
}

/* {"name":"id","in":"path","required":true,...} for each {param} in pattern */
static json_t *path_params(const char *pattern)
{
	json_t *params = json_array();
	for (const char *p = strchr(pattern, '{'); p != NULL; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		if (end == NULL)
			break;
		json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p + 1,
		                                        (size_t)(end - p - 1), "in", "path",
		                                        "required", 1, "schema", "type", "string"));
	}
	return params;
}

/*
 * operationId from method and pattern, so it is unique exactly when the
 * (method, path) rows are: "GET /api/v1/api-keys/{id}" -> "getApiKeysById",
 * "POST /api/v1/users/{id}/password-reset" -> "postUsersByIdPasswordReset",
 * "GET /.well-known/jwks.json" -> "getWellKnownJwksJson". The "/api/v1"
 * prefix is left out (no unprefixed route has the same rest).
 */
static void operation_id(char *out, size_t cap, const char *method_lower, const char *pattern)
{
	size_t n = 0;
	for (const char *m = method_lower; *m && n + 1 < cap; m++)
		out[n++] = *m;
	const char *p = pattern;
	if (strncmp(p, "/api/v1/", 8) == 0)
		p += 7;
	int upper = 1;
	for (; *p && n + 3 < cap; p++) {
		char c = *p;
		if (c == '{') {
			out[n++] = 'B';
			out[n++] = 'y';
			upper = 1;
			continue;
		}
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum) {
			upper = 1;
			continue;
		}
		if (upper && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		out[n++] = c;
		upper = 0;
	}
	out[n] = '\0';
}

static json_t *build(void)
{
	json_t *paths = json_object();
	for (size_t i = 0; i < pc_n_routes; i++) {
		const struct pc_route *rt = &pc_routes[i];
		json_t *item = json_object_get(paths, rt->pattern);
		if (item == NULL) {
			item = json_object();
			json_object_set_new(paths, rt->pattern, item);
		}
		char method[16];
		snprintf(method, sizeof(method), "%s", pc_method_name(rt->method));
		for (char *m = method; *m; m++)
			if (*m >= 'A' && *m <= 'Z')
				*m = (char)(*m - 'A' + 'a');
		char op_id[128];
		operation_id(op_id, sizeof(op_id), method, rt->pattern);
		json_t *op = json_pack("{s:s,s:s,s:o,s:{s:{s:s},s:o}}", "operationId", op_id, "summary",
		                       rt->summary, "parameters", path_params(rt->pattern), "responses",
		                       "default", "description", "Success", "4XX",
		                       problem_response("Client error"));
		if (rt->access == PC_AUTHENTICATED) {
			json_object_set_new(op, "security",
			                    json_pack("[{s:[]},{s:[]},{s:[]}]", "session", "bearer", "apiKey"));
			json_object_set_new(json_object_get(op, "responses"), "401",
			                    problem_response("Authentication is required"));
		} else {
			json_object_set_new(op, "security", json_array());
		}
		if (strcmp(rt->pattern, "/api/v1/auth/verify") == 0)
			forward_auth_responses(json_object_get(op, "responses"));
		json_object_set_new(item, method, op);
	}
	return json_pack(
		"{s:s,s:{s:s,s:s,s:s},s:[{s:s,s:s}],s:o,s:{s:{s:{s:s,s:s,s:s},s:{s:s,s:s},s:{s:s,s:s,s:s}},s:{s:{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s}}}}}}",
		"openapi", "3.1.0", "info", "title", "portcullis", "version", PC_VERSION, "description",
		"Authentication gateway API. Errors are application/problem+json (RFC 9457).", "servers",
		"url", "/", "description", "The host that served this document.", "paths",
		paths, "components", "securitySchemes", "session", "type", "apiKey", "in", "cookie", "name",
		"__Host-portcullis_session", "bearer", "type", "http", "scheme", "bearer", "apiKey", "type",
		"apiKey", "in", "header", "name", "X-API-Key", "schemas", "Problem", "type", "object",
		"properties", "type", "type", "string", "title", "type", "string", "status", "type",
		"integer", "detail", "type", "string");
}

void pc_api_openapi(struct pc_req *r)
{
	json_t *doc = build();
	if (doc == NULL) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_respond_json(r, 200, doc);
}
