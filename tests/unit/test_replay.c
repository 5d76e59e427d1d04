/*
 * test_replay.c: TAP tests of ptyd's replay ring: offsets, wrapping, growth
 * under the shared budget, copying across the wrap, and the safe boundary
 * (never inside an escape sequence or a UTF-8 character) after a wrap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../../services/ptyd/replay.h"


static void append_str(struct replay *r, const char *s)
{
	replay_append(r, (const unsigned char *)s, strlen(s));
}

/* Numbered bytes: byte k is k % 251, so any offset's content is known. */
static void append_numbered(struct replay *r, size_t len)
{
	unsigned char buf[7000];
	size_t i, done = 0;

	while (done < len) {
		size_t m = len - done < sizeof(buf) ? len - done : sizeof(buf);
		for (i = 0; i < m; i++)
			buf[i] = (unsigned char)((r->head + i) % 251);
		replay_append(r, buf, m);
		done += m;
	}
}

static int check_numbered(const struct replay *r, unsigned long long from, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	size_t i, got = replay_copy(r, from, buf, len);
	int good = got == len;

	for (i = 0; good && i < len; i++)
		good = buf[i] == (unsigned char)((from + i) % 251);
	free(buf);
	return good;
}

static void test_offsets(void)
{
	struct replay_budget b = { 0, 0 };
	struct replay r;
	unsigned char buf[8];

	replay_init(&r, 100000, &b);
	append_str(&r, "hello");
	ok(r.head == 5 && r.tail == 0, "offsets: head counts every byte");
	ok(replay_copy(&r, 1, buf, 3) == 3 && memcmp(buf, "ell", 3) == 0, "copy: from an offset");
	ok(replay_copy(&r, 5, buf, 3) == 0, "copy: at head there is nothing");
	ok(b.used == REPLAY_MIN_CAP, "budget: the first allocation is counted");
	append_numbered(&r, 300000);
	ok(r.head == 300005 && r.head - r.tail == 100000 && r.cap == 100000,
	   "wrap: the ring keeps its limit, the oldest bytes go");
	ok(check_numbered(&r, r.tail, 100000), "copy: the whole ring across the wrap, exact bytes");
	ok(check_numbered(&r, r.head - 10, 10), "copy: the newest bytes");
	ok(replay_copy(&r, r.tail - 1, buf, 1) == 0, "copy: before tail is refused");
	replay_free(&r);
	ok(b.used == 0, "budget: freeing gives everything back");
}

static void test_budget(void)
{
	struct replay_budget b = { 0, 3 * REPLAY_MIN_CAP };
	struct replay r1, r2, r3;

	replay_init(&r1, 1 << 20, &b);
	replay_init(&r2, 1 << 20, &b);
	replay_init(&r3, 1 << 20, &b);
	append_numbered(&r1, 2 * REPLAY_MIN_CAP);
	append_numbered(&r2, 5 * REPLAY_MIN_CAP);
	append_numbered(&r3, 100);
	ok(b.used <= b.max, "budget: rings together never pass the total");
	ok(r3.cap == 0 && r3.tail == r3.head && r3.head == 100,
	   "budget: at the total a ring keeps nothing but still counts");
	ok(check_numbered(&r2, r2.tail, (size_t)(r2.head - r2.tail)),
	   "budget: a ring that stopped growing wraps with exact bytes");
	replay_free(&r1);
	append_numbered(&r3, 100);
	ok(r3.cap > 0 && check_numbered(&r3, r3.tail, (size_t)(r3.head - r3.tail)),
	   "budget: freed bytes let another ring grow");
	replay_free(&r2);
	replay_free(&r3);
	ok(b.used == 0, "budget: all back");
}

static void test_big_append(void)
{
	struct replay_budget b = { 0, 0 };
	struct replay r;

	replay_init(&r, 20000, &b);
	append_numbered(&r, 5);
	append_numbered(&r, 50000); /* one append bigger than the ring */
	ok(r.head == 50005 && r.head - r.tail == 20000 && check_numbered(&r, r.tail, 20000),
	   "append: bigger than the ring keeps its last bytes");
	replay_free(&r);
}

/* The ring holds 64 bytes; prefix is pushed out by filler so tail lands inside it. */
static unsigned long long safe_after(const char *prefix, size_t keep_from, const char *rest,
				     struct replay *r)
{
	static struct replay_budget b = { 0, 0 };
	char filler[64];

	replay_init(r, 64, &b);
	append_str(r, prefix);
	/* Push out exactly keep_from bytes of the prefix. */
	memset(filler, '.', sizeof(filler));
	(void)keep_from;
	append_str(r, rest);
	replay_append(r, (const unsigned char *)filler, 64 - (strlen(rest) + strlen(prefix) - keep_from));
	return replay_safe_start(r);
}

static void test_safe(void)
{
	struct replay r;
	unsigned long long s;
	unsigned char buf[64];
	size_t got;

	/* "\x1b[31m" with the tail after "\x1b[": the rest of the CSI must be skipped. */
	s = safe_after("ab\x1b[31mX", 4, "", &r);
	ok(r.tail == 4 && s == 7, "safe: tail inside a CSI skips to after its final byte");
	replay_free(&r);
	s = safe_after("\x1b]0;a title\x07Y", 5, "", &r);
	got = replay_copy(&r, s, buf, 1);
	ok(got == 1 && buf[0] == 'Y', "safe: tail inside an OSC title skips past BEL");
	replay_free(&r);
	s = safe_after("\x1bP1;2|data\x1b\\Z", 6, "", &r);
	got = replay_copy(&r, s, buf, 1);
	ok(got == 1 && buf[0] == 'Z', "safe: tail inside a DCS skips past ST");
	replay_free(&r);
	s = safe_after("x\xe2\x82\xac!", 2, "", &r);
	got = replay_copy(&r, s, buf, 1);
	ok(got == 1 && buf[0] == '!', "safe: tail inside a UTF-8 character skips it");
	replay_free(&r);
	s = safe_after("plain text", 3, "", &r);
	ok(s == r.tail, "safe: plain text is safe anywhere");
	replay_free(&r);
}

static void test_vt(void)
{
	struct replay_vt vt = { 0, 0 };
	const char *long_text = "a long run of text with a euro \xe2\x82";

	replay_vt_feed(&vt, (const unsigned char *)long_text, strlen(long_text));
	ok(!replay_vt_safe(&vt), "vt: a long run ending inside a character is not safe");
	replay_vt_feed(&vt, (const unsigned char *)"\xac", 1);
	ok(replay_vt_safe(&vt), "vt: the character completed is safe");
	replay_vt_feed(&vt, (const unsigned char *)"\x1b[1;3", 5);
	ok(!replay_vt_safe(&vt), "vt: inside CSI parameters");
	replay_vt_feed(&vt, (const unsigned char *)"\x18", 1);
	ok(replay_vt_safe(&vt), "vt: CAN aborts a sequence");
	replay_vt_feed(&vt, (const unsigned char *)"\x1b(", 2);
	ok(!replay_vt_safe(&vt), "vt: ESC with an intermediate");
	replay_vt_feed(&vt, (const unsigned char *)"B", 1);
	ok(replay_vt_safe(&vt), "vt: ... ends with its final byte");
}

int main(void)
{
	test_offsets();
	test_budget();
	test_big_append();
	test_safe();
	test_vt();
	return tap_done();
}
