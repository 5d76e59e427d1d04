/*
 * logbatch.c: log lines gathered for one write per event-loop turn (see
 * logbatch.h). Single-threaded, as jwt-verify is.
 */
#include "logbatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define BATCH_MAX (64 * 1024)

static char batch[BATCH_MAX];
static size_t batch_len;
static int exit_hooked;

void logbatch_flush(void)
{
	size_t off = 0;
	ssize_t n;

	while (off < batch_len) {
		n = write(STDERR_FILENO, batch + off, batch_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a broken log: nothing to do but go on */
		off += (size_t)n;
	}
	batch_len = 0;
}

static void batch_line(const char *line, size_t len)
{
	if (batch_len + len + 1 > sizeof(batch))
		logbatch_flush();
	if (len + 1 > sizeof(batch))
		len = sizeof(batch) - 1; /* log.c's lines are at most 4 KiB: never */
	memcpy(batch + batch_len, line, len);
	batch[batch_len + len] = '\n';
	batch_len += len + 1;
}

void logbatch_start(void)
{
	if (!exit_hooked && atexit(logbatch_flush) == 0)
		exit_hooked = 1;
	log_set_sink(batch_line);
}

void logbatch_stop(void)
{
	logbatch_flush();
	log_set_sink(NULL);
}
