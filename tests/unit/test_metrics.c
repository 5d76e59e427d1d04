/*
 * test_metrics.c: TAP tests of the metrics registry and its Prometheus text
 * exposition (services/common/metrics.c): exact output for counters, gauges
 * and histograms with and without labels, escaping, bad names refused, the
 * NULL (metrics off) path, limits, and the --metrics address check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../../services/common/metrics.h"
#include "../../services/common/metrics_http.h"


/* Compares the whole exposition with want; prints both on a mismatch. */
static void expect_text(struct metrics *reg, const char *want, const char *name)
{
	size_t len = 0;
	char *got = metrics_format(reg, &len);
	int same = got != NULL && strcmp(got, want) == 0 && len == strlen(want);

	ok(same, name);
	if (!same)
		printf("# got:\n%s# want:\n%s", got ? got : "(null)\n", want);
	free(got);
}

static void test_counter_gauge(void)
{
	struct metrics *reg = metrics_new();
	static const char *const labels[] = { "result", "reason", NULL };
	struct metric_family *dec, *up, *g;
	struct metric *a, *b;

	up = metrics_add(reg, METRIC_COUNTER, "webshell_test_started_total", "Sessions started.",
			 NULL, NULL, 0);
	dec = metrics_add(reg, METRIC_COUNTER, "webshell_test_decisions_total",
			  "Decisions by result and reason.", labels, NULL, 0);
	g = metrics_add(reg, METRIC_GAUGE, "webshell_test_sessions", "Sessions now.", NULL, NULL,
			0);
	ok(up && dec && g, "families added");
	expect_text(reg,
		    "# HELP webshell_test_started_total Sessions started.\n"
		    "# TYPE webshell_test_started_total counter\n"
		    "webshell_test_started_total 0\n"
		    "# HELP webshell_test_decisions_total Decisions by result and reason.\n"
		    "# TYPE webshell_test_decisions_total counter\n"
		    "# HELP webshell_test_sessions Sessions now.\n"
		    "# TYPE webshell_test_sessions gauge\n"
		    "webshell_test_sessions 0\n",
		    "unlabelled series show as 0, labelled families as HELP/TYPE only");
	metric_inc(metrics_get(up));
	metric_add(metrics_get(up), 41);
	a = metrics_get2(dec, "deny", "token expired");
	b = metrics_get2(dec, "allow", "ok");
	metric_inc(a);
	metric_inc(b);
	metric_inc(metrics_get2(dec, "deny", "token expired"));
	ok(metrics_get2(dec, "deny", "token expired") == a, "same labels, same series");
	metric_inc(metrics_get(g));
	metric_inc(metrics_get(g));
	metric_dec(metrics_get(g));
	metric_set(metrics_get(g), -3);
	expect_text(reg,
		    "# HELP webshell_test_started_total Sessions started.\n"
		    "# TYPE webshell_test_started_total counter\n"
		    "webshell_test_started_total 42\n"
		    "# HELP webshell_test_decisions_total Decisions by result and reason.\n"
		    "# TYPE webshell_test_decisions_total counter\n"
		    "webshell_test_decisions_total{result=\"deny\",reason=\"token expired\"} 2\n"
		    "webshell_test_decisions_total{result=\"allow\",reason=\"ok\"} 1\n"
		    "# HELP webshell_test_sessions Sessions now.\n"
		    "# TYPE webshell_test_sessions gauge\n"
		    "webshell_test_sessions -3\n",
		    "counters count, labelled series in first-use order, gauges go down");
	ok(metrics_get1(dec, "deny") == NULL && metrics_get(dec) == NULL,
	   "wrong label count refused");
	ok(metrics_series(dec, (const char *const[]){ "x", NULL }) == NULL,
	   "a missing label value is refused");
	metrics_free(reg);
}

static void test_escaping(void)
{
	struct metrics *reg = metrics_new();
	static const char *const labels[] = { "v", NULL };
	struct metric_family *f;

	f = metrics_add(reg, METRIC_COUNTER, "x_total", "Back\\slash and more", labels, NULL, 0);
	metric_inc(metrics_get1(f, "a\"b\\c\nd"));
	expect_text(reg,
		    "# HELP x_total Back\\\\slash and more\n"
		    "# TYPE x_total counter\n"
		    "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n",
		    "label values and help text escaped");
	metrics_free(reg);
}

static void test_histogram(void)
{
	struct metrics *reg = metrics_new();
	static const double buckets[] = { 0.001, 0.01, 0.5 };
	static const char *const labels[] = { "kind", NULL };
	struct metric_family *h, *hl;
	struct metric *m;

	h = metrics_add(reg, METRIC_HISTOGRAM, "t_seconds", "Times.", NULL, buckets, 3);
	hl = metrics_add(reg, METRIC_HISTOGRAM, "u_seconds", "Labelled.", labels, buckets, 1);
	m = metrics_get(h);
	metric_observe_ns(m, 500000);     /* 0.5 ms: first bucket */
	metric_observe_ns(m, 1000000);    /* exactly 1 ms: le is inclusive */
	metric_observe_ns(m, 20000000);   /* 20 ms: third */
	metric_observe_ns(m, 3000000000u); /* 3 s: only +Inf */
	metric_observe_ns(metrics_get1(hl, "a"), 2000000);
	expect_text(reg,
		    "# HELP t_seconds Times.\n"
		    "# TYPE t_seconds histogram\n"
		    "t_seconds_bucket{le=\"0.001\"} 2\n"
		    "t_seconds_bucket{le=\"0.01\"} 2\n"
		    "t_seconds_bucket{le=\"0.5\"} 3\n"
		    "t_seconds_bucket{le=\"+Inf\"} 4\n"
		    "t_seconds_sum 3.021500000\n"
		    "t_seconds_count 4\n"
		    "# HELP u_seconds Labelled.\n"
		    "# TYPE u_seconds histogram\n"
		    "u_seconds_bucket{kind=\"a\",le=\"0.001\"} 0\n"
		    "u_seconds_bucket{kind=\"a\",le=\"+Inf\"} 1\n"
		    "u_seconds_sum{kind=\"a\"} 0.002000000\n"
		    "u_seconds_count{kind=\"a\"} 1\n",
		    "histogram: cumulative buckets, +Inf, sum in seconds, count");
	metric_inc(m);
	ok(m->value == 1 && m->count == 4, "metric_inc on a histogram leaves observations alone");
	metrics_free(reg);
}

static void test_bad_arguments(void)
{
	struct metrics *reg = metrics_new();
	static const double down[] = { 0.5, 0.1 };
	static const double one[] = { 0.5 };
	static const char *const le[] = { "le", NULL };
	static const char *const reserved[] = { "__x", NULL };
	static const char *const bad_label[] = { "a-b", NULL };
	static const char *const too_many[] = { "a", "b", "c", "d", "e", NULL };

	ok(metrics_add(reg, METRIC_COUNTER, "1abc", "x", NULL, NULL, 0) == NULL,
	   "name starting with a digit refused");
	ok(metrics_add(reg, METRIC_COUNTER, "a b", "x", NULL, NULL, 0) == NULL,
	   "name with a space refused");
	ok(metrics_add(reg, METRIC_COUNTER, "", "x", NULL, NULL, 0) == NULL, "empty name refused");
	ok(metrics_add(reg, METRIC_COUNTER, "a", "two\nlines", NULL, NULL, 0) == NULL,
	   "multi-line help refused");
	ok(metrics_add(reg, METRIC_HISTOGRAM, "h", "x", NULL, down, 2) == NULL,
	   "decreasing buckets refused");
	ok(metrics_add(reg, METRIC_HISTOGRAM, "h", "x", NULL, NULL, 0) == NULL,
	   "histogram without buckets refused");
	ok(metrics_add(reg, METRIC_COUNTER, "c", "x", NULL, one, 1) == NULL,
	   "buckets on a counter refused");
	ok(metrics_add(reg, METRIC_HISTOGRAM, "h", "x", le, one, 1) == NULL,
	   "label named le refused");
	ok(metrics_add(reg, METRIC_COUNTER, "c", "x", reserved, NULL, 0) == NULL,
	   "reserved label name refused");
	ok(metrics_add(reg, METRIC_COUNTER, "c", "x", bad_label, NULL, 0) == NULL,
	   "bad label name refused");
	ok(metrics_add(reg, METRIC_COUNTER, "c", "x", too_many, NULL, 0) == NULL,
	   "more than METRIC_LABELS_MAX labels refused");
	expect_text(reg, "", "nothing refused was added");
	metrics_free(reg);
}

static void test_off(void)
{
	struct metric_family *f = metrics_add(NULL, METRIC_COUNTER, "a_total", "x", NULL, NULL, 0);
	struct metric *m = metrics_get(f);

	metric_inc(m);
	metric_add(m, 3);
	metric_observe_ns(m, 5);
	ok(f == NULL && m == NULL, "metrics off: NULL registry, families and series; updates no-op");
	ok(metrics_on_collect(NULL, NULL, NULL) == -1, "metrics off: no collect callback");
	metrics_free(NULL);
}

static void test_series_cap(void)
{
	struct metrics *reg = metrics_new();
	static const char *const labels[] = { "n", NULL };
	struct metric_family *f = metrics_add(reg, METRIC_COUNTER, "c_total", "x", labels, NULL, 0);
	char v[16];
	int i, made = 0;

	for (i = 0; i < METRIC_SERIES_MAX + 10; i++) {
		snprintf(v, sizeof(v), "%d", i);
		made += metrics_get1(f, v) != NULL;
	}
	ok(made == METRIC_SERIES_MAX, "series per family capped");
	snprintf(v, sizeof(v), "%d", 7);
	ok(metrics_get1(f, v) != NULL, "existing series still found past the cap");
	metrics_free(reg);
}

static int collected;
static void collect(void *arg)
{
	metric_set(arg, 17);
	collected++;
}

static void test_collect(void)
{
	struct metrics *reg = metrics_new();
	struct metric_family *g = metrics_add(reg, METRIC_GAUGE, "g", "x", NULL, NULL, 0);

	ok(metrics_on_collect(reg, collect, metrics_get(g)) == 0, "collect callback registered");
	expect_text(reg, "# HELP g x\n# TYPE g gauge\ng 17\n", "collect callback sets a gauge");
	ok(collected == 1, "collect callback runs once per formatting");
	metrics_free(reg);
}

struct addr_case {
	const char *arg;
	int allow_remote;
	int rc;
};

static const struct addr_case addr_cases[] = {
	{ "127.0.0.1:9100", 0, 0 },
	{ "127.8.9.10:9100", 0, 0 },
	{ "[::1]:9100", 0, 0 },
	{ "unix:/run/web-shell/metrics.sock", 0, 0 },
	{ "0.0.0.0:9100", 0, -1 },
	{ "10.1.2.3:9100", 0, -1 },
	{ "[::]:9100", 0, -1 },
	{ "[::ffff:127.0.0.1]:9100", 0, -1 },
	{ "10.1.2.3:9100", 1, 0 },
	{ "localhost:9100", 0, -1 },
	{ "127.0.0.1", 0, -1 },
	{ "127.0.0.1:0", 0, -1 },
	{ "unix:relative", 0, -1 },
};

static void test_addr(void)
{
	struct listen_addr a;
	const char *err = NULL;
	char name[128];
	size_t i;

	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *c = &addr_cases[i];

		snprintf(name, sizeof(name), "--metrics %s%s: %s", c->arg,
			 c->allow_remote ? " (remote allowed)" : "", c->rc ? "refused" : "accepted");
		ok(metrics_parse_addr(c->arg, c->allow_remote, &a, &err) == c->rc, name);
	}
	metrics_parse_addr("0.0.0.0:1", 0, &a, &err);
	ok(err != NULL && strstr(err, "loopback") != NULL, "the refusal says why");
}

int main(void)
{
	test_counter_gauge();
	test_escaping();
	test_histogram();
	test_bad_arguments();
	test_off();
	test_series_cap();
	test_collect();
	test_addr();
	return tap_done();
}
