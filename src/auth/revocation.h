/*
 * revocation.h — the list of revoked access tokens.
 *
 * jti -> "revoked" in the kv under "jti:<jti>" with TTL = exp - now (never
 * longer: an entry outliving its token would only cost memory). Every
 * bearer authentication checks it. With the embedded kv the list is also
 * persisted in the store (the store's revoke functions write it in the same
 * transaction as the change that revokes) and loaded at start, so it
 * survives restarts; with Redis the kv is the list itself.
 */
#ifndef PC_AUTH_REVOCATION_H
#define PC_AUTH_REVOCATION_H

#include <stdbool.h>

#include "auth/auth.h"
#include "core/err.h"

/* Adds the entries to the kv (the store already has them). Counts
 * security_tokens_blacklisted_total. */
PC_MUST_USE enum pc_err pc_revocation_add(struct pc_auth *a, const struct pc_revoked *list, size_t n, int64_t now);

/* Whether jti is revoked; PC_ERR_UNAVAILABLE when the kv cannot say (the
 * caller fails closed). *revoked is true on every error too.
 * WARNING: the verdict is the out-parameter: a caller must check the
 * returned error before it believes *revoked == false. Timed in security_revocation_check_duration_seconds. */
PC_MUST_USE enum pc_err pc_revocation_check(struct pc_auth *a, const char *jti, bool *revoked);

/* Loads the store's unexpired revocations into the kv (start-up). */
PC_MUST_USE enum pc_err pc_revocation_load(struct pc_auth *a, int64_t now, size_t *loaded);

#endif
