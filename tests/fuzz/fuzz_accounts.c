/*
 * fuzz_accounts.c: libFuzzer target on ptyd's --accounts parser. Each input
 * is a file; a parsed map must answer lookups of each of its identities with
 * its own account, and free cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/ptyd/accounts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct accounts_map m;
	char why[256];
	size_t i;

	if (accounts_parse((const char *)data, size, &m, why, sizeof(why)) != 0) {
		if (strncmp(why, "line ", 5) != 0)
			abort();
		return 0;
	}
	for (i = 0; i < m.n; i++)
		if (strcmp(accounts_lookup(&m, m.entries[i].identity), m.entries[i].account) != 0)
			abort();
	accounts_lookup(&m, "");
	accounts_free(&m);
	return 0;
}
