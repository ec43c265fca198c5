/*
 * apikeys.h — API keys, shared resources: any principal with
 * PC_SVC_MANAGE_API_KEYS may list, create, rename and delete every key;
 * there is no owner filter, by design. The secret exists only in the
 * answer to create.
 */
#ifndef PC_SVC_APIKEYS_H
#define PC_SVC_APIKEYS_H

#include "auth/apikey.h"
#include "svc/svc.h"

PC_MUST_USE enum pc_err pc_apikeys_list(struct pc_svc *ctx, const struct pc_principal *actor,
                                        struct pc_api_key **out, size_t *n);
PC_MUST_USE enum pc_err pc_apikeys_get(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                                       struct pc_api_key *out);
/* Creates a key named name, expiring at expires_at (0: never): key is
 * filled (id, prefix, creator, times) and secret receives the key itself
 * (PC_APIKEY_LEN + 1 bytes; the caller shows it once and wipes it). Event
 * "api_key.create" {name, prefix}. */
PC_MUST_USE enum pc_err pc_apikeys_create(struct pc_svc *ctx, const struct pc_principal *actor, const char *name,
                                          int64_t expires_at, struct pc_api_key *key, char *secret);
/* Renames; *out: the key after. Event "api_key.update" {name}. */
PC_MUST_USE enum pc_err pc_apikeys_rename(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                                          const char *name, struct pc_api_key *out);
/* Deletes; its cached validity is dropped at once. Event "api_key.delete". */
PC_MUST_USE enum pc_err pc_apikeys_delete(struct pc_svc *ctx, const struct pc_principal *actor, const char *id);

#endif
