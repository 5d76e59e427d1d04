/*
 * replay.h: the bounded cache of seen jti values behind --single-use. Each
 * entry lives until its token's expiry (plus leeway); when the cache is full
 * of live entries it fails closed.
 */
#ifndef JWT_VERIFY_REPLAY_H
#define JWT_VERIFY_REPLAY_H

#include <stddef.h>

/* Default number of live entries kept. */
#define REPLAY_CAPACITY 100000

enum replay_verdict {
	REPLAY_FRESH = 0,  /* not seen: recorded now */
	REPLAY_SEEN = 1,   /* seen before and not yet expired: reject */
	REPLAY_FULL = -1,  /* no room for it: reject (fail closed) */
};

struct replay;

/* A cache for up to capacity live entries; NULL when out of memory. Caller frees. */
struct replay *replay_new(size_t capacity);

/* Frees the cache; NULL is fine. */
void replay_free(struct replay *r);

/*
 * Records jti (len bytes) until expires (seconds since the epoch), unless it
 * is already there and not expired at now. Entries expired at now are
 * evicted before the cache is declared full.
 */
enum replay_verdict replay_check(struct replay *r, const char *jti, size_t len, double expires,
				 long long now);

/* Live plus not-yet-evicted entries, for tests. */
size_t replay_count(const struct replay *r);

#endif
