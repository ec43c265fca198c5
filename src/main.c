/*
 * main.c — the command line: serve | keygen | config check | version.
 *
 * Configuration errors exit 78 (EX_CONFIG) with one line on stderr that
 * names the variable; usage errors exit 64 (EX_USAGE). No command ever
 * prints a secret except `keygen`, whose whole purpose is to print a fresh
 * one to stdout.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "config/config.h"
#include "core/log.h"
#include "http/server.h"

#define EX_USAGE 64

extern char **environ;

static const char usage_main[] =
	"usage: portcullis <command> [--help]\n"
	"\n"
	"commands:\n"
	"  serve          run the HTTP server (configuration from PORTCULLIS_* variables)\n"
	"  keygen         print a fresh PORTCULLIS_SECRET_KEY line for an env file\n"
	"  config check   validate the configuration and print it, secrets masked\n"
	"  version        print the version\n";

static const char usage_serve[] =
	"usage: portcullis serve\n"
	"\n"
	"Runs the server. Every setting comes from the environment; see\n"
	"`portcullis config check --help` for the variables. Stops gracefully on\n"
	"SIGTERM or SIGINT. Exit codes: 0 stopped cleanly, 1 could not start,\n"
	"78 configuration error.\n";

static const char usage_keygen[] =
	"usage: portcullis keygen\n"
	"\n"
	"Prints PORTCULLIS_SECRET_KEY=<base64 of 32 random bytes> for an env file.\n"
	"To rotate, move the old value to PORTCULLIS_SECRET_KEY_PREVIOUS.\n";

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
		fprintf(stderr, "portcullis: configuration error: %s\n", err);
		return PC_EX_CONFIG;
	}
	return 0;
}

static int cmd_serve(void)
{
	struct pc_config cfg;
	int rc = load_config(&cfg, true);
	if (rc != 0)
		return rc;
	struct pc_app app = {
		.cfg = &cfg,
		.routes = pc_routes,
		.n_routes = pc_n_routes,
	};
	rc = pc_server_run(&app);
	pc_config_free(&cfg);
	return rc;
}

static int cmd_config_check(void)
{
	struct pc_config cfg;
	int rc = load_config(&cfg, true);
	if (rc != 0)
		return rc;
	pc_config_print(&cfg, stdout);
	pc_config_free(&cfg);
	fprintf(stderr, "portcullis: configuration is valid\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "portcullis: libsodium failed to initialise\n");
		return 1;
	}
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
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		if (wants_help(argc, argv, 2)) {
			fputs(usage_version, stdout);
			return 0;
		}
		printf("portcullis %s\n", PC_VERSION);
		return 0;
	}
	fprintf(stderr, "portcullis: unknown command '%s'\n\n%s", cmd, usage_main);
	return EX_USAGE;
}
