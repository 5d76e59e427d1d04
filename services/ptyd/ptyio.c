/*
 * ptyio.c: one PTY master in the event loop (see ptyio.h). lws polls a
 * duplicate of the master: it may close its copy on hang-up while ours still
 * drains what the child wrote last.
 */
#include "ptyio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptyd.h"
#include "spawn.h"

/* A read this short is interactive output: send it without reading again. */
#define PTYIO_SMALL_READ 1024

struct ptyio {
	int master;                 /* -1 once closed */
	struct lws *wsi;            /* the watcher; NULL once gone */
	const struct ptyio_ops *ops;
	void *ctx;
	int closing;                /* ptyio_close() called: free when the watcher goes */
	int watching;               /* readability callbacks on (what lws was last told) */
	unsigned char *in;          /* input not yet taken by the PTY */
	size_t inlen;
	struct ws_rearm rearm;      /* asks for writability again after a partial write */
};

/* The lws context is going away: its watchers are closed by it. */
static int ptyio_destroying;

void ptyio_shutdown(void)
{
	ptyio_destroying = 1;
}

struct ptyio *ptyio_open(struct lws_vhost *vh, int master, const struct ptyio_ops *ops, void *ctx)
{
	struct ptyio *p = calloc(1, sizeof(*p));
	lws_sock_file_fd_type u;
	int dupfd;

	if (p == NULL) {
		close(master);
		return NULL;
	}
	p->master = master;
	p->ops = ops;
	p->ctx = ctx;
	dupfd = fcntl(master, F_DUPFD_CLOEXEC, 0);
	if (dupfd >= 0) {
		u.filefd = (lws_filefd_type)dupfd;
		p->wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, "ptyd-pty", NULL);
		if (p->wsi == NULL)
			close(dupfd);
	}
	if (p->wsi == NULL) {
		close(master);
		free(p);
		return NULL;
	}
	lws_set_opaque_user_data(p->wsi, p);
	lws_rx_flow_control(p->wsi, 0);
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
	/* Each change is an epoll_ctl: only real changes go to lws. */
	if (p->wsi != NULL && !p->closing && p->watching != on) {
		p->watching = on;
		lws_rx_flow_control(p->wsi, on);
	}
}

int ptyio_watched(const struct ptyio *p)
{
	return p->wsi != NULL;
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
	if (p->wsi != NULL)
		lws_callback_on_writable(p->wsi);
	return 1;
}

/* The master can take input: write what is queued. */
static void flush_input(struct ptyio *p)
{
	ssize_t n;

	if (p->inlen == 0 || p->master < 0)
		return;
	n = write(p->master, p->in, p->inlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		n = 0;
	if (n < 0) {
		p->inlen = 0;
	} else {
		memmove(p->in, p->in + n, p->inlen - (size_t)n);
		p->inlen -= (size_t)n;
	}
	if (p->inlen > 0) {
		ws_rearm_writable(&p->rearm, p->wsi);
		return;
	}
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
	if (p->master >= 0)
		close(p->master);
	p->master = -1;
	free(p->in);
	p->in = NULL;
	p->inlen = 0;
	p->closing = 1;
	ws_rearm_cancel(&p->rearm);
	if (p->wsi == NULL)
		free(p);
	else if (!ptyio_destroying)
		lws_set_timeout(p->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	/* else: the context's destruction closes the watcher, which frees p. */
}

int ptyio_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	struct ptyio *p = lws_get_opaque_user_data(wsi);

	(void)user;
	(void)in;
	(void)len;
	if (p == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!p->closing)
			p->ops->readable(p->ctx);
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!p->closing)
			flush_input(p);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		lws_set_opaque_user_data(wsi, NULL);
		ws_rearm_cancel(&p->rearm);
		p->wsi = NULL;
		if (p->closing)
			free(p);
		else
			p->ops->closed(p->ctx);
		break;
	default:
		break;
	}
	return 0;
}
