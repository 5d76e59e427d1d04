/*
 * fuzz_execproto.c: libFuzzer target on ptyd's webshell-exec.v1 parsers. The
 * first byte picks the parser (header, ack, start, cancel, end-session); a
 * start that parses is also turned into its audit text and hash, as exec.c
 * does, so every path a client's bytes reach is covered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/ptyd/execproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct execproto_header h;
	struct execproto_start st;
	const char *why;
	char reason[256], text[256], hex[65], id[33];
	uint32_t n;
	int sig, cut;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		if (size >= 1 + EXECPROTO_HDR)
			execproto_parse_header(data + 1, &h, &why);
		break;
	case 1:
		execproto_parse_ack(data + 1, size - 1, &n, &why);
		break;
	case 2:
		if (execproto_parse_start((const char *)data + 1, size - 1, &st, reason,
					  sizeof(reason)) == 0) {
			execproto_command_text(&st, (size_t)data[0], text, sizeof(text), &cut);
			execproto_sha256_hex(st.command, st.command_len, hex);
			execproto_start_free(&st);
		}
		break;
	case 3:
		execproto_parse_cancel((const char *)data + 1, size - 1, &sig, &why);
		break;
	default:
		execproto_parse_end_session((const char *)data + 1, size - 1, id, &why);
		break;
	}
	return 0;
}
