/*
 * replay.h: a session's output history for resuming (docs/protocol.md 1).
 * Every output byte has an offset; the ring keeps the last bytes up to its
 * own limit and a total shared by all sessions, and knows where a terminal
 * could start reading it safely (outside any escape sequence or UTF-8
 * character). Pure: no I/O, no event loop; unit-tested in test_replay.c.
 */
#ifndef PTYD_REPLAY_H
#define PTYD_REPLAY_H

#include <stddef.h>

/* Bytes all rings may hold together (--replay-total); shared, not owned. */
struct replay_budget {
	size_t used; /* allocated by every ring */
	size_t max;  /* 0: no total limit */
};

/*
 * A terminal parser reduced to what a safe boundary needs: ground, inside an
 * escape, a control sequence or a string (OSC, DCS, APC, PM, SOS), and the
 * continuation bytes a UTF-8 character still needs.
 */
enum replay_vt_state {
	REPLAY_VT_GROUND, REPLAY_VT_ESC, REPLAY_VT_ESC_INT, REPLAY_VT_CSI, REPLAY_VT_STRING
};

struct replay_vt {
	unsigned char state;       /* enum replay_vt_state */
	unsigned char utf8;        /* continuation bytes still due (ground only) */
};

struct replay {
	unsigned char *buf;        /* a mapping of max bytes (pages), NULL while empty */
	size_t cap;                /* in use (and counted in the budget): grows by doubling up to max */
	size_t max;                /* most this ring holds (--replay-buffer); 0: keeps nothing */
	size_t start;              /* index in buf of the byte at offset tail */
	unsigned long long tail;   /* offset of the oldest byte kept */
	unsigned long long head;   /* offset after the newest byte (= all output so far) */
	struct replay_vt vt;       /* the parser's state at offset tail */
	struct replay_budget *budget;
};

/* Smallest allocation of a ring that grows. */
#define REPLAY_MIN_CAP 16384

/*
 * An empty ring at offset 0 (nothing is allocated yet). With max 0 and no
 * budget it only counts offsets (a session that never resumes).
 */
void replay_init(struct replay *r, size_t max, struct replay_budget *budget);

/*
 * Appends n bytes at head. The ring grows while under max and the budget
 * allows (the budget full, it wraps at the size it has); the oldest bytes go
 * when it is full. Never fails: bytes it cannot keep only move tail.
 */
void replay_append(struct replay *r, const unsigned char *p, size_t n);

/*
 * Copies up to n bytes from offset from (tail <= from <= head) into dst.
 * Returns the bytes copied (0 when from is outside the ring or at head).
 */
size_t replay_copy(const struct replay *r, unsigned long long from, unsigned char *dst, size_t n);

/* First offset >= tail where a terminal is in its ground state outside any character; head if none. */
unsigned long long replay_safe_start(const struct replay *r);

/* Feeds bytes to a parser state (exposed for the unit tests). */
void replay_vt_feed(struct replay_vt *vt, const unsigned char *p, size_t n);
/* 1 when vt is at a safe boundary. */
int replay_vt_safe(const struct replay_vt *vt);

/* Frees the ring and gives its bytes back to the budget. */
void replay_free(struct replay *r);

#endif
