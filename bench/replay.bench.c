/*
 * bench/replay.bench.c: the replay buffer's own work per MB of output
 * (services/ptyd/replay.c, the ring every resumable session appends its
 * output to), built and run by bench/ptyd.bench.py. End to end, the cost of
 * the buffer is smaller than the run-to-run spread of ptyd's CPU time per MB
 * on a 2-core VM; timed here alone, it is not.
 *
 *   replay.bench MAX_BYTES MB    appends MB megabytes in 64 KiB reads to a
 *                                ring of MAX_BYTES (full after the first
 *                                MAX_BYTES: every append then evicts), of
 *                                plain text and of coloured UTF-8 output;
 *                                prints "PLAIN_MS_PER_MB COLOUR_MS_PER_MB"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay.h"

#define READ_BYTES 65536

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ms per MB of appending mb megabytes of chunk to a ring of max bytes (best of 3). */
static double append_ms_per_mb(const unsigned char *chunk, size_t max, unsigned long mb)
{
	double best = 0;
	int round;

	for (round = 0; round < 3; round++) {
		struct replay_budget budget = { 0, 0 };
		unsigned long long total = 0, want = (unsigned long long)mb * 1000000;
		struct replay r;
		double t0, ms;

		replay_init(&r, max, &budget);
		t0 = now();
		while (total < want) {
			replay_append(&r, chunk, READ_BYTES);
			total += READ_BYTES;
		}
		ms = (now() - t0) * 1000 / ((double)total / 1e6);
		replay_free(&r);
		if (round == 0 || ms < best)
			best = ms;
	}
	return best;
}

int main(int argc, char **argv)
{
	/* What `ls --color` and a UTF-8 prompt print: SGR sequences, multi-byte characters. */
	static const char colour[] = "\033[01;34mdocs\033[0m  README.md  \033[01;32mrun.sh\033[0m  "
				     "caf\xc3\xa9  \xe2\x9c\x93 done\r\n";
	static unsigned char plain[READ_BYTES], coloured[READ_BYTES];
	size_t i, max;
	unsigned long mb;

	if (argc != 3 || (max = strtoul(argv[1], NULL, 10)) == 0 ||
	    (mb = strtoul(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: %s MAX_BYTES MB\n", argv[0]);
		return 2;
	}
	memset(plain, 'a', sizeof(plain));
	for (i = 0; i < sizeof(coloured); i++)
		coloured[i] = (unsigned char)colour[i % (sizeof(colour) - 1)];
	printf("%.4f %.4f\n", append_ms_per_mb(plain, max, mb), append_ms_per_mb(coloured, max, mb));
	return 0;
}
