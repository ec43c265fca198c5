/*
 * oidc.c — see oidc.h. Every rule of the provider, once, for the API, the
 * command line and the console.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/revocation.h"
#include "config/config.h"
#include "core/b64url.h"
#include "core/log.h"
#include "core/ossl.h"
#include "core/pct.h"
#include "core/text.h"
#include "svc/factors.h"
#include "auth/jwt.h"
#include "svc/oidc.h"
#include "svc/tokens.h"

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEALED_MAX (1 + NONCE + PC_RSA_DER_MAX + TAG)
#define ED_X_B64 (43 + 1) /* an Ed25519 public key in base64url, NUL */

/* The ID token algorithms a client may choose: RS256 (the default, which
 * every relying party implements) and EdDSA (Ed25519). */
enum { ALG_RS256, ALG_EDDSA };
static const char *const ALG_NAMES[] = {"RS256", "EdDSA"};

static int key_alg(const char *name)
{
	for (int i = 0; i < (int)(sizeof(ALG_NAMES) / sizeof(ALG_NAMES[0])); i++)
		if (strcmp(name, ALG_NAMES[i]) == 0)
			return i;
	return -1;
}

/* ---- small helpers ---- */

static void hex32(char out[65], const uint8_t h[32])
{
	sodium_bin2hex(out, 65, h, 32);
}

/* A token: prefix + base64url of 32 random bytes; its hash (of the 32
 * bytes, personalised by domain so a token of one kind never matches a
 * record of another) into hash. */
static void token_new(char out[PC_OIDC_TOKEN_LEN + 1], uint8_t hash[32], const char *prefix, const char *domain)
{
	uint8_t raw[32];
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, prefix, 5);
	pc_b64url_encode(out + 5, PC_OIDC_TOKEN_LEN + 1 - 5, raw, sizeof(raw));
	crypto_generichash(hash, 32, raw, sizeof(raw), (const uint8_t *)domain, strlen(domain));
	sodium_memzero(raw, sizeof(raw));
}

/* The hash of a presented token of prefix; -1 when it is not one. */
static int token_hash(uint8_t hash[32], const char *s, size_t len, const char *prefix, const char *domain)
{
	uint8_t raw[32];
	size_t n = 0;
	if (s == NULL || len != PC_OIDC_TOKEN_LEN || memcmp(s, prefix, 5) != 0 ||
	    pc_b64url_decode(raw, sizeof(raw), &n, s + 5, len - 5) != 0 || n != 32) {
		sodium_memzero(raw, sizeof(raw));
		return -1;
	}
	crypto_generichash(hash, 32, raw, sizeof(raw), (const uint8_t *)domain, strlen(domain));
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

#define D_CODE "portcullis oidc code"
#define D_ACCESS "portcullis oidc access"
#define D_REFRESH "portcullis oidc refresh"

static void secret_hash(uint8_t out[32], const char *secret, size_t len, const struct pc_keys *keys,
                        const struct pc_keyset *ks)
{
	(void)keys;
	crypto_generichash(out, 32, (const uint8_t *)secret, len, ks->sub[PC_SUBKEY_OIDC], 32);
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s != NULL ? s : "";
}

static bool oidc_on(const struct pc_svc *ctx)
{
	return ctx->cfg->public_url[0] != '\0' && ctx->cfg->keys != NULL;
}

/* ---- clients ---- */

static bool uri_ok(const char *u)
{
	size_t n = strlen(u);
	if (n == 0 || n > PC_OIDC_URI_MAX || !pc_utf8_valid(u, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f || u[i] == '\\' || u[i] == '#')
			return false;
	const char *rest;
	bool http = false;
	if (strncmp(u, "https://", 8) == 0)
		rest = u + 8;
	else if (strncmp(u, "http://", 7) == 0) {
		rest = u + 7;
		http = true;
	} else
		return false;
	size_t hl = strcspn(rest, "/?");
	if (hl == 0 || memchr(rest, '@', hl) != NULL)
		return false;
	if (!http)
		return true;
	/* plain http only to this machine (RFC 8252 §8.3; development) */
	char host[256];
	if (hl >= sizeof(host))
		return false;
	memcpy(host, rest, hl);
	host[hl] = '\0';
	char *colon = host[0] == '[' ? strchr(host, ']') : strrchr(host, ':');
	if (host[0] == '[')
		return colon != NULL && strncmp(host, "[::1]", 5) == 0;
	if (colon != NULL)
		*colon = '\0';
	size_t h = strlen(host);
	return strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
	       (h > 10 && strcmp(host + h - 10, ".localhost") == 0);
}

_Static_assert(PC_OIDC_NAME_MAX <= 128, "core/limits.h counts 128 bytes of a client name in a record");

static const char *client_check(const struct pc_oidc_client *c)
{
	size_t nl = strlen(c->name);
	if (nl == 0 || nl > PC_OIDC_NAME_MAX || !pc_utf8_valid(c->name, nl))
		return "name: 1 to 128 characters of UTF-8";
	for (size_t i = 0; i < nl; i++)
		if ((unsigned char)c->name[i] < 0x20 || c->name[i] == 0x7f)
			return "name: no control characters";
	if (c->n_redirect == 0 || c->n_redirect > PC_OIDC_URIS_MAX)
		return "redirect_uris: 1 to 16 URIs";
	if (c->n_logout > PC_OIDC_URIS_MAX)
		return "post_logout_redirect_uris: at most 16 URIs";
	size_t total = 0;
	for (size_t i = 0; i < c->n_redirect; i++)
		total += strlen(c->redirect_uris[i]);
	for (size_t i = 0; i < c->n_logout; i++)
		total += strlen(c->logout_uris[i]);
	if (total > PC_OIDC_URIS_BYTES_MAX)
		return "redirect_uris and post_logout_redirect_uris: at most 6144 bytes together";
	for (size_t i = 0; i < c->n_redirect; i++)
		if (!uri_ok(c->redirect_uris[i]))
			return "redirect_uris: absolute https URLs (http only for localhost), no fragment, no userinfo";
	for (size_t i = 0; i < c->n_logout; i++)
		if (!uri_ok(c->logout_uris[i]))
			return "post_logout_redirect_uris: absolute https URLs (http only for localhost), no fragment";
	if (!pc_oidc_scopes_within(c->scopes, PC_OIDC_SCOPES_SUPPORTED) || !pc_oidc_scopes_within("openid", c->scopes))
		return "scopes: among openid profile email groups offline_access, with openid";
	if (!pc_groups_text_valid(c->groups, strlen(c->groups)))
		return "groups: group names";
	if (key_alg(c->alg) < 0)
		return "alg: RS256 or EdDSA";
	return NULL;
}

static json_t *uris_json(const char (*u)[PC_OIDC_URI_MAX + 1], size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(u[i]));
	return a;
}

json_t *pc_oidc_client_json(const struct pc_oidc_client *c)
{
	json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:s,s:b,s:b,s:b,s:s,s:s,s:I}", "client_id", c->id, "name", c->name,
	                      "redirect_uris", uris_json(c->redirect_uris, c->n_redirect), "post_logout_redirect_uris",
	                      uris_json(c->logout_uris, c->n_logout), "client_type",
	                      c->public_client ? "public" : "confidential", "first_party", c->first_party,
	                      "require_mfa", c->require_mfa, "public", c->public_client, "scopes", c->scopes, "alg",
	                      c->alg, "created_at", (json_int_t)c->created_at);
	if (o == NULL)
		return NULL;
	json_t *g = json_array();
	char buf[PC_USER_GROUPS_TEXT + 1];
	const char *names[PC_USER_GROUPS_MAX];
	size_t n = pc_groups_split(names, buf, sizeof(buf), c->groups);
	for (size_t i = 0; g != NULL && i < n; i++)
		json_array_append_new(g, json_string(names[i]));
	json_object_set_new(o, "allowed_groups", g);
	return o;
}

/* The stored body: the JSON above plus the secret hash. */
static int client_to_obj(struct pc_oidc_obj *o, const struct pc_oidc_client *c)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->kind, sizeof(o->kind), "client");
	snprintf(o->id, sizeof(o->id), "%s", c->id);
	json_t *j = pc_oidc_client_json(c);
	if (j == NULL)
		return -1;
	char h[65];
	hex32(h, c->secret_hash);
	json_object_set_new(j, "secret_hash", json_string(c->public_client ? "" : h));
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL || strlen(s) > PC_OIDC_BODY_MAX) {
		free(s);
		return -1;
	}
	memcpy(o->body, s, strlen(s) + 1);
	free(s);
	return 0;
}

static int uris_from(char (*u)[PC_OIDC_URI_MAX + 1], size_t *n, const json_t *a)
{
	*n = 0;
	size_t i;
	json_t *v;
	if (!json_is_array(a) || json_array_size(a) > PC_OIDC_URIS_MAX)
		return -1;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		if (s == NULL || strlen(s) > PC_OIDC_URI_MAX)
			return -1;
		snprintf(u[(*n)++], PC_OIDC_URI_MAX + 1, "%s", s);
	}
	return 0;
}

static int client_from_obj(struct pc_oidc_client *c, const struct pc_oidc_obj *o)
{
	memset(c, 0, sizeof(*c));
	json_t *j = json_loads(o->body, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		return -1;
	int rc = 0;
	snprintf(c->id, sizeof(c->id), "%s", o->id);
	snprintf(c->name, sizeof(c->name), "%s", jstr(j, "name"));
	snprintf(c->scopes, sizeof(c->scopes), "%s", jstr(j, "scopes"));
	snprintf(c->alg, sizeof(c->alg), "%s", jstr(j, "alg"));
	c->public_client = json_is_true(json_object_get(j, "public"));
	c->first_party = json_is_true(json_object_get(j, "first_party"));
	c->require_mfa = json_is_true(json_object_get(j, "require_mfa"));
	c->created_at = json_integer_value(json_object_get(j, "created_at"));
	if (uris_from(c->redirect_uris, &c->n_redirect, json_object_get(j, "redirect_uris")) != 0 ||
	    uris_from(c->logout_uris, &c->n_logout, json_object_get(j, "post_logout_redirect_uris")) != 0)
		rc = -1;
	size_t i, at = 0;
	json_t *v;
	json_array_foreach(json_object_get(j, "allowed_groups"), i, v) {
		const char *g = json_string_value(v);
		if (g == NULL || pc_groups_append(c->groups, &at, g, strlen(g)) != 0)
			rc = -1;
	}
	const char *h = jstr(j, "secret_hash");
	if (!c->public_client && (strlen(h) != 64 || sodium_hex2bin(c->secret_hash, 32, h, 64, NULL, NULL, NULL) != 0))
		rc = -1;
	json_decref(j);
	if (rc != 0)
		memset(c, 0, sizeof(*c));
	return rc;
}

/* Every stored record of kind, decoded by decode into a calloc'd array of
 * elem-byte elements (*out, *n); a record that does not decode is left
 * out. */
static enum pc_err decoded_all(struct pc_svc *ctx, const char *kind, size_t elem,
                               int (*decode)(void *dst, const struct pc_oidc_obj *o), void **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct pc_oidc_obj *objs = NULL;
	size_t k = 0;
	enum pc_err e = pc_store_oidc_list(ctx->store, kind, NULL, &objs, &k);
	if (e != PC_OK)
		return e;
	unsigned char *arr = calloc(k ? k : 1, elem);
	if (arr == NULL) {
		free(objs);
		return PC_ERR_INTERNAL;
	}
	size_t m = 0;
	for (size_t i = 0; i < k; i++)
		if (decode(arr + m * elem, &objs[i]) == 0)
			m++;
	free(objs);
	*out = arr;
	*n = m;
	return PC_OK;
}

static int client_decode(void *dst, const struct pc_oidc_obj *o)
{
	return client_from_obj(dst, o);
}

static enum pc_err load_client(struct pc_svc *ctx, const char *id, struct pc_oidc_client *c)
{
	memset(c, 0, sizeof(*c));
	if (id == NULL || id[0] == '\0' || strlen(id) > PC_OIDC_KEY_MAX)
		return PC_ERR_NOT_FOUND;
	struct pc_oidc_obj *o = malloc(sizeof(*o));
	if (o == NULL)
		return PC_ERR_INTERNAL;
	enum pc_err e = pc_store_oidc_get(ctx->store, "client", id, o);
	if (e == PC_OK && client_from_obj(c, o) != 0) {
		pc_log("error", "oidc_client_corrupt", "a stored OIDC client does not parse");
		e = PC_ERR_INTERNAL;
	}
	free(o);
	return e;
}

enum pc_err pc_oidc_client_create(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_oidc_client *c,
                                  char secret[PC_OIDC_SECRET_LEN + 1], const char **why)
{
	secret[0] = '\0';
	*why = NULL;
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "oidc_client", "");
	if (e != PC_OK)
		return e;
	if (ctx->cfg->keys == NULL)
		return PC_ERR_INTERNAL;
	if (c->alg[0] == '\0')
		snprintf(c->alg, sizeof(c->alg), "RS256");
	if (c->scopes[0] == '\0')
		snprintf(c->scopes, sizeof(c->scopes), "%s", PC_OIDC_SCOPES_SUPPORTED);
	*why = client_check(c);
	if (*why != NULL)
		return PC_ERR_INVALID;
	pc_random_id(c->id);
	c->created_at = pc_svc_now(ctx);
	memset(c->secret_hash, 0, sizeof(c->secret_hash));
	if (!c->public_client) {
		uint8_t h[32];
		token_new(secret, h, PC_OIDC_SECRET_PREFIX, "unused");
		secret_hash(c->secret_hash, secret, strlen(secret), ctx->cfg->keys, &ctx->cfg->keys->current);
		sodium_memzero(h, sizeof(h));
	}
	struct pc_oidc_obj *o = malloc(sizeof(*o));
	if (o == NULL || client_to_obj(o, c) != 0) {
		free(o);
		sodium_memzero(secret, PC_OIDC_SECRET_LEN + 1);
		return PC_ERR_INTERNAL;
	}
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "oidc.client_create", "oidc_client", c->id, "{s:s,s:s,s:b}", "name", c->name,
	             "client_type", c->public_client ? "public" : "confidential", "first_party", c->first_party);
	e = pc_store_oidc_put(ctx->store, actor, &ev, o);
	free(o);
	if (e != PC_OK)
		sodium_memzero(secret, PC_OIDC_SECRET_LEN + 1);
	return e;
}

enum pc_err pc_oidc_client_get(struct pc_svc *ctx, const struct pc_principal *actor, const char *id,
                               struct pc_oidc_client *out)
{
	memset(out, 0, sizeof(*out));
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "oidc_client", id);
	if (e != PC_OK)
		return e;
	return load_client(ctx, id, out);
}

enum pc_err pc_oidc_client_list(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_oidc_client **out,
                                size_t *n)
{
	*out = NULL;
	*n = 0;
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "oidc_client", "");
	if (e != PC_OK)
		return e;
	void *cs = NULL;
	e = decoded_all(ctx, "client", sizeof(**out), client_decode, &cs, n);
	*out = cs;
	return e;
}

enum pc_err pc_oidc_client_update(struct pc_svc *ctx, const struct pc_principal *actor,
                                  const struct pc_oidc_client *c, const char **why)
{
	*why = NULL;
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "oidc_client", c->id);
	if (e != PC_OK)
		return e;
	struct pc_oidc_client *old = malloc(sizeof(*old));
	struct pc_oidc_client *nw = malloc(sizeof(*nw));
	struct pc_oidc_obj *o = malloc(sizeof(*o));
	if (old == NULL || nw == NULL || o == NULL) {
		e = PC_ERR_INTERNAL;
		goto out;
	}
	e = load_client(ctx, c->id, old);
	if (e != PC_OK)
		goto out;
	*nw = *c;
	nw->public_client = old->public_client; /* a secret is not conjured or dropped by a patch */
	memcpy(nw->secret_hash, old->secret_hash, 32);
	nw->created_at = old->created_at;
	*why = client_check(nw);
	if (*why != NULL) {
		e = PC_ERR_INVALID;
		goto out;
	}
	if (client_to_obj(o, nw) != 0) {
		e = PC_ERR_INTERNAL;
		goto out;
	}
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "oidc.client_update", "oidc_client", c->id, "{s:s}", "name", nw->name);
	e = pc_store_oidc_replace(ctx->store, actor, &ev, o);
out:
	free(old);
	free(nw);
	free(o);
	return e;
}

enum pc_err pc_oidc_client_delete(struct pc_svc *ctx, const struct pc_principal *actor, const char *id)
{
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "oidc_client", id);
	if (e != PC_OK)
		return e;
	if (strlen(id) > PC_OIDC_KEY_MAX)
		return PC_ERR_NOT_FOUND;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "oidc.client_delete", "oidc_client", id, NULL);
	return pc_store_oidc_delete(ctx->store, actor, &ev, "client", id);
}

/* ---- keys ---- */

/* A signing key: RS256 (RSA-2048, n and e public) or EdDSA (Ed25519, x
 * public). The private part (PKCS#8 DER, or libsodium's 64-byte secret
 * key) is sealed under the OIDC subkey, bound to the kid. */
struct key {
	char kid[PC_OIDC_KEY_MAX + 1];
	int alg; /* ALG_RS256, ALG_EDDSA */
	int64_t created_at, retired_at;
	char n[PC_RSA_N_B64], e[PC_RSA_E_B64];
	char x[ED_X_B64];
	char sealed[sodium_base64_ENCODED_LEN(SEALED_MAX, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
};

static int key_from_obj(struct key *k, const struct pc_oidc_obj *o)
{
	memset(k, 0, sizeof(*k));
	json_t *j = json_loads(o->body, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		return -1;
	snprintf(k->kid, sizeof(k->kid), "%s", o->id);
	k->alg = key_alg(jstr(j, "alg"));
	k->created_at = json_integer_value(json_object_get(j, "created_at"));
	k->retired_at = json_integer_value(json_object_get(j, "retired_at"));
	int rc = snprintf(k->n, sizeof(k->n), "%s", jstr(j, "n")) < (int)sizeof(k->n) &&
	                 snprintf(k->e, sizeof(k->e), "%s", jstr(j, "e")) < (int)sizeof(k->e) &&
	                 snprintf(k->x, sizeof(k->x), "%s", jstr(j, "x")) < (int)sizeof(k->x) &&
	                 snprintf(k->sealed, sizeof(k->sealed), "%s", jstr(j, "sealed")) < (int)sizeof(k->sealed) &&
	                 (k->alg == ALG_RS256 ? k->n[0] != '\0' : k->alg == ALG_EDDSA && strlen(k->x) == ED_X_B64 - 1)
	         ? 0
	         : -1;
	json_decref(j);
	return rc;
}

static int key_to_obj(struct pc_oidc_obj *o, const struct key *k)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->kind, sizeof(o->kind), "key");
	snprintf(o->id, sizeof(o->id), "%s", k->kid);
	json_t *j = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "created_at", (json_int_t)k->created_at, "retired_at",
	                      (json_int_t)k->retired_at, "n", k->n, "e", k->e, "x", k->x, "sealed", k->sealed, "alg",
	                      ALG_NAMES[k->alg]);
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL || strlen(s) > PC_OIDC_BODY_MAX) {
		free(s);
		return -1;
	}
	memcpy(o->body, s, strlen(s) + 1);
	free(s);
	return 0;
}

static int key_seal(struct key *k, const uint8_t *der, size_t len, const struct pc_keys *keys)
{
	uint8_t buf[SEALED_MAX];
	if (len > PC_RSA_DER_MAX)
		return -1;
	buf[0] = keys->current.id;
	randombytes_buf(buf + 1, NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 1 + NONCE, NULL, der, len, (const uint8_t *)k->kid,
	                                           strlen(k->kid), NULL, buf + 1, keys->current.sub[PC_SUBKEY_OIDC]);
	pc_b64url_encode(k->sealed, sizeof(k->sealed), buf, 1 + NONCE + len + TAG);
	return 0;
}

static int key_unseal(uint8_t der[PC_RSA_DER_MAX], size_t *len, const struct key *k, const struct pc_keys *keys)
{
	uint8_t buf[SEALED_MAX];
	size_t n = 0;
	unsigned long long pl = 0;
	*len = 0;
	if (pc_b64url_decode(buf, sizeof(buf), &n, k->sealed, strlen(k->sealed)) != 0 || n < 1 + NONCE + TAG + 1)
		return -1;
	const struct pc_keyset *ks = buf[0] == keys->current.id                         ? &keys->current
	                             : keys->has_previous && buf[0] == keys->previous.id ? &keys->previous
	                                                                                 : NULL;
	if (ks == NULL || crypto_aead_xchacha20poly1305_ietf_decrypt(der, &pl, NULL, buf + 1 + NONCE, n - 1 - NONCE,
	                                                             (const uint8_t *)k->kid, strlen(k->kid), buf + 1,
	                                                             ks->sub[PC_SUBKEY_OIDC]) != 0) {
		sodium_memzero(der, PC_RSA_DER_MAX);
		return -1;
	}
	*len = (size_t)pl;
	return 0;
}

static int key_decode(void *dst, const struct pc_oidc_obj *o)
{
	return key_from_obj(dst, o);
}

/* Every stored key, oldest first (kids sort by creation time). */
static enum pc_err keys_all(struct pc_svc *ctx, struct key **out, size_t *n)
{
	void *ks = NULL;
	enum pc_err e = decoded_all(ctx, "key", sizeof(**out), key_decode, &ks, n);
	*out = ks;
	return e;
}

/* The private part of a new key of k->alg into der (*len bytes), its
 * public part into k. */
static int key_generate(struct key *k, uint8_t der[PC_RSA_DER_MAX], size_t *len)
{
	if (k->alg == ALG_RS256)
		return pc_ossl_rsa_generate(der, PC_RSA_DER_MAX, len) == 0 && pc_ossl_rsa_public(k->n, k->e, der, *len) == 0
		               ? 0
		               : -1;
	_Static_assert(crypto_sign_SECRETKEYBYTES <= PC_RSA_DER_MAX, "an Ed25519 secret key fits the buffer");
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	if (crypto_sign_keypair(pk, der) != 0)
		return -1;
	*len = crypto_sign_SECRETKEYBYTES;
	pc_b64url_encode(k->x, sizeof(k->x), pk, sizeof(pk));
	return 0;
}

/* A new key of alg stored (kid: creation time, then random: sorts by age). */
static enum pc_err key_create(struct pc_svc *ctx, const struct pc_principal *actor, int alg, struct key *k)
{
	memset(k, 0, sizeof(*k));
	k->alg = alg;
	uint8_t der[PC_RSA_DER_MAX];
	size_t len = 0;
	uint8_t rnd[4];
	randombytes_buf(rnd, sizeof(rnd));
	k->created_at = pc_svc_now(ctx);
	snprintf(k->kid, sizeof(k->kid), "%012lld-%02x%02x%02x%02x", (long long)k->created_at, rnd[0], rnd[1], rnd[2],
	         rnd[3]);
	enum pc_err e = PC_ERR_INTERNAL;
	struct pc_oidc_obj *o = malloc(sizeof(*o));
	if (o != NULL && key_generate(k, der, &len) == 0 && key_seal(k, der, len, ctx->cfg->keys) == 0 &&
	    key_to_obj(o, k) == 0) {
		struct pc_audit_event ev;
		pc_svc_event(&ev, actor, "oidc.key_create", "oidc_key", k->kid, "{s:s}", "alg", ALG_NAMES[alg]);
		e = pc_store_oidc_put(ctx->store, actor, &ev, o);
	}
	sodium_memzero(der, sizeof(der));
	free(o);
	return e;
}

static void system_actor(struct pc_principal *p)
{
	memset(p, 0, sizeof(*p));
	p->method = PC_AUTH_SYSTEM;
	p->role = PC_ROLE_ADMIN;
}

/* The signing key for alg (the newest not retired), created on first use. */
static enum pc_err key_current(struct pc_svc *ctx, int alg, struct key *out)
{
	struct key *ks = NULL;
	size_t n = 0;
	enum pc_err e = keys_all(ctx, &ks, &n);
	if (e != PC_OK)
		return e;
	for (size_t i = n; i > 0; i--) {
		if (ks[i - 1].retired_at == 0 && ks[i - 1].alg == alg) {
			*out = ks[i - 1];
			free(ks);
			return PC_OK;
		}
	}
	free(ks);
	struct pc_principal sys;
	system_actor(&sys);
	return key_create(ctx, &sys, alg, out);
}

/* How long a retired key stays published: the longest a token it signed
 * lives (ID tokens and id_token_hint use the access lifetime). */
static int64_t key_grace(const struct pc_svc *ctx)
{
	return ctx->cfg->access_token_lifetime_s + 60;
}

enum pc_err pc_oidc_key_rotate(struct pc_svc *ctx, const struct pc_principal *actor, char *kid, char *kid_eddsa,
                               size_t cap)
{
	if (cap > 0)
		kid[0] = kid_eddsa[0] = '\0';
	enum pc_err e = pc_svc_check(ctx, actor, PC_SVC_MANAGE_USERS, "oidc_key", "");
	if (e != PC_OK)
		return e;
	if (ctx->cfg->keys == NULL)
		return PC_ERR_INTERNAL;
	struct key *ks = NULL, nk[2];
	size_t n = 0;
	e = keys_all(ctx, &ks, &n);
	if (e != PC_OK)
		return e;
	/* a new key of each algorithm, published at once; then the old ones
	 * of an algorithm that has its new key are retired (still published
	 * until what they signed has expired), and keys past that are
	 * deleted, so the key list stays short however often it rotates */
	bool made[2] = {false, false};
	for (int a = ALG_RS256; a <= ALG_EDDSA && e == PC_OK; a++)
		made[a] = (e = key_create(ctx, actor, a, &nk[a])) == PC_OK;
	struct pc_oidc_obj *o = malloc(sizeof(*o));
	int64_t now = pc_svc_now(ctx);
	enum pc_err e2 = o != NULL ? PC_OK : PC_ERR_INTERNAL;
	for (size_t i = 0; e2 == PC_OK && i < n; i++) {
		struct pc_audit_event ev;
		if (ks[i].retired_at == 0 && made[ks[i].alg]) {
			ks[i].retired_at = now;
			if (key_to_obj(o, &ks[i]) != 0)
				continue;
			pc_svc_event(&ev, actor, "oidc.key_retire", "oidc_key", ks[i].kid, NULL);
			e2 = pc_store_oidc_replace(ctx->store, actor, &ev, o);
		} else if (ks[i].retired_at != 0 && ks[i].retired_at + key_grace(ctx) <= now) {
			pc_svc_event(&ev, actor, "oidc.key_delete", "oidc_key", ks[i].kid, NULL);
			e2 = pc_store_oidc_delete(ctx->store, actor, &ev, "key", ks[i].kid);
		}
	}
	free(o);
	free(ks);
	if (e == PC_OK && e2 == PC_OK) {
		snprintf(kid, cap, "%s", nk[ALG_RS256].kid);
		snprintf(kid_eddsa, cap, "%s", nk[ALG_EDDSA].kid);
	}
	return e != PC_OK ? e : e2;
}

enum pc_err pc_oidc_jwks(struct pc_svc *ctx, json_t **out)
{
	*out = NULL;
	if (!oidc_on(ctx))
		return PC_ERR_NOT_FOUND;
	struct key cur;
	/* a first key of each algorithm exists before anyone needs it */
	enum pc_err e = key_current(ctx, ALG_RS256, &cur);
	if (e == PC_OK)
		e = key_current(ctx, ALG_EDDSA, &cur);
	if (e != PC_OK)
		return e;
	struct key *ks = NULL;
	size_t n = 0;
	e = keys_all(ctx, &ks, &n);
	if (e != PC_OK)
		return e;
	json_t *arr = json_array();
	int64_t now = pc_svc_now(ctx);
	for (size_t i = n; arr != NULL && i > 0; i--) {
		const struct key *k = &ks[i - 1];
		if (k->retired_at != 0 && k->retired_at + key_grace(ctx) <= now)
			continue;
		if (k->alg == ALG_RS256)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "use", "sig", "alg",
			                                     "RS256", "kid", k->kid, "n", k->n, "e", k->e));
		else
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "OKP", "crv", "Ed25519", "use",
			                                     "sig", "alg", "EdDSA", "kid", k->kid, "x", k->x));
	}
	free(ks);
	*out = json_pack("{s:o}", "keys", arr);
	return *out != NULL ? PC_OK : PC_ERR_INTERNAL;
}

json_t *pc_oidc_discovery(const struct pc_config *cfg)
{
	char u[6][600];
	const char *paths[6] = {"/oidc/authorize", "/oidc/token", "/oidc/userinfo", "/oidc/jwks.json", "/oidc/logout", ""};
	for (int i = 0; i < 5; i++)
		snprintf(u[i], sizeof(u[i]), "%s%s", cfg->public_url, paths[i]);
	return json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:[s,s],s:[s],s:[s,s],s:[s,s],s:[s],s:[s,s,s,s,s],s:[s,s],s:[s,s,s,s],"
		"s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s],s:b,s:b}",
		"issuer", cfg->public_url, "authorization_endpoint", u[0], "token_endpoint", u[1], "userinfo_endpoint", u[2],
		"jwks_uri", u[3], "end_session_endpoint", u[4], "response_types_supported", "code", "grant_types_supported",
		"authorization_code", "refresh_token", "subject_types_supported", "public",
		"id_token_signing_alg_values_supported", "RS256", "EdDSA", "token_endpoint_auth_methods_supported",
		"client_secret_basic", "client_secret_post", "code_challenge_methods_supported", "S256", "scopes_supported",
		"openid", "profile", "email", "groups", "offline_access", "acr_values_supported", "pwd", "mfa",
		"prompt_values_supported", "none", "login", "consent", "select_account", "claims_supported", "iss", "sub",
		"aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "email", "email_verified", "name",
		"preferred_username", "groups", "claims_parameter_supported", 0, "request_parameter_supported", 0);
}

/* Signs claims (borrowed) as a compact JWS with the current key of alg. */
static int sign_jwt(struct pc_svc *ctx, int alg, char *out, size_t cap, json_t *claims)
{
	out[0] = '\0';
	struct key k;
	if (key_current(ctx, alg, &k) != PC_OK)
		return -1;
	json_t *hdr = json_pack("{s:s,s:s,s:s}", "alg", ALG_NAMES[alg], "typ", "JWT", "kid", k.kid);
	char *h = hdr != NULL ? json_dumps(hdr, JSON_COMPACT) : NULL;
	char *p = json_dumps(claims, JSON_COMPACT);
	json_decref(hdr);
	int rc = -1;
	uint8_t der[PC_RSA_DER_MAX], sig[PC_RSA_SIG_BYTES];
	size_t dlen = 0, slen = alg == ALG_RS256 ? PC_RSA_SIG_BYTES : crypto_sign_BYTES;
	_Static_assert(crypto_sign_BYTES <= PC_RSA_SIG_BYTES, "an Ed25519 signature fits the buffer");
	if (h == NULL || p == NULL)
		goto out;
	size_t hl = strlen(h), pl = strlen(p);
	size_t need = (hl * 4 + 2) / 3 + 1 + (pl * 4 + 2) / 3 + 1 + (PC_RSA_SIG_BYTES * 4 + 2) / 3 + 1;
	if (need > cap)
		goto out;
	pc_b64url_encode(out, cap, (const uint8_t *)h, hl);
	size_t at = strlen(out);
	out[at++] = '.';
	pc_b64url_encode(out + at, cap - at, (const uint8_t *)p, pl);
	at += strlen(out + at);
	if (key_unseal(der, &dlen, &k, ctx->cfg->keys) != 0)
		goto out;
	if (alg == ALG_RS256 ? pc_ossl_rs256_sign(sig, der, dlen, (const uint8_t *)out, at) != 0
	                     : dlen != crypto_sign_SECRETKEYBYTES ||
	                               crypto_sign_detached(sig, NULL, (const uint8_t *)out, at, der) != 0)
		goto out;
	out[at++] = '.';
	pc_b64url_encode(out + at, cap - at, sig, slen);
	rc = 0;
out:
	sodium_memzero(der, sizeof(der));
	free(h);
	free(p);
	if (rc != 0)
		out[0] = '\0';
	return rc;
}

/* Verifies a JWS of ours (any published key; exp not checked: an
 * id_token_hint may have expired) and returns its payload (new ref). */
static json_t *verify_jwt(struct pc_svc *ctx, const char *tok)
{
	size_t len = strlen(tok);
	const char *d1 = memchr(tok, '.', len);
	const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
	if (d1 == NULL || d2 == NULL || len > PC_OIDC_JWT_MAX)
		return NULL;
	uint8_t hb[512], pb[PC_OIDC_JWT_MAX], sig[PC_RSA_SIG_BYTES + 1];
	size_t hn = 0, pn = 0, sn = 0;
	if (pc_b64url_decode(hb, sizeof(hb) - 1, &hn, tok, (size_t)(d1 - tok)) != 0 ||
	    pc_b64url_decode(pb, sizeof(pb) - 1, &pn, d1 + 1, (size_t)(d2 - d1 - 1)) != 0 ||
	    pc_b64url_decode(sig, sizeof(sig), &sn, d2 + 1, len - (size_t)(d2 + 1 - tok)) != 0)
		return NULL;
	json_t *h = json_loadb((const char *)hb, hn, JSON_REJECT_DUPLICATES, NULL);
	int alg = h != NULL ? key_alg(jstr(h, "alg")) : -1;
	if (alg < 0) {
		json_decref(h);
		return NULL;
	}
	char kid[PC_OIDC_KEY_MAX + 1];
	snprintf(kid, sizeof(kid), "%s", jstr(h, "kid"));
	json_decref(h);
	struct key *ks = NULL;
	size_t n = 0;
	if (keys_all(ctx, &ks, &n) != PC_OK)
		return NULL;
	json_t *claims = NULL;
	const uint8_t *msg = (const uint8_t *)tok;
	size_t mlen = (size_t)(d2 - tok);
	for (size_t i = 0; i < n; i++) {
		/* the key named by kid, and of the alg the header names: no
		 * algorithm confusion between an RSA and an Ed25519 key */
		if (strcmp(ks[i].kid, kid) != 0 || ks[i].alg != alg)
			continue;
		bool ok = false;
		/* the public key from the sealed private part (bound to the kid),
		 * never from a row's plain public members */
		uint8_t der[PC_RSA_DER_MAX];
		size_t dl = 0;
		if (key_unseal(der, &dl, &ks[i], ctx->cfg->keys) == 0)
			ok = alg == ALG_EDDSA ? dl == crypto_sign_SECRETKEYBYTES && sn == crypto_sign_BYTES &&
			                                crypto_sign_verify_detached(sig, msg, mlen,
			                                                            der + crypto_sign_SECRETKEYBYTES -
			                                                                crypto_sign_PUBLICKEYBYTES) == 0
			                      : pc_ossl_rs256_verify(sig, sn, der, dl, msg, mlen) == 0;
		sodium_memzero(der, sizeof(der));
		if (ok)
			claims = json_loadb((const char *)pb, pn, JSON_REJECT_DUPLICATES, NULL);
	}
	free(ks);
	return claims;
}

/* ---- the authorization step ---- */

static bool has_word(const char *list, const char *w)
{
	return pc_oidc_scopes_within(w, list[0] != '\0' ? list : "-");
}

static bool redirect_registered(const struct pc_oidc_client *c, const char *uri)
{
	bool found = false;
	for (size_t i = 0; i < c->n_redirect; i++)
		found |= strcmp(c->redirect_uris[i], uri) == 0; /* exact: no prefix, no wildcard, no normalising */
	return found;
}

/* Whether the user is in one of the client's allowed groups ("" : anyone). */
static bool groups_allow(const struct pc_oidc_client *c, const char *user_groups)
{
	if (c->groups[0] == '\0')
		return true;
	char b1[PC_USER_GROUPS_TEXT + 1], b2[PC_USER_GROUPS_TEXT + 1];
	const char *a[PC_USER_GROUPS_MAX], *u[PC_USER_GROUPS_MAX];
	size_t na = pc_groups_split(a, b1, sizeof(b1), c->groups), nu = pc_groups_split(u, b2, sizeof(b2), user_groups);
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nu; j++)
			if (strcmp(a[i], u[j]) == 0)
				return true;
	return false;
}

/* "user:client" into out; "" when it does not fit (ids are 32 hex). */
static void consent_id(char out[PC_OIDC_KEY_MAX + 1], const char *user, const char *client)
{
	size_t u = strlen(user), c = strlen(client);
	out[0] = '\0';
	if (u + 1 + c > PC_OIDC_KEY_MAX)
		return;
	memcpy(out, user, u);
	out[u] = ':';
	memcpy(out + u + 1, client, c + 1);
}

static enum pc_err consent_covers(struct pc_svc *ctx, const char *user, const char *client, const char *scope,
                                  bool *ok)
{
	*ok = false;
	char id[PC_OIDC_KEY_MAX + 1];
	consent_id(id, user, client);
	if (id[0] == '\0')
		return PC_OK;
	struct pc_oidc_obj *o = malloc(sizeof(*o));
	if (o == NULL)
		return PC_ERR_INTERNAL;
	enum pc_err e = pc_store_oidc_get(ctx->store, "consent", id, o);
	if (e == PC_OK) {
		json_t *j = json_loads(o->body, 0, NULL);
		*ok = j != NULL && pc_oidc_scopes_within(scope, jstr(j, "scope"));
		json_decref(j);
	}
	free(o);
	return e == PC_ERR_NOT_FOUND ? PC_OK : e;
}

static enum pc_err consent_save(struct pc_svc *ctx, const struct pc_principal *p, const struct pc_oidc_client *c,
                                const char *scope)
{
	struct pc_oidc_obj *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return PC_ERR_INTERNAL;
	snprintf(o->kind, sizeof(o->kind), "consent");
	consent_id(o->id, p->user_id, c->id);
	if (o->id[0] == '\0') {
		free(o);
		return PC_ERR_INTERNAL;
	}
	snprintf(o->owner, sizeof(o->owner), "%s", p->user_id);
	json_t *j = json_pack("{s:s,s:s,s:I}", "client_id", c->id, "scope", scope, "created_at",
	                      (json_int_t)pc_svc_now(ctx));
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	enum pc_err e = PC_ERR_INTERNAL;
	if (s != NULL && strlen(s) < sizeof(o->body)) {
		memcpy(o->body, s, strlen(s) + 1);
		struct pc_audit_event ev;
		pc_svc_event(&ev, p, "oidc.consent", "oidc_client", c->id, "{s:s}", "scope", scope);
		e = pc_store_oidc_replace(ctx->store, p, &ev, o);
		if (e == PC_ERR_NOT_FOUND) {
			pc_svc_event(&ev, p, "oidc.consent", "oidc_client", c->id, "{s:s}", "scope", scope);
			e = pc_store_oidc_put(ctx->store, p, &ev, o);
		}
	}
	free(s);
	free(o);
	return e;
}

static void deny(struct pc_oidc_decision *d, const char *error, const char *desc)
{
	d->outcome = PC_OIDC_ERROR_REDIRECT;
	d->error = error;
	d->description = desc;
}

enum pc_err pc_oidc_authorize(struct pc_svc *ctx, const struct pc_principal *p, const struct pc_oidc_authz *req,
                              bool consented, struct pc_oidc_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->outcome = PC_OIDC_ERROR_PAGE;
	if (!oidc_on(ctx)) {
		d->description = "OpenID Connect is off (PORTCULLIS_PUBLIC_URL is not set).";
		return PC_OK;
	}
	struct pc_oidc_client *c = malloc(sizeof(*c));
	if (c == NULL)
		return PC_ERR_INTERNAL;
	enum pc_err e = PC_OK;
	if (!req->has_client_id) {
		d->description = "The request names no client (client_id).";
		goto out;
	}
	e = load_client(ctx, req->client_id, c);
	if (e == PC_ERR_NOT_FOUND) {
		e = PC_OK;
		d->description = "The client is not known.";
		goto out;
	}
	if (e != PC_OK)
		goto out;
	if (!req->has_redirect_uri || !redirect_registered(c, req->redirect_uri)) {
		d->description = "The redirect_uri is not one registered for this client.";
		goto out;
	}
	snprintf(d->client_name, sizeof(d->client_name), "%s", c->name);
	/* from here on errors go back to the client's registered URI */
	if (strcmp(req->response_type, "code") != 0) {
		deny(d, "unsupported_response_type", "Only response_type=code is supported.");
		goto out;
	}
	if (req->request[0] != '\0') {
		deny(d, "request_not_supported", "Request objects are not supported.");
		goto out;
	}
	if (!pc_oidc_scopes_within("openid", req->scope)) {
		deny(d, "invalid_scope", "The scope must include openid.");
		goto out;
	}
	if (!pc_oidc_scopes_within(req->scope, c->scopes)) {
		deny(d, "invalid_scope", "The scope asks for more than this client is allowed.");
		goto out;
	}
	if (req->code_challenge_method[0] != '\0' && strcmp(req->code_challenge_method, "S256") != 0) {
		deny(d, "invalid_request", "Only code_challenge_method=S256 is supported (plain is refused).");
		goto out;
	}
	if (req->code_challenge[0] != '\0') {
		size_t cl = strlen(req->code_challenge);
		uint8_t tmp[64];
		size_t tn = 0;
		if (req->code_challenge_method[0] == '\0') {
			deny(d, "invalid_request", "code_challenge_method=S256 is required (plain is refused).");
			goto out;
		}
		if (cl != 43 || pc_b64url_decode(tmp, sizeof(tmp), &tn, req->code_challenge, cl) != 0 || tn != 32) {
			deny(d, "invalid_request", "The code_challenge is not a base64url SHA-256.");
			goto out;
		}
	} else if (c->public_client) {
		deny(d, "invalid_request", "A public client must use PKCE (code_challenge with S256).");
		goto out;
	}
	bool prompt_none = has_word(req->prompt, "none"), prompt_login = has_word(req->prompt, "login"),
	     prompt_consent = has_word(req->prompt, "consent");
	if (prompt_none && (prompt_login || prompt_consent)) {
		deny(d, "invalid_request", "prompt=none cannot be combined with other values.");
		goto out;
	}
	bool want_mfa = c->require_mfa || has_word(req->acr_values, "mfa");
	bool signed_in = p != NULL && p->method == PC_AUTH_SESSION && p->user_id[0] != '\0';
	int64_t now = pc_svc_now(ctx);
	/* did this flow already send the user to sign in (pc_login: when), and
	 * did they since? The marker is in the URL, so it counts only within
	 * the sign-in page's 10 minutes: a forged old one cannot make an old
	 * session fresh (and auth_time in the ID token is the session's own) */
	bool sent = req->login_at > 0 && req->login_at <= now && req->login_at > now - PC_PENDING_SESSION_S;
	bool fresh = signed_in && sent && p->authenticated_at > req->login_at; /* a later second */
	bool need_login = !signed_in || (prompt_login && !fresh) ||
	                  (req->max_age >= 0 && p->authenticated_at + req->max_age < now && !fresh);
	if (!need_login && want_mfa && p->factors < 2) {
		bool active = false;
		e = pc_factors_active(ctx, p->user_id, &active);
		if (e != PC_OK)
			goto out;
		if (!active) {
			deny(d, "access_denied", "This client requires a second factor, and the user has none set up.");
			goto out;
		}
		need_login = true;
		d->login_mfa = true;
	}
	if (need_login) {
		if (prompt_none) {
			deny(d, signed_in ? "interaction_required" : "login_required", "The user must sign in.");
			goto out;
		}
		if (sent) { /* sent once already and still not enough: no loop */
			deny(d, "login_required", "The sign-in did not complete.");
			goto out;
		}
		d->outcome = PC_OIDC_LOGIN;
		goto out;
	}
	if (!groups_allow(c, p->groups)) {
		deny(d, "access_denied", "The user is not in a group this client is allowed for.");
		goto out;
	}
	if (!c->first_party) {
		bool ok = false;
		if (consented)
			e = consent_save(ctx, p, c, req->scope);
		else
			e = consent_covers(ctx, p->user_id, c->id, req->scope, &ok);
		if (e != PC_OK)
			goto out;
		if (!consented && (!ok || prompt_consent)) {
			if (prompt_none)
				deny(d, "consent_required", "The user has not consented to this client.");
			else
				d->outcome = PC_OIDC_CONSENT;
			goto out;
		}
	}
	/* the code */
	uint8_t h[32];
	char hid[65];
	token_new(d->code, h, "pcoc_", D_CODE);
	hex32(hid, h);
	struct pc_oidc_obj *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		e = PC_ERR_INTERNAL;
		goto out;
	}
	snprintf(o->kind, sizeof(o->kind), "code");
	snprintf(o->id, sizeof(o->id), "%s", hid);
	snprintf(o->owner, sizeof(o->owner), "%s", p->user_id);
	o->expires_at = now + PC_OIDC_CODE_TTL_S;
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "client_id", c->id, "redirect_uri",
	                      req->redirect_uri, "challenge", req->code_challenge, "nonce", req->nonce, "scope",
	                      req->scope, "user_id", p->user_id, "session_id", p->session_id, "auth_time",
	                      (json_int_t)p->authenticated_at, "factors", (json_int_t)p->factors, "family", "");
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL || strlen(s) >= sizeof(o->body)) {
		e = PC_ERR_INTERNAL;
	} else {
		memcpy(o->body, s, strlen(s) + 1);
		e = pc_store_oidc_put(ctx->store, p, NULL, o);
	}
	free(s);
	free(o);
	if (e == PC_OK)
		d->outcome = PC_OIDC_CODE;
	else
		sodium_memzero(d->code, sizeof(d->code));
out:
	free(c);
	return e;
}

/* ---- the token endpoint ---- */

static void oauth_err(struct pc_oidc_token_out *out, int status, const char *error, const char *desc)
{
	out->status = status;
	out->error = error;
	out->description = desc;
}

/* The user's claims for scope into o. */
static void user_claims(json_t *o, const struct pc_user *u, const char *scope)
{
	json_object_set_new(o, "sub", json_string(u->id));
	if (pc_oidc_scopes_within("email", scope)) {
		json_object_set_new(o, "email", json_string(u->email));
		/* portcullis does not prove addresses: an admin typed it */
		json_object_set_new(o, "email_verified", json_false());
	}
	if (pc_oidc_scopes_within("profile", scope)) {
		json_object_set_new(o, "name", json_string(u->email));
		json_object_set_new(o, "preferred_username", json_string(u->email));
	}
	if (pc_oidc_scopes_within("groups", scope)) {
		json_t *g = json_array();
		char buf[PC_USER_GROUPS_TEXT + 1];
		const char *names[PC_USER_GROUPS_MAX];
		size_t n = pc_groups_split(names, buf, sizeof(buf), u->groups);
		for (size_t i = 0; g != NULL && i < n; i++)
			json_array_append_new(g, json_string(names[i]));
		json_object_set_new(o, "groups", g);
	}
}

/* The factor record a session carries into a code, a grant and its
 * refresh family: with passkeys (core/principal.h PC_FACTORS_*) its kind,
 * else the count (1, or 2 for a password and a TOTP or recovery code). */
static unsigned factors_of(int64_t f)
{
#ifdef PC_FACTORS_OF
	return PC_FACTORS_OF(f);
#else
	return f >= 2 ? 2u : 1u;
#endif
}

/* amr (RFC 8176) for a factor record: what the session used, not a guess. */
static json_t *amr_of(int64_t factors)
{
	return pc_jwt_amr_json(factors_of(factors));
}

struct grant {
	char client_id[PC_OIDC_KEY_MAX + 1];
	char scope[PC_OIDC_SCOPE_MAX + 1];
	char nonce[PC_OIDC_NONCE_MAX + 1];
	char user_id[PC_ID_LEN + 1];
	char session_id[PC_ID_LEN + 1];
	int64_t auth_time, factors;
};

/* The ID token algorithm a client registered (RS256 unless EdDSA). */
static int client_alg(const struct pc_oidc_client *c)
{
	return key_alg(c->alg) == ALG_EDDSA ? ALG_EDDSA : ALG_RS256;
}

/* Issues the access token, refresh token (new family, or rotated from
 * old_hash) and ID token of grant g (signed with alg) into out. */
static enum pc_err issue_tokens(struct pc_svc *ctx, const struct pc_principal *actor, const struct grant *g,
                                int alg, const char *nonce, const uint8_t *old_hash, char family_out[PC_ID_LEN + 1],
                                struct pc_oidc_token_out *out)
{
	int64_t now = pc_svc_now(ctx);
	const struct pc_config *cfg = ctx->cfg;
	struct pc_user u;
	enum pc_err e = pc_store_user_get(ctx->store, g->user_id, &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e == PC_ERR_NOT_FOUND || (e == PC_OK && u.disabled)) {
		oauth_err(out, 400, "invalid_grant", "The user can no longer sign in.");
		return PC_OK;
	}
	if (e != PC_OK)
		return e;
	struct pc_principal by = *actor;
	snprintf(by.user_id, sizeof(by.user_id), "%s", u.id);
	snprintf(by.email, sizeof(by.email), "%s", u.email);

	/* the access token: opaque, stored hashed, owned by the family */
	char jti[PC_ID_LEN + 1];
	pc_random_id(jti);
	uint8_t ah[32], rh[32];
	char ahex[65];
	token_new(out->access, ah, "pcoa_", D_ACCESS);
	hex32(ahex, ah);
	token_new(out->refresh, rh, "pcor_", D_REFRESH);

	struct pc_refresh_token rt, old;
	memset(&rt, 0, sizeof(rt));
	memcpy(rt.token_hash, rh, 32);
	snprintf(rt.user_id, sizeof(rt.user_id), "%s", u.id);
	snprintf(rt.session_id, sizeof(rt.session_id), "%s", g->session_id);
	rt.created_at = now;
	rt.expires_at = now + cfg->refresh_token_lifetime_s;
	snprintf(rt.access_jti, sizeof(rt.access_jti), "%s", jti);
	rt.access_exp = now + cfg->access_token_lifetime_s;
	rt.factors = factors_of(g->factors);
	rt.cred_epoch = u.cred_epoch;
	if (old_hash == NULL) {
		pc_random_id(rt.family_id);
		struct pc_audit_event ev;
		pc_svc_event(&ev, &by, "oidc.token_issue", "token_family", rt.family_id, "{s:s,s:s}", "client_id",
		             g->client_id, "scope", g->scope);
		e = pc_store_refresh_create(ctx->store, &by, &ev, &rt);
		if (e == PC_ERR_STALE || e == PC_ERR_NOT_FOUND) {
			oauth_err(out, 400, "invalid_grant", "The sign-in behind this code has ended.");
			e = PC_OK;
			goto fail;
		}
	} else {
		struct pc_revoked *revoked = NULL;
		size_t n_revoked = 0;
		struct pc_audit_event ev, reuse;
		pc_svc_event(&ev, &by, "oidc.token_refresh", "token_family", "", "{s:s}", "client_id", g->client_id);
		pc_svc_event(&reuse, &by, "token.reuse", "token_family", "", "{s:s}", "action", "family revoked");
		e = pc_store_refresh_rotate(ctx->store, &by, &ev, &reuse, old_hash, now, &rt, &old, &revoked, &n_revoked);
		if (e == PC_ERR_REUSED) {
			pc_log_if_failed(pc_revocation_add(&ctx->auth, revoked, n_revoked, now), "revocation_add",
			                 "reused OIDC refresh family");
			if (old.family_id[0] != '\0')
				pc_log_if_failed(pc_store_oidc_delete_owner(ctx->store, "access", old.family_id),
				                 "oidc_access_delete", "reused OIDC refresh family");
		}
		free(revoked);
		if (e == PC_ERR_REUSED || e == PC_ERR_NOT_FOUND || e == PC_ERR_STALE) {
			oauth_err(out, 400, "invalid_grant",
			          e == PC_ERR_REUSED ? "The refresh token was used already: its family is revoked."
			                             : "The refresh token is not valid.");
			e = PC_OK;
			goto fail;
		}
	}
	if (e != PC_OK)
		goto fail;
	snprintf(family_out, PC_ID_LEN + 1, "%s", rt.family_id);

	struct pc_oidc_obj *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		e = PC_ERR_INTERNAL;
		goto fail;
	}
	snprintf(o->kind, sizeof(o->kind), "access");
	snprintf(o->id, sizeof(o->id), "%s", ahex);
	snprintf(o->owner, sizeof(o->owner), "%s", rt.family_id);
	o->expires_at = rt.access_exp;
	json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "jti", jti, "user_id", u.id, "client_id", g->client_id, "scope",
	                      g->scope);
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s != NULL && strlen(s) < sizeof(o->body)) {
		memcpy(o->body, s, strlen(s) + 1);
		e = pc_store_oidc_put(ctx->store, &by, NULL, o);
	} else
		e = PC_ERR_INTERNAL;
	free(s);
	free(o);
	if (e != PC_OK)
		goto fail;

	snprintf(out->scope, sizeof(out->scope), "%s", g->scope);
	out->expires_in = cfg->access_token_lifetime_s;
	/* the ID token: only for a scope with openid (a refresh may narrow the
	 * scope to one without it: OpenID Connect Core §12.2) */
	if (!pc_oidc_scopes_within("openid", g->scope))
		return PC_OK;
	json_t *c = json_object();
	if (c == NULL) {
		e = PC_ERR_INTERNAL;
		goto fail;
	}
	json_object_set_new(c, "iss", json_string(cfg->public_url));
	json_object_set_new(c, "aud", json_string(g->client_id));
	json_object_set_new(c, "azp", json_string(g->client_id));
	json_object_set_new(c, "iat", json_integer(now));
	json_object_set_new(c, "exp", json_integer(now + cfg->access_token_lifetime_s));
	json_object_set_new(c, "auth_time", json_integer(g->auth_time));
	if (nonce != NULL && nonce[0] != '\0')
		json_object_set_new(c, "nonce", json_string(nonce));
	json_object_set_new(c, "amr", amr_of(g->factors));
	json_object_set_new(c, "acr", json_string(g->factors >= 2 ? "mfa" : "pwd"));
	if (g->session_id[0] != '\0')
		json_object_set_new(c, "sid", json_string(g->session_id));
	user_claims(c, &u, g->scope);
	int rc = sign_jwt(ctx, alg, out->id_token, sizeof(out->id_token), c);
	json_decref(c);
	if (rc != 0) {
		e = PC_ERR_INTERNAL;
		goto fail;
	}
	return PC_OK;
fail:
	sodium_memzero(out->access, sizeof(out->access));
	sodium_memzero(out->refresh, sizeof(out->refresh));
	return e;
}

static int grant_from_json(struct grant *g, const char *body)
{
	memset(g, 0, sizeof(*g));
	json_t *j = json_loads(body, 0, NULL);
	if (j == NULL)
		return -1;
	snprintf(g->client_id, sizeof(g->client_id), "%s", jstr(j, "client_id"));
	snprintf(g->scope, sizeof(g->scope), "%s", jstr(j, "scope"));
	snprintf(g->nonce, sizeof(g->nonce), "%s", jstr(j, "nonce"));
	snprintf(g->user_id, sizeof(g->user_id), "%s", jstr(j, "user_id"));
	snprintf(g->session_id, sizeof(g->session_id), "%s", jstr(j, "session_id"));
	g->auth_time = json_integer_value(json_object_get(j, "auth_time"));
	g->factors = json_integer_value(json_object_get(j, "factors"));
	json_decref(j);
	return 0;
}

static enum pc_err grant_store(struct pc_svc *ctx, const char *family, const struct grant *g)
{
	struct pc_oidc_obj *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return PC_ERR_INTERNAL;
	snprintf(o->kind, sizeof(o->kind), "grant");
	snprintf(o->id, sizeof(o->id), "%s", family);
	snprintf(o->owner, sizeof(o->owner), "%s", g->user_id);
	o->expires_at = pc_svc_now(ctx) + ctx->cfg->refresh_token_lifetime_s;
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "client_id", g->client_id, "scope", g->scope, "user_id",
	                      g->user_id, "session_id", g->session_id, "auth_time", (json_int_t)g->auth_time, "factors",
	                      (json_int_t)g->factors);
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	enum pc_err e = PC_ERR_INTERNAL;
	if (s != NULL && strlen(s) < sizeof(o->body)) {
		memcpy(o->body, s, strlen(s) + 1);
		e = pc_store_oidc_put(ctx->store, NULL, NULL, o);
	}
	free(s);
	free(o);
	return e;
}

/* Authenticates the client of a token request into c. */
static enum pc_err client_auth(struct pc_svc *ctx, const struct pc_oidc_token_req *req, struct pc_oidc_client *c,
                               struct pc_oidc_token_out *out)
{
	enum pc_err e = load_client(ctx, req->client_id, c);
	/* one answer for an unknown client and a wrong secret */
	static const char bad[] = "The client could not be authenticated.";
	if (e == PC_ERR_NOT_FOUND) {
		uint8_t h[32];
		secret_hash(h, "x", 1, ctx->cfg->keys, &ctx->cfg->keys->current); /* same work either way */
		oauth_err(out, 401, "invalid_client", bad);
		return PC_OK;
	}
	if (e != PC_OK)
		return e;
	if (c->public_client) {
		if (req->client_secret != NULL && req->client_secret_len > 0)
			oauth_err(out, 401, "invalid_client", bad);
		return PC_OK;
	}
	if (req->client_secret == NULL || req->client_secret_len == 0) {
		oauth_err(out, 401, "invalid_client", bad);
		return PC_OK;
	}
	uint8_t h[32];
	secret_hash(h, req->client_secret, req->client_secret_len, ctx->cfg->keys, &ctx->cfg->keys->current);
	bool ok = sodium_memcmp(h, c->secret_hash, 32) == 0;
	if (!ok && ctx->cfg->keys->has_previous) {
		secret_hash(h, req->client_secret, req->client_secret_len, ctx->cfg->keys, &ctx->cfg->keys->previous);
		ok = sodium_memcmp(h, c->secret_hash, 32) == 0;
	}
	sodium_memzero(h, sizeof(h));
	if (!ok)
		oauth_err(out, 401, "invalid_client", bad);
	return PC_OK;
}

static bool verifier_ok(const char *v)
{
	size_t n = strlen(v);
	if (n < PC_OIDC_VERIFIER_MIN || n > PC_OIDC_VERIFIER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '.' || ch == '_' || ch == '~'))
			return false;
	}
	return true;
}

/* Revokes family (its refresh tokens, their jtis at once, its access
 * tokens and its grant record); what, the audit event's action. */
static void family_revoke(struct pc_svc *ctx, const struct pc_principal *actor, const char *family, const char *type,
                          const char *what)
{
	if (family == NULL || family[0] == '\0')
		return;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, type, "token_family", family, "{s:s}", "action", what);
	enum pc_err e = pc_svc_revoke(ctx, actor, &ev, NULL, 0, family, NULL, NULL);
	if (e != PC_ERR_NOT_FOUND)
		pc_log_if_failed(e, "oidc_revoke", what);
	pc_log_if_failed(pc_store_oidc_delete_owner(ctx->store, "access", family), "oidc_access_delete", what);
	e = pc_store_oidc_delete(ctx->store, NULL, NULL, "grant", family);
	if (e != PC_ERR_NOT_FOUND)
		pc_log_if_failed(e, "oidc_grant_delete", what);
}

/* A code's states: 0 issued, 1 claimed by the redemption issuing its
 * tokens, 2 presented again while that was under way (the winner revokes
 * what it made when it sees this), 3 its family recorded (as a "codefam"
 * record, written before the code leaves 1, so a replay that finds 3
 * always finds the family). */
enum { CODE_NEW = 0, CODE_CLAIMED = 1, CODE_REUSED = 2, CODE_DONE = 3 };

/* A code presented twice: marks it reused while its redemption is under
 * way, else revokes the family it produced. */
static void code_reused(struct pc_svc *ctx, const struct pc_principal *actor, const char *hid)
{
	enum pc_err e = pc_store_oidc_claim(ctx->store, "code", hid, CODE_CLAIMED, CODE_REUSED, pc_svc_now(ctx));
	if (e != PC_OK) {
		struct pc_oidc_obj *o = malloc(sizeof(*o));
		if (o != NULL && pc_store_oidc_get(ctx->store, "codefam", hid, o) == PC_OK)
			family_revoke(ctx, actor, o->body, "oidc.code_reuse", "family revoked");
		free(o);
	}
	pc_log("warning", "oidc_code_reuse", "an authorization code was presented again; its tokens are revoked");
}

static enum pc_err token_code(struct pc_svc *ctx, const struct pc_principal *actor, const struct pc_oidc_client *c,
                              const struct pc_oidc_token_req *req, struct pc_oidc_token_out *out)
{
	uint8_t h[32];
	char hid[65];
	if (req->code == NULL || token_hash(h, req->code, strlen(req->code), "pcoc_", D_CODE) != 0) {
		oauth_err(out, 400, "invalid_grant", "The code is not valid.");
		return PC_OK;
	}
	hex32(hid, h);
	struct pc_oidc_obj *o = malloc(sizeof(*o));
	if (o == NULL)
		return PC_ERR_INTERNAL;
	struct grant g;
	int64_t now = pc_svc_now(ctx);
	enum pc_err e = pc_store_oidc_get(ctx->store, "code", hid, o);
	if (e == PC_ERR_NOT_FOUND) {
		oauth_err(out, 400, "invalid_grant", "The code is not valid.");
		e = PC_OK;
		goto out;
	}
	if (e != PC_OK)
		goto out;
	if (o->state != CODE_NEW) {
		code_reused(ctx, actor, hid);
		oauth_err(out, 400, "invalid_grant", "The code was used already: the tokens it produced are revoked.");
		goto out;
	}
	json_t *j = json_loads(o->body, 0, NULL);
	if (j == NULL || grant_from_json(&g, o->body) != 0) {
		json_decref(j);
		e = PC_ERR_INTERNAL;
		goto out;
	}
	char challenge[64], redirect[PC_OIDC_URI_MAX + 1];
	snprintf(challenge, sizeof(challenge), "%s", jstr(j, "challenge"));
	snprintf(redirect, sizeof(redirect), "%s", jstr(j, "redirect_uri"));
	json_decref(j);
	/* bound to the client, the redirect_uri and the PKCE verifier; a
	 * mismatch does not spend the code */
	if (strcmp(g.client_id, c->id) != 0) {
		oauth_err(out, 400, "invalid_grant", "The code was issued to another client.");
		goto out;
	}
	if (o->expires_at <= now) {
		oauth_err(out, 400, "invalid_grant", "The code has expired.");
		goto out;
	}
	if (req->redirect_uri == NULL || strcmp(req->redirect_uri, redirect) != 0) {
		oauth_err(out, 400, "invalid_grant", "The redirect_uri is not the one of the authorization request.");
		goto out;
	}
	if (challenge[0] != '\0') {
		if (req->code_verifier == NULL || !verifier_ok(req->code_verifier)) {
			oauth_err(out, 400, "invalid_grant", "The code_verifier is missing or malformed.");
			goto out;
		}
		uint8_t dg[32];
		char b64[44];
		crypto_hash_sha256(dg, (const uint8_t *)req->code_verifier, strlen(req->code_verifier));
		pc_b64url_encode(b64, sizeof(b64), dg, sizeof(dg));
		if (sodium_memcmp(b64, challenge, 43) != 0 || strlen(challenge) != 43) {
			oauth_err(out, 400, "invalid_grant", "The code_verifier does not match the code_challenge.");
			goto out;
		}
	} else if (req->code_verifier != NULL) {
		oauth_err(out, 400, "invalid_grant", "A code_verifier for a code issued without a code_challenge.");
		goto out;
	}
	e = pc_store_oidc_claim(ctx->store, "code", hid, CODE_NEW, CODE_CLAIMED, now);
	if (e == PC_ERR_NOT_FOUND) { /* a racing redemption won: its tokens die */
		code_reused(ctx, actor, hid);
		oauth_err(out, 400, "invalid_grant", "The code was used already: the tokens it produced are revoked.");
		e = PC_OK;
		goto out;
	}
	if (e != PC_OK)
		goto out;
	char family[PC_ID_LEN + 1] = "";
	e = issue_tokens(ctx, actor, &g, client_alg(c), g.nonce, NULL, family, out);
	if (e != PC_OK || out->error != NULL)
		goto out;
	e = grant_store(ctx, family, &g);
	/* the code remembers what it produced (before it leaves CLAIMED), then
	 * moves on only if no replay marked it meanwhile; anything else and
	 * the tokens just made are revoked (fail closed) */
	struct pc_oidc_obj *f = calloc(1, sizeof(*f));
	if (f == NULL && e == PC_OK)
		e = PC_ERR_INTERNAL;
	if (e == PC_OK) {
		snprintf(f->kind, sizeof(f->kind), "codefam");
		snprintf(f->id, sizeof(f->id), "%s", hid);
		snprintf(f->owner, sizeof(f->owner), "%s", g.user_id);
		snprintf(f->body, sizeof(f->body), "%s", family);
		f->expires_at = now + ctx->cfg->refresh_token_lifetime_s; /* kept to catch a replay */
		e = pc_store_oidc_put(ctx->store, NULL, NULL, f);
	}
	free(f);
	if (e == PC_OK) {
		e = pc_store_oidc_claim(ctx->store, "code", hid, CODE_CLAIMED, CODE_DONE, now);
		if (e == PC_ERR_NOT_FOUND) {
			family_revoke(ctx, actor, family, "oidc.code_reuse", "family revoked");
			sodium_memzero(out, sizeof(*out));
			oauth_err(out, 400, "invalid_grant", "The code was used already: the tokens it produced are revoked.");
			e = PC_OK;
			goto out;
		}
	}
	if (e != PC_OK) {
		family_revoke(ctx, actor, family, "oidc.code_reuse", "family not recorded");
		sodium_memzero(out, sizeof(*out));
		goto out;
	}
	/* kept to catch a replay for as long as the family lives */
	o->state = CODE_DONE;
	o->expires_at = now + ctx->cfg->refresh_token_lifetime_s;
	pc_log_if_failed(pc_store_oidc_replace(ctx->store, actor, NULL, o), "oidc_code_update", "code expiry");
out:
	free(o);
	return e;
}

static enum pc_err token_refresh(struct pc_svc *ctx, const struct pc_principal *actor,
                                 const struct pc_oidc_client *c, const struct pc_oidc_token_req *req,
                                 struct pc_oidc_token_out *out)
{
	uint8_t h[32];
	if (req->refresh_token == NULL ||
	    token_hash(h, req->refresh_token, strlen(req->refresh_token), "pcor_", D_REFRESH) != 0) {
		oauth_err(out, 400, "invalid_grant", "The refresh token is not valid.");
		return PC_OK;
	}
	struct pc_refresh_token rt;
	bool used = false;
	enum pc_err e = pc_store_refresh_lookup(ctx->store, h, &rt, &used);
	if (e == PC_ERR_NOT_FOUND) {
		oauth_err(out, 400, "invalid_grant", "The refresh token is not valid.");
		return PC_OK;
	}
	if (e != PC_OK)
		return e;
	struct pc_oidc_obj *o = malloc(sizeof(*o));
	if (o == NULL)
		return PC_ERR_INTERNAL;
	struct grant g;
	e = pc_store_oidc_get(ctx->store, "grant", rt.family_id, o);
	if (e == PC_OK && grant_from_json(&g, o->body) != 0)
		e = PC_ERR_INTERNAL;
	free(o);
	if (e == PC_ERR_NOT_FOUND || (e == PC_OK && strcmp(g.client_id, c->id) != 0)) {
		oauth_err(out, 400, "invalid_grant", "The refresh token was not issued to this client.");
		return PC_OK;
	}
	if (e != PC_OK)
		return e;
	/* the API's per-user refresh limit, a budget per client */
	int64_t retry = pc_tokens_refresh_limited(ctx, rt.user_id, c->id);
	if (retry > 0) {
		oauth_err(out, 429, "temporarily_unavailable", "Too many refreshes for this user: try again later.");
		out->retry_after = retry;
		return PC_OK;
	}
	/* who may use the client is asked again at every refresh: the client
	 * (c, loaded by client_auth) and the user as they are now */
	struct pc_user u;
	e = pc_store_user_get(ctx->store, g.user_id, &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e != PC_OK && e != PC_ERR_NOT_FOUND)
		return e;
	const char *why = e == PC_ERR_NOT_FOUND || u.disabled         ? "The user can no longer sign in."
	                  : !groups_allow(c, u.groups)                ? "The user is no longer in a group this client is allowed for."
	                  : c->require_mfa && g.factors < 2           ? "This client now requires a second factor: sign in again."
	                  : !pc_oidc_scopes_within(g.scope, c->scopes) ? "The grant's scope is no longer allowed for this client."
	                                                               : NULL;
	if (why != NULL) {
		family_revoke(ctx, actor, rt.family_id, "oidc.grant_revoke", "client rules no longer allow the grant");
		oauth_err(out, 400, "invalid_grant", why);
		return PC_OK;
	}
	if (req->scope != NULL && !pc_oidc_scopes_within(req->scope, g.scope)) {
		oauth_err(out, 400, "invalid_scope", "The scope asks for more than the grant.");
		return PC_OK;
	}
	if (req->scope != NULL)
		snprintf(g.scope, sizeof(g.scope), "%s", req->scope);
	char family[PC_ID_LEN + 1] = "";
	return issue_tokens(ctx, actor, &g, client_alg(c), NULL, h, family, out);
}

enum pc_err pc_oidc_token(struct pc_svc *ctx, const struct pc_principal *actor, const struct pc_oidc_token_req *req,
                          struct pc_oidc_token_out *out)
{
	memset(out, 0, sizeof(*out));
	if (!oidc_on(ctx))
		return PC_ERR_NOT_FOUND;
	if (req->grant_type == NULL) {
		oauth_err(out, 400, "invalid_request", "grant_type is required.");
		return PC_OK;
	}
	bool code = strcmp(req->grant_type, "authorization_code") == 0,
	     refresh = strcmp(req->grant_type, "refresh_token") == 0;
	if (!code && !refresh) {
		oauth_err(out, 400, "unsupported_grant_type", "Only authorization_code and refresh_token.");
		return PC_OK;
	}
	if (req->client_id == NULL) {
		oauth_err(out, 401, "invalid_client", "The client could not be authenticated.");
		return PC_OK;
	}
	struct pc_oidc_client *c = malloc(sizeof(*c));
	if (c == NULL)
		return PC_ERR_INTERNAL;
	enum pc_err e = client_auth(ctx, req, c, out);
	if (e == PC_OK && out->error == NULL)
		e = code ? token_code(ctx, actor, c, req, out) : token_refresh(ctx, actor, c, req, out);
	free(c);
	return e;
}

enum pc_err pc_oidc_userinfo(struct pc_svc *ctx, const char *token, size_t len, json_t **out)
{
	*out = NULL;
	uint8_t h[32];
	char hid[65];
	if (!oidc_on(ctx) || token_hash(h, token, len, "pcoa_", D_ACCESS) != 0)
		return PC_ERR_NOT_FOUND;
	hex32(hid, h);
	struct pc_oidc_obj *o = malloc(sizeof(*o));
	if (o == NULL)
		return PC_ERR_INTERNAL;
	enum pc_err e = pc_store_oidc_get(ctx->store, "access", hid, o);
	json_t *j = NULL;
	if (e == PC_OK && o->expires_at <= pc_svc_now(ctx))
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK && (j = json_loads(o->body, 0, NULL)) == NULL)
		e = PC_ERR_INTERNAL;
	free(o);
	if (e != PC_OK)
		return e;
	bool revoked = false;
	e = pc_revocation_check(&ctx->auth, jstr(j, "jti"), &revoked);
	if (e == PC_OK && revoked)
		e = PC_ERR_NOT_FOUND;
	/* a deleted client's access tokens end with it (its refresh tokens
	 * already do: the client no longer authenticates at the token endpoint) */
	if (e == PC_OK) {
		struct pc_oidc_obj *co = malloc(sizeof(*co));
		e = co != NULL ? pc_store_oidc_get(ctx->store, "client", jstr(j, "client_id"), co) : PC_ERR_INTERNAL;
		free(co);
	}
	struct pc_user u;
	if (e == PC_OK)
		e = pc_store_user_get(ctx->store, jstr(j, "user_id"), &u);
	sodium_memzero(u.password_hash, sizeof(u.password_hash));
	if (e == PC_OK && u.disabled)
		e = PC_ERR_NOT_FOUND;
	if (e == PC_OK) {
		*out = json_object();
		if (*out != NULL)
			user_claims(*out, &u, jstr(j, "scope"));
		else
			e = PC_ERR_INTERNAL;
	}
	json_decref(j);
	return e;
}

/* ---- logout ---- */

enum pc_err pc_oidc_logout_check(struct pc_svc *ctx, const char *hint, const char *client_id, const char *plr,
                                 const char *state, char *target, size_t cap, const char **why)
{
	target[0] = '\0';
	*why = NULL;
	if (!oidc_on(ctx)) {
		*why = "OpenID Connect is off.";
		return PC_ERR_INVALID;
	}
	char aud[PC_OIDC_KEY_MAX + 1] = "";
	if (hint != NULL) {
		json_t *cl = verify_jwt(ctx, hint);
		const char *a = cl != NULL ? jstr(cl, "aud") : "";
		bool iss_ok = cl != NULL && strcmp(jstr(cl, "iss"), ctx->cfg->public_url) == 0;
		snprintf(aud, sizeof(aud), "%s", a);
		json_decref(cl);
		if (!iss_ok || aud[0] == '\0') {
			*why = "The id_token_hint is not an ID token of this provider.";
			return PC_ERR_INVALID;
		}
		if (client_id != NULL && strcmp(client_id, aud) != 0) {
			*why = "The client_id is not the audience of the id_token_hint.";
			return PC_ERR_INVALID;
		}
	} else if (client_id != NULL) {
		snprintf(aud, sizeof(aud), "%s", client_id);
	}
	if (plr == NULL)
		return PC_OK;
	if (aud[0] == '\0') {
		*why = "A post_logout_redirect_uri needs the client: id_token_hint or client_id.";
		return PC_ERR_INVALID;
	}
	struct pc_oidc_client *c = malloc(sizeof(*c));
	if (c == NULL)
		return PC_ERR_INTERNAL;
	enum pc_err e = load_client(ctx, aud, c);
	bool found = false;
	for (size_t i = 0; e == PC_OK && i < c->n_logout; i++)
		found |= strcmp(c->logout_uris[i], plr) == 0;
	free(c);
	if (e == PC_ERR_NOT_FOUND || (e == PC_OK && !found)) {
		*why = "The post_logout_redirect_uri is not one registered for this client.";
		return PC_ERR_INVALID;
	}
	if (e != PC_OK)
		return e;
	size_t n = (size_t)snprintf(target, cap, "%s", plr);
	if (state != NULL && state[0] != '\0') {
		char enc[PC_OIDC_STATE_MAX * 3 + 1];
		size_t el = 0;
		if (pc_pct_encode(enc, sizeof(enc), &el, state, strlen(state)) != 0)
			enc[0] = '\0';
		n += (size_t)snprintf(target + n, n < cap ? cap - n : 0, "%sstate=%s", strchr(plr, '?') ? "&" : "?", enc);
	}
	if (n >= cap) {
		target[0] = '\0';
		*why = "The post_logout_redirect_uri is too long.";
		return PC_ERR_INVALID;
	}
	return PC_OK;
}

/* ---- consents ---- */

enum pc_err pc_oidc_consents(struct pc_svc *ctx, const struct pc_principal *actor, json_t **out)
{
	*out = NULL;
	if (actor->user_id[0] == '\0')
		return PC_ERR_NOT_FOUND;
	struct pc_oidc_obj *objs = NULL;
	size_t n = 0;
	enum pc_err e = pc_store_oidc_list(ctx->store, "consent", actor->user_id, &objs, &n);
	if (e != PC_OK)
		return e;
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++) {
		json_t *j = json_loads(objs[i].body, 0, NULL);
		if (j == NULL)
			continue;
		struct pc_oidc_client *c = malloc(sizeof(*c));
		if (c != NULL && load_client(ctx, jstr(j, "client_id"), c) == PC_OK)
			json_object_set_new(j, "client_name", json_string(c->name));
		free(c);
		json_array_append_new(a, j);
	}
	free(objs);
	*out = a;
	return a != NULL ? PC_OK : PC_ERR_INTERNAL;
}

enum pc_err pc_oidc_consent_revoke(struct pc_svc *ctx, const struct pc_principal *actor, const char *client_id)
{
	if (actor->user_id[0] == '\0' || strlen(client_id) > PC_ID_LEN)
		return PC_ERR_NOT_FOUND;
	char id[PC_OIDC_KEY_MAX + 1];
	consent_id(id, actor->user_id, client_id);
	if (id[0] == '\0')
		return PC_ERR_NOT_FOUND;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "oidc.consent_revoke", "oidc_client", client_id, NULL);
	enum pc_err e = pc_store_oidc_delete(ctx->store, actor, &ev, "consent", id);
	if (e != PC_OK)
		return e;
	/* what the consent let the client hold ends with it: every grant of
	 * this user for this client (refresh family, access tokens) and the
	 * codes not yet redeemed */
	static const char *const kinds[2] = {"grant", "code"};
	for (int k = 0; e == PC_OK && k < 2; k++) {
		struct pc_oidc_obj *objs = NULL;
		size_t n = 0;
		e = pc_store_oidc_list(ctx->store, kinds[k], actor->user_id, &objs, &n);
		for (size_t i = 0; e == PC_OK && i < n; i++) {
			json_t *j = json_loads(objs[i].body, 0, NULL);
			bool mine = j != NULL && strcmp(jstr(j, "client_id"), client_id) == 0;
			json_decref(j);
			if (!mine)
				continue;
			if (k == 0)
				family_revoke(ctx, actor, objs[i].id, "oidc.grant_revoke", "consent revoked");
			else if (objs[i].state == 0) {
				enum pc_err d = pc_store_oidc_delete(ctx->store, NULL, NULL, "code", objs[i].id);
				if (d != PC_ERR_NOT_FOUND)
					pc_log_if_failed(d, "oidc_code_delete", "consent revoked");
			}
		}
		free(objs);
	}
	return e;
}
