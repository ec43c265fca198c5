/*
 * sessions.h — browser sessions: login, logout, a user's own sessions
 * listed and ended. Ending a session revokes the tokens issued from it and
 * drops it from the verify cache at once.
 */
#ifndef PC_SVC_SESSIONS_H
#define PC_SVC_SESSIONS_H

#include "svc/svc.h"

/*
 * Logs in (actor: anonymous, the client): the password check of
 * pc_tokens_check_password (throttles, one answer for bad credentials),
 * then a new session (a new id at every login: no fixation) whose secret
 * goes to secret (wipe it); event "auth.login" by the new session. The
 * session is written only under the credential epoch the check read: a
 * change in between answers PC_ERR_NOT_FOUND ("auth.login_stale").
 * A user with an active second factor gets a pending session instead
 * (sess->pending, PC_PENDING_SESSION_S long): it is nobody until
 * pc_factors_second_step replaces it.
 * PC_OK, PC_ERR_NOT_FOUND, PC_ERR_THROTTLED (*retry_after), store errors.
 */
PC_MUST_USE enum pc_err pc_sessions_login(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                          const char *password, size_t len, struct pc_user *user,
                                          struct pc_session *sess, uint8_t secret[PC_SESSION_SECRET_BYTES],
                                          int64_t *retry_after);

/* Ends what actor authenticated with: its session (and the session's
 * tokens), or its access token (JWT). Event "auth.logout". A session
 * already gone: PC_ERR_NOT_FOUND (logging out is idempotent for callers). */
PC_MUST_USE enum pc_err pc_sessions_logout(struct pc_svc *ctx, const struct pc_principal *actor);

/* The actor's live sessions, newest first; *out malloc'd (caller frees). */
PC_MUST_USE enum pc_err pc_sessions_list(struct pc_svc *ctx, const struct pc_principal *actor,
                                         struct pc_session **out, size_t *n);

/* The live sessions of user_id: one's own, or anyone's for an admin
 * (PC_ERR_FORBIDDEN, audited); PC_ERR_NOT_FOUND: no such user. */
PC_MUST_USE enum pc_err pc_sessions_list_of(struct pc_svc *ctx, const struct pc_principal *actor,
                                            const char *user_id, struct pc_session **out, size_t *n);

/* Ends one session of the actor's (PC_ERR_NOT_FOUND when not theirs).
 * Event "session.delete". */
PC_MUST_USE enum pc_err pc_sessions_end(struct pc_svc *ctx, const struct pc_principal *actor, const char *id);

/* Ends the actor's sessions: all of them (all) or all but the one actor
 * uses, and with them every token family of the actor's and every access
 * token but those issued from the session that stays (the password-issued
 * ones included) — one transaction that also bumps the credential
 * epoch, so a login whose password was checked before it is refused
 * (store.h "credential epochs"). *ended: how many sessions. Event
 * "session.delete_all" {including_current}. */
PC_MUST_USE enum pc_err pc_sessions_end_all(struct pc_svc *ctx, const struct pc_principal *actor, bool all,
                                            size_t *ended);

#endif
