/*
 * ptyio.c: one PTY master in the event loop (see ptyio.h). Every master is
 * in one epoll set, and that set is the one PTY watcher lws polls. A PTY of
 * its own in lws would cost an lws connection object (~840 bytes), a second
 * descriptor (lws closes its copy on hang-up while the session still reads
 * the last output) and a slot that lws's poll() scans on every wake-up.
 *
 * Readable interest is dropped lazily: ptyio_watch(p, 0) changes nothing in
 * the kernel; only an event that comes while not watching takes EPOLLIN out,
 * so an echo (read, send, watch again) costs no epoll_ctl().
 */
#include "ptyio.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ptyd.h"
#include "spawn.h"

/* A read this short is interactive output: send it without reading again. */
#define PTYIO_SMALL_READ 1024
/* Events taken from the set per loop turn. */
#define PTYIO_BATCH 64

struct ptyio {
	int master;                 /* -1 once closed */
	const struct ptyio_ops *ops;
	void *ctx;
	uint32_t mask;              /* what the epoll set asks for it */
	int in_set;                 /* in the epoll set (callbacks come); 0 after hang-up */
	int watching;               /* readable callbacks wanted */
	unsigned char *in;          /* input not yet taken by the PTY */
	size_t inlen;
};

/* The epoll set of every PTY and its lws watcher; -1/NULL before ptyio_init() and after the loop. */
static int pty_epfd = -1;
static struct lws *pty_wsi;
/* The batch being dispatched: a PTY closed meanwhile is taken out of it. */
static struct epoll_event *batch;
static int batch_n;
static struct ptyio *current;

int ptyio_init(struct lws_vhost *vh)
{
	lws_sock_file_fd_type u;

	pty_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (pty_epfd < 0)
		return -1;
	u.filefd = (lws_filefd_type)pty_epfd;
	pty_wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, "ptyd-pty", NULL);
	if (pty_wsi == NULL) {
		close(pty_epfd);
		pty_epfd = -1;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Tells the set what p now wants. */
static void set_mask(struct ptyio *p, uint32_t mask)
{
	struct epoll_event ev = { .events = mask, .data.ptr = p };

	if (!p->in_set || p->mask == mask)
		return;
	if (epoll_ctl(pty_epfd, EPOLL_CTL_MOD, p->master, &ev) == 0)
		p->mask = mask;
}

/* Out of the set (hang-up, close, or the loop going away). */
static void set_leave(struct ptyio *p)
{
	int i;

	if (p->in_set && pty_epfd >= 0)
		epoll_ctl(pty_epfd, EPOLL_CTL_DEL, p->master, NULL);
	p->in_set = 0;
	for (i = 0; i < batch_n; i++)
		if (batch[i].data.ptr == p)
			batch[i].data.ptr = NULL;
	if (current == p)
		current = NULL;
}

struct ptyio *ptyio_open(int master, const struct ptyio_ops *ops, void *ctx)
{
	struct ptyio *p = calloc(1, sizeof(*p));
	struct epoll_event ev = { .events = 0 };

	if (p == NULL || pty_epfd < 0) {
		free(p);
		close(master);
		return NULL;
	}
	p->master = master;
	p->ops = ops;
	p->ctx = ctx;
	/* Hang-up and errors are reported whatever the mask. */
	ev.data.ptr = p;
	if (epoll_ctl(pty_epfd, EPOLL_CTL_ADD, master, &ev) != 0) {
		close(master);
		free(p);
		return NULL;
	}
	p->in_set = 1;
	return p;
}

ssize_t ptyio_read(struct ptyio *p, unsigned char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	if (p->master < 0)
		return -1;
	while (got < cap) {
		n = read(p->master, buf + got, cap - got);
		if (n > 0) {
			/*
			 * A small short read (an echo, a prompt) took all there was:
			 * asking again would only say EAGAIN. Bulk output comes in
			 * ~4 KiB reads and is gathered into one frame.
			 */
			if ((size_t)n < cap - got && n < PTYIO_SMALL_READ) {
				got += (size_t)n;
				break;
			}
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		/* EIO: every slave fd is closed and the buffer is empty. */
		return got > 0 ? (ssize_t)got : -1;
	}
	return (ssize_t)got;
}

void ptyio_watch(struct ptyio *p, int on)
{
	p->watching = on;
	if (on)
		set_mask(p, p->mask | EPOLLIN);
	/* Off: lazily, when an event comes while not watching (see above). */
}

int ptyio_watched(const struct ptyio *p)
{
	return p->in_set;
}

int ptyio_write(struct ptyio *p, const unsigned char *buf, size_t len, size_t max)
{
	ssize_t n = 0;
	unsigned char *nb;

	if (len == 0 || p->master < 0)
		return 0;
	if (p->inlen == 0) {
		n = write(p->master, buf, len);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return 0; /* the PTY is going away: input has nowhere to go */
		if (n < 0)
			n = 0;
		if ((size_t)n == len)
			return 0;
	}
	if (p->inlen + len - (size_t)n > max)
		return -1;
	nb = realloc(p->in, p->inlen + len - (size_t)n);
	if (nb == NULL)
		return -1;
	p->in = nb;
	memcpy(p->in + p->inlen, buf + n, len - (size_t)n);
	p->inlen += len - (size_t)n;
	set_mask(p, p->mask | EPOLLOUT);
	return 1;
}

/* The master can take input: write what is queued. */
static void flush_input(struct ptyio *p)
{
	ssize_t n;

	if (p->inlen == 0)
		return;
	n = write(p->master, p->in, p->inlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		p->inlen = 0; /* the PTY is going away */
	} else {
		memmove(p->in, p->in + n, p->inlen - (size_t)n);
		p->inlen -= (size_t)n;
	}
	if (p->inlen > 0)
		return;
	set_mask(p, p->mask & ~(uint32_t)EPOLLOUT);
	free(p->in);
	p->in = NULL;
	p->ops->drained(p->ctx);
}

int ptyio_resize(struct ptyio *p, unsigned short cols, unsigned short rows)
{
	if (p->master < 0) {
		errno = EBADF;
		return -1;
	}
	return pty_resize(p->master, cols, rows);
}

void ptyio_close(struct ptyio *p)
{
	set_leave(p);
	if (p->master >= 0)
		close(p->master);
	free(p->in);
	free(p);
}

/* One event of the set: callbacks may close p (then current is NULL). */
static void dispatch(struct ptyio *p, uint32_t events)
{
	current = p;
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* Level-triggered and unmaskable: out of the set; the session reads the rest. */
		set_leave(p);
		p->ops->closed(p->ctx);
		return;
	}
	if (events & EPOLLOUT)
		flush_input(p);
	if (current == NULL || !(events & EPOLLIN))
		return;
	if (p->watching)
		p->ops->readable(p->ctx);
	else
		set_mask(p, p->mask & ~(uint32_t)EPOLLIN);
}

int ptyio_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct epoll_event ev[PTYIO_BATCH];
	int n, i;

	(void)user;
	(void)in;
	(void)len;
	if (wsi != pty_wsi)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		n = epoll_wait(pty_epfd, ev, PTYIO_BATCH, 0);
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
		pty_wsi = NULL;
		pty_epfd = -1;
		break;
	default:
		break;
	}
	return 0;
}
