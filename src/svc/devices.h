/*
 * devices.h — a user's own token families, shown as "devices": each is one
 * sign-in of an API client with the password (POST /api/v1/auth/token) or
 * from a browser session, and the refreshes that followed it. Ending one
 * deletes its refresh tokens and revokes its recorded access tokens at once.
 */
#ifndef PC_SVC_DEVICES_H
#define PC_SVC_DEVICES_H

#include "svc/svc.h"

/* The actor's live families, newest sign-in first; *out malloc'd (caller
 * frees). An actor that is no user (an API key): none. */
PC_MUST_USE enum pc_err pc_devices_list(struct pc_svc *ctx, const struct pc_principal *actor,
                                        struct pc_token_family **out, size_t *n);

/* Ends one family of the actor's: PC_ERR_NOT_FOUND when it is not theirs
 * (or gone). Event "device.revoke" on the token_family. */
PC_MUST_USE enum pc_err pc_devices_revoke(struct pc_svc *ctx, const struct pc_principal *actor, const char *id);

#endif
