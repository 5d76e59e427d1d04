/*
 * child.c: the account, environment, command and directory of a child of
 * ptyd for one identity. See child.h.
 */
#include "child.h"

#include <stdio.h>
#include <string.h>

#include "ptyd.h"

/* Appends "NAME=value" to p's strings and envp; values too long for the room are left out. */
static void put_env(struct child_plan *p, size_t *used, const char *name, const char *value)
{
	size_t room = sizeof(p->strings) - *used;
	int n;

	if (p->nenv >= CHILD_ENV_MAX)
		return;
	n = snprintf(p->strings + *used, room, "%s=%s", name, value);
	if (n < 0 || (size_t)n >= room)
		return;
	p->envp[p->nenv++] = p->strings + *used;
	*used += (size_t)n + 1;
}

int child_plan(const struct ptyd *srv, const char *identity, struct child_plan *p)
{
	const struct ptyd_config *cfg = &srv->cfg;
	const char *base;
	size_t used = 0;
	int i;

	memset(p, 0, sizeof(*p));
	p->who = account_table_lookup(&srv->accounts, identity);
	if (p->who == NULL)
		return -1;
	p->acct = srv->accounts.switching ? p->who : NULL;
	for (i = 0; i < cfg->nenv && p->nenv < CHILD_ENV_MAX - 5; i++)
		p->envp[p->nenv++] = cfg->env[i];
	put_env(p, &used, "HOME", p->who->home);
	put_env(p, &used, "USER", p->who->name);
	put_env(p, &used, "LOGNAME", p->who->name);
	put_env(p, &used, "SHELL", p->who->shell);
	if (identity[0] != '\0')
		put_env(p, &used, "WEBSHELL_USER", identity);
	p->envp[p->nenv] = NULL;
	if (cfg->command_given) {
		p->path = cfg->path;
		p->argv = cfg->argv;
	} else {
		/* A login shell: argv[0] is "-" and the shell's name. */
		base = strrchr(p->who->shell, '/');
		snprintf(p->argv0, sizeof(p->argv0), "-%s", base != NULL ? base + 1 : p->who->shell);
		p->login_argv[0] = p->argv0;
		p->path = p->who->shell;
		p->argv = p->login_argv;
	}
	p->cwd = cfg->cwd != NULL ? cfg->cwd : p->who->home;
	return 0;
}
