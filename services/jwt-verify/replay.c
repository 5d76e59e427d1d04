/*
 * replay.c: open-addressing hash set of jti digests with expiry times. Keys
 * are keyed BLAKE2b digests (random key per process), so a client cannot aim
 * collisions at one bucket, and memory stays fixed at 2 slots per entry.
 */
#include "replay.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define DIGEST_LEN 16

struct slot {
	unsigned char digest[DIGEST_LEN];
	double expires; /* seconds since the epoch; 0: empty slot */
};

struct replay {
	struct slot *slots;
	size_t mask;       /* number of slots - 1 (a power of two) */
	size_t capacity;   /* most occupied slots allowed */
	size_t used;       /* occupied slots, expired ones included */
	long long purged;  /* when expired entries were last swept out */
	unsigned char key[crypto_generichash_KEYBYTES];
};

struct replay *replay_new(size_t capacity)
{
	struct replay *r;
	size_t n = 16;

	if (capacity == 0)
		capacity = 1;
	while (n < capacity * 2)
		n *= 2;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	/* calloc: untouched pages cost no memory until entries arrive. */
	r->slots = calloc(n, sizeof(*r->slots));
	if (r->slots == NULL) {
		free(r);
		return NULL;
	}
	r->mask = n - 1;
	r->capacity = capacity;
	r->purged = -1;
	randombytes_buf(r->key, sizeof(r->key));
	return r;
}

void replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	free(r->slots);
	free(r);
}

size_t replay_count(const struct replay *r)
{
	return r->used;
}

static size_t bucket(const struct replay *r, const unsigned char *d)
{
	uint64_t h;

	memcpy(&h, d, sizeof(h));
	return (size_t)h & r->mask;
}

/* Rebuilds the table without the entries expired at now. */
static void purge(struct replay *r, long long now)
{
	size_t i, j, n = r->mask + 1;
	struct slot *old = r->slots, *fresh;

	fresh = calloc(n, sizeof(*fresh));
	if (fresh == NULL)
		return; /* stays full: fails closed */
	r->used = 0;
	for (i = 0; i < n; i++) {
		if (old[i].expires == 0 || old[i].expires < (double)now)
			continue;
		for (j = bucket(r, old[i].digest); fresh[j].expires != 0; j = (j + 1) & r->mask)
			;
		fresh[j] = old[i];
		r->used++;
	}
	free(old);
	r->slots = fresh;
	r->purged = now;
}

enum replay_verdict replay_check(struct replay *r, const char *jti, size_t len, double expires,
				 long long now)
{
	unsigned char d[DIGEST_LEN];
	struct slot *reuse = NULL;
	size_t i;

	crypto_generichash(d, sizeof(d), (const unsigned char *)jti, len, r->key, sizeof(r->key));
	for (i = bucket(r, d); r->slots[i].expires != 0; i = (i + 1) & r->mask) {
		struct slot *s = &r->slots[i];
		int expired = s->expires < (double)now;

		if (memcmp(s->digest, d, DIGEST_LEN) == 0) {
			if (!expired)
				return REPLAY_SEEN;
			s->expires = expires;
			return REPLAY_FRESH;
		}
		if (expired && reuse == NULL)
			reuse = s;
	}
	if (reuse != NULL) {
		memcpy(reuse->digest, d, DIGEST_LEN);
		reuse->expires = expires;
		return REPLAY_FRESH;
	}
	if (r->used >= r->capacity) {
		/* Sweep at most once a second, so a full cache cannot be made to spin. */
		if (r->purged == now)
			return REPLAY_FULL;
		purge(r, now);
		if (r->used >= r->capacity)
			return REPLAY_FULL;
		for (i = bucket(r, d); r->slots[i].expires != 0; i = (i + 1) & r->mask)
			;
	}
	memcpy(r->slots[i].digest, d, DIGEST_LEN);
	r->slots[i].expires = expires;
	r->used++;
	return REPLAY_FRESH;
}
