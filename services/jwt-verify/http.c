/*
 * http.c: the libwebsockets glue of jwt-verify: admits one HTTP/1.1 request
 * at a time per connection, finds the token (X-Forwarded-Uri query, own
 * query, Authorization: Bearer), asks jwt.c, answers 200/401/400/404/405 in
 * one write, and logs one line per decision. Never the token, a signature or
 * the X-Forwarded-Uri value in that line.
 */
#include "http.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "httpreply.h"
#include "jwt.h"
#include "log.h"
#include "reqid.h"
#include "subproto.h"
#include "verify_metrics.h"
#include "sigwatch.h"

/* Header values we copy out are bounded by the 16 KiB header limit. */
#define HDR_MAX (16 * 1024)

/* Where a token came from, or why there is none. */
enum token_found {
	TOKEN_NONE,
	TOKEN_FOUND,
	TOKEN_AMBIGUOUS,
	TOKEN_BAD_ENCODING,
	TOKEN_REFUSED, /* the request itself is refused; reason already set */
};

static void conn_answered(struct lws *wsi);

/* One request's decision, for the answer and the log line. */
struct decision {
	unsigned int status;
	const char *reason;          /* static string */
	char user[JWT_SUB_MAX + 8];  /* X-Webshell-User on 200 */
	char request_id[REQID_MAX + 1]; /* correlation id: logged, answered, passed to ptyd */
	int has_protocols;           /* the request had Sec-WebSocket-Protocol */
	char protocols[512];         /* its elements but the token: X-Webshell-Protocol */
	struct jwt_result jwt;
	struct timespec start;
	int close;                   /* 1: the connection ends after the answer */
	const char *client;          /* NULL: read it from the connection */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes src into dst (cap > len); returns the length or -1. */
static long pct_decode(char *dst, size_t cap, const char *src, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (o + 1 >= cap)
			return -1;
		if (src[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hexval(src[i + 1]);
			lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			dst[o++] = src[i];
		}
	}
	dst[o] = '\0';
	return (long)o;
}

/*
 * Finds the one "token" parameter in a raw URI (path?query#frag). On
 * TOKEN_FOUND the decoded value is in dst and *dlen.
 */
static enum token_found uri_token(const char *uri, size_t len, char *dst, size_t cap,
				  size_t *dlen)
{
	const char *q = memchr(uri, '?', len), *end = uri + len, *p, *amp, *hash;
	enum token_found found = TOKEN_NONE;
	long n;

	if (q == NULL)
		return TOKEN_NONE;
	hash = memchr(q, '#', (size_t)(end - q));
	if (hash != NULL)
		end = hash;
	for (p = q + 1; p < end; p = amp + 1) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp - p >= 5 && memcmp(p, "token", 5) == 0 && (amp - p == 5 || p[5] == '=')) {
			if (found != TOKEN_NONE)
				return TOKEN_AMBIGUOUS;
			found = TOKEN_FOUND;
			if (amp - p == 5) {
				*dlen = 0;
				dst[0] = '\0';
				continue;
			}
			n = pct_decode(dst, cap, p + 6, (size_t)(amp - p - 6));
			if (n < 0) {
				/* What was decoded before the bad escape is no more than its source. */
				explicit_bzero(dst, (size_t)(amp - p - 6) < cap ? (size_t)(amp - p - 6) : cap);
				return TOKEN_BAD_ENCODING;
			}
			*dlen = (size_t)n;
		}
	}
	return found;
}

/* The "token" parameter of the request's own query (lws has decoded it). */
static enum token_found own_query_token(struct lws *wsi, char *dst, size_t cap, size_t *dlen)
{
	enum token_found found = TOKEN_NONE;
	char frag[HDR_MAX + 1];
	size_t used = 0;
	int i, n;

	for (i = 0; (n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS,
					       i)) >= 0; i++) {
		if ((size_t)n + 1 > used)
			used = (size_t)n + 1;
		if (strncmp(frag, "token", 5) != 0 || (frag[5] != '=' && frag[5] != '\0'))
			continue;
		if (found != TOKEN_NONE) {
			found = TOKEN_AMBIGUOUS;
			break;
		}
		found = TOKEN_FOUND;
		*dlen = frag[5] == '=' ? (size_t)n - 6 : 0;
		if (*dlen >= cap) {
			found = TOKEN_BAD_ENCODING;
			break;
		}
		memcpy(dst, frag[5] == '=' ? frag + 6 : "", *dlen);
		dst[*dlen] = '\0';
	}
	/* Only what was copied: wiping all 16 KiB cost more than the rest of the request. */
	explicit_bzero(frag, used < sizeof(frag) ? used : sizeof(frag));
	return found;
}

/* Authorization: Bearer TOKEN (scheme case-insensitive, RFC 6750 section 2.1). */
static enum token_found bearer_token(struct lws *wsi, char *dst, size_t cap, size_t *dlen)
{
	enum token_found found = TOKEN_FOUND;
	char auth[HDR_MAX + 1];
	const char *v;
	int n;

	n = lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 0)
		return TOKEN_NONE;
	if (strncasecmp(auth, "Bearer ", 7) != 0) {
		found = TOKEN_NONE;
		goto out;
	}
	for (v = auth + 7; *v == ' '; v++)
		;
	*dlen = strlen(v);
	while (*dlen > 0 && v[*dlen - 1] == ' ')
		(*dlen)--;
	if (*dlen >= cap) {
		found = TOKEN_BAD_ENCODING;
		goto out;
	}
	memcpy(dst, v, *dlen);
	dst[*dlen] = '\0';
out:
	explicit_bzero(auth, (size_t)n);
	return found;
}

/*
 * The Sec-WebSocket-Protocol list: its bearer element's token in dst, the
 * other elements in d->protocols (answered as X-Webshell-Protocol).
 */
static enum token_found subprotocol_token(struct lws *wsi, char *dst, size_t cap, size_t *dlen,
					  struct decision *d, const char **reason)
{
	char list[HDR_MAX + 1];
	const char *tok;
	size_t toklen;
	int n;

	n = lws_hdr_copy(wsi, list, sizeof(list), WSI_TOKEN_PROTOCOL);
	if (n <= 0)
		return TOKEN_NONE;
	d->has_protocols = 1;
	switch (subproto_split(list, (size_t)n, &tok, &toklen, d->protocols,
			       sizeof(d->protocols))) {
	case SUBPROTO_NO_TOKEN:
		return TOKEN_NONE;
	case SUBPROTO_TWO_TOKENS:
		*reason = "more than one token in Sec-WebSocket-Protocol";
		return TOKEN_REFUSED;
	case SUBPROTO_TOO_LONG:
		*reason = "Sec-WebSocket-Protocol too long";
		return TOKEN_REFUSED;
	case SUBPROTO_TOKEN:
		break;
	}
	if (d->protocols[0] == '\0') {
		/* Caddy would then leave the client's list, token and all, on the request. */
		*reason = "Sec-WebSocket-Protocol offers nothing but the token";
		return TOKEN_REFUSED;
	}
	if (toklen >= cap) {
		*reason = "token too large";
		return TOKEN_REFUSED;
	}
	memcpy(dst, tok, toklen);
	dst[toklen] = '\0';
	*dlen = toklen;
	explicit_bzero(list, (size_t)n);
	return TOKEN_FOUND;
}

/*
 * Finds the one token of the request in its three places: the URL (the
 * X-Forwarded-Uri query, else the request's own query: Caddy's auth request
 * may carry both, the same), Authorization: Bearer, and the subprotocol
 * list. A token in two places is refused: which one would be meant?
 * Sets *reason unless TOKEN_FOUND.
 */
static enum token_found find_token(struct lws *wsi, char *dst, size_t cap, size_t *dlen,
				   struct decision *d, const char **reason)
{
	static const char xfu_name[] = "x-forwarded-uri:";
	char xfu[HDR_MAX + 1], bearer[HDR_MAX + 1], sub[HDR_MAX + 1];
	enum token_found f = TOKEN_NONE, fb, fs;
	size_t blen = 0, slen = 0;
	int n;

	/* Each copy is wiped after, as far as it was written (lengths from 0 up). */
	bearer[0] = sub[0] = '\0';

	*reason = NULL;
	n = lws_hdr_custom_copy(wsi, xfu, sizeof(xfu), xfu_name, (int)sizeof(xfu_name) - 1);
	/*
	 * A fragment never belongs in a request target, and log filters that
	 * cut at '#' would show what follows it (a token) in clear: refuse.
	 */
	if (n > 0 && memchr(xfu, '#', (size_t)n) != NULL) {
		*reason = "'#' in the forwarded request target";
		return TOKEN_REFUSED;
	}
	if (n > 0)
		f = uri_token(xfu, (size_t)n, dst, cap, dlen);
	if (f == TOKEN_NONE)
		f = own_query_token(wsi, dst, cap, dlen);
	fb = bearer_token(wsi, bearer, sizeof(bearer), &blen);
	/* Always read: its list without the token is answered even for a URL token. */
	fs = subprotocol_token(wsi, sub, sizeof(sub), &slen, d, reason);
	if (fs == TOKEN_REFUSED) {
		f = TOKEN_REFUSED;
	} else if ((f != TOKEN_NONE) + (fb != TOKEN_NONE) + (fs != TOKEN_NONE) > 1) {
		*reason = "token in more than one place (URL, Authorization, Sec-WebSocket-Protocol)";
		f = TOKEN_REFUSED;
	} else if (f == TOKEN_NONE && fb != TOKEN_NONE) {
		f = fb;
		if (fb == TOKEN_FOUND && blen < cap) {
			memcpy(dst, bearer, blen + 1);
			*dlen = blen;
		}
	} else if (f == TOKEN_NONE && fs == TOKEN_FOUND && slen < cap) {
		f = fs;
		memcpy(dst, sub, slen + 1);
		*dlen = slen;
	}
	explicit_bzero(xfu, n > 0 ? (size_t)n : 0);
	explicit_bzero(bearer, blen < sizeof(bearer) ? blen + 1 : sizeof(bearer));
	explicit_bzero(sub, slen < sizeof(sub) ? slen + 1 : sizeof(sub));
	switch (f) {
	case TOKEN_NONE: *reason = "token missing"; break;
	case TOKEN_AMBIGUOUS: *reason = "more than one token parameter"; break;
	case TOKEN_BAD_ENCODING: *reason = "token badly percent-encoded"; break;
	case TOKEN_FOUND: break;
	case TOKEN_REFUSED: break;
	}
	return f;
}

/* Decides on the token of this request. */
static void decide_token(struct lws *wsi, struct verifier *v, struct decision *d)
{
	char tok[HDR_MAX + 1];
	size_t len = 0;
	struct timespec now;
	struct jwt_policy policy;

	/* Not time(): glibc reads a coarse clock that can lag a second edge by a tick. */
	clock_gettime(CLOCK_REALTIME, &now);
	policy = (struct jwt_policy){
		.now = (long long)now.tv_sec,
		.leeway = v->leeway,
		.max_lifetime = v->max_lifetime,
		.audience = v->audience,
		.require_jti = v->replay != NULL,
	};

	d->status = 401;
	switch (find_token(wsi, tok, sizeof(tok), &len, d, &d->reason)) {
	case TOKEN_FOUND:
		break;
	case TOKEN_REFUSED:
		/* The request is malformed rather than its token bad. */
		if (strchr(d->reason, '#') != NULL || strstr(d->reason, "more than one") != NULL)
			d->status = 400;
		goto out;
	default:
		goto out;
	}
	if (jwt_verify(tok, len, v->keys->keys, v->keys->n, &policy, &d->jwt, &d->reason) != 0)
		goto out;
	if (v->replay != NULL) {
		switch (replay_check(v->replay, d->jwt.jti, strlen(d->jwt.jti),
				     d->jwt.exp + (double)v->leeway, policy.now)) {
		case REPLAY_SEEN: d->reason = "token replayed (jti seen before)"; goto out;
		case REPLAY_FULL: d->reason = "replay cache full"; goto out;
		case REPLAY_FRESH: break;
		}
	}
	d->status = 200;
	d->reason = "ok";
	if (d->jwt.sub[0] != '\0')
		snprintf(d->user, sizeof(d->user), "%s", d->jwt.sub);
	else
		snprintf(d->user, sizeof(d->user), "%s", d->jwt.key->name);
out:
	/* The token stays in this stack frame only; wipe it. */
	explicit_bzero(tok, len);
}

/* The request line and headers: method, path, body. Sets status/reason when refused. */
static int admit(struct lws *wsi, struct decision *d)
{
	char path[256], clen[32];
	int n;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
		d->status = 405;
		d->reason = "method not allowed";
		return -1;
	}
	n = lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
	if (n < 0 || strcmp(path, "/verify") != 0) {
		d->status = 404;
		d->reason = "not found (only /verify is served)";
		return -1;
	}
	/* Caddy's auth requests never carry a body; one that does is not Caddy's. */
	n = lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH);
	if (n < 0 || (n > 0 && strcmp(clen, "0") != 0) ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		d->status = 400;
		d->reason = "request body not allowed";
		return -1;
	}
	return 0;
}

static long long elapsed_us(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - start->tv_sec) * 1000000 +
	       (now.tv_nsec - start->tv_nsec) / 1000;
}

/* The one log line of a decision. */
static void log_decision(struct lws *wsi, const struct decision *d)
{
	char client[128], status[8], us[24], key[KEY_NAME_PREFIX + 1] = "";
	const char *alg = d->jwt.alg != JWT_ALG_UNSET ? jwt_alg_name(d->jwt.alg) : NULL;

	if (d->client != NULL)
		snprintf(client, sizeof(client), "%s", d->client);
	else
		http_client_addr(wsi, client, sizeof(client));
	if (d->jwt.key != NULL)
		snprintf(key, sizeof(key), "%.*s", KEY_NAME_PREFIX, d->jwt.key->thumb);
	/* 0: the library answered (or closed) by itself; what it sent is not ours to know. */
	snprintf(status, sizeof(status), "%u", d->status);
	snprintf(us, sizeof(us), "%lld", elapsed_us(&d->start));
	struct log_field f[] = {
		{ "request_id", d->request_id },
		{ "decision", d->status == 200 ? "allow" : "deny" },
		{ "status", d->status ? status : NULL },
		{ "reason", d->reason },
		{ "sub", d->jwt.sub[0] ? d->jwt.sub : NULL },
		{ "jti", d->jwt.jti[0] ? d->jwt.jti : NULL },
		{ "alg", alg },
		{ "key", key[0] ? key : NULL },
		{ "client", client },
		{ "us", us },
	};
	log_event("decision", f, sizeof(f) / sizeof(f[0]));
}

/* The answer: 200 with X-Webshell-User, or the status with the reason as its body. */
static int answer(struct lws *wsi, const struct decision *d)
{
	char body[128] = "";
	struct http_header extra[] = {
		{ "x-webshell-request-id:", d->request_id },
		{ "x-webshell-user:", d->status == 200 ? d->user : NULL },
		{ "x-webshell-protocol:", d->status == 200 && d->has_protocols ? d->protocols : NULL },
		{ "www-authenticate:", d->status == 401 ? "Bearer error=\"invalid_token\"" : NULL },
		{ "allow:", d->status == 405 ? "GET" : NULL },
	};

	if (d->status != 200)
		snprintf(body, sizeof(body), "%s\n", d->reason);
	return http_reply(wsi, d->status, "text/plain; charset=utf-8", body, extra,
			  sizeof(extra) / sizeof(extra[0]), d->close);
}

/*
 * The request's correlation id: with --trust-request-id, a valid incoming
 * X-Webshell-Request-Id (the proxy in front made it); otherwise a new one, so
 * a client cannot choose the id its session is logged under.
 */
static void request_id(struct lws *wsi, const struct verifier *v, char *dst, size_t cap)
{
	int n;

	if (v->trust_request_id) {
		n = lws_hdr_custom_copy(wsi, dst, (int)cap, REQID_HEADER, (int)strlen(REQID_HEADER));
		if (n > 0 && reqid_valid(dst, (size_t)n))
			return;
	}
	reqid_new(dst);
}

/*
 * Handles one request: decides, logs, answers. Returns 0 when the connection
 * may serve another request, 1 when it must end after this answer (refused
 * requests, upgrade requests), -1 when the answer could not be written.
 */
static int handle(struct lws *wsi, int upgrade)
{
	struct verifier *v = lws_context_user(lws_get_context(wsi));
	struct decision d;
	int keep;

	memset(&d, 0, sizeof(d));
	clock_gettime(CLOCK_MONOTONIC, &d.start);
	request_id(wsi, v, d.request_id, sizeof(d.request_id));
	keep = admit(wsi, &d) == 0;
	if (keep)
		decide_token(wsi, v, &d);
	/*
	 * A refused request may have a body we will not read; after an upgrade
	 * request lws answers as HTTP/1.0 and ends the connection: say so.
	 */
	d.close = !keep || upgrade;
	log_decision(wsi, &d);
	verify_metrics_decision(d.status, d.reason, &d.start);
	if (answer(wsi, &d) != 0)
		return -1;
	conn_answered(wsi);
	return d.close;
}

/*
 * What we know of one connection: how many bytes had arrived when it was
 * last answered. Requests libwebsockets refuses by itself (an unknown
 * method, headers over the limit, a request line never finished) reach no
 * callback of ours; bytes beyond that count when it closes are such a
 * request, and get their decision line then.
 */
struct conn_state {
	unsigned long long answered_bytes;
	char client[64]; /* read at accept: a closed socket has no peer any more */
};

static unsigned long long bytes_received(struct lws *wsi)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return 0;
	return ti.tcpi_bytes_received;
}

static void conn_answered(struct lws *wsi)
{
	struct conn_state *cs = lws_get_opaque_user_data(wsi);

	if (cs != NULL)
		cs->answered_bytes = bytes_received(wsi);
}

static void conn_closed(struct lws *wsi)
{
	struct conn_state *cs = lws_get_opaque_user_data(wsi);
	struct decision d;

	/* The peer's FIN counts as one byte of sequence space. */
	if (cs == NULL || bytes_received(wsi) <= cs->answered_bytes + 1)
		return;
	cs->answered_bytes = bytes_received(wsi);
	memset(&d, 0, sizeof(d));
	clock_gettime(CLOCK_MONOTONIC, &d.start);
	reqid_new(d.request_id);
	d.reason = "refused by the HTTP library (malformed, oversized or unfinished request)";
	d.client = cs->client;
	log_decision(wsi, &d);
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	(void)user;
	(void)len;
	/* No TCP_NODELAY here: lws sets it on every accepted TCP socket (seen with strace). */
	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: {
		struct conn_state *cs = calloc(1, sizeof(*cs));

		if (cs != NULL)
			http_client_addr(wsi, cs->client, sizeof(cs->client));
		lws_set_opaque_user_data(wsi, cs);
		return 0;
	}
	case LWS_CALLBACK_CLOSED_HTTP:
		conn_closed(wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		free(lws_get_opaque_user_data(wsi));
		lws_set_opaque_user_data(wsi, NULL);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/*
		 * Caddy forwards the WebSocket handshake headers on the auth
		 * request: answer it as plain HTTP and never upgrade. >0 tells
		 * lws we answered; -1 from handle() hangs up instead.
		 */
		return handle(wsi, 1) >= 0 ? 1 : -1;
	case LWS_CALLBACK_HTTP:
		if (handle(wsi, 0) != 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols http_protocols[] = {
	{ "http", callback_http, 0, 0, 0, NULL, 0 },
	SIGWATCH_PROTOCOL,
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};
