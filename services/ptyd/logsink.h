/*
 * logsink.h: ptyd's log lines never block its event loop. Once started,
 * stderr is non-blocking; a line that the reader cannot take now waits in a
 * bounded queue that a watcher flushes when stderr is writable; past the
 * bound, lines are dropped and counted, and the count is logged once the
 * reader catches up ("log_dropped lines=N").
 */
#ifndef PTYD_LOGSINK_H
#define PTYD_LOGSINK_H

/* Bytes of log lines held while the reader is slow. */
#define LOGSINK_QUEUE_MAX (1024 * 1024)

/*
 * Routes log.c's lines through the queue, stderr watched by fdwatch.c (after
 * fdwatch_init). 0 (also when stderr is a file, which never blocks: it is
 * written directly), or -1 (stderr stays as it was).
 */
int logsink_start(void);
/* Writes what is queued (waiting at most a second for the reader), then back to plain stderr. */
void logsink_stop(void);

#endif
