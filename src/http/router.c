/* router.c — see router.h. Linear over the table: it has a few dozen rows,
 * and a literal pattern is ruled out by its length before a byte is
 * compared (/api/v1/auth/verify, asked on every proxied request, is the
 * 13th row); a trie would buy nothing. */
#include "http/router.h"

#include <stdio.h>
#include <string.h>

/* Matches pattern against path; fills params (pointing into path). */
static bool match_pattern(const char *pat, struct pc_str path, struct pc_req *r)
{
	const char *p = path.p;
	const char *end = path.p + path.len;
	size_t n = 0;
	while (*pat != '\0') {
		if (*pat == '{') {
			const char *close = strchr(pat, '}');
			const char *seg = p;
			while (p < end && *p != '/')
				p++;
			if (p == seg || close == NULL || n >= PC_ROUTE_MAX_PARAMS)
				return false;
			if (r != NULL) {
				r->params[n].p = seg;
				r->params[n].len = (size_t)(p - seg);
				r->param_names[n] = pat + 1; /* "id}..." — compared up to '}' */
			}
			n++;
			pat = close + 1;
			continue;
		}
		if (p >= end || *p != *pat)
			return false;
		p++;
		pat++;
	}
	if (p != end)
		return false;
	if (r != NULL)
		r->n_params = n;
	return true;
}

int pc_router_init(struct pc_route *routes, size_t n_routes, const char **names, size_t names_cap)
{
	size_t distinct = 0;
	for (size_t i = 0; i < n_routes; i++) {
		const char *pat = routes[i].pattern;
		if (pat == NULL || pat[0] != '/' || routes[i].handler == NULL ||
		    (unsigned)routes[i].method >= PC_METHOD__COUNT || routes[i].method == PC_METHOD_HEAD)
			return -1;
		size_t params = 0;
		for (const char *c = pat; *c; c++)
			if (*c == '{')
				params++;
		if (params > PC_ROUTE_MAX_PARAMS)
			return -1;
		routes[i].literal_len = params == 0 ? strlen(pat) : 0;
		size_t j;
		for (j = 0; j < i; j++) {
			if (strcmp(routes[j].pattern, pat) == 0) {
				if (routes[j].method == routes[i].method)
					return -1;
				break;
			}
		}
		if (j < i) {
			routes[i].metric_index = routes[j].metric_index;
		} else {
			if (distinct >= names_cap)
				return -1;
			names[distinct] = pat;
			routes[i].metric_index = distinct++;
		}
	}
	return (int)distinct;
}

enum pc_match pc_router_match(const struct pc_route *routes, size_t n_routes,
                              enum pc_method method, struct pc_str path, struct pc_req *r,
                              const struct pc_route **route, unsigned *allow)
{
	enum pc_method want = method == PC_METHOD_HEAD ? PC_METHOD_GET : method;
	unsigned mask = 0;
	const struct pc_route *any = NULL;
	*route = NULL;
	*allow = 0;
	for (size_t i = 0; i < n_routes; i++) {
		const struct pc_route *rt = &routes[i];
		if (any != NULL && strcmp(rt->pattern, any->pattern) != 0)
			continue; /* rows of one pattern only, once one matched */
		if (any == NULL && !(rt->literal_len != 0 ? rt->literal_len == path.len &&
		                                                memcmp(rt->pattern, path.p, path.len) == 0
		                                          : match_pattern(rt->pattern, path, NULL)))
			continue;
		if (any == NULL)
			any = rt;
		mask |= 1u << rt->method;
		if (rt->method == PC_METHOD_GET)
			mask |= 1u << PC_METHOD_HEAD;
		if (rt->method == want) {
			match_pattern(rt->pattern, path, r);
			*route = rt;
			return PC_MATCH_OK;
		}
	}
	if (any == NULL)
		return PC_MATCH_NOT_FOUND;
	*route = any;
	*allow = mask | (1u << PC_METHOD_OPTIONS);
	return PC_MATCH_METHOD;
}

void pc_router_allow_string(char *out, size_t cap, unsigned allow)
{
	size_t len = 0;
	out[0] = '\0';
	for (unsigned m = 0; m < PC_METHOD__COUNT; m++) {
		if (!(allow & (1u << m)))
			continue;
		int w = snprintf(out + len, cap - len, "%s%s", len ? ", " : "",
		                 pc_method_name((enum pc_method)m));
		if (w < 0 || (size_t)w >= cap - len)
			return;
		len += (size_t)w;
	}
}
