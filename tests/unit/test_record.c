/*
 * test_record.c: TAP tests of ptyd's asciicast v2 recorder (services/ptyd/
 * record.c) with its real writer thread, in a scratch directory: the header,
 * every event kind, exact output across split and invalid UTF-8 and control
 * bytes, the end marker, file modes, --record-max-file and --record-max-dir,
 * a long stream of mixed text fed in odd chunks (the 16-byte scan's every
 * boundary), disk space given back at the end, and a refused directory.
 * Every line is parsed back with cJSON.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "../../services/common/log.h"
#include "../../services/ptyd/record.h"

static char scratch[] = "/tmp/test_record.XXXXXX";

/* The one file in dir (its name into name), read whole; NULL if not exactly one. */
static char *only_file(const char *dir, char *name, size_t namelen, size_t *len)
{
	char cmd[512], path[600];
	FILE *p;
	char *buf;
	struct stat st;
	int fd;

	snprintf(cmd, sizeof(cmd), "ls %s", dir);
	p = popen(cmd, "r");
	if (p == NULL || fgets(name, (int)namelen, p) == NULL) {
		if (p)
			pclose(p);
		return NULL;
	}
	if (fgetc(p) != EOF) {
		pclose(p);
		return NULL;
	}
	pclose(p);
	name[strcspn(name, "\n")] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
		return NULL;
	buf = calloc(1, (size_t)st.st_size + 1);
	if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	*len = (size_t)st.st_size;
	close(fd);
	return buf;
}

/* Parsed lines: the header and the events. */
struct cast {
	cJSON *header;
	cJSON *events[256];
	int nevents;
	int bad_lines;
};

static void cast_parse(struct cast *c, char *text)
{
	char *line, *save = NULL;
	int first = 1;

	memset(c, 0, sizeof(*c));
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);

		if (j == NULL) {
			c->bad_lines++;
			continue;
		}
		if (first)
			c->header = j;
		else if (c->nevents < 256 && cJSON_IsArray(j) && cJSON_GetArraySize(j) == 3)
			c->events[c->nevents++] = j;
		else {
			c->bad_lines++;
			cJSON_Delete(j);
		}
		first = 0;
	}
}

static void cast_free(struct cast *c)
{
	int i;

	cJSON_Delete(c->header);
	for (i = 0; i < c->nevents; i++)
		cJSON_Delete(c->events[i]);
}

static const char *ev_code(const struct cast *c, int i)
{
	return cJSON_GetArrayItem(c->events[i], 1)->valuestring;
}

static const char *ev_data(const struct cast *c, int i)
{
	return cJSON_GetArrayItem(c->events[i], 2)->valuestring;
}

/* All data of events with this code, joined. */
static void joined(const struct cast *c, const char *code, char *out, size_t cap)
{
	size_t len = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < c->nevents; i++)
		if (strcmp(ev_code(c, i), code) == 0)
			len += (size_t)snprintf(out + len, cap - len, "%s", ev_data(c, i));
}

static void make_dir(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "%s/%s", scratch, name);
}

static const struct recording_info info = {
	.kind = "terminal", .user = "alice@example.org", .session = "0123456789abcdef0123456789abcdef",
	.peer = "192.0.2.7", .request_id = "req-1", .title = "bash (host)", .command = "-bash",
	.term = "xterm-256color", .shell = "/bin/bash", .columns = 100, .rows = 30,
};

static void test_session(void)
{
	struct record_config cfg = { .dir = NULL, .group = (gid_t)-1 };
	struct recorder_stats stats;
	struct recorder *rec;
	struct recording *r;
	char dir[256], name[256], err[256], all[4096];
	size_t len;
	char *text;
	struct cast c;
	struct stat st;
	const cJSON *ws, *env;
	static const char ctl[] = "\x1b[1mbold\x1b[0m \"q\" \\ \t\x7f\x01";

	make_dir(dir, sizeof(dir), "basic");
	cfg.dir = dir;
	rec = recorder_new(NULL, &cfg, err, sizeof(err));
	if (!ok(rec != NULL, "recorder starts in a new directory")) {
		printf("# %s\n", err);
		return;
	}
	ok(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "directory made 0700 without a group");
	r = recording_start(rec, &info);
	recording_output(r, "hello\r\n", 7);
	/* "é" (c3 a9) and "€" (e2 82 ac) cut between events. */
	recording_output(r, "caf\xc3", 4);
	recording_output(r, "\xa9 \xe2", 3);
	recording_output(r, "\x82", 1);
	recording_output(r, "\xac\r\n", 3);
	recording_output(r, ctl, strlen(ctl));
	recording_resize(r, 120, 40);
	recording_input(r, "secret\r", 7);
	recording_output(r, "bad \xff\xfe end", 10);
	recording_end(r, "exit 3");
	recorder_free(rec);

	text = only_file(dir, name, sizeof(name), &len);
	if (!ok(text != NULL, "one file written")) {
		return;
	}
	ok(strncmp(name + 16, "-alice@example.org-01234567.cast", 32) == 0 && name[8] == 'T' &&
	   name[15] == 'Z', "file named by UTC start time, identity and id prefix");
	printf("# %s\n", name);
	{
		char path[600];

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "file mode 0600 without a group");
	}
	ok(strstr(text, "\\u001b[1m") != NULL, "escape bytes stored as \\u001b");
	cast_parse(&c, text);
	ok(c.bad_lines == 0 && c.header != NULL, "every line is JSON: a header and [t, code, data]");
	ok(cJSON_GetObjectItem(c.header, "version")->valueint == 2 &&
	   cJSON_GetObjectItem(c.header, "width")->valueint == 100 &&
	   cJSON_GetObjectItem(c.header, "height")->valueint == 30 &&
	   cJSON_GetObjectItem(c.header, "timestamp")->valuedouble > 1.7e9 &&
	   strcmp(cJSON_GetObjectItem(c.header, "title")->valuestring, "bash (host)") == 0,
	   "header: version 2, size, timestamp, title");
	env = cJSON_GetObjectItem(c.header, "env");
	ok(env && strcmp(cJSON_GetObjectItem(env, "TERM")->valuestring, "xterm-256color") == 0 &&
	   strcmp(cJSON_GetObjectItem(env, "SHELL")->valuestring, "/bin/bash") == 0,
	   "header: env TERM and SHELL");
	ws = cJSON_GetObjectItem(c.header, "webshell");
	ok(ws && strcmp(cJSON_GetObjectItem(ws, "user")->valuestring, "alice@example.org") == 0 &&
	   strcmp(cJSON_GetObjectItem(ws, "session")->valuestring, "01234567") == 0 &&
	   strcmp(cJSON_GetObjectItem(ws, "peer")->valuestring, "192.0.2.7") == 0 &&
	   strcmp(cJSON_GetObjectItem(ws, "request_id")->valuestring, "req-1") == 0 &&
	   strcmp(cJSON_GetObjectItem(ws, "kind")->valuestring, "terminal") == 0,
	   "header: identity, session id prefix only, peer, request id, kind");
	joined(&c, "o", all, sizeof(all));
	ok(strcmp(all, "hello\r\ncaf\xc3\xa9 \xe2\x82\xac\r\n\x1b[1mbold\x1b[0m \"q\" \\ \t\x7f\x01"
		       "bad \xef\xbf\xbd\xef\xbf\xbd end") == 0,
	   "output exact: split UTF-8 joined, control bytes kept, invalid bytes U+FFFD");
	joined(&c, "r", all, sizeof(all));
	ok(strcmp(all, "120x40") == 0, "resize event COLSxROWS");
	joined(&c, "i", all, sizeof(all));
	ok(all[0] == '\0', "no input events without --record-input");
	ok(c.nevents > 0 && strcmp(ev_code(&c, c.nevents - 1), "m") == 0 &&
	   strcmp(ev_data(&c, c.nevents - 1), "exit 3") == 0, "last event: the end marker");
	{
		double prev = 0;
		int i, mono = 1;

		for (i = 0; i < c.nevents; i++) {
			double t = cJSON_GetArrayItem(c.events[i], 0)->valuedouble;

			mono &= t >= prev && t < 5;
			prev = t;
		}
		ok(mono, "event times are seconds from the start, never going back");
	}
	cast_free(&c);
	free(text);
	(void)stats;
}

static void test_input_and_group(void)
{
	struct record_config cfg = { .group = getegid(), .record_input = 1 };
	struct recorder *rec;
	struct recording *r;
	char dir[256], name[256], err[256], all[256], path[600];
	size_t len;
	char *text;
	struct cast c;
	struct stat st;

	make_dir(dir, sizeof(dir), "input");
	cfg.dir = dir;
	rec = recorder_new(NULL, &cfg, err, sizeof(err));
	if (!ok(rec != NULL, "recorder with --record-input and a group"))
		return;
	r = recording_start(rec, &(struct recording_info){ .kind = "exec", .user = "../bob x",
							   .session = "feedfacefeedface",
							   .command_id = 7, .columns = 80,
							   .rows = 24 });
	recording_input(r, "ls\r", 3);
	recording_output(r, "out", 3);
	recording_stderr(r, "err", 3);
	recording_end(r, "exit 0");
	recorder_free(rec);
	text = only_file(dir, name, sizeof(name), &len);
	if (!ok(text != NULL, "one file"))
		return;
	ok(strstr(name, "-_._bob_x-feedface-c7.cast") != NULL,
	   "identity sanitized in the name, exec command id added");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640 && st.st_gid == getegid(),
	   "file mode 0640 in the group");
	ok(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0750, "directory 0750 with a group");
	cast_parse(&c, text);
	joined(&c, "i", all, sizeof(all));
	ok(strcmp(all, "ls\r") == 0, "input events with --record-input");
	joined(&c, "e", all, sizeof(all));
	ok(strcmp(all, "err") == 0, "stderr as its own event code");
	joined(&c, "o", all, sizeof(all));
	ok(strcmp(all, "out") == 0, "stdout as output");
	cast_free(&c);
	free(text);
}

/*
 * 300 KB of terminal-like output (printable runs of every length, quotes,
 * backslashes, control bytes, DEL, 2- to 4-byte UTF-8) in chunks of 1 to
 * 4099 bytes: the file holds exactly the stream, in whole lines, and gives
 * back the disk space it preallocated once closed.
 */
static void test_long_stream(void)
{
	static const char *const pieces[] = {
		"\"", "\\", "\r\n", "\x1b[0m", "\x7f", "\x01", "\t", "\xc3\xa9",
		"\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x1f", "~ ",
	};
	struct record_config cfg = { .group = (gid_t)-1 };
	struct recorder *rec;
	struct recording *r;
	char dir[256], name[256], err[256], path[600];
	size_t len, total = 0, off, i, run, cap = 300000, got = 0;
	unsigned int seed = 12345;
	char *text, *in, *line, *save = NULL;
	const char *piece;
	struct stat st;
	int first = 1, bad = 0, lines = 0;

	in = malloc(cap + 64);
	while (in != NULL && total < cap) {
		seed = seed * 1103515245u + 12345u;
		run = (seed >> 16) % 48;
		for (i = 0; i < run; i++)
			in[total + i] = (char)('a' + (total + i) % 26);
		total += run;
		seed = seed * 1103515245u + 12345u;
		piece = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
		len = strlen(piece);
		memcpy(in + total, piece, len);
		total += len;
	}
	make_dir(dir, sizeof(dir), "long");
	cfg.dir = dir;
	rec = recorder_new(NULL, &cfg, err, sizeof(err));
	if (!ok(in != NULL && rec != NULL, "recorder for a long stream"))
		return;
	r = recording_start(rec, &info);
	for (off = 0; off < total; off += len) {
		seed = seed * 1103515245u + 12345u;
		len = 1 + (seed >> 16) % 4099;
		if (len > total - off)
			len = total - off;
		recording_output(r, in + off, len);
	}
	recording_end(r, "exit 0");
	recorder_free(rec);
	text = only_file(dir, name, sizeof(name), &len);
	if (!ok(text != NULL, "one file")) {
		free(in);
		return;
	}
	/* Every "o" line parsed and joined: the stream exactly. */
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *code, *data;

		lines++;
		if (j == NULL) {
			bad++;
			continue;
		}
		code = cJSON_GetArrayItem(j, 1);
		data = cJSON_GetArrayItem(j, 2);
		if (!first && cJSON_IsString(code) && strcmp(code->valuestring, "o") == 0 &&
		    cJSON_IsString(data)) {
			size_t dl = strlen(data->valuestring);

			if (got + dl <= total && memcmp(in + got, data->valuestring, dl) == 0)
				got += dl;
			else
				bad++;
		}
		first = 0;
		cJSON_Delete(j);
	}
	printf("# %zu bytes in %d lines\n", total, lines);
	ok(bad == 0 && got == total, "a long stream of mixed text recorded exactly");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ok(stat(path, &st) == 0 && (uint64_t)st.st_blocks * 512 <= ((uint64_t)st.st_size | 4095) + 4097,
	   "no disk space preallocated past the end of a closed recording");
	printf("# %lld bytes, %lld allocated\n", (long long)st.st_size, (long long)st.st_blocks * 512);
	free(text);
	free(in);
}

static void test_file_limit(void)
{
	struct record_config cfg = { .group = (gid_t)-1, .max_file = 4096 };
	struct recorder_stats stats;
	struct recorder *rec;
	struct recording *r;
	char dir[256], name[256], err[256], chunk[1000];
	size_t len;
	char *text;
	struct cast c;
	int i;

	make_dir(dir, sizeof(dir), "filelimit");
	cfg.dir = dir;
	rec = recorder_new(NULL, &cfg, err, sizeof(err));
	if (!ok(rec != NULL, "recorder with --record-max-file 4096"))
		return;
	memset(chunk, 'x', sizeof(chunk));
	r = recording_start(rec, &info);
	for (i = 0; i < 20; i++)
		recording_output(r, chunk, sizeof(chunk));
	recording_end(r, "exit 0");
	/* Let the writer finish before reading the totals. */
	recorder_stats(rec, &stats);
	recorder_free(rec);
	text = only_file(dir, name, sizeof(name), &len);
	if (!ok(text != NULL, "one file"))
		return;
	ok(len <= 4096, "file within --record-max-file");
	ok(strstr(text, "recording stopped: --record-max-file reached") != NULL,
	   "the file says it was cut");
	ok(strstr(text, "dropped ") != NULL && strstr(text, "--record-max-file reached)") != NULL,
	   "the file says how many bytes were dropped and why");
	cast_parse(&c, text);
	ok(c.bad_lines == 0, "every line whole");
	ok(c.nevents > 0 && strcmp(ev_data(&c, c.nevents - 1), "exit 0") == 0,
	   "the end marker still fits");
	cast_free(&c);
	free(text);
}

static void test_dir_limit(void)
{
	struct record_config cfg = { .group = (gid_t)-1, .max_dir = 6000 };
	struct recorder *rec;
	struct recording *r;
	char dir[256], path[600], err[256], chunk[1500];
	struct stat st;
	int fd, i;

	make_dir(dir, sizeof(dir), "dirlimit");
	mkdir(dir, 0700);
	memset(chunk, 'y', sizeof(chunk));
	/* Two old recordings of 2000 bytes: the older must go first. */
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/2020010%dT000000Z-old-00000000.cast", dir, i + 1);
		fd = open(path, O_WRONLY | O_CREAT, 0600);
		if (write(fd, chunk, 1500) != 1500 || write(fd, chunk, 500) != 500)
			ok(0, "write old file");
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	cfg.dir = dir;
	rec = recorder_new(NULL, &cfg, err, sizeof(err));
	if (!ok(rec != NULL, "recorder with --record-max-dir 6000"))
		return;
	r = recording_start(rec, &info);
	for (i = 0; i < 2; i++)
		recording_output(r, chunk, sizeof(chunk));
	recording_end(r, "exit 0");
	recorder_free(rec);
	snprintf(path, sizeof(path), "%s/20200101T000000Z-old-00000000.cast", dir);
	ok(stat(path, &st) != 0, "the oldest recording was removed");
	snprintf(path, sizeof(path), "%s/20200102T000000Z-old-00000000.cast", dir);
	ok(stat(path, &st) == 0, "the newer old recording was kept");
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	ok(stat(path, &st) == 0, "files that are no recordings are left alone");
}

/* Sums the output bytes of a file and the counts its "dropped N bytes" markers give. */
static void count_file(const char *path, uint64_t *out, uint64_t *dropped, int *bad)
{
	FILE *f = fopen(path, "r");
	static char line[1 << 20];
	int first = 1;

	*out = *dropped = 0;
	*bad = f == NULL;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		cJSON *j = cJSON_Parse(line);
		const char *code, *data;
		unsigned long long n;

		if (j == NULL) {
			(*bad)++;
			continue;
		}
		if (!first) {
			code = cJSON_GetArrayItem(j, 1)->valuestring;
			data = cJSON_GetArrayItem(j, 2)->valuestring;
			if (strcmp(code, "o") == 0)
				*out += strlen(data);
			else if (strcmp(code, "m") == 0 && sscanf(data, "dropped %llu", &n) == 1)
				*dropped += n;
		}
		first = 0;
		cJSON_Delete(j);
	}
	if (f != NULL)
		fclose(f);
}

/*
 * Two recordings fed far faster than the smallest queue drains, so the ring
 * wraps and fills: every byte is either in its file or counted as dropped,
 * in the file's markers and in the totals, and every line stays whole.
 */
static void test_queue_full(void)
{
	struct record_config cfg = { .group = (gid_t)-1, .queue_bytes = 1 };
	struct recorder_stats stats;
	struct recorder *rec;
	struct recording *r[2];
	char dir[256], err[256], chunk[3000], cmd[600], name[256], path[600];
	uint64_t out, dropped, sum_out = 0, sum_dropped = 0, total = 0;
	int i, bad, nbad = 0;
	FILE *ls;

	make_dir(dir, sizeof(dir), "queue");
	cfg.dir = dir;
	rec = recorder_new(NULL, &cfg, err, sizeof(err));
	if (!ok(rec != NULL, "recorder with the smallest queue"))
		return;
	memset(chunk, 'z', sizeof(chunk));
	r[0] = recording_start(rec, &info);
	r[1] = recording_start(rec, &(struct recording_info){ .user = "bob", .session = "bbbbbbbb" });
	for (i = 0; i < 20000; i++) {
		size_t len = 1 + (size_t)(i * 7919) % sizeof(chunk);

		recording_output(r[i & 1], chunk, len);
		total += len;
	}
	recording_end(r[0], "exit 0");
	recording_end(r[1], "exit 0");
	recorder_free(rec);
	snprintf(cmd, sizeof(cmd), "ls %s", dir);
	ls = popen(cmd, "r");
	while (ls != NULL && fgets(name, sizeof(name), ls) != NULL) {
		name[strcspn(name, "\n")] = '\0';
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		count_file(path, &out, &dropped, &bad);
		sum_out += out;
		sum_dropped += dropped;
		nbad += bad;
	}
	if (ls != NULL)
		pclose(ls);
	printf("# %llu bytes: %llu recorded, %llu dropped\n", (unsigned long long)total,
	       (unsigned long long)sum_out, (unsigned long long)sum_dropped);
	ok(nbad == 0, "every line whole under load");
	ok(sum_out + sum_dropped == total, "every byte recorded or counted as dropped in the file");
	(void)stats;
}

static void test_refused_dirs(void)
{
	struct record_config cfg = { .group = (gid_t)-1 };
	char dir[256], err[256] = "";

	make_dir(dir, sizeof(dir), "open");
	mkdir(dir, 0777);
	chmod(dir, 0777);
	cfg.dir = dir;
	ok(recorder_new(NULL, &cfg, err, sizeof(err)) == NULL && strstr(err, "writable") != NULL,
	   "a directory others can write is refused, with the reason");
	make_dir(dir, sizeof(dir), "readable");
	mkdir(dir, 0755);
	chmod(dir, 0755);
	ok(recorder_new(NULL, &cfg, err, sizeof(err)) == NULL && strstr(err, "others") != NULL,
	   "a directory others can read is refused");
	make_dir(dir, sizeof(dir), "file");
	close(open(dir, O_WRONLY | O_CREAT, 0600));
	ok(recorder_new(NULL, &cfg, err, sizeof(err)) == NULL, "a file is refused");
	cfg.dir = "/nonexistent/a/b";
	ok(recorder_new(NULL, &cfg, err, sizeof(err)) == NULL && strstr(err, "/nonexistent") != NULL,
	   "a missing parent is refused, naming the path");
}

static void test_file_name(void)
{
	char name[256];

	record_file_name(name, sizeof(name), 0, ".hidden/x", "ABCDEF0123456789", 0);
	ok(strcmp(name, "19700101T000000Z-_hidden_x-______01.cast") == 0,
	   "file name: no leading dot, no slash, id prefix hex only");
	record_file_name(name, sizeof(name), 0, "", NULL, 0);
	ok(strcmp(name, "19700101T000000Z-anonymous-none.cast") == 0, "file name without identity");
}

int main(void)
{
	char cmd[128];

	log_init("test_record", LOG_FORMAT_TEXT, 0);
	if (mkdtemp(scratch) == NULL)
		return 1;
	test_session();
	test_input_and_group();
	test_long_stream();
	test_file_limit();
	test_dir_limit();
	test_queue_full();
	test_refused_dirs();
	test_file_name();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch);
	if (getenv("KEEP") == NULL && system(cmd) != 0)
		ok(0, "scratch directory removed");
	return tap_done();
}
