/*
 * fuzz_config.c — libFuzzer target for pc_config_load(), the environment
 * turned into a struct pc_config.
 *
 * Input: byte 0 holds flags (bit 0: need_keys; bit 1: put "PORTCULLIS_" in
 * front of every entry that lacks it; bit 2: a 24-byte error buffer instead
 * of 512, so truncation is exercised); the rest is split on '\n' into
 * environment entries "NAME=value" (at most 64). A value "@NAME" of a
 * *_FILE variable is replaced by the path of a file this target writes at
 * start in a private temporary directory: @key, @key2, @seed (valid keys),
 * @crlf (a valid key and CRLF), @weak (all zero), @junk (not base64), @big
 * (over the 4 KiB limit), @empty.
 *
 * Invariants:
 * - on failure: err is one non-empty line of printable ASCII that fits the
 *   buffer, and no 8-byte window of any value given (nor of the content of
 *   a file named by a *_FILE value) appears in it. Variable names are not
 *   values: the table's names, their _FILE forms, the names in the input
 *   (as the loader shows them), and the few fixed words of the messages that
 *   the loader also compares values with (URL schemes, example.com) are
 *   blanked out of err before the search, so a value that happens to spell
 *   one of them is not a false alarm.
 * - on success: err is empty; pc_config_print writes one known NAME=value
 *   line per variable and none of the secrets' text (inline values, and the
 *   content of the key files named; a window is excused only when it is
 *   also part of "NAME=" or of a non-secret value given, as when a key is
 *   pasted into PORTCULLIS_AUDIT_LOG); fed back as an
 *   environment (with the real secrets and the unmasked database URL in
 *   place of what print hides), the printed configuration loads again to
 *   the same struct, keys included; pc_config_free is idempotent.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "config/config.h"
#include "fuzz.h"

#define PREFIX "PORTCULLIS_"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define MAX_ENTRIES 64
#define WIN 8

/* ---- the key files ---- */

static char dir[64];

struct keyfile {
	const char *name;
	char *content;
	size_t len;
};
static struct keyfile files[8];
static size_t n_files;

static void add_file(const char *name, const char *content, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	CHECK(fwrite(content, 1, len, f) == len);
	CHECK(fclose(f) == 0);
	files[n_files].name = name;
	files[n_files].content = malloc(len + 1);
	CHECK(files[n_files].content != NULL);
	memcpy(files[n_files].content, content, len);
	files[n_files].content[len] = '\0';
	files[n_files].len = len;
	n_files++;
}

static void cleanup(void)
{
	char path[128];
	for (size_t i = 0; i < n_files; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		unlink(path);
	}
	rmdir(dir);
}

static void init(void)
{
	CHECK(sodium_init() >= 0);
	snprintf(dir, sizeof(dir), "/tmp/pc-fuzz-config.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	atexit(cleanup);
	static const char key[] = "Qsf7nEMZXc4wBAErDOJAIBvLfbS6Cy7ZlzeTmqLu2gA=";
	static const char key2[] = "kLKNZh9NshYV3qUocJUrpiOWAqc0lVqWBdnRs5dHPFk=";
	static const char seed[] = "NdBFW6y11C9Xs5jEDkVRlY/q1zBn6CZsdJVfSKUHVEA=";
	static const char crlf[] = "Qsf7nEMZXc4wBAErDOJAIBvLfbS6Cy7ZlzeTmqLu2gA=\r\n";
	static const char weak[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	static const char junk[] = "this file does not hold a key at all";
	add_file("key", key, sizeof(key) - 1);
	add_file("key2", key2, sizeof(key2) - 1);
	add_file("seed", seed, sizeof(seed) - 1);
	add_file("crlf", crlf, sizeof(crlf) - 1);
	add_file("weak", weak, sizeof(weak) - 1);
	add_file("junk", junk, sizeof(junk) - 1);
	char *big = malloc(5000);
	CHECK(big != NULL);
	memset(big, 'k', 5000);
	add_file("big", big, 5000);
	free(big);
	add_file("empty", "", 0);
}

/* ---- the environment ---- */

struct env {
	char *entries[MAX_ENTRIES + 1];
	size_t n;
	/* what the leak check looks for: values and named files' contents */
	const char *secret[2 * MAX_ENTRIES];
	size_t secret_len[2 * MAX_ENTRIES];
	size_t n_secret;
};

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t l = strlen(suffix);
	return n >= l && memcmp(s + n - l, suffix, l) == 0;
}

static void env_add(struct env *e, const char *line, size_t len, bool add_prefix)
{
	if (e->n == MAX_ENTRIES)
		return;
	const char *nul = memchr(line, '\0', len);
	if (nul != NULL)
		len = (size_t)(nul - line); /* an environment entry is a C string */
	bool prefixed = len >= PREFIX_LEN && memcmp(line, PREFIX, PREFIX_LEN) == 0;
	size_t pre = add_prefix && !prefixed ? PREFIX_LEN : 0;
	const char *eq = memchr(line, '=', len);
	size_t name_len = eq ? (size_t)(eq - line) : len;
	const char *value = eq ? eq + 1 : line + len;
	size_t value_len = len - (size_t)(value - line);
	const struct keyfile *kf = NULL;
	if (value_len > 1 && value[0] == '@' && ends_with(line, name_len, "_FILE"))
		for (size_t i = 0; i < n_files; i++)
			if (value_len - 1 == strlen(files[i].name) && memcmp(value + 1, files[i].name, value_len - 1) == 0)
				kf = &files[i];
	size_t cap = pre + len + 1 + (kf ? strlen(dir) + 64 : 0);
	char *s = malloc(cap);
	CHECK(s != NULL);
	memcpy(s, PREFIX, pre);
	if (kf != NULL) {
		memcpy(s + pre, line, name_len);
		snprintf(s + pre + name_len, cap - pre - name_len, "=%s/%s", dir, kf->name);
		e->secret[e->n_secret] = kf->content;
		e->secret_len[e->n_secret++] = kf->len;
	} else {
		memcpy(s + pre, line, len);
		s[pre + len] = '\0';
	}
	const char *v = strchr(s, '=');
	if (v != NULL) {
		e->secret[e->n_secret] = v + 1;
		e->secret_len[e->n_secret++] = strlen(v + 1);
	}
	e->entries[e->n++] = s;
	e->entries[e->n] = NULL;
}

static void env_free(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->entries[i]);
	e->n = 0;
}

/* ---- the leak check ---- */

/*
 * The searches below run without coverage instrumentation and without
 * memcmp: libFuzzer learns from the operands of every comparison it sees
 * (memcmp hooks, traced integer compares) and would soon copy the error
 * text into a value, which is no leak but would look like one.
 */
#if defined(__clang__)
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

NOCOV static bool same(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Marks every occurrence of w in buf[0..n) in covered[], and a start of w
 * that the end of buf cuts off (a truncated message). Occurrences are
 * looked for in the unchanged text, so overlapping words all count. */
NOCOV static void cover(const char *buf, size_t n, bool *covered, const char *w, size_t wl)
{
	if (wl == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t l = n - i < wl ? n - i : wl;
		if (same(buf + i, w, l))
			for (size_t k = 0; k < l; k++)
				covered[i + k] = true;
	}
}

/* The loader's way of showing a name from the environment. */
static void shown_name(char out[72], const char *name, size_t len)
{
	size_t n = len < 64 ? len : 64;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		out[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (len > n) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

NOCOV static uint64_t window_hash(const char *p)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < WIN; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
	return h;
}

/* Whether any WIN-byte window of s[0..n) occurs in hay[0..hn): the
 * haystack's windows go into an open-addressing table of their hashes. */
NOCOV static bool window_in(const char *hay, size_t hn, const char *s, size_t n)
{
	if (n < WIN || hn < WIN)
		return false;
	size_t slots = 64;
	while (slots < 2 * hn)
		slots *= 2;
	size_t *tab = malloc(slots * sizeof(*tab)); /* hay offset + 1, 0: empty */
	CHECK(tab != NULL);
	for (size_t i = 0; i < slots; i++)
		tab[i] = 0;
	for (size_t j = 0; j + WIN <= hn; j++) {
		size_t k = (size_t)window_hash(hay + j) & (slots - 1);
		while (tab[k] != 0)
			k = (k + 1) & (slots - 1);
		tab[k] = j + 1;
	}
	bool found = false;
	for (size_t i = 0; i + WIN <= n && !found; i++) {
		size_t k = (size_t)window_hash(s + i) & (slots - 1);
		for (; tab[k] != 0 && !found; k = (k + 1) & (slots - 1))
			found = same(hay + tab[k] - 1, s + i, WIN);
	}
	free(tab);
	return found;
}

static void check_err_clean(const char *err, const struct env *e)
{
	size_t n = strlen(err);
	bool *covered = calloc(n + 1, sizeof(*covered));
	CHECK(covered != NULL);
	char w[80];
	for (size_t i = 0; i < pc_config_n_vars; i++) {
		snprintf(w, sizeof(w), "%s_FILE", pc_config_vars[i].name);
		cover(err, n, covered, w, strlen(w));
		cover(err, n, covered, pc_config_vars[i].name, strlen(pc_config_vars[i].name));
	}
	for (size_t i = 0; i < e->n; i++) {
		const char *eq = strchr(e->entries[i], '=');
		size_t nl = eq ? (size_t)(eq - e->entries[i]) : strlen(e->entries[i]);
		shown_name(w, e->entries[i], nl);
		cover(err, n, covered, w, strlen(w));
	}
	/* fixed words of the messages: those the loader compares values with
	 * (so libFuzzer's dictionary holds them) and the advice it gives */
	static const char *const words[] = {"postgresql://", "postgres://", "https://app.example.com",
	                                    "example.com", "`portcullis keygen --value`", "`portcullis keygen`"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		cover(err, n, covered, words[i], strlen(words[i]));
	char *m = malloc(n + 1);
	CHECK(m != NULL);
	for (size_t i = 0; i <= n; i++)
		m[i] = covered[i] ? '\0' : err[i];
	for (size_t i = 0; i < e->n_secret; i++)
		CHECK(!window_in(m, n, e->secret[i], e->secret_len[i]));
	free(m);
	free(covered);
}

/* ---- success: print, and load the printed text again ---- */

static bool is_secret_var(const char *name, size_t len)
{
	for (size_t i = 0; i < pc_config_n_vars; i++)
		if (pc_config_vars[i].secret && strlen(pc_config_vars[i].name) == len &&
		    memcmp(pc_config_vars[i].name, name, len) == 0)
			return true;
	return false;
}

static bool known_var(const char *name, size_t len)
{
	for (size_t i = 0; i < pc_config_n_vars; i++)
		if (strlen(pc_config_vars[i].name) == len && memcmp(pc_config_vars[i].name, name, len) == 0)
			return true;
	return false;
}

/* Whether entry (NAME=value) sets variable var, directly or as var_FILE. */
static bool entry_sets(const char *entry, const char *var)
{
	size_t vl = strlen(var);
	if (strncmp(entry, var, vl) != 0)
		return false;
	return entry[vl] == '=' || entry[vl] == '\0' || strncmp(entry + vl, "_FILE=", 6) == 0 ||
	       strcmp(entry + vl, "_FILE") == 0;
}

/* Whether a WIN-byte window of secret s appears in the printed text when
 * it is neither part of a variable name nor of a non-secret value of the
 * input (a key pasted into PORTCULLIS_AUDIT_LOG is printed with it; that is
 * the user's doing, not a leak). */
static bool secret_shown(const char *text, size_t tlen, const char *s, size_t n, const struct env *e)
{
	for (size_t i = 0; i + WIN <= n; i++) {
		if (!window_in(text, tlen, s + i, WIN))
			continue;
		bool explained = false;
		for (size_t v = 0; v < pc_config_n_vars && !explained; v++) {
			char nv[80];
			snprintf(nv, sizeof(nv), "%s=", pc_config_vars[v].name);
			explained = window_in(nv, strlen(nv), s + i, WIN);
		}
		for (size_t k = 0; k < e->n && !explained; k++) {
			const char *eq = strchr(e->entries[k], '=');
			if (eq == NULL)
				continue;
			size_t nl = (size_t)(eq - e->entries[k]);
			if (ends_with(e->entries[k], nl, "_FILE"))
				nl -= 5;
			if (!is_secret_var(e->entries[k], nl))
				explained = window_in(e->entries[k], strlen(e->entries[k]), s + i, WIN);
		}
		if (!explained)
			return true;
	}
	return false;
}

static void check_success(const struct pc_config *cfg, const struct env *e, bool need_keys)
{
	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);
	CHECK(f != NULL);
	pc_config_print(cfg, f);
	CHECK(fclose(f) == 0);
	CHECK(strlen(text) == tlen && tlen > 0 && text[tlen - 1] == '\n');

	/* no secret's text in the output (a *_FILE value is a path, not a
	 * secret; the file's content is checked below) */
	for (size_t i = 0; i < e->n; i++) {
		const char *eq = strchr(e->entries[i], '=');
		if (eq == NULL)
			continue;
		size_t nl = (size_t)(eq - e->entries[i]);
		if (is_secret_var(e->entries[i], nl))
			CHECK(!secret_shown(text, tlen, eq + 1, strlen(eq + 1), e));
	}
	for (size_t i = 0; i < e->n_secret; i++)
		for (size_t k = 0; k < n_files; k++)
			if (e->secret[i] == files[k].content)
				CHECK(!secret_shown(text, tlen, files[k].content, files[k].len, e));

	/* the printed configuration, as an environment */
	char *env2[2 * MAX_ENTRIES + 64];
	size_t n2 = 0;
	for (char *line = text; *line != '\0';) {
		char *nl = strchr(line, '\n');
		CHECK(nl != NULL);
		*nl = '\0';
		char *eq = strchr(line, '=');
		CHECK(eq != NULL);
		size_t name_len = (size_t)(eq - line);
		CHECK(known_var(line, name_len));
		bool hidden = is_secret_var(line, name_len) ||
		              (name_len == strlen("PORTCULLIS_DATABASE_URL") &&
		               memcmp(line, "PORTCULLIS_DATABASE_URL", name_len) == 0);
		if (!hidden) {
			CHECK(n2 < sizeof(env2) / sizeof(env2[0]) - 1);
			env2[n2++] = line;
		}
		line = nl + 1;
	}
	/* what print hides, from the input */
	for (size_t i = 0; i < e->n; i++) {
		bool take = entry_sets(e->entries[i], "PORTCULLIS_DATABASE_URL");
		for (size_t k = 0; k < pc_config_n_vars && !take; k++)
			take = pc_config_vars[k].secret && entry_sets(e->entries[i], pc_config_vars[k].name);
		if (take) {
			CHECK(n2 < sizeof(env2) / sizeof(env2[0]) - 1);
			env2[n2++] = e->entries[i];
		}
	}
	env2[n2] = NULL;

	struct pc_config *again = malloc(sizeof(*again));
	CHECK(again != NULL);
	char err[512];
	CHECK(pc_config_load(again, env2, need_keys, err, sizeof(err)) == 0);
	CHECK((cfg->keys == NULL) == (again->keys == NULL));
	if (cfg->keys != NULL)
		CHECK(memcmp(cfg->keys, again->keys, sizeof(*cfg->keys)) == 0);
	struct pc_keys *k2 = again->keys;
	again->keys = cfg->keys;
	CHECK(memcmp(cfg, again, sizeof(*cfg)) == 0);
	again->keys = k2;
	pc_config_free(again);
	pc_config_free(again);
	CHECK(again->keys == NULL);
	free(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}
	if (size == 0)
		return 0;
	const uint8_t flags = data[0];
	const bool need_keys = flags & 1, add_prefix = flags & 2;
	const size_t errlen = flags & 4 ? 24 : 512;

	static struct env e;
	memset(&e, 0, sizeof(e));
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		env_add(&e, p, len, add_prefix);
		p += len + 1;
	}

	static struct pc_config cfg;
	char *err = malloc(errlen); /* exactly sized for ASan */
	CHECK(err != NULL);
	memset(err, 'X', errlen);
	int rc = pc_config_load(&cfg, e.entries, need_keys, err, errlen);
	CHECK(rc == 0 || rc == -1);
	size_t el = strnlen(err, errlen);
	CHECK(el < errlen);
	if (rc != 0) {
		CHECK(el > 0);
		for (size_t i = 0; i < el; i++)
			CHECK(err[i] >= 0x20 && err[i] < 0x7f); /* one line, printable */
		CHECK(cfg.keys == NULL);
		check_err_clean(err, &e);
	} else {
		CHECK(el == 0);
		CHECK(!need_keys || cfg.keys != NULL);
		check_success(&cfg, &e, need_keys);
		pc_config_free(&cfg);
		pc_config_free(&cfg);
		CHECK(cfg.keys == NULL);
	}
	free(err);
	env_free(&e);
	return 0;
}
