/*
 * principal.h (auth) — the anonymous actor of a request. The principal type
 * itself is core/principal.h, so the store and the audit writer can take it
 * without knowing HTTP.
 */
#ifndef PC_AUTH_PRINCIPAL_H
#define PC_AUTH_PRINCIPAL_H

#include "core/principal.h"

struct pc_req;

/* Fills an anonymous actor from the request (client address, user agent). */
void pc_principal_anonymous(struct pc_principal *p, const struct pc_req *r);

#endif
