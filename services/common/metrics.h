/*
 * metrics.h: the metrics both services expose in Prometheus' text format: a
 * small registry of counters, gauges and histograms with labels, formatted on
 * request (pure: no I/O here; metrics_http.h serves it).
 *
 * Cost on the hot path: a series is a struct whose value the event loop bumps
 * with a plain integer add through a pointer it keeps. With metrics off the
 * registry is NULL, every family and series is NULL, and each update is one
 * predictable branch. Both services are single-threaded; a thread that counts
 * (ptyd's recorder) keeps its own atomics and copies them in from a collect
 * callback.
 */
#ifndef WEBSHELL_METRICS_H
#define WEBSHELL_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

/* Label names per family, buckets per histogram, series per family. */
#define METRIC_LABELS_MAX 4
#define METRIC_BUCKETS_MAX 20
#define METRIC_SERIES_MAX 256

struct metrics;
struct metric_family;

/* One series: a family's value for one set of label values. */
struct metric {
	struct metric *next;
	struct metric_family *family;
	char *labels[METRIC_LABELS_MAX];  /* label values (owned), as many as the family has */
	int64_t value;                    /* counter or gauge */
	uint64_t count;                   /* histogram: observations */
	uint64_t sum_ns;                  /* histogram: their sum, in ns */
	uint64_t buckets[METRIC_BUCKETS_MAX]; /* histogram: per bucket, not cumulative */
};

/*
 * A new, empty registry (caller frees with metrics_free), NULL when out of
 * memory. metrics_free(NULL) does nothing.
 */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *reg);

/*
 * Adds a family. name: [a-zA-Z_:][a-zA-Z0-9_:]* (counters end in _total by
 * convention: the caller's job), help: one line of text, labels: a
 * NULL-terminated list of label names (or NULL for none), buckets: a
 * histogram's upper bounds in seconds, increasing (+Inf is implied). Strings
 * are borrowed and must outlive the registry (literals). Returns the family,
 * or NULL when reg is NULL, on a bad argument or out of memory. A family
 * without labels has its one series from the start, so it shows as 0.
 */
struct metric_family *metrics_add(struct metrics *reg, enum metric_type type, const char *name,
				  const char *help, const char *const *labels,
				  const double *buckets, size_t nbuckets);

/*
 * The series of family f for these label values (as many as f has label
 * names), created at 0 on first use. The pointer stays valid for the
 * registry's life: keep it for hot paths. NULL when f is NULL, out of memory
 * or past METRIC_SERIES_MAX series (then the update is not counted).
 */
struct metric *metrics_series(struct metric_family *f, const char *const *values);

/* Shorthands for zero, one and two label values. */
struct metric *metrics_get(struct metric_family *f);
struct metric *metrics_get1(struct metric_family *f, const char *v1);
struct metric *metrics_get2(struct metric_family *f, const char *v1, const char *v2);

/* Updates; each is a no-op on NULL. */
static inline void metric_inc(struct metric *m)
{
	if (m != NULL)
		m->value++;
}

static inline void metric_add(struct metric *m, uint64_t n)
{
	if (m != NULL)
		m->value += (int64_t)n;
}

static inline void metric_dec(struct metric *m)
{
	if (m != NULL)
		m->value--;
}

static inline void metric_set(struct metric *m, int64_t v)
{
	if (m != NULL)
		m->value = v;
}

/* A histogram observation of ns nanoseconds. */
void metric_observe_ns(struct metric *m, uint64_t ns);

/* Nanoseconds on CLOCK_MONOTONIC, for timing an observation. */
uint64_t metrics_now_ns(void);

/*
 * Registers fn(arg) to run before each formatting, to set gauges from state
 * that is cheaper to read than to track (a table's size). Up to 4.
 * Returns 0, or -1 when reg is NULL or the slots are taken.
 */
int metrics_on_collect(struct metrics *reg, void (*fn)(void *arg), void *arg);

/*
 * The text exposition (format 0.0.4) of every family, in the order added:
 * HELP and TYPE lines, then one line per series (a histogram's _bucket lines
 * with le, _sum in seconds and _count). Runs the collect callbacks first.
 * Returns a NUL-terminated string the caller frees and its length in *len,
 * or NULL when out of memory.
 */
char *metrics_format(struct metrics *reg, size_t *len);

/* Buckets for sub-millisecond to second latencies, in seconds. */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_nbuckets;

#endif
