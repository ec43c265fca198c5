/*
 * tx_apikeys.c — API keys, shared resources with no owner filter (by
 * design), over driver.h for both dialects.
 *
 * The public prefix is UNIQUE: a second key with a taken prefix is
 * PC_ERR_CONFLICT and the caller draws another. apikey_get_by_prefix is the
 * hot path of every API-key request: one statement, no allocation. Touch
 * writes no event (the caller throttles it); every other change commits
 * with its audit event.
 */
#include "store/backend.h"
#include "store/driver.h"

enum pc_err pc_tx_apikey_create(struct pc_store *s, struct pc_audit_event *ev,
                                const struct pc_api_key *k)
{
	return pc_sql_change(s, PC_SQL_WRITE, ev, S_APIKEY_INSERT,
	                     ARGS(A_FIX(k->id), A_FIX(k->name), A_FIX(k->prefix),
	                          A_HASH(k->secret_hash), A_FIX(k->created_by), A_INT(k->created_at),
	                          A_INT(k->expires_at), A_INT(k->last_used_at)),
	                     false, NULL);
}

enum pc_err pc_tx_apikey_get(struct pc_store *s, const char *id, struct pc_api_key *out)
{
	return pc_sql_get_one(s, S_APIKEY_GET, ARGS(A_TXT(id)), pc_row_apikey, out, sizeof(*out),
	                      "api_keys");
}

enum pc_err pc_tx_apikey_get_by_prefix(struct pc_store *s, const char *prefix,
                                       struct pc_api_key *out)
{
	return pc_sql_get_one(s, S_APIKEY_GET_BY_PREFIX, ARGS(A_TXT(prefix)), pc_row_apikey, out,
	                      sizeof(*out), "api_keys");
}

enum pc_err pc_tx_apikey_list(struct pc_store *s, struct pc_api_key **out, size_t *n)
{
	void *arr = NULL;
	enum pc_err e = pc_sql_get_all(s, S_APIKEY_LIST, NOARGS, pc_row_apikey, sizeof(**out), 0,
	                               "api_keys", &arr, n);
	*out = arr;
	return e;
}

enum pc_err pc_tx_apikey_rename(struct pc_store *s, struct pc_audit_event *ev, const char *id,
                                const char *name)
{
	return pc_sql_change(s, PC_SQL_WRITE, ev, S_APIKEY_RENAME, ARGS(A_TXT(id), A_TXT(name)),
	                     true, NULL);
}

enum pc_err pc_tx_apikey_delete(struct pc_store *s, struct pc_audit_event *ev, const char *id)
{
	return pc_sql_change(s, PC_SQL_WRITE, ev, S_APIKEY_DELETE, ARGS(A_TXT(id)), true, NULL);
}

enum pc_err pc_tx_apikey_touch(struct pc_store *s, const char *id, int64_t last_used_at)
{
	return pc_sql_change(s, PC_SQL_UPDATE, NULL, S_APIKEY_TOUCH,
	                     ARGS(A_TXT(id), A_INT(last_used_at)), true, NULL);
}

enum pc_err pc_tx_apikey_rekey(struct pc_store *s, const char *id, const uint8_t old_hash[32],
                               const uint8_t new_hash[32])
{
	return pc_sql_change(s, PC_SQL_UPDATE, NULL, S_APIKEY_REKEY,
	                     ARGS(A_TXT(id), A_HASH(old_hash), A_HASH(new_hash)), false, NULL);
}
