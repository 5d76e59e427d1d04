/*
 * test_execproto.c: TAP tests of webshell-exec.v1's pure code: headers,
 * acks, start requests and their limits, cancel and end-session payloads,
 * status, hello and error JSON, the audit hash and text. Every input ends
 * right before a PROT_NONE page, so an over-read crashes the test.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "../../services/ptyd/execproto.h"


/* The last guarded region; unmapped by the next call. */
static char *g_base;
static size_t g_size;

/* Copies len bytes so that they end exactly at a PROT_NONE page. */
static const char *guarded(const char *s, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (len + page - 1) / page * page;

	if (g_base != NULL)
		munmap(g_base, g_size);
	g_size = data + page;
	g_base = mmap(NULL, g_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g_base == MAP_FAILED || mprotect(g_base + data, page, PROT_NONE) != 0) {
		perror("mmap");
		exit(2);
	}
	memcpy(g_base + data - len, s, len);
	return g_base + data - len;
}

/* parse_start on a guarded copy of a C string; why goes to the caller. */
static int start(const char *json, struct execproto_start *st, char *why, size_t cap)
{
	size_t len = strlen(json);

	return execproto_parse_start(guarded(json, len), len, st, why, cap);
}

static void test_header(void)
{
	struct execproto_header h;
	const char *why = NULL;
	unsigned char b[5];

	execproto_put_header(b, EXEC_CH_START, 0x01020304u);
	ok(b[0] == 16 && b[1] == 1 && b[2] == 2 && b[3] == 3 && b[4] == 4,
	   "header: channel then big-endian id");
	ok(execproto_parse_header((const unsigned char *)guarded((char *)b, 5), &h, &why) == 0 &&
	   h.channel == 16 && h.id == 0x01020304u, "header: parsed back");
	execproto_put_header(b, EXEC_CH_STDIN, 0xffffffffu);
	ok(execproto_parse_header(b, &h, &why) == 0 && h.id == 0xffffffffu, "header: id 2^32-1");
	execproto_put_header(b, EXEC_CH_STDOUT, 7);
	ok(execproto_parse_header(b, &h, &why) == -1 && strstr(why, "channel"),
	   "header: stdout is not a client channel");
	execproto_put_header(b, EXEC_CH_HELLO, 0);
	ok(execproto_parse_header(b, &h, &why) == -1, "header: hello is not a client channel");
	execproto_put_header(b, 200, 1);
	ok(execproto_parse_header(b, &h, &why) == -1, "header: unknown channel 200");
	execproto_put_header(b, EXEC_CH_START, 0);
	ok(execproto_parse_header(b, &h, &why) == -1 && strstr(why, "id 0"),
	   "header: start with id 0 refused");
	execproto_put_header(b, EXEC_CH_SESSIONS, 0);
	ok(execproto_parse_header(b, &h, &why) == 0, "header: sessions with id 0 allowed");
}

static void test_ack(void)
{
	const char *why = NULL;
	uint32_t v = 0;

	ok(execproto_parse_ack((const unsigned char *)guarded("\0\1\0\0", 4), 4, &v, &why) == 0 &&
	   v == 65536, "ack: 4-byte increment");
	ok(execproto_parse_ack((const unsigned char *)guarded("\0\0\0\0", 4), 4, &v, &why) == -1,
	   "ack: zero refused");
	ok(execproto_parse_ack((const unsigned char *)guarded("\0\1\0", 3), 3, &v, &why) == -1,
	   "ack: 3 bytes refused");
	ok(execproto_parse_ack((const unsigned char *)guarded("\0\0\0\1\0", 5), 5, &v, &why) == -1,
	   "ack: 5 bytes refused");
}

static void test_start_ok(void)
{
	struct execproto_start st;
	char why[256];
	int rc;

	rc = start("{\"argv\":[\"ls\",\"-l\",\"\"]}", &st, why, sizeof(why));
	ok(rc == 0 && st.argc == 3 && strcmp(st.argv[0], "ls") == 0 && st.argv[2][0] == '\0' &&
	   st.argv[3] == NULL && st.shell == NULL && st.stdin_open == 1 && st.env[0] == NULL &&
	   st.cwd == NULL && st.timeout_ms == 0 && !st.has_pty && !st.login,
	   "start: argv with defaults");
	ok(rc == 0 && st.command_len == 7 && memcmp(st.command, "ls\0-l\0\0", 7) == 0,
	   "start: argv hashed as NUL-terminated elements");
	execproto_start_free(&st);

	rc = start("{\"shell\":\"echo hi | wc -c\",\"login\":true,\"stdin\":false,"
		   "\"env\":{\"A\":\"1\",\"_b2\":\"x=y\"},\"cwd\":\"/tmp\",\"timeoutMs\":1500,"
		   "\"pty\":{\"columns\":100,\"rows\":30},\"future\":[1]}", &st, why, sizeof(why));
	ok(rc == 0 && st.argv == NULL && strcmp(st.shell, "echo hi | wc -c") == 0 &&
	   st.shell_len == 15 && st.login && !st.stdin_open && st.nenv == 2 &&
	   strcmp(st.env[0], "A=1") == 0 && strcmp(st.env[1], "_b2=x=y") == 0 && st.env[2] == NULL &&
	   strcmp(st.cwd, "/tmp") == 0 && st.timeout_ms == 1500 && st.has_pty &&
	   st.pty.cols == 100 && st.pty.rows == 30, "start: every member, unknown ones ignored");
	ok(rc == 0 && st.command_len == 15 && memcmp(st.command, "echo hi | wc -c", 15) == 0,
	   "start: shell hashed as its bytes");
	execproto_start_free(&st);

	rc = start("{\"shell\":\"printf '\\u00e9\\n'\",\"timeoutMs\":null,\"cwd\":null,\"pty\":null}",
		   &st, why, sizeof(why));
	ok(rc == 0 && strcmp(st.shell, "printf '\xc3\xa9\n'") == 0 && st.timeout_ms == 0 &&
	   st.cwd == NULL && !st.has_pty, "start: escapes decoded, nulls are absent");
	execproto_start_free(&st);
}

/* A big shell command: 1 MiB of "echo x;" lines. */
static void test_start_big(void)
{
	size_t body = 1 << 20, i;
	char *json = malloc(body + 32), why[256];
	struct execproto_start st;
	int rc;

	memcpy(json, "{\"shell\":\"", 10);
	for (i = 0; i < body; i += 8)
		memcpy(json + 10 + i, "echo x;;", 8);
	memcpy(json + 10 + body, "\"}", 3);
	rc = start(json, &st, why, sizeof(why));
	ok(rc == 0 && st.shell_len == body && st.command_len == body, "start: 1 MiB shell string");
	execproto_start_free(&st);
	free(json);
}

struct refusal {
	const char *name;
	const char *json;
	int rc;
	const char *why; /* a substring of the reason */
};

static const struct refusal refusals[] = {
	{ "start: not JSON", "{\"argv\":", -1, "invalid JSON" },
	{ "start: array, not object", "[\"ls\"]", -1, "not a JSON object" },
	{ "start: empty payload", "", -1, "invalid JSON" },
	{ "start: neither argv nor shell", "{\"cwd\":\"/\"}", -2, "exactly one" },
	{ "start: both argv and shell", "{\"argv\":[\"a\"],\"shell\":\"a\"}", -2, "exactly one" },
	{ "start: empty argv", "{\"argv\":[]}", -2, "non-empty" },
	{ "start: argv not an array", "{\"argv\":\"ls\"}", -2, "non-empty" },
	{ "start: argv element a number", "{\"argv\":[\"ls\",3]}", -2, "argv[1]" },
	{ "start: empty argv[0]", "{\"argv\":[\"\"]}", -2, "argv[0] is empty" },
	{ "start: shell a number", "{\"shell\":1}", -2, "shell must be a string" },
	{ "start: NUL escape in shell", "{\"shell\":\"a\\u0000b\"}", -2, "NUL" },
	{ "start: NUL escape in argv", "{\"argv\":[\"a\\u0000\"]}", -2, "NUL" },
	{ "start: login with argv", "{\"argv\":[\"a\"],\"login\":true}", -2, "shell commands only" },
	{ "start: login not a bool", "{\"shell\":\"a\",\"login\":1}", -2, "login must be" },
	{ "start: stdin not a bool", "{\"shell\":\"a\",\"stdin\":\"no\"}", -2, "stdin must be" },
	{ "start: env an array", "{\"shell\":\"a\",\"env\":[\"A=1\"]}", -2, "env must be" },
	{ "start: env name with =", "{\"shell\":\"a\",\"env\":{\"A=B\":\"1\"}}", -2, "bad variable" },
	{ "start: env empty name", "{\"shell\":\"a\",\"env\":{\"\":\"1\"}}", -2, "bad variable" },
	{ "start: env name starting with a digit", "{\"shell\":\"a\",\"env\":{\"1A\":\"1\"}}", -2,
	  "bad variable" },
	{ "start: env value a number", "{\"shell\":\"a\",\"env\":{\"A\":1}}", -2, "not a string" },
	{ "start: env WEBSHELL_USER", "{\"shell\":\"a\",\"env\":{\"WEBSHELL_USER\":\"root\"}}", -2,
	  "set by the server" },
	{ "start: cwd empty", "{\"shell\":\"a\",\"cwd\":\"\"}", -2, "cwd" },
	{ "start: cwd a number", "{\"shell\":\"a\",\"cwd\":5}", -2, "cwd" },
	{ "start: negative timeout", "{\"shell\":\"a\",\"timeoutMs\":-1}", -2, "timeoutMs" },
	{ "start: fractional timeout", "{\"shell\":\"a\",\"timeoutMs\":1.5}", -2, "timeoutMs" },
	{ "start: huge timeout", "{\"shell\":\"a\",\"timeoutMs\":1e300}", -2, "timeoutMs" },
	{ "start: string timeout", "{\"shell\":\"a\",\"timeoutMs\":\"5\"}", -2, "timeoutMs" },
	{ "start: pty zero columns", "{\"shell\":\"a\",\"pty\":{\"columns\":0,\"rows\":3}}", -2,
	  "pty" },
	{ "start: pty not an object", "{\"shell\":\"a\",\"pty\":true}", -2, "pty" },
	{ "start: pty columns beyond any integer", "{\"shell\":\"a\",\"pty\":{\"columns\":1e45,\"rows\":3}}",
	  -2, "pty" },
};

static void test_start_refused(void)
{
	struct execproto_start st;
	char why[256], name[160];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		why[0] = '\0';
		rc = start(refusals[i].json, &st, why, sizeof(why));
		snprintf(name, sizeof(name), "%s (%s)", refusals[i].name, why);
		ok(rc == refusals[i].rc && strstr(why, refusals[i].why) != NULL && st.argv == NULL &&
		   st.shell == NULL && st.command == NULL, name);
	}
	/* A raw NUL byte anywhere. */
	why[0] = '\0';
	rc = execproto_parse_start(guarded("{\"shell\":\"a\0\"}", 14), 14, &st, why, sizeof(why));
	ok(rc == -2 && strstr(why, "NUL") != NULL, "start: raw NUL byte refused");
	/* An escaped backslash followed by u0000 is text, not NUL. */
	rc = start("{\"shell\":\"a\\\\u0000\"}", &st, why, sizeof(why));
	ok(rc == 0 && strcmp(st.shell, "a\\u0000") == 0, "start: \\\\u0000 is a backslash and text");
	execproto_start_free(&st);
}

static void test_start_limits(void)
{
	size_t big = EXECPROTO_ARG_MAX + 1, i;
	char *json = malloc(big + 64), why[256];
	struct execproto_start st;
	int rc;

	memcpy(json, "{\"argv\":[\"echo\",\"", 17);
	memset(json + 17, 'a', big);
	memcpy(json + 17 + big, "\"]}", 4);
	rc = start(json, &st, why, sizeof(why));
	ok(rc == -2 && strstr(why, "argv[1]") && strstr(why, "131071"),
	   "start: an argv element over the kernel's limit is refused with the reason");
	json[17 + big - 1] = '"';
	memcpy(json + 17 + big - 1, "\"]}", 4);
	rc = start(json, &st, why, sizeof(why));
	ok(rc == 0 && strlen(st.argv[1]) == EXECPROTO_ARG_MAX, "start: an argv element at the limit");
	execproto_start_free(&st);
	free(json);

	/* 4097 elements */
	json = malloc(8 * 4200);
	strcpy(json, "{\"argv\":[\"a\"");
	for (i = 1; i <= EXECPROTO_ARGC_MAX; i++)
		strcat(json, ",\"b\"");
	strcat(json, "]}");
	rc = start(json, &st, why, sizeof(why));
	ok(rc == -2 && strstr(why, "more than 4096"), "start: too many argv elements");
	free(json);
}

static int cancel(const char *json, int *sig, const char **why)
{
	return execproto_parse_cancel(guarded(json, strlen(json)), strlen(json), sig, why);
}

static void test_cancel(void)
{
	const char *why = NULL;
	int sig = 0;

	ok(cancel("", &sig, &why) == 0 && sig == SIGTERM,
	   "cancel: empty is TERM");
	ok(cancel("{\"signal\":\"INT\"}", &sig, &why) == 0 &&
	   sig == SIGINT, "cancel: INT");
	ok(cancel("{\"signal\":\"SIGKILL\"}", &sig, &why) == 0 &&
	   sig == SIGKILL, "cancel: SIGKILL");
	ok(cancel("{}", &sig, &why) == 0 && sig == SIGTERM,
	   "cancel: {} is TERM");
	ok(cancel("{\"signal\":\"STOP\"}", &sig, &why) == -1 &&
	   strstr(why, "one of"), "cancel: STOP refused");
	ok(cancel("{\"signal\":9}", &sig, &why) == -1,
	   "cancel: a number refused");
	ok(cancel("nope", &sig, &why) == -1, "cancel: not JSON");
}

static void test_end_session(void)
{
	const char *why = NULL;
	char id[33];
	const char *good = "{\"id\":\"0123456789abcdef0123456789abcdef\"}";

	ok(execproto_parse_end_session(guarded(good, strlen(good)), strlen(good), id, &why) == 0 &&
	   strcmp(id, "0123456789abcdef0123456789abcdef") == 0, "end-session: id");
	good = "{\"id\":\"0123456789ABCDEF0123456789abcdef\"}";
	ok(execproto_parse_end_session(guarded(good, strlen(good)), strlen(good), id, &why) == -1,
	   "end-session: uppercase refused");
	good = "{\"id\":\"0123\"}";
	ok(execproto_parse_end_session(guarded(good, strlen(good)), strlen(good), id, &why) == -1,
	   "end-session: short id refused");
	ok(execproto_parse_end_session(guarded("[]", 2), 2, id, &why) == -1,
	   "end-session: not an object");
}

static void test_status(void)
{
	struct execproto_status st = { 0 };
	char buf[256];

	st.wstatus = 0;
	st.duration_ms = 3;
	execproto_status_json(buf, sizeof(buf), &st);
	ok(strcmp(buf, "{\"exitCode\":0,\"signal\":null,\"timedOut\":false,\"cancelled\":false,"
		   "\"durationMs\":3}") == 0, "status: exit 0");
	st.wstatus = 255 << 8;
	execproto_status_json(buf, sizeof(buf), &st);
	ok(strstr(buf, "\"exitCode\":255,") != NULL, "status: exit 255");
	st.wstatus = SIGKILL;
	st.timed_out = 1;
	st.duration_ms = 5000;
	execproto_status_json(buf, sizeof(buf), &st);
	ok(strcmp(buf, "{\"exitCode\":null,\"signal\":\"KILL\",\"timedOut\":true,"
		   "\"cancelled\":false,\"durationMs\":5000}") == 0, "status: killed on timeout");
	st.wstatus = SIGTERM;
	st.timed_out = 0;
	st.cancelled = 1;
	execproto_status_json(buf, sizeof(buf), &st);
	ok(strstr(buf, "\"signal\":\"TERM\"") && strstr(buf, "\"cancelled\":true"),
	   "status: cancelled by TERM");
	st.cancelled = 0;
	st.by_operator = 1;
	st.duration_ms = 7;
	execproto_status_json(buf, sizeof(buf), &st);
	ok(strcmp(buf, "{\"exitCode\":null,\"signal\":\"TERM\",\"timedOut\":false,"
		   "\"cancelled\":false,\"endedBy\":\"operator\",\"durationMs\":7}") == 0,
	   "status: ended by an administrator");
}

static void test_json_out(void)
{
	char *s = execproto_error_json("bad \"cwd\"\n");

	ok(s != NULL && strcmp(s, "{\"error\":\"bad \\\"cwd\\\"\\n\"}") == 0, "error JSON escaped");
	free(s);
	s = execproto_hello_json(16, 1048576, 4194304, "al\"ice");
	ok(s != NULL && strcmp(s, "{\"version\":1,\"maxCommands\":16,\"window\":1048576,"
		   "\"maxCommand\":4194304,\"user\":\"al\\\"ice\"}") == 0, "hello JSON");
	free(s);
	s = execproto_hello_json(1, 2, 3, "");
	ok(s != NULL && strstr(s, "\"user\":null") != NULL, "hello JSON: no identity is null");
	free(s);
}

static void test_audit(void)
{
	struct execproto_start st;
	char hex[65], text[64], why[128];
	int cut;

	execproto_sha256_hex((const unsigned char *)"abc", 3, hex);
	/* FIPS 180-2 appendix B.1 */
	ok(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
	   "sha256 of \"abc\" (FIPS 180-2 B.1)");
	start("{\"argv\":[\"ls\",\"-l\",\"a b\"]}", &st, why, sizeof(why));
	execproto_command_text(&st, 100, text, sizeof(text), &cut);
	ok(strcmp(text, "ls -l a b") == 0 && !cut, "audit text: argv joined by spaces");
	execproto_command_text(&st, 5, text, sizeof(text), &cut);
	ok(strcmp(text, "ls -l") == 0 && cut, "audit text: argv cut");
	execproto_command_text(&st, 9, text, sizeof(text), &cut);
	ok(strcmp(text, "ls -l a b") == 0 && !cut, "audit text: argv exactly at the limit");
	execproto_start_free(&st);
	start("{\"shell\":\"echo 0123456789\"}", &st, why, sizeof(why));
	execproto_command_text(&st, 8, text, sizeof(text), &cut);
	ok(strcmp(text, "echo 012") == 0 && cut, "audit text: shell cut");
	execproto_command_text(&st, 1000, text, 6, &cut);
	ok(strcmp(text, "echo ") == 0 && cut, "audit text: never past the buffer");
	execproto_start_free(&st);
}

int main(void)
{
	test_header();
	test_ack();
	test_start_ok();
	test_start_big();
	test_start_refused();
	test_start_limits();
	test_cancel();
	test_end_session();
	test_status();
	test_json_out();
	test_audit();
	if (g_base != NULL)
		munmap(g_base, g_size);
	return tap_done();
}
