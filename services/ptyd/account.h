/*
 * account.h: one Unix account a child of ptyd runs as: its ids, groups, home
 * and shell, resolved from the password and group databases (NSS) in ptyd,
 * never in a child (a vfork child may not use NSS). Also whether ptyd holds
 * what switching accounts needs (CAP_SETUID and CAP_SETGID).
 */
#ifndef PTYD_ACCOUNT_H
#define PTYD_ACCOUNT_H

#include <stddef.h>
#include <sys/types.h>

/* More supplementary groups than this is refused (a login would work; a shell here does not). */
#define ACCOUNT_GROUPS_MAX 1024

/* A resolved account. Owns its strings and groups: release with account_free. */
struct account {
	char *name;
	uid_t uid;
	gid_t gid;            /* primary group */
	gid_t *groups;        /* every group it is in, the primary one included (getgrouplist) */
	int ngroups;
	char *home;
	char *shell;          /* the password entry's shell, "/bin/sh" when empty */
};

/* What an account may be; the policy flags of ptyd. */
struct account_policy {
	int allow_root;       /* uid 0 allowed */
	int allow_system;     /* uids under the login range (UID_MIN of login.defs, 1000) allowed */
};

/*
 * Looks name up (a user name, never a number) and checks it against policy.
 * 0 and *out filled; or -1 with why (a sentence for the operator, no
 * trailing period) and *out untouched.
 */
int account_resolve(const char *name, const struct account_policy *policy,
		    struct account *out, char *why, size_t cap);

/* The account of uid (ptyd's own user: no policy). 0 or -1 with why. */
int account_resolve_uid(uid_t uid, struct account *out, char *why, size_t cap);

void account_free(struct account *a);

/* 1 when this process may switch ids (CAP_SETUID and CAP_SETGID effective), else 0. */
int account_can_switch(void);

/* Whether this process holds CAP_SETPCAP (it can then empty a child's bounding set). */
int account_can_drop_bounding(void);

#endif
