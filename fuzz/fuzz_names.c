/*
 * fuzz_names.c — libFuzzer target for the two names portcullis puts into
 * links and headers as they are: a path prefix (pc_url_prefix_valid:
 * PORTCULLIS_PATH_PREFIX, a trusted X-Forwarded-Prefix) and a display name
 * (pc_user_name_valid: X-Auth-Name). Read only within the given length
 * (ASan: the input is copied to a block of exactly that size). Checked
 * against rules written here independently:
 * - a valid prefix starts with "/", does not end with one, has no empty,
 *   "." or ".." segment and only [A-Za-z0-9._~-] besides "/": so no link
 *   built with it can become "//host" or leave its path;
 * - a valid name is valid UTF-8 without a byte < 0x20, 0x7f or a C1
 *   control, no edge space, at most PC_USER_NAME_MAX bytes: a header value
 *   as it is; and every such text is accepted.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/text.h"
#include "core/url.h"
#include "fuzz.h"

static bool prefix_model(const uint8_t *s, size_t n)
{
	if (n < 2 || n > PC_PATH_PREFIX_MAX || s[0] != '/' || s[n - 1] == '/')
		return false;
	size_t start = 1;
	for (size_t i = 1; i <= n; i++) {
		if (i < n && s[i] != '/') {
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~", s[i]) || s[i] == 0)
				return false;
			continue;
		}
		size_t len = i - start;
		if (len == 0 || (len == 1 && s[start] == '.') || (len == 2 && s[start] == '.' && s[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

static bool name_model(const uint8_t *s, size_t n)
{
	if (n == 0)
		return true;
	if (n > PC_USER_NAME_MAX || s[0] == ' ' || s[n - 1] == ' ' || !pc_utf8_valid((const char *)s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 512)
		return 0;
	uint8_t *copy = malloc(size ? size : 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	bool p = pc_url_prefix_valid((const char *)copy, size);
	CHECK(p == prefix_model(copy, size));
	if (p)
		CHECK(memmem(copy, size, "//", 2) == NULL && copy[0] == '/');
	bool nm = pc_user_name_valid((const char *)copy, size);
	CHECK(nm == name_model(copy, size));
	free(copy);
	return 0;
}
