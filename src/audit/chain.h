/*
 * chain.h — the audit hash chain.
 *
 * hash(e) = BLAKE2b-256 keyed with the audit subkey over
 *   canonical(e) || prev_hash
 * where canonical(e) is every field of the event except the hashes, each as
 * a 4-byte big-endian length followed by its bytes, in a fixed order (seq,
 * id, time_ms, action, resource_type, resource_id, actor_user_id,
 * actor_email, actor_session_id, auth_method, client_addr, user_agent,
 * details); numbers as decimal text. Length-prefixing makes the encoding
 * injective: no two different events have the same bytes. The first event's
 * prev_hash is 32 zero bytes. Editing, deleting, inserting or reordering any
 * stored event breaks the chain at that event, and without the key nobody
 * can forge a replacement chain.
 *
 * Key rotation: each event also records key_id, a public fingerprint of the
 * audit subkey that made its hash (pc_audit_key_id). key_id is NOT part of
 * the hashed encoding (frozen); it only tells `audit verify` which key to
 * check an event with, so a chain that spans a rotation verifies under
 * PORTCULLIS_SECRET_KEY + _PREVIOUS, and an event written under a key that
 * was not given is reported as such rather than as an edit.
 */
#ifndef PC_AUDIT_CHAIN_H
#define PC_AUDIT_CHAIN_H

#include <stdint.h>

#include "audit/event.h"
#include "core/principal.h"

void pc_audit_chain_hash(uint8_t out[32], const struct pc_audit_event *ev,
                         const uint8_t prev_hash[32], const uint8_t key[32]);

/* The key id of an audit subkey: hex of 8 bytes of BLAKE2b keyed with it
 * over a fixed label. Public (it reveals nothing of the key) and stable. */
void pc_audit_key_id(char out[PC_AUDIT_KEY_ID_LEN + 1], const uint8_t key[32]);

/* Passes the event's free-text fields (resource id, actor email, user
 * agent, details) through the credential guard (core/redact.h, sink
 * "audit"), in place. The store calls it before it computes the hash: the
 * chain covers what is stored, a credential is never stored, and `audit
 * verify` recomputes the same hashes. */
void pc_audit_event_redact(struct pc_audit_event *ev);

/* Fills the actor fields of ev from the principal, id and time_ms. */
void pc_audit_event_init(struct pc_audit_event *ev, const struct pc_principal *actor,
                         const char *action, const char *resource_type,
                         const char *resource_id);

#endif
