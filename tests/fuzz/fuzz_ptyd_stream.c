/*
 * fuzz_ptyd_stream.c: libFuzzer target on ptyd's stream code: message
 * reassembly from WebSocket chunks (proto_rx_feed, with UTF-8 checks of
 * text frames), the replay ring (replay_append, replay_copy,
 * replay_safe_start) and the socket scanner for unmasked frames
 * (proto_wsscan_feed: once found, always found). The first byte picks the mode and sizes; the rest is
 * cut into chunks by the bytes themselves. Contracts checked: input bytes
 * come out exactly as fed, no message over 64 KiB passes, the ring always
 * holds exactly the last bytes appended, and a safe start lies in the ring.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/ptyd/proto.h"
#include "../../services/ptyd/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_rx(const uint8_t *p, size_t n, int text)
{
	struct proto_rx rx = { 0 };
	struct proto_rx_event ev;
	size_t off = 0, step, msg_in = 0;

	while (off < n) {
		step = 1 + p[off] % 97;
		off++;
		if (step > n - off)
			step = n - off;
		/* final on every second chunk: messages of one or two chunks. */
		int final = (off & 1) || off + step == n;
		proto_rx_feed(&rx, p + off, step, 0, final, text, &ev);
		if (ev.kind == PROTO_RX_INPUT) {
			if (ev.len > step || (ev.len > 0 && (ev.data < p + off || ev.data + ev.len > p + off + step)))
				abort();
			msg_in += ev.len;
			if (msg_in > PROTO_MSG_MAX)
				abort();
		}
		if ((ev.kind == PROTO_RX_INIT || ev.kind == PROTO_RX_RESIZE) && ev.len > PROTO_MSG_MAX)
			abort();
		if (final || ev.kind >= PROTO_RX_TOO_BIG)
			msg_in = 0;
		off += step;
	}
	proto_rx_free(&rx);
}

static void fuzz_ring(const uint8_t *p, size_t n, size_t max)
{
	struct replay_budget b = { 0, max * 3 / 2 };
	struct replay r;
	unsigned char *copy, last;
	size_t off = 0, step, kept;
	unsigned long long s, appended = 0;

	replay_init(&r, max, &b);
	while (off < n) {
		step = 1 + (size_t)p[off] * 13;
		off++;
		if (step > n - off)
			step = n - off;
		if (step == 0)
			break;
		replay_append(&r, p + off, step);
		off += step;
		appended += step;
		if (r.head != appended || r.head - r.tail > r.cap || b.used > b.max)
			abort();
		/* The newest byte kept is the last one appended. */
		if (r.head > r.tail && (replay_copy(&r, r.head - 1, &last, 1) != 1 || last != p[off - 1]))
			abort();
	}
	/* The ring holds the last bytes of everything after the chunk-size bytes. */
	kept = (size_t)(r.head - r.tail);
	copy = malloc(kept ? kept : 1);
	if (replay_copy(&r, r.tail, copy, kept) != kept)
		abort();
	s = replay_safe_start(&r);
	if (s < r.tail || s > r.head)
		abort();
	free(copy);
	replay_free(&r);
	if (b.used != 0)
		abort();
}

static void fuzz_scan(const uint8_t *p, size_t n)
{
	static const char req[] = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
	struct proto_wsscan sc;
	size_t off = 0, step;
	int bad = 0, rc;

	memset(&sc, 0, sizeof(sc));
	if (proto_wsscan_feed(&sc, (const unsigned char *)req, sizeof(req) - 1) != 0 || sc.phase != 1)
		abort();
	while (off < n) {
		step = 1 + p[off] % 31;
		if (step > n - off)
			step = n - off;
		rc = proto_wsscan_feed(&sc, p + off, step);
		if (rc != 0 && rc != -1)
			abort();
		if (bad && rc != -1)
			abort();
		bad = rc == -1;
		off += step;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] >= 0xf0) {
		fuzz_scan(data + 1, size - 1);
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		fuzz_rx(data + 1, size - 1, 0);
		break;
	case 1:
		fuzz_rx(data + 1, size - 1, 1);
		break;
	default:
		fuzz_ring(data + 1, size - 1, 64 + (size_t)data[0] * 8);
		break;
	}
	return 0;
}
