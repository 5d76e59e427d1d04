/*
 * tests/unit/tap.h: TAP output for the C unit tests, the one copy every
 * test_*.c includes (tests/run.sh counts the lines it prints):
 *
 *   ok(cond, "name %d", i);     "ok N - name 1" or "not ok N - name 1"; returns cond
 *   tap_skip("name", "why");    "ok N - name # SKIP why"
 *   return tap_done();          the plan "1..N"; the exit status (1 if anything failed)
 *
 * Header only: each test is one translation unit.
 */
#ifndef WEBSHELL_TESTS_TAP_H
#define WEBSHELL_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

/* Flushed at once: a crash later still leaves every line before it. */
__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

__attribute__((unused))
static void tap_skip(const char *name, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_n, name, why);
	fflush(stdout);
}

__attribute__((unused))
static int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
