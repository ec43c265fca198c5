/*
 * store.c — the public face of the store: URL dispatch and argument checks.
 *
 * Every function of store.h lands here first. Out-parameters are cleared,
 * fixed-size strings are checked to be terminated (an unterminated array
 * would make the backend read past it, and a value that fills its array
 * could never be read back), limits are clamped, and the acting principal
 * is stamped into the event's actor fields, so the event always names the
 * principal the change was made with. Only then is the operation called
 * (backend.h: one transaction script each, tx_*.c, over the dialect's SQL
 * driver). On failure the store-filled fields of the event (seq, hashes,
 * a resource_id the store supplied) are cleared again: nothing was written.
 * Clocks the store records on its own (password_changed_at) are read here,
 * once, so every dialect records the same time.
 *
 * Misuse (a NULL where the header forbids it, an unterminated string) is an
 * assert, and PC_ERR_INTERNAL when asserts are compiled out.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit/chain.h"
#include "audit/stream.h"
#include "core/text.h"
#include "store/backend.h"
#include "store/driver.h"

#define REQUIRE(c)                             \
	do {                                       \
		assert(c);                             \
		if (!(c))                              \
			return PC_ERR_INTERNAL;            \
	} while (0)

/* A fixed array holds a NUL-terminated string. */
#define TERMINATED(arr) (memchr((arr), '\0', sizeof(arr)) != NULL)


/* A new user (setup ignores the role: the first user is an admin). */
static bool user_ok(const struct pc_user *u)
{
	return u != NULL && TERMINATED(u->id) && u->id[0] != '\0' && TERMINATED(u->email) &&
	       TERMINATED(u->password_hash) && TERMINATED(u->groups) &&
	       pc_groups_text_valid(u->groups, strlen(u->groups)) && TERMINATED(u->name) &&
	       pc_user_name_valid(u->name, strlen(u->name));
}

static bool role_ok(enum pc_role r)
{
	return r == PC_ROLE_ADMIN || r == PC_ROLE_MEMBER;
}

static bool patch_ok(const struct pc_user_patch *p)
{
	return p != NULL && (!p->has_email || (TERMINATED(p->email) && p->email[0] != '\0')) &&
	       (!p->has_role || role_ok(p->role)) &&
	       (!p->has_groups || (TERMINATED(p->groups) && pc_groups_text_valid(p->groups, strlen(p->groups)))) &&
	       (!p->has_name || (TERMINATED(p->name) && pc_user_name_valid(p->name, strlen(p->name))));
}

static bool session_ok(const struct pc_session *s)
{
	return s != NULL && TERMINATED(s->id) && s->id[0] != '\0' && TERMINATED(s->user_id) &&
	       TERMINATED(s->client_addr) && TERMINATED(s->user_agent);
}

static bool hash_ok(const char *h)
{
	return h != NULL && memchr(h, '\0', PC_PWHASH_MAX) != NULL;
}

/* An event the caller filled (what/who) for the principal that acts. */
static bool event_ok(const struct pc_audit_event *ev, const struct pc_principal *actor)
{
	return actor != NULL && ev != NULL && TERMINATED(ev->id) && ev->id[0] != '\0' &&
	       TERMINATED(ev->action) && ev->action[0] != '\0' && TERMINATED(ev->resource_type) &&
	       TERMINATED(ev->resource_id) && TERMINATED(ev->user_agent) &&
	       TERMINATED(ev->client_addr) && TERMINATED(ev->details);
}

/* The principal passed to the call is the actor of record; what the store
 * fills starts clear. ev NULL: nothing. */
static void begin_event(struct pc_audit_event *ev, const struct pc_principal *a)
{
	if (ev == NULL)
		return;
	snprintf(ev->actor_user_id, sizeof(ev->actor_user_id), "%.*s", PC_ID_LEN, a->user_id);
	snprintf(ev->actor_email, sizeof(ev->actor_email), "%.*s", PC_EMAIL_MAX, a->email);
	snprintf(ev->actor_session_id, sizeof(ev->actor_session_id), "%.*s", PC_ID_LEN,
	         a->session_id);
	snprintf(ev->auth_method, sizeof(ev->auth_method), "%s", pc_auth_method_name(a->method));
	pc_event_clear(ev);
}

/* Committed events also go to the audit stream (audit/stream.h). */
PC_MUST_USE static enum pc_err finish_event(struct pc_audit_event *ev, enum pc_err e)
{
	if (e != PC_OK)
		pc_event_clear(ev);
	if (e == PC_OK && ev != NULL && ev->seq > 0)
		pc_audit_stream_emit(ev);
	return e;
}

int pc_store_open(struct pc_store **out, const char *url, const uint8_t audit_key[32], char *err,
                  size_t errlen)
{
	assert(out != NULL && err != NULL && errlen > 0);
	*out = NULL;
	err[0] = '\0';
	if (url == NULL || audit_key == NULL) {
		snprintf(err, errlen, "no database URL");
		return -1;
	}
	int rc;
	if (strncmp(url, "sqlite:", 7) == 0) {
		rc = pc_store_sqlite_open(out, url + 7, audit_key, err, errlen);
	} else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		rc = pc_store_postgres_open(out, url, audit_key, err, errlen);
	} else {
		/* the URL may carry a password: never echo it */
		snprintf(err, errlen,
		         "unsupported database URL scheme (expected sqlite:PATH or postgresql://...)");
		return -1;
	}
	if (rc == 0)
		pc_audit_key_id((*out)->audit_key_id, audit_key);
	return rc;
}

int pc_store_audit_add_previous_key(struct pc_store *s, const uint8_t key[32])
{
	REQUIRE(s != NULL && key != NULL && s->audit_prev == NULL);
	s->audit_prev = sodium_malloc(32);
	if (s->audit_prev == NULL)
		return -1;
	memcpy(s->audit_prev, key, 32);
	sodium_mprotect_readonly(s->audit_prev);
	pc_audit_key_id(s->audit_prev_id, key);
	return 0;
}

void pc_store_close(struct pc_store *s)
{
	if (s == NULL)
		return;
	sodium_free(s->audit_prev);
	s->audit_prev = NULL;
	s->drv->close(s);
}

enum pc_err pc_store_ping(struct pc_store *s)
{
	REQUIRE(s != NULL);
	return pc_tx_ping(s);
}

enum pc_err pc_store_setup(struct pc_store *s, const struct pc_principal *actor,
                           struct pc_audit_event *ev, const struct pc_user *user,
                           const struct pc_session *sess)
{
	REQUIRE(s != NULL && user_ok(user));
	REQUIRE(sess == NULL || session_ok(sess));
	REQUIRE(event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_setup(s, ev, user, sess));
}

enum pc_err pc_store_setup_done(struct pc_store *s, bool *done)
{
	REQUIRE(done != NULL);
	*done = false;
	REQUIRE(s != NULL);
	return pc_tx_setup_done(s, done);
}

enum pc_err pc_store_user_create(struct pc_store *s, const struct pc_principal *actor,
                                 struct pc_audit_event *ev, const struct pc_user *user)
{
	REQUIRE(s != NULL && user_ok(user) && role_ok(user->role) && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_user_create(s, ev, user));
}

enum pc_err pc_store_user_get(struct pc_store *s, const char *id, struct pc_user *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && id != NULL);
	return pc_tx_user_get(s, id, out);
}

enum pc_err pc_store_user_get_by_email(struct pc_store *s, const char *email, struct pc_user *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && email != NULL);
	return pc_tx_user_get_by_email(s, email, out);
}

enum pc_err pc_store_user_list(struct pc_store *s, struct pc_user **out, size_t *n)
{
	REQUIRE(out != NULL && n != NULL);
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL);
	return pc_tx_user_list(s, out, n);
}

/* Clears the revoked jtis' out-parameters on entry (revoked NULL: the
 * caller does not want them; the operation then frees them). */
static bool revoked_clear(struct pc_revoked **revoked, size_t *n_revoked)
{
	if (revoked == NULL)
		return true;
	if (n_revoked == NULL)
		return false;
	*revoked = NULL;
	*n_revoked = 0;
	return true;
}

enum pc_err pc_store_user_delete(struct pc_store *s, const struct pc_principal *actor,
                                 struct pc_audit_event *ev, const char *id,
                                 struct pc_revoked **revoked, size_t *n_revoked)
{
	REQUIRE(revoked_clear(revoked, n_revoked));
	REQUIRE(s != NULL && id != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev,
	                    pc_tx_user_delete(s, ev, id, (int64_t)time(NULL), revoked, n_revoked));
}

enum pc_err pc_store_user_update(struct pc_store *s, const struct pc_principal *actor,
                                 struct pc_audit_event *ev, const char *id,
                                 const struct pc_user_patch *patch, struct pc_user *out,
                                 unsigned *changed_out, struct pc_revoked **revoked, size_t *n_revoked)
{
	REQUIRE(revoked_clear(revoked, n_revoked));
	REQUIRE(out != NULL && changed_out != NULL);
	memset(out, 0, sizeof(*out));
	*changed_out = 0;
	REQUIRE(s != NULL && id != NULL && patch_ok(patch) && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_user_update(s, ev, id, patch, (int64_t)time(NULL), out, changed_out,
	                                          revoked, n_revoked));
}

enum pc_err pc_store_user_set_password(struct pc_store *s, const struct pc_principal *actor,
                                       struct pc_audit_event *ev, const char *user_id,
                                       const char *new_hash, const char *keep_session,
                                       struct pc_revoked **revoked, size_t *n_revoked)
{
	REQUIRE(revoked_clear(revoked, n_revoked));
	REQUIRE(s != NULL && actor != NULL && user_id != NULL && hash_ok(new_hash));
	REQUIRE(ev == NULL || event_ok(ev, actor));
	begin_event(ev, actor);
	/* the time of record, taken once here for every dialect */
	int64_t now = (int64_t)time(NULL);
	return finish_event(ev, pc_tx_user_set_password(s, ev, user_id, new_hash, keep_session, now,
	                                                 revoked, n_revoked));
}

enum pc_err pc_store_user_change_password(struct pc_store *s, const struct pc_principal *actor,
                                          struct pc_audit_event *ev, const char *user_id, const char *new_hash,
                                          const char *old_session, const struct pc_session *rotated,
                                          struct pc_revoked **revoked, size_t *n_revoked)
{
	REQUIRE(revoked_clear(revoked, n_revoked));
	REQUIRE(s != NULL && actor != NULL && user_id != NULL && hash_ok(new_hash) && old_session != NULL);
	REQUIRE(rotated != NULL && session_ok(rotated) && !rotated->pending && strcmp(rotated->user_id, user_id) == 0);
	REQUIRE(event_ok(ev, actor));
	begin_event(ev, actor);
	int64_t now = (int64_t)time(NULL);
	return finish_event(ev, pc_tx_user_change_password(s, ev, user_id, new_hash, old_session, rotated, now,
	                                                    revoked, n_revoked));
}

enum pc_err pc_store_family_list(struct pc_store *s, const char *user_id, int64_t now,
                                 struct pc_token_family **out, size_t *n)
{
	REQUIRE(out != NULL && n != NULL);
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL && user_id != NULL);
	return pc_tx_family_list(s, user_id, now, out, n);
}

enum pc_err pc_store_user_rehash(struct pc_store *s, const char *user_id, const char *new_hash)
{
	REQUIRE(s != NULL && user_id != NULL && hash_ok(new_hash));
	return pc_tx_user_rehash(s, user_id, new_hash);
}

enum pc_err pc_store_session_create(struct pc_store *s, const struct pc_principal *actor,
                                    struct pc_audit_event *ev, const struct pc_session *sess)
{
	REQUIRE(s != NULL && session_ok(sess) && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_session_create(s, ev, sess));
}

enum pc_err pc_store_session_get(struct pc_store *s, const uint8_t secret_hash[32],
                                 struct pc_session *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && secret_hash != NULL);
	return pc_tx_session_get(s, secret_hash, out);
}

enum pc_err pc_store_session_touch(struct pc_store *s, const char *id, int64_t last_seen_at)
{
	REQUIRE(s != NULL && id != NULL);
	return pc_tx_session_touch(s, id, last_seen_at);
}

enum pc_err pc_store_session_list(struct pc_store *s, const char *user_id, int64_t now,
                                  struct pc_session **out, size_t *n)
{
	REQUIRE(out != NULL && n != NULL);
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL && user_id != NULL);
	return pc_tx_session_list(s, user_id, now, out, n);
}

enum pc_err pc_store_session_delete(struct pc_store *s, const struct pc_principal *actor,
                                    struct pc_audit_event *ev, const char *user_id,
                                    const char *id)
{
	REQUIRE(s != NULL && user_id != NULL && id != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_session_delete(s, ev, user_id, id));
}

enum pc_err pc_store_session_delete_all(struct pc_store *s, const struct pc_principal *actor,
                                        struct pc_audit_event *ev, const char *user_id,
                                        const char *keep, size_t *ended,
                                        struct pc_revoked **revoked, size_t *n_revoked)
{
	REQUIRE(ended != NULL);
	*ended = 0;
	REQUIRE(revoked_clear(revoked, n_revoked));
	REQUIRE(s != NULL && user_id != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_session_delete_all(s, ev, user_id, keep, (int64_t)time(NULL),
	                                                  ended, revoked, n_revoked));
}

enum pc_err pc_store_reset_create(struct pc_store *s, const struct pc_principal *actor,
                                  struct pc_audit_event *ev, const char *user_id,
                                  const uint8_t token_hash[32], int64_t expires_at)
{
	REQUIRE(s != NULL && user_id != NULL && token_hash != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_reset_create(s, ev, user_id, token_hash, expires_at));
}

enum pc_err pc_store_reset_redeem(struct pc_store *s, const struct pc_principal *actor,
                                  struct pc_audit_event *ev, const uint8_t token_hash[32],
                                  const char *new_hash, int64_t now,
                                  char user_id_out[PC_ID_LEN + 1], struct pc_revoked **revoked,
                                  size_t *n_revoked)
{
	REQUIRE(user_id_out != NULL);
	user_id_out[0] = '\0';
	REQUIRE(revoked_clear(revoked, n_revoked));
	REQUIRE(s != NULL && token_hash != NULL && hash_ok(new_hash) && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_reset_redeem(s, ev, token_hash, new_hash, now, user_id_out,
	                                            revoked, n_revoked));
}

static bool mail_ok(const struct pc_outbox_mail *m)
{
	return m != NULL && TERMINATED(m->id) && m->id[0] != '\0' && TERMINATED(m->kind) && m->kind[0] != '\0' &&
	       TERMINATED(m->recipient) && m->sealed != NULL && m->sealed[0] != '\0' &&
	       strnlen(m->sealed, PC_OUTBOX_SEALED_MAX + 1) <= PC_OUTBOX_SEALED_MAX;
}

enum pc_err pc_store_reset_request(struct pc_store *s, const struct pc_principal *actor,
                                   struct pc_audit_event *ev, const char *email,
                                   const uint8_t token_hash[32], int64_t expires_at,
                                   const struct pc_outbox_mail *mail)
{
	REQUIRE(s != NULL && email != NULL && token_hash != NULL && mail_ok(mail) && event_ok(ev, actor) &&
	        ev->mail == NULL);
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_reset_request(s, ev, email, token_hash, expires_at, mail));
}

enum pc_err pc_store_outbox_claim(struct pc_store *s, const char *owner, int64_t lease_until, int64_t now,
                                  struct pc_outbox_row *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && owner != NULL && owner[0] != '\0' && lease_until > now);
	return pc_tx_outbox_claim(s, owner, lease_until, now, out);
}

enum pc_err pc_store_outbox_finish(struct pc_store *s, const char *id, const char *owner,
                                   enum pc_outbox_outcome outcome, int64_t now, int64_t next_at, const char *error)
{
	REQUIRE(s != NULL && id != NULL && owner != NULL && error != NULL && strlen(error) < PC_OUTBOX_ERROR_MAX &&
	        (outcome == PC_OUTBOX_SENT || outcome == PC_OUTBOX_RETRY || outcome == PC_OUTBOX_FAILED));
	return pc_tx_outbox_finish(s, id, owner, outcome, now, next_at, error);
}

enum pc_err pc_store_email_change_create(struct pc_store *s, const struct pc_principal *actor,
                                         struct pc_audit_event *ev, const char *user_id, const uint8_t token_hash[32],
                                         const char *new_email, int64_t expires_at)
{
	REQUIRE(s != NULL && user_id != NULL && token_hash != NULL && new_email != NULL &&
	        strlen(new_email) <= PC_EMAIL_MAX && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_email_change_create(s, ev, user_id, token_hash, new_email, expires_at));
}

enum pc_err pc_store_email_change_peek(struct pc_store *s, const uint8_t token_hash[32], int64_t now,
                                       char user_id[PC_ID_LEN + 1], char new_email[PC_EMAIL_MAX + 1])
{
	REQUIRE(user_id != NULL && new_email != NULL);
	user_id[0] = new_email[0] = '\0';
	REQUIRE(s != NULL && token_hash != NULL);
	return pc_tx_email_change_peek(s, token_hash, now, user_id, new_email);
}

enum pc_err pc_store_email_change_confirm(struct pc_store *s, const struct pc_principal *actor,
                                          struct pc_audit_event *ev, const uint8_t token_hash[32], int64_t now,
                                          char user_id[PC_ID_LEN + 1], char new_email[PC_EMAIL_MAX + 1])
{
	REQUIRE(user_id != NULL && new_email != NULL);
	user_id[0] = new_email[0] = '\0';
	REQUIRE(s != NULL && token_hash != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_email_change_confirm(s, ev, token_hash, now, user_id, new_email));
}

enum pc_err pc_store_outbox_depth(struct pc_store *s, int64_t *n)
{
	REQUIRE(n != NULL);
	*n = 0;
	REQUIRE(s != NULL);
	return pc_tx_outbox_depth(s, n);
}

/* ---- API keys ---- */

static bool apikey_ok(const struct pc_api_key *k)
{
	return k != NULL && TERMINATED(k->id) && k->id[0] != '\0' && TERMINATED(k->name) &&
	       TERMINATED(k->prefix) && k->prefix[0] != '\0' && TERMINATED(k->created_by);
}

enum pc_err pc_store_apikey_create(struct pc_store *s, const struct pc_principal *actor,
                                   struct pc_audit_event *ev, const struct pc_api_key *k)
{
	REQUIRE(s != NULL && apikey_ok(k) && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_apikey_create(s, ev, k));
}

enum pc_err pc_store_apikey_get(struct pc_store *s, const char *id, struct pc_api_key *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && id != NULL);
	return pc_tx_apikey_get(s, id, out);
}

enum pc_err pc_store_apikey_get_by_prefix(struct pc_store *s, const char *prefix,
                                          struct pc_api_key *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && prefix != NULL);
	return pc_tx_apikey_get_by_prefix(s, prefix, out);
}

enum pc_err pc_store_apikey_list(struct pc_store *s, struct pc_api_key **out, size_t *n)
{
	REQUIRE(out != NULL && n != NULL);
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL);
	return pc_tx_apikey_list(s, out, n);
}

enum pc_err pc_store_apikey_rename(struct pc_store *s, const struct pc_principal *actor,
                                   struct pc_audit_event *ev, const char *id, const char *name)
{
	/* a name that fills struct pc_api_key's array could never be read back */
	REQUIRE(s != NULL && id != NULL && name != NULL &&
	        strnlen(name, PC_APIKEY_NAME_MAX + 1) <= PC_APIKEY_NAME_MAX);
	REQUIRE(event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_apikey_rename(s, ev, id, name));
}

enum pc_err pc_store_apikey_delete(struct pc_store *s, const struct pc_principal *actor,
                                   struct pc_audit_event *ev, const char *id)
{
	REQUIRE(s != NULL && id != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_apikey_delete(s, ev, id));
}

enum pc_err pc_store_apikey_rekey(struct pc_store *s, const char *id, const uint8_t old_hash[32],
                                  const uint8_t new_hash[32])
{
	REQUIRE(s != NULL && id != NULL && old_hash != NULL && new_hash != NULL);
	return pc_tx_apikey_rekey(s, id, old_hash, new_hash);
}

enum pc_err pc_store_apikey_touch(struct pc_store *s, const char *id, int64_t last_used_at)
{
	REQUIRE(s != NULL && id != NULL);
	return pc_tx_apikey_touch(s, id, last_used_at);
}

/* ---- access and refresh tokens, revocation ---- */

/* A selector or jti: non-empty (an empty session id would select every
 * token issued by password) and short enough to be read back. */
static bool key_ok(const char *k, size_t max)
{
	return k != NULL && k[0] != '\0' && strnlen(k, max + 1) <= max;
}

enum pc_err pc_store_refresh_create(struct pc_store *s, const struct pc_principal *actor,
                                    struct pc_audit_event *ev, const struct pc_refresh_token *t)
{
	REQUIRE(s != NULL && t != NULL && TERMINATED(t->family_id) && t->family_id[0] != '\0' &&
	        TERMINATED(t->user_id) && t->user_id[0] != '\0' && TERMINATED(t->session_id) &&
	        TERMINATED(t->access_jti) && t->access_jti[0] != '\0');
	REQUIRE(event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_refresh_create(s, ev, t));
}

enum pc_err pc_store_refresh_rotate(struct pc_store *s, const struct pc_principal *actor,
                                    struct pc_audit_event *ev, struct pc_audit_event *reuse_ev,
                                    const uint8_t old_hash[32], int64_t now,
                                    struct pc_refresh_token *next, struct pc_refresh_token *old,
                                    struct pc_revoked **revoked, size_t *n_revoked)
{
	REQUIRE(old != NULL && revoked != NULL && n_revoked != NULL);
	memset(old, 0, sizeof(*old));
	*revoked = NULL;
	*n_revoked = 0;
	REQUIRE(s != NULL && old_hash != NULL && next != NULL && TERMINATED(next->access_jti) &&
	        next->access_jti[0] != '\0');
	REQUIRE(ev != reuse_ev && event_ok(ev, actor) && event_ok(reuse_ev, actor));
	begin_event(ev, actor);
	begin_event(reuse_ev, actor);
	enum pc_err e =
		pc_tx_refresh_rotate(s, ev, reuse_ev, old_hash, now, next, old, revoked, n_revoked);
	/* reuse_ev is written only with the PC_ERR_REUSED of a detected reuse
	 * (the operation clears it when that transaction fails) */
	if (e != PC_ERR_REUSED)
		pc_event_clear(reuse_ev);
	else if (reuse_ev->seq > 0)
		pc_audit_stream_emit(reuse_ev);
	return finish_event(ev, e);
}

enum pc_err pc_store_refresh_get(struct pc_store *s, const uint8_t token_hash[32],
                                 struct pc_refresh_token *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && token_hash != NULL);
	return pc_tx_refresh_get(s, token_hash, out, NULL);
}

enum pc_err pc_store_refresh_lookup(struct pc_store *s, const uint8_t token_hash[32],
                                    struct pc_refresh_token *out, bool *used)
{
	REQUIRE(out != NULL && used != NULL);
	memset(out, 0, sizeof(*out));
	*used = false;
	REQUIRE(s != NULL && token_hash != NULL);
	return pc_tx_refresh_get(s, token_hash, out, used);
}

enum pc_err pc_store_tokens_revoke(struct pc_store *s, const struct pc_principal *actor,
                                   struct pc_audit_event *ev, const char *jti, int64_t jti_exp,
                                   const char *family_id, const char *session_id,
                                   const char *user_id, int64_t now,
                                   struct pc_revoked **revoked, size_t *n_revoked)
{
	REQUIRE(revoked != NULL && n_revoked != NULL);
	*revoked = NULL;
	*n_revoked = 0;
	REQUIRE(s != NULL && actor != NULL);
	int selectors = (jti != NULL) + (family_id != NULL) + (session_id != NULL) + (user_id != NULL);
	REQUIRE(selectors == 1);
	REQUIRE(jti == NULL || key_ok(jti, PC_JTI_MAX));
	REQUIRE(family_id == NULL || key_ok(family_id, PC_ID_LEN));
	REQUIRE(session_id == NULL || key_ok(session_id, PC_ID_LEN));
	REQUIRE(user_id == NULL || key_ok(user_id, PC_ID_LEN));
	REQUIRE(ev == NULL || event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_tokens_revoke(s, ev, jti, jti_exp, family_id, session_id,
	                                               user_id, now, revoked, n_revoked));
}

enum pc_err pc_store_revoked_list(struct pc_store *s, int64_t now, struct pc_revoked **out,
                                  size_t *n)
{
	REQUIRE(out != NULL && n != NULL);
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL);
	return pc_tx_revoked_list(s, now, out, n);
}

enum pc_err pc_store_revoked_since(struct pc_store *s, int64_t after, int64_t now,
                                   struct pc_revoked **out, size_t *n, int64_t *upto)
{
	REQUIRE(out != NULL && n != NULL && upto != NULL);
	*out = NULL;
	*n = 0;
	*upto = 0;
	REQUIRE(s != NULL && after >= 0);
	return pc_tx_revoked_since(s, after, now, out, n, upto);
}

enum pc_err pc_store_tokens_purge(struct pc_store *s, int64_t now, size_t *purged)
{
	REQUIRE(purged != NULL);
	*purged = 0;
	REQUIRE(s != NULL);
	return pc_tx_tokens_purge(s, now, purged);
}

enum pc_err pc_store_audit_append(struct pc_store *s, const struct pc_principal *actor,
                                  struct pc_audit_event *ev)
{
	REQUIRE(s != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_audit_append(s, ev));
}

enum pc_err pc_store_audit_list(struct pc_store *s, const struct pc_audit_filter *f,
                                struct pc_audit_event **out, size_t *n)
{
	REQUIRE(out != NULL && n != NULL);
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL && f != NULL);
	struct pc_audit_filter c = *f;
	if (c.limit < 1)
		c.limit = 1;
	if (c.limit > PC_AUDIT_PAGE_MAX)
		c.limit = PC_AUDIT_PAGE_MAX;
	if (c.before_seq < 0)
		c.before_seq = 0;
	return pc_tx_audit_list(s, &c, out, n);
}

enum pc_err pc_store_audit_verify(struct pc_store *s, int64_t *checked, int64_t *bad_seq)
{
	REQUIRE(checked != NULL && bad_seq != NULL);
	*checked = 0;
	*bad_seq = 0;
	struct pc_audit_verdict v;
	enum pc_err e = pc_store_audit_check(s, &v);
	*checked = v.checked;
	*bad_seq = v.bad_seq;
	return e;
}

enum pc_err pc_store_audit_check(struct pc_store *s, struct pc_audit_verdict *v)
{
	REQUIRE(v != NULL);
	memset(v, 0, sizeof(*v));
	REQUIRE(s != NULL);
	return pc_tx_audit_verify(s, v);
}

/* ---- second factors ---- */

static bool totp_ok(const struct pc_totp *t)
{
	return t != NULL && TERMINATED(t->id) && t->id[0] != '\0' && TERMINATED(t->user_id) &&
	       t->user_id[0] != '\0' && TERMINATED(t->secret_sealed) && t->secret_sealed[0] != '\0' &&
	       TERMINATED(t->algorithm) && t->algorithm[0] != '\0';
}

enum pc_err pc_store_totp_put(struct pc_store *s, const struct pc_principal *actor, struct pc_audit_event *ev,
                              const struct pc_totp *t)
{
	REQUIRE(s != NULL && totp_ok(t) && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_totp_put(s, ev, t));
}

enum pc_err pc_store_totp_get(struct pc_store *s, const char *user_id, struct pc_totp *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && user_id != NULL);
	return pc_tx_totp_get(s, user_id, out);
}

enum pc_err pc_store_totp_confirm(struct pc_store *s, const struct pc_principal *actor,
                                  struct pc_audit_event *ev, const char *id, int64_t step,
                                  const uint8_t (*hashes)[32], size_t n)
{
	REQUIRE(s != NULL && id != NULL && step > 0 && (hashes != NULL || n == 0) &&
	        n <= PC_RECOVERY_CODES && event_ok(ev, actor) && actor->user_id[0] != '\0');
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_totp_confirm(s, ev, id, step, hashes, n));
}

enum pc_err pc_store_totp_use(struct pc_store *s, const struct pc_principal *actor, struct pc_audit_event *ev,
                              const char *id, int64_t step)
{
	REQUIRE(s != NULL && id != NULL && step > 0 && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_totp_use(s, ev, id, step));
}

enum pc_err pc_store_totp_delete(struct pc_store *s, const struct pc_principal *actor,
                                 struct pc_audit_event *ev, const char *user_id)
{
	REQUIRE(s != NULL && user_id != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_totp_delete(s, ev, user_id));
}

enum pc_err pc_store_factors_reset(struct pc_store *s, const struct pc_principal *actor,
                                   struct pc_audit_event *ev, const char *user_id, struct pc_revoked **revoked,
                                   size_t *n_revoked)
{
	REQUIRE(revoked_clear(revoked, n_revoked));
	REQUIRE(s != NULL && user_id != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_factors_reset(s, ev, user_id, (int64_t)time(NULL), revoked, n_revoked));
}

enum pc_err pc_store_recovery_set(struct pc_store *s, const struct pc_principal *actor,
                                  struct pc_audit_event *ev, const char *user_id,
                                  const uint8_t (*hashes)[32], size_t n)
{
	REQUIRE(s != NULL && user_id != NULL && hashes != NULL && n <= PC_RECOVERY_CODES &&
	        event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_recovery_set(s, ev, user_id, hashes, n));
}

enum pc_err pc_store_recovery_spend(struct pc_store *s, const struct pc_principal *actor,
                                    struct pc_audit_event *ev, const char *user_id, const uint8_t hash[32],
                                    int64_t now)
{
	REQUIRE(s != NULL && user_id != NULL && hash != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_recovery_spend(s, ev, user_id, hash, now));
}

enum pc_err pc_store_recovery_left(struct pc_store *s, const char *user_id, int64_t *left)
{
	REQUIRE(left != NULL);
	*left = 0;
	REQUIRE(s != NULL && user_id != NULL);
	return pc_tx_recovery_left(s, user_id, left);
}

static bool passkey_ok(const struct pc_passkey *k)
{
	return k != NULL && TERMINATED(k->id) && k->id[0] != '\0' && TERMINATED(k->user_id) && k->user_id[0] != '\0' &&
	       TERMINATED(k->credential_id) && k->credential_id[0] != '\0' && TERMINATED(k->public_key) &&
	       k->public_key[0] != '\0' && TERMINATED(k->name) && TERMINATED(k->user_handle) &&
	       k->user_handle[0] != '\0' && TERMINATED(k->transports) && k->sign_count >= 0 &&
	       k->sign_count <= UINT32_MAX;
}

enum pc_err pc_store_passkey_add(struct pc_store *s, const struct pc_principal *actor, struct pc_audit_event *ev,
                                 const struct pc_passkey *k, int64_t max)
{
	REQUIRE(s != NULL && passkey_ok(k) && max > 0 && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_passkey_add(s, ev, k, max));
}

enum pc_err pc_store_passkey_list(struct pc_store *s, const char *user_id, struct pc_passkey **out, size_t *n)
{
	REQUIRE(out != NULL && n != NULL);
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL && user_id != NULL);
	return pc_tx_passkey_list(s, user_id, out, n);
}

enum pc_err pc_store_passkey_by_credential(struct pc_store *s, const char *credential_id, struct pc_passkey *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && credential_id != NULL);
	return pc_tx_passkey_by_credential(s, credential_id, out);
}

enum pc_err pc_store_passkey_handle(struct pc_store *s, const char *user_id, char out[PC_PASSKEY_HANDLE_TEXT + 1])
{
	REQUIRE(out != NULL);
	memset(out, 0, PC_PASSKEY_HANDLE_TEXT + 1);
	REQUIRE(s != NULL && user_id != NULL);
	return pc_tx_passkey_handle(s, user_id, out);
}

enum pc_err pc_store_passkey_rename(struct pc_store *s, const struct pc_principal *actor, struct pc_audit_event *ev,
                                    const char *user_id, const char *id, const char *name)
{
	REQUIRE(s != NULL && user_id != NULL && id != NULL && name != NULL && strlen(name) <= PC_PASSKEY_NAME_MAX &&
	        event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_passkey_rename(s, ev, user_id, id, name));
}

enum pc_err pc_store_passkey_delete(struct pc_store *s, const struct pc_principal *actor, struct pc_audit_event *ev,
                                    const char *user_id, const char *id)
{
	REQUIRE(s != NULL && user_id != NULL && id != NULL && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_passkey_delete(s, ev, user_id, id));
}

enum pc_err pc_store_passkey_use(struct pc_store *s, const struct pc_principal *actor, struct pc_audit_event *ev,
                                 const char *id, int64_t seen, int64_t count, int64_t now)
{
	REQUIRE(s != NULL && id != NULL && seen >= 0 && count >= 0 && count <= UINT32_MAX && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_passkey_use(s, ev, id, seen, count, now));
}

enum pc_err pc_store_wa_challenge_put(struct pc_store *s, const uint8_t hash[32], const char *purpose,
                                      const char *binding, const char *user_handle, int64_t expires_at, int64_t now,
                                      int64_t max)
{
	REQUIRE(s != NULL && hash != NULL && purpose != NULL && binding != NULL && binding[0] != '\0' &&
	        user_handle != NULL && strlen(user_handle) <= PC_PASSKEY_HANDLE_TEXT && expires_at > now && max > 0);
	return pc_tx_wa_challenge_put(s, hash, purpose, binding, user_handle, expires_at, now, max);
}

enum pc_err pc_store_wa_challenge_take(struct pc_store *s, const uint8_t hash[32], const char *purpose,
                                       const char *binding, int64_t now, char user_handle[PC_PASSKEY_HANDLE_TEXT + 1])
{
	REQUIRE(user_handle != NULL);
	memset(user_handle, 0, PC_PASSKEY_HANDLE_TEXT + 1);
	REQUIRE(s != NULL && hash != NULL && purpose != NULL && binding != NULL);
	return pc_tx_wa_challenge_take(s, hash, purpose, binding, now, user_handle);
}

enum pc_err pc_store_session_promote(struct pc_store *s, const struct pc_principal *actor,
                                     struct pc_audit_event *ev, const char *old_id,
                                     const struct pc_session *sess)
{
	REQUIRE(s != NULL && old_id != NULL && session_ok(sess) && !sess->pending && event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_session_promote(s, ev, old_id, sess));
}

/* ---- OpenID Connect records ---- */

static bool oidc_obj_ok(const struct pc_oidc_obj *o)
{
	return o != NULL && TERMINATED(o->kind) && o->kind[0] != '\0' && TERMINATED(o->id) && o->id[0] != '\0' &&
	       TERMINATED(o->owner) && TERMINATED(o->body);
}

static bool oidc_key_ok(const char *kind, const char *id)
{
	return kind != NULL && id != NULL && kind[0] != '\0' && strlen(kind) < 16 && strlen(id) <= PC_OIDC_KEY_MAX;
}

enum pc_err pc_store_oidc_put(struct pc_store *s, const struct pc_principal *actor, struct pc_audit_event *ev,
                              const struct pc_oidc_obj *o)
{
	REQUIRE(s != NULL && oidc_obj_ok(o));
	if (ev == NULL)
		return pc_tx_oidc_put(s, NULL, o);
	REQUIRE(event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_oidc_put(s, ev, o));
}

enum pc_err pc_store_oidc_get(struct pc_store *s, const char *kind, const char *id, struct pc_oidc_obj *out)
{
	REQUIRE(out != NULL);
	memset(out, 0, sizeof(*out));
	REQUIRE(s != NULL && oidc_key_ok(kind, id));
	return pc_tx_oidc_get(s, kind, id, out);
}

enum pc_err pc_store_oidc_list(struct pc_store *s, const char *kind, const char *owner, struct pc_oidc_obj **out,
                               size_t *n)
{
	REQUIRE(out != NULL && n != NULL);
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL && oidc_key_ok(kind, owner != NULL ? owner : ""));
	return pc_tx_oidc_list(s, kind, owner, out, n);
}

enum pc_err pc_store_oidc_replace(struct pc_store *s, const struct pc_principal *actor,
                                  struct pc_audit_event *ev, const struct pc_oidc_obj *o)
{
	REQUIRE(s != NULL && oidc_obj_ok(o));
	if (ev == NULL)
		return pc_tx_oidc_replace(s, NULL, o);
	REQUIRE(event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_oidc_replace(s, ev, o));
}

enum pc_err pc_store_oidc_delete(struct pc_store *s, const struct pc_principal *actor, struct pc_audit_event *ev,
                                 const char *kind, const char *id)
{
	REQUIRE(s != NULL && oidc_key_ok(kind, id));
	if (ev == NULL)
		return pc_tx_oidc_delete(s, NULL, kind, id);
	REQUIRE(event_ok(ev, actor));
	begin_event(ev, actor);
	return finish_event(ev, pc_tx_oidc_delete(s, ev, kind, id));
}

enum pc_err pc_store_oidc_delete_owner(struct pc_store *s, const char *kind, const char *owner)
{
	REQUIRE(s != NULL && oidc_key_ok(kind, owner) && owner[0] != '\0');
	return pc_tx_oidc_delete_owner(s, kind, owner);
}

enum pc_err pc_store_oidc_claim(struct pc_store *s, const char *kind, const char *id, int64_t from, int64_t to,
                                int64_t now)
{
	REQUIRE(s != NULL && oidc_key_ok(kind, id));
	return pc_tx_oidc_claim(s, kind, id, from, to, now);
}
