/*
 * session.c: the session table (see ptyd.h): ids, owners, children, the
 * PTY's output into the replay ring and out to the attached client, input,
 * timers (idle, time limit, detach, kill), and the single release path with
 * its log lines.
 *
 * A session lives until no client is attached, it has ended (hung up) and its
 * child is reaped. Attached, the PTY is read only when the client can take a
 * frame (its flow control holds the program); detached, the PTY is always
 * read into the ring, so the program never blocks.
 */
#include "ptyd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "ptyd_metrics.h"
#include "ptyio.h"
#include "child.h"
#include "spawn.h"

struct session {
	struct session *next, *prev;
	struct ptyd *srv;
	enum session_kind kind;
	enum session_state state;
	char id[PROTO_ID_HEX + 1];
	char log_id[PROTO_ID_LOG + 1];
	char user[PROTO_USER_MAX + 1];   /* the owner; "" when absent */
	char peer[PTYD_PEER_MAX];        /* the last client's address */
	char request_id[PTYD_REQUEST_ID_MAX + 1]; /* the last client's */
	int resumable;                   /* detaches when its client goes */
	/* the child */
	pid_t pid;                       /* 0 once reaped */
	pid_t pgid;                      /* kept after reaping, for the final sweep */
	uid_t uid;                       /* its account's, to signal as (spawn.h) */
	struct contain *cg;              /* its cgroup; NULL: process group only */
	char account[ACCOUNTS_NAME_MAX + 1]; /* whom it runs as */
	int exited;                      /* reaped: wstatus valid */
	int wstatus;
	int hung_up;                     /* ended: SIGHUP sent, no more output */
	int kill_pending;                /* sul_kill armed */
	/* the terminal */
	struct ptyio *pio;               /* NULL once the master is closed */
	struct replay ring;              /* ring.head: every output byte so far */
	struct proto_size size;
	/* the attached client */
	const struct session_client_ops *ops;
	void *client;
	/* accounting */
	lws_usec_t t_start, t_input;
	time_t wall_start, wall_input;
	unsigned long long bytes_in;
	int last_code;                   /* the last client's close code, 0: none */
	char end_reason[80];
	struct recording *rec;           /* --record: its recording, or NULL */
	lws_sorted_usec_list_t sul_idle, sul_max, sul_detach, sul_kill;
};

/* Where detached sessions read their PTY before the bytes go into the ring. */
static unsigned char scratch[PROTO_MSG_MAX];

static void session_maybe_free(struct session *s);
static void session_hangup(struct session *s);
static void sul_idle_cb(lws_sorted_usec_list_t *sul);
static void sul_max_cb(lws_sorted_usec_list_t *sul);
static void sul_detach_cb(lws_sorted_usec_list_t *sul);
static void sul_kill_cb(lws_sorted_usec_list_t *sul);

/* A session line: the common fields, then extra (n of them). */
static void slog(const struct session *s, const char *event, const struct log_field *extra,
		 size_t n)
{
	struct log_field f[16];
	size_t k = 0, i;

	f[k++] = (struct log_field){ "session", s->log_id };
	f[k++] = (struct log_field){ "user", s->user[0] ? s->user : "-" };
	f[k++] = (struct log_field){ "peer", s->peer };
	f[k++] = (struct log_field){ "request_id", s->request_id[0] ? s->request_id : NULL };
	for (i = 0; i < n && k < sizeof(f) / sizeof(f[0]); i++)
		f[k++] = extra[i];
	log_event(event, f, k);
}

static void copy_origin(struct session *s, const struct session_origin *o)
{
	snprintf(s->peer, sizeof(s->peer), "%s", o->peer);
	snprintf(s->request_id, sizeof(s->request_id), "%s", o->request_id ? o->request_id : "");
}

static void ptyio_readable_cb(void *ctx);
static void ptyio_drained_cb(void *ctx);
static void ptyio_closed_cb(void *ctx);

static const struct ptyio_ops session_ptyio_ops = {
	.readable = ptyio_readable_cb,
	.drained = ptyio_drained_cb,
	.closed = ptyio_closed_cb,
};

const char session_no_account[] = "no account for this identity";

/* The child: its account and environment (child.c), its cgroup, its PTY. 0, -1, or -2: no account. */
static int session_spawn(struct session *s)
{
	struct ptyd_config *cfg = &s->srv->cfg;
	struct child_plan plan;
	struct spawn_req sp;
	struct spawn_io io;
	uint64_t t0;

	if (child_plan(s->srv, s->user, &plan) != 0) {
		log_warnx("session %s: identity %s has no account in %s", s->log_id,
			  s->user[0] ? s->user : "(none)", s->srv->accounts.file);
		return -2;
	}
	snprintf(s->account, sizeof(s->account), "%s", plan.who->name);
	s->cg = contain_new(s->log_id);
	if (s->cg == NULL && contain_active())
		log_warnx("session %s: no cgroup (%s): contained by process group only", s->log_id,
			  strerror(errno));
	memset(&sp, 0, sizeof(sp));
	sp.path = plan.path;
	sp.argv = plan.argv;
	sp.envp = plan.envp;
	sp.cwd = plan.cwd;
	sp.acct = plan.acct;
	sp.no_new_privs = cfg->no_new_privs;
	sp.cg = s->cg;
	sp.use_pty = 1;
	sp.cols = s->size.cols;
	sp.rows = s->size.rows;
	t0 = metrics_now_ns();
	s->pid = spawn_child(&sp, &io);
	ptyd_metrics_spawned(t0);
	if (s->pid < 0) {
		s->pid = 0;
		log_warn("session %s: cannot start %s", s->log_id, plan.path);
		return -1;
	}
	s->pgid = s->pid;
	s->uid = plan.acct != NULL ? plan.acct->uid : SPAWN_NO_UID;
	/* The child exits 126/127 and the terminal shows why, as any exit would. */
	if (io.fail_step != SPAWN_OK)
		log_warnx("session %s: cannot start %s as %s: %s: %s", s->log_id, plan.path, s->account,
			  spawn_step_name(io.fail_step), io.fail_errno ? strerror(io.fail_errno) :
			  "ids or capabilities not as set");
	s->pio = ptyio_open(io.master, &session_ptyio_ops, s);
	if (s->pio == NULL) {
		log_warnx("session %s: cannot watch the PTY", s->log_id);
		return -1;
	}
	s->rec = recording_start(s->srv->recorder, &(struct recording_info){
		.kind = "terminal", .user = s->user, .session = s->id, .peer = s->peer,
		.request_id = s->request_id[0] ? s->request_id : NULL, .title = cfg->title,
		.command = cfg->cmdline, .term = cfg->term, .shell = plan.who->shell,
		.columns = s->size.cols, .rows = s->size.rows });
	return 0;
}

struct session *session_start(struct ptyd *srv, const struct session_origin *o,
			      struct proto_size sz, int resumable, const char **why)
{
	struct ptyd_config *cfg = &srv->cfg;
	unsigned char raw[PROTO_ID_BYTES];
	struct session *s;
	char pidbuf[24], size[24];
	int rc;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		log_warn("session id: getrandom");
		*why = "cannot start the command";
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*why = "out of memory";
		return NULL;
	}
	s->srv = srv;
	s->kind = SESSION_TERMINAL;
	s->state = SESSION_DETACHED; /* until session_attach() */
	proto_id_hex(s->id, raw);
	memcpy(s->log_id, s->id, PROTO_ID_LOG);
	snprintf(s->user, sizeof(s->user), "%s", o->user);
	copy_origin(s, o);
	s->resumable = resumable && cfg->detach_timeout > 0;
	replay_init(&s->ring, s->resumable ? cfg->replay_buffer : 0,
		    s->resumable ? &srv->replay : NULL);
	s->size = sz;
	s->t_start = s->t_input = lws_now_usecs();
	s->wall_start = s->wall_input = time(NULL);
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	if ((rc = session_spawn(s)) != 0) {
		*why = rc == -2 ? session_no_account : "cannot start the command";
		snprintf(s->end_reason, sizeof(s->end_reason), "%s", *why);
		session_hangup(s);
		return NULL;
	}
	if (cfg->idle_timeout > 0)
		lws_sul_schedule(srv->ctx, 0, &s->sul_idle, sul_idle_cb,
				 cfg->idle_timeout * LWS_USEC_PER_SEC);
	if (cfg->max_session > 0)
		lws_sul_schedule(srv->ctx, 0, &s->sul_max, sul_max_cb,
				 cfg->max_session * LWS_USEC_PER_SEC);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)s->pid);
	snprintf(size, sizeof(size), "%ux%u", sz.cols, sz.rows);
	struct log_field f[] = {
		{ "pid", pidbuf }, { "size", size }, { "resumable", s->resumable ? "yes" : "no" },
		{ "command", cfg->cmdline }, { "account", s->account },
		{ "cgroup", s->cg != NULL ? "yes" : "no" },
	};
	slog(s, "session_start", f, sizeof(f) / sizeof(f[0]));
	metric_inc(ptyd_m.sessions_started);
	return s;
}

struct session *session_find(struct ptyd *srv, const char *id)
{
	struct session *s, *found = NULL;

	if (strlen(id) != PROTO_ID_HEX)
		return NULL;
	/* Every id is compared in full, in constant time; an ended session is no more. */
	for (s = srv->sessions; s != NULL; s = s->next)
		if (sodium_memcmp(s->id, id, PROTO_ID_HEX) == 0 && !s->hung_up)
			found = s;
	return found;
}

const char *session_id(const struct session *s) { return s->id; }
unsigned long long session_output_end(const struct session *s) { return s->ring.head; }
const char *session_log_id(const struct session *s) { return s->log_id; }
const char *session_owner(const struct session *s) { return s->user; }
const char *session_title(const struct session *s) { return s->srv->cfg.title; }

void session_attach(struct session *s, const struct session_origin *o,
		    const struct session_client_ops *ops, void *client)
{
	const struct session_client_ops *old_ops = s->ops;
	void *old = s->client;

	if (old != NULL) {
		s->ops = NULL;
		s->client = NULL;
		slog(s, "session_takeover", NULL, 0);
		old_ops->detached(old, PTYD_CLOSE_TAKEN_OVER, "session taken over");
	}
	lws_sul_cancel(&s->sul_detach);
	copy_origin(s, o);
	s->state = SESSION_ATTACHED;
	s->ops = ops;
	s->client = client;
}

void session_resume_point(struct session *s, unsigned long long seen, unsigned long long *from,
			  int *reset, unsigned long long *lost)
{
	*reset = 0;
	*lost = 0;
	if (seen >= s->ring.tail && seen <= s->ring.head) {
		*from = seen;
		ptyd_metrics_resume("ok");
		return;
	}
	*reset = 1;
	ptyd_metrics_resume("reset");
	*from = replay_safe_start(&s->ring);
	if (seen < *from)
		*lost = *from - seen;
}

/* The master is hung up and empty, or no longer wanted: close it. */
static void close_pty(struct session *s)
{
	if (s->pio != NULL)
		ptyio_close(s->pio);
	s->pio = NULL;
}

/* Output read from the PTY, for the metrics and the recording (--metrics, --record). */
static void session_recorded_output(struct session *s, const unsigned char *p, size_t n)
{
	metric_add(ptyd_m.bytes_out, n);
	recording_output(s->rec, p, n);
}

/* Detached: everything the PTY has goes into the ring (the program never waits). */
static void drain_detached(struct session *s)
{
	ssize_t n = 0;
	int i;

	for (i = 0; s->pio != NULL; i++) {
		n = ptyio_read(s->pio, scratch, sizeof(scratch));
		if (n <= 0)
			break;
		replay_append(&s->ring, scratch, (size_t)n);
		session_recorded_output(s, scratch, (size_t)n);
		/*
		 * Watched, a short read took what there was and the next event
		 * tells of more (eight full reads at most per turn, for fairness).
		 * Hung up, no event will come: read to the end (the kernel gives
		 * what is left, then EIO).
		 */
		if (ptyio_watched(s->pio) && (n < (ssize_t)sizeof(scratch) || i >= 7))
			break;
	}
	if (s->pio == NULL)
		return;
	/* A reaped child with nothing left to read: what was there is in the ring. */
	if (n < 0 || (n == 0 && (s->exited || !ptyio_watched(s->pio))))
		close_pty(s);
	else
		ptyio_watch(s->pio, 1);
}

ssize_t session_output(struct session *s, unsigned long long from, unsigned char *buf, size_t cap)
{
	ssize_t n;

	if (from < s->ring.head)
		return (ssize_t)replay_copy(&s->ring, from, buf, cap);
	if (s->pio != NULL && !s->hung_up) {
		n = ptyio_read(s->pio, buf, cap);
		if (n > 0) {
			/* One frame in flight at most: should the PTY have more before the
			 * client took this frame, ptyio_readable_cb stops the watch then
			 * (not now: for an echo that would change the poll set twice for
			 * nothing). */
			replay_append(&s->ring, buf, (size_t)n);
			session_recorded_output(s, buf, (size_t)n);
			return n;
		}
		/* After the child's exit (or without a watcher) no poll event will come. */
		if (n < 0 || s->exited || !ptyio_watched(s->pio))
			close_pty(s);
		else
			ptyio_watch(s->pio, 1);
	}
	return s->pio == NULL && s->exited ? -1 : 0;
}

int session_output_announced(const struct session *s)
{
	/* The reaping announces; after it, only the PTY's events do. */
	return !s->exited || (s->pio != NULL && ptyio_watched(s->pio));
}

void session_exit_reason(struct session *s, char *dst, size_t cap)
{
	proto_exit_reason(dst, cap, s->wstatus);
}

static void ptyio_readable_cb(void *ctx)
{
	struct session *s = ctx;

	if (s->client != NULL) {
		if (!s->ops->output(s->client) && s->pio != NULL)
			ptyio_watch(s->pio, 0);
	} else if (!s->hung_up) {
		drain_detached(s);
	} else if (s->pio != NULL) {
		ptyio_watch(s->pio, 0);
	}
}

static void ptyio_drained_cb(void *ctx)
{
	struct session *s = ctx;

	if (s->client != NULL && s->ops->input_drained != NULL)
		s->ops->input_drained(s->client);
}

static void ptyio_closed_cb(void *ctx)
{
	struct session *s = ctx;

	/* The master stays open: read what is left directly. */
	if (s->client != NULL)
		s->ops->output(s->client);
	else if (!s->hung_up)
		drain_detached(s);
}

int session_input(struct session *s, const unsigned char *p, size_t len)
{
	if (len == 0)
		return 0;
	s->bytes_in += len;
	metric_add(ptyd_m.bytes_in, len);
	recording_input(s->rec, p, len);
	s->t_input = lws_now_usecs();
	s->wall_input = time(NULL);
	if (s->pio == NULL)
		return 0; /* the PTY is going away: input has nowhere to go */
	return ptyio_write(s->pio, p, len, PTYD_INPUT_MAX);
}

void session_resize(struct session *s, struct proto_size sz)
{
	s->size = sz;
	recording_resize(s->rec, sz.cols, sz.rows);
	if (s->pio != NULL && ptyio_resize(s->pio, sz.cols, sz.rows) != 0)
		log_warn("session %s: resize", s->log_id);
}

void session_detach(struct session *s, int end, int code, const char *reason)
{
	struct ptyd *srv = s->srv;
	char codebuf[16];

	s->ops = NULL;
	s->client = NULL;
	s->last_code = code;
	if (end || !s->resumable || srv->stopping) {
		if (s->end_reason[0] == '\0')
			snprintf(s->end_reason, sizeof(s->end_reason), "%s", reason);
		session_hangup(s);
		return;
	}
	s->state = SESSION_DETACHED;
	snprintf(codebuf, sizeof(codebuf), "%d", code);
	struct log_field f[] = { { "code", codebuf }, { "reason", reason } };
	slog(s, "session_detach", f, 2);
	lws_sul_schedule(srv->ctx, 0, &s->sul_detach, sul_detach_cb,
			 srv->cfg.detach_timeout * LWS_USEC_PER_SEC);
	/* From now on the output goes into the ring whatever the pace. */
	if (s->pio != NULL)
		drain_detached(s);
}

void session_end(struct session *s, int code, const char *reason)
{
	const struct session_client_ops *ops = s->ops;
	void *client = s->client;

	if (s->end_reason[0] == '\0')
		snprintf(s->end_reason, sizeof(s->end_reason), "%s", reason);
	/* The end line's code is the one sent to a client, if one was there to get it. */
	s->last_code = client != NULL ? code : 0;
	if (client != NULL) {
		s->ops = NULL;
		s->client = NULL;
		ops->detached(client, code, reason);
	}
	session_hangup(s);
}

/* Ends the child: the PTY closed, SIGHUP to its group now, SIGKILL to its session after a grace. */
static void session_hangup(struct session *s)
{
	struct ptyd *srv = s->srv;

	if (s->hung_up)
		return;
	s->hung_up = 1;
	s->state = SESSION_ENDING;
	lws_sul_cancel(&s->sul_idle);
	lws_sul_cancel(&s->sul_max);
	lws_sul_cancel(&s->sul_detach);
	close_pty(s);
	if (s->pgid > 0) {
		spawn_signal_group(s->pgid, srv->destroying ? SIGKILL : SIGHUP, s->uid);
		/* Jobs in other groups of the shell's session are checked after the grace. */
		if (!srv->destroying) {
			s->kill_pending = 1;
			lws_sul_schedule(srv->ctx, 0, &s->sul_kill, sul_kill_cb, PTYD_KILL_GRACE_US);
		}
	}
	session_maybe_free(s);
}

/*
 * SIGKILL to whatever of the session is left: its cgroup, which holds what
 * left the shell's session too (setsid, nohup, daemons), or without one the
 * processes of the shell's session (a walk of /proc). How many there were.
 */
static int session_kill_rest(struct session *s)
{
	int n;

	if (s->cg != NULL && (n = contain_kill(s->cg)) >= 0)
		return n;
	return s->pgid > 0 ? spawn_signal_session(s->pgid, SIGKILL, s->uid) : 0;
}

static void sul_kill_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_kill);

	s->kill_pending = 0;
	if (session_kill_rest(s) > 0) {
		struct log_field f[] = { { "reason", "survived SIGHUP" } };
		slog(s, "session_kill", f, 1);
	}
	session_maybe_free(s);
}

static void sul_idle_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_idle);
	lws_usec_t limit = s->srv->cfg.idle_timeout * LWS_USEC_PER_SEC;
	lws_usec_t idle = lws_now_usecs() - s->t_input;
	char reason[64];

	/* Input only stamps the time; the timer re-arms for what is left. */
	if (idle < limit) {
		lws_sul_schedule(s->srv->ctx, 0, &s->sul_idle, sul_idle_cb, limit - idle);
		return;
	}
	snprintf(reason, sizeof(reason), "idle timeout (no input for %lld s)",
		 s->srv->cfg.idle_timeout);
	session_end(s, LWS_CLOSE_STATUS_NORMAL, reason);
}

static void sul_max_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_max);

	session_end(s, LWS_CLOSE_STATUS_NORMAL, "session time limit");
}

static void sul_detach_cb(lws_sorted_usec_list_t *sul)
{
	struct session *s = lws_container_of(sul, struct session, sul_detach);

	session_end(s, 0, "detach timeout");
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
	if (s->client != NULL)
		s->ops->output(s->client);
	else if (!s->hung_up)
		drain_detached(s);
	session_maybe_free(s);
}

static void session_log_end(struct session *s)
{
	char dur[32], bin[24], bout[24], code[16], status[32];
	lws_usec_t d = lws_now_usecs() - s->t_start;

	snprintf(dur, sizeof(dur), "%.3f", (double)d / LWS_USEC_PER_SEC);
	snprintf(bin, sizeof(bin), "%llu", s->bytes_in);
	snprintf(bout, sizeof(bout), "%llu", s->ring.head);
	snprintf(code, sizeof(code), "%d", s->last_code);
	if (s->exited)
		proto_exit_reason(status, sizeof(status), s->wstatus);
	else
		snprintf(status, sizeof(status), "%s", s->pgid > 0 ? "killed" : "not started");
	struct log_field f[] = {
		{ "duration", dur }, { "bytes_in", bin }, { "bytes_out", bout },
		{ "status", status }, { "code", s->last_code ? code : NULL },
		{ "reason", s->end_reason[0] ? s->end_reason : "-" },
	};
	slog(s, "session_end", f, sizeof(f) / sizeof(f[0]));
	ptyd_metrics_session_end(s->end_reason);
	recording_end(s->rec, s->exited ? status : s->end_reason[0] ? s->end_reason : status);
}

void session_count_states(void *arg, long *attached, long *detached)
{
	const struct session *s;

	for (s = ((const struct ptyd *)arg)->sessions; s != NULL; s = s->next) {
		*attached += s->state == SESSION_ATTACHED;
		*detached += s->state == SESSION_DETACHED;
	}
}

/* The one release path: runs once no client is attached, the session ended and its child is reaped. */
static void session_maybe_free(struct session *s)
{
	struct ptyd *srv = s->srv;

	if (s->client != NULL || !s->hung_up || s->pid > 0 || s->kill_pending)
		return;
	session_log_end(s);
	lws_sul_cancel(&s->sul_idle);
	lws_sul_cancel(&s->sul_max);
	lws_sul_cancel(&s->sul_detach);
	lws_sul_cancel(&s->sul_kill);
	close_pty(s);
	contain_free(s->cg);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->nsessions--;
	replay_free(&s->ring);
	free(s);
	ptyd_check_done(srv);
}

static const char *state_name(enum session_state st)
{
	switch (st) {
	case SESSION_ATTACHED:
		return "attached";
	case SESSION_DETACHED:
		return "detached";
	default:
		return "ending";
	}
}

void session_list(struct ptyd *srv, const char *owner, session_visit_fn fn, void *ctx)
{
	struct session_info info;
	struct session *s;

	for (s = srv->sessions; s != NULL; s = s->next) {
		if (owner != NULL && strcmp(owner, s->user) != 0)
			continue;
		info.id = s->id;
		info.kind = s->kind == SESSION_TERMINAL ? "terminal" : "exec";
		info.state = state_name(s->state);
		info.owner = s->user;
		info.peer = s->peer;
		info.title = srv->cfg.title;
		info.started = s->wall_start;
		info.last_input = s->wall_input;
		info.bytes_in = s->bytes_in;
		info.bytes_out = s->ring.head;
		info.pid = s->pid;
		fn(&info, ctx);
	}
}

int session_end_match(struct ptyd *srv, const char *owner, const char *prefix, const char *reason)
{
	struct session *s, *found = NULL;
	size_t len = strlen(prefix);
	int n = 0;

	if (len == 0 || len > PROTO_ID_HEX || (owner != NULL && len != PROTO_ID_HEX))
		return -1;
	for (s = srv->sessions; s != NULL; s = s->next) {
		if (s->hung_up || (owner != NULL && strcmp(owner, s->user) != 0))
			continue;
		if (sodium_memcmp(s->id, prefix, len) == 0) {
			found = s;
			n++;
		}
	}
	if (n > 1)
		return -2;
	if (found == NULL)
		return -1;
	session_end(found, LWS_CLOSE_STATUS_NORMAL, reason);
	return 0;
}

void session_shutdown_all(struct ptyd *srv)
{
	struct session *s, *next;

	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		session_end(s, PTYD_CLOSE_SERVICE_RESTART, "service restart");
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
		session_kill_rest(s);
		if (s->pid > 0 && waitpid(s->pid, &st, 0) == s->pid) {
			s->exited = 1;
			s->wstatus = st;
		}
		s->pid = 0;
		s->client = NULL;
		s->ops = NULL;
		s->kill_pending = 0;
		if (s->end_reason[0] == '\0')
			snprintf(s->end_reason, sizeof(s->end_reason), "server stopped");
		s->hung_up = 1;
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
