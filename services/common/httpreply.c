/*
 * httpreply.c: one-write HTTP answers and the client's address over lws.
 */
#include "httpreply.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

int http_reply(struct lws *wsi, unsigned int status, const char *ctype, const char *body,
	       const struct http_header *extra, size_t nextra, int close)
{
	unsigned char buf[LWS_PRE + 2048 + HTTP_REPLY_BODY_MAX];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	size_t blen = body != NULL ? strlen(body) : 0, i;
	char clen[24];

	if (blen > HTTP_REPLY_BODY_MAX)
		return -1;
	snprintf(clen, sizeof(clen), "%zu", blen);
	/* Content-Length by hand: lws then counts no body bytes of its own for this answer. */
	if (lws_add_http_header_status(wsi, status, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
					 (const unsigned char *)clen, (int)strlen(clen), &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)"no-store", 8, &p, end))
		return -1;
	if (blen > 0 && ctype != NULL &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (const unsigned char *)ctype, (int)strlen(ctype), &p, end))
		return -1;
	for (i = 0; i < nextra; i++)
		if (extra[i].value != NULL &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)extra[i].name,
						(const unsigned char *)extra[i].value,
						(int)strlen(extra[i].value), &p, end))
			return -1;
	if (close && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
						  (const unsigned char *)"close", 5, &p, end))
		return -1;
	if (lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0)
		blen = 0;
	if ((size_t)(end - p) < blen)
		return -1;
	memcpy(p, body != NULL ? body : "", blen);
	p += blen;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start))
		return -1;
	return 0;
}

int http_xff_last(const char *xff, size_t len, char *dst, size_t cap)
{
	const char *b = xff, *e = xff + len, *comma;
	unsigned char bin[sizeof(struct in6_addr)];
	char ip[INET6_ADDRSTRLEN + 1];
	size_t n;

	dst[0] = '\0';
	for (comma = e; comma > xff && comma[-1] != ','; comma--)
		;
	b = comma;
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - b);
	if (n == 0 || n >= sizeof(ip) || n >= cap)
		return -1;
	memcpy(ip, b, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
		return -1;
	memcpy(dst, ip, n + 1);
	return 0;
}

void http_client_addr(struct lws *wsi, char *dst, size_t cap)
{
	char xff[1024];
	int n;

	if (cap == 0)
		return;
	n = lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR);
	if (n > 0 && http_xff_last(xff, (size_t)n, dst, cap) == 0)
		return;
	unsigned char bin[sizeof(struct in6_addr)];

	dst[0] = '\0';
	lws_get_peer_simple(wsi, dst, cap);
	/* lws writes its error ("getpeername: ...") into dst when the peer is gone. */
	if (dst[0] == '\0')
		snprintf(dst, cap, "unix");
	else if (inet_pton(AF_INET, dst, bin) != 1 && inet_pton(AF_INET6, dst, bin) != 1)
		snprintf(dst, cap, "-");
}
