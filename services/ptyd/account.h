/*
 * account.h: one Unix account a child of ptyd runs as: its ids, groups, home
 * and shell, resolved from the password and group databases (NSS) in ptyd,
 * never in a child (a vfork child may not use NSS). Also whether ptyd holds
 * what switching accounts needs (CAP_SETUID and CAP_SETGID).
 */
#ifndef PTYD_ACCOUNT_H
#define PTYD_ACCOUNT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "accounts.h"

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

/*
 * Whom ptyd's children run as, decided once at start from the flags:
 *   - ptyd may switch ids (root, or CAP_SETUID+CAP_SETGID): each child becomes
 *     the account --accounts maps its identity to, else --user's; an identity
 *     without either has no account and is refused;
 *   - it may not: every child is ptyd's own user, as before (--user may only
 *     name that user; --accounts is refused).
 * Accounts are resolved here, at start: restart ptyd after changing them.
 */
struct account_table {
	int switching;              /* children switch to the looked-up account */
	struct account own;         /* ptyd's own user */
	struct account user;        /* --user (name NULL: none) */
	struct accounts_map map;    /* --accounts (empty: none) */
	struct account *mapped;     /* the resolved account of each map entry, in order */
	struct account map_default; /* the map's "*" account (name NULL: none) */
	const char *file;           /* --accounts FILE, NULL: none */
};

struct account_flags {
	const char *user;           /* --user */
	const char *file;           /* --accounts */
	struct account_policy policy;
};

/* Builds t from the flags; 0, or -1 with why (t is then empty). */
int account_table_init(struct account_table *t, const struct account_flags *f, char *why,
		       size_t cap);

/*
 * Whom identity ("" when absent) runs as: the account to take the home,
 * shell and names from (never NULL on success; t->switching says whether the
 * child must switch to it), or NULL when the identity has no account.
 */
const struct account *account_table_lookup(const struct account_table *t, const char *identity);

/* Prints what t holds, one line each ("identity -> account (uid, gid, home, shell)"). */
void account_table_print(const struct account_table *t, FILE *out);

/* The account shown in logs and the title for the default command: --user's, the map's default,
 * its first entry's, or ptyd's own user. */
const struct account *account_table_default(const struct account_table *t);

void account_table_free(struct account_table *t);

#endif
