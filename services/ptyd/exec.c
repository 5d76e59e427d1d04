/*
 * exec.c: the commands of webshell-exec.v1 connections (docs/protocol.md §2).
 *
 * A connection (struct exec_conn) reassembles client messages, starts
 * commands and sends their frames: hello first, then control answers, then
 * one frame per ready command in turn, so one chatty command cannot starve
 * the others. A command (struct exec_cmd) is a child on pipes (or a PTY) in
 * its own session, process group and cgroup; its pipes (or PTY) are watched
 * through fdwatch.c, which reports a hang-up even while a stream's
 * reading is paused.
 *
 * Flow control: at most one frame per output stream is held here, and a
 * stream is read only while its command's un-acknowledged output is under the
 * window, so a slow client stops the command in the kernel, not in our
 * memory. Stdin the pipe cannot take yet is kept up to the window (a client
 * that sends more breaks the protocol and is closed).
 *
 * Life of a command: started -> the main process is reaped (what is left of
 * its group or cgroup is killed) -> both streams reach EOF -> its output and
 * status are sent -> freed with one audit line. A connection that goes away
 * ends its commands (TERM, KILL after a grace) and lives on, without a
 * socket, until each is reaped, so nothing is left behind.
 */
#include "ptyd.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "child.h"
#include "contain.h"
#include "exec.h"
#include "execproto.h"
#include "fdwatch.h"
#include "httpreply.h"
#include "log.h"
#include "ptyd_metrics.h"
#include "spawn.h"

/* Output bytes read into one frame. */
#define OUT_MAX EXECPROTO_PAYLOAD_MAX
/* Control answers queued before we stop reading the client. */
#define CTRL_QUEUE_MAX 64
/* The shell script travels in argv up to this size, else as a memfd on fd 3. */
#define SCRIPT_FD 3

enum { W_OUT = 0, W_ERR = 1, W_IN = 2 };

struct exec_watch {
	struct exec_cmd *cmd;
	int kind;
	struct fdwatch *fw;    /* NULL once released or hung up */
};

/* One output stream: stdout, or stderr (or the PTY, as stdout). */
struct exec_stream {
	int fd;                /* ours; -1 once at EOF */
	int hung;              /* its watcher saw a hang-up: read directly */
	unsigned char *frame;  /* LWS_PRE, header, data */
	size_t len;            /* data bytes waiting to be sent (0: none) */
};

/* A queued control message: channel, id, payload, with LWS_PRE in front. */
struct ctrl_frame {
	struct ctrl_frame *next;
	size_t len;            /* header + payload */
	unsigned char buf[];
};

struct exec_cmd {
	struct exec_cmd *next;       /* in c->cmds */
	struct exec_cmd *ready_next; /* in c's ready queue */
	int queued;
	struct exec_conn *c;
	uint32_t id;
	pid_t pid;                   /* 0 once reaped */
	pid_t pgid;
	uid_t uid;                   /* its account's, to signal as (spawn.h) */
	int exited, wstatus;
	int use_pty;
	struct contain *cg;
	struct exec_watch w[3];
	struct exec_stream out[2];
	int in_fd;                   /* stdin pipe, or the PTY master; -1 once closed */
	unsigned char *in;           /* stdin the pipe has not taken yet */
	size_t inlen;
	int in_eof;                  /* the client sent eof */
	unsigned long long ack_due;  /* stdin bytes taken, not yet acknowledged */
	unsigned long long unacked;  /* output sent, not yet acknowledged by the client */
	int timed_out, cancelled;
	int by_operator;             /* ended by an administrator (ptyd --end) */
	int warm;                    /* a shell started ahead, waiting for a script (not a command yet) */
	int warm_ending;             /* warm: being ended unused (killed; freed once reaped) */
	int warm_counted;            /* warm: counted in the waiting shells gauge */
	int warm_used;               /* this command ran in a shell started ahead */
	int script_fd;               /* warm: the write end of the pipe its script comes on; -1 */
	struct proto_size size;      /* of its PTY (the recording's) */
	char shell[256];             /* the shell that runs a script (the recording's) */
	int kill_pending;            /* sul_kill armed */
	int draining;                /* main process gone: streams held by escapees are cut */
	int status_ready, status_sent;
	char *error;                 /* the command could not start: {"error"} instead */
	lws_usec_t t_start, t_end;
	time_t wall_start, wall_input;
	unsigned long long bytes_in, bytes_out;
	char admin_id[PROTO_ID_HEX + 1]; /* its name on the admin socket */
	lws_sorted_usec_list_t sul_timeout, sul_kill, sul_drain;
	lws_sorted_usec_list_t sul_idle; /* warm: ended when unused for EXEC_WARM_IDLE_US */
	char sha256[65];
	size_t cmdlen;
	char text[EXEC_AUDIT_TEXT_MAX + 1];
	char account[64];            /* whom it runs as */
	uid_t who_uid;               /* ... and its uid and group */
	gid_t who_gid;
	struct recording *rec;       /* --record: its recording, or NULL */
};

struct exec_conn {
	struct exec_conn *next, *prev; /* srv->exec_conns */
	struct ptyd *srv;
	unsigned long id;
	struct lws *ws;              /* NULL once the client is gone */
	struct ws_closer closer;     /* the close with close_code (ws_close) */
	struct exec_cmd *cmds;
	int ncmds;
	struct exec_cmd *ready_head, *ready_tail;
	struct ctrl_frame *ctrl_head, *ctrl_tail;
	int nctrl;
	int rx_paused;
	int hello_sent;
	uint32_t max_id;             /* highest command id started */
	unsigned long started, refused;
	int busy;                    /* inside exec_conn_gone: not freed under it */
	/* the message being received */
	int in_msg;
	unsigned char hdr[EXECPROTO_HDR];
	size_t hdr_have;
	int hdr_done;
	struct execproto_header h;
	struct exec_cmd *rx_cmd;
	int skip;                    /* the rest of this message is ignored */
	unsigned char *msg;
	size_t msglen, msgcap;
	size_t total;                /* payload bytes of this message so far */
	int close_code;
	char close_reason[124];
	int peer_code;
	lws_usec_t t_start;
	struct exec_cmd *warm;       /* a shell started ahead for this connection's next script, or NULL */
	int pool;                    /* not a connection: holds its identity's shell started ahead
				      * for the identity's next connection, until EXEC_WARM_IDLE_US */
	int warm_plain;              /* ran a script a shell started ahead could have run */
	int warm_off;                /* none is started (not bash, it failed once, or an
				      * operator ended one) */
	unsigned long warm_seq;      /* names their cgroups */
	lws_sorted_usec_list_t sul_warm;
	char user[PROTO_USER_MAX + 1];
	char peer[PTYD_PEER_MAX];
	char request_id[PTYD_REQUEST_ID_MAX + 1];
};

static void cmd_free(struct exec_cmd *x);
static void cmd_pump(struct exec_cmd *x);
static void conn_maybe_free(struct exec_conn *c);
static void sul_timeout_cb(lws_sorted_usec_list_t *sul);
static void sul_kill_cb(lws_sorted_usec_list_t *sul);
static void sul_drain_cb(lws_sorted_usec_list_t *sul);
static void warm_schedule(struct exec_conn *c);

static const struct exec_config *cfg_of(const struct exec_conn *c)
{
	return &c->srv->cfg.exec;
}

/* ---- admission data ---------------------------------------------------- */

/* ---- logging ----------------------------------------------------------- */

static void conn_log(const struct exec_conn *c, const char *event, const struct log_field *extra,
		     size_t n)
{
	struct log_field f[24];
	char idbuf[24];
	size_t k = 0, i;

	snprintf(idbuf, sizeof(idbuf), "%lu", c->id);
	f[k++] = (struct log_field){ "conn", idbuf };
	f[k++] = (struct log_field){ "user", c->user[0] ? c->user : "-" };
	f[k++] = (struct log_field){ "peer", c->peer };
	f[k++] = (struct log_field){ "request_id", c->request_id[0] ? c->request_id : NULL };
	for (i = 0; i < n && k < sizeof(f) / sizeof(f[0]); i++)
		f[k++] = extra[i];
	log_event(event, f, k);
}

/* The one audit line of a command, at its end. */
static void cmd_audit(const struct exec_cmd *x)
{
	char cmdid[16], len[24], dur[32], bin[24], bout[24], status[160];
	char log_id[PROTO_ID_LOG + 1];
	lws_usec_t end = x->t_end ? x->t_end : lws_now_usecs();

	memcpy(log_id, x->admin_id, PROTO_ID_LOG);
	log_id[PROTO_ID_LOG] = '\0';

	snprintf(cmdid, sizeof(cmdid), "%u", x->id);
	snprintf(len, sizeof(len), "%zu", x->cmdlen);
	/* Microseconds: most commands for programs live a few milliseconds. */
	snprintf(dur, sizeof(dur), "%.6f", (double)(end - x->t_start) / LWS_USEC_PER_SEC);
	snprintf(bin, sizeof(bin), "%llu", x->bytes_in);
	snprintf(bout, sizeof(bout), "%llu", x->bytes_out);
	if (x->error != NULL)
		snprintf(status, sizeof(status), "not started");
	else if (x->exited)
		proto_exit_reason(status, sizeof(status), x->wstatus);
	else
		snprintf(status, sizeof(status), "unknown");
	struct log_field f[] = {
		{ "command", cmdid },
		{ "exec", x->admin_id[0] ? log_id : NULL },
		{ "account", x->account[0] ? x->account : NULL },
		{ "sha256", x->sha256 },
		{ "length", len },
		{ "text", cfg_of(x->c)->audit_text == EXEC_AUDIT_TRUNCATED ? x->text : NULL },
		{ "status", status },
		{ "error", x->error },
		{ "timed_out", x->timed_out ? "yes" : NULL },
		{ "cancelled", x->cancelled ? "yes" : NULL },
		{ "ended_by", x->by_operator ? "operator" : NULL },
		{ "warm", x->warm_used ? "yes" : NULL },
		{ "duration", dur },
		{ "bytes_in", bin },
		{ "bytes_out", bout },
	};
	conn_log(x->c, "exec_end", f, sizeof(f) / sizeof(f[0]));
}

/* ---- sending ------------------------------------------------------------ */

static void request_close(struct exec_conn *c, int code, const char *reason)
{
	if (c->ws == NULL || c->close_code != 0)
		return;
	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	char codebuf[16];
	snprintf(codebuf, sizeof(codebuf), "%d", code);
	struct log_field f[] = { { "code", codebuf }, { "reason", c->close_reason } };
	conn_log(c, "exec_close", f, 2);
	/* A client that stops reading cannot hold the connection open. */
	lws_set_timeout(c->ws, PENDING_TIMEOUT_CLOSE_SEND, 5);
	lws_callback_on_writable(c->ws);
}

void exec_conn_close(struct exec_conn *c, int code, const char *reason)
{
	request_close(c, code, reason);
}

static void want_write(struct exec_conn *c)
{
	if (c->ws != NULL)
		lws_callback_on_writable(c->ws);
}

/* Queues a control message (hello, answers, refusals). */
static void ctrl_push(struct exec_conn *c, unsigned channel, uint32_t id, const void *p, size_t len)
{
	struct ctrl_frame *f;

	if (c->ws == NULL)
		return;
	f = malloc(sizeof(*f) + LWS_PRE + EXECPROTO_HDR + len);
	if (f == NULL) {
		request_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	f->next = NULL;
	f->len = EXECPROTO_HDR + len;
	execproto_put_header(f->buf + LWS_PRE, channel, id);
	if (len > 0)
		memcpy(f->buf + LWS_PRE + EXECPROTO_HDR, p, len);
	if (c->ctrl_tail != NULL)
		c->ctrl_tail->next = f;
	else
		c->ctrl_head = f;
	c->ctrl_tail = f;
	/* A client that sends requests without reading answers is paused. */
	if (++c->nctrl >= CTRL_QUEUE_MAX && !c->rx_paused) {
		c->rx_paused = 1;
		lws_rx_flow_control(c->ws, 0);
	}
	want_write(c);
}

/* A command that never started: its status is {"error": why}. */
static void refuse_start(struct exec_conn *c, uint32_t id, const char *why)
{
	char *js = execproto_error_json(why);
	char cmdid[16];

	c->refused++;
	snprintf(cmdid, sizeof(cmdid), "%u", id);
	struct log_field f[] = { { "command", cmdid }, { "reason", why } };
	conn_log(c, "exec_refused", f, 2);
	if (js == NULL) {
		request_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	ctrl_push(c, EXEC_CH_STATUS, id, js, strlen(js));
	free(js);
}

static void ready_push(struct exec_cmd *x)
{
	struct exec_conn *c = x->c;

	if (x->queued || c->ws == NULL)
		return;
	x->queued = 1;
	x->ready_next = NULL;
	if (c->ready_tail != NULL)
		c->ready_tail->ready_next = x;
	else
		c->ready_head = x;
	c->ready_tail = x;
	want_write(c);
}

static struct exec_cmd *ready_pop(struct exec_conn *c)
{
	struct exec_cmd *x = c->ready_head;

	if (x == NULL)
		return NULL;
	c->ready_head = x->ready_next;
	if (c->ready_head == NULL)
		c->ready_tail = NULL;
	x->queued = 0;
	x->ready_next = NULL;
	return x;
}

static void ready_remove(struct exec_cmd *x)
{
	struct exec_conn *c = x->c;
	struct exec_cmd **pp, *prev = NULL;

	if (!x->queued)
		return;
	for (pp = &c->ready_head; *pp != NULL; prev = *pp, pp = &(*pp)->ready_next) {
		if (*pp == x) {
			*pp = x->ready_next;
			if (c->ready_tail == x)
				c->ready_tail = prev;
			break;
		}
	}
	x->queued = 0;
}

static int cmd_has_output(const struct exec_cmd *x)
{
	return x->out[0].len > 0 || x->out[1].len > 0 ||
	       (x->ack_due > 0 && !x->status_sent && !x->status_ready) ||
	       (x->status_ready && !x->status_sent);
}

static int write_frame(struct exec_conn *c, unsigned char *p, size_t len)
{
	return lws_write(c->ws, p, len, LWS_WRITE_BINARY) < (int)len ? -1 : 0;
}

/*
 * Sends one message of x: a stdin ack, stdout, stderr, then (once both
 * streams are done) its status, after which x is freed. -1: socket failed.
 */
static int cmd_send_one(struct exec_cmd *x, int *freed)
{
	struct exec_conn *c = x->c;
	unsigned char small[LWS_PRE + EXECPROTO_HDR + 1024];
	int k;

	*freed = 0;
	if (x->ack_due > 0 && !x->status_ready) {
		uint32_t n = x->ack_due > UINT32_MAX ? UINT32_MAX : (uint32_t)x->ack_due;
		execproto_put_header(small + LWS_PRE, EXEC_CH_ACK, x->id);
		execproto_put_u32(small + LWS_PRE + EXECPROTO_HDR, n);
		x->ack_due -= n;
		return write_frame(c, small + LWS_PRE, EXECPROTO_HDR + 4);
	}
	for (k = 0; k < 2; k++) {
		struct exec_stream *s = &x->out[k];
		size_t n = s->len;
		if (n == 0)
			continue;
		execproto_put_header(s->frame + LWS_PRE, k == 0 ? EXEC_CH_STDOUT : EXEC_CH_STDERR,
				     x->id);
		s->len = 0;
		if (write_frame(c, s->frame + LWS_PRE, EXECPROTO_HDR + n) != 0)
			return -1;
		x->bytes_out += n;
		x->unacked += n;
		/* A full frame means more is coming: keep the buffer. */
		if (n < OUT_MAX || s->fd < 0) {
			free(s->frame);
			s->frame = NULL;
		}
		cmd_pump(x);
		return 0;
	}
	if (x->status_ready && !x->status_sent) {
		char js[1024];
		size_t n;
		if (x->error != NULL) {
			char *e = execproto_error_json(x->error);
			n = (size_t)snprintf(js, sizeof(js), "%s",
					     e != NULL && strlen(e) < sizeof(js) ? e :
					     "{\"error\":\"cannot start\"}");
			free(e);
		} else {
			struct execproto_status st = {
				.wstatus = x->wstatus, .timed_out = x->timed_out,
				.cancelled = x->cancelled, .by_operator = x->by_operator,
				.duration_ms = (long long)((x->t_end - x->t_start) / 1000),
			};
			n = execproto_status_json(js, sizeof(js), &st);
		}
		execproto_put_header(small + LWS_PRE, EXEC_CH_STATUS, x->id);
		memcpy(small + LWS_PRE + EXECPROTO_HDR, js, n);
		x->status_sent = 1;
		if (write_frame(c, small + LWS_PRE, EXECPROTO_HDR + n) != 0)
			return -1;
		cmd_free(x);
		*freed = 1;
	}
	return 0;
}

int exec_conn_writeable(struct exec_conn *c)
{
	unsigned char buf[LWS_PRE + EXECPROTO_HDR + 512];
	struct exec_cmd *x;
	int freed;

	if (c->close_code != 0) {
		return ws_close(&c->closer, c->ws, c->close_code, c->close_reason);
	}
	while (!lws_send_pipe_choked(c->ws)) {
		if (!c->hello_sent) {
			const struct exec_config *e = cfg_of(c);
			char *js = execproto_hello_json(e->max_commands, e->window, e->max_command,
							c->user);
			size_t n = js != NULL ? strlen(js) : 0;
			if (js == NULL || n > 512) {
				free(js);
				return -1;
			}
			execproto_put_header(buf + LWS_PRE, EXEC_CH_HELLO, 0);
			memcpy(buf + LWS_PRE + EXECPROTO_HDR, js, n);
			free(js);
			c->hello_sent = 1;
			if (write_frame(c, buf + LWS_PRE, EXECPROTO_HDR + n) != 0)
				return -1;
			continue;
		}
		if (c->ctrl_head != NULL) {
			struct ctrl_frame *f = c->ctrl_head;
			c->ctrl_head = f->next;
			if (c->ctrl_head == NULL)
				c->ctrl_tail = NULL;
			c->nctrl--;
			if (c->rx_paused && c->nctrl < CTRL_QUEUE_MAX / 2) {
				c->rx_paused = 0;
				lws_rx_flow_control(c->ws, 1);
			}
			if (write_frame(c, f->buf + LWS_PRE, f->len) != 0) {
				free(f);
				return -1;
			}
			free(f);
			continue;
		}
		x = ready_pop(c);
		if (x == NULL)
			break;
		if (cmd_send_one(x, &freed) != 0)
			return -1;
		if (!freed && cmd_has_output(x))
			ready_push(x);
	}
	if (c->ctrl_head != NULL || c->ready_head != NULL)
		lws_callback_on_writable(c->ws);
	return 0;
}

/* ---- watchers and streams ---------------------------------------------- */

static void watch_readable(void *ctx);
static void watch_writable(void *ctx);
static void watch_hangup(void *ctx);

static const struct fdwatch_ops exec_watch_ops = { watch_readable, watch_writable, watch_hangup };

/* No more callbacks for this watcher (before its descriptor is closed). */
static void watch_release(struct exec_watch *w)
{
	fdwatch_remove(w->fw);
	w->fw = NULL;
}

/* Watches fd (the command's, not taken); an output stream is read from the start. */
static int watch_fd(struct exec_cmd *x, int kind, int fd)
{
	x->w[kind].cmd = x;
	x->w[kind].kind = kind;
	x->w[kind].fw = fdwatch_add(fd, &exec_watch_ops, &x->w[kind]);
	if (x->w[kind].fw == NULL)
		return -1;
	if (kind != W_IN)
		fdwatch_read(x->w[kind].fw, 1);
	return 0;
}

static void watch_rx(struct exec_cmd *x, int kind, int on)
{
	if (x->w[kind].fw != NULL)
		fdwatch_read(x->w[kind].fw, on);
}

static void stream_eof(struct exec_cmd *x, int k)
{
	struct exec_stream *s = &x->out[k];

	watch_release(&x->w[k]);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (x->use_pty && k == 0) {
		/* stdin wrote to the same master: it is gone too. */
		x->in_fd = -1;
		free(x->in);
		x->in = NULL;
		x->inlen = 0;
	}
	if (s->len == 0) {
		free(s->frame);
		s->frame = NULL;
	}
}

/* Output budget left under the window, counting frames not sent yet. */
static size_t window_left(const struct exec_cmd *x)
{
	unsigned long long used = x->unacked + x->out[0].len + x->out[1].len;
	unsigned long long w = (unsigned long long)cfg_of(x->c)->window;

	return used >= w ? 0 : (size_t)(w - used);
}

/* Reads one frame from stream k when it has room; EOF closes it. */
static void stream_read(struct exec_cmd *x, int k)
{
	struct exec_stream *s = &x->out[k];
	size_t room = window_left(x);
	ssize_t n;

	if (s->fd < 0 || s->len > 0)
		return;
	if (room == 0) {
		watch_rx(x, k, 0);
		return;
	}
	if (room > OUT_MAX)
		room = OUT_MAX;
	if (s->frame == NULL && (s->frame = malloc(LWS_PRE + EXECPROTO_HDR + OUT_MAX)) == NULL)
		return;
	do
		n = read(s->fd, s->frame + LWS_PRE + EXECPROTO_HDR, room);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		s->len = (size_t)n;
		metric_add(ptyd_m.bytes_out, (uint64_t)n);
		(k == 0 ? recording_output : recording_stderr)(x->rec, s->frame + LWS_PRE + EXECPROTO_HDR, s->len);
		watch_rx(x, k, 0);
		ready_push(x);
		return;
	}
	if (n < 0 && errno == EAGAIN && !s->hung) {
		free(s->frame);
		s->frame = NULL;
		watch_rx(x, k, 1);
		return;
	}
	/* 0: every writer is gone; EIO: the PTY hung up; EAGAIN when hung: the same. */
	stream_eof(x, k);
}

/* Status once the main process is reaped and both streams are done and sent. */
static void cmd_maybe_finish(struct exec_cmd *x)
{
	if (x->status_ready || !x->exited || x->out[0].fd >= 0 || x->out[1].fd >= 0 ||
	    x->out[0].len > 0 || x->out[1].len > 0)
		return;
	x->status_ready = 1;
	ready_push(x);
}

/* Moves output along: reads where a watcher cannot tell us (hung up), re-arms the rest. */
static void cmd_pump(struct exec_cmd *x)
{
	int k;

	if (x->c->ws == NULL)
		return;
	for (k = 0; k < 2; k++) {
		struct exec_stream *s = &x->out[k];
		if (s->fd < 0 || s->len > 0)
			continue;
		if (window_left(x) == 0)
			watch_rx(x, k, 0);
		else if (x->w[k].fw == NULL)
			stream_read(x, k);
		else
			watch_rx(x, k, 1);
	}
	cmd_maybe_finish(x);
}

/* ---- stdin --------------------------------------------------------------- */

static void stdin_close(struct exec_cmd *x)
{
	free(x->in);
	x->in = NULL;
	x->inlen = 0;
	if (x->use_pty) {
		x->in_fd = -1; /* the master is stdout's; it stays */
		if (x->w[W_OUT].fw != NULL)
			fdwatch_write(x->w[W_OUT].fw, 0);
		return;
	}
	watch_release(&x->w[W_IN]);
	if (x->in_fd >= 0)
		close(x->in_fd);
	x->in_fd = -1;
}

/* Writes what the pipe takes; returns bytes taken, or -1 when stdin is gone. */
static ssize_t stdin_write(struct exec_cmd *x, const unsigned char *p, size_t len)
{
	ssize_t n;

	do
		n = write(x->in_fd, p, len);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN)
		return 0;
	return -1; /* EPIPE: the command closed its stdin or exited */
}

static void stdin_want_writable(struct exec_cmd *x)
{
	int kind = x->use_pty ? W_OUT : W_IN;

	if (x->w[kind].fw == NULL && !x->use_pty && watch_fd(x, W_IN, x->in_fd) != 0) {
		stdin_close(x);
		return;
	}
	if (x->w[kind].fw != NULL)
		fdwatch_write(x->w[kind].fw, 1);
}

/* Bytes the client sent for x's stdin. */
static void stdin_data(struct exec_cmd *x, const unsigned char *p, size_t len)
{
	unsigned char *nb;
	ssize_t n = 0;

	x->bytes_in += len;
	x->wall_input = time(NULL);
	metric_add(ptyd_m.bytes_in, len);
	recording_input(x->rec, p, len);
	if (x->in_fd < 0 || x->in_eof) {
		/* Nowhere to go: acknowledged all the same, so the client is not stuck. */
		x->ack_due += len;
		ready_push(x);
		return;
	}
	if (x->inlen == 0) {
		n = stdin_write(x, p, len);
		if (n < 0) {
			stdin_close(x);
			x->ack_due += len;
			ready_push(x);
			return;
		}
		x->ack_due += (size_t)n;
		if (n > 0)
			ready_push(x);
		if ((size_t)n == len)
			return;
	}
	if (x->inlen + len - (size_t)n > (size_t)cfg_of(x->c)->window) {
		request_close(x->c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "stdin beyond the window");
		return;
	}
	nb = realloc(x->in, x->inlen + len - (size_t)n);
	if (nb == NULL) {
		request_close(x->c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	x->in = nb;
	memcpy(x->in + x->inlen, p + n, len - (size_t)n);
	x->inlen += len - (size_t)n;
	stdin_want_writable(x);
}

static void stdin_eof_now(struct exec_cmd *x)
{
	if (x->use_pty) {
		/* A terminal's end of input is its EOF character (^D at a line's start). */
		static const unsigned char eot = 4;
		if (x->in_fd >= 0 && stdin_write(x, &eot, 1) < 0)
			x->in_fd = -1;
		x->in_fd = -1;
		return;
	}
	stdin_close(x);
}

static void stdin_eof(struct exec_cmd *x)
{
	if (x->in_eof)
		return;
	x->in_eof = 1;
	if (x->inlen == 0)
		stdin_eof_now(x);
}

/* The pipe (or PTY) can take more stdin. */
static void stdin_flush(struct exec_cmd *x)
{
	ssize_t n;

	if (x->inlen == 0 || x->in_fd < 0)
		return;
	n = stdin_write(x, x->in, x->inlen);
	if (n < 0) {
		x->ack_due += x->inlen;
		ready_push(x);
		stdin_close(x);
		return;
	}
	if (n > 0) {
		memmove(x->in, x->in + n, x->inlen - (size_t)n);
		x->inlen -= (size_t)n;
		x->ack_due += (size_t)n;
		ready_push(x);
	}
	if (x->inlen > 0) {
		stdin_want_writable(x);
		return;
	}
	free(x->in);
	x->in = NULL;
	if (x->w[x->use_pty ? W_OUT : W_IN].fw != NULL)
		fdwatch_write(x->w[x->use_pty ? W_OUT : W_IN].fw, 0);
	if (x->in_eof)
		stdin_eof_now(x);
}

/* ---- watcher callbacks ---------------------------------------------------- */

static void watch_readable(void *ctx)
{
	struct exec_watch *w = ctx;
	struct exec_cmd *x = w->cmd;

	if (w->kind == W_IN)
		return;
	if (x->c->ws == NULL || x->out[w->kind].len > 0) {
		watch_rx(x, w->kind, 0);
		return;
	}
	stream_read(x, w->kind);
	cmd_maybe_finish(x);
}

static void watch_writable(void *ctx)
{
	struct exec_watch *w = ctx;

	if (w->cmd->inlen == 0) {
		fdwatch_write(w->fw, 0);
		return;
	}
	stdin_flush(w->cmd);
}

/* A hang-up, reported while reading is paused too (fdwatch.h). */
static void watch_hangup(void *ctx)
{
	struct exec_watch *w = ctx;
	struct exec_cmd *x = w->cmd;

	watch_release(w);
	if (w->kind == W_IN) {
		/* The read end is closed: the command closed its stdin. */
		if (x->inlen > 0) {
			x->ack_due += x->inlen;
			ready_push(x);
		}
		stdin_close(x);
		return;
	}
	x->out[w->kind].hung = 1;
	cmd_pump(x);
}

/* ---- signals and timers ----------------------------------------------------- */

/* Everything the command started: its cgroup, else its process group and session. */
static void cmd_kill_all(struct exec_cmd *x)
{
	if (x->cg != NULL && contain_kill(x->cg) >= 0)
		return;
	if (x->pgid > 0) {
		spawn_signal_group(x->pgid, SIGKILL, x->uid);
		if (x->pid > 0)
			spawn_signal_session(x->pgid, SIGKILL, x->uid);
	}
}

/* sig to the command's group now, SIGKILL to all of it after the grace. */
static void cmd_signal(struct exec_cmd *x, int sig)
{
	if (x->exited)
		return;
	if (sig == SIGKILL || x->c->srv->destroying) {
		cmd_kill_all(x);
		return;
	}
	spawn_signal_group(x->pgid, sig, x->uid);
	if (!x->kill_pending) {
		x->kill_pending = 1;
		lws_sul_schedule(x->c->srv->ctx, 0, &x->sul_kill, sul_kill_cb, EXEC_KILL_GRACE_US);
	}
}

static void sul_kill_cb(lws_sorted_usec_list_t *sul)
{
	struct exec_cmd *x = lws_container_of(sul, struct exec_cmd, sul_kill);

	x->kill_pending = 0;
	cmd_kill_all(x);
	if (x->exited && x->c->ws == NULL)
		cmd_free(x);
}

static void sul_timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct exec_cmd *x = lws_container_of(sul, struct exec_cmd, sul_timeout);

	if (x->exited)
		return;
	x->timed_out = 1;
	cmd_signal(x, SIGTERM);
}

/*
 * Half a second after the main process: a stream whose pipe still has a
 * writer is held by a process that left the group (no cgroup here): it is
 * cut, so the status is not held hostage. Streams without writers drain.
 */
static void sul_drain_cb(lws_sorted_usec_list_t *sul)
{
	struct exec_cmd *x = lws_container_of(sul, struct exec_cmd, sul_drain);
	int k;

	x->draining = 1;
	for (k = 0; k < 2; k++) {
		struct pollfd p = { .fd = x->out[k].fd, .events = POLLIN };
		if (x->out[k].fd < 0 || x->use_pty)
			continue;
		if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP))
			stream_eof(x, k);
	}
	cmd_pump(x);
}

/* ---- starting a command ------------------------------------------------------- */

static struct exec_cmd *cmd_find(const struct exec_conn *c, uint32_t id)
{
	struct exec_cmd *x;

	for (x = c->cmds; x != NULL; x = x->next)
		if (x->id == id)
			return x;
	return NULL;
}

static long long identity_commands(const struct ptyd *srv, const char *user)
{
	const struct exec_conn *c;
	long long n = 0;

	for (c = srv->exec_conns; c != NULL; c = c->next)
		if (strcmp(c->user, user) == 0)
			n += c->ncmds;
	return n;
}

static int env_overridden(const struct execproto_start *st, const char *kv)
{
	size_t n = strcspn(kv, "=");
	int i;

	for (i = 0; i < st->nenv; i++)
		if (strncmp(st->env[i], kv, n) == 0 && st->env[i][n] == '=')
			return 1;
	return 0;
}

/*
 * The child's environment: a terminal's for this identity (child.c: the
 * fixed part, HOME, USER, LOGNAME, SHELL, WEBSHELL_USER), without TERM unless
 * it has a PTY, then the request's additions, which win. Borrowed strings;
 * the array is malloc'd.
 */
static char **build_env(const struct child_plan *plan, const struct execproto_start *st)
{
	char **envp = calloc((size_t)plan->nenv + (size_t)st->nenv + 1, sizeof(char *));
	int i, n = 0;

	if (envp == NULL)
		return NULL;
	for (i = 0; i < plan->nenv; i++) {
		if (!st->has_pty && strncmp(plan->envp[i], "TERM=", 5) == 0)
			continue;
		if (!env_overridden(st, plan->envp[i]))
			envp[n++] = plan->envp[i];
	}
	for (i = 0; i < st->nenv; i++)
		envp[n++] = st->env[i];
	envp[n] = NULL;
	return envp;
}

/* A sealed memfd holding the script, for scripts longer than one argument may be. */
static int script_memfd(const struct execproto_start *st)
{
	size_t off = 0;
	ssize_t n;
	int fd = memfd_create("webshell-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	while (off < st->shell_len) {
		n = write(fd, st->shell + off, st->shell_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Watches a started command's output and starts its recording. 0, or -1 with why. */
static int cmd_attach(struct exec_cmd *x, char *why, size_t cap)
{
	struct exec_conn *c = x->c;
	char connid[24];
	int k;

	for (k = 0; k < 2; k++) {
		if (x->out[k].fd >= 0 && watch_fd(x, k, x->out[k].fd) != 0) {
			cmd_kill_all(x);
			snprintf(why, cap, "cannot watch the command's output");
			return -1;
		}
	}
	snprintf(connid, sizeof(connid), "%lu", c->id);
	x->rec = recording_start(c->srv->recorder, &(struct recording_info){
		.kind = "exec", .user = c->user, .session = connid, .peer = c->peer,
		.request_id = c->request_id[0] ? c->request_id : NULL, .title = x->account,
		.command = x->text[0] ? x->text : x->sha256, .term = c->srv->cfg.term,
		.shell = x->shell, .command_id = x->id, .columns = x->size.cols, .rows = x->size.rows });
	return 0;
}

/*
 * Spawns x for st (fd3: a descriptor the child gets as fd 3, or -1). A shell
 * started ahead (x->warm) is not watched or recorded until a script comes.
 * 0, or -1 with why (for the client).
 */
static int cmd_spawn(struct exec_cmd *x, const struct execproto_start *st, int fd3, char *why,
		     size_t cap)
{
	struct exec_conn *c = x->c;
	const struct ptyd_config *cfg = &c->srv->cfg;
	char argv0[256], cgname[48], cwd[EXECPROTO_CWD_MAX + PATH_MAX + 2];
	const char *shell, *base;
	char *shell_argv[4];
	struct child_plan plan;
	struct spawn_req req;
	struct spawn_io io;
	char **envp;
	int scriptfd = -1;
	uint64_t t0;

	/* The account, environment and directory a terminal of this identity gets. */
	if (child_plan(c->srv, c->user, &plan) != 0) {
		snprintf(why, cap, "%s", session_no_account);
		return -1;
	}
	snprintf(x->account, sizeof(x->account), "%s", plan.who->name);
	x->who_uid = plan.who->uid;
	x->who_gid = plan.who->gid;
	shell = plan.who->shell;
	if (x->warm) {
		base = shell != NULL ? strrchr(shell, '/') : NULL;
		if (shell == NULL || strcmp(base != NULL ? base + 1 : shell, "bash") != 0) {
			snprintf(why, cap, "the account's shell is not bash");
			return -1;
		}
	}
	memset(&req, 0, sizeof(req));
	req.fd3 = fd3;
	if (st->argv != NULL) {
		req.path = st->argv[0];
		req.argv = st->argv;
	} else {
		if (shell == NULL || shell[0] == '\0')
			shell = "/bin/sh";
		base = strrchr(shell, '/');
		base = base != NULL ? base + 1 : shell;
		/* A login shell is told so by a '-' in front of its name. */
		snprintf(argv0, sizeof(argv0), "%s%s", st->login ? "-" : "", base);
		shell_argv[0] = argv0;
		if (st->shell_len <= EXECPROTO_ARG_MAX) {
			shell_argv[1] = (char *)"-c";
			shell_argv[2] = st->shell;
			shell_argv[3] = NULL;
		} else {
			/* Linux takes at most 128 KiB in one argument: the shell reads
			 * a longer script from a file, a sealed memfd on fd 3. */
			scriptfd = script_memfd(st);
			if (scriptfd < 0) {
				snprintf(why, cap, "cannot hold the script: %s", strerror(errno));
				return -1;
			}
			shell_argv[1] = (char *)"/dev/fd/3";
			shell_argv[2] = NULL;
			req.fd3 = scriptfd;
		}
		req.path = shell;
		req.argv = shell_argv;
	}
	envp = build_env(&plan, st);
	if (envp == NULL) {
		if (scriptfd >= 0)
			close(scriptfd);
		snprintf(why, cap, "out of memory");
		return -1;
	}
	req.envp = envp;
	/* A relative cwd is the account's home's. */
	if (st->cwd != NULL && st->cwd[0] != '/')
		snprintf(cwd, sizeof(cwd), "%s/%s", plan.who->home, st->cwd);
	else
		snprintf(cwd, sizeof(cwd), "%s", st->cwd != NULL ? st->cwd : plan.cwd);
	req.cwd = cwd;
	req.cwd_required = st->cwd != NULL;
	req.acct = plan.acct;
	req.no_new_privs = cfg->no_new_privs;
	req.use_pty = st->has_pty;
	req.cols = st->pty.cols;
	req.rows = st->pty.rows;
	req.stdin_null = !st->stdin_open;
	if (x->warm)
		snprintf(cgname, sizeof(cgname), "x%lu.w%lu", c->id, ++c->warm_seq);
	else
		snprintf(cgname, sizeof(cgname), "x%lu.%u", c->id, x->id);
	x->cg = contain_new(cgname);
	if (x->cg == NULL && contain_active())
		log_warn("exec: command %u: no cgroup: contained by process group only", x->id);
	req.cg = x->cg;
	x->t_start = lws_now_usecs();
	t0 = metrics_now_ns();
	x->pid = spawn_child(&req, &io);
	ptyd_metrics_spawned(t0);
	free(envp);
	if (scriptfd >= 0)
		close(scriptfd);
	if (x->pid < 0) {
		x->pid = 0;
		snprintf(why, cap, "cannot start: %s", strerror(errno));
		return -1;
	}
	x->pgid = x->pid;
	x->uid = plan.acct != NULL ? plan.acct->uid : SPAWN_NO_UID;
	x->use_pty = st->has_pty;
	if (x->use_pty) {
		x->out[0].fd = io.master;
		x->out[1].fd = -1;
		x->in_fd = st->stdin_open ? io.master : -1;
	} else {
		x->out[0].fd = io.out;
		x->out[1].fd = io.err;
		x->in_fd = io.in;
	}
	if (io.fail_step != SPAWN_OK && io.fail_step != SPAWN_EXEC) {
		/* Nothing ran: the child has exited 126 and is reaped as usual. */
		snprintf(why, cap, "cannot start: %s: %s", spawn_step_name(io.fail_step),
			 io.fail_errno ? strerror(io.fail_errno) : "ids or capabilities not as set");
		if (asprintf(&x->error, "%s", why) < 0)
			x->error = NULL;
	}
	snprintf(x->shell, sizeof(x->shell), "%s", shell != NULL ? shell : "");
	x->size = st->pty;
	if (x->warm)
		return 0;
	return cmd_attach(x, why, cap);
}

/*
 * Names x on the admin socket (ptyd --list, --end) and stamps its start. Not
 * a secret (only the admin socket shows it): a short read leaves it zero.
 */
static void cmd_listed(struct exec_cmd *x)
{
	unsigned char raw[PROTO_ID_BYTES];

	if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw))
		memset(raw, 0, sizeof(raw));
	proto_id_hex(x->admin_id, raw);
	x->wall_start = x->wall_input = time(NULL);
}

/* ---- shells started ahead (--exec-warm-shell, on by default) ------------------- */

/* Scripts up to this size go to a shell started ahead: bash reads a pipe a byte
 * at a time (about 2 us a byte here), so a longer script is cheaper cold. */
#define WARM_SCRIPT_MAX 1024
/*
 * What a shell started ahead runs: it waits for its script on fd 3, then runs
 * it as `bash -c SCRIPT` would: the same $0, $-, LINENO, exit status and
 * BASH_EXECUTION_STRING, SECONDS from 0 (a syntax error's message lacks the
 * "-c: line N:" part).
 */
static const char warm_boot[] = "IFS= read -r -d '' BASH_EXECUTION_STRING <&3; exec 3<&-; "
				"SECONDS=0; eval \"$BASH_EXECUTION_STRING\"";

/* A start a shell started ahead can run: a plain script with nothing of its own. */
static int warm_fits(const struct execproto_start *st)
{
	return st->shell != NULL && !st->login && st->nenv == 0 && st->cwd == NULL && !st->has_pty &&
	       !st->stdin_open && st->shell_len <= WARM_SCRIPT_MAX;
}

/* x is no longer a shell waiting (used, or freed): out of the gauge, its idle end cancelled. */
static void warm_unwait(struct exec_cmd *x)
{
	if (!x->c->srv->destroying) /* else the loop and its timer lists are gone */
		lws_sul_cancel(&x->sul_idle);
	if (x->warm_counted)
		metric_dec(ptyd_m.exec_waiting);
	x->warm_counted = 0;
}

/*
 * Ends a waiting shell unused (why: for the debug log): no script goes to it
 * from now on, everything in its cgroup or group is killed, and it is freed
 * once reaped. Its connection starts no other until its next command ends.
 */
static void warm_end(struct exec_cmd *x, const char *why)
{
	if (!x->warm || x->warm_ending)
		return;
	x->warm_ending = 1;
	lws_sul_cancel(&x->sul_idle);
	if (x->c->warm == x)
		x->c->warm = NULL;
	log_debug("exec: conn %lu: shell started ahead (pid %d) ended: %s", x->c->id, (int)x->pid,
		  why);
	cmd_kill_all(x);
}

static void sul_idle_cb(lws_sorted_usec_list_t *sul)
{
	warm_end(lws_container_of(sul, struct exec_cmd, sul_idle), "unused for 10 s");
}

/* The identity's shells waiting (not being ended), over its connections and its pool. */
static long long identity_waiting(const struct ptyd *srv, const char *user)
{
	const struct exec_conn *c;
	long long n = 0;

	for (c = srv->exec_conns; c != NULL; c = c->next)
		if (c->warm != NULL && strcmp(c->user, user) == 0)
			n++;
	return n;
}

/*
 * A waiting shell counts toward its identity's --exec-max-per-user, but never
 * makes a command be refused: when the identity's commands and waiting shells
 * are over the limit, waiting shells are ended (its pool's first) until they
 * are not.
 */
static void identity_trim(struct ptyd *srv, const char *user)
{
	long long over = identity_commands(srv, user) + identity_waiting(srv, user) -
			 srv->cfg.exec.max_per_user;
	struct exec_conn *c;
	int pass;

	for (pass = 0; pass < 2 && over > 0; pass++)
		for (c = srv->exec_conns; c != NULL && over > 0; c = c->next)
			if (c->pool == !pass && c->warm != NULL && strcmp(c->user, user) == 0) {
				warm_end(c->warm, "its identity's --exec-max-per-user needs its place");
				over--;
			}
}

/* Starts c's shell ahead of its next script (c->warm once it runs). */
static void warm_start(struct exec_conn *c)
{
	struct execproto_start st;
	struct exec_cmd *x;
	char why[160];
	int p[2];

	/* The identity's limit is full: the next script starts cold, as it would anyway. */
	if (identity_commands(c->srv, c->user) + identity_waiting(c->srv, c->user) >=
	    cfg_of(c)->max_per_user)
		return;
	if (pipe2(p, O_CLOEXEC) != 0)
		return;
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		close(p[0]);
		close(p[1]);
		return;
	}
	x->c = c;
	x->warm = 1;
	x->in_fd = x->out[0].fd = x->out[1].fd = -1;
	x->script_fd = p[1];
	x->next = c->cmds;
	c->cmds = x;
	memset(&st, 0, sizeof(st));
	st.shell = (char *)warm_boot;
	st.shell_len = sizeof(warm_boot) - 1;
	if (cmd_spawn(x, &st, p[0], why, sizeof(why)) != 0 || x->error != NULL) {
		/* Not bash, or it cannot start: this connection starts its shells cold. */
		c->warm_off = 1;
		log_debug("exec: conn %lu: no shell started ahead: %s", c->id, why);
		close(p[0]);
		if (x->pid <= 0)
			cmd_free(x);
		return; /* else it is freed once reaped */
	}
	close(p[0]);
	cmd_listed(x); /* operators see it as a shell waiting */
	x->warm_counted = 1;
	metric_inc(ptyd_m.exec_waiting);
	lws_sul_schedule(c->srv->ctx, 0, &x->sul_idle, sul_idle_cb, EXEC_WARM_IDLE_US);
	c->warm = x;
}

/* Starts the connection's shell ahead of its next script (lws calls it, off any request). */
static void sul_warm_cb(lws_sorted_usec_list_t *sul)
{
	struct exec_conn *c = lws_container_of(sul, struct exec_conn, sul_warm);

	if (c->ws == NULL || c->warm != NULL || c->warm_off || c->close_code != 0 ||
	    c->srv->stopping || c->srv->destroying)
		return;
	warm_start(c);
}

/* The pool of an identity (its shell started ahead for its next connection), or NULL. */
static struct exec_conn *pool_find(struct ptyd *srv, const char *user)
{
	struct exec_conn *p;

	for (p = srv->exec_conns; p != NULL; p = p->next)
		if (p->pool && strcmp(p->user, user) == 0)
			return p;
	return NULL;
}

/* Moves x, waiting in from's list, to to's (the same identity's, so the same shell). */
static void warm_move(struct exec_cmd *x, struct exec_conn *from, struct exec_conn *to)
{
	struct exec_cmd **pp;

	for (pp = &from->cmds; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	if (from->warm == x)
		from->warm = NULL;
	x->c = to;
	x->next = to->cmds;
	to->cmds = x;
}

/*
 * A connection that ran plain scripts is gone: its identity's next connection
 * (the next execCommand, most often) finds a shell started ahead: the gone
 * connection's own, else one made now. At most one per identity and
 * EXEC_WARM_POOLS in all, each ended after EXEC_WARM_IDLE_US unused.
 */
static void pool_refill(struct exec_conn *gone)
{
	struct ptyd *srv = gone->srv;
	struct exec_conn *p;
	long n = 0;

	if (!cfg_of(gone)->warm_shell || !gone->warm_plain || gone->warm_off || srv->stopping ||
	    srv->destroying || pool_find(srv, gone->user) != NULL)
		return;
	for (p = srv->exec_conns; p != NULL; p = p->next)
		n += p->pool;
	if (n >= EXEC_WARM_POOLS || (p = calloc(1, sizeof(*p))) == NULL)
		return;
	p->srv = srv;
	p->pool = 1;
	p->id = ++srv->exec_next_id;
	p->t_start = lws_now_usecs();
	snprintf(p->user, sizeof(p->user), "%s", gone->user);
	/* p->peer and p->request_id stay empty: no client yet (the admin list shows none). */
	p->next = srv->exec_conns;
	if (srv->exec_conns != NULL)
		srv->exec_conns->prev = p;
	srv->exec_conns = p;
	p->busy = 1;
	if (gone->warm != NULL) {
		/* Already started (its idle end still counts from its start). */
		p->warm = gone->warm;
		warm_move(p->warm, gone, p);
	} else {
		warm_start(p);
	}
	p->busy = 0;
	conn_maybe_free(p); /* freed now when no shell could be started */
}

/* The shell waiting in the identity's pool, moved to c (NULL: none). */
static struct exec_cmd *pool_take(struct exec_conn *c)
{
	struct exec_conn *p = pool_find(c->srv, c->user);
	struct exec_cmd *x;

	if (p == NULL || (x = p->warm) == NULL || x->exited)
		return NULL;
	warm_move(x, p, c);
	conn_maybe_free(p);
	return x;
}

/*
 * After each command of a connection that has run a plain script: a shell is
 * started ahead on the next loop turn (the command's status is out by then),
 * unless the next command came meanwhile. One the connection does not use
 * goes to its identity's next connection when it closes (pool_refill), so a
 * shell started this way is rarely started for nothing; a connection that only
 * runs what a waiting shell cannot run (argv, env, cwd, stdin, pty) gets none.
 */
static void warm_schedule(struct exec_conn *c)
{
	if (cfg_of(c)->warm_shell && c->warm_plain && c->ws != NULL && c->warm == NULL &&
	    !c->warm_off && !c->srv->stopping && !c->srv->destroying)
		lws_sul_schedule(c->srv->ctx, 0, &c->sul_warm, sul_warm_cb, EXEC_WARM_DELAY_US);
}

/*
 * Whether x, started ahead, still runs as the account the identity maps to
 * now (a SIGHUP ends every waiting shell; this is the check at the moment of
 * use): else it is ended unused.
 */
static int warm_current(const struct exec_conn *c, struct exec_cmd *x)
{
	struct child_plan plan;

	if (child_plan(c->srv, c->user, &plan) == 0 && plan.who->uid == x->who_uid &&
	    plan.who->gid == x->who_gid && strcmp(plan.who->name, x->account) == 0)
		return 1;
	warm_end(x, "its identity maps to another account now");
	return 0;
}

/*
 * Gives the connection's shell started ahead its script: 0, and it is the
 * command from now on; -1 when it died waiting (not reaped yet: the pipe has
 * no reader), then it is left to be reaped and freed, and the script starts
 * cold.
 */
static int warm_feed(struct exec_cmd *x, const struct execproto_start *st)
{
	ssize_t n;

	do
		n = write(x->script_fd, st->shell, st->shell_len);
	while (n < 0 && errno == EINTR);
	close(x->script_fd);
	x->script_fd = -1;
	if (n == (ssize_t)st->shell_len)
		return 0;
	warm_end(x, "it died waiting");
	return -1;
}

static void start_command(struct exec_conn *c, uint32_t id, const char *json, size_t len)
{
	const struct exec_config *e = cfg_of(c);
	struct execproto_start st;
	struct exec_cmd *x;
	char why[256];
	long long timeout_ms;
	int rc, cut, warm = 0;

	rc = execproto_parse_start(json, len, &st, why, sizeof(why));
	if (rc == -1) {
		request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, why);
		return;
	}
	if (id > c->max_id)
		c->max_id = id;
	if (rc != 0) {
		refuse_start(c, id, why);
		return;
	}
	if (c->srv->stopping) {
		refuse_start(c, id, "server shutting down");
		goto out;
	}
	if (c->ncmds >= e->max_commands) {
		snprintf(why, sizeof(why), "too many commands on this connection (%lld)",
			 e->max_commands);
		refuse_start(c, id, why);
		goto out;
	}
	if (identity_commands(c->srv, c->user) >= e->max_per_user) {
		snprintf(why, sizeof(why), "too many commands for this identity (%lld)",
			 e->max_per_user);
		refuse_start(c, id, why);
		goto out;
	}
	lws_sul_cancel(&c->sul_warm); /* busy: started again after this one, if quiet then */
	x = NULL;
	if (warm_fits(&st) && cfg_of(c)->warm_shell) {
		c->warm_plain = 1;
		/* Already in c->cmds (or moved there from its identity's pool), already running: it
		 * only needs its script. */
		if (c->warm != NULL && !c->warm->exited && c->warm->error == NULL) {
			x = c->warm;
			c->warm = NULL;
		} else {
			x = pool_take(c);
		}
	}
	if (x != NULL) {
		if (warm_current(c, x) && warm_feed(x, &st) == 0) {
			warm_unwait(x);
			x->warm = 0;
			x->warm_used = 1;
			x->t_start = lws_now_usecs();
			warm = 1;
		} else {
			x = NULL;
		}
	}
	if (x == NULL) {
		x = calloc(1, sizeof(*x));
		if (x == NULL) {
			refuse_start(c, id, "out of memory");
			goto out;
		}
		x->c = c;
		x->in_fd = x->out[0].fd = x->out[1].fd = x->script_fd = -1;
		x->next = c->cmds;
		c->cmds = x;
	}
	x->id = id;
	cmd_listed(x);
	x->cmdlen = st.command_len;
	execproto_sha256_hex(st.command, st.command_len, x->sha256);
	execproto_command_text(&st, EXEC_AUDIT_TEXT_MAX, x->text, sizeof(x->text), &cut);
	c->ncmds++;
	c->started++;
	identity_trim(c->srv, c->user);
	if (warm ? cmd_attach(x, why, sizeof(why)) != 0 :
	    cmd_spawn(x, &st, -1, why, sizeof(why)) != 0) {
		/* Never started (or cannot be watched): an error status, once reaped. */
		free(x->error);
		x->error = strdup(why);
		if (x->pid == 0) {
			x->exited = 1;
			x->t_end = lws_now_usecs();
		}
		stream_eof(x, 0);
		stream_eof(x, 1);
		stdin_close(x);
		cmd_maybe_finish(x);
		goto out;
	}
	timeout_ms = st.timeout_ms;
	if (e->timeout_s > 0 && (timeout_ms == 0 || timeout_ms > e->timeout_s * 1000))
		timeout_ms = e->timeout_s * 1000;
	if (timeout_ms > 0)
		lws_sul_schedule(c->srv->ctx, 0, &x->sul_timeout, sul_timeout_cb,
				 (lws_usec_t)timeout_ms * 1000);
	cmd_pump(x);
out:
	execproto_start_free(&st);
}

/* ---- the connection ------------------------------------------------------------ */

struct exec_conn *exec_conn_new(struct ptyd *srv, struct lws *ws)
{
	struct exec_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->srv = srv;
	c->id = ++srv->exec_next_id;
	c->ws = ws;
	c->t_start = lws_now_usecs();
	http_client_addr(ws, c->peer, sizeof(c->peer));
	ws_header_value(ws, "x-webshell-user:", c->user, sizeof(c->user));
	ws_header_value(ws, "x-webshell-request-id:", c->request_id, sizeof(c->request_id));
	c->next = srv->exec_conns;
	if (srv->exec_conns != NULL)
		srv->exec_conns->prev = c;
	srv->exec_conns = c;
	srv->nclients++; /* --max-clients counts every open connection */
	conn_log(c, "exec_connect", NULL, 0);
	lws_callback_on_writable(ws); /* hello */
	return c;
}

void exec_conn_peer_close(struct exec_conn *c, int code)
{
	c->peer_code = code;
}

static int msg_append(struct exec_conn *c, const unsigned char *p, size_t len)
{
	if (c->msglen + len > c->msgcap) {
		size_t cap = c->msgcap ? c->msgcap : 256;
		unsigned char *nb;
		while (cap < c->msglen + len)
			cap *= 2;
		nb = realloc(c->msg, cap);
		if (nb == NULL)
			return -1;
		c->msg = nb;
		c->msgcap = cap;
	}
	memcpy(c->msg + c->msglen, p, len);
	c->msglen += len;
	return 0;
}

/* The header is complete: check it and decide what the payload is for. */
static void begin_message(struct exec_conn *c)
{
	const char *why;
	char reason[96];

	if (execproto_parse_header(c->hdr, &c->h, &why) != 0) {
		snprintf(reason, sizeof(reason), "%s (channel %u)", why, c->hdr[0]);
		request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
		return;
	}
	switch (c->h.channel) {
	case EXEC_CH_START:
		if (cmd_find(c, c->h.id) != NULL) {
			snprintf(reason, sizeof(reason), "command id %u is already running", c->h.id);
			request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
		}
		return;
	case EXEC_CH_SESSIONS:
	case EXEC_CH_END_SESSION:
		return;
	default:
		break;
	}
	c->rx_cmd = cmd_find(c, c->h.id);
	if (c->rx_cmd == NULL) {
		/* Races are normal: a late message for a finished command is ignored. */
		if (c->h.id <= c->max_id) {
			c->skip = 1;
			return;
		}
		snprintf(reason, sizeof(reason), "message for unknown command id %u", c->h.id);
		request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
	}
}

/*
 * One of the caller's terminal sessions, as docs/protocol.md §2 lists them. A
 * session already ending (hung up, its shell not yet reaped) is left out: it
 * can be neither attached nor ended again, and a list asked for right after
 * an "end" must not show it (the page's End would seem to do nothing).
 */
static void list_one(const struct session_info *info, void *ctx)
{
	cJSON *arr = ctx, *o;

	if (strcmp(info->kind, "terminal") != 0 || strcmp(info->state, "ending") == 0 ||
	    (o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "id", info->id);
	cJSON_AddStringToObject(o, "state", info->state);
	cJSON_AddNumberToObject(o, "started", (double)info->started);
	cJSON_AddNumberToObject(o, "lastInput", (double)info->last_input);
	cJSON_AddStringToObject(o, "title", info->title != NULL ? info->title : "");
	cJSON_AddItemToArray(arr, o);
}

static void answer_sessions(struct exec_conn *c, uint32_t id)
{
	cJSON *arr = cJSON_CreateArray();
	char *js = NULL;

	if (arr != NULL) {
		session_list(c->srv, c->user, list_one, arr);
		js = cJSON_PrintUnformatted(arr);
		cJSON_Delete(arr);
	}
	if (js == NULL) {
		request_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	ctrl_push(c, EXEC_CH_SESSIONS, id, js, strlen(js));
	free(js);
}

/* Ends one of the caller's own sessions; answered on the status channel. */
static void end_session(struct exec_conn *c, uint32_t id, const char *json, size_t len)
{
	static const char ended[] = "{\"ended\":true}";
	const char *why;
	char sid[33], *js;

	if (execproto_parse_end_session(json, len, sid, &why) != 0) {
		request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, why);
		return;
	}
	if (session_end_match(c->srv, c->user, sid, "session ended") == 0) {
		/* Logs carry a session id's first 8 digits only (docs/protocol.md §1). */
		sid[8] = '\0';
		struct log_field f[] = { { "session", sid } };
		conn_log(c, "exec_end_session", f, 1);
		ctrl_push(c, EXEC_CH_STATUS, id, ended, sizeof(ended) - 1);
		return;
	}
	js = execproto_error_json("no such session");
	if (js != NULL)
		ctrl_push(c, EXEC_CH_STATUS, id, js, strlen(js));
	free(js);
}

static void end_message(struct exec_conn *c)
{
	struct exec_cmd *x = c->rx_cmd;
	const char *why;
	uint32_t n;
	int sig;

	switch (c->h.channel) {
	case EXEC_CH_START:
		start_command(c, c->h.id, (const char *)c->msg, c->msglen);
		break;
	case EXEC_CH_STDIN:
		break; /* streamed as it came */
	case EXEC_CH_EOF:
		stdin_eof(x);
		break;
	case EXEC_CH_CANCEL:
		if (execproto_parse_cancel((const char *)c->msg, c->msglen, &sig, &why) != 0) {
			request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, why);
			break;
		}
		if (!x->exited) {
			x->cancelled = 1;
			cmd_signal(x, sig);
		}
		break;
	case EXEC_CH_ACK:
		if (execproto_parse_ack(c->msg, c->msglen, &n, &why) != 0) {
			request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, why);
			break;
		}
		if (n > x->unacked) {
			request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				      "ack of more output than was sent");
			break;
		}
		x->unacked -= n;
		cmd_pump(x);
		break;
	case EXEC_CH_RESIZE: {
		struct proto_size sz;
		if (proto_parse_resize((const char *)c->msg, c->msglen, &sz, &why) != 0) {
			request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, why);
			break;
		}
		if (x->use_pty && x->out[0].fd >= 0)
			pty_resize(x->out[0].fd, sz.cols, sz.rows);
		break;
	}
	case EXEC_CH_SESSIONS:
		answer_sessions(c, c->h.id);
		break;
	case EXEC_CH_END_SESSION:
		end_session(c, c->h.id, (const char *)c->msg, c->msglen);
		break;
	default:
		break;
	}
}

void exec_conn_rx(struct exec_conn *c, const unsigned char *in, size_t len, int binary,
		  int final, size_t remaining)
{
	size_t limit;

	if (c->close_code != 0 || c->ws == NULL)
		return;
	if (!c->in_msg) {
		if (len == 0 && final)
			return; /* an empty message: nothing to do */
		if (!binary) {
			request_close(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary frames only");
			return;
		}
		c->in_msg = 1;
		c->hdr_have = 0;
		c->hdr_done = 0;
		c->rx_cmd = NULL;
		c->skip = 0;
		c->msglen = 0;
		c->total = 0;
	}
	while (len > 0 && c->hdr_have < EXECPROTO_HDR) {
		c->hdr[c->hdr_have++] = *in++;
		len--;
	}
	if (c->hdr_have < EXECPROTO_HDR) {
		if (final)
			request_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				      "message shorter than its 5-byte header");
		goto done;
	}
	if (!c->hdr_done) {
		c->hdr_done = 1;
		begin_message(c);
		if (c->close_code != 0)
			goto done;
	}
	c->total += len;
	limit = c->h.channel == EXEC_CH_START ? (size_t)cfg_of(c)->max_command :
		EXECPROTO_PAYLOAD_MAX;
	/* The frame header already tells when a message will be too big. */
	if (c->total + remaining > limit) {
		request_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
		goto done;
	}
	if (!c->skip && len > 0) {
		if (c->h.channel == EXEC_CH_STDIN) {
			stdin_data(c->rx_cmd, in, len);
		} else if (msg_append(c, in, len) != 0) {
			request_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
			goto done;
		}
	}
	if (!final)
		return;
	if (!c->skip)
		end_message(c);
done:
	if (final || c->close_code != 0) {
		c->in_msg = 0;
		/* A big start buffer is not kept for the next small message. */
		if (c->msgcap > EXECPROTO_PAYLOAD_MAX) {
			free(c->msg);
			c->msg = NULL;
			c->msgcap = 0;
		}
		c->msglen = 0;
	}
}

/* ---- the end ------------------------------------------------------------------- */

static void cmd_free(struct exec_cmd *x)
{
	struct exec_conn *c = x->c;
	struct exec_cmd **pp;
	int k, was_command = !x->warm;

	if (was_command) {
		cmd_audit(x);
		ptyd_audit_exec_end(x->rec, x->error == NULL && x->pgid > 0, x->exited, x->wstatus,
				    x->timed_out, x->cancelled);
		c->ncmds--;
	} else {
		warm_unwait(x);
	}
	if (c->warm == x)
		c->warm = NULL;
	if (x->script_fd >= 0)
		close(x->script_fd);
	ready_remove(x);
	for (pp = &c->cmds; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	lws_sul_cancel(&x->sul_timeout);
	lws_sul_cancel(&x->sul_kill);
	lws_sul_cancel(&x->sul_drain);
	for (k = 0; k < 2; k++) {
		x->out[k].len = 0;
		stream_eof(x, k);
	}
	stdin_close(x);
	for (k = 0; k < 3; k++)
		watch_release(&x->w[k]);
	if (x->cg != NULL)
		contain_free(x->cg);
	free(x->in);
	free(x->error);
	free(x);
	/* The next script finds a shell started ahead (off this one's path: next loop turn).
	 * A waiting shell that ended is not replaced: it ended for a reason (unused, its
	 * account changed, an operator), and the next command starts one again. */
	if (was_command)
		warm_schedule(c);
	conn_maybe_free(c);
}

static void conn_maybe_free(struct exec_conn *c)
{
	struct ptyd *srv = c->srv;
	struct ctrl_frame *f;
	char dur[32], started[24], refused[24], code[16];

	if (c->ws != NULL || c->cmds != NULL || c->busy)
		return;
	lws_sul_cancel(&c->sul_warm);
	if (c->pool)
		goto unlink; /* not a connection: nothing to log */
	snprintf(dur, sizeof(dur), "%.3f", (double)(lws_now_usecs() - c->t_start) / LWS_USEC_PER_SEC);
	snprintf(started, sizeof(started), "%lu", c->started);
	snprintf(refused, sizeof(refused), "%lu", c->refused);
	snprintf(code, sizeof(code), "%d", c->close_code ? c->close_code :
		 c->peer_code ? c->peer_code : 1006);
	struct log_field fl[] = {
		{ "duration", dur }, { "commands", started }, { "refused", refused }, { "code", code },
	};
	conn_log(c, "exec_disconnect", fl, sizeof(fl) / sizeof(fl[0]));
unlink:
	while ((f = c->ctrl_head) != NULL) {
		c->ctrl_head = f->next;
		free(f);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->exec_conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c->msg);
	free(c);
	ptyd_check_done(srv);
}

void exec_conn_gone(struct exec_conn *c)
{
	struct exec_cmd *x, *next;
	struct ctrl_frame *f;
	int k;

	ws_close_cancel(&c->closer);
	c->ws = NULL;
	c->srv->nclients--;
	c->ready_head = c->ready_tail = NULL;
	lws_sul_cancel(&c->sul_warm);
	pool_refill(c);
	while ((f = c->ctrl_head) != NULL) {
		c->ctrl_head = f->next;
		free(f);
	}
	c->ctrl_tail = NULL;
	c->nctrl = 0;
	c->busy = 1;
	for (x = c->cmds; x != NULL; x = next) {
		next = x->next;
		x->queued = 0;
		for (k = 0; k < 2; k++) {
			x->out[k].len = 0;
			stream_eof(x, k);
		}
		stdin_close(x);
		if (x->exited)
			cmd_free(x);
		else if (x->warm)
			warm_end(x, "its connection is gone");
		else
			/* Hung up as a terminal would be: TERM now, KILL after the grace. */
			cmd_signal(x, SIGTERM);
	}
	c->busy = 0;
	conn_maybe_free(c);
}

int exec_reaped(struct ptyd *srv, pid_t pid, int wstatus)
{
	struct exec_conn *c;
	struct exec_cmd *x = NULL;

	for (c = srv->exec_conns; c != NULL && x == NULL; c = c->next)
		for (x = c->cmds; x != NULL; x = x->next)
			if (x->pid == pid)
				break;
	if (x == NULL)
		return 0;
	if (x->warm) {
		/* A shell started ahead ended unused (killed, or its connection went). */
		x->exited = 1;
		x->pid = 0;
		cmd_kill_all(x);
		cmd_free(x);
		return 1;
	}
	x->exited = 1;
	x->wstatus = wstatus;
	x->t_end = lws_now_usecs();
	x->pid = 0;
	/* What it started goes with it (no daemons left behind). */
	cmd_kill_all(x);
	x->kill_pending = 0;
	lws_sul_cancel(&x->sul_kill);
	lws_sul_cancel(&x->sul_timeout);
	stdin_close(x);
	if (x->c->ws == NULL) {
		cmd_free(x);
		return 1;
	}
	if (!srv->destroying)
		lws_sul_schedule(srv->ctx, 0, &x->sul_drain, sul_drain_cb, EXEC_DRAIN_US);
	cmd_pump(x);
	return 1;
}

void exec_shutdown_all(struct ptyd *srv)
{
	struct exec_conn *c;

	for (c = srv->exec_conns; c != NULL; c = c->next) {
		if (c->ws != NULL)
			request_close(c, 1012, "service restart");
		else if (c->warm != NULL)
			warm_end(c->warm, "ptyd is stopping"); /* a pool goes once it is reaped */
	}
}

void exec_accounts_reloaded(struct ptyd *srv)
{
	struct exec_conn *c;

	for (c = srv->exec_conns; c != NULL; c = c->next)
		if (c->warm != NULL)
			warm_end(c->warm, "accounts reloaded (SIGHUP)");
}

long exec_open_connections(const struct ptyd *srv)
{
	const struct exec_conn *c;
	long n = 0;

	for (c = srv->exec_conns; c != NULL; c = c->next)
		n += !c->pool;
	return n;
}

/* ---- the admin socket's view ---------------------------------------------------- */

static const char *cmd_state(const struct exec_cmd *x)
{
	if (x->warm)
		return x->warm_ending ? "ending" : "waiting";
	if (x->exited)
		return "exited";
	return x->kill_pending || x->c->ws == NULL ? "ending" : "running";
}

void exec_list(struct ptyd *srv, exec_visit_fn fn, void *ctx)
{
	struct exec_conn *c;
	struct exec_cmd *x;
	struct exec_info in;

	for (c = srv->exec_conns; c != NULL; c = c->next) {
		for (x = c->cmds; x != NULL; x = x->next) {
			if ((x->error != NULL && x->pgid == 0) || (x->warm && x->error != NULL))
				continue; /* refused: it never ran; or a shell that could not wait */
			memset(&in, 0, sizeof(in));
			in.id = x->admin_id;
			in.state = cmd_state(x);
			in.waiting = x->warm;
			in.owner = c->user;
			in.peer = c->peer;
			in.request_id = c->request_id;
			in.account = x->account;
			in.text = !x->warm && cfg_of(c)->audit_text == EXEC_AUDIT_TRUNCATED ? x->text
											: NULL;
			in.sha256 = x->warm ? NULL : x->sha256;
			in.length = x->cmdlen;
			in.pty = x->use_pty;
			in.conn = c->pool ? 0 : c->id;
			in.command_id = x->id;
			in.started = x->wall_start;
			in.last_input = x->wall_input;
			in.bytes_in = x->bytes_in;
			in.bytes_out = x->bytes_out;
			in.pid = x->pid;
			fn(&in, ctx);
		}
	}
}

/* The running command whose id starts with prefix; *n: how many match. */
static struct exec_cmd *cmd_match(struct ptyd *srv, const char *prefix, int *n)
{
	struct exec_conn *c;
	struct exec_cmd *x, *found = NULL;
	size_t len = strlen(prefix);

	*n = 0;
	if (len == 0 || len > PROTO_ID_HEX)
		return NULL;
	for (c = srv->exec_conns; c != NULL; c = c->next) {
		for (x = c->cmds; x != NULL; x = x->next) {
			if (x->exited || x->pid <= 0 || (x->warm && (x->warm_ending || x->error)))
				continue;
			if (sodium_memcmp(x->admin_id, prefix, len) == 0) {
				found = x;
				(*n)++;
			}
		}
	}
	return found;
}

int exec_count_match(struct ptyd *srv, const char *prefix)
{
	int n;

	cmd_match(srv, prefix, &n);
	return n;
}

int exec_end_match(struct ptyd *srv, const char *prefix)
{
	int n;
	struct exec_cmd *x = cmd_match(srv, prefix, &n);

	if (n > 1)
		return -2;
	if (x == NULL)
		return -1;
	if (x->warm) {
		/* Ended for good: its connection starts its scripts cold from now on. */
		x->c->warm_off = 1;
		warm_end(x, "ended by an administrator");
		return 0;
	}
	x->by_operator = 1;
	cmd_signal(x, SIGTERM);
	return 0;
}

void exec_kill_all(struct ptyd *srv)
{
	struct exec_conn *c;
	struct exec_cmd *x;
	int st;

	while ((c = srv->exec_conns) != NULL) {
		c->ws = NULL;
		if (c->cmds == NULL) {
			conn_maybe_free(c);
			continue;
		}
		x = c->cmds;
		cmd_kill_all(x);
		if (x->pid > 0 && waitpid(x->pid, &st, 0) == x->pid) {
			x->exited = 1;
			x->wstatus = st;
			x->t_end = lws_now_usecs();
		}
		x->pid = 0;
		x->kill_pending = 0;
		cmd_free(x);
	}
}
