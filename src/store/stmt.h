/*
 * stmt.h — the statements of the store, by id, for both dialects (private
 * to src/store/).
 *
 * Each dialect holds one SQL text for every id (sql_sqlite.c: ?1
 * placeholders; sql_postgres.c: $1), with the same parameters in the same
 * order and the same result columns, so a transaction script names a
 * statement without knowing the dialect. The column lists below are shared
 * text: the row readers of rows.c read them by position.
 */
#ifndef PC_STORE_STMT_H
#define PC_STORE_STMT_H

#define PC_USER_COLS \
	"id, email, password_hash, created_at, password_changed_at, cred_epoch, role, disabled, group_names, display_name"
#define PC_SESSION_COLS                                                                  \
	"s.id, s.secret_hash, s.user_id, u.email, s.created_at, s.last_seen_at, s.expires_at," \
	" s.client_addr, s.user_agent, u.role, u.disabled, u.group_names, s.factors, s.second_factor_at, s.pending,"                    \
	" u.display_name"
#define PC_SESSION_FROM " FROM sessions s JOIN users u ON u.id = s.user_id"
#define PC_APIKEY_COLS                                                                   \
	"k.id, k.name, k.prefix, k.secret_hash, coalesce(u.id, ''), k.created_at, k.expires_at," \
	" k.last_used_at"
/* created_by reads "" once the creator is gone (no foreign key: keys outlive it) */
#define PC_APIKEY_FROM " FROM api_keys k LEFT JOIN users u ON u.id = k.created_by"
#define PC_REFRESH_COLS                                                                  \
	"token_hash, family_id, user_id, session_id, created_at, expires_at, access_jti," \
	" access_exp, used_at, factors"
#define PC_OIDC_COLS "kind, id, owner, body, state, expires_at"
#define PC_TOTP_COLS \
	"id, user_id, secret_sealed, algorithm, digits, period, confirmed, last_used_step, created_at"
#define PC_PASSKEY_COLS \
	"id, user_id, credential_id, public_key, alg, sign_count, name, user_handle, transports, flags," \
	" created_at, last_used_at"
#define PC_EVENT_COLS                                                                      \
	"seq, id, time_ms, action, resource_type, resource_id, actor_user_id, actor_email,"    \
	" actor_session_id, auth_method, client_addr, user_agent, details, prev_hash, hash, key_id"

/* Audit list filters: one statement per combination, so each can use its
 * index. Parameters of every one: action, resource_type, actor, before_seq,
 * involving, limit (an unused filter is NULL; limit last, so SQLite's
 * highest parameter number is the same in every variant). */
#define PC_F_ACTION 1u
#define PC_F_RESOURCE 2u
#define PC_F_ACTOR 4u
#define PC_F_INVOLVING 8u /* actor or resource user: a member's view (parameter 5) */

enum pc_stmt {
	S_PING,
	S_GUARD_INSERT,
	S_GUARD_INSERT_OR_IGNORE,
	S_GUARD_GET,
	S_USER_INSERT,
	S_USER_GET,
	S_USER_GET_BY_EMAIL,
	S_USER_LIST,
	S_USER_EXISTS,
	S_USER_COUNT,
	S_USER_DELETE,
	S_USER_SET_PASSWORD,
	S_USER_REHASH,
	S_USER_EPOCH,       /* the user's cred_epoch */
	S_USER_EPOCH_BUMP,  /* cred_epoch + 1 */
	S_USER_UPDATE,      /* email, role, disabled, groups; only while an enabled admin stays */
	S_USER_LAST_ADMIN,  /* a row when the user is the last enabled admin */
	S_SESSION_INSERT,
	S_SESSION_GET,
	S_SESSION_EXISTS,
	S_SESSION_TOUCH,
	S_SESSION_LIST,
	S_SESSION_DELETE,
	S_SESSION_DELETE_ALL,
	S_RESET_INSERT,
	S_RESET_FIND,       /* locks the row where the dialect can (FOR UPDATE) */
	S_RESET_BURN_USER,
	S_APIKEY_INSERT,
	S_APIKEY_GET,
	S_APIKEY_GET_BY_PREFIX,
	S_APIKEY_LIST,
	S_APIKEY_RENAME,
	S_APIKEY_DELETE,
	S_APIKEY_TOUCH,
	S_APIKEY_REKEY,     /* conditional: only while the old hash is stored */
	S_REFRESH_INSERT,
	S_REFRESH_GET,
	S_REFRESH_GET_LOCK, /* S_REFRESH_GET, locking the row where the dialect can */
	S_REFRESH_MARK_USED,
	S_REFRESH_DELETE_FAMILY,
	S_REFRESH_DELETE_SESSION,
	S_REFRESH_DELETE_USER, /* but those of a session (NULL: none) */
	S_ACCESS_INSERT,
	S_ACCESS_FAMILY_OF,
	S_ACCESS_LIVE_FAMILY,
	S_ACCESS_LIVE_SESSION,
	S_ACCESS_LIVE_USER,    /* but those of a session (NULL: none) */
	S_REVOKED_INSERT,   /* an entry already there stays as it is */
	S_REVOKED_LIST,
	S_REVOCATION_SEQ_BUMP, /* the next revocation sequence number (row-locked to commit) */
	S_REVOCATION_SEQ_GET,
	S_REVOKED_SINCE,
	S_PURGE_REVOKED,
	S_PURGE_ACCESS,
	S_PURGE_REFRESH,
	S_PURGE_SESSIONS,
	S_PURGE_RESET,
	S_TOTP_INSERT,
	S_TOTP_GET,
	S_TOTP_DELETE_PENDING, /* the user's unconfirmed credential */
	S_TOTP_CONFIRM,        /* conditional: unconfirmed, step above the last */
	S_TOTP_USE,            /* conditional: confirmed, step above the last */
	S_TOTP_DELETE,
	S_RECOVERY_DELETE,
	S_RECOVERY_INSERT,
	S_RECOVERY_SPEND,      /* conditional: used_at IS NULL */
	S_RECOVERY_LEFT,
	S_SESSION_DELETE_PENDING,
	S_REFRESH_FAMILIES,    /* a user's live token families, newest first */
	S_OUTBOX_INSERT,
	S_OUTBOX_INSERT_FOR_EMAIL, /* the recipient is the enabled user with that email, if any */
	S_RESET_INSERT_FOR_EMAIL,  /* likewise: no row when there is no such user */
	S_USER_ID_BY_EMAIL,
	S_OUTBOX_CLAIM,     /* conditional: due, unsent, no live lease; returns the row */
	S_OUTBOX_SENT,      /* conditional: still leased by the caller */
	S_OUTBOX_RETRY,     /* likewise */
	S_OUTBOX_FAIL,      /* likewise */
	S_OUTBOX_DEPTH,
	S_PURGE_OUTBOX,
	S_EMAIL_CHANGE_CLEAR,  /* the user's pending changes */
	S_EMAIL_CHANGE_INSERT,
	S_EMAIL_CHANGE_FIND,   /* unused, unexpired; locks the row where the dialect can */
	S_EMAIL_CHANGE_USE,    /* conditional: used_at IS NULL */
	S_USER_SET_EMAIL,
	S_PASSKEY_INSERT,
	S_PASSKEY_LIST,        /* a user's, oldest first */
	S_PASSKEY_BY_CRED,     /* by credential id (UNIQUE) */
	S_PASSKEY_COUNT,
	S_PASSKEY_RENAME,
	S_PASSKEY_DELETE,
	S_PASSKEY_DELETE_USER, /* every passkey of a user (account recovery) */
	S_PASSKEY_USE,         /* conditional: the sign count read is still the stored one */
	S_PASSKEY_HANDLE,      /* the user's handle, from any of their passkeys */
	S_WA_CHALLENGE_PURGE,
	S_WA_CHALLENGE_INSERT,
	S_WA_CHALLENGE_COUNT,  /* live challenges of one binding */
	S_WA_CHALLENGE_GET,    /* its user handle, under the same conditions as TAKE */
	S_WA_CHALLENGE_TAKE,   /* conditional DELETE: purpose, binding, not expired */
	S_OIDC_INSERT,
	S_OIDC_GET,
	S_OIDC_LIST,        /* by kind */
	S_OIDC_LIST_OWNER,  /* by kind and owner */
	S_OIDC_REPLACE,     /* body, owner, state, expires_at of a row */
	S_OIDC_DELETE,
	S_OIDC_DELETE_OWNER,
	S_OIDC_CLAIM,       /* conditional: state from -> to while not expired */
	S_OIDC_PURGE,       /* expired OIDC records (codes, access tokens, grants) */
	S_AUDIT_LAST,
	S_AUDIT_INSERT,
	S_AUDIT_ALL,        /* the whole chain in order, read from one snapshot */
	S_AUDIT_LIST,       /* + filter mask: 16 statements */
	S__COUNT = S_AUDIT_LIST + 16,
};

#endif
