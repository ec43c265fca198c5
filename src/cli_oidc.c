/*
 * cli_oidc.c — `portcullis oidc ...`: the OpenID Connect provider from the
 * command line, through the same services as the API (svc/oidc.h), acting
 * as the system (PC_AUTH_SYSTEM). Wired by main.c, like main.c itself
 * outside the layers.
 *
 *   oidc client add --name N --redirect-uri URI [--redirect-uri URI ...]
 *                   [--post-logout-uri URI ...] [--public] [--first-party] [--alg RS256|EdDSA]
 *                   [--require-mfa] [--scopes "openid ..."] [--group G ...]
 *       prints client_id: ... and, for a confidential client,
 *       client_secret: ... (shown this once; stored hashed)
 *   oidc client list
 *   oidc client delete ID
 *   oidc key rotate     a new signing key of each algorithm; the old ones stay published
 *                       until the tokens they signed have expired
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/log.h"
#include "core/text.h"
#include "svc/oidc.h"

#define EX_USAGE 64
extern char **environ;

static const char usage[] =
	"usage: portcullis oidc client add --name NAME --redirect-uri URI [--redirect-uri URI ...]\n"
	"                  [--post-logout-uri URI ...] [--public] [--first-party] [--require-mfa]\n"
	"                  [--alg RS256|EdDSA] (the ID token signature; RS256 by default)\n"
	"                  [--scopes \"openid profile email groups offline_access\"] [--group G ...]\n"
	"       portcullis oidc client list\n"
	"       portcullis oidc client delete CLIENT_ID\n"
	"       portcullis oidc key rotate   (a new RS256 and EdDSA key; the old ones stay\n"
	"                                     published until what they signed has expired)\n"
	"\n"
	"Manages the OpenID Connect provider (needs PORTCULLIS_PUBLIC_URL to serve it).\n"
	"client add prints client_id: and, for a confidential client, client_secret:\n"
	"once; portcullis keeps only a keyed hash of the secret.\n";

static void system_actor(struct pc_principal *p, struct pc_svc *svc)
{
	memset(p, 0, sizeof(*p));
	p->method = PC_AUTH_SYSTEM;
	p->role = PC_ROLE_ADMIN;
	p->authenticated_at = pc_svc_now(svc);
	snprintf(p->client_addr, sizeof(p->client_addr), "local");
	snprintf(p->user_agent, sizeof(p->user_agent), "portcullis oidc");
}

static int client_add(struct pc_svc *svc, const struct pc_principal *actor, int argc, char **argv)
{
	struct pc_oidc_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return 1;
	size_t at = 0;
	int rc = EX_USAGE;
	for (int i = 4; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--name") == 0 && v != NULL) {
			snprintf(c->name, sizeof(c->name), "%s", v);
			i++;
		} else if (strcmp(a, "--redirect-uri") == 0 && v != NULL && c->n_redirect < PC_OIDC_URIS_MAX &&
		           strlen(v) <= PC_OIDC_URI_MAX) {
			snprintf(c->redirect_uris[c->n_redirect++], PC_OIDC_URI_MAX + 1, "%s", v);
			i++;
		} else if (strcmp(a, "--post-logout-uri") == 0 && v != NULL && c->n_logout < PC_OIDC_URIS_MAX &&
		           strlen(v) <= PC_OIDC_URI_MAX) {
			snprintf(c->logout_uris[c->n_logout++], PC_OIDC_URI_MAX + 1, "%s", v);
			i++;
		} else if (strcmp(a, "--scopes") == 0 && v != NULL && strlen(v) <= PC_OIDC_SCOPE_MAX) {
			snprintf(c->scopes, sizeof(c->scopes), "%s", v);
			i++;
		} else if (strcmp(a, "--alg") == 0 && v != NULL && strlen(v) < sizeof(c->alg)) {
			snprintf(c->alg, sizeof(c->alg), "%s", v); /* the service checks it: RS256 or EdDSA */
			i++;
		} else if (strcmp(a, "--group") == 0 && v != NULL) {
			if (pc_groups_append(c->groups, &at, v, strlen(v)) != 0) {
				pc_log_plain("portcullis: oidc client add: not a group name: %s\n", v);
				goto out;
			}
			i++;
		} else if (strcmp(a, "--public") == 0)
			c->public_client = true;
		else if (strcmp(a, "--first-party") == 0)
			c->first_party = true;
		else if (strcmp(a, "--require-mfa") == 0)
			c->require_mfa = true;
		else {
			pc_log_plain("portcullis: oidc client add: unexpected argument '%s'\n", a);
			fputs(usage, stderr);
			goto out;
		}
	}
	char secret[PC_OIDC_SECRET_LEN + 1] = "";
	const char *why = NULL;
	enum pc_err e = pc_oidc_client_create(svc, actor, c, secret, &why);
	if (e == PC_OK) {
		printf("client_id: %s\n", c->id);
		if (secret[0] != '\0')
			printf("client_secret: %s\n", secret);
		fflush(stdout);
		rc = 0;
	} else {
		pc_log_plain("portcullis: oidc client add: %s\n",
		             e == PC_ERR_INVALID ? why : "the store refused the change");
		rc = e == PC_ERR_INVALID ? EX_USAGE : 1;
	}
	sodium_memzero(secret, sizeof(secret));
out:
	free(c);
	return rc;
}

int pc_cli_oidc(int argc, char **argv);
int pc_cli_oidc(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
	}
	bool add = argc >= 4 && strcmp(argv[2], "client") == 0 && strcmp(argv[3], "add") == 0;
	bool list = argc == 4 && strcmp(argv[2], "client") == 0 && strcmp(argv[3], "list") == 0;
	bool del = argc == 5 && strcmp(argv[2], "client") == 0 && strcmp(argv[3], "delete") == 0;
	bool rotate = argc == 4 && strcmp(argv[2], "key") == 0 && strcmp(argv[3], "rotate") == 0;
	if (!add && !list && !del && !rotate) {
		fputs(usage, stderr);
		return EX_USAGE;
	}
	struct pc_config cfg;
	char err[512];
	if (pc_config_load(&cfg, environ, true, err, sizeof(err)) != 0) {
		pc_log_plain("portcullis: configuration error: %s\n", err);
		return PC_EX_CONFIG;
	}
	struct pc_svc svc;
	if (pc_svc_open(&svc, &cfg, err, sizeof(err)) != 0) {
		pc_log_plain("portcullis: oidc: %s\n", err);
		pc_config_free(&cfg);
		return 1;
	}
	struct pc_principal actor;
	system_actor(&actor, &svc);
	int rc = 1;
	if (add) {
		rc = client_add(&svc, &actor, argc, argv);
	} else if (list) {
		struct pc_oidc_client *cs = NULL;
		size_t n = 0;
		if (pc_oidc_client_list(&svc, &actor, &cs, &n) == PC_OK) {
			for (size_t i = 0; i < n; i++) {
				json_t *j = pc_oidc_client_json(&cs[i]);
				char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
				if (s != NULL)
					printf("%s\n", s);
				free(s);
				json_decref(j);
			}
			rc = 0;
		}
		free(cs);
	} else if (del) {
		enum pc_err e = pc_oidc_client_delete(&svc, &actor, argv[4]);
		if (e == PC_OK)
			rc = 0;
		else
			pc_log_plain("portcullis: oidc client delete: %s\n", e == PC_ERR_NOT_FOUND ? "no such client" : "failed");
	} else {
		char kid[PC_OIDC_KEY_MAX + 1], kid_eddsa[PC_OIDC_KEY_MAX + 1];
		if (pc_oidc_key_rotate(&svc, &actor, kid, kid_eddsa, sizeof(kid)) == PC_OK) {
			printf("kid: %s\nkid_eddsa: %s\n", kid, kid_eddsa);
			rc = 0;
		} else
			pc_log_plain("portcullis: oidc key rotate: failed\n");
	}
	pc_svc_close(&svc);
	pc_config_free(&cfg);
	return rc;
}
