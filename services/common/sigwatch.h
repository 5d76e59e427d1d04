/*
 * sigwatch.h: signals as events of the libwebsockets loop, for both services.
 * The signals are blocked and read from a signalfd that a raw lws descriptor
 * watches, so a handler runs as an ordinary callback (it may log, allocate,
 * reload) and never races poll().
 */
#ifndef WEBSHELL_SIGWATCH_H
#define WEBSHELL_SIGWATCH_H

#include <libwebsockets.h>

/* Called from the loop once per delivered signal. */
typedef void (*sigwatch_fn)(void *arg, int sig);

/* The lws protocol sigwatch_adopt() uses: list it in the vhost's protocols. */
#define SIGWATCH_PROTOCOL_NAME "webshell-signals"
int sigwatch_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);
#define SIGWATCH_PROTOCOL { SIGWATCH_PROTOCOL_NAME, sigwatch_callback, 0, 0, 0, NULL, 0 }

/*
 * Ignores SIGPIPE (a peer that goes away is an error return, not a death),
 * blocks the signals of the 0-terminated list sigs and opens a signalfd for
 * them. Call before any thread or child exists. Exits through fatal() on
 * failure (a start-up error). Returns the descriptor.
 */
int sigwatch_open(const int *sigs);

/*
 * Watches fd (from sigwatch_open) in vhost vh: fn(arg, sig) runs for each
 * signal. One watch per process. Returns 0, or -1 if lws refused the fd.
 */
int sigwatch_adopt(struct lws_vhost *vh, int fd, sigwatch_fn fn, void *arg);

#endif
