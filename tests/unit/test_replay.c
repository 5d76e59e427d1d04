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

/*
 * The parser's rules one byte at a time, written out plainly here as the
 * model replay.c's shortcuts (memchr over text, starting over at a chunk's
 * last ESC) must agree with.
 */
static void model_byte(struct replay_vt *vt, unsigned char c)
{
	unsigned char lead = c >= 0xc0 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
			     c >= 0xf0 && c <= 0xf7 ? 4 : 1;

	if (c == 0x18 || c == 0x1a || c == 0x1b) {
		vt->state = c == 0x1b ? REPLAY_VT_ESC : REPLAY_VT_GROUND;
		vt->utf8 = 0;
	} else if (vt->state == REPLAY_VT_GROUND) {
		vt->utf8 = vt->utf8 > 0 && c >= 0x80 && c <= 0xbf ? vt->utf8 - 1 : lead - 1;
	} else if (vt->state == REPLAY_VT_ESC) {
		vt->state = c == '[' ? REPLAY_VT_CSI :
			    strchr("]PX^_", c) != NULL && c != 0 ? REPLAY_VT_STRING :
			    c >= 0x20 && c <= 0x2f ? REPLAY_VT_ESC_INT :
			    c >= 0x30 && c <= 0x7e ? REPLAY_VT_GROUND : REPLAY_VT_ESC;
	} else if (vt->state == REPLAY_VT_ESC_INT) {
		if (c >= 0x30 && c <= 0x7e)
			vt->state = REPLAY_VT_GROUND;
	} else if (vt->state == REPLAY_VT_CSI) {
		if (c >= 0x40 && c <= 0x7e)
			vt->state = REPLAY_VT_GROUND;
	} else if (c == 0x07) {
		vt->state = REPLAY_VT_GROUND; /* BEL ends a string */
	}
}

/*
 * The parser fed in chunks of any size ends where the model does, byte by
 * byte. Terminal-like random bytes, split at random, compared after every
 * chunk.
 */
static void test_vt_chunks(void)
{
	static const unsigned char alphabet[] = {
		0x1b, 0x1b, '[', ']', 'P', '_', '(', '1', ';', '3', 'm', 'H', '\\', 0x07, 0x18,
		0x1a, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 'a', 'b', ' ', '\r', '\n'
	};
	static unsigned char text[40000];
	struct replay_vt model = { 0, 0 }, chunked = { 0, 0 };
	unsigned long seed = 12345;
	size_t i, at = 0, n, differ = 0, safe_points = 0;

	for (i = 0; i < sizeof(text); i++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		text[i] = alphabet[(seed >> 33) % sizeof(alphabet)];
	}
	while (at < sizeof(text)) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		n = 1 + (seed >> 33) % 300;
		if (n > sizeof(text) - at)
			n = sizeof(text) - at;
		replay_vt_feed(&chunked, text + at, n);
		for (i = 0; i < n; i++)
			model_byte(&model, text[at + i]);
		at += n;
		differ += model.state != chunked.state || model.utf8 != chunked.utf8;
		safe_points += replay_vt_safe(&model);
	}
	ok(differ == 0, "vt: fed in chunks it ends as the byte-by-byte model (%zu chunks differ)", differ);
	ok(safe_points > 0, "vt: the random text has safe points (%zu)", safe_points);
}

int main(void)
{
	test_offsets();
	test_budget();
	test_big_append();
	test_safe();
	test_vt();
	test_vt_chunks();
	return tap_done();
}
