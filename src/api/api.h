/*
 * api.h — the HTTP handlers of every resource, and the one route table.
 *
 * Each src/api/<resource>.c parses and validates its input, calls the
 * feature modules, and maps their errors to HTTP. The route table in
 * routes.c is the only place a path, a method and its access rule meet.
 */
#ifndef PC_API_API_H
#define PC_API_API_H

#include "http/request.h"

extern struct pc_route pc_routes[];
extern const size_t pc_n_routes;

void pc_api_health(struct pc_req *r);
void pc_api_ready(struct pc_req *r);
void pc_api_metrics(struct pc_req *r);

#endif
