/* session.c — see session.h. */
#include "auth/session.h"
#include "core/b64url.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const unsigned char ad[] = "portcullis session v1";

static void put_be64(uint8_t *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(u & 0xff);
		u >>= 8;
	}
}

static int64_t get_be64(const uint8_t *p)
{
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u = (u << 8) | p[i];
	return (int64_t)u;
}

void pc_session_seal(char out[PC_SESSION_COOKIE_LEN + 1], const uint8_t secret[PC_SESSION_SECRET_BYTES],
                     int64_t expires_at, const struct pc_keys *keys)
{
	uint8_t plain[PC_SESSION_SECRET_BYTES + 8];
	uint8_t sealed[PC_SESSION_SEALED_BYTES];
	memcpy(plain, secret, PC_SESSION_SECRET_BYTES);
	put_be64(plain + PC_SESSION_SECRET_BYTES, expires_at);
	sealed[0] = keys->current.id;
	randombytes_buf(sealed + 1, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + 25, NULL, plain, sizeof(plain), ad,
	                                           sizeof(ad) - 1, NULL, sealed + 1,
	                                           keys->current.sub[PC_SUBKEY_SESSION]);
	sodium_bin2base64(out, PC_SESSION_COOKIE_LEN + 1, sealed, sizeof(sealed),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(plain, sizeof(plain));
}

static int try_open(uint8_t *plain, const uint8_t *sealed, const struct pc_keyset *ks)
{
	unsigned long long pl;
	return crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &pl, NULL, sealed + 25,
	                                                  PC_SESSION_SEALED_BYTES - 25, ad,
	                                                  sizeof(ad) - 1, sealed + 1,
	                                                  ks->sub[PC_SUBKEY_SESSION]);
}

enum pc_cookie_status pc_session_open(uint8_t secret[PC_SESSION_SECRET_BYTES], int64_t *expires_at,
                                      const char *value, size_t len,
                                      const struct pc_keys *keys, int64_t now)
{
	uint8_t sealed[PC_SESSION_SEALED_BYTES];
	uint8_t plain[PC_SESSION_SECRET_BYTES + 8];
	size_t bin_len = 0;
	enum pc_cookie_status st = PC_COOKIE_TAMPERED;

	memset(secret, 0, PC_SESSION_SECRET_BYTES);
	*expires_at = 0;
	if (len != PC_SESSION_COOKIE_LEN)
		goto out;
	if (pc_b64url_decode(sealed, sizeof(sealed), &bin_len, value, len) != 0 ||
	    bin_len != sizeof(sealed))
		goto out;
	int opened = -1;
	if (sealed[0] == keys->current.id)
		opened = try_open(plain, sealed, &keys->current);
	if (opened != 0 && keys->has_previous && sealed[0] == keys->previous.id)
		opened = try_open(plain, sealed, &keys->previous);
	if (opened != 0)
		goto out;
	int64_t exp = get_be64(plain + PC_SESSION_SECRET_BYTES);
	if (exp <= now) {
		st = PC_COOKIE_EXPIRED;
		goto out;
	}
	memcpy(secret, plain, PC_SESSION_SECRET_BYTES);
	*expires_at = exp;
	st = PC_COOKIE_OK;
out:
	sodium_memzero(plain, sizeof(plain));
	sodium_memzero(sealed, sizeof(sealed));
	return st;
}

void pc_session_secret_hash(uint8_t out[32], const uint8_t secret[PC_SESSION_SECRET_BYTES])
{
	crypto_generichash(out, 32, secret, PC_SESSION_SECRET_BYTES, NULL, 0);
}

const char *pc_session_cookie_name(const struct pc_config *cfg)
{
	return cfg->cookie_domain[0] ? "__Secure-portcullis_session" : "__Host-portcullis_session";
}

int pc_session_cookie_header(char *out, size_t cap, const struct pc_config *cfg,
                             const char *value, int64_t max_age)
{
	int n;
	if (cfg->cookie_domain[0])
		n = snprintf(out, cap, "%s=%s; Path=/; Domain=%s; Secure; HttpOnly; SameSite=Strict; Max-Age=%lld",
		             pc_session_cookie_name(cfg), value, cfg->cookie_domain, (long long)max_age);
	else
		n = snprintf(out, cap, "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%lld",
		             pc_session_cookie_name(cfg), value, (long long)max_age);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int64_t pc_session_touch_interval(int64_t idle_s)
{
	int64_t i = idle_s / 4;
	return i > PC_SESSION_TOUCH_MAX ? PC_SESSION_TOUCH_MAX : i < 1 ? 1 : i;
}
