/*
 * reqid.c: correlation ids: made from libsodium's CSPRNG, or checked.
 */
#include "reqid.h"

#include <sodium.h>

void reqid_new(char dst[REQID_LEN + 1])
{
	unsigned char raw[REQID_BYTES];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(dst, REQID_LEN + 1, raw, sizeof(raw));
}

int reqid_valid(const char *s, size_t len)
{
	size_t i;

	if (len < 8 || len > REQID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}
