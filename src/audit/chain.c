/*
 * chain.c — the audit hash chain and the filling of an event's actor.
 *
 * Pure functions: no I/O, no allocation. The encoding is the one chain.h
 * specifies; it is frozen, because every stored chain depends on it (a
 * known-answer vector in tests/unit/audit/test_chain.c pins it). Each
 * string field is read only up to its array's size, so an unterminated
 * array is hashed as far as it goes and never read past.
 */
#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit/chain.h"
#include "core/redact.h"

static void put(crypto_generichash_state *st, const void *p, size_t n)
{
	/* every field is far below 4 GiB: its array bounds it */
	uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	crypto_generichash_update(st, len, sizeof(len));
	crypto_generichash_update(st, p, n);
}

static void put_int(crypto_generichash_state *st, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
	put(st, buf, (size_t)n);
}

#define PUT_STR(st, arr) put((st), (arr), strnlen((arr), sizeof(arr)))

void pc_audit_chain_hash(uint8_t out[32], const struct pc_audit_event *ev,
                         const uint8_t prev_hash[32], const uint8_t key[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, 32, 32);
	put_int(&st, ev->seq);
	PUT_STR(&st, ev->id);
	put_int(&st, ev->time_ms);
	PUT_STR(&st, ev->action);
	PUT_STR(&st, ev->resource_type);
	PUT_STR(&st, ev->resource_id);
	PUT_STR(&st, ev->actor_user_id);
	PUT_STR(&st, ev->actor_email);
	PUT_STR(&st, ev->actor_session_id);
	PUT_STR(&st, ev->auth_method);
	PUT_STR(&st, ev->client_addr);
	PUT_STR(&st, ev->user_agent);
	PUT_STR(&st, ev->details);
	crypto_generichash_update(&st, prev_hash, 32);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st)); /* it holds the keyed state */
}

void pc_audit_key_id(char out[PC_AUDIT_KEY_ID_LEN + 1], const uint8_t key[32])
{
	static const char label[] = "portcullis audit key id v1";
	uint8_t h[PC_AUDIT_KEY_ID_LEN / 2];
	crypto_generichash(h, sizeof(h), (const uint8_t *)label, sizeof(label) - 1, key, 32);
	sodium_bin2hex(out, PC_AUDIT_KEY_ID_LEN + 1, h, sizeof(h));
}

/* Bounded copy; src NULL is "". */
static void copy(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strnlen(src, cap - 1) : 0;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void pc_audit_event_init(struct pc_audit_event *ev, const struct pc_principal *actor,
                         const char *action, const char *resource_type,
                         const char *resource_id)
{
	assert(ev != NULL && action != NULL && resource_type != NULL);
	/* a truncated action or resource type would be a different one */
	assert(strlen(action) < sizeof(ev->action));
	assert(strlen(resource_type) < sizeof(ev->resource_type));
	memset(ev, 0, sizeof(*ev));
	pc_random_id(ev->id);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ev->time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	copy(ev->action, sizeof(ev->action), action);
	copy(ev->resource_type, sizeof(ev->resource_type), resource_type);
	copy(ev->resource_id, sizeof(ev->resource_id), resource_id);
	enum pc_auth_method m = PC_AUTH_ANONYMOUS;
	if (actor != NULL) {
		m = actor->method;
		copy(ev->actor_user_id, sizeof(ev->actor_user_id), actor->user_id);
		copy(ev->actor_email, sizeof(ev->actor_email), actor->email);
		copy(ev->actor_session_id, sizeof(ev->actor_session_id), actor->session_id);
		copy(ev->client_addr, sizeof(ev->client_addr), actor->client_addr);
		copy(ev->user_agent, sizeof(ev->user_agent), actor->user_agent);
		copy(ev->request_id, sizeof(ev->request_id), actor->request_id);
	}
	copy(ev->auth_method, sizeof(ev->auth_method), pc_auth_method_name(m));
	copy(ev->details, sizeof(ev->details), "{}");
}

void pc_audit_event_redact(struct pc_audit_event *ev)
{
	pc_redact_inplace(ev->resource_id, sizeof(ev->resource_id), 0, PC_REDACT_SINK_AUDIT);
	pc_redact_inplace(ev->actor_email, sizeof(ev->actor_email), 0, PC_REDACT_SINK_AUDIT);
	pc_redact_inplace(ev->user_agent, sizeof(ev->user_agent), 0, PC_REDACT_SINK_AUDIT);
	if (pc_redact_inplace(ev->details, sizeof(ev->details), PC_REDACT_JSON, PC_REDACT_SINK_AUDIT) != 0 &&
	    ev->details[0] != '{') {
		/* did not fit: the marker alone, kept a JSON object */
		char m[PC_REDACT_MARKER_MAX + 1];
		memcpy(m, ev->details, sizeof(m) - 1);
		m[sizeof(m) - 1] = '\0';
		snprintf(ev->details, sizeof(ev->details), "{\"redacted\":\"%s\"}", m);
	}
}
