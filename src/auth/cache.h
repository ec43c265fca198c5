/*
 * cache.h — a short-lived cache of checked credentials (forward auth's warm
 * path: no store round trip per request).
 *
 * Keyed by a 32-byte hash of the credential (the session secret's hash, the
 * API key's keyed hash), so the cache never holds a secret. An entry holds
 * the principal's identity fields, the credential's own expiry, and tags
 * (session or key id, user id) by which it is dropped AT ONCE when the
 * credential ends in this instance: logout, session deletion, user
 * deletion, password change, key deletion. Other instances learn it through
 * the kv's invalidation channel (many instances); while that channel is
 * unhealthy the cache is not trusted.
 *
 * Fixed size (PC_CACHE_SLOTS, direct-mapped by the key: an attacker cannot
 * grow it), one mutex; entries live at most the configured seconds.
 */
#ifndef PC_AUTH_CACHE_H
#define PC_AUTH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/principal.h"
#include "core/err.h"

#define PC_CACHE_SLOTS 8192

struct pc_cache_hit {
	enum pc_auth_method method;
	char user_id[PC_ID_LEN + 1];
	char email[PC_EMAIL_MAX + 1];
	char session_id[PC_ID_LEN + 1]; /* session id or key id */
	enum pc_role role;              /* the user's (sessions) */
	char groups[PC_USER_GROUPS_TEXT + 1]; /* the user's (sessions) */
	char name[PC_USER_NAME_MAX + 1];      /* the user's display name (sessions) */
	char key_name[PC_APIKEY_NAME_MAX + 1]; /* API keys */
	int64_t authenticated_at;
	int64_t expires_at;   /* the credential's own end (0: none) */
	int64_t last_seen_at; /* sessions: for the idle timeout */
	unsigned factors;     /* sessions: PC_FACTORS_* */
	uint8_t pending;      /* sessions: PC_PENDING_* (store.h) */
};

PC_MUST_USE int pc_cache_init(void);
void pc_cache_free(void);

/* Turns the cache on (ttl > 0) or off. */
void pc_cache_set_ttl(int64_t ttl_seconds);

/* Whether the cache may be used now (on, and the invalidation channel is
 * healthy — see pc_cache_set_trusted). */
bool pc_cache_enabled(void);
void pc_cache_set_trusted(bool trusted);
/* The invalidation channel's health, asked on every use (never blocks). */
void pc_cache_set_health(bool (*healthy)(void *ctx), void *ctx);

PC_MUST_USE bool pc_cache_get(const uint8_t key[32], int64_t now, struct pc_cache_hit *out);

/* Read the generation BEFORE asking the store; pc_cache_put refuses the
 * entry when a drop happened since (a lookup that raced a logout must not
 * re-insert the session it read just before it ended). */
uint64_t pc_cache_generation(void);
void pc_cache_put(const uint8_t key[32], int64_t now, const struct pc_cache_hit *v, uint64_t generation);

/* Drops every entry whose session/key id or user id equals tag. */
void pc_cache_drop(const char *tag);
void pc_cache_clear(void);

#endif
