/*
 * common.h — pieces every resource handler shares: error mapping, JSON
 * shapes of users and sessions, timestamps, starting a session.
 */
#ifndef PC_API_COMMON_H
#define PC_API_COMMON_H

#include <jansson.h>

#include "auth/auth.h"
#include "auth/session.h"
#include "store/store.h"

/* Maps a store error to its answer: 404/409 with the given details, 503 for
 * an unavailable backend, 500 otherwise. */
void pc_api_store_error(struct pc_req *r, enum pc_err e, const char *not_found,
                        const char *conflict);

/* "2026-11-23T04:40:34Z" */
void pc_api_time(char out[32], int64_t t);
json_t *pc_api_time_json(int64_t t);
/* Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC, valid date). 0 or -1. */
int pc_api_time_parse(int64_t *out, const char *s, size_t len);

json_t *pc_api_user_json(const struct pc_user *u);
json_t *pc_api_session_json(const struct pc_session *s, const char *current_id);

/* A new session for user_id: random secret (kept in secret, wipe it!),
 * its hash, a public id, times from the configuration, the request's client
 * address and user agent. */
void pc_api_session_new(struct pc_session *s, uint8_t secret[PC_SESSION_SECRET_BYTES],
                        const struct pc_req *r, const char *user_id);

/* Adds the Set-Cookie for a new session, and a fresh CSRF token cookie
 * bound to it (the pre-session token stops working). 0 or -1. */
int pc_api_set_session_cookie(struct pc_req *r, const uint8_t secret[PC_SESSION_SECRET_BYTES],
                              const char *session_id, int64_t expires_at);
/* Issues a CSRF token for session_id (NULL: pre-session), adds its cookie,
 * counts it; token: PC_CSRF_TOKEN_LEN + 1 bytes. 0 or -1. */
int pc_api_set_csrf_cookie(struct pc_req *r, const char *session_id, char *token);
/* Adds a Set-Cookie that clears the session cookie. */
void pc_api_clear_session_cookie(struct pc_req *r);

/* On the worker pool (the kv may be remote): seconds until subject may try
 * again under rl, 0 when it may try now. A kv that cannot answer does not
 * throttle (the limit is a brake; the credential check still runs). */
int64_t pc_api_throttled(struct pc_req *r, const struct pc_ratelimit *rl, const char *subject);
/* On the worker pool: counts one failure of subject under rl. */
void pc_api_count_failure(struct pc_req *r, const struct pc_ratelimit *rl, const char *subject);
/* On the loop: 429 with Retry-After, counted. */
void pc_api_respond_throttled(struct pc_req *r, int64_t retry_after);

/* Validated email + password from the body, or -1 after answering.
 * check_policy: whether the password must meet the policy (new passwords). */
int pc_api_credentials_or_respond(struct pc_req *r, char email[PC_EMAIL_MAX + 1], const char **pw,
                                  size_t *pw_len, bool check_policy);
/* On the worker pool: the throttles first (per account and per client
 * address: a throttled attempt does not hash — PC_ERR_CONFLICT with
 * *retry_after > 0), then looks the user up and checks the password (an
 * unknown email still pays for one hash). A failure is counted against
 * both throttles and written as "auth.login_failed"; a success clears the
 * account's counter and upgrades a weak hash. user->password_hash is wiped.
 * PC_OK, PC_ERR_NOT_FOUND (bad credentials), PC_ERR_CONFLICT (throttled)
 * or a store error. */
enum pc_err pc_api_check_password(struct pc_req *r, const char *email, const char *pw, size_t len,
                                  struct pc_user *user, int64_t *retry_after);
/* On the loop: answers a pc_api_check_password failure: 429 for
 * PC_ERR_CONFLICT, the one generic 401 for PC_ERR_NOT_FOUND, else the
 * store error. */
void pc_api_login_failed(struct pc_req *r, enum pc_err e, int64_t retry_after);

/* On the worker pool: revokes tokens in the store (pc_store_tokens_revoke,
 * one selector non-NULL; ev may be NULL) and adds the revoked jtis to the
 * in-memory list at once. */
enum pc_err pc_api_revoke_tokens(struct pc_req *r, struct pc_audit_event *ev, const char *jti,
                                 int64_t jti_exp, const char *family, const char *session,
                                 const char *user);

/* Whether a path parameter has the shape of our ids (32 lowercase hex). */
bool pc_api_id_valid(struct pc_str id);

/* Allocates a zeroed work state in the arena, or answers 500 and returns NULL. */
void *pc_api_state_or_respond(struct pc_req *r, size_t size);
/* pc_req_defer, answering 503 when the pool cannot take it. */
void pc_api_defer(struct pc_req *r, pc_work_fn work, pc_work_fn done, void *data);

#endif
