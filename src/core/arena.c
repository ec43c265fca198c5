/* arena.c — see arena.h. Blocks grow to fit the request; no block is ever
 * larger than the biggest single allocation plus the default size. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_DEFAULT 8192
#define ALIGN 16

struct pc_arena_block {
	struct pc_arena_block *next;
	max_align_t data[];
};

void pc_arena_init(struct pc_arena *a)
{
	a->head = NULL;
	a->cur = a->first;
	a->left = sizeof(a->first);
}

static size_t pad(const char *p)
{
	return (ALIGN - ((uintptr_t)p & (ALIGN - 1))) & (ALIGN - 1);
}

void *pc_arena_alloc(struct pc_arena *a, size_t n)
{
	if (n == 0)
		n = 1;
	size_t p = pad(a->cur);
	if (n <= a->left && p <= a->left - n) {
		void *r = a->cur + p;
		a->cur += p + n;
		a->left -= p + n;
		return r;
	}
	if (n > SIZE_MAX - BLOCK_DEFAULT - sizeof(struct pc_arena_block))
		return NULL;
	size_t size = n > BLOCK_DEFAULT ? n + ALIGN : BLOCK_DEFAULT;
	struct pc_arena_block *b = malloc(sizeof(*b) + size);
	if (b == NULL)
		return NULL;
	b->next = a->head;
	a->head = b;
	a->cur = (char *)b->data;
	a->left = size;
	p = pad(a->cur);
	void *r = a->cur + p;
	a->cur += p + n;
	a->left -= p + n;
	return r;
}

char *pc_arena_strndup(struct pc_arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *d = pc_arena_alloc(a, n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void pc_arena_reset(struct pc_arena *a)
{
	struct pc_arena_block *b = a->head;
	while (b != NULL) {
		struct pc_arena_block *next = b->next;
		free(b);
		b = next;
	}
	pc_arena_init(a);
}
