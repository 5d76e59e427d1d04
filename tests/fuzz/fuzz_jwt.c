/*
 * fuzz_jwt.c: libFuzzer target on jwt-verify's pure part. Each input is a
 * token verified against keys of every type with a fixed clock; the first
 * byte picks the policy (audience, single-use) so those paths are reached.
 * Run from the repository root (the keys are the committed test fixtures).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../services/jwt-verify/jwt.h"
#include "../../services/jwt-verify/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keyset *keys;

static void load_keys(void)
{
	static const char *paths[] = {
		"tests/jwt-verify/fixtures/ed25519.pub.pem",
		"tests/jwt-verify/fixtures/p256.pub.pem",
		"tests/jwt-verify/fixtures/p384.pub.pem",
		"tests/jwt-verify/fixtures/p521.pub.pem",
		"tests/jwt-verify/fixtures/rsa2048.pub.pem",
		"tests/jwt-verify/fixtures/rfc8037-a4-ed25519.pub.pem",
	};
	char err[512];

	if (sodium_init() < 0)
		abort();
	keys = keyset_load(paths, sizeof(paths) / sizeof(paths[0]), err, sizeof(err));
	if (keys == NULL) {
		fprintf(stderr, "fuzz_jwt: %s (run from the repository root)\n", err);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_policy p = { 1700000000, 30, 3600, NULL, 0 };
	struct jwt_result res;
	const char *reason = NULL;
	int rc;

	if (keys == NULL)
		load_keys();
	if (size == 0)
		return 0;
	if (data[0] & 1)
		p.audience = "web-shell";
	p.require_jti = (data[0] & 2) != 0;
	rc = jwt_verify((const char *)data + 1, size - 1, keys->keys, keys->n, &p, &res, &reason);
	/* The contract: a reason exactly when refused, and NUL-terminated outputs. */
	if ((rc == 0) != (reason == NULL) || strlen(res.sub) > JWT_SUB_MAX ||
	    strlen(res.jti) > JWT_JTI_MAX)
		abort();
	return 0;
}
