/*
 * pg_harness.h — a throwaway PostgreSQL cluster for the store tests.
 *
 * Header-only (the test glob builds tests/unit/<area>/test_*.c, one
 * executable each); include it after <cmocka.h>. One cluster per test
 * binary, started on first use:
 *
 *   - binaries: $PC_PG_BINDIR, else the newest /usr/lib/postgresql/<v>/bin
 *     (Debian's layout; initdb and postgres are not on PATH there), else
 *     PATH;
 *   - initdb into a mkdtemp directory (UTF8, C locale, no fsync). PostgreSQL
 *     refuses to run as root, so when the tests run as root (CI, containers)
 *     the directory is chowned to the `postgres` system user that Debian's
 *     postgresql package creates (else `nobody`) and initdb and postgres are
 *     exec'd after setgid/setuid to it in the forked child: no su, runuser,
 *     PAM or shell quoting involved;
 *   - postgres runs as OUR CHILD (not daemonised by pg_ctl), listening on
 *     127.0.0.1 at a free port and on a socket in the temp directory only,
 *     with PR_SET_PDEATHSIG = SIGQUIT: even a SIGKILLed test binary takes its
 *     cluster down (SIGQUIT is pg_ctl's "-m immediate"). The normal end
 *     (atexit) and SIGINT/SIGTERM/SIGHUP/SIGABRT (ASan aborts) send SIGQUIT
 *     to that pid, and to nothing else: a system cluster is never touched;
 *     then the temp directory is removed (only SIGKILL leaves it behind);
 *   - roles: pc_admin (superuser, trust on the private socket only) for the
 *     tests' own look-and-tamper connections, pc_app (password, SCRAM over
 *     TCP) for the store, so the store is tested the way it is deployed;
 *   - one fresh database per test case (CREATE DATABASE t<n> OWNER pc_app),
 *     dropped WITH (FORCE) after it.
 *
 * PC_SKIP_POSTGRES=1 skips the PostgreSQL variants; otherwise missing
 * binaries are a failure, so a CI without them cannot pass by accident.
 */
#ifndef PC_TEST_PG_HARNESS_H
#define PC_TEST_PG_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PGH_FN static __attribute__((unused))

static struct {
	int state; /* 0: not tried, 1: running, -1: failed, 2: skipped */
	char bindir[256];
	char dir[64];      /* the temp directory: data/, the socket, the log */
	char password[33]; /* pc_app's */
	int port;
	uid_t uid;         /* who runs postgres (getuid() when not root) */
	gid_t gid;
	volatile pid_t pid; /* the postmaster, our child */
	pid_t owner;        /* the test process (not a forked child of it) */
	int next_db;
	PGconn *admin;     /* cached pc_admin connection ... */
	char admin_db[32]; /* ... to this database */
} pgh;

static int pgh_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void pgh_kill_cluster(void)
{
	pid_t pid = pgh.pid;
	if (pid > 0 && getpid() == pgh.owner) {
		kill(pid, SIGQUIT);
		waitpid(pid, NULL, 0);
		pgh.pid = 0;
	}
}

static void pgh_atexit(void)
{
	if (getpid() != pgh.owner)
		return; /* a forked test child that exit()ed */
	if (pgh.admin != NULL) {
		PQfinish(pgh.admin);
		pgh.admin = NULL;
	}
	pgh_kill_cluster();
	if (pgh.dir[0] != '\0') {
		nftw(pgh.dir, pgh_rm_one, 16, FTW_DEPTH | FTW_PHYS);
		pgh.dir[0] = '\0';
	}
}

static void pgh_on_signal(int sig)
{
	/* only async-signal-safe calls: stop the postmaster, wait for it, let
	 * rm(1) take the temp directory, and die of the signal */
	if (pgh.pid > 0 && getpid() == pgh.owner) {
		kill(pgh.pid, SIGQUIT);
		waitpid(pgh.pid, NULL, 0);
		pgh.pid = 0;
		if (pgh.dir[0] != '\0') {
			pid_t rm = fork();
			if (rm == 0) {
				execl("/bin/rm", "rm", "-rf", pgh.dir, (char *)NULL);
				_exit(127);
			}
			if (rm > 0)
				waitpid(rm, NULL, 0);
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Finds initdb and postgres; 0 or -1. */
static int pgh_find_bindir(void)
{
	const char *env = getenv("PC_PG_BINDIR");
	char p[512];
	if (env != NULL && env[0] != '\0') {
		snprintf(pgh.bindir, sizeof(pgh.bindir), "%s", env);
		snprintf(p, sizeof(p), "%s/initdb", pgh.bindir);
		return access(p, X_OK) == 0 ? 0 : -1;
	}
	glob_t g;
	int best = -1;
	if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			int v = atoi(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"));
			char post[512];
			snprintf(post, sizeof(post), "/usr/lib/postgresql/%d/bin/postgres", v);
			if (v > best && access(g.gl_pathv[i], X_OK) == 0 && access(post, X_OK) == 0) {
				best = v;
				snprintf(pgh.bindir, sizeof(pgh.bindir), "/usr/lib/postgresql/%d/bin", v);
			}
		}
		globfree(&g);
	}
	if (best >= 0)
		return 0;
	const char *path = getenv("PATH");
	while (path != NULL && *path != '\0') {
		const char *end = strchr(path, ':');
		size_t n = end != NULL ? (size_t)(end - path) : strlen(path);
		snprintf(p, sizeof(p), "%.*s/initdb", (int)n, path);
		if (n > 0 && access(p, X_OK) == 0) {
			snprintf(pgh.bindir, sizeof(pgh.bindir), "%.*s", (int)n, path);
			return 0;
		}
		path = end != NULL ? end + 1 : NULL;
	}
	return -1;
}

/* fork + drop to pgh.uid + exec argv[0] in bindir; stdout/stderr to the
 * log. deathsig: the child dies with us. Returns the pid or -1. */
static pid_t pgh_spawn(char *const argv[], bool deathsig)
{
	char prog[512], logp[128];
	snprintf(prog, sizeof(prog), "%s/%s", pgh.bindir, argv[0]);
	snprintf(logp, sizeof(logp), "%s/log", pgh.dir);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (chdir(pgh.dir) != 0)
		_exit(126);
	if (geteuid() == 0) {
		if (fd >= 0 && fchown(fd, pgh.uid, pgh.gid) != 0)
			_exit(126);
		if (setgroups(0, NULL) != 0 || setgid(pgh.gid) != 0 || setuid(pgh.uid) != 0)
			_exit(126);
	}
	/* after the uid change, which would clear it */
	if (deathsig && (prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || getppid() != parent))
		_exit(126);
	execv(prog, argv);
	_exit(127);
}

static int pgh_run(char *const argv[])
{
	pid_t pid = pgh_spawn(argv, false);
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void pgh_print_log(void)
{
	char logp[128], line[512];
	snprintf(logp, sizeof(logp), "%s/log", pgh.dir);
	FILE *fp = fopen(logp, "r");
	if (fp == NULL)
		return;
	fprintf(stderr, "---- %s ----\n", logp);
	while (fgets(line, sizeof(line), fp) != NULL)
		fputs(line, stderr);
	fclose(fp);
}

static int pgh_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* The pc_admin conninfo for db (socket, trust). */
static void pgh_admin_conninfo(char *out, size_t cap, const char *db)
{
	snprintf(out, cap, "host=%s port=%d user=pc_admin dbname=%s connect_timeout=10", pgh.dir,
	         pgh.port, db);
}

/* Starts postgres on pgh.port and waits until it answers; 0 or -1. */
static int pgh_postmaster(void)
{
	char data[128], port[16], sock[96];
	snprintf(data, sizeof(data), "%s/data", pgh.dir);
	snprintf(port, sizeof(port), "%d", pgh.port);
	snprintf(sock, sizeof(sock), "unix_socket_directories=%s", pgh.dir);
	char *const argv[] = {"postgres", "-D", data, "-p", port, "-c", sock,
	                      "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
	                      "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
	                      "-c", "max_connections=300", "-c", "log_min_messages=fatal",
	                      "-c", "log_min_error_statement=panic", NULL};
	pid_t pid = pgh_spawn(argv, true);
	if (pid < 0)
		return -1;
	pgh.pid = pid;
	char ci[256];
	pgh_admin_conninfo(ci, sizeof(ci), "postgres");
	for (int i = 0; i < 600; i++) {
		if (PQping(ci) == PQPING_OK)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			pgh.pid = 0;
			return -1;
		}
		usleep(100 * 1000);
	}
	pgh_kill_cluster();
	return -1;
}

static void pgh_no_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

PGH_FN PGconn *pgh_connect(const char *db)
{
	char ci[256];
	pgh_admin_conninfo(ci, sizeof(ci), db);
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg harness: connect to %s: %s", db, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, pgh_no_notice, NULL);
	/* the tests' own connection tampers even with a read-only database */
	PQclear(PQexec(c, "SET default_transaction_read_only = off"));
	return c;
}

/* The cached pc_admin connection to db (reconnects when broken). */
static PGconn *pgh_admin(const char *db)
{
	if (pgh.admin != NULL && (strcmp(pgh.admin_db, db) != 0 || PQstatus(pgh.admin) != CONNECTION_OK)) {
		PQfinish(pgh.admin);
		pgh.admin = NULL;
	}
	if (pgh.admin == NULL) {
		pgh.admin = pgh_connect(db);
		snprintf(pgh.admin_db, sizeof(pgh.admin_db), "%s", db);
	}
	return pgh.admin;
}

/* Runs sql (one or more statements) as pc_admin in db; the first column of
 * the first row of the last result as an integer (0 when none); NULL-safe.
 * Returns -1 in *ok on failure with the message printed. */
static int64_t pgh_exec(const char *db, const char *sql, int *ok)
{
	*ok = 0;
	PGconn *c = pgh_admin(db);
	if (c == NULL)
		return 0;
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int64_t v = 0;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		fprintf(stderr, "pg harness: %s: %s", sql, PQerrorMessage(c));
		*ok = -1;
	} else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
		const char *s = PQgetvalue(r, 0, 0);
		v = strcmp(s, "t") == 0 ? 1 : strtoll(s, NULL, 10);
	}
	PQclear(r);
	return v;
}

PGH_FN int64_t pgh_raw(const char *db, const char *sql)
{
	int ok;
	int64_t v = pgh_exec(db, sql, &ok);
	if (ok != 0)
		fail_msg("raw sql failed: %s", sql);
	return v;
}

/* 1 running, 2 skipped, -1 failed (the reason printed). Idempotent. */
PGH_FN int pgh_start(void)
{
	if (pgh.state != 0)
		return pgh.state;
	pgh.state = -1;
	const char *skip = getenv("PC_SKIP_POSTGRES");
	if (skip != NULL && strcmp(skip, "1") == 0) {
		fprintf(stderr, "pg harness: PC_SKIP_POSTGRES=1: PostgreSQL variants skipped\n");
		return pgh.state = 2;
	}
	if (pgh_find_bindir() != 0) {
		fprintf(stderr, "pg harness: no PostgreSQL server binaries (initdb, postgres) in "
		                "$PC_PG_BINDIR, /usr/lib/postgresql/*/bin or PATH: install the "
		                "postgresql package (scripts/deps.sh) or set PC_SKIP_POSTGRES=1\n");
		return -1;
	}
	pgh.owner = getpid();
	pgh.uid = getuid();
	pgh.gid = getgid();
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		if (pw == NULL)
			pw = getpwnam("nobody");
		if (pw == NULL || pw->pw_uid == 0) {
			fprintf(stderr, "pg harness: running as root needs an unprivileged user "
			                "(postgres or nobody) to run the cluster\n");
			return -1;
		}
		pgh.uid = pw->pw_uid;
		pgh.gid = pw->pw_gid;
	}
	strcpy(pgh.dir, "/tmp/pc_pg_XXXXXX");
	if (mkdtemp(pgh.dir) == NULL) {
		perror("pg harness: mkdtemp");
		pgh.dir[0] = '\0';
		return -1;
	}
	atexit(pgh_atexit);
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGABRT};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], pgh_on_signal);
	if (geteuid() == 0 && chown(pgh.dir, pgh.uid, pgh.gid) != 0) {
		perror("pg harness: chown");
		return -1;
	}
	uint8_t rnd[16];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(pgh.password, sizeof(pgh.password), rnd, sizeof(rnd));

	char data[128];
	snprintf(data, sizeof(data), "%s/data", pgh.dir);
	char *const initdb[] = {"initdb", "-D", data, "-U", "pc_admin", "-E", "UTF8", "--no-locale",
	                        "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
	                        "--no-instructions", NULL};
	time_t t0 = time(NULL);
	if (pgh_run(initdb) != 0) {
		fprintf(stderr, "pg harness: initdb failed\n");
		pgh_print_log();
		return -1;
	}
	int started = -1;
	for (int attempt = 0; attempt < 5 && started != 0; attempt++) {
		pgh.port = pgh_free_port();
		started = pgh.port > 0 ? pgh_postmaster() : -1;
	}
	if (started != 0) {
		fprintf(stderr, "pg harness: postgres did not start\n");
		pgh_print_log();
		return -1;
	}
	char sql[160];
	snprintf(sql, sizeof(sql), "CREATE ROLE pc_app LOGIN PASSWORD '%s'", pgh.password);
	int ok;
	pgh_exec("postgres", sql, &ok);
	if (ok != 0)
		return -1;
	fprintf(stderr, "pg harness: PostgreSQL from %s on 127.0.0.1:%d in %s (%lds)\n", pgh.bindir,
	        pgh.port, pgh.dir, (long)(time(NULL) - t0));
	return pgh.state = 1;
}

/* Stops the server (fast shutdown, SIGINT: sessions are ended and the data
 * is kept, which an immediate one would not promise with synchronous_commit
 * off): every connection breaks, and new ones are refused until
 * pgh_start_server starts it again on the same port and data directory. */
PGH_FN int pgh_stop_server(void)
{
	if (pgh.admin != NULL) {
		PQfinish(pgh.admin);
		pgh.admin = NULL;
	}
	pid_t pid = pgh.pid;
	if (pid <= 0 || kill(pid, SIGINT) != 0 || waitpid(pid, NULL, 0) != pid)
		return -1;
	pgh.pid = 0;
	return 0;
}

PGH_FN int pgh_start_server(void)
{
	return pgh_postmaster();
}

/* A fresh database owned by pc_app; its name in name[32]. 0 or -1. */
PGH_FN int pgh_create_db(char name[32])
{
	char sql[96];
	int ok;
	snprintf(name, 32, "t%d", ++pgh.next_db);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER pc_app", name);
	pgh_exec("postgres", sql, &ok);
	return ok;
}

PGH_FN void pgh_drop_db(const char *name)
{
	char sql[96];
	int ok;
	if (pgh.admin != NULL && strcmp(pgh.admin_db, name) == 0) {
		PQfinish(pgh.admin);
		pgh.admin = NULL;
	}
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	pgh_exec("postgres", sql, &ok);
}

/* The store's URL for db (pc_app, password, TCP). */
PGH_FN void pgh_url(char *out, size_t cap, const char *db)
{
	snprintf(out, cap, "postgresql://pc_app:%s@127.0.0.1:%d/%s", pgh.password, pgh.port, db);
}

/* Ends every other session on db and waits until they are gone. */
PGH_FN void pgh_terminate(const char *db)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
	         " WHERE datname = '%s' AND pid <> pg_backend_pid()",
	         db);
	pgh_raw(db, sql);
}

#endif
