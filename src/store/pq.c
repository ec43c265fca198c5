/* pq.c — see pq.h. */
#define PC_PQ_IMPL
#include "store/pq.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct pc_pq pc_pq;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void)
{
	/* RTLD_LOCAL: its symbols stay its own; RTLD_NOW: a missing one is
	 * found here, not at the first query */
	void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(load_error, sizeof(load_error), "cannot load libpq.so.5 (Debian package libpq5): %s",
		         dlerror());
		return;
	}
	struct pc_pq t;
#define PC_PQ_LOAD(name)                                                                           \
	*(void **)&t.name = dlsym(h, #name);                                                     \
	if (t.name == NULL) {                                                                      \
		snprintf(load_error, sizeof(load_error), "libpq.so.5 has no %s", #name);         \
		return;                                                                            \
	}
	PC_PQ_FUNCS(PC_PQ_LOAD)
#undef PC_PQ_LOAD
	pc_pq = t; /* the library stays loaded for the life of the process */
}

int pc_pq_load(char *err, size_t errlen)
{
	pthread_once(&once, load);
	if (pc_pq.PQexec == NULL) {
		snprintf(err, errlen, "%s", load_error[0] ? load_error : "libpq is not loaded");
		return -1;
	}
	return 0;
}
