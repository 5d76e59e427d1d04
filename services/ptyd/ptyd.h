/*
 * ptyd.h: the private header of ptyd: configuration, the server, and the
 * interfaces between its parts. One event loop (libwebsockets) runs
 * everything; there are no threads.
 *
 *   main.c     flags, the command, signals, the loop, shutdown
 *   ws.c       the lws protocol table, HTTP answers and upgrade admission
 *   tty.c      one "tty" WebSocket connection: messages in, frames out
 *   session.c  the session table: ids, owners, children, timers, replay
 *   ptyio.c    one PTY master's I/O, reported through callbacks
 *   replay.c   the output ring with offsets (pure)
 *   proto.c    the wire protocol (pure)
 *   spawn.c    starting a child (PTY or pipes) as an account in a cgroup
 *   child.c    an identity's account, environment and command
 *   account.c  accounts and the identity map (accounts.c parses --accounts)
 *   contain.c  one cgroup v2 group per session
 *
 * Calls go one way: tty.c -> session.c -> ptyio.c/pty.c; session.c talks
 * back to the attached connection only through struct session_client_ops.
 */
#ifndef PTYD_H
#define PTYD_H

#include <sys/types.h>
#include <time.h>

#include <libwebsockets.h>

#include "account.h"
#include "args.h"
#include "contain.h"
#include "exec.h"
#include "record.h"
#include "log.h"
#include "proto.h"
#include "replay.h"

#define PTYD_VERSION "0.2.0"
/* Grace between SIGHUP and SIGKILL for a child whose session ended, in us. */
#define PTYD_KILL_GRACE_US (1 * LWS_USEC_PER_SEC)
/* How long shutdown waits for sessions before killing what is left, in us. */
#define PTYD_SHUTDOWN_US (3 * LWS_USEC_PER_SEC)
/* Pending input for one PTY that makes ptyd stop reading that socket. */
#define PTYD_INPUT_MAX (2 * PROTO_MSG_MAX)
/* Longest log-safe peer address we keep. */
#define PTYD_PEER_MAX 64
/* Longest X-Webshell-Request-Id we keep (longer ones are cut). */
#define PTYD_REQUEST_ID_MAX 64
/* --check-origin may be given this many times. */
#define PTYD_ORIGINS_MAX 16
/* Close codes of docs/protocol.md 3 that lws has no name for. */
#define PTYD_CLOSE_SERVICE_RESTART 1012
#define PTYD_CLOSE_TAKEN_OVER 4001
#define PTYD_CLOSE_NOT_OWNER 4003
#define PTYD_CLOSE_NO_SESSION 4004
/* Defaults of the session flags. */
#define PTYD_DETACH_TIMEOUT_DEFAULT 300
#define PTYD_REPLAY_BUFFER_DEFAULT (256 * 1024)
#define PTYD_REPLAY_TOTAL_DEFAULT (128 * 1024 * 1024)

struct ptyd_config {
	struct listen_addr listen;
	long long max_clients;    /* open connections, 0: no limit */
	long long idle_timeout;   /* seconds without typed input, 0: off */
	long long max_session;    /* seconds, 0: off */
	long long ping_interval;  /* seconds, 0: off */
	long long detach_timeout; /* seconds a session waits detached, 0: no detaching */
	size_t replay_buffer;     /* output kept per resumable session */
	size_t replay_total;      /* output kept by all sessions together */
	const char *check_origin[PTYD_ORIGINS_MAX]; /* none: any Origin */
	int norigins;
	const char *term;         /* TERM for the child */
	const char *cwd;          /* NULL: the user's home */
	const char *index;        /* file served at "/", NULL: 404 */
	const char *admin_socket; /* NULL: no admin interface */
	gid_t admin_gid;          /* group allowed on the admin socket */
	int has_admin_group;
	enum log_format log_format;
	int allow_root;
	int verbose;
	int check;                /* --check: validate, print, exit */
	int no_new_privs;         /* --no-new-privs */
	struct account_flags accounts; /* --user, --accounts, --allow-root, --allow-system-accounts */
	struct contain_config contain; /* --cgroup, --session-*-max, --session-cpu-weight */
	int contain_off;          /* --no-cgroup */
	int command_given;        /* a command after "--"; else each account's login shell */
	const char *path;         /* what the child execs */
	char **argv;              /* its argv (owned, NULL-terminated) */
	char *cmdline;            /* argv joined by spaces, for logs (owned) */
	char *title;              /* window title (owned) */
	char *env[8];             /* the child's fixed environment (owned strings); child.c adds
				   HOME, USER, LOGNAME, SHELL and WEBSHELL_USER per identity */
	int nenv;
	struct exec_config exec;  /* the webshell-exec.v1 channel (--exec-*, --no-exec) */
	struct record_config record; /* --record DIR (record.dir NULL: off) and its limits */
	const char *metrics_arg;  /* --metrics ADDR, or NULL */
	int metrics_allow_remote; /* --metrics-allow-remote */
	struct listen_addr metrics;
};

struct session;
struct tty_conn;

struct ptyd {
	struct ptyd_config cfg;
	struct account_table accounts; /* whom children run as (account.h) */
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct recorder *recorder; /* NULL without --record */
	struct metrics *metrics;   /* NULL without --metrics */
	struct session *sessions;   /* session.c's table */
	struct tty_conn *conns;     /* tty.c's open connections */
	struct exec_conn *exec_conns; /* exec.c's connections, until their commands are reaped */
	unsigned long exec_next_id;
	long long nsessions;
	long long nclients;         /* open WebSocket connections, for --max-clients */
	struct replay_budget replay;/* --replay-total */
	int stopping;               /* SIGTERM seen: no new sessions */
	int done;                   /* leave the loop */
	int destroying;             /* lws context going away: no timers */
	lws_sorted_usec_list_t sul_shutdown;
};

/* While stopping: leave the loop once no session and no connection is left. */
static inline void ptyd_check_done(struct ptyd *srv)
{
	if (srv->stopping && srv->sessions == NULL && srv->nclients == 0 && srv->exec_conns == NULL) {
		/* Called from a timer, the loop would sleep in poll() until the shutdown deadline. */
		if (!srv->done && !srv->destroying)
			lws_cancel_service(srv->ctx);
		srv->done = 1;
	}
}

/* ws.c: the libwebsockets protocols (HTTP, tty, exec, signals, admin). */
extern const struct lws_protocols ptyd_protocols[];
/*
 * Closes a WebSocket with code and reason, from one of its own callbacks,
 * which returns what this returns (0; later calls do nothing). Not
 * lws_close_reason() and return -1: Debian's lws 4.1.6 is built with _DEBUG,
 * and then on libuv its service path closes a connection a second time at
 * once ("uv repeat test" in lws_service_fd_tsi()), killing the connection
 * that was waiting to send the close frame: the client would see 1006 and
 * no reason. The close starts on the next loop turn instead, outside the
 * service of that connection. ws_close_cancel() before the wsi goes.
 */
struct ws_closer {
	lws_sorted_usec_list_t sul;
	struct lws *wsi;
};
int ws_close(struct ws_closer *cl, struct lws *wsi, int code, const char *reason);
void ws_close_cancel(struct ws_closer *cl);
/*
 * A custom header's value ("x-webshell-user:", lower case, with the colon)
 * into dst when it is valid (proto_user_valid) and fits, else "".
 */
void ws_header_value(struct lws *wsi, const char *name, char *dst, size_t cap);
/*
 * lws's raw-file role clears POLLOUT right after a RAW_WRITEABLE_FILE
 * callback, so lws_callback_on_writable() called inside that callback is
 * lost. A raw watcher that still has bytes to write asks again from here: a
 * timer that fires on the next loop turn. Cancel it before the wsi goes.
 */
struct ws_rearm {
	lws_sorted_usec_list_t sul;
	struct lws *wsi;
};
void ws_rearm_writable(struct ws_rearm *r, struct lws *wsi);
void ws_rearm_cancel(struct ws_rearm *r);
/* SIGCHLD reaps, SIGTERM/SIGINT start the shutdown, SIGHUP is logged (sigwatch_fn). */
void ws_on_signal(void *arg, int sig);

/*
 * wsguard.c: unmasked client frames (accepted by lws 4.1.6, forbidden by RFC
 * 6455 5.1). ws.c starts a scan at every accepted connection; a protocol's
 * RECEIVE handler closes with 1002 when wsguard_unmasked(its socket fd).
 */
void wsguard_accept(int fd);
int wsguard_unmasked(int fd);
void wsguard_free(void);

/*
 * tty.c: the "tty" subprotocol. Each connection is a struct tty_conn (its
 * per-session data is a pointer to it); it starts or attaches to a session
 * with its init message and detaches when it goes.
 */
#define TTY_PSS_SIZE sizeof(void *)
int tty_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len);
/* SIGTERM: close 1012 "service restart" to every connection. */
void tty_shutdown_all(struct ptyd *srv);

/*
 * session.c: the session table. A session has an id (128 random bits), an
 * owner (the identity that started it), a state, a child and timers (idle,
 * time limit, detach, kill); a terminal session also has its PTY and its
 * replay ring. The struct is private to session.c. A session is freed by
 * its single release path once no client is attached and its child is reaped.
 * An exec command (docs/protocol.md 2) can become a session of kind
 * SESSION_EXEC: the same id, owner, child and timers, without PTY or ring.
 */
enum session_kind { SESSION_TERMINAL, SESSION_EXEC };
enum session_state {
	SESSION_ATTACHED, /* a client is attached */
	SESSION_DETACHED, /* no client; waits --detach-timeout for one */
	SESSION_ENDING,   /* hung up: waiting for the child and the last output */
};

/* Who asks for a session: the admission data of the connection. */
struct session_origin {
	const char *user;       /* X-Webshell-User, "" when absent */
	const char *peer;       /* the client's address */
	const char *request_id; /* X-Webshell-Request-Id, "" when absent */
};

/* How a session talks to the client attached to it. */
struct session_client_ops {
	/*
	 * Output is waiting at the client's offset. The client pulls it with
	 * session_output() now and returns 1, or returns 0 when it cannot take
	 * it yet (paused, a frame in flight); it pulls later by itself. Once the
	 * PTY has hung up or the child is reaped, no further call may come
	 * (session_output_announced() says 0): the client then pulls until
	 * session_output() returns 0 or -1.
	 */
	int (*output)(void *client);
	/*
	 * The session lets this client go (taken over, timed out, ended,
	 * shutdown): it sends its pending output, then closes with code and
	 * reason, and calls no session function for this session again.
	 */
	void (*detached)(void *client, int code, const char *reason);
	/* Input queued by session_input() (which returned 1) has been written. */
	void (*input_drained)(void *client);
};

/* One line of a session listing (borrowed strings, valid during the callback). */
struct session_info {
	const char *id;          /* all 32 hex digits: only for the owner or root */
	const char *kind;        /* "terminal", "exec" */
	const char *state;       /* "attached", "detached", "ending" */
	const char *owner;       /* "" when the identity was absent */
	const char *peer;        /* the last client's address */
	const char *title;
	time_t started, last_input; /* unix seconds */
	unsigned long long bytes_in, bytes_out;
	pid_t pid;               /* 0 once reaped */
};
typedef void (*session_visit_fn)(const struct session_info *info, void *ctx);

/*
 * Starts a terminal session: spawns the command on a PTY of size sz for the
 * origin's identity. resumable: it detaches when its client goes (and keeps
 * a replay ring); otherwise it ends with its client, as in ttyd. NULL with
 * *why set when it cannot start (logged); *why is session_no_account when the
 * identity has no account (--accounts): a refusal, not a failure.
 */
extern const char session_no_account[];
struct session *session_start(struct ptyd *srv, const struct session_origin *o,
			      struct proto_size sz, int resumable, const char **why);
/* The live session with this id (32 hex digits, compared in constant time), or NULL. */
struct session *session_find(struct ptyd *srv, const char *id);
/*
 * Attaches a client (taking the session over from the one attached, who gets
 * 4001 "session taken over"). Output for it starts at session_resume_point().
 */
void session_attach(struct session *s, const struct session_origin *o,
		    const struct session_client_ops *ops, void *client);
/*
 * Where a client that has seen offset `seen` resumes: *from = the next byte
 * it gets; *reset = 1 when bytes were lost (*lost of them) and its terminal
 * must be reset (from is then a safe boundary).
 */
void session_resume_point(struct session *s, unsigned long long seen, unsigned long long *from,
			  int *reset, unsigned long long *lost);
/*
 * The attached client leaves: code/reason say how its connection closed.
 * end: the session ends too (an 'X' message, or a client of a session that
 * does not detach); otherwise a resumable session waits --detach-timeout.
 */
void session_detach(struct session *s, int end, int code, const char *reason);
/*
 * Output for the attached client from offset from into buf: > 0 bytes; 0
 * when there is none now (ops->output will say when); -1 when the session
 * is over and everything was sent (then session_exit_reason() tells why).
 */
ssize_t session_output(struct session *s, unsigned long long from, unsigned char *buf, size_t cap);
/*
 * Whether ops->output will be called when more output comes: 0 once the PTY
 * has hung up after the child was reaped (what is left must be pulled).
 */
int session_output_announced(const struct session *s);
/* Close reason for the end of output: "exit N" / "signal N". */
void session_exit_reason(struct session *s, char *dst, size_t cap);
/* Typed input: 0 written; 1 queued (stop reading until ops->input_drained); -1 too much. */
int session_input(struct session *s, const unsigned char *p, size_t len);
/* Resizes the PTY. */
void session_resize(struct session *s, struct proto_size sz);
/* Accessors for the attached client. */
const char *session_id(const struct session *s);     /* 32 hex digits */
unsigned long long session_output_end(const struct session *s); /* offset after its last output byte */
const char *session_log_id(const struct session *s); /* the first PROTO_ID_LOG digits */
const char *session_owner(const struct session *s);
const char *session_title(const struct session *s);
/*
 * Ends a session: its client (if any) gets code and reason, the child is
 * hung up, then killed after a grace.
 */
void session_end(struct session *s, int code, const char *reason);
/*
 * Lists sessions (owner NULL: all of them, for the admin interface; else
 * only that identity's, for the exec channel's "sessions" message).
 */
void session_list(struct ptyd *srv, const char *owner, session_visit_fn fn, void *ctx);
/*
 * Ends the session whose id starts with prefix (at least PROTO_ID_LOG digits
 * for the admin; the whole id for an owner). owner NULL: any owner. Returns
 * 0 when one was ended, -1 when none matched, -2 when several did.
 */
int session_end_match(struct ptyd *srv, const char *owner, const char *prefix,
		      const char *reason);
/* A child was reaped (SIGCHLD); pids that are no session's are ignored. */
void session_reaped(struct ptyd *srv, pid_t pid, int wstatus);
/* SIGTERM: every session ends; attached clients get 1012 "service restart". */
void session_shutdown_all(struct ptyd *srv);
/* The metrics' count of sessions by state (ptyd_count_sessions_fn); arg is the struct ptyd. */
void session_count_states(void *arg, long *attached, long *detached);
/* After the lws context is gone: kill, reap and free whatever is left. */
void session_kill_all(struct ptyd *srv);

#endif
