/*
 * rules_impl.h — the layout of a parsed rule set, shared by rules.c (which
 * builds it) and access.c (which reads it). Private to src/authz/.
 *
 * Everything lives in a few arrays owned by struct pc_rules; rules refer to
 * their values by index, so the arrays could grow while parsing. Strings are
 * NUL-terminated in `pool`.
 *
 * The index: rules with an exact host are grouped per host in `exact`, rules
 * with "*.suffix" per suffix in `wild`, the rest in the host-less list; each
 * group is a run of ascending rule indices in `idx`. A decision merges the
 * runs for the request's host, its suffixes and the host-less list by rule
 * index, which is file order, so first-match semantics are kept.
 */
#ifndef PC_AUTHZ_RULES_IMPL_H
#define PC_AUTHZ_RULES_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authz/rules.h"
#include "core/cidr.h"

/* Offsets and counts are 32-bit: the text bounds every one of them. */
_Static_assert(PC_AUTHZ_MAX_FILE_BYTES < UINT32_MAX, "pool offsets are uint32_t");
_Static_assert(PC_AUTHZ_MAX_LINE < PC_AUTHZ_MAX_FILE_BYTES, "a line fits in a file");
_Static_assert(PC_AUTHZ_MAX_VALUES <= 255 && PC_AUTHZ_MAX_RULES <= 1000000, "limits in range");

struct pc_sv {
	uint32_t off; /* into pool */
	uint32_t len;
};

struct pc_rule {
	unsigned line;
	enum pc_policy policy;
	uint8_t methods;     /* bit (1 << enum pc_method); 0: any */
	bool has_host, host_wild, has_path;
	struct pc_sv host;   /* exact name, or the suffix after "*." */
	struct pc_sv path;
	uint32_t nets, n_nets;   /* into nets[] */
	uint32_t users, n_users; /* into svs[] */
	uint32_t groups, n_groups;
};

/* One host key of the index: a run idx[start .. start+count). */
struct pc_hslot {
	uint64_t hash;  /* 0: empty slot */
	struct pc_sv key;
	uint32_t start, count;
};

struct pc_htab {
	struct pc_hslot *slots;
	size_t mask;    /* slots - 1; a power of two minus one, or 0 with no slots */
	size_t n;
};

struct pc_rules {
	atomic_uint refs;
	struct pc_rule *rules;
	size_t n_rules;
	char *pool;
	struct pc_sv *svs;
	struct pc_cidr *nets;
	uint32_t *idx;
	struct pc_htab exact, wild;
	uint32_t free_start, free_count; /* host-less rules in idx */
	bool upper_paths;                /* a path value has an ASCII capital */
};

/* Fault injection for the out-of-memory test (SQLite's *fault.test habit):
 * when non-zero, the allocation that brings it to zero fails. Tests only;
 * never set while another thread parses. */
extern unsigned long pc_authz_fail_alloc_at;

/* The index hash: FNV-1a over the bytes from last to first, so the hashes
 * of all the suffixes of a name come out of one right-to-left pass. Keys are
 * operator-written; a request only chooses which key it probes. */
#define PC_AUTHZ_FNV_OFFSET 0xcbf29ce484222325ull
#define PC_AUTHZ_FNV_PRIME 0x100000001b3ull

static inline uint64_t pc_authz_hash_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * PC_AUTHZ_FNV_PRIME;
}

/* Never 0 (0 marks an empty slot). */
static inline uint64_t pc_authz_hash_final(uint64_t h)
{
	return h ? h : 1;
}

/* The slot holding key s (n bytes, hash h), or NULL. */
static inline const struct pc_hslot *pc_authz_htab_find(const struct pc_htab *t, const char *pool, uint64_t h,
                                                      const char *s, size_t n)
{
	if (t->n == 0)
		return NULL;
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		const struct pc_hslot *e = &t->slots[i];
		if (e->hash == 0)
			return NULL;
		if (e->hash == h && e->key.len == n && __builtin_memcmp(pool + e->key.off, s, n) == 0)
			return e;
	}
}

#endif
