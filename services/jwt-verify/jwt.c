/*
 * jwt.c: verification of compact JWS tokens (RFC 7515/7519) for jwt-verify.
 * Pure: the clock and the keys come from the caller, reasons are static
 * strings, and nothing is logged. Checks run cheapest first and the claims
 * are only parsed once the signature holds.
 */
#include "jwt.h"
#include "json_strict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <sodium.h>

/* Decoded segments are at most 3/4 of the token. */
#define SEG_MAX (JWT_MAX_LEN / 4 * 3 + 3)
/* NumericDate values beyond this are refused (2^53: exact in a double). */
#define DATE_MAX 9007199254740992.0

struct alg_info {
	const char *name;
	enum jwt_alg alg;
	enum key_type key;
	size_t ec_coord; /* ECDSA coordinate size in bytes; 0 otherwise */
};

static const struct alg_info algs[] = {
	{ "EdDSA", JWT_ALG_EDDSA, KEY_ED25519, 0 },
	{ "RS256", JWT_ALG_RS256, KEY_RSA, 0 },
	{ "RS384", JWT_ALG_RS384, KEY_RSA, 0 },
	{ "RS512", JWT_ALG_RS512, KEY_RSA, 0 },
	{ "ES256", JWT_ALG_ES256, KEY_P256, 32 },
	{ "ES384", JWT_ALG_ES384, KEY_P384, 48 },
	{ "ES512", JWT_ALG_ES512, KEY_P521, 66 },
};

const char *jwt_alg_name(enum jwt_alg alg)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == alg)
			return algs[i].name;
	return "-";
}

static int is_b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

long jwt_b64url_decode(unsigned char *dst, size_t cap, const char *src, size_t len)
{
	size_t i, out = 0;

	for (i = 0; i < len; i++)
		if (!is_b64url_char((unsigned char)src[i]))
			return -1;
	/* libsodium refuses a dangling character and non-zero trailing bits. */
	if (sodium_base642bin(dst, cap, src, len, NULL, &out, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -1;
	return (long)out;
}

/* Checks a segment's alphabet, giving the precise reason. */
static const char *segment_error(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '=')
			return "base64url padding not allowed";
	for (i = 0; i < len; i++)
		if (!is_b64url_char((unsigned char)s[i]))
			return "invalid base64url";
	return NULL;
}

/*
 * Parses a decoded segment as one JSON object with unique member names.
 * Returns the tree (caller deletes) or NULL with *reason set from the
 * three reasons given for this segment.
 */
static cJSON *parse_object(const unsigned char *buf, size_t len, const char *not_json,
			   const char *not_object, const char *duplicate, const char **reason)
{
	const char *end = NULL, *strict;
	cJSON *root, *a, *b;

	/* RFC 8259 exactly, and no \u0000 (cJSON would cut the string there). */
	strict = json_strict_check((const char *)buf, len);
	if (strict != NULL) {
		*reason = strcmp(strict, "not JSON") == 0 ? not_json : strict;
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts((const char *)buf, len, &end, 0);
	if (root == NULL) {
		*reason = not_json;
		return NULL;
	}
	/* Only whitespace may follow the value. */
	while (end < (const char *)buf + len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (end != (const char *)buf + len) {
		*reason = not_json;
		goto fail;
	}
	if (!cJSON_IsObject(root)) {
		*reason = not_object;
		goto fail;
	}
	/* Parsers disagree on which duplicate wins: refuse them all. */
	for (a = root->child; a != NULL; a = a->next)
		for (b = a->next; b != NULL; b = b->next)
			if (a->string != NULL && b->string != NULL && strcmp(a->string, b->string) == 0) {
				*reason = duplicate;
				goto fail;
			}
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

/* Ed25519 (RFC 8037) with libsodium. */
static int verify_eddsa(const struct key *k, const unsigned char *msg, size_t msglen,
			const unsigned char *sig)
{
	return crypto_sign_verify_detached(sig, msg, msglen, k->ed25519) == 0;
}

static const EVP_MD *alg_md(enum jwt_alg alg)
{
	switch (alg) {
	case JWT_ALG_RS256:
	case JWT_ALG_ES256:
		return EVP_sha256();
	case JWT_ALG_RS384:
	case JWT_ALG_ES384:
		return EVP_sha384();
	default:
		return EVP_sha512();
	}
}

/* RSASSA-PKCS1-v1_5 or ECDSA over DER, through OpenSSL. */
static int verify_evp(const struct key *k, enum jwt_alg alg, const unsigned char *msg,
		      size_t msglen, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	int ok = 0;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return 0;
	if (EVP_DigestVerifyInit(ctx, NULL, alg_md(alg), NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, msg, msglen) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* JWS ECDSA signatures are r||s (RFC 7518 section 3.4); OpenSSL wants DER. */
static int verify_ecdsa(const struct key *k, enum jwt_alg alg, size_t coord,
			const unsigned char *msg, size_t msglen, const unsigned char *sig)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	unsigned char *der = NULL;
	int derlen, ok = 0;

	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, (int)coord, NULL);
	s = BN_bin2bn(sig + coord, (int)coord, NULL);
	if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	derlen = i2d_ECDSA_SIG(es, &der);
	if (derlen <= 0)
		goto out;
	ok = verify_evp(k, alg, msg, msglen, der, (size_t)derlen);
out:
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

/* The signature length alg needs with key k. */
static size_t sig_len(const struct alg_info *ai, const struct key *k)
{
	if (ai->alg == JWT_ALG_EDDSA)
		return crypto_sign_BYTES;
	if (ai->ec_coord != 0)
		return 2 * ai->ec_coord;
	return (size_t)EVP_PKEY_get_size(k->pkey);
}

static int is_ec(enum key_type t)
{
	return t == KEY_P256 || t == KEY_P384 || t == KEY_P521;
}

/* Reads an optional NumericDate claim: 0 absent, 1 present, -1 not usable. */
static int get_date(const cJSON *claims, const char *name, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);

	if (v == NULL)
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > DATE_MAX)
		return -1;
	*out = v->valuedouble;
	return 1;
}

/* sub becomes an HTTP header and a log field: the identity rules of keys.c. */
static int sub_ok(const char *s)
{
	return key_ident_valid(s, strlen(s));
}

static int aud_ok(const cJSON *aud, const char *want)
{
	const cJSON *e;

	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, want) == 0;
	if (cJSON_IsArray(aud))
		cJSON_ArrayForEach(e, aud)
			if (cJSON_IsString(e) && strcmp(e->valuestring, want) == 0)
				return 1;
	return 0;
}

/* The claim rules, on a verified token. Returns NULL or the reason. */
static const char *check_claims(const cJSON *claims, const struct jwt_policy *p,
				struct jwt_result *out)
{
	const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
	const cJSON *jti = cJSON_GetObjectItemCaseSensitive(claims, "jti");
	const cJSON *aud;
	double exp, nbf, iat, now = (double)p->now, leeway = (double)p->leeway;
	int r;

	/* Copied first so that a rejected token is still logged with them. */
	if (cJSON_IsString(sub) && sub_ok(sub->valuestring))
		snprintf(out->sub, sizeof(out->sub), "%s", sub->valuestring);
	if (cJSON_IsString(jti) && strlen(jti->valuestring) <= JWT_JTI_MAX)
		snprintf(out->jti, sizeof(out->jti), "%s", jti->valuestring);

	r = get_date(claims, "exp", &exp);
	if (r == 0)
		return "exp missing";
	if (r < 0)
		return "exp is not a usable number";
	out->exp = exp;
	if (now > exp + leeway)
		return "token expired";
	r = get_date(claims, "nbf", &nbf);
	if (r < 0)
		return "nbf is not a usable number";
	if (r > 0 && nbf > now + leeway)
		return "token not yet valid (nbf)";
	r = get_date(claims, "iat", &iat);
	if (r < 0)
		return "iat is not a usable number";
	if (r > 0 && iat > now + leeway)
		return "token issued in the future (iat)";
	if (exp - now > (double)p->max_lifetime + leeway)
		return "token lifetime too long";
	if (p->audience != NULL) {
		aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
		if (aud == NULL)
			return "aud missing";
		if (!aud_ok(aud, p->audience))
			return "wrong audience";
	}
	if (sub != NULL && !(cJSON_IsString(sub) && sub_ok(sub->valuestring)))
		return "invalid sub";
	if (jti != NULL) {
		if (!cJSON_IsString(jti))
			return "jti is not a string";
		if (strlen(jti->valuestring) > JWT_JTI_MAX)
			return "jti too long";
	}
	if (p->require_jti && out->jti[0] == '\0')
		return "jti missing";
	return NULL;
}

/*
 * Chooses the candidate keys for alg (and kid) and verifies the signature.
 * Returns NULL with out->key set, or the reason.
 */
static const char *check_signature(const struct alg_info *ai, const char *kid,
				   const struct key *keys, size_t nkeys, const unsigned char *msg,
				   size_t msglen, const unsigned char *sig, size_t siglen,
				   struct jwt_result *out)
{
	size_t i, tried = 0, len_ok = 0, same_type = 0;
	int other_curve = 0, kid_found = 0;

	/*
	 * Without kid, each key of the type is tried: a bogus token would cost
	 * one verification per such key. Bounded: beyond JWT_NOKID_KEYS of a
	 * type, kid is required.
	 */
	for (i = 0; kid == NULL && i < nkeys; i++)
		same_type += keys[i].type == ai->key;
	if (same_type > JWT_NOKID_KEYS)
		return "kid required (more than 4 keys of this type are loaded)";
	for (i = 0; i < nkeys; i++) {
		const struct key *k = &keys[i];

		if (kid != NULL) {
			if (strlen(kid) != KEY_THUMB_LEN ||
			    sodium_memcmp(kid, k->thumb, KEY_THUMB_LEN) != 0)
				continue;
			kid_found = 1;
		}
		if (k->type != ai->key) {
			other_curve |= is_ec(k->type) && is_ec(ai->key);
			continue;
		}
		tried++;
		if (siglen != sig_len(ai, k))
			continue;
		len_ok++;
		if (ai->alg == JWT_ALG_EDDSA ? verify_eddsa(k, msg, msglen, sig) :
		    ai->ec_coord != 0	     ? verify_ecdsa(k, ai->alg, ai->ec_coord, msg, msglen, sig) :
						verify_evp(k, ai->alg, msg, msglen, sig, siglen)) {
			out->key = k;
			return NULL;
		}
	}
	if (kid != NULL && !kid_found)
		return "unknown kid";
	if (tried == 0)
		return other_curve ? "curve does not match algorithm" : "algorithm does not match key";
	if (len_ok == 0) {
		/* A DER SEQUENCE where r||s belongs: a common encoder mistake, named. */
		if (ai->ec_coord != 0 && siglen >= 8 && sig[0] == 0x30)
			return "DER-encoded ECDSA signature (JWS needs r||s)";
		return "bad signature length";
	}
	return "bad signature";
}

int jwt_verify(const char *tok, size_t len, const struct key *keys, size_t nkeys,
	       const struct jwt_policy *policy, struct jwt_result *out, const char **reason)
{
	unsigned char *buf = NULL;
	unsigned char *hdr, *body, *sig;
	const char *dot1, *dot2, *why = NULL;
	const struct alg_info *ai = NULL;
	const cJSON *alg, *kid;
	cJSON *header = NULL, *claims = NULL;
	long hlen, blen, slen;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		why = "empty token";
		goto out;
	}
	if (len > JWT_MAX_LEN) {
		why = "token too large";
		goto out;
	}
	dot1 = memchr(tok, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok)) : NULL;
	if (dot1 == NULL || dot2 == NULL ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - tok)) != NULL) {
		why = "token must have 3 segments";
		goto out;
	}
	/* An empty signature is left to the alg check ("none" gets its own reason). */
	if (dot1 == tok || dot2 == dot1 + 1) {
		why = "empty segment";
		goto out;
	}
	if ((why = segment_error(tok, (size_t)(dot1 - tok))) == NULL &&
	    (why = segment_error(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL)
		why = segment_error(dot2 + 1, (size_t)(tok + len - dot2 - 1));
	if (why != NULL)
		goto out;

	buf = malloc(3 * (SEG_MAX + 1));
	if (buf == NULL) {
		why = "out of memory";
		goto out;
	}
	hdr = buf;
	body = buf + SEG_MAX + 1;
	sig = buf + 2 * (SEG_MAX + 1);
	hlen = jwt_b64url_decode(hdr, SEG_MAX, tok, (size_t)(dot1 - tok));
	blen = jwt_b64url_decode(body, SEG_MAX, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	slen = jwt_b64url_decode(sig, SEG_MAX, dot2 + 1, (size_t)(tok + len - dot2 - 1));
	if (hlen < 0 || blen < 0 || slen < 0) {
		why = "invalid base64url";
		goto out;
	}

	header = parse_object(hdr, (size_t)hlen, "header is not JSON",
			      "header is not a JSON object", "duplicate header member", &why);
	if (header == NULL)
		goto out;
	alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
	if (!cJSON_IsString(alg)) {
		why = "alg missing";
		goto out;
	}
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(alg->valuestring, algs[i].name) == 0)
			ai = &algs[i];
	if (ai == NULL) {
		/* none, HS*, PS* and everything else. */
		why = "algorithm not allowed";
		goto out;
	}
	out->alg = ai->alg;
	if (cJSON_GetObjectItemCaseSensitive(header, "crit") != NULL) {
		why = "crit header not supported";
		goto out;
	}
	kid = cJSON_GetObjectItemCaseSensitive(header, "kid");
	if (kid != NULL && !cJSON_IsString(kid)) {
		why = "kid is not a string";
		goto out;
	}
	why = check_signature(ai, kid ? kid->valuestring : NULL, keys, nkeys,
			      (const unsigned char *)tok, (size_t)(dot2 - tok), sig, (size_t)slen,
			      out);
	if (why != NULL)
		goto out;

	claims = parse_object(body, (size_t)blen, "claims are not JSON",
			      "claims are not a JSON object", "duplicate claim", &why);
	if (claims == NULL)
		goto out;
	why = check_claims(claims, policy, out);
	/* A key speaks only for the identities it is configured for (keys.h). */
	if (why == NULL && out->sub[0] != '\0' && !key_allows(keys, nkeys, out->key, out->sub))
		why = "sub not allowed for this key";
out:
	cJSON_Delete(claims);
	cJSON_Delete(header);
	free(buf);
	*reason = why;
	return why == NULL ? 0 : -1;
}
