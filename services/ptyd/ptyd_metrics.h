/*
 * ptyd_metrics.h: ptyd's metrics (services/common/metrics.h): sessions by
 * state, started and ended by cause, exec commands by outcome, exec shells
 * started ahead and waiting, bytes in and out, spawn time, resumes, recordings and their drops. The calls are
 * one-liners in the session and exec code; until ptyd_metrics_init() runs
 * (no --metrics) each is a branch on a NULL pointer.
 */
#ifndef PTYD_METRICS_H
#define PTYD_METRICS_H

#include <stdint.h>

#include "metrics.h"
#include "record.h"

/* The series the hot paths bump directly: metric_add(ptyd_m.bytes_out, n). */
struct ptyd_metric_series {
	struct metric *bytes_in;         /* input bytes written to terminals and commands */
	struct metric *bytes_out;        /* output bytes read from terminals and commands */
	struct metric *sessions_started; /* terminal sessions */
	struct metric *spawn;            /* histogram: fork to exec */
	struct metric *exec_waiting;     /* gauge: shells started ahead for exec scripts */
};
extern struct ptyd_metric_series ptyd_m;

/*
 * Counts sessions by state at each scrape: the session code's function that
 * sets *attached and *detached (arg is passed back).
 */
typedef void (*ptyd_count_sessions_fn)(void *arg, long *attached, long *detached);

/* Adds ptyd's families to reg. rec may be NULL (no --record). Returns 0 or -1. */
int ptyd_metrics_init(struct metrics *reg, ptyd_count_sessions_fn count, void *arg,
		      struct recorder *rec);

/*
 * A session ended with this reason (its end_reason: "exit 0", "idle timeout
 * (...)", ...); counted by cause: exit, signal, client_closed, connection_lost,
 * ended_by_client, idle_timeout, time_limit, detach_timeout, shutdown,
 * spawn_failed, other.
 */
void ptyd_metrics_session_end(const char *reason);

/*
 * An exec command finished; outcome: ok (exit 0), failed (exit N), signal,
 * timeout, cancelled, connection_lost, not_started.
 */
void ptyd_metrics_exec(const char *outcome);

/*
 * An exec command is done (exec.c's one call): counted by its outcome, and
 * its recording (NULL: none) ended with "exit N", "signal N" or why not.
 */
void ptyd_audit_exec_end(struct recording *rec, int started, int exited, int wstatus,
			 int timed_out, int cancelled);

/* A resume attempt; result: ok, reset, refused. */
void ptyd_metrics_resume(const char *result);

/* A spawn that began at t0 (metrics_now_ns()) is done. */
void ptyd_metrics_spawned(uint64_t t0_ns);

#endif
