/*
 * proto.c: pure parsing and formatting for the tty protocol (see proto.h).
 */
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

/* Reads key as an integer in 1..PROTO_DIM_MAX; 0 on success, -1 otherwise. */
static int dim_get(const cJSON *obj, const char *key, unsigned short *out, const char **why)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	if (it == NULL) {
		*why = "missing columns or rows";
		return -1;
	}
	if (!cJSON_IsNumber(it)) {
		*why = "columns and rows must be numbers";
		return -1;
	}
	d = it->valuedouble;
	/* The range first: converting 1e300 to an integer is undefined. */
	if (!(d >= 1 && d <= PROTO_DIM_MAX)) {
		*why = "columns and rows must be within 1..4096";
		return -1;
	}
	if (d != (double)(unsigned short)d) {
		*why = "columns and rows must be integers";
		return -1;
	}
	*out = (unsigned short)d;
	return 0;
}

/* Reads the "webshell" member of an init object into out; 0, or -1 with *why. */
static int webshell_get(const cJSON *ws, struct proto_init *out, const char **why)
{
	const cJSON *sess, *off;
	const char *v;
	size_t i;
	double d;

	if (!cJSON_IsObject(ws)) {
		*why = "webshell must be an object";
		return -1;
	}
	sess = cJSON_GetObjectItemCaseSensitive(ws, "session");
	if (!cJSON_IsString(sess) || sess->valuestring == NULL) {
		*why = "webshell.session must be \"new\" or a session id";
		return -1;
	}
	v = sess->valuestring;
	if (strcmp(v, "new") == 0) {
		out->want = PROTO_WANT_NEW;
		return 0;
	}
	if (strlen(v) != PROTO_ID_HEX) {
		*why = "webshell.session must be \"new\" or a session id";
		return -1;
	}
	for (i = 0; i < PROTO_ID_HEX; i++) {
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f'))) {
			*why = "webshell.session must be \"new\" or a session id";
			return -1;
		}
	}
	off = cJSON_GetObjectItemCaseSensitive(ws, "offset");
	if (off != NULL) {
		if (!cJSON_IsNumber(off)) {
			*why = "webshell.offset must be a number";
			return -1;
		}
		d = off->valuedouble;
		if (!(d >= 0 && d <= (double)PROTO_OFFSET_MAX) ||
		    d != (double)(unsigned long long)d) {
			*why = "webshell.offset must be an integer within 0..2^53";
			return -1;
		}
		out->offset = (unsigned long long)d;
	}
	memcpy(out->id, v, PROTO_ID_HEX + 1);
	out->want = PROTO_WANT_RESUME;
	return 0;
}

/* Reads "columns" and "rows" of obj into *out; 0, or -1 with *why (out untouched). */
static int size_get(const cJSON *obj, struct proto_size *out, const char **why)
{
	struct proto_size sz;

	if (dim_get(obj, "columns", &sz.cols, why) != 0 || dim_get(obj, "rows", &sz.rows, why) != 0)
		return -1;
	*out = sz;
	return 0;
}

/* Parses buf as a JSON object; NULL with *why on failure. The caller deletes it. */
static cJSON *object_parse(const char *buf, size_t len, const char **why)
{
	cJSON *root;

	if (len > PROTO_MSG_MAX) {
		*why = "message too long";
		return NULL;
	}
	root = cJSON_ParseWithLength(buf, len);
	if (root == NULL) {
		*why = "invalid JSON";
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		*why = "JSON is not an object";
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int proto_parse_init(const char *buf, size_t len, struct proto_init *out, const char **why)
{
	const cJSON *ws;
	cJSON *root;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->size.cols = PROTO_DEFAULT_COLS;
	out->size.rows = PROTO_DEFAULT_ROWS;
	out->want = PROTO_WANT_TTYD;
	root = object_parse(buf, len, why);
	if (root == NULL)
		return 1;
	/* ttyd's clients before 1.6 send {"AuthToken":...} alone, then a resize. */
	if ((cJSON_GetObjectItemCaseSensitive(root, "columns") != NULL ||
	     cJSON_GetObjectItemCaseSensitive(root, "rows") != NULL) &&
	    size_get(root, &out->size, why) != 0)
		rc = 1;
	ws = cJSON_GetObjectItemCaseSensitive(root, "webshell");
	if (ws != NULL && webshell_get(ws, out, why) != 0)
		rc = -1;
	cJSON_Delete(root);
	return rc;
}

int proto_parse_resize(const char *buf, size_t len, struct proto_size *out, const char **why)
{
	cJSON *root = object_parse(buf, len, why);
	int rc;

	if (root == NULL)
		return -1;
	rc = size_get(root, out, why);
	cJSON_Delete(root);
	return rc;
}

int proto_utf8_check(unsigned char *state, const unsigned char *p, size_t len)
{
	/* state: low 2 bits = continuation bytes still due; bits 2-4 = a
	 * narrower range for the next one (E0, ED, F0, F4 lead bytes). */
	unsigned char st = *state;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i], need = st & 3, lim = st >> 2;

		if (need > 0) {
			unsigned char lo = 0x80, hi = 0xbf;
			if (lim == 1)
				lo = 0xa0;
			else if (lim == 2)
				hi = 0x9f;
			else if (lim == 3)
				lo = 0x90;
			else if (lim == 4)
				hi = 0x8f;
			if (c < lo || c > hi)
				return -1;
			st = (unsigned char)(need - 1);
		} else if (c < 0x80) {
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			st = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			st = (unsigned char)(2 | (c == 0xe0 ? 1 << 2 : c == 0xed ? 2 << 2 : 0));
		} else if (c >= 0xf0 && c <= 0xf4) {
			st = (unsigned char)(3 | (c == 0xf0 ? 3 << 2 : c == 0xf4 ? 4 << 2 : 0));
		} else {
			return -1;
		}
		*state = st;
	}
	*state = st;
	return 0;
}

/* Ends the message being reassembled. */
static void rx_reset(struct proto_rx *rx)
{
	rx->active = 0;
	free(rx->msg);
	rx->msg = NULL;
	rx->msglen = 0;
}

void proto_rx_feed(struct proto_rx *rx, const unsigned char *in, size_t len, size_t remaining,
		   int final, int text, struct proto_rx_event *ev)
{
	const unsigned char *p = in;
	char *nb;

	memset(ev, 0, sizeof(*ev));
	if (!rx->active) {
		if (len == 0)
			return; /* an empty message carries no type: nothing to do */
		rx_reset(rx); /* the last message's JSON was kept until now */
		rx->active = 1;
		rx->type = in[0];
		rx->len = 0;
		rx->utf8 = 0;
		if (rx->type != PROTO_IN_INIT) {
			p++;
			len--;
		}
		switch (rx->type) {
		case PROTO_IN_PAUSE:
			ev->kind = PROTO_RX_PAUSE;
			break;
		case PROTO_IN_RESUME:
			ev->kind = PROTO_RX_RESUME;
			break;
		case PROTO_IN_END:
			ev->kind = PROTO_RX_END;
			break;
		case PROTO_IN_INPUT:
		case PROTO_IN_RESIZE:
		case PROTO_IN_INIT:
			break;
		default:
			ev->kind = PROTO_RX_UNKNOWN;
		}
	}
	ev->type = rx->type;
	rx->len += len;
	if (text && (proto_utf8_check(&rx->utf8, in, (size_t)(p - in) + len) != 0 ||
		     (final && rx->utf8 != 0))) {
		ev->kind = PROTO_RX_BAD_UTF8;
		rx_reset(rx);
		return;
	}
	/* The frame header already tells when a message will be too big. */
	if (rx->len + (rx->type != PROTO_IN_INIT) + remaining > PROTO_MSG_MAX) {
		ev->kind = PROTO_RX_TOO_BIG;
		rx_reset(rx);
		return;
	}
	switch (rx->type) {
	case PROTO_IN_INPUT:
		ev->kind = PROTO_RX_INPUT;
		ev->data = p;
		ev->len = len;
		break;
	case PROTO_IN_RESIZE:
	case PROTO_IN_INIT:
		nb = realloc(rx->msg, rx->msglen + len + 1);
		if (nb == NULL) {
			ev->kind = PROTO_RX_NOMEM;
			rx_reset(rx);
			return;
		}
		rx->msg = nb;
		memcpy(rx->msg + rx->msglen, p, len);
		rx->msglen += len;
		rx->msg[rx->msglen] = '\0';
		if (final) {
			ev->kind = rx->type == PROTO_IN_INIT ? PROTO_RX_INIT : PROTO_RX_RESIZE;
			ev->data = (const unsigned char *)rx->msg;
			ev->len = rx->msglen;
		}
		break;
	default:
		break;
	}
	if (final) {
		/* The message's buffer stays valid until the next feed. */
		rx->active = 0;
	}
}

void proto_rx_free(struct proto_rx *rx)
{
	rx_reset(rx);
}

int proto_user_valid(const char *v, size_t len)
{
	size_t i;

	if (len == 0 || len > PROTO_USER_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c == 0x7f || c == '{')
			return 0;
	}
	return 1;
}

size_t proto_title(char *dst, size_t cap, char *const argv[], const char *hostname)
{
	size_t o = 0;
	int i, n;

	if (cap == 0)
		return 0;
	dst[0] = '\0';
	for (i = 0; argv[i] != NULL && o < cap; i++) {
		n = snprintf(dst + o, cap - o, "%s%s", i > 0 ? " " : "", argv[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (o < cap) {
		n = snprintf(dst + o, cap - o, " (%s)", hostname);
		if (n > 0)
			o += (size_t)n;
	}
	return o < cap ? o : cap - 1;
}

size_t proto_exit_reason(char *dst, size_t cap, int wstatus)
{
	int n;

	if (WIFSIGNALED(wstatus))
		n = snprintf(dst, cap, "signal %d", WTERMSIG(wstatus));
	else
		n = snprintf(dst, cap, "exit %d", WEXITSTATUS(wstatus));
	if (n < 0 || cap == 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

void proto_id_hex(char dst[PROTO_ID_HEX + 1], const unsigned char id[PROTO_ID_BYTES])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < PROTO_ID_BYTES; i++) {
		dst[2 * i] = digits[id[i] >> 4];
		dst[2 * i + 1] = digits[id[i] & 15];
	}
	dst[PROTO_ID_HEX] = '\0';
}

size_t proto_session_json(char *dst, size_t cap, const char *id, unsigned long long offset,
			  unsigned long long end, int reset, unsigned long long lost)
{
	int n;

	if (reset)
		n = snprintf(dst, cap,
			     "{\"id\":\"%s\",\"offset\":%llu,\"end\":%llu,\"reset\":true,\"lost\":%llu}",
			     id, offset, end, lost);
	else
		n = snprintf(dst, cap, "{\"id\":\"%s\",\"offset\":%llu,\"end\":%llu,\"reset\":false}",
			     id, offset, end);
	if (n < 0 || cap == 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* One byte of an HTTP request: tracks "Upgrade: websocket" and the blank line. */
static void wsscan_http(struct proto_wsscan *s, unsigned char c)
{
	static const char want[] = "upgrade:";

	if (c != '\n') {
		if (c != '\r' && s->linelen < sizeof(s->line))
			s->line[s->linelen] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		if (c != '\r' && s->linelen < 0xffff)
			s->linelen++;
		return;
	}
	if (s->linelen == 0) {
		/* The end of the request's headers: frames follow an upgrade. */
		s->phase = s->upgrade ? 1 : 0;
		s->upgrade = 0;
		s->hlen = 0;
		s->need = 2;
		return;
	}
	if (s->linelen >= sizeof(want) - 1 && memcmp(s->line, want, sizeof(want) - 1) == 0) {
		size_t len = s->linelen < sizeof(s->line) ? s->linelen : sizeof(s->line);
		if (memmem(s->line, len, "websocket", 9) != NULL)
			s->upgrade = 1;
	}
	s->linelen = 0;
}

int proto_wsscan_feed(struct proto_wsscan *s, const unsigned char *p, size_t n)
{
	size_t i = 0, take;
	unsigned char len7;
	int k;

	while (i < n && s->phase != 3) {
		switch (s->phase) {
		case 0:
			wsscan_http(s, p[i++]);
			break;
		case 1:
			s->hdr[s->hlen++] = p[i++];
			if (s->hlen == 2) {
				if (!(s->hdr[1] & 0x80)) {
					s->phase = 3; /* RFC 6455 5.1: a client masks every frame */
					break;
				}
				len7 = s->hdr[1] & 127;
				s->need = (unsigned char)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
			}
			if (s->hlen < 2 || s->hlen < s->need)
				break;
			len7 = s->hdr[1] & 127;
			if (len7 < 126) {
				s->remain = len7;
			} else {
				s->remain = 0;
				for (k = 2; k < (len7 == 126 ? 4 : 10); k++)
					s->remain = (s->remain << 8) | s->hdr[k];
			}
			s->hlen = 0;
			s->need = 2;
			s->phase = s->remain > 0 ? 2 : 1;
			break;
		case 2:
			take = n - i;
			if (take > s->remain)
				take = (size_t)s->remain;
			s->remain -= take;
			i += take;
			if (s->remain == 0)
				s->phase = 1;
			break;
		}
	}
	return s->phase == 3 ? -1 : 0;
}
