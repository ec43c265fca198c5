/*
 * authenticate.c — turning a request's credentials into a principal.
 *
 * Session cookie: opened (and so authenticated and checked for expiry) in
 * memory first; only a cookie that opens is looked up in the store, on the
 * worker pool. A cookie that fails to open is counted by reason and the
 * request continues anonymously: public routes still work, non-public ones
 * get 401 from pc_stage_require_auth.
 */
#include <sodium.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/session.h"
#include "config/config.h"
#include "core/log.h"
#include "obs/metrics.h"

void pc_principal_for_session(struct pc_principal *p, const struct pc_req *r,
                              const char *user_id, const char *email, const char *session_id,
                              int64_t authenticated_at)
{
	pc_principal_anonymous(p, r);
	p->method = PC_AUTH_SESSION;
	snprintf(p->user_id, sizeof(p->user_id), "%s", user_id);
	snprintf(p->email, sizeof(p->email), "%s", email);
	snprintf(p->session_id, sizeof(p->session_id), "%s", session_id);
	p->authenticated_at = authenticated_at;
}

struct lookup {
	uint8_t hash[32];
	struct pc_session sess;
	enum pc_err err;
};

static void fail(struct pc_req *r, enum pc_auth_failure why)
{
	pc_metrics_auth_failure(why);
	r->auth_failure = 1 + (int)why;
}

static void lookup_work(struct pc_req *r, void *data)
{
	struct lookup *lk = data;
	struct pc_auth *a = pc_auth_of(r);
	lk->err = pc_store_session_get(a->store, lk->hash, &lk->sess);
	if (lk->err == PC_OK && lk->sess.expires_at > r->now &&
	    lk->sess.last_seen_at + a->cfg->session_idle_s > r->now &&
	    lk->sess.last_seen_at + PC_SESSION_TOUCH_INTERVAL <= r->now) {
		/* best effort: a failed touch only shortens the idle window */
		(void)pc_store_session_touch(a->store, lk->sess.id, r->now);
	}
}

static void lookup_done(struct pc_req *r, void *data)
{
	struct lookup *lk = data;
	struct pc_auth *a = pc_auth_of(r);
	if (lk->err == PC_ERR_UNAVAILABLE || lk->err == PC_ERR_INTERNAL) {
		fail(r, PC_AUTHF_BACKEND_UNAVAILABLE);
		if (r->route->access != PC_PUBLIC) {
			pc_resp_header(r, "Retry-After", "5");
			pc_respond_problem(r, 503, "The session store is unavailable.");
			return;
		}
	} else if (lk->err == PC_ERR_NOT_FOUND) {
		fail(r, PC_AUTHF_UNKNOWN_SESSION);
	} else if (lk->sess.expires_at <= r->now ||
	           lk->sess.last_seen_at + a->cfg->session_idle_s <= r->now) {
		fail(r, PC_AUTHF_EXPIRED);
	} else {
		struct pc_principal *p = pc_arena_alloc(&r->arena, sizeof(*p));
		if (p == NULL) {
			pc_respond_problem(r, 500, NULL);
			return;
		}
		pc_principal_for_session(p, r, lk->sess.user_id, lk->sess.email, lk->sess.id,
		                         lk->sess.created_at);
		r->principal = p;
		r->actor = p;
	}
	pc_req_next(r);
}

enum pc_step pc_stage_authenticate(struct pc_req *r)
{
	struct pc_auth *a = pc_auth_of(r);
	struct pc_principal *anon = pc_arena_alloc(&r->arena, sizeof(*anon));
	if (anon == NULL) {
		pc_respond_problem(r, 500, NULL);
		return PC_DONE;
	}
	pc_principal_anonymous(anon, r);
	r->actor = anon;

	const struct pc_http_cookie *ck = pc_http_cookie_get(r->http, pc_session_cookie_name(a->cfg));
	if (ck == NULL)
		return PC_NEXT;

	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t exp;
	enum pc_cookie_status st =
		pc_session_open(secret, &exp, ck->value.p, ck->value.len, a->cfg->keys, r->now);
	if (st != PC_COOKIE_OK) {
		fail(r, st == PC_COOKIE_EXPIRED ? PC_AUTHF_EXPIRED : PC_AUTHF_TAMPERED_COOKIE);
		return PC_NEXT;
	}
	struct lookup *lk = pc_arena_alloc(&r->arena, sizeof(*lk));
	if (lk == NULL) {
		sodium_memzero(secret, sizeof(secret));
		pc_respond_problem(r, 500, NULL);
		return PC_DONE;
	}
	pc_session_secret_hash(lk->hash, secret);
	sodium_memzero(secret, sizeof(secret));
	if (pc_req_defer(r, lookup_work, lookup_done, lk) != 0) {
		pc_respond_problem(r, 503, "The server is overloaded.");
		return PC_DONE;
	}
	return PC_ASYNC;
}

enum pc_step pc_stage_require_auth(struct pc_req *r)
{
	if (r->route->access == PC_PUBLIC || r->principal != NULL)
		return PC_NEXT;
	static const char *const details[PC_AUTHF__COUNT] = {
		[PC_AUTHF_TAMPERED_COOKIE] = "The session cookie is not valid.",
		[PC_AUTHF_EXPIRED] = "The session has expired.",
		[PC_AUTHF_UNKNOWN_SESSION] = "The session has ended.",
	};
	const char *d = NULL;
	if (r->auth_failure > 0 && r->auth_failure <= PC_AUTHF__COUNT)
		d = details[r->auth_failure - 1];
	pc_resp_header(r, "WWW-Authenticate", "Bearer realm=\"portcullis\"");
	pc_respond_problem(r, 401, d ? d : "Authentication is required.");
	return PC_DONE;
}
