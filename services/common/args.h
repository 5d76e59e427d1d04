/*
 * args.h: bounded parsing of command-line values shared by both services
 * (numbers in a range, listen addresses), strtonum-style: no bare atoi.
 */
#ifndef WEBSHELL_ARGS_H
#define WEBSHELL_ARGS_H

#include <stddef.h>

/*
 * Parses a decimal integer in [min, max] from the whole of s. Returns 0 and
 * sets *out, or -1 and sets *errstr to "invalid", "too small" or "too large".
 */
int args_parse_number(const char *s, long long min, long long max, long long *out,
		      const char **errstr);

/* Where a service listens. */
struct listen_addr {
	int is_unix;    /* 1: path is set; 0: host and port are */
	char host[64];  /* numeric IPv4 or IPv6 address, brackets removed */
	int port;       /* 1..65535 */
	char path[108]; /* unix socket path (sun_path size) */
};

/*
 * Parses "ADDR:PORT", "[V6ADDR]:PORT" or, when allow_unix, "unix:PATH".
 * ADDR must be a numeric address (no name lookups at start-up). Returns 0, or
 * -1 with *errstr naming what is wrong.
 */
int args_parse_listen(const char *s, int allow_unix, struct listen_addr *out,
		      const char **errstr);

#endif
