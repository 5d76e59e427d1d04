/*
 * ptyio.c: one PTY master in the event loop (see ptyio.h). Every master is
 * watched through fdwatch.c, not as an lws connection of its own.
 * Readable interest is dropped lazily (fdwatch_read), so an echo (read,
 * send, watch again) costs no epoll_ctl().
 */
#include "ptyio.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdwatch.h"
#include "ptyread.h"
#include "spawn.h"

struct ptyio {
	int master;                 /* -1 once closed */
	const struct ptyio_ops *ops;
	void *ctx;
	struct fdwatch *watch;      /* NULL after hang-up */
	unsigned char *in;          /* input not yet taken by the PTY */
	size_t inlen;
};

static void on_readable(void *ctx);
static void on_writable(void *ctx);
static void on_hangup(void *ctx);

static const struct fdwatch_ops ptyio_watch_ops = { on_readable, on_writable, on_hangup };

struct ptyio *ptyio_open(int master, const struct ptyio_ops *ops, void *ctx)
{
	struct ptyio *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		close(master);
		return NULL;
	}
	p->master = master;
	p->ops = ops;
	p->ctx = ctx;
	p->watch = fdwatch_add(master, &ptyio_watch_ops, p);
	if (p->watch == NULL) {
		close(master);
		free(p);
		return NULL;
	}
	return p;
}

ssize_t ptyio_read(struct ptyio *p, unsigned char *buf, size_t cap)
{
	if (p->master < 0)
		return -1;
	return pty_read_gather(p->master, buf, cap);
}

void ptyio_watch(struct ptyio *p, int on)
{
	if (p->watch != NULL)
		fdwatch_read(p->watch, on);
}

int ptyio_watched(const struct ptyio *p)
{
	return p->watch != NULL;
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
	if (p->watch != NULL)
		fdwatch_write(p->watch, 1);
	return 1;
}

/* The master can take input: write what is queued. */
static void on_writable(void *ctx)
{
	struct ptyio *p = ctx;
	ssize_t n;

	if (p->inlen == 0) {
		fdwatch_write(p->watch, 0);
		return;
	}
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
	fdwatch_write(p->watch, 0);
	free(p->in);
	p->in = NULL;
	p->ops->drained(p->ctx);
}

static void on_readable(void *ctx)
{
	struct ptyio *p = ctx;

	p->ops->readable(p->ctx);
}

/* Every slave closed: out of the set; the session reads the rest. */
static void on_hangup(void *ctx)
{
	struct ptyio *p = ctx;

	fdwatch_remove(p->watch);
	p->watch = NULL;
	p->ops->closed(p->ctx);
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
	fdwatch_remove(p->watch);
	if (p->master >= 0)
		close(p->master);
	free(p->in);
	free(p);
}
