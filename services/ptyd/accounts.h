/*
 * accounts.h: the identity -> Unix account map of --accounts FILE (pure
 * parsing and lookup; no system calls). The format, one entry a line:
 *
 *   # a comment (a line whose first non-blank byte is '#'); blank lines
 *   alice@example.com   alice      an identity, blanks, an account name
 *   Alice Smith         asmith     the account is the last field: an
 *                                  identity may hold blanks inside
 *   *                   guest      the default for every other identity
 *
 * Identities are X-Webshell-User values (proto_user_valid: at most 128
 * bytes, no control byte, no '{'); "*" is reserved for the default. Account
 * names are POSIX portable user names ([a-z_][a-z0-9_-]*, '$' last allowed,
 * at most 32 bytes). An identity listed twice, a second default, a line
 * without an account, a bad byte or a line over 512 bytes is an error naming
 * the line. Without a default line, an identity not listed has no account.
 */
#ifndef PTYD_ACCOUNTS_H
#define PTYD_ACCOUNTS_H

#include <stddef.h>

#define ACCOUNTS_NAME_MAX 32
#define ACCOUNTS_LINE_MAX 512

struct accounts_entry {
	char *identity;
	char *account;
	int line;
};

/* A parsed file. Owns its strings: release with accounts_free. */
struct accounts_map {
	struct accounts_entry *entries;
	size_t n;
	char *default_account;      /* the "*" line's account, NULL: none */
	int default_line;
};

/*
 * Parses text (len bytes, need not be NUL-terminated). 0 and *out filled, or
 * -1 with why ("line N: ...") and *out empty.
 */
int accounts_parse(const char *text, size_t len, struct accounts_map *out, char *why, size_t cap);

/* The account for identity: its line's, else the default, else NULL. */
const char *accounts_lookup(const struct accounts_map *m, const char *identity);

void accounts_free(struct accounts_map *m);

#endif
