/*
 * exec.h: the webshell-exec.v1 channel of ptyd (docs/protocol.md §2): one
 * connection's commands, each a child on pipes (or a PTY) watched by the
 * event loop, with flow control windows both ways, cancel, timeouts, limits
 * per connection and per identity, and one audit line per command.
 * execproto.c parses and builds the messages; execws.c is the lws glue.
 */
#ifndef PTYD_EXEC_H
#define PTYD_EXEC_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <libwebsockets.h>

/* How much of a command's text its audit line carries (--exec-audit-text). */
enum exec_audit_text {
	EXEC_AUDIT_NONE,      /* hash and length only */
	EXEC_AUDIT_TRUNCATED, /* and its first EXEC_AUDIT_TEXT_MAX bytes, escaped */
};
#define EXEC_AUDIT_TEXT_MAX 200

/* Defaults of the --exec-* flags. */
#define EXEC_DEFAULT_MAX_COMMANDS 16
#define EXEC_DEFAULT_MAX_PER_USER 64
#define EXEC_DEFAULT_WINDOW (1 << 20)
/* TERM (cancel, timeout, connection gone) to SIGKILL, in us. */
#define EXEC_KILL_GRACE_US (2 * LWS_USEC_PER_SEC)
/* After the main process exits: how long output may still trickle in from
 * descendants that escaped the kill (no cgroup), in us. */
#define EXEC_DRAIN_US (LWS_USEC_PER_SEC / 2)
/* Shells started ahead (on by default; --no-exec-warm-shell): after a command
 * ends, when a shell is started ahead for the connection's next script, in us
 * (0: on the next loop turn). */
#define EXEC_WARM_DELAY_US 0
/* A shell started ahead (a connection's, or one its identity's next connection
 * takes) is ended when unused this long, in us; at most this many identities
 * have one waiting for their next connection. */
#define EXEC_WARM_IDLE_US (10 * LWS_USEC_PER_SEC)
#define EXEC_WARM_POOLS 16

struct exec_config {
	int disabled;               /* --no-exec */
	long long max_commands;     /* per connection */
	long long max_per_user;     /* per identity, across connections */
	long long timeout_s;        /* longest run time, 0: none */
	long long max_command;      /* largest start message, bytes */
	long long window;           /* flow control window per command and direction */
	enum exec_audit_text audit_text;
	int warm_shell;             /* a bash started ahead per connection (default 1;
				     * --no-exec-warm-shell: 0) */
};

struct ptyd;
struct exec_conn;

/* The lws per-session data of an exec connection. */
struct exec_pss {
	struct exec_conn *c;
};

/* The lws callback of the WebSocket protocol (execws.c). */
int exec_callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		     void *in, size_t len);

/* The lws protocol table entry (ws.c lists it). RX chunks of 16 KiB. */
#define EXEC_LWS_PROTOCOLS                                                             \
	{ "webshell-exec.v1", exec_callback_ws, sizeof(struct exec_pss), 16384, 0, NULL, 0 }

/*
 * A connection is made at ESTABLISHED (reads X-Webshell-User,
 * X-Webshell-Request-Id and the peer; queues hello) and lives until the
 * client is gone and every one of its commands has been reaped.
 */
struct exec_conn *exec_conn_new(struct ptyd *srv, struct lws *ws);
/*
 * One RECEIVE chunk: binary and final as lws reports them (final: the
 * message ends here), remaining: bytes of this frame still to come.
 */
void exec_conn_rx(struct exec_conn *c, const unsigned char *in, size_t len, int binary,
		  int final, size_t remaining);
/* SERVER_WRITEABLE. Returns -1 when the connection is to close now. */
int exec_conn_writeable(struct exec_conn *c);
/* Closes the connection with code and reason once what is queued before is sent. */
void exec_conn_close(struct exec_conn *c, int code, const char *reason);
/* The close code the client sent. */
void exec_conn_peer_close(struct exec_conn *c, int code);
/* CLOSED: every command is signalled (TERM, then KILL after a grace) and reaped. */
void exec_conn_gone(struct exec_conn *c);

/* SIGCHLD: returns 1 when pid was a command's (now handled), 0 if not ours. */
int exec_reaped(struct ptyd *srv, pid_t pid, int wstatus);
/* SIGTERM: 1012 to every exec connection; their commands and waiting shells are ended. */
void exec_shutdown_all(struct ptyd *srv);
/* SIGHUP reloaded the accounts: every shell started ahead is ended unused
 * (it was made for the old map); each connection starts one again after its
 * next command. */
void exec_accounts_reloaded(struct ptyd *srv);
/* After the lws context is gone: kill, reap and free whatever is left. */
void exec_kill_all(struct ptyd *srv);
/* How many exec connections are open (for shutdown). */
long exec_open_connections(const struct ptyd *srv);

/*
 * A running command, or a shell started ahead waiting for a script, as the
 * admin socket lists it (admin.c). Each has an id of its own for that (32
 * random hex digits, unrelated to the client's command id; a waiting shell
 * that takes a script gets a new one): `ptyd --end PREFIX` names it like a
 * session.
 */
struct exec_info {
	const char *id;          /* 32 hex digits */
	const char *state;       /* "running", "ending" (signalled), "exited" (output draining);
				  * a shell started ahead: "waiting", "ending" */
	int waiting;             /* a shell started ahead, not a command: no text, sha256,
				  * command_id; conn 0 when it waits for its identity's next
				  * connection (then peer and request_id are "") */
	const char *owner;       /* the identity, "" when absent */
	const char *peer;
	const char *request_id;  /* "" when absent */
	const char *account;     /* whom it runs as */
	const char *text;        /* the command, escaped and truncated; NULL when
				  * --exec-audit-text forbids it */
	const char *sha256;      /* of the command, 64 hex digits; NULL when waiting */
	size_t length;           /* of the command, bytes */
	int pty;
	unsigned long conn;      /* the connection's number in the logs */
	uint32_t command_id;     /* the client's id for it */
	time_t started, last_input;
	unsigned long long bytes_in, bytes_out;
	pid_t pid;               /* 0 once reaped */
};
typedef void (*exec_visit_fn)(const struct exec_info *info, void *ctx);
/* Every command not yet freed and every shell started ahead, newest connection first. */
void exec_list(struct ptyd *srv, exec_visit_fn fn, void *ctx);
/* How many commands still running or shells waiting have an id starting with prefix. */
int exec_count_match(struct ptyd *srv, const char *prefix);
/*
 * Ends the one running command whose id starts with prefix as a cancel does
 * (TERM to its group, KILL to all of it after the grace); its client's status
 * says "endedBy":"operator". A waiting shell is killed, and its connection
 * starts no other. 0, -1 none, -2 several match.
 */
int exec_end_match(struct ptyd *srv, const char *prefix);

#endif
