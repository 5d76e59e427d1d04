/*
 * jwt-verify.bench.c: the raw libsodium Ed25519 verification rate on one
 * core, the ceiling bench/jwt-verify.bench.sh compares jwt-verify's HTTP
 * rate with. Verifies one JWT-sized signing input for SECONDS (default 3)
 * and prints "verifications_per_cpu_second N verifications_per_second M": the
 * first counts only the CPU time this process got, so it holds on a machine
 * that other work shares; the second is plain wall-clock time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

static double now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	/* About the size of a header.claims signing input with sub, jti, aud. */
	static const char msg[] =
		"eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcw"
		"MDAwMDA2MCwic3ViIjoiYWxpY2UiLCJqdGkiOiJiZW5jaC0xIiwiYXVkIjoid2ViLXNoZWxsIn0";
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	unsigned char sig[crypto_sign_BYTES];
	double seconds = argc > 1 ? atof(argv[1]) : 3.0, start, cpu_start, elapsed, cpu;
	long n = 0, bad = 0, i;

	if (sodium_init() < 0 || seconds <= 0)
		return 1;
	crypto_sign_keypair(pk, sk);
	crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg), sk);
	start = now(CLOCK_MONOTONIC);
	cpu_start = now(CLOCK_PROCESS_CPUTIME_ID);
	do {
		for (i = 0; i < 1000; i++)
			bad += crypto_sign_verify_detached(sig, (const unsigned char *)msg, strlen(msg),
							   pk) != 0;
		n += 1000;
		cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
	} while (cpu < seconds);
	elapsed = now(CLOCK_MONOTONIC) - start;
	if (bad) {
		fprintf(stderr, "jwt-verify.bench: %ld verifications failed\n", bad);
		return 1;
	}
	printf("verifications_per_cpu_second %.0f verifications_per_second %.0f\n", (double)n / cpu,
	       (double)n / elapsed);
	return 0;
}
