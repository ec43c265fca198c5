/* common.c — see common.h. */
#include "api/common.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/csrf.h"
#include "core/log.h"
#include "core/text.h"
#include "config/config.h"
#include "obs/metrics.h"

const struct pc_api_say pc_api_say_login = {
	.unauthorized = "Invalid email or password.",
	.auth_failure = PC_AUTHF_BAD_CREDENTIALS,
	.unauthorized_kind = PC_PROB_INVALID_CREDENTIALS,
};

const struct pc_api_say pc_api_say_refresh = {
	.unauthorized = "The refresh token is not valid.",
	.auth_failure = PC_AUTHF_INVALID_TOKEN,
	.unauthorized_kind = PC_PROB_INVALID_REFRESH_TOKEN,
	.throttled = "Too many refreshes; try again later.",
};

static void unauthorized(struct pc_req *r, int reason, enum pc_problem kind, const char *detail)
{
	pc_metrics_auth_failure((enum pc_auth_failure)reason);
	pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
	if (kind >= PC_PROB__COUNT || pc_problem_kinds[kind].status != 401)
		kind = PC_PROB_AUTHENTICATION_REQUIRED;
	pc_respond_problem_kind(r, kind, detail);
}

/* 400 weak-password with the policy's reason as members of the problem
 * (RFC 9457 3.2 extension members). */
static void weak_password(struct pc_req *r, const struct pc_pw_verdict *v)
{
	if (v == NULL || v->reason == NULL) {
		pc_respond_problem_kind(r, PC_PROB_WEAK_PASSWORD, "The password is not accepted.");
		return;
	}
	const struct pc_problem_kind *k = &pc_problem_kinds[PC_PROB_WEAK_PASSWORD];
	char type[64];
	snprintf(type, sizeof(type), "%s%s", PC_PROBLEM_TYPE_PREFIX, k->slug);
	json_t *body = json_pack("{s:s,s:s,s:i,s:s,s:s,s:i}", "type", type, "title", k->title, "status", k->status,
	                         "detail", v->message, "reason", v->reason, "min_score", v->min_score);
	if (body != NULL && v->score >= 0)
		json_object_set_new(body, "score", json_integer(v->score));
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		pc_respond_problem(r, 500, NULL);
		return;
	}
	pc_respond(r, k->status, "application/problem+json", text, strlen(text));
	free(text);
}

void pc_api_error(struct pc_req *r, enum pc_err e, const struct pc_api_say *say)
{
	static const struct pc_api_say none;
	if (say == NULL)
		say = &none;
	char ra[24];
	switch (e) {
	case PC_OK:
		break; /* not an error: a caller's bug */
	case PC_ERR_NOT_FOUND:
		if (say->unauthorized != NULL)
			unauthorized(r, say->auth_failure, say->unauthorized_kind, say->unauthorized);
		else
			pc_respond_problem(r, 404, say->not_found ? say->not_found : "Not found.");
		return;
	case PC_ERR_CONFLICT:
		pc_respond_problem(r, 409, say->conflict ? say->conflict : "Conflict.");
		return;
	case PC_ERR_SET_UP:
		pc_respond_problem_kind(r, PC_PROB_ALREADY_SET_UP, "Setup is already done.");
		return;
	case PC_ERR_LAST_USER:
		pc_respond_problem_kind(r, PC_PROB_LAST_USER, "The last user cannot be deleted.");
		return;
	case PC_ERR_REUSED:
		unauthorized(r, PC_AUTHF_REVOKED_TOKEN, PC_PROB_INVALID_REFRESH_TOKEN, "The refresh token is not valid.");
		return;
	case PC_ERR_STALE: /* the services answer PC_ERR_NOT_FOUND; never a hint */
		unauthorized(r, say->auth_failure, say->unauthorized ? say->unauthorized_kind : PC_PROB_AUTHENTICATION_REQUIRED,
		             say->unauthorized ? say->unauthorized : "Not authenticated.");
		return;
	case PC_ERR_FORBIDDEN:
		pc_respond_problem_kind(r, PC_PROB_FORBIDDEN, say->forbidden ? say->forbidden : "Only an admin may do this.");
		return;
	case PC_ERR_ENROL:
		pc_respond_problem_kind(r, PC_PROB_ENROLMENT_REQUIRED,
		                        "This account must have a second factor first: sign in on the login page, which "
		                        "sets one up.");
		return;
	case PC_ERR_LAST_ADMIN:
		pc_respond_problem_kind(r, PC_PROB_LAST_ADMIN, "This is the last enabled admin: it can be neither demoted, "
		                                               "disabled nor deleted. Make another user an admin first.");
		return;
	case PC_ERR_THROTTLED:
		snprintf(ra, sizeof(ra), "%lld", (long long)(say->retry_after > 0 ? say->retry_after : 1));
		pc_resp_header(r, "Retry-After", ra);
		pc_metrics_auth_failure(PC_AUTHF_THROTTLED);
		pc_respond_problem(r, 429, say->throttled ? say->throttled : "Too many failed attempts; try again later.");
		return;
	case PC_ERR_UNAVAILABLE:
		pc_resp_header(r, "Retry-After", "5");
		pc_respond_problem(r, 503, "The store is unavailable; nothing was changed.");
		return;
	case PC_ERR_WEAK_PASSWORD:
		weak_password(r, say->weak);
		return;
	case PC_ERR_INVALID:
		pc_respond_problem(r, 400, "The request is not valid.");
		return;
	case PC_ERR_INTERNAL:
	case PC_ERR_TAMPERED:
		break;
	}
	pc_respond_problem(r, 500, NULL);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int pc_api_time_parse(int64_t *out, const char *s, size_t len)
{
	/* exactly YYYY-MM-DDTHH:MM:SSZ, UTC */
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	if (len != sizeof(shape) - 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return -1;
	}
#define N2(i) ((unsigned)(s[i] - '0') * 10 + (unsigned)(s[(i) + 1] - '0'))
	unsigned y = N2(0) * 100 + N2(2), mo = N2(5), d = N2(8), h = N2(11), mi = N2(14), se = N2(17);
#undef N2
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
	    h > 23 || mi > 59 || se > 59)
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

void pc_api_time(char out[32], int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *pc_api_time_json(int64_t t)
{
	char b[32];
	pc_api_time(b, t);
	return json_string(b);
}

json_t *pc_api_text_json(const char *s)
{
	size_t n = strlen(s);
	char stack[PC_TEXT_ESCAPE_CAP(PC_UA_MAX)];
	char *e = n <= PC_UA_MAX ? stack : malloc(PC_TEXT_ESCAPE_CAP(n));
	if (e == NULL)
		return NULL;
	pc_text_escape(e, PC_TEXT_ESCAPE_CAP(n), s, n);
	json_t *j = json_string(e);
	if (e != stack)
		free(e);
	return j;
}

json_t *pc_api_groups_json(const char *groups)
{
	json_t *arr = json_array();
	const char *names[PC_USER_GROUPS_MAX];
	char buf[PC_USER_GROUPS_TEXT + 1];
	size_t n = pc_groups_split(names, buf, sizeof(buf), groups);
	for (size_t i = 0; arr != NULL && i < n; i++)
		json_array_append_new(arr, json_string(names[i]));
	return arr;
}

json_t *pc_api_user_json(const struct pc_user *u)
{
	return json_pack("{s:s,s:s,s:s,s:o,s:b,s:o,s:o,s:o}", "id", u->id, "email", u->email, "role",
	                 pc_role_name(u->role), "groups", pc_api_groups_json(u->groups), "disabled", u->disabled,
	                 "created_at", pc_api_time_json(u->created_at), "password_changed_at",
	                 pc_api_time_json(u->password_changed_at), "name",
	                 u->name[0] != '\0' ? json_string(u->name) : json_null());
}

json_t *pc_api_session_json(const struct pc_session *s, const char *current_id)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:s,s:o,s:b}", "id", s->id, "created_at",
	                 pc_api_time_json(s->created_at), "last_seen_at",
	                 pc_api_time_json(s->last_seen_at), "expires_at",
	                 pc_api_time_json(s->expires_at), "client_address", s->client_addr,
	                 "user_agent", pc_api_text_json(s->user_agent), "current",
	                 current_id != NULL && strcmp(current_id, s->id) == 0);
}

int pc_api_set_csrf_cookie(struct pc_req *r, const char *session_id, char *token)
{
	const struct pc_auth *a = pc_auth_of(r);
	char header[256];
	char pre[PC_CSRF_PRESESSION_LEN + 1];
	if (session_id == NULL) {
		/* the client's pre-session id if it has one (several tabs share
		 * it), else a new one; its cookie is set again either way, so it
		 * lives as long as the token */
		const struct pc_http_cookie *ck = pc_http_cookie_get(r->http, PC_CSRF_PRESESSION_COOKIE);
		if (ck != NULL && pc_csrf_presession_valid(ck->value.p, ck->value.len)) {
			memcpy(pre, ck->value.p, PC_CSRF_PRESESSION_LEN);
			pre[PC_CSRF_PRESESSION_LEN] = '\0';
		} else {
			pc_csrf_presession_new(pre);
		}
		if (pc_csrf_presession_cookie_header(header, sizeof(header), pre) != 0 ||
		    pc_resp_header(r, "Set-Cookie", header) != 0)
			return -1;
	}
	pc_csrf_issue(token, a->cfg->keys, session_id, session_id == NULL ? pre : NULL, r->now);
	if (pc_csrf_cookie_header(header, sizeof(header), token) != 0 ||
	    pc_resp_header(r, "Set-Cookie", header) != 0)
		return -1;
	pc_metrics_inc(PC_CTR_CSRF_GENERATED);
	return 0;
}

int pc_api_set_session_cookie(struct pc_req *r, const uint8_t secret[PC_SESSION_SECRET_BYTES],
                              const struct pc_session *s)
{
	char token[PC_CSRF_TOKEN_LEN + 1];
	if (pc_api_set_csrf_cookie(r, s->id, token) != 0)
		return -1;
	int64_t expires_at = s->expires_at;
	const struct pc_auth *a = pc_auth_of(r);
	char value[PC_SESSION_COOKIE_LEN + 1];
	char header[512];
	pc_session_seal(value, secret, expires_at, a->cfg->keys);
	/* the lifetime the session was given (from its own creation time) */
	int rc = pc_session_cookie_header(header, sizeof(header), a->cfg, value, expires_at - s->created_at);
	if (rc == 0)
		rc = pc_resp_header(r, "Set-Cookie", header);
	sodium_memzero(value, sizeof(value));
	sodium_memzero(header, sizeof(header));
	return rc;
}

void pc_api_clear_session_cookie(struct pc_req *r)
{
	const struct pc_auth *a = pc_auth_of(r);
	char header[512];
	if (pc_session_cookie_header(header, sizeof(header), a->cfg, "", 0) == 0)
		pc_resp_header(r, "Set-Cookie", header);
}

void *pc_api_state_or_respond(struct pc_req *r, size_t size)
{
	void *p = pc_arena_alloc(&r->arena, size);
	if (p == NULL) {
		pc_respond_problem(r, 500, NULL);
		return NULL;
	}
	memset(p, 0, size);
	return p;
}

void pc_api_defer(struct pc_req *r, pc_work_fn work, pc_work_fn done, void *data)
{
	if (pc_req_defer(r, work, done, data) != 0) {
		pc_resp_header(r, "Retry-After", "1");
		pc_respond_problem(r, 503, "The server is overloaded.");
	}
}

struct secret_work {
	pc_work_fn work, done;
	void *data;
	struct pc_secret *sec;
	size_t n;
};

static void free_secrets(struct secret_work *w)
{
	for (size_t i = 0; i < w->n; i++)
		pc_secret_free(&w->sec[i]);
}

static void on_secret_work(struct pc_req *r, void *data)
{
	struct secret_work *w = data;
	w->work(r, w->data);
	free_secrets(w);
}

static void on_secret_done(struct pc_req *r, void *data)
{
	struct secret_work *w = data;
	w->done(r, w->data);
}

void pc_api_defer_secrets(struct pc_req *r, pc_work_fn work, pc_work_fn done, void *data,
                          struct pc_secret *sec, size_t n)
{
	struct secret_work *w = pc_arena_alloc(&r->arena, sizeof(*w));
	if (w == NULL) {
		for (size_t i = 0; i < n; i++)
			pc_secret_free(&sec[i]);
		pc_respond_problem(r, 500, NULL);
		return;
	}
	*w = (struct secret_work){work, done, data, sec, n};
	if (pc_req_defer(r, on_secret_work, on_secret_done, w) != 0) {
		free_secrets(w);
		pc_resp_header(r, "Retry-After", "1");
		pc_respond_problem(r, 503, "The server is overloaded.");
	}
}

int pc_api_session_cookie_or_respond(struct pc_req *r, uint8_t secret[PC_SESSION_SECRET_BYTES],
                                     const struct pc_session *sess)
{
	int rc = pc_api_set_session_cookie(r, secret, sess);
	sodium_memzero(secret, PC_SESSION_SECRET_BYTES);
	if (rc != 0)
		pc_respond_problem(r, 500, NULL);
	return rc;
}
