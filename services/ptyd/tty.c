/*
 * tty.c: one "tty" WebSocket connection: its admission data (identity,
 * peer, request id), client messages (reassembled by proto.c) to its
 * session, and output frames out with one frame in flight at most, PAUSE
 * and RESUME, the hello messages ('S', title, preferences) and the close.
 * Per-connection log lines are rate limited.
 */
#include "ptyd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpreply.h"
#include "ptyd_metrics.h"

/* Output read per frame (the type byte comes on top). */
#define OUT_DATA_MAX (PROTO_MSG_MAX - 1)
/* Lines one connection may log about ignored messages; the rest are counted. */
#define TTY_LOG_BURST 5

struct tty_conn {
	struct tty_conn *next, *prev;
	struct ptyd *srv;
	struct lws *wsi;
	struct ws_closer closer;    /* the close with close_code (ws_close) */
	struct session *s;          /* attached session, NULL before init or once let go */
	struct proto_rx rx;
	int started;                /* init seen */
	int resumable;              /* the init asked for a session ("webshell") */
	int hello;                  /* messages before output: 3 'S', 2 title, 1 prefs, 0 done */
	char smsg[160];             /* the 'S' JSON */
	unsigned long long next_off;/* session offset of the next output byte to pull */
	unsigned char *out;         /* pending frame: LWS_PRE, '0', bytes */
	size_t outlen;              /* bytes after LWS_PRE (0: nothing pending) */
	int flushing;               /* lws holds part of the last frame */
	int dead;                   /* a direct write failed: close at the next chance */
	int paused;                 /* client sent PAUSE */
	int close_code;             /* close requested (server side), 0: none */
	char close_reason[80];
	int peer_code;              /* close code the client sent, 0: none */
	unsigned int logged, suppressed; /* rate limit of message_ignored lines */
	char user[PROTO_USER_MAX + 1];
	char peer[PTYD_PEER_MAX];
	char request_id[PTYD_REQUEST_ID_MAX + 1];
};

static int tty_pull(struct tty_conn *c);
static int send_frame(struct tty_conn *c);

static struct session_origin origin_of(const struct tty_conn *c)
{
	return (struct session_origin){ c->user, c->peer, c->request_id };
}

/* A line about this connection: session (when attached), user, peer, request id, then extra. */
static void conn_log(const struct tty_conn *c, const char *event, const struct log_field *extra,
		 size_t n)
{
	struct log_field f[12];
	size_t k = 0, i;

	f[k++] = (struct log_field){ "session", c->s != NULL ? session_log_id(c->s) : NULL };
	f[k++] = (struct log_field){ "user", c->user[0] ? c->user : "-" };
	f[k++] = (struct log_field){ "peer", c->peer };
	f[k++] = (struct log_field){ "request_id", c->request_id[0] ? c->request_id : NULL };
	for (i = 0; i < n && k < sizeof(f) / sizeof(f[0]); i++)
		f[k++] = extra[i];
	log_event(event, f, k);
}

/* A message the connection ignores: the first few are logged, the rest counted. */
static void log_ignored(struct tty_conn *c, const char *what, const char *why)
{
	if (c->logged >= TTY_LOG_BURST) {
		c->suppressed++;
		return;
	}
	c->logged++;
	struct log_field f[] = { { "message", what }, { "reason", why } };
	conn_log(c, "message_ignored", f, 2);
}

/* Asks for a close frame with code and reason once pending output is out. */
static void request_close(struct tty_conn *c, int code, const char *reason)
{
	if (c->close_code != 0)
		return;
	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	/* A client that stops reading cannot hold the connection open. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	lws_callback_on_writable(c->wsi);
}

/* session_client_ops: the session's calls into this connection. */
static int can_take_output(const struct tty_conn *c)
{
	return c->s != NULL && c->outlen == 0 && !c->flushing && !c->paused && c->hello == 0 &&
	       c->close_code == 0;
}

static int op_output(void *client)
{
	struct tty_conn *c = client;

	if (!can_take_output(c))
		return 0;
	/*
	 * The PTY has output and lws holds nothing of ours: send the frame now
	 * rather than on the next loop turn (a keystroke's echo saves a poll()
	 * round; lws buffers what the socket does not take, and then we wait for
	 * writability as usual).
	 */
	if (tty_pull(c)) {
		if (lws_partial_buffered(c->wsi)) {
			lws_callback_on_writable(c->wsi);
		} else if (send_frame(c) != 0) {
			c->dead = 1;
			lws_callback_on_writable(c->wsi);
		} else if (c->s != NULL && !session_output_announced(c->s)) {
			/* No call will say when the rest is there: pull on until the end. */
			lws_callback_on_writable(c->wsi);
		}
	}
	return 1;
}

static void op_detached(void *client, int code, const char *reason)
{
	struct tty_conn *c = client;

	c->s = NULL;
	request_close(c, code, reason);
}

static void op_input_drained(void *client)
{
	struct tty_conn *c = client;

	lws_rx_flow_control(c->wsi, 1);
}

static const struct session_client_ops tty_ops = {
	.output = op_output,
	.detached = op_detached,
	.input_drained = op_input_drained,
};

/*
 * Takes the next output from the session into a frame (and asks for
 * writability), or ends with the session's exit. Returns 1 when a frame is
 * pending, else 0.
 */
static int tty_pull(struct tty_conn *c)
{
	char reason[32];
	ssize_t n;

	if (!can_take_output(c))
		return 0;
	if (c->out == NULL) {
		c->out = malloc(LWS_PRE + PROTO_MSG_MAX);
		if (c->out == NULL) {
			request_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
			return 0;
		}
	}
	n = session_output(c->s, c->next_off, c->out + LWS_PRE + 1, OUT_DATA_MAX);
	if (n > 0) {
		c->out[LWS_PRE] = PROTO_OUT_OUTPUT;
		c->outlen = (size_t)n + 1;
		c->next_off += (unsigned long long)n;
		return 1;
	}
	free(c->out);
	c->out = NULL;
	if (n < 0) {
		session_exit_reason(c->s, reason, sizeof(reason));
		request_close(c, LWS_CLOSE_STATUS_NORMAL, reason);
	}
	return 0;
}

/*
 * Writes the pending frame. lws takes all of it, sending what the socket
 * accepts and keeping the rest; then (flushing) no more is read until lws
 * has sent it all: one frame in flight at most. Returns -1 when the socket
 * failed.
 */
static int send_frame(struct tty_conn *c)
{
	int rc = lws_write(c->wsi, c->out + LWS_PRE, c->outlen, LWS_WRITE_BINARY);

	if (rc < (int)c->outlen)
		return -1;
	/* A full frame means more is coming: keep the buffer for the next
	 * read. Otherwise free it, so an idle connection holds none. */
	if (c->outlen < OUT_DATA_MAX + 1) {
		free(c->out);
		c->out = NULL;
	}
	c->outlen = 0;
	if (lws_partial_buffered(c->wsi)) {
		c->flushing = 1;
		lws_callback_on_writable(c->wsi);
	}
	return 0;
}

/* The refusal of an attach, before any 'S': logged, then closed with code. */
static void refuse_attach(struct tty_conn *c, const char *id, int code, const char *reason)
{
	char prefix[PROTO_ID_LOG + 1], codebuf[16];

	snprintf(prefix, sizeof(prefix), "%s", id);
	snprintf(codebuf, sizeof(codebuf), "%d", code);
	struct log_field f[] = { { "id", prefix }, { "code", codebuf }, { "reason", reason } };
	conn_log(c, "attach_refused", f, 3);
	ptyd_metrics_resume("refused");
	request_close(c, code, reason);
}

static void tty_init(struct tty_conn *c, const char *buf, size_t len)
{
	struct session_origin o = origin_of(c);
	struct proto_init init;
	unsigned long long from = 0, lost = 0;
	char offbuf[24], lostbuf[24];
	const char *why = NULL;
	int rc, reset = 0;

	if (c->started)
		return; /* later init messages are ignored, as in ttyd */
	c->started = 1;
	rc = proto_parse_init(buf, len, &init, &why);
	if (rc < 0) {
		request_close(c, LWS_CLOSE_STATUS_PROTOCOL_ERR, why);
		return;
	}
	if (rc > 0)
		log_ignored(c, "init size", why);
	if (init.want == PROTO_WANT_RESUME) {
		c->s = session_find(c->srv, init.id);
		if (c->s == NULL) {
			refuse_attach(c, init.id, PTYD_CLOSE_NO_SESSION, "no such session");
			return;
		}
		if (strcmp(session_owner(c->s), c->user) != 0) {
			c->s = NULL;
			refuse_attach(c, init.id, PTYD_CLOSE_NOT_OWNER,
				      "session belongs to another identity");
			return;
		}
		session_resume_point(c->s, init.offset, &from, &reset, &lost);
		session_attach(c->s, &o, &tty_ops, c);
		session_resize(c->s, init.size);
		snprintf(offbuf, sizeof(offbuf), "%llu", init.offset);
		snprintf(lostbuf, sizeof(lostbuf), "%llu", lost);
		struct log_field f[] = { { "offset", offbuf }, { "reset", reset ? "yes" : "no" },
					 { "lost", reset ? lostbuf : NULL } };
		conn_log(c, "session_attach", f, 3);
	} else {
		c->s = session_start(c->srv, &o, init.size, init.want == PROTO_WANT_NEW, &why);
		if (c->s == NULL) {
			request_close(c, why == session_no_account ? LWS_CLOSE_STATUS_POLICY_VIOLATION :
				      LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, why);
			return;
		}
		session_attach(c->s, &o, &tty_ops, c);
	}
	c->resumable = init.want != PROTO_WANT_TTYD;
	c->next_off = from;
	if (c->resumable)
		proto_session_json(c->smsg, sizeof(c->smsg), session_id(c->s), from,
				   session_output_end(c->s), reset, lost);
	/* Nothing is read before the hello messages have gone out. */
	c->hello = c->resumable ? 3 : 2;
	lws_callback_on_writable(c->wsi);
}

static void tty_resize(struct tty_conn *c, const char *buf, size_t len)
{
	struct proto_size sz;
	const char *why;

	if (c->s == NULL)
		return;
	if (proto_parse_resize(buf, len, &sz, &why) != 0) {
		log_ignored(c, "resize", why);
		return;
	}
	session_resize(c->s, sz);
}

static void tty_rx(struct tty_conn *c, const unsigned char *in, size_t len)
{
	struct proto_rx_event ev;
	char what[32];
	int rc;

	if (c->close_code != 0)
		return;
	if (wsguard_unmasked(lws_get_socket_fd(c->wsi))) {
		request_close(c, LWS_CLOSE_STATUS_PROTOCOL_ERR, "unmasked frame");
		return;
	}
	proto_rx_feed(&c->rx, in, len, lws_remaining_packet_payload(c->wsi),
		      lws_is_final_fragment(c->wsi), !lws_frame_is_binary(c->wsi), &ev);
	switch (ev.kind) {
	case PROTO_RX_NONE:
		break;
	case PROTO_RX_INPUT:
		if (!c->started) {
			request_close(c, LWS_CLOSE_STATUS_PROTOCOL_ERR, "input before init");
			break;
		}
		if (c->s == NULL)
			break;
		rc = session_input(c->s, ev.data, ev.len);
		if (rc > 0)
			lws_rx_flow_control(c->wsi, 0);
		else if (rc < 0)
			request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "input backlog too large");
		break;
	case PROTO_RX_INIT:
		tty_init(c, (const char *)ev.data, ev.len);
		break;
	case PROTO_RX_RESIZE:
		tty_resize(c, (const char *)ev.data, ev.len);
		break;
	case PROTO_RX_PAUSE:
		c->paused = 1;
		break;
	case PROTO_RX_RESUME:
		c->paused = 0;
		if (tty_pull(c))
			lws_callback_on_writable(c->wsi);
		break;
	case PROTO_RX_END:
		if (c->resumable && c->s != NULL) {
			session_end(c->s, LWS_CLOSE_STATUS_NORMAL, "session ended");
			break;
		}
		/* ttyd knows no 'X' */
		__attribute__((fallthrough));
	case PROTO_RX_UNKNOWN:
		snprintf(what, sizeof(what), "unknown type 0x%02x", (unsigned)ev.type);
		log_ignored(c, what, "unknown message type");
		break;
	case PROTO_RX_TOO_BIG:
		request_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
		break;
	case PROTO_RX_BAD_UTF8:
		request_close(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "text frame is not UTF-8");
		break;
	case PROTO_RX_NOMEM:
		request_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		break;
	}
}

/* Sends 'S', title, preferences, output; then the close frame. Returns -1 to close. */
static int tty_writeable(struct tty_conn *c)
{
	unsigned char buf[LWS_PRE + 1024];
	const char *title;
	size_t n;

	if (c->hello > 0 && c->close_code == 0 && c->s != NULL) {
		if (c->hello == 3) {
			buf[LWS_PRE] = PROTO_OUT_SESSION;
			n = strlen(c->smsg);
			memcpy(buf + LWS_PRE + 1, c->smsg, n);
		} else if (c->hello == 2) {
			buf[LWS_PRE] = PROTO_OUT_TITLE;
			title = session_title(c->s);
			n = strlen(title);
			if (n > sizeof(buf) - LWS_PRE - 1)
				n = sizeof(buf) - LWS_PRE - 1;
			memcpy(buf + LWS_PRE + 1, title, n);
		} else {
			buf[LWS_PRE] = PROTO_OUT_PREFS;
			memcpy(buf + LWS_PRE + 1, "{}", 2);
			n = 2;
		}
		if (lws_write(c->wsi, buf + LWS_PRE, n + 1, LWS_WRITE_BINARY) < (int)(n + 1))
			return -1;
		if (--c->hello > 0 || tty_pull(c))
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->dead)
		return -1;
	if (c->outlen > 0) {
		if (send_frame(c) != 0)
			return -1;
		if (c->flushing)
			return 0;
	} else if (c->flushing) {
		c->flushing = 0;
	} else if (c->close_code != 0) {
		return ws_close(&c->closer, c->wsi, c->close_code, c->close_reason);
	}
	if (c->close_code != 0) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (tty_pull(c))
		lws_callback_on_writable(c->wsi);
	return 0;
}

static struct tty_conn *tty_new(struct ptyd *srv, struct lws *wsi)
{
	struct tty_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->srv = srv;
	c->wsi = wsi;
	http_client_addr(wsi, c->peer, sizeof(c->peer));
	ws_header_value(wsi, "x-webshell-user:", c->user, sizeof(c->user));
	ws_header_value(wsi, "x-webshell-request-id:", c->request_id, sizeof(c->request_id));
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nclients++;
	return c;
}

/* The connection is gone: its session detaches (or ends), then it is freed. */
static void tty_closed(struct tty_conn *c)
{
	struct ptyd *srv = c->srv;
	int code = c->close_code ? c->close_code : c->peer_code ? c->peer_code : 1006;
	const char *reason = c->close_code ? c->close_reason :
			     c->peer_code ? "client closed" : "connection lost";
	char n[24];

	ws_close_cancel(&c->closer);
	if (c->suppressed > 0) {
		snprintf(n, sizeof(n), "%u", c->suppressed);
		struct log_field f[] = { { "event", "message_ignored" }, { "count", n } };
		conn_log(c, "log_suppressed", f, 2);
	}
	if (c->s != NULL) {
		session_detach(c->s, !c->resumable, code, reason);
	} else if (c->started) {
		snprintf(n, sizeof(n), "%d", code);
		struct log_field f[] = { { "code", n }, { "reason", reason } };
		conn_log(c, "connection_end", f, 2);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->nclients--;
	proto_rx_free(&c->rx);
	free(c->out);
	free(c);
	ptyd_check_done(srv);
}

void tty_shutdown_all(struct ptyd *srv)
{
	struct tty_conn *c;

	for (c = srv->conns; c != NULL; c = c->next)
		request_close(c, PTYD_CLOSE_SERVICE_RESTART, "service restart");
}

int tty_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len)
{
	struct tty_conn **pc = user, *c = pc != NULL ? *pc : NULL;
	struct ptyd *srv = lws_context_user(lws_get_context(wsi));
	const unsigned char *b = in;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		*pc = tty_new(srv, wsi);
		if (*pc == NULL) {
			log_warnx("cannot allocate a connection");
			return -1;
		}
		break;
	case LWS_CALLBACK_RECEIVE:
		if (c == NULL)
			return -1;
		tty_rx(c, in, len);
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c == NULL)
			return -1;
		return tty_writeable(c);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c != NULL)
			c->peer_code = len >= 2 ? (b[0] << 8) | b[1] : LWS_CLOSE_STATUS_NO_STATUS;
		break;
	case LWS_CALLBACK_CLOSED:
		if (c != NULL)
			tty_closed(c);
		*pc = NULL;
		break;
	default:
		break;
	}
	return 0;
}
