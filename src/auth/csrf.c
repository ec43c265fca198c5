/*
 * csrf.c — see csrf.h.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/csrf.h"
#include "core/b64url.h"

#define OFF_KIND 1
#define OFF_NONCE 2
#define OFF_EXP (OFF_NONCE + 32)
#define OFF_MAC (OFF_EXP + 8)

_Static_assert(OFF_MAC + 32 == PC_CSRF_RAW_BYTES, "token layout");

static const char domain_tag[] = "pc-csrf-v1";

static void mac_of(uint8_t mac[32], const struct pc_keyset *ks, const uint8_t *raw,
                   const char *binding)
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, ks->sub[PC_SUBKEY_CSRF], PC_SECRET_KEY_BYTES);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)domain_tag, sizeof(domain_tag) - 1);
	crypto_auth_hmacsha256_update(&st, raw + OFF_KIND, OFF_MAC - OFF_KIND);
	if (binding != NULL)
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)binding, strlen(binding));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The second half of a pre-session token's nonce. */
#define OFF_BIND (OFF_NONCE + 16)

static void presession_hash(uint8_t out[16], const char *id, size_t len)
{
	static const uint8_t personal[crypto_generichash_blake2b_PERSONALBYTES] = "pc-presession-1";
	crypto_generichash_blake2b_salt_personal(out, 16, (const uint8_t *)id, len, NULL, 0, NULL, personal);
}

void pc_csrf_issue(char out[PC_CSRF_TOKEN_LEN + 1], const struct pc_keys *keys, const char *session_id,
                   const char *presession, int64_t now)
{
	uint8_t raw[PC_CSRF_RAW_BYTES];
	assert(session_id != NULL || presession != NULL);
	raw[0] = keys->current.id;
	raw[OFF_KIND] = session_id != NULL ? 1 : 0;
	randombytes_buf(raw + OFF_NONCE, 32);
	if (session_id == NULL)
		presession_hash(raw + OFF_BIND, presession, strlen(presession));
	put_be64(raw + OFF_EXP, (uint64_t)(now + PC_CSRF_LIFETIME_S));
	mac_of(raw + OFF_MAC, &keys->current, raw, session_id);
	pc_b64url_encode(out, PC_CSRF_TOKEN_LEN + 1, raw, sizeof(raw));
}

enum pc_csrf_status pc_csrf_verify(const char *token, size_t len, const struct pc_keys *keys,
                                   const char *session_id, const char *presession, size_t presession_len,
                                   int64_t now)
{
	uint8_t raw[PC_CSRF_RAW_BYTES];
	size_t n = 0;
	if (len != PC_CSRF_TOKEN_LEN ||
	    pc_b64url_decode(raw, sizeof(raw), &n, token, len) != 0 || n != sizeof(raw))
		return PC_CSRF_INVALID;
	const struct pc_keyset *ks = NULL;
	if (raw[0] == keys->current.id)
		ks = &keys->current;
	else if (keys->has_previous && raw[0] == keys->previous.id)
		ks = &keys->previous;
	if (ks == NULL || raw[OFF_KIND] > 1)
		return PC_CSRF_INVALID;
	/* The MAC covers the binding, so a token of another session, or a
	 * pre-session token, fails here too. Tell those apart from forgery for
	 * the metrics: a token that verifies with the binding it claims (kind)
	 * but not with this request's is "wrong_binding". */
	const char *want = raw[OFF_KIND] == 1 ? session_id : NULL;
	uint8_t mac[32];
	enum pc_csrf_status st = PC_CSRF_OK;
	if ((raw[OFF_KIND] == 1) != (session_id != NULL)) {
		st = PC_CSRF_WRONG_BINDING;
		if (raw[OFF_KIND] == 1) /* session token on a session-less request */
			goto out;
		/* pre-session token on a request with a session: authentic? */
		mac_of(mac, ks, raw, NULL);
		if (sodium_memcmp(mac, raw + OFF_MAC, 32) != 0)
			st = PC_CSRF_INVALID;
		goto out;
	}
	mac_of(mac, ks, raw, want);
	if (sodium_memcmp(mac, raw + OFF_MAC, 32) != 0) {
		st = raw[OFF_KIND] == 1 ? PC_CSRF_WRONG_BINDING : PC_CSRF_INVALID;
		goto out;
	}
	uint64_t exp = get_be64(raw + OFF_EXP);
	if (exp > (uint64_t)INT64_MAX || (int64_t)exp <= now) {
		st = PC_CSRF_EXPIRED;
		goto out;
	}
	if (raw[OFF_KIND] == 0) {
		/* the MAC held, so the nonce is ours: is it this client's? */
		if (presession == NULL) {
			st = PC_CSRF_WRONG_BINDING;
			goto out;
		}
		presession_hash(mac, presession, presession_len);
		if (sodium_memcmp(mac, raw + OFF_BIND, 16) != 0)
			st = PC_CSRF_WRONG_BINDING;
	}
out:
	sodium_memzero(mac, sizeof(mac));
	return st;
}

void pc_csrf_presession_new(char out[PC_CSRF_PRESESSION_LEN + 1])
{
	uint8_t id[32];
	randombytes_buf(id, sizeof(id));
	pc_b64url_encode(out, PC_CSRF_PRESESSION_LEN + 1, id, sizeof(id));
	sodium_memzero(id, sizeof(id));
}

bool pc_csrf_presession_valid(const char *s, size_t len)
{
	uint8_t id[32];
	size_t n = 0;
	bool ok = len == PC_CSRF_PRESESSION_LEN && pc_b64url_decode(id, sizeof(id), &n, s, len) == 0 &&
	          n == sizeof(id);
	sodium_memzero(id, sizeof(id));
	return ok;
}

int pc_csrf_presession_cookie_header(char *out, size_t cap, const char *id)
{
	int n = snprintf(out, cap, "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%d",
	                 PC_CSRF_PRESESSION_COOKIE, id, PC_CSRF_LIFETIME_S);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int pc_csrf_cookie_header(char *out, size_t cap, const char *token)
{
	int n = snprintf(out, cap, "%s=%s; Path=/; Secure; SameSite=Strict; Max-Age=%d",
	                 PC_CSRF_COOKIE, token, PC_CSRF_LIFETIME_S);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}
