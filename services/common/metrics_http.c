/*
 * metrics_http.c: the libwebsockets glue that answers GET /metrics from a
 * registry on a vhost of its own. The body is formatted once per request and
 * written in chunks as the socket takes them, so a slow scraper never holds
 * the loop.
 */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Body bytes written per WRITEABLE callback. */
#define CHUNK (16 * 1024)

/* One scrape: the formatted body and how much of it is out. */
struct scrape {
	char *body;
	size_t len, off;
};

int metrics_parse_addr(const char *s, int allow_remote, struct listen_addr *out,
		       const char **errstr)
{
	unsigned char a[sizeof(struct in6_addr)];
	static const unsigned char v6_loopback[16] = { [15] = 1 };

	if (args_parse_listen(s, 1, out, errstr) != 0)
		return -1;
	if (out->is_unix || allow_remote)
		return 0;
	if (inet_pton(AF_INET, out->host, a) == 1 && a[0] == 127)
		return 0;
	if (inet_pton(AF_INET6, out->host, a) == 1 && memcmp(a, v6_loopback, 16) == 0)
		return 0;
	*errstr = "not a loopback address (metrics are local only; "
		  "--metrics-allow-remote to override)";
	return -1;
}

static int answer_status(struct lws *wsi, unsigned int status, const char *text)
{
	unsigned char buf[LWS_PRE + 512];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	size_t tlen = strlen(text);

	if (lws_add_http_common_headers(wsi, status, "text/plain; charset=utf-8",
					(lws_filepos_t)tlen, &p, end) ||
	    (status == 405 &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
					 (const unsigned char *)"GET", 3, &p, end)) ||
	    lws_finalize_http_header(wsi, &p, end) || end - p < (long)tlen)
		return -1;
	memcpy(p, text, tlen);
	p += tlen;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int start_scrape(struct lws *wsi, struct scrape *sc)
{
	struct metrics *reg = lws_get_vhost_user(lws_get_vhost(wsi));
	unsigned char buf[LWS_PRE + 512];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	char path[64];

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return answer_status(wsi, 405, "method not allowed\n");
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0 ||
	    strcmp(path, "/metrics") != 0)
		return answer_status(wsi, 404, "not found (only /metrics is served)\n");
	free(sc->body);
	sc->body = metrics_format(reg, &sc->len);
	sc->off = 0;
	if (sc->body == NULL)
		return answer_status(wsi, 503, "out of memory\n");
	if (lws_add_http_common_headers(wsi, 200, "text/plain; version=0.0.4; charset=utf-8",
					(lws_filepos_t)sc->len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int write_chunk(struct lws *wsi, struct scrape *sc)
{
	unsigned char buf[LWS_PRE + CHUNK];
	size_t n = sc->len - sc->off;
	int last;

	if (sc->body == NULL)
		return 0;
	if (n > CHUNK)
		n = CHUNK;
	last = sc->off + n == sc->len;
	memcpy(buf + LWS_PRE, sc->body + sc->off, n);
	if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
	    (int)n)
		return -1;
	sc->off += n;
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	free(sc->body);
	sc->body = NULL;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback_metrics(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			    void *in, size_t len)
{
	struct scrape *sc = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return start_scrape(wsi, sc);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_chunk(wsi, sc);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (sc != NULL) {
			free(sc->body);
			sc->body = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols metrics_protocols[] = {
	{ "webshell-metrics", callback_metrics, sizeof(struct scrape), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

int metrics_listen(struct lws_context *ctx, struct metrics *reg, const struct listen_addr *addr)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	info.vhost_name = "metrics";
	info.protocols = metrics_protocols;
	info.user = reg;
	info.server_string = "webshell-metrics";
	if (addr->is_unix) {
		info.options = LWS_SERVER_OPTION_UNIX_SOCK;
		info.iface = addr->path;
	} else {
		info.iface = addr->host;
		info.port = addr->port;
		if (strchr(addr->host, ':') == NULL)
			info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	}
	if (lws_create_vhost(ctx, &info) == NULL) {
		if (addr->is_unix)
			log_warnx("metrics: cannot listen on unix:%s", addr->path);
		else
			log_warnx("metrics: cannot listen on %s:%d", addr->host, addr->port);
		return -1;
	}
	return 0;
}
