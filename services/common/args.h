/*
 * args.h: the command line of both services: bounded parsing of values
 * (numbers in a range, listen addresses; strtonum-style, no bare atoi) and the
 * one way to answer --help, --version and a bad flag (usage, exit 2).
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

/*
 * Names the program and its usage text (kept, not copied) for the calls
 * below. Call first thing in main().
 */
void args_program(const char *name, const char *usage);

/* --help / -h: the usage on stdout, exit 0. */
_Noreturn void args_help(void);

/* A bad flag: "NAME: message" and the usage on stderr, exit 2. */
_Noreturn void args_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* getopt_long's ':' (missing value) or '?' (unknown option): args_usage_error(). */
_Noreturn void args_getopt_error(int c, char **argv);

/* --version: "NAME VERSION (libwebsockets X.Y.Z)" on stdout, exit 0. */
_Noreturn void args_version(const char *version);

/*
 * lws_get_library_version() without its build suffix ("4.1.6-" or
 * "4.1.6-v4.1.6-12-gabc" become "4.1.6"), into dst (cap bytes). Returns dst.
 */
char *args_lws_version(char *dst, size_t cap);

/* A flag's number in [min, max], or args_usage_error() naming flag and range. */
long long args_number_flag(const char *flag, const char *s, long long min, long long max);

#endif
