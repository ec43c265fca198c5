/*
 * arena.h — per-request bump allocator.
 *
 * Everything a request allocates comes from its arena and is released at
 * once when the response is complete (h2o's req->pool). The first block is
 * embedded so most requests never call malloc; larger needs chain blocks.
 * pc_arena_reset() wipes nothing: never put a secret in an arena, or wipe it
 * yourself before the reset.
 */
#ifndef PC_CORE_ARENA_H
#define PC_CORE_ARENA_H

#include <stddef.h>

struct pc_arena_block;

struct pc_arena {
	struct pc_arena_block *head; /* chained blocks, newest first */
	char *cur;
	size_t left;
	char first[2048];
};

void pc_arena_init(struct pc_arena *a);
/* Returns 16-byte aligned memory, or NULL on overflow or out of memory. */
void *pc_arena_alloc(struct pc_arena *a, size_t n);
/* Copies s[0..n) and a NUL; NULL on failure. */
char *pc_arena_strndup(struct pc_arena *a, const char *s, size_t n);
/* Frees every chained block; the arena is empty and reusable. */
void pc_arena_reset(struct pc_arena *a);

#endif
