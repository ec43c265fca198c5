/*
 * fuzz_json_input.c — libFuzzer target for the JSON request-body validator
 * pc_input_or_respond() and the text checks behind it: pc_email_normalize,
 * and pc_utf8_valid (the password policy needs the service: svc/test_passwords).
 *
 * Input layout: byte 0 chooses the field table (bits 0-1, tables shaped like
 * the real handlers') and the Content-Type (bits 2-4 pick one of a list;
 * with bit 7 set the Content-Type is instead the input's bytes up to the
 * first LF); the rest is the body.
 *
 * pc_respond_problem() is provided HERE, not by src/http/server.c: it records
 * the answer instead of writing to a connection, which is what lets a
 * struct pc_req be built by hand. (input.o needs nothing else from
 * server.o, so the linker never pulls server.o in; should input.c start
 * calling another server.c function, this target fails to link with a
 * duplicate definition, and the stub has to grow.)
 *
 * Invariants:
 * - exactly one answer on failure, none on success; status 415 exactly when
 *   a model of the documented Content-Type rule refuses, else 400 (never
 *   500); the detail is short printable ASCII;
 * - success exactly when a model of the documented rules (object, known
 *   fields, types, byte lengths, no NUL, required present) says so;
 * - on success each string is a NUL-terminated copy of the JSON string,
 *   valid UTF-8 by pc_utf8_valid, ints and bools are the JSON values;
 * - pc_utf8_valid agrees with an independent table-driven RFC 3629
 *   validator on the raw body;
 * - pc_email_normalize agrees with a model of its contract, and its output
 *   is lowercase, at most PC_EMAIL_MAX bytes, holds exactly one '@', and
 *   normalizes to itself;
 * - (the password policy moved to svc/passwords.c, tested there)
 *   without NUL.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/input.h"
#include "auth/password.h"
#include "auth/principal.h"
#include "core/text.h"
#include "http/request.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void pc_respond_problem(struct pc_req *r, int status, const char *detail);
void pc_respond_problem_kind(struct pc_req *r, enum pc_problem kind, const char *detail);

/* ---- the answer, recorded ---- */

static int answers, answer_status;

void pc_respond_problem(struct pc_req *r, int status, const char *detail)
{
	CHECK(r != NULL);
	answers++;
	answer_status = status;
	CHECK(detail != NULL);
	size_t n = strnlen(detail, 160);
	CHECK(n > 0 && n < 160);
	for (size_t i = 0; i < n; i++)
		CHECK(detail[i] >= 0x20 && detail[i] < 0x7f);
}

/* The kind's status, recorded the same way (request.c is not linked in). */
void pc_respond_problem_kind(struct pc_req *r, enum pc_problem kind, const char *detail)
{
	CHECK((unsigned)kind < PC_PROB__COUNT);
	pc_respond_problem(r, pc_problem_kinds[kind].status, detail);
}

/* ---- field tables, like the handlers' ---- */

static const struct pc_field t_credentials[] = {
	{"email", PC_F_STRING, true, 1024},
	{"password", PC_F_SECRET, true, PC_PASSWORD_MAX},
};
static const struct pc_field t_apikey[] = {
	{"name", PC_F_STRING, true, 100},
	{"expires_at", PC_F_STRING, false, 32},
};
static const struct pc_field t_mixed[] = {
	{"s", PC_F_STRING, true, 8},
	{"n", PC_F_INT, false, 0},
	{"b", PC_F_BOOL, false, 0},
	{"email", PC_F_STRING, false, 300},
	{"groups", PC_F_GROUPS, false, 3},
};
static const struct pc_field t_redeem[] = {
	{"token", PC_F_SECRET, true, 256},
	{"new_password", PC_F_SECRET, true, PC_PASSWORD_MAX},
};
static const struct {
	const struct pc_field *f;
	size_t n;
} tables[4] = {
	{t_credentials, 2},
	{t_apikey, 2},
	{t_mixed, 5},
	{t_redeem, 2},
};

static const char *const content_types[8] = {
	"application/json",
	"application/json; charset=utf-8",
	"Application/JSON;charset=UTF-8",
	"application/json \t; \tcharset=utf-8",
	NULL, /* no Content-Type at all */
	"text/plain",
	"application/json; charset=latin1",
	"application/jsonx",
};

/* ---- models ---- */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
			return false;
	return true;
}

/* application/json, optionally ";" charset=utf-8, with OWS, any case */
static bool model_content_type(const char *v, size_t n)
{
	static const char aj[] = "application/json", cs[] = "charset=utf-8";
	if (n < sizeof(aj) - 1 || !ieq(v, aj, sizeof(aj) - 1))
		return false;
	size_t i = sizeof(aj) - 1;
	while (i < n && is_ows(v[i]))
		i++;
	if (i == n)
		return true;
	if (v[i++] != ';')
		return false;
	while (i < n && is_ows(v[i]))
		i++;
	return n - i == sizeof(cs) - 1 && ieq(v + i, cs, sizeof(cs) - 1);
}

/* RFC 3629 section 4, as a table of byte ranges; NUL refused too */
static bool model_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xbf;
		size_t more;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			more = 1;
		else if (c == 0xe0)
			more = 2, lo = 0xa0;
		else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
			more = 2;
		else if (c == 0xed)
			more = 2, hi = 0x9f;
		else if (c == 0xf0)
			more = 3, lo = 0x90;
		else if (c >= 0xf1 && c <= 0xf3)
			more = 3;
		else if (c == 0xf4)
			more = 3, hi = 0x8f;
		else
			return false;
		if (n - i - 1 < more)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= more; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += 1 + more;
	}
	return true;
}

static bool c_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool c_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool c_atext(unsigned char c)
{
	return c_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* input.h's contract: trimmed; 1..64 atext-and-dot local part (no dot at
 * either end, no two in a row); one '@'; LDH labels of 1..63, no '-' at a
 * label's ends; at most PC_EMAIL_MAX in all (at least "a@b"). */
static bool model_email(const char *s, size_t n)
{
	while (n > 0 && c_space((unsigned char)s[0]))
		s++, n--;
	while (n > 0 && c_space((unsigned char)s[n - 1]))
		n--;
	if (n < 3 || n > PC_EMAIL_MAX)
		return false;
	size_t at = n, ats = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '@')
			at = i, ats++;
	if (ats != 1 || at == 0 || at > 64 || at == n - 1)
		return false;
	for (size_t i = 0; i < at; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (i == 0 || i == at - 1 || s[i - 1] == '.')
				return false;
		} else if (!c_atext(c)) {
			return false;
		}
	}
	size_t start = at + 1;
	for (size_t i = at + 1; i <= n; i++) {
		if (i < n && s[i] != '.') {
			unsigned char c = (unsigned char)s[i];
			if (!c_alnum(c) && c != '-')
				return false;
			continue;
		}
		size_t l = i - start;
		if (l == 0 || l > 63 || s[start] == '-' || s[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

/* ---- checks ---- */

static void check_email(const char *s, size_t n)
{
	char *out = malloc(PC_EMAIL_MAX + 1); /* the documented size, exactly */
	CHECK(out != NULL);
	int rc = pc_email_normalize(out, PC_EMAIL_MAX + 1, s, n);
	CHECK((rc == 0) == model_email(s, n));
	if (rc == 0) {
		size_t l = strnlen(out, PC_EMAIL_MAX + 1);
		CHECK(l >= 3 && l <= PC_EMAIL_MAX);
		size_t ats = 0;
		for (size_t i = 0; i < l; i++) {
			CHECK(!(out[i] >= 'A' && out[i] <= 'Z'));
			ats += out[i] == '@';
		}
		CHECK(ats == 1);
		CHECK(!c_space((unsigned char)out[0]) && !c_space((unsigned char)out[l - 1]));
		char again[PC_EMAIL_MAX + 1];
		CHECK(pc_email_normalize(again, sizeof(again), out, l) == 0);
		CHECK(strcmp(again, out) == 0);
		/* a buffer one byte short of the result is refused, not overrun */
		char *tight = malloc(l);
		CHECK(tight != NULL);
		CHECK(pc_email_normalize(tight, l, out, l) != 0);
		free(tight);
	}
	free(out);
}

/* A group name as documented: [a-z0-9][a-z0-9._-]{0,63}. */
static bool model_group(const char *g, size_t n)
{
	if (n < 1 || n > 64 || !((g[0] >= 'a' && g[0] <= 'z') || (g[0] >= '0' && g[0] <= '9')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((g[i] >= 'a' && g[i] <= 'z') || (g[i] >= '0' && g[i] <= '9') || g[i] == '.' || g[i] == '_' ||
		      g[i] == '-'))
			return false;
	return true;
}

/* A groups value: an array of at most max distinct group names. */
static bool model_groups(const json_t *a, size_t max)
{
	if (!json_is_array(a) || json_array_size(a) > max)
		return false;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const json_t *g = json_array_get(a, i);
		if (!json_is_string(g) || !model_group(json_string_value(g), json_string_length(g)))
			return false;
		for (size_t k = 0; k < i; k++)
			if (json_equal(g, json_array_get(a, k)))
				return false;
	}
	return true;
}

/* Whether the body passes the documented rules for table f (the model). */
static bool model_body(const char *body, size_t len, const struct pc_field *f, size_t n)
{
	if (len == 0)
		return false;
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	bool ok = root != NULL && json_is_object(root);
	bool seen[8] = {false};
	const char *key;
	json_t *val;
	if (ok) {
		json_object_foreach(root, key, val) {
			size_t i = 0;
			while (i < n && strcmp(f[i].name, key) != 0)
				i++;
			if (i == n) {
				ok = false;
				break;
			}
			seen[i] = true;
			if (f[i].type == PC_F_STRING || f[i].type == PC_F_SECRET)
				ok = json_is_string(val) && json_string_length(val) <= f[i].max_len &&
				     memchr(json_string_value(val), '\0', json_string_length(val)) == NULL;
			else if (f[i].type == PC_F_INT)
				ok = json_is_integer(val);
			else if (f[i].type == PC_F_GROUPS)
				ok = model_groups(val, f[i].max_len);
			else
				ok = json_is_boolean(val);
			if (!ok)
				break;
		}
	}
	for (size_t i = 0; ok && i < n; i++)
		ok = !f[i].required || seen[i];
	json_decref(root);
	return ok;
}

static void check_success(const char *body, size_t len, const struct pc_field *f, size_t n,
                          const struct pc_input *in)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	CHECK(root != NULL && json_is_object(root));
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(root, f[i].name);
		CHECK(in->present[i] == (v != NULL));
		CHECK(!f[i].required || in->present[i]);
		if (!in->present[i]) {
			if (f[i].type == PC_F_STRING || f[i].type == PC_F_SECRET)
				CHECK(in->v[i].str.s == NULL);
			continue;
		}
		switch (f[i].type) {
		case PC_F_SECRET: /* its own buffer, owned by the input until wiped */
			CHECK(in->owned[i]);
			/* fall through */
		case PC_F_STRING: {
			const char *s = in->v[i].str.s;
			size_t l = in->v[i].str.len;
			CHECK(s != NULL && l <= f[i].max_len && l == json_string_length(v));
			CHECK(memcmp(s, json_string_value(v), l) == 0 && s[l] == '\0');
			CHECK(memchr(s, '\0', l) == NULL);
			/* jansson refuses invalid UTF-8 and \u0000: the text check agrees */
			CHECK(pc_utf8_valid(s, l));
			if (strcmp(f[i].name, "email") == 0)
				check_email(s, l);
			break;
		}
		case PC_F_INT:
			CHECK(in->v[i].i == json_integer_value(v));
			break;
		case PC_F_BOOL:
			CHECK(in->v[i].b == json_is_true(v));
			break;
		case PC_F_GROUPS: { /* the names joined by ',', in order */
			char want[4 * 65 + 1] = "";
			size_t o = 0;
			for (size_t k = 0; k < json_array_size(v); k++)
				o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%s", k ? "," : "",
				                      json_string_value(json_array_get(v, k)));
			CHECK(in->v[i].str.s != NULL && in->v[i].str.len == o && strcmp(in->v[i].str.s, want) == 0);
			break;
		}
		}
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fuzz_sodium_init(); /* secrets live in sodium_malloc'd buffers */
	const uint8_t sel = data[0];
	const char *rest = (const char *)data + 1;
	size_t rest_len = size - 1;

	/* the Content-Type field, as the parser would hand it over */
	char ctype[256];
	const char *ct = content_types[(sel >> 2) & 7];
	size_t ct_len = ct ? strlen(ct) : 0;
	if (sel & 0x80) {
		const char *nl = memchr(rest, '\n', rest_len);
		size_t l = nl ? (size_t)(nl - rest) : rest_len;
		if (l >= sizeof(ctype))
			l = sizeof(ctype) - 1;
		size_t o = 0;
		for (size_t i = 0; i < l; i++) {
			unsigned char c = (unsigned char)rest[i];
			/* a field value holds VCHAR, obs-text, SP, HTAB only */
			ctype[o++] = (c == '\t' || c >= 0x20) && c != 0x7f ? (char)c : '?';
		}
		while (o > 0 && is_ows(ctype[o - 1]))
			o--;
		size_t s0 = 0;
		while (s0 < o && is_ows(ctype[s0]))
			s0++;
		memmove(ctype, ctype + s0, o - s0);
		ct = ctype;
		ct_len = o - s0;
		if (nl != NULL) {
			rest_len -= (size_t)(nl + 1 - rest);
			rest = nl + 1;
		} else {
			rest += rest_len;
			rest_len = 0;
		}
	}
	const struct pc_field *f = tables[sel & 3].f;
	const size_t n = tables[sel & 3].n;

	static struct pc_http_request http;
	memset(&http, 0, sizeof(http));
	http.method = PC_METHOD_POST;
	http.version_minor = 1;
	if (ct != NULL) {
		http.n_headers = 1;
		http.headers[0].name.p = "Content-Type";
		http.headers[0].name.len = 12;
		http.headers[0].value.p = ct;
		http.headers[0].value.len = ct_len;
	}

	/* the body, exactly sized for ASan */
	char *body = rest_len ? malloc(rest_len) : NULL;
	if (rest_len) {
		CHECK(body != NULL);
		memcpy(body, rest, rest_len);
	}

	static struct pc_req r;
	memset(&r, 0, sizeof(r));
	r.http = &http;
	r.body = body;
	r.body_len = rest_len;
	pc_arena_init(&r.arena);

	struct pc_input in;
	answers = 0;
	answer_status = 0;
	int rc = pc_input_or_respond(&r, f, n, &in);
	CHECK(rc == 0 || rc == -1);
	bool ct_ok = ct != NULL && model_content_type(ct, ct_len);
	if (rc == 0) {
		CHECK(answers == 0);
		CHECK(ct_ok);
		CHECK(model_body(body, rest_len, f, n));
		check_success(body, rest_len, f, n, &in);
		pc_input_wipe(&in);
	} else {
		CHECK(answers == 1);
		CHECK(answer_status == (ct_ok ? 400 : 415));
		if (ct_ok)
			CHECK(!model_body(body, rest_len, f, n));
	}
	pc_arena_reset(&r.arena);
	/* every secret buffer freed, on success and on every refusal */
	CHECK(pc_secret_live() == 0);

	/* the text checks on the raw bytes */
	CHECK(pc_utf8_valid(rest, rest_len) == model_utf8((const uint8_t *)rest, rest_len));
	check_email(rest, rest_len);

	free(body);
	return 0;
}
