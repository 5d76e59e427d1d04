/*
 * test_jwt.c: unit tests (TAP) of jwt-verify's pure part: RFC vectors, every
 * algorithm, every claim rule at its edge with a fixed clock, the hostile
 * inputs of issue 2 each with its own reason, key loading and the replay
 * cache. Tokens are minted here with OpenSSL from the committed test keys and
 * placed against a guard page, so any over-read faults.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "tap.h"
#include "../../services/jwt-verify/jwt.h"
#include "../../services/jwt-verify/keys.h"
#include "../../services/jwt-verify/replay.h"

#define FIX "tests/jwt-verify/fixtures/"
#define NOW 1700000000LL


/* One key that may assert any sub ("=*"): the claim tests are not about identities. */
static struct keyset *load1(const char *path)
{
	char err[512], spec[512];
	const char *paths[] = { spec };
	struct keyset *ks;

	snprintf(spec, sizeof(spec), "%s=*", path);
	ks = keyset_load(paths, 1, err, sizeof(err));

	if (ks == NULL) {
		printf("# cannot load %s: %s\n", path, err);
		exit(1);
	}
	return ks;
}

/* A copy of s whose last byte sits just before a PROT_NONE page. */
struct guarded {
	char *map;
	size_t maplen;
	char *data;
};

static struct guarded guard(const char *s, size_t len)
{
	struct guarded g;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (len + page - 1) / page + 1;

	g.maplen = (pages + 1) * page;
	g.map = mmap(NULL, g.maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g.map == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	mprotect(g.map + pages * page, page, PROT_NONE);
	g.data = g.map + pages * page - len;
	memcpy(g.data, s, len);
	return g;
}

static struct jwt_policy policy(long long now)
{
	struct jwt_policy p = { now, 30, 3600, NULL, 0 };
	return p;
}

/* Runs jwt_verify on tok (guarded); returns NULL for success or the reason. */
static const char *verify(const char *tok, const struct keyset *ks, const struct jwt_policy *p,
			  struct jwt_result *res)
{
	struct jwt_result local;
	const char *reason = NULL;
	struct guarded g = guard(tok, strlen(tok));
	int rc;

	rc = jwt_verify(g.data, strlen(tok), ks->keys, ks->n, p, res ? res : &local, &reason);
	munmap(g.map, g.maplen);
	if (rc == 0 && reason != NULL)
		return "BUG: rc 0 with a reason";
	if (rc != 0 && reason == NULL)
		return "BUG: rc -1 without a reason";
	return rc == 0 ? NULL : reason;
}

static void expect(const char *name, const char *tok, const struct keyset *ks,
		   const struct jwt_policy *p, const char *want)
{
	const char *got = verify(tok, ks, p, NULL);

	if (want == NULL)
		ok(got == NULL, "%s: accepted", name);
	else
		ok(got != NULL && strcmp(got, want) == 0, "%s: \"%s\"", name, want);
	if ((want == NULL) != (got == NULL) || (got && want && strcmp(got, want) != 0))
		printf("#   got: %s\n", got ? got : "accepted");
}

static char *b64(const unsigned char *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(cap);

	sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

static EVP_PKEY *load_private(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		printf("# cannot read private key %s\n", path);
		exit(1);
	}
	return k;
}

enum { RAW = 0, DER = 1 };

/*
 * Mints header.claims.signature, signed by the private key in keyfile as alg
 * says ("none": empty; "HS256": HMAC keyed with keyfile's bytes). Caller frees.
 */
static char *mint(const char *keyfile, const char *alg, const char *header, const char *claims,
		  int der)
{
	char hbuf[256], *h, *c, *s, *out, *input;
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);

	if (header == NULL) {
		snprintf(hbuf, sizeof(hbuf), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
		header = hbuf;
	}
	h = b64((const unsigned char *)header, strlen(header));
	c = b64((const unsigned char *)claims, strlen(claims));
	input = malloc(strlen(h) + strlen(c) + 2);
	sprintf(input, "%s.%s", h, c);
	if (strcmp(alg, "none") == 0) {
		siglen = 0;
	} else if (strncmp(alg, "HS", 2) == 0) {
		unsigned char secret[8192];
		int fd = open(keyfile, O_RDONLY);
		ssize_t n = read(fd, secret, sizeof(secret));
		crypto_auth_hmacsha256_state st;

		close(fd);
		crypto_auth_hmacsha256_init(&st, secret, (size_t)n);
		crypto_auth_hmacsha256_update(&st, (unsigned char *)input, strlen(input));
		crypto_auth_hmacsha256_final(&st, sig);
		siglen = 32;
	} else {
		EVP_PKEY *k = load_private(keyfile);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		const EVP_MD *md = NULL;

		if (strcmp(alg, "EdDSA") != 0)
			md = strstr(alg, "256") ? EVP_sha256() : strstr(alg, "384") ? EVP_sha384() :
										EVP_sha512();
		if (EVP_DigestSignInit(ctx, NULL, md, NULL, k) != 1 ||
		    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)input, strlen(input)) != 1) {
			printf("# signing failed\n");
			exit(1);
		}
		if (alg[0] == 'E' && alg[1] == 'S' && der == RAW) {
			const unsigned char *p = sig;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
			size_t coord = ((size_t)EVP_PKEY_get_bits(k) + 7) / 8;

			BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)coord);
			BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + coord, (int)coord);
			siglen = 2 * coord;
			ECDSA_SIG_free(es);
		}
		EVP_MD_CTX_free(ctx);
		EVP_PKEY_free(k);
	}
	s = b64(sig, siglen);
	out = malloc(strlen(input) + strlen(s) + 2);
	sprintf(out, "%s.%s", input, s);
	free(h);
	free(c);
	free(s);
	free(input);
	return out;
}

/* Claims with exp = NOW + 60 plus extra members (a JSON fragment or ""). */
static const char *claims(const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "{\"exp\":%lld%s%s}", NOW + 60, extra[0] ? "," : "", extra);
	return buf;
}

static void expect_mint(const char *name, const char *key, const char *alg, const char *c,
			const struct keyset *ks, const struct jwt_policy *p, const char *want)
{
	char *tok = mint(key, alg, NULL, c, RAW);

	expect(name, tok, ks, p, want);
	free(tok);
}

/* Flips one bit in the first byte of a token's signature. */
static char *tamper_sig(const char *tok)
{
	char *t = strdup(tok);
	char *s = strrchr(t, '.') + 1;

	s[0] = s[0] == 'A' ? 'B' : 'A';
	return t;
}

static void test_rfc_vectors(void)
{
	static const char a4[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
		"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
	static const char a2[] = "eyJhbGciOiJSUzI1NiJ9."
		"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
		"cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
		"jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L"
		"07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEU"
		"ipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
	static const char a3[] = "eyJhbGciOiJFUzI1NiJ9."
		"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
		"DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
	/* The A.2/A.3 claims expire at 1300819380. */
	struct jwt_policy p = policy(1300819380 - 60);
	struct keyset *ed = load1(FIX "rfc8037-a4-ed25519.pub.pem");
	struct keyset *rsa = load1(FIX "rfc7515-a2-rsa.pub.pem");
	struct keyset *ec = load1(FIX "rfc7515-a3-p256.pub.pem");
	struct jwt_result res;
	char *t;

	/* RFC 8037 A.3 gives this key's thumbprint. */
	ok(strcmp(ed->keys[0].thumb, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k") == 0,
	   "RFC 8037 A.3 thumbprint of the A.4 key");
	/* A.4's payload is prose, not claims: passing the signature check gets this far. */
	expect("RFC 8037 A.4 EdDSA signature verifies", a4, ed, &p, "claims are not JSON");
	t = tamper_sig(a4);
	expect("RFC 8037 A.4 with a flipped signature bit", t, ed, &p, "bad signature");
	free(t);
	ok(verify(a2, rsa, &p, &res) == NULL && res.alg == JWT_ALG_RS256 && res.key == &rsa->keys[0],
	   "RFC 7515 A.2 RS256 verifies");
	t = tamper_sig(a2);
	expect("RFC 7515 A.2 tampered", t, rsa, &p, "bad signature");
	free(t);
	ok(verify(a3, ec, &p, &res) == NULL && res.alg == JWT_ALG_ES256,
	   "RFC 7515 A.3 ES256 verifies");
	t = tamper_sig(a3);
	expect("RFC 7515 A.3 tampered", t, ec, &p, "bad signature");
	free(t);
	p = policy(1300819380 + 30);
	expect("RFC 7515 A.2 at exp + leeway", a2, rsa, &p, NULL);
	p = policy(1300819380 + 31);
	expect("RFC 7515 A.2 one second later", a2, rsa, &p, "token expired");
	expect("RFC 7515 A.2 against the P-256 key", a2, ec, &p, "algorithm does not match key");
	keyset_free(ed);
	keyset_free(rsa);
	keyset_free(ec);
}

static void test_algorithms(void)
{
	static const struct {
		const char *priv, *pub, *alg;
	} cases[] = {
		{ FIX "ed25519.pem", FIX "ed25519.pub.pem", "EdDSA" },
		{ FIX "p256.pem", FIX "p256.pub.pem", "ES256" },
		{ FIX "p384.pem", FIX "p384.pub.pem", "ES384" },
		{ FIX "p521.pem", FIX "p521.pub.pem", "ES512" },
		{ FIX "rsa2048.pem", FIX "rsa2048.pub.pem", "RS256" },
		{ FIX "rsa2048.pem", FIX "rsa2048.pub.pem", "RS384" },
		{ FIX "rsa2048.pem", FIX "rsa2048.pub.pem", "RS512" },
	};
	struct jwt_policy p = policy(NOW);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct keyset *ks = load1(cases[i].pub);
		struct jwt_result res;
		char *tok = mint(cases[i].priv, cases[i].alg, NULL, claims("\"sub\":\"alice\""), RAW);
		char *bad = tamper_sig(tok);

		ok(verify(tok, ks, &p, &res) == NULL && strcmp(res.sub, "alice") == 0 &&
			   strcmp(jwt_alg_name(res.alg), cases[i].alg) == 0,
		   "%s token verifies, sub alice", cases[i].alg);
		expect(cases[i].alg, bad, ks, &p, "bad signature");
		free(tok);
		free(bad);
		keyset_free(ks);
	}
}

static void test_claims(void)
{
	struct keyset *ks = load1(FIX "ed25519.pub.pem");
	const char *k = FIX "ed25519.pem";
	struct jwt_policy p = policy(NOW);
	char c[512], sub[200];
	struct jwt_result res;
	char *tok;

#define CLAIMS(...) (snprintf(c, sizeof(c), __VA_ARGS__), c)
	expect_mint("exp = now - leeway", k, "EdDSA", CLAIMS("{\"exp\":%lld}", NOW - 30), ks, &p, NULL);
	expect_mint("exp = now - leeway - 1", k, "EdDSA", CLAIMS("{\"exp\":%lld}", NOW - 31), ks, &p,
		    "token expired");
	expect_mint("exp fractional just inside", k, "EdDSA", CLAIMS("{\"exp\":%lld.5}", NOW - 31),
		    ks, &p, "token expired");
	expect_mint("nbf = now + leeway", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"nbf\":%lld}", NOW + 60, NOW + 30), ks, &p, NULL);
	expect_mint("nbf = now + leeway + 1", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"nbf\":%lld}", NOW + 60, NOW + 31), ks, &p,
		    "token not yet valid (nbf)");
	expect_mint("iat = now + leeway", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"iat\":%lld}", NOW + 60, NOW + 30), ks, &p, NULL);
	expect_mint("iat = now + leeway + 1", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"iat\":%lld}", NOW + 60, NOW + 31), ks, &p,
		    "token issued in the future (iat)");
	expect_mint("exp - now = max-lifetime + leeway", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld}", NOW + 3630), ks, &p, NULL);
	expect_mint("exp - now = max-lifetime + leeway + 1", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld}", NOW + 3631), ks, &p, "token lifetime too long");
	p.leeway = 0;
	expect_mint("leeway 0: exp = now", k, "EdDSA", CLAIMS("{\"exp\":%lld}", NOW), ks, &p, NULL);
	expect_mint("leeway 0: exp = now - 1", k, "EdDSA", CLAIMS("{\"exp\":%lld}", NOW - 1), ks, &p,
		    "token expired");
	expect_mint("leeway 0: nbf = now + 1", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"nbf\":%lld}", NOW + 60, NOW + 1), ks, &p,
		    "token not yet valid (nbf)");
	p = policy(NOW);
	expect_mint("exp missing", k, "EdDSA", "{\"sub\":\"alice\"}", ks, &p, "exp missing");
	expect_mint("exp a string", k, "EdDSA", CLAIMS("{\"exp\":\"%lld\"}", NOW + 60), ks, &p,
		    "exp is not a usable number");
	expect_mint("exp a float with garbage", k, "EdDSA", CLAIMS("{\"exp\":%lld.5e}", NOW + 60),
		    ks, &p, "bad exponent in a JSON number");
	expect_mint("exp 1e999", k, "EdDSA", "{\"exp\":1e999}", ks, &p,
		    "exp is not a usable number");
	expect_mint("nbf a string", k, "EdDSA", claims("\"nbf\":\"0\""), ks, &p,
		    "nbf is not a usable number");
	expect_mint("iat null", k, "EdDSA", claims("\"iat\":null"), ks, &p,
		    "iat is not a usable number");

	p.audience = "web-shell";
	expect_mint("aud string matches", k, "EdDSA", claims("\"aud\":\"web-shell\""), ks, &p, NULL);
	expect_mint("aud array holds it", k, "EdDSA", claims("\"aud\":[\"x\",\"web-shell\"]"), ks, &p,
		    NULL);
	expect_mint("wrong aud", k, "EdDSA", claims("\"aud\":\"web-shel\""), ks, &p, "wrong audience");
	expect_mint("aud array without it", k, "EdDSA", claims("\"aud\":[\"x\",1]"), ks, &p,
		    "wrong audience");
	expect_mint("aud missing", k, "EdDSA", claims(""), ks, &p, "aud missing");
	p = policy(NOW);
	expect_mint("aud ignored without --audience", k, "EdDSA", claims("\"aud\":\"x\""), ks, &p,
		    NULL);

	memset(sub, 'a', 128);
	sub[128] = '\0';
	tok = mint(k, "EdDSA", NULL, CLAIMS("{\"exp\":%lld,\"sub\":\"%s\"}", NOW + 60, sub), RAW);
	ok(verify(tok, ks, &p, &res) == NULL && strlen(res.sub) == 128, "sub of 128 bytes accepted");
	free(tok);
	expect_mint("sub of 129 bytes", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"sub\":\"%sa\"}", NOW + 60, sub), ks, &p, "invalid sub");
	expect_mint("sub with {", k, "EdDSA", claims("\"sub\":\"a{b}\""), ks, &p, "invalid sub");
	expect_mint("sub with a control char", k, "EdDSA", claims("\"sub\":\"a\\nb\""), ks, &p,
		    "invalid sub");
	expect_mint("sub non-ASCII", k, "EdDSA", claims("\"sub\":\"\\u00e9\""), ks, &p,
		    "invalid sub");
	expect_mint("sub a number", k, "EdDSA", claims("\"sub\":5"), ks, &p, "invalid sub");
	expect_mint("sub empty", k, "EdDSA", claims("\"sub\":\"\""), ks, &p, "invalid sub");
	tok = mint(k, "EdDSA", NULL, claims(""), RAW);
	ok(verify(tok, ks, &p, &res) == NULL && res.sub[0] == '\0' && res.key == &ks->keys[0],
	   "no sub: accepted, key reported");
	free(tok);

	p.require_jti = 1;
	expect_mint("single-use: jti missing", k, "EdDSA", claims(""), ks, &p, "jti missing");
	expect_mint("single-use: jti a number", k, "EdDSA", claims("\"jti\":1"), ks, &p,
		    "jti is not a string");
	tok = mint(k, "EdDSA", NULL, claims("\"jti\":\"j-1\""), RAW);
	ok(verify(tok, ks, &p, &res) == NULL && strcmp(res.jti, "j-1") == 0 &&
		   res.exp == (double)(NOW + 60),
	   "single-use: jti and exp reported");
	free(tok);
	memset(sub, 'j', 129);
	sub[129] = '\0';
	expect_mint("jti of 129 bytes", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"jti\":\"%s\"}", NOW + 60, sub), ks, &p, "jti too long");
	expect_mint("duplicate claim", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"exp\":%lld}", NOW + 60, NOW + 9999), ks, &p,
		    "duplicate claim");
/* CLAIMS(...) stays defined: later tests format claims into their own c[]. */
	keyset_free(ks);
}

static void test_hostile(void)
{
	struct keyset *ed = load1(FIX "ed25519.pub.pem");
	struct keyset *p384 = load1(FIX "p384.pub.pem");
	struct keyset *p256 = load1(FIX "p256.pub.pem");
	struct jwt_policy p = policy(NOW);
	const char *k = FIX "ed25519.pem", *c = claims("\"sub\":\"alice\"");
	char *tok, *t2, big[JWT_MAX_LEN + 2];
	size_t n;

	expect_mint("alg none", k, "none", c, ed, &p, "algorithm not allowed");
	expect_mint("HS256 keyed with the public key PEM", FIX "ed25519.pub.pem", "HS256", c, ed, &p,
		    "algorithm not allowed");
	tok = mint(k, "EdDSA", "{\"alg\":\"PS256\"}", c, RAW);
	expect("PS256", tok, ed, &p, "algorithm not allowed");
	free(tok);
	tok = mint(k, "EdDSA", "{\"typ\":\"JWT\"}", c, RAW);
	expect("alg missing", tok, ed, &p, "alg missing");
	free(tok);
	tok = mint(k, "EdDSA", "{\"alg\":\"RS256\"}", c, RAW);
	expect("alg/key mismatch (RS256 header, Ed25519 key)", tok, ed, &p,
	       "algorithm does not match key");
	free(tok);
	tok = mint(FIX "p384.pem", "ES256", NULL, c, RAW);
	expect("ES256 token against a P-384 key", tok, p384, &p, "curve does not match algorithm");
	free(tok);
	tok = mint(FIX "p256.pem", "ES256", NULL, c, DER);
	expect("DER-encoded ECDSA signature", tok, p256, &p,
	       "DER-encoded ECDSA signature (JWS needs r||s)");
	free(tok);
	tok = mint(FIX "ed25519-other.pem", "EdDSA", NULL, c, RAW);
	expect("another key's signature", tok, ed, &p, "bad signature");
	free(tok);
	/* The attacker's own public key in the header changes nothing. */
	tok = mint(FIX "ed25519-other.pem", "EdDSA",
		   "{\"alg\":\"EdDSA\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		   "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},\"jku\":\"http://x/\"}",
		   c, RAW);
	expect("jwk and jku in the header are ignored", tok, ed, &p, "bad signature");
	free(tok);

	tok = mint(k, "EdDSA", NULL, c, RAW);
	expect("baseline token", tok, ed, &p, NULL);
	/* Tampered claims: another payload under the same signature. */
	{
		char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
		char *other = mint(k, "EdDSA", NULL, claims("\"sub\":\"admin\""), RAW);
		char *odot1 = strchr(other, '.'), *odot2 = strrchr(other, '.');
		char spliced[2048];

		snprintf(spliced, sizeof(spliced), "%.*s%.*s%s", (int)(dot1 - tok), tok,
			 (int)(odot2 - odot1), odot1, dot2);
		expect("tampered claims", spliced, ed, &p, "bad signature");
		free(other);
	}
	/* Signature one byte short: 63 bytes. */
	t2 = strdup(tok);
	n = strlen(t2);
	t2[n - 2] = '\0'; /* 86 -> 84 chars = 63 bytes */
	t2[n - 3] = 'A';
	expect("signature of the wrong length", t2, ed, &p, "bad signature length");
	free(t2);
	t2 = strdup(tok);
	strrchr(t2, '.')[1] = '\0';
	expect("EdDSA token with an empty signature", t2, ed, &p, "bad signature length");
	free(t2);
	/* Two and four segments. */
	t2 = strdup(tok);
	*strrchr(t2, '.') = '\0';
	expect("2 segments", t2, ed, &p, "token must have 3 segments");
	free(t2);
	t2 = malloc(strlen(tok) + 3);
	sprintf(t2, "%s.x", tok);
	expect("4 segments", t2, ed, &p, "token must have 3 segments");
	free(t2);
	t2 = strdup(tok);
	t2[3] = '+';
	expect("'+' in the header", t2, ed, &p, "invalid base64url");
	t2[3] = '/';
	expect("'/' in the header", t2, ed, &p, "invalid base64url");
	t2[3] = ' ';
	expect("space in the header", t2, ed, &p, "invalid base64url");
	free(t2);
	t2 = malloc(strlen(tok) + 3);
	sprintf(t2, "%s==", tok);
	expect("'=' padding on the signature", t2, ed, &p, "base64url padding not allowed");
	free(t2);
	expect("empty token", "", ed, &p, "empty token");
	expect("empty segments", "..", ed, &p, "empty segment");
	expect("one byte", "a", ed, &p, "token must have 3 segments");
	{
		/* A NUL inside: the length, not the NUL, bounds the token. */
		char nul[300];
		size_t tl = strlen(tok);
		const char *reason = NULL;
		struct jwt_result r;
		struct guarded g;

		memcpy(nul, tok, tl);
		nul[5] = '\0';
		g = guard(nul, tl);
		ok(jwt_verify(g.data, tl, ed->keys, ed->n, &p, &r, &reason) == -1 && reason &&
			   strcmp(reason, "invalid base64url") == 0,
		   "NUL inside the header: \"invalid base64url\"");
		munmap(g.map, g.maplen);
	}
	memset(big, 'a', sizeof(big));
	big[JWT_MAX_LEN + 1] = '\0';
	expect("token of 8 KiB + 1", big, ed, &p, "token too large");
	big[JWT_MAX_LEN] = '\0';
	expect("token of 8 KiB goes on to parsing", big, ed, &p, "token must have 3 segments");
	free(tok);

	tok = mint(k, "EdDSA", "[\"EdDSA\"]", c, RAW);
	expect("header a JSON array", tok, ed, &p, "header is not a JSON object");
	free(tok);
	tok = mint(k, "EdDSA", "{\"alg\":\"EdDSA\"", c, RAW);
	expect("header not JSON", tok, ed, &p, "header is not JSON");
	free(tok);
	tok = mint(k, "EdDSA", "{\"alg\":\"EdDSA\"} x", c, RAW);
	expect("header with trailing garbage", tok, ed, &p, "header is not JSON");
	free(tok);
	tok = mint(k, "EdDSA", "{\"alg\":\"none\",\"alg\":\"EdDSA\"}", c, RAW);
	expect("duplicate alg", tok, ed, &p, "duplicate header member");
	free(tok);
	tok = mint(k, "EdDSA", "{\"alg\":\"EdDSA\",\"crit\":[\"b64\"]}", c, RAW);
	expect("crit header", tok, ed, &p, "crit header not supported");
	free(tok);
	tok = mint(k, "EdDSA", NULL, "[{\"exp\":1}]", RAW);
	expect("claims a JSON array", tok, ed, &p, "claims are not a JSON object");
	free(tok);
	tok = mint(k, "EdDSA", NULL, "exp=1", RAW);
	expect("claims not JSON", tok, ed, &p, "claims are not JSON");
	free(tok);
	keyset_free(ed);
	keyset_free(p384);
	keyset_free(p256);
}

static void test_kid(void)
{
	char err[512], hdr[200];
	const char *paths[] = { FIX "ed25519.pub.pem", FIX "ed25519-other.pub.pem",
				FIX "p256.pub.pem", FIX "rsa2048.pub.pem" };
	struct keyset *ks = keyset_load(paths, 4, err, sizeof(err));
	struct jwt_policy p = policy(NOW);
	struct jwt_result res;
	const char *c = claims("");
	char *tok;

	ok(ks != NULL && ks->n == 4, "four keys load together");
	tok = mint(FIX "ed25519-other.pem", "EdDSA", NULL, c, RAW);
	ok(verify(tok, ks, &p, &res) == NULL && res.key == &ks->keys[1],
	   "no kid, two Ed25519 keys: each is tried, the second verifies");
	free(tok);
	tok = mint(FIX "p256.pem", "ES256", NULL, c, RAW);
	ok(verify(tok, ks, &p, &res) == NULL && res.key == &ks->keys[2],
	   "no kid with one P-256 key: that key verifies");
	free(tok);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", ks->keys[1].thumb);
	tok = mint(FIX "ed25519-other.pem", "EdDSA", hdr, c, RAW);
	ok(verify(tok, ks, &p, &res) == NULL && res.key == &ks->keys[1], "kid = thumbprint selects");
	free(tok);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", ks->keys[0].thumb);
	tok = mint(FIX "ed25519-other.pem", "EdDSA", hdr, c, RAW);
	expect("kid of another key than the signer", tok, ks, &p, "bad signature");
	free(tok);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", ks->keys[2].thumb);
	tok = mint(FIX "ed25519.pem", "EdDSA", hdr, c, RAW);
	expect("kid of a P-256 key on an EdDSA token", tok, ks, &p, "algorithm does not match key");
	free(tok);
	tok = mint(FIX "ed25519.pem", "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"2011-04-29\"}", c, RAW);
	expect("unknown kid", tok, ks, &p, "unknown kid");
	free(tok);
	tok = mint(FIX "ed25519.pem", "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":7}", c, RAW);
	expect("kid a number", tok, ks, &p, "kid is not a string");
	free(tok);
	keyset_free(ks);
}

/* RFC 8259 exactly, before cJSON: each case in the claims, signed, so only JSON decides. */
static void test_strict_json(void)
{
	struct keyset *ed = load1(FIX "ed25519.pub.pem");
	struct jwt_policy p = policy(NOW);
	struct jwt_result res;
	const char *k = FIX "ed25519.pem";
	char c[512], *tok;

	expect_mint("\\u0000 in sub", k, "EdDSA", CLAIMS("{\"exp\":%lld,\"sub\":\"sub\\u0000x\"}", NOW + 60),
		    ed, &p, "\\u0000 in a JSON string");
	expect_mint("\\u0000 in a member name", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"sub\\u0000\":\"x\"}", NOW + 60), ed, &p,
		    "\\u0000 in a JSON string");
	tok = mint(k, "EdDSA", "{\"alg\":\"EdDSA\\u0000x\"}", claims(""), RAW);
	expect("\\u0000 in alg", tok, ed, &p, "\\u0000 in a JSON string");
	free(tok);
	tok = mint(k, "EdDSA", "\xef\xbb\xbf{\"alg\":\"EdDSA\"}", claims(""), RAW);
	expect("byte-order mark before the header", tok, ed, &p, "byte-order mark before JSON");
	free(tok);
	expect_mint("leading zero", k, "EdDSA", CLAIMS("{\"exp\":0%lld}", NOW + 60), ed, &p,
		    "leading zero in a JSON number");
	expect_mint("trailing dot", k, "EdDSA", CLAIMS("{\"exp\":%lld.}", NOW + 60), ed, &p,
		    "JSON number ends in a dot or has no fraction digits");
	expect_mint("raw control byte in a string", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"jti\":\"a\tb\"}", NOW + 60), ed, &p,
		    "control character in a JSON string");
	expect_mint("invalid UTF-8", k, "EdDSA", CLAIMS("{\"exp\":%lld,\"jti\":\"\xc3(\"}", NOW + 60),
		    ed, &p, "JSON is not valid UTF-8");
	expect_mint("unpaired surrogate", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"jti\":\"\\ud800\"}", NOW + 60), ed, &p,
		    "unpaired surrogate in a JSON string");
	expect_mint("trailing comma", k, "EdDSA", CLAIMS("{\"exp\":%lld,}", NOW + 60), ed, &p,
		    "JSON member name is not a string");
	expect_mint("single quotes", k, "EdDSA", CLAIMS("{'exp':%lld}", NOW + 60), ed, &p,
		    "JSON member name is not a string");
	expect_mint("trailing comma in an array", k, "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"aud\":[\"a\",]}", NOW + 60), ed, &p, "claims are not JSON");
	expect_mint("two JSON texts", k, "EdDSA", CLAIMS("{\"exp\":%lld}{}", NOW + 60), ed, &p,
		    "claims are not JSON");
	tok = mint(k, "EdDSA", NULL,
		   CLAIMS("{\"exp\":%lld.0e0, \"sub\":\"a\\\\u0000\\/\",\"x\":[-0,1E+2,true,null,{}]}\n",
			  NOW + 60), RAW);
	ok(verify(tok, ed, &p, &res) == NULL && strcmp(res.sub, "a\\u0000/") == 0,
	   "strict JSON: an escaped backslash before u0000, exponents, -0, nesting all accepted");
	free(tok);
	keyset_free(ed);
}

/* Keys speak only for their identities; a sub outside them is refused after the signature. */
static void test_identities(void)
{
	char err[512], hdr[200], c[256];
	const char *specs[] = { FIX "ed25519.pub.pem=alice,ops team", FIX "p256.pub.pem" };
	struct keyset *ks = keyset_load(specs, 2, err, sizeof(err));
	struct jwt_policy p = policy(NOW);
	struct jwt_result res;
	char *tok;

	ok(ks != NULL && ks->keys[0].nidents == 2 && key_allows(ks->keys, 2, &ks->keys[0], "ops team") &&
	   !key_allows(ks->keys, 2, &ks->keys[0], "ops") &&
	   key_allows(ks->keys, 2, &ks->keys[1], ks->keys[1].name),
	   "FILE=alice,ops team: two identities bound besides the key's name");
	if (ks == NULL) {
		printf("#   %s\n", err);
		return;
	}
	expect_mint("Ed25519 key asserts alice", FIX "ed25519.pem", "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"sub\":\"alice\"}", NOW + 60), ks, &p, NULL);
	expect_mint("P-256 key (no identities) asserts alice", FIX "p256.pem", "ES256",
		    CLAIMS("{\"exp\":%lld,\"sub\":\"alice\"}", NOW + 60), ks, &p,
		    "sub not allowed for this key");
	expect_mint("P-256 key (no identities) asserts carol, bound to no key", FIX "p256.pem", "ES256",
		    CLAIMS("{\"exp\":%lld,\"sub\":\"carol\"}", NOW + 60), ks, &p, NULL);
	expect_mint("Ed25519 key (bound to alice, ops team) asserts carol", FIX "ed25519.pem", "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"sub\":\"carol\"}", NOW + 60), ks, &p,
		    "sub not allowed for this key");
	snprintf(hdr, sizeof(hdr), "{\"exp\":%lld,\"sub\":\"%s\"}", NOW + 60, ks->keys[0].name);
	expect_mint("P-256 key asserts the Ed25519 key's name", FIX "p256.pem", "ES256", hdr, ks, &p,
		    "sub not allowed for this key");
	snprintf(hdr, sizeof(hdr), "{\"exp\":%lld,\"sub\":\"%s\"}", NOW + 60, ks->keys[1].name);
	tok = mint(FIX "p256.pem", "ES256", NULL, hdr, RAW);
	ok(verify(tok, ks, &p, &res) == NULL && strcmp(res.sub, ks->keys[1].name) == 0,
	   "a key asserts its own name (%s)", ks->keys[1].name);
	free(tok);
	keyset_free(ks);

	specs[0] = FIX "ed25519.pub.pem=*";
	ks = keyset_load(specs, 1, err, sizeof(err));
	expect_mint("the only key, =*: any sub", FIX "ed25519.pem", "EdDSA",
		    CLAIMS("{\"exp\":%lld,\"sub\":\"anyone\"}", NOW + 60), ks, &p, NULL);
	keyset_free(ks);
	ok(keyset_load(specs, 2, err, sizeof(err)) == NULL && strstr(err, "only allowed when it is the only key"),
	   "=* beside another key refused: %s", err);
	specs[0] = FIX "ed25519.pub.pem=alice,key:G3MX5X2iYDy0wikg";
	ok(keyset_load(specs, 1, err, sizeof(err)) == NULL && strstr(err, "'key:' are key names"),
	   "an identity starting with key: refused: %s", err);
	specs[0] = FIX "ed25519.pub.pem=alice,,bob";
	ok(keyset_load(specs, 1, err, sizeof(err)) == NULL && strstr(err, "is not valid"),
	   "an empty identity refused: %s", err);
	specs[0] = FIX "ed25519.pub.pem=a{b}";
	ok(keyset_load(specs, 1, err, sizeof(err)) == NULL && strstr(err, "is not valid"),
	   "an identity with braces refused");
}

/* Five Ed25519 keys: a token without kid is refused before any signature check. */
static void test_kid_bound(void)
{
	char dir[] = "/tmp/test_jwt_kid.XXXXXX", paths[JWT_NOKID_KEYS + 1][64], err[512], hdr[128];
	const char *specs[JWT_NOKID_KEYS + 1];
	struct jwt_policy p = policy(NOW);
	struct keyset *ks;
	char *tok;
	int i;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	for (i = 0; i < JWT_NOKID_KEYS + 1; i++) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		FILE *f;

		snprintf(paths[i], sizeof(paths[i]), "%s/k%d.pem", dir, i);
		f = fopen(paths[i], "w");
		if (k == NULL || f == NULL || !PEM_write_PUBKEY(f, k))
			exit(1);
		fclose(f);
		EVP_PKEY_free(k);
		specs[i] = paths[i];
	}
	specs[0] = FIX "ed25519.pub.pem";
	ks = keyset_load(specs, JWT_NOKID_KEYS + 1, err, sizeof(err));
	tok = mint(FIX "ed25519.pem", "EdDSA", NULL, claims(""), RAW);
	expect("no kid, five Ed25519 keys", tok, ks, &p,
	       "kid required (more than 4 keys of this type are loaded)");
	free(tok);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", ks->keys[0].thumb);
	tok = mint(FIX "ed25519.pem", "EdDSA", hdr, claims(""), RAW);
	expect("kid, five Ed25519 keys", tok, ks, &p, NULL);
	free(tok);
	keyset_free(ks);
	for (i = 1; i < JWT_NOKID_KEYS + 1; i++)
		unlink(paths[i]);
	rmdir(dir);
}

static void expect_load_error(const char *name, const char *path, const char *want)
{
	char err[512] = "";
	const char *paths[] = { path };
	struct keyset *ks = keyset_load(paths, 1, err, sizeof(err));

	ok(ks == NULL && strstr(err, want) != NULL && strstr(err, path) != NULL,
	   "%s refused, naming the file: %s", name, want);
	if (ks != NULL || strstr(err, want) == NULL)
		printf("#   got: %s\n", ks ? "loaded" : err);
	keyset_free(ks);
}

static void test_keys(void)
{
	char dir[] = "/tmp/test_jwt.XXXXXX", link[64], fifo[64], big[64], empty[64], *target;
	const char *two[] = { FIX "p256.pub.pem", FIX "p256.pub.pem" };
	char err[512];
	int fd;

	expect_load_error("RSA-1024 key", FIX "rsa1024.pub.pem", "RSA key of 1024 bits, at least 2048");
	expect_load_error("secp256k1 key", FIX "secp256k1.pub.pem", "not supported");
	expect_load_error("RSA e = 1", FIX "rsa-e1.pub.pem", "RSA public exponent 1 refused");
	expect_load_error("RSA e = 3", FIX "rsa-e3.pub.pem", "RSA public exponent 3 refused");
	expect_load_error("RSA e = 65538 (even)", FIX "rsa-e65538.pub.pem",
			  "RSA public exponent 65538 refused");
	expect_load_error("private key file", FIX "ed25519.pem", "holds a private key");
	expect_load_error("missing file", FIX "nope.pem", "No such file");
	expect_load_error("a directory", FIX, "not a regular file");
	ok(keyset_load(two, 2, err, sizeof(err)) == NULL && strstr(err, "same key as"),
	   "the same key twice refused");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(link, sizeof(link), "%s/link.pem", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo.pem", dir);
	snprintf(big, sizeof(big), "%s/big.pem", dir);
	snprintf(empty, sizeof(empty), "%s/empty.pem", dir);
	target = realpath(FIX "ed25519.pub.pem", NULL);
	if (target == NULL || symlink(target, link) != 0 || mkfifo(fifo, 0600) != 0)
		perror("setup");
	free(target);
	fd = open(big, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, KEY_FILE_MAX + 1) != 0)
		perror("big");
	close(fd);
	close(open(empty, O_WRONLY | O_CREAT, 0600));
	expect_load_error("symbolic link", link, "symbolic link");
	expect_load_error("FIFO", fifo, "not a regular file");
	expect_load_error("file over 64 KiB", big, "larger than");
	expect_load_error("empty file", empty, "no PEM public key");
	unlink(link);
	unlink(fifo);
	unlink(big);
	unlink(empty);
	rmdir(dir);
}

static void test_replay(void)
{
	struct replay *r = replay_new(4);
	char jti[16];
	int i;

	ok(replay_check(r, "a", 1, NOW + 10, NOW) == REPLAY_FRESH, "replay: first jti is fresh");
	ok(replay_check(r, "a", 1, NOW + 10, NOW) == REPLAY_SEEN, "replay: same jti again is seen");
	ok(replay_check(r, "a", 1, NOW + 10, NOW + 10) == REPLAY_SEEN,
	   "replay: still seen at its expiry");
	ok(replay_check(r, "a", 1, NOW + 50, NOW + 11) == REPLAY_FRESH,
	   "replay: fresh again after its expiry");
	for (i = 0; i < 3; i++) {
		snprintf(jti, sizeof(jti), "x%d", i);
		replay_check(r, jti, strlen(jti), NOW + 20, NOW + 11);
	}
	ok(replay_count(r) == 4, "replay: 4 entries held");
	ok(replay_check(r, "y", 1, NOW + 20, NOW + 11) == REPLAY_FULL,
	   "replay: full of live entries fails closed");
	ok(replay_check(r, "x1", 2, NOW + 20, NOW + 11) == REPLAY_SEEN,
	   "replay: a full cache still knows its entries");
	ok(replay_check(r, "y", 1, NOW + 40, NOW + 21) == REPLAY_FRESH,
	   "replay: expired entries evicted to make room");
	ok(replay_check(r, "a", 1, NOW + 50, NOW + 21) == REPLAY_SEEN,
	   "replay: the live entry survived the eviction");
	ok(replay_count(r) <= 4, "replay: never more entries than its capacity");
	replay_free(r);
	r = replay_new(REPLAY_CAPACITY);
	for (i = 0; i < REPLAY_CAPACITY; i++) {
		snprintf(jti, sizeof(jti), "%d", i);
		if (replay_check(r, jti, strlen(jti), NOW + 60, NOW) != REPLAY_FRESH)
			break;
	}
	ok(i == REPLAY_CAPACITY && replay_check(r, "z", 1, NOW + 60, NOW) == REPLAY_FULL,
	   "replay: %d live entries fit, the next fails closed", REPLAY_CAPACITY);
	replay_free(r);
}

static void test_b64url(void)
{
	unsigned char out[16];

	ok(jwt_b64url_decode(out, sizeof(out), "YQ", 2) == 1 && out[0] == 'a', "b64url: YQ is a");
	ok(jwt_b64url_decode(out, sizeof(out), "YR", 2) == -1, "b64url: non-zero trailing bits");
	ok(jwt_b64url_decode(out, sizeof(out), "Y", 1) == -1, "b64url: one dangling char");
	ok(jwt_b64url_decode(out, sizeof(out), "YQ==", 4) == -1, "b64url: padding");
	ok(jwt_b64url_decode(out, sizeof(out), "-w", 2) == 1 && out[0] == 0xfb, "b64url: -");
	ok(jwt_b64url_decode(out, sizeof(out), "_w", 2) == 1 && out[0] == 0xff, "b64url: _");
	ok(jwt_b64url_decode(out, 2, "YWJj", 4) == -1, "b64url: output does not fit");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_b64url();
	test_rfc_vectors();
	test_algorithms();
	test_claims();
	test_hostile();
	test_kid();
	test_kid_bound();
	test_strict_json();
	test_identities();
	test_keys();
	test_replay();
	return tap_done();
}
