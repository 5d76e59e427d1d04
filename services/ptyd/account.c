/*
 * account.c: resolving a Unix account (password entry, groups) and the
 * policy on which accounts ptyd may start children as. See account.h.
 */
#include "account.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
