/* test_store_conformance_passkeys.c — the store's migration 9, on SQLite
 * and on PostgreSQL (store_fx.h): passkeys (add, a credential id unique
 * across users, the per-user cap, list, lookup by credential id, the user
 * handle, rename and delete only by their owner, a use that moves the sign
 * count only from the value read) and WebAuthn challenges (consumed once:
 * wrong purpose, binding or expiry refused; the per-binding cap; 10
 * threads over two handles taking one challenge: exactly one wins), one
 * audit event per passkey change, and the chain intact after all of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/chain.h"
#include "store/backend.h"
#include "store/store.h"

static const int64_t NOW = 1800000000;

#include "store_fx.h"
#include "store_helpers.h"

static void mk_key(struct pc_passkey *k, const struct pc_user *u, const char *cred, const char *handle)
{
	memset(k, 0, sizeof(*k));
	pc_random_id(k->id);
	snprintf(k->user_id, sizeof(k->user_id), "%s", u->id);
	snprintf(k->credential_id, sizeof(k->credential_id), "%s", cred);
	memset(k->public_key, 'A', 86); /* 64 bytes of base64url */
	k->alg = -7;
	k->sign_count = 5;
	snprintf(k->name, sizeof(k->name), "Key %.40s", u->email);
	snprintf(k->user_handle, sizeof(k->user_handle), "%s", handle);
	strcpy(k->transports, "internal");
	k->flags = 0x45;
	k->created_at = NOW;
}

static enum pc_err add(struct fx *f, const struct pc_principal *p, const struct pc_passkey *k, int64_t max)
{
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, p, "passkey.register", "passkey", k->id);
	return pc_store_passkey_add(f->s, p, &ev, k, max);
}

static void test_passkeys(void **state)
{
	struct fx *f = *state;
	struct pc_user u, v;
	add_member(f, &u, "u@example.com");
	add_member(f, &v, "v@example.com");
	struct pc_principal p, q;
	as_user(&p, &u, NULL);
	as_user(&q, &v, NULL);
	char handle[PC_PASSKEY_HANDLE_TEXT + 1];
	assert_int_equal(pc_store_passkey_handle(f->s, u.id, handle), PC_ERR_NOT_FOUND);
	int64_t events = count(f, "audit_events");
	struct pc_passkey a, b, c, got;
	mk_key(&a, &u, "Y3JlZC1h", "aGFuZGxlLXU");
	mk_key(&b, &u, "Y3JlZC1i", "aGFuZGxlLXU");
	b.created_at = NOW + 1; /* listed after a */
	assert_int_equal(add(f, &p, &a, 2), PC_OK);
	assert_int_equal(add(f, &p, &b, 2), PC_OK);
	/* the cap, and a credential id taken (by anyone) */
	mk_key(&c, &u, "Y3JlZC1j", "aGFuZGxlLXU");
	assert_int_equal(add(f, &p, &c, 2), PC_ERR_CONFLICT);
	mk_key(&c, &v, "Y3JlZC1h", "aGFuZGxlLXY");
	assert_int_equal(add(f, &q, &c, 16), PC_ERR_CONFLICT);
	assert_int_equal(count(f, "audit_events"), events + 2);

	struct pc_passkey *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_store_passkey_list(f->s, u.id, &list, &n), PC_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].credential_id, a.credential_id);
	assert_int_equal(list[0].alg, -7);
	assert_int_equal(list[0].sign_count, 5);
	assert_int_equal(list[0].flags, 0x45);
	assert_string_equal(list[0].transports, "internal");
	free(list);
	assert_int_equal(pc_store_passkey_list(f->s, v.id, &list, &n), PC_OK);
	assert_int_equal(n, 0);
	free(list);
	assert_int_equal(pc_store_passkey_by_credential(f->s, "Y3JlZC1i", &got), PC_OK);
	assert_string_equal(got.id, b.id);
	assert_string_equal(got.user_id, u.id);
	assert_int_equal(pc_store_passkey_by_credential(f->s, "bm9uZQ", &got), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_passkey_handle(f->s, u.id, handle), PC_OK);
	assert_string_equal(handle, "aGFuZGxlLXU");

	/* the sign count moves only from the value read */
	struct pc_audit_event ev;
	pc_audit_event_init(&ev, &p, "passkey.use", "passkey", a.id);
	assert_int_equal(pc_store_passkey_use(f->s, &p, &ev, a.id, 4, 9, NOW + 1), PC_ERR_REUSED);
	pc_audit_event_init(&ev, &p, "passkey.use", "passkey", a.id);
	assert_int_equal(pc_store_passkey_use(f->s, &p, &ev, a.id, 5, 9, NOW + 1), PC_OK);
	pc_audit_event_init(&ev, &p, "passkey.use", "passkey", a.id);
	assert_int_equal(pc_store_passkey_use(f->s, &p, &ev, a.id, 5, 10, NOW + 2), PC_ERR_REUSED);
	assert_int_equal(pc_store_passkey_by_credential(f->s, a.credential_id, &got), PC_OK);
	assert_int_equal(got.sign_count, 9);
	assert_int_equal(got.last_used_at, NOW + 1);

	/* only the owner renames or deletes */
	pc_audit_event_init(&ev, &q, "passkey.rename", "passkey", a.id);
	assert_int_equal(pc_store_passkey_rename(f->s, &q, &ev, v.id, a.id, "mine"), PC_ERR_NOT_FOUND);
	pc_audit_event_init(&ev, &p, "passkey.rename", "passkey", a.id);
	assert_int_equal(pc_store_passkey_rename(f->s, &p, &ev, u.id, a.id, "Laptop"), PC_OK);
	assert_int_equal(pc_store_passkey_by_credential(f->s, a.credential_id, &got), PC_OK);
	assert_string_equal(got.name, "Laptop");
	pc_audit_event_init(&ev, &q, "passkey.delete", "passkey", a.id);
	assert_int_equal(pc_store_passkey_delete(f->s, &q, &ev, v.id, a.id), PC_ERR_NOT_FOUND);
	pc_audit_event_init(&ev, &p, "passkey.delete", "passkey", a.id);
	assert_int_equal(pc_store_passkey_delete(f->s, &p, &ev, u.id, a.id), PC_OK);
	pc_audit_event_init(&ev, &p, "passkey.delete", "passkey", a.id);
	assert_int_equal(pc_store_passkey_delete(f->s, &p, &ev, u.id, a.id), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_passkey_by_credential(f->s, a.credential_id, &got), PC_ERR_NOT_FOUND);
	assert_int_equal(count(f, "audit_events"), events + 5);
	assert_chain_ok(f);
}

static void test_challenges(void **state)
{
	struct fx *f = *state;
	uint8_t h[32], h2[32];
	char handle[PC_PASSKEY_HANDLE_TEXT + 1];
	randombytes_buf(h, sizeof(h));
	randombytes_buf(h2, sizeof(h2));
	assert_int_equal(pc_store_wa_challenge_put(f->s, h, "register", "s:one", "aGFuZGxl", NOW + 300, NOW, 8), PC_OK);
	assert_int_equal(pc_store_wa_challenge_take(f->s, h, "signin", "s:one", NOW, handle), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_wa_challenge_take(f->s, h, "register", "s:two", NOW, handle), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_wa_challenge_take(f->s, h2, "register", "s:one", NOW, handle), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_wa_challenge_take(f->s, h, "register", "s:one", NOW + 300, handle), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_wa_challenge_take(f->s, h, "register", "s:one", NOW + 10, handle), PC_OK);
	assert_string_equal(handle, "aGFuZGxl");
	assert_int_equal(pc_store_wa_challenge_take(f->s, h, "register", "s:one", NOW + 10, handle), PC_ERR_NOT_FOUND);
	assert_string_equal(handle, "");
	/* the cap per binding; expired ones are purged and do not count */
	for (int i = 0; i < 3; i++) {
		randombytes_buf(h, sizeof(h));
		assert_int_equal(pc_store_wa_challenge_put(f->s, h, "signin", "p:x", "", NOW + 300, NOW, 3), PC_OK);
	}
	randombytes_buf(h, sizeof(h));
	assert_int_equal(pc_store_wa_challenge_put(f->s, h, "signin", "p:x", "", NOW + 300, NOW, 3), PC_ERR_THROTTLED);
	assert_int_equal(pc_store_wa_challenge_put(f->s, h, "signin", "p:x", "", NOW + 700, NOW + 400, 3), PC_OK);
	assert_int_equal(count(f, "webauthn_challenges"), 1);
}

#define RACE_THREADS 10 /* each thread opens its own connection: kept low for a loaded machine */

struct race {
	struct pc_store *stores[2];
	const uint8_t *hash;
	atomic_int ok, refused, other;
};

static void take_thread(void *arg, int idx)
{
	struct race *r = arg;
	char handle[PC_PASSKEY_HANDLE_TEXT + 1];
	enum pc_err e = pc_store_wa_challenge_take(r->stores[idx % 2], r->hash, "second", "s:race", NOW, handle);
	if (e == PC_OK)
		atomic_fetch_add(&r->ok, 1);
	else if (e == PC_ERR_NOT_FOUND)
		atomic_fetch_add(&r->refused, 1);
	else
		atomic_fetch_add(&r->other, 1);
}

static void test_challenge_race(void **state)
{
	struct fx *f = *state;
	struct pc_store *s2 = open_second(f);
	uint8_t h[32];
	randombytes_buf(h, sizeof(h));
	assert_int_equal(pc_store_wa_challenge_put(f->s, h, "second", "s:race", "", NOW + 300, NOW, 8), PC_OK);
	struct race r = {.stores = {f->s, s2}, .hash = h};
	fx_race(RACE_THREADS, take_thread, &r);
	assert_int_equal(atomic_load(&r.ok), 1);
	assert_int_equal(atomic_load(&r.refused), RACE_THREADS - 1);
	assert_int_equal(atomic_load(&r.other), 0);
	pc_store_close(s2);
}

int main(void)
{
	if (fx_init() != 0)
		return 1;
	const struct CMUnitTest both[] = {
		FX_T(test_passkeys),
		FX_T(test_challenges),
		FX_T(test_challenge_race),
	};
	const struct CMUnitTest none[] = {FX_NONE};
	return FX_RUN(both, none, none);
}
