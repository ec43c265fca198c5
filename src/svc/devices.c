/* devices.c — see devices.h. */
#include "svc/devices.h"

#include <stdlib.h>
#include <string.h>

enum pc_err pc_devices_list(struct pc_svc *ctx, const struct pc_principal *actor, struct pc_token_family **out,
                            size_t *n)
{
	*out = NULL;
	*n = 0;
	if (actor->user_id[0] == '\0')
		return PC_OK;
	return pc_store_family_list(ctx->store, actor->user_id, pc_svc_now(ctx), out, n);
}

enum pc_err pc_devices_revoke(struct pc_svc *ctx, const struct pc_principal *actor, const char *id)
{
	struct pc_token_family *list = NULL;
	size_t n = 0;
	/* the family must be the actor's: family ids are not secret to their
	 * owner, but another user's are none of their business */
	enum pc_err e = pc_devices_list(ctx, actor, &list, &n);
	bool mine = false;
	for (size_t i = 0; e == PC_OK && i < n; i++)
		mine = mine || strcmp(list[i].family_id, id) == 0;
	free(list);
	if (e != PC_OK)
		return e;
	if (!mine)
		return PC_ERR_NOT_FOUND;
	struct pc_audit_event ev;
	pc_svc_event(&ev, actor, "device.revoke", "token_family", id, NULL);
	return pc_svc_revoke(ctx, actor, &ev, NULL, 0, id, NULL, NULL);
}
