/*
 * csrf.c — see csrf.h.
 */
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

void pc_csrf_issue(char out[PC_CSRF_TOKEN_LEN + 1], const struct pc_keys *keys,
                   const char *session_id, int64_t now)
{
	uint8_t raw[PC_CSRF_RAW_BYTES];
	raw[0] = keys->current.id;
	raw[OFF_KIND] = session_id != NULL ? 1 : 0;
	randombytes_buf(raw + OFF_NONCE, 32);
	put_be64(raw + OFF_EXP, (uint64_t)(now + PC_CSRF_LIFETIME_S));
	mac_of(raw + OFF_MAC, &keys->current, raw, session_id);
	pc_b64url_encode(out, PC_CSRF_TOKEN_LEN + 1, raw, sizeof(raw));
}

enum pc_csrf_status pc_csrf_verify(const char *token, size_t len, const struct pc_keys *keys,
                                   const char *session_id, int64_t now)
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
	if (exp > (uint64_t)INT64_MAX || (int64_t)exp <= now)
		st = PC_CSRF_EXPIRED;
out:
	sodium_memzero(mac, sizeof(mac));
	return st;
}

int pc_csrf_cookie_header(char *out, size_t cap, const char *token)
{
	int n = snprintf(out, cap, "%s=%s; Path=/; Secure; SameSite=Strict; Max-Age=%d",
	                 PC_CSRF_COOKIE, token, PC_CSRF_LIFETIME_S);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}
