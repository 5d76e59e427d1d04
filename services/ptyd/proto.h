/*
 * proto.h: the tty wire protocol (ttyd's, plus the session extensions of
 * docs/protocol.md section 1) as pure functions: message type bytes, message
 * reassembly from WebSocket fragments, the init and resize JSON, UTF-8
 * validation of text frames, the identity header check, the window title, the
 * session id and the close reasons. No I/O here; tty.c feeds it bytes.
 * Mirrored on the browser side by examples/web-shell (keep the bytes in step).
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
#define PROTO_IN_END    'X' /* end the session (resumable clients only) */

/* Server -> client, always in binary frames. */
#define PROTO_OUT_OUTPUT '0' /* raw PTY bytes */
#define PROTO_OUT_TITLE  '1' /* window title text */
#define PROTO_OUT_PREFS  '2' /* preferences JSON */
#define PROTO_OUT_SESSION 'S' /* session JSON, only after a "webshell" init */

/* Largest message either way; bigger ones close the connection with 1009. */
#define PROTO_MSG_MAX 65536
/* Terminal sizes outside 1..PROTO_DIM_MAX are refused. */
#define PROTO_DIM_MAX 4096
/* Size used when the init message gives none (ttyd's default). */
#define PROTO_DEFAULT_COLS 80
#define PROTO_DEFAULT_ROWS 24
/* Longest accepted X-Webshell-User value, in bytes. */
#define PROTO_USER_MAX 128

/* A session id: 128 random bits as 32 lowercase hex digits. */
#define PROTO_ID_BYTES 16
#define PROTO_ID_HEX (2 * PROTO_ID_BYTES)
/* Hex digits of the id that logs carry (the rest never leaves ptyd's memory). */
#define PROTO_ID_LOG 8
/* Largest output offset a client may name (2^53: exact in a JSON number). */
#define PROTO_OFFSET_MAX 9007199254740992ULL

struct proto_size {
	unsigned short cols; /* columns, 1..PROTO_DIM_MAX */
	unsigned short rows; /* rows, 1..PROTO_DIM_MAX */
};

/* What an init message asks for. */
enum proto_want {
	PROTO_WANT_TTYD,   /* no "webshell" member: ttyd's behaviour exactly */
	PROTO_WANT_NEW,    /* "session":"new": a new resumable session */
	PROTO_WANT_RESUME, /* "session":"<ID>": attach to session id at offset */
};

struct proto_init {
	struct proto_size size;
	enum proto_want want;
	char id[PROTO_ID_HEX + 1];    /* PROTO_WANT_RESUME: 32 lowercase hex digits */
	unsigned long long offset;    /* PROTO_WANT_RESUME: bytes the client has seen */
};

/*
 * Reassembles client messages from the chunks libwebsockets hands over (a
 * message may come in several frames, a frame in several chunks). Input
 * bytes are passed through as they arrive; init and resize JSON are kept
 * until the message is complete. Zero-initialise; proto_rx_free() at the end.
 */
struct proto_rx {
	int active;       /* inside a message */
	int type;         /* its type byte */
	size_t len;       /* payload bytes so far (after the type byte) */
	char *msg;        /* JSON being collected (init, resize) */
	size_t msglen;
	unsigned char utf8; /* text frames: UTF-8 validator state */
};

enum proto_rx_kind {
	PROTO_RX_NONE,     /* nothing to do (yet) */
	PROTO_RX_INPUT,    /* data, len: bytes for the PTY (possibly 0) */
	PROTO_RX_INIT,     /* data, len: the whole init JSON */
	PROTO_RX_RESIZE,   /* data, len: the whole resize JSON (after '1') */
	PROTO_RX_PAUSE,
	PROTO_RX_RESUME,
	PROTO_RX_END,      /* 'X' */
	PROTO_RX_UNKNOWN,  /* type: an unknown type byte (the message is skipped) */
	PROTO_RX_TOO_BIG,  /* the message is over PROTO_MSG_MAX: close 1009 */
	PROTO_RX_BAD_UTF8, /* a text frame that is not UTF-8: close 1007 */
	PROTO_RX_NOMEM,    /* out of memory: close 1011 */
};

struct proto_rx_event {
	enum proto_rx_kind kind;
	int type;                  /* the message's type byte */
	const unsigned char *data; /* INPUT, INIT, RESIZE: borrowed until the next feed */
	size_t len;
};

/*
 * Feeds one chunk: in/len, remaining (bytes of this frame still to come, as
 * the frame header said), final (1 on the message's last chunk), text (1 for a
 * text message). Each chunk yields at most one event, in *ev. After TOO_BIG,
 * BAD_UTF8 or NOMEM the caller closes the connection and feeds no more.
 */
void proto_rx_feed(struct proto_rx *rx, const unsigned char *in, size_t len, size_t remaining,
		   int final, int text, struct proto_rx_event *ev);
void proto_rx_free(struct proto_rx *rx);

/*
 * Incremental UTF-8 check (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF). *state starts at 0; returns 0 while the bytes so far can
 * start valid UTF-8, -1 once they cannot. The text is complete and valid when
 * it returned 0 and *state is 0 again.
 */
int proto_utf8_check(unsigned char *state, const unsigned char *p, size_t len);

/*
 * Parses the init message (buf, len: the whole message, starting with '{').
 * The size: from "columns"/"rows" when both are valid, the default 80x24 when
 * neither is there (older ttyd clients send the size in a resize that
 * follows); bad JSON or sizes give 80x24 too, so the session starts anyway,
 * as in ttyd. "AuthToken" is accepted and ignored: authentication happens in
 * front. The "webshell" member (docs/protocol.md 1) sets want, id, offset.
 * Returns 0; 1 when the size was unusable (*why says why; the rest is
 * parsed); -1 when the "webshell" member is malformed (*why says why; the
 * caller refuses the connection).
 */
int proto_parse_init(const char *buf, size_t len, struct proto_init *out, const char **why);

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

/*
 * The client's side of a connection as it comes off the socket: the HTTP
 * request(s), then, after one that asked to upgrade to WebSocket, frame
 * headers. libwebsockets 4.1.6 accepts client frames without a mask, which
 * RFC 6455 5.1 forbids; this scanner finds them (ptyd then closes 1002).
 * Zero-initialise at the connection's start.
 */
struct proto_wsscan {
	unsigned char phase;       /* 0 HTTP headers, 1 frame header, 2 payload, 3 unmasked seen */
	unsigned char upgrade;     /* this request has "Upgrade: websocket" */
	unsigned char hlen, need;  /* frame header bytes so far / needed */
	unsigned char hdr[14];
	unsigned short linelen;    /* bytes of the current header line */
	char line[40];             /* its start, lower-cased */
	unsigned long long remain; /* payload bytes of the current frame still to come */
};

/* Feeds bytes read from the client; returns -1 once an unmasked frame was seen, else 0. */
int proto_wsscan_feed(struct proto_wsscan *s, const unsigned char *p, size_t n);

/* Writes the 32 lowercase hex digits of id (PROTO_ID_BYTES) and a NUL into dst. */
void proto_id_hex(char dst[PROTO_ID_HEX + 1], const unsigned char id[PROTO_ID_BYTES]);

/*
 * Writes the 'S' message's JSON (without the type byte) into dst:
 * {"id":"<ID>","offset":M,"end":E,"reset":false} or, with reset, ...,"reset":true,"lost":L}.
 * E is the session's output so far: bytes M..E-1 are the replay, so a client
 * knows when it has caught up without waiting for a quiet moment.
 * Returns its length (cut to cap - 1).
 */
size_t proto_session_json(char *dst, size_t cap, const char *id, unsigned long long offset,
			  unsigned long long end, int reset, unsigned long long lost);

#endif
