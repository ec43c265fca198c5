/*
 * openapi.c — GET /api/v1/openapi.json, generated from the route table.
 *
 * Built from pc_routes itself, so it cannot drift from what is served:
 * every path and method, its summary and access rule (routes.c); for each
 * row the entry of pc_op_docs with the same handler (docs.c): request body,
 * parameters, success answers, the problem kinds it can answer; the
 * reusable schemas from openapi_components.json; the problem types from
 * http/problem.c. Security requirements, 401/403 and the body errors are
 * derived from the row (docs.h says which). The document is built once,
 * at the first request, and served from memory after.
 *
 * pc_openapi_build reports whatever is missing or
 * inconsistent: a row without an entry, an entry without a row, a name
 * that is not in the components, a body schema that disagrees with its
 * handler's field table. The server still serves the document (a
 * programming error must not take the API down); the unit and end-to-end
 * tests fail on any report.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/docs.h"
#include "auth/auth.h"
#include "auth/csrf.h"
#include "auth/session.h"
#include "core/method.h"

struct report {
	char *buf;
	size_t cap, len;
	int n;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void fail(struct report *rep, const char *fmt, ...)
{
	rep->n++;
	if (rep->buf == NULL || rep->len + 1 >= rep->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(rep->buf + rep->len, rep->cap - rep->len, fmt, ap);
	va_end(ap);
	if (k > 0)
		rep->len = rep->len + (size_t)k < rep->cap ? rep->len + (size_t)k : rep->cap - 1;
	if (rep->len + 1 < rep->cap) {
		rep->buf[rep->len++] = '\n';
		rep->buf[rep->len] = '\0';
	}
}

static bool is_unsafe(enum pc_method m)
{
	return m == PC_METHOD_POST || m == PC_METHOD_PUT || m == PC_METHOD_PATCH || m == PC_METHOD_DELETE;
}

static json_t *ref(const char *section, const char *name)
{
	char b[160];
	snprintf(b, sizeof(b), "#/components/%s/%s", section, name);
	return json_pack("{s:s}", "$ref", b);
}

/* A $ref to components/<section>/<name>, reported when there is none. */
static json_t *ref_checked(struct report *rep, const json_t *comps, const char *section, const char *name,
                           const char *where)
{
	if (json_object_get(json_object_get(comps, section), name) == NULL)
		fail(rep, "%s: components/%s/%s does not exist", where, section, name);
	return ref(section, name);
}

/* Calls fn for each item of the comma-separated list s. */
static void each_name(const char *s, void (*fn)(void *ctx, const char *name), void *ctx)
{
	while (s != NULL && *s) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		char name[96];
		snprintf(name, sizeof(name), "%.*s", (int)n, s);
		fn(ctx, name);
		s = c ? c + 1 : s + n;
	}
}

struct names_ctx {
	struct report *rep;
	const json_t *comps;
	const char *section, *where;
	json_t *out; /* array: append refs; object: name -> ref */
};

static void add_ref(void *p, const char *name)
{
	struct names_ctx *c = p;
	json_t *r = ref_checked(c->rep, c->comps, c->section, name, c->where);
	if (json_is_array(c->out)) {
		json_array_append_new(c->out, r);
		return;
	}
	json_object_set_new(c->out, name, r); /* headers: named as in HTTP */
}

static json_t *refs(struct report *rep, const json_t *comps, const char *section, const char *list,
                    const char *where, bool as_object)
{
	struct names_ctx c = {rep, comps, section, where, as_object ? json_object() : json_array()};
	each_name(list, add_ref, &c);
	return c.out;
}

/* {"path param"...} for each {name} in pattern */
static void path_params(json_t *params, const char *pattern)
{
	for (const char *p = strchr(pattern, '{'); p != NULL; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		if (end == NULL)
			break;
		bool id = (size_t)(end - p - 1) == 2 && memcmp(p + 1, "id", 2) == 0;
		json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:o}", "name", p + 1, (size_t)(end - p - 1), "in",
		                                        "path", "required", 1, "schema",
		                                        id ? ref("schemas", "Id") : json_pack("{s:s}", "type", "string")));
	}
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

static const struct pc_op_doc *doc_for(const struct pc_route *rt)
{
	for (size_t i = 0; i < pc_n_op_docs; i++)
		if (pc_op_docs[i].handler == rt->handler)
			return &pc_op_docs[i];
	return NULL;
}

/* The body schema s (named name) must say what input.c accepts from the
 * field table f. */
static void check_body(struct report *rep, const json_t *s, const char *name, const struct pc_fields *f,
                       const char *where)
{
	const json_t *props = json_object_get(s, "properties");
	const json_t *req = json_object_get(s, "required");
	if (!json_is_string(json_object_get(s, "type")) || strcmp(json_string_value(json_object_get(s, "type")), "object") != 0)
		fail(rep, "%s: body schema %s is not type object", where, name);
	if (!json_is_false(json_object_get(s, "additionalProperties")))
		fail(rep, "%s: body schema %s must say additionalProperties: false (input.c refuses unknown members)", where,
		     name);
	if (json_object_size(props) != f->n)
		fail(rep, "%s: body schema %s has %zu properties, the handler accepts %zu fields", where, name,
		     json_object_size(props), f->n);
	size_t n_required = 0;
	for (size_t i = 0; i < f->n; i++) {
		const struct pc_field *fi = &f->f[i];
		const json_t *p = json_object_get(props, fi->name);
		if (p == NULL) {
			fail(rep, "%s: body schema %s lacks field %s", where, name, fi->name);
			continue;
		}
		const char *want = fi->type == PC_F_INT      ? "integer"
		                   : fi->type == PC_F_BOOL   ? "boolean"
		                   : fi->type == PC_F_GROUPS ? "array"
		                                             : "string";
		const json_t *t = json_object_get(p, "type");
		if (!json_is_string(t) || strcmp(json_string_value(t), want) != 0)
			fail(rep, "%s: %s.%s must be type %s", where, name, fi->name, want);
		if ((fi->type == PC_F_STRING || fi->type == PC_F_SECRET) &&
		    json_integer_value(json_object_get(p, "maxLength")) != (json_int_t)fi->max_len)
			fail(rep, "%s: %s.%s must have maxLength %zu", where, name, fi->name, fi->max_len);
		if (fi->type == PC_F_GROUPS && json_integer_value(json_object_get(p, "maxItems")) != (json_int_t)fi->max_len)
			fail(rep, "%s: %s.%s must have maxItems %zu", where, name, fi->name, fi->max_len);
		bool listed = false;
		size_t k;
		json_t *v;
		json_array_foreach(req, k, v)
			if (json_is_string(v) && strcmp(json_string_value(v), fi->name) == 0)
				listed = true;
		if (listed != fi->required)
			fail(rep, "%s: %s.%s is %srequired by the handler", where, name, fi->name, fi->required ? "" : "not ");
		n_required += fi->required;
	}
	if (json_array_size(req) != n_required)
		fail(rep, "%s: %s lists %zu required members, the handler %zu", where, name, json_array_size(req),
		     n_required);
}

int pc_openapi_check_body(const json_t *schema, const struct pc_fields *fields, char *report, size_t report_cap)
{
	struct report rep = {report, report_cap, 0, 0};
	if (report != NULL && report_cap > 0)
		report[0] = '\0';
	check_body(&rep, schema, "body", fields, "check");
	return rep.n;
}

static json_t *request_body(struct report *rep, const json_t *comps, const struct pc_op_doc *d, const char *where)
{
	const json_t *s = json_object_get(json_object_get(comps, "schemas"), d->body_schema);
	if (s != NULL) /* else reported by ref_checked below */
		check_body(rep, s, d->body_schema, d->body, where);
	json_t *content = json_pack("{s:{s:o}}", "application/json", "schema", ref_checked(rep, comps, "schemas", d->body_schema, where));
	const json_t *named = json_object_get(json_object_get(comps, "schemas"), d->body_schema);
	if (d->body_form && named != NULL) {
		/* the form parser ignores unknown parameters and reads an empty
		 * value as absent (RFC 6749 3.2): the same members, not closed */
		json_t *form = json_deep_copy(named);
		json_object_set_new(form, "additionalProperties", json_true());
		json_object_set_new(form, "description", json_string("The same members as the JSON body; unknown "
		                                                     "parameters are ignored and an empty value counts "
		                                                     "as absent (RFC 6749 3.2)."));
		json_object_set_new(content, "application/x-www-form-urlencoded", json_pack("{s:o}", "schema", form));
	}
	return json_pack("{s:b,s:o}", "required", !d->body_optional, "content", content);
}

static json_t *success(struct report *rep, const json_t *comps, const struct pc_doc_ok *ok, const char *where)
{
	json_t *r = json_pack("{s:s}", "description", ok->description);
	if (ok->headers != NULL)
		json_object_set_new(r, "headers", refs(rep, comps, "headers", ok->headers, where, true));
	if (ok->schema != NULL) {
		json_t *content = json_object();
		const char *media = ok->media ? ok->media : "application/json";
		while (*media) {
			const char *c = strchr(media, ',');
			size_t n = c ? (size_t)(c - media) : strlen(media);
			char m[64];
			snprintf(m, sizeof(m), "%.*s", (int)n, media);
			json_object_set_new(content, m, json_pack("{s:o}", "schema", ref_checked(rep, comps, "schemas", ok->schema, where)));
			media = c ? c + 1 : media + n;
		}
		json_object_set_new(r, "content", content);
	}
	return r;
}

/* The problem kinds of an operation: its entry's and the derived ones. */
static uint64_t problem_kinds(const struct pc_route *rt, const struct pc_op_doc *d)
{
	uint64_t k = d->problems | PC_DOC_P(PC_PROB_INTERNAL_ERROR);
	if (d->body != NULL)
		k |= PC_DOC_P(PC_PROB_INVALID_BODY) | PC_DOC_P(PC_PROB_BODY_TOO_LARGE) | PC_DOC_P(PC_PROB_UNSUPPORTED_MEDIA_TYPE);
	if (rt->access == PC_AUTHENTICATED)
		k |= PC_DOC_P(PC_PROB_AUTHENTICATION_REQUIRED) | PC_DOC_P(PC_PROB_UNAVAILABLE);
	/* a sign-in held until its account has a second factor reaches only
	 * the enrolment routes */
	if (rt->access == PC_AUTHENTICATED && !(rt->flags & PC_ROUTE_ENROL))
		k |= PC_DOC_P(PC_PROB_ENROLMENT_REQUIRED);
	if (rt->access == PC_AUTHENTICATED && (rt->flags & PC_ROUTE_ADMIN))
		k |= PC_DOC_P(PC_PROB_FORBIDDEN);
	if (is_unsafe(rt->method) && !(rt->flags & PC_ROUTE_NO_CSRF))
		k |= PC_DOC_P(PC_PROB_CSRF_FAILED);
	/* a 400 of the API can also be the HTTP layer's */
	for (int i = 0; i < PC_PROB__COUNT; i++)
		if ((k & PC_DOC_P(i)) && pc_problem_kinds[i].status == 400)
			k |= PC_DOC_P(PC_PROB_MALFORMED_REQUEST);
	return k;
}

static void problem_responses(struct report *rep, const json_t *comps, json_t *responses, uint64_t kinds,
                              const struct pc_op_doc *d, const char *where)
{
	for (int status = 400; status < 600; status++) {
		json_t *types = json_array();
		char desc[512] = "";
		size_t dl = 0;
		for (int i = 0; i < PC_PROB__COUNT; i++) {
			if (!(kinds & PC_DOC_P(i)) || pc_problem_kinds[i].status != status)
				continue;
			char uri[96];
			snprintf(uri, sizeof(uri), "%s%s", PC_PROBLEM_TYPE_PREFIX, pc_problem_kinds[i].slug);
			json_array_append_new(types, json_string(uri));
			int w = snprintf(desc + dl, sizeof(desc) - dl, "%s%s (%s)", dl ? "; " : "", pc_problem_kinds[i].title,
			                 pc_problem_kinds[i].slug);
			if (w > 0 && dl + (size_t)w < sizeof(desc))
				dl += (size_t)w;
		}
		if (json_array_size(types) == 0) {
			json_decref(types);
			continue;
		}
		json_t *schema = ref("schemas", "Problem");
		json_object_set_new(schema, "properties", json_pack("{s:{s:o}}", "type", "enum", types));
		json_t *r = json_pack("{s:s,s:{s:{s:o}}}", "description", desc, "content", "application/problem+json",
		                      "schema", schema);
		if (status == 403 && d->html_403)
			json_object_set_new(json_object_get(r, "content"), "text/html",
			                    json_pack("{s:o}", "schema", ref_checked(rep, comps, "schemas", "Html", where)));
		json_t *headers = NULL;
		if (status == 401) {
			headers = refs(rep, comps, "headers", "WWW-Authenticate", where, true);
			if (d->unauth_headers != NULL) {
				json_t *extra = refs(rep, comps, "headers", d->unauth_headers, where, true);
				json_object_update(headers, extra);
				json_decref(extra);
			}
		} else if (status == 429 || status == 503) {
			headers = refs(rep, comps, "headers", "Retry-After", where, true);
		}
		if (headers != NULL)
			json_object_set_new(r, "headers", headers);
		char code[8];
		snprintf(code, sizeof(code), "%d", status);
		json_object_set_new(responses, code, r);
	}
	/* what any request may get from the HTTP layer, besides the above */
	static const char *const ranges[][2] = {
		{"4XX", "Any other client error: the HTTP layer's own (malformed-request, not-found, method-not-allowed, request-timeout, "
		        "length-required, body-too-large, uri-too-long, expectation-failed, header-too-large)"},
		{"5XX", "Any other server error (internal-error, unavailable, not-implemented, "
		        "http-version-not-supported)"},
	};
	for (size_t i = 0; i < 2; i++) {
		json_t *types = json_array();
		for (int k = 0; k < PC_PROB__COUNT; k++) {
			int s = pc_problem_kinds[k].status;
			if ((s / 100 == (int)i + 4) && k <= PC_PROB_HTTP_VERSION) {
				char uri[96];
				snprintf(uri, sizeof(uri), "%s%s", PC_PROBLEM_TYPE_PREFIX, pc_problem_kinds[k].slug);
				json_array_append_new(types, json_string(uri));
			}
		}
		json_t *schema = ref("schemas", "Problem");
		json_object_set_new(schema, "properties", json_pack("{s:{s:o}}", "type", "enum", types));
		json_object_set_new(responses, ranges[i][0],
		                    json_pack("{s:s,s:{s:{s:o}}}", "description", ranges[i][1], "content",
		                              "application/problem+json", "schema", schema));
	}
}

static json_t *requirement(const char *a, const char *b)
{
	json_t *o = json_object();
	json_object_set_new(o, a, json_array());
	if (b != NULL)
		json_object_set_new(o, b, json_array());
	return o;
}

/*
 * Security: authenticated routes take the session cookie (with the CSRF
 * header on unsafe methods), a bearer JWT or an API key (or only those of
 * the entry's only_auth); public routes that
 * look at a credential when one comes list {} first (optional); login and
 * setup need the CSRF pair though they need no credential.
 */
static json_t *security(const struct pc_route *rt, const struct pc_op_doc *d)
{
	bool csrf = is_unsafe(rt->method) && !(rt->flags & PC_ROUTE_NO_CSRF);
	json_t *s = json_array();
	unsigned which = d->only_auth != 0 ? d->only_auth : PC_DOC_SESSION | PC_DOC_BEARER | PC_DOC_API_KEY;
	if (rt->access != PC_AUTHENTICATED) {
		if (rt->flags & PC_ROUTE_SETS_SESSION)
			json_array_append_new(s, requirement("csrf", NULL));
		if (d->optional_auth == 0)
			return s;
		json_array_append_new(s, json_object());
		which = d->optional_auth;
	}
	if (which & PC_DOC_SESSION)
		json_array_append_new(s, requirement("session", csrf ? "csrf" : NULL));
	if (which & PC_DOC_BEARER)
		json_array_append_new(s, requirement("bearer", NULL));
	if (which & PC_DOC_API_KEY)
		json_array_append_new(s, requirement("apiKey", NULL));
	return s;
}

static json_t *operation(struct report *rep, const json_t *comps, const struct pc_route *rt, const char *method)
{
	char where[160], op_id[128];
	snprintf(where, sizeof(where), "%s %s", pc_method_name(rt->method), rt->pattern);
	operation_id(op_id, sizeof(op_id), method, rt->pattern);
	json_t *params = json_array();
	path_params(params, rt->pattern);
	json_t *op = json_pack("{s:s,s:s}", "operationId", op_id, "summary", rt->summary);
	const struct pc_op_doc *d = doc_for(rt);
	if (d == NULL) {
		fail(rep, "%s: no entry in pc_op_docs (src/api/docs.c)", where);
		json_object_set_new(op, "parameters", params);
		json_object_set_new(op, "x-undocumented", json_true());
		json_object_set_new(op, "responses", json_pack("{s:{s:s}}", "default", "description", "Undocumented"));
		json_object_set_new(op, "security", json_array());
		return op;
	}
	json_object_set_new(op, "tags", json_pack("[s]", d->tag));
	if (d->description != NULL)
		json_object_set_new(op, "description", json_string(d->description));
	if (d->params != NULL) {
		json_t *extra = refs(rep, comps, "parameters", d->params, where, false);
		json_array_extend(params, extra);
		json_decref(extra);
	}
	json_object_set_new(op, "parameters", params);
	if (d->body != NULL) {
		if (d->body_schema == NULL)
			fail(rep, "%s: a body without a schema", where);
		else
			json_object_set_new(op, "requestBody", request_body(rep, comps, d, where));
	} else if (d->body_schema != NULL && d->body_own) {
		json_object_set_new(op, "requestBody",
		                    json_pack("{s:b,s:{s:{s:o}}}", "required", true, "content", "application/json", "schema",
		                              ref_checked(rep, comps, "schemas", d->body_schema, where)));
	} else if (d->body_schema != NULL) {
		fail(rep, "%s: a body schema without the handler's field table", where);
	} else if (rt->method == PC_METHOD_POST || rt->method == PC_METHOD_PUT || rt->method == PC_METHOD_PATCH) {
		/* said outright, so a forgotten body and "none" look different */
		json_object_set_new(op, "x-request-body", json_string("none: a body is not read"));
	}
	json_t *responses = json_object();
	size_t n_ok = 0;
	for (size_t i = 0; i < sizeof(d->ok) / sizeof(d->ok[0]); i++) {
		if (d->ok[i].status == 0)
			continue;
		char code[8];
		snprintf(code, sizeof(code), "%d", d->ok[i].status);
		json_object_set_new(responses, code, success(rep, comps, &d->ok[i], where));
		n_ok++;
	}
	if (n_ok == 0)
		fail(rep, "%s: no success answer", where);
	problem_responses(rep, comps, responses, problem_kinds(rt, d), d, where);
	json_object_set_new(op, "responses", responses);
	json_object_set_new(op, "security", security(rt, d));
	return op;
}

static json_t *security_schemes(const struct pc_config *cfg)
{
	static const char session_desc[] =
		"The session cookie set by login and setup (HttpOnly; Secure; SameSite=Strict). On unsafe methods "
		"(POST, PUT, PATCH, DELETE) it must come with the csrf scheme too.";
	return json_pack(
		"{s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s}}", "session", "type",
		"apiKey", "in", "cookie", "name", cfg != NULL ? pc_session_cookie_name(cfg) : "__Host-portcullis_session",
		"description", session_desc, "csrf", "type", "apiKey", "in", "header", "name", PC_CSRF_HEADER, "description",
		"The CSRF token of GET /api/v1/auth/csrf-token, equal to the " PC_CSRF_COOKIE
		" cookie it sets (before sign-in also with the " PC_CSRF_PRESESSION_COOKIE
		" cookie). Needed with the session cookie on unsafe methods, and on login and setup. A cross-site "
		"Sec-Fetch-Site or a foreign Origin is refused too.",
		"bearer", "type", "http", "scheme", "bearer", "bearerFormat", "JWT", "description",
		"An access token of POST /api/v1/auth/token or /refresh. An API key (pc_...) is accepted here too.",
		"apiKey", "type", "apiKey", "in", "header", "name", "X-API-Key", "description",
		"An API key (pc_...), from POST /api/v1/api-keys. With PORTCULLIS_API_KEYS_CAN_ADMIN=false (the "
		"default) it may not use the user and API-key routes (403 forbidden).");
}

static json_t *problem_type_enum(void)
{
	json_t *a = json_array();
	for (int i = 0; i < PC_PROB__COUNT; i++) {
		char uri[96];
		snprintf(uri, sizeof(uri), "%s%s", PC_PROBLEM_TYPE_PREFIX, pc_problem_kinds[i].slug);
		json_array_append_new(a, json_string(uri));
	}
	return a;
}

static const char info_description[] =
	"Authentication gateway API: sessions, tokens, API keys, users, audit, forward auth.\n\n"
	"Request bodies are application/json objects with no duplicate or unknown members, at most "
	"PORTCULLIS_MAX_BODY_BYTES. Errors are application/problem+json (RFC 9457): `type` is a reference such "
	"as /api/v1/problems/csrf-failed, relative to the request URI, that names the kind of error (GET it, or "
	"GET /api/v1/problems, for its meaning and what to do); `title` and `status` are fixed by the kind. "
	"Besides the answers each operation lists, any request may get the HTTP layer's own problems "
	"(malformed-request, request-timeout, length-required, body-too-large, uri-too-long, header-too-large, "
	"not-implemented, http-version-not-supported) and unavailable or internal-error.\n\n"
	"Credentials: the session cookie; Authorization: Bearer with an access token or an API key; X-API-Key. "
	"With an Authorization or X-API-Key header the cookie is not looked at. Unsafe methods with the session "
	"cookie (and login, setup) need the csrf scheme as well.";

static json_t *tags(void)
{
	return json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]",
	                 "name", "auth", "description", "Setup, sign-in, sign-out, who am I, CSRF tokens.",
	                 "name", "tokens", "description", "Access and refresh tokens.",
	                 "name", "forward auth", "description", "For reverse proxies in front of an app.",
	                 "name", "sessions", "description", "Your own sessions.",
	                 "name", "users", "description", "Users and passwords.",
	                 "name", "api keys", "description", "API keys (shared by all users).",
	                 "name", "audit", "description", "The audit trail.",
	                 "name", "operations", "description", "Health, readiness, metrics, keys and this description.",
	                 "name", "pages", "description", "The login page and admin console.",
	                 "name", "oidc", "description", "The OpenID Connect provider (with PORTCULLIS_PUBLIC_URL).");
}

json_t *pc_openapi_build(const struct pc_config *cfg, char *report, size_t report_cap, int *n_problems)
{
	struct report rep = {report, report_cap, 0, 0};
	if (report != NULL && report_cap > 0)
		report[0] = '\0';
	json_error_t jerr;
	json_t *comps = json_loads(pc_openapi_components, JSON_REJECT_DUPLICATES, &jerr);
	if (comps == NULL) {
		fail(&rep, "openapi_components.json: %s at line %d", jerr.text, jerr.line);
		comps = json_object();
	}
	json_t *schemas = json_object_get(comps, "schemas");
	json_t *problem = json_object_get(schemas, "Problem");
	json_t *ptype = json_object_get(json_object_get(problem, "properties"), "type");
	if (ptype != NULL)
		json_object_set_new(ptype, "enum", problem_type_enum());
	json_t *pt = json_object_get(json_object_get(json_object_get(schemas, "ProblemType"), "properties"), "type");
	if (pt != NULL)
		json_object_set_new(pt, "enum", problem_type_enum());

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
		json_object_set_new(item, method, operation(&rep, comps, rt, method));
	}
	for (size_t i = 0; i < pc_n_op_docs; i++) {
		size_t rows = 0;
		for (size_t j = 0; j < pc_n_routes; j++)
			rows += pc_routes[j].handler == pc_op_docs[i].handler;
		if (rows != 1)
			fail(&rep, "pc_op_docs[%zu] (%s) matches %zu route rows, not 1", i, pc_op_docs[i].tag, rows);
	}
	json_object_set_new(comps, "securitySchemes", security_schemes(cfg));
	if (n_problems != NULL)
		*n_problems = rep.n;
	return json_pack("{s:s,s:{s:s,s:s,s:s},s:[{s:s,s:s}],s:o,s:o,s:o}", "openapi", "3.1.0", "info", "title",
	                 "portcullis", "version", PC_VERSION, "description", info_description, "servers", "url", "/",
	                 "description", "The host that served this document.", "tags", tags(), "paths", paths,
	                 "components", comps);
}

/* Built once per process, at the first request: the configuration it
 * reads (the cookie name) does not change while serving. */
static pthread_mutex_t doc_lock = PTHREAD_MUTEX_INITIALIZER;
static char *doc_text; /* kept for the life of the process */

void pc_api_openapi(struct pc_req *r)
{
	pthread_mutex_lock(&doc_lock);
	if (doc_text == NULL) {
		int n = 0;
		json_t *doc = pc_openapi_build(pc_auth_of(r)->cfg, NULL, 0, &n);
		doc_text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
		json_decref(doc);
	}
	const char *text = doc_text;
	pthread_mutex_unlock(&doc_lock);
	if (text == NULL) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_respond(r, 200, "application/json", text, strlen(text));
}
