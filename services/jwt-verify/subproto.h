/*
 * subproto.h: the token in a WebSocket subprotocol list. A browser cannot set
 * Authorization on a WebSocket, so web-shell.js offers
 * "Sec-WebSocket-Protocol: webshell.bearer.<JWT>, tty" (as Kubernetes does
 * for its bearer tokens); Caddy's forward_auth passes the header on to us.
 * Pure: splits the list into the token and the rest, which the verifier
 * answers as X-Webshell-Protocol for Caddy to put back on the request, so
 * ptyd never sees the token.
 */
#ifndef JWT_VERIFY_SUBPROTO_H
#define JWT_VERIFY_SUBPROTO_H

#include <stddef.h>

#define SUBPROTO_BEARER "webshell.bearer."

enum subproto_result {
	SUBPROTO_NO_TOKEN,  /* no bearer element; rest holds the whole list */
	SUBPROTO_TOKEN,     /* one bearer element: tok and toklen point into v */
	SUBPROTO_TWO_TOKENS,/* more than one bearer element */
	SUBPROTO_TOO_LONG,  /* the rest does not fit in restcap */
};

/*
 * Splits the comma-separated list v (len bytes; elements trimmed of spaces
 * and tabs, empty elements dropped) into the one "webshell.bearer.<JWT>"
 * element and the others, written to rest joined by ", " (NUL-terminated,
 * restcap bytes).
 */
enum subproto_result subproto_split(const char *v, size_t len, const char **tok, size_t *toklen,
				    char *rest, size_t restcap);

#endif
