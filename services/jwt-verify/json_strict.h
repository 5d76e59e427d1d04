/*
 * json_strict.h: an RFC 8259 validator run on a token's decoded header and
 * claims before cJSON reads them, so that what cJSON would quietly accept or
 * cut short is refused instead: a byte-order mark, leading zeros, a trailing
 * dot, raw control bytes or invalid UTF-8, and \u0000 anywhere in a string
 * or member name (cJSON stops at NUL: "sub\u0000x" would read as "sub").
 * Pure: no allocation, no state.
 */
#ifndef JWT_VERIFY_JSON_STRICT_H
#define JWT_VERIFY_JSON_STRICT_H

#include <stddef.h>

/* Deepest nesting of arrays and objects accepted (a JWT needs 2 or 3). */
#define JSON_STRICT_DEPTH 16

/*
 * Checks that buf (len bytes, not NUL-terminated) is exactly one JSON text
 * per RFC 8259 (whitespace around one value, any type), UTF-8 without a BOM,
 * with no \u0000 escape, no unpaired surrogate escape and nesting within
 * JSON_STRICT_DEPTH. Returns NULL, or a static reason ("leading zero in a
 * number", ...).
 */
const char *json_strict_check(const char *buf, size_t len);

#endif
