/*
 * accounts.c: parsing and looking up the identity -> account map. See
 * accounts.h for the format. Pure: no system calls, unit-tested and fuzzed.
 */
#include "accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* POSIX portable user name: [a-z_][a-z0-9_-]*, optionally ending in '$'. */
static int account_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > ACCOUNTS_NAME_MAX)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')
			continue;
		if (c == '$' && i == len - 1)
			continue;
		return 0;
	}
	return 1;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* One line without its newline; 0, or -1 with why. */
static int parse_line(struct accounts_map *m, const char *p, size_t len, int line, char *why,
		      size_t cap)
{
	const char *id, *acct;
	size_t idlen, acctlen, i;
	struct accounts_entry *ne;

	if (len > 0 && p[len - 1] == '\r')
		len--;
	while (len > 0 && is_blank(*p)) {
		p++;
		len--;
	}
	while (len > 0 && is_blank(p[len - 1]))
		len--;
	if (len == 0 || p[0] == '#')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(why, cap, "line %d: a control byte (0x%02x)", line, c);
			return -1;
		}
	}
	/* The account is the last field; the identity is everything before it. */
	acctlen = 0;
	while (acctlen < len && !is_blank(p[len - 1 - acctlen]))
		acctlen++;
	if (acctlen == len) {
		snprintf(why, cap, "line %d: an identity without an account (\"IDENTITY ACCOUNT\")",
			 line);
		return -1;
	}
	acct = p + len - acctlen;
	id = p;
	idlen = len - acctlen;
	while (idlen > 0 && is_blank(id[idlen - 1]))
		idlen--;
	if (!account_name_ok(acct, acctlen)) {
		snprintf(why, cap, "line %d: \"%.*s\" is not a user name ([a-z_][a-z0-9_-]*, "
			 "at most %d bytes)", line, (int)(acctlen > 40 ? 40 : acctlen), acct,
			 ACCOUNTS_NAME_MAX);
		return -1;
	}
	if (idlen == 1 && id[0] == '*') {
		if (m->default_account != NULL) {
			snprintf(why, cap, "line %d: a second default (\"*\") line; the first is line %d",
				 line, m->default_line);
			return -1;
		}
		m->default_account = dup_n(acct, acctlen);
		if (m->default_account == NULL)
			goto oom;
		m->default_line = line;
		return 0;
	}
	if (!proto_user_valid(id, idlen)) {
		snprintf(why, cap, "line %d: not a valid identity (at most %d bytes, no '{')", line,
			 PROTO_USER_MAX);
		return -1;
	}
	for (i = 0; i < m->n; i++)
		if (strlen(m->entries[i].identity) == idlen &&
		    memcmp(m->entries[i].identity, id, idlen) == 0) {
			snprintf(why, cap, "line %d: identity listed twice (first on line %d)", line,
				 m->entries[i].line);
			return -1;
		}
	ne = realloc(m->entries, (m->n + 1) * sizeof(*ne));
	if (ne == NULL)
		goto oom;
	m->entries = ne;
	ne[m->n].identity = dup_n(id, idlen);
	ne[m->n].account = dup_n(acct, acctlen);
	ne[m->n].line = line;
	m->n++;
	if (ne[m->n - 1].identity == NULL || ne[m->n - 1].account == NULL)
		goto oom;
	return 0;
oom:
	snprintf(why, cap, "line %d: out of memory", line);
	return -1;
}

int accounts_parse(const char *text, size_t len, struct accounts_map *out, char *why, size_t cap)
{
	struct accounts_map m;
	size_t pos = 0;
	int line = 0;

	memset(&m, 0, sizeof(m));
	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;

		line++;
		if (ll > ACCOUNTS_LINE_MAX) {
			snprintf(why, cap, "line %d: longer than %d bytes", line, ACCOUNTS_LINE_MAX);
			accounts_free(&m);
			return -1;
		}
		if (memchr(text + pos, '\0', ll) != NULL) {
			snprintf(why, cap, "line %d: a NUL byte", line);
			accounts_free(&m);
			return -1;
		}
		if (parse_line(&m, text + pos, ll, line, why, cap) != 0) {
			accounts_free(&m);
			return -1;
		}
		pos += ll + (nl != NULL ? 1 : 0);
	}
	*out = m;
	return 0;
}

const char *accounts_lookup(const struct accounts_map *m, const char *identity)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->entries[i].identity, identity) == 0)
			return m->entries[i].account;
	return m->default_account;
}

void accounts_free(struct accounts_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->entries[i].identity);
		free(m->entries[i].account);
	}
	free(m->entries);
	free(m->default_account);
	memset(m, 0, sizeof(*m));
}
