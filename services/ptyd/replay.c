/*
 * replay.c: the output ring of a resumable session (see replay.h). The
 * parser runs over bytes as they leave the ring, so the state at the oldest
 * kept byte is always known and a reset can start at an exact safe point.
 */
#include "replay.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Bytes a UTF-8 lead byte starts (1 for ASCII, continuations and invalid bytes). */
static unsigned char utf8_len(unsigned char c)
{
	if (c >= 0xc0 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf7)
		return 4;
	return 1;
}

/* The UTF-8 continuation bytes still due after a run of text p[0..n), n >= 4. */
static unsigned char utf8_due(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 1; i <= 4; i++) {
		unsigned char c = p[n - i];
		if (c < 0x80 || c > 0xbf) {
			unsigned char len = utf8_len(c);
			return len > i ? (unsigned char)(len - i) : 0;
		}
	}
	return 0;
}

/* One byte outside the ground state's fast path. */
static void vt_byte(struct replay_vt *vt, unsigned char c)
{
	if (c == 0x18 || c == 0x1a) { /* CAN, SUB: abort whatever is going on */
		vt->state = REPLAY_VT_GROUND;
		vt->utf8 = 0;
		return;
	}
	if (c == 0x1b) {
		vt->state = REPLAY_VT_ESC;
		vt->utf8 = 0;
		return;
	}
	switch (vt->state) {
	case REPLAY_VT_GROUND:
		if (vt->utf8 > 0 && c >= 0x80 && c <= 0xbf)
			vt->utf8--;
		else
			vt->utf8 = (unsigned char)(utf8_len(c) - 1);
		break;
	case REPLAY_VT_ESC:
		if (c == '[')
			vt->state = REPLAY_VT_CSI;
		else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_')
			vt->state = REPLAY_VT_STRING;
		else if (c >= 0x20 && c <= 0x2f)
			vt->state = REPLAY_VT_ESC_INT;
		else if (c >= 0x30 && c <= 0x7e)
			vt->state = REPLAY_VT_GROUND;
		break;
	case REPLAY_VT_ESC_INT:
		if (c >= 0x30 && c <= 0x7e)
			vt->state = REPLAY_VT_GROUND;
		break;
	case REPLAY_VT_CSI:
		if (c >= 0x40 && c <= 0x7e)
			vt->state = REPLAY_VT_GROUND;
		break;
	case REPLAY_VT_STRING:
		if (c == 0x07) /* BEL ends an OSC; ST (ESC \) goes through REPLAY_VT_ESC */
			vt->state = REPLAY_VT_GROUND;
		break;
	}
}

void replay_vt_feed(struct replay_vt *vt, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n, *esc;

	/*
	 * An ESC puts every state into REPLAY_VT_ESC: the state after p[0..n)
	 * depends only on what follows its last ESC. Output with colour has an
	 * ESC every few bytes; starting at the last one, the parser reads a few
	 * bytes per dropped chunk (bench/replay.bench.c: 1.63 ms per MB of
	 * `ls --color`-like output parsed byte by byte, 0.02 ms this way).
	 */
	esc = memrchr(p, 0x1b, n);
	if (esc != NULL) {
		vt->state = REPLAY_VT_ESC;
		vt->utf8 = 0;
		p = esc + 1;
	}
	while (p < end) {
		if (vt->state == REPLAY_VT_GROUND && vt->utf8 == 0) {
			/* Text: only an ESC changes the state (CAN, SUB do nothing here). */
			esc = memchr(p, 0x1b, (size_t)(end - p));
			size_t run = (size_t)((esc != NULL ? esc : end) - p);
			if (run >= 4) {
				vt->utf8 = utf8_due(p, run);
				p += run;
				continue;
			}
		}
		vt_byte(vt, *p++);
	}
}

int replay_vt_safe(const struct replay_vt *vt)
{
	return vt->state == REPLAY_VT_GROUND && vt->utf8 == 0;
}

void replay_init(struct replay *r, size_t max, struct replay_budget *budget)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->budget = budget;
}

/* Index in buf of offset off (tail <= off < tail + cap). */
static size_t pos(const struct replay *r, unsigned long long off)
{
	return (r->start + (size_t)(off - r->tail)) % r->cap;
}

/* Drops the k oldest bytes, running the parser over them. */
static void drop_oldest(struct replay *r, size_t k)
{
	size_t first = r->cap - r->start;

	if (k == 0)
		return;
	if (first > k)
		first = k;
	replay_vt_feed(&r->vt, r->buf + r->start, first);
	replay_vt_feed(&r->vt, r->buf, k - first);
	r->start = (r->start + k) % r->cap;
	r->tail += k;
}

/* The mapping behind a ring: its whole limit, reserved once, in pages. */
static size_t map_len(const struct replay *r)
{
	size_t page = 4096;

	return (r->max + page - 1) / page * page;
}

/*
 * Grows toward want bytes as the limit and the budget allow; keeps the data.
 * The ring lives in one anonymous mapping of its whole limit: growing moves
 * nothing and frees nothing (only the pages written are memory), and freeing
 * gives every page back to the system at once, so 1,000 rings leave no holes
 * in the heap.
 */
static void grow(struct replay *r, size_t want)
{
	size_t size = (size_t)(r->head - r->tail), newcap = r->cap ? r->cap * 2 : REPLAY_MIN_CAP;
	void *m;

	while (newcap < want && newcap < r->max)
		newcap *= 2;
	if (newcap > r->max)
		newcap = r->max;
	if (r->budget != NULL && r->budget->max > 0) {
		size_t avail = r->budget->max > r->budget->used ? r->budget->max - r->budget->used : 0;
		if (newcap - r->cap > avail)
			newcap = r->cap + avail;
	}
	if (newcap <= r->cap)
		return;
	if (r->cap > 0 && r->start + size > r->cap)
		return; /* wrapped: it keeps the size it had when it filled up */
	if (r->buf == NULL) {
		m = mmap(NULL, map_len(r), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return;
		r->buf = m;
	}
	if (r->start > 0)
		memmove(r->buf, r->buf + r->start, size);
	if (r->budget != NULL)
		r->budget->used += newcap - r->cap;
	r->cap = newcap;
	r->start = 0;
}

void replay_append(struct replay *r, const unsigned char *p, size_t n)
{
	size_t size = (size_t)(r->head - r->tail), at, first;

	if (n == 0)
		return;
	if (r->max == 0 && r->budget == NULL) {
		/* A session that never resumes only counts its output. */
		r->head += n;
		r->tail = r->head;
		return;
	}
	if (size + n > r->cap && r->cap < r->max)
		grow(r, size + n);
	if (n >= r->cap) {
		/* Everything kept so far goes, and the start of p too. */
		drop_oldest(r, size);
		replay_vt_feed(&r->vt, p, n - r->cap);
		r->tail = r->head + (n - r->cap);
		r->head += n;
		r->start = 0;
		if (r->cap > 0)
			memcpy(r->buf, p + (n - r->cap), r->cap);
		return;
	}
	if (size + n > r->cap) {
		drop_oldest(r, size + n - r->cap);
		size = r->cap - n;
	}
	at = (r->start + size) % r->cap;
	first = r->cap - at;
	if (first > n)
		first = n;
	memcpy(r->buf + at, p, first);
	memcpy(r->buf, p + first, n - first);
	r->head += n;
}

size_t replay_copy(const struct replay *r, unsigned long long from, unsigned char *dst, size_t n)
{
	size_t at, first;

	if (from < r->tail || from >= r->head)
		return 0;
	if (n > r->head - from)
		n = (size_t)(r->head - from);
	at = pos(r, from);
	first = r->cap - at;
	if (first > n)
		first = n;
	memcpy(dst, r->buf + at, first);
	memcpy(dst + first, r->buf, n - first);
	return n;
}

unsigned long long replay_safe_start(const struct replay *r)
{
	struct replay_vt vt = r->vt;
	unsigned long long off = r->tail;

	while (off < r->head && !replay_vt_safe(&vt)) {
		vt_byte(&vt, r->buf[pos(r, off)]);
		off++;
	}
	return off;
}

void replay_free(struct replay *r)
{
	if (r->budget != NULL)
		r->budget->used -= r->cap;
	if (r->buf != NULL)
		munmap(r->buf, map_len(r));
	r->buf = NULL;
	r->cap = 0;
}
