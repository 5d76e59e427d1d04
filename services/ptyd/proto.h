/*
 * proto.h: the ttyd wire protocol as pure functions: message type bytes, the
 * init and resize JSON, the identity header check, the window title and the
 * close reasons. No I/O here; ws.c feeds it bytes. Mirrored on the browser side
 * by examples/web-shell (keep the type bytes in step).
 */
#ifndef PTYD_PROTO_H
#define PTYD_PROTO_H

#include <stddef.h>

/* Client -> server: the first byte of every message (ASCII, not 0/1/2). */
#define PROTO_IN_INPUT  '0' /* raw bytes for the PTY */
#define PROTO_IN_RESIZE '1' /* {"columns":C,"rows":R} */
#define PROTO_IN_PAUSE  '2' /* stop sending output */
#define PROTO_IN_RESUME '3' /* start again (idempotent) */
#define PROTO_IN_INIT   '{' /* the whole message is the init JSON */

/* Server -> client, always in binary frames. */
#define PROTO_OUT_OUTPUT '0' /* raw PTY bytes */
#define PROTO_OUT_TITLE  '1' /* window title text */
#define PROTO_OUT_PREFS  '2' /* preferences JSON */

/* Largest message either way; bigger ones close the connection with 1009. */
#define PROTO_MSG_MAX 65536
/* Terminal sizes outside 1..PROTO_DIM_MAX are refused. */
#define PROTO_DIM_MAX 4096
/* Size used when the init message gives none (ttyd's default). */
#define PROTO_DEFAULT_COLS 80
#define PROTO_DEFAULT_ROWS 24
/* Longest accepted X-Webshell-User value, in bytes. */
#define PROTO_USER_MAX 128

struct proto_size {
	unsigned short cols; /* columns, 1..PROTO_DIM_MAX */
	unsigned short rows; /* rows, 1..PROTO_DIM_MAX */
};

/*
 * Parses the init message (buf, len: the whole message, starting with '{').
 * Returns 0 and sets *out from "columns"/"rows" when both are valid, or to
 * the default 80x24 when neither is there (older ttyd clients send the size in
 * a resize that follows); returns -1 (with *why set to a static reason) for
 * bad JSON or sizes, and *out then holds 80x24 so the session can start
 * anyway, as ttyd does.
 * "AuthToken" is accepted and ignored: authentication happens in front.
 */
int proto_parse_init(const char *buf, size_t len, struct proto_size *out, const char **why);

/*
 * Parses a resize payload (after the type byte). Returns 0 and sets *out, or
 * -1 with *why set (bad JSON, missing key, not an integer, out of 1..4096);
 * *out is untouched on failure.
 */
int proto_parse_resize(const char *buf, size_t len, struct proto_size *out, const char **why);

/*
 * Returns 1 when v (len bytes) is usable as the session's user: 1 to
 * PROTO_USER_MAX bytes, no '{', no control characters (< 0x20, 0x7f); else 0.
 */
int proto_user_valid(const char *v, size_t len);

/*
 * Writes the window title "ARGV JOINED BY SPACES (HOSTNAME)" into dst (cap
 * bytes, always NUL-terminated, cut if too long). Returns its length.
 */
size_t proto_title(char *dst, size_t cap, char *const argv[], const char *hostname);

/*
 * Writes the close reason for a wait(2) status into dst: "exit N" or
 * "signal N". Returns its length.
 */
size_t proto_exit_reason(char *dst, size_t cap, int wstatus);

#endif
