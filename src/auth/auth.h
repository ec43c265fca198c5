/*
 * auth.h — the authentication stages and the state they share.
 *
 * Stages run for every routed request in this order (main installs them):
 *   pc_stage_authenticate  session cookie (later: bearer JWT, API key)
 *                          -> r->principal (or NULL) and r->actor
 *   pc_stage_require_auth  401 for a non-public route without a principal
 *   pc_stage_csrf          unsafe methods that carry or set the session cookie
 * The http layer re-checks the access rule before every handler as a last
 * word, so a stage list that forgot require_auth still fails closed.
 */
#ifndef PC_AUTH_AUTH_H
#define PC_AUTH_AUTH_H

#include <stdatomic.h>
#include <stdbool.h>

#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/principal.h"
#include "auth/ratelimit.h"
#include "core/err.h"
#include "http/request.h"
#include "kv/kv.h"
#include "store/store.h"

/* Refresh an API key's last_used_at at most this often (seconds): one write
 * per key per minute at most, not one per request. A session's last_seen_at
 * follows pc_session_touch_interval (auth/session.h): its idle timeout
 * depends on it. */
#define PC_APIKEY_TOUCH_INTERVAL 60

struct pc_auth {
	const struct pc_config *cfg;
	struct pc_store *store;
	struct pc_kv *kv;
	struct pc_pwcost cost;
	/* where every counter below lives: the kv, and a per-instance table
	 * while Redis cannot answer (ratelimit.h) */
	struct pc_throttle throttle;
	/* failed sign-ins per account (any address): the configured limit */
	struct pc_ratelimit login_account;
	/* failed sign-ins per client address, whatever the account: a ceiling
	 * well above the account limit, so one office behind NAT is not locked
	 * out by one user's typos, and a spray over many accounts still stops */
	struct pc_ratelimit login_addr;
	struct pc_ratelimit reset_addr;
	struct pc_ratelimit refresh_user; /* refreshes per user per clock hour */
	/* security events an anonymous client can cause at will (tampered
	 * cookies, CSRF failures) are audited at most this often per address,
	 * so garbage requests cannot flood the audit trail; the metrics count
	 * every one */
	struct pc_ratelimit audit_noise;
	atomic_bool setup_done; /* once true, stays true: setup is one-way */

	/* access tokens: sodium_malloc'd, read-only after init */
	struct pc_jws_keyring *ring;
	struct pc_jwt_policy jwt;
	char *jwks;             /* GET /.well-known/jwks.json body (malloc'd) */
};

/* Over an open store and kv (borrowed: they outlive a; svc/ctx.c opens
 * them): prepares password hashing and the token keyring, the verify cache
 * and its invalidation channel, loads the persisted revocation list. 0, or
 * -1 with err (nothing then needs freeing). */
PC_MUST_USE int pc_auth_init(struct pc_auth *a, const struct pc_config *cfg, struct pc_store *store,
                             struct pc_kv *kv, char *err, size_t errlen);
/* Frees what pc_auth_init built (not the store nor the kv); a zeroed a is a no-op. */
void pc_auth_free(struct pc_auth *a);

/* On the worker pool: drops cached validity for tag (a session, key or
 * user id) in this instance at once, and tells every other instance
 * through the kv's invalidation channel. */
void pc_auth_invalidate(struct pc_auth *a, const char *tag);

/* On the worker pool: appends a security event caused by an anonymous
 * client, unless its address is over the audit_noise limit. */
void pc_auth_audit_noise(struct pc_req *r, const char *action, const char *details);
/* The same for an event built by a service (ev, actor: the client). */
void pc_auth_audit_noise_event(struct pc_auth *a, const struct pc_principal *actor, struct pc_audit_event *ev);

/* API keys may not use routes flagged PC_ROUTE_ADMIN unless configured. */
#define PC_ROUTE_ADMIN 8u
/* Also open to a session that waits for a second factor to be set up
 * (PORTCULLIS_REQUIRE_SECOND_FACTOR): the enrolment routes and what they need. */
#define PC_ROUTE_ENROL 32u

/* The app's auth state (app->features). */
static inline struct pc_auth *pc_auth_of(const struct pc_req *r)
{
	return (struct pc_auth *)r->app->features;
}

enum pc_step pc_stage_authenticate(struct pc_req *r);
enum pc_step pc_stage_require_auth(struct pc_req *r);
enum pc_step pc_stage_csrf(struct pc_req *r);

/* Whether an Origin ("scheme://host[:port]") names this service: its
 * authority equals host (what the request was sent to), or the whole
 * origin is listed in PORTCULLIS_ALLOWED_ORIGINS. */
PC_MUST_USE bool pc_csrf_origin_ok(const struct pc_config *cfg, struct pc_str origin, struct pc_str host);

/* Builds a session principal for user/session (after login or setup). */
void pc_principal_for_session(struct pc_principal *p, const struct pc_req *r,
                              const char *user_id, const char *email, const char *session_id,
                              int64_t authenticated_at);

#endif
