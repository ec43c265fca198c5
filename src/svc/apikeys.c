/*
 * apikeys.c — see apikeys.h.
 */
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "svc/apikeys.h"

enum pc_err pc_apikeys_list(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_api_key **out,
                            size_t *n)
{
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_API_KEYS, "api_key", "");
	if (e != PC_OK)
		return e;
	return pc_store_apikey_list(ctx->store, out, n);
}

enum pc_err pc_apikeys_get(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                           struct pc_api_key *out)
{
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_API_KEYS, "api_key", "");
	if (e != PC_OK)
		return e;
	return pc_store_apikey_get(ctx->store, id, out);
}

enum pc_err pc_apikeys_create(struct pc_svc *ctx, const struct pc_principal *actor, const char *name,
                              int64_t expires_at, struct pc_api_key *key, char *secret)
{
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_API_KEYS, "api_key", "");
	if (e != PC_OK)
		return e;
	memset(key, 0, sizeof(*key));
	snprintf(key->name, sizeof(key->name), "%s", name);
	memcpy(key->created_by, actor->user_id, sizeof(key->created_by));
	key->created_at = pc_svc_now(ctx);
	key->expires_at = expires_at;
	e = PC_ERR_CONFLICT;
	/* a prefix collision (62 bits) is astronomically rare; retry anyway */
	for (int tries = 0; tries < 3 && e == PC_ERR_CONFLICT; tries++) {
		pc_random_id(key->id);
		pc_apikey_generate(secret, key->prefix, key->secret_hash, ctx->cfg->keys->current.sub[PC_SUBKEY_APIKEY]);
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "api_key.create", "api_key", key->id, "{s:s,s:s}", "name", key->name, "prefix",
		             key->prefix);
		e = pc_store_apikey_create(ctx->store, actor, &ev, key);
	}
	if (e != PC_OK)
		sodium_memzero(secret, PC_APIKEY_LEN + 1);
	return e;
}

enum pc_err pc_apikeys_rename(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                              const char *name, struct pc_api_key *out)
{
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_API_KEYS, "api_key", "");
	if (e != PC_OK)
		return e;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "api_key.update", "api_key", id, "{s:s}", "name", name);
	e = pc_store_apikey_rename(ctx->store, actor, &ev, id, name);
	if (e == PC_OK)
		e = pc_store_apikey_get(ctx->store, id, out);
	return e;
}

enum pc_err pc_apikeys_delete(struct pc_svc *ctx, const struct pc_principal *actor, const char *id)
{
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_API_KEYS, "api_key", "");
	if (e != PC_OK)
		return e;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "api_key.delete", "api_key", id, NULL);
	e = pc_store_apikey_delete(ctx->store, actor, &ev, id);
	if (e == PC_OK)
		pc_auth_invalidate(&ctx->auth, id);
	return e;
}
