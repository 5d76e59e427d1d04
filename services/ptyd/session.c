/*
 * session.c: one session's life: admission data, the init message and the
 * child, output flow control (one frame in flight, PAUSE/RESUME), input to the
 * PTY, timers, and the single cleanup path with its audit lines.
 *
 * A session lives until its client is gone AND its child is reaped: the
 * child may outlive the socket (SIGHUP, then SIGKILL after a grace), and the
 * socket outlives the child while the last output drains.
 */
#include "ptyd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "httpreply.h"
#include "log.h"
#include "spawn.h"

/* Output read from the PTY per frame (the type byte comes on top). */
#define OUT_DATA_MAX (PROTO_MSG_MAX - 1)

static void session_maybe_free(struct session *s);
static void session_pump(struct session *s);

static void sul_idle_cb(lws_sorted_usec_list_t *sul);
static void sul_max_cb(lws_sorted_usec_list_t *sul);
static void sul_kill_cb(lws_sorted_usec_list_t *sul);

static void fmt_ul(char *buf, size_t cap, unsigned long long v)
{
	snprintf(buf, cap, "%llu", v);
}

/* X-Webshell-User when valid (proto_user_valid), else "". */
static void user_from(struct lws *ws, char *dst, size_t cap)
{
	static const char name[] = "x-webshell-user:";
	char v[PROTO_USER_MAX + 2];
	int n;

	dst[0] = '\0';
	if (lws_hdr_custom_length(ws, name, (int)strlen(name)) <= 0)
		return;
	n = lws_hdr_custom_copy(ws, v, sizeof(v), name, (int)strlen(name));
	if (n <= 0 || !proto_user_valid(v, (size_t)n) || (size_t)n >= cap) {
		log_debug("session: X-Webshell-User unusable, treated as absent");
		return;
	}
	memcpy(dst, v, (size_t)n);
	dst[n] = '\0';
}

struct session *session_new(struct ptyd *srv, struct lws *ws)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->srv = srv;
	s->id = ++srv->next_id;
	s->ws = ws;
	s->master = -1;
	s->t_start = s->t_input = lws_now_usecs();
	http_client_addr(ws, s->peer, sizeof(s->peer));
	user_from(ws, s->user, sizeof(s->user));
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nclients++;
	if (srv->cfg.idle_timeout > 0)
		lws_sul_schedule(srv->ctx, 0, &s->sul_idle, sul_idle_cb,
				 srv->cfg.idle_timeout * LWS_USEC_PER_SEC);
	if (srv->cfg.max_session > 0)
		lws_sul_schedule(srv->ctx, 0, &s->sul_max, sul_max_cb,
				 srv->cfg.max_session * LWS_USEC_PER_SEC);
	return s;
}

/* The child's environment: the fixed part from the config plus WEBSHELL_USER. */
static int session_spawn(struct session *s)
{
	struct ptyd_config *cfg = &s->srv->cfg;
	char userenv[sizeof("WEBSHELL_USER=") + PROTO_USER_MAX];
	char *envp[sizeof(cfg->env) / sizeof(cfg->env[0]) + 2];
	struct spawn_req sp;
	struct spawn_io io;
	char pidbuf[24], size[24], idbuf[24];
	int i, n = 0, dupfd;

	for (i = 0; i < cfg->nenv; i++)
		envp[n++] = cfg->env[i];
	if (s->user[0] != '\0') {
		snprintf(userenv, sizeof(userenv), "WEBSHELL_USER=%s", s->user);
		envp[n++] = userenv;
	}
	envp[n] = NULL;
	memset(&sp, 0, sizeof(sp));
	sp.path = cfg->path;
	sp.argv = cfg->argv;
	sp.envp = envp;
	sp.cwd = cfg->cwd != NULL ? cfg->cwd : cfg->home;
	sp.use_pty = 1;
	sp.cols = s->size.cols;
	sp.rows = s->size.rows;
	s->pid = spawn_child(&sp, &io);
	if (s->pid < 0) {
		s->pid = 0;
		log_warn("session %lu: cannot start %s: %s", s->id, cfg->path, strerror(errno));
		return -1;
	}
	s->master = io.master;
	/* The child exits 126/127 and the terminal shows why, as any exit would. */
	if (io.fail_step != SPAWN_OK)
		log_warn("session %lu: cannot start %s: %s: %s", s->id, cfg->path,
			 spawn_step_name(io.fail_step), io.fail_errno ? strerror(io.fail_errno) :
			 "ids or capabilities not as set");
	s->pgid = s->pid;
	s->started = 1;
	/* lws polls a duplicate: it may close its copy on hang-up while ours drains. */
	dupfd = fcntl(s->master, F_DUPFD_CLOEXEC, 0);
	if (dupfd >= 0) {
		s->pty = ws_adopt(s->srv, dupfd, "ptyd-pty", s);
		if (s->pty == NULL)
			close(dupfd);
	}
	if (s->pty == NULL) {
		log_warn("session %lu: cannot watch the PTY", s->id);
		return -1;
	}
	/* Nothing is read before the title and preferences have gone out. */
	lws_rx_flow_control(s->pty, 0);
	s->hello = 2;
	lws_callback_on_writable(s->ws);

	fmt_ul(idbuf, sizeof(idbuf), s->id);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)s->pid);
	snprintf(size, sizeof(size), "%ux%u", s->size.cols, s->size.rows);
	struct log_field f[] = {
		{ "id", idbuf }, { "user", s->user[0] ? s->user : "-" }, { "peer", s->peer },
		{ "pid", pidbuf }, { "size", size }, { "command", cfg->cmdline },
	};
	log_event("session_start", f, sizeof(f) / sizeof(f[0]));
	return 0;
}

void session_request_close(struct session *s, int code, const char *reason)
{
	if (s->ws == NULL || s->close_code != 0)
		return;
	s->close_code = code;
	snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
	if (s->pty != NULL)
		lws_rx_flow_control(s->pty, 0);
	/* A client that stops reading cannot hold the session open. */
	lws_set_timeout(s->ws, PENDING_TIMEOUT_CLOSE_SEND, 5);
	lws_callback_on_writable(s->ws);
}

static void log_ignored(struct session *s, const char *what, const char *why)
{
	char idbuf[24];
	struct log_field f[] = {
		{ "id", idbuf }, { "user", s->user[0] ? s->user : "-" }, { "peer", s->peer },
		{ "message", what }, { "reason", why },
	};

	fmt_ul(idbuf, sizeof(idbuf), s->id);
	log_event("message_ignored", f, sizeof(f) / sizeof(f[0]));
}

/* Queues or writes input for the PTY; stops reading the socket while it backs up. */
static void session_input(struct session *s, const unsigned char *p, size_t len)
{
	ssize_t n = 0;
	unsigned char *nb;

	if (len == 0 || s->master < 0)
		return;
	s->bytes_in += len;
	s->t_input = lws_now_usecs();
	if (s->inlen == 0) {
		n = write(s->master, p, len);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return; /* the PTY is going away: input has nowhere to go */
		if (n < 0)
			n = 0;
		if ((size_t)n == len)
			return;
	}
	if (s->inlen + len - (size_t)n > PTYD_INPUT_MAX) {
		session_request_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "input backlog too large");
		return;
	}
	nb = realloc(s->in, s->inlen + len - (size_t)n);
	if (nb == NULL) {
		session_request_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
		return;
	}
	s->in = nb;
	memcpy(s->in + s->inlen, p + n, len - (size_t)n);
	s->inlen += len - (size_t)n;
	lws_rx_flow_control(s->ws, 0);
	if (s->pty != NULL)
		lws_callback_on_writable(s->pty);
}

int session_pty_writeable(struct session *s)
{
	ssize_t n;

	if (s->inlen == 0 || s->master < 0)
		return 0;
	n = write(s->master, s->in, s->inlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		n = 0;
	if (n < 0) {
		s->inlen = 0;
	} else {
		memmove(s->in, s->in + n, s->inlen - (size_t)n);
		s->inlen -= (size_t)n;
	}
	if (s->inlen > 0) {
		lws_callback_on_writable(s->pty);
		return 0;
	}
	free(s->in);
	s->in = NULL;
	if (s->ws != NULL)
		lws_rx_flow_control(s->ws, 1);
	return 0;
}

static void session_resize(struct session *s, const char *buf, size_t len)
{
	struct proto_size sz;
	const char *why;

	if (!s->started)
		return;
	if (proto_parse_resize(buf, len, &sz, &why) != 0) {
		log_ignored(s, "resize", why);
		return;
	}
	s->size = sz;
	if (s->master >= 0 && pty_resize(s->master, sz.cols, sz.rows) != 0)
		log_warn("session %lu: resize", s->id);
}

static void session_init(struct session *s, const char *buf, size_t len)
{
	const char *why;

	if (s->started)
		return; /* later init messages are ignored, as in ttyd */
	if (proto_parse_init(buf, len, &s->size, &why) != 0)
		log_ignored(s, "init size", why);
	if (session_spawn(s) != 0)
		session_request_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "cannot start the command");
}

static void session_pause(struct session *s, int pause)
{
	s->paused = pause;
	if (pause) {
		if (s->pty != NULL)
			lws_rx_flow_control(s->pty, 0);
	} else {
		/* Also with the watcher gone: the child may have exited meanwhile. */
		session_pump(s);
	}
}

/* Appends a JSON fragment; the message is at most PROTO_MSG_MAX (checked by the caller). */
static int msg_append(struct session *s, const unsigned char *p, size_t len)
{
	char *nb = realloc(s->msg, s->msglen + len + 1);

	if (nb == NULL)
		return -1;
	s->msg = nb;
	memcpy(s->msg + s->msglen, p, len);
	s->msglen += len;
	return 0;
}

void session_rx(struct session *s, const unsigned char *in, size_t len, size_t remaining,
		int final)
{
	const unsigned char *p = in;
	char what[32];

	if (s->close_code != 0)
		return;
	if (!s->rx_active) {
		if (len == 0)
			return; /* an empty message carries no type: nothing to do */
		s->rx_active = 1;
		s->rx_type = in[0];
		s->rx_len = 0;
		if (s->rx_type != PROTO_IN_INIT) {
			p++;
			len--;
		}
		switch (s->rx_type) {
		case PROTO_IN_PAUSE:
			session_pause(s, 1);
			break;
		case PROTO_IN_RESUME:
			session_pause(s, 0);
			break;
		case PROTO_IN_INPUT:
		case PROTO_IN_RESIZE:
		case PROTO_IN_INIT:
			break;
		default:
			snprintf(what, sizeof(what), "unknown type 0x%02x", (unsigned)s->rx_type);
			log_ignored(s, what, "unknown message type");
		}
	}
	s->rx_len += len;
	/* The frame header already tells when a message will be too big. */
	if (s->rx_len + (s->rx_type != PROTO_IN_INIT) + remaining > PROTO_MSG_MAX) {
		session_request_close(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
		goto done;
	}
	switch (s->rx_type) {
	case PROTO_IN_INPUT:
		if (!s->started) {
			session_request_close(s, LWS_CLOSE_STATUS_PROTOCOL_ERR, "input before init");
			goto done;
		}
		session_input(s, p, len);
		break;
	case PROTO_IN_RESIZE:
	case PROTO_IN_INIT:
		if (msg_append(s, p, len) != 0) {
			session_request_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
			goto done;
		}
		if (!final)
			return;
		if (s->rx_type == PROTO_IN_INIT)
			session_init(s, s->msg, s->msglen);
		else
			session_resize(s, s->msg, s->msglen);
		break;
	default:
		break;
	}
done:
	if (final || s->close_code != 0) {
		s->rx_active = 0;
		free(s->msg);
		s->msg = NULL;
		s->msglen = 0;
	}
}

/*
 * Reads what the PTY has, up to one frame, into s->out. Sets s->eof when the
 * PTY is hung up and empty. Returns the bytes read.
 */
static size_t read_round(struct session *s)
{
	size_t got = 0;
	ssize_t n;

	if (s->master < 0)
		return 0;
	if (s->out == NULL) {
		s->out = malloc(LWS_PRE + PROTO_MSG_MAX);
		if (s->out == NULL)
			return 0;
	}
	while (got < OUT_DATA_MAX) {
		n = read(s->master, s->out + LWS_PRE + 1 + got, OUT_DATA_MAX - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN)
			s->eof = 1; /* EIO: every slave fd is closed and the buffer is empty */
		break;
	}
	if (got > 0) {
		s->out[LWS_PRE] = PROTO_OUT_OUTPUT;
		s->outlen = got + 1;
		if (s->pty != NULL)
			lws_rx_flow_control(s->pty, 0);
		lws_callback_on_writable(s->ws);
	} else {
		free(s->out);
		s->out = NULL;
	}
	return got;
}

/* Closes our master once nothing more can come from it. */
static void close_master(struct session *s)
{
	if (s->master >= 0)
		close(s->master);
	s->master = -1;
	if (s->pty != NULL && !s->srv->destroying)
		lws_set_timeout(s->pty, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/*
 * Moves output along when nothing is in flight: re-arms the PTY watcher, or,
 * once the child is gone or the PTY hung up (no poll event will come), reads
 * directly; and ends the session with "exit N" when all output has been sent.
 */
static void session_pump(struct session *s)
{
	char reason[32];

	if (s->ws == NULL || s->outlen > 0 || s->flushing || s->paused || s->hello > 0 ||
	    s->close_code != 0 || !s->started)
		return;
	if (s->master >= 0 && (s->exited || s->pty == NULL || s->eof)) {
		if (read_round(s) > 0)
			return;
		if (s->eof)
			close_master(s);
	} else if (s->pty != NULL) {
		lws_rx_flow_control(s->pty, 1);
	}
	if (s->exited) {
		proto_exit_reason(reason, sizeof(reason), s->wstatus);
		session_request_close(s, LWS_CLOSE_STATUS_NORMAL, reason);
	}
}

int session_pty_readable(struct session *s)
{
	if (s->ws == NULL || s->outlen > 0 || s->paused || s->close_code != 0) {
		lws_rx_flow_control(s->pty, 0);
		return 0;
	}
	read_round(s);
	if (s->eof && s->outlen == 0) {
		close_master(s);
		session_pump(s);
	}
	return 0;
}

void session_pty_closed(struct session *s)
{
	s->pty = NULL;
	session_pump(s);
	session_maybe_free(s);
}

/* Sends title, preferences, output; then the close frame. Returns -1 to close. */
int session_ws_writeable(struct session *s)
{
	unsigned char buf[LWS_PRE + 1024];
	struct ptyd_config *cfg = &s->srv->cfg;
	size_t n;
	int rc;

	if (s->hello > 0 && s->close_code == 0) {
		buf[LWS_PRE] = s->hello == 2 ? PROTO_OUT_TITLE : PROTO_OUT_PREFS;
		if (s->hello == 2) {
			n = strlen(cfg->title);
			if (n > sizeof(buf) - LWS_PRE - 1)
				n = sizeof(buf) - LWS_PRE - 1;
			memcpy(buf + LWS_PRE + 1, cfg->title, n);
		} else {
			memcpy(buf + LWS_PRE + 1, "{}", 2);
			n = 2;
		}
		if (lws_write(s->ws, buf + LWS_PRE, n + 1, LWS_WRITE_BINARY) < (int)(n + 1))
			return -1;
		if (--s->hello == 0)
			session_pump(s);
		else
			lws_callback_on_writable(s->ws);
		return 0;
	}
	if (s->outlen > 0) {
		rc = lws_write(s->ws, s->out + LWS_PRE, s->outlen, LWS_WRITE_BINARY);
		if (rc < (int)s->outlen)
			return -1;
		s->bytes_out += s->outlen - 1;
		/* A full frame means more is coming: keep the buffer for the next
		 * read. Otherwise free it, so an idle session holds none. */
		if (s->outlen < OUT_DATA_MAX + 1) {
			free(s->out);
			s->out = NULL;
		}
		s->outlen = 0;
		if (lws_partial_buffered(s->ws)) {
			/* Keep one frame in flight at most: wait until lws has sent it all. */
			s->flushing = 1;
			lws_callback_on_writable(s->ws);
			return 0;
		}
	} else if (s->flushing) {
		s->flushing = 0;
	} else if (s->close_code != 0) {
		lws_close_reason(s->ws, (enum lws_close_status)s->close_code,
				 (unsigned char *)s->close_reason, strlen(s->close_reason));
		return -1;
	}
	if (s->close_code != 0) {
		lws_callback_on_writable(s->ws);
		return 0;
	}
	session_pump(s);
	return 0;
}

/* The client is gone: hang up the child's group, kill it after a grace. */
void session_client_gone(struct session *s)
{
	struct ptyd *srv = s->srv;

	s->ws = NULL;
	srv->nclients--;
	lws_sul_cancel(&s->sul_idle);
	lws_sul_cancel(&s->sul_max);
	close_master(s);
	if (s->pgid > 0) {
		spawn_signal_group(s->pgid, srv->destroying ? SIGKILL : SIGHUP);
		/* Jobs in other groups of the shell's session are checked after the grace. */
		if (!srv->destroying) {
			s->kill_pending = 1;
			lws_sul_schedule(srv->ctx, 0, &s->sul_kill, sul_kill_cb, PTYD_KILL_GRACE_US);
		}
	}
	session_maybe_free(s);
}

static void sul_kill_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_kill);

	s->kill_pending = 0;
	if (s->pgid > 0 && spawn_signal_session(s->pgid, SIGKILL) > 0) {
		char idbuf[24];
		struct log_field f[] = { { "id", idbuf }, { "reason", "survived SIGHUP" } };
		fmt_ul(idbuf, sizeof(idbuf), s->id);
		log_event("session_kill", f, 2);
	}
	session_maybe_free(s);
}

static void sul_idle_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_idle);
	lws_usec_t limit = s->srv->cfg.idle_timeout * LWS_USEC_PER_SEC;
	lws_usec_t idle = lws_now_usecs() - s->t_input;

	/* Input only stamps the time; the timer re-arms for what is left. */
	if (idle < limit) {
		lws_sul_schedule(s->srv->ctx, 0, &s->sul_idle, sul_idle_cb, limit - idle);
		return;
	}
	session_request_close(s, LWS_CLOSE_STATUS_NORMAL, "idle timeout");
}

static void sul_max_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_max);

	session_request_close(s, LWS_CLOSE_STATUS_NORMAL, "session time limit");
}

void session_reaped(struct ptyd *srv, pid_t pid, int wstatus)
{
	struct session *s;

	for (s = srv->sessions; s != NULL; s = s->next)
		if (s->pid == pid)
			break;
	if (s == NULL)
		return; /* a grandchild: we are its subreaper */
	s->pid = 0;
	s->exited = 1;
	s->wstatus = wstatus;
	if (s->ws != NULL)
		session_pump(s);
	session_maybe_free(s);
}

static void session_log_end(struct session *s)
{
	char idbuf[24], dur[32], bin[24], bout[24], code[16], status[32];
	lws_usec_t d = lws_now_usecs() - s->t_start;
	int c = s->close_code ? s->close_code : s->peer_code ? s->peer_code : 1006;
	const char *reason = s->close_code ? s->close_reason :
			     s->peer_code ? "client closed" : "connection lost";

	fmt_ul(idbuf, sizeof(idbuf), s->id);
	snprintf(dur, sizeof(dur), "%.3f", (double)d / LWS_USEC_PER_SEC);
	fmt_ul(bin, sizeof(bin), s->bytes_in);
	fmt_ul(bout, sizeof(bout), s->bytes_out);
	snprintf(code, sizeof(code), "%d", c);
	if (s->exited)
		proto_exit_reason(status, sizeof(status), s->wstatus);
	else
		snprintf(status, sizeof(status), "%s", s->started ? "unknown" : "not started");
	struct log_field f[] = {
		{ "id", idbuf }, { "user", s->user[0] ? s->user : "-" }, { "peer", s->peer },
		{ "duration", dur }, { "bytes_in", bin }, { "bytes_out", bout },
		{ "status", status }, { "code", code }, { "reason", reason },
	};
	log_event("session_end", f, sizeof(f) / sizeof(f[0]));
}

/* The one release path: runs once the client, the PTY and the child are all gone. */
static void session_maybe_free(struct session *s)
{
	struct ptyd *srv = s->srv;

	if (s->ws != NULL || s->pty != NULL || s->pid > 0 || s->kill_pending)
		return;
	if (s->started && !s->exited && !srv->destroying)
		return;
	session_log_end(s);
	lws_sul_cancel(&s->sul_idle);
	lws_sul_cancel(&s->sul_max);
	lws_sul_cancel(&s->sul_kill);
	if (s->master >= 0)
		close(s->master);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s->out);
	free(s->in);
	free(s->msg);
	free(s);
	if (srv->stopping && srv->sessions == NULL)
		srv->done = 1;
}

void session_shutdown_all(struct ptyd *srv)
{
	struct session *s;

	for (s = srv->sessions; s != NULL; s = s->next) {
		if (s->pgid > 0)
			spawn_signal_group(s->pgid, SIGHUP);
		session_request_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	}
}

/*
 * Last resort at exit (after the lws context is gone): kill and reap every
 * child still there and free every session, so nothing leaks.
 */
void session_kill_all(struct ptyd *srv)
{
	struct session *s;
	int st, i;

	srv->destroying = 1;
	while ((s = srv->sessions) != NULL) {
		if (s->pgid > 0)
			spawn_signal_session(s->pgid, SIGKILL);
		if (s->pid > 0 && waitpid(s->pid, &st, 0) == s->pid) {
			s->exited = 1;
			s->wstatus = st;
		}
		s->pid = 0;
		s->ws = NULL;
		s->pty = NULL;
		s->kill_pending = 0;
		session_maybe_free(s);
	}
	/* Orphaned jobs were re-parented to us (subreaper): reap them too. */
	for (i = 0; i < 50; i++) {
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid < 0)
			break;
		if (pid == 0)
			usleep(10000);
	}
}
