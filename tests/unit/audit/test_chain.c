/* test_chain.c — the audit hash chain: a known-answer vector computed
 * independently (Python hashlib.blake2b(key=..., digest_size=32) over the
 * length-prefixed encoding of chain.h), stability, sensitivity to every
 * field, to the key and to the predecessor, injectivity of the encoding,
 * and pc_audit_event_init. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit/chain.h"

static uint8_t KEY[32], PREV[32];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	for (int i = 0; i < 32; i++) {
		KEY[i] = (uint8_t)(0x80 + i);
		PREV[i] = (uint8_t)i;
	}
	return 0;
}

static void hex32(char out[65], const uint8_t h[32])
{
	sodium_bin2hex(out, 65, h, 32);
}

static void vector_event(struct pc_audit_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->seq = 1;
	strcpy(ev->id, "00112233445566778899aabbccddeeff");
	ev->time_ms = 1800000000123;
	strcpy(ev->action, "user.create");
	strcpy(ev->resource_type, "user");
	strcpy(ev->resource_id, "ffeeddccbbaa99887766554433221100");
	strcpy(ev->actor_user_id, "0123456789abcdef0123456789abcdef");
	strcpy(ev->actor_email, "admin@example.com");
	strcpy(ev->actor_session_id, "fedcba9876543210fedcba9876543210");
	strcpy(ev->auth_method, "session");
	strcpy(ev->client_addr, "192.0.2.1");
	strcpy(ev->user_agent, "curl/8.0");
	strcpy(ev->details, "{\"k\":\"v\"}");
}

static void test_known_answer(void **state)
{
	(void)state;
	struct pc_audit_event ev;
	uint8_t h1[32], h2[32];
	char hex[65];
	vector_event(&ev);
	/* the store-filled hash fields are not part of the encoding */
	memset(ev.prev_hash, 0xAA, sizeof(ev.prev_hash));
	memset(ev.hash, 0xBB, sizeof(ev.hash));
	pc_audit_chain_hash(h1, &ev, PREV, KEY);
	hex32(hex, h1);
	assert_string_equal(hex, "a2bf706b4d229d3e763d7a7e2f50609ce4c6507cde8b87f10e78cd39ae42b79f");

	/* the second link: empty fields, a negative number, an IPv6 address */
	memset(&ev, 0, sizeof(ev));
	ev.seq = 2;
	memset(ev.id, '0', PC_ID_LEN);
	ev.time_ms = -5;
	strcpy(ev.action, "auth.login_failed");
	strcpy(ev.resource_type, "user");
	strcpy(ev.auth_method, "anonymous");
	strcpy(ev.client_addr, "2001:db8::1");
	strcpy(ev.details, "{}");
	pc_audit_chain_hash(h2, &ev, h1, KEY);
	hex32(hex, h2);
	assert_string_equal(hex, "efdae36f03a86f2048b6a54588670f3b112c4cc354682fb8c92f1e4132566aae");
}

static void test_stable(void **state)
{
	(void)state;
	struct pc_audit_event a, b;
	uint8_t h1[32], h2[32];
	vector_event(&a);
	vector_event(&b);
	/* bytes after the terminator do not count */
	memset(b.details + strlen(b.details) + 1, 'x', 10);
	pc_audit_chain_hash(h1, &a, PREV, KEY);
	pc_audit_chain_hash(h2, &b, PREV, KEY);
	assert_memory_equal(h1, h2, 32);
}

typedef void (*mutate_fn)(struct pc_audit_event *ev);
static void m_seq(struct pc_audit_event *ev) { ev->seq++; }
static void m_id(struct pc_audit_event *ev) { ev->id[0] = '1'; }
static void m_time(struct pc_audit_event *ev) { ev->time_ms++; }
static void m_action(struct pc_audit_event *ev) { strcpy(ev->action, "user.delete"); }
static void m_rtype(struct pc_audit_event *ev) { strcpy(ev->resource_type, "session"); }
static void m_rid(struct pc_audit_event *ev) { ev->resource_id[31] = '1'; }
static void m_uid(struct pc_audit_event *ev) { ev->actor_user_id[0] = 'f'; }
static void m_email(struct pc_audit_event *ev) { strcpy(ev->actor_email, "Admin@example.com"); }
static void m_sid(struct pc_audit_event *ev) { ev->actor_session_id[0] = '0'; }
static void m_method(struct pc_audit_event *ev) { strcpy(ev->auth_method, "jwt"); }
static void m_addr(struct pc_audit_event *ev) { strcpy(ev->client_addr, "192.0.2.2"); }
static void m_ua(struct pc_audit_event *ev) { strcpy(ev->user_agent, ""); }
static void m_details(struct pc_audit_event *ev) { strcpy(ev->details, "{\"k\":\"w\"}"); }

static void test_every_field_counts(void **state)
{
	(void)state;
	static const mutate_fn m[] = {m_seq,  m_id,    m_time, m_action, m_rtype, m_rid,    m_uid,
	                              m_email, m_sid, m_method, m_addr,  m_ua,    m_details};
	struct pc_audit_event base, ev;
	uint8_t h0[32], h[32];
	vector_event(&base);
	pc_audit_chain_hash(h0, &base, PREV, KEY);
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		ev = base;
		m[i](&ev);
		pc_audit_chain_hash(h, &ev, PREV, KEY);
		if (memcmp(h, h0, 32) == 0)
			fail_msg("mutation %zu did not change the hash", i);
	}
}

static void test_key_and_prev_count(void **state)
{
	(void)state;
	struct pc_audit_event ev;
	uint8_t h0[32], h[32], k2[32], p2[32];
	vector_event(&ev);
	pc_audit_chain_hash(h0, &ev, PREV, KEY);
	memcpy(k2, KEY, 32);
	k2[31] ^= 1;
	pc_audit_chain_hash(h, &ev, PREV, k2);
	assert_memory_not_equal(h, h0, 32);
	memcpy(p2, PREV, 32);
	p2[0] ^= 0x80;
	pc_audit_chain_hash(h, &ev, p2, KEY);
	assert_memory_not_equal(h, h0, 32);
}

static void test_length_prefix_injective(void **state)
{
	(void)state;
	struct pc_audit_event a, b;
	uint8_t ha[32], hb[32];
	vector_event(&a);
	vector_event(&b);
	strcpy(a.action, "ab");
	strcpy(a.resource_type, "c");
	strcpy(b.action, "a");
	strcpy(b.resource_type, "bc");
	pc_audit_chain_hash(ha, &a, PREV, KEY);
	pc_audit_chain_hash(hb, &b, PREV, KEY);
	assert_memory_not_equal(ha, hb, 32);

	/* numbers too: seq 1 + time 23 is not seq 12 + time 3 */
	vector_event(&a);
	vector_event(&b);
	a.seq = 1;
	strcpy(a.id, "");
	a.time_ms = 23;
	b.seq = 12;
	strcpy(b.id, "");
	b.time_ms = 3;
	pc_audit_chain_hash(ha, &a, PREV, KEY);
	pc_audit_chain_hash(hb, &b, PREV, KEY);
	assert_memory_not_equal(ha, hb, 32);

	/* a field's bytes moved into its neighbour */
	vector_event(&a);
	vector_event(&b);
	strcpy(a.user_agent, "x{}");
	strcpy(a.details, "");
	strcpy(b.user_agent, "x");
	strcpy(b.details, "{}");
	pc_audit_chain_hash(ha, &a, PREV, KEY);
	pc_audit_chain_hash(hb, &b, PREV, KEY);
	assert_memory_not_equal(ha, hb, 32);
}

static bool is_hex_id(const char *s)
{
	if (strlen(s) != PC_ID_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static void test_event_init(void **state)
{
	(void)state;
	struct pc_principal p;
	memset(&p, 0, sizeof(p));
	p.method = PC_AUTH_SESSION;
	strcpy(p.user_id, "0123456789abcdef0123456789abcdef");
	strcpy(p.email, "a@example.com");
	strcpy(p.session_id, "fedcba9876543210fedcba9876543210");
	strcpy(p.client_addr, "198.51.100.7");
	strcpy(p.user_agent, "Mozilla/5.0");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;

	struct pc_audit_event ev;
	memset(&ev, 0x5A, sizeof(ev));
	pc_audit_event_init(&ev, &p, "session.delete", "session", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t after = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	assert_true(is_hex_id(ev.id));
	assert_true(ev.time_ms >= before && ev.time_ms <= after);
	assert_int_equal(ev.seq, 0);
	assert_string_equal(ev.action, "session.delete");
	assert_string_equal(ev.resource_type, "session");
	assert_string_equal(ev.resource_id, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_string_equal(ev.actor_user_id, p.user_id);
	assert_string_equal(ev.actor_email, p.email);
	assert_string_equal(ev.actor_session_id, p.session_id);
	assert_string_equal(ev.auth_method, "session");
	assert_string_equal(ev.client_addr, "198.51.100.7");
	assert_string_equal(ev.user_agent, "Mozilla/5.0");
	assert_string_equal(ev.details, "{}");
	static const uint8_t zero[32];
	assert_memory_equal(ev.prev_hash, zero, 32);
	assert_memory_equal(ev.hash, zero, 32);

	struct pc_audit_event ev2;
	pc_audit_event_init(&ev2, &p, "session.delete", "session", NULL);
	assert_string_equal(ev2.resource_id, "");
	assert_string_not_equal(ev2.id, ev.id);

	/* a NULL actor is recorded as anonymous with nothing else */
	pc_audit_event_init(&ev2, NULL, "auth.csrf_failed", "request", "");
	assert_string_equal(ev2.auth_method, "anonymous");
	assert_string_equal(ev2.actor_user_id, "");
	assert_string_equal(ev2.client_addr, "");
}

static void test_method_names(void **state)
{
	(void)state;
	assert_string_equal(pc_auth_method_name(PC_AUTH_ANONYMOUS), "anonymous");
	assert_string_equal(pc_auth_method_name(PC_AUTH_SESSION), "session");
	assert_string_equal(pc_auth_method_name(PC_AUTH_JWT), "jwt");
	assert_string_equal(pc_auth_method_name(PC_AUTH_API_KEY), "api_key");
	assert_string_equal(pc_auth_method_name(PC_AUTH_SYSTEM), "system");
	/* every name fits the event's field */
	for (int m = PC_AUTH_ANONYMOUS; m <= PC_AUTH_SYSTEM; m++)
		assert_true(strlen(pc_auth_method_name((enum pc_auth_method)m)) <
		            sizeof(((struct pc_audit_event *)0)->auth_method));
}

static void test_random_id(void **state)
{
	(void)state;
	char a[PC_ID_LEN + 1], b[PC_ID_LEN + 1];
	pc_random_id(a);
	pc_random_id(b);
	assert_true(is_hex_id(a));
	assert_true(is_hex_id(b));
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_every_field_counts),
		cmocka_unit_test(test_key_and_prev_count),
		cmocka_unit_test(test_length_prefix_injective),
		cmocka_unit_test(test_event_init),
		cmocka_unit_test(test_method_names),
		cmocka_unit_test(test_random_id),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
