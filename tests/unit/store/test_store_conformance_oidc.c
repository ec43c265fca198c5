/* test_store_conformance_oidc.c — the store's migration 11, on SQLite and
 * on PostgreSQL (store_fx.h): OpenID Connect records put (a taken kind+id
 * is a conflict), got, listed by kind and by owner, replaced, deleted (with
 * their audit event in the same transaction), deleted by owner; the claim
 * that makes a code single use (once; not after expiry; a 16-thread race
 * over two handles with exactly one winner); the purge of expired records;
 * and the audit chain intact after all of it. */
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

static void mk(struct pc_oidc_obj *o, const char *kind, const char *id, const char *owner, const char *body,
               int64_t expires_at)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->kind, sizeof(o->kind), "%s", kind);
	snprintf(o->id, sizeof(o->id), "%s", id);
	snprintf(o->owner, sizeof(o->owner), "%s", owner);
	snprintf(o->body, sizeof(o->body), "%s", body);
	o->expires_at = expires_at;
}

static void test_records(void **state)
{
	struct fx *f = *state;
	static struct pc_oidc_obj o, got;
	struct pc_audit_event ev;
	int64_t events = count(f, "audit_events");
	mk(&o, "client", "c1", "", "{\"name\":\"a\"}", 0);
	pc_audit_event_init(&ev, &f->sys, "oidc.client_create", "oidc_client", "c1");
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, &ev, &o), PC_OK);
	assert_int_equal(count(f, "audit_events"), events + 1);
	pc_audit_event_init(&ev, &f->sys, "oidc.client_create", "oidc_client", "c1");
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, &ev, &o), PC_ERR_CONFLICT);
	assert_int_equal(count(f, "audit_events"), events + 1); /* no event for a refused change */
	/* the same id in another kind is another record */
	mk(&o, "key", "c1", "", "{}", 0);
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, NULL, &o), PC_OK);
	assert_int_equal(pc_store_oidc_get(f->s, "client", "c1", &got), PC_OK);
	assert_string_equal(got.body, "{\"name\":\"a\"}");
	assert_int_equal(pc_store_oidc_get(f->s, "client", "nope", &got), PC_ERR_NOT_FOUND);
	/* replace */
	mk(&o, "client", "c1", "", "{\"name\":\"b\"}", 0);
	pc_audit_event_init(&ev, &f->sys, "oidc.client_update", "oidc_client", "c1");
	assert_int_equal(pc_store_oidc_replace(f->s, &f->sys, &ev, &o), PC_OK);
	assert_int_equal(pc_store_oidc_get(f->s, "client", "c1", &got), PC_OK);
	assert_string_equal(got.body, "{\"name\":\"b\"}");
	mk(&o, "client", "c9", "", "{}", 0);
	pc_audit_event_init(&ev, &f->sys, "oidc.client_update", "oidc_client", "c9");
	assert_int_equal(pc_store_oidc_replace(f->s, &f->sys, &ev, &o), PC_ERR_NOT_FOUND);
	/* lists: by kind, by owner */
	mk(&o, "consent", "u1:c1", "u1", "{}", 0);
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, NULL, &o), PC_OK);
	mk(&o, "consent", "u1:c2", "u1", "{}", 0);
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, NULL, &o), PC_OK);
	mk(&o, "consent", "u2:c1", "u2", "{}", 0);
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, NULL, &o), PC_OK);
	struct pc_oidc_obj *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_store_oidc_list(f->s, "consent", NULL, &list, &n), PC_OK);
	assert_int_equal(n, 3);
	free(list);
	assert_int_equal(pc_store_oidc_list(f->s, "consent", "u1", &list, &n), PC_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "u1:c1");
	assert_string_equal(list[1].id, "u1:c2");
	free(list);
	assert_int_equal(pc_store_oidc_delete_owner(f->s, "consent", "u1"), PC_OK);
	assert_int_equal(pc_store_oidc_list(f->s, "consent", NULL, &list, &n), PC_OK);
	assert_int_equal(n, 1);
	free(list);
	/* delete */
	pc_audit_event_init(&ev, &f->sys, "oidc.client_delete", "oidc_client", "c1");
	assert_int_equal(pc_store_oidc_delete(f->s, &f->sys, &ev, "client", "c1"), PC_OK);
	pc_audit_event_init(&ev, &f->sys, "oidc.client_delete", "oidc_client", "c1");
	assert_int_equal(pc_store_oidc_delete(f->s, &f->sys, &ev, "client", "c1"), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_oidc_get(f->s, "key", "c1", &got), PC_OK);
	assert_chain_ok(f);
}

static void test_claim_and_purge(void **state)
{
	struct fx *f = *state;
	static struct pc_oidc_obj o, got;
	mk(&o, "code", "h1", "u1", "{}", NOW + 60);
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, NULL, &o), PC_OK);
	assert_int_equal(pc_store_oidc_claim(f->s, "code", "h1", 0, 1, NOW), PC_OK);
	assert_int_equal(pc_store_oidc_claim(f->s, "code", "h1", 0, 1, NOW), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_oidc_get(f->s, "code", "h1", &got), PC_OK);
	assert_int_equal(got.state, 1);
	/* expired: never claimed */
	mk(&o, "code", "h2", "u1", "{}", NOW + 60);
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, NULL, &o), PC_OK);
	assert_int_equal(pc_store_oidc_claim(f->s, "code", "h2", 0, 1, NOW + 60), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_oidc_claim(f->s, "code", "nope", 0, 1, NOW), PC_ERR_NOT_FOUND);
	/* the purge takes expired records, never those without an expiry */
	mk(&o, "client", "keep", "", "{}", 0);
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, NULL, &o), PC_OK);
	size_t purged = 0;
	assert_int_equal(pc_store_tokens_purge(f->s, NOW + 61, &purged), PC_OK);
	assert_true(purged >= 2);
	assert_int_equal(pc_store_oidc_get(f->s, "code", "h1", &got), PC_ERR_NOT_FOUND);
	assert_int_equal(pc_store_oidc_get(f->s, "client", "keep", &got), PC_OK);
}

struct racer {
	struct pc_store *s;
	atomic_int *wins;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	if (pc_store_oidc_claim(r->s, "code", "race", 0, 1, NOW) == PC_OK)
		atomic_fetch_add(r->wins, 1);
	return NULL;
}

static void test_claim_race(void **state)
{
	struct fx *f = *state;
	static struct pc_oidc_obj o;
	mk(&o, "code", "race", "u1", "{}", NOW + 60);
	assert_int_equal(pc_store_oidc_put(f->s, &f->sys, NULL, &o), PC_OK);
	struct pc_store *second = open_second(f);
	atomic_int wins = 0;
	pthread_t th[16];
	struct racer rs[16];
	for (int i = 0; i < 16; i++) {
		rs[i] = (struct racer){i % 2 ? second : f->s, &wins};
		assert_int_equal(pthread_create(&th[i], NULL, race, &rs[i]), 0);
	}
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&wins), 1);
	pc_store_close(second);
}

int main(void)
{
	if (fx_init() != 0)
		return 1;
	const struct CMUnitTest both[] = {
		FX_T(test_records),
		FX_T(test_claim_and_purge),
		FX_T(test_claim_race),
	};
	const struct CMUnitTest none[] = {FX_NONE};
	return FX_RUN(both, none, none);
}
