/*
 * spawn.c: starting a child on a PTY or on pipes, as an account, in a cgroup;
 * resizing its PTY and signalling its group or session. See spawn.h.
 */
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/sched.h>

#include "contain.h"

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
/*
 * vfork() as clone3(), so that the child can start inside its cgroup
 * (CLONE_INTO_CGROUP): writing "0" to cgroup.procs instead migrates the child,
 * and a migration waits for an RCU grace period (~1 ms here, 5 ms and more on
 * a loaded machine). Like glibc's vfork, the return address is kept in a
 * register across the system call, so that the child, which runs first on the
 * same stack, cannot overwrite it for the parent. Returns the pid, 0 in the
 * child, or -errno. (ASan builds use vfork: its runtime must see the vfork.)
 */
#define HAVE_CLONE3_VFORK 1
__asm__(".text\n"
	".globl spawn_clone3_vfork\n"
	".hidden spawn_clone3_vfork\n"
	".type spawn_clone3_vfork, @function\n"
	"spawn_clone3_vfork:\n"
	"	endbr64\n"
	"	pop %rdx\n"
	"	mov $435, %eax\n"      /* __NR_clone3 */
	"	syscall\n"
	"	push %rdx\n"
	"	ret\n"
	".size spawn_clone3_vfork, .-spawn_clone3_vfork\n");
long spawn_clone3_vfork(struct clone_args *args, size_t size) __attribute__((returns_twice));

/* Cleared when the kernel or a seccomp filter refuses clone3: vfork from then on. */
static int clone3_usable = 1;
#endif

/* What a child that gave up writes on the error pipe before _exit. */
struct spawn_fail {
	int step;
	int err;
};

/*
 * Raw system calls for the id switch: glibc's setresuid() and friends signal
 * every thread of the process to keep their ids in step, and a vfork child
 * shares ptyd's memory (and so glibc's idea of its threads); the kernel call
 * changes only the calling task, which is exactly the child.
 */
static int sys_setgroups(int n, const gid_t *list)
{
	return (int)syscall(SYS_setgroups, (size_t)n, list);
}

static int sys_setresgid(gid_t g)
{
	return (int)syscall(SYS_setresgid, g, g, g);
}

static int sys_setresuid(uid_t u)
{
	return (int)syscall(SYS_setresuid, u, u, u);
}

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return (int)syscall(SYS_capget, &hdr, data);
}

static int caps_clear(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Empties the bounding set (needs CAP_SETPCAP, checked by the caller). */
static int bounding_clear(void)
{
	int cap;

	for (cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
			return -1;
	return 0;
}

/* 1 when the kernel's ids, groups and capabilities are exactly acct's and none. */
static int ids_verified(const struct account *acct)
{
	struct __user_cap_data_struct data[2];
	gid_t got[ACCOUNT_GROUPS_MAX + 1];
	uid_t r, e, s;
	gid_t rg, eg, sg;
	int n, i, j;

	if (getresuid(&r, &e, &s) != 0 || r != acct->uid || e != acct->uid || s != acct->uid)
		return 0;
	if (getresgid(&rg, &eg, &sg) != 0 || rg != acct->gid || eg != acct->gid || sg != acct->gid)
		return 0;
	n = getgroups(ACCOUNT_GROUPS_MAX + 1, got);
	if (n < 0 || n != acct->ngroups)
		return 0;
	for (i = 0; i < n; i++) {
		for (j = 0; j < acct->ngroups; j++)
			if (got[i] == acct->groups[j])
				break;
		if (j == acct->ngroups)
			return 0;
	}
	if (acct->uid == 0)
		return 1;
	if (caps_get(data) != 0)
		return 0;
	for (i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return 0;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SETUID, 0, 0) > 0)
		return 0;
	return 1;
}

static _Noreturn void child_fail(int errfd, enum spawn_step step, int err)
{
	struct spawn_fail f = { (int)step, err };

	if (write(errfd, &f, sizeof(f)) < 0)
		_exit(126);
	_exit(step == SPAWN_EXEC ? 127 : 126);
}

/* Becomes acct with no capability left; see spawn.h, step 5. */
static void child_switch(const struct spawn_req *req, int errfd)
{
	const struct account *acct = req->acct;

	/* account_can_drop_bounding is a system call only, like the rest here. */
	if (req->no_new_privs && account_can_drop_bounding() && bounding_clear() != 0)
		child_fail(errfd, SPAWN_CAPS, errno);
	if (sys_setgroups(acct->ngroups, acct->groups) != 0)
		child_fail(errfd, SPAWN_GROUPS, errno);
	if (sys_setresgid(acct->gid) != 0)
		child_fail(errfd, SPAWN_GID, errno);
	if (sys_setresuid(acct->uid) != 0)
		child_fail(errfd, SPAWN_UID, errno);
	/* Ambient capabilities (the unit's CAP_SETUID/CAP_SETGID) would survive
	 * exec. A root account (--allow-root) keeps root's capabilities. */
	if (acct->uid != 0 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		child_fail(errfd, SPAWN_CAPS, errno);
	if (acct->uid != 0 && caps_clear() != 0)
		child_fail(errfd, SPAWN_CAPS, errno);
	if (req->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		child_fail(errfd, SPAWN_CAPS, errno);
	if (!ids_verified(acct))
		child_fail(errfd, SPAWN_VERIFY, 0);
}

/* Every descriptor from `from` (3, or 4 when fd 3 is the child's) up but keep is closed. */
static void close_others(int from, int keep)
{
	if (keep > from && syscall(SYS_close_range, (unsigned)from, (unsigned)keep - 1, 0U) == 0 &&
	    syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0)
		return;
	if (keep == from && syscall(SYS_close_range, (unsigned)from + 1, ~0U, 0U) == 0)
		return;
	for (int fd = from; fd < 65536; fd++)
		if (fd != keep)
			close(fd);
}

/*
 * Runs in the child between vfork and exec, on ptyd's memory: only system
 * calls and stack variables here, nothing that allocates or writes globals.
 * fds: the child's stdin, stdout, stderr (PTY slave three times, or pipes).
 */
static _Noreturn void child_exec(const struct spawn_req *req, const int fds[3], int errfd,
				 int join_cgroup)
{
	struct sigaction sa;
	sigset_t none;
	char msg[512];
	int n, sig, i, src[3];

	if (join_cgroup && write(contain_procs_fd(req->cg), "0", 1) != 1)
		child_fail(errfd, SPAWN_CGROUP, errno);

	/* Dispositions set to "ignore" (SIGPIPE) survive exec; the mask does too. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (setsid() < 0)
		child_fail(errfd, SPAWN_SETUP, errno);
	if (req->use_pty && ioctl(fds[0], TIOCSCTTY, 0) < 0)
		child_fail(errfd, SPAWN_SETUP, errno);
	/* The error pipe goes above stdio first, so the dup2s cannot clobber it. */
	if (errfd < 3) {
		errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 3);
		if (errfd < 0)
			_exit(126);
	}
	/* A source in 0..2 (ptyd started with a standard descriptor closed) moves
	 * up first, so that no dup2 below overwrites a later one's source. */
	for (i = 0; i < 3; i++) {
		src[i] = fds[i];
		if (src[i] < 3 && src[i] != i && (src[i] = fcntl(fds[i], F_DUPFD, 3)) < 0)
			child_fail(errfd, SPAWN_SETUP, errno);
	}
	for (i = 0; i < 3; i++) {
		if (src[i] != i ? dup2(src[i], i) < 0 : fcntl(i, F_SETFD, 0) != 0)
			child_fail(errfd, SPAWN_SETUP, errno);
	}
	if (req->fd3 > 2) {
		/* The error pipe and the script move out of the way of 0..3 first. */
		if (errfd <= 3 && (errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 4)) < 0)
			_exit(126);
		if (req->fd3 != 3 && dup2(req->fd3, 3) < 0)
			child_fail(errfd, SPAWN_SETUP, errno);
		if (fcntl(3, F_SETFD, 0) != 0)
			child_fail(errfd, SPAWN_SETUP, errno);
	}
	/* Nothing of ptyd's (listener, other sessions' PTYs) may leak into a child. */
	close_others(req->fd3 > 2 ? 4 : 3, errfd);

	if (req->acct != NULL)
		child_switch(req, errfd);
	if (req->cwd == NULL || chdir(req->cwd) != 0)
		if (req->cwd_required || chdir("/") != 0)
			child_fail(errfd, req->cwd_required ? SPAWN_CWD : SPAWN_SETUP, errno);
	execvpe(req->path, req->argv, req->envp);
	i = errno;
	n = snprintf(msg, sizeof(msg), "ptyd: cannot run %s: %s%s\n", req->path, strerror(i),
		     req->use_pty ? "\r" : "");
	if (n > 0 && write(2, msg, (size_t)n) < 0)
		child_fail(errfd, SPAWN_EXEC, i);
	child_fail(errfd, SPAWN_EXEC, i);
}

static int set_ours(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
		return -1;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

pid_t spawn_child(const struct spawn_req *req, struct spawn_io *io)
{
	struct winsize ws = { .ws_row = req->rows, .ws_col = req->cols };
	struct spawn_fail f;
	int ours[3] = { -1, -1, -1 }, theirs[3] = { -1, -1, -1 }, ep[2] = { -1, -1 };
	int m = -1, s = -1, p[2], saved, i;
	volatile long r;
	pid_t pid;
	ssize_t n;

	io->master = io->in = io->out = io->err = -1;
	io->fail_step = SPAWN_OK;
	io->fail_errno = 0;
	if (req->use_pty) {
		if (openpty(&m, &s, NULL, NULL, &ws) != 0)
			return -1;
		if (set_ours(m) != 0)
			goto fail;
		theirs[0] = theirs[1] = theirs[2] = s;
	} else {
		for (i = 0; i < 3; i++) {
			if (i == 0 && req->stdin_null) {
				theirs[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
				if (theirs[0] < 0)
					goto fail;
				continue;
			}
			if (pipe2(p, O_CLOEXEC) != 0)
				goto fail;
			/* stdin: the child reads p[0]; stdout, stderr: it writes p[1]. */
			ours[i] = i == 0 ? p[1] : p[0];
			theirs[i] = i == 0 ? p[0] : p[1];
			if (set_ours(ours[i]) != 0)
				goto fail;
		}
	}
	if (pipe2(ep, O_CLOEXEC) != 0)
		goto fail;
	/* vfork: no copy of ptyd's page tables, so spawning stays cheap with
	 * 1,000 sessions open; the parent waits only until the exec. */
	/* volatile: set on both sides of calls that return twice. */
	r = -ENOSYS;
#ifdef HAVE_CLONE3_VFORK
	if (req->cg != NULL && clone3_usable) {
		struct clone_args ca;

		memset(&ca, 0, sizeof(ca));
		ca.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
		ca.exit_signal = SIGCHLD;
		ca.cgroup = (unsigned long long)contain_dir_fd(req->cg);
		r = spawn_clone3_vfork(&ca, sizeof(ca));
		if (r == 0)
			child_exec(req, theirs, ep[1], 0);
		/* Before 5.7, or a filter: the child joins through cgroup.procs. */
		if (r == -ENOSYS || r == -EPERM || r == -EINVAL || r == -E2BIG) {
			clone3_usable = 0;
			r = -ENOSYS;
		}
	}
#endif
	if (r == -ENOSYS) {
		r = vfork();
		if (r == 0)
			child_exec(req, theirs, ep[1], req->cg != NULL);
		if (r < 0)
			r = -errno;
	}
	if (r < 0) {
		errno = (int)-r;
		goto fail;
	}
	pid = (pid_t)r;
	close_fd(&ep[1]);
	if (s >= 0)
		close(s);
	else
		for (i = 0; i < 3; i++)
			close_fd(&theirs[i]);
	/* EOF (0 bytes) once the exec closed the child's end: it runs. */
	do
		n = read(ep[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == (ssize_t)sizeof(f)) {
		io->fail_step = (enum spawn_step)f.step;
		io->fail_errno = f.err;
	}
	io->master = m;
	io->in = ours[0];
	io->out = ours[1];
	io->err = ours[2];
	return pid;
fail:
	saved = errno;
	close_fd(&ep[0]);
	close_fd(&ep[1]);
	close_fd(&m);
	if (s >= 0)
		close(s);
	else
		for (i = 0; i < 3; i++)
			close_fd(&theirs[i]);
	for (i = 0; i < 3; i++)
		close_fd(&ours[i]);
	errno = saved;
	return -1;
}

const char *spawn_step_name(enum spawn_step step)
{
	switch (step) {
	case SPAWN_OK: return "none";
	case SPAWN_CGROUP: return "join the cgroup";
	case SPAWN_SETUP: return "set up the session";
	case SPAWN_GROUPS: return "setgroups";
	case SPAWN_GID: return "setresgid";
	case SPAWN_UID: return "setresuid";
	case SPAWN_CAPS: return "drop capabilities";
	case SPAWN_VERIFY: return "verify ids and capabilities";
	case SPAWN_CWD: return "change to the working directory";
	case SPAWN_EXEC: return "exec";
	}
	return "unknown step";
}

int pty_resize(int master, unsigned short cols, unsigned short rows)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	return ioctl(master, TIOCSWINSZ, &ws);
}

/*
 * kill() as the child's account when ptyd may not signal it itself. The
 * shipped ptyd runs as its own account and holds CAP_SETUID to start shells;
 * the kernel lets a process signal another whose real or saved uid is its
 * effective uid. So for the one call this thread takes the account's uid as
 * its effective uid, then returns to its own: no CAP_KILL, which would reach
 * every process on the machine. The raw system call changes this thread's
 * credentials only (glibc's setresuid changes every thread's, the log and
 * recording writers' too); the real and saved uids stay ptyd's, so the
 * account never gains a hold on ptyd (signals, ptrace and /proc look at them).
 */
static int kill_as(pid_t target, int sig, uid_t as)
{
	uid_t own = geteuid();
	int rc, err;

	if (kill(target, sig) == 0)
		return 0;
	if (errno != EPERM || as == SPAWN_NO_UID || as == own)
		return -1;
	if (syscall(SYS_setresuid, (uid_t)-1, as, (uid_t)-1) != 0) {
		errno = EPERM;
		return -1;
	}
	rc = kill(target, sig);
	err = errno;
	/* Back to the real uid: always allowed; carrying on as the account is not. */
	if (syscall(SYS_setresuid, (uid_t)-1, own, (uid_t)-1) != 0)
		abort();
	errno = err;
	return rc;
}

int spawn_signal_group(pid_t pgid, int sig, uid_t as)
{
	if (pgid <= 1)
		return 0;
	if (kill_as(-pgid, sig, as) != 0 && errno != ESRCH)
		return -1;
	return 0;
}

/* The session id from /proc/PID/stat ("pid (comm) state ppid pgrp session ..."), or -1. */
static pid_t proc_session(const char *pid)
{
	char path[64], buf[512], *p;
	int fd, pgrp, sid, ppid;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: parse from the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %d %d %d", &ppid, &pgrp, &sid) != 3)
		return -1;
	return (pid_t)sid;
}

int spawn_signal_session(pid_t sid, int sig, uid_t as)
{
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (sid <= 1)
		return 0;
	d = opendir("/proc");
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (proc_session(de->d_name) != sid)
			continue;
		found++;
		if (sig != 0)
			kill_as((pid_t)atoi(de->d_name), sig, as);
	}
	closedir(d);
	return found;
}
