/*
 * metrics_http.h: serves a metrics registry (metrics.h) on a listener of its
 * own inside a service's libwebsockets context: GET /metrics answers the text
 * exposition. It is a second vhost, never the service's own listener, so it
 * is never reachable through Caddy; TCP addresses must be loopback unless the
 * operator says otherwise.
 */
#ifndef WEBSHELL_METRICS_HTTP_H
#define WEBSHELL_METRICS_HTTP_H

#include <libwebsockets.h>

#include "args.h"
#include "metrics.h"

/*
 * Parses a --metrics value, "127.0.0.1:PORT", "[::1]:PORT" or "unix:PATH",
 * into *out. A TCP address that is not loopback is refused unless
 * allow_remote. Returns 0, or -1 with *errstr naming the problem.
 */
int metrics_parse_addr(const char *s, int allow_remote, struct listen_addr *out,
		       const char **errstr);

/*
 * Listens on addr in ctx (a new vhost named "metrics") and answers from reg,
 * which must outlive ctx. Returns 0, or -1 when the listener cannot be made
 * (logged here, with the address).
 */
int metrics_listen(struct lws_context *ctx, struct metrics *reg, const struct listen_addr *addr);

#endif
