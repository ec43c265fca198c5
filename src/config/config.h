/*
 * config.h — the environment turned into a validated struct pc_config.
 *
 * Every setting is a PORTCULLIS_* environment variable; nothing is read from
 * a file except a secret named by PORTCULLIS_<NAME>_FILE. Loading fails
 * closed: an unknown PORTCULLIS_* variable (a typo), a secret set both
 * directly and through _FILE, a missing, malformed, short, all-zero,
 * repetitive or placeholder secret, or an out-of-range value makes
 * pc_config_load() return -1 with one line in `err` that names the variable
 * and what is wrong — never the value, not even partly. main exits 78
 * (EX_CONFIG) on that.
 *
 * The secret key is decoded into sodium_malloc'd memory that is made
 * read-only after the per-purpose subkeys are derived (crypto_kdf, context
 * "portcull"); pc_config_free() releases and wipes it.
 */
#ifndef PC_CONFIG_CONFIG_H
#define PC_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#include "core/err.h"
#include "core/cidr.h"
#include "core/limits.h"

#define PC_EX_CONFIG 78

/* Per-purpose subkey ids for crypto_kdf_derive_from_key (never reorder). */
enum pc_subkey {
	PC_SUBKEY_SESSION = 1,
	PC_SUBKEY_CSRF = 2,
	PC_SUBKEY_JWT = 3,
	PC_SUBKEY_AUDIT = 4,
	PC_SUBKEY_APIKEY = 5,
	PC_SUBKEY_TOTP = 6,     /* seals TOTP secrets at rest */
	PC_SUBKEY_RECOVERY = 7, /* keys the hashes of recovery codes */
	PC_SUBKEY_OIDC = 8,     /* seals the OIDC signing keys, keys client-secret hashes */
	PC_SUBKEY__COUNT = 9
};

/* One generation of keys: the master and its derived subkeys. `id` is the
 * first byte of BLAKE2b(master) — public, used as the key id in sealed
 * values so a value sealed under the previous key is opened with it. */
struct pc_keyset {
	uint8_t id;
	uint8_t master[PC_SECRET_KEY_BYTES];
	uint8_t sub[PC_SUBKEY__COUNT][PC_SECRET_KEY_BYTES];
};

/* sodium_malloc'd, read-only after load. previous is NULL when not set. */
struct pc_keys {
	struct pc_keyset current;
	struct pc_keyset previous;
	bool has_previous;
	/* PORTCULLIS_JWT_SIGNING_KEY: the Ed25519 seed when PORTCULLIS_JWT_ALG=EdDSA */
	uint8_t jwt_seed[PC_SECRET_KEY_BYTES];
	bool has_jwt_seed;
	/* from PORTCULLIS_REDIS_PASSWORD_FILE / PORTCULLIS_DATABASE_PASSWORD_FILE */
	char redis_password[256];
	char database_password[256];
	/* PORTCULLIS_SMTP_PASSWORD (or its _FILE); "" : none */
	char smtp_password[256];
};

struct pc_listen {
	char host[64];   /* numeric IPv4 or IPv6 address, no brackets */
	uint16_t port;   /* 0: the kernel picks one (the server logs which) */
	/* "unix:/path": a unix socket at this absolute path (host, port unused) */
	char path[PC_UNIX_PATH_MAX + 1];
};


enum pc_xss_mode { PC_XSS_OFF = 0, PC_XSS_BLOCK = 1 };
enum pc_jwt_alg_cfg { PC_CFG_JWT_HS256 = 0, PC_CFG_JWT_EDDSA = 1 };
enum pc_audit_format { PC_AUDIT_JSON = 0, PC_AUDIT_TEXT = 1 };
enum pc_require_2fa { PC_REQUIRE_2FA_NONE = 0, PC_REQUIRE_2FA_ADMINS = 1, PC_REQUIRE_2FA_ALL = 2 };

struct pc_config {
	struct pc_listen listen[PC_MAX_LISTEN];
	size_t n_listen;
	unsigned threads;                  /* loops; default: number of cores */
	unsigned header_timeout_ms;
	unsigned body_timeout_ms;
	unsigned idle_timeout_ms;
	unsigned shutdown_timeout_ms;
	unsigned max_connections;
	unsigned max_connections_per_addr;
	uint64_t max_body_bytes;
	struct pc_cidr trusted_proxies[PC_MAX_TRUSTED_PROXIES];
	size_t n_trusted_proxies;
	bool trust_unix; /* "unix" in PORTCULLIS_TRUSTED_PROXIES: unix-socket peers */
	bool access_log;
	enum pc_xss_mode xss_protection;
	char database_url[1024];           /* may hold a password: print masked */
	struct pc_keys *keys;              /* NULL when keys were not required */

	/* users and sessions */
	char cookie_domain[256];           /* "" : host-only __Host- cookie */
	int64_t session_lifetime_s;        /* absolute, default 30 days */
	int64_t session_idle_s;            /* idle timeout, default 7 days */
	unsigned long long pwhash_opslimit; /* Argon2id t, >= 2 */
	size_t pwhash_memlimit;            /* Argon2id m in bytes, >= 19 MiB */
	unsigned login_max_failures;       /* per account, default 10 */
	unsigned login_max_failures_per_address; /* per client address, default 10 x the above */
	int64_t login_window_s;            /* default 15 minutes */
	enum pc_require_2fa require_second_factor; /* default admins */

	/* CSRF: origins (besides the service's own) allowed on unsafe requests */
	char allowed_origins[PC_MAX_ALLOWED_ORIGINS][256];
	size_t n_allowed_origins;

	/* API keys */
	bool api_keys_can_admin;           /* keys may manage users and keys */

	/* audit stream: "stderr", "off" or a file path */
	char audit_log[1024];
	char access_rules_file[1024];      /* "" : none */
	char breached_passwords_file[1024]; /* "" : none */
	int password_min_score;            /* zxcvbn score a new password must reach, 2-4 */
	enum pc_audit_format audit_format;
	bool log_text;                     /* PORTCULLIS_LOG_FORMAT=text */

	/* tokens */
	char issuer[256];
	char audience[256];
	enum pc_jwt_alg_cfg jwt_alg;
	int64_t access_token_lifetime_s;   /* default 15 minutes */
	int64_t jwt_leeway_s;              /* 0..60, default 30 */
	int64_t refresh_token_lifetime_s;  /* default 30 days */
	unsigned refresh_limit;            /* refreshes per user per hour, default 5 */

	/* forward auth */
	bool verify_csrf;                  /* forwarded unsafe methods need a CSRF token */
	bool auth_assertion;               /* send X-Auth-Assertion to the upstream */
	int64_t verify_cache_s;            /* session/API key validity cache, 0 = off */
	char allowed_redirects[PC_MAX_ALLOWED_ORIGINS][256];
	size_t n_allowed_redirects;

	/* PORTCULLIS_PUBLIC_URL: where users reach portcullis ("" : unset);
	 * links in mail, portal redirects, the WebAuthn origin, the OIDC issuer */
	char public_url[512];              /* as configured, no trailing slash */
	char public_origin[256];           /* scheme://host[:port] */
	char public_host[256];             /* host only */
	bool public_https;
	char path_prefix[PC_PATH_PREFIX_MAX + 1]; /* PORTCULLIS_PATH_PREFIX, "/.portcullis" */

	/* email (PORTCULLIS_SMTP_*): off while smtp_url is "" */
	char smtp_url[512];                /* smtp://host[:port] or smtps://host[:port] */
	bool smtp_implicit_tls;            /* smtps:// */
	char smtp_user[256];
	char smtp_from[256];               /* addr-spec (core/mail.h) */
	bool smtp_insecure;                /* no TLS at all: a local relay only */
	char smtp_ca_file[1024];           /* extra trust anchor ("" : the system's) */
	char webauthn_rp_id[256];          /* '' = passkeys off; else public_host or a suffix of it */

	/* many instances */
	char redis_url[1024];              /* "" : the in-process kv */
	bool revocation_fail_open;         /* Redis down: accept bearer tokens unchecked */
	char redis_password_file[1024];
	char database_password_file[1024];
};

/*
 * Loads the configuration from `envp` (a NULL-terminated environ-style
 * array). need_keys: whether PORTCULLIS_SECRET_KEY is required (serve and
 * the commands that touch data) or ignored if absent (keygen, version).
 * Returns 0, or -1 with one line (no trailing newline) in err.
 * On success the caller owns cfg->keys: release with pc_config_free().
 */
PC_MUST_USE int pc_config_load(struct pc_config *cfg, char *const *envp, bool need_keys,
                               char *err, size_t errlen);

/* Wipes and frees the keys; safe on a zeroed or already freed config. */
void pc_config_free(struct pc_config *cfg);

/* Prints the effective configuration, one VAR=value per line, secrets as
 * "(set, 32 bytes)" and URL passwords as "****". */
void pc_config_print(const struct pc_config *cfg, FILE *out);

/* Writes "PORTCULLIS_SECRET_KEY=<base64 of 32 fresh random bytes>\n". */
PC_MUST_USE int pc_config_keygen(FILE *out);
/* Writes the bare "<base64 of 32 fresh random bytes>\n", for a credential
 * file named by a _FILE variable. */
PC_MUST_USE int pc_config_keygen_value(FILE *out);


/* The variable table, for `--help` and the README: name, default, meaning. */
struct pc_config_var {
	const char *name;
	const char *default_value;
	const char *help;
	bool secret;           /* also accepted as <name>_FILE */
	bool empty_ok;         /* set but empty means the same as unset */
};
extern const struct pc_config_var pc_config_vars[];
extern const size_t pc_config_n_vars;

#endif
