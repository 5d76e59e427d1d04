/*
 * ptyd_metrics.c: ptyd's metric families and the calls the session and exec
 * code make. Causes, outcomes and results are literals from a small fixed
 * set, so they are labels; identities never are (unbounded, and personal).
 */
#include "ptyd_metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "proto.h"
#include "record.h"

struct ptyd_metric_series ptyd_m;

static struct {
	struct metric_family *ended, *exec, *resumes;
	struct metric *attached, *detached;
	struct metric *rec_started, *rec_written, *rec_queued;
	struct metric *rec_dropped[RECORD_DROP_REASONS];
	ptyd_count_sessions_fn count;
	void *count_arg;
	struct recorder *rec;
} pm;

static void collect(void *unused)
{
	struct recorder_stats st;
	long attached = 0, detached = 0;
	size_t i;

	(void)unused;
	if (pm.count != NULL)
		pm.count(pm.count_arg, &attached, &detached);
	metric_set(pm.attached, attached);
	metric_set(pm.detached, detached);
	if (pm.rec == NULL)
		return;
	recorder_stats(pm.rec, &st);
	metric_set(pm.rec_started, (int64_t)st.started);
	metric_set(pm.rec_written, (int64_t)st.written);
	metric_set(pm.rec_queued, (int64_t)st.queued);
	for (i = 0; i < RECORD_DROP_REASONS; i++)
		metric_set(pm.rec_dropped[i], (int64_t)st.dropped[i]);
}

static struct metric *counter(struct metrics *reg, const char *name, const char *help)
{
	return metrics_get(metrics_add(reg, METRIC_COUNTER, name, help, NULL, NULL, 0));
}

int ptyd_metrics_init(struct metrics *reg, ptyd_count_sessions_fn count, void *arg,
		      struct recorder *rec)
{
	static const char *const state[] = { "state", NULL };
	static const char *const cause[] = { "cause", NULL };
	static const char *const outcome[] = { "outcome", NULL };
	static const char *const result[] = { "result", NULL };
	static const char *const reason[] = { "reason", NULL };
	static const double spawn_buckets[] = {
		0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
	};
	struct metric_family *sessions, *dropped;
	size_t i;

	pm.count = count;
	pm.count_arg = arg;
	pm.rec = rec;
	sessions = metrics_add(reg, METRIC_GAUGE, "webshell_ptyd_sessions",
			       "Terminal sessions now, by state (attached, detached).", state, NULL, 0);
	pm.attached = metrics_get1(sessions, "attached");
	pm.detached = metrics_get1(sessions, "detached");
	ptyd_m.sessions_started = counter(reg, "webshell_ptyd_sessions_started_total",
					  "Terminal sessions started.");
	pm.ended = metrics_add(reg, METRIC_COUNTER, "webshell_ptyd_sessions_ended_total",
			       "Terminal sessions ended, by cause.", cause, NULL, 0);
	pm.exec = metrics_add(reg, METRIC_COUNTER, "webshell_ptyd_exec_commands_total",
			      "Exec channel commands finished, by outcome.", outcome, NULL, 0);
	ptyd_m.exec_waiting = metrics_get(metrics_add(reg, METRIC_GAUGE,
						     "webshell_ptyd_exec_waiting_shells",
						     "Shells started ahead for exec scripts, waiting "
						     "(or being ended).", NULL, NULL, 0));
	pm.resumes = metrics_add(reg, METRIC_COUNTER, "webshell_ptyd_resumes_total",
				 "Attaches to an existing session, by result (ok, reset, refused).",
				 result, NULL, 0);
	ptyd_m.bytes_in = counter(reg, "webshell_ptyd_input_bytes_total",
				  "Bytes written to terminals and commands (client input).");
	ptyd_m.bytes_out = counter(reg, "webshell_ptyd_output_bytes_total",
				   "Bytes read from terminals and commands (their output).");
	ptyd_m.spawn = metrics_get(metrics_add(reg, METRIC_HISTOGRAM, "webshell_ptyd_spawn_seconds",
					       "Time to start a shell or command, fork to exec.",
					       NULL, spawn_buckets,
					       sizeof(spawn_buckets) / sizeof(spawn_buckets[0])));
	pm.rec_started = counter(reg, "webshell_ptyd_recordings_started_total",
				 "Recordings started (--record).");
	pm.rec_written = counter(reg, "webshell_ptyd_recording_written_bytes_total",
				 "Bytes written to recording files.");
	pm.rec_queued = metrics_get(metrics_add(reg, METRIC_GAUGE,
						"webshell_ptyd_recording_queue_bytes",
						"Bytes waiting in the recording writer's queue.",
						NULL, NULL, 0));
	dropped = metrics_add(reg, METRIC_COUNTER, "webshell_ptyd_recording_dropped_bytes_total",
			      "Session bytes left out of recordings, by reason.", reason, NULL, 0);
	for (i = 0; i < RECORD_DROP_REASONS; i++)
		pm.rec_dropped[i] = metrics_get1(dropped, record_drop_names[i]);
	if (pm.attached == NULL || pm.detached == NULL || ptyd_m.sessions_started == NULL ||
	    pm.ended == NULL || pm.exec == NULL || ptyd_m.exec_waiting == NULL || pm.resumes == NULL || ptyd_m.bytes_in == NULL ||
	    ptyd_m.bytes_out == NULL || ptyd_m.spawn == NULL || pm.rec_started == NULL ||
	    pm.rec_written == NULL || pm.rec_queued == NULL || pm.rec_dropped[0] == NULL)
		return -1;
	return metrics_on_collect(reg, collect, NULL);
}

/* The cause label of an end reason (session.c's and tty.c's reasons). */
static const char *end_cause(const char *reason)
{
	static const struct {
		const char *prefix, *cause;
	} causes[] = {
		{ "exit ", "exit" },
		{ "signal ", "signal" },
		{ "client closed", "client_closed" },
		{ "connection lost", "connection_lost" },
		{ "session ended", "ended_by_client" },
		{ "idle timeout", "idle_timeout" },
		{ "session time limit", "time_limit" },
		{ "detach timeout", "detach_timeout" },
		{ "service restart", "shutdown" },
		{ "server stopped", "shutdown" },
		{ "cannot start", "spawn_failed" },
	};
	size_t i;

	for (i = 0; reason != NULL && i < sizeof(causes) / sizeof(causes[0]); i++)
		if (strncmp(reason, causes[i].prefix, strlen(causes[i].prefix)) == 0)
			return causes[i].cause;
	return "other";
}

void ptyd_metrics_session_end(const char *reason)
{
	if (pm.ended != NULL)
		metric_inc(metrics_get1(pm.ended, end_cause(reason)));
}

void ptyd_metrics_exec(const char *outcome)
{
	metric_inc(metrics_get1(pm.exec, outcome));
}

void ptyd_audit_exec_end(struct recording *rec, int started, int exited, int wstatus,
			 int timed_out, int cancelled)
{
	char status[64];
	const char *outcome;

	if (!started)
		outcome = "not_started";
	else if (timed_out)
		outcome = "timeout";
	else if (cancelled)
		outcome = "cancelled";
	else if (!exited)
		outcome = "connection_lost";
	else if (WIFEXITED(wstatus))
		outcome = WEXITSTATUS(wstatus) == 0 ? "ok" : "failed";
	else
		outcome = "signal";
	ptyd_metrics_exec(outcome);
	if (exited)
		proto_exit_reason(status, sizeof(status), wstatus);
	else
		snprintf(status, sizeof(status), "%s", started ? "killed" : "not started");
	recording_end(rec, status);
}

void ptyd_metrics_resume(const char *result)
{
	metric_inc(metrics_get1(pm.resumes, result));
}

void ptyd_metrics_spawned(uint64_t t0_ns)
{
	if (ptyd_m.spawn != NULL)
		metric_observe_ns(ptyd_m.spawn, metrics_now_ns() - t0_ns);
}
