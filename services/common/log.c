/*
 * log.c: stderr logging for both services: free-form lines, structured event
 * lines in text or JSON, escaping of untrusted strings, and the bridge that
 * sends libwebsockets' own messages through the same path.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

/* Longest line we write; longer values are cut by log_escape(). */
#define LOG_LINE_MAX 4096
/* Longest single escaped value. */
#define LOG_VALUE_MAX 1024

static const char *log_progname = "web-shell";
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static int log_verbose;

void log_init(const char *progname, enum log_format format, int verbose)
{
	log_progname = progname;
	log_fmt = format;
	log_verbose = verbose;
}

int log_format_parse(const char *name, enum log_format *out)
{
	if (strcmp(name, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

/* Appends esc (n bytes) at *o unless it and a possible ellipsis no longer fit. */
static int put_escape(char *dst, size_t dstlen, size_t *o, const char *esc, size_t n)
{
	static const char ellipsis[] = "...";

	/* Keep room for the ellipsis and the NUL in case more follows. */
	if (*o + n + sizeof(ellipsis) > dstlen) {
		if (dstlen >= sizeof(ellipsis)) {
			size_t at = *o < dstlen - sizeof(ellipsis) ? *o : dstlen - sizeof(ellipsis);
			memcpy(dst + at, ellipsis, sizeof(ellipsis));
		} else {
			dst[0] = '\0';
		}
		return -1;
	}
	memcpy(dst + *o, esc, n);
	*o += n;
	return 0;
}

char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t o = 0, i;

	if (dstlen == 0)
		return dst;
	for (i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		char esc[5];
		size_t n;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c == '\n') {
			memcpy(esc, "\\n", 2);
			n = 2;
		} else if (c < 0x20 || c > 0x7e) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			n = 4;
		} else {
			esc[0] = (char)c;
			n = 1;
		}
		if (put_escape(dst, dstlen, &o, esc, n) != 0)
			return dst;
	}
	dst[o] = '\0';
	return dst;
}

/*
 * Decodes one UTF-8 sequence at s (n bytes available): returns its length and
 * sets *cp, or 0 when it is not well-formed (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned long *cp)
{
	size_t len, i;
	unsigned long v, min;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2, v = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, v = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4, v = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

char *log_escape_json(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, i = 0;

	if (dstlen == 0)
		return dst;
	while (i < srclen) {
		unsigned char c = s[i];
		unsigned long cp;
		char esc[16];
		size_t n, used = 1;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[0] = '\\';
			esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
		} else if (c < 0x80) {
			esc[0] = (char)c;
			n = 1;
		} else if ((used = utf8_decode(s + i, srclen - i, &cp)) == 0) {
			used = 1;
			n = (size_t)snprintf(esc, sizeof(esc), "\\ufffd");
		} else if (cp > 0xffff) {
			cp -= 0x10000;
			n = (size_t)snprintf(esc, sizeof(esc), "\\u%04lx\\u%04lx", 0xd800 + (cp >> 10),
					     0xdc00 + (cp & 0x3ff));
		} else {
			n = (size_t)snprintf(esc, sizeof(esc), "\\u%04lx", cp);
		}
		if (put_escape(dst, dstlen, &o, esc, n) != 0)
			return dst;
		i += used;
	}
	dst[o] = '\0';
	return dst;
}

/* Appends printf output to line at *len, never past cap. */
static void line_append(char *line, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void line_append(char *line, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

/* Now as "2026-12-02T06:05:01.123Z". */
static void log_timestamp(char *dst, size_t cap)
{
	struct timespec now;
	struct tm tm;
	char base[24];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(dst, cap, "%.19s.%03uZ", base, (unsigned int)(now.tv_nsec / 1000000) % 1000);
}

/* A value is bare in text lines when it has no space, quote or '='. */
static int text_needs_quotes(const char *escaped)
{
	return escaped[0] == '\0' || strpbrk(escaped, " \"=") != NULL;
}

static void log_write_line(const char *line);

void log_event(const char *event, const struct log_field *fields, size_t nfields)
{
	char line[LOG_LINE_MAX];
	char value[LOG_VALUE_MAX];
	size_t len = 0, i;

	if (log_fmt == LOG_FORMAT_JSON) {
		char ts[40];

		/* Outside journald nothing else dates the line: RFC 3339, UTC, milliseconds. */
		log_timestamp(ts, sizeof(ts));
		line_append(line, sizeof(line), &len,
			    "{\"time\":\"%s\",\"service\":\"%s\",\"event\":\"%s\"", ts,
			    log_progname, event);
	}
	else
		line_append(line, sizeof(line), &len, "%s: %s", log_progname, event);

	for (i = 0; i < nfields; i++) {
		if (fields[i].value == NULL)
			continue;
		if (log_fmt == LOG_FORMAT_JSON) {
			log_escape_json(value, sizeof(value), fields[i].value,
					strlen(fields[i].value));
			/* A member that would not fit whole is left out: the line stays JSON. */
			if (len + strlen(fields[i].key) + strlen(value) + 8 >= sizeof(line))
				continue;
			line_append(line, sizeof(line), &len, ",\"%s\":\"%s\"", fields[i].key, value);
		} else {
			log_escape(value, sizeof(value), fields[i].value, strlen(fields[i].value));
			if (text_needs_quotes(value))
				line_append(line, sizeof(line), &len, " %s=\"%s\"", fields[i].key, value);
			else
				line_append(line, sizeof(line), &len, " %s=%s", fields[i].key, value);
		}
	}
	if (log_fmt == LOG_FORMAT_JSON)
		line_append(line, sizeof(line), &len, "}");
	log_write_line(line);
}

/* Where every line goes: the sink when one is set, else stderr. */
static log_sink_fn log_sink;

void log_set_sink(log_sink_fn sink)
{
	log_sink = sink;
}

static void log_write_line(const char *line)
{
	if (log_sink != NULL) {
		log_sink(line, strlen(line));
		return;
	}
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

/* Free-form lines go through log_event() so JSON output stays one object a line. */
static void log_vmessage(const char *level, const char *fmt, va_list ap, int with_errno)
{
	char msg[LOG_VALUE_MAX];
	int saved = errno;
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	}
	if (log_fmt == LOG_FORMAT_JSON) {
		struct log_field f[] = { { "msg", msg } };
		log_event(level, f, 1);
	} else {
		/* Text lines keep messages readable: our own text is not escaped. */
		char line[LOG_LINE_MAX];
		snprintf(line, sizeof(line), "%s: %s%s%s", log_progname,
			 strcmp(level, "info") == 0 ? "" : level,
			 strcmp(level, "info") == 0 ? "" : ": ", msg);
		log_write_line(line);
	}
	errno = saved;
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmessage("info", fmt, ap, 0);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;
	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vmessage("debug", fmt, ap, 0);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmessage("warning", fmt, ap, 0);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmessage("warning", fmt, ap, 1);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmessage("error", fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmessage("error", fmt, ap, 0);
	va_end(ap);
	exit(1);
}

static void lws_emit(int level, const char *line)
{
	char msg[LOG_VALUE_MAX];
	size_t len = strlen(line);

	/* lws lines end in '\n' and may carry its own timestamp prefix. */
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len >= sizeof(msg))
		len = sizeof(msg) - 1;
	memcpy(msg, line, len);
	msg[len] = '\0';
	if (level & LLL_ERR)
		log_warnx("libwebsockets: %s", msg);
	else if (level & LLL_WARN)
		log_warnx("libwebsockets: %s", msg);
	else
		log_debug("libwebsockets: %s", msg);
}

void log_route_lws(void)
{
	int levels = LLL_ERR | LLL_WARN;

	if (log_verbose)
		levels |= LLL_NOTICE;
	lws_set_log_level(levels, lws_emit);
}
