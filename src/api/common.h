/*
 * common.h — pieces every resource handler shares: error mapping, JSON
 * shapes of users and sessions, timestamps, starting a session.
 */
#ifndef PC_API_COMMON_H
#define PC_API_COMMON_H

#include <jansson.h>

#include "api/input.h"
#include "auth/auth.h"
#include "auth/session.h"
#include "store/store.h"
#include "svc/passwords.h"
#include "svc/svc.h"

/* The service context of the app (app->features; svc/svc.h). */
static inline struct pc_svc *pc_svc_of(const struct pc_req *r)
{
	return (struct pc_svc *)r->app->features;
}

/* What a route says for the codes whose wording is its own (NULL: the
 * generic text). */
struct pc_api_say {
	const char *not_found; /* 404 */
	const char *conflict;  /* 409, PC_ERR_CONFLICT (a unique key taken) */
	const char *throttled; /* 429 */
	const char *forbidden; /* 403, PC_ERR_FORBIDDEN */
	int64_t retry_after;   /* 429: seconds */
	/* PC_ERR_NOT_FOUND means a credential that did not check out: 401 with
	 * this detail, counted under auth_failure */
	const char *unauthorized;
	int auth_failure; /* enum pc_auth_failure, with unauthorized */
	enum pc_problem unauthorized_kind; /* with unauthorized (0 is not a 401 kind: authentication-required) */
	const struct pc_pw_verdict *weak;  /* PC_ERR_WEAK_PASSWORD: why (NULL: a generic detail) */
};
/* Bad email or password: the one generic 401. */
extern const struct pc_api_say pc_api_say_login;
/* An unknown, expired or malformed refresh token. */
extern const struct pc_api_say pc_api_say_refresh;

/*
 * THE mapping of enum pc_err to HTTP and a problem kind (http/problem.h),
 * for every route: NOT_FOUND 404 not-found (or the 401 of
 * say->unauthorized), FORBIDDEN 403 forbidden, CONFLICT 409 conflict,
 * SET_UP 409 already-set-up, LAST_USER 409 last-user, LAST_ADMIN 409
 * last-admin, REUSED 401 invalid-refresh-token (a replayed refresh token),
 * WEAK_PASSWORD 400 weak-password with say->weak's message as detail and
 * its machine-readable `reason` (and `score`, `min_score` when zxcvbn ran),
 * THROTTLED 429 throttled with Retry-After, UNAVAILABLE 503 unavailable with
 * Retry-After, anything else (TAMPERED, INTERNAL) 500 internal-error. say
 * may be NULL.
 */
void pc_api_error(struct pc_req *r, enum pc_err e, const struct pc_api_say *say);

/* "2026-11-23T04:40:34Z" */
void pc_api_time(char out[32], int64_t t);
json_t *pc_api_time_json(int64_t t);
/* A string an attacker may have written (a User-Agent) as a new JSON
 * string, through pc_text_escape (core/text.h): never NULL for lack of
 * UTF-8, so a row is never dropped. NULL only when out of memory. */
json_t *pc_api_text_json(const char *s);
/* Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC, valid date). 0 or -1. */
PC_MUST_USE int pc_api_time_parse(int64_t *out, const char *s, size_t len);

/* A user: id, email, role, groups (array), disabled, times. */
json_t *pc_api_user_json(const struct pc_user *u);
/* A groups text ("a,b") as a JSON array of names. */
json_t *pc_api_groups_json(const char *groups);
json_t *pc_api_session_json(const struct pc_session *s, const char *current_id);

/* Adds the Set-Cookie for a new session s, and a fresh CSRF token cookie
 * bound to it (the pre-session token stops working). 0 or -1. */
/* A sign-in's answer begins: the session cookie for sess set from secret
 * (wiped here on every path). 0, or -1 after answering 500. */
PC_MUST_USE int pc_api_session_cookie_or_respond(struct pc_req *r, uint8_t secret[PC_SESSION_SECRET_BYTES],
                                                 const struct pc_session *sess);
PC_MUST_USE int pc_api_set_session_cookie(struct pc_req *r, const uint8_t secret[PC_SESSION_SECRET_BYTES],
                                          const struct pc_session *s);
/* Issues a CSRF token for session_id (NULL: pre-session), adds its cookie,
 * counts it; token: PC_CSRF_TOKEN_LEN + 1 bytes. 0 or -1. */
PC_MUST_USE int pc_api_set_csrf_cookie(struct pc_req *r, const char *session_id, char *token);
/* Adds a Set-Cookie that clears the session cookie. */
void pc_api_clear_session_cookie(struct pc_req *r);

/* Validated email + password from the body, or -1 after answering (the
 * password then wiped already). The password is a secret buffer the caller
 * owns from here on every path (pc_secret_free, or pc_api_defer_secrets).
 * new_password: the password is a new one (setup), taken up to
 * PC_PASSWORD_INPUT_MAX bytes for the service's policy (svc/passwords.h)
 * to judge; otherwise up to PC_PASSWORD_MAX. */
PC_MUST_USE int pc_api_credentials_or_respond(struct pc_req *r, char email[PC_EMAIL_MAX + 1],
                                              struct pc_secret *pw, bool new_password);

/* Whether a path parameter has the shape of our ids (32 lowercase hex). */
PC_MUST_USE bool pc_api_id_valid(struct pc_str id);

/* Allocates a zeroed work state in the arena, or answers 500 and returns NULL. */
void *pc_api_state_or_respond(struct pc_req *r, size_t size);
/* pc_req_defer, answering 503 when the pool cannot take it. */
void pc_api_defer(struct pc_req *r, pc_work_fn work, pc_work_fn done, void *data);
/* pc_api_defer for work that reads secrets (sec[0..n), in the work state):
 * they are wiped and freed right after work ran — on the worker, so even
 * when the connection closes and done never runs — or at once when the
 * pool cannot take the work. */
void pc_api_defer_secrets(struct pc_req *r, pc_work_fn work, pc_work_fn done, void *data,
                          struct pc_secret *sec, size_t n);

#endif
