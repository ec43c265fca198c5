/*
 * main.c — the command line: serve | keygen | config check | version.
 *
 * Configuration errors exit 78 (EX_CONFIG) with one line on stderr that
 * names the variable; usage errors exit 64 (EX_USAGE). No command ever
 * prints a secret except `keygen`, whose whole purpose is to print a fresh
 * one to stdout.
 */
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <termios.h>
#include <unistd.h>

#include "api/api.h"
#include "api/input.h"
#include "audit/stream.h"
#include "auth/breached.h"
#include "auth/auth.h"
#include "auth/revocation.h"
#include "config/config.h"
#include "core/log.h"
#include "core/num.h"
#include "core/text.h"
#include "mail/smtp.h"
#include "http/server.h"
#include "svc/outbox.h"
#include "svc/access.h"
#include "svc/auditlog.h"
#include "svc/users.h"

#define EX_USAGE 64

int pc_cli_oidc(int argc, char **argv); /* cli_oidc.c */

extern char **environ;

static const char usage_main[] =
	"usage: portcullis <command> [--help]\n"
	"\n"
	"commands:\n"
	"  serve          run the HTTP server (configuration from PORTCULLIS_* variables)\n"
	"  keygen         print a fresh PORTCULLIS_SECRET_KEY line (--value: the bare value)\n"
	"  config check   validate the configuration and print it, secrets masked\n"
	"  user add       create a user offline (the first one too); password on stdin\n"
	"  audit verify   prove the stored audit trail unbroken (keyed hash chain)\n"
	"  access check   which access rule lets a request through, and why\n"
	"  oidc           OpenID Connect clients and signing keys (client add|list|delete, key rotate)\n"
	"  version        print the version\n";

static const char usage_serve[] =
	"usage: portcullis serve\n"
	"\n"
	"Runs the server. Every setting comes from the environment; see\n"
	"`portcullis config check --help` for the variables. Stops gracefully on\n"
	"SIGTERM or SIGINT. Exit codes: 0 stopped cleanly, 1 could not start,\n"
	"78 configuration error.\n";

static const char usage_keygen[] =
	"usage: portcullis keygen [--value]\n"
	"\n"
	"Prints PORTCULLIS_SECRET_KEY=<base64 of 32 random bytes> for an env file.\n"
	"--value prints the bare value, for a credential file named by a _FILE\n"
	"variable (PORTCULLIS_SECRET_KEY_FILE, PORTCULLIS_JWT_SIGNING_KEY_FILE, a\n"
	"systemd LoadCredential= file); such a file may also hold the whole\n"
	"NAME=value line when NAME is its own variable.\n"
	"To rotate, move the old value to PORTCULLIS_SECRET_KEY_PREVIOUS (README:\n"
	"\"Rotating secrets\").\n";

static const char usage_access[] =
	"usage: portcullis access check --url URL [--method M] [--user EMAIL] [--groups a,b]\n"
	"                               [--addr IP] [--factors one|two] [--query Q]\n"
	"\n"
	"Decides a forwarded request with the rules of PORTCULLIS_ACCESS_RULES_FILE\n"
	"the way GET /api/v1/auth/verify does, and prints the outcome and the rule\n"
	"(line and text) that made it. URL is the one the browser asked for\n"
	"(scheme://host/path?query); --user signs the request in (without it, it is\n"
	"anonymous); --query is the verify URL's own query (group=...&policy=...).\n"
	"Exit 0 allowed, 1 not allowed (sign in, second factor, or denied), 64 usage\n"
	"or an ambiguous URL, 78 a bad rules file.\n";

static const char usage_version[] = "usage: portcullis version\n\nPrints the version.\n";

static void print_vars(FILE *out)
{
	fprintf(out, "\nvariables:\n");
	for (size_t i = 0; i < pc_config_n_vars; i++) {
		const struct pc_config_var *v = &pc_config_vars[i];
		fprintf(out, "  %-40s %s%s%s%s\n", v->name, v->help, v->default_value ? " (default: " : "",
		        v->default_value ? v->default_value : "", v->default_value ? ")" : "");
		if (v->secret)
			fprintf(out, "  %-40s the same, read from a file\n", "  ..._FILE");
	}
}

static bool wants_help(int argc, char **argv, int from)
{
	for (int i = from; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static int load_config(struct pc_config *cfg, bool need_keys)
{
	char err[512];
	if (pc_config_load(cfg, environ, need_keys, err, sizeof(err)) != 0) {
		pc_log_plain("portcullis: configuration error: %s\n", err);
		return PC_EX_CONFIG;
	}
	pc_log_set_text(cfg->log_text); /* before any thread starts */
	return 0;
}

static int store_probe(struct pc_app *app)
{
	return pc_store_ping(app->store) == PC_OK ? 0 : -1;
}

static int redis_probe(struct pc_app *app)
{
	return pc_kv_ping(app->kv) == PC_OK ? 0 : -1;
}

/* With Redis: not ready while the in-memory revocation list is not known
 * to be current (bearer tokens would be answered 503). */
static int revocation_probe(struct pc_app *app)
{
	return pc_revocation_trusted(app->features) ? 0 : -1;
}

/* Opens the service context (store, kv, auth state). 0, or 1 after logging why. */
static int open_services(struct pc_svc *ctx, const struct pc_config *cfg)
{
	char err[512];
	if (pc_svc_open(ctx, cfg, err, sizeof(err)) != 0) {
		struct pc_logline l;
		pc_logline_begin(&l, "error", "startup");
		pc_logline_str(&l, "message", err);
		pc_logline_emit(&l);
		return 1;
	}
	return 0;
}

/* SIGHUP: the access rules again; a file that fails keeps the old set
 * (svc/access.c logs and counts it). */
static void reload(struct pc_app *app)
{
	struct pc_svc *svc = app->features;
	char err[512];
	(void)!pc_access_reload(&svc->access, err, sizeof(err));
}

static int cmd_serve(void)
{
	struct pc_config cfg;
	int rc = load_config(&cfg, true);
	if (rc != 0)
		return rc;
	static struct pc_svc svc;
	char err[512];
	/* before the first thread (the mail sender, the revocation catch-up) */
	sigset_t sigs;
	pc_server_block_signals(&sigs);
	/* The worker pool carries the store, the kv when remote, and password
	 * hashing (itself limited to half the cores, password.c): enough
	 * threads that hashes waiting their turn never starve a store lookup.
	 * Set before libuv's pool starts; an operator's own value wins. */
	(void)setenv("UV_THREADPOOL_SIZE", "16", 0);
	if (pc_audit_stream_open(cfg.audit_log, cfg.audit_format, err, sizeof(err)) != 0) {
		pc_log("error", "startup", err);
		pc_config_free(&cfg);
		return 1;
	}
	if (open_services(&svc, &cfg) != 0) {
		pc_config_free(&cfg);
		return 1;
	}
	if (pc_access_open(&svc.access, cfg.access_rules_file, err, sizeof(err)) != 0) {
		pc_log_plain("portcullis: configuration error: PORTCULLIS_ACCESS_RULES_FILE %s: %s\n",
		        cfg.access_rules_file, err);
		pc_svc_close(&svc);
		pc_audit_stream_close();
		pc_config_free(&cfg);
		return PC_EX_CONFIG;
	}
	if (pc_outbox_enabled(&svc)) {
		if (pc_smtp_global_init() != 0 || pc_outbox_start(&svc) != 0) {
			pc_log("error", "startup", "cannot start the mail sender (is libcurl.so.4, Debian package libcurl4, installed?)");
			pc_svc_close(&svc);
			pc_audit_stream_close();
			pc_config_free(&cfg);
			return 1;
		}
		if (cfg.smtp_insecure)
			pc_log("warn", "smtp_insecure",
			       "PORTCULLIS_SMTP_INSECURE=true: mail (reset links included) goes to the relay WITHOUT TLS; "
			       "use it only for a relay on this host or a private network");
	} else {
		pc_log("info", "email_off", "PORTCULLIS_SMTP_URL is not set: no reset links by mail, no security notices");
	}
	struct pc_app app = {
		.cfg = &cfg,
		.routes = pc_routes,
		.n_routes = pc_n_routes,
		.stages = {pc_stage_authenticate, pc_stage_require_auth, pc_stage_csrf},
		.n_stages = 3,
		.probes = {{"store", store_probe}, {"redis", redis_probe}, {"revocations", revocation_probe}},
		.n_probes = pc_kv_is_local(svc.kv) ? 1 : 3,
		.store = svc.store,
		.kv = svc.kv,
		.features = &svc, /* its first member is the auth state the stages read */
		.on_reload = reload,
	};
	rc = pc_server_run(&app);
	pc_outbox_stop();
	pc_svc_close(&svc);
	pc_audit_stream_close();
	pc_config_free(&cfg);
	return rc;
}

/* Reads one line (the password) from stdin without echo when it is a
 * terminal. Returns its length, or -1. */
static long read_password(char *buf, size_t cap)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	long n = -1;
	if (fgets(buf, (int)cap, stdin) != NULL) {
		size_t l = strlen(buf);
		if (l > 0 && buf[l - 1] == '\n')
			buf[--l] = '\0';
		else if (l == cap - 1)
			l = cap; /* longer than we take: refuse below */
		if (l > 0 && buf[l - 1] == '\r')
			buf[--l] = '\0';
		n = (long)l;
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	return n;
}

static int cmd_user_add(int argc, char **argv)
{
	const char *email_arg = NULL, *role_arg = "member", *name_arg = "";
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
			email_arg = argv[++i];
		else if (strncmp(argv[i], "--email=", 8) == 0)
			email_arg = argv[i] + 8;
		else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			role_arg = argv[++i];
		else if (strncmp(argv[i], "--role=", 7) == 0)
			role_arg = argv[i] + 7;
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name_arg = argv[++i];
		else if (strncmp(argv[i], "--name=", 7) == 0)
			name_arg = argv[i] + 7;
		else {
			pc_log_plain("portcullis: user add: unexpected argument '%s'\n", argv[i]);
			return EX_USAGE;
		}
	}
	enum pc_role role;
	if (email_arg == NULL || pc_role_parse(&role, role_arg, strlen(role_arg)) != 0) {
		fprintf(stderr, "usage: portcullis user add --email EMAIL [--role admin|member] [--name NAME]   (password\n"
		                "       on stdin; the role defaults to member; the first user is always an admin)\n");
		return EX_USAGE;
	}
	if (!pc_user_name_valid(name_arg, strlen(name_arg))) {
		pc_log_plain("portcullis: user add: --name must be text without control characters or leading or "
		             "trailing spaces, at most %d bytes\n", PC_USER_NAME_MAX);
		return EX_USAGE;
	}
	struct pc_config cfg;
	int rc = load_config(&cfg, true);
	if (rc != 0)
		return rc;
	struct pc_svc svc;
	struct pc_user u;
	char email[PC_EMAIL_MAX + 1];
	char pw[PC_PASSWORD_MAX + 2];
	struct pc_pw_verdict weak;
	memset(&u, 0, sizeof(u));
	rc = 1;
	if (pc_email_normalize(email, sizeof(email), email_arg, strlen(email_arg)) != 0) {
		pc_log_plain("portcullis: user add: not a valid email address\n");
		rc = EX_USAGE;
		goto out_cfg;
	}
	long n = read_password(pw, sizeof(pw));
	if (n < 0) {
		pc_log_plain("portcullis: user add: no password on stdin\n");
		rc = EX_USAGE;
		goto out_pw;
	}
	if (open_services(&svc, &cfg) != 0)
		goto out_pw;
	struct pc_principal actor;
	memset(&actor, 0, sizeof(actor));
	actor.method = PC_AUTH_SYSTEM;
	actor.authenticated_at = pc_svc_now(&svc);
	snprintf(actor.client_addr, sizeof(actor.client_addr), "local");
	snprintf(actor.user_agent, sizeof(actor.user_agent), "portcullis user add");
	/* the API's services: the first user through setup, any later one
	 * created with the API's event */
	enum pc_err e = pc_users_add(&svc, &actor, email, role, pw, (size_t)n, &u, &weak);
	if (e == PC_OK && name_arg[0] != '\0') {
		/* the display name: a change of the new user, with its own event */
		struct pc_user_patch patch = {.has_name = true};
		char id[PC_ID_LEN + 1];
		memcpy(patch.name, name_arg, strlen(name_arg) + 1);
		memcpy(id, u.id, sizeof(id)); /* u is the output, cleared first */
		e = pc_users_update(&svc, &actor, id, &patch, &u);
	}
	if (e == PC_ERR_WEAK_PASSWORD) {
		pc_log_plain("portcullis: user add: %s (%s)\n", weak.message, weak.reason);
		rc = EX_USAGE;
	} else if (e == PC_OK) {
		printf("%s\n", u.id);
		fprintf(stderr, "portcullis: user add: %s added as %s\n", u.email, pc_role_name(u.role));
		rc = 0;
	} else {
		pc_log_plain("portcullis: user add: %s\n",
		        e == PC_ERR_CONFLICT ? "a user with this email already exists" : "the store refused the change");
	}
	pc_svc_close(&svc);
out_pw:
	sodium_memzero(pw, sizeof(pw));
out_cfg:
	pc_config_free(&cfg);
	return rc;
}

/* "SEQ:HEX" of an event's hash, as the audit stream and verify print it. */
static int parse_anchor(const char *s, int64_t *seq, uint8_t hash[32])
{
	const char *colon = strchr(s, ':');
	int64_t v;
	size_t bin = 0;
	if (colon == NULL || pc_num_i64(&v, s, (size_t)(colon - s), 1, INT64_MAX) != 0 ||
	    strlen(colon + 1) != 64 ||
	    sodium_hex2bin(hash, 32, colon + 1, 64, NULL, &bin, NULL) != 0 || bin != 32)
		return -1;
	*seq = v;
	return 0;
}

static int cmd_audit_verify(const char *anchor)
{
	int64_t want_seq = 0;
	uint8_t want_hash[32];
	if (anchor != NULL && parse_anchor(anchor, &want_seq, want_hash) != 0) {
		pc_log_plain("portcullis: audit verify: --anchor wants SEQ:HASH (64 hex digits)\n");
		return EX_USAGE;
	}
	struct pc_config cfg;
	int rc = load_config(&cfg, true);
	if (rc != 0)
		return rc;
	struct pc_store *store;
	char err[512];
	char url[2048];
	int orc = pc_svc_store_url(&cfg, url, sizeof(url)) == 0
		? pc_store_open(&store, url, cfg.keys->current.sub[PC_SUBKEY_AUDIT], err, sizeof(err))
		: -1;
	sodium_memzero(url, sizeof(url));
	if (orc != 0) {
		pc_log_plain("portcullis: audit verify: %s\n", err);
		pc_config_free(&cfg);
		return 1;
	}
	if (cfg.keys->has_previous &&
	    pc_store_audit_add_previous_key(store, cfg.keys->previous.sub[PC_SUBKEY_AUDIT]) != 0) {
		fprintf(stderr, "portcullis: audit verify: out of memory\n");
		pc_store_close(store);
		pc_config_free(&cfg);
		return 1;
	}
	struct pc_audit_verdict v;
	enum pc_err e = pc_auditlog_verify(store, &v);
	int64_t checked = v.checked, bad = v.bad_seq;
	if (e == PC_OK) {
		printf("audit chain intact: %lld events verified\n", (long long)checked);
		rc = 0;
		/* the head, to write down elsewhere: a chain cut at its end is still
		 * a valid chain, so only an outside copy of the head (this line, or
		 * the audit stream's seq and hash) can prove nothing was cut */
		struct pc_audit_filter f = {.limit = 1};
		struct pc_audit_event *ev = NULL;
		size_t n = 0;
		if (pc_store_audit_list(store, &f, &ev, &n) == PC_OK && n == 1) {
			char hex[65];
			sodium_bin2hex(hex, sizeof(hex), ev[0].hash, 32);
			printf("head: %lld:%s\n", (long long)ev[0].seq, hex);
		}
		free(ev);
		if (anchor != NULL) {
			struct pc_audit_filter g = {.limit = 1, .before_seq = want_seq + 1};
			ev = NULL;
			n = 0;
			if (pc_store_audit_list(store, &g, &ev, &n) != PC_OK || n != 1 || ev[0].seq != want_seq ||
			    sodium_memcmp(ev[0].hash, want_hash, 32) != 0) {
				printf("audit chain does NOT contain the anchor event %lld with that hash: events were "
				       "cut from the end or the chain was rewritten\n",
				       (long long)want_seq);
				rc = 2;
			} else {
				printf("anchor %lld found: nothing before it was cut or rewritten\n", (long long)want_seq);
			}
			free(ev);
		}
	} else if (e == PC_ERR_TAMPERED && v.key_missing && v.key_id[0] != '\0') {
		/* not a tamper alarm: the event names a key we were not given */
		printf("audit chain NOT CHECKED from event %lld: it was written under audit key id %s, "
		       "which is neither PORTCULLIS_SECRET_KEY nor PORTCULLIS_SECRET_KEY_PREVIOUS "
		       "(wrong or missing key; nothing is known to be tampered); "
		       "%lld events before it verified\n",
		       (long long)bad, v.key_id, (long long)checked);
		rc = 3;
	} else if (e == PC_ERR_TAMPERED && v.key_missing) {
		printf("audit chain NOT CHECKED from event %lld: it was written before events recorded "
		       "their key id and verifies under none of the keys given (wrong or missing key, "
		       "or an edit: give PORTCULLIS_SECRET_KEY_PREVIOUS to tell); "
		       "%lld events before it verified\n",
		       (long long)bad, (long long)checked);
		rc = 3;
	} else if (e == PC_ERR_TAMPERED) {
		printf("audit chain BROKEN at event %lld (edited, deleted, inserted or reordered); "
		       "%lld events before it verified\n", (long long)bad, (long long)checked);
		rc = 2;
	} else {
		pc_log_plain("portcullis: audit verify: the store could not be read\n");
		rc = 1;
	}
	pc_store_close(store);
	pc_config_free(&cfg);
	return rc;
}

/* Splits scheme://host[:port]/path?query into host and target. */
static int cmd_access_check(int argc, char **argv)
{
	const char *url = NULL, *method = "GET", *user = NULL, *groups = NULL, *addr = NULL, *factors = "one",
	           *query = "";
	for (int i = 3; i < argc; i++) {
		const char **slot = strcmp(argv[i], "--url") == 0       ? &url
		                    : strcmp(argv[i], "--method") == 0  ? &method
		                    : strcmp(argv[i], "--user") == 0    ? &user
		                    : strcmp(argv[i], "--groups") == 0  ? &groups
		                    : strcmp(argv[i], "--addr") == 0    ? &addr
		                    : strcmp(argv[i], "--factors") == 0 ? &factors
		                    : strcmp(argv[i], "--query") == 0   ? &query
		                                                        : NULL;
		if (slot == NULL || i + 1 >= argc) {
			fputs(usage_access, stderr);
			return EX_USAGE;
		}
		*slot = argv[++i];
	}
	if (url == NULL || (strcmp(factors, "one") != 0 && strcmp(factors, "two") != 0)) {
		fputs(usage_access, stderr);
		return EX_USAGE;
	}
	struct pc_config cfg;
	int rc = load_config(&cfg, false);
	if (rc != 0)
		return rc;
	struct pc_access_state acc;
	char err[512];
	if (pc_access_open(&acc, cfg.access_rules_file, err, sizeof(err)) != 0) {
		pc_log_plain("portcullis: access check: PORTCULLIS_ACCESS_RULES_FILE %s: %s\n", cfg.access_rules_file,
		        err);
		pc_config_free(&cfg);
		return PC_EX_CONFIG;
	}
	struct pc_access_probe in = {url, method, user, groups, addr, strcmp(factors, "two") == 0 ? 2u : 1u, query};
	struct pc_access_answer ans;
	const char *why = "";
	if (pc_access_probe(&acc, &in, &ans, &why) != 0) {
		fprintf(stderr, "portcullis: access check: %s\n", why);
		fputs(usage_access, stderr);
		rc = EX_USAGE;
	} else {
		printf("%s\n%s\n", ans.outcome, ans.text);
		rc = strcmp(ans.outcome, "BAD_REQUEST") == 0 ? EX_USAGE : ans.allowed ? 0 : 1;
	}
	pc_access_close(&acc);
	pc_config_free(&cfg);
	return rc;
}

static int cmd_config_check(void)
{
	struct pc_config cfg;
	int rc = load_config(&cfg, true);
	if (rc != 0)
		return rc;
	if (cfg.access_rules_file[0] != '\0') {
		char err[512];
		struct pc_rules *rules = pc_rules_load_file(cfg.access_rules_file, err, sizeof(err));
		if (rules == NULL) {
			pc_log_plain("portcullis: configuration error: PORTCULLIS_ACCESS_RULES_FILE %s: %s\n",
			        cfg.access_rules_file, err);
			pc_config_free(&cfg);
			return PC_EX_CONFIG;
		}
		pc_log_plain("portcullis: %zu access rules in %s\n", pc_rules_count(rules), cfg.access_rules_file);
		pc_rules_free(rules);
	}
	if (cfg.breached_passwords_file[0] != '\0') {
		/* the check serve makes at start: format and order of a sample */
		char err[256];
		struct pc_breached *b = NULL;
		if (pc_breached_open(&b, cfg.breached_passwords_file, err, sizeof(err)) != 0) {
			pc_log_plain("portcullis: configuration error: PORTCULLIS_BREACHED_PASSWORDS_FILE %s: %s\n",
			             cfg.breached_passwords_file, err);
			pc_config_free(&cfg);
			return PC_EX_CONFIG;
		}
		pc_log_plain("portcullis: about %zu breached password hashes in %s\n", pc_breached_lines_estimate(b),
		             cfg.breached_passwords_file);
		pc_breached_free(b);
	}
	if (cfg.webauthn_rp_id[0] == '\0')
		pc_log_plain("portcullis: passkeys are off: PORTCULLIS_PUBLIC_URL is not set (or its host is an IP "
		             "address, which cannot be a WebAuthn RP ID)\n"
		             "portcullis: warning: a user whose only second factor is a passkey cannot sign in while "
		             "passkeys are off (403; their password alone is never enough)\n");
	else
		pc_log_plain("portcullis: passkeys are on: RP ID %s, origin %s\n", cfg.webauthn_rp_id, cfg.public_origin);
	pc_config_print(&cfg, stdout);
	if (cfg.smtp_url[0] == '\0')
		pc_log_plain("portcullis: email is off (PORTCULLIS_SMTP_URL is not set): no forgot-password links, no "
		             "security notices; admins hand out reset links\n");
	else
		pc_log_plain("portcullis: email is on: %s %s, from %s%s\n", cfg.smtp_url,
		             cfg.smtp_insecure          ? "WITHOUT TLS (PORTCULLIS_SMTP_INSECURE=true)"
		             : cfg.smtp_implicit_tls ? "over TLS"
		                                     : "with STARTTLS required",
		             cfg.smtp_from, cfg.smtp_ca_file[0] ? ", certificate checked against PORTCULLIS_SMTP_CA_FILE" : "");
	pc_config_free(&cfg);
	pc_log_plain("portcullis: configuration is valid\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		pc_log_plain("portcullis: libsodium failed to initialise\n");
		return 1;
	}
	pc_input_json_init(NULL);
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0) {
		if (wants_help(argc, argv, 2)) {
			fputs(usage_serve, stdout);
			print_vars(stdout);
			return 0;
		}
		if (argc > 2) {
			fputs(usage_serve, stderr);
			return EX_USAGE;
		}
		return cmd_serve();
	}
	if (strcmp(cmd, "keygen") == 0) {
		if (wants_help(argc, argv, 2)) {
			fputs(usage_keygen, stdout);
			return 0;
		}
		if (argc == 3 && strcmp(argv[2], "--value") == 0)
			return pc_config_keygen_value(stdout) == 0 ? 0 : 1;
		if (argc != 2) {
			fputs(usage_keygen, stderr);
			return EX_USAGE;
		}
		return pc_config_keygen(stdout) == 0 ? 0 : 1;
	}
	if (strcmp(cmd, "config") == 0) {
		if (wants_help(argc, argv, 2) || argc != 3 || strcmp(argv[2], "check") != 0) {
			bool help = wants_help(argc, argv, 2);
			FILE *out = help ? stdout : stderr;
			fputs("usage: portcullis config check\n\nValidates the configuration from the environment and prints\n"
			      "the effective values, secrets shown only as (set, N bytes).\n", out);
			print_vars(out);
			return help ? 0 : EX_USAGE;
		}
		return cmd_config_check();
	}
	if (strcmp(cmd, "user") == 0) {
		if (wants_help(argc, argv, 2) || argc < 3 || strcmp(argv[2], "add") != 0) {
			bool help = wants_help(argc, argv, 2);
			fputs("usage: portcullis user add --email EMAIL [--role admin|member]\n\nCreates a user directly in the store (the first user too, offline).\n"
			      "The role defaults to member; the first user is always an admin.\n"
			      "The password is read from stdin, never from the command line.\n",
			      help ? stdout : stderr);
			return help ? 0 : EX_USAGE;
		}
		return cmd_user_add(argc, argv);
	}
	if (strcmp(cmd, "oidc") == 0)
		return pc_cli_oidc(argc, argv); /* cli_oidc.c */
	if (strcmp(cmd, "access") == 0) {
		if (wants_help(argc, argv, 2) || argc < 3 || strcmp(argv[2], "check") != 0) {
			fputs(usage_access, wants_help(argc, argv, 2) ? stdout : stderr);
			return wants_help(argc, argv, 2) ? 0 : EX_USAGE;
		}
		return cmd_access_check(argc, argv);
	}
	if (strcmp(cmd, "audit") == 0) {
		bool help = wants_help(argc, argv, 2);
		const char *anchor = NULL;
		bool ok = argc >= 3 && strcmp(argv[2], "verify") == 0;
		if (ok && argc == 5 && strcmp(argv[3], "--anchor") == 0)
			anchor = argv[4];
		else if (ok && argc != 3)
			ok = false;
		if (help || !ok) {
			fputs("usage: portcullis audit verify [--anchor SEQ:HASH]\n\nWalks the stored audit trail and recomputes every event's keyed\n"
			      "hash chain, then prints the head (SEQ:HASH). With --anchor, also proves the\n"
			      "chain still holds an event you wrote down earlier (from this output or the\n"
			      "audit stream), so events cut from the end are noticed too.\n"
			      "Each event is checked under the key it was written with:\n"
			      "PORTCULLIS_SECRET_KEY, or PORTCULLIS_SECRET_KEY_PREVIOUS after a rotation.\n"
			      "Exit 0: intact; 2: broken (the first bad event is named) or the anchor is\n"
			      "missing; 3: an event was written under a key not given (wrong or missing\n"
			      "key, not a tamper alarm; the event is named); 1: the store could not be\n"
			      "read; 78: bad configuration.\n",
			      help ? stdout : stderr);
			return help ? 0 : EX_USAGE;
		}
		return cmd_audit_verify(anchor);
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		if (wants_help(argc, argv, 2)) {
			fputs(usage_version, stdout);
			return 0;
		}
		printf("portcullis %s\n", PC_VERSION);
		return 0;
	}
	pc_log_plain("portcullis: unknown command '%s'\n", cmd);
	fprintf(stderr, "\n%s", usage_main);
	return EX_USAGE;
}
