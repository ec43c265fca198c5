/*
 * backend.h — the store's operations behind store.h (private to src/store/).
 *
 * store.c owns the public functions of store.h: it checks the arguments
 * (fixed-size strings terminated, limits clamped, out-parameters cleared,
 * the actor stamped into the event) and then calls the operation below of
 * the same name. Each operation is one transaction script, written once in
 * tx_*.c over the dialect's SQL driver (driver.h); the operations may
 * therefore assume their arguments are sane. On failure an operation leaves
 * nothing it filled in the event (seq, hashes, a resource_id it supplied).
 */
#ifndef PC_STORE_BACKEND_H
#define PC_STORE_BACKEND_H

#include "store/store.h"

/* ---- the dialects (sql_sqlite.c, sql_postgres.c) ---- */

/* Opens "sqlite:PATH" (path = the part after the colon). Same contract as
 * pc_store_open. */
PC_MUST_USE int pc_store_sqlite_open(struct pc_store **out, const char *path,
                                     const uint8_t audit_key[32], char *err, size_t errlen);

/* Opens "postgresql://..." or "postgres://..." (the whole URL, handed to
 * libpq as its connection URI). Same contract as pc_store_open; err never
 * holds the password (the URL is named masked). */
PC_MUST_USE int pc_store_postgres_open(struct pc_store **out, const char *url,
                                       const uint8_t audit_key[32], char *err, size_t errlen);

/* TESTING ONLY: from the next call on, every connection of this SQLite store
 * refuses writes (PRAGMA query_only) the way a read-only database file does,
 * so a test running as root (which ignores file modes) can check that writes
 * answer PC_ERR_UNAVAILABLE and change nothing. Returns 0, or -1 when s is
 * not a SQLite store. */
PC_MUST_USE int pc_store_sqlite_set_query_only(struct pc_store *s, bool on);

/* ---- the operations (tx_*.c), store.h's contracts ---- */

PC_MUST_USE enum pc_err pc_tx_ping(struct pc_store *s);
/* PC_ERR_SET_UP when the first user exists. */
PC_MUST_USE enum pc_err pc_tx_setup(struct pc_store *s, struct pc_audit_event *ev,
                                    const struct pc_user *user, const struct pc_session *sess);
PC_MUST_USE enum pc_err pc_tx_setup_done(struct pc_store *s, bool *done);
PC_MUST_USE enum pc_err pc_tx_user_create(struct pc_store *s, struct pc_audit_event *ev,
                                          const struct pc_user *user);
PC_MUST_USE enum pc_err pc_tx_user_get(struct pc_store *s, const char *id, struct pc_user *out);
PC_MUST_USE enum pc_err pc_tx_user_get_by_email(struct pc_store *s, const char *email,
                                                struct pc_user *out);
PC_MUST_USE enum pc_err pc_tx_user_list(struct pc_store *s, struct pc_user **out, size_t *n);
/* The changes that end a user's credentials hand the revoked jtis out in
 * *revoked (malloc'd) on PC_OK only (revoked NULL: freed); now: store.c's clock, taken once (the
 * password_changed_at to record, the live access tokens to revoke).
 * PC_ERR_LAST_USER when it is the last user. */
PC_MUST_USE enum pc_err pc_tx_user_delete(struct pc_store *s, struct pc_audit_event *ev,
                                          const char *id, int64_t now,
                                          struct pc_revoked **revoked, size_t *n_revoked);
/* The patch applied (store.h pc_store_user_update); out and *changed filled
 * on PC_OK only. */
PC_MUST_USE enum pc_err pc_tx_user_update(struct pc_store *s, struct pc_audit_event *ev, const char *id,
                                          const struct pc_user_patch *patch, int64_t now, struct pc_user *out,
                                          unsigned *changed, struct pc_revoked **revoked, size_t *n_revoked);
PC_MUST_USE enum pc_err pc_tx_user_set_password(struct pc_store *s, struct pc_audit_event *ev,
                                                const char *user_id, const char *new_hash,
                                                const char *keep_session, int64_t now,
                                                struct pc_revoked **revoked, size_t *n_revoked);
PC_MUST_USE enum pc_err pc_tx_user_change_password(struct pc_store *s, struct pc_audit_event *ev,
                                                   const char *user_id, const char *new_hash,
                                                   const char *old_session, const struct pc_session *rotated,
                                                   int64_t now, struct pc_revoked **revoked, size_t *n_revoked);
PC_MUST_USE enum pc_err pc_tx_family_list(struct pc_store *s, const char *user_id, int64_t now,
                                          struct pc_token_family **out, size_t *n);
PC_MUST_USE enum pc_err pc_tx_user_rehash(struct pc_store *s, const char *user_id,
                                          const char *new_hash);
PC_MUST_USE enum pc_err pc_tx_reset_create(struct pc_store *s, struct pc_audit_event *ev,
                                           const char *user_id, const uint8_t token_hash[32],
                                           int64_t expires_at);
PC_MUST_USE enum pc_err pc_tx_reset_redeem(struct pc_store *s, struct pc_audit_event *ev,
                                           const uint8_t token_hash[32], const char *new_hash,
                                           int64_t now, char user_id_out[PC_ID_LEN + 1],
                                           struct pc_revoked **revoked, size_t *n_revoked);

PC_MUST_USE enum pc_err pc_tx_reset_request(struct pc_store *s, struct pc_audit_event *ev, const char *email,
                                            const uint8_t token_hash[32], int64_t expires_at,
                                            const struct pc_outbox_mail *mail);
PC_MUST_USE enum pc_err pc_tx_outbox_claim(struct pc_store *s, const char *owner, int64_t lease_until,
                                           int64_t now, struct pc_outbox_row *out);
PC_MUST_USE enum pc_err pc_tx_outbox_finish(struct pc_store *s, const char *id, const char *owner,
                                            enum pc_outbox_outcome outcome, int64_t now, int64_t next_at,
                                            const char *error);
PC_MUST_USE enum pc_err pc_tx_outbox_depth(struct pc_store *s, int64_t *n);
PC_MUST_USE enum pc_err pc_tx_email_change_create(struct pc_store *s, struct pc_audit_event *ev, const char *user_id,
                                                  const uint8_t token_hash[32], const char *new_email,
                                                  int64_t expires_at);
PC_MUST_USE enum pc_err pc_tx_email_change_peek(struct pc_store *s, const uint8_t token_hash[32], int64_t now,
                                                char user_id[PC_ID_LEN + 1], char new_email[PC_EMAIL_MAX + 1]);
PC_MUST_USE enum pc_err pc_tx_email_change_confirm(struct pc_store *s, struct pc_audit_event *ev,
                                                   const uint8_t token_hash[32], int64_t now,
                                                   char user_id[PC_ID_LEN + 1], char new_email[PC_EMAIL_MAX + 1]);

PC_MUST_USE enum pc_err pc_tx_session_create(struct pc_store *s, struct pc_audit_event *ev,
                                             const struct pc_session *sess);
PC_MUST_USE enum pc_err pc_tx_session_get(struct pc_store *s, const uint8_t secret_hash[32],
                                          struct pc_session *out);
PC_MUST_USE enum pc_err pc_tx_session_touch(struct pc_store *s, const char *id,
                                            int64_t last_seen_at);
PC_MUST_USE enum pc_err pc_tx_session_list(struct pc_store *s, const char *user_id, int64_t now,
                                           struct pc_session **out, size_t *n);
PC_MUST_USE enum pc_err pc_tx_session_delete(struct pc_store *s, struct pc_audit_event *ev,
                                             const char *user_id, const char *id);
PC_MUST_USE enum pc_err pc_tx_session_delete_all(struct pc_store *s, struct pc_audit_event *ev,
                                                 const char *user_id, const char *keep,
                                                 int64_t now, size_t *ended,
                                                 struct pc_revoked **revoked, size_t *n_revoked);

PC_MUST_USE enum pc_err pc_tx_totp_put(struct pc_store *s, struct pc_audit_event *ev,
                                       const struct pc_totp *t);
PC_MUST_USE enum pc_err pc_tx_totp_get(struct pc_store *s, const char *user_id, struct pc_totp *out);
PC_MUST_USE enum pc_err pc_tx_totp_confirm(struct pc_store *s, struct pc_audit_event *ev, const char *id,
                                           int64_t step, const uint8_t (*hashes)[32], size_t n);
PC_MUST_USE enum pc_err pc_tx_totp_use(struct pc_store *s, struct pc_audit_event *ev, const char *id,
                                       int64_t step);
PC_MUST_USE enum pc_err pc_tx_totp_delete(struct pc_store *s, struct pc_audit_event *ev,
                                          const char *user_id);
PC_MUST_USE enum pc_err pc_tx_factors_reset(struct pc_store *s, struct pc_audit_event *ev,
                                            const char *user_id, int64_t now, struct pc_revoked **revoked,
                                            size_t *n_revoked);
PC_MUST_USE enum pc_err pc_tx_recovery_set(struct pc_store *s, struct pc_audit_event *ev,
                                           const char *user_id, const uint8_t (*hashes)[32], size_t n);
PC_MUST_USE enum pc_err pc_tx_recovery_spend(struct pc_store *s, struct pc_audit_event *ev,
                                             const char *user_id, const uint8_t hash[32], int64_t now);
PC_MUST_USE enum pc_err pc_tx_recovery_left(struct pc_store *s, const char *user_id, int64_t *left);
PC_MUST_USE enum pc_err pc_tx_session_promote(struct pc_store *s, struct pc_audit_event *ev,
                                              const char *old_id, const struct pc_session *sess);

PC_MUST_USE enum pc_err pc_tx_passkey_add(struct pc_store *s, struct pc_audit_event *ev, const struct pc_passkey *k,
                                          int64_t max);
PC_MUST_USE enum pc_err pc_tx_passkey_list(struct pc_store *s, const char *user_id, struct pc_passkey **out,
                                           size_t *n);
PC_MUST_USE enum pc_err pc_tx_passkey_by_credential(struct pc_store *s, const char *credential_id,
                                                    struct pc_passkey *out);
PC_MUST_USE enum pc_err pc_tx_passkey_handle(struct pc_store *s, const char *user_id,
                                             char out[PC_PASSKEY_HANDLE_TEXT + 1]);
PC_MUST_USE enum pc_err pc_tx_passkey_rename(struct pc_store *s, struct pc_audit_event *ev, const char *user_id,
                                             const char *id, const char *name);
PC_MUST_USE enum pc_err pc_tx_passkey_delete(struct pc_store *s, struct pc_audit_event *ev, const char *user_id,
                                             const char *id);
PC_MUST_USE enum pc_err pc_tx_passkey_use(struct pc_store *s, struct pc_audit_event *ev, const char *id,
                                          int64_t seen, int64_t count, int64_t now);
PC_MUST_USE enum pc_err pc_tx_wa_challenge_put(struct pc_store *s, const uint8_t hash[32], const char *purpose,
                                               const char *binding, const char *user_handle, int64_t expires_at,
                                               int64_t now, int64_t max);
PC_MUST_USE enum pc_err pc_tx_wa_challenge_take(struct pc_store *s, const uint8_t hash[32], const char *purpose,
                                                const char *binding, int64_t now,
                                                char user_handle[PC_PASSKEY_HANDLE_TEXT + 1]);

PC_MUST_USE enum pc_err pc_tx_apikey_create(struct pc_store *s, struct pc_audit_event *ev,
                                            const struct pc_api_key *k);
PC_MUST_USE enum pc_err pc_tx_apikey_get(struct pc_store *s, const char *id,
                                         struct pc_api_key *out);
PC_MUST_USE enum pc_err pc_tx_apikey_get_by_prefix(struct pc_store *s, const char *prefix,
                                                   struct pc_api_key *out);
PC_MUST_USE enum pc_err pc_tx_apikey_list(struct pc_store *s, struct pc_api_key **out,
                                          size_t *n);
PC_MUST_USE enum pc_err pc_tx_apikey_rename(struct pc_store *s, struct pc_audit_event *ev,
                                            const char *id, const char *name);
PC_MUST_USE enum pc_err pc_tx_apikey_delete(struct pc_store *s, struct pc_audit_event *ev,
                                            const char *id);
PC_MUST_USE enum pc_err pc_tx_apikey_rekey(struct pc_store *s, const char *id,
                                           const uint8_t old_hash[32], const uint8_t new_hash[32]);
PC_MUST_USE enum pc_err pc_tx_apikey_touch(struct pc_store *s, const char *id,
                                           int64_t last_used_at);

PC_MUST_USE enum pc_err pc_tx_refresh_create(struct pc_store *s, struct pc_audit_event *ev,
                                             const struct pc_refresh_token *t);
/* On a detected reuse: commits the family's revocation with reuse_ev and
 * returns PC_ERR_REUSED with the revoked jtis; ev is then left unfilled.
 * Whenever reuse_ev was not committed its store-filled fields are clear. */
PC_MUST_USE enum pc_err pc_tx_refresh_rotate(struct pc_store *s, struct pc_audit_event *ev,
                                             struct pc_audit_event *reuse_ev,
                                             const uint8_t old_hash[32], int64_t now,
                                             struct pc_refresh_token *next,
                                             struct pc_refresh_token *old,
                                             struct pc_revoked **revoked, size_t *n_revoked);
PC_MUST_USE enum pc_err pc_tx_refresh_get(struct pc_store *s, const uint8_t token_hash[32],
                                          struct pc_refresh_token *out, bool *used);
/* Exactly one selector non-NULL and non-empty (checked by store.c); ev may
 * be NULL. */
PC_MUST_USE enum pc_err pc_tx_tokens_revoke(struct pc_store *s, struct pc_audit_event *ev,
                                            const char *jti, int64_t jti_exp,
                                            const char *family_id, const char *session_id,
                                            const char *user_id, int64_t now,
                                            struct pc_revoked **revoked, size_t *n_revoked);
PC_MUST_USE enum pc_err pc_tx_revoked_list(struct pc_store *s, int64_t now,
                                           struct pc_revoked **out, size_t *n);
PC_MUST_USE enum pc_err pc_tx_revoked_since(struct pc_store *s, int64_t after, int64_t now,
                                            struct pc_revoked **out, size_t *n, int64_t *upto);
PC_MUST_USE enum pc_err pc_tx_tokens_purge(struct pc_store *s, int64_t now, size_t *purged);

PC_MUST_USE enum pc_err pc_tx_audit_append(struct pc_store *s, struct pc_audit_event *ev);
PC_MUST_USE enum pc_err pc_tx_audit_list(struct pc_store *s, const struct pc_audit_filter *f,
                                         struct pc_audit_event **out, size_t *n);
/* PC_ERR_TAMPERED with v->bad_seq at the first event that does not verify. */
PC_MUST_USE enum pc_err pc_tx_audit_verify(struct pc_store *s, struct pc_audit_verdict *v);

/* OpenID Connect records (tx_oidc.c); ev may be NULL where store.h says. */
PC_MUST_USE enum pc_err pc_tx_oidc_put(struct pc_store *s, struct pc_audit_event *ev, const struct pc_oidc_obj *o);
PC_MUST_USE enum pc_err pc_tx_oidc_get(struct pc_store *s, const char *kind, const char *id,
                                       struct pc_oidc_obj *out);
PC_MUST_USE enum pc_err pc_tx_oidc_list(struct pc_store *s, const char *kind, const char *owner,
                                        struct pc_oidc_obj **out, size_t *n);
PC_MUST_USE enum pc_err pc_tx_oidc_replace(struct pc_store *s, struct pc_audit_event *ev,
                                           const struct pc_oidc_obj *o);
PC_MUST_USE enum pc_err pc_tx_oidc_delete(struct pc_store *s, struct pc_audit_event *ev, const char *kind,
                                          const char *id);
PC_MUST_USE enum pc_err pc_tx_oidc_delete_owner(struct pc_store *s, const char *kind, const char *owner);
PC_MUST_USE enum pc_err pc_tx_oidc_claim(struct pc_store *s, const char *kind, const char *id, int64_t from,
                                         int64_t to, int64_t now);

#endif
