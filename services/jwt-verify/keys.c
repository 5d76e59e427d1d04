/*
 * keys.c: loads PEM public keys for jwt-verify (carefully: no symlinks, only
 * regular files, size-capped), checks their type and size, and computes their
 * RFC 7638 thumbprints. No logging here: errors go back in a caller buffer.
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <sodium.h>

/* Larger RSA moduli only make verification slow enough to be a nuisance. */
#define KEY_RSA_MAX_BITS 8192

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *key_type_name(enum key_type type)
{
	switch (type) {
	case KEY_ED25519: return "Ed25519";
	case KEY_RSA: return "RSA";
	case KEY_P256: return "P-256";
	case KEY_P384: return "P-384";
	case KEY_P521: return "P-521";
	}
	return "unknown";
}

/*
 * Reads the whole file at path into buf (cap bytes). Returns the length, or
 * -1 with err set. Refuses symbolic links, non-regular files and files over cap.
 */
static ssize_t read_key_file(const char *path, char *buf, size_t cap, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n, total = 0;
	int fd;

	/* O_NONBLOCK: opening a FIFO must not hang start-up; it is refused below. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		seterr(err, errlen, "key file %s: %s", path,
		       errno == ELOOP ? "is a symbolic link (refused)" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		seterr(err, errlen, "key file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(err, errlen, "key file %s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > (off_t)cap) {
		seterr(err, errlen, "key file %s: larger than %zu bytes", path, cap);
		goto fail;
	}
	for (;;) {
		n = read(fd, buf + total, cap - (size_t)total);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			seterr(err, errlen, "key file %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		total += n;
		if ((size_t)total == cap) {
			/* It grew while we read it. */
			seterr(err, errlen, "key file %s: larger than %zu bytes", path, cap);
			goto fail;
		}
	}
	close(fd);
	return total;
fail:
	close(fd);
	return -1;
}

/* base64url without padding of len bytes into dst (dstlen >= encoded + 1). */
static void b64url(char *dst, size_t dstlen, const unsigned char *src, size_t len)
{
	sodium_bin2base64(dst, dstlen, src, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Appends the base64url of a BIGNUM param, left-padded to pad bytes (0: minimal). */
static int append_bn(const EVP_PKEY *pkey, const char *param, size_t pad, char *out,
		     size_t outlen)
{
	unsigned char bin[KEY_RSA_MAX_BITS / 8 + 1];
	BIGNUM *bn = NULL;
	int n, rc = -1;
	size_t used = strlen(out);

	if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
		return -1;
	if (pad == 0)
		pad = (size_t)BN_num_bytes(bn);
	if (pad == 0 || pad > sizeof(bin))
		goto out;
	n = BN_bn2binpad(bn, bin, (int)pad);
	if (n < 0)
		goto out;
	if (sodium_base64_ENCODED_LEN(pad, sodium_base64_VARIANT_URLSAFE_NO_PADDING) >
	    outlen - used)
		goto out;
	b64url(out + used, outlen - used, bin, pad);
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

int key_thumbprint(const struct key *k, char thumb[KEY_THUMB_LEN + 1])
{
	/* Members in lexicographic order, no spaces: RFC 7638 section 3. */
	char json[4096];
	unsigned char digest[crypto_hash_sha256_BYTES];
	size_t coord;

	json[0] = '\0';
	switch (k->type) {
	case KEY_ED25519:
		strcpy(json, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"");
		b64url(json + strlen(json), sizeof(json) - strlen(json), k->ed25519, 32);
		strcat(json, "\"}");
		break;
	case KEY_RSA:
		strcpy(json, "{\"e\":\"");
		if (append_bn(k->pkey, OSSL_PKEY_PARAM_RSA_E, 0, json, sizeof(json)) == -1)
			return -1;
		strcat(json, "\",\"kty\":\"RSA\",\"n\":\"");
		if (append_bn(k->pkey, OSSL_PKEY_PARAM_RSA_N, 0, json, sizeof(json)) == -1)
			return -1;
		strcat(json, "\"}");
		break;
	case KEY_P256:
	case KEY_P384:
	case KEY_P521:
		coord = ((size_t)k->bits + 7) / 8;
		snprintf(json, sizeof(json), "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"",
			 key_type_name(k->type));
		if (append_bn(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, coord, json, sizeof(json)) == -1)
			return -1;
		strcat(json, "\",\"y\":\"");
		if (append_bn(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, coord, json, sizeof(json)) == -1)
			return -1;
		strcat(json, "\"}");
		break;
	}
	crypto_hash_sha256(digest, (const unsigned char *)json, strlen(json));
	b64url(thumb, KEY_THUMB_LEN + 1, digest, sizeof(digest));
	return 0;
}

/*
 * A small or even public exponent makes RSA signatures forgeable (e = 1: the
 * signature is the padded digest itself): only odd e >= 65537 is accepted.
 */
static int rsa_exponent_ok(const EVP_PKEY *pkey, const char *path, char *err, size_t errlen)
{
	BIGNUM *e = NULL;
	char *dec;
	int ok;

	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e)) {
		seterr(err, errlen, "key file %s: cannot read the RSA exponent", path);
		return -1;
	}
	ok = BN_is_odd(e) && BN_cmp(e, BN_value_one()) > 0 &&
	     (BN_num_bits(e) > 17 || BN_get_word(e) >= KEY_RSA_MIN_E);
	if (!ok) {
		dec = BN_bn2dec(e);
		seterr(err, errlen, "key file %s: RSA public exponent %s refused (it must be odd "
		       "and at least %d)", path, dec ? dec : "?", KEY_RSA_MIN_E);
		OPENSSL_free(dec);
	}
	BN_free(e);
	return ok ? 0 : -1;
}

/* Sets k's type from its OpenSSL key; -1 with err for what we do not accept. */
static int classify(struct key *k, const char *path, char *err, size_t errlen)
{
	char group[64];
	size_t rawlen = sizeof(k->ed25519);

	switch (EVP_PKEY_get_base_id(k->pkey)) {
	case EVP_PKEY_ED25519:
		k->type = KEY_ED25519;
		k->bits = 256;
		if (!EVP_PKEY_get_raw_public_key(k->pkey, k->ed25519, &rawlen) || rawlen != 32) {
			seterr(err, errlen, "key file %s: cannot read the Ed25519 key", path);
			return -1;
		}
		return 0;
	case EVP_PKEY_RSA:
		k->type = KEY_RSA;
		k->bits = EVP_PKEY_get_bits(k->pkey);
		if (rsa_exponent_ok(k->pkey, path, err, errlen) != 0)
			return -1;
		if (k->bits < KEY_RSA_MIN_BITS) {
			seterr(err, errlen, "key file %s: RSA key of %d bits, at least %d required",
			       path, k->bits, KEY_RSA_MIN_BITS);
			return -1;
		}
		if (k->bits > KEY_RSA_MAX_BITS) {
			seterr(err, errlen, "key file %s: RSA key of %d bits, at most %d accepted",
			       path, k->bits, KEY_RSA_MAX_BITS);
			return -1;
		}
		return 0;
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), NULL)) {
			seterr(err, errlen, "key file %s: EC key without a named curve", path);
			return -1;
		}
		if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
			k->type = KEY_P256;
			k->bits = 256;
		} else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
			k->type = KEY_P384;
			k->bits = 384;
		} else if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0) {
			k->type = KEY_P521;
			k->bits = 521;
		} else {
			seterr(err, errlen,
			       "key file %s: EC curve %s not supported (P-256, P-384, P-521 are)",
			       path, group);
			return -1;
		}
		return 0;
	default:
		seterr(err, errlen,
		       "key file %s: key type not supported (Ed25519, RSA, P-256/384/521 are)",
		       path);
		return -1;
	}
}

/* Loads one file into k. Returns 0, or -1 with err set and k holding nothing. */
static int key_load(struct key *k, const char *path, char *err, size_t errlen)
{
	char *buf;
	ssize_t len;
	BIO *bio = NULL;
	int rc = -1, is_private;

	memset(k, 0, sizeof(*k));
	snprintf(k->path, sizeof(k->path), "%s", path);
	buf = malloc(KEY_FILE_MAX + 1);
	if (buf == NULL) {
		seterr(err, errlen, "key file %s: out of memory", path);
		return -1;
	}
	len = read_key_file(path, buf, KEY_FILE_MAX + 1, err, errlen);
	if (len == -1)
		goto out;
	buf[len] = '\0';
	is_private = strstr(buf, "PRIVATE KEY-----") != NULL;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		seterr(err, errlen, "key file %s: out of memory", path);
		goto out;
	}
	k->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (k->pkey == NULL) {
		if (is_private)
			seterr(err, errlen, "key file %s: holds a private key; give the public key "
			       "(openssl pkey -pubout)", path);
		else
			seterr(err, errlen, "key file %s: no PEM public key (BEGIN PUBLIC KEY) in it",
			       path);
		goto out;
	}
	if (classify(k, path, err, errlen) == -1)
		goto out;
	if (key_thumbprint(k, k->thumb) == -1) {
		seterr(err, errlen, "key file %s: cannot compute its thumbprint", path);
		goto out;
	}
	snprintf(k->name, sizeof(k->name), "key:%.*s", KEY_NAME_PREFIX, k->thumb);
	rc = 0;
out:
	BIO_free(bio);
	/* A private key may have been read by mistake: wipe what we read. */
	sodium_memzero(buf, KEY_FILE_MAX + 1);
	free(buf);
	if (rc == -1) {
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
	}
	return rc;
}

int key_ident_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > KEY_IDENT_MAX || s[0] == ' ' || s[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '{' ||
		    s[i] == '}')
			return 0;
	return 1;
}

/* 1 when ident is in k's configured list. */
static int listed(const struct key *k, const char *ident)
{
	const char *p;
	size_t i;

	for (i = 0, p = k->idents; i < k->nidents; i++, p += strlen(p) + 1)
		if (strcmp(p, ident) == 0)
			return 1;
	return 0;
}

int key_allows(const struct key *keys, size_t nkeys, const struct key *k, const char *ident)
{
	size_t i;

	if (k->any_ident || strcmp(ident, k->name) == 0 || listed(k, ident))
		return 1;
	/* A key with a list speaks for that list (and its name) only. */
	if (k->nidents > 0 || strncmp(ident, "key:", 4) == 0)
		return 0;
	/* A key without one: any identity no other key is bound to. */
	for (i = 0; i < nkeys; i++)
		if (&keys[i] != k && listed(&keys[i], ident))
			return 0;
	return 1;
}

/* Reads "IDENT[,IDENT...]" (or "*") into k. Returns 0, or -1 with err set. */
static int parse_idents(struct key *k, const char *list, char *err, size_t errlen)
{
	const char *p, *comma;
	size_t n;

	if (strcmp(list, "*") == 0) {
		k->any_ident = 1;
		return 0;
	}
	k->idents = malloc(strlen(list) + 1);
	if (k->idents == NULL) {
		seterr(err, errlen, "key file %s: out of memory", k->path);
		return -1;
	}
	for (p = list;; p = comma + 1) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (!key_ident_valid(p, n) || (n == 1 && p[0] == '*')) {
			seterr(err, errlen, "key %s: identity '%.*s' is not valid (1 to %d printable "
			       "ASCII characters, no braces or commas, no spaces at either end; "
			       "'*' only alone)", k->path, (int)(n > 140 ? 140 : n), p, KEY_IDENT_MAX);
			return -1;
		}
		if (n >= 4 && memcmp(p, "key:", 4) == 0) {
			seterr(err, errlen, "key %s: identity '%.*s' refused: identities starting with "
			       "'key:' are key names, each key has its own", k->path, (int)n, p);
			return -1;
		}
		memcpy(k->idents + (p - list), p, n);
		k->idents[(p - list) + n] = '\0';
		k->nidents++;
		if (comma == NULL)
			break;
	}
	return 0;
}

struct keyset *keyset_load(const char *const *specs, size_t nspecs, char *err, size_t errlen)
{
	struct keyset *ks;
	char path[sizeof(((struct key *)0)->path)];
	const char *eq;
	size_t i, j, plen;

	if (nspecs == 0) {
		seterr(err, errlen, "no key file given (--key FILE)");
		return NULL;
	}
	ks = calloc(1, sizeof(*ks));
	if (ks == NULL || (ks->keys = calloc(nspecs, sizeof(*ks->keys))) == NULL) {
		free(ks);
		seterr(err, errlen, "out of memory loading keys");
		return NULL;
	}
	for (i = 0; i < nspecs; i++) {
		/* FILE=IDENTS: the first '=' ends the path. */
		eq = strchr(specs[i], '=');
		plen = eq ? (size_t)(eq - specs[i]) : strlen(specs[i]);
		if (plen == 0 || plen >= sizeof(path)) {
			seterr(err, errlen, "key %.64s...: %s", specs[i],
			       plen ? "path too long" : "no file before '='");
			goto fail;
		}
		memcpy(path, specs[i], plen);
		path[plen] = '\0';
		if (key_load(&ks->keys[i], path, err, errlen) == -1)
			goto fail;
		ks->n++;
		if (eq != NULL && parse_idents(&ks->keys[i], eq + 1, err, errlen) == -1)
			goto fail;
		for (j = 0; j < i; j++) {
			if (strcmp(ks->keys[j].thumb, ks->keys[i].thumb) == 0) {
				seterr(err, errlen, "key file %s: same key as %s", path,
				       ks->keys[j].path);
				goto fail;
			}
		}
	}
	for (i = 0; i < ks->n; i++)
		if (ks->keys[i].any_ident && ks->n > 1) {
			seterr(err, errlen, "key %s: '*' (any identity) is only allowed when it is the "
			       "only key: with several, each key lists the identities it may assert",
			       ks->keys[i].path);
			goto fail;
		}
	return ks;
fail:
	keyset_free(ks);
	return NULL;
}

void keyset_free(struct keyset *ks)
{
	size_t i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->n; i++) {
		EVP_PKEY_free(ks->keys[i].pkey);
		free(ks->keys[i].idents);
	}
	free(ks->keys);
	free(ks);
}
