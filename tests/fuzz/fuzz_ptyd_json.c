/*
 * fuzz_ptyd_json.c: libFuzzer target on ptyd's init and resize JSON
 * (proto_parse_init, proto_parse_resize). Contracts checked: a size is
 * always within 1..4096, a resize that fails leaves its output alone, a
 * resume always carries 32 lowercase hex digits and an offset within 2^53.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/ptyd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_size(const struct proto_size *sz)
{
	if (sz->cols < 1 || sz->cols > PROTO_DIM_MAX || sz->rows < 1 || sz->rows > PROTO_DIM_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_init in;
	struct proto_size sz = { 7, 9 };
	const char *why = NULL;
	size_t i;
	int rc;

	rc = proto_parse_init((const char *)data, size, &in, &why);
	if (rc < -1 || rc > 1 || (rc != 0 && why == NULL))
		abort();
	check_size(&in.size);
	if (rc >= 0 && in.want == PROTO_WANT_RESUME) {
		if (strlen(in.id) != PROTO_ID_HEX || in.offset > PROTO_OFFSET_MAX)
			abort();
		for (i = 0; i < PROTO_ID_HEX; i++)
			if (!((in.id[i] >= '0' && in.id[i] <= '9') || (in.id[i] >= 'a' && in.id[i] <= 'f')))
				abort();
	}
	rc = proto_parse_resize((const char *)data, size, &sz, &why);
	if (rc == 0)
		check_size(&sz);
	else if (rc != -1 || sz.cols != 7 || sz.rows != 9 || why == NULL)
		abort();
	return 0;
}
