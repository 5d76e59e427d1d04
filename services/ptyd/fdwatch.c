/*
 * fdwatch.c: the descriptors ptyd reads and writes itself (see fdwatch.h),
 * each a libuv poll handle in ptyd's loop, beside lws's sockets in the same
 * epoll set: a PTY's output wakes the loop and goes out in one turn, with no
 * nested epoll set to read and no lws service pass on the way. A descriptor
 * adopted by lws instead would cost an lws connection object (~840 bytes), a
 * duplicate descriptor (lws closes its copy on hang-up while the owner still
 * reads the last output), and no hang-up while paused.
 */
#include "fdwatch.h"

#include <errno.h>
#include <stdlib.h>

struct fdwatch {
	uv_poll_t poll;    /* poll.data is this watcher */
	const struct fdwatch_ops *ops;
	void *ctx;
	int mask;          /* what the loop asks the kernel for it (UV_*) */
	int reading;       /* readable callbacks wanted */
	int owner_gone;    /* fdwatch_remove() was called: free once the handle closed */
	int handle_open;   /* the poll handle is not closed yet */
	struct fdwatch *prev, *next; /* every watcher, for fdwatch_close() */
};

/* ptyd's loop; NULL before fdwatch_init() and after fdwatch_close(). */
static uv_loop_t *watch_loop;
static struct fdwatch *watchers;

void fdwatch_init(uv_loop_t *loop)
{
	watch_loop = loop;
}

/* Callbacks may come (the handle is started): until the hang-up or the removal. */
static int watching(const struct fdwatch *w)
{
	return uv_is_active((const uv_handle_t *)&w->poll);
}

static void on_closed(uv_handle_t *handle)
{
	struct fdwatch *w = handle->data;

	w->handle_open = 0;
	if (w->owner_gone)
		free(w);
}

/* No more callbacks: out of the loop's epoll set (synchronously: the owner
 * may close the descriptor, and a new one may take its number, right away). */
static void set_leave(struct fdwatch *w)
{
	if (watching(w))
		uv_poll_stop(&w->poll);
}

/* Closes the handle (after set_leave); the watcher is freed when it closed
 * and its owner is gone, whichever is last. */
static void handle_close(struct fdwatch *w)
{
	set_leave(w);
	if (!uv_is_closing((uv_handle_t *)&w->poll))
		uv_close((uv_handle_t *)&w->poll, on_closed);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else if (watchers == w)
		watchers = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

static void on_event(uv_poll_t *handle, int status, int events);

/* Tells the loop what w now wants; a hang-up is always asked for. */
static void set_mask(struct fdwatch *w, int mask)
{
	mask |= UV_DISCONNECT;
	if (!watching(w) || w->mask == mask)
		return;
	if (uv_poll_start(&w->poll, mask, on_event) == 0)
		w->mask = mask;
}

struct fdwatch *fdwatch_add(int fd, const struct fdwatch_ops *ops, void *ctx)
{
	struct fdwatch *w;
	int rc;

	if (watch_loop == NULL) {
		errno = ENOTCONN;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	/* Fails with EPERM for a regular file or /dev/null (epoll cannot watch them). */
	rc = uv_poll_init(watch_loop, &w->poll, fd);
	if (rc != 0) {
		free(w);
		errno = -rc;
		return NULL;
	}
	w->poll.data = w;
	w->ops = ops;
	w->ctx = ctx;
	w->handle_open = 1;
	w->next = watchers;
	if (watchers != NULL)
		watchers->prev = w;
	watchers = w;
	/* Hang-up and errors are reported whatever else is asked. */
	rc = uv_poll_start(&w->poll, UV_DISCONNECT, on_event);
	if (rc != 0) {
		w->owner_gone = 1;
		handle_close(w);
		errno = -rc;
		return NULL;
	}
	w->mask = UV_DISCONNECT;
	return w;
}

void fdwatch_read(struct fdwatch *w, int on)
{
	w->reading = on;
	if (on)
		set_mask(w, w->mask | UV_READABLE);
	/* Off: lazily, when an event comes while not reading (see fdwatch.h). */
}

void fdwatch_write(struct fdwatch *w, int on)
{
	set_mask(w, on ? w->mask | UV_WRITABLE : w->mask & ~UV_WRITABLE);
}

int fdwatch_active(const struct fdwatch *w)
{
	return watching(w);
}

void fdwatch_remove(struct fdwatch *w)
{
	if (w == NULL)
		return;
	w->owner_gone = 1;
	if (w->handle_open)
		handle_close(w);
	else
		free(w);
}

/* One event of w: callbacks may remove w (it stays allocated until its handle closed). */
static void on_event(uv_poll_t *handle, int status, int events)
{
	struct fdwatch *w = handle->data;

	/* libuv reports a hang-up as UV_DISCONNECT (asked for always), an error
	 * as a status (having stopped the handle): level-triggered, so out of the
	 * loop; the owner reads what is left. */
	if (status < 0 || (events & UV_DISCONNECT)) {
		set_leave(w);
		w->ops->hangup(w->ctx);
		return;
	}
	if ((events & UV_WRITABLE) && w->ops->writable != NULL)
		w->ops->writable(w->ctx);
	if (w->owner_gone || !watching(w) || !(events & UV_READABLE))
		return;
	if (w->reading)
		w->ops->readable(w->ctx);
	else
		set_mask(w, w->mask & ~UV_READABLE);
}

void fdwatch_close(void)
{
	/* Sessions outlive the loop (they are killed after it): their watchers'
	 * handles close now, the watchers go with their owners' fdwatch_remove(). */
	while (watchers != NULL)
		handle_close(watchers);
	watch_loop = NULL;
}
