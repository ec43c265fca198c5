/*
 * auditlog.c — see auditlog.h.
 */

#include "svc/auditlog.h"

enum pc_err pc_auditlog_list(struct pc_svc *ctx, const struct pc_principal *actor, const struct pc_audit_filter *f,
                             struct pc_audit_event **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (pc_svc_may(ctx, actor, PC_SVC_READ_AUDIT))
		return pc_store_audit_list(ctx->store, f, out, n);
	/* a user who may not read the whole trail reads what concerns them:
	 * the filter is the store's, so no page can hold anyone else's */
	if (actor != NULL && actor->user_id[0] != '\0' &&
	    (actor->method == PC_AUTH_SESSION || actor->method == PC_AUTH_JWT)) {
		struct pc_audit_filter own = *f;
		own.involving = actor->user_id;
		return pc_store_audit_list(ctx->store, &own, out, n);
	}
	return pc_svc_check(ctx, actor, PC_SVC_READ_AUDIT, "audit", "");
}

enum pc_err pc_auditlog_verify(struct pc_store *store, struct pc_audit_verdict *v)
{
	return pc_store_audit_check(store, v);
}
