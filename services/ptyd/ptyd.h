/*
 * ptyd.h: the private header of ptyd: configuration, the server and one
 * session, and the functions main.c, ws.c and session.c call in each other.
 * One event loop (libwebsockets) runs everything; there are no threads.
 */
#ifndef PTYD_H
#define PTYD_H

#include <sys/types.h>

#include <libwebsockets.h>

#include "args.h"
#include "proto.h"

#define PTYD_VERSION "0.1.0"
/* Grace between SIGHUP and SIGKILL for a child whose client has gone, in us. */
#define PTYD_KILL_GRACE_US (1 * LWS_USEC_PER_SEC)
/* How long shutdown waits for sessions before killing what is left, in us. */
#define PTYD_SHUTDOWN_US (3 * LWS_USEC_PER_SEC)
/* Pending input for one PTY that makes ptyd stop reading that socket. */
#define PTYD_INPUT_MAX (2 * PROTO_MSG_MAX)
/* Longest log-safe peer address we keep. */
#define PTYD_PEER_MAX 64

struct ptyd_config {
	struct listen_addr listen;
	long long max_clients;    /* 0: no limit */
	long long idle_timeout;   /* seconds, 0: off */
	long long max_session;    /* seconds, 0: off */
	long long ping_interval;  /* seconds, 0: off */
	const char *check_origin; /* NULL: any Origin */
	const char *term;         /* TERM for the child */
	const char *cwd;          /* NULL: the user's home */
	const char *index;        /* file served at "/", NULL: 404 */
	int allow_root;
	int verbose;
	const char *path;         /* what the child execs */
	char **argv;              /* its argv (owned, NULL-terminated) */
	char *cmdline;            /* argv joined by spaces, for logs (owned) */
	char *title;              /* window title (owned) */
	char *env[8];             /* the child's fixed environment (owned strings) */
	int nenv;
	char *home;               /* the running user's home (owned) */
};

struct session;

struct ptyd {
	struct ptyd_config cfg;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct session *sessions;  /* every session, until its child is reaped */
	unsigned long next_id;
	long long nclients;        /* open WebSocket sessions, for --max-clients */
	int stopping;              /* SIGTERM seen: no new sessions */
	int done;                  /* leave the loop */
	int destroying;            /* lws context going away: no timers */
	lws_sorted_usec_list_t sul_shutdown;
};

/* One WebSocket connection, its child and its PTY. */
struct session {
	struct session *next, *prev;
	struct ptyd *srv;
	unsigned long id;
	struct lws *ws;            /* NULL once the client is gone */
	struct lws *pty;           /* poll watcher on a dup of master; NULL once closed */
	int master;                /* our PTY master fd, -1 once drained/closed */
	pid_t pid;                 /* child and its process group; 0 once reaped */
	pid_t pgid;                /* kept after reaping, for the final SIGHUP/SIGKILL */
	int started;               /* init message seen, child spawned */
	int exited;                /* child reaped; wstatus valid */
	int wstatus;
	int eof;                   /* read(master) said EIO: nothing more will come */
	int paused;                /* client sent PAUSE */
	int hello;                 /* title/prefs still to send: 2, 1, 0 */
	int kill_pending;          /* sul_kill armed */
	unsigned char *out;        /* pending output frame: LWS_PRE, '0', bytes */
	size_t outlen;             /* bytes after LWS_PRE (0: nothing pending) */
	int flushing;              /* lws holds part of the last frame */
	unsigned char *in;         /* input not yet taken by the PTY */
	size_t inlen;
	char *msg;                 /* JSON message being reassembled */
	size_t msglen;
	int rx_active;             /* inside a message */
	int rx_type;               /* its type byte */
	size_t rx_len;             /* its length so far */
	int close_code;            /* close requested (server side), 0: none */
	char close_reason[64];
	int peer_code;             /* close code the client sent, 0: none */
	lws_usec_t t_start, t_input;
	unsigned long long bytes_in, bytes_out;
	struct proto_size size;
	lws_sorted_usec_list_t sul_idle, sul_max, sul_kill;
	char user[PROTO_USER_MAX + 1]; /* "" when absent */
	char peer[PTYD_PEER_MAX];
};

/* ws.c: the libwebsockets protocols (HTTP, tty, PTY watchers, signals). */
extern const struct lws_protocols ptyd_protocols[];
/* Adopts fd as a raw watcher bound to protocol name; NULL on failure. */
struct lws *ws_adopt(struct ptyd *srv, int fd, const char *protocol, void *opaque);
/* SIGCHLD reaps, SIGTERM/SIGINT start the shutdown, SIGHUP is logged (sigwatch_fn). */
void ws_on_signal(void *arg, int sig);

/*
 * session.c. A session is created at the upgrade (session_new: reads the
 * X-Webshell-User and X-Forwarded-For headers, arms the timers; NULL when out
 * of memory) and freed by its single release path once the client, the PTY
 * watcher and the child are all gone; callers never free it.
 */
struct session *session_new(struct ptyd *srv, struct lws *ws);
/* One RECEIVE chunk; remaining: bytes of this frame still to come. */
void session_rx(struct session *s, const unsigned char *in, size_t len, size_t remaining,
		int final);
/* SERVER_WRITEABLE: title, preferences, output, then the close. -1: close now. */
int session_ws_writeable(struct session *s);
/* CLOSED: the client is gone; the child is hung up, then killed after a grace. */
void session_client_gone(struct session *s);
/* The PTY watcher's RX / WRITEABLE / CLOSE callbacks. */
int session_pty_readable(struct session *s);
int session_pty_writeable(struct session *s);
void session_pty_closed(struct session *s);
/* A child was reaped (SIGCHLD); pids that are no session's are ignored. */
void session_reaped(struct ptyd *srv, pid_t pid, int wstatus);
/* Asks for a close frame with code and reason once pending output is out. */
void session_request_close(struct session *s, int code, const char *reason);
/* SIGTERM: 1001 to every session, SIGHUP to every child. */
void session_shutdown_all(struct ptyd *srv);
/* After the lws context is gone: kill, reap and free whatever is left. */
void session_kill_all(struct ptyd *srv);

#endif
