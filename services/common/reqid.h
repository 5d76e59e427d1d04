/*
 * reqid.h: the correlation id of one request, carried from jwt-verify's
 * decision (which makes it, or takes a trusted one) to ptyd's session lines
 * through Caddy as X-Webshell-Request-Id, so one search finds a session's
 * whole life.
 */
#ifndef WEBSHELL_REQID_H
#define WEBSHELL_REQID_H

#include <stddef.h>

/* 16 random bytes in lower-case hex. */
#define REQID_BYTES 16
#define REQID_LEN (2 * REQID_BYTES)
/* Longest id accepted from elsewhere. */
#define REQID_MAX 64

/* The header that carries it, as lws names it. */
#define REQID_HEADER "x-webshell-request-id:"

/* Writes a fresh random id (REQID_LEN characters and a NUL) into dst. */
void reqid_new(char dst[REQID_LEN + 1]);

/*
 * 1 when s (len bytes) is usable as an id from elsewhere: 8 to REQID_MAX
 * characters of [A-Za-z0-9._-] (safe in a header, a log line and a file name).
 */
int reqid_valid(const char *s, size_t len);

#endif
