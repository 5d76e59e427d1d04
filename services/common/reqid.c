/*
 * reqid.c: correlation ids: 16 bytes of libsodium's CSPRNG each, or checked.
 *
 * The random bytes are drawn 64 ids at a time (one getrandom(2) where there
 * was one per request: jwt-verify makes an id for every decision). An id is
 * as random and as unguessable as before; none is used twice, and a child
 * of fork() draws its own (the pool is emptied there), so parent and child
 * never share one.
 */
#include "reqid.h"

#include <pthread.h>
#include <sodium.h>

#define POOL_IDS 64

/* Per thread: ids are made on any thread without a lock. */
static _Thread_local struct {
	unsigned char bytes[POOL_IDS * REQID_BYTES];
	size_t left; /* unused bytes at the end of bytes */
} pool;

static pthread_once_t fork_hook = PTHREAD_ONCE_INIT;

/* In the child (only the forking thread lives on): its own bytes next time. */
static void pool_forget(void)
{
	sodium_memzero(pool.bytes, sizeof(pool.bytes));
	pool.left = 0;
}

static void hook_fork(void)
{
	pthread_atfork(NULL, NULL, pool_forget);
}

void reqid_new(char dst[REQID_LEN + 1])
{
	unsigned char *raw;

	pthread_once(&fork_hook, hook_fork);
	if (pool.left < REQID_BYTES) {
		randombytes_buf(pool.bytes, sizeof(pool.bytes));
		pool.left = sizeof(pool.bytes);
	}
	raw = pool.bytes + sizeof(pool.bytes) - pool.left;
	sodium_bin2hex(dst, REQID_LEN + 1, raw, REQID_BYTES);
	pool.left -= REQID_BYTES;
}

int reqid_valid(const char *s, size_t len)
{
	size_t i;

	if (len < 8 || len > REQID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}
