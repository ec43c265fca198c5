/*
 * redis_harness.h — throwaway redis-server processes for the kv tests.
 *
 * rh_start() runs `redis-server` in the foreground (fork + exec) on a free
 * loopback port with its own temporary directory, no RDB snapshots, its log
 * in that directory, and returns once it answers PING (or NOAUTH). rh_stop()
 * sends SIGTERM and reaps it (SIGKILL after 5 s); rh_start() again reuses the
 * same port and directory, so an AOF written before is loaded again.
 * Every running server is also killed when the test process exits, is
 * interrupted or aborts (atexit + signal handlers), and by the kernel if the
 * test process dies any other way (PR_SET_PDEATHSIG).
 */
#ifndef PC_TEST_REDIS_HARNESS_H
#define PC_TEST_REDIS_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RH_MAX_SERVERS 8

struct rh_server {
	pid_t pid;           /* 0: not running */
	int port;            /* 0: pick a free one at the first start */
	char dir[64];        /* "": a fresh temporary directory at the first start */
	const char *password;  /* NULL: none; else --requirepass */
	bool appendonly;
};

static pid_t rh_pids[RH_MAX_SERVERS];

/* Kills and reaps every server still running (kill and waitpid are
 * async-signal-safe: this also runs in the signal handler). */
static void rh_kill_all(void)
{
	for (int i = 0; i < RH_MAX_SERVERS; i++)
		if (rh_pids[i] > 0)
			kill(rh_pids[i], SIGKILL);
	for (int i = 0; i < RH_MAX_SERVERS; i++)
		if (rh_pids[i] > 0) {
			waitpid(rh_pids[i], NULL, 0);
			rh_pids[i] = 0;
		}
}

static void rh_on_fatal(int sig)
{
	rh_kill_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline void rh_install_reaper(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	atexit(rh_kill_all);
	const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = rh_on_fatal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESETHAND;
		sigaction(sigs[i], &sa, NULL);
	}
}

static inline void rh_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static inline double rh_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Is redis-server on PATH? */
static inline bool rh_available(void)
{
	const char *path = getenv("PATH");
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
		char f[4200];
		snprintf(f, sizeof(f), "%s/redis-server", d);
		if (access(f, X_OK) == 0)
			return true;
	}
	return false;
}

static inline int rh_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* true when something answers PING on the port with +PONG or -NOAUTH (a
 * server still loading its AOF answers -LOADING: not ready). */
static inline bool rh_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	bool ok = false;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[16] = {0};
		if (poll(&p, 1, 500) == 1 && recv(fd, buf, sizeof(buf) - 1, 0) > 0)
			ok = strncmp(buf, "+PONG", 5) == 0 || strncmp(buf, "-NOAUTH", 7) == 0;
	}
	close(fd);
	return ok;
}

static inline void rh_register(pid_t old, pid_t pid)
{
	for (int i = 0; i < RH_MAX_SERVERS; i++)
		if (rh_pids[i] == old) {
			rh_pids[i] = pid;
			return;
		}
}

/* Starts (or restarts) s; 0 once it answers, -1 with a message on stderr. */
static inline int rh_start(struct rh_server *s)
{
	rh_install_reaper();
	if (s->dir[0] == '\0') {
		snprintf(s->dir, sizeof(s->dir), "/tmp/pc-redis-test-XXXXXX");
		if (mkdtemp(s->dir) == NULL) {
			perror("mkdtemp");
			return -1;
		}
	}
	if (s->port == 0 && (s->port = rh_free_port()) <= 0)
		return -1;
	char port[16], log[128];
	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	const char *argv[24];
	int n = 0;
	argv[n++] = "redis-server";
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--dir";
	argv[n++] = s->dir;
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = s->appendonly ? "yes" : "no";
	argv[n++] = "--daemonize";
	argv[n++] = "no";
	if (s->password != NULL) {
		argv[n++] = "--requirepass";
		argv[n++] = s->password;
	}
	argv[n] = NULL;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* a clean signal state for the server */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	s->pid = pid;
	rh_register(0, pid);
	for (double end = rh_now() + 10; rh_now() < end; rh_sleep_ms(10)) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			rh_register(pid, 0);
			s->pid = 0;
			fprintf(stderr, "redis-server exited at start (see %s)\n", log);
			return -1;
		}
		if (rh_answers(s->port))
			return 0;
	}
	fprintf(stderr, "redis-server did not answer within 10 s (see %s)\n", log);
	return -1;
}

/* SIGTERM (a clean shutdown: the AOF is flushed), reaped; SIGKILL after 5 s. */
static inline void rh_stop(struct rh_server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	int st;
	double end = rh_now() + 5;
	while (waitpid(s->pid, &st, WNOHANG) == 0) {
		if (rh_now() > end) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
			break;
		}
		rh_sleep_ms(5);
	}
	rh_register(s->pid, 0);
	s->pid = 0;
}

static int rh_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Stops s and removes its directory. */
static inline void rh_destroy(struct rh_server *s)
{
	rh_stop(s);
	if (s->dir[0] != '\0')
		nftw(s->dir, rh_rm, 8, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

#endif
