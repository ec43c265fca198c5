/*
 * router.h — matching a request path against the one route table.
 *
 * Paths are matched segment by segment on the raw (undecoded) path, exactly:
 * no trailing-slash folding, no case folding, no dot-segment removal — a path
 * that is not literally in the table is 404, so "/api/v1//users" or
 * "/API/v1/users" can never slip past a per-route rule.
 */
#ifndef PC_HTTP_ROUTER_H
#define PC_HTTP_ROUTER_H

#include "core/err.h"
#include "http/request.h"

/* Assigns metric indices (one per distinct pattern) and checks the table:
 * patterns well formed, no two rows with the same method and pattern, at
 * most PC_ROUTE_MAX_PARAMS parameters. Returns the number of distinct
 * patterns, or -1 (a programming error: main refuses to start). */
PC_MUST_USE int pc_router_init(struct pc_route *routes, size_t n_routes, const char **names, size_t names_cap);

enum pc_match { PC_MATCH_OK = 0, PC_MATCH_NOT_FOUND, PC_MATCH_METHOD };

/*
 * Finds the row for (method, path). On PC_MATCH_OK *route and the params of
 * r are set. On PC_MATCH_METHOD *allow gets the bitmask of served methods
 * (1u << enum pc_method; GET implies HEAD) and *route a row of the pattern
 * (for metrics). HEAD is served by GET rows.
 */
enum pc_match pc_router_match(const struct pc_route *routes, size_t n_routes,
                              enum pc_method method, struct pc_str path, struct pc_req *r,
                              const struct pc_route **route, unsigned *allow);

/* Writes "GET, HEAD, POST" for a method bitmask into out. */
void pc_router_allow_string(char *out, size_t cap, unsigned allow);

#endif
