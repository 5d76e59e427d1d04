/*
 * child.h: what a child of ptyd is for an identity, the same for a terminal
 * and for an exec command: the account it runs as (--user / --accounts), its
 * clean environment (ptyd's fixed part, then HOME, USER, LOGNAME and SHELL of
 * that account, and WEBSHELL_USER), the terminal's command (the account's
 * login shell unless ptyd was given one) and the directory to start in.
 */
#ifndef PTYD_CHILD_H
#define PTYD_CHILD_H

#include <limits.h>

#include "account.h"

struct ptyd;

#define CHILD_ENV_MAX 16

/* Filled by child_plan; self-contained (points into itself and into srv's config). */
struct child_plan {
	const struct account *who;  /* whose home, shell and names (never NULL) */
	const struct account *acct; /* for spawn_req.acct: who, or NULL when ptyd does not switch */
	const char *path;           /* the terminal's command ... */
	char *const *argv;          /* ... and its argv */
	const char *cwd;            /* --cwd, else who's home */
	char *envp[CHILD_ENV_MAX + 1];
	int nenv;
	char *login_argv[2];
	char argv0[64];
	char strings[4 * PATH_MAX + 512];
};

/*
 * Plans identity's child ("" when absent). 0, or -1 when the identity has no
 * account (--accounts without a line for it nor a default): refuse it.
 */
int child_plan(const struct ptyd *srv, const char *identity, struct child_plan *p);

#endif
