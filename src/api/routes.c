/*
 * routes.c — THE route table: every path portcullis serves, its method,
 * handler and access rule. Nothing is routed that is not here, and a test
 * walks this table to prove every non-public row answers 401 anonymously.
 * Literal patterns come before parameterised ones of the same shape.
 */
#include "api/api.h"

struct pc_route pc_routes[] = {
	{PC_METHOD_GET, "/health", pc_api_health, PC_PUBLIC, "Liveness: the server answers.", PC_ROUTE_NO_CSRF, 0},
	{PC_METHOD_GET, "/ready", pc_api_ready, PC_PUBLIC, "Readiness: every configured backend answers.", PC_ROUTE_NO_CSRF, 0},
	{PC_METHOD_GET, "/metrics", pc_api_metrics, PC_PUBLIC, "Prometheus metrics.", PC_ROUTE_NO_CSRF, 0},
};

const size_t pc_n_routes = sizeof(pc_routes) / sizeof(pc_routes[0]);
