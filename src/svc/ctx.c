/*
 * ctx.c — the service context: the composition root that opens the store
 * and the kv and builds the authentication state over them; and the pieces
 * every service shares: the clock, the one audit event builder, the rights
 * rule, token revocation, new sessions.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/chain.h"
#include "auth/revocation.h"
#include "config/config.h"
#include "core/log.h"
#include "core/pct.h"
#include "svc/outbox.h"
#include "svc/svc.h"

/* The kv: in-process, or Redis with the password from the URL or from
 * PORTCULLIS_REDIS_PASSWORD_FILE (put into the URL here, wiped after). */
static int open_kv(struct pc_kv **kv, const struct pc_config *cfg, char *err, size_t errlen)
{
	if (cfg->redis_url[0] == '\0')
		return pc_kv_open(kv, NULL, err, errlen);
	const char *pw = cfg->keys->redis_password;
	if (pw[0] == '\0')
		return pc_kv_open(kv, cfg->redis_url, err, errlen);
	const char *rest = cfg->redis_url + 8; /* after "redis://" */
	if (strchr(rest, '@') != NULL) {
		snprintf(err, errlen, "PORTCULLIS_REDIS_URL has a password and PORTCULLIS_REDIS_PASSWORD_FILE is set: "
		                      "use one");
		return -1;
	}
	char enc[800], url[2048];
	size_t enc_len;
	if (pc_pct_encode(enc, sizeof(enc), &enc_len, pw, strlen(pw)) != 0) {
		snprintf(err, errlen, "PORTCULLIS_REDIS_PASSWORD_FILE holds a password too long for a Redis URL");
		return -1;
	}
	snprintf(url, sizeof(url), "redis://:%s@%s", enc, rest);
	int rc = pc_kv_open(kv, url, err, errlen);
	sodium_memzero(enc, sizeof(enc));
	sodium_memzero(url, sizeof(url));
	return rc;
}

int pc_svc_store_url(const struct pc_config *cfg, char *out, size_t cap)
{
	const char *pw = cfg->keys != NULL ? cfg->keys->database_password : "";
	const char *url = cfg->database_url;
	bool pg = strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
	if (pw[0] == '\0' || !pg) {
		int n = snprintf(out, cap, "%s", url);
		return n >= 0 && (size_t)n < cap ? 0 : -1;
	}
	char enc[800];
	size_t enc_len;
	if (pc_pct_encode(enc, sizeof(enc), &enc_len, pw, strlen(pw)) != 0)
		return -1; /* the caller says the URL with its password is too long */
	int n = snprintf(out, cap, "%s%spassword=%s", url, strchr(url, '?') ? "&" : "?", enc);
	sodium_memzero(enc, sizeof(enc));
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

int pc_svc_open(struct pc_svc *ctx, const struct pc_config *cfg, char *err, size_t errlen)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	char url[2048];
	if (pc_svc_store_url(cfg, url, sizeof(url)) != 0) {
		sodium_memzero(url, sizeof(url));
		snprintf(err, errlen, "PORTCULLIS_DATABASE_URL with its password is too long");
		return -1;
	}
	int rc = pc_store_open(&ctx->store, url, cfg->keys->current.sub[PC_SUBKEY_AUDIT], err, errlen);
	sodium_memzero(url, sizeof(url));
	if (rc != 0)
		return -1;
	if (open_kv(&ctx->kv, cfg, err, errlen) != 0 ||
	    pc_auth_init(&ctx->auth, cfg, ctx->store, ctx->kv, err, errlen) != 0 ||
	    pc_outbox_init(ctx, err, errlen) != 0) {
		pc_svc_close(ctx);
		return -1;
	}
	if (cfg->breached_passwords_file[0] != '\0') {
		char why[256];
		if (pc_breached_open(&ctx->breached, cfg->breached_passwords_file, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "PORTCULLIS_BREACHED_PASSWORDS_FILE %s: %s", cfg->breached_passwords_file,
			         why);
			pc_svc_close(ctx);
			return -1;
		}
	}
	return 0;
}

void pc_svc_close(struct pc_svc *ctx)
{
	pc_access_close(&ctx->access);
	pc_breached_free(ctx->breached);
	pc_outbox_free();
	pc_auth_free(&ctx->auth);
	pc_kv_close(ctx->kv);
	pc_store_close(ctx->store);
	memset(ctx, 0, sizeof(*ctx));
}

int64_t pc_svc_now(const struct pc_svc *ctx)
{
	return ctx->clock != NULL ? ctx->clock() : (int64_t)time(NULL);
}

void pc_svc_event(struct pc_audit_event *ev, const struct pc_principal *actor, const char *action,
                  const char *resource_type, const char *resource_id, const char *details_fmt, ...)
{
	pc_audit_event_init(ev, actor, action, resource_type, resource_id != NULL ? resource_id : "");
	if (details_fmt == NULL)
		return;
	va_list ap;
	va_start(ap, details_fmt);
	json_error_t jerr;
	json_t *d = json_vpack_ex(&jerr, 0, details_fmt, ap);
	va_end(ap);
	char *s = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
	if (s != NULL && strlen(s) < sizeof(ev->details))
		memcpy(ev->details, s, strlen(s) + 1);
	else
		pc_log("error", "audit", "an audit event's details could not be built or are too long: dropped");
	free(s);
	json_decref(d);
}

const char *pc_svc_right_name(enum pc_svc_right right)
{
	switch (right) {
	case PC_SVC_MANAGE_USERS:
		return "manage_users";
	case PC_SVC_MANAGE_API_KEYS:
		return "manage_api_keys";
	case PC_SVC_READ_AUDIT:
		return "read_audit";
	}
	return "unknown";
}

bool pc_svc_may(const struct pc_svc *ctx, const struct pc_principal *actor, enum pc_svc_right right)
{
	if (actor == NULL)
		return false;
	switch (actor->method) {
	case PC_AUTH_ANONYMOUS:
		return false;
	case PC_AUTH_SYSTEM:
		return true; /* the command line: whoever holds the database */
	case PC_AUTH_API_KEY:
		/* a key is a shared credential, not a person: it administers
		 * only where the operator said so */
		return ctx->cfg != NULL && ctx->cfg->api_keys_can_admin;
	case PC_AUTH_SESSION:
	case PC_AUTH_JWT:
		break;
	}
	switch (right) {
	case PC_SVC_MANAGE_API_KEYS:
		return actor->role == PC_ROLE_ADMIN || actor->role == PC_ROLE_MEMBER;
	case PC_SVC_MANAGE_USERS:
	case PC_SVC_READ_AUDIT:
		return actor->role == PC_ROLE_ADMIN;
	}
	return false;
}

enum pc_err pc_svc_check(struct pc_svc *ctx, const struct pc_principal *actor, enum pc_svc_right right,
                         const char *resource_type, const char *resource_id)
{
	if (pc_svc_may(ctx, actor, right))
		return PC_OK;
	if (actor == NULL)
		return PC_ERR_FORBIDDEN;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "authz.denied", resource_type, resource_id, "{s:s,s:s}", "right",
	             pc_svc_right_name(right), "role", pc_role_name(actor->role));
	/* throttled per user (per key, per address when neither) */
	struct pc_auth *a = &ctx->auth;
	char who[PC_CLIENT_ADDR_MAX + PC_ID_LEN + 8];
	snprintf(who, sizeof(who), "%s:%s", actor->user_id[0] ? "user" : "key",
	         actor->user_id[0] ? actor->user_id : actor->session_id[0] ? actor->session_id : actor->client_addr);
	struct pc_throttle_slot slot;
	int64_t retry = 0;
	pc_throttle_take(&a->throttle, &a->audit_noise, who, &slot, &retry);
	if (retry == 0)
		pc_log_if_failed(pc_store_audit_append(ctx->store, actor, &ev), "audit_append", ev.action);
	return PC_ERR_FORBIDDEN;
}

enum pc_err pc_svc_revoke(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_audit_event *ev,
                          const char *jti, int64_t jti_exp, const char *family, const char *session,
                          const char *user)
{
	struct pc_revoked *list = NULL;
	size_t n = 0;
	int64_t now = pc_svc_now(ctx);
	enum pc_err e = pc_store_tokens_revoke(ctx->store, actor, ev, jti, jti_exp, family, session, user, now,
	                                       &list, &n);
	pc_svc_revoked_add(ctx, list, n);
	return e;
}

/* Committed: the store has it, and every instance catches up from the
 * store before it trusts its list again, so a lost announcement delays it
 * on the others (at most PC_REVOCATION_POLL_S) but never loses it. */
void pc_svc_revoked_add(struct pc_svc *ctx, struct pc_revoked *list, size_t n)
{
	if (n > 0 && pc_revocation_add(&ctx->auth, list, n, pc_svc_now(ctx)) != PC_OK)
		pc_log("error", "revocation", "a revocation could not be applied here or announced to the other instances");
	free(list);
}

void pc_svc_session_new(struct pc_svc *ctx, struct pc_session *s, uint8_t secret[PC_SESSION_SECRET_BYTES],
                        const struct pc_principal *actor, const char *user_id)
{
	int64_t now = pc_svc_now(ctx);
	memset(s, 0, sizeof(*s));
	randombytes_buf(secret, PC_SESSION_SECRET_BYTES);
	pc_session_secret_hash(s->secret_hash, secret);
	pc_random_id(s->id);
	snprintf(s->user_id, sizeof(s->user_id), "%s", user_id);
	s->created_at = now;
	s->last_seen_at = now;
	s->expires_at = now + ctx->cfg->session_lifetime_s;
	snprintf(s->client_addr, sizeof(s->client_addr), "%s", actor->client_addr);
	snprintf(s->user_agent, sizeof(s->user_agent), "%s", actor->user_agent);
}

void pc_svc_session_principal(struct pc_principal *p, const struct pc_principal *actor,
                              const struct pc_user *user, const struct pc_session *s)
{
	memset(p, 0, sizeof(*p));
	p->method = PC_AUTH_SESSION;
	snprintf(p->user_id, sizeof(p->user_id), "%s", user->id);
	snprintf(p->email, sizeof(p->email), "%s", user->email);
	p->role = user->role;
	memcpy(p->groups, user->groups, sizeof(p->groups));
	memcpy(p->name, user->name, sizeof(p->name));
	snprintf(p->session_id, sizeof(p->session_id), "%s", s->id);
	p->authenticated_at = s->created_at;
	memcpy(p->client_addr, actor->client_addr, sizeof(p->client_addr));
	memcpy(p->user_agent, actor->user_agent, sizeof(p->user_agent));
}
