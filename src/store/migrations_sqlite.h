/*
 * migrations_sqlite.h — the SQLite schema, as numbered migrations.
 *
 * Included by sql_sqlite.c only. Migration N (1-based) is pc_sqlite_migrations[N-1];
 * each runs in its own BEGIN IMMEDIATE transaction together with the bump
 * of schema_version, so a crash or a second process opening the same file
 * at the same moment sees either all of a migration or none of it.
 *
 * WARNING: never edit a migration that has shipped; append a new one.
 *
 * No foreign key on audit_events: the trail outlives the users it names.
 */
#ifndef PC_STORE_MIGRATIONS_SQLITE_H
#define PC_STORE_MIGRATIONS_SQLITE_H

static const char *const pc_sqlite_migrations[] = {
	/* 1: users, the first-user guard, sessions, reset tokens, audit trail */
	"CREATE TABLE users ("
	"  id TEXT PRIMARY KEY,"
	"  email TEXT NOT NULL UNIQUE,"
	"  password_hash TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  password_changed_at INTEGER NOT NULL"
	");"
	"CREATE TABLE setup_guard ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  done_at INTEGER NOT NULL"
	");"
	"CREATE TABLE sessions ("
	"  id TEXT PRIMARY KEY,"
	"  secret_hash BLOB NOT NULL UNIQUE,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  created_at INTEGER NOT NULL,"
	"  last_seen_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  client_addr TEXT NOT NULL,"
	"  user_agent TEXT NOT NULL"
	");"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	"CREATE TABLE reset_tokens ("
	"  token_hash BLOB PRIMARY KEY,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at INTEGER"
	");"
	"CREATE INDEX reset_tokens_user ON reset_tokens(user_id);"
	"CREATE TABLE audit_events ("
	"  seq INTEGER PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  time_ms INTEGER NOT NULL,"
	"  action TEXT NOT NULL,"
	"  resource_type TEXT NOT NULL,"
	"  resource_id TEXT NOT NULL,"
	"  actor_user_id TEXT NOT NULL,"
	"  actor_email TEXT NOT NULL,"
	"  actor_session_id TEXT NOT NULL,"
	"  auth_method TEXT NOT NULL,"
	"  client_addr TEXT NOT NULL,"
	"  user_agent TEXT NOT NULL,"
	"  details TEXT NOT NULL,"
	"  prev_hash BLOB NOT NULL,"
	"  hash BLOB NOT NULL"
	");"
	"CREATE INDEX audit_events_action ON audit_events(action, seq);"
	"CREATE INDEX audit_events_resource_type ON audit_events(resource_type, seq);"
	"CREATE INDEX audit_events_actor ON audit_events(actor_user_id, seq);",

	/* 2: API keys, refresh-token families, recorded access tokens, revocations.
	 * api_keys.created_by has no foreign key: keys are shared and outlive
	 * their creator. revoked_tokens has none either: pc_store_tokens_revoke
	 * by user runs BEFORE the user is deleted, and its entries must survive
	 * the cascade that removes the user's access_tokens rows. A refresh
	 * token keeps the jti and exp of the access token issued with it, so
	 * pc_store_refresh_get can return the whole struct. */
	"CREATE TABLE api_keys ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  prefix TEXT NOT NULL UNIQUE,"
	"  secret_hash BLOB NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  last_used_at INTEGER NOT NULL"
	");"
	"CREATE INDEX api_keys_created ON api_keys(created_at, id);"
	"CREATE TABLE refresh_tokens ("
	"  token_hash BLOB PRIMARY KEY,"
	"  family_id TEXT NOT NULL,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  session_id TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  access_jti TEXT NOT NULL,"
	"  access_exp INTEGER NOT NULL,"
	"  used_at INTEGER"
	");"
	"CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);"
	"CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);"
	"CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);"
	"CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);"
	"CREATE TABLE access_tokens ("
	"  jti TEXT PRIMARY KEY,"
	"  family_id TEXT NOT NULL,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  session_id TEXT NOT NULL,"
	"  expires_at INTEGER NOT NULL"
	");"
	"CREATE INDEX access_tokens_family ON access_tokens(family_id, expires_at);"
	"CREATE INDEX access_tokens_user ON access_tokens(user_id, expires_at);"
	"CREATE INDEX access_tokens_session ON access_tokens(session_id, expires_at);"
	"CREATE INDEX access_tokens_expires ON access_tokens(expires_at);"
	"CREATE TABLE revoked_tokens ("
	"  jti TEXT PRIMARY KEY,"
	"  expires_at INTEGER NOT NULL"
	");"
	"CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at);"
	/* purge deletes expired sessions and expired or used reset tokens */
	"CREATE INDEX sessions_expires ON sessions(expires_at);"
	"CREATE INDEX reset_tokens_expires ON reset_tokens(expires_at);",
	/* 3: the credential epoch: the generation of a user's credentials.
	 * Every change that ends sign-ins (password change, reset, end all
	 * sessions) adds one in the transaction that ends them; a session or
	 * refresh family is written only under the epoch its password check
	 * read (tx_users.c). */
	"ALTER TABLE users ADD COLUMN cred_epoch INTEGER NOT NULL DEFAULT 0;",
	/* 4: revocation sequence numbers (the catch-up source of every
	 * instance's in-memory list). One counter row, bumped by each
	 * transaction that revokes and stamped on its rows: the row lock (and
	 * the write lock) make the numbers follow commit order, and purging
	 * rows never lowers it, so "rows after N" misses nothing unexpired. */
	"CREATE TABLE revocation_seq ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  n INTEGER NOT NULL"
	");"
	"INSERT INTO revocation_seq(id, n) VALUES (1, 1);"
	"ALTER TABLE revoked_tokens ADD COLUMN seq INTEGER NOT NULL DEFAULT 1;"
	"CREATE INDEX revoked_tokens_seq ON revoked_tokens(seq);",
	/* 5: roles, account states and groups (issue 15). Every user that
	 * exists becomes an admin (before roles every user administered
	 * everything); users created later default to member. Groups are a
	 * column of names joined by ',' rather than a user_groups table: they
	 * are read with the user on every session lookup and token issue (one
	 * row, no join), written whole by one PATCH (one UPDATE, under the same
	 * last-admin condition), never queried by group (the access rules test
	 * the principal's list), and bounded (32 names of 64 bytes, checked by
	 * pc_groups_text_valid before every write). The resource index serves
	 * a member's view of the audit trail (events about themselves). */
	"ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member'"
	"  CHECK (role IN ('admin', 'member'));"
	"UPDATE users SET role = 'admin';"
	"ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));"
	"ALTER TABLE users ADD COLUMN group_names TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX audit_events_resource ON audit_events(resource_type, resource_id, seq);",
	/* 6: which audit key made each event's hash: key_id is a public
	 * fingerprint of the audit subkey (audit/chain.h), so `audit verify`
	 * checks every event under the key it was written with — the chain
	 * verifies across a master key rotation — and tells a key it was not
	 * given from an edit. '' on events written before this migration. */
	"ALTER TABLE audit_events ADD COLUMN key_id TEXT NOT NULL DEFAULT '';",
	/* 7: second factors. One TOTP credential per user: its secret sealed
	 * (XChaCha20-Poly1305 under the TOTP subkey, the row id as associated
	 * data: base64url text), its parameters (so a later change of defaults
	 * does not break it), whether a code confirmed it, and the last time
	 * step a code was accepted for (replay: a code is accepted only by a
	 * conditional UPDATE that raises it). Recovery codes: keyed hashes,
	 * spent by a conditional UPDATE of used_at. Sessions record their
	 * factors, the time of the second, and whether they still wait for it;
	 * refresh families the factors they were issued with. */
	"CREATE TABLE totp_credentials ("
	"  id TEXT PRIMARY KEY,"
	"  user_id TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
	"  secret_sealed TEXT NOT NULL,"
	"  algorithm TEXT NOT NULL,"
	"  digits INTEGER NOT NULL,"
	"  period INTEGER NOT NULL,"
	"  confirmed INTEGER NOT NULL DEFAULT 0,"
	"  last_used_step INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE TABLE recovery_codes ("
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  code_hash BLOB NOT NULL,"
	"  used_at INTEGER,"
	"  PRIMARY KEY (user_id, code_hash)"
	");"
	"ALTER TABLE sessions ADD COLUMN factors INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE sessions ADD COLUMN second_factor_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE refresh_tokens ADD COLUMN factors INTEGER NOT NULL DEFAULT 1;",
	/* 8: a user's optional display name (X-Auth-Name for forward auth):
	 * UTF-8 without control characters, at most PC_USER_NAME_MAX bytes
	 * (checked by pc_user_name_valid before every write); '' : none. */
	"ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';",
	/* 9: passkeys (WebAuthn). One row per credential: its id and raw
	 * public key (libfido2's form) as base64url text, the COSE alg, the
	 * last sign count seen (raised only by a conditional UPDATE from the
	 * value read, so two concurrent uses cannot both pass the clone
	 * check), a name, the user handle the authenticator holds (32 random
	 * bytes per user, base64url: never the user id or email), transports,
	 * flags at registration. Challenges: a hash of 32 random bytes, the
	 * ceremony (purpose), what it is bound to (session or pre-session id),
	 * the user handle a registration offered, expiry; consumed by a conditional DELETE, so a challenge is used
	 * once across every instance. */
	"CREATE TABLE passkeys ("
	"  id TEXT PRIMARY KEY,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  credential_id TEXT NOT NULL UNIQUE,"
	"  public_key TEXT NOT NULL,"
	"  alg INTEGER NOT NULL,"
	"  sign_count INTEGER NOT NULL DEFAULT 0,"
	"  name TEXT NOT NULL,"
	"  user_handle TEXT NOT NULL,"
	"  transports TEXT NOT NULL DEFAULT '',"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  last_used_at INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX passkeys_user ON passkeys(user_id);"
	"CREATE TABLE webauthn_challenges ("
	"  challenge_hash BLOB PRIMARY KEY,"
	"  purpose TEXT NOT NULL,"
	"  binding TEXT NOT NULL,"
	"  user_handle TEXT NOT NULL DEFAULT '',"
	"  expires_at INTEGER NOT NULL"
	");"
	"CREATE INDEX webauthn_challenges_binding ON webauthn_challenges(binding);"
	"CREATE INDEX webauthn_challenges_expires ON webauthn_challenges(expires_at);",
	/* 10: email (issue 20). mail_outbox: mails queued in the transaction
	 * of the change that causes them; the sender (svc/outbox.c) claims a
	 * due row with a lease (lease_owner, lease_until: a conditional UPDATE,
	 * so two instances never hold one row), hands it to the mail server,
	 * then records sent_at and blanks the message (it may hold a reset
	 * link). message_sealed: the RFC 5322 text sealed with a key derived
	 * from the master key (base64url), never stored in clear. email_changes:
	 * a pending change of a user's own email, confirmed by a mailed token
	 * (stored hashed, single use, expiring). */
	"CREATE TABLE mail_outbox ("
	"  id TEXT PRIMARY KEY,"
	"  created_at INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  message_sealed TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at INTEGER NOT NULL,"
	"  lease_owner TEXT NOT NULL DEFAULT '',"
	"  lease_until INTEGER NOT NULL DEFAULT 0,"
	"  sent_at INTEGER,"
	"  failed_at INTEGER,"
	"  last_error TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt_at)"
	"  WHERE sent_at IS NULL AND failed_at IS NULL;"
	"CREATE TABLE email_changes ("
	"  token_hash BLOB PRIMARY KEY,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  new_email TEXT NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at INTEGER"
	");",
	/* 11: the OpenID Connect provider (issue 21). Its records are small
	 * documents the service reads and writes whole (svc/oidc.c): clients
	 * (kind "client", id the client_id), signing keys ("key", the kid; the
	 * private key sealed under the OIDC subkey), remembered consents
	 * ("consent", user:client, owner the user), authorization codes
	 * ("code", the code's hash, 60 s; state 0 fresh, 1 redeemed: a
	 * conditional UPDATE spends it once), access tokens ("access", the
	 * token's hash; owner the refresh family, so a reused code deletes
	 * them) and grants ("grant", the refresh family id: client, scope,
	 * auth_time). One table typed by kind instead of six: none is queried
	 * by anything but its key or owner, and each is bounded by the service. */
	"CREATE TABLE oidc_objects ("
	"  kind TEXT NOT NULL,"
	"  id TEXT NOT NULL,"
	"  owner TEXT NOT NULL DEFAULT '',"
	"  body TEXT NOT NULL,"
	"  state INTEGER NOT NULL DEFAULT 0,"
	"  expires_at INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (kind, id)"
	");"
	"CREATE INDEX oidc_objects_owner ON oidc_objects(kind, owner);",
};

#define PC_SQLITE_SCHEMA_VERSION ((int)(sizeof(pc_sqlite_migrations) / sizeof(pc_sqlite_migrations[0])))

#endif
