/*
 * test_proto.c: table-driven TAP tests of ptyd's pure protocol code (init and
 * resize JSON, the identity header check, titles, close reasons). Every input
 * sits right before a PROT_NONE page, so an over-read crashes the test.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../services/ptyd/proto.h"

static int n, failed;

static void ok(int cond, const char *name)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, name);
}

static char *guard_base;
static size_t guard_page;

/* Copies len bytes so that they end exactly at the guard page. */
static const char *guarded(const char *s, size_t len)
{
	char *p = guard_base + guard_page - len;

	memcpy(p, s, len);
	return p;
}

struct size_case {
	const char *name;
	const char *json;
	int rc;              /* expected return */
	unsigned cols, rows; /* expected size when rc == 0 */
};

static const struct size_case resize_cases[] = {
	{ "resize: plain", "{\"columns\":100,\"rows\":30}", 0, 100, 30 },
	{ "resize: order and spaces", " { \"rows\" : 1 , \"columns\" : 4096 } ", 0, 4096, 1 },
	{ "resize: extra keys ignored", "{\"columns\":2,\"rows\":3,\"x\":[1,{}]}", 0, 2, 3 },
	{ "resize: zero columns", "{\"columns\":0,\"rows\":30}", -1, 0, 0 },
	{ "resize: too many rows", "{\"columns\":80,\"rows\":4097}", -1, 0, 0 },
	{ "resize: negative", "{\"columns\":-1,\"rows\":30}", -1, 0, 0 },
	{ "resize: fraction", "{\"columns\":80.5,\"rows\":30}", -1, 0, 0 },
	{ "resize: huge number", "{\"columns\":1e300,\"rows\":30}", -1, 0, 0 },
	{ "resize: string size", "{\"columns\":\"80\",\"rows\":30}", -1, 0, 0 },
	{ "resize: missing rows", "{\"columns\":80}", -1, 0, 0 },
	{ "resize: not an object", "[80,24]", -1, 0, 0 },
	{ "resize: truncated JSON", "{\"columns\":80,\"rows\":", -1, 0, 0 },
	{ "resize: empty", "", -1, 0, 0 },
	{ "resize: garbage", "\xff\xfe\x00{", -1, 0, 0 },
};

static void test_resize(void)
{
	size_t i;

	for (i = 0; i < sizeof(resize_cases) / sizeof(resize_cases[0]); i++) {
		const struct size_case *c = &resize_cases[i];
		size_t len = c->json[0] == (char)0xff ? 4 : strlen(c->json);
		struct proto_size sz = { 7, 7 };
		const char *why = NULL;
		int rc = proto_parse_resize(guarded(c->json, len), len, &sz, &why);

		if (c->rc == 0)
			ok(rc == 0 && sz.cols == c->cols && sz.rows == c->rows, c->name);
		else
			ok(rc == -1 && why != NULL && sz.cols == 7 && sz.rows == 7, c->name);
	}
}

static void test_init(void)
{
	struct proto_size sz;
	const char *why = NULL, *js;

	js = "{\"AuthToken\":\"\",\"columns\":120,\"rows\":40}";
	ok(proto_parse_init(guarded(js, strlen(js)), strlen(js), &sz, &why) == 0 &&
	   sz.cols == 120 && sz.rows == 40, "init: ttyd web client message");
	js = "{\"AuthToken\":\"x\"}";
	ok(proto_parse_init(guarded(js, strlen(js)), strlen(js), &sz, &why) == 0 &&
	   sz.cols == 80 && sz.rows == 24, "init: no size (ttyd 1.5 client) is 80x24, no complaint");
	js = "{\"columns\":100}";
	ok(proto_parse_init(guarded(js, strlen(js)), strlen(js), &sz, &why) == -1 &&
	   sz.cols == 80 && sz.rows == 24 && why != NULL, "init: half a size is refused, 80x24");
	js = "{\"columns\":120,\"rows\":40}";
	ok(proto_parse_resize(guarded(js, strlen(js)), strlen(js), &sz, &why) == 0 &&
	   sz.cols == 120 && sz.rows == 40, "resize: parses a size");
	js = "{}";
	ok(proto_parse_resize(guarded(js, 2), 2, &sz, &why) == -1 && why != NULL,
	   "resize: no size is refused");
	js = "{not json";
	ok(proto_parse_init(guarded(js, strlen(js)), strlen(js), &sz, &why) == -1 &&
	   sz.cols == 80 && sz.rows == 24 && why != NULL, "init: bad JSON falls back to 80x24");
	js = "{\"columns\":5000,\"rows\":40}";
	ok(proto_parse_init(guarded(js, strlen(js)), strlen(js), &sz, &why) == -1 &&
	   sz.cols == 80 && sz.rows == 24, "init: size out of range falls back to 80x24");
	/* A NUL inside the message ends the JSON text early: invalid, not an over-read. */
	ok(proto_parse_init(guarded("{\"columns\":1\0}", 14), 14, &sz, &why) == -1,
	   "init: embedded NUL is invalid");
}

static void test_user(void)
{
	char long_name[PROTO_USER_MAX + 2];

	ok(proto_user_valid(guarded("alice", 5), 5), "user: plain name");
	ok(proto_user_valid(guarded("alice@example.com", 17), 17), "user: email");
	ok(proto_user_valid(guarded("Zo\xc3\xab", 4), 4), "user: UTF-8");
	ok(!proto_user_valid(guarded("", 0), 0), "user: empty is absent");
	ok(!proto_user_valid(guarded("{\"a\":1}", 7), 7), "user: brace is absent");
	ok(!proto_user_valid(guarded("bob\n", 4), 4), "user: newline is absent");
	ok(!proto_user_valid(guarded("b\x1b[31m", 6), 6), "user: escape is absent");
	ok(!proto_user_valid(guarded("b\x7f", 2), 2), "user: DEL is absent");
	ok(!proto_user_valid(guarded("a\0b", 3), 3), "user: NUL is absent");
	memset(long_name, 'a', sizeof(long_name));
	ok(proto_user_valid(guarded(long_name, PROTO_USER_MAX), PROTO_USER_MAX), "user: 128 bytes");
	ok(!proto_user_valid(guarded(long_name, PROTO_USER_MAX + 1), PROTO_USER_MAX + 1),
	   "user: 129 bytes is absent");
}

static void test_title(void)
{
	char *argv1[] = { "bash", NULL };
	char *argv2[] = { "bash", "--norc", "-i", NULL };
	char buf[64], small[8];

	proto_title(buf, sizeof(buf), argv1, "vm");
	ok(strcmp(buf, "bash (vm)") == 0, "title: ttyd's 'COMMAND (HOSTNAME)'");
	proto_title(buf, sizeof(buf), argv2, "host.example");
	ok(strcmp(buf, "bash --norc -i (host.example)") == 0, "title: arguments joined by spaces");
	ok(proto_title(small, sizeof(small), argv2, "h") == 7 && strlen(small) == 7,
	   "title: cut to the buffer");
}

static int status_of(int how)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		if (how < 0)
			raise(-how);
		_exit(how);
	}
	waitpid(pid, &st, 0);
	return st;
}

static void test_exit_reason(void)
{
	char buf[32];

	proto_exit_reason(buf, sizeof(buf), status_of(0));
	ok(strcmp(buf, "exit 0") == 0, "close reason: exit 0");
	proto_exit_reason(buf, sizeof(buf), status_of(3));
	ok(strcmp(buf, "exit 3") == 0, "close reason: exit 3");
	proto_exit_reason(buf, sizeof(buf), status_of(-9));
	ok(strcmp(buf, "signal 9") == 0, "close reason: signal 9");
}

int main(void)
{
	guard_page = (size_t)sysconf(_SC_PAGESIZE);
	guard_base = mmap(NULL, 2 * guard_page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_base == MAP_FAILED || mprotect(guard_base + guard_page, guard_page, PROT_NONE) != 0) {
		perror("mmap");
		return 1;
	}
	test_resize();
	test_init();
	test_user();
	test_title();
	test_exit_reason();
	printf("1..%d\n", n);
	munmap(guard_base, 2 * guard_page);
	return failed ? 1 : 0;
}
