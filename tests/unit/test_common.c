/*
 * test_common.c: unit tests (TAP) of services/common's pure parts: the
 * library version --version prints, the X-Forwarded-For rule both services
 * log by, and the text and JSON escaping of log values (JSON lines read back
 * through cJSON).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "args.h"
#include "httpreply.h"
#include "log.h"
#include "reqid.h"


static void test_version(void)
{
	char v[32];
	size_t i;
	int clean = 1;

	args_lws_version(v, sizeof(v));
	for (i = 0; v[i]; i++)
		clean &= isdigit((unsigned char)v[i]) || v[i] == '.';
	ok(clean && v[0] != '\0' && v[strlen(v) - 1] != '.',
	   "library version is the release number only (\"%s\")", v);
}

static void xff(const char *in, const char *want)
{
	char out[64];
	int rc = http_xff_last(in, strlen(in), out, sizeof(out));

	ok(want == NULL ? rc == -1 && out[0] == '\0' : rc == 0 && strcmp(out, want) == 0,
	   "X-Forwarded-For \"%s\" -> %s", in, want ? want : "(not used)");
}

static void test_xff(void)
{
	xff("192.0.2.1", "192.0.2.1");
	xff("192.0.2.1, 198.51.100.20", "198.51.100.20");
	xff("spoofed , 198.51.100.20 ", "198.51.100.20");
	xff("2001:db8::1", "2001:db8::1");
	xff("192.0.2.1,", NULL);
	xff("a\tb", NULL);
	xff("198.51.100.20:443", NULL);
	xff("", NULL);
	xff("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
}

/* Escapes src as JSON, parses "\"...\"" with cJSON, compares with want. */
static void json_round(const char *src, size_t len, const char *want, const char *name)
{
	char esc[256], doc[300];
	cJSON *j;

	log_escape_json(esc, sizeof(esc), src, len);
	snprintf(doc, sizeof(doc), "\"%s\"", esc);
	j = cJSON_Parse(doc);
	ok(j != NULL && cJSON_IsString(j) && strcmp(j->valuestring, want) == 0,
	   "json escape: %s (%s)", name, esc);
	cJSON_Delete(j);
}

static void test_json_escape(void)
{
	char esc[32];
	size_t i;
	int ascii = 1;

	json_round("C:\\x41", 6, "C:\\x41", "a backslash before x stays a backslash");
	json_round("a\\u0041", 7, "a\\u0041", "a backslash before u stays a backslash");
	json_round("q\"\n\t\r\x01", 6, "q\"\n\t\r\x01", "quote and control bytes");
	json_round("zo\xc3\xab \xf0\x9f\x98\x80", 9, "zo\xc3\xab \xf0\x9f\x98\x80",
		   "UTF-8, also above U+FFFF");
	json_round("bad\xff\xc3", 5, "bad\xef\xbf\xbd\xef\xbf\xbd", "invalid UTF-8 as U+FFFD");
	json_round("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
		   "an encoded surrogate is invalid");
	log_escape_json(esc, sizeof(esc),
			"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 15);
	for (i = 0; esc[i]; i++)
		ascii &= (unsigned char)esc[i] < 0x80;
	ok(ascii && strcmp(esc, "\\u20ac\\u20ac\\u20ac\\u20ac...") == 0 && strlen(esc) < sizeof(esc),
	   "json escape: cut at a whole escape, then ... (%s)", esc);
	log_escape(esc, sizeof(esc), "a\\x41\x01", 6);
	ok(strcmp(esc, "a\\\\x41\\x01") == 0, "text escape: backslash doubled, control as \\xHH (%s)",
	   esc);
}

/* log_event in JSON into a file: each line must parse and keep the values exactly. */
static void test_json_line(void)
{
	char path[] = "/tmp/test_common.XXXXXX", line[8192];
	int fd = mkstemp(path), saved = dup(2);
	FILE *f;
	cJSON *j = NULL;
	const cJSON *v;

	if (fd < 0 || saved < 0) {
		ok(0, "json log line: temp file");
		return;
	}
	dup2(fd, 2);
	log_init("test", LOG_FORMAT_JSON, 0);
	struct log_field fields[] = {
		{ "sub", "C:\\xff\\x00 \"q\"" },
		{ "skipped", NULL },
		{ "ua", "ctl\x1b[31m \xc3\xa9" },
	};
	log_event("decision", fields, 3);
	log_warnx("path %s", "D:\\x");
	{
		/* Eight values of 1,000 control bytes: each escapes to 6,000 characters, cut to 1 KiB. */
		static char big[1001];
		struct log_field many[8];
		size_t m;

		memset(big, 0x01, 1000);
		for (m = 0; m < 8; m++)
			many[m] = (struct log_field){ "v", big };
		log_event("big", many, 8);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log_init("test", LOG_FORMAT_TEXT, 0);
	f = fdopen(fd, "r");
	rewind(f);
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		j = cJSON_Parse(line);
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "sub");
	ok(cJSON_IsString(v) && strcmp(v->valuestring, "C:\\xff\\x00 \"q\"") == 0,
	   "json log line: a value with \\x keeps it (%s)", line);
	v = cJSON_GetObjectItemCaseSensitive(j, "ua");
	ok(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "time")) &&
	   strlen(cJSON_GetObjectItemCaseSensitive(j, "time")->valuestring) == 24 &&
	   strcmp(cJSON_GetObjectItemCaseSensitive(j, "service")->valuestring, "test") == 0,
	   "json log line: time (RFC 3339 UTC, ms) and service first");
	ok(cJSON_IsString(v) && strcmp(v->valuestring, "ctl\x1b[31m \xc3\xa9") == 0 &&
	   cJSON_GetObjectItemCaseSensitive(j, "skipped") == NULL &&
	   strcmp(cJSON_GetObjectItemCaseSensitive(j, "event")->valuestring, "decision") == 0,
	   "json log line: control bytes and UTF-8 kept, NULL fields left out");
	cJSON_Delete(j);
	j = NULL;
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		j = cJSON_Parse(line);
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "msg");
	ok(cJSON_IsString(v) && strcmp(v->valuestring, "path D:\\x") == 0,
	   "json log line: a free-form message with \\x keeps it (%s)", line);
	cJSON_Delete(j);
	j = NULL;
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		j = cJSON_Parse(line);
	}
	ok(j != NULL && strcmp(cJSON_GetObjectItemCaseSensitive(j, "event")->valuestring, "big") == 0,
	   "json log line: values too long for one line leave members out, the line stays JSON "
	   "(%zu bytes)", strlen(line));
	cJSON_Delete(j);
	fclose(f);
	unlink(path);
}

static void test_reqid(void)
{
	char a[REQID_LEN + 1], b[REQID_LEN + 1];
	size_t i;
	int hex = 1;

	reqid_new(a);
	reqid_new(b);
	for (i = 0; i < REQID_LEN; i++)
		hex &= (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f');
	ok(strlen(a) == REQID_LEN && hex && strcmp(a, b) != 0, "request ids: 32 hex digits, fresh each time");
	ok(reqid_valid(a, strlen(a)) && reqid_valid("caddy-0123.x_y", 14), "request ids: ours and a proxy's are valid");
	ok(!reqid_valid("short", 5) && !reqid_valid("has space 12", 12) && !reqid_valid("semi;colon12", 12) &&
	   !reqid_valid("a\nbcdefghij", 11), "request ids: short ones, spaces, ';' and newlines are not");
}

/* Ids come from a pool of random bytes: none repeats across refills, nor in a forked child. */
static void test_reqid_pool(void)
{
	static char ids[300][REQID_LEN + 1];
	char child[REQID_LEN + 1] = "", next[REQID_LEN + 1];
	int i, j, dup = 0, fds[2], status;
	pid_t pid;

	for (i = 0; i < 300; i++) {
		reqid_new(ids[i]);
		for (j = 0; j < i; j++)
			dup |= strcmp(ids[i], ids[j]) == 0;
	}
	ok(!dup, "request ids: 300 in a row, all different (the pool refills)");
	if (pipe(fds) != 0)
		return;
	pid = fork();
	if (pid == 0) {
		reqid_new(child);
		_exit(write(fds[1], child, REQID_LEN) == REQID_LEN ? 0 : 1);
	}
	close(fds[1]);
	reqid_new(next);
	ok(pid > 0 && read(fds[0], child, REQID_LEN) == REQID_LEN && waitpid(pid, &status, 0) == pid &&
	   strcmp(child, next) != 0, "request ids: a forked child does not make its parent's next id");
	close(fds[0]);
}

int main(void)
{
	test_reqid();
	test_reqid_pool();
	test_version();
	test_xff();
	test_json_escape();
	test_json_line();
	return tap_done();
}
