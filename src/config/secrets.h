/*
 * secrets.h — the configuration's keys and passwords (secrets.c): loading
 * PORTCULLIS_SECRET_KEY (and _PREVIOUS, the JWT signing key, the password
 * files) into cfg->keys, and making a fresh key for `portcullis keygen`.
 */
#ifndef PC_CONFIG_SECRETS_H
#define PC_CONFIG_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/err.h"

/* A secret variable may be set as <name> or <name>_FILE (a path). */
#define PC_CONFIG_FILE_SUFFIX "_FILE"

/* One secret variable: its name (for errors; "<name>_FILE" is its file
 * form), its text, or the path its _FILE names; either or both NULL. */
struct pc_secret_source {
	const char *name;
	const char *value;
	const char *path;
};

struct pc_secret_sources {
	struct pc_secret_source key;      /* PORTCULLIS_SECRET_KEY */
	struct pc_secret_source previous; /* PORTCULLIS_SECRET_KEY_PREVIOUS */
	struct pc_secret_source jwt;      /* PORTCULLIS_JWT_SIGNING_KEY */
	struct pc_secret_source smtp_password; /* PORTCULLIS_SMTP_PASSWORD: text, not a key */
	/* names of the password-file variables; their paths are already in
	 * cfg->redis_password_file / database_password_file */
	const char *redis_password_file;
	const char *database_password_file;
};

/*
 * Loads and checks every key (see config.h for what is refused), derives the
 * subkeys and puts them into cfg->keys (sodium_malloc, read-only; released by
 * pc_config_free). cfg->jwt_alg and the password-file paths must be loaded.
 * No key set and !need_keys: 0 with cfg->keys NULL. Returns 0, or -1 with one
 * line in err that quotes no value.
 */
PC_MUST_USE int pc_config_load_keys(struct pc_config *cfg, const struct pc_secret_sources *src,
                                    bool need_keys, char *err, size_t errlen);

/* Room for a key's text: standard base64 of PC_SECRET_KEY_BYTES, and NUL. */
#define PC_CONFIG_KEY_TEXT_MAX 45

/* Fresh random key text that pc_config_load_keys accepts, into text[cap]
 * (cap >= PC_CONFIG_KEY_TEXT_MAX). 0, or -1 (text wiped). WARNING: text is
 * a secret: the caller wipes it. */
PC_MUST_USE int pc_config_key_new(char *text, size_t cap);

#endif
