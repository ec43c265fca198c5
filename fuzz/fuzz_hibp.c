/*
 * fuzz_hibp.c — libFuzzer target for the breached-password file: the line
 * parser (core/hibp.c) and the lookup over a whole file (auth/breached.c).
 *
 * - pc_hibp_line_parse agrees with a model written from the format's
 *   definition (40 hex digits, ':', 1+ decimal digits not above 2^64-1, one
 *   optional CR), value for value; a refused line leaves zeros.
 * - Any bytes as a file: opening either refuses it or accepts it, and then
 *   lookups never read out of bounds, never loop, and answer the same twice.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "auth/breached.h"
#include "core/hibp.h"
#include "fuzz.h"

static int hexv(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static bool model(uint8_t hash[20], uint64_t *count, const uint8_t *s, size_t len)
{
	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len < 42 || s[40] != ':')
		return false;
	for (size_t i = 0; i < 20; i++) {
		int h = hexv(s[2 * i]), l = hexv(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return false;
		hash[i] = (uint8_t)(h * 16 + l);
	}
	unsigned __int128 v = 0;
	for (size_t i = 41; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > UINT64_MAX)
			return false;
	}
	*count = (uint64_t)v;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t h[20], mh[20] = {0}, zero[20] = {0};
	uint64_t n = 1, mn = 0;
	bool ok = pc_hibp_line_parse(h, &n, (const char *)data, size) == 0;
	CHECK(ok == model(mh, &mn, data, size));
	if (ok) {
		CHECK(memcmp(h, mh, 20) == 0);
		CHECK(n == mn);
	} else {
		CHECK(memcmp(h, zero, 20) == 0 && n == 0);
	}

	int fd = memfd_create("breached", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64], err[256];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct pc_breached *b = NULL;
	if (pc_breached_open(&b, path, err, sizeof(err)) == 0) {
		static const char *const probes[] = {"", "password", "correct horse battery staple", "\xff\xfe"};
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			bool f1 = false, f2 = true;
			int r1 = pc_breached_contains(b, probes[i], strlen(probes[i]), &f1);
			int r2 = pc_breached_contains(b, probes[i], strlen(probes[i]), &f2);
			CHECK(r1 == r2 && f1 == f2);
			CHECK(r1 == 0 || !f1);
		}
		pc_breached_free(b);
	} else {
		CHECK(b == NULL && err[0] != '\0');
	}
	close(fd);
	return 0;
}
