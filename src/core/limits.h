/*
 * limits.h — every hard limit of portcullis, with the reason for its value.
 *
 * One place, so a reviewer can see the whole attack surface's sizes at once
 * (the habit of SQLite's sqliteLimit.h). Configurable limits have their
 * default and the range the configuration accepts here; the compile-time
 * checks at the bottom keep the defaults inside those ranges.
 */
#ifndef PC_CORE_LIMITS_H
#define PC_CORE_LIMITS_H

/* Whole request head (request line + header fields + CRLFs). Browsers send
 * 1-4 KiB; 16 KiB leaves room for large cookies from the protected app and
 * stays far below what could exhaust memory across many connections. 431. */
#define PC_HTTP_MAX_HEAD_BYTES 16384

/* Request target. 4 KiB is above any URL our API or the login redirect needs;
 * longer ones are almost always scanners or smuggling attempts. 414. */
#define PC_HTTP_MAX_URI_BYTES 4096

/* Number of header fields. Real clients send 5-20. 431. */
#define PC_HTTP_MAX_HEADERS 64

/* Method token length: the longest method we know is 7 bytes (OPTIONS). */
#define PC_HTTP_MAX_METHOD_BYTES 16

/* Cookie pairs in one Cookie header that we index (beyond it: 431). */
#define PC_HTTP_MAX_COOKIES 64

/* Request body: every body we accept is a small JSON document. 413. */
#define PC_HTTP_MAX_BODY_DEFAULT  (64 * 1024)
#define PC_HTTP_MAX_BODY_MIN      1024
#define PC_HTTP_MAX_BODY_MAX      (1024 * 1024)

/* Deadlines in milliseconds. The header deadline is counted from the first
 * byte of a request head however slowly the bytes trickle in (slowloris). */
#define PC_HTTP_HEADER_TIMEOUT_DEFAULT_MS 10000
#define PC_HTTP_BODY_TIMEOUT_DEFAULT_MS   10000
#define PC_HTTP_IDLE_TIMEOUT_DEFAULT_MS   60000
#define PC_HTTP_SHUTDOWN_TIMEOUT_DEFAULT_MS 10000
#define PC_TIMEOUT_MIN_MS 100
#define PC_TIMEOUT_MAX_MS 3600000

/* Connections. The per-address limit stops one client (a slowloris from a
 * single address) from taking every slot; trusted proxies are exempt because
 * all traffic arrives from them. */
#define PC_MAX_CONNECTIONS_DEFAULT          10000
#define PC_MAX_CONNECTIONS_PER_ADDR_DEFAULT 256
#define PC_MAX_CONNECTIONS_MAX              1000000

/* Loops (threads). */
#define PC_MAX_THREADS 64

/* Listening addresses in PORTCULLIS_LISTEN. */
#define PC_MAX_LISTEN 8
/* A unix socket's path in PORTCULLIS_LISTEN ("unix:/path"): what fits
 * sockaddr_un's sun_path (108 bytes on Linux) with its NUL. */
#define PC_UNIX_PATH_MAX 107

/* Trusted proxy CIDRs. */
#define PC_MAX_TRUSTED_PROXIES 32

/* Extra origins in PORTCULLIS_ALLOWED_ORIGINS. */
#define PC_MAX_ALLOWED_ORIGINS 16

/* Secret key material: libsodium's crypto_kdf master key size. */
#define PC_SECRET_KEY_BYTES 32

/* A response head we build never exceeds this (status line + our headers). */
#define PC_HTTP_MAX_RESPONSE_HEAD 4096

/* ---- identifiers and stored strings (the store's columns have the same bounds) ---- */

/* Every id we generate: hex of 16 random bytes (pc_random_id). */
#define PC_ID_LEN 32

/* An email address: RFC 5321's 256-byte path limit less the angle brackets. */
#define PC_EMAIL_MAX 254

/* A user's display name (X-Auth-Name), bytes of UTF-8: a name a person
 * reads, never control characters (it is sent in a header). */
#define PC_USER_NAME_MAX 128

/* The User-Agent we keep with a session or an audit event: enough to tell
 * browsers apart; longer values are cut (never refused: it is not ours). */
#define PC_UA_MAX 255

/* A client address as text: INET6_ADDRSTRLEN, NUL included. */
#define PC_CLIENT_ADDR_MAX 46

/* An Argon2id hash string: crypto_pwhash_STRBYTES. */
#define PC_PWHASH_MAX 128

/* Passwords (NIST SP 800-63B rev. 4, 3.1.1.2): the minimum is counted in
 * Unicode code points, 15 — the revision's floor for a password that is
 * the only authenticator, and portcullis cannot know at the time a password
 * is set whether the account will keep a second factor. The maximum is in
 * bytes, so one Argon2id input stays small enough that a flood of long
 * passwords costs what short ones cost: 1,024 bytes is at least 256 code
 * points of any script, far past the 64 the standard asks to allow. */
#define PC_PASSWORD_MIN 15
#define PC_PASSWORD_MAX 1024
/* A new password's JSON field takes up to this many bytes, so that one a
 * little too long is refused by the policy with its reason (too_long), not
 * as a malformed body; the body limit bounds it anyway. */
#define PC_PASSWORD_INPUT_MAX 4096

/* zxcvbn scores (0-4) a password must reach (PORTCULLIS_PASSWORD_MIN_SCORE):
 * 2 (10^6 guesses) is the lowest that still refuses dictionary words with
 * digits appended; 3 (10^8) is the default. */
#define PC_PASSWORD_SCORE_MIN 2
#define PC_PASSWORD_SCORE_MAX 4
#define PC_PASSWORD_SCORE_DEFAULT 3

/* One line of a breached-password file: 40 hex digits, ':', a count of up
 * to 20 digits, CR LF — 63 bytes; longer is malformed. */
#define PC_BREACHED_LINE_MAX 64
/* Lines of the file read at start to check its format and order. */
#define PC_BREACHED_SAMPLE 256

/* API key names, bytes of UTF-8 (shown in lists and headers). */
#define PC_APIKEY_NAME_MAX 100

/* The public lookup prefix of an API key, [a-z0-9]. */
#define PC_APIKEY_PREFIX_LEN 12

/* A JWT id as we issue it (hex of 16 bytes) with room for foreign ones the
 * parser must still bound. */
#define PC_JTI_MAX 64

/* One page of the audit listing: enough for a screen, small enough that a
 * page is one cheap index range scan. */
#define PC_AUDIT_PAGE_MAX 200

/* ---- access rules (src/authz/) ---- */

/* Rules per set. 10,000 is far beyond any hand-written file (Authelia
 * deployments have tens); the bound caps memory (~1 KiB per rule at the
 * worst) and parse time for a file that is generated by mistake. */
#define PC_AUTHZ_MAX_RULES 10000

/* Bytes per line, newline excluded: 64 values of a long criterion fit;
 * longer lines are a generator bug. */
#define PC_AUTHZ_MAX_LINE 4096

/* Values per criterion (users, groups, nets, methods). Beyond 64 a rule
 * wants a group instead of a list; the decision walks the list, so the bound
 * also caps its cost. */
#define PC_AUTHZ_MAX_VALUES 64

/* Bytes of a rules file: 10,000 rules of ~400 bytes with comments. Checked
 * before reading, so a wrong path (a log file, /dev/zero) fails fast. */
#define PC_AUTHZ_MAX_FILE_BYTES (4 * 1024 * 1024)

/* Length of a group name, as the grammar [a-z0-9][a-z0-9._-]{0,63} says. */
#define PC_AUTHZ_GROUP_MAX 64

/* Groups a user holds. 32 covers the teams and apps a person belongs to;
 * the groups travel in every access token and every /verify answer, so the
 * bound caps their size (PC_USER_GROUPS_TEXT bytes). */
#define PC_USER_GROUPS_MAX 32
/* The groups as stored and carried: names joined by ',' (a name cannot hold
 * one), at most 32 names of 64 bytes and 31 commas. */
#define PC_USER_GROUPS_TEXT (PC_USER_GROUPS_MAX * (PC_AUTHZ_GROUP_MAX + 1) - 1)
_Static_assert(PC_USER_GROUPS_MAX >= 1 && PC_USER_GROUPS_MAX <= PC_AUTHZ_MAX_VALUES, "groups per user");

/* Longest Host value read: a 253-byte name, ":" and a 5-digit port; an IPv6
 * literal with brackets and port is shorter. */
#define PC_AUTHZ_HOST_IN_MAX 259
/* Longest normalised host (RFC 1035 section 2.3.4 name length), plus NUL. */
#define PC_AUTHZ_HOST_MAX 253

/* PORTCULLIS_PATH_PREFIX, and an X-Forwarded-Prefix believed from a
 * trusted proxy: "/" and path segments, short enough that every link built
 * with it (prefix + "/login?second_factor=1&rd=") fits its buffer. */
#define PC_PATH_PREFIX_MAX 64

/* Bytes of the /verify query read by pc_access_query_parse: two short
 * parameters with up to 64 group names fit in far less. */
#define PC_AUTHZ_QUERY_MAX 1024

/* ---- the OpenID Connect provider (svc/oidc.h) ---- */
/* A stored OIDC record (a client with its URIs, a sealed key, a code):
 * 16 URIs of 512 bytes fit with room for the rest. */
#define PC_OIDC_BODY_MAX 16384
/* Ids and owners of OIDC records: a client_id, a kid, "user:client". */
#define PC_OIDC_KEY_MAX 80
/* A registered redirect or post-logout URI, and how many a client has. */
#define PC_OIDC_URI_MAX 512
#define PC_OIDC_URIS_MAX 16
/* Authorize and token parameters: state and nonce (opaque to us), a scope
 * list, a PKCE verifier (RFC 7636 §4.1: 43..128). */
#define PC_OIDC_STATE_MAX 512
#define PC_OIDC_NONCE_MAX 256
#define PC_OIDC_SCOPE_MAX 256
#define PC_OIDC_VERIFIER_MIN 43
#define PC_OIDC_VERIFIER_MAX 128
/* An authorization code lives 60 seconds (the issue; RFC 6749 §4.1.2
 * recommends at most 10 minutes). */
#define PC_OIDC_CODE_TTL_S 60
/* Clients listed at most (admin lists). */
#define PC_OIDC_CLIENTS_MAX 1000
/* Bytes of all of a client's URIs together (redirect and post-logout):
 * each may be PC_OIDC_URI_MAX, but not 32 of them. JSON may double them
 * (a '"' is escaped) and adds quotes and commas; the rest of the record:
 * the name (128 bytes, doubled likewise), the scope words and group names
 * (never escaped, quoted), and 1024 for the keys, flags, the secret's hash. */
#define PC_OIDC_URIS_BYTES_MAX 6144
_Static_assert(2 * PC_OIDC_URIS_BYTES_MAX + 3 * 2 * PC_OIDC_URIS_MAX + 2 * 128 + PC_OIDC_SCOPE_MAX +
                       PC_USER_GROUPS_TEXT + 3 * PC_USER_GROUPS_MAX + 1024 <=
                   PC_OIDC_BODY_MAX,
               "a client that passes its checks fits a record");

_Static_assert(PC_HTTP_MAX_URI_BYTES < PC_HTTP_MAX_HEAD_BYTES, "URI must fit in a head");
_Static_assert(PC_HTTP_MAX_HEAD_BYTES <= 65536, "head offsets are kept in size_t but tests assume <= 64 KiB");
_Static_assert(PC_HTTP_MAX_BODY_DEFAULT >= PC_HTTP_MAX_BODY_MIN && PC_HTTP_MAX_BODY_DEFAULT <= PC_HTTP_MAX_BODY_MAX, "body default in range");
_Static_assert(PC_HTTP_HEADER_TIMEOUT_DEFAULT_MS >= PC_TIMEOUT_MIN_MS && PC_HTTP_HEADER_TIMEOUT_DEFAULT_MS <= PC_TIMEOUT_MAX_MS, "timeout default in range");
_Static_assert(PC_HTTP_IDLE_TIMEOUT_DEFAULT_MS >= PC_TIMEOUT_MIN_MS && PC_HTTP_IDLE_TIMEOUT_DEFAULT_MS <= PC_TIMEOUT_MAX_MS, "timeout default in range");
_Static_assert(PC_MAX_CONNECTIONS_PER_ADDR_DEFAULT <= PC_MAX_CONNECTIONS_DEFAULT, "per-address limit below global");
_Static_assert(PC_HTTP_MAX_HEADERS >= 16 && PC_HTTP_MAX_HEADERS <= 256, "header count sane");

_Static_assert(PC_PASSWORD_MIN >= 8 && PC_PASSWORD_MAX >= 64 * 4, "NIST SP 800-63B bounds: 64 code points of 4 bytes fit");
_Static_assert(PC_PASSWORD_SCORE_MIN <= PC_PASSWORD_SCORE_DEFAULT && PC_PASSWORD_SCORE_DEFAULT <= PC_PASSWORD_SCORE_MAX, "score default in range");

#endif
