/*
 * users.h — users: the first user (setup), create, list, delete, password
 * change and password reset, and changes by an admin (role, groups,
 * disabled). Who may do what is svc.h's table (pc_svc_may): admins manage
 * users; everyone reads and changes their own password and profile.
 *
 * Passwords arrive as (pointer, length) and are never copied; the caller
 * owns and wipes them. Returned users never carry a password hash.
 *
 * Every function that sets a password checks it first with THE policy
 * (svc/passwords.h): PC_ERR_WEAK_PASSWORD with *weak filled (weak may be
 * NULL), before anything is hashed, throttled or written.
 */
#ifndef PC_SVC_USERS_H
#define PC_SVC_USERS_H

#include "svc/passwords.h"
#include "svc/svc.h"

#define PC_RESET_TOKEN_BYTES 32
#define PC_RESET_TOKEN_TTL 3600

/* Whether the first user exists (once true, stays true: cached in ctx). */
PC_MUST_USE enum pc_err pc_users_setup_done(struct pc_svc *ctx, bool *done);

/*
 * Creates the first user, only while there is none (race-free: the store's
 * guard row). sess non-NULL (the API): also opens the user's first session,
 * whose principal is the actor of its own creation; secret receives the
 * session secret (wipe it). sess NULL (the command line): actor is the
 * actor. Event "setup" on the user. PC_ERR_SET_UP when a first user exists.
 * One attempt at a time per process, so racers wait for the first and then
 * get PC_ERR_SET_UP without hashing a password.
 */
PC_MUST_USE enum pc_err pc_users_setup(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                       const char *password, size_t password_len, struct pc_user *out,
                                       struct pc_session *sess, uint8_t secret[PC_SESSION_SECRET_BYTES],
                                       struct pc_pw_verdict *weak);

/* Creates a user with role (email normalised by the caller, password
 * meeting the policy): admins only (PC_ERR_FORBIDDEN, audited). Event
 * "user.create" {email, role}. PC_ERR_CONFLICT: the email is taken. */
PC_MUST_USE enum pc_err pc_users_create(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                        enum pc_role role, const char *password, size_t password_len,
                                        struct pc_user *out, struct pc_pw_verdict *weak);

/* The same with a display name (valid: pc_user_name_valid; "" none;
 * PC_ERR_INTERNAL for an invalid one, which the caller has refused
 * already). Event "user.create" {email, role, name when given}. */
PC_MUST_USE enum pc_err pc_users_create_named(struct pc_svc *ctx, const struct pc_principal *actor,
                                              const char *email, enum pc_role role, const char *name,
                                              const char *password, size_t password_len, struct pc_user *out,
                                              struct pc_pw_verdict *weak);

/* One user: oneself, or anyone for an admin (PC_ERR_FORBIDDEN). Hash wiped. */
PC_MUST_USE enum pc_err pc_users_get(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                                     struct pc_user *out);

/*
 * Changes a user's email, role, disabled state or groups (admins only:
 * PC_ERR_FORBIDDEN, audited): see pc_store_user_update for what ends with
 * the change and the last-admin rule (PC_ERR_LAST_ADMIN). Then every
 * instance drops its cached credentials of the user, so the next request
 * sees the change. Event "user.update" {the fields given}. *out: the user
 * after the change.
 */
PC_MUST_USE enum pc_err pc_users_update(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                                        const struct pc_user_patch *patch, struct pc_user *out);

/* Adds a user outside any session (the command line): the first one
 * through setup (the guard row, so the API's setup then answers
 * PC_ERR_SET_UP), any later one exactly as pc_users_create, same event. */
PC_MUST_USE enum pc_err pc_users_add(struct pc_svc *ctx, const struct pc_principal *actor, const char *email,
                                     enum pc_role role, const char *password, size_t password_len,
                                     struct pc_user *out, struct pc_pw_verdict *weak);

/* Every user, oldest first; *out malloc'd (caller frees), hashes wiped. */
PC_MUST_USE enum pc_err pc_users_list(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_user **out,
                                      size_t *n);

/* Deletes a user: in one transaction their live access tokens are revoked
 * and the user, their sessions and token families go (a sign-in racing it
 * is refused: store.h "credential epochs"); cached credentials are then
 * dropped. Event "user.delete".
 * PC_ERR_NOT_FOUND, PC_ERR_LAST_USER (the only user left), PC_ERR_LAST_ADMIN
 * (the last enabled admin), PC_ERR_FORBIDDEN (not an admin; audited). */
PC_MUST_USE enum pc_err pc_users_delete(struct pc_svc *ctx, const struct pc_principal *actor, const char *id);

/*
 * The actor changes their own password: throttled like logins (a slot of
 * the account's login limit taken before the hash, kept by a wrong guess;
 * PC_ERR_THROTTLED with *retry_after, event "user.password_change_throttled"
 * within the audit-noise limit), the current password checked (a wrong one:
 * *wrong_password set, event "user.password_change_failed", PC_ERR_NOT_FOUND
 * returned), then the account's failures cleared, the new hash set,
 * every token family and access token of the user revoked and every other
 * session ended. The actor's own session stays, under a new id and secret
 * when rotated is given (an actor signed in by session; PC_ERR_STALE when
 * it ended meanwhile): rotated and rotated_secret (wipe it) are then the
 * session to set in the cookie, rotated->id "" when none was made (an
 * actor by bearer token). Event "user.password_change" {session_rotated}.
 */
PC_MUST_USE enum pc_err pc_users_password_change(struct pc_svc *ctx, const struct pc_principal *actor,
                                                 const char *current, size_t current_len, const char *next,
                                                 size_t next_len, bool *wrong_password, int64_t *retry_after,
                                                 struct pc_pw_verdict *weak, struct pc_session *rotated,
                                                 uint8_t rotated_secret[PC_SESSION_SECRET_BYTES]);

/* Issues a one-time reset token for user id into token (raw bytes: the
 * caller encodes and wipes them); *expires_at its end. Admins only, for
 * anyone (PC_ERR_FORBIDDEN, audited; a member changes their own password
 * with the current one). Event "user.password_reset_issue".
 * PC_ERR_NOT_FOUND. */
PC_MUST_USE enum pc_err pc_users_reset_issue(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                                             uint8_t token[PC_RESET_TOKEN_BYTES], int64_t *expires_at);

/*
 * Redeems a reset token (NULL: the presented token was malformed, which
 * counts as a failure like an unknown one): a slot per client address taken
 * first (PC_ERR_THROTTLED, *retry_after; kept by a bad token, given back
 * otherwise), then the new password set, every
 * session ended and every token revoked. Event "user.password_reset".
 * PC_ERR_NOT_FOUND: unknown, used, expired or malformed token.
 */
PC_MUST_USE enum pc_err pc_users_reset_redeem(struct pc_svc *ctx, const struct pc_principal *actor,
                                              const uint8_t token[PC_RESET_TOKEN_BYTES], const char *password,
                                              size_t password_len, int64_t *retry_after,
                                              struct pc_pw_verdict *weak);

#endif
