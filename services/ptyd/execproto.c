/*
 * execproto.c: pure parsing and building of webshell-exec.v1 messages (see
 * execproto.h). Every limit of a start request is checked here, so exec.c
 * only ever sees a request the kernel can run.
 */
#include "execproto.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

void execproto_put_u32(unsigned char *dst, uint32_t v)
{
	dst[0] = (unsigned char)(v >> 24);
	dst[1] = (unsigned char)(v >> 16);
	dst[2] = (unsigned char)(v >> 8);
	dst[3] = (unsigned char)v;
}

uint32_t execproto_get_u32(const unsigned char *src)
{
	return ((uint32_t)src[0] << 24) | ((uint32_t)src[1] << 16) | ((uint32_t)src[2] << 8) |
	       (uint32_t)src[3];
}

void execproto_put_header(unsigned char *dst, unsigned channel, uint32_t id)
{
	dst[0] = (unsigned char)channel;
	execproto_put_u32(dst + 1, id);
}

int execproto_parse_header(const unsigned char *hdr, struct execproto_header *out,
			   const char **why)
{
	out->channel = hdr[0];
	out->id = execproto_get_u32(hdr + 1);
	switch (out->channel) {
	case EXEC_CH_STDIN:
	case EXEC_CH_RESIZE:
	case EXEC_CH_START:
	case EXEC_CH_EOF:
	case EXEC_CH_CANCEL:
	case EXEC_CH_ACK:
	case EXEC_CH_END_SESSION:
		if (out->id == 0) {
			*why = "command id 0 is the connection itself";
			return -1;
		}
		return 0;
	case EXEC_CH_SESSIONS:
		return 0;
	default:
		*why = "unknown channel";
		return -1;
	}
}

int execproto_parse_ack(const unsigned char *p, size_t len, uint32_t *n, const char **why)
{
	if (len != 4) {
		*why = "ack payload must be 4 bytes";
		return -1;
	}
	*n = execproto_get_u32(p);
	if (*n == 0) {
		*why = "ack of 0 bytes";
		return -1;
	}
	return 0;
}

/* printf into the caller's why buffer; returns -2 (a refused request). */
static int refuse(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -2;
}

/*
 * cJSON keeps strings NUL-terminated, so a "\u0000" escape (or a raw NUL)
 * would silently cut a string: such payloads are refused before parsing.
 * Backslashes only occur inside strings in valid JSON, so a scan that skips
 * each escaped character finds exactly the NUL escapes.
 */
static int has_nul(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\0')
			return 1;
		if (buf[i] != '\\' || i + 1 >= len)
			continue;
		i++;
		if (buf[i] == 'u' && i + 4 < len && memcmp(buf + i + 1, "0000", 4) == 0)
			return 1;
	}
	return 0;
}

static char *dup_bytes(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (d != NULL) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

/* Optional boolean member: 0 and *out set (def when absent), or -2 with why. */
static int get_bool(const cJSON *root, const char *key, int def, int *out, char *why, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);

	if (it == NULL || cJSON_IsNull(it)) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsBool(it))
		return refuse(why, cap, "%s must be true or false", key);
	*out = cJSON_IsTrue(it);
	return 0;
}

static int parse_argv(const cJSON *arr, struct execproto_start *st, char *why, size_t cap)
{
	const cJSON *it;
	size_t total = 0, len;
	int n = cJSON_GetArraySize(arr), i = 0;
	unsigned char *p;

	if (!cJSON_IsArray(arr) || n < 1)
		return refuse(why, cap, "argv must be a non-empty array of strings");
	if (n > EXECPROTO_ARGC_MAX)
		return refuse(why, cap, "argv has more than %d elements", EXECPROTO_ARGC_MAX);
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it))
			return refuse(why, cap, "argv[%d] is not a string", i);
		len = strlen(it->valuestring);
		if (len > EXECPROTO_ARG_MAX)
			return refuse(why, cap, "argv[%d] is longer than %d bytes (the kernel's limit "
				      "for one argument; use \"shell\" for long scripts)", i,
				      EXECPROTO_ARG_MAX);
		if (i == 0 && len == 0)
			return refuse(why, cap, "argv[0] is empty");
		total += len + 1;
		i++;
	}
	st->argv = calloc((size_t)n + 1, sizeof(char *));
	st->command = malloc(total);
	if (st->argv == NULL || st->command == NULL)
		return refuse(why, cap, "out of memory");
	p = st->command;
	i = 0;
	cJSON_ArrayForEach(it, arr) {
		len = strlen(it->valuestring);
		st->argv[i] = dup_bytes(it->valuestring, len);
		if (st->argv[i] == NULL)
			return refuse(why, cap, "out of memory");
		memcpy(p, it->valuestring, len + 1);
		p += len + 1;
		i++;
	}
	st->argc = n;
	st->command_len = total;
	return 0;
}

/* An environment name: [A-Za-z_][A-Za-z0-9_]*, as POSIX shells accept. */
static int env_name_ok(const char *k)
{
	const char *p;

	if (k[0] == '\0' || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	for (p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

static int parse_env(const cJSON *obj, struct execproto_start *st, char *why, size_t cap)
{
	const cJSON *it;
	int n = cJSON_GetArraySize(obj), i = 0;

	if (!cJSON_IsObject(obj))
		return refuse(why, cap, "env must be an object of strings");
	if (n > EXECPROTO_ENV_MAX)
		return refuse(why, cap, "env has more than %d variables", EXECPROTO_ENV_MAX);
	st->env = calloc((size_t)n + 1, sizeof(char *));
	if (st->env == NULL)
		return refuse(why, cap, "out of memory");
	cJSON_ArrayForEach(it, obj) {
		size_t klen, vlen;
		char *kv;

		if (!env_name_ok(it->string))
			return refuse(why, cap, "env: bad variable name (letters, digits and _)");
		if (strcmp(it->string, "WEBSHELL_USER") == 0)
			return refuse(why, cap, "env: WEBSHELL_USER is set by the server");
		if (!cJSON_IsString(it))
			return refuse(why, cap, "env: the value of %.64s is not a string", it->string);
		klen = strlen(it->string);
		vlen = strlen(it->valuestring);
		if (klen + 1 + vlen > EXECPROTO_ARG_MAX)
			return refuse(why, cap, "env: %.64s is longer than %d bytes", it->string,
				      EXECPROTO_ARG_MAX);
		kv = malloc(klen + vlen + 2);
		if (kv == NULL)
			return refuse(why, cap, "out of memory");
		memcpy(kv, it->string, klen);
		kv[klen] = '=';
		memcpy(kv + klen + 1, it->valuestring, vlen + 1);
		st->env[i++] = kv;
	}
	st->nenv = i;
	return 0;
}

static int parse_pty(const cJSON *obj, struct execproto_start *st, char *why, size_t cap)
{
	const char *err;
	char *text;
	int rc;

	if (!cJSON_IsObject(obj))
		return refuse(why, cap, "pty must be an object {\"columns\":C,\"rows\":R}");
	/* One parser of sizes: the resize message's. */
	text = cJSON_PrintUnformatted(obj);
	if (text == NULL)
		return refuse(why, cap, "out of memory");
	rc = proto_parse_resize(text, strlen(text), &st->pty, &err);
	free(text);
	if (rc != 0)
		return refuse(why, cap, "pty: %s", err);
	st->has_pty = 1;
	return 0;
}

static int parse_members(const cJSON *root, struct execproto_start *st, char *why, size_t cap)
{
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(root, "argv");
	const cJSON *shell = cJSON_GetObjectItemCaseSensitive(root, "shell");
	const cJSON *it;
	int rc;

	if ((argv == NULL) == (shell == NULL))
		return refuse(why, cap, "give exactly one of argv and shell");
	if (argv != NULL) {
		if ((rc = parse_argv(argv, st, why, cap)) != 0)
			return rc;
	} else {
		if (!cJSON_IsString(shell))
			return refuse(why, cap, "shell must be a string");
		st->shell_len = strlen(shell->valuestring);
		st->shell = dup_bytes(shell->valuestring, st->shell_len);
		st->command = (unsigned char *)dup_bytes(shell->valuestring, st->shell_len);
		if (st->shell == NULL || st->command == NULL)
			return refuse(why, cap, "out of memory");
		st->command_len = st->shell_len;
	}
	if ((rc = get_bool(root, "login", 0, &st->login, why, cap)) != 0)
		return rc;
	if (st->login && st->shell == NULL)
		return refuse(why, cap, "login applies to shell commands only");
	if ((rc = get_bool(root, "stdin", 1, &st->stdin_open, why, cap)) != 0)
		return rc;
	it = cJSON_GetObjectItemCaseSensitive(root, "env");
	if (it != NULL && (rc = parse_env(it, st, why, cap)) != 0)
		return rc;
	if (st->env == NULL && (st->env = calloc(1, sizeof(char *))) == NULL)
		return refuse(why, cap, "out of memory");
	it = cJSON_GetObjectItemCaseSensitive(root, "cwd");
	if (it != NULL && !cJSON_IsNull(it)) {
		if (!cJSON_IsString(it) || it->valuestring[0] == '\0')
			return refuse(why, cap, "cwd must be a non-empty string");
		if (strlen(it->valuestring) > EXECPROTO_CWD_MAX)
			return refuse(why, cap, "cwd is longer than %d bytes", EXECPROTO_CWD_MAX);
		if ((st->cwd = dup_bytes(it->valuestring, strlen(it->valuestring))) == NULL)
			return refuse(why, cap, "out of memory");
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "timeoutMs");
	if (it != NULL && !cJSON_IsNull(it)) {
		double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
		if (!cJSON_IsNumber(it) || d < 0 || d > (double)EXECPROTO_TIMEOUT_MAX_MS ||
		    d != (double)(long long)d)
			return refuse(why, cap, "timeoutMs must be an integer within 0..%lld",
				      EXECPROTO_TIMEOUT_MAX_MS);
		st->timeout_ms = (long long)d;
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "pty");
	if (it != NULL && !cJSON_IsNull(it) && (rc = parse_pty(it, st, why, cap)) != 0)
		return rc;
	return 0;
}

int execproto_parse_start(const char *buf, size_t len, struct execproto_start *out,
			  char *why, size_t whycap)
{
	cJSON *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if (has_nul(buf, len)) {
		refuse(why, whycap, "start: strings must not contain NUL");
		return -2;
	}
	root = cJSON_ParseWithLength(buf, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		snprintf(why, whycap, "start: %s", root == NULL ? "invalid JSON" : "not a JSON object");
		cJSON_Delete(root);
		return -1;
	}
	rc = parse_members(root, out, why, whycap);
	cJSON_Delete(root);
	if (rc != 0) {
		execproto_start_free(out);
		return rc;
	}
	return 0;
}

void execproto_start_free(struct execproto_start *st)
{
	int i;

	if (st->argv != NULL)
		for (i = 0; st->argv[i] != NULL; i++)
			free(st->argv[i]);
	if (st->env != NULL)
		for (i = 0; st->env[i] != NULL; i++)
			free(st->env[i]);
	free(st->argv);
	free(st->env);
	free(st->shell);
	free(st->cwd);
	free(st->command);
	memset(st, 0, sizeof(*st));
}

static const struct {
	const char *name;
	int sig;
} cancel_signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "TERM", SIGTERM },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
};

int execproto_parse_cancel(const char *buf, size_t len, int *sig, const char **why)
{
	const cJSON *it;
	const char *name;
	cJSON *root;
	size_t i;

	*sig = SIGTERM;
	if (len == 0)
		return 0;
	if (has_nul(buf, len)) {
		*why = "cancel: NUL in JSON";
		return -1;
	}
	root = cJSON_ParseWithLength(buf, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		*why = "cancel: not a JSON object";
		cJSON_Delete(root);
		return -1;
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "signal");
	if (it == NULL || cJSON_IsNull(it)) {
		cJSON_Delete(root);
		return 0;
	}
	if (!cJSON_IsString(it)) {
		*why = "cancel: signal must be a name";
		cJSON_Delete(root);
		return -1;
	}
	name = it->valuestring;
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < sizeof(cancel_signals) / sizeof(cancel_signals[0]); i++) {
		if (strcmp(name, cancel_signals[i].name) == 0) {
			*sig = cancel_signals[i].sig;
			cJSON_Delete(root);
			return 0;
		}
	}
	*why = "cancel: signal must be one of HUP INT QUIT TERM KILL USR1 USR2";
	cJSON_Delete(root);
	return -1;
}

int execproto_parse_end_session(const char *buf, size_t len, char id[33], const char **why)
{
	const cJSON *it;
	cJSON *root;
	size_t i;
	int rc = -1;

	if (has_nul(buf, len)) {
		*why = "end-session: NUL in JSON";
		return -1;
	}
	root = cJSON_ParseWithLength(buf, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		*why = "end-session: not a JSON object";
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (!cJSON_IsString(it) || strlen(it->valuestring) != 32) {
		*why = "end-session: id must be 32 hex digits";
		goto out;
	}
	for (i = 0; i < 32; i++) {
		char c = it->valuestring[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			*why = "end-session: id must be 32 lowercase hex digits";
			goto out;
		}
	}
	memcpy(id, it->valuestring, 33);
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

void execproto_signal_name(char *dst, size_t cap, int sig)
{
	const char *name = sigabbrev_np(sig);

	if (name != NULL)
		snprintf(dst, cap, "%s", name);
	else
		snprintf(dst, cap, "%d", sig);
}

size_t execproto_status_json(char *dst, size_t cap, const struct execproto_status *st)
{
	char code[16], sig[32];
	int n;

	if (WIFEXITED(st->wstatus)) {
		snprintf(code, sizeof(code), "%d", WEXITSTATUS(st->wstatus));
		snprintf(sig, sizeof(sig), "null");
	} else {
		char name[16];
		snprintf(code, sizeof(code), "null");
		execproto_signal_name(name, sizeof(name), WIFSIGNALED(st->wstatus) ?
				      WTERMSIG(st->wstatus) : 0);
		snprintf(sig, sizeof(sig), "\"%s\"", name);
	}
	n = snprintf(dst, cap,
		     "{\"exitCode\":%s,\"signal\":%s,\"timedOut\":%s,\"cancelled\":%s,"
		     "%s\"durationMs\":%lld}",
		     code, sig, st->timed_out ? "true" : "false", st->cancelled ? "true" : "false",
		     st->by_operator ? "\"endedBy\":\"operator\"," : "", st->duration_ms);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

char *execproto_error_json(const char *message)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o != NULL && cJSON_AddStringToObject(o, "error", message) != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

char *execproto_hello_json(long long max_commands, long long window, long long max_command,
			   const char *user)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(o, "version", EXECPROTO_VERSION) != NULL &&
	    cJSON_AddNumberToObject(o, "maxCommands", (double)max_commands) != NULL &&
	    cJSON_AddNumberToObject(o, "window", (double)window) != NULL &&
	    cJSON_AddNumberToObject(o, "maxCommand", (double)max_command) != NULL &&
	    (user != NULL && user[0] != '\0' ? cJSON_AddStringToObject(o, "user", user) :
	     cJSON_AddNullToObject(o, "user")) != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int execproto_sha256_hex(const unsigned char *data, size_t len, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		hex[0] = '\0';
		return -1;
	}
	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	return 0;
}

size_t execproto_command_text(const struct execproto_start *st, size_t max, char *dst,
			      size_t cap, int *cut)
{
	size_t limit = max < cap - 1 ? max : cap - 1, o = 0, i, n;

	*cut = 0;
	if (st->shell != NULL) {
		n = st->shell_len < limit ? st->shell_len : limit;
		memcpy(dst, st->shell, n);
		o = n;
		*cut = st->shell_len > n;
	} else {
		/* Every element's NUL but the last becomes a space. */
		for (i = 0; i + 1 < st->command_len && o < limit; i++)
			dst[o++] = st->command[i] == '\0' ? ' ' : (char)st->command[i];
		*cut = i + 1 < st->command_len;
	}
	dst[o] = '\0';
	return o;
}
