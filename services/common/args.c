/*
 * args.c: the services' command line: bounded numbers and listen addresses,
 * usage and help, version, and flag errors (exit 2).
 */
#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

static const char *args_name = "web-shell";
static const char *args_usage = "";

void args_program(const char *name, const char *usage)
{
	args_name = name;
	args_usage = usage;
}

void args_help(void)
{
	fputs(args_usage, stdout);
	exit(0);
}

void args_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", args_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", args_usage);
	exit(2);
}

void args_getopt_error(int c, char **argv)
{
	/* A short option in a cluster ("-vx") is named by optopt, not argv. */
	if (optopt != 0 && optopt < 256)
		args_usage_error("-%c: %s", optopt, c == ':' ? "needs a value" : "unknown option");
	args_usage_error("%s: %s", argv[optind - 1], c == ':' ? "needs a value" : "unknown option");
}

char *args_lws_version(char *dst, size_t cap)
{
	const char *v = lws_get_library_version();
	size_t n = strspn(v, "0123456789.");

	/* The release number only: lws appends "-" and its git describe. */
	while (n > 0 && v[n - 1] == '.')
		n--;
	snprintf(dst, cap, "%.*s", (int)n, v);
	return dst;
}

void args_version(const char *version)
{
	char lws[32];

	printf("%s %s (libwebsockets %s)\n", args_name, version,
	       args_lws_version(lws, sizeof(lws)));
	exit(0);
}

long long args_number_flag(const char *flag, const char *s, long long min, long long max)
{
	const char *errstr;
	long long v;

	if (args_parse_number(s, min, max, &v, &errstr) != 0)
		args_usage_error("%s %s: %s (allowed %lld..%lld)", flag, s, errstr, min, max);
	return v;
}

int args_parse_number(const char *s, long long min, long long max, long long *out,
		      const char **errstr)
{
	char *end;
	long long v;

	/* strtoll accepts leading space and '+': flags take plain digits only. */
	if (s == NULL || *s == '\0' || !(*s == '-' || (*s >= '0' && *s <= '9'))) {
		*errstr = "invalid";
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		*errstr = "invalid";
		return -1;
	}
	if ((errno == ERANGE && v == LLONG_MIN) || v < min) {
		*errstr = "too small";
		return -1;
	}
	if ((errno == ERANGE && v == LLONG_MAX) || v > max) {
		*errstr = "too large";
		return -1;
	}
	*out = v;
	return 0;
}

int args_parse_listen(const char *s, int allow_unix, struct listen_addr *out,
		      const char **errstr)
{
	const char *colon, *host, *port;
	size_t hostlen;
	long long p;
	unsigned char buf[sizeof(struct in6_addr)];

	memset(out, 0, sizeof(*out));
	if (strncmp(s, "unix:", 5) == 0) {
		if (!allow_unix) {
			*errstr = "unix sockets are not supported here";
			return -1;
		}
		if (s[5] != '/') {
			*errstr = "unix socket path must be absolute";
			return -1;
		}
		if (strlen(s + 5) >= sizeof(out->path)) {
			*errstr = "unix socket path too long";
			return -1;
		}
		out->is_unix = 1;
		strcpy(out->path, s + 5);
		return 0;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':') {
			*errstr = "expected [IPV6]:PORT";
			return -1;
		}
		host = s + 1;
		hostlen = (size_t)(close - host);
		port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			*errstr = "expected ADDR:PORT";
			return -1;
		}
		host = s;
		hostlen = (size_t)(colon - s);
		port = colon + 1;
	}
	if (hostlen == 0 || hostlen >= sizeof(out->host)) {
		*errstr = "bad address";
		return -1;
	}
	memcpy(out->host, host, hostlen);
	out->host[hostlen] = '\0';
	if (inet_pton(AF_INET, out->host, buf) != 1 && inet_pton(AF_INET6, out->host, buf) != 1) {
		*errstr = "address must be a numeric IPv4 or IPv6 address";
		return -1;
	}
	if (args_parse_number(port, 1, 65535, &p, errstr) != 0) {
		*errstr = "port must be a number from 1 to 65535";
		return -1;
	}
	out->port = (int)p;
	return 0;
}
