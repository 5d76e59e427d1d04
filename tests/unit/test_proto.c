/*
 * test_proto.c: table-driven TAP tests of ptyd's pure protocol code (init and
 * resize JSON with the session member, message reassembly, UTF-8 checks, the
 * identity header check, titles, session ids, close reasons). Every input
 * sits right before a PROT_NONE page, so an over-read crashes the test.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "../../services/ptyd/proto.h"


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

static int init_of(const char *js, struct proto_init *in, const char **why)
{
	return proto_parse_init(guarded(js, strlen(js)), strlen(js), in, why);
}

static void test_init(void)
{
	struct proto_init in;
	struct proto_size sz;
	const char *why = NULL, *js;

	ok(init_of("{\"AuthToken\":\"\",\"columns\":120,\"rows\":40}", &in, &why) == 0 &&
	   in.size.cols == 120 && in.size.rows == 40 && in.want == PROTO_WANT_TTYD,
	   "init: ttyd web client message");
	ok(init_of("{\"AuthToken\":\"x\"}", &in, &why) == 0 && in.size.cols == 80 &&
	   in.size.rows == 24, "init: no size (ttyd 1.5 client) is 80x24, no complaint");
	ok(init_of("{\"columns\":100}", &in, &why) == 1 && in.size.cols == 80 &&
	   in.size.rows == 24 && why != NULL, "init: half a size is refused, 80x24");
	js = "{\"columns\":120,\"rows\":40}";
	ok(proto_parse_resize(guarded(js, strlen(js)), strlen(js), &sz, &why) == 0 &&
	   sz.cols == 120 && sz.rows == 40, "resize: parses a size");
	js = "{}";
	ok(proto_parse_resize(guarded(js, 2), 2, &sz, &why) == -1 && why != NULL,
	   "resize: no size is refused");
	ok(init_of("{not json", &in, &why) == 1 && in.size.cols == 80 && in.size.rows == 24 &&
	   why != NULL, "init: bad JSON falls back to 80x24");
	ok(init_of("{\"columns\":5000,\"rows\":40}", &in, &why) == 1 && in.size.cols == 80 &&
	   in.size.rows == 24, "init: size out of range falls back to 80x24");
	ok(init_of("{\"columns\":1e300,\"rows\":-1e300}", &in, &why) == 1 && in.size.cols == 80,
	   "init: 1e300 is out of range (checked before any conversion)");
	/* A NUL inside the message ends the JSON text early: invalid, not an over-read. */
	ok(proto_parse_init(guarded("{\"columns\":1\0}", 14), 14, &in, &why) == 1,
	   "init: embedded NUL is invalid");

	ok(init_of("{\"columns\":90,\"rows\":20,\"webshell\":{\"session\":\"new\"}}", &in, &why) == 0 &&
	   in.want == PROTO_WANT_NEW && in.size.cols == 90, "init: webshell new session");
	ok(init_of("{\"webshell\":{\"session\":\"0123456789abcdef0123456789abcdef\",\"offset\":12345}}",
		   &in, &why) == 0 && in.want == PROTO_WANT_RESUME && in.offset == 12345 &&
	   strcmp(in.id, "0123456789abcdef0123456789abcdef") == 0, "init: webshell resume with offset");
	ok(init_of("{\"webshell\":{\"session\":\"0123456789abcdef0123456789abcdef\"}}", &in, &why) == 0 &&
	   in.want == PROTO_WANT_RESUME && in.offset == 0, "init: resume without offset is offset 0");
	ok(init_of("{\"webshell\":{\"session\":\"0123456789ABCDEF0123456789abcdef\"}}", &in, &why) == -1,
	   "init: upper-case id refused");
	ok(init_of("{\"webshell\":{\"session\":\"0123\"}}", &in, &why) == -1 && why != NULL,
	   "init: short id refused");
	ok(init_of("{\"webshell\":{\"session\":\"0123456789abcdef0123456789abcdef\",\"offset\":-1}}",
		   &in, &why) == -1, "init: negative offset refused");
	ok(init_of("{\"webshell\":{\"session\":\"0123456789abcdef0123456789abcdef\",\"offset\":1e300}}",
		   &in, &why) == -1, "init: huge offset refused");
	ok(init_of("{\"webshell\":{\"session\":\"0123456789abcdef0123456789abcdef\",\"offset\":1.5}}",
		   &in, &why) == -1, "init: fractional offset refused");
	ok(init_of("{\"webshell\":true}", &in, &why) == -1, "init: webshell not an object refused");
	ok(init_of("{\"webshell\":{}}", &in, &why) == -1, "init: webshell without session refused");
}

/* Feeds a message in chunks of step bytes; returns the last event's kind. */
static enum proto_rx_kind feed_all(struct proto_rx *rx, const char *msg, size_t len, size_t step,
				   int text, char *collected, size_t *clen)
{
	struct proto_rx_event ev = { 0 };
	size_t off = 0;

	*clen = 0;
	do {
		size_t n = len - off < step ? len - off : step;
		proto_rx_feed(rx, (const unsigned char *)guarded(msg + off, n), n, len - off - n,
			      off + n == len, text, &ev);
		if (ev.kind == PROTO_RX_INPUT || ev.kind == PROTO_RX_INIT || ev.kind == PROTO_RX_RESIZE) {
			memcpy(collected + *clen, ev.data, ev.len);
			*clen += ev.len;
		}
		off += n;
		if (ev.kind >= PROTO_RX_TOO_BIG)
			break;
	} while (off < len);
	return ev.kind;
}

static void test_rx(void)
{
	static char big[PROTO_MSG_MAX + 2];
	struct proto_rx rx = { 0 };
	char got[PROTO_MSG_MAX + 8];
	size_t glen;

	ok(feed_all(&rx, "0hello", 6, 2, 0, got, &glen) == PROTO_RX_INPUT && glen == 5 &&
	   memcmp(got, "hello", 5) == 0, "rx: input in 2-byte chunks passes through in order");
	ok(feed_all(&rx, "{\"columns\":3,\"rows\":4}", 22, 5, 1, got, &glen) == PROTO_RX_INIT &&
	   glen == 22 && memcmp(got, "{\"columns\"", 10) == 0, "rx: init collected whole");
	ok(feed_all(&rx, "1{\"columns\":3,\"rows\":4}", 23, 1, 0, got, &glen) == PROTO_RX_RESIZE &&
	   glen == 22 && got[0] == '{', "rx: resize collected whole, type byte dropped");
	ok(feed_all(&rx, "2", 1, 1, 0, got, &glen) == PROTO_RX_PAUSE, "rx: pause");
	ok(feed_all(&rx, "3", 1, 1, 0, got, &glen) == PROTO_RX_RESUME, "rx: resume");
	ok(feed_all(&rx, "X", 1, 1, 0, got, &glen) == PROTO_RX_END, "rx: end");
	ok(feed_all(&rx, "Zabc", 4, 4, 0, got, &glen) == PROTO_RX_UNKNOWN, "rx: unknown type");
	ok(feed_all(&rx, "0\xc3\xa9t\xc3\xa9", 6, 1, 1, got, &glen) == PROTO_RX_INPUT && glen == 5,
	   "rx: UTF-8 text split inside a character is fine");
	ok(feed_all(&rx, "0\xc3(", 3, 3, 1, got, &glen) == PROTO_RX_BAD_UTF8,
	   "rx: bad UTF-8 in a text frame");
	ok(feed_all(&rx, "0\xc3", 2, 2, 1, got, &glen) == PROTO_RX_BAD_UTF8,
	   "rx: text frame ending inside a character");
	ok(feed_all(&rx, "0\xc3(", 3, 3, 0, got, &glen) == PROTO_RX_INPUT,
	   "rx: binary frames may carry any bytes");
	memset(big, 'a', sizeof(big));
	big[0] = '0';
	ok(feed_all(&rx, big, PROTO_MSG_MAX, 4096, 0, got, &glen) == PROTO_RX_INPUT &&
	   glen == PROTO_MSG_MAX - 1, "rx: a message of exactly 64 KiB passes");
	ok(feed_all(&rx, big, PROTO_MSG_MAX + 1, 4096, 0, got, &glen) == PROTO_RX_TOO_BIG,
	   "rx: one byte more is too big");
	big[0] = '{';
	ok(feed_all(&rx, big, PROTO_MSG_MAX + 1, 4096, 0, got, &glen) == PROTO_RX_TOO_BIG,
	   "rx: an init over 64 KiB is too big");
	ok(feed_all(&rx, "0ok", 3, 3, 0, got, &glen) == PROTO_RX_INPUT && glen == 2,
	   "rx: next message after an error starts clean");
	proto_rx_free(&rx);
}

static void test_utf8(void)
{
	static const struct { const char *s; size_t len; int valid; const char *name; } c[] = {
		{ "abc", 3, 1, "utf8: ASCII" },
		{ "\xe2\x82\xac", 3, 1, "utf8: euro sign" },
		{ "\xf0\x9f\x98\x80", 4, 1, "utf8: emoji" },
		{ "\xc0\xaf", 2, 0, "utf8: overlong refused" },
		{ "\xe0\x80\xaf", 3, 0, "utf8: overlong 3-byte refused" },
		{ "\xed\xa0\x80", 3, 0, "utf8: surrogate refused" },
		{ "\xf4\x90\x80\x80", 4, 0, "utf8: above U+10FFFF refused" },
		{ "\xff", 1, 0, "utf8: 0xff refused" },
		{ "\xe2\x82", 2, 0, "utf8: cut character is incomplete" },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		unsigned char st = 0;
		int rc = proto_utf8_check(&st, (const unsigned char *)c[i].s, c[i].len);
		ok((rc == 0 && st == 0) == c[i].valid, c[i].name);
	}
}

static void test_session_json(void)
{
	unsigned char raw[PROTO_ID_BYTES];
	char id[PROTO_ID_HEX + 1], buf[160];
	size_t i;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 17);
	proto_id_hex(id, raw);
	ok(strcmp(id, "00112233445566778899aabbccddeeff") == 0, "id: 32 lowercase hex digits");
	proto_session_json(buf, sizeof(buf), id, 42, 50, 0, 0);
	ok(strcmp(buf, "{\"id\":\"00112233445566778899aabbccddeeff\",\"offset\":42,\"end\":50,"
		       "\"reset\":false}") == 0,
	   "S message: resume without loss, with the end of the replay");
	proto_session_json(buf, sizeof(buf), id, 9000, 9500, 1, 100);
	ok(strstr(buf, "\"reset\":true,\"lost\":100}") != NULL, "S message: reset with lost bytes");
}

static int scan_all(const char *p, size_t n, size_t step)
{
	struct proto_wsscan sc;
	size_t off;
	int rc = 0;

	memset(&sc, 0, sizeof(sc));
	for (off = 0; off < n; off += step)
		rc = proto_wsscan_feed(&sc, (const unsigned char *)p + off, n - off < step ? n - off : step);
	return rc;
}

static void test_wsscan(void)
{
	static const char req[] = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
				  "Connection: Upgrade\r\n\r\n";
	static const char plain[] = "GET /token HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[512];
	size_t n, step;
	int all_ok = 1;

	/* masked: a 3-byte frame, a 200-byte frame (16-bit length), then another */
	n = 0;
	memcpy(buf, req, sizeof(req) - 1);
	n += sizeof(req) - 1;
	memcpy(buf + n, "\x82\x83" "abcd" "xyz", 9);
	n += 9;
	memcpy(buf + n, "\x82\xfe\x00\xc8" "abcd", 8);
	n += 8;
	memset(buf + n, 'p', 200);
	n += 200;
	memcpy(buf + n, "\x81\x80" "abcd", 6);
	n += 6;
	for (step = 1; step <= n; step++)
		all_ok &= scan_all(buf, n, step) == 0;
	ok(all_ok, "wsscan: masked frames in any split pass");
	buf[n - 5] = 0x00; /* the last frame's mask bit off */
	all_ok = 1;
	for (step = 1; step <= n; step++)
		all_ok &= scan_all(buf, n - 4, step) == -1;
	ok(all_ok, "wsscan: an unmasked frame is found in any split");
	memcpy(buf, plain, sizeof(plain) - 1);
	memcpy(buf + sizeof(plain) - 1, "\x82\x03xyz", 5);
	ok(scan_all(buf, sizeof(plain) - 1 + 5, 7) == 0,
	   "wsscan: bytes after a request without upgrade are not frames");
	n = 0;
	memcpy(buf, plain, sizeof(plain) - 1);
	n += sizeof(plain) - 1;
	memcpy(buf + n, req, sizeof(req) - 1);
	n += sizeof(req) - 1;
	memcpy(buf + n, "\x82\x03xyz", 5);
	ok(scan_all(buf, n + 5, 3) == -1, "wsscan: an upgrade after a keep-alive request is followed");
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
	test_rx();
	test_utf8();
	test_session_json();
	test_wsscan();
	test_user();
	test_title();
	test_exit_reason();
	munmap(guard_base, 2 * guard_page);
	return tap_done();
}
