/* method.c — method names (see method.h). */
#include "core/method.h"

#include <string.h>

static const char *const names[PC_METHOD__COUNT] = {
	[PC_METHOD_GET] = "GET",       [PC_METHOD_HEAD] = "HEAD",     [PC_METHOD_POST] = "POST",
	[PC_METHOD_PUT] = "PUT",       [PC_METHOD_PATCH] = "PATCH",   [PC_METHOD_DELETE] = "DELETE",
	[PC_METHOD_OPTIONS] = "OPTIONS",
};

const char *pc_method_name(enum pc_method m)
{
	if ((unsigned)m >= PC_METHOD__COUNT)
		return "UNKNOWN";
	return names[m];
}

enum pc_method pc_method_lookup(const char *s, size_t len)
{
	int m = 0;
	while (m < PC_METHOD__COUNT && !(strlen(names[m]) == len && memcmp(names[m], s, len) == 0))
		m++;
	return (enum pc_method)m;
}
