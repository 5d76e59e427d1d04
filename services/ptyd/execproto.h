/*
 * execproto.h: the webshell-exec.v1 wire protocol (docs/protocol.md §2) as
 * pure functions: channel numbers, the 5-byte frame header, the start, cancel,
 * ack and end-session payloads with their limits, and the JSON the server
 * sends (hello, status). No I/O and no event loop here; exec.c drives it.
 * Mirrored by the browser module (examples/web-shell): keep the numbers in step.
 */
#ifndef PTYD_EXECPROTO_H
#define PTYD_EXECPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* The WebSocket subprotocol name. */
#define EXECPROTO_NAME "webshell-exec.v1"
#define EXECPROTO_VERSION 1

/* Channels: 0-4 as Kubernetes' v5.channel.k8s.io, the rest ours. */
enum execproto_channel {
	EXEC_CH_STDIN = 0,      /* C->S bytes */
	EXEC_CH_STDOUT = 1,     /* S->C bytes */
	EXEC_CH_STDERR = 2,     /* S->C bytes */
	EXEC_CH_STATUS = 3,     /* S->C JSON, a command's last message */
	EXEC_CH_RESIZE = 4,     /* C->S {"columns","rows"} */
	EXEC_CH_START = 16,     /* C->S JSON */
	EXEC_CH_EOF = 17,       /* C->S end of stdin */
	EXEC_CH_CANCEL = 18,    /* C->S optional {"signal":"TERM"} */
	EXEC_CH_ACK = 19,       /* both: 4-byte big-endian increment */
	EXEC_CH_HELLO = 32,     /* S->C id 0, the first message */
	EXEC_CH_SESSIONS = 33,  /* C->S request, S->C JSON array */
	EXEC_CH_END_SESSION = 34, /* C->S {"id":"..."} */
};

/* Channel byte + command id. */
#define EXECPROTO_HDR 5
/* Largest payload of any message but start. */
#define EXECPROTO_PAYLOAD_MAX 65536
/* Default cap of a start message (--exec-max-command). */
#define EXECPROTO_START_DEFAULT (4u << 20)
/* Linux refuses one argv or environment string longer than this (MAX_ARG_STRLEN - 1). */
#define EXECPROTO_ARG_MAX 131071
/* Most argv elements and env additions accepted. */
#define EXECPROTO_ARGC_MAX 4096
#define EXECPROTO_ENV_MAX 1024
/* Longest timeoutMs accepted: 31 days. */
#define EXECPROTO_TIMEOUT_MAX_MS (31LL * 24 * 3600 * 1000)
/* Longest cwd accepted. */
#define EXECPROTO_CWD_MAX 4096

/* One frame's header, parsed. */
struct execproto_header {
	unsigned channel;
	uint32_t id;
};

/*
 * Parses the 5-byte header (hdr holds exactly EXECPROTO_HDR bytes) of a
 * client message. Returns 0, or -1 with *why set (a static string) when the
 * channel is not one a client may send, or a command channel carries id 0.
 */
int execproto_parse_header(const unsigned char *hdr, struct execproto_header *out,
			   const char **why);

/* Writes a 5-byte header into dst. */
void execproto_put_header(unsigned char *dst, unsigned channel, uint32_t id);

/* Big-endian 32-bit helpers for ids and ack counts. */
void execproto_put_u32(unsigned char *dst, uint32_t v);
uint32_t execproto_get_u32(const unsigned char *src);

/*
 * Parses an ack payload: exactly 4 bytes, a non-zero increment. Returns 0
 * and sets *n, or -1 with *why set.
 */
int execproto_parse_ack(const unsigned char *p, size_t len, uint32_t *n, const char **why);

/* A start request, parsed and checked; every pointer is owned by it. */
struct execproto_start {
	char **argv;          /* argv mode: NULL-terminated; NULL in shell mode */
	int argc;
	char *shell;          /* shell mode: the script (NUL-free); NULL in argv mode */
	size_t shell_len;
	int login;            /* shell as a login shell (rc files read) */
	char **env;           /* "K=V" additions, NULL-terminated (maybe empty) */
	int nenv;
	char *cwd;            /* NULL: the account's home */
	long long timeout_ms; /* 0: none asked */
	int has_pty;
	struct proto_size pty;
	int stdin_open;       /* 0: stdin is /dev/null */
	/* What the audit hashes: the script, or each argv element followed by a NUL. */
	unsigned char *command;
	size_t command_len;
};

/*
 * Parses a start payload of len bytes. Returns:
 *   0  and fills *out (free it with execproto_start_free);
 *  -1  the payload is not a JSON object at all: a bad frame (why says so);
 *  -2  a JSON object whose contents are refused (the command gets an error
 *      status and the connection goes on; why says which member and why).
 * why is written into a caller buffer of whycap bytes. *out is zeroed on
 * failure and needs no freeing.
 */
int execproto_parse_start(const char *buf, size_t len, struct execproto_start *out,
			  char *why, size_t whycap);
void execproto_start_free(struct execproto_start *st);

/*
 * Parses a cancel payload: empty (TERM), or {"signal":"NAME"} with NAME one
 * of HUP INT QUIT TERM KILL USR1 USR2 (a "SIG" prefix is accepted). Returns
 * 0 and sets *sig, or -1 with *why set.
 */
int execproto_parse_cancel(const char *buf, size_t len, int *sig, const char **why);

/*
 * Parses an end-session payload {"id":"<32 lowercase hex>"} into id (33
 * bytes). Returns 0, or -1 with *why set.
 */
int execproto_parse_end_session(const char *buf, size_t len, char id[33], const char **why);

/* How a command ended, for its status message. */
struct execproto_status {
	int wstatus;          /* from waitpid */
	int timed_out;
	int cancelled;
	int by_operator;      /* ended by an administrator (ptyd --end) */
	long long duration_ms;
};

/*
 * Writes the status JSON for a finished command:
 * {"exitCode":N|null,"signal":"NAME"|null,"timedOut":b,"cancelled":b,"durationMs":N},
 * with "endedBy":"operator" before durationMs when an administrator ended it.
 * Returns its length (dst is NUL-terminated, cap >= 160 always suffices).
 */
size_t execproto_status_json(char *dst, size_t cap, const struct execproto_status *st);

/*
 * Builds {"error":"MESSAGE"} with MESSAGE JSON-escaped; returns a malloc'd
 * string (NULL when out of memory).
 */
char *execproto_error_json(const char *message);

/*
 * Builds the hello JSON {"version":1,"maxCommands":N,"window":W,
 * "maxCommand":B,"user":"ID"} (user null when empty); malloc'd or NULL.
 */
char *execproto_hello_json(long long max_commands, long long window, long long max_command,
			   const char *user);

/* The signal's short name ("TERM") into dst, or its number when it has none. */
void execproto_signal_name(char *dst, size_t cap, int sig);

/* SHA-256 of data as 64 lowercase hex digits (hex holds 65 bytes). Returns 0 or -1. */
int execproto_sha256_hex(const unsigned char *data, size_t len, char hex[65]);

/*
 * The command as people read it, for the audit line: the script, or the
 * argv elements joined by spaces; at most max bytes of it (a cut is marked
 * by *cut = 1). Writes at most cap-1 bytes plus a NUL (raw bytes: the log
 * escapes them). Returns the bytes written.
 */
size_t execproto_command_text(const struct execproto_start *st, size_t max, char *dst,
			      size_t cap, int *cut);

#endif
