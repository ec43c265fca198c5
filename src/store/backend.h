/*
 * backend.h — what a store backend provides (private to src/store/).
 *
 * store.c owns the public functions of store.h: it checks the arguments
 * every backend would otherwise check (fixed-size strings terminated, limits
 * clamped, out-parameters cleared) and then calls the backend through this
 * table. A backend embeds struct pc_store as the FIRST member of its own
 * handle and sets `ops`; it may therefore assume its arguments are sane.
 */
#ifndef PC_STORE_BACKEND_H
#define PC_STORE_BACKEND_H

#include "store/store.h"

struct pc_store_ops {
	void (*close)(struct pc_store *s);
	enum pc_err (*ping)(struct pc_store *s);
	enum pc_err (*setup)(struct pc_store *s, struct pc_audit_event *ev, const struct pc_user *user,
	                     const struct pc_session *sess);
	enum pc_err (*setup_done)(struct pc_store *s, bool *done);
	enum pc_err (*user_create)(struct pc_store *s, struct pc_audit_event *ev,
	                           const struct pc_user *user);
	enum pc_err (*user_get)(struct pc_store *s, const char *id, struct pc_user *out);
	enum pc_err (*user_get_by_email)(struct pc_store *s, const char *email, struct pc_user *out);
	enum pc_err (*user_list)(struct pc_store *s, struct pc_user **out, size_t *n);
	enum pc_err (*user_delete)(struct pc_store *s, struct pc_audit_event *ev, const char *id);
	enum pc_err (*user_set_password)(struct pc_store *s, struct pc_audit_event *ev,
	                                 const char *user_id, const char *new_hash,
	                                 const char *keep_session);
	enum pc_err (*user_rehash)(struct pc_store *s, const char *user_id, const char *new_hash);
	enum pc_err (*session_create)(struct pc_store *s, struct pc_audit_event *ev,
	                              const struct pc_session *sess);
	enum pc_err (*session_get)(struct pc_store *s, const uint8_t secret_hash[32],
	                           struct pc_session *out);
	enum pc_err (*session_touch)(struct pc_store *s, const char *id, int64_t last_seen_at);
	enum pc_err (*session_list)(struct pc_store *s, const char *user_id, int64_t now,
	                            struct pc_session **out, size_t *n);
	enum pc_err (*session_delete)(struct pc_store *s, struct pc_audit_event *ev,
	                              const char *user_id, const char *id);
	enum pc_err (*session_delete_all)(struct pc_store *s, struct pc_audit_event *ev,
	                                  const char *user_id, const char *keep, size_t *ended);
	enum pc_err (*reset_create)(struct pc_store *s, struct pc_audit_event *ev, const char *user_id,
	                            const uint8_t token_hash[32], int64_t expires_at);
	enum pc_err (*reset_redeem)(struct pc_store *s, struct pc_audit_event *ev,
	                            const uint8_t token_hash[32], const char *new_hash, int64_t now,
	                            char user_id_out[PC_ID_LEN + 1]);
	enum pc_err (*apikey_create)(struct pc_store *s, struct pc_audit_event *ev,
	                             const struct pc_api_key *k);
	enum pc_err (*apikey_get)(struct pc_store *s, const char *id, struct pc_api_key *out);
	enum pc_err (*apikey_get_by_prefix)(struct pc_store *s, const char *prefix,
	                                    struct pc_api_key *out);
	enum pc_err (*apikey_list)(struct pc_store *s, struct pc_api_key **out, size_t *n);
	enum pc_err (*apikey_rename)(struct pc_store *s, struct pc_audit_event *ev, const char *id,
	                             const char *name);
	enum pc_err (*apikey_delete)(struct pc_store *s, struct pc_audit_event *ev, const char *id);
	enum pc_err (*apikey_touch)(struct pc_store *s, const char *id, int64_t last_used_at);
	enum pc_err (*refresh_create)(struct pc_store *s, struct pc_audit_event *ev,
	                              const struct pc_refresh_token *t);
	/* On a detected reuse: writes reuse_ev, returns PC_ERR_CONFLICT with the
	 * revoked jtis; on any failure where reuse_ev was not committed its
	 * store-filled fields are cleared again. */
	enum pc_err (*refresh_rotate)(struct pc_store *s, struct pc_audit_event *ev,
	                              struct pc_audit_event *reuse_ev, const uint8_t old_hash[32],
	                              int64_t now, struct pc_refresh_token *next,
	                              struct pc_refresh_token *old, struct pc_revoked **revoked,
	                              size_t *n_revoked);
	enum pc_err (*refresh_get)(struct pc_store *s, const uint8_t token_hash[32],
	                           struct pc_refresh_token *out);
	/* Exactly one selector non-NULL and non-empty (checked by store.c);
	 * ev may be NULL. */
	enum pc_err (*tokens_revoke)(struct pc_store *s, struct pc_audit_event *ev, const char *jti,
	                             int64_t jti_exp, const char *family_id, const char *session_id,
	                             const char *user_id, int64_t now, struct pc_revoked **revoked,
	                             size_t *n_revoked);
	enum pc_err (*revoked_list)(struct pc_store *s, int64_t now, struct pc_revoked **out,
	                            size_t *n);
	enum pc_err (*tokens_purge)(struct pc_store *s, int64_t now, size_t *purged);
	enum pc_err (*audit_append)(struct pc_store *s, struct pc_audit_event *ev);
	enum pc_err (*audit_list)(struct pc_store *s, const struct pc_audit_filter *f,
	                          struct pc_audit_event **out, size_t *n);
	enum pc_err (*audit_verify)(struct pc_store *s, int64_t *checked, int64_t *bad_seq);
};

struct pc_store {
	const struct pc_store_ops *ops;
};

/* Opens "sqlite:PATH" (path = the part after the colon). Same contract as
 * pc_store_open. */
int pc_store_sqlite_open(struct pc_store **out, const char *path, const uint8_t audit_key[32],
                         char *err, size_t errlen);

/* Opens "postgresql://..." or "postgres://..." (the whole URL, handed to
 * libpq as its connection URI). Same contract as pc_store_open; err never
 * holds the password (the URL is named masked). */
int pc_store_postgres_open(struct pc_store **out, const char *url, const uint8_t audit_key[32],
                           char *err, size_t errlen);

/* TESTING ONLY: from the next call on, every connection of this SQLite store
 * refuses writes (PRAGMA query_only) the way a read-only database file does,
 * so a test running as root (which ignores file modes) can check that writes
 * answer PC_ERR_UNAVAILABLE and change nothing. Returns 0, or -1 when s is
 * not a SQLite store. */
int pc_store_sqlite_set_query_only(struct pc_store *s, bool on);

#endif
