/*
 * logbatch.h: jwt-verify's log lines leave in one write(2) per turn of the
 * event loop. A busy verifier answers several requests per poll(); each
 * used to cost a write of its own decision line (one system call in five).
 * Lines are held only until the loop's turn ends (logbatch_flush() right
 * after lws_service()), at exit, or when 64 KiB are waiting: never while
 * the loop sleeps.
 */
#ifndef JWT_VERIFY_LOGBATCH_H
#define JWT_VERIFY_LOGBATCH_H

/* Routes log.c's lines through the batch (flushed at exit too). */
void logbatch_start(void);
/* Writes the lines of this turn to stderr. */
void logbatch_flush(void);
/* Flushes and sends lines straight to stderr again. */
void logbatch_stop(void);

#endif
