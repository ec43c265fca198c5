/* test_config.c — src/config/config.c: defaults, every variable's valid and
 * invalid forms and range edges, unknown and mistyped names, secrets from
 * the environment and from files, every class of weak key, error lines that
 * never carry any part of a value, keygen, URL masking, trusted proxies and
 * the printed configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/addr.h"
#include "config/config.h"
#include "core/url.h"

static struct pc_config cfg;
static char err[512];

/* Two valid keys with different key ids, as text and as bytes. */
static uint8_t key_a_raw[32], key_b_raw[32];
static char key_a[64], key_b[64];
static char env_key_a[128], env_prev_b[128];
static char tmpdir[64];

static uint8_t key_id(const uint8_t k[32])
{
	uint8_t h[crypto_generichash_BYTES];
	crypto_generichash(h, sizeof(h), k, 32, NULL, 0);
	return h[0];
}

static void encode(char *out, size_t cap, const uint8_t *raw, size_t n, int variant)
{
	sodium_bin2base64(out, cap, raw, n, variant);
}

static int load_list(bool need, const char **list)
{
	return pc_config_load(&cfg, (char *const *)list, need, err, sizeof(err));
}

/* LOAD(need, "A=1", "B=2"): loads exactly these entries. LOADK adds a
 * valid PORTCULLIS_SECRET_KEY. */
#define LOAD(need, ...) load_list(need, (const char *[]){__VA_ARGS__, NULL})
#define LOADK(...) LOAD(true, env_key_a, __VA_ARGS__)

/* No 8 consecutive characters of value (nor the whole value, nor its
 * first 8 characters) appear in text. Variable names are not values: they
 * are blanked first, so a short placeholder like "SECRET" is checked
 * against the rest of the line. */
static void assert_no_leak(const char *text_in, const char *value)
{
	static const char *names[] = {"PORTCULLIS_SECRET_KEY_PREVIOUS_FILE", "PORTCULLIS_SECRET_KEY_PREVIOUS",
	                              "PORTCULLIS_SECRET_KEY_FILE", "PORTCULLIS_SECRET_KEY"};
	char text[1024];
	size_t n = strlen(value);
	char w[9];
	if (n == 0)
		return;
	snprintf(text, sizeof(text), "%s", text_in);
	for (size_t i = 0; i < 4; i++)
		for (char *p = strstr(text, names[i]); p != NULL; p = strstr(p, names[i]))
			memset(p, '#', strlen(names[i]));
	if (strstr(text, value) != NULL)
		fail_msg("value \"%s\" appears in \"%s\"", value, text);
	for (size_t i = 0; i + 8 <= n; i++) {
		memcpy(w, value + i, 8);
		w[8] = '\0';
		if (strstr(text, w) != NULL)
			fail_msg("\"%s\" (part of the value) appears in \"%s\"", w, text);
	}
}

/* Loading fails with one line that names `name` and leaks neither
 * `secret` nor the valid key in the environment; cfg is left empty. */
static void expect_fail_list(const char *name, const char *secret, bool need, const char **list)
{
	memset(&cfg, 0xa5, sizeof(cfg));
	int rc = load_list(need, list);
	if (rc != -1)
		fail_msg("expected a failure naming %s, got success", name);
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
	if (strstr(err, name) == NULL)
		fail_msg("error \"%s\" does not name %s", err, name);
	if (secret != NULL)
		assert_no_leak(err, secret);
	assert_no_leak(err, key_a);
	assert_no_leak(err, key_b);
	assert_null(cfg.keys);
	assert_int_equal(cfg.n_listen, 0);
	pc_config_free(&cfg);
}

#define FAILS(name, ...) expect_fail_list(name, NULL, true, (const char *[]){env_key_a, __VA_ARGS__, NULL})
#define FAILS_SECRET(name, secret, ...) expect_fail_list(name, secret, true, (const char *[]){__VA_ARGS__, NULL})

/* NAME=value into a buffer that stays valid for the test. */
static const char *kv(const char *name, const char *value)
{
	static char bufs[96][8192];
	static unsigned next;
	char *b = bufs[next++ % 96];
	snprintf(b, sizeof(bufs[0]), "%s=%s", name, value);
	return b;
}

static void ok_list(const char **list)
{
	if (load_list(true, list) != 0)
		fail_msg("unexpected failure: %s", err);
}
#define OK(...) ok_list((const char *[]){env_key_a, __VA_ARGS__, NULL})

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static int setup_all(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	do {
		randombytes_buf(key_a_raw, 32);
		randombytes_buf(key_b_raw, 32);
	} while (key_id(key_a_raw) == key_id(key_b_raw));
	encode(key_a, sizeof(key_a), key_a_raw, 32, sodium_base64_VARIANT_ORIGINAL);
	encode(key_b, sizeof(key_b), key_b_raw, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(env_key_a, sizeof(env_key_a), "PORTCULLIS_SECRET_KEY=%s", key_a);
	snprintf(env_prev_b, sizeof(env_prev_b), "PORTCULLIS_SECRET_KEY_PREVIOUS=%s", key_b);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pc-test-config-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_all(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown_one(void **state)
{
	(void)state;
	pc_config_free(&cfg);
	return 0;
}

/* ---- defaults and the table ------------------------------------------------- */

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(LOAD(true, env_key_a, "PATH=/usr/bin", "HOME=/root"), 0);
	assert_int_equal(cfg.n_listen, 1);
	assert_string_equal(cfg.listen[0].host, "127.0.0.1");
	assert_int_equal(cfg.listen[0].port, 8080);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(cfg.threads, cores < 1 ? 1 : cores > PC_MAX_THREADS ? PC_MAX_THREADS : cores);
	assert_int_equal(cfg.header_timeout_ms, PC_HTTP_HEADER_TIMEOUT_DEFAULT_MS);
	assert_int_equal(cfg.body_timeout_ms, PC_HTTP_BODY_TIMEOUT_DEFAULT_MS);
	assert_int_equal(cfg.idle_timeout_ms, PC_HTTP_IDLE_TIMEOUT_DEFAULT_MS);
	assert_int_equal(cfg.shutdown_timeout_ms, PC_HTTP_SHUTDOWN_TIMEOUT_DEFAULT_MS);
	assert_int_equal(cfg.max_connections, PC_MAX_CONNECTIONS_DEFAULT);
	assert_int_equal(cfg.max_connections_per_addr, PC_MAX_CONNECTIONS_PER_ADDR_DEFAULT);
	assert_int_equal(cfg.max_body_bytes, PC_HTTP_MAX_BODY_DEFAULT);
	assert_int_equal(cfg.n_trusted_proxies, 0);
	assert_true(cfg.access_log);
	assert_int_equal(cfg.xss_protection, PC_XSS_OFF);
	assert_string_equal(cfg.database_url, "sqlite:./var/portcullis.db");
	assert_string_equal(cfg.cookie_domain, "");
	assert_int_equal(cfg.session_lifetime_s, 30 * 86400);
	assert_int_equal(cfg.session_idle_s, 7 * 86400);
	assert_int_equal(cfg.pwhash_opslimit, 2);
	assert_int_equal(cfg.pwhash_memlimit, 19 * 1024 * 1024);
	assert_int_equal(cfg.login_max_failures, 10);
	assert_int_equal(cfg.login_max_failures_per_address, 100); /* 10 x, by default */
	assert_int_equal(cfg.login_window_s, 15 * 60);
	assert_non_null(cfg.keys);
	assert_false(cfg.keys->has_previous);
	pc_config_free(&cfg);
	assert_null(cfg.keys);
	pc_config_free(&cfg); /* twice: a no-op */
	struct pc_config zero;
	memset(&zero, 0, sizeof(zero));
	pc_config_free(&zero);
	pc_config_free(NULL);
}

static void test_table(void **state)
{
	(void)state;
	size_t secrets = 0;
	assert_int_equal(pc_config_n_vars, 57);
	for (size_t i = 0; i < pc_config_n_vars; i++) {
		const struct pc_config_var *v = &pc_config_vars[i];
		assert_non_null(v->name);
		assert_int_equal(strncmp(v->name, "PORTCULLIS_", 11), 0);
		assert_non_null(v->help);
		/* one line of printable ASCII, no full stop at the end (main
		 * appends the default in parentheses) */
		assert_true(strlen(v->help) > 10);
		for (const char *c = v->help; *c; c++)
			assert_true(*c >= 0x20 && *c < 0x7f);
		assert_true(v->help[strlen(v->help) - 1] != '.');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(v->name, pc_config_vars[j].name);
		secrets += v->secret;
		if (v->secret)
			assert_null(v->default_value);
	}
	assert_int_equal(secrets, 4);
}

/* Every written default, set explicitly, gives what the unset default gives. */
static void test_defaults_as_text(void **state)
{
	(void)state;
	struct pc_config def;
	assert_int_equal(LOADK("PATH=/bin"), 0);
	def = cfg;
	def.keys = NULL;
	pc_config_free(&cfg);
	const char *list[64] = {env_key_a};
	size_t n = 1;
	for (size_t i = 0; i < pc_config_n_vars; i++) {
		const struct pc_config_var *v = &pc_config_vars[i];
		if (v->default_value == NULL || strcmp(v->name, "PORTCULLIS_THREADS") == 0)
			continue;
		list[n++] = kv(v->name, v->default_value);
	}
	assert_true(n < 64);
	list[n] = NULL;
	ok_list(list);
	struct pc_config got = cfg;
	got.keys = NULL;
	assert_memory_equal(&got, &def, sizeof(got));
}

static void test_keys_not_needed(void **state)
{
	(void)state;
	assert_int_equal(LOAD(false, "PATH=/bin"), 0);
	assert_null(cfg.keys);
	assert_int_equal(cfg.n_listen, 1);
	/* still validated when present */
	expect_fail_list("PORTCULLIS_SECRET_KEY", "changeme", false,
	                 (const char *[]){"PORTCULLIS_SECRET_KEY=changeme", NULL});
	assert_int_equal(LOAD(false, env_key_a), 0);
	assert_non_null(cfg.keys);
	pc_config_free(&cfg);
	/* previous without current */
	expect_fail_list("PORTCULLIS_SECRET_KEY_PREVIOUS", key_b, false, (const char *[]){env_prev_b, NULL});
	expect_fail_list("PORTCULLIS_SECRET_KEY_PREVIOUS", key_b, true, (const char *[]){env_prev_b, NULL});
	/* missing when needed */
	expect_fail_list("PORTCULLIS_SECRET_KEY", NULL, true, (const char *[]){"PATH=/bin", NULL});
	assert_non_null(strstr(err, "keygen"));
	/* no environment at all */
	assert_int_equal(pc_config_load(&cfg, NULL, false, err, sizeof(err)), 0);
	assert_int_equal(pc_config_load(&cfg, NULL, true, err, sizeof(err)), -1);
}

/* ---- PORTCULLIS_LISTEN ------------------------------------------------------ */

static void test_listen_valid(void **state)
{
	(void)state;
	OK("PORTCULLIS_LISTEN=0.0.0.0:0");
	assert_string_equal(cfg.listen[0].host, "0.0.0.0");
	assert_int_equal(cfg.listen[0].port, 0);
	pc_config_free(&cfg);
	OK("PORTCULLIS_LISTEN=[::1]:443,127.0.0.1:65535");
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(cfg.listen[0].host, "::1");
	assert_int_equal(cfg.listen[0].port, 443);
	assert_int_equal(cfg.listen[1].port, 65535);
	pc_config_free(&cfg);
	/* canonical form stored */
	OK("PORTCULLIS_LISTEN=[0:0:0::1]:80,[::ffff:10.0.0.1]:81,[::]:82");
	assert_string_equal(cfg.listen[0].host, "::1");
	assert_string_equal(cfg.listen[1].host, "::ffff:10.0.0.1");
	assert_string_equal(cfg.listen[2].host, "::");
	pc_config_free(&cfg);
	/* exactly PC_MAX_LISTEN */
	OK("PORTCULLIS_LISTEN=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,127.0.0.1:5,127.0.0.1:6,127.0.0.1:7,"
	   "127.0.0.1:8");
	assert_int_equal(cfg.n_listen, PC_MAX_LISTEN);
	pc_config_free(&cfg);
	/* leading zeros in the port are only digits */
	OK("PORTCULLIS_LISTEN=127.0.0.1:08080");
	assert_int_equal(cfg.listen[0].port, 8080);
}

static char *print_to_string(void)
{
	char *s = NULL;
	size_t n;
	FILE *f = open_memstream(&s, &n);
	assert_non_null(f);
	pc_config_print(&cfg, f);
	fclose(f);
	return s;
}

static void test_listen_unix(void **state)
{
	(void)state;
	OK("PORTCULLIS_LISTEN=unix:/run/portcullis/portcullis.sock,127.0.0.1:8080,unix:/tmp/b");
	assert_int_equal(cfg.n_listen, 3);
	assert_string_equal(cfg.listen[0].path, "/run/portcullis/portcullis.sock");
	assert_string_equal(cfg.listen[1].path, "");
	assert_string_equal(cfg.listen[1].host, "127.0.0.1");
	assert_int_equal(cfg.listen[1].port, 8080);
	assert_string_equal(cfg.listen[2].path, "/tmp/b");
	pc_config_free(&cfg);
	/* the longest path sockaddr_un holds, and printed back as written */
	char path[PC_UNIX_PATH_MAX + 2];
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[PC_UNIX_PATH_MAX] = '\0';
	char item[PC_UNIX_PATH_MAX + 16];
	snprintf(item, sizeof(item), "unix:%s", path);
	OK(kv("PORTCULLIS_LISTEN", item));
	assert_string_equal(cfg.listen[0].path, path);
	char *printed = print_to_string();
	assert_non_null(strstr(printed, item));
	free(printed);
	pc_config_free(&cfg);
	/* one byte more does not fit */
	path[PC_UNIX_PATH_MAX] = 'p';
	path[PC_UNIX_PATH_MAX + 1] = '\0';
	snprintf(item, sizeof(item), "unix:%s", path);
	FAILS("PORTCULLIS_LISTEN", kv("PORTCULLIS_LISTEN", item));
	assert_non_null(strstr(err, "at most 107 bytes"));

	static const char *bad[] = {
		"PORTCULLIS_LISTEN=unix:",
		"PORTCULLIS_LISTEN=unix:relative/pc.sock",
		"PORTCULLIS_LISTEN=unix:./pc.sock",
		"PORTCULLIS_LISTEN=unix:/run/pc sock",
		"PORTCULLIS_LISTEN=unix:/run/pc\tsock",
		"PORTCULLIS_LISTEN=unix:/run/\xc3\xa9.sock",
		"PORTCULLIS_LISTEN=unix:/run/portcullis/",
		"PORTCULLIS_LISTEN=unix:/run/../etc/pc.sock",
		"PORTCULLIS_LISTEN=unix:/run/./pc.sock",
		"PORTCULLIS_LISTEN=unix:/run/..",
		"PORTCULLIS_LISTEN=unix:/run//pc.sock",
		"PORTCULLIS_LISTEN=unix://run/pc.sock",
		"PORTCULLIS_LISTEN=unix:/run/pc.sock,unix:/run/pc.sock",
		"PORTCULLIS_LISTEN=unix:/run/pc.sock,127.0.0.1:80,unix:/run/pc.sock",
		"PORTCULLIS_LISTEN=unix/run/pc.sock",
		"PORTCULLIS_LISTEN=UNIX:/run/pc.sock",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FAILS("PORTCULLIS_LISTEN", bad[i]);
	FAILS("PORTCULLIS_LISTEN", "PORTCULLIS_LISTEN=unix:/run/pc.sock,unix:/run/pc.sock");
	assert_non_null(strstr(err, "item 2 repeats item 1"));
}

static void test_listen_invalid(void **state)
{
	(void)state;
	static const char *bad[] = {
		"PORTCULLIS_LISTEN=not-an-address",
		"PORTCULLIS_LISTEN=localhost:8080",
		"PORTCULLIS_LISTEN=example.com:80",
		"PORTCULLIS_LISTEN=127.0.0.1",
		"PORTCULLIS_LISTEN=127.0.0.1:",
		"PORTCULLIS_LISTEN=127.0.0.1:65536",
		"PORTCULLIS_LISTEN=127.0.0.1:99999999999999999999999",
		"PORTCULLIS_LISTEN=127.0.0.1:-1",
		"PORTCULLIS_LISTEN=127.0.0.1:+80",
		"PORTCULLIS_LISTEN=127.0.0.1: 80",
		"PORTCULLIS_LISTEN=127.0.0.1:80 ",
		"PORTCULLIS_LISTEN=127.0.0.1:0x50",
		"PORTCULLIS_LISTEN=:80",
		"PORTCULLIS_LISTEN=::1:80",
		"PORTCULLIS_LISTEN=[::1]80",
		"PORTCULLIS_LISTEN=[::1]",
		"PORTCULLIS_LISTEN=[::1]:",
		"PORTCULLIS_LISTEN=[127.0.0.1]:80",
		"PORTCULLIS_LISTEN=[fe80::1%eth0]:80",
		"PORTCULLIS_LISTEN=1.2.3:80",
		"PORTCULLIS_LISTEN=1.2.3.4.5:80",
		"PORTCULLIS_LISTEN=256.1.1.1:80",
		"PORTCULLIS_LISTEN=127.0.0.1:80,",
		"PORTCULLIS_LISTEN=,127.0.0.1:80",
		"PORTCULLIS_LISTEN=127.0.0.1:80,,127.0.0.1:81",
		"PORTCULLIS_LISTEN=127.0.0.1:80, 127.0.0.1:81",
		"PORTCULLIS_LISTEN=127.0.0.1:80,127.0.0.1:80",
		"PORTCULLIS_LISTEN=[::1]:80,[0::1]:80",
		("PORTCULLIS_LISTEN=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:4,127.0.0.1:5,127.0.0.1:6,"
		 "127.0.0.1:7,127.0.0.1:8,127.0.0.1:9"),
		"PORTCULLIS_LISTEN=[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee:ffff]:80",
		"PORTCULLIS_LISTEN=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FAILS("PORTCULLIS_LISTEN", bad[i]);
		/* the value is not echoed */
		const char *v = strchr(bad[i], '=') + 1;
		if (strlen(v) >= 8)
			assert_no_leak(err, v);
	}
}

/* ---- numbers ---------------------------------------------------------------- */

static void test_threads(void **state)
{
	(void)state;
	OK("PORTCULLIS_THREADS=1");
	assert_int_equal(cfg.threads, 1);
	pc_config_free(&cfg);
	OK("PORTCULLIS_THREADS=64");
	assert_int_equal(cfg.threads, 64);
	pc_config_free(&cfg);
	static const char *bad[] = {"0", "65", "-1", "+2", " 2", "2 ", "2.0", "two", "0x10",
	                            "18446744073709551617", "99999999999999999999999999", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FAILS("PORTCULLIS_THREADS", kv("PORTCULLIS_THREADS", bad[i]));
}

static void test_timeouts(void **state)
{
	(void)state;
	static const char *names[] = {"PORTCULLIS_HEADER_TIMEOUT", "PORTCULLIS_BODY_TIMEOUT", "PORTCULLIS_IDLE_TIMEOUT",
	                              "PORTCULLIS_SHUTDOWN_TIMEOUT"};
	static const struct {
		const char *text;
		unsigned ms;
	} good[] = {{"100ms", 100}, {"2s", 2000}, {"500ms", 500}, {"30", 30000}, {"1m", 60000},
	            {"60m", 3600000}, {"3600s", 3600000}, {"3600", 3600000}, {"3600000ms", 3600000}, {"0010s", 10000}};
	static const char *bad[] = {"99ms", "0", "0s", "0ms", "61m", "3601", "3600001ms", "1h", "1d", "1.5s",
	                            "-1s", "-1", "+1s", "10S", "10MS", "s", "ms", "10 s", " 10", "10 ", "banana",
	                            "10sec", "10ss", "18446744073709551615s", "99999999999999999999", ""};
	for (size_t n = 0; n < 4; n++) {
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			OK(kv(names[n], good[i].text));
			unsigned got = n == 0 ? cfg.header_timeout_ms
			               : n == 1 ? cfg.body_timeout_ms
			               : n == 2 ? cfg.idle_timeout_ms
			                        : cfg.shutdown_timeout_ms;
			assert_int_equal(got, good[i].ms);
			pc_config_free(&cfg);
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			FAILS(names[n], kv(names[n], bad[i]));
	}
	/* the message gives the range */
	FAILS("PORTCULLIS_HEADER_TIMEOUT", "PORTCULLIS_HEADER_TIMEOUT=99ms");
	assert_non_null(strstr(err, "100ms"));
	assert_non_null(strstr(err, "60m"));
}

static void test_connections(void **state)
{
	(void)state;
	OK("PORTCULLIS_MAX_CONNECTIONS=1", "PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS=1");
	assert_int_equal(cfg.max_connections, 1);
	assert_int_equal(cfg.max_connections_per_addr, 1);
	pc_config_free(&cfg);
	OK("PORTCULLIS_MAX_CONNECTIONS=1000000", "PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS=1000000");
	assert_int_equal(cfg.max_connections, 1000000);
	assert_int_equal(cfg.max_connections_per_addr, 1000000);
	pc_config_free(&cfg);
	OK("PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS=10000");
	assert_int_equal(cfg.max_connections_per_addr, 10000);
	pc_config_free(&cfg);
	/* an unset per-address limit follows a lower global one */
	OK("PORTCULLIS_MAX_CONNECTIONS=100");
	assert_int_equal(cfg.max_connections_per_addr, 100);
	pc_config_free(&cfg);
	FAILS("PORTCULLIS_MAX_CONNECTIONS", "PORTCULLIS_MAX_CONNECTIONS=0");
	FAILS("PORTCULLIS_MAX_CONNECTIONS", "PORTCULLIS_MAX_CONNECTIONS=1000001");
	FAILS("PORTCULLIS_MAX_CONNECTIONS", "PORTCULLIS_MAX_CONNECTIONS=-5");
	FAILS("PORTCULLIS_MAX_CONNECTIONS", "PORTCULLIS_MAX_CONNECTIONS=1e4");
	FAILS("PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS", "PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS=0");
	FAILS("PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS", "PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS=10001");
	FAILS("PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS", "PORTCULLIS_MAX_CONNECTIONS=100",
	      "PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS=101");
	FAILS("PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS", "PORTCULLIS_MAX_CONNECTIONS_PER_ADDRESS=abc");
}

static void test_body_bytes(void **state)
{
	(void)state;
	OK("PORTCULLIS_MAX_BODY_BYTES=1024");
	assert_int_equal(cfg.max_body_bytes, 1024);
	pc_config_free(&cfg);
	OK("PORTCULLIS_MAX_BODY_BYTES=1048576");
	assert_int_equal(cfg.max_body_bytes, 1048576);
	pc_config_free(&cfg);
	static const char *bad[] = {"1023", "1048577", "10", "1e9", "64KiB", "0", "-1024", "4096 ", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FAILS("PORTCULLIS_MAX_BODY_BYTES", kv("PORTCULLIS_MAX_BODY_BYTES", bad[i]));
}

/* ---- trusted proxies ---------------------------------------------------------- */

static void test_proxies(void **state)
{
	(void)state;
	OK("PORTCULLIS_TRUSTED_PROXIES=");
	assert_int_equal(cfg.n_trusted_proxies, 0);
	pc_config_free(&cfg);
	OK("PORTCULLIS_TRUSTED_PROXIES=10.0.0.0/8,192.168.1.1,::1,fd00::/8,172.16.0.0/12,2001:db8::/32");
	assert_int_equal(cfg.n_trusted_proxies, 6);
	assert_int_equal(cfg.trusted_proxies[0].family, AF_INET);
	assert_int_equal(cfg.trusted_proxies[0].prefix, 8);
	assert_int_equal(cfg.trusted_proxies[0].addr[0], 10);
	assert_int_equal(cfg.trusted_proxies[1].prefix, 32);
	assert_int_equal(cfg.trusted_proxies[2].family, AF_INET6);
	assert_int_equal(cfg.trusted_proxies[2].prefix, 128);
	assert_int_equal(cfg.trusted_proxies[3].prefix, 8);
	pc_config_free(&cfg);
	OK("PORTCULLIS_TRUSTED_PROXIES=10.1.2.3/32,::ffff:10.0.0.0/104,1.2.3.4/31");
	pc_config_free(&cfg);
	/* 32 entries is the limit */
	char list[1024] = "";
	for (int i = 0; i < 32; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s10.0.%d.0/24", i ? "," : "", i);
	OK(kv("PORTCULLIS_TRUSTED_PROXIES", list));
	assert_int_equal(cfg.n_trusted_proxies, 32);
	pc_config_free(&cfg);
	strcat(list, ",10.0.99.0/24");
	FAILS("PORTCULLIS_TRUSTED_PROXIES", kv("PORTCULLIS_TRUSTED_PROXIES", list));

	static const char *bad[] = {"10.0.0.1/8", "11.0.0.0/7", "192.168.1.1/24", "fd00::1/8", "::1/64",
	                            "10.0.0.0/33", "::/129", "0.0.0.0/0", "::/0", "10.0.0.0/", "10.0.0.0/8/8",
	                            "10.0.0.0/-8", "10.0.0.0/+8", "10.0.0.0/ 8", "proxy.example", "10.0.0",
	                            "[::1]", "[::1]/128", "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/8, ::1",
	                            "10.0.0.0/8,,::1", "1.2.3.4/31 ", "fe80::1%eth0", "10.0.0.0/0x8"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FAILS("PORTCULLIS_TRUSTED_PROXIES", kv("PORTCULLIS_TRUSTED_PROXIES", bad[i]));
	FAILS("PORTCULLIS_TRUSTED_PROXIES", "PORTCULLIS_TRUSTED_PROXIES=10.0.0.1/8");
	assert_non_null(strstr(err, "host bits"));
	assert_non_null(strstr(err, "item 1"));
}

/* "unix": unix-socket peers, beside (not instead of) the CIDRs, and not one
 * of the 32 */
static void test_proxies_unix(void **state)
{
	(void)state;
	OK("PORTCULLIS_TRUSTED_PROXIES=unix");
	assert_true(cfg.trust_unix);
	assert_int_equal(cfg.n_trusted_proxies, 0);
	pc_config_free(&cfg);
	OK("PORTCULLIS_TRUSTED_PROXIES=127.0.0.1,unix,::1");
	assert_true(cfg.trust_unix);
	assert_int_equal(cfg.n_trusted_proxies, 2);
	char *printed = print_to_string();
	assert_non_null(strstr(printed, "PORTCULLIS_TRUSTED_PROXIES=127.0.0.1/32,::1/128,unix\n"));
	free(printed);
	pc_config_free(&cfg);
	OK("PORTCULLIS_TRUSTED_PROXIES=127.0.0.1");
	assert_false(cfg.trust_unix);
	pc_config_free(&cfg);
	char list[1024] = "unix";
	for (int i = 0; i < 32; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), ",10.0.%d.0/24", i);
	OK(kv("PORTCULLIS_TRUSTED_PROXIES", list));
	assert_int_equal(cfg.n_trusted_proxies, 32);
	assert_true(cfg.trust_unix);
	pc_config_free(&cfg);
	strcat(list, ",10.0.99.0/24");
	FAILS("PORTCULLIS_TRUSTED_PROXIES", kv("PORTCULLIS_TRUSTED_PROXIES", list));
	assert_non_null(strstr(err, "more than 32 entries"));
	static const char *bad[] = {"unix,unix", "UNIX", "unix:", "unix:/run/pc.sock", " unix", "unix/32"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FAILS("PORTCULLIS_TRUSTED_PROXIES", kv("PORTCULLIS_TRUSTED_PROXIES", bad[i]));
	/* the item's position counts the "unix" item too */
	FAILS("PORTCULLIS_TRUSTED_PROXIES", "PORTCULLIS_TRUSTED_PROXIES=unix,10.0.0.1/8");
	assert_non_null(strstr(err, "item 2"));
}

static void sa4(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;
	memset(ss, 0, sizeof(*ss));
	s->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &s->sin_addr), 1);
}

static void sa6(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	s->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &s->sin6_addr), 1);
}

static bool trusted4(const char *a)
{
	struct sockaddr_storage ss;
	sa4(&ss, a);
	return pc_config_addr_trusted(&cfg, (struct sockaddr *)&ss);
}

static bool trusted6(const char *a)
{
	struct sockaddr_storage ss;
	sa6(&ss, a);
	return pc_config_addr_trusted(&cfg, (struct sockaddr *)&ss);
}

static void test_addr_trusted(void **state)
{
	(void)state;
	OK("PORTCULLIS_TRUSTED_PROXIES=10.0.0.0/8,192.168.1.1,172.16.0.0/12,2001:db8::/32,::1,fd00:1:2::/47");
	assert_true(trusted4("10.0.0.0"));
	assert_true(trusted4("10.255.255.255"));
	assert_false(trusted4("11.0.0.0"));
	assert_false(trusted4("9.255.255.255"));
	assert_true(trusted4("192.168.1.1"));
	assert_false(trusted4("192.168.1.2"));
	assert_false(trusted4("192.168.1.0"));
	assert_true(trusted4("172.16.0.1"));
	assert_true(trusted4("172.31.255.255"));
	assert_false(trusted4("172.32.0.0"));
	assert_false(trusted4("172.15.255.255"));
	assert_false(trusted4("127.0.0.1"));
	assert_true(trusted6("2001:db8::1"));
	assert_true(trusted6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(trusted6("2001:db9::"));
	assert_true(trusted6("::1"));
	assert_false(trusted6("::2"));
	/* /47: the 48th bit must not matter, the 47th must */
	assert_true(trusted6("fd00:1:2::"));
	assert_true(trusted6("fd00:1:3::"));
	assert_false(trusted6("fd00:1:4::"));
	/* IPv4-mapped IPv6 against the IPv4 CIDRs */
	assert_true(trusted6("::ffff:10.1.2.3"));
	assert_true(trusted6("::ffff:192.168.1.1"));
	assert_false(trusted6("::ffff:192.168.1.2"));
	assert_false(trusted6("::ffff:11.0.0.1"));
	/* not mapped: ::10.1.2.3 (IPv4-compatible) and 64:ff9b::10.1.2.3 (NAT64) */
	assert_false(trusted6("::10.1.2.3"));
	assert_false(trusted6("64:ff9b::10.1.2.3"));
	/* other families, NULLs */
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_false(pc_config_addr_trusted(&cfg, (struct sockaddr *)&ss));
	assert_false(pc_config_addr_trusted(&cfg, NULL));
	assert_false(pc_config_addr_trusted(NULL, (struct sockaddr *)&ss));
	pc_config_free(&cfg);
	/* "unix" trusts unix-socket peers and no address */
	OK("PORTCULLIS_TRUSTED_PROXIES=unix");
	assert_true(pc_config_addr_trusted(&cfg, (struct sockaddr *)&ss));
	assert_false(trusted4("127.0.0.1"));
	assert_false(trusted6("::1"));
	assert_false(trusted6("::"));
	pc_config_free(&cfg);

	/* a list written as mapped IPv6 matches IPv4 peers too */
	OK("PORTCULLIS_TRUSTED_PROXIES=::ffff:10.0.0.0/104");
	assert_true(trusted4("10.9.9.9"));
	assert_true(trusted6("::ffff:10.9.9.9"));
	assert_false(trusted4("11.0.0.0"));
	pc_config_free(&cfg);

	/* nothing trusted by default */
	OK("PATH=/bin");
	assert_false(trusted4("127.0.0.1"));
	assert_false(trusted6("::1"));
}

/* ---- switches, URL, domain ---------------------------------------------------- */

static void test_switches(void **state)
{
	(void)state;
	OK("PORTCULLIS_ACCESS_LOG=false");
	assert_false(cfg.access_log);
	pc_config_free(&cfg);
	OK("PORTCULLIS_ACCESS_LOG=true");
	assert_true(cfg.access_log);
	pc_config_free(&cfg);
	static const char *bad_bool[] = {"TRUE", "False", "1", "0", "yes", "no", "on", "true ", ""};
	for (size_t i = 0; i < sizeof(bad_bool) / sizeof(bad_bool[0]); i++)
		FAILS("PORTCULLIS_ACCESS_LOG", kv("PORTCULLIS_ACCESS_LOG", bad_bool[i]));
	OK("PORTCULLIS_XSS_PROTECTION=block");
	assert_int_equal(cfg.xss_protection, PC_XSS_BLOCK);
	pc_config_free(&cfg);
	OK("PORTCULLIS_XSS_PROTECTION=off");
	assert_int_equal(cfg.xss_protection, PC_XSS_OFF);
	pc_config_free(&cfg);
	static const char *bad_xss[] = {"maybe", "on", "0", "1", "BLOCK", "Off", "1; mode=block", ""};
	for (size_t i = 0; i < sizeof(bad_xss) / sizeof(bad_xss[0]); i++)
		FAILS("PORTCULLIS_XSS_PROTECTION", kv("PORTCULLIS_XSS_PROTECTION", bad_xss[i]));
}

static void test_database_url(void **state)
{
	(void)state;
	static const char *good[] = {"sqlite:/var/lib/portcullis/db.sqlite", "sqlite:x.db",
	                             "postgres://u:p@db.internal:5432/portcullis?sslmode=require",
	                             "postgresql://localhost/db", "postgresql:///db?host=/run/postgresql"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		OK(kv("PORTCULLIS_DATABASE_URL", good[i]));
		assert_string_equal(cfg.database_url, good[i]);
		pc_config_free(&cfg);
	}
	char longest[1024];
	memset(longest, 'a', sizeof(longest));
	memcpy(longest, "sqlite:", 7);
	longest[1023] = '\0';
	OK(kv("PORTCULLIS_DATABASE_URL", longest));
	assert_string_equal(cfg.database_url, longest);
	pc_config_free(&cfg);
	char too_long[1025];
	memset(too_long, 'a', sizeof(too_long));
	memcpy(too_long, "sqlite:", 7);
	too_long[1024] = '\0';
	FAILS("PORTCULLIS_DATABASE_URL", kv("PORTCULLIS_DATABASE_URL", too_long));

	static const char *bad[] = {"mysql://u:hunter2pw@h/db", "sqlite:", "postgres://", "postgresql://",
	                            "SQLITE:x.db", "Postgres://h/db", "postgres:/h/db", "file:x.db", "x.db",
	                            "sqlite:x\ndb", "postgres://u:hunter2pw@h/db\t", "redis://h", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FAILS("PORTCULLIS_DATABASE_URL", kv("PORTCULLIS_DATABASE_URL", bad[i]));
		assert_null(strstr(err, "hunter2"));
	}
}

/* PORTCULLIS_PATH_PREFIX: a path that can be put in a link as it is. */
static void test_path_prefix(void **state)
{
	(void)state;
	assert_int_equal(LOADK("PATH=/bin"), 0);
	assert_string_equal(cfg.path_prefix, "/.portcullis");
	pc_config_free(&cfg);
	const char *good[] = {"/auth", "/.portcullis", "/a/b", "/x-y_z~1", "/.well"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		OK(kv("PORTCULLIS_PATH_PREFIX", good[i]));
		assert_string_equal(cfg.path_prefix, good[i]);
		pc_config_free(&cfg);
	}
	char long65[80] = "/";
	memset(long65 + 1, 'a', 64);
	long65[65] = '\0';
	const char *bad[] = {"", "/", "auth", "/auth/", "//evil", "/a//b", "/a/./b", "/..", "/a/..", "/.",
	                     "/a b", "/a?b", "/a%2f", "/a\\b", "/a#", "/a\"b", long65};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FAILS("PORTCULLIS_PATH_PREFIX", kv("PORTCULLIS_PATH_PREFIX", bad[i]));
}

static void test_cookie_domain(void **state)
{
	(void)state;
	OK("PORTCULLIS_COOKIE_DOMAIN=");
	assert_string_equal(cfg.cookie_domain, "");
	pc_config_free(&cfg);
	char label63[128], name253[300];
	memset(label63, 'a', 63);
	strcpy(label63 + 63, ".example");
	/* 4 labels of 63 + dots = 255; trim to 253 */
	memset(name253, 'b', 253);
	for (int i = 63; i < 253; i += 64)
		name253[i] = '.';
	name253[253] = '\0';
	const char *good[] = {"example.com", "auth.example.co.uk", "a-b.example.org", "xn--bcher-kva.example",
	                      "1.example.com", "example.x1", "a.io", label63, name253};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		OK(kv("PORTCULLIS_COOKIE_DOMAIN", good[i]));
		assert_string_equal(cfg.cookie_domain, good[i]);
		pc_config_free(&cfg);
	}
	char label64[128], name254[300];
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".example");
	strcpy(name254, name253);
	strcat(name254, "b");
	const char *bad[] = {".example.com", "Example.com", "EXAMPLE.COM", "com", "localhost", "192.168.0.1",
	                     "10.0.0.1", "1.2.3.4.5", "::1", "[::1]", "example.com.", "-a.example.com",
	                     "a-.example.com", "a..example.com", "a_b.example.com", "exa mple.com", "example.com/",
	                     "*.example.com", "example.com:443", "ex\xc3\xa4mple.com", label64, name254, "."};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FAILS("PORTCULLIS_COOKIE_DOMAIN", kv("PORTCULLIS_COOKIE_DOMAIN", bad[i]));
	FAILS("PORTCULLIS_COOKIE_DOMAIN", "PORTCULLIS_COOKIE_DOMAIN=Example.com");
	assert_non_null(strstr(err, "lowercase"));
	FAILS("PORTCULLIS_COOKIE_DOMAIN", "PORTCULLIS_COOKIE_DOMAIN=com");
	assert_non_null(strstr(err, "top-level"));
}

/* ---- sessions, passwords, login ------------------------------------------------- */

static void test_session_durations(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int64_t s;
	} good[] = {{"60", 60}, {"60s", 60}, {"1m", 60}, {"2h", 7200}, {"1d", 86400}, {"365d", 365 * 86400},
	            {"31536000", 31536000}, {"8760h", 31536000}};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		OK(kv("PORTCULLIS_SESSION_LIFETIME", good[i].text), kv("PORTCULLIS_SESSION_IDLE_TIMEOUT", good[i].text));
		assert_int_equal(cfg.session_lifetime_s, good[i].s);
		assert_int_equal(cfg.session_idle_s, good[i].s);
		pc_config_free(&cfg);
	}
	static const char *bad[] = {"59", "59s", "0", "366d", "31536001", "1w", "1y", "1D", "1.5d", "-1d",
	                            "d", "1 d", "100ms", "", "99999999999999999999d"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FAILS("PORTCULLIS_SESSION_LIFETIME", kv("PORTCULLIS_SESSION_LIFETIME", bad[i]));
		FAILS("PORTCULLIS_SESSION_IDLE_TIMEOUT", kv("PORTCULLIS_SESSION_IDLE_TIMEOUT", bad[i]));
	}
	/* idle above lifetime */
	FAILS("PORTCULLIS_SESSION_IDLE_TIMEOUT", "PORTCULLIS_SESSION_LIFETIME=1d",
	      "PORTCULLIS_SESSION_IDLE_TIMEOUT=25h");
	FAILS("PORTCULLIS_SESSION_IDLE_TIMEOUT", "PORTCULLIS_SESSION_IDLE_TIMEOUT=31d");
	/* equal is fine; an unset idle timeout follows a shorter lifetime */
	OK("PORTCULLIS_SESSION_LIFETIME=1d", "PORTCULLIS_SESSION_IDLE_TIMEOUT=24h");
	pc_config_free(&cfg);
	OK("PORTCULLIS_SESSION_LIFETIME=1d");
	assert_int_equal(cfg.session_idle_s, 86400);
	pc_config_free(&cfg);
	OK("PORTCULLIS_SESSION_IDLE_TIMEOUT=30m");
	assert_int_equal(cfg.session_idle_s, 1800);
	assert_int_equal(cfg.session_lifetime_s, 30 * 86400);
}

static void test_password_cost(void **state)
{
	(void)state;
	OK("PORTCULLIS_PASSWORD_OPSLIMIT=20");
	assert_int_equal(cfg.pwhash_opslimit, 20);
	pc_config_free(&cfg);
	static const char *bad_ops[] = {"1", "0", "21", "-2", "2.0", "two", ""};
	for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++)
		FAILS("PORTCULLIS_PASSWORD_OPSLIMIT", kv("PORTCULLIS_PASSWORD_OPSLIMIT", bad_ops[i]));

	static const struct {
		const char *text;
		size_t bytes;
	} good[] = {{"19MiB", 19u << 20}, {"19456KiB", 19u << 20}, {"19922944", 19u << 20}, {"64MiB", 64u << 20},
	            {"4GiB", (size_t)4 << 30}, {"4096MiB", (size_t)4 << 30}, {"4294967296", (size_t)4 << 30},
	            {"1GiB", 1u << 30}};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		OK(kv("PORTCULLIS_PASSWORD_MEMLIMIT", good[i].text));
		assert_int_equal(cfg.pwhash_memlimit, good[i].bytes);
		pc_config_free(&cfg);
	}
	static const char *bad_mem[] = {"19922943", "18MiB", "19455KiB", "4097MiB", "5GiB", "4294967297", "19MB",
	                                "19M", "19mib", "19 MiB", "19MiB ", "19.5MiB", "-19MiB", "MiB", "0",
	                                "18446744073709551615GiB", ""};
	for (size_t i = 0; i < sizeof(bad_mem) / sizeof(bad_mem[0]); i++)
		FAILS("PORTCULLIS_PASSWORD_MEMLIMIT", kv("PORTCULLIS_PASSWORD_MEMLIMIT", bad_mem[i]));
}

static void test_login_limits(void **state)
{
	(void)state;
	OK("PORTCULLIS_LOGIN_MAX_FAILURES=1", "PORTCULLIS_LOGIN_WINDOW=1m");
	assert_int_equal(cfg.login_max_failures, 1);
	assert_int_equal(cfg.login_window_s, 60);
	pc_config_free(&cfg);
	assert_int_equal(cfg.login_max_failures_per_address, 10);
	pc_config_free(&cfg);
	OK("PORTCULLIS_LOGIN_MAX_FAILURES=3", "PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS=3");
	assert_int_equal(cfg.login_max_failures_per_address, 3);
	pc_config_free(&cfg);
	OK("PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS=100000");
	assert_int_equal(cfg.login_max_failures_per_address, 100000);
	pc_config_free(&cfg);
	/* below the account limit, it would be the account limit in disguise */
	FAILS("PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS", kv("PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS", "9"));
	static const char *bad_a[] = {"0", "100001", "-1", "ten", ""};
	for (size_t i = 0; i < sizeof(bad_a) / sizeof(bad_a[0]); i++)
		FAILS("PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS", kv("PORTCULLIS_LOGIN_MAX_FAILURES_PER_ADDRESS", bad_a[i]));
	OK("PORTCULLIS_LOGIN_MAX_FAILURES=1000", "PORTCULLIS_LOGIN_WINDOW=24h");
	assert_int_equal(cfg.login_max_failures, 1000);
	assert_int_equal(cfg.login_max_failures_per_address, 10000);
	assert_int_equal(cfg.login_window_s, 86400);
	pc_config_free(&cfg);
	OK("PORTCULLIS_LOGIN_WINDOW=1d");
	assert_int_equal(cfg.login_window_s, 86400);
	pc_config_free(&cfg);
	OK("PORTCULLIS_LOGIN_WINDOW=900");
	assert_int_equal(cfg.login_window_s, 900);
	pc_config_free(&cfg);
	static const char *bad_n[] = {"0", "1001", "-1", "ten", ""};
	for (size_t i = 0; i < sizeof(bad_n) / sizeof(bad_n[0]); i++)
		FAILS("PORTCULLIS_LOGIN_MAX_FAILURES", kv("PORTCULLIS_LOGIN_MAX_FAILURES", bad_n[i]));
	static const char *bad_w[] = {"59s", "59", "25h", "86401", "2d", "15M", "15 m", ""};
	for (size_t i = 0; i < sizeof(bad_w) / sizeof(bad_w[0]); i++)
		FAILS("PORTCULLIS_LOGIN_WINDOW", kv("PORTCULLIS_LOGIN_WINDOW", bad_w[i]));
}

/* ---- the environment as a whole -------------------------------------------------- */

static void test_unknown_variables(void **state)
{
	(void)state;
	FAILS("PORTCULLIS_LISTNE", "PORTCULLIS_LISTNE=1");
	assert_non_null(strstr(err, "unknown variable PORTCULLIS_LISTNE"));
	assert_non_null(strstr(err, "typo?"));
	assert_non_null(strstr(err, "did you mean PORTCULLIS_LISTEN?"));
	FAILS("PORTCULLIS_SECRET_KY", "PORTCULLIS_SECRET_KY=whatever-value-here");
	assert_non_null(strstr(err, "did you mean PORTCULLIS_SECRET_KEY?"));
	assert_null(strstr(err, "whatever"));
	/* far from every name: no suggestion */
	FAILS("PORTCULLIS_FROBNICATE", "PORTCULLIS_FROBNICATE=1");
	assert_non_null(strstr(err, "(typo?)"));
	/* the e2e harness's variable is not special */
	FAILS("PORTCULLIS_BIN", "PORTCULLIS_BIN=/usr/bin/portcullis");
	FAILS("PORTCULLIS_", "PORTCULLIS_=1");
	FAILS("PORTCULLIS_LISTEN_", "PORTCULLIS_LISTEN_=127.0.0.1:1");
	/* only secrets have a _FILE form */
	FAILS("PORTCULLIS_LISTEN_FILE", "PORTCULLIS_LISTEN_FILE=/etc/passwd");
	FAILS("PORTCULLIS_SECRET_KEY_FILE_FILE", "PORTCULLIS_SECRET_KEY_FILE_FILE=/x");
	/* no '=' at all */
	FAILS("PORTCULLIS_LISTNE", "PORTCULLIS_LISTNE");
	/* a name with control bytes is printed safely */
	FAILS("PORTCULLIS_X?Y", "PORTCULLIS_X\nY=1");
	/* others are not ours */
	OK("portcullis_listen=junk", "PORTCULLISX=1", "PATH=/bin", "XPORTCULLIS_LISTEN=junk");
	pc_config_free(&cfg);
	/* set twice (execve allows it; getenv would pick one silently) */
	FAILS("PORTCULLIS_LISTEN", "PORTCULLIS_LISTEN=127.0.0.1:1", "PORTCULLIS_LISTEN=127.0.0.1:2");
	assert_non_null(strstr(err, "more than once"));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY", key_a, env_key_a, env_key_a);
}

static void test_empty_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < pc_config_n_vars; i++) {
		const char *name = pc_config_vars[i].name;
		if (pc_config_vars[i].empty_ok) {
			assert_non_null(strstr(pc_config_vars[i].help, "unset or empty"));
			OK(kv(name, ""));
			pc_config_free(&cfg);
			continue;
		}
		if (pc_config_vars[i].secret) {
			char e[128];
			snprintf(e, sizeof(e), "%s=", name);
			if (strcmp(name, "PORTCULLIS_SECRET_KEY") == 0)
				FAILS_SECRET(name, NULL, e);
			else if (strcmp(name, "PORTCULLIS_JWT_SIGNING_KEY") == 0)
				FAILS(name, "PORTCULLIS_JWT_ALG=EdDSA", e);
			else
				FAILS(name, e);
			continue;
		}
		FAILS(name, kv(name, ""));
		assert_non_null(strstr(err, "is empty; unset it to use the default"));
	}
}

/* ---- secrets ----------------------------------------------------------------------- */

static void expect_keyset(const struct pc_keyset *ks, const uint8_t raw[32])
{
	uint8_t sub[32];
	assert_memory_equal(ks->master, raw, 32);
	assert_int_equal(ks->id, key_id(raw));
	for (uint64_t i = 1; i < PC_SUBKEY__COUNT; i++) {
		crypto_kdf_derive_from_key(sub, 32, i, "portcull", raw);
		assert_memory_equal(ks->sub[i], sub, 32);
		for (uint64_t j = 1; j < i; j++)
			assert_memory_not_equal(ks->sub[i], ks->sub[j], 32);
	}
}

static void test_key_encodings(void **state)
{
	(void)state;
	char text[64];
	static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	                               sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
	uint8_t raw[32];
	for (int round = 0; round < 50; round++) {
		/* many rounds, so + / - _ all show up */
		randombytes_buf(raw, sizeof(raw));
		for (size_t v = 0; v < 4; v++) {
			encode(text, sizeof(text), raw, 32, variants[v]);
			assert_int_equal(LOAD(true, kv("PORTCULLIS_SECRET_KEY", text)), 0);
			expect_keyset(&cfg.keys->current, raw);
			pc_config_free(&cfg);
		}
	}
	OK(env_prev_b);
	expect_keyset(&cfg.keys->current, key_a_raw);
	expect_keyset(&cfg.keys->previous, key_b_raw);
	assert_true(cfg.keys->has_previous);
	assert_int_not_equal(cfg.keys->current.id, cfg.keys->previous.id);
}

/* Every class of weak or malformed key, as PORTCULLIS_SECRET_KEY, as
 * PORTCULLIS_SECRET_KEY_PREVIOUS and from a file: refused, the variable
 * named, no 8 characters of the text in the error. */
static void expect_weak(const char *text)
{
	char path[128];
	FAILS_SECRET("PORTCULLIS_SECRET_KEY", text, kv("PORTCULLIS_SECRET_KEY", text));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_PREVIOUS", text, env_key_a, kv("PORTCULLIS_SECRET_KEY_PREVIOUS", text));
	snprintf(path, sizeof(path), "%s/weak.key", tmpdir);
	write_file(path, text, strlen(text));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", text, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	assert_null(strstr(err, path));
	/* the need_keys=false path refuses it as well */
	expect_fail_list("PORTCULLIS_SECRET_KEY", text, false, (const char *[]){kv("PORTCULLIS_SECRET_KEY", text), NULL});
}

static void test_weak_keys(void **state)
{
	(void)state;
	uint8_t raw[48];
	char text[128];

	/* wrong length */
	static const size_t lens[] = {1, 16, 24, 31, 33, 48};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		randombytes_buf(raw, lens[i]);
		encode(text, sizeof(text), raw, lens[i], sodium_base64_VARIANT_ORIGINAL);
		expect_weak(text);
		encode(text, sizeof(text), raw, lens[i], sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		expect_weak(text);
	}
	/* all zero (padded, unpadded, url-safe) */
	memset(raw, 0, 32);
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
	expect_weak(text);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY", text, kv("PORTCULLIS_SECRET_KEY", text));
	assert_non_null(strstr(err, "zero"));
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	expect_weak(text);
	/* one byte value repeated */
	static const uint8_t reps[] = {0x41, 0xff, 0x01, 0xfb};
	for (size_t i = 0; i < sizeof(reps); i++) {
		memset(raw, reps[i], 32);
		encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
		expect_weak(text);
	}
	/* a short pattern: 2 and 7 distinct values */
	for (size_t i = 0; i < 32; i++)
		raw[i] = (uint8_t)(i % 2 ? 0xab : 0x12);
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
	expect_weak(text);
	for (size_t i = 0; i < 32; i++)
		raw[i] = (uint8_t)(0x30 + i % 7);
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
	expect_weak(text);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY", text, kv("PORTCULLIS_SECRET_KEY", text));
	assert_non_null(strstr(err, "repetitive"));
	/* 8 distinct values is the least accepted (not printable: that is
	 * refused on its own, below) */
	for (size_t i = 0; i < 32; i++)
		raw[i] = (uint8_t)(0x90 + i % 8);
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(LOAD(true, kv("PORTCULLIS_SECRET_KEY", text)), 0);
	pc_config_free(&cfg);

	/* counting bytes: up, down, by a step other than 1, wrapping past ff */
	static const struct {
		uint8_t start, step;
	} counters[] = {{0x00, 1}, {0x1f, 0xff}, {0x10, 0x10}, {0xf0, 3}, {0x80, 7}};
	for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		for (size_t i = 0; i < 32; i++)
			raw[i] = (uint8_t)(counters[c].start + i * counters[c].step);
		encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
		expect_weak(text);
		FAILS_SECRET("PORTCULLIS_SECRET_KEY", text, kv("PORTCULLIS_SECRET_KEY", text));
		assert_non_null(strstr(err, "counting"));
	}
	/* one byte off a counter is not a counter (nor anything else refused) */
	for (size_t i = 0; i < 32; i++)
		raw[i] = (uint8_t)(0x80 + i);
	raw[31] = 0x01;
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(LOAD(true, kv("PORTCULLIS_SECRET_KEY", text)), 0);
	pc_config_free(&cfg);
	/* printable ASCII text as the 32 bytes, and text with one byte outside
	 * 0x20-0x7e, which passes */
	static const char *const phrases[] = {"correct horse battery staple 42!", "~!@#$%^&*()_+{}|:<>?`-=[];,./abc",
	                                      "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&"};
	for (size_t p = 0; p < sizeof(phrases) / sizeof(phrases[0]); p++) {
		assert_int_equal(strlen(phrases[p]), 32);
		encode(text, sizeof(text), (const uint8_t *)phrases[p], 32, sodium_base64_VARIANT_ORIGINAL);
		expect_weak(text);
		FAILS_SECRET("PORTCULLIS_SECRET_KEY", text, kv("PORTCULLIS_SECRET_KEY", text));
		assert_non_null(strstr(err, "printable"));
	}
	memcpy(raw, phrases[0], 32);
	raw[5] = 0x9f;
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(LOAD(true, kv("PORTCULLIS_SECRET_KEY", text)), 0);
	pc_config_free(&cfg);

	/* placeholders, whatever their length */
	static const char *placeholders[] = {
		"changeme", "CHANGEME", "change-me", "CHANGE_ME", "secret", "SECRET", "your-secret-key",
		"your_secret_key_here", "<your secret key>", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"XXXXXXXX", "example", "placeholder", "password", "replace-me", "insecure-default",
		/* 43 characters that would decode to 32 bytes */
		"changemechangemechangemechangemechangemeAAA", "mySecretKeyForDevelopmentOnlyDoNotUseAAAAAA",
		"ChangeMe+abcdefghijklmnopqrstuvwxyz01234567=",
	};
	for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++) {
		expect_weak(placeholders[i]);
		FAILS_SECRET("PORTCULLIS_SECRET_KEY", placeholders[i], kv("PORTCULLIS_SECRET_KEY", placeholders[i]));
		assert_non_null(strstr(err, "meant to be replaced"));
	}

	/* malformed */
	randombytes_buf(raw, 32);
	raw[0] = 0xfb; /* "+" or "-" first, so the alphabets differ */
	raw[1] = 0xff;
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
	char m[160];
	size_t n = strlen(text); /* 44, one '=' */
	static const char *junk[] = {"this is not base64 but it is long enough!!", "!!!!", "Zm9v YmFy", "====",
	                             "=", "AAAA=AAAA", "\xff\xfe", "k\xdfk"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		expect_weak(junk[i]);
	/* a stray character in an otherwise valid key */
	static const char stray[] = {' ', '\t', '\n', '.', '*', '%', '\\', '"', '\'', ',', ':', (char)0xdf, (char)0x80};
	for (size_t i = 0; i < sizeof(stray); i++) {
		memcpy(m, text, n + 1);
		m[5] = stray[i];
		expect_weak(m);
		snprintf(m, sizeof(m), "%s%c", text, stray[i]); /* trailing */
		if (stray[i] == '\n') /* a file may end in one newline */
			FAILS_SECRET("PORTCULLIS_SECRET_KEY", m, kv("PORTCULLIS_SECRET_KEY", m));
		else
			expect_weak(m);
		snprintf(m, sizeof(m), "%c%s", stray[i], text); /* leading */
		expect_weak(m);
	}
	/* padding: doubled, missing one of two, in the middle */
	snprintf(m, sizeof(m), "%s=", text);
	expect_weak(m);
	snprintf(m, sizeof(m), "%s==", text);
	expect_weak(m);
	memcpy(m, text, n + 1);
	m[10] = '=';
	expect_weak(m);
	/* mixed alphabets: the standard text with one url-safe character */
	assert_true(text[0] == '+' && text[1] == '/');
	memcpy(m, text, n + 1);
	m[1] = '_';
	expect_weak(m);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY", m, kv("PORTCULLIS_SECRET_KEY", m));
	assert_non_null(strstr(err, "mixes"));
	/* non-canonical: spare bits set in the last character */
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	memcpy(m, text, 44);
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t v = (size_t)(strchr(alpha, m[42]) - alpha);
	m[42] = alpha[v | 1];
	expect_weak(m);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY", m, kv("PORTCULLIS_SECRET_KEY", m));
	assert_non_null(strstr(err, "malformed"));
	/* the same with padding */
	snprintf(m + 43, sizeof(m) - 43, "=");
	expect_weak(m);
}

/* A weak key message never names the value even when fixed words of the
 * message could overlap with it (the e2e suite checks every 8 characters). */
/* The settings of CSRF, API keys, audit and tokens. */
/* PORTCULLIS_SMTP_*: the URL forms, what the URL needs, what needs the
 * URL, and the password as a secret (never in an error). */
static void test_smtp(void **state)
{
	(void)state;
#define NEEDS "PORTCULLIS_PUBLIC_URL=https://auth.example.com", "PORTCULLIS_SMTP_FROM=noreply@auth.example.com"
	OK("PORTCULLIS_SMTP_URL=smtp://mail.example.com:587", NEEDS);
	assert_string_equal(cfg.smtp_url, "smtp://mail.example.com:587");
	assert_false(cfg.smtp_implicit_tls);
	assert_false(cfg.smtp_insecure);
	pc_config_free(&cfg);
	OK("PORTCULLIS_SMTP_URL=smtps://[::1]:465/", NEEDS, "PORTCULLIS_SMTP_USER=mailer",
	   "PORTCULLIS_SMTP_PASSWORD=pa55 word!", "PORTCULLIS_SMTP_CA_FILE=/etc/ssl/private-ca.pem");
	assert_string_equal(cfg.smtp_url, "smtps://[::1]:465");
	assert_true(cfg.smtp_implicit_tls);
	assert_string_equal(cfg.keys->smtp_password, "pa55 word!");
	pc_config_free(&cfg);
	OK("PORTCULLIS_SMTP_URL=smtp://127.0.0.1:25", NEEDS, "PORTCULLIS_SMTP_INSECURE=true");
	assert_true(cfg.smtp_insecure);
	pc_config_free(&cfg);
	OK("PORTCULLIS_SMTP_URL=");
	assert_string_equal(cfg.smtp_url, "");
	pc_config_free(&cfg);
	const char *bad[] = {"http://mail.example.com", "smtp://", "smtp://user:pw@mail.example.com",
	                     "smtp://MAIL.example.com", "smtp://mail.example.com:0", "smtp://mail.example.com/x",
	                     "smtp://mail.example.com?x", "mail.example.com:587", "smtp:/mail.example.com"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FAILS("PORTCULLIS_SMTP_URL", kv("PORTCULLIS_SMTP_URL", bad[i]), NEEDS);
	/* what the URL needs */
	FAILS("PORTCULLIS_SMTP_FROM", "PORTCULLIS_SMTP_URL=smtp://m.example.com", "PORTCULLIS_PUBLIC_URL=https://a.example");
	FAILS("PORTCULLIS_SMTP_FROM", "PORTCULLIS_SMTP_URL=smtp://m.example.com", "PORTCULLIS_PUBLIC_URL=https://a.example",
	      "PORTCULLIS_SMTP_FROM=Bob <bob@a.example>");
	FAILS("PORTCULLIS_SMTP_FROM", "PORTCULLIS_SMTP_URL=smtp://m.example.com", "PORTCULLIS_PUBLIC_URL=https://a.example",
	      "PORTCULLIS_SMTP_FROM=b\xc3\xa9@a.example");
	FAILS("PORTCULLIS_PUBLIC_URL", "PORTCULLIS_SMTP_URL=smtp://m.example.com", "PORTCULLIS_SMTP_FROM=n@a.example");
	FAILS("PORTCULLIS_SMTP_INSECURE", "PORTCULLIS_SMTP_URL=smtps://m.example.com", NEEDS,
	      "PORTCULLIS_SMTP_INSECURE=true");
	/* what needs the URL */
	FAILS("PORTCULLIS_SMTP_FROM", "PORTCULLIS_SMTP_FROM=n@a.example");
	FAILS("PORTCULLIS_SMTP_USER", "PORTCULLIS_SMTP_USER=u");
	FAILS("PORTCULLIS_SMTP_CA_FILE", "PORTCULLIS_SMTP_CA_FILE=/x.pem");
	FAILS("PORTCULLIS_SMTP_INSECURE", "PORTCULLIS_SMTP_INSECURE=true");
	expect_fail_list("PORTCULLIS_SMTP_PASSWORD", "hunter2hunter2", true,
	                 (const char *[]){env_key_a, "PORTCULLIS_SMTP_PASSWORD=hunter2hunter2", NULL});
	expect_fail_list("PORTCULLIS_SMTP_PASSWORD", "hunter2\x01x", true,
	                 (const char *[]){env_key_a, "PORTCULLIS_SMTP_URL=smtp://m.example.com", NEEDS,
	                                  "PORTCULLIS_SMTP_PASSWORD=hunter2\x01x", NULL});
#undef NEEDS
}

static void test_feature_values(void **state)
{
	(void)state;
	OK("PORTCULLIS_ALLOWED_ORIGINS=https://app.example.com,http://localhost:3000,https://[::1]:8443");
	assert_int_equal(cfg.n_allowed_origins, 3);
	assert_string_equal(cfg.allowed_origins[1], "http://localhost:3000");
	pc_config_free(&cfg);
	const char *bad_origins[] = {"https://app.example.com/", "ftp://x.example", "https://APP.example.com",
	                             "https://", "app.example.com", "https://a.example,,https://b.example",
	                             "https://a.example:123456", "https://a.example/path", "null"};
	for (size_t i = 0; i < sizeof(bad_origins) / sizeof(bad_origins[0]); i++)
		FAILS("PORTCULLIS_ALLOWED_ORIGINS", kv("PORTCULLIS_ALLOWED_ORIGINS", bad_origins[i]));

	OK("PORTCULLIS_PUBLIC_URL=https://auth.example.com:8443");
	assert_string_equal(cfg.public_url, "https://auth.example.com:8443");
	assert_string_equal(cfg.public_origin, "https://auth.example.com:8443");
	assert_string_equal(cfg.public_host, "auth.example.com");
	assert_true(cfg.public_https);
	pc_config_free(&cfg);
	OK("PORTCULLIS_PUBLIC_URL=http://app.localhost/.portcullis");
	assert_string_equal(cfg.public_origin, "http://app.localhost");
	assert_string_equal(cfg.public_host, "app.localhost");
	assert_false(cfg.public_https);
	pc_config_free(&cfg);
	OK("PORTCULLIS_PUBLIC_URL=");
	assert_string_equal(cfg.public_url, "");
	pc_config_free(&cfg);
	const char *bad_public[] = {"https://auth.example.com/", "auth.example.com", "https://AUTH.example.com",
	                            "https://a.example/x?y=1", "https://a.example/x#y", "https://a.example//x",
	                            "https://a.example/../x", "https://a.example/x/..", "ftp://a.example",
	                            "https://a.example/x%2f", "https://user@a.example"};
	for (size_t i = 0; i < sizeof(bad_public) / sizeof(bad_public[0]); i++)
		FAILS("PORTCULLIS_PUBLIC_URL", kv("PORTCULLIS_PUBLIC_URL", bad_public[i]));

	/* the WebAuthn RP ID: the public host by default, or a registrable suffix */
	OK("PORTCULLIS_PUBLIC_URL=https://auth.example.com:8443");
	assert_string_equal(cfg.webauthn_rp_id, "auth.example.com");
	pc_config_free(&cfg);
	OK("PORTCULLIS_PUBLIC_URL=https://auth.example.com", "PORTCULLIS_WEBAUTHN_RP_ID=example.com");
	assert_string_equal(cfg.webauthn_rp_id, "example.com");
	pc_config_free(&cfg);
	OK("PORTCULLIS_PUBLIC_URL=http://localhost:8080");
	assert_string_equal(cfg.webauthn_rp_id, "localhost");
	pc_config_free(&cfg);
	OK("PORTCULLIS_PUBLIC_URL=http://127.0.0.1:8080"); /* an IP: passkeys off */
	assert_string_equal(cfg.webauthn_rp_id, "");
	pc_config_free(&cfg);
	OK("PORTCULLIS_WEBAUTHN_RP_ID=");
	assert_string_equal(cfg.webauthn_rp_id, "");
	pc_config_free(&cfg);
	FAILS("PORTCULLIS_WEBAUTHN_RP_ID", kv("PORTCULLIS_WEBAUTHN_RP_ID", "example.com"));
	const char *bad_rp[] = {"ample.com", "other.com", "com", "EXAMPLE.com", ".example.com", "x.auth.example.com",
	                        "example.com."};
	for (size_t i = 0; i < sizeof(bad_rp) / sizeof(bad_rp[0]); i++)
		FAILS("PORTCULLIS_WEBAUTHN_RP_ID", kv("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
		      kv("PORTCULLIS_WEBAUTHN_RP_ID", bad_rp[i]));

	OK("PORTCULLIS_API_KEYS_CAN_ADMIN=true", "PORTCULLIS_AUDIT_LOG=off", "PORTCULLIS_AUDIT_FORMAT=text",
	   "PORTCULLIS_ISSUER=https://auth.example.com", "PORTCULLIS_AUDIENCE=app",
	   "PORTCULLIS_ACCESS_TOKEN_LIFETIME=5m", "PORTCULLIS_JWT_LEEWAY=0", "PORTCULLIS_REFRESH_TOKEN_LIFETIME=1h",
	   "PORTCULLIS_REFRESH_LIMIT=1");
	assert_true(cfg.api_keys_can_admin);
	assert_string_equal(cfg.audit_log, "off");
	assert_int_equal(cfg.audit_format, PC_AUDIT_TEXT);
	assert_string_equal(cfg.issuer, "https://auth.example.com");
	assert_string_equal(cfg.audience, "app");
	assert_int_equal(cfg.access_token_lifetime_s, 300);
	assert_int_equal(cfg.jwt_leeway_s, 0);
	assert_int_equal(cfg.refresh_token_lifetime_s, 3600);
	assert_int_equal(cfg.refresh_limit, 1);
	pc_config_free(&cfg);

	OK("PORTCULLIS_TRUSTED_PROXIES=");
	assert_false(cfg.api_keys_can_admin);
	assert_string_equal(cfg.audit_log, "stderr");
	assert_int_equal(cfg.audit_format, PC_AUDIT_JSON);
	assert_string_equal(cfg.issuer, "portcullis");
	assert_int_equal(cfg.jwt_alg, PC_CFG_JWT_HS256);
	assert_int_equal(cfg.access_token_lifetime_s, 900);
	assert_int_equal(cfg.jwt_leeway_s, 30);
	assert_int_equal(cfg.refresh_token_lifetime_s, 30 * 86400);
	assert_int_equal(cfg.refresh_limit, 5);
	assert_false(cfg.keys->has_jwt_seed);
	pc_config_free(&cfg);

	FAILS("PORTCULLIS_API_KEYS_CAN_ADMIN", "PORTCULLIS_API_KEYS_CAN_ADMIN=yes");
	FAILS("PORTCULLIS_AUDIT_FORMAT", "PORTCULLIS_AUDIT_FORMAT=xml");
	FAILS("PORTCULLIS_JWT_ALG", "PORTCULLIS_JWT_ALG=none");
	FAILS("PORTCULLIS_JWT_ALG", "PORTCULLIS_JWT_ALG=hs256");
	FAILS("PORTCULLIS_JWT_LEEWAY", "PORTCULLIS_JWT_LEEWAY=61");
	FAILS("PORTCULLIS_ACCESS_TOKEN_LIFETIME", "PORTCULLIS_ACCESS_TOKEN_LIFETIME=25h");
	FAILS("PORTCULLIS_REFRESH_LIMIT", "PORTCULLIS_REFRESH_LIMIT=0");
	FAILS("PORTCULLIS_REFRESH_TOKEN_LIFETIME", "PORTCULLIS_ACCESS_TOKEN_LIFETIME=2h",
	      "PORTCULLIS_REFRESH_TOKEN_LIFETIME=1h");
	FAILS("PORTCULLIS_ISSUER", "PORTCULLIS_ISSUER=a\tb");
	FAILS("PORTCULLIS_VERIFY_CACHE", "PORTCULLIS_VERIFY_CACHE=61s");
	FAILS("PORTCULLIS_REDIS_URL", "PORTCULLIS_REDIS_URL=rediss://h:6379");
	FAILS("PORTCULLIS_REDIS_URL", "PORTCULLIS_REDIS_URL=http://h:6379");
	FAILS("PORTCULLIS_REDIS_URL", "PORTCULLIS_REDIS_PASSWORD_FILE=/nonexistent");
	FAILS("PORTCULLIS_REDIS_PASSWORD_FILE", "PORTCULLIS_REDIS_URL=redis://127.0.0.1:1", "PORTCULLIS_REDIS_PASSWORD_FILE=/nonexistent");
	{
		char path[] = "/tmp/pc-redis-pw-XXXXXX";
		int fd = mkstemp(path);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "s3cret-redis-pass\n", 18), 18);
		close(fd);
		OK("PORTCULLIS_REDIS_URL=redis://:inline-pass@127.0.0.1:6379/2", kv("PORTCULLIS_REDIS_PASSWORD_FILE", path),
		   "PORTCULLIS_REVOCATION_FAIL_OPEN=true");
		assert_string_equal(cfg.keys->redis_password, "s3cret-redis-pass");
		assert_true(cfg.revocation_fail_open);
		char out[8192];
		FILE *f = fmemopen(out, sizeof(out), "w");
		pc_config_print(&cfg, f);
		fclose(f);
		assert_null(strstr(out, "s3cret-redis-pass"));
		assert_null(strstr(out, "inline-pass"));
		pc_config_free(&cfg);
		unlink(path);
	}
	FAILS("PORTCULLIS_ALLOWED_REDIRECTS", "PORTCULLIS_ALLOWED_REDIRECTS=//evil.example");
	/* an assertion the app cannot verify with the JWKS is refused */
	FAILS("PORTCULLIS_AUTH_ASSERTION", "PORTCULLIS_AUTH_ASSERTION=true");
	FAILS("PORTCULLIS_AUTH_ASSERTION", "PORTCULLIS_AUTH_ASSERTION=true", "PORTCULLIS_JWT_ALG=HS256");
	OK("PORTCULLIS_VERIFY_CACHE=0", "PORTCULLIS_VERIFY_CSRF=false", "PORTCULLIS_AUTH_ASSERTION=true",
	   "PORTCULLIS_JWT_ALG=EdDSA", kv("PORTCULLIS_JWT_SIGNING_KEY", key_b),
	   "PORTCULLIS_ALLOWED_REDIRECTS=https://app.example.com");
	assert_int_equal(cfg.verify_cache_s, 0);
	assert_false(cfg.verify_csrf);
	assert_true(cfg.auth_assertion);
	assert_int_equal(cfg.n_allowed_redirects, 1);
	pc_config_free(&cfg);

	/* the Ed25519 signing key: required with EdDSA, refused without it,
	 * never equal to the master key, checked like every secret */
	FAILS("PORTCULLIS_JWT_SIGNING_KEY", "PORTCULLIS_JWT_ALG=EdDSA");
	FAILS("PORTCULLIS_JWT_SIGNING_KEY", kv("PORTCULLIS_JWT_SIGNING_KEY", key_b));
	FAILS("PORTCULLIS_JWT_SIGNING_KEY", "PORTCULLIS_JWT_ALG=EdDSA", kv("PORTCULLIS_JWT_SIGNING_KEY", key_a));
	FAILS_SECRET("PORTCULLIS_JWT_SIGNING_KEY", "changemechangemechangemechangeme", env_key_a,
	             "PORTCULLIS_JWT_ALG=EdDSA", "PORTCULLIS_JWT_SIGNING_KEY=changemechangemechangemechangeme");
	OK("PORTCULLIS_JWT_ALG=EdDSA", kv("PORTCULLIS_JWT_SIGNING_KEY", key_b));
	assert_int_equal(cfg.jwt_alg, PC_CFG_JWT_EDDSA);
	assert_true(cfg.keys->has_jwt_seed);
	char out[8192];
	FILE *f = fmemopen(out, sizeof(out), "w");
	pc_config_print(&cfg, f);
	fclose(f);
	assert_no_leak(out, key_b);
	assert_non_null(strstr(out, "PORTCULLIS_JWT_SIGNING_KEY=(set, 32 bytes)\n"));
	pc_config_free(&cfg);
}

static void test_error_wording(void **state)
{
	(void)state;
	static const char *values[] = {"this is not base64 but it is long enough!!", "not valid base64 at all",
	                               "this key is empty"};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char line[600];
		FAILS_SECRET("PORTCULLIS_SECRET_KEY", values[i], kv("PORTCULLIS_SECRET_KEY", values[i]));
		/* as main prints it */
		snprintf(line, sizeof(line), "portcullis: configuration error: %s", err);
		assert_no_leak(line, values[i]);
	}
}

static void test_previous_key(void **state)
{
	(void)state;
	char text[64];
	/* the same key, same or other encoding */
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_PREVIOUS", key_a, env_key_a, kv("PORTCULLIS_SECRET_KEY_PREVIOUS", key_a));
	assert_non_null(strstr(err, "same key"));
	encode(text, sizeof(text), key_a_raw, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_PREVIOUS", text, env_key_a, kv("PORTCULLIS_SECRET_KEY_PREVIOUS", text));
	/* a key whose id collides with the current one */
	uint8_t raw[32];
	do
		randombytes_buf(raw, 32);
	while (key_id(raw) != key_id(key_a_raw));
	encode(text, sizeof(text), raw, 32, sodium_base64_VARIANT_ORIGINAL);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY", text, env_key_a, kv("PORTCULLIS_SECRET_KEY_PREVIOUS", text));
	assert_non_null(strstr(err, "PORTCULLIS_SECRET_KEY_PREVIOUS"));
	assert_non_null(strstr(err, "generate a new key"));
	/* swapped roles are fine */
	assert_int_equal(LOAD(true, kv("PORTCULLIS_SECRET_KEY", key_b), kv("PORTCULLIS_SECRET_KEY_PREVIOUS", key_a)), 0);
	expect_keyset(&cfg.keys->current, key_b_raw);
	expect_keyset(&cfg.keys->previous, key_a_raw);
}

static void test_key_files(void **state)
{
	(void)state;
	char path[128], path2[128], body[8192];
	snprintf(path, sizeof(path), "%s/good.key", tmpdir);

	static const char *endings[] = {"", "\n", "\r\n"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "%s%s", key_a, endings[i]);
		write_file(path, body, strlen(body));
		assert_int_equal(LOAD(true, kv("PORTCULLIS_SECRET_KEY_FILE", path)), 0);
		expect_keyset(&cfg.keys->current, key_a_raw);
		pc_config_free(&cfg);
	}
	/* previous from a file */
	snprintf(path2, sizeof(path2), "%s/prev.key", tmpdir);
	snprintf(body, sizeof(body), "%s\n", key_b);
	write_file(path2, body, strlen(body));
	assert_int_equal(LOAD(true, env_key_a, kv("PORTCULLIS_SECRET_KEY_PREVIOUS_FILE", path2)), 0);
	expect_keyset(&cfg.keys->previous, key_b_raw);
	pc_config_free(&cfg);

	/* more than one line ending, other whitespace, a second line */
	static const char *bad_endings[] = {"\n\n", "\r", "\n\r", " \n", " ", "\t", "\r\n\n", "\nX", "\n#comment\n"};
	for (size_t i = 0; i < sizeof(bad_endings) / sizeof(bad_endings[0]); i++) {
		snprintf(body, sizeof(body), "%s%s", key_a, bad_endings[i]);
		write_file(path, body, strlen(body));
		FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", key_a, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	}
	/* the whole line plain `keygen` prints is accepted when NAME is the
	 * file's own variable (the old key file kept as _PREVIOUS too) ... */
	snprintf(body, sizeof(body), "PORTCULLIS_SECRET_KEY=%s\n", key_a);
	write_file(path, body, strlen(body));
	assert_int_equal(LOAD(true, kv("PORTCULLIS_SECRET_KEY_FILE", path)), 0);
	expect_keyset(&cfg.keys->current, key_a_raw);
	pc_config_free(&cfg);
	snprintf(body, sizeof(body), "PORTCULLIS_SECRET_KEY=%s\n", key_b);
	write_file(path2, body, strlen(body));
	assert_int_equal(LOAD(true, env_key_a, kv("PORTCULLIS_SECRET_KEY_PREVIOUS_FILE", path2)), 0);
	expect_keyset(&cfg.keys->previous, key_b_raw);
	pc_config_free(&cfg);
	/* ... and refused, naming `keygen --value`, for another variable */
	snprintf(body, sizeof(body), "PORTCULLIS_SECRET_KEY_PREVIOUS=%s\n", key_a);
	write_file(path, body, strlen(body));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", key_a, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	assert_non_null(strstr(err, "keygen --value"));
	snprintf(body, sizeof(body), "PORTCULLIS_SECRET_KEY=%s\n", key_b);
	write_file(path2, body, strlen(body));
	FAILS_SECRET("PORTCULLIS_JWT_SIGNING_KEY_FILE", key_b, env_key_a, "PORTCULLIS_JWT_ALG=EdDSA",
	             kv("PORTCULLIS_JWT_SIGNING_KEY_FILE", path2));
	assert_non_null(strstr(err, "keygen --value"));
	/* a NAME=value line with a bad value is judged on the value */
	snprintf(body, sizeof(body), "PORTCULLIS_SECRET_KEY=\n");
	write_file(path, body, strlen(body));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	/* a NUL inside */
	memcpy(body, key_a, 44);
	body[20] = '\0';
	write_file(path, body, 44);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", key_a + 21, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	/* empty file, only a newline */
	write_file(path, "", 0);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	write_file(path, "\n", 1);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	/* 4 KiB is read; 4 KiB + 1 is refused as too large, not as malformed */
	memset(body, 'A', 4096);
	write_file(path, body, 4096);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	assert_null(strstr(err, "larger"));
	write_file(path, body, 4097);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	assert_non_null(strstr(err, "larger"));
	snprintf(body, sizeof(body), "%s\n", key_a);
	memset(body + strlen(body), 'A', 5000);
	write_file(path, body, strlen(key_a) + 1 + 5000);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", key_a, kv("PORTCULLIS_SECRET_KEY_FILE", path));

	/* missing file, a directory, /dev/null, an empty path */
	snprintf(path2, sizeof(path2), "%s/missing.key", tmpdir);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, kv("PORTCULLIS_SECRET_KEY_FILE", path2));
	assert_null(strstr(err, "missing.key"));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, kv("PORTCULLIS_SECRET_KEY_FILE", tmpdir));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, "PORTCULLIS_SECRET_KEY_FILE=/dev/null");
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, "PORTCULLIS_SECRET_KEY_FILE=");
	FAILS("PORTCULLIS_SECRET_KEY_PREVIOUS_FILE", "PORTCULLIS_SECRET_KEY_PREVIOUS_FILE=");
	/* a FIFO is not read (it could block start-up) */
	snprintf(path2, sizeof(path2), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path2, 0600), 0);
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", NULL, kv("PORTCULLIS_SECRET_KEY_FILE", path2));
	/* unreadable (root reads everything: skipped then) */
	snprintf(body, sizeof(body), "%s\n", key_a);
	snprintf(path2, sizeof(path2), "%s/unreadable.key", tmpdir);
	write_file(path2, body, strlen(body));
	assert_int_equal(chmod(path2, 0), 0);
	if (geteuid() != 0) {
		FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", key_a, kv("PORTCULLIS_SECRET_KEY_FILE", path2));
		assert_non_null(strstr(err, "ermission"));
	}

	/* both forms set */
	snprintf(body, sizeof(body), "%s\n", key_a);
	write_file(path, body, strlen(body));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", key_a, env_key_a, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	assert_non_null(strstr(err, "both"));
	assert_int_equal(chmod(path2, 0600), 0);
	snprintf(body, sizeof(body), "%s\n", key_b);
	write_file(path2, body, strlen(body));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_PREVIOUS_FILE", key_b, env_key_a, env_prev_b,
	             kv("PORTCULLIS_SECRET_KEY_PREVIOUS_FILE", path2));
	/* the same key in the env and the file: still ambiguous */
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_FILE", key_a, env_key_a, kv("PORTCULLIS_SECRET_KEY_FILE", path));
	/* previous (from a file) equal to current (from the env) */
	snprintf(body, sizeof(body), "%s\n", key_a);
	write_file(path2, body, strlen(body));
	FAILS_SECRET("PORTCULLIS_SECRET_KEY_PREVIOUS", key_a, env_key_a, kv("PORTCULLIS_SECRET_KEY_PREVIOUS_FILE", path2));
}

/* ---- keygen -------------------------------------------------------------------------- */

static void test_keygen(void **state)
{
	(void)state;
	char *out[3] = {0};
	size_t len;
	for (int i = 0; i < 3; i++) {
		FILE *f = open_memstream(&out[i], &len);
		assert_non_null(f);
		assert_int_equal(pc_config_keygen(f), 0);
		fclose(f);
		/* PORTCULLIS_SECRET_KEY=<43 chars>=\n */
		assert_int_equal(strlen(out[i]), 22 + 44 + 1);
		assert_int_equal(strncmp(out[i], "PORTCULLIS_SECRET_KEY=", 22), 0);
		assert_int_equal(out[i][22 + 43], '=');
		assert_int_equal(out[i][22 + 44], '\n');
		for (size_t j = 22; j < 22 + 43; j++)
			assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", out[i][j]));
		/* loads back, as the env line it is */
		out[i][22 + 44] = '\0';
		assert_int_equal(LOAD(true, out[i]), 0);
		uint8_t raw[32];
		size_t n;
		assert_int_equal(sodium_base642bin(raw, sizeof(raw), out[i] + 22, 44, NULL, &n, NULL,
		                                   sodium_base64_VARIANT_ORIGINAL), 0);
		assert_int_equal(n, 32);
		expect_keyset(&cfg.keys->current, raw);
		pc_config_free(&cfg);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(out[i], out[j]);
	}
	for (int i = 0; i < 3; i++)
		free(out[i]);
	/* --value: the bare value, which loads from a key file */
	char *bare = NULL;
	FILE *g = open_memstream(&bare, &len);
	assert_non_null(g);
	assert_int_equal(pc_config_keygen_value(g), 0);
	fclose(g);
	assert_int_equal(strlen(bare), 44 + 1);
	assert_int_equal(bare[44], '\n');
	char path[128];
	snprintf(path, sizeof(path), "%s/bare.key", tmpdir);
	write_file(path, bare, strlen(bare));
	assert_int_equal(LOAD(true, kv("PORTCULLIS_SECRET_KEY_FILE", path)), 0);
	pc_config_free(&cfg);
	free(bare);
	/* a closed stream is an error */
	FILE *f = fopen("/dev/full", "w");
	if (f != NULL) {
		assert_int_equal(pc_config_keygen(f), -1);
		fclose(f);
	}
}

/* ---- URL masking ---------------------------------------------------------------------- */

static void test_mask_url(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"postgresql://u:hunter2@127.0.0.1/db", "postgresql://u:****@127.0.0.1/db"},
		{"postgres://user:pa%40ss@db:5432/x?sslmode=require", "postgres://user:****@db:5432/x?sslmode=require"},
		{"postgres://:hunter2@h/db", "postgres://:****@h/db"},
		{"postgres://u:@h/db", "postgres://u:****@h/db"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h:5432/db", "postgres://h:5432/db"},
		{"postgres://h/db", "postgres://h/db"},
		{"sqlite:./var/portcullis.db", "sqlite:./var/portcullis.db"},
		{"sqlite:/tmp/a:b@c", "sqlite:/tmp/a:b@c"},
		/* unescaped '@' or '/' in the password: still hidden */
		{"postgres://u:p@ss/w@rd@h/db", "postgres://u:****@h/db"},
		/* query and keyword forms */
		{"postgresql://u@127.0.0.1/db?password=swordfish99&sslmode=disable",
		 "postgresql://u@127.0.0.1/db?password=****&sslmode=disable"},
		{"postgres://h/db?sslmode=disable&password=swordfish99", "postgres://h/db?sslmode=disable&password=****"},
		{"postgres://h/db?PASSWORD=swordfish99", "postgres://h/db?PASSWORD=****"},
		{"postgres://h/db?sslpassword=swordfish99&x=1", "postgres://h/db?sslpassword=****&x=1"},
		{"postgres://u:hunter2@h/db?password=swordfish99", "postgres://u:****@h/db?password=****"},
		{"host=h password=swordfish99 dbname=x", "host=h password=**** dbname=x"},
		{"host=h password='sword fish99' dbname=x", "host=h password=**** dbname=x"},
		{"host=h password='sw\\'ordfish99' dbname=x", "host=h password=**** dbname=x"},
		{"postgres://h/db?password=", "postgres://h/db?password="},
		{"", ""},
	};
	char out[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pc_url_mask(out, sizeof(out), cases[i].in);
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("mask(\"%s\") = \"%s\", want \"%s\"", cases[i].in, out, cases[i].out);
		assert_null(strstr(out, "hunter2"));
		assert_null(strstr(out, "swordfish"));
	}
	/* truncation never shows more than the masked form */
	for (size_t cap = 1; cap < 40; cap++) {
		memset(out, 'Z', sizeof(out));
		pc_url_mask(out, cap, "postgres://u:hunter2@h/db?password=swordfish99");
		assert_true(strlen(out) < cap);
		assert_null(strstr(out, "hunt"));
		assert_null(strstr(out, "fish")); /* "swor" is in "password" */
	}
	pc_url_mask(out, sizeof(out), NULL);
	assert_string_equal(out, "");
	pc_url_mask(NULL, 0, "x");
}

/* ---- printing ------------------------------------------------------------------------- */


static void test_print(void **state)
{
	(void)state;
	OK(env_prev_b, "PORTCULLIS_DATABASE_URL=postgresql://u:hunter2@127.0.0.1/db?password=swordfish99",
	   "PORTCULLIS_LISTEN=127.0.0.1:0,[::1]:8443", "PORTCULLIS_TRUSTED_PROXIES=10.0.0.0/8,fd00::/8,192.0.2.7",
	   "PORTCULLIS_HEADER_TIMEOUT=1500ms", "PORTCULLIS_BODY_TIMEOUT=2m", "PORTCULLIS_SESSION_LIFETIME=36h",
	   "PORTCULLIS_SESSION_IDLE_TIMEOUT=90m", "PORTCULLIS_PASSWORD_MEMLIMIT=20000KiB",
	   "PORTCULLIS_COOKIE_DOMAIN=example.com", "PORTCULLIS_XSS_PROTECTION=block", "PORTCULLIS_ACCESS_LOG=false",
	   "PORTCULLIS_THREADS=3", "PORTCULLIS_LOGIN_WINDOW=61");
	char *s = print_to_string();
	assert_non_null(strstr(s, "\nPORTCULLIS_SECRET_KEY=(set, 32 bytes)\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_SECRET_KEY_PREVIOUS=(set, 32 bytes)\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_DATABASE_URL=postgresql://u:****@127.0.0.1/db?password=****\n"));
	assert_int_equal(strncmp(s, "PORTCULLIS_LISTEN=127.0.0.1:0,[::1]:8443\n", 41), 0);
	assert_non_null(strstr(s, "\nPORTCULLIS_TRUSTED_PROXIES=10.0.0.0/8,fd00::/8,192.0.2.7/32\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_HEADER_TIMEOUT=1500ms\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_BODY_TIMEOUT=2m\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_IDLE_TIMEOUT=1m\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_SESSION_LIFETIME=36h\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_SESSION_IDLE_TIMEOUT=90m\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_PASSWORD_MEMLIMIT=20000KiB\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_LOGIN_WINDOW=61s\n"));
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "swordfish"));
	assert_no_leak(s, key_a);
	assert_no_leak(s, key_b);

	/* one line per variable, in table order, and it loads back the same */
	struct pc_config first = cfg;
	first.keys = NULL;
	pc_config_free(&cfg);
	const char *list[64];
	size_t n = 0;
	list[n++] = env_key_a;
	char *line = s;
	for (size_t i = 0; i < pc_config_n_vars; i++) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		size_t l = strlen(pc_config_vars[i].name);
		assert_int_equal(strncmp(line, pc_config_vars[i].name, l), 0);
		assert_int_equal(line[l], '=');
		if (!pc_config_vars[i].secret && strstr(line, "DATABASE_URL") == NULL)
			list[n++] = line;
		line = nl + 1;
	}
	assert_string_equal(line, "");
	list[n++] = "PORTCULLIS_DATABASE_URL=postgresql://u:hunter2@127.0.0.1/db?password=swordfish99";
	list[n] = NULL;
	ok_list(list);
	struct pc_config again = cfg;
	again.keys = NULL;
	assert_memory_equal(&again, &first, sizeof(again));
	free(s);
	pc_config_free(&cfg);

	/* without keys */
	assert_int_equal(LOAD(false, "PATH=/bin"), 0);
	s = print_to_string();
	assert_non_null(strstr(s, "\nPORTCULLIS_SECRET_KEY=(not set)\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_SECRET_KEY_PREVIOUS=(not set)\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_TRUSTED_PROXIES=\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_COOKIE_DOMAIN=\n"));
	free(s);
	/* current only */
	OK("PATH=/bin");
	s = print_to_string();
	assert_non_null(strstr(s, "\nPORTCULLIS_SECRET_KEY=(set, 32 bytes)\n"));
	assert_non_null(strstr(s, "\nPORTCULLIS_SECRET_KEY_PREVIOUS=(not set)\n"));
	assert_no_leak(s, key_a);
	free(s);
}

/* ---- the error buffer -------------------------------------------------------------------- */

static void test_err_buffer(void **state)
{
	(void)state;
	char small[8];
	memset(small, 'Z', sizeof(small));
	const char *env[] = {"PORTCULLIS_LISTNE=1", NULL};
	assert_int_equal(pc_config_load(&cfg, (char *const *)env, true, small, sizeof(small)), -1);
	assert_int_equal(strlen(small), 7);
	assert_int_equal(pc_config_load(&cfg, (char *const *)env, true, NULL, 0), -1);
	/* success clears it */
	strcpy(err, "stale");
	assert_int_equal(LOADK("PATH=/bin"), 0);
	assert_string_equal(err, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_defaults, teardown_one),
		cmocka_unit_test_teardown(test_table, teardown_one),
		cmocka_unit_test_teardown(test_defaults_as_text, teardown_one),
		cmocka_unit_test_teardown(test_keys_not_needed, teardown_one),
		cmocka_unit_test_teardown(test_listen_valid, teardown_one),
		cmocka_unit_test_teardown(test_listen_invalid, teardown_one),
		cmocka_unit_test_teardown(test_listen_unix, teardown_one),
		cmocka_unit_test_teardown(test_threads, teardown_one),
		cmocka_unit_test_teardown(test_timeouts, teardown_one),
		cmocka_unit_test_teardown(test_connections, teardown_one),
		cmocka_unit_test_teardown(test_body_bytes, teardown_one),
		cmocka_unit_test_teardown(test_proxies, teardown_one),
		cmocka_unit_test_teardown(test_proxies_unix, teardown_one),
		cmocka_unit_test_teardown(test_addr_trusted, teardown_one),
		cmocka_unit_test_teardown(test_switches, teardown_one),
		cmocka_unit_test_teardown(test_database_url, teardown_one),
		cmocka_unit_test_teardown(test_cookie_domain, teardown_one),
		cmocka_unit_test_teardown(test_path_prefix, teardown_one),
		cmocka_unit_test_teardown(test_session_durations, teardown_one),
		cmocka_unit_test_teardown(test_password_cost, teardown_one),
		cmocka_unit_test_teardown(test_login_limits, teardown_one),
		cmocka_unit_test_teardown(test_unknown_variables, teardown_one),
		cmocka_unit_test_teardown(test_empty_values, teardown_one),
		cmocka_unit_test_teardown(test_key_encodings, teardown_one),
		cmocka_unit_test_teardown(test_weak_keys, teardown_one),
		cmocka_unit_test_teardown(test_error_wording, teardown_one),
		cmocka_unit_test_teardown(test_feature_values, teardown_one),
		cmocka_unit_test_teardown(test_smtp, teardown_one),
		cmocka_unit_test_teardown(test_previous_key, teardown_one),
		cmocka_unit_test_teardown(test_key_files, teardown_one),
		cmocka_unit_test_teardown(test_keygen, teardown_one),
		cmocka_unit_test_teardown(test_mask_url, teardown_one),
		cmocka_unit_test_teardown(test_print, teardown_one),
		cmocka_unit_test_teardown(test_err_buffer, teardown_one),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
