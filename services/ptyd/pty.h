/*
 * pty.h: one child on a pseudo-terminal: spawn (openpty + fork + setsid +
 * TIOCSCTTY, clean environment, every other fd closed), resize, signals to
 * its process group, and reaping. No event loop here: session.c drives it.
 */
#ifndef PTYD_PTY_H
#define PTYD_PTY_H

#include <sys/types.h>

/* What the child runs and where; all borrowed for the call. */
struct pty_spawn {
	const char *path;     /* file to exec (looked up in the child's PATH if no '/') */
	char *const *argv;    /* argv, argv[0] may be "-bash" for a login shell */
	char *const *envp;    /* the child's whole environment */
	const char *cwd;      /* directory to start in; falls back to "/" */
	unsigned short cols;  /* initial size */
	unsigned short rows;
};

/*
 * Starts sp on a new PTY. The child is a session leader with the PTY as its
 * controlling terminal, so its pid is also its process group. Returns the pid
 * and sets *master (non-blocking, close-on-exec; the caller owns it), or -1
 * with errno set. Exec failures are reported by the child on the terminal
 * itself ("ptyd: cannot run X: ...") and it exits 127.
 */
pid_t pty_spawn(const struct pty_spawn *sp, int *master);

/* Sets the window size (the kernel sends SIGWINCH). Returns 0 or -1/errno. */
int pty_resize(int master, unsigned short cols, unsigned short rows);

/* Sends sig to the process group pgid; ESRCH (already gone) is not an error. */
int pty_signal_group(pid_t pgid, int sig);

/*
 * Sends sig to every process in session sid (the shell's pid: it called
 * setsid), found through /proc: job-control shells put each job in its own
 * process group, so the group alone misses them. sig 0 only counts. Returns
 * how many processes were found.
 */
int pty_signal_session(pid_t sid, int sig);

#endif
