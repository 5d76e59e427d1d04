/*
 * log.h: the one log module both services share. Lines go to stderr (journald
 * adds the time), as text ("event key=value ...") or as one JSON object a line.
 * Untrusted strings are escaped here, so callers pass them raw.
 */
#ifndef WEBSHELL_LOG_H
#define WEBSHELL_LOG_H

#include <stddef.h>

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

/* One key/value of a structured line; a NULL value is left out of the line. */
struct log_field {
	const char *key;   /* a literal: [a-z_]+, never escaped */
	const char *value; /* any bytes up to NUL: escaped on output */
};

/*
 * Sets the program name and the line format. verbose > 0 lets log_debug()
 * through. May be called again (e.g. after flags are parsed).
 */
void log_init(const char *progname, enum log_format format, int verbose);

/* Parses "text" or "json" into *out; returns 0, or -1 for anything else. */
int log_format_parse(const char *name, enum log_format *out);

/*
 * One structured line: the event name, then the fields in order. Fields with
 * a NULL value are skipped. This is how decisions and session events are logged.
 */
void log_event(const char *event, const struct log_field *fields, size_t nfields);

/* Free-form lines, printf-checked: info, debug (only when verbose), warnings. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* As log_warnx(), followed by ": strerror(errno)". */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Start-up failures: log the message (fatal() adds strerror(errno)) and exit
 * with status 1. Never used for a peer's fault at run time.
 */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Writes src (srclen bytes, which may hold NULs) into dst as printable ASCII:
 * '"', '\\' and bytes outside 0x20..0x7e become \" \\ \n \xHH. dst always ends
 * with NUL; output that does not fit is cut and ends with "...". Returns dst.
 */
char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

/*
 * As log_escape(), for a JSON string's contents (RFC 8259 section 7): '"' and
 * '\\' escaped, \n \r \t short, other control bytes \u00XX, valid UTF-8
 * as \uXXXX (surrogate pairs above U+FFFF) so lines stay ASCII, and each byte
 * of invalid UTF-8 as \ufffd. Output cut at a whole escape, then "...".
 */
char *log_escape_json(char *dst, size_t dstlen, const char *src, size_t srclen);

/*
 * Sends every line (without its newline) to sink instead of stderr: a
 * service whose loop must never wait on its log reader queues them there
 * (ptyd's logsink.c). NULL: back to stderr.
 */
typedef void (*log_sink_fn)(const char *line, size_t len);
void log_set_sink(log_sink_fn sink);

/*
 * Routes libwebsockets' own errors and warnings through this module, so a
 * service writes one format only. Call after log_init().
 */
void log_route_lws(void);

#endif
