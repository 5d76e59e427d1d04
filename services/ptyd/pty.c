/*
 * pty.c: spawning a child on a PTY, resizing it and signalling its group.
 */
#include "pty.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <sys/syscall.h>

/*
 * Runs in the child between vfork and exec, on the parent's memory: only
 * syscalls and stack variables here, nothing that allocates or writes globals.
 */
static _Noreturn void child_exec(const struct pty_spawn *sp, int slave)
{
	struct sigaction sa;
	sigset_t none;
	char msg[512];
	int n, sig;

	/* Dispositions set to "ignore" (SIGPIPE) survive exec; the mask does too. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
		_exit(126);
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		_exit(126);
	/* Nothing of ptyd's (listener, other sessions' PTYs) may leak into a shell. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
		int fd;
		for (fd = 3; fd < 65536; fd++)
			close(fd);
	}
	if (sp->cwd == NULL || chdir(sp->cwd) != 0)
		if (chdir("/") != 0)
			_exit(126);
	execvpe(sp->path, sp->argv, sp->envp);
	n = snprintf(msg, sizeof(msg), "ptyd: cannot run %s: %s\r\n", sp->path, strerror(errno));
	if (n > 0 && write(2, msg, (size_t)n) < 0)
		_exit(127);
	_exit(127);
}

pid_t pty_spawn(const struct pty_spawn *sp, int *master)
{
	struct winsize ws = { .ws_row = sp->rows, .ws_col = sp->cols };
	int m = -1, s = -1, saved;
	pid_t pid;

	if (openpty(&m, &s, NULL, NULL, &ws) != 0)
		return -1;
	if (fcntl(m, F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK) != 0)
		goto fail;
	/* vfork: no copy of ptyd's page tables, so spawning stays cheap with
	 * 1,000 sessions open; the parent waits only until the exec. */
	pid = vfork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		child_exec(sp, s);
	close(s);
	*master = m;
	return pid;
fail:
	saved = errno;
	close(m);
	close(s);
	errno = saved;
	return -1;
}

int pty_resize(int master, unsigned short cols, unsigned short rows)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	return ioctl(master, TIOCSWINSZ, &ws);
}

int pty_signal_group(pid_t pgid, int sig)
{
	if (pgid <= 1)
		return 0;
	if (kill(-pgid, sig) != 0 && errno != ESRCH)
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

int pty_signal_session(pid_t sid, int sig)
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
			kill((pid_t)atoi(de->d_name), sig);
	}
	closedir(d);
	return found;
}
