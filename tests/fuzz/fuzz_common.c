/*
 * fuzz_common.c: libFuzzer target on services/common's pure parsers and
 * escapers: the X-Forwarded-For rule and both log escapings. Contracts
 * checked: output always NUL-terminated inside its buffer, escaped output
 * printable ASCII, an accepted client address a numeric IP without spaces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpreply.h"
#include "log.h"

static void check_ascii(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char small[17], out[1024], addr[64];
	const char *s = (const char *)data;

	log_escape(out, sizeof(out), s, size);
	check_ascii(out, sizeof(out));
	log_escape_json(out, sizeof(out), s, size);
	check_ascii(out, sizeof(out));
	log_escape_json(small, sizeof(small), s, size);
	check_ascii(small, sizeof(small));
	if (http_xff_last(s, size, addr, sizeof(addr)) == 0) {
		if (addr[0] == '\0' || strpbrk(addr, " ,\t") != NULL)
			abort();
		check_ascii(addr, sizeof(addr));
	} else if (addr[0] != '\0') {
		abort();
	}
	return 0;
}
