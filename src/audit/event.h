/*
 * event.h — one audit event: what happened, to what, by whom, and its place
 * in the hash chain.
 *
 * The struct is the unit that audit/chain.c hashes, audit/stream.c writes
 * as a line and the store keeps as a row; it lives here, below all three,
 * so audit/ never includes the store and the store includes only this.
 * Every string is a NUL-terminated fixed array: its size is the limit the
 * store and the chain rely on (a value that fills its array could never be
 * read back). Depends on core/ only.
 */
#ifndef PC_AUDIT_EVENT_H
#define PC_AUDIT_EVENT_H

#include <stdint.h>

#include "core/limits.h"

#define PC_AUDIT_ACTION_MAX 48        /* "user.create", "session.login", ... with its NUL */
#define PC_AUDIT_RESOURCE_TYPE_MAX 32 /* "user", "session", "api_key", ... with its NUL */
#define PC_AUDIT_AUTH_METHOD_MAX 16   /* pc_auth_method_name(), with its NUL */
#define PC_AUDIT_DETAILS_MAX 1024     /* a JSON object as text, with its NUL */
#define PC_AUDIT_KEY_ID_LEN 16        /* hex of the audit key's public fingerprint */

struct pc_outbox_mail; /* store/store.h */

/* An audit event. The caller fills what/who; the store fills the rest. */
struct pc_audit_event {
	int64_t seq;                   /* store: position in the chain, from 1 */
	char id[PC_ID_LEN + 1];        /* caller: pc_random_id */
	int64_t time_ms;               /* caller: unix milliseconds */
	char action[PC_AUDIT_ACTION_MAX];
	char resource_type[PC_AUDIT_RESOURCE_TYPE_MAX];
	char resource_id[PC_ID_LEN + 1];
	char actor_user_id[PC_ID_LEN + 1];
	char actor_email[PC_EMAIL_MAX + 1];
	char actor_session_id[PC_ID_LEN + 1];
	char auth_method[PC_AUDIT_AUTH_METHOD_MAX];
	char client_addr[PC_CLIENT_ADDR_MAX];
	char user_agent[PC_UA_MAX + 1];
	char details[PC_AUDIT_DETAILS_MAX]; /* "{}" when none; never a secret */
	uint8_t prev_hash[32];         /* store */
	uint8_t hash[32];              /* store */
	char key_id[PC_AUDIT_KEY_ID_LEN + 1]; /* store: which audit key made hash ("" on
	                                       * events older than key ids; not hashed) */
	char request_id[33];           /* caller: the HTTP request it came from; stream
	                                * only (neither hashed nor stored) */
	const struct pc_outbox_mail *mail; /* caller, optional: a mail the store queues in the
	                                    * event's own transaction (svc/outbox.h
	                                    * pc_outbox_attach); neither hashed nor streamed */
};

#endif
