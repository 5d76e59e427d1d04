/*
 * jwt-verify.bench.c: the ceilings bench/jwt-verify.bench.sh compares
 * jwt-verify's HTTP rate with, on one core:
 *   jwt-verify-raw SECONDS                 raw libsodium Ed25519 verifications
 *   jwt-verify-raw SECONDS KEY.pem TOKEN   the same, then jwt_verify() (the pure
 *                                          part: split, decode, JSON, claims,
 *                                          signature) on TOKEN with KEY.pem
 * Each rate is printed per CPU-second this process got (it holds on a machine
 * that other work shares) and per wall-clock second:
 *   raw_per_cpu_second N raw_per_second M [pure_per_cpu_second P]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../services/jwt-verify/jwt.h"

static double now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Raw Ed25519 verification of a JWT-sized signing input for `seconds` of CPU. */
static int raw_rate(double seconds)
{
	/* About the size of a header.claims signing input with sub, jti, aud. */
	static const char msg[] =
		"eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcw"
		"MDAwMDA2MCwic3ViIjoiYWxpY2UiLCJqdGkiOiJiZW5jaC0xIiwiYXVkIjoid2ViLXNoZWxsIn0";
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	unsigned char sig[crypto_sign_BYTES];
	double start, cpu_start, cpu;
	long n = 0, bad = 0, i;

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
	if (bad) {
		fprintf(stderr, "jwt-verify-raw: %ld verifications failed\n", bad);
		return -1;
	}
	printf("raw_per_cpu_second %.0f raw_per_second %.0f", (double)n / cpu,
	       (double)n / (now(CLOCK_MONOTONIC) - start));
	return 0;
}

/* jwt_verify() on one token for `seconds` of CPU. */
static int pure_rate(double seconds, const char *keyfile, const char *tok)
{
	const char *paths[] = { keyfile }, *reason = NULL;
	struct jwt_policy p = { (long long)time(NULL), 30, 3600, NULL, 0 };
	struct jwt_result res;
	struct keyset *ks;
	double cpu_start, cpu;
	char err[512];
	long n = 0, i;

	ks = keyset_load(paths, 1, err, sizeof(err));
	if (ks == NULL) {
		fprintf(stderr, "jwt-verify-raw: %s\n", err);
		return -1;
	}
	cpu_start = now(CLOCK_PROCESS_CPUTIME_ID);
	do {
		for (i = 0; i < 1000; i++)
			if (jwt_verify(tok, strlen(tok), ks->keys, ks->n, &p, &res, &reason) != 0) {
				fprintf(stderr, "jwt-verify-raw: token refused: %s\n", reason);
				keyset_free(ks);
				return -1;
			}
		n += 1000;
		cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
	} while (cpu < seconds);
	printf(" pure_per_cpu_second %.0f", (double)n / cpu);
	keyset_free(ks);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;

	if (sodium_init() < 0 || seconds <= 0 || (argc != 2 && argc != 4)) {
		fprintf(stderr, "usage: jwt-verify-raw SECONDS [KEY.pem TOKEN]\n");
		return 2;
	}
	if (raw_rate(seconds) != 0)
		return 1;
	if (argc == 4 && pure_rate(seconds, argv[2], argv[3]) != 0)
		return 1;
	printf("\n");
	return 0;
}
