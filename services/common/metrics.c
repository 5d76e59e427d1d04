/*
 * metrics.c: the registry and the Prometheus text exposition (format 0.0.4):
 * families in the order added, series in the order first used.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLLECT_MAX 4

struct metric_family {
	struct metric_family *next;
	enum metric_type type;
	const char *name;
	const char *help;
	const char *labels[METRIC_LABELS_MAX];
	size_t nlabels;
	uint64_t bounds_ns[METRIC_BUCKETS_MAX]; /* histogram upper bounds */
	double bounds[METRIC_BUCKETS_MAX];      /* the same in seconds, for le="" */
	size_t nbuckets;
	struct metric *series, **tail;
	size_t nseries;
};

struct metrics {
	struct metric_family *families, **tail;
	void (*collect[COLLECT_MAX])(void *);
	void *collect_arg[COLLECT_MAX];
	size_t ncollect;
};

const double metrics_latency_buckets[] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25, 0.5, 1, 2.5,
};
const size_t metrics_latency_nbuckets =
	sizeof(metrics_latency_buckets) / sizeof(metrics_latency_buckets[0]);

struct metrics *metrics_new(void)
{
	struct metrics *reg = calloc(1, sizeof(*reg));

	if (reg != NULL)
		reg->tail = &reg->families;
	return reg;
}

static void series_free(struct metric *m)
{
	size_t i;

	for (i = 0; i < METRIC_LABELS_MAX; i++)
		free(m->labels[i]);
	free(m);
}

void metrics_free(struct metrics *reg)
{
	struct metric_family *f, *fnext;
	struct metric *m, *mnext;

	if (reg == NULL)
		return;
	for (f = reg->families; f != NULL; f = fnext) {
		fnext = f->next;
		for (m = f->series; m != NULL; m = mnext) {
			mnext = m->next;
			series_free(m);
		}
		free(f);
	}
	free(reg);
}

/* Metric and label names per the data model: [a-zA-Z_:][a-zA-Z0-9_:]* (no ':' in labels). */
static int valid_name(const char *s, int colon)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (colon && c == ':') || (i > 0 && c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

struct metric_family *metrics_add(struct metrics *reg, enum metric_type type, const char *name,
				  const char *help, const char *const *labels,
				  const double *buckets, size_t nbuckets)
{
	struct metric_family *f;
	size_t i;

	if (reg == NULL || !valid_name(name, 1) || help == NULL || strchr(help, '\n') != NULL)
		return NULL;
	if (type == METRIC_HISTOGRAM ? (nbuckets == 0 || nbuckets > METRIC_BUCKETS_MAX)
				     : nbuckets != 0)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->type = type;
	f->name = name;
	f->help = help;
	f->tail = &f->series;
	for (i = 0; labels != NULL && labels[i] != NULL; i++) {
		/* "le" is the histogram's own label; names starting "__" are reserved. */
		if (i == METRIC_LABELS_MAX || !valid_name(labels[i], 0) ||
		    strncmp(labels[i], "__", 2) == 0 || strcmp(labels[i], "le") == 0)
			goto bad;
		f->labels[i] = labels[i];
	}
	f->nlabels = i;
	for (i = 0; i < nbuckets; i++) {
		if (!(buckets[i] > 0) || (i > 0 && !(buckets[i] > buckets[i - 1])) ||
		    buckets[i] > 1e9)
			goto bad;
		f->bounds[i] = buckets[i];
		f->bounds_ns[i] = (uint64_t)(buckets[i] * 1e9 + 0.5);
	}
	f->nbuckets = nbuckets;
	*reg->tail = f;
	reg->tail = &f->next;
	if (f->nlabels == 0)
		metrics_series(f, NULL);
	return f;
bad:
	free(f);
	return NULL;
}

struct metric *metrics_series(struct metric_family *f, const char *const *values)
{
	struct metric *m;
	size_t i;

	if (f == NULL)
		return NULL;
	for (i = 0; i < f->nlabels; i++)
		if (values == NULL || values[i] == NULL)
			return NULL;
	for (m = f->series; m != NULL; m = m->next) {
		for (i = 0; i < f->nlabels; i++)
			if (strcmp(m->labels[i], values[i]) != 0)
				break;
		if (i == f->nlabels)
			return m;
	}
	if (f->nseries == METRIC_SERIES_MAX)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->family = f;
	for (i = 0; i < f->nlabels; i++) {
		m->labels[i] = strdup(values[i]);
		if (m->labels[i] == NULL) {
			series_free(m);
			return NULL;
		}
	}
	*f->tail = m;
	f->tail = &m->next;
	f->nseries++;
	return m;
}

/* The shorthands check the label count: metrics_series() would read past their arrays. */
struct metric *metrics_get(struct metric_family *f)
{
	return f != NULL && f->nlabels == 0 ? metrics_series(f, NULL) : NULL;
}

struct metric *metrics_get1(struct metric_family *f, const char *v1)
{
	const char *v[] = { v1 };

	return f != NULL && f->nlabels == 1 ? metrics_series(f, v) : NULL;
}

struct metric *metrics_get2(struct metric_family *f, const char *v1, const char *v2)
{
	const char *v[] = { v1, v2 };

	return f != NULL && f->nlabels == 2 ? metrics_series(f, v) : NULL;
}

void metric_observe_ns(struct metric *m, uint64_t ns)
{
	const struct metric_family *f;
	size_t i;

	if (m == NULL || m->family->type != METRIC_HISTOGRAM)
		return;
	f = m->family;
	m->count++;
	m->sum_ns += ns;
	for (i = 0; i < f->nbuckets; i++)
		if (ns <= f->bounds_ns[i]) {
			m->buckets[i]++;
			break;
		}
}

uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int metrics_on_collect(struct metrics *reg, void (*fn)(void *arg), void *arg)
{
	if (reg == NULL || fn == NULL || reg->ncollect == COLLECT_MAX)
		return -1;
	reg->collect[reg->ncollect] = fn;
	reg->collect_arg[reg->ncollect] = arg;
	reg->ncollect++;
	return 0;
}

/* A growing output buffer; on allocation failure it stops and says so in failed. */
struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void out_grow(struct out *o, size_t need)
{
	size_t cap = o->cap ? o->cap : 4096;
	char *nb;

	while (cap - o->len < need)
		cap *= 2;
	nb = realloc(o->buf, cap);
	if (nb == NULL) {
		o->failed = 1;
		return;
	}
	o->buf = nb;
	o->cap = cap;
}

static void out_putc(struct out *o, char c)
{
	if (o->failed)
		return;
	if (o->cap - o->len < 2)
		out_grow(o, 2);
	if (!o->failed) {
		o->buf[o->len++] = c;
		o->buf[o->len] = '\0';
	}
}

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->failed = 1;
		return;
	}
	if (o->buf == NULL || (size_t)n >= o->cap - o->len) {
		out_grow(o, (size_t)n + 1);
		if (o->failed)
			return;
		va_start(ap, fmt);
		vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
	}
	o->len += (size_t)n;
}

/*
 * Escapes per the format: in HELP text '\' and newline; in label values also
 * '"'. Bytes are otherwise copied (values are UTF-8 by convention; ours are
 * from fixed sets or already escaped by the caller).
 */
static void out_escaped(struct out *o, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			out_printf(o, "\\\\");
		else if (*s == '\n')
			out_printf(o, "\\n");
		else if (quote && *s == '"')
			out_printf(o, "\\\"");
		else
			out_putc(o, *s);
	}
}

/* {a="x",b="y"} plus, for a bucket line, le; nothing when there are no labels. */
static void out_labels(struct out *o, const struct metric *m, const char *le)
{
	const struct metric_family *f = m->family;
	size_t i;

	if (f->nlabels == 0 && le == NULL)
		return;
	out_putc(o, '{');
	for (i = 0; i < f->nlabels; i++) {
		out_printf(o, "%s%s=\"", i ? "," : "", f->labels[i]);
		out_escaped(o, m->labels[i], 1);
		out_putc(o, '"');
	}
	if (le != NULL)
		out_printf(o, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	out_putc(o, '}');
}

static void out_histogram(struct out *o, const struct metric *m)
{
	const struct metric_family *f = m->family;
	uint64_t cumulative = 0;
	char le[32];
	size_t i;

	for (i = 0; i < f->nbuckets; i++) {
		cumulative += m->buckets[i];
		snprintf(le, sizeof(le), "%g", f->bounds[i]);
		out_printf(o, "%s_bucket", f->name);
		out_labels(o, m, le);
		out_printf(o, " %llu\n", (unsigned long long)cumulative);
	}
	out_printf(o, "%s_bucket", f->name);
	out_labels(o, m, "+Inf");
	out_printf(o, " %llu\n", (unsigned long long)m->count);
	out_printf(o, "%s_sum", f->name);
	out_labels(o, m, NULL);
	out_printf(o, " %llu.%09llu\n", (unsigned long long)(m->sum_ns / 1000000000u),
		   (unsigned long long)(m->sum_ns % 1000000000u));
	out_printf(o, "%s_count", f->name);
	out_labels(o, m, NULL);
	out_printf(o, " %llu\n", (unsigned long long)m->count);
}

char *metrics_format(struct metrics *reg, size_t *len)
{
	static const char *const type_names[] = { "counter", "gauge", "histogram" };
	const struct metric_family *f;
	const struct metric *m;
	struct out o = { NULL, 0, 0, 0 };
	size_t i;

	out_grow(&o, 1);
	if (o.failed)
		return NULL;
	o.buf[0] = '\0';
	if (reg != NULL)
		for (i = 0; i < reg->ncollect; i++)
			reg->collect[i](reg->collect_arg[i]);
	for (f = reg != NULL ? reg->families : NULL; f != NULL; f = f->next) {
		out_printf(&o, "# HELP %s ", f->name);
		out_escaped(&o, f->help, 0);
		out_printf(&o, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
		for (m = f->series; m != NULL; m = m->next) {
			if (f->type == METRIC_HISTOGRAM) {
				out_histogram(&o, m);
				continue;
			}
			out_printf(&o, "%s", f->name);
			out_labels(&o, m, NULL);
			out_printf(&o, " %lld\n", (long long)m->value);
		}
	}
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
