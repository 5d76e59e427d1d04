/*
 * keys.h: the verification keys of jwt-verify: PEM public keys loaded with
 * OpenSSL (Ed25519, RSA >= 2048 bits, P-256/384/521), each with its RFC 7638
 * thumbprint. A key set is loaded whole or not at all, so a reload is atomic.
 */
#ifndef JWT_VERIFY_KEYS_H
#define JWT_VERIFY_KEYS_H

#include <stddef.h>

#include <openssl/evp.h>

/* Largest key file we read (an RSA-16384 SPKI PEM is about 3 KiB). */
#define KEY_FILE_MAX (64 * 1024)
/* RFC 7638 SHA-256 thumbprint in base64url: 43 characters. */
#define KEY_THUMB_LEN 43
/* Smallest RSA modulus accepted, in bits. */
#define KEY_RSA_MIN_BITS 2048

enum key_type {
	KEY_ED25519,
	KEY_RSA,
	KEY_P256,
	KEY_P384,
	KEY_P521,
};

struct key {
	enum key_type type;
	int bits;                          /* modulus or curve size, in bits */
	unsigned char ed25519[32];         /* raw public key when KEY_ED25519 */
	EVP_PKEY *pkey;                    /* owned; the OpenSSL key for every type */
	char thumb[KEY_THUMB_LEN + 1];     /* RFC 7638 thumbprint, base64url */
	char path[256];                    /* where it came from, for messages */
};

struct keyset {
	struct key *keys; /* owned array of n keys */
	size_t n;
};

/*
 * Loads every file in paths (one PEM public key each) into a new key set.
 * Returns the set (caller frees with keyset_free), or NULL with err naming
 * the file and what is wrong with it. Nothing of a failed load survives.
 */
struct keyset *keyset_load(const char *const *paths, size_t npaths, char *err, size_t errlen);

/* Frees a key set; NULL is fine. */
void keyset_free(struct keyset *ks);

/* "Ed25519", "RSA", "P-256", "P-384", "P-521". */
const char *key_type_name(enum key_type type);

/*
 * Writes the RFC 7638 thumbprint of the key into thumb (KEY_THUMB_LEN + 1
 * bytes). Returns 0, or -1 if the key's parameters cannot be read.
 */
int key_thumbprint(const struct key *k, char thumb[KEY_THUMB_LEN + 1]);

#endif
