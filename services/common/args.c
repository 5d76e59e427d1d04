/*
 * args.c: bounded number and listen-address parsing for the services' flags.
 */
#include "args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

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
