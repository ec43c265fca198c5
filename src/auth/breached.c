/*
 * breached.c — see breached.h. Offsets: a "line start" is 0 or a position
 * right after an LF. The search keeps the invariant that the target's line,
 * if listed, starts in [lo, hi): a probe at mid looks at the first line
 * starting at or after mid and moves lo past it or hi to its start, or hi
 * down to mid when no line starts in [mid, hi).
 */
#include "auth/breached.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hibp.h"
#include "core/ossl.h"
#include "core/limits.h"

struct pc_breached {
	int fd;
	off_t size;
	size_t lines_estimate;
};

/* pread of up to cap bytes at off (short only at the end of the file). */
static ssize_t read_at(int fd, char *buf, size_t cap, off_t off)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t n = pread(fd, buf + got, cap - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* The first line starting at or after pos: *start, and its hash; *next the
 * offset after its LF (the file's size for a last line without one).
 * 1 when found, 0 when no line starts in [pos, size), -1 on a read error
 * or a malformed line (*bad_at its offset). */
static int line_from(const struct pc_breached *b, off_t pos, off_t *start, off_t *next,
                     uint8_t hash[PC_HIBP_HASH_BYTES], off_t *bad_at)
{
	char buf[PC_BREACHED_LINE_MAX + 1];
	off_t s = pos;
	*bad_at = pos;
	if (pos > 0) {
		/* the LF that ends the line holding pos - 1 */
		ssize_t n = read_at(b->fd, buf, sizeof(buf), pos - 1);
		if (n < 0)
			return -1;
		char *lf = memchr(buf, '\n', (size_t)n);
		if (lf == NULL)
			return (size_t)n < sizeof(buf) ? 0 : -1; /* the tail of the last line, or a line too long */
		s = pos - 1 + (off_t)(lf - buf) + 1;
	}
	if (s >= b->size)
		return 0;
	*bad_at = s;
	ssize_t n = read_at(b->fd, buf, sizeof(buf), s);
	if (n < 0)
		return -1;
	char *lf = memchr(buf, '\n', (size_t)n);
	size_t len;
	if (lf != NULL)
		len = (size_t)(lf - buf);
	else if (s + n == b->size && (size_t)n < sizeof(buf))
		len = (size_t)n; /* the last line, without LF */
	else
		return -1;
	uint64_t count;
	if (pc_hibp_line_parse(hash, &count, buf, len) != 0)
		return -1;
	*start = s;
	*next = s + (off_t)len + (lf != NULL ? 1 : 0);
	return 1;
}

/* The line starting right before end (the last line), as line_from. */
static int last_line(const struct pc_breached *b, off_t *start, uint8_t hash[PC_HIBP_HASH_BYTES], off_t *bad_at)
{
	char buf[PC_BREACHED_LINE_MAX + 1];
	off_t from = b->size > (off_t)sizeof(buf) ? b->size - (off_t)sizeof(buf) : 0;
	ssize_t n = read_at(b->fd, buf, (size_t)(b->size - from), from);
	*bad_at = from;
	if (n < 0)
		return -1;
	size_t end = (size_t)n;
	if (end > 0 && buf[end - 1] == '\n')
		end--;
	size_t i = end;
	while (i > 0 && buf[i - 1] != '\n')
		i--;
	if (i == 0 && from > 0)
		return -1; /* a last line too long */
	off_t next;
	return line_from(b, from + (off_t)i, start, &next, hash, bad_at);
}

int pc_breached_open(struct pc_breached **out, const char *path, char *err, size_t errlen)
{
	*out = NULL;
	struct pc_breached *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return pc_errf(err, errlen, "out of memory");
	b->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (b->fd < 0) {
		pc_errf(err, errlen, "cannot open it: %s", strerror(errno));
		goto fail;
	}
	if (fstat(b->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pc_errf(err, errlen, "not a regular file");
		goto fail;
	}
	b->size = st.st_size;
	if (b->size == 0) {
		pc_errf(err, errlen, "the file is empty");
		goto fail;
	}
	/* the first line, PC_BREACHED_SAMPLE spread over the file, the last:
	 * each well formed and above the one before */
	uint8_t prev[PC_HIBP_HASH_BYTES], h[PC_HIBP_HASH_BYTES];
	off_t start = 0, next = 0, bad_at = 0, prev_start = -1, sum_len = 0;
	size_t seen = 0;
	for (size_t i = 0; i <= PC_BREACHED_SAMPLE; i++) {
		off_t pos = (off_t)((double)b->size * (double)i / (PC_BREACHED_SAMPLE + 1));
		if (pos < next)
			pos = next;
		int rc = line_from(b, pos, &start, &next, h, &bad_at);
		if (rc < 0) {
			pc_errf(err, errlen, "malformed line at byte %lld (expected 40 hex digits, ':', a count)",
			        (long long)bad_at);
			goto fail;
		}
		if (rc == 0)
			break;
		if (prev_start >= 0 && memcmp(prev, h, sizeof(h)) >= 0) {
			pc_errf(err, errlen, "not sorted: the line at byte %lld is not above the one at byte %lld",
			        (long long)start, (long long)prev_start);
			goto fail;
		}
		memcpy(prev, h, sizeof(h));
		prev_start = start;
		sum_len += next - start;
		seen++;
	}
	int rc = last_line(b, &start, h, &bad_at);
	if (rc <= 0) {
		pc_errf(err, errlen, "malformed line at byte %lld (expected 40 hex digits, ':', a count)",
		        (long long)bad_at);
		goto fail;
	}
	if (start > prev_start && memcmp(prev, h, sizeof(h)) >= 0) {
		pc_errf(err, errlen, "not sorted: the last line (byte %lld) is not above the one at byte %lld",
		        (long long)start, (long long)prev_start);
		goto fail;
	}
	b->lines_estimate = seen > 0 && sum_len > 0 ? (size_t)(b->size / (sum_len / (off_t)seen)) : 1;
	*out = b;
	return 0;
fail:
	pc_breached_free(b);
	return -1;
}

void pc_breached_free(struct pc_breached *b)
{
	if (b == NULL)
		return;
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

size_t pc_breached_lines_estimate(const struct pc_breached *b)
{
	return b->lines_estimate;
}

int pc_breached_contains(const struct pc_breached *b, const char *pw, size_t len, bool *found)
{
	*found = false;
	uint8_t want[PC_OSSL_MAC_MAX], h[PC_HIBP_HASH_BYTES];
	size_t dlen = 0;
	int rc = -1;
	if (pc_ossl_digest(want, sizeof(want), &dlen, PC_OSSL_SHA1, (const uint8_t *)pw, len) != 0 ||
	    dlen != PC_HIBP_HASH_BYTES)
		goto out;
	off_t lo = 0, hi = b->size;
	while (lo < hi) {
		off_t mid = lo + (hi - lo) / 2, start, next, bad_at;
		int r = line_from(b, mid, &start, &next, h, &bad_at);
		if (r < 0)
			goto out;
		if (r == 0 || start >= hi) {
			hi = mid;
			continue;
		}
		int c = memcmp(h, want, sizeof(h));
		if (c == 0) {
			*found = true;
			break;
		}
		if (c < 0)
			lo = next;
		else
			hi = start;
	}
	rc = 0;
out:
	/* the hash of a password is as good as the password to a guesser */
	sodium_memzero(want, sizeof(want));
	sodium_memzero(h, sizeof(h));
	return rc;
}
