/*
 * logsink.c: non-blocking log output (see logsink.h). One event loop, no
 * threads: the queue is only touched from the loop.
 */
#include "logsink.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ptyd.h"

static struct {
	char *buf;            /* queued bytes, LOGSINK_QUEUE_MAX */
	size_t len;
	unsigned long long dropped;
	struct lws *wsi;      /* the watcher on a duplicate of stderr */
	int flags;            /* stderr's flags before we started */
	int active;
	struct ws_rearm rearm;
} q;

/* Writes what the queue holds; returns 0 when it is empty. */
static int flush_queue(void)
{
	ssize_t n;

	while (q.len > 0) {
		n = write(STDERR_FILENO, q.buf, q.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return errno == EAGAIN ? 1 : (q.len = 0, 0); /* a broken log: nothing to do */
		memmove(q.buf, q.buf + n, q.len - (size_t)n);
		q.len -= (size_t)n;
	}
	return 0;
}

static void enqueue(const char *p, size_t len)
{
	memcpy(q.buf + q.len, p, len);
	q.len += len;
}

static void sink(const char *line, size_t len)
{
	struct iovec iov[2] = { { (void *)line, len }, { "\n", 1 } };
	ssize_t n = 0;

	if (q.len == 0) {
		n = writev(STDERR_FILENO, iov, 2);
		if (n < 0)
			n = 0;
		if ((size_t)n == len + 1)
			return;
	}
	if (q.len + len + 1 - (size_t)n > LOGSINK_QUEUE_MAX) {
		/* A line already started must be finished, or the log would be garbled. */
		if (n > 0) {
			enqueue(line + n, len - ((size_t)n < len ? (size_t)n : len));
			enqueue("\n", 1);
		}
		q.dropped++;
	} else if ((size_t)n < len) {
		enqueue(line + n, len - (size_t)n);
		enqueue("\n", 1);
	} else {
		enqueue("\n", 1);
	}
	/* Possibly inside the watcher's own writable callback: see ws_rearm. */
	if (q.wsi != NULL)
		ws_rearm_writable(&q.rearm, q.wsi);
}

int logsink_start(struct lws_vhost *vh)
{
	lws_sock_file_fd_type u;
	int fd;

	q.buf = malloc(LOGSINK_QUEUE_MAX + 4096);
	if (q.buf == NULL)
		return -1;
	fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		free(q.buf);
		q.buf = NULL;
		return -1;
	}
	u.filefd = (lws_filefd_type)fd;
	q.wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, "ptyd-log", NULL);
	if (q.wsi == NULL) {
		close(fd);
		free(q.buf);
		q.buf = NULL;
		return -1;
	}
	lws_rx_flow_control(q.wsi, 0); /* only writability matters */
	q.flags = fcntl(STDERR_FILENO, F_GETFL);
	fcntl(STDERR_FILENO, F_SETFL, q.flags | O_NONBLOCK);
	q.active = 1;
	log_set_sink(sink);
	return 0;
}

void logsink_stop(void)
{
	struct pollfd pfd = { STDERR_FILENO, POLLOUT, 0 };
	int i;

	if (!q.active)
		return;
	log_set_sink(NULL);
	q.active = 0;
	for (i = 0; i < 20 && flush_queue() != 0; i++)
		poll(&pfd, 1, 50);
	fcntl(STDERR_FILENO, F_SETFL, q.flags);
	if (q.dropped > 0)
		log_warnx("%llu log line(s) dropped: the log reader was too slow", q.dropped);
	free(q.buf);
	q.buf = NULL;
	q.len = 0;
}

int logsink_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	char n[24];

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!q.active)
			break;
		if (flush_queue() != 0) {
			ws_rearm_writable(&q.rearm, wsi);
			break;
		}
		if (q.dropped > 0) {
			snprintf(n, sizeof(n), "%llu", q.dropped);
			q.dropped = 0;
			struct log_field f[] = { { "lines", n }, { "reason", "the log reader was too slow" } };
			log_event("log_dropped", f, 2);
		}
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == q.wsi) {
			ws_rearm_cancel(&q.rearm);
			q.wsi = NULL;
		}
		break;
	default:
		break;
	}
	return 0;
}
