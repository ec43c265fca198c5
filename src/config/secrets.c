/*
 * secrets.c — the keys and passwords of the configuration: reading them from
 * a variable or a _FILE, refusing what is not a real key, and deriving the
 * per-purpose subkeys (crypto_kdf, context "portcull").
 *
 * Secret text is held only in buffers on the stack that are wiped with
 * sodium_memzero on every path; decoded keys go straight into
 * sodium_malloc'd memory that is read-only once the subkeys are derived.
 * Errors name the variable and never quote its value.
 */
#include "config/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/b64url.h"

#define FILE_SUFFIX PC_CONFIG_FILE_SUFFIX

_Static_assert(PC_CONFIG_KEY_TEXT_MAX ==
                   sodium_base64_ENCODED_LEN(PC_SECRET_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL),
               "room for a key's text");

/* Secret files: a key is 44 characters; 4 KiB is far above any sane file
 * and bounds what we read from a path we were handed. */
#define SECRET_FILE_MAX 4096

/* A key text longer than this cannot be base64 of 32 bytes (44 + slack). */
#define SECRET_TEXT_MAX 64

/* Fewer distinct byte values than this in 32 bytes: not random. For 32
 * random bytes the chance is below 2^-100. */
#define KEY_MIN_DISTINCT 8

#define KDF_CONTEXT "portcull"
_Static_assert(sizeof(KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "kdf context is 8 bytes");
_Static_assert(PC_SECRET_KEY_BYTES == crypto_kdf_KEYBYTES, "master key is a kdf key");
_Static_assert(PC_SECRET_KEY_BYTES >= crypto_kdf_BYTES_MIN && PC_SECRET_KEY_BYTES <= crypto_kdf_BYTES_MAX,
               "subkeys are kdf outputs");

/* Words that mark a value someone meant to replace. Matched in the text
 * lowercased with everything but letters and digits removed, so
 * CHANGE_ME, change-me and changeme are all one word. Six characters or
 * more, so a random key (43 base64 characters, each letter matching with
 * probability 1/32) contains one by chance with probability below 1e-7;
 * keygen draws again in that case, so it never prints one. */
static const char *const placeholders[] = {
	"changeme", "secret", "example", "placeholder", "replaceme", "password", "default",
	"insecure", "yourkey", "keyhere", "xxxxxxxx", "letmein", "123456",
};

static bool looks_like_placeholder(const char *text, size_t len)
{
	char norm[SECRET_FILE_MAX];
	size_t n = 0;
	bool found = false;
	for (size_t i = 0; i < len && n < sizeof(norm); i++) {
		unsigned char c = (unsigned char)text[i];
		if (c >= 'A' && c <= 'Z')
			norm[n++] = (char)(c - 'A' + 'a');
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			norm[n++] = (char)c;
	}
	for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]) && !found; i++)
		found = memmem(norm, n, placeholders[i], strlen(placeholders[i])) != NULL;
	sodium_memzero(norm, sizeof(norm));
	return found;
}

/* Error wording: no value is quoted, and the fixed text avoids phrases a
 * malformed value might share (" base64 ", " is not "), so a test that
 * looks for any 8 characters of the value in the output stays meaningful. */
#define HOWTO "expected 32 random bytes, base64-encoded, from `portcullis keygen`"
_Static_assert(PC_SECRET_KEY_BYTES == 32, "HOWTO names the key size");

static bool b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
	       c == '-' || c == '_';
}

/* All 32 bytes printable ASCII (0x20-0x7e): typed text, at most 32 x 6.6
 * bits and far fewer for words. 32 random bytes are all printable with
 * probability (95/256)^32 < 1e-13. */
static bool printable_text(const uint8_t k[PC_SECRET_KEY_BYTES])
{
	for (size_t i = 0; i < PC_SECRET_KEY_BYTES; i++)
		if (k[i] < 0x20 || k[i] > 0x7e)
			return false;
	return true;
}

/* An arithmetic progression modulo 256 (00 01 02 .., ff fe fd .., 10 20
 * 30 ..): two bytes of information. Random: probability 2^-240. */
static bool counter(const uint8_t k[PC_SECRET_KEY_BYTES])
{
	uint8_t step = (uint8_t)(k[1] - k[0]);
	for (size_t i = 2; i < PC_SECRET_KEY_BYTES; i++)
		if ((uint8_t)(k[i] - k[i - 1]) != step)
			return false;
	return true;
}

/*
 * Turns key text into 32 key bytes, refusing everything config.h lists.
 * Accepts standard (RFC 4648 §4) or URL-safe (§5) base64, padded or not,
 * but only canonically: one alphabet, exact padding if any, zero spare
 * bits. `name` is used in the error; the text never is. out is wiped on
 * failure.
 */
static int decode_key(uint8_t out[PC_SECRET_KEY_BYTES], const char *name, const char *text, size_t len,
                      char *err, size_t errlen)
{
	char tmp[SECRET_TEXT_MAX];
	bool seen[256];
	size_t n = len, pad = 0, got, distinct = 0;
	bool std = false, url = false;
	int rc = -1;

	sodium_memzero(out, PC_SECRET_KEY_BYTES);
	memset(seen, 0, sizeof(seen));
	if (len == 0) {
		pc_errf(err, errlen, "%s is empty; generate a key with `portcullis keygen`", name);
		goto out;
	}
	if (looks_like_placeholder(text, len)) {
		pc_errf(err, errlen, "%s looks like a value meant to be replaced, not a key; generate one with "
		     "`portcullis keygen`", name);
		goto out;
	}
	while (n > 0 && text[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		if (!b64_char(c)) {
			pc_errf(err, errlen, "%s is malformed (a character outside base64); " HOWTO, name);
			goto out;
		}
		std |= c == '+' || c == '/';
		url |= c == '-' || c == '_';
	}
	if (std && url) {
		pc_errf(err, errlen, "%s is malformed (it mixes the standard and the URL-safe alphabet); " HOWTO, name);
		goto out;
	}
	if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0)) {
		pc_errf(err, errlen, "%s is malformed (wrong length or padding); " HOWTO, name);
		goto out;
	}
	got = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (got != PC_SECRET_KEY_BYTES) {
		pc_errf(err, errlen, "%s decodes to %zu bytes; " HOWTO, name, got);
		goto out;
	}
	/* n <= 44 here; map onto the URL-safe alphabet for the strict decoder */
	for (size_t i = 0; i < n; i++)
		tmp[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : text[i];
	if (pc_b64url_decode(out, PC_SECRET_KEY_BYTES, &got, tmp, n) != 0 || got != PC_SECRET_KEY_BYTES) {
		pc_errf(err, errlen, "%s is malformed (stray bits in the last character); " HOWTO, name);
		goto out;
	}
	for (size_t i = 0; i < PC_SECRET_KEY_BYTES; i++) {
		distinct += !seen[out[i]];
		seen[out[i]] = true;
	}
	if (sodium_is_zero(out, PC_SECRET_KEY_BYTES)) {
		pc_errf(err, errlen, "%s is all zero bytes; generate a key with `portcullis keygen`", name);
		goto out;
	}
	if (distinct == 1) {
		pc_errf(err, errlen, "%s repeats a single byte value; generate a key with `portcullis keygen`", name);
		goto out;
	}
	if (distinct < KEY_MIN_DISTINCT) {
		pc_errf(err, errlen, "%s is repetitive (fewer than %d distinct byte values), not random; generate a "
		     "key with `portcullis keygen`", name, KEY_MIN_DISTINCT);
		goto out;
	}
	if (printable_text(out)) {
		pc_errf(err, errlen, "%s decodes to printable text (a passphrase, not 256 random bits); generate a "
		     "key with `portcullis keygen`", name);
		goto out;
	}
	if (counter(out)) {
		pc_errf(err, errlen, "%s is a counting sequence (each byte a fixed step from the one before), not "
		     "random; generate a key with `portcullis keygen`", name);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(tmp, sizeof(tmp));
	sodium_memzero(seen, sizeof(seen));
	if (rc != 0)
		sodium_memzero(out, PC_SECRET_KEY_BYTES);
	return rc;
}

/* Reads a secret file into buf (SECRET_FILE_MAX + 1 bytes), dropping one
 * trailing "\n" or "\r\n". Only regular files: a FIFO could block start-up
 * forever. The path is not quoted in errors (it is the variable's value). */
static int read_secret_file(char *buf, size_t *len, const char *fname, const char *path, char *err,
                            size_t errlen)
{
	struct stat st;
	size_t n = 0;
	int fd, rc = -1;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return pc_errf(err, errlen, "%s: cannot open the file: %s", fname, strerror(errno));
	if (fstat(fd, &st) != 0) {
		pc_errf(err, errlen, "%s: cannot read the file: %s", fname, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pc_errf(err, errlen, "%s does not name a regular file", fname);
		goto out;
	}
	while (n < SECRET_FILE_MAX + 1) {
		ssize_t r = read(fd, buf + n, SECRET_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pc_errf(err, errlen, "%s: cannot read the file: %s", fname, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > SECRET_FILE_MAX) {
		pc_errf(err, errlen, "%s: the file is larger than %d bytes", fname, SECRET_FILE_MAX);
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n') {
		n--;
		if (n > 0 && buf[n - 1] == '\r')
			n--;
	}
	*len = n;
	rc = 0;
out:
	close(fd);
	if (rc != 0)
		sodium_memzero(buf, SECRET_FILE_MAX + 1);
	return rc;
}

/* A secret file may hold the whole line `portcullis keygen` prints,
 * NAME=value, when NAME is the file's own variable (or, for the previous
 * key, PORTCULLIS_SECRET_KEY: the old key file kept as it was): the value is
 * moved to the front of buf. A NAME=value line for another variable is
 * refused, naming `keygen --value`; the file's text is never quoted.
 * 0 (buf/len maybe changed), or -1. */
static int strip_env_name(char *buf, size_t *len, const char *fname, const char *name, const char *alt,
                          char *err, size_t errlen)
{
	static const char pfx[] = "PORTCULLIS_";
	size_t n = *len, eq = 0;
	if (n < sizeof(pfx) - 1 || memcmp(buf, pfx, sizeof(pfx) - 1) != 0)
		return 0;
	while (eq < n && buf[eq] != '=')
		eq++;
	if (eq == n)
		return 0;
	bool mine = (strlen(name) == eq && memcmp(buf, name, eq) == 0) ||
	            (alt != NULL && strlen(alt) == eq && memcmp(buf, alt, eq) == 0);
	if (!mine)
		return pc_errf(err, errlen, "%s: the file holds a NAME=value line for another variable; put the "
		               "bare value in it (`portcullis keygen --value`)", fname);
	memmove(buf, buf + eq + 1, n - eq - 1);
	sodium_memzero(buf + n - eq - 1, eq + 1);
	*len = n - eq - 1;
	return 0;
}

/* Decodes secret src from its value or its _FILE into out.
 * Returns 1 when loaded, 0 when neither is set, -1 on error. */
static int load_secret(uint8_t out[PC_SECRET_KEY_BYTES], const struct pc_secret_source *src, const char *alt,
                       char *err, size_t errlen)
{
	const char *name = src->name, *value = src->value, *path = src->path;
	char fname[64];
	char buf[SECRET_FILE_MAX + 1];
	size_t len = 0;
	int rc = -1;
	snprintf(fname, sizeof(fname), "%s" FILE_SUFFIX, name);
	if (value == NULL && path == NULL)
		return 0;
	if (value != NULL && path != NULL)
		return pc_errf(err, errlen, "both %s and %s are set; set only one", name, fname);
	if (value != NULL) {
		rc = decode_key(out, name, value, strlen(value), err, errlen);
	} else if (path[0] == '\0') {
		rc = pc_errf(err, errlen, "%s is empty; unset it or name the key file", fname);
	} else if (read_secret_file(buf, &len, fname, path, err, errlen) == 0 &&
	           strip_env_name(buf, &len, fname, name, alt, err, errlen) == 0) {
		/* the problem is in the file's content: name the _FILE variable */
		rc = decode_key(out, fname, buf, len, err, errlen);
	}
	sodium_memzero(buf, sizeof(buf));
	return rc == 0 ? 1 : -1;
}

/* A password file (any printable text, one trailing newline allowed) into
 * out; nothing when path is empty. */
static int load_password_file(char *out, size_t cap, const char *name, const char *path, char *err,
                              size_t errlen)
{
	char buf[SECRET_FILE_MAX + 1];
	size_t len = 0;
	if (path[0] == '\0')
		return 0;
	if (read_secret_file(buf, &len, name, path, err, errlen) != 0)
		return -1;
	int rc = 0;
	if (len == 0 || len >= cap)
		rc = pc_errf(err, errlen, "%s: the password must be 1 to %zu bytes", name, cap - 1);
	for (size_t i = 0; rc == 0 && i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			rc = pc_errf(err, errlen, "%s: the password contains a control character", name);
	if (rc == 0) {
		memcpy(out, buf, len);
		out[len] = '\0';
	}
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

/* A password secret (text) from its value or its _FILE into out:
 * printable, 1..cap-1 bytes; nothing when neither is set. */
static int load_password_secret(char *out, size_t cap, const struct pc_secret_source *src, char *err,
                                size_t errlen)
{
	char fname[64];
	snprintf(fname, sizeof(fname), "%s" FILE_SUFFIX, src->name);
	if (src->value == NULL && src->path == NULL)
		return 0;
	if (src->value != NULL && src->path != NULL)
		return pc_errf(err, errlen, "both %s and %s are set; set only one", src->name, fname);
	if (src->path != NULL) {
		if (src->path[0] == '\0')
			return pc_errf(err, errlen, "%s is empty; unset it or name the password file", fname);
		return load_password_file(out, cap, fname, src->path, err, errlen);
	}
	size_t len = strlen(src->value);
	if (len == 0 || len >= cap)
		return pc_errf(err, errlen, "%s: the password must be 1 to %zu bytes", src->name, cap - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)src->value[i] < 0x20 || src->value[i] == 0x7f)
			return pc_errf(err, errlen, "%s: the password contains a control character", src->name);
	memcpy(out, src->value, len + 1);
	return 0;
}

static void derive(struct pc_keyset *ks)
{
	uint8_t h[crypto_generichash_BYTES];
	crypto_generichash(h, sizeof(h), ks->master, sizeof(ks->master), NULL, 0);
	ks->id = h[0];
	sodium_memzero(h, sizeof(h));
	for (uint64_t i = 1; i < PC_SUBKEY__COUNT; i++)
		crypto_kdf_derive_from_key(ks->sub[i], sizeof(ks->sub[i]), i, KDF_CONTEXT, ks->master);
}

int pc_config_load_keys(struct pc_config *cfg, const struct pc_secret_sources *src, bool need_keys,
                        char *err, size_t errlen)
{
	const char *cur = src->key.name, *prev = src->previous.name;
	struct pc_keys *k;
	int rc;
	bool cur_set = src->key.value != NULL || src->key.path != NULL;
	bool prev_set = src->previous.value != NULL || src->previous.path != NULL;

	if (!cur_set) {
		if (prev_set)
			return pc_errf(err, errlen, "%s is set but %s is not", prev, cur);
		if (need_keys)
			return pc_errf(err, errlen, "%s is not set (nor %s_FILE); generate a key with `portcullis keygen`",
			            cur, cur);
		return 0;
	}
	k = sodium_malloc(sizeof(*k));
	if (k == NULL)
		return pc_errf(err, errlen, "cannot allocate locked memory for %s (check RLIMIT_MEMLOCK)", cur);
	sodium_memzero(k, sizeof(*k));
	rc = load_secret(k->current.master, &src->key, NULL, err, errlen);
	if (rc < 0)
		goto bad;
	derive(&k->current);
	rc = load_secret(k->previous.master, &src->previous, cur, err, errlen);
	if (rc < 0)
		goto bad;
	if (rc == 1) {
		if (sodium_memcmp(k->previous.master, k->current.master, PC_SECRET_KEY_BYTES) == 0) {
			pc_errf(err, errlen, "%s is the same key as %s; after a rotation it holds the old key", prev, cur);
			goto bad;
		}
		derive(&k->previous);
		/* sealed values carry the id byte; two keys with one id would be
		 * ambiguous (a 1 in 256 chance for two random keys) */
		if (k->previous.id == k->current.id) {
			pc_errf(err, errlen, "%s has the same key id as %s; generate a new key with `portcullis keygen`",
			     cur, prev);
			goto bad;
		}
		k->has_previous = true;
	}
	{
		const char *jn = src->jwt.name;
		rc = load_secret(k->jwt_seed, &src->jwt, NULL, err, errlen);
		if (rc < 0)
			goto bad;
		if (rc == 1 && cfg->jwt_alg != PC_CFG_JWT_EDDSA) {
			pc_errf(err, errlen, "%s is set but PORTCULLIS_JWT_ALG is not EdDSA", jn);
			goto bad;
		}
		if (rc == 0 && cfg->jwt_alg == PC_CFG_JWT_EDDSA && need_keys) {
			pc_errf(err, errlen, "%s is not set (nor %s_FILE) but PORTCULLIS_JWT_ALG is EdDSA; generate one with "
			     "`portcullis keygen`", jn, jn);
			goto bad;
		}
		if (rc == 1 && sodium_memcmp(k->jwt_seed, k->current.master, PC_SECRET_KEY_BYTES) == 0) {
			pc_errf(err, errlen, "%s is the same key as %s; use a separate key", jn, cur);
			goto bad;
		}
		k->has_jwt_seed = rc == 1;
	}
	if (load_password_file(k->redis_password, sizeof(k->redis_password), src->redis_password_file,
	                       cfg->redis_password_file, err, errlen) != 0 ||
	    load_password_file(k->database_password, sizeof(k->database_password),
	                       src->database_password_file, cfg->database_password_file, err, errlen) != 0 ||
	    load_password_secret(k->smtp_password, sizeof(k->smtp_password), &src->smtp_password, err, errlen) != 0)
		goto bad;
	if (k->smtp_password[0] != '\0' && cfg->smtp_url[0] == '\0') {
		pc_errf(err, errlen, "%s is set but PORTCULLIS_SMTP_URL is not", src->smtp_password.name);
		goto bad;
	}
	if (sodium_mprotect_readonly(k) != 0) {
		pc_errf(err, errlen, "cannot protect the memory holding %s", cur);
		goto bad;
	}
	cfg->keys = k;
	return 0;
bad:
	sodium_free(k);
	return -1;
}

int pc_config_key_new(char *text, size_t cap)
{
	uint8_t key[PC_SECRET_KEY_BYTES], check[PC_SECRET_KEY_BYTES];
	int rc = -1;
	if (cap < PC_CONFIG_KEY_TEXT_MAX)
		return -1;
	/* print only what pc_config_load accepts: a random key trips the
	 * placeholder, repetition, printable-text or counter checks with
	 * probability below 1e-6, and then we draw again */
	for (int tries = 0; tries < 16 && rc != 0; tries++) {
		randombytes_buf(key, sizeof(key));
		sodium_bin2base64(text, cap, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
		rc = decode_key(check, "key", text, strlen(text), NULL, 0);
	}
	sodium_memzero(key, sizeof(key));
	sodium_memzero(check, sizeof(check));
	if (rc != 0)
		sodium_memzero(text, cap);
	return rc;
}
