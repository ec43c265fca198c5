/*
 * access.h — the forward-auth access decision: which outcome a request to a
 * protected application gets, from the rules file (rules.h) and the
 * per-location requirements in the /verify URL's query.
 *
 * Rules (first match wins; no match, or no rules: DENY with line 0):
 * - A rule matches when every criterion it has holds: host (exact, or
 *   "*.suffix" for one or more labels before the suffix, never the suffix
 *   itself), path prefix (see rules.h; "/admin/" also covers "/admin"),
 *   method, net (the client address in one block), user (one of the
 *   emails), group (the subject holds one of the groups).
 * - Object criteria (host, path, method, net) are tested first. If they hold
 *   and the rule has subject criteria (user, group):
 *   - for an anonymous request the rule cannot be evaluated without an
 *     identity: it decides LOGIN (401), whatever its policy, as Authelia
 *     does; the user signs in and the rules run again with the identity;
 *   - for a signed-in subject that does not match, the rule is skipped and
 *     the next one decides.
 * - The matched rule's policy: bypass -> ALLOW with bypass set (for
 *   everyone, signed in or not; the caller sends no identity headers);
 *   one_factor -> LOGIN when anonymous, else ALLOW; two_factor -> LOGIN when
 *   anonymous, SECOND_FACTOR with one factor, else ALLOW; deny -> DENY for
 *   everyone.
 *
 * Query (oauth2-proxy style "/api/v1/auth/verify?group=ops,staff&policy=
 * two_factor"): parsed strictly by pc_access_query_parse. With no parameters
 * it requires nothing. Otherwise: anonymous -> LOGIN; signed in but in none
 * of the groups -> DENY (before the factor check: a second factor would not
 * help); policy=two_factor with one factor -> SECOND_FACTOR; else ALLOW.
 * "group" alone implies one_factor. policy=bypass and policy=deny are
 * refused in a query: a location cannot loosen the rules, and a refusal is
 * better than a silent no-op. "redirect=true" and "csrf=token" change only
 * how /verify answers and checks (see struct pc_access_query).
 *
 * Combining: both must allow. The stricter outcome wins, in the order
 * ALLOW < LOGIN < SECOND_FACTOR < DENY (LOGIN and SECOND_FACTOR cannot come
 * together: one needs an anonymous request, the other a signed-in one). An
 * ALLOW is a bypass only when the rules chose bypass and the query requires
 * nothing: a location that names groups needs the identity headers.
 *
 * Inputs are normalised first (path.h); a request whose path or host is
 * ambiguous never reaches pc_access_decide (the caller refuses it).
 *
 * Letter case: paths compare case-sensitively, but when the decision for
 * this subject would differ with ASCII case folded (an app that folds case
 * serves /ADMIN/ as /admin/), the request is ambiguous: out->ambiguous,
 * LOGIN when anonymous, DENY when signed in, line 0.
 */
#ifndef PC_AUTHZ_ACCESS_H
#define PC_AUTHZ_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "authz/rules.h"
#include "core/cidr.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/method.h"


enum pc_access_outcome {
	PC_ACCESS_ALLOW = 0,     /* 200 (bypass: without identity headers) */
	PC_ACCESS_LOGIN,         /* 401: sign in */
	PC_ACCESS_SECOND_FACTOR, /* 401: signed in with one factor, two needed */
	PC_ACCESS_DENY,          /* 403 */
};

/* Requirements of one location, from the /verify query. */
struct pc_access_query {
	bool present;               /* a requirement given (group or policy) */
	bool redirect;              /* redirect=true: browsers get 302 to the
	                               login page (and a page for 403), for
	                               proxies that pass verify's answer on
	                               (Caddy, Traefik); not a requirement */
	bool csrf_token;            /* csrf=token: a forwarded unsafe request
	                               with the session cookie needs the CSRF
	                               token (an app that sends it), not only
	                               the absence of cross-site evidence */
	enum pc_policy policy;      /* one_factor or two_factor */
	size_t n_groups;            /* 0: any signed-in user */
	const char *groups[PC_AUTHZ_MAX_VALUES]; /* point into buf */
	char buf[PC_AUTHZ_QUERY_MAX + 1];
};

/* The request as the proxy forwarded it, normalised (path.h). */
struct pc_access_request {
	const char *host;        /* normalised host; "" when absent */
	size_t host_len;
	const char *path;        /* normalised path */
	size_t path_len;
	enum pc_method method;   /* PC_METHOD__COUNT: another method (matches
	                            only rules without method=) */
	const struct pc_ip *addr; /* the client; NULL: unknown (no net= rule matches) */
};

/* Who is asking. Anonymous: signed_in false, the rest ignored. */
struct pc_access_subject {
	bool signed_in;
	unsigned factors;        /* 1 or 2 when signed in */
	const char *email;       /* compared ASCII case-insensitively */
	size_t email_len;
	const char *const *groups; /* NUL-terminated names, n_groups of them */
	size_t n_groups;
};

struct pc_access_decision {
	enum pc_access_outcome outcome;
	bool bypass;      /* ALLOW without identity headers */
	bool by_query;    /* the query's requirement was the stricter one */
	unsigned line;    /* the rules' deciding line; 0: no rule matched */
	enum pc_policy policy; /* the deciding rule's policy (line != 0) */
	bool ambiguous;   /* the forwarded URL could not be normalised (set by
	                     callers), or letter case would change the decision */
};

/* Parses the /verify query (q, len bytes, without "?"; len 0: none) into
 * *out: only "group" and "policy", each at most once, "&"-separated;
 * %HH escapes decoded, then group values split on ",". Returns 0, or -1
 * with a static English reason in *why (an unknown parameter, a repeat, an
 * empty value, a bad escape, a bad group name or policy, too many groups,
 * too long): the caller answers 400, so a typo cannot mean "anyone". */
PC_MUST_USE int pc_access_query_parse(struct pc_access_query *out, const char **why, const char *q, size_t len);

/* Decides; rules NULL is treated as an empty set (DENY, line 0). query NULL
 * requires nothing. Pure: no allocation, no locks; safe from any number of
 * threads on one shared set. Fills *out entirely and returns out->outcome. */
PC_MUST_USE enum pc_access_outcome pc_access_decide(struct pc_access_decision *out, const struct pc_rules *rules,
                      const struct pc_access_query *query, const struct pc_access_request *req,
                      const struct pc_access_subject *subject);

/* Whether the decision lets the request through (ALLOW). */
PC_MUST_USE static inline bool pc_access_allowed(const struct pc_access_decision *d)
{
	return d->outcome == PC_ACCESS_ALLOW;
}

/* "ALLOW", "LOGIN", "SECOND_FACTOR", "DENY". */
const char *pc_access_outcome_name(enum pc_access_outcome o);

#endif
