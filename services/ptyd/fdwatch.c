/*
 * fdwatch.c: one epoll set for the descriptors ptyd reads and writes itself
 * (see fdwatch.h), one lws raw watcher for the whole set. A descriptor of its
 * own in lws would cost an lws connection object (~840 bytes), a duplicate
 * descriptor (lws closes its copy on hang-up while the owner still reads the
 * last output), a handle in lws's event library, and no hang-up while paused.
 */
#include "fdwatch.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Events taken from the set per loop turn. */
#define FDWATCH_BATCH 64

struct fdwatch {
	int fd;
	const struct fdwatch_ops *ops;
	void *ctx;
	uint32_t mask;     /* what the set asks for it */
	int in_set;        /* callbacks may come; 0 after the hang-up */
	int reading;       /* readable callbacks wanted */
};

/* The set and its lws watcher; -1/NULL before fdwatch_init() and after the loop. */
static int set_fd = -1;
static struct lws *set_wsi;
/* The batch being dispatched: a watcher removed meanwhile is taken out of it. */
static struct epoll_event *batch;
static int batch_n;
static struct fdwatch *current;

int fdwatch_init(struct lws_vhost *vh)
{
	lws_sock_file_fd_type u;

	set_fd = epoll_create1(EPOLL_CLOEXEC);
	if (set_fd < 0)
		return -1;
	u.filefd = (lws_filefd_type)set_fd;
	set_wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, "ptyd-fds", NULL);
	if (set_wsi == NULL) {
		close(set_fd);
		set_fd = -1;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Tells the set what w now wants. */
static void set_mask(struct fdwatch *w, uint32_t mask)
{
	struct epoll_event ev = { .events = mask, .data.ptr = w };

	if (!w->in_set || w->mask == mask || set_fd < 0)
		return;
	if (epoll_ctl(set_fd, EPOLL_CTL_MOD, w->fd, &ev) == 0)
		w->mask = mask;
}

/* Out of the set (hang-up, removal, or the loop going away). */
static void set_leave(struct fdwatch *w)
{
	int i;

	if (w->in_set && set_fd >= 0)
		epoll_ctl(set_fd, EPOLL_CTL_DEL, w->fd, NULL);
	w->in_set = 0;
	for (i = 0; i < batch_n; i++)
		if (batch[i].data.ptr == w)
			batch[i].data.ptr = NULL;
	if (current == w)
		current = NULL;
}

struct fdwatch *fdwatch_add(int fd, const struct fdwatch_ops *ops, void *ctx)
{
	struct fdwatch *w;
	struct epoll_event ev = { .events = 0 };

	if (set_fd < 0) {
		errno = ENOTCONN;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->fd = fd;
	w->ops = ops;
	w->ctx = ctx;
	/* Hang-up and errors are reported whatever the mask. */
	ev.data.ptr = w;
	if (epoll_ctl(set_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		free(w);
		return NULL;
	}
	w->in_set = 1;
	return w;
}

void fdwatch_read(struct fdwatch *w, int on)
{
	w->reading = on;
	if (on)
		set_mask(w, w->mask | EPOLLIN);
	/* Off: lazily, when an event comes while not reading (see fdwatch.h). */
}

void fdwatch_write(struct fdwatch *w, int on)
{
	set_mask(w, on ? w->mask | EPOLLOUT : w->mask & ~(uint32_t)EPOLLOUT);
}

int fdwatch_active(const struct fdwatch *w)
{
	return w->in_set;
}

void fdwatch_remove(struct fdwatch *w)
{
	if (w == NULL)
		return;
	set_leave(w);
	free(w);
}

/* One event of the set: callbacks may remove w (then current is NULL). */
static void dispatch(struct fdwatch *w, uint32_t events)
{
	current = w;
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* Level-triggered and unmaskable: out of the set; the owner reads the rest. */
		set_leave(w);
		w->ops->hangup(w->ctx);
		return;
	}
	if ((events & EPOLLOUT) && w->ops->writable != NULL)
		w->ops->writable(w->ctx);
	if (current == NULL || !(events & EPOLLIN))
		return;
	if (w->reading)
		w->ops->readable(w->ctx);
	else
		set_mask(w, w->mask & ~(uint32_t)EPOLLIN);
}

int fdwatch_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct epoll_event ev[FDWATCH_BATCH];
	int n, i;

	(void)user;
	(void)in;
	(void)len;
	if (wsi != set_wsi)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		n = epoll_wait(set_fd, ev, FDWATCH_BATCH, 0);
		batch = ev;
		batch_n = n > 0 ? n : 0;
		for (i = 0; i < batch_n; i++)
			if (ev[i].data.ptr != NULL)
				dispatch(ev[i].data.ptr, ev[i].events);
		batch = NULL;
		batch_n = 0;
		current = NULL;
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		/* The loop is going away (lws closes the set's descriptor). */
		set_wsi = NULL;
		set_fd = -1;
		break;
	default:
		break;
	}
	return 0;
}
