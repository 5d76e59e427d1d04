/*
 * proto.c: pure parsing and formatting for the ttyd protocol (see proto.h).
 */
#include "proto.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

/* Reads key as an integer in 1..PROTO_DIM_MAX; 0 on success, -1 otherwise. */
static int dim_get(const cJSON *obj, const char *key, unsigned short *out, const char **why)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	if (it == NULL) {
		*why = "missing columns or rows";
		return -1;
	}
	if (!cJSON_IsNumber(it)) {
		*why = "columns and rows must be numbers";
		return -1;
	}
	d = it->valuedouble;
	if (d != (double)(long)d) {
		*why = "columns and rows must be integers";
		return -1;
	}
	if (d < 1 || d > PROTO_DIM_MAX) {
		*why = "columns and rows must be within 1..4096";
		return -1;
	}
	*out = (unsigned short)d;
	return 0;
}

/*
 * Parses a {"columns","rows"} object; the one owner of the cJSON tree. With
 * sizeless_ok, an object with neither key succeeds and leaves *out alone.
 */
static int size_parse(const char *buf, size_t len, int sizeless_ok, struct proto_size *out,
		      const char **why)
{
	struct proto_size sz;
	cJSON *root;
	int rc = -1;

	if (len > PROTO_MSG_MAX) {
		*why = "message too long";
		return -1;
	}
	root = cJSON_ParseWithLength(buf, len);
	if (root == NULL) {
		*why = "invalid JSON";
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		*why = "JSON is not an object";
		goto out;
	}
	if (sizeless_ok && cJSON_GetObjectItemCaseSensitive(root, "columns") == NULL &&
	    cJSON_GetObjectItemCaseSensitive(root, "rows") == NULL) {
		rc = 0;
		goto out;
	}
	if (dim_get(root, "columns", &sz.cols, why) != 0 || dim_get(root, "rows", &sz.rows, why) != 0)
		goto out;
	*out = sz;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int proto_parse_init(const char *buf, size_t len, struct proto_size *out, const char **why)
{
	out->cols = PROTO_DEFAULT_COLS;
	out->rows = PROTO_DEFAULT_ROWS;
	/* ttyd's clients before 1.6 send {"AuthToken":...} alone, then a resize. */
	return size_parse(buf, len, 1, out, why);
}

int proto_parse_resize(const char *buf, size_t len, struct proto_size *out, const char **why)
{
	return size_parse(buf, len, 0, out, why);
}

int proto_user_valid(const char *v, size_t len)
{
	size_t i;

	if (len == 0 || len > PROTO_USER_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c == 0x7f || c == '{')
			return 0;
	}
	return 1;
}

size_t proto_title(char *dst, size_t cap, char *const argv[], const char *hostname)
{
	size_t o = 0;
	int i, n;

	if (cap == 0)
		return 0;
	dst[0] = '\0';
	for (i = 0; argv[i] != NULL && o < cap; i++) {
		n = snprintf(dst + o, cap - o, "%s%s", i > 0 ? " " : "", argv[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (o < cap) {
		n = snprintf(dst + o, cap - o, " (%s)", hostname);
		if (n > 0)
			o += (size_t)n;
	}
	return o < cap ? o : cap - 1;
}

size_t proto_exit_reason(char *dst, size_t cap, int wstatus)
{
	int n;

	if (WIFSIGNALED(wstatus))
		n = snprintf(dst, cap, "signal %d", WTERMSIG(wstatus));
	else
		n = snprintf(dst, cap, "exit %d", WEXITSTATUS(wstatus));
	if (n < 0 || cap == 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}
