/*
 * keys.h: the verification keys of jwt-verify: PEM public keys loaded with
 * OpenSSL (Ed25519, RSA >= 2048 bits with a sound exponent, P-256/384/521),
 * each with its RFC 7638 thumbprint, its name and the identities it may
 * assert. A key set is loaded whole or not at all, so a reload is atomic.
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
/* Smallest RSA public exponent accepted (and it must be odd). */
#define KEY_RSA_MIN_E 65537
/* A key's name, its default identity: "key:" and the first 16 thumbprint characters. */
#define KEY_NAME_PREFIX 16
#define KEY_NAME_LEN (4 + KEY_NAME_PREFIX)
/* Longest identity (the sub it becomes is bounded the same way). */
#define KEY_IDENT_MAX 128

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
	char name[KEY_NAME_LEN + 1];       /* "key:" + thumbprint prefix */
	char path[256];                    /* where it came from, for messages */
	/*
	 * The identities (sub values) bound to it besides its name: owned,
	 * each NUL-terminated, nidents of them (see key_allows); any_ident: "*",
	 * every identity (allowed only when it is the only key loaded).
	 */
	char *idents;
	size_t nidents;
	int any_ident;
};

struct keyset {
	struct key *keys; /* owned array of n keys */
	size_t n;
};

/*
 * Loads every key spec, "FILE" or "FILE=IDENT[,IDENT...]" (one PEM public
 * key a file; the identities bound to it besides its name, or "*" for any
 * when it is the only key), into a new key set. Refused: a bad file, the same
 * key twice, an identity that is not a valid sub, that starts with "key:"
 * (key names are not given away), or "*" beside another key. Returns the set
 * (caller frees with keyset_free), or NULL with err naming the file and what
 * is wrong. Nothing of a failed load survives.
 */
struct keyset *keyset_load(const char *const *specs, size_t nspecs, char *err, size_t errlen);

/*
 * 1 when key k (one of keys[0..nkeys)) may assert identity ident: its name
 * and its configured identities always; with "*", anything; a key without a
 * list, any identity that no other key lists and that is not a key name
 * ("key:..."). So a key's name, and every identity listed for some keys,
 * can be asserted by those keys only.
 */
int key_allows(const struct key *keys, size_t nkeys, const struct key *k, const char *ident);

/* 1 when s is usable as an identity: 1..128 printable ASCII, no braces, no edge spaces. */
int key_ident_valid(const char *s, size_t len);

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
