/*
 * verify_metrics.c: jwt-verify's metric families and the one-line calls
 * http.c and main.c make. Reasons are the static strings jwt.c and http.c
 * answer with, a small fixed set, so they are a label.
 */
#include "verify_metrics.h"

#include <stddef.h>

static struct {
	struct metric_family *decisions;   /* result, reason */
	struct metric *verify_seconds;
	struct metric *keys, *replay_entries;
	struct metric *reload_ok, *reload_failed;
	const struct verifier *v;
} vm;

static void collect(void *arg)
{
	const struct verifier *v = arg;

	metric_set(vm.keys, v->keys != NULL ? (int64_t)v->keys->n : 0);
	metric_set(vm.replay_entries, v->replay != NULL ? (int64_t)replay_count(v->replay) : 0);
}

int verify_metrics_init(struct metrics *reg, const struct verifier *v)
{
	static const char *const decision_labels[] = { "result", "reason", NULL };
	static const char *const result_label[] = { "result", NULL };
	struct metric_family *reloads;

	vm.decisions = metrics_add(reg, METRIC_COUNTER, "webshell_jwt_verify_decisions_total",
				   "Requests answered, by result (allow, deny) and reason.",
				   decision_labels, NULL, 0);
	vm.verify_seconds = metrics_get(metrics_add(
		reg, METRIC_HISTOGRAM, "webshell_jwt_verify_verification_seconds",
		"Time from a request's headers to its decision.", NULL, metrics_latency_buckets,
		metrics_latency_nbuckets));
	vm.keys = metrics_get(metrics_add(reg, METRIC_GAUGE, "webshell_jwt_verify_keys_loaded",
					  "Public keys in the loaded key set.", NULL, NULL, 0));
	vm.replay_entries = metrics_get(metrics_add(
		reg, METRIC_GAUGE, "webshell_jwt_verify_replay_cache_entries",
		"Token ids held by the single-use replay cache (0 without --single-use).", NULL,
		NULL, 0));
	reloads = metrics_add(reg, METRIC_COUNTER, "webshell_jwt_verify_key_reloads_total",
			      "Key set reloads on SIGHUP, by result (ok, failed).", result_label,
			      NULL, 0);
	vm.reload_ok = metrics_get1(reloads, "ok");
	vm.reload_failed = metrics_get1(reloads, "failed");
	if (vm.decisions == NULL || vm.verify_seconds == NULL || vm.keys == NULL ||
	    vm.replay_entries == NULL || vm.reload_ok == NULL || vm.reload_failed == NULL)
		return -1;
	return metrics_on_collect(reg, collect, (void *)v);
}

void verify_metrics_decision(unsigned int status, const char *reason, const struct timespec *start)
{
	uint64_t t0;

	if (vm.decisions == NULL)
		return;
	t0 = (uint64_t)start->tv_sec * 1000000000u + (uint64_t)start->tv_nsec;
	metric_observe_ns(vm.verify_seconds, metrics_now_ns() - t0);
	metric_inc(metrics_get2(vm.decisions, status == 200 ? "allow" : "deny",
				reason != NULL ? reason : "none"));
}

void verify_metrics_reload(int ok)
{
	metric_inc(ok ? vm.reload_ok : vm.reload_failed);
}
