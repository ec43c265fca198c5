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

/* Walks the chain: PC_OK when unbroken, PC_ERR_TAMPERED with v->bad_seq the
 * first event that does not verify (v->key_missing: written under a key the
 * store was not given, else edited), or a store error. Needs only the store
 * (given the previous key with pc_store_audit_add_previous_key). */
PC_MUST_USE enum pc_err pc_auditlog_verify(struct pc_store *store, struct pc_audit_verdict *v);

#endif
