/*
 * jwt.h: the pure part of jwt-verify: splits a compact JWS, decodes base64url,
 * checks the header (alg allow-list, kid) and the claims (exp, nbf, iat,
 * lifetime, aud, sub, jti) against a clock the caller passes in, and verifies
 * the signature. No I/O, no globals, no logging.
 */
#ifndef JWT_VERIFY_JWT_H
#define JWT_VERIFY_JWT_H

#include <stddef.h>

#include "keys.h"

/* Longest token accepted, in bytes (checked before anything is decoded). */
#define JWT_MAX_LEN 8192
/* Longest sub accepted (it becomes X-Webshell-User). */
#define JWT_SUB_MAX 128
/*
 * Most keys of one type a token without kid is tried against (so at most
 * this many signature checks a token); with more, kid is required.
 */
#define JWT_NOKID_KEYS 4
/* Longest jti accepted. */
#define JWT_JTI_MAX 128

enum jwt_alg {
	JWT_ALG_UNSET,
	JWT_ALG_EDDSA,
	JWT_ALG_RS256,
	JWT_ALG_RS384,
	JWT_ALG_RS512,
	JWT_ALG_ES256,
	JWT_ALG_ES384,
	JWT_ALG_ES512,
};

/* What a token must satisfy; times in seconds since the epoch. */
struct jwt_policy {
	long long now;          /* the clock, passed in */
	long long leeway;       /* allowed clock skew, seconds */
	long long max_lifetime; /* exp - now may not exceed this (+ leeway), seconds */
	const char *audience;   /* required aud member, or NULL */
	int require_jti;        /* 1: jti must be present (--single-use) */
};

/* What a verified (or partly parsed) token said; strings NUL-terminated. */
struct jwt_result {
	enum jwt_alg alg;              /* set once the header is read */
	const struct key *key;         /* the key that verified it (borrowed), or NULL */
	char sub[JWT_SUB_MAX + 1];     /* "" when absent */
	char jti[JWT_JTI_MAX + 1];     /* "" when absent */
	double exp;                    /* the exp claim, seconds */
};

/*
 * Verifies the compact JWS tok (len bytes, need not be NUL-terminated)
 * against the keys and the policy. Returns 0 when the token is good, with
 * *out filled in; otherwise -1 and *reason points at a static one-line
 * reason ("token expired", "bad signature", ...). *out is usable for logging
 * in both cases (alg, sub, jti as far as they were read). Allocates only
 * temporarily; keeps no state.
 */
int jwt_verify(const char *tok, size_t len, const struct key *keys, size_t nkeys,
	       const struct jwt_policy *policy, struct jwt_result *out, const char **reason);

/* "EdDSA", "RS256", ..., or "-" when unset. */
const char *jwt_alg_name(enum jwt_alg alg);

/*
 * Decodes base64url without padding (RFC 7515 section 2) from src (len bytes)
 * into dst (cap bytes). Returns the decoded length, or -1 if src holds any
 * character outside [A-Za-z0-9_-], has a bad length, or does not fit.
 */
long jwt_b64url_decode(unsigned char *dst, size_t cap, const char *src, size_t len);

#endif
