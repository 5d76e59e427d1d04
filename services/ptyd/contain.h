/*
 * contain.h: one cgroup v2 group per session, so that nothing a session
 * starts outlives it: not `setsid`, not `nohup`, not a double-forked daemon.
 *
 * Where: the cgroup2 mount is found in /proc/self/mountinfo. With --cgroup
 * PATH, groups are made under that cgroup path (created if missing). Without
 * it, under ptyd's own cgroup: when ptyd is alone there (systemd with
 * Delegate=yes) it first moves itself into the leaf "<own>/ptyd" (the "no
 * internal processes" rule: a group with processes cannot hand controllers to
 * its children) and makes the session groups beside it; otherwise (run by
 * hand) it makes "<own>/ptyd-<pid>" and the session groups in it, and removes
 * that at exit. A session group is "<base>/s-<name>".
 *
 * Where cgroup v2 is absent or not writable, contain_init says so once and
 * every contain_new returns NULL: callers then fall back to signalling the
 * process group and session (spawn.h), as before.
 *
 * No event loop here: callers call contain_reap after reaping children.
 */
#ifndef PTYD_CONTAIN_H
#define PTYD_CONTAIN_H

#include <stddef.h>

struct contain_config {
	const char *cgroup;     /* --cgroup: a cgroup path ("/webshell"), NULL: automatic */
	long long pids_max;     /* --session-pids-max, 0: none */
	long long memory_max;   /* --session-memory-max in bytes, 0: none */
	long long cpu_weight;   /* --session-cpu-weight 1..10000, 0: none */
	int check;              /* --check: report only, create and move nothing */
};

struct contain;

/*
 * Sets containment up and logs, once, where or why not. Returns 1 when
 * sessions will be contained, 0 when not (fallback), -1 when an explicit
 * --cgroup cannot be used (why says it; ptyd should not start).
 */
int contain_init(const struct contain_config *cfg, char *why, size_t cap);

/* 1 after a successful contain_init. */
int contain_active(void);

/*
 * A new, empty group for one session; name: [A-Za-z0-9_.-], 1..64 bytes,
 * unique among live groups (terminals use their session number, "7"; exec
 * commands should use another form, e.g. "x7.3": connection 7, command 3). NULL with errno when containment is off or the
 * group cannot be made (the caller then runs the session uncontained and
 * should log it).
 */
struct contain *contain_new(const char *name);

/* The group's cgroup.procs, open for writing: spawn.c's child writes "0" into it. */
int contain_procs_fd(const struct contain *cg);

/* The group's directory (O_RDONLY): spawn.c starts the child in it with CLONE_INTO_CGROUP. */
int contain_dir_fd(const struct contain *cg);

/*
 * SIGKILL to every process in the group, including those started since
 * (cgroup.kill; on kernels before 5.14, cgroup.procs is swept until empty).
 * Returns how many processes it held (0: already empty), or -1/errno.
 */
int contain_kill(struct contain *cg);

/* How many processes the group holds now, or -1/errno. */
int contain_count(const struct contain *cg);

/*
 * Kills what is left and removes the group; if processes are still exiting
 * (not yet reaped), the removal is retried by contain_reap. cg is gone for the
 * caller either way. NULL is ignored.
 */
void contain_free(struct contain *cg);

/* Removes the groups contain_free left behind once they are empty. Cheap when none. */
void contain_reap(void);

/* At exit: kills and removes every group left, and the base made at init. */
void contain_shutdown(void);

#endif
