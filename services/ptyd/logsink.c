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

#include "fdwatch.h"
#include "log.h"

static struct {
	char *buf;            /* queued bytes, LOGSINK_QUEUE_MAX */
	size_t len;
	unsigned long long dropped;
	struct fdwatch *watch;/* stderr's watcher; NULL when stderr never blocks, or hung up */
	int flags;            /* stderr's flags before we started */
	int active;
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
	if (q.watch != NULL)
		fdwatch_write(q.watch, 1);
}

/* stderr can take more. */
static void on_writable(void *ctx)
{
	char n[24];

	(void)ctx;
	if (flush_queue() != 0)
		return;
	fdwatch_write(q.watch, 0);
	if (q.dropped > 0) {
		snprintf(n, sizeof(n), "%llu", q.dropped);
		q.dropped = 0;
		struct log_field f[] = { { "lines", n }, { "reason", "the log reader was too slow" } };
		log_event("log_dropped", f, 2);
	}
}

/* The reader is gone: what is queued has nowhere to go. */
static void on_hangup(void *ctx)
{
	(void)ctx;
	fdwatch_remove(q.watch);
	q.watch = NULL;
	q.len = 0;
}

static const struct fdwatch_ops logsink_watch_ops = { NULL, on_writable, on_hangup };

int logsink_start(void)
{
	/* Before fdwatch_add(), which makes the descriptor non-blocking (restored at stop). */
	q.flags = fcntl(STDERR_FILENO, F_GETFL);
	q.watch = fdwatch_add(STDERR_FILENO, &logsink_watch_ops, NULL);
	if (q.watch == NULL)
		/* A regular file or /dev/null never blocks: plain writes stay. */
		return errno == EPERM ? 0 : -1;
	q.buf = malloc(LOGSINK_QUEUE_MAX + 4096);
	if (q.buf == NULL) {
		fdwatch_remove(q.watch);
		q.watch = NULL;
		return -1;
	}
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
	fdwatch_remove(q.watch);
	q.watch = NULL;
	for (i = 0; i < 20 && flush_queue() != 0; i++)
		poll(&pfd, 1, 50);
	fcntl(STDERR_FILENO, F_SETFL, q.flags);
	if (q.dropped > 0)
		log_warnx("%llu log line(s) dropped: the log reader was too slow", q.dropped);
	free(q.buf);
	q.buf = NULL;
	q.len = 0;
}
