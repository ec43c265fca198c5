/* common.c — see common.h. */
#include "api/common.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#include "auth/csrf.h"
#include "config/config.h"
#include "obs/metrics.h"

void pc_api_store_error(struct pc_req *r, enum pc_err e, const char *not_found, const char *conflict)
{
	switch (e) {
	case PC_ERR_NOT_FOUND:
		pc_respond_problem(r, 404, not_found ? not_found : "Not found.");
		return;
	case PC_ERR_CONFLICT:
		pc_respond_problem(r, 409, conflict ? conflict : "Conflict.");
		return;
	case PC_ERR_UNAVAILABLE:
		pc_resp_header(r, "Retry-After", "5");
		pc_respond_problem(r, 503, "The store is unavailable; nothing was changed.");
		return;
	default:
		pc_respond_problem(r, 500, NULL);
		return;
	}
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

json_t *pc_api_user_json(const struct pc_user *u)
{
	return json_pack("{s:s,s:s,s:o,s:o}", "id", u->id, "email", u->email, "created_at",
	                 pc_api_time_json(u->created_at), "password_changed_at",
	                 pc_api_time_json(u->password_changed_at));
}

json_t *pc_api_session_json(const struct pc_session *s, const char *current_id)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:s,s:s,s:b}", "id", s->id, "created_at",
	                 pc_api_time_json(s->created_at), "last_seen_at",
	                 pc_api_time_json(s->last_seen_at), "expires_at",
	                 pc_api_time_json(s->expires_at), "client_address", s->client_addr,
	                 "user_agent", s->user_agent, "current",
	                 current_id != NULL && strcmp(current_id, s->id) == 0);
}

void pc_api_session_new(struct pc_session *s, uint8_t secret[PC_SESSION_SECRET_BYTES],
                        const struct pc_req *r, const char *user_id)
{
	const struct pc_auth *a = pc_auth_of(r);
	memset(s, 0, sizeof(*s));
	randombytes_buf(secret, PC_SESSION_SECRET_BYTES);
	pc_session_secret_hash(s->secret_hash, secret);
	pc_random_id(s->id);
	snprintf(s->user_id, sizeof(s->user_id), "%s", user_id);
	s->created_at = r->now;
	s->last_seen_at = r->now;
	s->expires_at = r->now + a->cfg->session_lifetime_s;
	snprintf(s->client_addr, sizeof(s->client_addr), "%s", r->actor->client_addr);
	snprintf(s->user_agent, sizeof(s->user_agent), "%s", r->actor->user_agent);
}

int pc_api_set_csrf_cookie(struct pc_req *r, const char *session_id, char *token)
{
	const struct pc_auth *a = pc_auth_of(r);
	char header[256];
	pc_csrf_issue(token, a->cfg->keys, session_id, r->now);
	if (pc_csrf_cookie_header(header, sizeof(header), token) != 0 ||
	    pc_resp_header(r, "Set-Cookie", header) != 0)
		return -1;
	pc_metrics_inc(PC_CTR_CSRF_GENERATED);
	return 0;
}

int pc_api_set_session_cookie(struct pc_req *r, const uint8_t secret[PC_SESSION_SECRET_BYTES],
                              const char *session_id, int64_t expires_at)
{
	char token[PC_CSRF_TOKEN_LEN + 1];
	if (pc_api_set_csrf_cookie(r, session_id, token) != 0)
		return -1;
	const struct pc_auth *a = pc_auth_of(r);
	char value[PC_SESSION_COOKIE_LEN + 1];
	char header[512];
	pc_session_seal(value, secret, expires_at, a->cfg->keys);
	int rc = pc_session_cookie_header(header, sizeof(header), a->cfg, value, expires_at - r->now);
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
