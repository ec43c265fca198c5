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
 * - Secrets are secrets.c's and network addresses addr.c's; this file holds
 *   the variable table, the scan of the environment, the other values
 *   (numbers, quantities, names, URLs), and printing.
 *
 * Caveats: the value of PORTCULLIS_SECRET_KEY stays in the process
 * environment (/proc/PID/environ, readable by the same user); prefer
 * PORTCULLIS_SECRET_KEY_FILE. Cookie domains are checked for syntax only,
 * not against the public suffix list (co.uk is accepted).
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "config/addr.h"
#include "config/secrets.h"
#include "core/mail.h"
#include "core/num.h"
#include "core/url.h"

#define PREFIX "PORTCULLIS_"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define FILE_SUFFIX PC_CONFIG_FILE_SUFFIX
#define FILE_SUFFIX_LEN (sizeof(FILE_SUFFIX) - 1)

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
/* The per-address ceiling's default, in account limits: an office behind
 * one NAT address gets ten users' worth of typos before it is stopped;
 * a spray over many accounts from one address still is, after 100 guesses
 * with the defaults. */
#define LOGIN_ADDRESS_FACTOR 10
#define LOGIN_ADDRESS_FAILURES_MAX 100000
_Static_assert(LOGIN_FAILURES_MAX * LOGIN_ADDRESS_FACTOR <= LOGIN_ADDRESS_FAILURES_MAX, "default in range");

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
	V_LOGIN_MAX_FAILURES_PER_ADDRESS,
	V_LOGIN_WINDOW,
	V_ALLOWED_ORIGINS,
	V_API_KEYS_CAN_ADMIN,
	V_AUDIT_LOG,
	V_ACCESS_RULES_FILE,
	V_AUDIT_FORMAT,
	V_LOG_FORMAT,
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
	V_PUBLIC_URL,
	V_REQUIRE_SECOND_FACTOR,
	V_PATH_PREFIX,
	V_PASSWORD_MIN_SCORE,
	V_BREACHED_PASSWORDS_FILE,
	V_SMTP_URL,
	V_SMTP_USER,
	V_SMTP_PASSWORD,
	V_SMTP_FROM,
	V_SMTP_INSECURE,
	V_SMTP_CA_FILE,
	V_WEBAUTHN_RP_ID,
	V__COUNT
};

const struct pc_config_var pc_config_vars[] = {
	[V_LISTEN] = {"PORTCULLIS_LISTEN", "127.0.0.1:8080",
	              "addresses to listen on, comma-separated (up to 8): IPv4 a.b.c.d:port or [IPv6]:port, "
	              "numeric only, port 0 lets the kernel choose; or unix:/absolute/path, a unix socket (mode "
	              "0660) for a proxy on this host", false, false},
	[V_THREADS] = {"PORTCULLIS_THREADS", "number of CPU cores", "event-loop threads, 1 to 64", false, false},
	[V_HEADER_TIMEOUT] = {"PORTCULLIS_HEADER_TIMEOUT", "10s",
	                      "time allowed to receive a request head, from its first byte; seconds, or a number "
	                      "with ms, s or m, from 100ms to 60m", false, false},
	[V_BODY_TIMEOUT] = {"PORTCULLIS_BODY_TIMEOUT", "10s",
	                    "time allowed to receive a request body after its head, and for a client to take a "
	                    "response; same units as PORTCULLIS_HEADER_TIMEOUT", false, false},
	[V_IDLE_TIMEOUT] = {"PORTCULLIS_IDLE_TIMEOUT", "60s",
	                    "how long a keep-alive connection may wait for its next request; same units as "
	                    "PORTCULLIS_HEADER_TIMEOUT", false, false},
	[V_SHUTDOWN_TIMEOUT] = {"PORTCULLIS_SHUTDOWN_TIMEOUT", "10s",
	                        "how long a graceful stop waits for requests in flight before closing connections; "
	                        "same units as PORTCULLIS_HEADER_TIMEOUT", false, false},
	[V_MAX_CONNECTIONS] = {"PORTCULLIS_MAX_CONNECTIONS", "10000",
	                       "most client connections open at once, 1 to 1000000", false, false},
	[V_MAX_CONNECTIONS_PER_ADDRESS] = {"PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS", "256",
	                                   "most connections open at once from one client address, 1 to "
	                                   "PORTCULLIS_MAX_CONNECTIONS; trusted proxies are exempt", false, false},
	[V_MAX_BODY_BYTES] = {"PORTCULLIS_MAX_BODY_BYTES", "65536",
	                      "largest request body accepted, in bytes, 1024 to 1048576; a larger one gets 413",
	                      false, false},
	[V_TRUSTED_PROXIES] = {"PORTCULLIS_TRUSTED_PROXIES", NULL,
	                       "reverse proxies whose X-Forwarded-For is believed: comma-separated IPv4 or IPv6 "
	                       "addresses or CIDRs with zero host bits (up to 32), and unix for whoever connects "
	                       "over a unix socket of PORTCULLIS_LISTEN; unset or empty: none", false, true},
	[V_ACCESS_LOG] = {"PORTCULLIS_ACCESS_LOG", "true", "log one line per request: true or false", false, false},
	[V_XSS_PROTECTION] = {"PORTCULLIS_XSS_PROTECTION", "off",
	                      "X-XSS-Protection header: off sends 0 (recommended, the old filter can be abused), "
	                      "block sends 1; mode=block", false, false},
	[V_DATABASE_URL] = {"PORTCULLIS_DATABASE_URL", "sqlite:./var/portcullis.db",
	                    "where users, sessions and the audit log live: sqlite:PATH, postgres://... or "
	                    "postgresql://...; always shown with the password masked", false, false},
	[V_SECRET_KEY] = {"PORTCULLIS_SECRET_KEY", NULL,
	                  "master key: base64 of 32 random bytes, from `portcullis keygen`; required to serve",
	                  true, false},
	[V_SECRET_KEY_PREVIOUS] = {"PORTCULLIS_SECRET_KEY_PREVIOUS", NULL,
	                           "the key before the last rotation, used only to verify, so rotating logs "
	                           "nobody out; unset: none", true, false},
	[V_COOKIE_DOMAIN] = {"PORTCULLIS_COOKIE_DOMAIN", NULL,
	                     "domain that shares the session cookie with its subdomains, a lowercase DNS name "
	                     "such as example.com; unset or empty: a host-only __Host- cookie", false, true},
	[V_SESSION_LIFETIME] = {"PORTCULLIS_SESSION_LIFETIME", "30d",
	                        "absolute lifetime of a session; seconds, or a number with s, m, h or d, "
	                        "from 60s to 365d", false, false},
	[V_SESSION_IDLE_TIMEOUT] = {"PORTCULLIS_SESSION_IDLE_TIMEOUT", "7d",
	                            "a session unused this long ends; same units, at most "
	                            "PORTCULLIS_SESSION_LIFETIME", false, false},
	[V_PASSWORD_OPSLIMIT] = {"PORTCULLIS_PASSWORD_OPSLIMIT", "2",
	                         "Argon2id passes per password hash, 2 (the OWASP minimum) to 20", false, false},
	[V_PASSWORD_MEMLIMIT] = {"PORTCULLIS_PASSWORD_MEMLIMIT", "19MiB",
	                         "Argon2id memory per password hash: bytes, or a number with KiB, MiB or GiB, "
	                         "from 19MiB to 4GiB", false, false},
	[V_LOGIN_MAX_FAILURES] = {"PORTCULLIS_LOGIN_MAX_FAILURES", "10",
	                          "failed logins allowed per account (from any address) within "
	                          "PORTCULLIS_LOGIN_WINDOW, 1 to 1000", false, false},
	[V_LOGIN_MAX_FAILURES_PER_ADDRESS] = {"PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS", NULL,
	                                      "failed logins allowed per client address, whatever the account, "
	                                      "within PORTCULLIS_LOGIN_WINDOW (also failed password reset "
	                                      "redemptions); unset: 10 x PORTCULLIS_LOGIN_MAX_FAILURES; "
	                                      "PORTCULLIS_LOGIN_MAX_FAILURES to 100000", false, false},
	[V_LOGIN_WINDOW] = {"PORTCULLIS_LOGIN_WINDOW", "15m",
	                    "period over which failed logins are counted; seconds, or a number with s, m, h or d, "
	                    "from 1m to 24h", false, false},
	[V_ALLOWED_ORIGINS] = {"PORTCULLIS_ALLOWED_ORIGINS", NULL,
	                       "origins besides the service's own allowed to send unsafe requests with the "
	                       "session cookie: comma-separated scheme://host[:port] (up to 16); unset or empty: "
	                       "none", false, true},
	[V_API_KEYS_CAN_ADMIN] = {"PORTCULLIS_API_KEYS_CAN_ADMIN", "false",
	                          "whether requests authenticated by an API key may manage users and API keys: "
	                          "true or false", false, false},
	[V_ACCESS_RULES_FILE] = {"PORTCULLIS_ACCESS_RULES_FILE", NULL,
	                         "forward-auth access rules, one per line (see the README); unset or empty: any signed-in "
	                         "user may reach every protected app; reloaded on SIGHUP", false, true},
	[V_AUDIT_LOG] = {"PORTCULLIS_AUDIT_LOG", "stderr",
	                 "where audit events are streamed besides the store: stderr, off, or a file path "
	                 "(opened for appending, created 0600)", false, false},
	[V_AUDIT_FORMAT] = {"PORTCULLIS_AUDIT_FORMAT", "json",
	                    "audit stream format: json (one object per line) or text (AUDIT: ACTION type | ...)",
	                    false, false},
	[V_LOG_FORMAT] = {"PORTCULLIS_LOG_FORMAT", "json",
	                  "log lines on stderr: json (one object per line) or text (time level event "
	                  "key=value ..., for a person at a terminal)", false, false},
	[V_ISSUER] = {"PORTCULLIS_ISSUER", "portcullis", "the iss claim of access tokens, checked on verify",
	              false, false},
	[V_AUDIENCE] = {"PORTCULLIS_AUDIENCE", "portcullis", "the aud claim of access tokens, checked on verify",
	                false, false},
	[V_JWT_ALG] = {"PORTCULLIS_JWT_ALG", "HS256",
	               "access token signature: HS256 (HMAC under a key derived from PORTCULLIS_SECRET_KEY) or "
	               "EdDSA (Ed25519 with PORTCULLIS_JWT_SIGNING_KEY; public keys at /.well-known/jwks.json)",
	               false, false},
	[V_JWT_SIGNING_KEY] = {"PORTCULLIS_JWT_SIGNING_KEY", NULL,
	                       "Ed25519 seed for PORTCULLIS_JWT_ALG=EdDSA: base64 of 32 random bytes (`portcullis "
	                       "keygen`); required with EdDSA, refused otherwise", true, false},
	[V_ACCESS_TOKEN_LIFETIME] = {"PORTCULLIS_ACCESS_TOKEN_LIFETIME", "15m",
	                             "lifetime of an access token; seconds, or a number with s, m, h or d, from 1m "
	                             "to 24h", false, false},
	[V_JWT_LEEWAY] = {"PORTCULLIS_JWT_LEEWAY", "30s",
	                  "clock skew tolerated on exp, nbf and iat; seconds, or with s or m, from 0s to 60s", false, false},
	[V_REFRESH_TOKEN_LIFETIME] = {"PORTCULLIS_REFRESH_TOKEN_LIFETIME", "30d",
	                              "lifetime of a refresh token family; same units, from 1h to 365d", false, false},
	[V_REFRESH_LIMIT] = {"PORTCULLIS_REFRESH_LIMIT", "5",
	                     "refreshes allowed per user per hour, 1 to 1000; past it 429 with Retry-After", false, false},
	[V_VERIFY_CSRF] = {"PORTCULLIS_VERIFY_CSRF", "true",
	                   "forward auth: a forwarded POST, PUT, PATCH or DELETE authenticated by the session "
	                   "cookie is refused (403) on evidence of another site (and, at a /verify?csrf=token "
	                   "location, without a valid CSRF token): true or false", false, false},
	[V_AUTH_ASSERTION] = {"PORTCULLIS_AUTH_ASSERTION", "false",
	                      "forward auth: also send X-Auth-Assertion, a 60-second JWT (audience "
	                      "portcullis-upstream) the app can verify with the JWKS: true or false; "
	                      "true needs PORTCULLIS_JWT_ALG=EdDSA", false, false},
	[V_VERIFY_CACHE] = {"PORTCULLIS_VERIFY_CACHE", "10s",
	                    "how long a checked session or API key is trusted without asking the store again; "
	                    "dropped at once on logout or deletion in this instance; 0s to 60s", false, false},
	[V_ALLOWED_REDIRECTS] = {"PORTCULLIS_ALLOWED_REDIRECTS", NULL,
	                         "origins the login page may send you back to besides its own: comma-separated "
	                         "scheme://host[:port] (up to 16); unset or empty: none", false, true},
	[V_REDIS_URL] = {"PORTCULLIS_REDIS_URL", NULL,
	                 "redis://[:password@]host:port[/db] shared by every instance for revocations, "
	                 "throttles, refresh limits and cache invalidation; unset or empty: in-process "
	                 "(one instance); always shown with the password masked", false, true},
	[V_REDIS_PASSWORD_FILE] = {"PORTCULLIS_REDIS_PASSWORD_FILE", NULL,
	                           "a file holding the Redis password (instead of putting it in the URL); unset or empty: none", false, true},
	[V_DATABASE_PASSWORD_FILE] = {"PORTCULLIS_DATABASE_PASSWORD_FILE", NULL,
	                              "a file holding the PostgreSQL password (instead of putting it in the URL); unset or empty: none",
	                              false, true},
	[V_REVOCATION_FAIL_OPEN] = {"PORTCULLIS_REVOCATION_FAIL_OPEN", "false",
	                            "with Redis unreachable, accept bearer tokens without the revocation check "
	                            "(logged loudly at start); false: answer 503: true or false", false, false},
	[V_PUBLIC_URL] = {"PORTCULLIS_PUBLIC_URL", NULL,
	                  "the URL users see for portcullis, scheme://host[:port][/path] such as "
	                  "https://auth.example.com: the portal that forward-auth redirects to, the base of links "
	                  "in mail, the WebAuthn origin and the OIDC issuer; unset or empty: none", false, true},
	[V_REQUIRE_SECOND_FACTOR] = {"PORTCULLIS_REQUIRE_SECOND_FACTOR", "admins",
	                             "who must have a second factor: none, admins or all; a user it covers who has "
	                             "none is sent to set one up after the password and can do nothing else until "
	                             "then", false, false},
	[V_PATH_PREFIX] = {"PORTCULLIS_PATH_PREFIX", "/.portcullis",
	                   "the path under which portcullis also answers its pages and API (/.portcullis/login, "
	                   "/.portcullis/api/v1/...), so that on an app's own host only this prefix need be routed "
	                   "to it; \"/\" and segments of letters, digits, '-', '.', '_', '~', no trailing slash, up "
	                   "to 64 bytes", false, false},
	[V_PASSWORD_MIN_SCORE] = {"PORTCULLIS_PASSWORD_MIN_SCORE", "3",
	                          "the zxcvbn score (guesses: 2 = 10^6, 3 = 10^8, 4 = 10^10) a new password must reach, "
	                          "with the user's email, \"portcullis\" and the public host as extra dictionary words; "
	                          "2 to 4", false, false},
	[V_BREACHED_PASSWORDS_FILE] = {"PORTCULLIS_BREACHED_PASSWORDS_FILE", NULL,
	                               "a sorted file of breached passwords' SHA-1 hashes, HEX:COUNT lines as Have I Been "
	                               "Pwned publishes them (LF or CRLF); a new password listed there is refused; searched "
	                               "on disk, never loaded; checked at start; unset or empty: none", false, true},
	[V_SMTP_URL] = {"PORTCULLIS_SMTP_URL", NULL,
	                "mail server for password-reset links and security notices: smtp://host:587 (STARTTLS "
	                "required: a server that does not offer it is refused) or smtps://host:465; needs "
	                "PORTCULLIS_SMTP_FROM and PORTCULLIS_PUBLIC_URL; unset or empty: email features are off",
	                false, true},
	[V_SMTP_USER] = {"PORTCULLIS_SMTP_USER", NULL,
	                 "user name for SMTP AUTH (with PORTCULLIS_SMTP_PASSWORD); unset or empty: no AUTH", false,
	                 true},
	[V_SMTP_PASSWORD] = {"PORTCULLIS_SMTP_PASSWORD", NULL,
	                     "password for SMTP AUTH; prefer PORTCULLIS_SMTP_PASSWORD_FILE; unset: none", true, false},
	[V_SMTP_FROM] = {"PORTCULLIS_SMTP_FROM", NULL,
	                 "sender address of every mail, local@domain in ASCII such as noreply@auth.example.com; "
	                 "unset or empty: none (required with PORTCULLIS_SMTP_URL)", false, true},
	[V_SMTP_INSECURE] = {"PORTCULLIS_SMTP_INSECURE", "false",
	                     "true sends mail WITHOUT TLS to a smtp:// relay on this host or a private network "
	                     "(logged loudly at start); never for a server across the internet: true or false",
	                     false, false},
	[V_SMTP_CA_FILE] = {"PORTCULLIS_SMTP_CA_FILE", NULL,
	                    "PEM file of the certificate authority that signs the mail server's certificate, "
	                    "instead of the system's; verification stays on; unset or empty: the system's", false,
	                    true},
	[V_WEBAUTHN_RP_ID] = {"PORTCULLIS_WEBAUTHN_RP_ID", NULL,
	                      "the WebAuthn relying party id passkeys are bound to: the host of PORTCULLIS_PUBLIC_URL "
	                      "or a registrable suffix of it (example.com for auth.example.com); unset or empty: that "
	                      "host. Passkeys are off without PORTCULLIS_PUBLIC_URL", false, true},
};
const size_t pc_config_n_vars = sizeof(pc_config_vars) / sizeof(pc_config_vars[0]);
_Static_assert(sizeof(pc_config_vars) / sizeof(pc_config_vars[0]) == V__COUNT, "one table row per variable");

/* ---- errors ------------------------------------------------------------ */

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
	if (mult == 0 || pc_num_u64(&v, s, nd, 0, UINT64_MAX / mult) != 0)
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
	if (pc_num_u64(out, text, strlen(text), 0, UINT64_MAX) != 0)
		return pc_errf(err, errlen, "%s is not a whole number (digits only, %llu to %llu)", name,
		            (unsigned long long)min, (unsigned long long)max);
	if (*out < min || *out > max)
		return pc_errf(err, errlen, "%s is out of range (%llu to %llu)", name, (unsigned long long)min,
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
		return pc_errf(err, errlen, "%s is not valid (expected %s, %s to %s)", name, forms, lo, hi);
	if (*out < min || *out > max)
		return pc_errf(err, errlen, "%s is out of range (%s to %s)", name, lo, hi);
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

/* ---- other values -------------------------------------------------------- */

/* RFC 1035 §2.3.1 preferred name syntax, lowercase, at least two labels,
 * the last not numeric (so no IPv4 address), no leading or trailing dot
 * (RFC 6265 §5.2.3 strips a leading dot; we ask for the canonical form). */
static int check_cookie_domain(const char *s, char *err, size_t errlen)
{
	const char *name = pc_config_vars[V_COOKIE_DOMAIN].name;
	size_t len = strlen(s), labels = 0;
	if (len > 253)
		return pc_errf(err, errlen, "%s is longer than 253 characters", name);
	if (s[0] == '.')
		return pc_errf(err, errlen, "%s must not start with a dot (a cookie for example.com already covers "
		            "its subdomains)", name);
	if (s[len - 1] == '.')
		return pc_errf(err, errlen, "%s must not end with a dot", name);
	const char *p = s;
	bool numeric = false;
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		numeric = true;
		if (l == 0)
			return pc_errf(err, errlen, "%s has an empty label", name);
		if (l > 63)
			return pc_errf(err, errlen, "%s has a label longer than 63 characters", name);
		for (size_t i = 0; i < l; i++) {
			char c = p[i];
			if (c >= 'A' && c <= 'Z')
				return pc_errf(err, errlen, "%s must be lowercase", name);
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
				return pc_errf(err, errlen, "%s is not a DNS name (letters, digits, '-' and '.' only)", name);
			if (c < '0' || c > '9')
				numeric = false;
		}
		if (p[0] == '-' || p[l - 1] == '-')
			return pc_errf(err, errlen, "%s has a label that starts or ends with '-'", name);
		labels++;
		p += l + (dot ? 1 : 0);
	}
	if (numeric)
		return pc_errf(err, errlen, "%s is an IP address; a cookie domain must be a DNS name", name);
	if (labels < 2)
		return pc_errf(err, errlen, "%s is a bare top-level domain; browsers refuse such a cookie", name);
	return 0;
}

static int check_database_url(const char *s, char *err, size_t errlen)
{
	const char *name = pc_config_vars[V_DATABASE_URL].name;
	char room[sizeof(((struct pc_config *)0)->database_url)];
	size_t len = strlen(s);
	if (len >= sizeof(room))
		return pc_errf(err, errlen, "%s is longer than %zu bytes", name, sizeof(room) - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return pc_errf(err, errlen, "%s contains a control character", name);
	static const char *const schemes[] = {"sqlite:", "postgres://", "postgresql://"};
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t l = strlen(schemes[i]);
		if (strncmp(s, schemes[i], l) == 0) {
			if (s[l] == '\0')
				return pc_errf(err, errlen, "%s has nothing after %s", name, schemes[i]);
			return 0;
		}
	}
	return pc_errf(err, errlen, "%s must be sqlite:PATH, postgres://... or postgresql://...", name);
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
		return pc_errf(err, errlen, "unknown variable %s (typo? did you mean %s?)", shown, best);
	return pc_errf(err, errlen, "unknown variable %s (typo?)", shown);
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
					return pc_errf(err, errlen, "%s" FILE_SUFFIX ": only secrets can be read from a file; set "
					            "%s itself", vn, vn);
				slot = &files[i];
			}
		}
		if (slot == NULL)
			return unknown_variable(entry, len, err, errlen);
		if (*slot != NULL) {
			char shown[72];
			printable_name(shown, entry, len);
			return pc_errf(err, errlen, "%s is set more than once in the environment", shown);
		}
		*slot = value;
	}
	for (size_t i = 0; i < V__COUNT; i++) {
		if (vals[i] == NULL || vals[i][0] != '\0' || pc_config_vars[i].secret || pc_config_vars[i].empty_ok)
			continue;
		return pc_errf(err, errlen, "%s is empty; unset it to use the default", pc_config_vars[i].name);
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
		return pc_errf(err, errlen, "%s must be true or false", pc_config_vars[id].name);
	return 0;
}

static int get_text(char *out, size_t cap, enum var_id id, const char *t, char *err, size_t errlen)
{
	size_t n = strlen(t);
	if (n >= cap)
		return pc_errf(err, errlen, "%s is longer than %zu bytes", pc_config_vars[id].name, cap - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return pc_errf(err, errlen, "%s contains a control character", pc_config_vars[id].name);
	memcpy(out, t, n + 1);
	return 0;
}

static int get_path_prefix(struct pc_config *cfg, const char *t, char *err, size_t errlen)
{
	size_t n = strlen(t);
	if (!pc_url_prefix_valid(t, n))
		return pc_errf(err, errlen, "%s must be a path like /.portcullis: \"/\" and segments of letters, digits, "
		            "'-', '.', '_' and '~', no empty, '.' or '..' segment, no trailing slash, at most %d bytes",
		            pc_config_vars[V_PATH_PREFIX].name, PC_PATH_PREFIX_MAX);
	memcpy(cfg->path_prefix, t, n + 1);
	return 0;
}

/* The email settings hang together: a URL needs a sender and the public
 * URL (the base of every link), the other settings need the URL, and
 * INSECURE is for smtp:// only. */
static int check_smtp(const struct pc_config *cfg, const char *const *vals, char *err, size_t errlen)
{
	const char *url = pc_config_vars[V_SMTP_URL].name;
	if (cfg->smtp_url[0] == '\0') {
		static const enum var_id need_url[] = {V_SMTP_USER, V_SMTP_FROM, V_SMTP_CA_FILE};
		for (size_t i = 0; i < sizeof(need_url) / sizeof(need_url[0]); i++)
			if (vals[need_url[i]] != NULL && vals[need_url[i]][0] != '\0')
				return pc_errf(err, errlen, "%s is set but %s is not", pc_config_vars[need_url[i]].name, url);
		if (cfg->smtp_insecure)
			return pc_errf(err, errlen, "%s is set but %s is not", pc_config_vars[V_SMTP_INSECURE].name, url);
		return 0;
	}
	if (!pc_mail_addr_valid(cfg->smtp_from, strlen(cfg->smtp_from)))
		return pc_errf(err, errlen, "%s needs %s, an ASCII address local@domain", url,
		               pc_config_vars[V_SMTP_FROM].name);
	if (cfg->public_url[0] == '\0')
		return pc_errf(err, errlen, "%s needs %s: links in mail are built from it, never from a request's Host",
		               url, pc_config_vars[V_PUBLIC_URL].name);
	if (cfg->smtp_insecure && cfg->smtp_implicit_tls)
		return pc_errf(err, errlen, "%s=true contradicts an smtps:// %s", pc_config_vars[V_SMTP_INSECURE].name,
		               url);
	return 0;
}

/* The settings of the features above the HTTP layer. */
static int load_feature_values(struct pc_config *cfg, const char *const *vals, char *err, size_t errlen)
{
	uint64_t v;
	const char *t;
	if (pc_config_parse_origins(cfg->allowed_origins, &cfg->n_allowed_origins, pc_config_vars[V_ALLOWED_ORIGINS].name,
	                  text_of(vals, V_ALLOWED_ORIGINS), err, errlen) != 0 ||
	    pc_config_parse_origins(cfg->allowed_redirects, &cfg->n_allowed_redirects, pc_config_vars[V_ALLOWED_REDIRECTS].name,
	                  text_of(vals, V_ALLOWED_REDIRECTS), err, errlen) != 0 ||
	    pc_config_parse_public_url(cfg, pc_config_vars[V_PUBLIC_URL].name, text_of(vals, V_PUBLIC_URL), err,
	                               errlen) != 0 ||
	    get_path_prefix(cfg, text_of(vals, V_PATH_PREFIX), err, errlen) != 0 ||
	    pc_config_parse_rp_id(cfg, pc_config_vars[V_WEBAUTHN_RP_ID].name, text_of(vals, V_WEBAUTHN_RP_ID), err,
	                          errlen) != 0 ||
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
	    get_text(cfg->access_rules_file, sizeof(cfg->access_rules_file), V_ACCESS_RULES_FILE,
	             text_of(vals, V_ACCESS_RULES_FILE), err, errlen) != 0 ||
	    get_text(cfg->breached_passwords_file, sizeof(cfg->breached_passwords_file), V_BREACHED_PASSWORDS_FILE,
	             text_of(vals, V_BREACHED_PASSWORDS_FILE), err, errlen) != 0 ||
	    pc_config_parse_smtp_url(cfg, pc_config_vars[V_SMTP_URL].name, text_of(vals, V_SMTP_URL), err,
	                             errlen) != 0 ||
	    get_text(cfg->smtp_user, sizeof(cfg->smtp_user), V_SMTP_USER, text_of(vals, V_SMTP_USER), err,
	             errlen) != 0 ||
	    get_text(cfg->smtp_from, sizeof(cfg->smtp_from), V_SMTP_FROM, text_of(vals, V_SMTP_FROM), err,
	             errlen) != 0 ||
	    get_bool(&cfg->smtp_insecure, V_SMTP_INSECURE, text_of(vals, V_SMTP_INSECURE), err, errlen) != 0 ||
	    get_text(cfg->smtp_ca_file, sizeof(cfg->smtp_ca_file), V_SMTP_CA_FILE, text_of(vals, V_SMTP_CA_FILE),
	             err, errlen) != 0 ||
	    get_text(cfg->issuer, sizeof(cfg->issuer), V_ISSUER, text_of(vals, V_ISSUER), err, errlen) != 0 ||
	    get_text(cfg->audience, sizeof(cfg->audience), V_AUDIENCE, text_of(vals, V_AUDIENCE), err, errlen) != 0)
		return -1;
	t = text_of(vals, V_REQUIRE_SECOND_FACTOR);
	if (strcmp(t, "none") == 0)
		cfg->require_second_factor = PC_REQUIRE_2FA_NONE;
	else if (strcmp(t, "admins") == 0)
		cfg->require_second_factor = PC_REQUIRE_2FA_ADMINS;
	else if (strcmp(t, "all") == 0)
		cfg->require_second_factor = PC_REQUIRE_2FA_ALL;
	else
		return pc_errf(err, errlen, "%s must be none, admins or all", pc_config_vars[V_REQUIRE_SECOND_FACTOR].name);
	t = text_of(vals, V_AUDIT_FORMAT);
	if (strcmp(t, "json") == 0)
		cfg->audit_format = PC_AUDIT_JSON;
	else if (strcmp(t, "text") == 0)
		cfg->audit_format = PC_AUDIT_TEXT;
	else
		return pc_errf(err, errlen, "%s must be json or text", pc_config_vars[V_AUDIT_FORMAT].name);
	t = text_of(vals, V_LOG_FORMAT);
	if (strcmp(t, "json") == 0)
		cfg->log_text = false;
	else if (strcmp(t, "text") == 0)
		cfg->log_text = true;
	else
		return pc_errf(err, errlen, "%s must be json or text", pc_config_vars[V_LOG_FORMAT].name);
	t = text_of(vals, V_JWT_ALG);
	if (strcmp(t, "HS256") == 0)
		cfg->jwt_alg = PC_CFG_JWT_HS256;
	else if (strcmp(t, "EdDSA") == 0)
		cfg->jwt_alg = PC_CFG_JWT_EDDSA;
	else
		return pc_errf(err, errlen, "%s must be HS256 or EdDSA", pc_config_vars[V_JWT_ALG].name);
	/* an HS256 assertion could be checked only with our secret: the app
	 * must verify it with the public JWKS, so it needs an asymmetric key */
	if (cfg->auth_assertion && cfg->jwt_alg != PC_CFG_JWT_EDDSA)
		return pc_errf(err, errlen,
		               "%s=true needs an asymmetric signing key the app can verify with "
		               "/.well-known/jwks.json: set %s=EdDSA and %s (`portcullis keygen --value`)",
		               pc_config_vars[V_AUTH_ASSERTION].name, pc_config_vars[V_JWT_ALG].name,
		               pc_config_vars[V_JWT_SIGNING_KEY].name);
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
			return pc_errf(err, errlen, "%s must be redis://[:password@]host:port[/db] (rediss:// is not "
			            "supported by this build)", pc_config_vars[V_REDIS_URL].name);
		memcpy(cfg->redis_url, t, strlen(t) + 1);
	}
	if (cfg->redis_password_file[0] != '\0' && cfg->redis_url[0] == '\0')
		return pc_errf(err, errlen, "%s is set but %s is not", pc_config_vars[V_REDIS_PASSWORD_FILE].name,
		            pc_config_vars[V_REDIS_URL].name);
	if (check_smtp(cfg, vals, err, errlen) != 0)
		return -1;
	if (cfg->refresh_token_lifetime_s <= cfg->access_token_lifetime_s)
		return pc_errf(err, errlen, "%s must be longer than %s", pc_config_vars[V_REFRESH_TOKEN_LIFETIME].name,
		            pc_config_vars[V_ACCESS_TOKEN_LIFETIME].name);
	return 0;
}

static int load_values(struct pc_config *cfg, const char *const *vals, char *err, size_t errlen)
{
	uint64_t v;
	const char *t;

	if (pc_config_parse_listen(cfg, pc_config_vars[V_LISTEN].name, text_of(vals, V_LISTEN), err, errlen) != 0)
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

	if (pc_config_parse_proxies(cfg, pc_config_vars[V_TRUSTED_PROXIES].name, text_of(vals, V_TRUSTED_PROXIES), err,
	                            errlen) != 0)
		return -1;

	t = text_of(vals, V_ACCESS_LOG);
	if (strcmp(t, "true") == 0)
		cfg->access_log = true;
	else if (strcmp(t, "false") == 0)
		cfg->access_log = false;
	else
		return pc_errf(err, errlen, "%s must be true or false", pc_config_vars[V_ACCESS_LOG].name);

	t = text_of(vals, V_XSS_PROTECTION);
	if (strcmp(t, "off") == 0)
		cfg->xss_protection = PC_XSS_OFF;
	else if (strcmp(t, "block") == 0)
		cfg->xss_protection = PC_XSS_BLOCK;
	else
		return pc_errf(err, errlen, "%s must be off or block", pc_config_vars[V_XSS_PROTECTION].name);

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
			return pc_errf(err, errlen, "%s is longer than %s", pc_config_vars[V_SESSION_IDLE_TIMEOUT].name,
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
	if (get_uint(&v, V_PASSWORD_MIN_SCORE, text_of(vals, V_PASSWORD_MIN_SCORE), PC_PASSWORD_SCORE_MIN,
	             PC_PASSWORD_SCORE_MAX, err, errlen) != 0)
		return -1;
	cfg->password_min_score = (int)v;

	if (get_uint(&v, V_LOGIN_MAX_FAILURES, text_of(vals, V_LOGIN_MAX_FAILURES), 1, LOGIN_FAILURES_MAX, err,
	             errlen) != 0)
		return -1;
	cfg->login_max_failures = (unsigned)v;
	if (vals[V_LOGIN_MAX_FAILURES_PER_ADDRESS] == NULL)
		cfg->login_max_failures_per_address = cfg->login_max_failures * LOGIN_ADDRESS_FACTOR;
	else if (get_uint(&v, V_LOGIN_MAX_FAILURES_PER_ADDRESS, vals[V_LOGIN_MAX_FAILURES_PER_ADDRESS],
	                  cfg->login_max_failures, LOGIN_ADDRESS_FAILURES_MAX, err, errlen) != 0)
		return -1;
	else
		cfg->login_max_failures_per_address = (unsigned)v;
	if (get_seconds(&cfg->login_window_s, V_LOGIN_WINDOW, text_of(vals, V_LOGIN_WINDOW), LOGIN_WINDOW_S_MIN,
	                LOGIN_WINDOW_S_MAX, err, errlen) != 0)
		return -1;
	return load_feature_values(cfg, vals, err, errlen);
}

static int load_keys(struct pc_config *cfg, const char *const *vals, const char *const *files, bool need_keys,
                     char *err, size_t errlen)
{
#define SOURCE(id) {pc_config_vars[id].name, vals[id], files[id]}
	const struct pc_secret_sources src = {
		.key = SOURCE(V_SECRET_KEY),
		.previous = SOURCE(V_SECRET_KEY_PREVIOUS),
		.jwt = SOURCE(V_JWT_SIGNING_KEY),
		.smtp_password = SOURCE(V_SMTP_PASSWORD),
		.redis_password_file = pc_config_vars[V_REDIS_PASSWORD_FILE].name,
		.database_password_file = pc_config_vars[V_DATABASE_PASSWORD_FILE].name,
	};
#undef SOURCE
	return pc_config_load_keys(cfg, &src, need_keys, err, errlen);
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
		if (l->path[0] != '\0')
			off += (size_t)snprintf(b + off, sizeof(b) - off, "%sunix:%s", i ? "," : "", l->path);
		else
			off += (size_t)snprintf(b + off, sizeof(b) - off, "%s%s%s%s:%u", i ? "," : "", v6 ? "[" : "",
			                        l->host, v6 ? "]" : "", (unsigned)l->port);
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
	if (cfg->trust_unix)
		snprintf(b + off, sizeof(b) - off, "%sunix", off ? "," : "");
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
	fprintf(out, "%s=%u\n", pc_config_vars[V_LOGIN_MAX_FAILURES_PER_ADDRESS].name,
	        cfg->login_max_failures_per_address);
	format_quantity(b, sizeof(b), (uint64_t)cfg->login_window_s, units_s);
	print_var(out, V_LOGIN_WINDOW, b);
	off = 0;
	b[0] = '\0';
	for (size_t i = 0; i < cfg->n_allowed_origins; i++)
		off += (size_t)snprintf(b + off, sizeof(b) - off, "%s%s", i ? "," : "", cfg->allowed_origins[i]);
	print_var(out, V_ALLOWED_ORIGINS, b);
	print_var(out, V_API_KEYS_CAN_ADMIN, cfg->api_keys_can_admin ? "true" : "false");
	print_var(out, V_AUDIT_LOG, cfg->audit_log);
	print_var(out, V_ACCESS_RULES_FILE, cfg->access_rules_file);
	print_var(out, V_AUDIT_FORMAT, cfg->audit_format == PC_AUDIT_TEXT ? "text" : "json");
	print_var(out, V_LOG_FORMAT, cfg->log_text ? "text" : "json");
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
	print_var(out, V_PUBLIC_URL, cfg->public_url);
	static const char *const require_names[] = {"none", "admins", "all"};
	print_var(out, V_REQUIRE_SECOND_FACTOR, require_names[cfg->require_second_factor]);
	print_var(out, V_PATH_PREFIX, cfg->path_prefix);
	fprintf(out, "%s=%d\n", pc_config_vars[V_PASSWORD_MIN_SCORE].name, cfg->password_min_score);
	print_var(out, V_BREACHED_PASSWORDS_FILE, cfg->breached_passwords_file);
	print_var(out, V_SMTP_URL, cfg->smtp_url);
	print_var(out, V_SMTP_USER, cfg->smtp_user);
	print_var(out, V_SMTP_PASSWORD, cfg->keys && cfg->keys->smtp_password[0] ? "(set)" : "(not set)");
	print_var(out, V_SMTP_FROM, cfg->smtp_from);
	print_var(out, V_SMTP_INSECURE, cfg->smtp_insecure ? "true" : "false");
	print_var(out, V_SMTP_CA_FILE, cfg->smtp_ca_file);
	print_var(out, V_WEBAUTHN_RP_ID, cfg->webauthn_rp_id);
}

int pc_config_keygen_value(FILE *out)
{
	char text[PC_CONFIG_KEY_TEXT_MAX];
	int rc = pc_config_key_new(text, sizeof(text));
	if (rc == 0 && (fprintf(out, "%s\n", text) < 0 || fflush(out) != 0))
		rc = -1;
	sodium_memzero(text, sizeof(text));
	return rc;
}

int pc_config_keygen(FILE *out)
{
	char text[PC_CONFIG_KEY_TEXT_MAX];
	int rc = pc_config_key_new(text, sizeof(text));
	if (rc == 0 && (fprintf(out, "%s=%s\n", pc_config_vars[V_SECRET_KEY].name, text) < 0 || fflush(out) != 0))
		rc = -1;
	sodium_memzero(text, sizeof(text));
	return rc;
}
