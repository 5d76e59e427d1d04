/*
 * subproto.c: the bearer token out of a Sec-WebSocket-Protocol list.
 */
#include "subproto.h"

#include <string.h>

enum subproto_result subproto_split(const char *v, size_t len, const char **tok, size_t *toklen,
				    char *rest, size_t restcap)
{
	const size_t plen = sizeof(SUBPROTO_BEARER) - 1;
	const char *p = v, *end = v + len, *b, *e;
	enum subproto_result r = SUBPROTO_NO_TOKEN;
	size_t o = 0;

	if (restcap == 0)
		return SUBPROTO_TOO_LONG;
	rest[0] = '\0';
	*tok = NULL;
	*toklen = 0;
	while (p < end) {
		e = memchr(p, ',', (size_t)(end - p));
		if (e == NULL)
			e = end;
		b = p;
		p = e < end ? e + 1 : end;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (b == e)
			continue;
		if ((size_t)(e - b) >= plen && memcmp(b, SUBPROTO_BEARER, plen) == 0) {
			if (r == SUBPROTO_TOKEN)
				return SUBPROTO_TWO_TOKENS;
			r = SUBPROTO_TOKEN;
			*tok = b + plen;
			*toklen = (size_t)(e - b) - plen;
			continue;
		}
		if (o + (o ? 2 : 0) + (size_t)(e - b) + 1 > restcap)
			return SUBPROTO_TOO_LONG;
		if (o) {
			memcpy(rest + o, ", ", 2);
			o += 2;
		}
		memcpy(rest + o, b, (size_t)(e - b));
		o += (size_t)(e - b);
		rest[o] = '\0';
	}
	return r;
}
