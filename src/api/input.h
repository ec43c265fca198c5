/*
 * input.h — strict validation of JSON request bodies.
 *
 * Handlers declare the fields they accept; pc_input_or_respond() checks the
 * Content-Type (415), parses with duplicate keys rejected (jansson
 * JSON_REJECT_DUPLICATES; jansson already refuses invalid UTF-8 and \u0000),
 * requires a top-level object, refuses unknown fields, checks each field's
 * type and byte length, and answers 400/415 problem+json naming the field
 * when anything is off. On success the handler gets validated values and
 * owns nothing: strings point into the arena.
 */
#ifndef PC_API_INPUT_H
#define PC_API_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/request.h"

enum pc_ftype { PC_F_STRING, PC_F_INT, PC_F_BOOL };

struct pc_field {
	const char *name;
	enum pc_ftype type;
	bool required;
	size_t max_len; /* strings: bytes */
};

union pc_fvalue {
	struct {
		const char *s; /* NUL-terminated copy in the arena; NULL when absent */
		size_t len;
	} str;
	int64_t i;
	bool b;
};

struct pc_input {
	union pc_fvalue v[8];
	bool present[8];
};

/* Returns 0 with in filled, or -1 after answering. n <= 8. */
__attribute__((warn_unused_result))
int pc_input_or_respond(struct pc_req *r, const struct pc_field *fields, size_t n,
                        struct pc_input *in);

/* Normalises an email address in place: trimmed, ASCII-lowercased, checked
 * (1..64 local part of atext and dots, one '@', a domain of LDH labels).
 * Writes into out (PC_EMAIL_MAX + 1). 0 or -1. */
int pc_email_normalize(char *out, size_t cap, const char *in, size_t len);

#endif
