/*
 * micro_redact.c — cost of the log guard (core/redact.h) per line, against
 * a same-run baseline: a plain copy of the same line (memcpy into the same
 * kind of buffer, which is what writing a line cost before the guard), and
 * the cost of building the line itself (pc_logline_* of an access line), so
 * the guard's share of an access line's cost is a ratio of two figures
 * measured in the same process.
 *
 *   access line, clean      the access line of a typical request (no credential)
 *   access line, JWT in path
 *   application log line    a store error with a message
 *   audit stream line       a JSON audit event with details and User-Agent
 *   audit line, credentials an audit line with a reset token and an API key
 *
 * Prints ns/line for the guard and the copy, their ratio, and MB/s. Best of
 * 5 rounds. Run: pc_micro_redact [lines_per_round] (built by CMake beside
 * pc_micro; `make bench` runs it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/log.h"
#include "core/redact.h"

static volatile size_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char out[PC_REDACT_CAP(PC_LOGLINE_MAX)];

static double run(int guard, const char *line, size_t n, unsigned ops)
{
	double best = 1e18;
	for (int round = 0; round < 5; round++) {
		uint64_t t0 = now_ns();
		for (unsigned i = 0; i < ops; i++) {
			if (guard)
				sink += pc_redact(out, sizeof(out), line, n, PC_REDACT_JSON, NULL);
			else {
				memcpy(out, line, n);
				sink += n + (unsigned char)out[n / 2];
			}
		}
		double ns = (double)(now_ns() - t0) / ops;
		if (ns < best)
			best = ns;
	}
	return best;
}

/* builds an access line as log_access (http/conn.c) does, without writing it */
static double build_access(unsigned ops)
{
	double best = 1e18;
	for (int round = 0; round < 5; round++) {
		uint64_t t0 = now_ns();
		for (unsigned i = 0; i < ops; i++) {
			struct pc_logline l;
			pc_logline_begin(&l, "info", "access");
			pc_logline_str(&l, "request_id", "959ae3da95ba20de000000000000002d");
			pc_logline_str(&l, "client", "127.0.0.1");
			pc_logline_str(&l, "method", "GET");
			pc_logline_str(&l, "path", "/api/v1/auth/verify");
			pc_logline_int(&l, "status", 200);
			pc_logline_int(&l, "bytes", 812);
			pc_logline_int(&l, "duration_us", 104);
			sink += l.len;
		}
		double ns = (double)(now_ns() - t0) / ops;
		if (ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, char **argv)
{
	unsigned ops = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000;
	if (ops == 0 || sodium_init() < 0)
		return 2;
	char key[128], tok[64], jwt[400];
	{
		/* an API key of the real shape and checksum */
		uint8_t h[32], sec[32];
		randombytes_buf(sec, sizeof(sec));
		char body[100] = "pc_abcdefghij12_";
		sodium_bin2hex(body + 16, 65, sec, 32);
		crypto_generichash(h, 32, (const uint8_t *)body, strlen(body), NULL, 0);
		snprintf(key, sizeof(key), "%s%02x%02x%02x%02x", body, h[0], h[1], h[2], h[3]);
		uint8_t t[32];
		do {
			randombytes_buf(t, sizeof(t));
			sodium_bin2base64(tok, sizeof(tok), t, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		} while (strpbrk(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == NULL || strpbrk(tok, "abcdefghijklmnopqrstuvwxyz") == NULL);
		snprintf(jwt, sizeof(jwt), "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJwb3J0Y3VsbGlzIiwic3ViIjoiYTc2NWQ1"
		                           "YWFmMGIwZjdhZmEyZmJiMDE0ODUwMjcwM2EiLCJleHAiOjE3OTY0NDE3MTN9.%s",
		         tok);
	}
	char lines[5][2048];
	const char *names[5] = {"access line, clean", "access line, JWT in path", "application log line",
	                        "audit stream line", "audit line, credentials"};
	snprintf(lines[0], 2048,
	         "{\"time\":\"2026-12-05T03:19:32.521Z\",\"level\":\"info\",\"event\":\"access\",\"request_id\":"
	         "\"959ae3da95ba20de000000000000002d\",\"client\":\"127.0.0.1\",\"method\":\"GET\",\"path\":"
	         "\"/api/v1/auth/verify\",\"status\":200,\"bytes\":812,\"duration_us\":104}\n");
	snprintf(lines[1], 2048,
	         "{\"time\":\"2026-12-05T03:19:32.521Z\",\"level\":\"info\",\"event\":\"access\",\"request_id\":"
	         "\"959ae3da95ba20de000000000000002d\",\"client\":\"127.0.0.1\",\"method\":\"GET\",\"path\":"
	         "\"/api/v1/api-keys/%s\",\"status\":401,\"bytes\":852,\"duration_us\":12}\n",
	         jwt);
	snprintf(lines[2], 2048,
	         "{\"time\":\"2026-12-05T03:19:32.521Z\",\"level\":\"error\",\"event\":\"store_sqlite_error\",\"op\":"
	         "\"audit_insert\",\"code\":5,\"message\":\"database is locked (while writing the audit trail; retrying "
	         "in 25 ms)\"}\n");
	snprintf(lines[3], 2048,
	         "{\"event\":\"audit\",\"time\":\"2026-12-05T03:20:14.519Z\",\"id\":\"dbf4315ffdc841e7162a67ce238f526a\","
	         "\"seq\":12,\"action\":\"api_key.create\",\"resource_type\":\"api_key\",\"resource_id\":"
	         "\"0b16b1c6433f7b7ea9368f785e102881\",\"user_id\":\"a765d5aaf0b0f7afa2fbb0148502703a\",\"user_email\":"
	         "\"admin-827785f15130@example.test\",\"session_id\":\"a10496b119f0bc0d5dc42d1accf76a91\",\"auth_method\":"
	         "\"session\",\"client_address\":\"127.0.0.1\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64) "
	         "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\",\"details\":{\"name\":\"deploy "
	         "bot\",\"prefix\":\"8vztb9scyl21\"},\"hash\":"
	         "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}\n");
	snprintf(lines[4], 2048,
	         "{\"event\":\"audit\",\"time\":\"2026-12-05T03:20:14.519Z\",\"id\":\"dbf4315ffdc841e7162a67ce238f526a\","
	         "\"seq\":12,\"action\":\"api_key.create\",\"resource_type\":\"api_key\",\"user_agent\":\"ua %s\","
	         "\"details\":{\"name\":\"%s\",\"prefix\":\"8vztb9scyl21\"},\"hash\":"
	         "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}\n",
	         tok, key);

	printf("%-28s %6s %10s %10s %7s %9s\n", "line", "bytes", "guard ns", "copy ns", "ratio", "guard MB/s");
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(lines[i]);
		double c = run(0, lines[i], n, ops);
		double g = run(1, lines[i], n, ops);
		printf("%-28s %6zu %10.1f %10.1f %6.1fx %9.0f\n", names[i], n, g, c, g / c, (double)n / g * 1e3);
	}
	double b = build_access(ops);
	double g = run(1, lines[0], strlen(lines[0]), ops);
	printf("\naccess line: building it %.1f ns, guarding it %.1f ns: the guard adds %.0f%% to the line's cost\n", b, g,
	       g / b * 100.0);
	return 0;
}
