/*
 * json_strict.c: a recursive-descent RFC 8259 validator (no tree is built;
 * cJSON builds it once this has passed). Grammar references are to RFC 8259
 * sections 2 (structure), 6 (numbers), 7 (strings) and 8.1 (UTF-8).
 */
#include "json_strict.h"

struct cursor {
	const unsigned char *p, *end;
	int depth;
	const char *why;
};

static int fail(struct cursor *c, const char *why)
{
	if (c->why == NULL)
		c->why = why;
	return -1;
}

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int hex4(const unsigned char *p, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char h = p[i];

		v <<= 4;
		if (h >= '0' && h <= '9')
			v |= (unsigned int)(h - '0');
		else if (h >= 'a' && h <= 'f')
			v |= (unsigned int)(h - 'a' + 10);
		else if (h >= 'A' && h <= 'F')
			v |= (unsigned int)(h - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* One UTF-8 sequence of 2-4 bytes starting at c->p (RFC 3629 well-formed). */
static int utf8_seq(struct cursor *c)
{
	const unsigned char *s = c->p;
	size_t n = (size_t)(c->end - s), len, i;
	unsigned long v, min;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, v = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, v = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, v = s[0] & 0x07, min = 0x10000;
	else
		return fail(c, "JSON is not valid UTF-8");
	if (n < len)
		return fail(c, "JSON is not valid UTF-8");
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return fail(c, "JSON is not valid UTF-8");
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return fail(c, "JSON is not valid UTF-8");
	c->p += len;
	return 0;
}

static int string(struct cursor *c)
{
	unsigned int u, lo;

	c->p++; /* the opening quote */
	while (c->p < c->end) {
		unsigned char ch = *c->p;

		if (ch == '"') {
			c->p++;
			return 0;
		}
		if (ch < 0x20)
			return fail(c, "control character in a JSON string");
		if (ch >= 0x80) {
			if (utf8_seq(c) != 0)
				return -1;
			continue;
		}
		if (ch != '\\') {
			c->p++;
			continue;
		}
		if (c->end - c->p < 2)
			break;
		switch (c->p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			c->p += 2;
			continue;
		case 'u':
			break;
		default:
			return fail(c, "bad escape in a JSON string");
		}
		if (c->end - c->p < 6 || hex4(c->p + 2, &u) != 0)
			return fail(c, "bad \\u escape in a JSON string");
		if (u == 0)
			return fail(c, "\\u0000 in a JSON string");
		c->p += 6;
		if (u >= 0xdc00 && u <= 0xdfff)
			return fail(c, "unpaired surrogate in a JSON string");
		if (u >= 0xd800 && u <= 0xdbff) {
			if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
			    hex4(c->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
				return fail(c, "unpaired surrogate in a JSON string");
			c->p += 6;
		}
	}
	return fail(c, "unterminated JSON string");
}

static int digits(struct cursor *c)
{
	const unsigned char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > start ? 0 : -1;
}

/* number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ) */
static int number(struct cursor *c)
{
	if (*c->p == '-')
		c->p++;
	if (c->p >= c->end || !(*c->p >= '0' && *c->p <= '9'))
		return fail(c, "bad JSON number");
	if (*c->p == '0') {
		c->p++;
		if (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			return fail(c, "leading zero in a JSON number");
	} else {
		digits(c);
	}
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (digits(c) != 0)
			return fail(c, "JSON number ends in a dot or has no fraction digits");
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (digits(c) != 0)
			return fail(c, "bad exponent in a JSON number");
	}
	return 0;
}

static int literal(struct cursor *c, const char *word, size_t n)
{
	size_t i;

	if ((size_t)(c->end - c->p) < n)
		return fail(c, "not JSON");
	for (i = 0; i < n; i++)
		if (c->p[i] != (unsigned char)word[i])
			return fail(c, "not JSON");
	c->p += n;
	return 0;
}

static int value(struct cursor *c);

/* Object or array: open, members separated by ',', close; no trailing comma. */
static int container(struct cursor *c, unsigned char close)
{
	if (++c->depth > JSON_STRICT_DEPTH)
		return fail(c, "JSON nested too deeply");
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		c->depth--;
		return 0;
	}
	for (;;) {
		skip_ws(c);
		if (close == '}') {
			if (c->p >= c->end || *c->p != '"')
				return fail(c, "JSON member name is not a string");
			if (string(c) != 0)
				return -1;
			skip_ws(c);
			if (c->p >= c->end || *c->p != ':')
				return fail(c, "not JSON");
			c->p++;
		}
		if (value(c) != 0)
			return -1;
		skip_ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == close) {
			c->p++;
			c->depth--;
			return 0;
		}
		return fail(c, "not JSON");
	}
}

static int value(struct cursor *c)
{
	skip_ws(c);
	if (c->p >= c->end)
		return fail(c, "not JSON");
	switch (*c->p) {
	case '{': return container(c, '}');
	case '[': return container(c, ']');
	case '"': return string(c);
	case 't': return literal(c, "true", 4);
	case 'f': return literal(c, "false", 5);
	case 'n': return literal(c, "null", 4);
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return number(c);
		return fail(c, "not JSON");
	}
}

const char *json_strict_check(const char *buf, size_t len)
{
	struct cursor c = { (const unsigned char *)buf, (const unsigned char *)buf + len, 0, NULL };

	if (len >= 3 && c.p[0] == 0xef && c.p[1] == 0xbb && c.p[2] == 0xbf)
		return "byte-order mark before JSON";
	if (value(&c) != 0)
		return c.why;
	skip_ws(&c);
	if (c.p != c.end)
		return "not JSON";
	return NULL;
}
