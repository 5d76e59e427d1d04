/*
 * ptyio.h: the I/O of one PTY master in the event loop. It owns the master
 * fd (watched through fdwatch.c); the session decides when to read
 * (and where to: straight into a WebSocket frame or into the replay ring)
 * and learns about the PTY
 * through three callbacks. Input that the PTY cannot take at once is queued
 * here, up to a limit.
 */
#ifndef PTYD_PTYIO_H
#define PTYD_PTYIO_H

#include <stddef.h>
#include <sys/types.h>

struct ptyio;

struct ptyio_ops {
	/* The master is readable (or hung up): call ptyio_read(). */
	void (*readable)(void *ctx);
	/* Queued input has all been written: the client may be read again. */
	void (*drained)(void *ctx);
	/*
	 * The PTY hung up (every slave closed) or the loop is going away: no
	 * more readable/drained callbacks; the master stays open for
	 * ptyio_read() (what is left, then -1) until ptyio_close(). Never
	 * called after ptyio_close().
	 */
	void (*closed)(void *ctx);
};

/*
 * Takes over master (non-blocking) and watches it. Reading starts off
 * (ptyio_watch). Returns NULL (master closed) when it cannot.
 */
struct ptyio *ptyio_open(int master, const struct ptyio_ops *ops, void *ctx);

/*
 * Reads what the master has, up to cap bytes. Returns the bytes read; 0 when
 * nothing is there now; -1 once the PTY is hung up and empty (every slave
 * closed: nothing more will come).
 */
ssize_t ptyio_read(struct ptyio *p, unsigned char *buf, size_t cap);

/* Turns readability callbacks on or off. */
void ptyio_watch(struct ptyio *p, int on);

/* 1 while the watcher is there (callbacks will come), 0 after ops->closed. */
int ptyio_watched(const struct ptyio *p);

/*
 * Writes input, queueing what the PTY does not take now. Returns 0 when all
 * is written, 1 when some is queued (stop reading the client until
 * ops->drained), -1 when the queue would pass max bytes or memory is out
 * (nothing is queued).
 */
int ptyio_write(struct ptyio *p, const unsigned char *buf, size_t len, size_t max);

/* Sets the window size (the kernel sends SIGWINCH). 0, or -1 with errno. */
int ptyio_resize(struct ptyio *p, unsigned short cols, unsigned short rows);

/* Closes the master and frees p; no callback comes after. */
void ptyio_close(struct ptyio *p);

#endif
