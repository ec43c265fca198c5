/*
 * migrations_postgres.h — the PostgreSQL schema, as numbered migrations.
 *
 * Included by sql_postgres.c only. Migration N (1-based) is
 * pc_postgres_migrations[N-1]; each runs in its own transaction under a
 * transaction-scoped advisory lock together with the bump of
 * schema_version, so two instances starting at the same moment apply it
 * once, and a crash leaves all of a migration or none of it (PostgreSQL's
 * DDL is transactional).
 *
 * The same schema as migrations_sqlite.h, in PostgreSQL's types: BIGINT
 * for times and counters, BYTEA for hashes. Two deliberate differences:
 *  - every TEXT column is COLLATE "C": comparisons and ORDER BY are by
 *    bytes, as in SQLite, whatever the database's default collation;
 *  - user_agent is BYTEA: it is copied from a request header, which may
 *    carry obs-text bytes that are not UTF-8 (RFC 9110 5.5); a TEXT column
 *    of a UTF-8 database would refuse them and fail the login that stores
 *    them. Every other text is ours or validated (ids, ASCII emails, JSON
 *    written by the features).
 *
 * WARNING: never edit a migration that has shipped; append a new one.
 *
 * No foreign key on audit_events: the trail outlives the users it names.
 */
#ifndef PC_STORE_MIGRATIONS_POSTGRES_H
#define PC_STORE_MIGRATIONS_POSTGRES_H

#define PC_T "TEXT COLLATE \"C\""

static const char *const pc_postgres_migrations[] = {
	/* 1: users, the first-user guard, sessions, reset tokens, audit trail */
	"CREATE TABLE users ("
	"  id " PC_T " PRIMARY KEY,"
	"  email " PC_T " NOT NULL UNIQUE,"
	"  password_hash " PC_T " NOT NULL,"
	"  created_at BIGINT NOT NULL,"
	"  password_changed_at BIGINT NOT NULL"
	");"
	"CREATE TABLE setup_guard ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  done_at BIGINT NOT NULL"
	");"
	"CREATE TABLE sessions ("
	"  id " PC_T " PRIMARY KEY,"
	"  secret_hash BYTEA NOT NULL UNIQUE,"
	"  user_id " PC_T " NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  created_at BIGINT NOT NULL,"
	"  last_seen_at BIGINT NOT NULL,"
	"  expires_at BIGINT NOT NULL,"
	"  client_addr " PC_T " NOT NULL,"
	"  user_agent BYTEA NOT NULL"
	");"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	"CREATE TABLE reset_tokens ("
	"  token_hash BYTEA PRIMARY KEY,"
	"  user_id " PC_T " NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  expires_at BIGINT NOT NULL,"
	"  used_at BIGINT"
	");"
	"CREATE INDEX reset_tokens_user ON reset_tokens(user_id);"
	"CREATE TABLE audit_events ("
	"  seq BIGINT PRIMARY KEY,"
	"  id " PC_T " NOT NULL UNIQUE,"
	"  time_ms BIGINT NOT NULL,"
	"  action " PC_T " NOT NULL,"
	"  resource_type " PC_T " NOT NULL,"
	"  resource_id " PC_T " NOT NULL,"
	"  actor_user_id " PC_T " NOT NULL,"
	"  actor_email " PC_T " NOT NULL,"
	"  actor_session_id " PC_T " NOT NULL,"
	"  auth_method " PC_T " NOT NULL,"
	"  client_addr " PC_T " NOT NULL,"
	"  user_agent BYTEA NOT NULL,"
	"  details " PC_T " NOT NULL,"
	"  prev_hash BYTEA NOT NULL,"
	"  hash BYTEA NOT NULL"
	");"
	"CREATE INDEX audit_events_action ON audit_events(action, seq);"
	"CREATE INDEX audit_events_resource_type ON audit_events(resource_type, seq);"
	"CREATE INDEX audit_events_actor ON audit_events(actor_user_id, seq);",

	/* 2: API keys, refresh-token families, recorded access tokens,
	 * revocations; the reasons for the missing foreign keys are those of
	 * migrations_sqlite.h (keys outlive their creator; revocations outlive
	 * the user's access_tokens rows). */
	"CREATE TABLE api_keys ("
	"  id " PC_T " PRIMARY KEY,"
	"  name " PC_T " NOT NULL,"
	"  prefix " PC_T " NOT NULL UNIQUE,"
	"  secret_hash BYTEA NOT NULL,"
	"  created_by " PC_T " NOT NULL,"
	"  created_at BIGINT NOT NULL,"
	"  expires_at BIGINT NOT NULL,"
	"  last_used_at BIGINT NOT NULL"
	");"
	"CREATE INDEX api_keys_created ON api_keys(created_at, id);"
	"CREATE TABLE refresh_tokens ("
	"  token_hash BYTEA PRIMARY KEY,"
	"  family_id " PC_T " NOT NULL,"
	"  user_id " PC_T " NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  session_id " PC_T " NOT NULL,"
	"  created_at BIGINT NOT NULL,"
	"  expires_at BIGINT NOT NULL,"
	"  access_jti " PC_T " NOT NULL,"
	"  access_exp BIGINT NOT NULL,"
	"  used_at BIGINT"
	");"
	"CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);"
	"CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);"
	"CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);"
	"CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);"
	"CREATE TABLE access_tokens ("
	"  jti " PC_T " PRIMARY KEY,"
	"  family_id " PC_T " NOT NULL,"
	"  user_id " PC_T " NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  session_id " PC_T " NOT NULL,"
	"  expires_at BIGINT NOT NULL"
	");"
	"CREATE INDEX access_tokens_family ON access_tokens(family_id, expires_at);"
	"CREATE INDEX access_tokens_user ON access_tokens(user_id, expires_at);"
	"CREATE INDEX access_tokens_session ON access_tokens(session_id, expires_at);"
	"CREATE INDEX access_tokens_expires ON access_tokens(expires_at);"
	"CREATE TABLE revoked_tokens ("
	"  jti " PC_T " PRIMARY KEY,"
	"  expires_at BIGINT NOT NULL"
	");"
	"CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at);"
	"CREATE INDEX sessions_expires ON sessions(expires_at);"
	"CREATE INDEX reset_tokens_expires ON reset_tokens(expires_at);",
	/* 3: the credential epoch (migrations_sqlite.h 3) */
	"ALTER TABLE users ADD COLUMN cred_epoch BIGINT NOT NULL DEFAULT 0;",
	/* 4: revocation sequence numbers (migrations_sqlite.h 4) (the catch-up source of every
	 * instance's in-memory list). One counter row, bumped by each
	 * transaction that revokes and stamped on its rows: the row lock (and
	 * the write lock) make the numbers follow commit order, and purging
	 * rows never lowers it, so "rows after N" misses nothing unexpired. */
	"CREATE TABLE revocation_seq ("
	"  id BIGINT PRIMARY KEY CHECK (id = 1),"
	"  n BIGINT NOT NULL"
	");"
	"INSERT INTO revocation_seq(id, n) VALUES (1, 1);"
	"ALTER TABLE revoked_tokens ADD COLUMN seq BIGINT NOT NULL DEFAULT 1;"
	"CREATE INDEX revoked_tokens_seq ON revoked_tokens(seq);",
	/* 5: roles, account states and groups (migrations_sqlite.h 5): every
	 * existing user becomes an admin */
	"ALTER TABLE users ADD COLUMN role " PC_T " NOT NULL DEFAULT 'member'"
	"  CHECK (role IN ('admin', 'member'));"
	"UPDATE users SET role = 'admin';"
	"ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));"
	"ALTER TABLE users ADD COLUMN group_names " PC_T " NOT NULL DEFAULT '';"
	"CREATE INDEX audit_events_resource ON audit_events(resource_type, resource_id, seq);",
	/* 6: the audit key id of each event (migrations_sqlite.h 6) */
	"ALTER TABLE audit_events ADD COLUMN key_id " PC_T " NOT NULL DEFAULT '';",
	/* 7: second factors (migrations_sqlite.h 7). One TOTP credential per user: its secret sealed
	 * (XChaCha20-Poly1305 under the TOTP subkey, the row id as associated
	 * data: base64url text), its parameters (so a later change of defaults
	 * does not break it), whether a code confirmed it, and the last time
	 * step a code was accepted for (replay: a code is accepted only by a
	 * conditional UPDATE that raises it). Recovery codes: keyed hashes,
	 * spent by a conditional UPDATE of used_at. Sessions record their
	 * factors, the time of the second, and whether they still wait for it;
	 * refresh families the factors they were issued with. */
	"CREATE TABLE totp_credentials ("
	"  id " PC_T " PRIMARY KEY,"
	"  user_id " PC_T " NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
	"  secret_sealed " PC_T " NOT NULL,"
	"  algorithm " PC_T " NOT NULL,"
	"  digits BIGINT NOT NULL,"
	"  period BIGINT NOT NULL,"
	"  confirmed BIGINT NOT NULL DEFAULT 0,"
	"  last_used_step BIGINT NOT NULL DEFAULT 0,"
	"  created_at BIGINT NOT NULL"
	");"
	"CREATE TABLE recovery_codes ("
	"  user_id " PC_T " NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  code_hash BYTEA NOT NULL,"
	"  used_at BIGINT,"
	"  PRIMARY KEY (user_id, code_hash)"
	");"
	"ALTER TABLE sessions ADD COLUMN factors BIGINT NOT NULL DEFAULT 1;"
	"ALTER TABLE sessions ADD COLUMN second_factor_at BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN pending BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE refresh_tokens ADD COLUMN factors BIGINT NOT NULL DEFAULT 1;",
	/* 8: a user's optional display name (see migrations_sqlite.h). */
	"ALTER TABLE users ADD COLUMN display_name " PC_T " NOT NULL DEFAULT '';",
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
	"  id " PC_T " PRIMARY KEY,"
	"  user_id " PC_T " NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  credential_id " PC_T " NOT NULL UNIQUE,"
	"  public_key " PC_T " NOT NULL,"
	"  alg BIGINT NOT NULL,"
	"  sign_count BIGINT NOT NULL DEFAULT 0,"
	"  name " PC_T " NOT NULL,"
	"  user_handle " PC_T " NOT NULL,"
	"  transports " PC_T " NOT NULL DEFAULT '',"
	"  flags BIGINT NOT NULL DEFAULT 0,"
	"  created_at BIGINT NOT NULL,"
	"  last_used_at BIGINT NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX passkeys_user ON passkeys(user_id);"
	"CREATE TABLE webauthn_challenges ("
	"  challenge_hash BYTEA PRIMARY KEY,"
	"  purpose " PC_T " NOT NULL,"
	"  binding " PC_T " NOT NULL,"
	"  user_handle " PC_T " NOT NULL DEFAULT '',"
	"  expires_at BIGINT NOT NULL"
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
	"  id " PC_T " PRIMARY KEY,"
	"  created_at BIGINT NOT NULL,"
	"  kind " PC_T " NOT NULL,"
	"  recipient " PC_T " NOT NULL,"
	"  message_sealed " PC_T " NOT NULL,"
	"  attempts BIGINT NOT NULL DEFAULT 0,"
	"  next_attempt_at BIGINT NOT NULL,"
	"  lease_owner " PC_T " NOT NULL DEFAULT '',"
	"  lease_until BIGINT NOT NULL DEFAULT 0,"
	"  sent_at BIGINT,"
	"  failed_at BIGINT,"
	"  last_error " PC_T " NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX mail_outbox_due ON mail_outbox(next_attempt_at)"
	"  WHERE sent_at IS NULL AND failed_at IS NULL;"
	"CREATE TABLE email_changes ("
	"  token_hash BYTEA PRIMARY KEY,"
	"  user_id " PC_T " NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  new_email " PC_T " NOT NULL,"
	"  expires_at BIGINT NOT NULL,"
	"  used_at BIGINT"
	");",
	/* 11: the OpenID Connect provider (migrations_sqlite.h 11) */
	"CREATE TABLE oidc_objects ("
	"  kind " PC_T " NOT NULL,"
	"  id " PC_T " NOT NULL,"
	"  owner " PC_T " NOT NULL DEFAULT '',"
	"  body " PC_T " NOT NULL,"
	"  state BIGINT NOT NULL DEFAULT 0,"
	"  expires_at BIGINT NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (kind, id)"
	");"
	"CREATE INDEX oidc_objects_owner ON oidc_objects(kind, owner);",
};

#undef PC_T

#define PC_POSTGRES_SCHEMA_VERSION \
	((int)(sizeof(pc_postgres_migrations) / sizeof(pc_postgres_migrations[0])))

#endif
