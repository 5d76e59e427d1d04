/*
 * http.h: what main.c hands the HTTP glue of jwt-verify: the verifier's
 * configuration and state, reached from the lws callback through the context.
 */
#ifndef JWT_VERIFY_HTTP_H
#define JWT_VERIFY_HTTP_H

#include <libwebsockets.h>

#include "keys.h"
#include "replay.h"

struct verifier {
	struct keyset *keys;     /* owned by main; swapped whole on SIGHUP */
	struct replay *replay;   /* owned by main; NULL without --single-use */
	const char *audience;    /* --audience, or NULL */
	long long leeway;        /* --leeway, seconds */
	long long max_lifetime;  /* --max-lifetime, seconds */
	int trust_request_id;    /* --trust-request-id: take a valid incoming id */
};

/* The lws protocol list (one HTTP protocol and the terminator). */
extern const struct lws_protocols http_protocols[];

#endif
