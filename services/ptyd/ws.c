/*
 * ws.c: the libwebsockets glue: the protocol table, HTTP answers (/token,
 * the index) and admission of upgrades (path, subprotocol, Origin,
 * --max-clients) with real HTTP refusals. Each subprotocol's connections
 * live in their own file (tty.c); watched descriptors in fdwatch.c, signals in main.c.
 */
#include "ptyd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "execproto.h"
#include "fdwatch.h"
#include "httpreply.h"
#include "sigwatch.h"

static struct ptyd *ws_srv(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void log_refusal(struct lws *wsi, int status, const char *reason)
{
	char peer[PTYD_PEER_MAX], code[8];

	http_client_addr(wsi, peer, sizeof(peer));
	snprintf(code, sizeof(code), "%d", status);
	struct log_field f[] = { { "peer", peer }, { "status", code }, { "reason", reason } };
	log_event("refused", f, 3);
}

/* Refuses an upgrade with an HTTP status and the reason as the body. */
static int refuse(struct lws *wsi, unsigned int status, const char *reason)
{
	char body[160];

	log_refusal(wsi, (int)status, reason);
	snprintf(body, sizeof(body), "%s\n", reason);
	/* lws ends the connection after answering an upgrade request: say so. */
	if (http_reply(wsi, status, "text/plain; charset=utf-8", body, NULL, 0, 1) != 0)
		return -1;
	return 1;
}

void ws_header_value(struct lws *wsi, const char *name, char *dst, size_t cap)
{
	char v[PROTO_USER_MAX + 2];
	int n;

	dst[0] = '\0';
	if (lws_hdr_custom_length(wsi, name, (int)strlen(name)) <= 0)
		return;
	n = lws_hdr_custom_copy(wsi, v, sizeof(v), name, (int)strlen(name));
	if (n <= 0 || !proto_user_valid(v, (size_t)n) || (size_t)n >= cap) {
		log_debug("%s unusable, treated as absent", name);
		return;
	}
	memcpy(dst, v, (size_t)n);
	dst[n] = '\0';
}

/* True when the comma-separated header value lists token name. */
static int offers(const char *v, const char *name)
{
	char copy[256], *save = NULL, *t;

	snprintf(copy, sizeof(copy), "%s", v);
	for (t = strtok_r(copy, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save))
		if (strcmp(t, name) == 0)
			return 1;
	return 0;
}

/* True when the Origin header is one of --check-origin's. */
static int origin_allowed(struct lws *wsi, const struct ptyd_config *cfg)
{
	char origin[256];
	int i;

	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
		return 0;
	for (i = 0; i < cfg->norigins; i++)
		if (strcasecmp(origin, cfg->check_origin[i]) == 0)
			return 1;
	return 0;
}

/* Admission, before the 101: each refusal is an HTTP answer with a reason. */
static int confirm_upgrade(struct lws *wsi, struct ptyd *srv)
{
	char uri[256], proto[256];

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return refuse(wsi, HTTP_STATUS_BAD_REQUEST, "upgrade must be a GET");
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0)
		return refuse(wsi, HTTP_STATUS_NOT_FOUND, "no WebSocket endpoint here (use /ws)");
	if (lws_hdr_copy(wsi, proto, sizeof(proto), WSI_TOKEN_PROTOCOL) <= 0 ||
	    !(offers(proto, "tty") || (!srv->cfg.exec.disabled && offers(proto, EXECPROTO_NAME))))
		return refuse(wsi, HTTP_STATUS_BAD_REQUEST, srv->cfg.exec.disabled ?
			      "subprotocol tty required" :
			      "subprotocol tty or webshell-exec.v1 required");
	if (srv->cfg.norigins > 0 && !origin_allowed(wsi, &srv->cfg))
		return refuse(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
	if (srv->stopping)
		return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "server shutting down");
	if (srv->cfg.max_clients > 0 && srv->nclients >= srv->cfg.max_clients)
		return refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "too many sessions (--max-clients)");
	return 0;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct ptyd *srv = ws_srv(wsi);
	const char *path = in;
	int n;

	(void)user;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		/* A new connection on the listener: its bytes are scanned from the first. */
		wsguard_accept((int)(lws_intptr_t)in);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi, srv);
	case LWS_CALLBACK_HTTP:
		if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) <= 0) {
			n = http_reply(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "GET only\n",
				       &(struct http_header){ "allow:", "GET, HEAD" }, 1, 0);
		} else if (strcmp(path, "/token") == 0) {
			/* ttyd's exact body: its web client fetches it before connecting. */
			n = http_reply(wsi, HTTP_STATUS_OK, "application/json;charset=utf-8",
				       "{\"token\": \"\"}", NULL, 0, 0);
		} else if (strcmp(path, "/") == 0 && srv->cfg.index != NULL) {
			n = lws_serve_http_file(wsi, srv->cfg.index, "text/html", NULL, 0);
			if (n < 0)
				return -1;
			return 0;
		} else {
			n = http_reply(wsi, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n", NULL, 0, 0);
		}
		if (n != 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols ptyd_protocols[] = {
	{ "http", callback_http, 0, 0, 0, NULL, 0 },
	/* rx_buffer_size bounds each RECEIVE chunk and is allocated per
	 * connection: small keeps idle sessions small (input is keystrokes).
	 * tx is left unbounded so one output frame goes out in one send(). */
	{ "tty", tty_callback, TTY_PSS_SIZE, 512, 0, NULL, 1 << 20 },
	EXEC_LWS_PROTOCOLS,
	SIGWATCH_PROTOCOL,
	{ "ptyd-admin", admin_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void close_cb(lws_sorted_usec_list_t *sul)
{
	struct ws_closer *cl = lws_container_of(sul, struct ws_closer, sul);
	struct lws *wsi = cl->wsi;

	cl->wsi = NULL;
	/* Not the connection being serviced now: lws sends the close frame
	 * prepared by lws_close_reason() and waits for the client's answer. */
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

int ws_close(struct ws_closer *cl, struct lws *wsi, int code, const char *reason)
{
	if (cl->wsi != NULL)
		return 0;
	lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
	cl->wsi = wsi;
	lws_sul_schedule(lws_get_context(wsi), 0, &cl->sul, close_cb, 1);
	return 0;
}

void ws_close_cancel(struct ws_closer *cl)
{
	if (cl->wsi != NULL)
		lws_sul_cancel(&cl->sul);
	cl->wsi = NULL;
}

static void rearm_cb(lws_sorted_usec_list_t *sul)
{
	struct ws_rearm *r = lws_container_of(sul, struct ws_rearm, sul);

	if (r->wsi != NULL)
		lws_callback_on_writable(r->wsi);
}

void ws_rearm_writable(struct ws_rearm *r, struct lws *wsi)
{
	r->wsi = wsi;
	lws_sul_schedule(lws_get_context(wsi), 0, &r->sul, rearm_cb, 1);
}

void ws_rearm_cancel(struct ws_rearm *r)
{
	if (r->wsi != NULL)
		lws_sul_cancel(&r->sul);
	r->wsi = NULL;
}
