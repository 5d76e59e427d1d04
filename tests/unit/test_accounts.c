/*
 * test_accounts.c: table-driven TAP tests of the --accounts file parser and
 * lookup (services/ptyd/accounts.c): good files, each refusal with the line
 * it names, and lookups with and without a default.
 */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "../../services/ptyd/accounts.h"


struct bad_case {
	const char *name;
	const char *text;
	const char *why;    /* expected start of the reason */
};

static const struct bad_case bad[] = {
	{ "no account", "alice\n", "line 1: an identity without an account" },
	{ "account is a number", "alice 1000\n", "line 1: \"1000\" is not a user name" },
	{ "account with upper case", "alice Alice\n", "line 1: \"Alice\" is not a user name" },
	{ "account too long", "alice aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", "line 1: \"aaaa" },
	{ "account starting with a dash", "alice -root\n", "line 1: \"-root\" is not a user name" },
	{ "dollar not last", "alice a$b\n", "line 1: \"a$b\" is not a user name" },
	{ "identity twice", "# c\nalice a\nalice b\n", "line 3: identity listed twice (first on line 2)" },
	{ "two defaults", "* a\n\n* b\n", "line 3: a second default (\"*\") line; the first is line 1" },
	{ "control byte", "ali\x01" "ce a\n", "line 1: a control byte (0x01)" },
	{ "NUL byte", "alice a\nb\0b c\n", "line 2: a NUL byte" },
	{ "brace in identity", "{alice} a\n", "line 1: not a valid identity" },
	{ "identity too long",
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx a\n", "line 1: not a valid identity" },
};

static void test_bad(void)
{
	char why[256], name[128], big[700];
	struct accounts_map m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i].text);
		if (strcmp(bad[i].name, "NUL byte") == 0)
			len = 14;
		why[0] = '\0';
		int rc = accounts_parse(bad[i].text, len, &m, why, sizeof(why));
		snprintf(name, sizeof(name), "refused: %s (%s)", bad[i].name, why);
		ok(rc == -1 && strncmp(why, bad[i].why, strlen(bad[i].why)) == 0 && m.n == 0 &&
		   m.entries == NULL && m.default_account == NULL, name);
	}
	memset(big, 'x', sizeof(big));
	ok(accounts_parse(big, sizeof(big), &m, why, sizeof(why)) == -1 &&
	   strcmp(why, "line 1: longer than 512 bytes") == 0, "refused: a line over 512 bytes");
}

static void test_good(void)
{
	static const char text[] =
		"# web-shell accounts\r\n"
		"\n"
		"   \t\n"
		"alice@example.com   alice\n"
		"  Alice Smith\tasmith  \r\n"
		"key:laptop bob_2$\n"
		"# * nobody\n"
		"*\tguest";
	char why[256] = "";
	struct accounts_map m;

	ok(accounts_parse(text, strlen(text), &m, why, sizeof(why)) == 0, "good file parses");
	ok(m.n == 3, "three entries");
	ok(m.n == 3 && strcmp(m.entries[1].identity, "Alice Smith") == 0 &&
	   strcmp(m.entries[1].account, "asmith") == 0 && m.entries[1].line == 5,
	   "identity with a blank inside, CRLF, tab before the account");
	ok(m.default_account != NULL && strcmp(m.default_account, "guest") == 0 &&
	   m.default_line == 8, "default line without a final newline");
	ok(strcmp(accounts_lookup(&m, "alice@example.com"), "alice") == 0, "lookup: listed");
	ok(strcmp(accounts_lookup(&m, "key:laptop"), "bob_2$") == 0, "lookup: account ending in $");
	ok(strcmp(accounts_lookup(&m, "mallory"), "guest") == 0, "lookup: not listed -> default");
	ok(strcmp(accounts_lookup(&m, ""), "guest") == 0, "lookup: no identity -> default");
	ok(strcmp(accounts_lookup(&m, "alice@example.co"), "guest") == 0, "lookup: prefix is not a match");
	accounts_free(&m);
	ok(m.n == 0 && m.entries == NULL, "free empties the map");

	ok(accounts_parse("bob b\n", 6, &m, why, sizeof(why)) == 0 &&
	   accounts_lookup(&m, "carol") == NULL && strcmp(accounts_lookup(&m, "bob"), "b") == 0,
	   "without a default an unlisted identity has no account");
	accounts_free(&m);
	ok(accounts_parse("", 0, &m, why, sizeof(why)) == 0 && m.n == 0 &&
	   accounts_lookup(&m, "x") == NULL, "empty file: nobody has an account");
	accounts_free(&m);
	ok(accounts_parse("*  root\n", 8, &m, why, sizeof(why)) == 0 &&
	   strcmp(m.default_account, "root") == 0,
	   "the parser takes root (refusing it is account.c's policy)");
	accounts_free(&m);
}

int main(void)
{
	test_good();
	test_bad();
	return tap_done();
}
