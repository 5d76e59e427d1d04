/*
 * verify_metrics.h: jwt-verify's metrics (services/common/metrics.h): decisions
 * by result and reason, verification time, keys loaded, replay cache size,
 * key reloads. Until verify_metrics_init() runs (no --metrics) every call is
 * a no-op.
 */
#ifndef JWT_VERIFY_METRICS_H
#define JWT_VERIFY_METRICS_H

#include <time.h>

#include "http.h"
#include "metrics.h"

/* Adds jwt-verify's families to reg; v is read at each scrape. Returns 0 or -1. */
int verify_metrics_init(struct metrics *reg, const struct verifier *v);

/* One decision: its HTTP status, its reason (a static string), when the request began (CLOCK_MONOTONIC). */
void verify_metrics_decision(unsigned int status, const char *reason, const struct timespec *start);

/* A SIGHUP reload: ok 1 when the new key set replaced the old one. */
void verify_metrics_reload(int ok);

#endif
