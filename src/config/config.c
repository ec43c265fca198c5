/*
 * config.c — the PORTCULLIS_* environment turned into a validated struct
 * pc_config (see config.h for the contract).
 *
 * Invariants:
 * - Every default is written once, as text, in pc_config_vars[] and goes
 *   through the same strict parser as a value from the environment, so the
 *   default that --help and the README show is the one in effect (the one
 *   exception, PORTCULLIS_THREADS, depends on the machine).
 * - An error line names the variable and the problem and quotes no value,
 *   not even of a non-secret variable: a database URL can hold a password,
 *   and a secret pasted into the wrong variable is still a secret. List
 *   items are referred to by position ("item 2").
 * - Secret text is held only in buffers on the stack that are wiped with
 *   sodium_memzero on every path; decoded keys go straight into
 *   sodium_malloc'd memory that is read-only once the subkeys are derived.
 *
 * Caveats: the value of PORTCULLIS_SECRET_KEY stays in the process
 * environment (/proc/PID/environ, readable by the same user); prefer
 * PORTCULLIS_SECRET_KEY_FILE. Cookie domains are checked for syntax only,
 * not against the public suffix list (co.uk is accepted).
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/b64url.h"
#include "core/url.h"

#define PREFIX "PORTCULLIS_"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define FILE_SUFFIX "_FILE"
#define FILE_SUFFIX_LEN (sizeof(FILE_SUFFIX) - 1)

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

/* Session-scale durations, in seconds. */
#define SESSION_S_MIN 60
#define SESSION_S_MAX (365 * 86400)
#define LOGIN_WINDOW_S_MIN 60
#define LOGIN_WINDOW_S_MAX 86400

/* Argon2id cost: OWASP's minimum (t=2, m=19 MiB) up to what one hash may
 * reasonably take. */
#define OPSLIMIT_MIN 2
#define OPSLIMIT_MAX 20
#define MEMLIMIT_MIN (19ULL << 20)
#define MEMLIMIT_MAX (4ULL << 30)
#define LOGIN_FAILURES_MAX 1000

enum var_id {
	V_LISTEN,
	V_THREADS,
	V_HEADER_TIMEOUT,
	V_BODY_TIMEOUT,
	V_IDLE_TIMEOUT,
	V_SHUTDOWN_TIMEOUT,
	V_MAX_CONNECTIONS,
	V_MAX_CONNECTIONS_PER_ADDRESS,
	V_MAX_BODY_BYTES,
	V_TRUSTED_PROXIES,
	V_ACCESS_LOG,
	V_XSS_PROTECTION,
	V_DATABASE_URL,
	V_SECRET_KEY,
	V_SECRET_KEY_PREVIOUS,
	V_COOKIE_DOMAIN,
	V_SESSION_LIFETIME,
	V_SESSION_IDLE_TIMEOUT,
	V_PASSWORD_OPSLIMIT,
	V_PASSWORD_MEMLIMIT,
	V_LOGIN_MAX_FAILURES,
	V_LOGIN_WINDOW,
	V_ALLOWED_ORIGINS,
	V_API_KEYS_CAN_ADMIN,
	V_AUDIT_LOG,
	V_AUDIT_FORMAT,
	V_ISSUER,
	V_AUDIENCE,
	V_JWT_ALG,
	V_JWT_SIGNING_KEY,
	V_ACCESS_TOKEN_LIFETIME,
	V_JWT_LEEWAY,
	V_REFRESH_TOKEN_LIFETIME,
	V_REFRESH_LIMIT,
	V_VERIFY_CSRF,
	V_AUTH_ASSERTION,
	V_VERIFY_CACHE,
	V_ALLOWED_REDIRECTS,
	V_REDIS_URL,
	V_REDIS_PASSWORD_FILE,
	V_DATABASE_PASSWORD_FILE,
	V_REVOCATION_FAIL_OPEN,
	V__COUNT
};

const struct pc_config_var pc_config_vars[] = {
	[V_LISTEN] = {"PORTCULLIS_LISTEN", "127.0.0.1:8080",
	              "addresses to listen on, comma-separated (up to 8): IPv4 a.b.c.d:port or [IPv6]:port, "
	              "numeric only; port 0 lets the kernel choose", false},
	[V_THREADS] = {"PORTCULLIS_THREADS", "number of CPU cores", "event-loop threads, 1 to 64", false},
	[V_HEADER_TIMEOUT] = {"PORTCULLIS_HEADER_TIMEOUT", "10s",
	                      "time allowed to receive a request head, from its first byte; seconds, or a number "
	                      "with ms, s or m, from 100ms to 60m", false},
	[V_BODY_TIMEOUT] = {"PORTCULLIS_BODY_TIMEOUT", "10s",
	                    "time allowed to receive a request body after its head, and for a client to take a "
	                    "response; same units as PORTCULLIS_HEADER_TIMEOUT", false},
	[V_IDLE_TIMEOUT] = {"PORTCULLIS_IDLE_TIMEOUT", "60s",
	                    "how long a keep-alive connection may wait for its next request; same units as "
	                    "PORTCULLIS_HEADER_TIMEOUT", false},
	[V_SHUTDOWN_TIMEOUT] = {"PORTCULLIS_SHUTDOWN_TIMEOUT", "10s",
	                        "how long a graceful stop waits for requests in flight before closing connections; "
	                        "same units as PORTCULLIS_HEADER_TIMEOUT", false},
	[V_MAX_CONNECTIONS] = {"PORTCULLIS_MAX_CONNECTIONS", "10000",
	                       "most client connections open at once, 1 to 1000000", false},
	[V_MAX_CONNECTIONS_PER_ADDRESS] = {"PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS", "256",
	                                   "most connections open at once from one client address, 1 to "
	                                   "PORTCULLIS_MAX_CONNECTIONS; trusted proxies are exempt", false},
	[V_MAX_BODY_BYTES] = {"PORTCULLIS_MAX_BODY_BYTES", "65536",
	                      "largest request body accepted, in bytes, 1024 to 1048576; a larger one gets 413",
	                      false},
	[V_TRUSTED_PROXIES] = {"PORTCULLIS_TRUSTED_PROXIES", NULL,
	                       "reverse proxies whose X-Forwarded-For is believed: comma-separated IPv4 or IPv6 "
	                       "addresses or CIDRs with zero host bits (up to 32); unset or empty: none", false},
	[V_ACCESS_LOG] = {"PORTCULLIS_ACCESS_LOG", "true", "log one line per request: true or false", false},
	[V_XSS_PROTECTION] = {"PORTCULLIS_XSS_PROTECTION", "off",
	                      "X-XSS-Protection header: off sends 0 (recommended, the old filter can be abused), "
	                      "block sends 1; mode=block", false},
	[V_DATABASE_URL] = {"PORTCULLIS_DATABASE_URL", "sqlite:./var/portcullis.db",
	                    "where users, sessions and the audit log live: sqlite:PATH, postgres://... or "
	                    "postgresql://...; always shown with the password masked", false},
	[V_SECRET_KEY] = {"PORTCULLIS_SECRET_KEY", NULL,
	                  "master key: base64 of 32 random bytes, from `portcullis keygen`; required to serve",
	                  true},
	[V_SECRET_KEY_PREVIOUS] = {"PORTCULLIS_SECRET_KEY_PREVIOUS", NULL,
	                           "the key before the last rotation, used only to verify, so rotating logs "
	                           "nobody out; unset: none", true},
	[V_COOKIE_DOMAIN] = {"PORTCULLIS_COOKIE_DOMAIN", NULL,
	                     "domain that shares the session cookie with its subdomains, a lowercase DNS name "
	                     "such as example.com; unset or empty: a host-only __Host- cookie", false},
	[V_SESSION_LIFETIME] = {"PORTCULLIS_SESSION_LIFETIME", "30d",
	                        "absolute lifetime of a session; seconds, or a number with s, m, h or d, "
	                        "from 60s to 365d", false},
	[V_SESSION_IDLE_TIMEOUT] = {"PORTCULLIS_SESSION_IDLE_TIMEOUT", "7d",
	                            "a session unused this long ends; same units, at most "
	                            "PORTCULLIS_SESSION_LIFETIME", false},
	[V_PASSWORD_OPSLIMIT] = {"PORTCULLIS_PASSWORD_OPSLIMIT", "2",
	                         "Argon2id passes per password hash, 2 (the OWASP minimum) to 20", false},
	[V_PASSWORD_MEMLIMIT] = {"PORTCULLIS_PASSWORD_MEMLIMIT", "19MiB",
	                         "Argon2id memory per password hash: bytes, or a number with KiB, MiB or GiB, "
	                         "from 19MiB to 4GiB", false},
	[V_LOGIN_MAX_FAILURES] = {"PORTCULLIS_LOGIN_MAX_FAILURES", "10",
	                          "failed logins allowed per account and per client address within "
	                          "PORTCULLIS_LOGIN_WINDOW, 1 to 1000", false},
	[V_LOGIN_WINDOW] = {"PORTCULLIS_LOGIN_WINDOW", "15m",
	                    "period over which failed logins are counted; seconds, or a number with s, m, h or d, "
	                    "from 1m to 24h", false},
	[V_ALLOWED_ORIGINS] = {"PORTCULLIS_ALLOWED_ORIGINS", NULL,
	                       "origins besides the service's own allowed to send unsafe requests with the "
	                       "session cookie: comma-separated scheme://host[:port] (up to 16); unset or empty: "
	                       "none", false},
	[V_API_KEYS_CAN_ADMIN] = {"PORTCULLIS_API_KEYS_CAN_ADMIN", "false",
	                          "whether requests authenticated by an API key may manage users and API keys: "
	                          "true or false", false},
	[V_AUDIT_LOG] = {"PORTCULLIS_AUDIT_LOG", "stderr",
	                 "where audit events are streamed besides the store: stderr, off, or a file path "
	                 "(opened for appending, created 0600)", false},
	[V_AUDIT_FORMAT] = {"PORTCULLIS_AUDIT_FORMAT", "json",
	                    "audit stream format: json (one object per line) or text (AUDIT: ACTION type | ...)",
	                    false},
	[V_ISSUER] = {"PORTCULLIS_ISSUER", "portcullis", "the iss claim of access tokens, checked on verify",
	              false},
	[V_AUDIENCE] = {"PORTCULLIS_AUDIENCE", "portcullis", "the aud claim of access tokens, checked on verify",
	                false},
	[V_JWT_ALG] = {"PORTCULLIS_JWT_ALG", "HS256",
	               "access token signature: HS256 (HMAC under a key derived from PORTCULLIS_SECRET_KEY) or "
	               "EdDSA (Ed25519 with PORTCULLIS_JWT_SIGNING_KEY; public keys at /.well-known/jwks.json)",
	               false},
	[V_JWT_SIGNING_KEY] = {"PORTCULLIS_JWT_SIGNING_KEY", NULL,
	                       "Ed25519 seed for PORTCULLIS_JWT_ALG=EdDSA: base64 of 32 random bytes (`portcullis "
	                       "keygen`); required with EdDSA, refused otherwise", true},
	[V_ACCESS_TOKEN_LIFETIME] = {"PORTCULLIS_ACCESS_TOKEN_LIFETIME", "15m",
	                             "lifetime of an access token; seconds, or a number with s, m, h or d, from 1m "
	                             "to 24h", false},
	[V_JWT_LEEWAY] = {"PORTCULLIS_JWT_LEEWAY", "30s",
	                  "clock skew tolerated on exp, nbf and iat; seconds, or with s or m, from 0s to 60s", false},
	[V_REFRESH_TOKEN_LIFETIME] = {"PORTCULLIS_REFRESH_TOKEN_LIFETIME", "30d",
	                              "lifetime of a refresh token family; same units, from 1h to 365d", false},
	[V_REFRESH_LIMIT] = {"PORTCULLIS_REFRESH_LIMIT", "5",
	                     "refreshes allowed per user per hour, 1 to 1000; past it 429 with Retry-After", false},
	[V_VERIFY_CSRF] = {"PORTCULLIS_VERIFY_CSRF", "true",
	                   "forward auth: a forwarded POST, PUT, PATCH or DELETE authenticated by the session "
	                   "cookie needs a valid CSRF token, else 403: true or false", false},
	[V_AUTH_ASSERTION] = {"PORTCULLIS_AUTH_ASSERTION", "false",
	                      "forward auth: also send X-Auth-Assertion, a 60-second JWT (audience "
	                      "portcullis-upstream) the app can verify with the JWKS: true or false", false},
	[V_VERIFY_CACHE] = {"PORTCULLIS_VERIFY_CACHE", "10s",
	                    "how long a checked session or API key is trusted without asking the store again; "
	                    "dropped at once on logout or deletion in this instance; 0s to 60s", false},
	[V_ALLOWED_REDIRECTS] = {"PORTCULLIS_ALLOWED_REDIRECTS", NULL,
	                         "origins the login page may send you back to besides its own: comma-separated "
	                         "scheme://host[:port] (up to 16); unset or empty: none", false},
	[V_REDIS_URL] = {"PORTCULLIS_REDIS_URL", NULL,
	                 "redis://[:password@]host:port[/db] shared by every instance for revocations, "
	                 "throttles, refresh limits and cache invalidation; unset or empty: in-process "
	                 "(one instance); always shown with the password masked", false},
	[V_REDIS_PASSWORD_FILE] = {"PORTCULLIS_REDIS_PASSWORD_FILE", NULL,
	                           "a file holding the Redis password (instead of putting it in the URL); unset or empty: none", false},
	[V_DATABASE_PASSWORD_FILE] = {"PORTCULLIS_DATABASE_PASSWORD_FILE", NULL,
	                              "a file holding the PostgreSQL password (instead of putting it in the URL); unset or empty: none",
	                              false},
	[V_REVOCATION_FAIL_OPEN] = {"PORTCULLIS_REVOCATION_FAIL_OPEN", "false",
	                            "with Redis unreachable, accept bearer tokens without the revocation check "
	                            "(logged loudly at start); false: answer 503: true or false", false},
};
const size_t pc_config_n_vars = sizeof(pc_config_vars) / sizeof(pc_config_vars[0]);
_Static_assert(sizeof(pc_config_vars) / sizeof(pc_config_vars[0]) == V__COUNT, "one table row per variable");

/* ---- errors ------------------------------------------------------------ */

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A variable name from the environment, made safe to print: printable
 * ASCII only, at most 64 bytes. Only names are printed, never values. */
static void printable_name(char out[72], const char *name, size_t len)
{
	size_t n = len < 64 ? len : 64;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		out[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (len > n) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* ---- numbers and quantities ---------------------------------------------- */

/* Strict unsigned decimal: digits only (no sign, space or base prefix),
 * at least one, no overflow. The strtonum habit without strtoull's
 * leniency towards "+", "-" and leading blanks. */
static int parse_u64(uint64_t *out, const char *s, size_t len)
{
	uint64_t v = 0;
	*out = 0;
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

struct unit {
	const char *suffix;
	uint64_t mult;
};

/* Largest first: the printer picks the first unit that divides exactly. */
static const struct unit units_ms[] = {{"m", 60000}, {"s", 1000}, {"ms", 1}, {NULL, 0}};
static const struct unit units_s[] = {{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}, {NULL, 0}};
static const struct unit units_bytes[] = {{"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}, {NULL, 0}};

/* "<digits>[suffix]" with the suffix one of units (exact, case-sensitive)
 * or absent, which means bare_mult. */
static int parse_quantity(uint64_t *out, const char *s, const struct unit *units, uint64_t bare_mult)
{
	size_t len = strlen(s), nd = 0;
	uint64_t v, mult = 0;
	*out = 0;
	while (nd < len && s[nd] >= '0' && s[nd] <= '9')
		nd++;
	if (nd == len) {
		mult = bare_mult;
	} else {
		for (const struct unit *u = units; u->suffix != NULL; u++)
			if (strcmp(s + nd, u->suffix) == 0)
				mult = u->mult;
	}
	if (mult == 0 || parse_u64(&v, s, nd) != 0 || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* Writes v in the largest unit that divides it exactly, so the text parses
 * back to the same value; bare if none does. */
static void format_quantity(char *out, size_t cap, uint64_t v, const struct unit *units)
{
	for (const struct unit *u = units; u->suffix != NULL; u++)
		if (v != 0 && v % u->mult == 0) {
			snprintf(out, cap, "%llu%s", (unsigned long long)(v / u->mult), u->suffix);
			return;
		}
	snprintf(out, cap, "%llu", (unsigned long long)v);
}

static int get_uint(uint64_t *out, enum var_id id, const char *text, uint64_t min, uint64_t max, char *err,
                    size_t errlen)
{
	const char *name = pc_config_vars[id].name;
	if (parse_u64(out, text, strlen(text)) != 0)
		return fail(err, errlen, "%s is not a whole number (digits only, %llu to %llu)", name,
		            (unsigned long long)min, (unsigned long long)max);
	if (*out < min || *out > max)
		return fail(err, errlen, "%s is out of range (%llu to %llu)", name, (unsigned long long)min,
		            (unsigned long long)max);
	return 0;
}

static int get_quantity(uint64_t *out, enum var_id id, const char *text, const struct unit *units,
                        uint64_t bare_mult, uint64_t min, uint64_t max, const char *forms, char *err,
                        size_t errlen)
{
	const char *name = pc_config_vars[id].name;
	char lo[32], hi[32];
	format_quantity(lo, sizeof(lo), min, units);
	format_quantity(hi, sizeof(hi), max, units);
	if (parse_quantity(out, text, units, bare_mult) != 0)
		return fail(err, errlen, "%s is not valid (expected %s, %s to %s)", name, forms, lo, hi);
	if (*out < min || *out > max)
		return fail(err, errlen, "%s is out of range (%s to %s)", name, lo, hi);
	return 0;
}

static int get_timeout_ms(unsigned *out, enum var_id id, const char *text, char *err, size_t errlen)
{
	uint64_t v;
	_Static_assert(PC_TIMEOUT_MAX_MS <= UINT32_MAX, "timeouts fit an unsigned");
	if (get_quantity(&v, id, text, units_ms, 1000, PC_TIMEOUT_MIN_MS, PC_TIMEOUT_MAX_MS,
	                 "seconds, or a number with ms, s or m", err, errlen) != 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int get_seconds(int64_t *out, enum var_id id, const char *text, uint64_t min, uint64_t max, char *err,
                       size_t errlen)
{
	uint64_t v;
	if (get_quantity(&v, id, text, units_s, 1, min, max, "seconds, or a number with s, m, h or d", err,
	                 errlen) != 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* ---- addresses ----------------------------------------------------------- */

/* Walks a comma-separated list. An empty list has no items; "a,,b" and
 * "a," have an empty item, which the callers refuse. */
struct items {
	const char *p;
	bool done;
};

static int items_next(struct items *it, const char **item, size_t *len)
{
	if (it->done)
		return 1;
	const char *comma = strchr(it->p, ',');
	*item = it->p;
	if (comma != NULL) {
		*len = (size_t)(comma - it->p);
		it->p = comma + 1;
	} else {
		*len = strlen(it->p);
		it->done = true;
	}
	return 0;
}

static int parse_listen(struct pc_config *cfg, const char *s, char *err, size_t errlen)
{
	const char *name = pc_config_vars[V_LISTEN].name;
	struct items it = {s, s[0] == '\0'};
	const char *item;
	size_t len, n = 0;
	uint8_t seen[PC_MAX_LISTEN][17]; /* address, then 4 or 6 */
	while (items_next(&it, &item, &len) == 0) {
		char buf[80];
		const char *host, *port;
		int family;
		uint8_t addr[16];
		uint64_t p;
		if (len == 0)
			return fail(err, errlen, "%s has an empty item (no spaces or stray commas allowed)", name);
		if (n == PC_MAX_LISTEN)
			return fail(err, errlen, "%s has more than %d addresses", name, PC_MAX_LISTEN);
		if (len >= sizeof(buf))
			return fail(err, errlen, "%s: item %zu is too long for an address", name, n + 1);
		memcpy(buf, item, len);
		buf[len] = '\0';
		if (buf[0] == '[') {
			char *close = strstr(buf, "]:");
			if (close == NULL)
				return fail(err, errlen, "%s: item %zu is not [IPv6]:port", name, n + 1);
			*close = '\0';
			host = buf + 1;
			port = close + 2;
			family = AF_INET6;
		} else {
			char *colon = strrchr(buf, ':');
			if (colon == NULL)
				return fail(err, errlen, "%s: item %zu has no port (expected a.b.c.d:port or [IPv6]:port)",
				            name, n + 1);
			*colon = '\0';
			if (strchr(buf, ':') != NULL)
				return fail(err, errlen, "%s: item %zu is an IPv6 address without brackets (write [IPv6]:port)",
				            name, n + 1);
			host = buf;
			port = colon + 1;
			family = AF_INET;
		}
		if (inet_pton(family, host, addr) != 1)
			return fail(err, errlen, "%s: item %zu is not a numeric %s address (host names are not accepted)",
			            name, n + 1, family == AF_INET ? "IPv4" : "IPv6");
		if (parse_u64(&p, port, strlen(port)) != 0 || p > 65535)
			return fail(err, errlen, "%s: item %zu has an invalid port (0 to 65535)", name, n + 1);
		uint8_t key[17] = {0};
		memcpy(key, addr, family == AF_INET ? 4 : 16);
		key[16] = family == AF_INET ? 4 : 6;
		for (size_t j = 0; j < n; j++)
			if (memcmp(seen[j], key, sizeof(key)) == 0 && cfg->listen[j].port == p)
				return fail(err, errlen, "%s: item %zu repeats item %zu", name, n + 1, j + 1);
		memcpy(seen[n], key, sizeof(key));
		inet_ntop(family, addr, cfg->listen[n].host, sizeof(cfg->listen[n].host));
		cfg->listen[n].port = (uint16_t)p;
		n++;
	}
	if (n == 0)
		return fail(err, errlen, "%s lists no address", name);
	cfg->n_listen = n;
	return 0;
}

static bool host_bits_zero(const uint8_t *addr, unsigned bytes, unsigned prefix)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned bit0 = i * 8;
		uint8_t keep = prefix >= bit0 + 8 ? 0xff : prefix <= bit0 ? 0 : (uint8_t)(0xff << (8 - (prefix - bit0)));
		if (addr[i] & (uint8_t)~keep)
			return false;
	}
	return true;
}

static int parse_proxies(struct pc_config *cfg, const char *s, char *err, size_t errlen)
{
	const char *name = pc_config_vars[V_TRUSTED_PROXIES].name;
	struct items it = {s, s[0] == '\0'};
	const char *item;
	size_t len, n = 0;
	while (items_next(&it, &item, &len) == 0) {
		char buf[80];
		struct pc_cidr *c;
		if (len == 0)
			return fail(err, errlen, "%s has an empty item (no spaces or stray commas allowed)", name);
		if (n == PC_MAX_TRUSTED_PROXIES)
			return fail(err, errlen, "%s has more than %d entries", name, PC_MAX_TRUSTED_PROXIES);
		if (len >= sizeof(buf))
			return fail(err, errlen, "%s: item %zu is too long for an address", name, n + 1);
		memcpy(buf, item, len);
		buf[len] = '\0';
		c = &cfg->trusted_proxies[n];
		c->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
		unsigned maxp = c->family == AF_INET ? 32 : 128;
		char *slash = strchr(buf, '/');
		uint64_t prefix = maxp;
		if (slash != NULL) {
			*slash = '\0';
			if (parse_u64(&prefix, slash + 1, strlen(slash + 1)) != 0 || prefix > maxp)
				return fail(err, errlen, "%s: item %zu has an invalid prefix length (0 to %u)", name,
				            n + 1, maxp);
			/* /0 would believe X-Forwarded-For from the whole internet */
			if (prefix == 0)
				return fail(err, errlen, "%s: item %zu trusts every address (prefix /0); name the proxies",
				            name, n + 1);
		}
		if (inet_pton(c->family, buf, c->addr) != 1)
			return fail(err, errlen, "%s: item %zu is not a numeric IPv4 or IPv6 address or CIDR", name,
			            n + 1);
		c->prefix = (unsigned)prefix;
		if (!host_bits_zero(c->addr, maxp / 8, c->prefix))
			return fail(err, errlen, "%s: item %zu has host bits set after the prefix (write the network "
			            "address)", name, n + 1);
		n++;
	}
	cfg->n_trusted_proxies = n;
	return 0;
}

static bool prefix_match(const uint8_t *net, const uint8_t *a, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	if (memcmp(net, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net[full] & mask) == (a[full] & mask);
}

bool pc_config_addr_trusted(const struct pc_config *cfg, const struct sockaddr *addr)
{
	uint8_t v6[16];
	const uint8_t *v4 = NULL;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (cfg == NULL || addr == NULL)
		return false;
	if (addr->sa_family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, addr, sizeof(sin));
		/* also as ::ffff:a.b.c.d, for a proxy list written that way */
		memcpy(v6, mapped, 12);
		memcpy(v6 + 12, &sin.sin_addr, 4);
		v4 = v6 + 12;
	} else if (addr->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, addr, sizeof(sin6));
		memcpy(v6, &sin6.sin6_addr, 16);
		if (memcmp(v6, mapped, 12) == 0)
			v4 = v6 + 12;
	} else {
		return false;
	}
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
		const struct pc_cidr *c = &cfg->trusted_proxies[i];
		if (c->family == AF_INET && v4 != NULL && prefix_match(c->addr, v4, c->prefix))
			return true;
		if (c->family == AF_INET6 && prefix_match(c->addr, v6, c->prefix))
			return true;
	}
	return false;
}

/* ---- other values -------------------------------------------------------- */

/* RFC 1035 §2.3.1 preferred name syntax, lowercase, at least two labels,
 * the last not numeric (so no IPv4 address), no leading or trailing dot
 * (RFC 6265 §5.2.3 strips a leading dot; we ask for the canonical form). */
static int check_cookie_domain(const char *s, char *err, size_t errlen)
{
	const char *name = pc_config_vars[V_COOKIE_DOMAIN].name;
	size_t len = strlen(s), labels = 0;
	if (len > 253)
		return fail(err, errlen, "%s is longer than 253 characters", name);
	if (s[0] == '.')
		return fail(err, errlen, "%s must not start with a dot (a cookie for example.com already covers "
		            "its subdomains)", name);
	if (s[len - 1] == '.')
		return fail(err, errlen, "%s must not end with a dot", name);
	const char *p = s;
	bool numeric = false;
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		numeric = true;
		if (l == 0)
			return fail(err, errlen, "%s has an empty label", name);
		if (l > 63)
			return fail(err, errlen, "%s has a label longer than 63 characters", name);
		for (size_t i = 0; i < l; i++) {
			char c = p[i];
			if (c >= 'A' && c <= 'Z')
				return fail(err, errlen, "%s must be lowercase", name);
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
				return fail(err, errlen, "%s is not a DNS name (letters, digits, '-' and '.' only)", name);
			if (c < '0' || c > '9')
				numeric = false;
		}
		if (p[0] == '-' || p[l - 1] == '-')
			return fail(err, errlen, "%s has a label that starts or ends with '-'", name);
		labels++;
		p += l + (dot ? 1 : 0);
	}
	if (numeric)
		return fail(err, errlen, "%s is an IP address; a cookie domain must be a DNS name", name);
	if (labels < 2)
		return fail(err, errlen, "%s is a bare top-level domain; browsers refuse such a cookie", name);
	return 0;
}

static int check_database_url(const char *s, char *err, size_t errlen)
{
	const char *name = pc_config_vars[V_DATABASE_URL].name;
	char room[sizeof(((struct pc_config *)0)->database_url)];
	size_t len = strlen(s);
	if (len >= sizeof(room))
		return fail(err, errlen, "%s is longer than %zu bytes", name, sizeof(room) - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(err, errlen, "%s contains a control character", name);
	static const char *const schemes[] = {"sqlite:", "postgres://", "postgresql://"};
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t l = strlen(schemes[i]);
		if (strncmp(s, schemes[i], l) == 0) {
			if (s[l] == '\0')
				return fail(err, errlen, "%s has nothing after %s", name, schemes[i]);
			return 0;
		}
	}
	return fail(err, errlen, "%s must be sqlite:PATH, postgres://... or postgresql://...", name);
}

/* ---- secrets ------------------------------------------------------------- */

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
		fail(err, errlen, "%s is empty; generate a key with `portcullis keygen`", name);
		goto out;
	}
	if (looks_like_placeholder(text, len)) {
		fail(err, errlen, "%s looks like a value meant to be replaced, not a key; generate one with "
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
			fail(err, errlen, "%s is malformed (a character outside base64); " HOWTO, name);
			goto out;
		}
		std |= c == '+' || c == '/';
		url |= c == '-' || c == '_';
	}
	if (std && url) {
		fail(err, errlen, "%s is malformed (it mixes the standard and the URL-safe alphabet); " HOWTO, name);
		goto out;
	}
	if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0)) {
		fail(err, errlen, "%s is malformed (wrong length or padding); " HOWTO, name);
		goto out;
	}
	got = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (got != PC_SECRET_KEY_BYTES) {
		fail(err, errlen, "%s decodes to %zu bytes; " HOWTO, name, got);
		goto out;
	}
	/* n <= 44 here; map onto the URL-safe alphabet for the strict decoder */
	for (size_t i = 0; i < n; i++)
		tmp[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : text[i];
	if (pc_b64url_decode(out, PC_SECRET_KEY_BYTES, &got, tmp, n) != 0 || got != PC_SECRET_KEY_BYTES) {
		fail(err, errlen, "%s is malformed (stray bits in the last character); " HOWTO, name);
		goto out;
	}
	for (size_t i = 0; i < PC_SECRET_KEY_BYTES; i++) {
		distinct += !seen[out[i]];
		seen[out[i]] = true;
	}
	if (sodium_is_zero(out, PC_SECRET_KEY_BYTES)) {
		fail(err, errlen, "%s is all zero bytes; generate a key with `portcullis keygen`", name);
		goto out;
	}
	if (distinct == 1) {
		fail(err, errlen, "%s repeats a single byte value; generate a key with `portcullis keygen`", name);
		goto out;
	}
	if (distinct < KEY_MIN_DISTINCT) {
		fail(err, errlen, "%s is repetitive (fewer than %d distinct byte values), not random; generate a "
		     "key with `portcullis keygen`", name, KEY_MIN_DISTINCT);
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
		return fail(err, errlen, "%s: cannot open the file: %s", fname, strerror(errno));
	if (fstat(fd, &st) != 0) {
		fail(err, errlen, "%s: cannot read the file: %s", fname, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(err, errlen, "%s does not name a regular file", fname);
		goto out;
	}
	while (n < SECRET_FILE_MAX + 1) {
		ssize_t r = read(fd, buf + n, SECRET_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail(err, errlen, "%s: cannot read the file: %s", fname, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > SECRET_FILE_MAX) {
		fail(err, errlen, "%s: the file is larger than %d bytes", fname, SECRET_FILE_MAX);
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

/* Decodes secret variable id from its value or its _FILE into out.
 * Returns 1 when loaded, 0 when neither is set, -1 on error. */
static int load_secret(uint8_t out[PC_SECRET_KEY_BYTES], enum var_id id, const char *value, const char *path,
                       char *err, size_t errlen)
{
	const char *name = pc_config_vars[id].name;
	char fname[64];
	char buf[SECRET_FILE_MAX + 1];
	size_t len = 0;
	int rc = -1;
	snprintf(fname, sizeof(fname), "%s" FILE_SUFFIX, name);
	if (value == NULL && path == NULL)
		return 0;
	if (value != NULL && path != NULL)
		return fail(err, errlen, "both %s and %s are set; set only one", name, fname);
	if (value != NULL) {
		rc = decode_key(out, name, value, strlen(value), err, errlen);
	} else if (path[0] == '\0') {
		rc = fail(err, errlen, "%s is empty; unset it or name the key file", fname);
	} else if (read_secret_file(buf, &len, fname, path, err, errlen) == 0) {
		/* the problem is in the file's content: name the _FILE variable */
		rc = decode_key(out, fname, buf, len, err, errlen);
	}
	sodium_memzero(buf, sizeof(buf));
	return rc == 0 ? 1 : -1;
}

/* A password file (any printable text, one trailing newline allowed) into
 * out; nothing when path is empty. */
static int load_password_file(char *out, size_t cap, enum var_id id, const char *path, char *err, size_t errlen)
{
	char buf[SECRET_FILE_MAX + 1];
	size_t len = 0;
	const char *name = pc_config_vars[id].name;
	if (path[0] == '\0')
		return 0;
	if (read_secret_file(buf, &len, name, path, err, errlen) != 0)
		return -1;
	int rc = 0;
	if (len == 0 || len >= cap)
		rc = fail(err, errlen, "%s: the password must be 1 to %zu bytes", name, cap - 1);
	for (size_t i = 0; rc == 0 && i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			rc = fail(err, errlen, "%s: the password contains a control character", name);
	if (rc == 0) {
		memcpy(out, buf, len);
		out[len] = '\0';
	}
	sodium_memzero(buf, sizeof(buf));
	return rc;
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

static int load_keys(struct pc_config *cfg, const char *const *vals, const char *const *files, bool need_keys,
                     char *err, size_t errlen)
{
	const char *cur = pc_config_vars[V_SECRET_KEY].name, *prev = pc_config_vars[V_SECRET_KEY_PREVIOUS].name;
	struct pc_keys *k;
	int rc;
	bool cur_set = vals[V_SECRET_KEY] != NULL || files[V_SECRET_KEY] != NULL;
	bool prev_set = vals[V_SECRET_KEY_PREVIOUS] != NULL || files[V_SECRET_KEY_PREVIOUS] != NULL;

	if (!cur_set) {
		if (prev_set)
			return fail(err, errlen, "%s is set but %s is not", prev, cur);
		if (need_keys)
			return fail(err, errlen, "%s is not set (nor %s_FILE); generate a key with `portcullis keygen`",
			            cur, cur);
		return 0;
	}
	k = sodium_malloc(sizeof(*k));
	if (k == NULL)
		return fail(err, errlen, "cannot allocate locked memory for %s (check RLIMIT_MEMLOCK)", cur);
	sodium_memzero(k, sizeof(*k));
	rc = load_secret(k->current.master, V_SECRET_KEY, vals[V_SECRET_KEY], files[V_SECRET_KEY], err, errlen);
	if (rc < 0)
		goto bad;
	derive(&k->current);
	rc = load_secret(k->previous.master, V_SECRET_KEY_PREVIOUS, vals[V_SECRET_KEY_PREVIOUS],
	                 files[V_SECRET_KEY_PREVIOUS], err, errlen);
	if (rc < 0)
		goto bad;
	if (rc == 1) {
		if (sodium_memcmp(k->previous.master, k->current.master, PC_SECRET_KEY_BYTES) == 0) {
			fail(err, errlen, "%s is the same key as %s; after a rotation it holds the old key", prev, cur);
			goto bad;
		}
		derive(&k->previous);
		/* sealed values carry the id byte; two keys with one id would be
		 * ambiguous (a 1 in 256 chance for two random keys) */
		if (k->previous.id == k->current.id) {
			fail(err, errlen, "%s has the same key id as %s; generate a new key with `portcullis keygen`",
			     cur, prev);
			goto bad;
		}
		k->has_previous = true;
	}
	{
		const char *jn = pc_config_vars[V_JWT_SIGNING_KEY].name;
		rc = load_secret(k->jwt_seed, V_JWT_SIGNING_KEY, vals[V_JWT_SIGNING_KEY], files[V_JWT_SIGNING_KEY],
		                 err, errlen);
		if (rc < 0)
			goto bad;
		if (rc == 1 && cfg->jwt_alg != PC_CFG_JWT_EDDSA) {
			fail(err, errlen, "%s is set but PORTCULLIS_JWT_ALG is not EdDSA", jn);
			goto bad;
		}
		if (rc == 0 && cfg->jwt_alg == PC_CFG_JWT_EDDSA && need_keys) {
			fail(err, errlen, "%s is not set (nor %s_FILE) but PORTCULLIS_JWT_ALG is EdDSA; generate one with "
			     "`portcullis keygen`", jn, jn);
			goto bad;
		}
		if (rc == 1 && sodium_memcmp(k->jwt_seed, k->current.master, PC_SECRET_KEY_BYTES) == 0) {
			fail(err, errlen, "%s is the same key as %s; use a separate key", jn, cur);
			goto bad;
		}
		k->has_jwt_seed = rc == 1;
	}
	if (load_password_file(k->redis_password, sizeof(k->redis_password), V_REDIS_PASSWORD_FILE,
	                       cfg->redis_password_file, err, errlen) != 0 ||
	    load_password_file(k->database_password, sizeof(k->database_password), V_DATABASE_PASSWORD_FILE,
	                       cfg->database_password_file, err, errlen) != 0)
		goto bad;
	if (sodium_mprotect_readonly(k) != 0) {
		fail(err, errlen, "cannot protect the memory holding %s", cur);
		goto bad;
	}
	cfg->keys = k;
	return 0;
bad:
	sodium_free(k);
	return -1;
}

/* ---- the environment ------------------------------------------------------ */

/* Optimal string alignment distance, capped: for the "did you mean" hint. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t d[3][80];
	if (la >= 79 || lb >= 79)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *p1 = d[(i - 1) % 3], *p2 = d[(i + 1) % 3];
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = p1[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (p1[j - 1] + cost < v)
				v = p1[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && p2[j - 2] + 1 < v)
				v = p2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

static int unknown_variable(const char *name, size_t len, char *err, size_t errlen)
{
	char shown[72];
	const char *best = NULL;
	size_t best_d = 3; /* suggest only names at most 2 edits away */
	printable_name(shown, name, len);
	for (size_t i = 0; i < V__COUNT; i++) {
		size_t d = edit_distance(name, len, pc_config_vars[i].name, strlen(pc_config_vars[i].name));
		if (d < best_d) {
			best_d = d;
			best = pc_config_vars[i].name;
		}
	}
	if (best != NULL)
		return fail(err, errlen, "unknown variable %s (typo? did you mean %s?)", shown, best);
	return fail(err, errlen, "unknown variable %s (typo?)", shown);
}

/* Collects the PORTCULLIS_* entries of envp into vals and files (by table
 * index), refusing unknown names and names set twice. */
static int scan_env(const char **vals, const char **files, char *const *envp, char *err, size_t errlen)
{
	for (size_t e = 0; envp != NULL && envp[e] != NULL; e++) {
		const char *entry = envp[e];
		if (strncmp(entry, PREFIX, PREFIX_LEN) != 0)
			continue;
		const char *eq = strchr(entry, '=');
		size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
		const char *value = eq ? eq + 1 : "";
		const char **slot = NULL;
		size_t i;
		for (i = 0; i < V__COUNT && slot == NULL; i++) {
			const char *vn = pc_config_vars[i].name;
			size_t vl = strlen(vn);
			if (len == vl && memcmp(entry, vn, vl) == 0) {
				slot = &vals[i];
			} else if (len == vl + FILE_SUFFIX_LEN && memcmp(entry, vn, vl) == 0 &&
			           memcmp(entry + vl, FILE_SUFFIX, FILE_SUFFIX_LEN) == 0) {
				if (!pc_config_vars[i].secret)
					return fail(err, errlen, "%s" FILE_SUFFIX ": only secrets can be read from a file; set "
					            "%s itself", vn, vn);
				slot = &files[i];
			}
		}
		if (slot == NULL)
			return unknown_variable(entry, len, err, errlen);
		if (*slot != NULL) {
			char shown[72];
			printable_name(shown, entry, len);
			return fail(err, errlen, "%s is set more than once in the environment", shown);
		}
		*slot = value;
	}
	for (size_t i = 0; i < V__COUNT; i++) {
		if (vals[i] == NULL || vals[i][0] != '\0' || pc_config_vars[i].secret || i == V_TRUSTED_PROXIES ||
		    i == V_COOKIE_DOMAIN || i == V_ALLOWED_ORIGINS || i == V_ALLOWED_REDIRECTS || i == V_REDIS_URL ||
		    i == V_REDIS_PASSWORD_FILE || i == V_DATABASE_PASSWORD_FILE)
			continue;
		return fail(err, errlen, "%s is empty; unset it to use the default", pc_config_vars[i].name);
	}
	return 0;
}

/* The text for variable id: from the environment, else the default. */
static const char *text_of(const char *const *vals, enum var_id id)
{
	if (vals[id] != NULL)
		return vals[id];
	return pc_config_vars[id].default_value ? pc_config_vars[id].default_value : "";
}

static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > PC_MAX_THREADS ? PC_MAX_THREADS : (unsigned)n;
}

static int get_bool(bool *out, enum var_id id, const char *t, char *err, size_t errlen)
{
	if (strcmp(t, "true") == 0)
		*out = true;
	else if (strcmp(t, "false") == 0)
		*out = false;
	else
		return fail(err, errlen, "%s must be true or false", pc_config_vars[id].name);
	return 0;
}

/* scheme://host[:port], http or https, lowercase host of DNS characters or
 * an [IPv6] literal, no path, no trailing slash: compared byte for byte
 * with the Origin header. */
static bool origin_valid(const char *s, size_t n)
{
	size_t i;
	if (n > 7 && memcmp(s, "http://", 7) == 0)
		i = 7;
	else if (n > 8 && memcmp(s, "https://", 8) == 0)
		i = 8;
	else
		return false;
	size_t host = i;
	if (i < n && s[i] == '[') {
		while (i < n && s[i] != ']')
			if (!(strchr("0123456789abcdef:.", s[i++]) || s[i - 1] == '['))
				return false;
		if (i >= n)
			return false;
		i++;
	} else {
		while (i < n && (s[i] == '-' || s[i] == '.' || (s[i] >= 'a' && s[i] <= 'z') ||
		                 (s[i] >= '0' && s[i] <= '9')))
			i++;
	}
	if (i == host)
		return false;
	if (i < n && s[i] == ':') {
		size_t d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d || i - d > 5)
			return false;
	}
	return i == n;
}

static int parse_origins(char (*list)[256], size_t *count, enum var_id id, const char *s, char *err,
                         size_t errlen)
{
	const char *name = pc_config_vars[id].name;
	struct items it = {s, s[0] == '\0'};
	const char *item;
	size_t len;
	while (items_next(&it, &item, &len) == 0) {
		if (len == 0)
			return fail(err, errlen, "%s has an empty item (no spaces or stray commas allowed)", name);
		if (*count == PC_MAX_ALLOWED_ORIGINS)
			return fail(err, errlen, "%s has more than %d origins", name, PC_MAX_ALLOWED_ORIGINS);
		if (len >= 256 || !origin_valid(item, len))
			return fail(err, errlen, "%s item %zu is not an origin like https://app.example.com (lowercase, "
			            "no path)", name, *count + 1);
		memcpy(list[*count], item, len);
		list[*count][len] = '\0';
		(*count)++;
	}
	return 0;
}

static int get_text(char *out, size_t cap, enum var_id id, const char *t, char *err, size_t errlen)
{
	size_t n = strlen(t);
	if (n >= cap)
		return fail(err, errlen, "%s is longer than %zu bytes", pc_config_vars[id].name, cap - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return fail(err, errlen, "%s contains a control character", pc_config_vars[id].name);
	memcpy(out, t, n + 1);
	return 0;
}

/* The settings of the features above the HTTP layer. */
static int load_feature_values(struct pc_config *cfg, const char *const *vals, char *err, size_t errlen)
{
	uint64_t v;
	const char *t;
	if (parse_origins(cfg->allowed_origins, &cfg->n_allowed_origins, V_ALLOWED_ORIGINS,
	                  text_of(vals, V_ALLOWED_ORIGINS), err, errlen) != 0 ||
	    parse_origins(cfg->allowed_redirects, &cfg->n_allowed_redirects, V_ALLOWED_REDIRECTS,
	                  text_of(vals, V_ALLOWED_REDIRECTS), err, errlen) != 0 ||
	    get_bool(&cfg->verify_csrf, V_VERIFY_CSRF, text_of(vals, V_VERIFY_CSRF), err, errlen) != 0 ||
	    get_bool(&cfg->auth_assertion, V_AUTH_ASSERTION, text_of(vals, V_AUTH_ASSERTION), err, errlen) != 0 ||
	    get_seconds(&cfg->verify_cache_s, V_VERIFY_CACHE, text_of(vals, V_VERIFY_CACHE), 0, 60, err, errlen) != 0 ||
	    get_bool(&cfg->revocation_fail_open, V_REVOCATION_FAIL_OPEN, text_of(vals, V_REVOCATION_FAIL_OPEN), err,
	             errlen) != 0 ||
	    get_text(cfg->redis_password_file, sizeof(cfg->redis_password_file), V_REDIS_PASSWORD_FILE,
	             text_of(vals, V_REDIS_PASSWORD_FILE), err, errlen) != 0 ||
	    get_text(cfg->database_password_file, sizeof(cfg->database_password_file), V_DATABASE_PASSWORD_FILE,
	             text_of(vals, V_DATABASE_PASSWORD_FILE), err, errlen) != 0 ||
	    get_bool(&cfg->api_keys_can_admin, V_API_KEYS_CAN_ADMIN, text_of(vals, V_API_KEYS_CAN_ADMIN), err,
	             errlen) != 0 ||
	    get_text(cfg->audit_log, sizeof(cfg->audit_log), V_AUDIT_LOG, text_of(vals, V_AUDIT_LOG), err,
	             errlen) != 0 ||
	    get_text(cfg->issuer, sizeof(cfg->issuer), V_ISSUER, text_of(vals, V_ISSUER), err, errlen) != 0 ||
	    get_text(cfg->audience, sizeof(cfg->audience), V_AUDIENCE, text_of(vals, V_AUDIENCE), err, errlen) != 0)
		return -1;
	t = text_of(vals, V_AUDIT_FORMAT);
	if (strcmp(t, "json") == 0)
		cfg->audit_format = PC_AUDIT_JSON;
	else if (strcmp(t, "text") == 0)
		cfg->audit_format = PC_AUDIT_TEXT;
	else
		return fail(err, errlen, "%s must be json or text", pc_config_vars[V_AUDIT_FORMAT].name);
	t = text_of(vals, V_JWT_ALG);
	if (strcmp(t, "HS256") == 0)
		cfg->jwt_alg = PC_CFG_JWT_HS256;
	else if (strcmp(t, "EdDSA") == 0)
		cfg->jwt_alg = PC_CFG_JWT_EDDSA;
	else
		return fail(err, errlen, "%s must be HS256 or EdDSA", pc_config_vars[V_JWT_ALG].name);
	if (get_seconds(&cfg->access_token_lifetime_s, V_ACCESS_TOKEN_LIFETIME,
	                text_of(vals, V_ACCESS_TOKEN_LIFETIME), 60, 86400, err, errlen) != 0 ||
	    get_seconds(&cfg->jwt_leeway_s, V_JWT_LEEWAY, text_of(vals, V_JWT_LEEWAY), 0, 60, err, errlen) != 0 ||
	    get_seconds(&cfg->refresh_token_lifetime_s, V_REFRESH_TOKEN_LIFETIME,
	                text_of(vals, V_REFRESH_TOKEN_LIFETIME), 3600, 365 * 86400, err, errlen) != 0 ||
	    get_uint(&v, V_REFRESH_LIMIT, text_of(vals, V_REFRESH_LIMIT), 1, 1000, err, errlen) != 0)
		return -1;
	cfg->refresh_limit = (unsigned)v;
	t = text_of(vals, V_REDIS_URL);
	if (t[0] != '\0') {
		if (strncmp(t, "redis://", 8) != 0 || strlen(t) >= sizeof(cfg->redis_url))
			return fail(err, errlen, "%s must be redis://[:password@]host:port[/db] (rediss:// is not "
			            "supported by this build)", pc_config_vars[V_REDIS_URL].name);
		memcpy(cfg->redis_url, t, strlen(t) + 1);
	}
	if (cfg->redis_password_file[0] != '\0' && cfg->redis_url[0] == '\0')
		return fail(err, errlen, "%s is set but %s is not", pc_config_vars[V_REDIS_PASSWORD_FILE].name,
		            pc_config_vars[V_REDIS_URL].name);
	if (cfg->refresh_token_lifetime_s <= cfg->access_token_lifetime_s)
		return fail(err, errlen, "%s must be longer than %s", pc_config_vars[V_REFRESH_TOKEN_LIFETIME].name,
		            pc_config_vars[V_ACCESS_TOKEN_LIFETIME].name);
	return 0;
}

static int load_values(struct pc_config *cfg, const char *const *vals, char *err, size_t errlen)
{
	uint64_t v;
	const char *t;

	if (parse_listen(cfg, text_of(vals, V_LISTEN), err, errlen) != 0)
		return -1;

	if (vals[V_THREADS] == NULL)
		cfg->threads = default_threads();
	else if (get_uint(&v, V_THREADS, vals[V_THREADS], 1, PC_MAX_THREADS, err, errlen) != 0)
		return -1;
	else
		cfg->threads = (unsigned)v;

	if (get_timeout_ms(&cfg->header_timeout_ms, V_HEADER_TIMEOUT, text_of(vals, V_HEADER_TIMEOUT), err,
	                   errlen) != 0 ||
	    get_timeout_ms(&cfg->body_timeout_ms, V_BODY_TIMEOUT, text_of(vals, V_BODY_TIMEOUT), err, errlen) != 0 ||
	    get_timeout_ms(&cfg->idle_timeout_ms, V_IDLE_TIMEOUT, text_of(vals, V_IDLE_TIMEOUT), err, errlen) != 0 ||
	    get_timeout_ms(&cfg->shutdown_timeout_ms, V_SHUTDOWN_TIMEOUT, text_of(vals, V_SHUTDOWN_TIMEOUT), err,
	                   errlen) != 0)
		return -1;

	if (get_uint(&v, V_MAX_CONNECTIONS, text_of(vals, V_MAX_CONNECTIONS), 1, PC_MAX_CONNECTIONS_MAX, err,
	             errlen) != 0)
		return -1;
	cfg->max_connections = (unsigned)v;
	if (vals[V_MAX_CONNECTIONS_PER_ADDRESS] == NULL) {
		/* the default follows a lower global limit instead of refusing it */
		if (get_uint(&v, V_MAX_CONNECTIONS_PER_ADDRESS, text_of(vals, V_MAX_CONNECTIONS_PER_ADDRESS), 1,
		             PC_MAX_CONNECTIONS_MAX, err, errlen) != 0)
			return -1;
		cfg->max_connections_per_addr = v < cfg->max_connections ? (unsigned)v : cfg->max_connections;
	} else {
		if (get_uint(&v, V_MAX_CONNECTIONS_PER_ADDRESS, vals[V_MAX_CONNECTIONS_PER_ADDRESS], 1,
		             cfg->max_connections, err, errlen) != 0)
			return -1;
		cfg->max_connections_per_addr = (unsigned)v;
	}

	if (get_uint(&cfg->max_body_bytes, V_MAX_BODY_BYTES, text_of(vals, V_MAX_BODY_BYTES), PC_HTTP_MAX_BODY_MIN,
	             PC_HTTP_MAX_BODY_MAX, err, errlen) != 0)
		return -1;

	if (parse_proxies(cfg, text_of(vals, V_TRUSTED_PROXIES), err, errlen) != 0)
		return -1;

	t = text_of(vals, V_ACCESS_LOG);
	if (strcmp(t, "true") == 0)
		cfg->access_log = true;
	else if (strcmp(t, "false") == 0)
		cfg->access_log = false;
	else
		return fail(err, errlen, "%s must be true or false", pc_config_vars[V_ACCESS_LOG].name);

	t = text_of(vals, V_XSS_PROTECTION);
	if (strcmp(t, "off") == 0)
		cfg->xss_protection = PC_XSS_OFF;
	else if (strcmp(t, "block") == 0)
		cfg->xss_protection = PC_XSS_BLOCK;
	else
		return fail(err, errlen, "%s must be off or block", pc_config_vars[V_XSS_PROTECTION].name);

	t = text_of(vals, V_DATABASE_URL);
	if (check_database_url(t, err, errlen) != 0)
		return -1;
	memcpy(cfg->database_url, t, strlen(t) + 1);

	t = text_of(vals, V_COOKIE_DOMAIN);
	if (t[0] != '\0') {
		if (check_cookie_domain(t, err, errlen) != 0)
			return -1;
		memcpy(cfg->cookie_domain, t, strlen(t) + 1);
	}

	if (get_seconds(&cfg->session_lifetime_s, V_SESSION_LIFETIME, text_of(vals, V_SESSION_LIFETIME),
	                SESSION_S_MIN, SESSION_S_MAX, err, errlen) != 0 ||
	    get_seconds(&cfg->session_idle_s, V_SESSION_IDLE_TIMEOUT, text_of(vals, V_SESSION_IDLE_TIMEOUT),
	                SESSION_S_MIN, SESSION_S_MAX, err, errlen) != 0)
		return -1;
	if (cfg->session_idle_s > cfg->session_lifetime_s) {
		/* as above: the default follows a shorter lifetime */
		if (vals[V_SESSION_IDLE_TIMEOUT] != NULL)
			return fail(err, errlen, "%s is longer than %s", pc_config_vars[V_SESSION_IDLE_TIMEOUT].name,
			            pc_config_vars[V_SESSION_LIFETIME].name);
		cfg->session_idle_s = cfg->session_lifetime_s;
	}

	if (get_uint(&v, V_PASSWORD_OPSLIMIT, text_of(vals, V_PASSWORD_OPSLIMIT), OPSLIMIT_MIN, OPSLIMIT_MAX, err,
	             errlen) != 0)
		return -1;
	cfg->pwhash_opslimit = v;
	_Static_assert(MEMLIMIT_MAX <= SIZE_MAX, "memlimit fits size_t");
	if (get_quantity(&v, V_PASSWORD_MEMLIMIT, text_of(vals, V_PASSWORD_MEMLIMIT), units_bytes, 1, MEMLIMIT_MIN,
	                 MEMLIMIT_MAX, "bytes, or a number with KiB, MiB or GiB", err, errlen) != 0)
		return -1;
	cfg->pwhash_memlimit = (size_t)v;

	if (get_uint(&v, V_LOGIN_MAX_FAILURES, text_of(vals, V_LOGIN_MAX_FAILURES), 1, LOGIN_FAILURES_MAX, err,
	             errlen) != 0)
		return -1;
	cfg->login_max_failures = (unsigned)v;
	if (get_seconds(&cfg->login_window_s, V_LOGIN_WINDOW, text_of(vals, V_LOGIN_WINDOW), LOGIN_WINDOW_S_MIN,
	                LOGIN_WINDOW_S_MAX, err, errlen) != 0)
		return -1;
	return load_feature_values(cfg, vals, err, errlen);
}

int pc_config_load(struct pc_config *cfg, char *const *envp, bool need_keys, char *err, size_t errlen)
{
	const char *vals[V__COUNT] = {0}, *files[V__COUNT] = {0};
	memset(cfg, 0, sizeof(*cfg));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* secrets last, so nothing allocated needs undoing after a later error */
	if (scan_env(vals, files, envp, err, errlen) != 0 || load_values(cfg, vals, err, errlen) != 0 ||
	    load_keys(cfg, vals, files, need_keys, err, errlen) != 0) {
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
	return 0;
}

void pc_config_free(struct pc_config *cfg)
{
	if (cfg == NULL || cfg->keys == NULL)
		return;
	sodium_free(cfg->keys); /* makes it writable, wipes, unmaps */
	cfg->keys = NULL;
}

/* ---- output --------------------------------------------------------------- */

static void print_var(FILE *out, enum var_id id, const char *value)
{
	fprintf(out, "%s=%s\n", pc_config_vars[id].name, value);
}

void pc_config_print(const struct pc_config *cfg, FILE *out)
{
	char b[2048]; /* 32 proxies of at most 50 bytes each */
	size_t off = 0;
	b[0] = '\0';
	for (size_t i = 0; i < cfg->n_listen; i++) {
		const struct pc_listen *l = &cfg->listen[i];
		bool v6 = strchr(l->host, ':') != NULL;
		off += (size_t)snprintf(b + off, sizeof(b) - off, "%s%s%s%s:%u", i ? "," : "", v6 ? "[" : "", l->host,
		                        v6 ? "]" : "", (unsigned)l->port);
	}
	print_var(out, V_LISTEN, b);
	fprintf(out, "%s=%u\n", pc_config_vars[V_THREADS].name, cfg->threads);
	format_quantity(b, sizeof(b), cfg->header_timeout_ms, units_ms);
	print_var(out, V_HEADER_TIMEOUT, b);
	format_quantity(b, sizeof(b), cfg->body_timeout_ms, units_ms);
	print_var(out, V_BODY_TIMEOUT, b);
	format_quantity(b, sizeof(b), cfg->idle_timeout_ms, units_ms);
	print_var(out, V_IDLE_TIMEOUT, b);
	format_quantity(b, sizeof(b), cfg->shutdown_timeout_ms, units_ms);
	print_var(out, V_SHUTDOWN_TIMEOUT, b);
	fprintf(out, "%s=%u\n", pc_config_vars[V_MAX_CONNECTIONS].name, cfg->max_connections);
	fprintf(out, "%s=%u\n", pc_config_vars[V_MAX_CONNECTIONS_PER_ADDRESS].name, cfg->max_connections_per_addr);
	fprintf(out, "%s=%llu\n", pc_config_vars[V_MAX_BODY_BYTES].name, (unsigned long long)cfg->max_body_bytes);
	off = 0;
	b[0] = '\0';
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
		const struct pc_cidr *c = &cfg->trusted_proxies[i];
		char a[INET6_ADDRSTRLEN];
		inet_ntop(c->family, c->addr, a, sizeof(a));
		off += (size_t)snprintf(b + off, sizeof(b) - off, "%s%s/%u", i ? "," : "", a, c->prefix);
	}
	print_var(out, V_TRUSTED_PROXIES, b);
	print_var(out, V_ACCESS_LOG, cfg->access_log ? "true" : "false");
	print_var(out, V_XSS_PROTECTION, cfg->xss_protection == PC_XSS_BLOCK ? "block" : "off");
	pc_url_mask(b, sizeof(b), cfg->database_url);
	print_var(out, V_DATABASE_URL, b);
	snprintf(b, sizeof(b), "(set, %d bytes)", PC_SECRET_KEY_BYTES);
	print_var(out, V_SECRET_KEY, cfg->keys ? b : "(not set)");
	print_var(out, V_SECRET_KEY_PREVIOUS, cfg->keys && cfg->keys->has_previous ? b : "(not set)");
	print_var(out, V_COOKIE_DOMAIN, cfg->cookie_domain);
	format_quantity(b, sizeof(b), (uint64_t)cfg->session_lifetime_s, units_s);
	print_var(out, V_SESSION_LIFETIME, b);
	format_quantity(b, sizeof(b), (uint64_t)cfg->session_idle_s, units_s);
	print_var(out, V_SESSION_IDLE_TIMEOUT, b);
	fprintf(out, "%s=%llu\n", pc_config_vars[V_PASSWORD_OPSLIMIT].name, cfg->pwhash_opslimit);
	format_quantity(b, sizeof(b), cfg->pwhash_memlimit, units_bytes);
	print_var(out, V_PASSWORD_MEMLIMIT, b);
	fprintf(out, "%s=%u\n", pc_config_vars[V_LOGIN_MAX_FAILURES].name, cfg->login_max_failures);
	format_quantity(b, sizeof(b), (uint64_t)cfg->login_window_s, units_s);
	print_var(out, V_LOGIN_WINDOW, b);
	off = 0;
	b[0] = '\0';
	for (size_t i = 0; i < cfg->n_allowed_origins; i++)
		off += (size_t)snprintf(b + off, sizeof(b) - off, "%s%s", i ? "," : "", cfg->allowed_origins[i]);
	print_var(out, V_ALLOWED_ORIGINS, b);
	print_var(out, V_API_KEYS_CAN_ADMIN, cfg->api_keys_can_admin ? "true" : "false");
	print_var(out, V_AUDIT_LOG, cfg->audit_log);
	print_var(out, V_AUDIT_FORMAT, cfg->audit_format == PC_AUDIT_TEXT ? "text" : "json");
	print_var(out, V_ISSUER, cfg->issuer);
	print_var(out, V_AUDIENCE, cfg->audience);
	print_var(out, V_JWT_ALG, cfg->jwt_alg == PC_CFG_JWT_EDDSA ? "EdDSA" : "HS256");
	snprintf(b, sizeof(b), "(set, %d bytes)", PC_SECRET_KEY_BYTES);
	print_var(out, V_JWT_SIGNING_KEY, cfg->keys && cfg->keys->has_jwt_seed ? b : "(not set)");
	format_quantity(b, sizeof(b), (uint64_t)cfg->access_token_lifetime_s, units_s);
	print_var(out, V_ACCESS_TOKEN_LIFETIME, b);
	format_quantity(b, sizeof(b), (uint64_t)cfg->jwt_leeway_s, units_s);
	print_var(out, V_JWT_LEEWAY, b);
	format_quantity(b, sizeof(b), (uint64_t)cfg->refresh_token_lifetime_s, units_s);
	print_var(out, V_REFRESH_TOKEN_LIFETIME, b);
	fprintf(out, "%s=%u\n", pc_config_vars[V_REFRESH_LIMIT].name, cfg->refresh_limit);
	print_var(out, V_VERIFY_CSRF, cfg->verify_csrf ? "true" : "false");
	print_var(out, V_AUTH_ASSERTION, cfg->auth_assertion ? "true" : "false");
	format_quantity(b, sizeof(b), (uint64_t)cfg->verify_cache_s, units_s);
	print_var(out, V_VERIFY_CACHE, b);
	off = 0;
	b[0] = '\0';
	for (size_t i = 0; i < cfg->n_allowed_redirects; i++)
		off += (size_t)snprintf(b + off, sizeof(b) - off, "%s%s", i ? "," : "", cfg->allowed_redirects[i]);
	print_var(out, V_ALLOWED_REDIRECTS, b);
	pc_url_mask(b, sizeof(b), cfg->redis_url);
	print_var(out, V_REDIS_URL, b);
	print_var(out, V_REDIS_PASSWORD_FILE, cfg->redis_password_file);
	print_var(out, V_DATABASE_PASSWORD_FILE, cfg->database_password_file);
	print_var(out, V_REVOCATION_FAIL_OPEN, cfg->revocation_fail_open ? "true" : "false");
}

int pc_config_keygen(FILE *out)
{
	uint8_t key[PC_SECRET_KEY_BYTES], check[PC_SECRET_KEY_BYTES];
	char text[sodium_base64_ENCODED_LEN(PC_SECRET_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	int rc = -1;
	/* print only what pc_config_load accepts: a random key trips the
	 * placeholder or repetition checks with probability below 1e-6, and
	 * then we draw again */
	for (int tries = 0; tries < 16 && rc != 0; tries++) {
		randombytes_buf(key, sizeof(key));
		sodium_bin2base64(text, sizeof(text), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
		rc = decode_key(check, "key", text, strlen(text), NULL, 0);
	}
	if (rc == 0 && (fprintf(out, "%s=%s\n", pc_config_vars[V_SECRET_KEY].name, text) < 0 || fflush(out) != 0))
		rc = -1;
	sodium_memzero(key, sizeof(key));
	sodium_memzero(check, sizeof(check));
	sodium_memzero(text, sizeof(text));
	return rc;
}
