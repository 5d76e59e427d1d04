/*
 * fuzz_verify_parsers.c: libFuzzer target on jwt-verify's small parsers: the
 * RFC 8259 validator and the subprotocol-list splitter. Contracts: neither
 * reads past its input; whatever the validator accepts cJSON parses whole (it
 * only ever narrows what cJSON reads); the splitter's token lies inside the
 * input and no bearer element survives in the rest it returns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../services/jwt-verify/json_strict.h"
#include "../../services/jwt-verify/subproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void json(const char *buf, size_t size)
{
	const char *end = NULL;
	cJSON *j;

	if (json_strict_check(buf, size) != NULL)
		return;
	j = cJSON_ParseWithLengthOpts(buf, size, &end, 0);
	if (j == NULL)
		abort();
	while (end < buf + size && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (end != buf + size)
		abort();
	cJSON_Delete(j);
}

static void subproto(const char *buf, size_t size)
{
	char rest[64];
	const char *tok;
	size_t toklen;
	enum subproto_result r = subproto_split(buf, size, &tok, &toklen, rest, sizeof(rest));

	if (r == SUBPROTO_TOKEN && (tok < buf || tok + toklen > buf + size))
		abort();
	/* Elements hold no ',' and are joined by ", ": none of them may be a bearer one. */
	if ((r == SUBPROTO_TOKEN || r == SUBPROTO_NO_TOKEN) &&
	    (strnlen(rest, sizeof(rest)) == sizeof(rest) ||
	     strncmp(rest, SUBPROTO_BEARER, sizeof(SUBPROTO_BEARER) - 1) == 0 ||
	     strstr(rest, ", " SUBPROTO_BEARER) != NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan catches any over-read. */
	char *buf = malloc(size ? size : 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	json(buf, size);
	subproto(buf, size);
	free(buf);
	return 0;
}
