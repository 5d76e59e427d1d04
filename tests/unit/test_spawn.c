/*
 * test_spawn.c: TAP tests of spawn.c (and contain.c) with real children:
 * pipe mode keeps stdout and stderr apart and passes stdin; /dev/tty fails at
 * once without a terminal; exec failures come back as fail_step/fail_errno;
 * PTY mode gives a session leader with a controlling terminal; no descriptor
 * of ours leaks; as root: the account switch (nobody) with no capability, and
 * a child started inside its cgroup and killed there.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "../../services/ptyd/contain.h"
#include "../../services/ptyd/spawn.h"
#include "log.h"


static char *env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };

/* Reads fd (non-blocking) until EOF or 5 s into buf; returns the length. */
static size_t slurp(int fd, char *buf, size_t cap)
{
	struct pollfd p = { fd, POLLIN, 0 };
	size_t len = 0;
	ssize_t r;

	while (len < cap - 1 && poll(&p, 1, 5000) > 0) {
		r = read(fd, buf + len, cap - 1 - len);
		if (r <= 0 && !(r < 0 && errno == EAGAIN))
			break;
		if (r > 0)
			len += (size_t)r;
	}
	buf[len] = '\0';
	return len;
}

static int wait_exit(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void close_io(struct spawn_io *io)
{
	int *fds[] = { &io->master, &io->in, &io->out, &io->err };

	for (size_t i = 0; i < 4; i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
}

static pid_t run(char **argv, int use_pty, int stdin_null, const struct account *acct,
		 struct contain *cg, struct spawn_io *io)
{
	struct spawn_req r;

	memset(&r, 0, sizeof(r));
	r.path = argv[0];
	r.argv = argv;
	r.envp = env;
	r.cwd = "/";
	r.use_pty = use_pty;
	r.cols = 80;
	r.rows = 24;
	r.stdin_null = stdin_null;
	r.acct = acct;
	r.cg = cg;
	return spawn_child(&r, io);
}

static void test_pipes(void)
{
	char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; cat; exit 3", NULL };
	char out[256], err[256];
	struct spawn_io io;
	pid_t pid = run(argv, 0, 0, NULL, NULL, &io);

	ok(pid > 0 && io.master < 0 && io.in >= 0 && io.out >= 0 && io.err >= 0 &&
	   io.fail_step == SPAWN_OK, "pipe mode: three pipes, no PTY");
	ok((fcntl(io.out, F_GETFL) & O_NONBLOCK) && (fcntl(io.in, F_GETFD) & FD_CLOEXEC),
	   "pipe mode: our ends are non-blocking and close-on-exec");
	ok(write(io.in, "in\n", 3) == 3, "stdin: written");
	close(io.in);
	io.in = -1;
	slurp(io.out, out, sizeof(out));
	slurp(io.err, err, sizeof(err));
	ok(strcmp(out, "out\nin\n") == 0, "stdout apart, with stdin passed through");
	ok(strcmp(err, "err\n") == 0, "stderr apart");
	ok(wait_exit(pid) == 3, "exit status");
	close_io(&io);
}

static void test_stdin_null_and_tty(void)
{
	char *cat[] = { "/bin/cat", NULL };
	char *tty[] = { "/bin/sh", "-c", "exec 3</dev/tty", NULL };
	char *sid[] = { "/bin/sh", "-c", "set -- $(cat /proc/$$/stat); echo \" $6\"; ls /proc/self/fd", NULL };
	char out[512], err[512], want[64];
	struct spawn_io io;
	struct timespec t0, t1;
	pid_t pid;

	pid = run(cat, 0, 1, NULL, NULL, &io);
	ok(pid > 0 && io.in < 0, "stdin_null: no stdin pipe");
	slurp(io.out, out, sizeof(out));
	ok(out[0] == '\0' && wait_exit(pid) == 0, "stdin_null: cat sees end of input at once");
	close_io(&io);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = run(tty, 0, 1, NULL, NULL, &io);
	slurp(io.err, err, sizeof(err));
	int st = wait_exit(pid);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(st != 0 && strstr(err, "No such device or address") != NULL &&
	   t1.tv_sec - t0.tv_sec < 3, "pipe mode: opening /dev/tty fails at once (ENXIO)");
	close_io(&io);

	pid = run(sid, 0, 1, NULL, NULL, &io);
	slurp(io.out, out, sizeof(out));
	snprintf(want, sizeof(want), " %d\n", (int)pid);
	ok(strstr(out, want) != NULL, "pipe mode: the child leads its own session (setsid)");
	ok(strstr(out, "\n0\n1\n2\n3\n") != NULL && strstr(out, "\n4\n") == NULL,
	   "no descriptor of ours leaks (0-2, and ls's own)");
	wait_exit(pid);
	close_io(&io);
}

static void test_exec_failure(void)
{
	char *argv[] = { "/nonexistent/prog", NULL };
	char err[256];
	struct spawn_io io;
	pid_t pid = run(argv, 0, 1, NULL, NULL, &io);

	ok(pid > 0 && io.fail_step == SPAWN_EXEC && io.fail_errno == ENOENT,
	   "exec failure: fail_step exec, fail_errno ENOENT");
	slurp(io.err, err, sizeof(err));
	ok(strstr(err, "ptyd: cannot run /nonexistent/prog: No such file") != NULL,
	   "exec failure: said on the child's stderr");
	ok(wait_exit(pid) == 127, "exec failure: exit 127, reaped as usual");
	close_io(&io);
}

static void test_pty(void)
{
	char *argv[] = { "/bin/sh", "-c", "tty; stty size", NULL };
	char out[256];
	struct spawn_io io;
	pid_t pid = run(argv, 1, 0, NULL, NULL, &io);

	ok(pid > 0 && io.master >= 0 && io.in < 0 && io.out < 0, "PTY mode: a master, no pipes");
	slurp(io.master, out, sizeof(out));
	ok(strstr(out, "/dev/pts/") != NULL && strstr(out, "24 80") != NULL,
	   "PTY mode: the PTY is the controlling terminal, at the size asked");
	ok(wait_exit(pid) == 0, "PTY mode: exit 0");
	close_io(&io);
}

static void test_account(void)
{
	char *argv[] = { "/bin/sh", "-c", "id -u; id -g; grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status",
			 NULL };
	char out[512], why[256];
	struct account nobody;
	struct spawn_io io;
	pid_t pid;

	if (geteuid() != 0) {
		tap_skip("account switch", "not root");
		return;
	}
	if (account_resolve_uid(65534, &nobody, why, sizeof(why)) != 0) {
		tap_skip("account switch", why);
		return;
	}
	pid = run(argv, 0, 1, &nobody, NULL, &io);
	slurp(io.out, out, sizeof(out));
	ok(io.fail_step == SPAWN_OK && strncmp(out, "65534\n", 6) == 0, "as nobody: uid 65534");
	ok(strstr(out, "CapPrm:\t0000000000000000") && strstr(out, "CapEff:\t0000000000000000") &&
	   strstr(out, "CapAmb:\t0000000000000000"), "as nobody: no capability left");
	ok(wait_exit(pid) == 0, "as nobody: exit 0");
	close_io(&io);
	account_free(&nobody);
}

static void test_cgroup(void)
{
	struct contain_config cc;
	char *argv[] = { "/bin/sh", "-c", "setsid sleep 300 & exec sleep 300", NULL };
	char why[512], path[64], buf[512];
	struct contain *cg;
	struct spawn_io io;
	pid_t pid;
	int fd, i, cnt = 0;
	ssize_t len;

	memset(&cc, 0, sizeof(cc));
	if (contain_init(&cc, why, sizeof(why)) != 1) {
		tap_skip("a child in its cgroup", why);
		return;
	}
	cg = contain_new("unit-test");
	ok(cg != NULL, "contain_new");
	if (cg == NULL)
		goto out;
	pid = run(argv, 0, 1, NULL, cg, &io);
	ok(pid > 0 && io.fail_step == SPAWN_OK, "spawned into the group");
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY);
	len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[len > 0 ? len : 0] = '\0';
	ok(strstr(buf, "/s-unit-test\n") != NULL, "the child starts inside the group");
	for (i = 0; i < 100 && (cnt = contain_count(cg)) < 2; i++)
		usleep(10000);
	ok(cnt == 2, "the group holds the child and what it set apart with setsid");
	ok(contain_kill(cg) == 2, "contain_kill finds both");
	ok(wait_exit(pid) == 128 + SIGKILL, "the child is killed");
	for (i = 0; i < 300 && contain_count(cg) != 0; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(10000);
	}
	ok(contain_count(cg) == 0, "the setsid one too (the group is empty)");
	close_io(&io);
	contain_free(cg);
	contain_reap();
out:
	contain_shutdown();
}

int main(void)
{
	log_init("test_spawn", LOG_FORMAT_TEXT, 0);
	/* Reaping is ours here: the setsid grandchild is re-parented to us. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	test_pipes();
	test_stdin_null_and_tty();
	test_exec_failure();
	test_pty();
	test_account();
	test_cgroup();
	return tap_done();
}
