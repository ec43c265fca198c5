/* input.c — see input.h. */
#include "api/input.h"
#include "core/text.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <malloc.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "auth/principal.h"
#include "core/pct.h"

/* Content-Type is `want`, optionally with "; charset=utf-8" (RFC 9110 8.3). */
static bool content_type_is(const struct pc_req *r, const char *want)
{
	const struct pc_http_header *h = pc_http_header_get(r->http, "Content-Type");
	if (h == NULL)
		return false;
	const char *p = h->value.p;
	size_t n = h->value.len, wl = strlen(want);
	if (n < wl || strncasecmp(p, want, wl) != 0)
		return false;
	p += wl;
	n -= wl;
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	if (n == 0)
		return true;
	if (*p != ';')
		return false;
	p++;
	n--;
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	static const char cs[] = "charset=utf-8";
	return n == sizeof(cs) - 1 && strncasecmp(p, cs, n) == 0;
}

static bool content_type_json(const struct pc_req *r)
{
	return content_type_is(r, "application/json");
}

static void (*json_release)(void *) = free;

/* jansson frees through this: every buffer it held — its lexer's copy of
 * a token, the values of a document it refused halfway, which no caller can
 * reach — is zeroed first. */
static void wiping_free(void *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	json_release(p);
}

void pc_input_json_init(void (*release)(void *))
{
	json_release = release != NULL ? release : free;
	json_set_alloc_funcs(malloc, wiping_free);
}

static atomic_size_t secrets_live;

size_t pc_secret_live(void)
{
	return atomic_load(&secrets_live);
}

void pc_secret_free(struct pc_secret *sec)
{
	if (sec->s == NULL)
		return;
	sodium_free(sec->s); /* zeroes the whole allocation first */
	atomic_fetch_sub(&secrets_live, 1);
	sec->s = NULL;
	sec->len = 0;
}

/* A sodium_malloc'd, NUL-terminated copy of s[0..len); NULL when out of memory. */
static char *secret_dup(const char *s, size_t len)
{
	char *p = sodium_malloc(len + 1);
	if (p == NULL)
		return NULL;
	atomic_fetch_add(&secrets_live, 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void pc_input_take(struct pc_input *in, size_t i, struct pc_secret *out)
{
	out->s = in->owned[i] ? (char *)in->v[i].str.s : NULL;
	out->len = out->s != NULL ? in->v[i].str.len : 0;
	in->owned[i] = false;
	in->v[i].str.s = NULL;
	in->v[i].str.len = 0;
}

void pc_input_wipe(struct pc_input *in)
{
	for (size_t i = 0; i < sizeof(in->owned) / sizeof(in->owned[0]); i++) {
		struct pc_secret sec;
		pc_input_take(in, i, &sec);
		pc_secret_free(&sec);
	}
}

/* Zeroes jansson's copy of every secret field of root, whichever path the
 * parse took (a field after the failing one was never looked at). */
static void wipe_json_secrets(json_t *root, const struct pc_field *fields, size_t n)
{
	if (!json_is_object(root))
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *v = fields[i].type == PC_F_SECRET ? json_object_get(root, fields[i].name) : NULL;
		if (json_is_string(v))
			sodium_memzero((char *)json_string_value(v), json_string_length(v));
	}
}

int pc_input_parse(struct pc_arena *arena, const char *body, size_t body_len, const struct pc_field *fields, size_t n,
                   struct pc_input *in, char *detail, size_t detail_cap)
{
	json_error_t jerr;
	json_t *root = NULL;
	int rc = 400;

	memset(in, 0, sizeof(*in));
	if (body == NULL || body_len == 0) {
		snprintf(detail, detail_cap, "A JSON body is required.");
		return 400;
	}
	root = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* jansson's text may quote input: never echo it; name the class of
		 * problem from it and give the position */
		const char *what = "is not valid JSON";
		if (strstr(jerr.text, "duplicate") != NULL)
			what = "has a duplicate member name";
		else if (strstr(jerr.text, "\\u0000") != NULL)
			what = "contains a NUL character (\\u0000) in a string";
		else if (strstr(jerr.text, "UTF-8") != NULL || strstr(jerr.text, "utf-8") != NULL)
			what = "is not valid UTF-8";
		snprintf(detail, detail_cap, "The body %s (at byte %d).", what, jerr.position);
		sodium_memzero(&jerr, sizeof(jerr));
		return 400;
	}
	if (!json_is_object(root)) {
		snprintf(detail, detail_cap, "The body must be a JSON object.");
		goto out;
	}
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(fields[i].name, key) == 0)
				break;
		if (i == n) {
			char esc[64];
			size_t kl = strnlen(key, 40);
			size_t j = 0;
			for (size_t k = 0; k < kl && j < sizeof(esc) - 1; k++)
				esc[j++] = isprint((unsigned char)key[k]) ? key[k] : '?';
			esc[j] = '\0';
			snprintf(detail, detail_cap, "Unknown field \"%s\".", esc);
			goto out;
		}
		const struct pc_field *f = &fields[i];
		switch (f->type) {
		case PC_F_STRING:
		case PC_F_SECRET: {
			if (!json_is_string(val)) {
				snprintf(detail, detail_cap, "Field \"%s\" must be a string.", f->name);
				goto out;
			}
			size_t len = json_string_length(val);
			if (len > f->max_len) {
				snprintf(detail, detail_cap, "Field \"%s\" is too long (at most %zu bytes).", f->name,
				         f->max_len);
				goto out;
			}
			const char *s = json_string_value(val);
			if (memchr(s, '\0', len) != NULL) {
				snprintf(detail, detail_cap, "Field \"%s\" must not contain NUL.", f->name);
				goto out;
			}
			if (f->type == PC_F_SECRET) {
				in->v[i].str.s = secret_dup(s, len);
				in->owned[i] = in->v[i].str.s != NULL;
			} else {
				in->v[i].str.s = pc_arena_strndup(arena, s, len);
			}
			in->v[i].str.len = len;
			if (in->v[i].str.s == NULL) {
				rc = 500;
				goto out;
			}
			break;
		}
		case PC_F_GROUPS: {
			if (!json_is_array(val)) {
				snprintf(detail, detail_cap, "Field \"%s\" must be an array of group names.", f->name);
				goto out;
			}
			if (json_array_size(val) > f->max_len) {
				snprintf(detail, detail_cap, "Field \"%s\" holds more than %zu groups.", f->name, f->max_len);
				goto out;
			}
			char *joined = pc_arena_alloc(arena, PC_USER_GROUPS_TEXT + 1);
			if (joined == NULL) {
				rc = 500;
				goto out;
			}
			size_t at = 0, k;
			json_t *g;
			joined[0] = '\0';
			json_array_foreach(val, k, g) {
				if (!json_is_string(g) ||
				    pc_groups_append(joined, &at, json_string_value(g), json_string_length(g)) != 0) {
					snprintf(detail, detail_cap,
					         "Field \"%s\": item %zu is not a group name ([a-z0-9][a-z0-9._-]{0,63}).",
					         f->name, k);
					goto out;
				}
			}
			if (!pc_groups_text_valid(joined, at)) {
				snprintf(detail, detail_cap, "Field \"%s\" names a group twice.", f->name);
				goto out;
			}
			in->v[i].str.s = joined;
			in->v[i].str.len = at;
			break;
		}
		case PC_F_INT:
			if (!json_is_integer(val)) {
				snprintf(detail, detail_cap, "Field \"%s\" must be an integer.", f->name);
				goto out;
			}
			in->v[i].i = json_integer_value(val);
			break;
		case PC_F_BOOL:
			if (!json_is_boolean(val)) {
				snprintf(detail, detail_cap, "Field \"%s\" must be true or false.", f->name);
				goto out;
			}
			in->v[i].b = json_is_true(val);
			break;
		}
		in->present[i] = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (fields[i].required && !in->present[i]) {
			snprintf(detail, detail_cap, "Field \"%s\" is required.", fields[i].name);
			goto out;
		}
	}
	rc = 0;
out:
	wipe_json_secrets(root, fields, n);
	json_decref(root);
	if (rc != 0)
		pc_input_wipe(in);
	return rc;
}

int pc_input_form_parse(struct pc_arena *arena, const char *body, size_t body_len,
                        const struct pc_field *fields, size_t n, struct pc_input *in, char *detail,
                        size_t detail_cap)
{
	int rc = 400;
	bool given[8] = {false};
	memset(in, 0, sizeof(*in));
	assert(n <= sizeof(given) / sizeof(given[0]));
	if (body == NULL || body_len == 0) {
		snprintf(detail, detail_cap, "A form body is required.");
		return 400;
	}
	const char *p = body, *end = body + body_len;
	while (p <= end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		if (pe == p || eq == NULL || eq == p) {
			snprintf(detail, detail_cap, "The form body is malformed (every parameter is name=value, "
			                             "joined by '&').");
			goto out;
		}
		char name[64];
		size_t nl = 0;
		if (pc_pct_decode(name, sizeof(name), &nl, p, (size_t)(eq - p), PC_PCT_PLUS_SPACE | PC_PCT_NO_CTL) != 0) {
			if (errno == ERANGE)
				goto next; /* longer than any name we know: an unknown parameter */
			snprintf(detail, detail_cap, "The form body has a malformed percent-escape.");
			goto out;
		}
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(fields[i].name, name) == 0)
				break;
		if (i == n)
			goto next; /* RFC 6749 3.2: unrecognized parameters are ignored */
		const struct pc_field *f = &fields[i];
		assert(f->type == PC_F_STRING || f->type == PC_F_SECRET);
		if (given[i]) {
			snprintf(detail, detail_cap, "Parameter \"%s\" is given more than once.", f->name);
			goto out;
		}
		given[i] = true;
		const char *v = eq + 1;
		size_t vl = (size_t)(pe - v);
		if (vl == 0)
			goto next; /* RFC 6749 3.2: a parameter without a value is omitted */
		if (vl > 3 * f->max_len) {
			snprintf(detail, detail_cap, "Parameter \"%s\" is too long (at most %zu bytes).", f->name, f->max_len);
			goto out;
		}
		/* decoded in place in its final home: a secret never touches the arena */
		char *dst = f->type == PC_F_SECRET ? secret_dup(v, vl) : pc_arena_strndup(arena, v, vl);
		if (dst == NULL) {
			rc = 500;
			goto out;
		}
		in->v[i].str.s = dst;
		in->owned[i] = f->type == PC_F_SECRET;
		size_t dl = 0;
		if (pc_pct_decode(dst, vl + 1, &dl, dst, vl, PC_PCT_PLUS_SPACE | PC_PCT_NO_CTL) != 0) {
			snprintf(detail, detail_cap, "Parameter \"%s\" has a malformed percent-escape or a control "
			                             "character.", f->name);
			goto out;
		}
		in->v[i].str.len = dl;
		if (dl > f->max_len) {
			snprintf(detail, detail_cap, "Parameter \"%s\" is too long (at most %zu bytes).", f->name, f->max_len);
			goto out;
		}
		in->present[i] = true;
	next:
		p = pe + 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (fields[i].required && !in->present[i]) {
			snprintf(detail, detail_cap, "Parameter \"%s\" is required.", fields[i].name);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc != 0)
		pc_input_wipe(in);
	return rc;
}

int pc_input_oauth_or_respond(struct pc_req *r, const struct pc_field *fields, size_t n,
                              struct pc_input *in)
{
	char detail[160];
	memset(in, 0, sizeof(*in));
	bool form = content_type_is(r, "application/x-www-form-urlencoded");
	if (!form && !content_type_json(r)) {
		pc_respond_problem_kind(r, PC_PROB_UNSUPPORTED_MEDIA_TYPE,
		                        "The body must be application/x-www-form-urlencoded or application/json.");
		return -1;
	}
	int status = form ? pc_input_form_parse(&r->arena, r->body, r->body_len, fields, n, in, detail, sizeof(detail))
	                  : pc_input_parse(&r->arena, r->body, r->body_len, fields, n, in, detail, sizeof(detail));
	if (status != 0) {
		pc_respond_problem_kind(r, status == 500 ? PC_PROB_INTERNAL_ERROR : PC_PROB_INVALID_BODY,
		                        status == 500 ? NULL : detail);
		return -1;
	}
	return 0;
}

int pc_input_or_respond(struct pc_req *r, const struct pc_field *fields, size_t n,
                        struct pc_input *in)
{
	char detail[160];
	memset(in, 0, sizeof(*in));
	if (!content_type_json(r)) {
		pc_respond_problem_kind(r, PC_PROB_UNSUPPORTED_MEDIA_TYPE, "The body must be application/json.");
		return -1;
	}
	int status = pc_input_parse(&r->arena, r->body, r->body_len, fields, n, in, detail, sizeof(detail));
	if (status != 0) {
		pc_respond_problem_kind(r, status == 500 ? PC_PROB_INTERNAL_ERROR : PC_PROB_INVALID_BODY,
		                        status == 500 ? NULL : detail);
		return -1;
	}
	return 0;
}

static bool atext(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

int pc_email_normalize(char *out, size_t cap, const char *in, size_t len)
{
	while (len > 0 && isspace((unsigned char)in[0])) {
		in++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)in[len - 1]))
		len--;
	if (len < 3 || len > PC_EMAIL_MAX || len >= cap)
		return -1;
	const char *at = memchr(in, '@', len);
	if (at == NULL || memchr(at + 1, '@', len - (size_t)(at - in) - 1) != NULL)
		return -1;
	size_t local = (size_t)(at - in);
	size_t dom = len - local - 1;
	if (local == 0 || local > 64 || dom == 0)
		return -1;
	for (size_t i = 0; i < local; i++) {
		unsigned char c = (unsigned char)in[i];
		if (!(atext(c) || (c == '.' && i > 0 && i + 1 < local && in[i - 1] != '.')))
			return -1;
	}
	size_t label = 0;
	for (size_t i = 0; i < dom; i++) {
		unsigned char c = (unsigned char)at[1 + i];
		if (c == '.') {
			if (label == 0 || at[i] == '-')
				return -1;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || (c == '-' && label > 0)) || ++label > 63)
			return -1;
	}
	if (label == 0 || at[dom] == '-')
		return -1;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[len] = '\0';
	return 0;
}
