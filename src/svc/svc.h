/*
 * svc.h — the service layer: the rules of every feature, once, between
 * api/ (HTTP parsing, validation, error mapping) and store/ + kv/.
 *
 * A service function takes the context and the acting principal first,
 * enforces the rules (who may, the last user, business throttles, the
 * revocations and cache drops that follow a change), builds the change's
 * audit event through pc_svc_event() and calls the store. Services never
 * see HTTP: no request, no status code, no request body. They BLOCK (store,
 * kv, password hashing): call them on the worker pool (pc_req_defer) or
 * from the command line, never on a loop thread.
 *
 * Errors are enum pc_err, one code per meaning (core/err.h); api/common.c
 * maps them to HTTP in one place, the command line to its messages.
 *
 * Dependencies point down only: svc -> auth (keys, hashing, limits, cache)
 * -> store, kv -> config, core.
 */
#ifndef PC_SVC_SVC_H
#define PC_SVC_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc/access.h"
#include "auth/auth.h"
#include "auth/breached.h"
#include "auth/session.h"
#include "core/err.h"
#include "store/store.h"

/*
 * The context: what every service reaches. Built once (pc_svc_open) by
 * whoever runs the program — `serve`, the command line, a test — and shared
 * by every thread (everything in it is thread-safe or read-only).
 *
 * `auth` comes first: the HTTP app's `features` points at the context, and
 * the authentication stages read that pointer as their struct pc_auth
 * (C17 6.7.2.1: a pointer to a struct is a pointer to its first member).
 */
struct pc_svc {
	struct pc_auth auth;         /* password cost, token keys, rate limits, verify cache */
	const struct pc_config *cfg; /* borrowed: outlives the context */
	struct pc_store *store;      /* owned */
	struct pc_kv *kv;            /* owned */
	int64_t (*clock)(void);      /* unix seconds; NULL: time(NULL) (tests inject one) */
	struct pc_access_state access;     /* forward-auth rules: opened by the caller (pc_access_open) */
	struct pc_breached *breached;      /* PORTCULLIS_BREACHED_PASSWORDS_FILE (NULL: none); owned */
};
_Static_assert(offsetof(struct pc_svc, auth) == 0, "app->features is read as the struct pc_auth");

/*
 * Opens the store (PORTCULLIS_DATABASE_URL with its password file) and the
 * kv (in-process or Redis), then the authentication state over them (keys,
 * hashing cost, verify cache, revocation list). The composition root of
 * every command that touches state. 0, or -1 with one line in err (no
 * secret in it); on failure nothing stays open.
 */
PC_MUST_USE int pc_svc_open(struct pc_svc *ctx, const struct pc_config *cfg, char *err, size_t errlen);
/* Closes what pc_svc_open opened; a zeroed context is a no-op. */
void pc_svc_close(struct pc_svc *ctx);

/* PORTCULLIS_DATABASE_URL with the password from
 * PORTCULLIS_DATABASE_PASSWORD_FILE added (PostgreSQL). out holds a secret:
 * wipe it after use. 0, or -1 when it does not fit. */
PC_MUST_USE int pc_svc_store_url(const struct pc_config *cfg, char *out, size_t cap);

/* The context's clock (unix seconds). */
int64_t pc_svc_now(const struct pc_svc *ctx);

/*
 * Fills ev for a change by actor: the actor's fields, action, resource type
 * and id, and details built by jansson from a json_pack format and its
 * arguments (details_fmt NULL: none). THE one place events are built: every
 * service uses it, so an event's shape is the same whoever causes it (the
 * API, the command line, the console). Details that do not fit are dropped,
 * never truncated into invalid JSON; they never hold a secret.
 */
void pc_svc_event(struct pc_audit_event *ev, const struct pc_principal *actor, const char *action,
                  const char *resource_type, const char *resource_id, const char *details_fmt, ...);

/*
 * What a principal may do (issue 15), decided here once for the API, the
 * command line and the console:
 *
 *   right                 admin  member  API key              command line
 *   PC_SVC_MANAGE_USERS   yes    no      API_KEYS_CAN_ADMIN   yes
 *   PC_SVC_MANAGE_API_KEYS yes   yes     API_KEYS_CAN_ADMIN   yes
 *   PC_SVC_READ_AUDIT     yes    no (*)  API_KEYS_CAN_ADMIN   yes
 *
 * MANAGE_USERS: create, delete, change (email, role, disabled, groups),
 * list users, issue a reset token for another user, read another user's
 * sessions. READ_AUDIT: the whole trail; (*) a member reads the events
 * where they are the actor or the subject (svc/auditlog.c). Anyone signed
 * in reads their own profile and sessions. Anonymous: nothing.
 */
enum pc_svc_right {
	PC_SVC_MANAGE_USERS,
	PC_SVC_MANAGE_API_KEYS,
	PC_SVC_READ_AUDIT,
};
PC_MUST_USE bool pc_svc_may(const struct pc_svc *ctx, const struct pc_principal *actor, enum pc_svc_right right);
/*
 * pc_svc_may as the first step of a service: PC_OK, or PC_ERR_FORBIDDEN
 * after auditing the refused attempt ("authz.denied" on resource_type/id,
 * details {right}; at most PC_AUTH audit_noise's rate per user, so a member
 * cannot flood the trail).
 */
PC_MUST_USE enum pc_err pc_svc_check(struct pc_svc *ctx, const struct pc_principal *actor, enum pc_svc_right right,
                                     const char *resource_type, const char *resource_id);
/* The name of a right in events ("manage_users", ...). */
const char *pc_svc_right_name(enum pc_svc_right right);

/*
 * Revokes tokens in the store (pc_store_tokens_revoke: exactly one selector
 * non-NULL; ev NULL when the revocation is part of a change audited by the
 * caller) and adds the revoked jtis to the revocation list at once.
 */
PC_MUST_USE enum pc_err pc_svc_revoke(struct pc_svc *ctx, const struct pc_principal *actor,
                                      struct pc_audit_event *ev, const char *jti, int64_t jti_exp,
                                      const char *family, const char *session, const char *user);

/* Adds the jtis a store change revoked (list, malloc'd; freed here) to the
 * revocation list at once. */
void pc_svc_revoked_add(struct pc_svc *ctx, struct pc_revoked *list, size_t n);

/* A fresh session of user_id for the client that actor describes: random
 * secret (kept in secret: the caller seals it into the cookie and wipes
 * it), its hash, a new id, times from the configuration. */
void pc_svc_session_new(struct pc_svc *ctx, struct pc_session *s, uint8_t secret[PC_SESSION_SECRET_BYTES],
                        const struct pc_principal *actor, const char *user_id);
/* The principal of a session that was just opened (login, setup): actor's
 * client address and user agent, the user and the session. */
void pc_svc_session_principal(struct pc_principal *p, const struct pc_principal *actor,
                              const struct pc_user *user, const struct pc_session *s);

#endif
