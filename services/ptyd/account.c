/*
 * account.c: resolving a Unix account (password entry, groups) and the
 * policy on which accounts ptyd may start children as. See account.h.
 */
#include "account.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

/* The first uid of the login range: UID_MIN in /etc/login.defs, else 1000. */
static uid_t uid_min(void)
{
	char line[256], key[64];
	unsigned long v;
	uid_t min = 1000;
	FILE *f = fopen("/etc/login.defs", "re");

	if (f == NULL)
		return min;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " %63s %lu", key, &v) == 2 && strcmp(key, "UID_MIN") == 0 &&
		    v > 0 && v < 65536)
			min = (uid_t)v;
	fclose(f);
	return min;
}

static int fill(const struct passwd *pw, struct account *out, char *why, size_t cap)
{
	struct account a;
	int n = 16;

	memset(&a, 0, sizeof(a));
	a.uid = pw->pw_uid;
	a.gid = pw->pw_gid;
	for (;;) {
		gid_t *g = realloc(a.groups, (size_t)n * sizeof(gid_t));
		int want = n;

		if (g == NULL)
			goto oom;
		a.groups = g;
		if (getgrouplist(pw->pw_name, pw->pw_gid, a.groups, &want) >= 0) {
			a.ngroups = want;
			break;
		}
		if (want > ACCOUNT_GROUPS_MAX) {
			snprintf(why, cap, "account %s is in %d groups, more than %d", pw->pw_name,
				 want, ACCOUNT_GROUPS_MAX);
			free(a.groups);
			return -1;
		}
		n = want > n ? want : n * 2;
	}
	a.name = strdup(pw->pw_name);
	a.home = strdup(pw->pw_dir != NULL && pw->pw_dir[0] != '\0' ? pw->pw_dir : "/");
	a.shell = strdup(pw->pw_shell != NULL && pw->pw_shell[0] != '\0' ? pw->pw_shell : "/bin/sh");
	if (a.name == NULL || a.home == NULL || a.shell == NULL)
		goto oom;
	*out = a;
	return 0;
oom:
	account_free(&a);
	snprintf(why, cap, "out of memory");
	return -1;
}

int account_resolve(const char *name, const struct account_policy *policy,
		    struct account *out, char *why, size_t cap)
{
	const struct passwd *pw;
	uid_t min;

	if (name[0] == '\0' || name[0] == '-' || strspn(name, "0123456789") == strlen(name)) {
		snprintf(why, cap, "account \"%s\": not a user name", name);
		return -1;
	}
	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL) {
		snprintf(why, cap, "account %s: %s", name,
			 errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0 && !policy->allow_root) {
		snprintf(why, cap, "account %s is root (uid 0): refused without --allow-root", name);
		return -1;
	}
	min = uid_min();
	if (pw->pw_uid != 0 && pw->pw_uid < min && !policy->allow_system) {
		snprintf(why, cap, "account %s is a system account (uid %u < UID_MIN %u): refused "
			 "without --allow-system-accounts", name, (unsigned)pw->pw_uid, (unsigned)min);
		return -1;
	}
	return fill(pw, out, why, cap);
}

int account_resolve_uid(uid_t uid, struct account *out, char *why, size_t cap)
{
	const struct passwd *pw;

	errno = 0;
	pw = getpwuid(uid);
	if (pw == NULL) {
		snprintf(why, cap, "uid %u has no password entry", (unsigned)uid);
		return -1;
	}
	return fill(pw, out, why, cap);
}

void account_free(struct account *a)
{
	free(a->name);
	free(a->groups);
	free(a->home);
	free(a->shell);
	memset(a, 0, sizeof(*a));
}

/* Effective capability bit cap; system call only (also used between vfork and exec). */
static int has_cap(int cap)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return 0;
	return (data[cap / 32].effective >> (cap % 32)) & 1;
}

int account_can_switch(void)
{
	return has_cap(CAP_SETUID) && has_cap(CAP_SETGID);
}

int account_can_drop_bounding(void)
{
	return has_cap(CAP_SETPCAP);
}

/* Reads --accounts FILE: a regular file no other user can change, at most 1 MiB. */
static int read_map(const char *file, struct accounts_map *map, char *why, size_t cap)
{
	char *buf = NULL, perr[200];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc = -1;

	if (fd < 0) {
		snprintf(why, cap, "--accounts %s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, cap, "--accounts %s: not a regular file", file);
		goto out;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(why, cap, "--accounts %s: world-writable (mode %03o): anyone could map "
			 "themselves to any account", file, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if ((st.st_mode & S_IWGRP) && st.st_gid != 0) {
		snprintf(why, cap, "--accounts %s: writable by group %u (mode %03o): make it "
			 "writable by its owner only", file, (unsigned)st.st_gid,
			 (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, cap, "--accounts %s: owned by uid %u, neither root nor ptyd's user",
			 file, (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_size > 1024 * 1024) {
		snprintf(why, cap, "--accounts %s: larger than 1 MiB", file);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(why, cap, "--accounts %s: out of memory", file);
		goto out;
	}
	while (len < (size_t)st.st_size && (n = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)n;
	if (accounts_parse(buf, len, map, perr, sizeof(perr)) != 0) {
		snprintf(why, cap, "--accounts %s: %s", file, perr);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

int account_table_init(struct account_table *t, const struct account_flags *f, char *why,
		       size_t cap)
{
	char err[400];
	size_t i;

	memset(t, 0, sizeof(*t));
	if (account_resolve_uid(getuid(), &t->own, why, cap) != 0)
		return -1;
	t->switching = account_can_switch();
	if (f->user != NULL && f->file != NULL) {
		snprintf(why, cap, "--user and --accounts: give the default account as a \"*\" line "
			 "in the accounts file instead");
		goto fail;
	}
	if (!t->switching) {
		if (f->file != NULL) {
			snprintf(why, cap, "--accounts: ptyd runs as %s without CAP_SETUID and "
				 "CAP_SETGID, so every shell would be %s's (run it as root, or with "
				 "AmbientCapabilities=CAP_SETUID CAP_SETGID)", t->own.name, t->own.name);
			goto fail;
		}
		if (f->user != NULL && strcmp(f->user, t->own.name) != 0) {
			snprintf(why, cap, "--user %s: ptyd runs as %s without CAP_SETUID and "
				 "CAP_SETGID, so shells can only be %s's", f->user, t->own.name,
				 t->own.name);
			goto fail;
		}
		if (t->own.uid == 0 && !f->policy.allow_root) {
			snprintf(why, cap, "refusing to run as root: every shell would be root's "
				 "(name the shell account with --user, or pass --allow-root)");
			goto fail;
		}
		return 0;
	}
	if (f->user == NULL && f->file == NULL) {
		if (t->own.uid == 0 && f->policy.allow_root) {
			t->switching = 0; /* root with --allow-root: shells are root's, as before */
			return 0;
		}
		if (t->own.uid == 0)
			snprintf(why, cap, "refusing to run as root: every shell would be root's (name "
				 "the shell account with --user ACCOUNT or --accounts FILE, or pass "
				 "--allow-root)");
		else
			snprintf(why, cap, "ptyd holds CAP_SETUID and CAP_SETGID: name the shell "
				 "account with --user ACCOUNT or --accounts FILE");
		goto fail;
	}
	if (f->user != NULL && account_resolve(f->user, &f->policy, &t->user, err, sizeof(err)) != 0) {
		snprintf(why, cap, "--user: %s", err);
		goto fail;
	}
	if (f->file != NULL) {
		t->file = f->file;
		if (read_map(f->file, &t->map, why, cap) != 0)
			goto fail;
		t->mapped = calloc(t->map.n ? t->map.n : 1, sizeof(*t->mapped));
		if (t->mapped == NULL) {
			snprintf(why, cap, "out of memory");
			goto fail;
		}
		for (i = 0; i < t->map.n; i++)
			if (account_resolve(t->map.entries[i].account, &f->policy, &t->mapped[i], err,
					    sizeof(err)) != 0) {
				snprintf(why, cap, "--accounts %s: line %d: %s", f->file,
					 t->map.entries[i].line, err);
				goto fail;
			}
		if (t->map.default_account != NULL &&
		    account_resolve(t->map.default_account, &f->policy, &t->map_default, err,
				    sizeof(err)) != 0) {
			snprintf(why, cap, "--accounts %s: line %d: %s", f->file, t->map.default_line, err);
			goto fail;
		}
	}
	return 0;
fail:
	account_table_free(t);
	return -1;
}

const struct account *account_table_lookup(const struct account_table *t, const char *identity)
{
	size_t i;

	if (!t->switching)
		return &t->own;
	if (t->file == NULL)
		return &t->user;
	for (i = 0; i < t->map.n; i++)
		if (strcmp(t->map.entries[i].identity, identity) == 0)
			return &t->mapped[i];
	return t->map_default.name != NULL ? &t->map_default : NULL;
}

const struct account *account_table_default(const struct account_table *t)
{
	if (!t->switching)
		return &t->own;
	if (t->user.name != NULL)
		return &t->user;
	if (t->map_default.name != NULL)
		return &t->map_default;
	if (t->map.n > 0)
		return &t->mapped[0];
	return &t->own;
}

static void print_one(FILE *out, const char *who, const struct account *a)
{
	fprintf(out, "  %s -> %s (uid %u, gid %u, %d groups, home %s, shell %s)\n", who, a->name,
		(unsigned)a->uid, (unsigned)a->gid, a->ngroups, a->home, a->shell);
}

void account_table_print(const struct account_table *t, FILE *out)
{
	size_t i;

	if (!t->switching) {
		fprintf(out, "accounts: every shell runs as ptyd's own user %s (uid %u)%s\n",
			t->own.name, (unsigned)t->own.uid, t->own.uid == 0 ?
			" (--allow-root without --user)" : ": ptyd cannot switch accounts");
		return;
	}
	if (t->file == NULL) {
		fprintf(out, "accounts: every identity's shells run as --user's account:\n");
		print_one(out, "*", &t->user);
		return;
	}
	fprintf(out, "accounts: %s maps %zu identit%s%s:\n", t->file, t->map.n,
		t->map.n == 1 ? "y" : "ies", t->map_default.name ? " and a default" : ", no default");
	for (i = 0; i < t->map.n; i++)
		print_one(out, t->map.entries[i].identity, &t->mapped[i]);
	if (t->map_default.name != NULL)
		print_one(out, "* (every other identity)", &t->map_default);
	else
		fprintf(out, "  every other identity is refused\n");
}

void account_table_free(struct account_table *t)
{
	size_t i;

	if (t->mapped != NULL)
		for (i = 0; i < t->map.n; i++)
			account_free(&t->mapped[i]);
	free(t->mapped);
	accounts_free(&t->map);
	account_free(&t->map_default);
	account_free(&t->user);
	account_free(&t->own);
	memset(t, 0, sizeof(*t));
}
