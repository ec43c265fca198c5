/*
 * tx_oidc.c — the OpenID Connect provider's records (store.h "OpenID
 * Connect records"), over driver.h for both dialects. Each change is one
 * statement, committed with its audit event when it has one; the claim is
 * the conditional UPDATE that makes an authorization code single use.
 */
#include "store/backend.h"
#include "store/driver.h"

int pc_row_oidc(struct pc_sql *c, void *out)
{
	struct pc_oidc_obj *o = out;
	memset(o, 0, sizeof(*o));
	if (COL_TEXT(c, 0, o->kind) != 0 || COL_TEXT(c, 1, o->id) != 0 || COL_TEXT(c, 2, o->owner) != 0 ||
	    COL_TEXT(c, 3, o->body) != 0 || COL_INT(c, 4, &o->state) != 0 || COL_INT(c, 5, &o->expires_at) != 0) {
		memset(o, 0, sizeof(*o));
		return -1;
	}
	return 0;
}

enum pc_err pc_tx_oidc_put(struct pc_store *s, struct pc_audit_event *ev, const struct pc_oidc_obj *o)
{
	return pc_sql_change(s, ev != NULL ? PC_SQL_WRITE : PC_SQL_UPDATE, ev, S_OIDC_INSERT,
	                     ARGS(A_FIX(o->kind), A_FIX(o->id), A_FIX(o->owner), A_FIX(o->body), A_INT(o->state),
	                          A_INT(o->expires_at)),
	                     false, NULL);
}

enum pc_err pc_tx_oidc_get(struct pc_store *s, const char *kind, const char *id, struct pc_oidc_obj *out)
{
	return pc_sql_get_one(s, S_OIDC_GET, ARGS(A_TXT(kind), A_TXT(id)), pc_row_oidc, out, sizeof(*out),
	                      "oidc_objects");
}

enum pc_err pc_tx_oidc_list(struct pc_store *s, const char *kind, const char *owner, struct pc_oidc_obj **out,
                            size_t *n)
{
	void *arr = NULL;
	enum pc_err e =
		owner == NULL
			? pc_sql_get_all(s, S_OIDC_LIST, ARGS(A_TXT(kind)), pc_row_oidc, sizeof(**out), PC_OIDC_CLIENTS_MAX,
			                 "oidc_objects", &arr, n)
			: pc_sql_get_all(s, S_OIDC_LIST_OWNER, ARGS(A_TXT(kind), A_TXT(owner)), pc_row_oidc, sizeof(**out),
			                 PC_OIDC_CLIENTS_MAX, "oidc_objects", &arr, n);
	*out = arr;
	return e;
}

enum pc_err pc_tx_oidc_replace(struct pc_store *s, struct pc_audit_event *ev, const struct pc_oidc_obj *o)
{
	return pc_sql_change(s, ev != NULL ? PC_SQL_WRITE : PC_SQL_UPDATE, ev, S_OIDC_REPLACE,
	                     ARGS(A_FIX(o->kind), A_FIX(o->id), A_FIX(o->owner), A_FIX(o->body), A_INT(o->state),
	                          A_INT(o->expires_at)),
	                     true, NULL);
}

enum pc_err pc_tx_oidc_delete(struct pc_store *s, struct pc_audit_event *ev, const char *kind, const char *id)
{
	return pc_sql_change(s, ev != NULL ? PC_SQL_WRITE : PC_SQL_UPDATE, ev, S_OIDC_DELETE,
	                     ARGS(A_TXT(kind), A_TXT(id)), true, NULL);
}

enum pc_err pc_tx_oidc_delete_owner(struct pc_store *s, const char *kind, const char *owner)
{
	return pc_sql_change(s, PC_SQL_UPDATE, NULL, S_OIDC_DELETE_OWNER, ARGS(A_TXT(kind), A_TXT(owner)), false,
	                     NULL);
}

enum pc_err pc_tx_oidc_claim(struct pc_store *s, const char *kind, const char *id, int64_t from, int64_t to,
                             int64_t now)
{
	return pc_sql_change(s, PC_SQL_UPDATE, NULL, S_OIDC_CLAIM,
	                     ARGS(A_TXT(kind), A_TXT(id), A_INT(from), A_INT(to), A_INT(now)), true, NULL);
}
