/*
 * svc_fx.h — the service tests' fixture: a real service context (SQLite
 * store in a fresh temp directory, the in-process kv, keys from a random
 * PORTCULLIS_SECRET_KEY) built by pc_svc_open exactly as `serve` and the
 * command line build it, and the principals a caller would pass: the
 * command line (PC_AUTH_SYSTEM), an anonymous client, and sessions opened
 * through pc_sessions_login. Include after <cmocka.h>.
 */
#ifndef PC_TEST_SVC_FX_H
#define PC_TEST_SVC_FX_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/cache.h"
#include "auth/revocation.h"
#include "config/config.h"
#include "svc/sessions.h"
#include "svc/tokens.h"
#include "svc/svc.h"
#include "svc/users.h"

#define FX_PW "correct horse battery"
#define FX_PW2 "another long passphrase"

struct fx {
	char dir[64];
	char env_key[96];
	char env_url[160];
	struct pc_config cfg;
	struct pc_svc ctx;
	struct pc_principal sys;  /* the command line */
	struct pc_principal anon; /* a client before login */
};

static int fx_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static __attribute__((unused)) int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL || sodium_init() < 0)
		return -1;
	strcpy(f->dir, "/tmp/pc_svc_XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	uint8_t key[32];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	snprintf(f->env_key, sizeof(f->env_key), "PORTCULLIS_SECRET_KEY=%s", b64);
	snprintf(f->env_url, sizeof(f->env_url), "PORTCULLIS_DATABASE_URL=sqlite:%s/pc.db", f->dir);
	char *env[] = {f->env_key, f->env_url, "PORTCULLIS_REFRESH_LIMIT=3", "PORTCULLIS_REQUIRE_SECOND_FACTOR=none", NULL};
	char err[512];
	if (pc_config_load(&f->cfg, env, true, err, sizeof(err)) != 0) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	if (pc_svc_open(&f->ctx, &f->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	f->sys.method = PC_AUTH_SYSTEM;
	strcpy(f->sys.client_addr, "local");
	strcpy(f->sys.user_agent, "portcullis user add");
	f->anon.method = PC_AUTH_ANONYMOUS;
	strcpy(f->anon.client_addr, "192.0.2.7");
	strcpy(f->anon.user_agent, "test-agent");
	*state = f;
	return 0;
}

static __attribute__((unused)) int fx_teardown(void **state)
{
	struct fx *f = *state;
	if (f == NULL)
		return 0;
	pc_svc_close(&f->ctx);
	pc_config_free(&f->cfg);
	pc_cache_free();
	nftw(f->dir, fx_rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Logs email in as the anonymous client: the session's principal in p,
 * its secret's hash in hash (to look the session up). */
static __attribute__((unused)) void fx_login(struct fx *f, const char *email, const char *pw,
                                             struct pc_principal *p, uint8_t hash[32])
{
	struct pc_user u;
	struct pc_session s;
	uint8_t secret[PC_SESSION_SECRET_BYTES];
	int64_t retry = 0;
	assert_int_equal(pc_sessions_login(&f->ctx, &f->anon, email, pw, strlen(pw), &u, &s, secret, &retry), PC_OK);
	pc_svc_session_principal(p, &f->anon, &u, &s);
	if (hash != NULL)
		pc_session_secret_hash(hash, secret);
	sodium_memzero(secret, sizeof(secret));
}

/* Whether the session whose secret hashes to hash still exists. */
static __attribute__((unused)) bool fx_session_alive(struct fx *f, const uint8_t hash[32])
{
	struct pc_session s;
	enum pc_err e = pc_store_session_get(f->ctx.store, hash, &s);
	assert_true(e == PC_OK || e == PC_ERR_NOT_FOUND);
	return e == PC_OK;
}

/* The newest event with this action (asserted to exist) into ev. */
static __attribute__((unused)) void fx_event(struct fx *f, const char *action, struct pc_audit_event *ev)
{
	struct pc_audit_filter flt = {.action = action, .limit = 1};
	struct pc_audit_event *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_store_audit_list(f->ctx.store, &flt, &list, &n), PC_OK);
	if (n != 1)
		fail_msg("no \"%s\" event", action);
	*ev = list[0];
	free(list);
}

/* How many events with this action. */
static __attribute__((unused)) size_t fx_count(struct fx *f, const char *action)
{
	struct pc_audit_filter flt = {.action = action, .limit = 200};
	struct pc_audit_event *list = NULL;
	size_t n = 0;
	assert_int_equal(pc_store_audit_list(f->ctx.store, &flt, &list, &n), PC_OK);
	free(list);
	return n;
}

/* The first user, through the command line's path. */
static __attribute__((unused)) void fx_first_user(struct fx *f, const char *email, struct pc_user *u)
{
	assert_int_equal(pc_users_add(&f->ctx, &f->sys, email, PC_ROLE_ADMIN, FX_PW, strlen(FX_PW), u, NULL), PC_OK);
}

#endif
