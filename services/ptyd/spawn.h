/*
 * spawn.h: starting one child of ptyd, for a terminal (on a new PTY) or for a
 * command (on pipes), as a given account and inside a given cgroup; resizing
 * its PTY; signalling its process group or session. No event loop here: the
 * callers (session.c for terminals, the exec channel for commands) own the
 * descriptors returned and reap the child through SIGCHLD.
 *
 * What the child does, in order, before exec (each step checked; a failure is
 * reported to ptyd, see spawn_io.fail_*, and the child exits 126 without
 * running anything):
 *   1. joins req->cg (its cgroup.procs), so everything it starts is contained;
 *   2. default signal dispositions, empty signal mask;
 *   3. setsid(): a new session and process group whose id is the child's pid
 *      (PTY mode: the PTY becomes its controlling terminal; pipe mode: it has
 *      none, so opening /dev/tty fails at once with ENXIO);
 *   4. stdin/stdout/stderr from the PTY or the pipes; every other descriptor
 *      of ptyd is closed;
 *   5. with req->acct: setgroups (the account's groups, resolved by ptyd),
 *      setresgid, setresuid, then every capability is dropped (ambient,
 *      inheritable, permitted, effective) and all of it is verified by reading
 *      the ids, groups and capabilities back; with req->no_new_privs also
 *      PR_SET_NO_NEW_PRIVS (and the bounding set emptied when ptyd may), which
 *      stops sudo/su from working in the child;
 *   6. chdir(req->cwd), falling back to "/" (unless req->cwd_required);
 *   7. execvpe(path, argv, envp). If that fails the child writes
 *      "ptyd: cannot run PATH: REASON" on its stderr (the terminal, in PTY
 *      mode: a terminal user sees it as before) and exits 127.
 */
#ifndef PTYD_SPAWN_H
#define PTYD_SPAWN_H

#include <sys/types.h>

#include "account.h"

struct contain;

/* What to start; everything is borrowed for the call only. */
struct spawn_req {
	const char *path;             /* file to exec (looked up in PATH if it has no '/') */
	char *const *argv;            /* argv; argv[0] may be "-bash" for a login shell */
	char *const *envp;            /* the child's whole environment */
	const char *cwd;              /* directory to start in; NULL or unusable: "/" */
	const struct account *acct;   /* switch to this account; NULL: stay ptyd's own user */
	int no_new_privs;             /* with acct: PR_SET_NO_NEW_PRIVS, bounding set emptied */
	int use_pty;                  /* 1: a new PTY of cols x rows; 0: pipes */
	unsigned short cols, rows;
	int stdin_null;               /* pipe mode: stdin is /dev/null, no stdin pipe */
	int fd3;                      /* > 2: given to the child as its fd 3 (a script); else none */
	int cwd_required;             /* chdir(cwd) failing is SPAWN_CWD, not a fall back to "/" */
	struct contain *cg;           /* the cgroup to start in; NULL: none (process group only) */
};

/* Which step failed in the child (spawn_io.fail_step). */
enum spawn_step {
	SPAWN_OK = 0,
	SPAWN_CGROUP,     /* joining the cgroup */
	SPAWN_SETUP,      /* setsid, controlling terminal, descriptors */
	SPAWN_GROUPS,     /* setgroups */
	SPAWN_GID,        /* setresgid */
	SPAWN_UID,        /* setresuid */
	SPAWN_CAPS,       /* dropping capabilities, no_new_privs */
	SPAWN_VERIFY,     /* ids, groups or capabilities read back differ */
	SPAWN_CWD,        /* chdir(req->cwd) with cwd_required */
	SPAWN_EXEC,       /* execvpe */
};

/* What the caller gets; our ends are O_NONBLOCK | O_CLOEXEC and owned by the caller. */
struct spawn_io {
	int master;       /* PTY mode: the master; else -1 */
	int in;           /* pipe mode: the child's stdin (we write), -1 with stdin_null */
	int out, err;     /* pipe mode: its stdout and stderr (we read); else -1 */
	enum spawn_step fail_step; /* SPAWN_OK, or the step at which the child gave up */
	int fail_errno;   /* that step's errno (0 for SPAWN_VERIFY) */
};

/*
 * Starts req. Returns the child's pid (also its process group and session
 * id) and fills *io, or -1 with errno set when no child exists (openpty,
 * pipe or vfork failed; *io then holds only -1s).
 *
 * A child that gave up before running the program (io->fail_step != SPAWN_OK)
 * still has a pid: it has exited (126 before exec, 127 when exec failed) and
 * is reaped like any other; the descriptors are valid and reach EOF. The
 * caller can tell its client why (spawn_step_name, strerror(fail_errno)).
 */
pid_t spawn_child(const struct spawn_req *req, struct spawn_io *io);

/* "join the cgroup", "setresuid", "exec" ...: for messages. */
const char *spawn_step_name(enum spawn_step step);

/* Sets a PTY's window size (the kernel sends SIGWINCH). Returns 0 or -1/errno. */
int pty_resize(int master, unsigned short cols, unsigned short rows);

/* "No account to signal as": ptyd's own processes, or ptyd does not switch. */
#define SPAWN_NO_UID ((uid_t)-1)

/*
 * Sends sig to the process group pgid; ESRCH (already gone) is not an error.
 * as: the account the group runs as (spawn_req.acct's uid) or SPAWN_NO_UID; a
 * ptyd that holds CAP_SETUID but not CAP_KILL signals as that account.
 */
int spawn_signal_group(pid_t pgid, int sig, uid_t as);

/*
 * Sends sig to every process in session sid (the child's pid: it called
 * setsid), found through /proc: job-control shells put each job in its own
 * process group, so the group alone misses them. sig 0 only counts. Returns
 * how many processes were found. (A process that called setsid itself is in
 * no session of ours: only a cgroup, see contain.h, reaches it.)
 */
int spawn_signal_session(pid_t sid, int sig, uid_t as);

#endif
