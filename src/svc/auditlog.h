/*
 * auditlog.h — reading the audit trail: who may see which events, and the
 * proof that the stored chain is unbroken.
 */
#ifndef PC_SVC_AUDITLOG_H
#define PC_SVC_AUDITLOG_H

#include "svc/svc.h"

/* Events matching f, newest first, that actor may see: every event with
 * PC_SVC_READ_AUDIT; for another user (a member) only the events whose
 * actor or subject (resource "user" with their id) they are; an API key
 * without PORTCULLIS_API_KEYS_CAN_ADMIN: PC_ERR_FORBIDDEN (audited).
 * *out malloc'd. */
PC_MUST_USE enum pc_err pc_auditlog_list(struct pc_svc *ctx, const struct pc_principal *actor,
                                         const struct pc_audit_filter *f, struct pc_audit_event **out, size_t *n);

/* Walks the chain: PC_OK when unbroken, PC_ERR_TAMPERED with *bad_seq the
 * first bad event, or a store error. Needs only the store. */
PC_MUST_USE enum pc_err pc_auditlog_verify(struct pc_store *store, int64_t *checked, int64_t *bad_seq);

#endif
