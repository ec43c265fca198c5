/*
 * access.h — who may reach what behind forward auth: the one decision that
 * GET /api/v1/auth/verify, `portcullis access check` and the console share.
 *
 * The rules (PORTCULLIS_ACCESS_RULES_FILE, authz/rules.h) are loaded at
 * start and swapped on SIGHUP; a file that fails to load keeps the old set
 * (logged, and counted in access_rules_reloads_total{result="failed"}).
 * Without a rules file the set is the one implicit rule "one_factor": any
 * signed-in user, as before rules existed; its line reads 0.
 *
 * pc_access_forwarded turns what a proxy forwarded (X-Original-URI with
 * Host from nginx; X-Forwarded-Method/-Proto/-Host/-Uri from Traefik and
 * Caddy) into a normalised struct pc_access_request. Those headers are
 * believed only from PORTCULLIS_TRUSTED_PROXIES: from anyone else the
 * request is the /verify request itself (its Host, path "/", GET), so a
 * client cannot choose the path its credential is judged for.
 */
#ifndef PC_SVC_ACCESS_H
#define PC_SVC_ACCESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "authz/access.h"
#include "authz/path.h"
#include "core/cidr.h"
#include "core/err.h"
#include "core/principal.h"

struct pc_access_state {
	pthread_mutex_t mu;                /* serialises reloads */
	struct pc_rules *_Atomic rules;    /* the set in force */
	_Atomic bool implicit;             /* no rules file: the set is "one_factor" */
	struct pc_rules **retired;         /* swapped out, freed at close */
	size_t n_retired;
	char path[1024];                   /* the rules file; "" when none */
};

/* Loads path (NULL or "": the implicit set). 0, or -1 with "line L,
 * column C: ..." or the I/O error in err. */
PC_MUST_USE int pc_access_open(struct pc_access_state *acc, const char *path, char *err, size_t errlen);
void pc_access_close(struct pc_access_state *acc);

/* Parses the file again and swaps it in; on failure keeps the current set.
 * Logs the outcome and counts it. 0 or -1 (err as above). */
PC_MUST_USE int pc_access_reload(struct pc_access_state *acc, char *err, size_t errlen);

/* The set in force (one atomic load); valid until pc_access_close. */
const struct pc_rules *pc_access_rules(struct pc_access_state *acc);

/* A forwarded request, normalised. Buffers for the host and path are the
 * caller's (at least PC_AUTHZ_HOST_MAX + 1 and PC_AUTHZ_PATH_MAX + 1). */
struct pc_access_input {
	const char *host; size_t host_len;     /* Host or X-Forwarded-Host, raw */
	const char *target; size_t target_len; /* X-Original-URI / X-Forwarded-Uri, raw ("" : "/") */
	const char *method; size_t method_len; /* the forwarded method ("" : GET) */
	const char *client_addr;               /* the derived client address (text) */
};
/* 0, or -1 when the host or path is ambiguous (the caller answers 400). */
PC_MUST_USE int pc_access_forwarded(struct pc_access_request *out, struct pc_ip *addr, char *host_buf,
                                    size_t host_cap, char *path_buf, size_t path_cap,
                                    const struct pc_access_input *in);

/* The subject a principal is (anonymous: not signed in; an API key: signed
 * in, no email, no groups). groups: the user's, split into names (the
 * caller's PC_USER_GROUPS_MAX slots, pointing into buf of at least
 * PC_USER_GROUPS_TEXT + 1 bytes: both must outlive out). */
void pc_access_subject_of(struct pc_access_subject *out, const struct pc_principal *p, const char **names,
                          char *buf, size_t cap);

/* Decides with the current set (see authz/access.h) and meters the
 * decision by policy and outcome. Returns out->outcome. */
PC_MUST_USE enum pc_access_outcome pc_access_decide_now(struct pc_access_decision *out, struct pc_access_state *acc,
                                                        const struct pc_access_query *query,
                                                        const struct pc_access_request *req,
                                                        const struct pc_access_subject *subject);

/* Prints the rule that decided ("line N: text", or what the implicit set or
 * "no rule matched" means) into out. */
void pc_access_describe(char *out, size_t cap, struct pc_access_state *acc, const struct pc_access_decision *d);
/*
 * A request to decide as /verify would, spelled the way a person writes it:
 * what `portcullis access check` and the console's "check access" form
 * take. Nothing is metered (a probe is not a decision made for a proxy).
 */
struct pc_access_probe {
	const char *url;    /* scheme://host[:port]/target, as the browser asked */
	const char *method; /* NULL or "": GET */
	const char *user;   /* the signed-in user's email; NULL: anonymous */
	const char *groups; /* comma-separated; NULL or "": none */
	const char *addr;   /* the client address; NULL or "": unknown */
	unsigned factors;   /* 1 or 2 (when user) */
	const char *query;  /* the verify URL's own query; NULL or "": none */
};
struct pc_access_answer {
	const char *outcome; /* "ALLOW", "BYPASS", "LOGIN", "SECOND_FACTOR", "DENY", "BAD_REQUEST" (static) */
	bool allowed;        /* ALLOW or BYPASS */
	bool ambiguous;      /* BAD_REQUEST: the URL, or letter case (not the query) */
	unsigned line;       /* the deciding rule; 0: none (implicit set, no match, BAD_REQUEST) */
	char text[PC_AUTHZ_FORMAT_MAX + 192]; /* "line N: rule", or why */
};
/* 0 with *out filled, or -1 with a static reason in *why: a probe that is
 * not one (no "scheme://", an empty host, factors not 1 or 2, a group list
 * longer than the limits). */
PC_MUST_USE int pc_access_probe(struct pc_access_state *acc, const struct pc_access_probe *in,
                                struct pc_access_answer *out, const char **why);

/* Calls fn for each rule in force, in file order (line, canonical text);
 * implicit: no rules file (the one rule "one_factor", line 0). Stops early
 * when fn returns non-zero. */
void pc_access_each_rule(struct pc_access_state *acc, bool *implicit,
                         int (*fn)(void *arg, unsigned line, const char *text), void *arg);

#endif
