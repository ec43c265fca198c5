/*
 * input.h — strict validation of JSON request bodies.
 *
 * Handlers declare the fields they accept; pc_input_or_respond() checks the
 * Content-Type (415), parses with duplicate keys rejected (jansson
 * JSON_REJECT_DUPLICATES; jansson already refuses invalid UTF-8 and \u0000),
 * requires a top-level object, refuses unknown fields, checks each field's
 * type and byte length, and answers 400/415 problem+json naming the field
 * when anything is off. On success the handler gets validated values:
 * strings point into the arena, except secrets.
 *
 * Secrets (PC_F_SECRET: passwords, tokens) never enter the arena, whose
 * reset wipes nothing (core/arena.h): each is copied into its own
 * sodium_malloc'd buffer that the struct pc_input owns until
 * pc_input_take() moves it into a struct pc_secret, and jansson's own copy
 * (json_string_value's storage) is zeroed before the document is freed, on
 * every path, a refused body included. pc_input_or_respond() frees every
 * secret it copied when it fails; after success the handler calls
 * pc_input_wipe() on every path (it frees what was not taken).
 */
#ifndef PC_API_INPUT_H
#define PC_API_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "http/request.h"

enum pc_ftype {
	PC_F_STRING,
	PC_F_INT,
	PC_F_BOOL,
	PC_F_SECRET, /* a string that is a secret: see above */
	PC_F_GROUPS, /* an array of distinct group names (core/text.h), at most
	              * max_len of them: str.s is them joined by ',' ("" : []) */
};

struct pc_field {
	const char *name;
	enum pc_ftype type;
	bool required;
	size_t max_len; /* strings: bytes */
};

union pc_fvalue {
	struct {
		const char *s; /* NUL-terminated copy in the arena (a secret: its own
		                  buffer); NULL when absent */
		size_t len;
	} str;
	int64_t i;
	bool b;
};

struct pc_input {
	union pc_fvalue v[8];
	bool present[8];
	bool owned[8]; /* v[i].str.s is a secret buffer this input still owns */
};

/* A secret moved out of an input: s is sodium_malloc'd, NUL-terminated,
 * len bytes before the NUL. pc_secret_free() wipes and frees it (sodium_free
 * zeroes before unmapping) and clears the struct; NULL s is a no-op. */
struct pc_secret {
	char *s;
	size_t len;
};
void pc_secret_free(struct pc_secret *sec);
/* Secret buffers allocated and not yet freed, process-wide (tests prove
 * with it that every path frees). */
size_t pc_secret_live(void);

/* Makes jansson zero every buffer it frees (its parser's copies of a
 * secret, and the values of a body it refuses halfway, which no caller can
 * reach), then hand it to release (NULL: free; tests pass a spy). Call once
 * at start, before any other jansson call and before threads start. */
void pc_input_json_init(void (*release)(void *));

/* Returns 0 with in filled, or -1 after answering (nothing left to free). n <= 8. */
PC_MUST_USE int pc_input_or_respond(struct pc_req *r, const struct pc_field *fields, size_t n,
                                    struct pc_input *in);

/*
 * The request-free part of pc_input_or_respond: parses and checks body
 * against fields, plain strings copied into arena. 0, or the status to
 * answer (400; 500 out of memory) with detail filled and nothing left to
 * free.
 */
PC_MUST_USE int pc_input_parse(struct pc_arena *arena, const char *body, size_t len, const struct pc_field *fields, size_t n,
                               struct pc_input *in, char *detail, size_t detail_cap);

/*
 * An application/x-www-form-urlencoded body (the OAuth endpoints: RFC 6749
 * 3.2, RFC 7009 2.1, RFC 7662 2.1) against fields, which must all be
 * strings or secrets: each parameter name=value, joined by '&', names and
 * values percent-decoded strictly ('+' is a space; a bad escape, NUL or
 * control byte is 400). As RFC 6749 3.2 says: a known parameter given more
 * than once is 400, one without a value counts as omitted, unrecognized
 * ones are ignored (never copied). A secret is decoded in its own
 * sodium_malloc'd buffer. Same results and ownership as pc_input_parse.
 */
PC_MUST_USE int pc_input_form_parse(struct pc_arena *arena, const char *body, size_t len,
                                    const struct pc_field *fields, size_t n, struct pc_input *in,
                                    char *detail, size_t detail_cap);
/* pc_input_or_respond for the OAuth endpoints: a form body (above) or a
 * JSON one, by Content-Type (anything else: 415). */
PC_MUST_USE int pc_input_oauth_or_respond(struct pc_req *r, const struct pc_field *fields, size_t n,
                                          struct pc_input *in);

/* Moves secret field i out of in (empty when absent). */
void pc_input_take(struct pc_input *in, size_t i, struct pc_secret *out);
/* Wipes and frees every secret in still owns. */
void pc_input_wipe(struct pc_input *in);

/* Normalises an email address in place: trimmed, ASCII-lowercased, checked
 * (1..64 local part of atext and dots, one '@', a domain of LDH labels).
 * Writes into out (PC_EMAIL_MAX + 1). 0 or -1. */
PC_MUST_USE int pc_email_normalize(char *out, size_t cap, const char *in, size_t len);

#endif
