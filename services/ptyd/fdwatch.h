/*
 * fdwatch.h: descriptors that ptyd reads and writes itself (PTY masters,
 * commands' pipes, the log), each watched in ptyd's libuv loop beside lws's
 * sockets. The owner of a descriptor keeps it (reads, writes, closes it) and
 * learns through three callbacks when it can read, when it can write, and
 * when it hung up.
 *
 * A hang-up (EPOLLHUP, EPOLLERR) is always reported, whether reading is on or
 * paused: the kernel reports it whatever the mask, and the owner needs it to
 * tell "nothing now" from "nothing ever". lws's event-library glue (libuv)
 * stops watching a descriptor whose reading is paused, so it would never say.
 */
#ifndef PTYD_FDWATCH_H
#define PTYD_FDWATCH_H

#include <uv.h>

struct fdwatch;

struct fdwatch_ops {
	/* Readable (while fdwatch_read is on). */
	void (*readable)(void *ctx);
	/* Writable (while fdwatch_write is on); NULL if never asked for. */
	void (*writable)(void *ctx);
	/*
	 * Hung up or in error: the watcher has stopped (no more callbacks; the
	 * descriptor is the owner's, still open, and may hold data to read).
	 * The owner still calls fdwatch_remove().
	 */
	void (*hangup)(void *ctx);
};

/* Watchers are handles in loop from now on (once, at start). */
void fdwatch_init(uv_loop_t *loop);

/*
 * Closes every watcher's handle, before the loop's last turns: no callbacks
 * after, and no fdwatch_add(). Owners still call fdwatch_remove().
 */
void fdwatch_close(void);

/*
 * Watches fd (still the caller's; libuv makes it non-blocking), reading and
 * writing off. NULL with errno when it cannot (EPERM: a regular file or
 * /dev/null, which never block: write or read them directly).
 */
struct fdwatch *fdwatch_add(int fd, const struct fdwatch_ops *ops, void *ctx);

/*
 * Readable callbacks on or off. Off is lazy: nothing changes in the kernel
 * until an event comes while off, so read, send, read again costs no epoll_ctl().
 */
void fdwatch_read(struct fdwatch *w, int on);

/* Writable callbacks on or off (asked from inside a callback too). */
void fdwatch_write(struct fdwatch *w, int on);

/* 1 while callbacks may come, 0 after the hang-up callback. */
int fdwatch_active(const struct fdwatch *w);

/* Stops watching (before the owner closes fd) and frees w; NULL is fine. */
void fdwatch_remove(struct fdwatch *w);

#endif
