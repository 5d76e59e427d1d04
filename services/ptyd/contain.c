/*
 * contain.c: a cgroup v2 group per session: finding the mount and ptyd's own
 * group, the base directory, limits, cgroup.kill and removal. See contain.h.
 */
#include "contain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

#define GROUP_NAME_MAX 64
/* Sweeps of cgroup.procs without cgroup.kill before giving up for now. */
#define SWEEP_ROUNDS 16

struct contain {
	struct contain *next;       /* on the pending list once freed but not yet removed */
	int procs_fd;
	int dir_fd;
	char dir[GROUP_NAME_MAX + 3];   /* "s-" name */
};

static struct {
	int active;
	int base_fd;                /* O_PATH directory of the base */
	char base[PATH_MAX];        /* its path, for messages */
	int made_base;              /* base made by us: removed at exit */
	const char *limit_file[3];  /* control files to write in each group ... */
	char limit_value[3][32];    /* ... and their values */
	int nlimits;
	int have_kill;              /* cgroup.kill exists (kernel 5.14+): until an ENOENT says not */
	struct contain *pending;    /* freed, waiting for their processes to be reaped */
} C = { .base_fd = -1 };

/* Reads a small file relative to dirfd into buf (NUL-terminated). Bytes read or -1. */
static ssize_t read_at(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n, len = 0;

	if (fd < 0)
		return -1;
	while ((size_t)len < cap - 1 && (n = read(fd, buf + len, cap - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return len;
}

static int write_at(int dirfd, const char *path, const char *value)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC), saved;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, value, strlen(value));
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/* The first cgroup2 mount: its mount point and the cgroup path it shows at that point. */
static int find_mount(char *mnt, size_t mcap, char *root, size_t rcap)
{
	char line[4096], f_root[PATH_MAX], f_mnt[PATH_MAX], *sep;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (f == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
		sep = strstr(line, " - ");
		if (sep == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", f_root, f_mnt) != 2)
			continue;
		unescape(f_root);
		unescape(f_mnt);
		if (strlen(f_mnt) >= mcap || strlen(f_root) >= rcap)
			continue;
		strcpy(mnt, f_mnt);
		strcpy(root, f_root);
		found = 1;
	}
	fclose(f);
	return found ? 0 : -1;
}

/* ptyd's own cgroup v2 path, from /proc/self/cgroup's "0::PATH" line. */
static int own_cgroup(char *path, size_t cap)
{
	char line[PATH_MAX + 8];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int found = 0;

	if (f == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line + 3) < cap) {
			strcpy(path, line + 3);
			found = 1;
		}
	}
	fclose(f);
	return found ? 0 : -1;
}

/* A cgroup path from the flag: absolute, no "." or ".." component, no empty one but the root. */
static int cgroup_path_ok(const char *p)
{
	const char *c;

	if (p[0] != '/')
		return 0;
	for (c = p; *c != '\0'; c++) {
		if (*c != '/')
			continue;
		if (c[1] == '/' || (c[1] == '.' && (c[2] == '/' || c[2] == '\0')) ||
		    (c[1] == '.' && c[2] == '.' && (c[3] == '/' || c[3] == '\0')))
			return 0;
	}
	return 1;
}

/* Processes listed in a cgroup.procs (dirfd-relative path), or -1. */
static int count_procs(int dirfd, const char *path, pid_t *only)
{
	char buf[4096];
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t len;
	char *p, *end;

	if (fd < 0)
		return -1;
	/* Only whether it is exactly one pid matters beyond the count: a short read will do. */
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	for (p = buf; *p != '\0'; p = end) {
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (only != NULL)
			*only = (pid_t)v;
		n++;
	}
	return n;
}

/*
 * Groups "ptyd-PID" of a ptyd that died (no process PID): their sessions died
 * with it, so whatever is left in them is killed and the groups removed.
 */
static void remove_stale(int own_fd)
{
	struct dirent *de, *se;
	DIR *d, *sd;
	int fd, sfd;
	char *end;
	long pid;

	fd = openat(own_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "ptyd-", 5) != 0)
			continue;
		pid = strtol(de->d_name + 5, &end, 10);
		if (*end != '\0' || pid <= 1 || pid == getpid() || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		sfd = openat(own_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0 || (sd = fdopendir(sfd)) == NULL) {
			if (sfd >= 0)
				close(sfd);
			continue;
		}
		while ((se = readdir(sd)) != NULL) {
			if (strncmp(se->d_name, "s-", 2) != 0)
				continue;
			char kill_path[300];
			snprintf(kill_path, sizeof(kill_path), "%s/cgroup.kill", se->d_name);
			write_at(sfd, kill_path, "1");
			unlinkat(sfd, se->d_name, AT_REMOVEDIR);
		}
		closedir(sd);
		if (unlinkat(own_fd, de->d_name, AT_REMOVEDIR) == 0)
			log_info("removed the cgroup %s of a ptyd that is gone", de->d_name);
	}
	closedir(d);
}

static void add_limit(const char *ctrl, const char *file, long long v, const char *flag,
		      const char *controllers, char *subtree)
{
	char want[32];
	const char *c;
	size_t n = strlen(ctrl);
	int avail = 0;

	if (v <= 0)
		return;
	for (c = controllers; (c = strstr(c, ctrl)) != NULL; c += n)
		if ((c == controllers || c[-1] == ' ') && (c[n] == ' ' || c[n] == '\n' || c[n] == '\0'))
			avail = 1;
	if (!avail) {
		log_warnx("%s: the %s controller is not available in %s (cgroup.controllers: \"%.*s\"): "
			 "no such limit", flag, ctrl, C.base, (int)strcspn(controllers, "\n"),
			 controllers);
		return;
	}
	snprintf(want, sizeof(want), "+%s", ctrl);
	if (strstr(subtree, ctrl) == NULL && write_at(C.base_fd, "cgroup.subtree_control", want) != 0) {
		log_warnx("%s: cannot enable the %s controller in %s: %s: no such limit", flag, ctrl,
			 C.base, strerror(errno));
		return;
	}
	C.limit_file[C.nlimits] = file;
	snprintf(C.limit_value[C.nlimits], sizeof(C.limit_value[0]), "%lld", v);
	C.nlimits++;
}

int contain_init(const struct contain_config *cfg, char *why, size_t cap)
{
	char mnt[PATH_MAX], root[PATH_MAX], own[PATH_MAX], ctl[512], sub[512], rel[PATH_MAX];
	const char *tail;
	pid_t only = 0;
	int own_fd, n;

	if (find_mount(mnt, sizeof(mnt), root, sizeof(root)) != 0) {
		snprintf(why, cap, "no cgroup2 file system is mounted");
		return cfg->cgroup != NULL ? -1 : 0;
	}
	if (cfg->cgroup != NULL) {
		if (!cgroup_path_ok(cfg->cgroup)) {
			snprintf(why, cap, "--cgroup %s: not an absolute cgroup path", cfg->cgroup);
			return -1;
		}
		snprintf(rel, sizeof(rel), "%s", cfg->cgroup);
	} else {
		if (own_cgroup(own, sizeof(own)) != 0) {
			snprintf(why, cap, "ptyd's own cgroup v2 is unknown (/proc/self/cgroup)");
			return 0;
		}
		snprintf(rel, sizeof(rel), "%s", own);
	}
	/* A path of the cgroup hierarchy, seen from a mount whose root may be a subgroup. */
	tail = rel;
	if (strcmp(root, "/") != 0) {
		size_t rl = strlen(root);
		if (strncmp(rel, root, rl) != 0 || (rel[rl] != '/' && rel[rl] != '\0')) {
			snprintf(why, cap, "cgroup %s is not visible under the cgroup2 mount %s", rel, mnt);
			return cfg->cgroup != NULL ? -1 : 0;
		}
		tail = rel + rl;
	}
	if (snprintf(C.base, sizeof(C.base), "%s%s%s", mnt, tail[0] == '/' ? "" : "/", tail) >=
	    (int)sizeof(C.base)) {
		snprintf(why, cap, "cgroup path too long");
		return -1;
	}
	while (strlen(C.base) > 1 && C.base[strlen(C.base) - 1] == '/')
		C.base[strlen(C.base) - 1] = '\0';

	if (cfg->cgroup != NULL) {
		if (!cfg->check && mkdir(C.base, 0755) == 0)
			C.made_base = 1;
		else if (!cfg->check && errno != EEXIST) {
			snprintf(why, cap, "--cgroup %s: mkdir %s: %s", cfg->cgroup, C.base, strerror(errno));
			return -1;
		}
	} else {
		own_fd = open(C.base, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (own_fd < 0) {
			snprintf(why, cap, "%s: %s", C.base, strerror(errno));
			return 0;
		}
		n = count_procs(own_fd, "cgroup.procs", &only);
		if (n == 1 && only == getpid() && strcmp(tail, "/") != 0 && tail[0] != '\0') {
			/* Delegated to us (systemd Delegate=yes): ptyd moves into a leaf. */
			if (!cfg->check) {
				if (mkdirat(own_fd, "ptyd", 0755) != 0 && errno != EEXIST) {
					snprintf(why, cap, "cgroup v2 at %s is not writable (mkdir ptyd: %s)",
						 C.base, strerror(errno));
					close(own_fd);
					return 0;
				}
				if (write_at(own_fd, "ptyd/cgroup.procs", "0") != 0) {
					snprintf(why, cap, "cannot move ptyd into %s/ptyd: %s", C.base,
						 strerror(errno));
					unlinkat(own_fd, "ptyd", AT_REMOVEDIR);
					close(own_fd);
					return 0;
				}
			}
		} else {
			/* Shared with other processes (run by hand): a base of our own inside. */
			char name[32];
			snprintf(name, sizeof(name), "ptyd-%d", (int)getpid());
			if (!cfg->check) {
				remove_stale(own_fd);
				if (mkdirat(own_fd, name, 0755) != 0) {
					snprintf(why, cap, "cgroup v2 at %s is not writable (mkdir %s: %s)",
						 C.base, name, strerror(errno));
					close(own_fd);
					return 0;
				}
				C.made_base = 1;
			}
			n = (int)strlen(C.base);
			snprintf(C.base + n, sizeof(C.base) - (size_t)n, "%s%s",
				 strcmp(C.base, "/") == 0 ? "" : "/", cfg->check ? "ptyd-PID" : name);
		}
		close(own_fd);
	}
	if (cfg->check) {
		/* Where ptyd would mkdir: the base if it exists, else its parent. */
		char where[PATH_MAX];
		snprintf(where, sizeof(where), "%s", C.base);
		if (access(where, F_OK) != 0 && strrchr(where, '/') != NULL)
			*strrchr(where, '/') = '\0';
		if (access(where, W_OK) != 0) {
			snprintf(why, cap, "cgroup v2 at %s is not writable: %s", where, strerror(errno));
			return cfg->cgroup != NULL ? -1 : 0;
		}
		snprintf(why, cap, "%s", C.base);
		return 1;
	}
	C.base_fd = open(C.base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (C.base_fd < 0) {
		snprintf(why, cap, "%s: %s", C.base, strerror(errno));
		if (C.made_base)
			rmdir(C.base);
		C.made_base = 0;
		return cfg->cgroup != NULL ? -1 : 0;
	}
	if (read_at(C.base_fd, "cgroup.controllers", ctl, sizeof(ctl)) < 0)
		ctl[0] = '\0';
	if (read_at(C.base_fd, "cgroup.subtree_control", sub, sizeof(sub)) < 0)
		sub[0] = '\0';
	add_limit("pids", "pids.max", cfg->pids_max, "--session-pids-max", ctl, sub);
	add_limit("memory", "memory.max", cfg->memory_max, "--session-memory-max", ctl, sub);
	add_limit("cpu", "cpu.weight", cfg->cpu_weight, "--session-cpu-weight", ctl, sub);
	C.active = 1;
	C.have_kill = 1;
	snprintf(why, cap, "%s", C.base);
	return 1;
}

int contain_active(void)
{
	return C.active;
}

struct contain *contain_new(const char *name)
{
	struct contain *cg;
	char path[sizeof(cg->dir) + 16];
	size_t len = strlen(name);
	int i;

	contain_reap();
	if (!C.active) {
		errno = ENOTSUP;
		return NULL;
	}
	if (len == 0 || len > GROUP_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len) {
		errno = EINVAL;
		return NULL;
	}
	cg = calloc(1, sizeof(*cg));
	if (cg == NULL)
		return NULL;
	snprintf(cg->dir, sizeof(cg->dir), "s-%s", name);
	if (mkdirat(C.base_fd, cg->dir, 0755) != 0)
		goto fail_free;
	for (i = 0; i < C.nlimits; i++) {
		snprintf(path, sizeof(path), "%s/%s", cg->dir, C.limit_file[i]);
		if (write_at(C.base_fd, path, C.limit_value[i]) != 0)
			goto fail_rmdir;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dir);
	cg->procs_fd = openat(C.base_fd, path, O_WRONLY | O_CLOEXEC);
	if (cg->procs_fd < 0)
		goto fail_rmdir;
	cg->dir_fd = openat(C.base_fd, cg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->dir_fd < 0) {
		i = errno;
		close(cg->procs_fd);
		errno = i;
		goto fail_rmdir;
	}
	return cg;
fail_rmdir:
	i = errno;
	unlinkat(C.base_fd, cg->dir, AT_REMOVEDIR);
	errno = i;
fail_free:
	i = errno;
	free(cg);
	errno = i;
	return NULL;
}

int contain_procs_fd(const struct contain *cg)
{
	return cg->procs_fd;
}

int contain_dir_fd(const struct contain *cg)
{
	return cg->dir_fd;
}

int contain_count(const struct contain *cg)
{
	char path[sizeof(cg->dir) + 16];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dir);
	return count_procs(C.base_fd, path, NULL);
}

/* Kernels before 5.14: SIGKILL to every listed pid, until the list is empty or rounds run out. */
static int sweep(const struct contain *cg)
{
	char path[sizeof(cg->dir) + 16], buf[8192], *p, *end;
	int round, first = -1;
	ssize_t len;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dir);
	for (round = 0; round < SWEEP_ROUNDS; round++) {
		int n = 0;
		len = read_at(C.base_fd, path, buf, sizeof(buf));
		if (len < 0)
			return first < 0 ? -1 : first;
		for (p = buf; *p != '\0'; p = end) {
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			if (v > 1)
				kill((pid_t)v, SIGKILL);
			n++;
		}
		if (first < 0)
			first = n;
		if (n == 0)
			break;
	}
	return first;
}

int contain_kill(struct contain *cg)
{
	char path[sizeof(cg->dir) + 16];
	int n = contain_count(cg);

	if (n <= 0)
		return n;
	if (C.have_kill) {
		snprintf(path, sizeof(path), "%s/cgroup.kill", cg->dir);
		if (write_at(C.base_fd, path, "1") == 0)
			return n;
		if (errno != ENOENT)
			return -1;
		C.have_kill = 0; /* before 5.14 */
	}
	return sweep(cg);
}

void contain_free(struct contain *cg)
{
	if (cg == NULL)
		return;
	close(cg->procs_fd);
	close(cg->dir_fd);
	cg->procs_fd = cg->dir_fd = -1;
	/* Usually empty by now (the shell reaped): removed at once, nothing to kill. */
	if (unlinkat(C.base_fd, cg->dir, AT_REMOVEDIR) == 0 || errno == ENOENT) {
		free(cg);
		return;
	}
	contain_kill(cg);
	if (unlinkat(C.base_fd, cg->dir, AT_REMOVEDIR) == 0 || errno == ENOENT) {
		free(cg);
		return;
	}
	/* EBUSY: killed processes not yet reaped (zombies keep it populated). */
	cg->next = C.pending;
	C.pending = cg;
}

void contain_reap(void)
{
	struct contain **pp = &C.pending, *cg;

	while ((cg = *pp) != NULL) {
		if (unlinkat(C.base_fd, cg->dir, AT_REMOVEDIR) == 0 || errno == ENOENT) {
			*pp = cg->next;
			free(cg);
			continue;
		}
		/* cgroup.kill reached every process for good; a sweep may have missed a fork. */
		if (!C.have_kill)
			sweep(cg);
		pp = &cg->next;
	}
}

void contain_shutdown(void)
{
	int i, st;

	for (i = 0; i < 200 && C.pending != NULL; i++) {
		contain_reap();
		if (C.pending == NULL)
			break;
		/* Killed processes re-parented to us (subreaper) are reaped here. */
		while (waitpid(-1, &st, WNOHANG) > 0)
			;
		usleep(5000);
	}
	while (C.pending != NULL) {
		struct contain *cg = C.pending;
		log_warnx("cgroup %s/%s: still populated at exit, left behind", C.base, cg->dir);
		C.pending = cg->next;
		free(cg);
	}
	if (C.made_base && rmdir(C.base) != 0)
		log_warnx("cannot remove %s: %s", C.base, strerror(errno));
	if (C.base_fd >= 0)
		close(C.base_fd);
	C.base_fd = -1;
	C.made_base = 0;
	C.active = 0;
}
