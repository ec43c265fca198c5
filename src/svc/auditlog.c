/*
 * auditlog.c — see auditlog.h.
 */

#include "svc/auditlog.h"

enum pc_err pc_auditlog_list(struct pc_svc *ctx, const struct pc_principal *actor, const struct pc_audit_filter *f,
                             struct pc_audit_event **out, size_t *n)
{
	enum pc_err e = pc_svc_check(actor, PC_SVC_READ_AUDIT);
	if (e != PC_OK)
		return e;
	return pc_store_audit_list(ctx->store, f, out, n);
}

enum pc_err pc_auditlog_verify(struct pc_store *store, struct pc_audit_verdict *v)
{
	return pc_store_audit_check(store, v);
}
