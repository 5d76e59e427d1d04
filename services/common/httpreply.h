/*
 * httpreply.h: the small HTTP answers both services give (a status, a short
 * body, a few headers, in one write) and the client's address for their logs.
 */
#ifndef WEBSHELL_HTTPREPLY_H
#define WEBSHELL_HTTPREPLY_H

#include <stddef.h>

#include <libwebsockets.h>

/* Longest body http_reply() sends; headers and body share one buffer. */
#define HTTP_REPLY_BODY_MAX 1024

/* One extra response header: name lower-case and ending in ':' ("allow:"). */
struct http_header {
	const char *name;
	const char *value; /* NULL: header left out */
};

/*
 * Answers status with body (NULL or "" for none) of type ctype, the
 * headers Content-Length and Cache-Control: no-store, the extra headers, and
 * Connection: close when close is set (the connection ends after it). Status
 * line, headers and body go out in one write; a HEAD request gets no body.
 * Returns 0, or -1 when the answer did not fit or the socket failed.
 */
int http_reply(struct lws *wsi, unsigned int status, const char *ctype, const char *body,
	       const struct http_header *extra, size_t nextra, int close);

/*
 * The client's address for logs, into dst (cap bytes): the last
 * X-Forwarded-For entry when it is a numeric IP address (the address the
 * proxy in front of us saw: Caddy sets or appends it), else the socket's
 * peer, else "unix" (a unix socket has none). Always NUL-terminated.
 */
void http_client_addr(struct lws *wsi, char *dst, size_t cap);

/*
 * The last comma-separated entry of an X-Forwarded-For value (len bytes),
 * trimmed, into dst (cap bytes) when it is a numeric IPv4 or IPv6 address.
 * Returns 0, or -1 (dst then ""). Pure; http_client_addr() uses it.
 */
int http_xff_last(const char *xff, size_t len, char *dst, size_t cap);

#endif
