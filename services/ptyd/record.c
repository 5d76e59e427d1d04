/*
 * record.c: asciicast v2 recordings through one bounded queue and a writer
 * thread (see record.h for why a thread). The event loop only copies bytes
 * into the queue under a mutex. It wakes the writer once the queue holds a
 * batch's worth (WAKE_BYTES); an idle writer's first event is handed over by
 * a loop timer BATCH_NS later (not in the path of the keystroke's echo), and
 * a busy writer lets the next batch gather as long, so a fast terminal costs
 * a wake-up per quarter megabyte, not per read. The writer turns events into JSON lines
 * (printable ASCII copied in 16-byte steps, UTF-8 checked, split sequences
 * carried to the next event) gathered in one buffer per recording, enforces
 * the file and directory limits line by line, and writes the buffer with one
 * write(2); a failed write is cut off again, so a file always holds whole
 * lines. Finished recordings come back to the loop on a list its timer
 * reads: it logs them and frees them.
 *
 * Ownership: a recording belongs to the loop from recording_start() to
 * recording_end(), then to the writer, then (on the done list) to the loop
 * again, which frees it. Fields are marked by who may touch them when.
 */
#include "record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cjson/cJSON.h>

#include "log.h"

/* Default queue bound: about a second of a fast terminal's output. */
#define QUEUE_DEFAULT (8u << 20)
/* Largest event payload; bigger output is queued as several events. */
#define EVENT_MAX (64u << 10)
/*
 * Room kept in a file for the drop and end markers: below --record-max-file,
 * and on disk, preallocated past the end (fallocate KEEP_SIZE) so that a full
 * disk still lets the file say what it lost and how the session ended.
 */
#define FILE_RESERVE 512
/*
 * Disk space preallocated ahead at a time, beyond the reserve (fewer
 * fallocate calls; the rest is given back when the file is closed). When the
 * disk has less, only what the line needs is asked for.
 */
#define PREALLOC_STEP (1u << 20)
/* The writer's line buffer: lines of one recording written with one write(2). */
#define OUT_CAP (1u << 20)
/* Queued bytes that wake a writer waiting for a batch (at most a quarter of the queue). */
#define WAKE_BYTES (256u << 10)
/* How long a batch may gather once the queue holds something, in ns. */
#define BATCH_NS (10 * 1000000ll)
/* How often the loop looks for finished recordings and new drops, in us. */
#define TICK_US (500 * LWS_US_PER_MS)
/* Shortest time between two directory scans for --record-max-dir, in ns. */
#define PRUNE_EVERY_NS 1000000000ull

const char *const record_drop_names[RECORD_DROP_REASONS] = {
	"queue_full", "disk_error", "file_limit", "dir_limit", "open_failed",
};

static const char *const drop_words[RECORD_DROP_REASONS] = {
	"the writer fell behind (queue full)", "write failed", "--record-max-file reached",
	"--record-max-dir reached", "the file could not be created",
};

enum event_kind {
	EV_OUTPUT = 'o',
	EV_STDERR = 'e',
	EV_INPUT = 'i',
	EV_RESIZE = 'r',
	EV_DROPPED = 'd', /* the loop dropped bytes: payload is a uint64_t count */
};

/* A queued event: this header, then len payload bytes, padded to 8. */
struct event {
	struct recording *r;
	uint64_t t_ns;      /* CLOCK_MONOTONIC */
	uint32_t len;
	uint32_t kind;      /* enum event_kind; 0: skip to the ring's start */
};

struct recording {
	/* Set at start, read-only after. */
	struct recorder *rec;
	char *header;              /* the header line's JSON, without the newline */
	char name[256];            /* file name inside the directory */
	char session[9];           /* the session id prefix, for the log line */
	char request_id[65];       /* the correlation id, for the log line ("" if none) */
	uint64_t t0_ns;            /* CLOCK_MONOTONIC at start */
	/* The loop's until recording_end(). */
	uint64_t loop_dropped;     /* bytes the loop dropped (queue full), all told */
	uint64_t loop_unreported;  /* of those, not yet queued as an EV_DROPPED */
	/* The writer's. */
	int fd;                    /* -1: not open yet (or failed: see failed) */
	int failed;                /* open failed: everything is dropped */
	int limited;               /* --record-max-file reached: marker written */
	int errno_last;            /* last write error */
	uint64_t size;             /* bytes in the file */
	uint64_t allocated;        /* bytes preallocated from 0 on (0: none yet) */
	int no_prealloc;           /* the file system cannot preallocate */
	uint64_t dropped[RECORD_DROP_REASONS];
	uint64_t unmarked;         /* dropped bytes not yet told in an "m" line */
	unsigned char carry[2][4]; /* an incomplete UTF-8 sequence per stream (o, e) */
	size_t ncarry[2];
	struct recording *wnext, *wprev; /* the writer's open recordings */
	/* Handed over with the mutex held. */
	char status[64];           /* the end marker */
	struct recording *next;    /* on the ending list, then the done list */
};

struct recorder {
	struct record_config cfg;
	char *dir;
	int dirfd;
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;
	lws_sorted_usec_list_t sul_wake; /* hands an idle writer its first events */
	pthread_t thread;
	int thread_started;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	unsigned char *ring;       /* queue_bytes */
	size_t cap, head, tail;    /* loop writes at head, writer reads at tail */
	size_t used;               /* bytes between tail and head, skips included */
	size_t wake_bytes;         /* used at which a batching writer is woken */
	enum { WRITER_BUSY, WRITER_IDLE, WRITER_BATCHING } writer_waiting;
	int stop;
	struct recording *ending, **ending_tail; /* ended by the loop, not yet by the writer */
	struct recording *done;    /* closed by the writer, for the loop to log and free */

	/* The loop's. */
	long nactive;
	uint64_t reported[RECORD_DROP_REASONS];

	/* The writer's. */
	struct recording *open;    /* open recordings (for pruning) */
	uint64_t dir_bytes;
	uint64_t last_prune_ns;
	char *out;                 /* whole lines of out_r not yet written, then the line being made */
	size_t out_len, out_cap;
	struct recording *out_r;   /* whose lines out holds */
	uint64_t out_payload;      /* event bytes in those lines (dropped if the write fails) */
	uint64_t out_marked;       /* drops told by "m" lines among them (told again if so) */

	/* Both: totals, relaxed atomics read by the metrics. */
	_Atomic uint64_t started, written, queued;
	_Atomic uint64_t dropped[RECORD_DROP_REASONS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void record_file_name(char *dst, size_t len, time_t start, const char *user, const char *id,
		      unsigned long command_id)
{
	char when[32], who[65], idp[9], cmd[32] = "";
	struct tm tm;
	size_t i;

	gmtime_r(&start, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	/* The identity as a safe file-name part: [A-Za-z0-9._@+-], others '_', no leading dot. */
	for (i = 0; user != NULL && user[i] != '\0' && i < sizeof(who) - 1; i++) {
		char c = user[i];

		who[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				 c == '.' || c == '_' || c == '@' || c == '+' || c == '-' ? c : '_';
	}
	who[i] = '\0';
	if (who[0] == '\0')
		snprintf(who, sizeof(who), "anonymous");
	if (who[0] == '.')
		who[0] = '_';
	for (i = 0; id != NULL && id[i] != '\0' && i < 8; i++)
		idp[i] = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f') ? id[i] : '_';
	idp[i] = '\0';
	if (command_id != 0)
		snprintf(cmd, sizeof(cmd), "-c%lu", command_id);
	snprintf(dst, len, "%s-%s-%s%s.cast", when, who, idp[0] ? idp : "none", cmd);
}

/* ---- the queue (both threads, under mu) ---- */

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/*
 * Copies one event in; 0, or -1 when it does not fit (nothing changes).
 * Called with mu held.
 */
static int ring_put(struct recorder *rec, struct recording *r, uint32_t kind, uint64_t t,
		    const void *data, size_t len)
{
	size_t need = sizeof(struct event) + pad8(len), at, skip = 0;
	struct event *ev;

	if (rec->used == rec->cap)
		return -1;
	if (rec->head >= rec->tail) {
		/* Free: [head, cap) and [0, tail). An event never wraps. */
		if (rec->cap - rec->head >= need) {
			at = rec->head;
		} else if (rec->tail >= need) {
			skip = rec->cap - rec->head;
			at = 0;
		} else {
			return -1;
		}
	} else if (rec->tail - rec->head >= need) {
		at = rec->head;
	} else {
		return -1;
	}
	/* The writer skips the rest of the ring at a kind 0 or where no header fits. */
	if (skip >= sizeof(struct event)) {
		ev = (struct event *)(rec->ring + rec->head);
		ev->kind = 0;
		ev->len = 0;
	}
	ev = (struct event *)(rec->ring + at);
	ev->r = r;
	ev->t_ns = t;
	ev->len = (uint32_t)len;
	ev->kind = kind;
	if (len > 0)
		memcpy(ev + 1, data, len);
	rec->head = at + need == rec->cap ? 0 : at + need;
	rec->used += skip + need;
	return 0;
}

static void signal_writer(struct recorder *rec)
{
	rec->writer_waiting = WRITER_BUSY;
	pthread_cond_signal(&rec->cond);
}

/* The loop's timer: an idle writer gets what was queued since (mu not held). */
static void wake_idle(lws_sorted_usec_list_t *sul)
{
	struct recorder *rec = lws_container_of(sul, struct recorder, sul_wake);

	pthread_mutex_lock(&rec->mu);
	if (rec->writer_waiting == WRITER_IDLE && rec->used > 0)
		signal_writer(rec);
	pthread_mutex_unlock(&rec->mu);
}

/*
 * A writer waiting with a batch's worth queued is woken now; an idle one by
 * the timer (at once without a loop, as in the unit tests). mu held.
 */
static void wake_writer(struct recorder *rec)
{
	if (rec->writer_waiting == WRITER_BUSY)
		return;
	if (rec->used >= rec->wake_bytes)
		signal_writer(rec);
	else if (rec->writer_waiting == WRITER_IDLE && rec->ctx == NULL)
		signal_writer(rec);
	else if (rec->writer_waiting == WRITER_IDLE && lws_dll2_is_detached(&rec->sul_wake.list))
		lws_sul_schedule(rec->ctx, 0, &rec->sul_wake, wake_idle, BATCH_NS / 1000);
}

/* Queues one event of the loop's, or counts it as dropped. */
static void enqueue(struct recording *r, uint32_t kind, const void *data, size_t len)
{
	struct recorder *rec = r->rec;
	uint64_t t = now_ns();
	int ok = 1;

	pthread_mutex_lock(&rec->mu);
	if (r->loop_unreported > 0 &&
	    ring_put(rec, r, EV_DROPPED, t, &r->loop_unreported, sizeof(r->loop_unreported)) == 0)
		r->loop_unreported = 0;
	if (r->loop_unreported > 0 || ring_put(rec, r, kind, t, data, len) != 0)
		ok = 0;
	if (ok)
		wake_writer(rec);
	pthread_mutex_unlock(&rec->mu);
	if (!ok && len > 0) {
		r->loop_dropped += len;
		r->loop_unreported += len;
		atomic_fetch_add_explicit(&rec->dropped[RECORD_DROP_QUEUE], len,
					  memory_order_relaxed);
	}
}

static void enqueue_split(struct recording *r, uint32_t kind, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (r == NULL)
		return;
	while (len > 0) {
		size_t n = len > EVENT_MAX ? EVENT_MAX : len;

		enqueue(r, kind, p, n);
		p += n;
		len -= n;
	}
}

void recording_output(struct recording *r, const void *buf, size_t len)
{
	enqueue_split(r, EV_OUTPUT, buf, len);
}

void recording_stderr(struct recording *r, const void *buf, size_t len)
{
	enqueue_split(r, EV_STDERR, buf, len);
}

void recording_input(struct recording *r, const void *buf, size_t len)
{
	if (r != NULL && r->rec->cfg.record_input)
		enqueue_split(r, EV_INPUT, buf, len);
}

void recording_resize(struct recording *r, unsigned int columns, unsigned int rows)
{
	char size[32];
	int n;

	if (r == NULL)
		return;
	n = snprintf(size, sizeof(size), "%ux%u", columns, rows);
	enqueue(r, EV_RESIZE, size, (size_t)n);
}

/* ---- the header (the loop, at start) ---- */

static void add_string(cJSON *o, const char *key, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, key, v);
}

static char *make_header(const struct recording_info *info, time_t start, double unix_start)
{
	cJSON *h = cJSON_CreateObject(), *env, *ws;
	char idp[9] = "", *s = NULL;

	if (h == NULL)
		return NULL;
	if (info->session != NULL)
		snprintf(idp, sizeof(idp), "%s", info->session);
	cJSON_AddNumberToObject(h, "version", 2);
	cJSON_AddNumberToObject(h, "width", info->columns ? info->columns : 80);
	cJSON_AddNumberToObject(h, "height", info->rows ? info->rows : 24);
	cJSON_AddNumberToObject(h, "timestamp", (double)start);
	add_string(h, "title", info->title);
	env = cJSON_AddObjectToObject(h, "env");
	if (env != NULL) {
		add_string(env, "TERM", info->term);
		add_string(env, "SHELL", info->shell);
	}
	ws = cJSON_AddObjectToObject(h, "webshell");
	if (ws != NULL) {
		add_string(ws, "kind", info->kind);
		add_string(ws, "user", info->user);
		add_string(ws, "session", idp[0] ? idp : NULL);
		if (info->command_id != 0)
			cJSON_AddNumberToObject(ws, "command_id", (double)info->command_id);
		add_string(ws, "peer", info->peer);
		add_string(ws, "request_id", info->request_id);
		add_string(ws, "command", info->command);
		cJSON_AddNumberToObject(ws, "start", unix_start);
	}
	if (env != NULL && ws != NULL)
		s = cJSON_PrintUnformatted(h);
	cJSON_Delete(h);
	return s;
}

struct recording *recording_start(struct recorder *rec, const struct recording_info *info)
{
	struct recording *r;
	struct timespec rt;

	if (rec == NULL)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto oom;
	clock_gettime(CLOCK_REALTIME, &rt);
	r->rec = rec;
	r->fd = -1;
	r->t0_ns = now_ns();
	r->header = make_header(info, rt.tv_sec, (double)rt.tv_sec + rt.tv_nsec / 1e9);
	if (r->header == NULL)
		goto oom;
	record_file_name(r->name, sizeof(r->name), rt.tv_sec, info->user, info->session,
			 info->command_id);
	snprintf(r->session, sizeof(r->session), "%s", info->session ? info->session : "");
	snprintf(r->request_id, sizeof(r->request_id), "%s",
		 info->request_id ? info->request_id : "");
	rec->nactive++;
	atomic_fetch_add_explicit(&rec->started, 1, memory_order_relaxed);
	return r;
oom:
	if (r != NULL)
		free(r->header);
	free(r);
	log_warnx("recording: out of memory, session %s not recorded",
		  info->session != NULL ? info->session : "?");
	return NULL;
}

void recording_end(struct recording *r, const char *status)
{
	struct recorder *rec;

	if (r == NULL)
		return;
	rec = r->rec;
	snprintf(r->status, sizeof(r->status), "%s", status != NULL ? status : "ended");
	/* Never dropped: the end goes on a list of its own, after the queued events. */
	pthread_mutex_lock(&rec->mu);
	r->next = NULL;
	*rec->ending_tail = r;
	rec->ending_tail = &r->next;
	rec->writer_waiting = WRITER_BUSY;
	pthread_cond_signal(&rec->cond);
	pthread_mutex_unlock(&rec->mu);
	rec->nactive--;
}

/* ---- the writer thread ---- */

static void drop(struct recording *r, enum record_drop why, uint64_t n)
{
	r->dropped[why] += n;
	r->unmarked += n;
	atomic_fetch_add_explicit(&r->rec->dropped[why], n, memory_order_relaxed);
}

/* Length of the valid UTF-8 sequence at p (avail bytes), 0 if invalid, -1 if cut short. */
static int utf8_seq(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	int n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((size_t)i >= avail)
			return -1;
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		/* Overlong forms, surrogates and past U+10FFFF (RFC 3629 section 4). */
		if (i == 1 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
			       (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f)))
			return 0;
	}
	return n;
}

/*
 * Length of the run at s of bytes a JSON string keeps as they are: 0x20 to
 * 0x7f but '"' and '\\'. Terminal output is mostly such runs.
 */
static size_t plain_run(const unsigned char *s, size_t len)
{
	size_t i = 0;
#if defined(__SSE2__)
	const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'),
		      backslash = _mm_set1_epi8('\\');

	/* A signed compare: bytes from 0x80 up are negative, so "below 0x20" too. */
	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i special = _mm_or_si128(_mm_cmplt_epi8(v, space),
					       _mm_or_si128(_mm_cmpeq_epi8(v, quote),
							    _mm_cmpeq_epi8(v, backslash)));
		unsigned int mask = (unsigned int)_mm_movemask_epi8(special);

		if (mask != 0)
			return i + (size_t)__builtin_ctz(mask);
	}
#endif
	while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
		i++;
	return i;
}

/*
 * Appends src as the inside of a JSON string: escapes, U+FFFD for invalid
 * UTF-8, and an incomplete sequence at the end kept in carry for the next
 * event of the stream. dst has room for 6 bytes per input byte.
 */
static size_t json_text(char *dst, const unsigned char *src, size_t len, unsigned char *carry,
			size_t *ncarry)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char joined[8];
	size_t i = 0, o = 0;

	/*
	 * Finish the sequence the last event cut. The carry is a valid start
	 * (utf8_seq said "cut short"), so with 4 bytes the answer is final.
	 */
	if (*ncarry > 0) {
		size_t take = len < 4 - *ncarry ? len : 4 - *ncarry, have = *ncarry + take;
		int n;

		memcpy(joined, carry, *ncarry);
		memcpy(joined + *ncarry, src, take);
		n = utf8_seq(joined, have);
		if (n < 0) {
			memcpy(carry, joined, have);
			*ncarry = have;
			return 0;
		}
		if (n > 0) {
			memcpy(dst, joined, (size_t)n);
			o = (size_t)n;
			i = (size_t)n - *ncarry;
		} else {
			memcpy(dst, "\xef\xbf\xbd", 3);
			o = 3;
		}
		*ncarry = 0;
	}
	while (i < len) {
		unsigned char c = src[i];
		size_t run;
		int n;

		/* Most output is printable ASCII: copy such runs whole. */
		run = plain_run(src + i, len - i);
		if (run > 0) {
			memcpy(dst + o, src + i, run);
			o += run;
			i += run;
			continue;
		}
		if (c < 0x80) {
			dst[o++] = '\\';
			switch (c) {
			case '"': dst[o++] = '"'; break;
			case '\\': dst[o++] = '\\'; break;
			case '\n': dst[o++] = 'n'; break;
			case '\r': dst[o++] = 'r'; break;
			case '\t': dst[o++] = 't'; break;
			case '\b': dst[o++] = 'b'; break;
			case '\f': dst[o++] = 'f'; break;
			default:
				memcpy(dst + o, "u00", 3);
				o += 3;
				dst[o++] = hex[c >> 4];
				dst[o++] = hex[c & 15];
			}
			i++;
			continue;
		}
		n = utf8_seq(src + i, len - i);
		if (n < 0) {
			*ncarry = len - i;
			memcpy(carry, src + i, *ncarry);
			break;
		}
		if (n == 0) {
			memcpy(dst + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(dst + o, src + i, (size_t)n);
		o += (size_t)n;
		i += (size_t)n;
	}
	return o;
}

/*
 * Removes the oldest closed recordings until the directory has room for
 * need more bytes under --record-max-dir, and measures it anew.
 */
static void prune(struct recorder *rec, uint64_t need)
{
	struct name_size {
		char name[256];
		uint64_t size;
	} *files = NULL, *nf;
	size_t n = 0, cap = 0, i;
	uint64_t total = rec->out_len; /* lines of an open file not written yet */
	struct dirent *de;
	struct recording *o;
	struct stat st;
	DIR *d;
	int fd;

	rec->last_prune_ns = now_ns();
	fd = openat(rec->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (nl < 6 || nl >= sizeof(files->name) || strcmp(de->d_name + nl - 5, ".cast") != 0 ||
		    fstatat(rec->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		total += (uint64_t)st.st_size;
		for (o = rec->open; o != NULL; o = o->wnext)
			if (strcmp(o->name, de->d_name) == 0)
				break;
		if (o != NULL)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nf = realloc(files, cap * sizeof(*files));
			if (nf == NULL)
				break;
			files = nf;
		}
		memcpy(files[n].name, de->d_name, nl + 1);
		files[n].size = (uint64_t)st.st_size;
		n++;
	}
	closedir(d);
	/* Names start with the UTC start time: name order is age order. */
	if (n > 1)
		qsort(files, n, sizeof(*files), (int (*)(const void *, const void *))strcmp);
	for (i = 0; i < n && total + need > rec->cfg.max_dir; i++)
		if (unlinkat(rec->dirfd, files[i].name, 0) == 0)
			total -= files[i].size;
	free(files);
	rec->dir_bytes = total;
}

/*
 * Writes the buffered lines with one write(2). When that fails, the file is
 * cut back to where they began (a file holds whole lines), their event bytes
 * count as dropped, and the drops their markers told are to be told again.
 */
static void flush(struct recorder *rec)
{
	struct recording *r = rec->out_r;
	size_t len = rec->out_len, off = 0;
	uint64_t base;
	ssize_t w;

	rec->out_r = NULL;
	rec->out_len = 0;
	while (r != NULL && off < len) {
		w = write(r->fd, rec->out + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r->errno_last = w < 0 ? errno : ENOSPC;
			break;
		}
		off += (size_t)w;
	}
	if (r != NULL && off == len) {
		atomic_fetch_add_explicit(&rec->written, len, memory_order_relaxed);
	} else if (r != NULL) {
		base = r->size - len;
		r->size = base;
		rec->dir_bytes -= len;
		if (off > 0 && ftruncate(r->fd, (off_t)base) == 0) {
			/* The cut gave back what was preallocated past it: keep the markers' room. */
			r->allocated = base;
			if (!r->no_prealloc &&
			    fallocate(r->fd, FALLOC_FL_KEEP_SIZE, (off_t)base, FILE_RESERVE) == 0)
				r->allocated = base + FILE_RESERVE;
		} else if (off > 0) {
			r->size += off; /* cannot cut it: the file has a torn line */
			rec->dir_bytes += off;
		}
		drop(r, RECORD_DROP_DISK, rec->out_payload);
		r->unmarked += rec->out_marked;
	}
	rec->out_payload = 0;
	rec->out_marked = 0;
}

/*
 * Room for a line of up to need bytes at the end of the buffer, which then
 * holds r's lines (another recording's are written first). NULL: no memory.
 */
static char *batch_room(struct recording *r, size_t need)
{
	struct recorder *rec = r->rec;
	size_t cap;
	char *nb;

	if (rec->out_r != r || rec->out_cap - rec->out_len < need)
		flush(rec);
	if (rec->out_cap - rec->out_len < need) {
		cap = need > OUT_CAP ? need : OUT_CAP;
		nb = realloc(rec->out, cap);
		if (nb == NULL)
			return NULL;
		rec->out = nb;
		rec->out_cap = cap;
	}
	rec->out_r = r;
	return rec->out + rec->out_len;
}

/*
 * Preallocates the file up to at least need bytes (a step more when the
 * disk has it), so that the markers' room is on disk. 0, or -1 (errno_last).
 */
static int preallocate(struct recording *r, uint64_t need)
{
	uint64_t want = need + PREALLOC_STEP;

	while (fallocate(r->fd, FALLOC_FL_KEEP_SIZE, (off_t)r->size, (off_t)(want - r->size)) != 0) {
		if (errno == EINTR)
			continue;
		if (errno == EOPNOTSUPP || errno == ENOSYS) {
			r->no_prealloc = 1;
			return 0;
		}
		if (errno != ENOSPC || want == need) {
			r->errno_last = errno;
			return -1;
		}
		want = need;
	}
	r->allocated = want;
	return 0;
}

/*
 * Takes the len bytes batch_room() gave room for into the file's lines if
 * the limits allow (reserve: keep room for the end markers), or counts
 * payload (event bytes) as dropped. 0 or -1.
 */
static int emit(struct recording *r, size_t len, uint64_t payload, int reserve)
{
	struct recorder *rec = r->rec;
	uint64_t room = reserve ? FILE_RESERVE : 0;

	if (rec->cfg.max_file != 0 && r->size + len + room > rec->cfg.max_file) {
		drop(r, RECORD_DROP_FILE_LIMIT, payload);
		return -1;
	}
	/* Never write into the room preallocated for the markers; grow it first. */
	if (reserve && !r->no_prealloc && r->size + len + FILE_RESERVE > r->allocated &&
	    preallocate(r, r->size + len + FILE_RESERVE) != 0) {
		drop(r, RECORD_DROP_DISK, payload);
		return -1;
	}
	if (reserve && rec->cfg.max_dir != 0 && rec->dir_bytes + len > rec->cfg.max_dir) {
		if (now_ns() - rec->last_prune_ns >= PRUNE_EVERY_NS || rec->last_prune_ns == 0)
			prune(rec, len);
		if (rec->dir_bytes + len > rec->cfg.max_dir) {
			drop(r, RECORD_DROP_DIR_LIMIT, payload);
			return -1;
		}
	}
	rec->out_len += len;
	rec->out_payload += payload;
	r->size += len;
	rec->dir_bytes += len;
	return 0;
}

static double seconds(const struct recording *r, uint64_t t)
{
	return t > r->t0_ns ? (double)(t - r->t0_ns) / 1e9 : 0.0;
}

/* An "m" line; reserve 0 for the end markers that use the room kept for them. */
static int marker(struct recording *r, uint64_t t, const char *text, int reserve)
{
	size_t tlen = strlen(text), n;
	char *line = batch_room(r, 6 * tlen + 64);

	if (line == NULL)
		return -1;
	n = (size_t)snprintf(line, 64, "[%.6f, \"m\", \"", seconds(r, t));
	n += json_text(line + n, (const unsigned char *)text, tlen, (unsigned char[4]){ 0 },
		       &(size_t){ 0 });
	memcpy(line + n, "\"]\n", 3);
	return emit(r, n + 3, 0, reserve);
}

/* Tells in the file what was dropped since the last such marker, if it can. */
static void mark_drops(struct recording *r, uint64_t t, int reserve)
{
	char text[256];
	size_t i, n;

	if (r->unmarked == 0)
		return;
	n = (size_t)snprintf(text, sizeof(text), "dropped %llu bytes (",
			     (unsigned long long)r->unmarked);
	for (i = 0; i < RECORD_DROP_REASONS && n < sizeof(text); i++)
		if (r->dropped[i] > 0)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", n > 0 &&
					      text[n - 1] != '(' ? ", " : "", drop_words[i]);
	if (n < sizeof(text))
		snprintf(text + n, sizeof(text) - n, ")");
	if (marker(r, t, text, reserve) == 0) {
		r->rec->out_marked += r->unmarked;
		r->unmarked = 0;
	}
}

static void close_file(struct recording *r)
{
	struct recorder *rec = r->rec;

	if (r->fd < 0)
		return;
	if (rec->out_r == r)
		flush(rec);
	close(r->fd);
	r->fd = -1;
	if (r->wprev != NULL)
		r->wprev->wnext = r->wnext;
	else
		rec->open = r->wnext;
	if (r->wnext != NULL)
		r->wnext->wprev = r->wprev;
}

static void open_file(struct recording *r)
{
	struct recorder *rec = r->rec;
	mode_t mode = rec->cfg.group != (gid_t)-1 ? 0640 : 0600;
	char name[sizeof(r->name)];
	size_t hlen;
	char *line;
	int i;

	memcpy(name, r->name, sizeof(name));
	for (i = 1; i < 100; i++) {
		r->fd = openat(rec->dirfd, r->name,
			       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND, mode);
		if (r->fd >= 0 || errno != EEXIST)
			break;
		/* Two sessions of one identity in one second with one id prefix: unlikely. */
		snprintf(r->name, sizeof(r->name), "%.*s-%d.cast", (int)(strlen(name) - 5), name, i);
	}
	if (r->fd < 0) {
		r->failed = 1;
		r->errno_last = errno;
		return;
	}
	/* The umask may have narrowed the mode; the group is the admins'. */
	if (rec->cfg.group != (gid_t)-1 && fchown(r->fd, (uid_t)-1, rec->cfg.group) != 0)
		r->errno_last = errno;
	fchmod(r->fd, mode);
	r->wnext = rec->open;
	r->wprev = NULL;
	if (rec->open != NULL)
		rec->open->wprev = r;
	rec->open = r;
	hlen = strlen(r->header);
	line = batch_room(r, hlen + 1);
	if (line != NULL) {
		memcpy(line, r->header, hlen);
		line[hlen] = '\n';
	}
	if (line == NULL || emit(r, hlen + 1, 0, 1) != 0) {
		/* Without its header the file is no asciicast: remove it. */
		close_file(r);
		unlinkat(rec->dirfd, r->name, 0);
		r->failed = 1;
	}
}

/* One queued event into its file's lines. */
static void write_event(const struct event *ev)
{
	struct recording *r = ev->r;
	const unsigned char *data = (const unsigned char *)(ev + 1);
	size_t n, len, stream;
	uint64_t count;
	char *line;

	if (ev->len == 0 && ev->kind != EV_DROPPED)
		return;
	if (r->fd < 0 && !r->failed)
		open_file(r);
	if (ev->kind == EV_DROPPED) {
		memcpy(&count, data, sizeof(count));
		r->dropped[RECORD_DROP_QUEUE] += count;
		r->unmarked += count;
		return;
	}
	if (r->failed) {
		drop(r, RECORD_DROP_OPEN, ev->len);
		return;
	}
	if (r->limited) {
		drop(r, RECORD_DROP_FILE_LIMIT, ev->len);
		return;
	}
	mark_drops(r, ev->t_ns, 1);
	line = batch_room(r, (size_t)ev->len * 6 + 64);
	if (line == NULL) {
		drop(r, RECORD_DROP_QUEUE, ev->len);
		return;
	}
	n = (size_t)snprintf(line, 64, "[%.6f, \"%c\", \"", seconds(r, ev->t_ns), (char)ev->kind);
	if (ev->kind == EV_RESIZE) {
		memcpy(line + n, data, ev->len);
		n += ev->len;
	} else {
		stream = ev->kind == EV_STDERR;
		len = json_text(line + n, data, ev->len, r->carry[stream], &r->ncarry[stream]);
		if (len == 0)
			return; /* all of it is the start of a UTF-8 sequence, carried */
		n += len;
	}
	memcpy(line + n, "\"]\n", 3);
	n += 3;
	if (emit(r, n, ev->len, 1) != 0 && !r->limited &&
	    r->dropped[RECORD_DROP_FILE_LIMIT] > 0) {
		r->limited = 1;
		marker(r, ev->t_ns, "recording stopped: --record-max-file reached", 0);
	}
}

/* The end: what was dropped, the status, the file trimmed, synced and closed. */
static void finish(struct recording *r)
{
	uint64_t t = now_ns();
	char text[96];

	if (r->fd < 0 && !r->failed)
		open_file(r);
	if (!r->failed) {
		r->dropped[RECORD_DROP_QUEUE] += r->loop_unreported;
		r->unmarked += r->loop_unreported;
		mark_drops(r, t, 0);
		snprintf(text, sizeof(text), "%s", r->status);
		marker(r, t, text, 0);
		if (r->rec->out_r == r)
			flush(r->rec);
		/* A truncate to its own size gives back the space preallocated past the end. */
		if (r->fd >= 0 && r->allocated > r->size && ftruncate(r->fd, (off_t)r->size) != 0 &&
		    r->errno_last == 0)
			r->errno_last = errno;
		if (r->fd >= 0 && fsync(r->fd) != 0 && r->errno_last == 0)
			r->errno_last = errno;
	} else {
		r->dropped[RECORD_DROP_QUEUE] += r->loop_unreported;
	}
	close_file(r);
}

/*
 * Waits for work. Idle, until the loop hands events over; with events
 * queued but fewer than a batch, lets them gather for up to BATCH_NS. An
 * end or the stop cuts either short. mu held.
 */
static void writer_wait(struct recorder *rec)
{
	struct timespec until;

	if (rec->used == 0) {
		while ((rec->used == 0 || rec->writer_waiting == WRITER_IDLE) && rec->ending == NULL &&
		       !rec->stop) {
			rec->writer_waiting = WRITER_IDLE;
			pthread_cond_wait(&rec->cond, &rec->mu);
		}
	} else if (rec->used < rec->wake_bytes && rec->ending == NULL && !rec->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += BATCH_NS;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (rec->used < rec->wake_bytes && rec->ending == NULL && !rec->stop) {
			rec->writer_waiting = WRITER_BATCHING;
			if (pthread_cond_timedwait(&rec->cond, &rec->mu, &until) != 0)
				break;
		}
	}
	rec->writer_waiting = WRITER_BUSY;
}

static void *writer_main(void *arg)
{
	struct recorder *rec = arg;
	struct recording *ending, *r, *next;
	size_t used;

	pthread_mutex_lock(&rec->mu);
	for (;;) {
		writer_wait(rec);
		if (rec->used == 0 && rec->ending == NULL && rec->stop)
			break;
		/* Take what is there now; the loop adds only behind head. */
		used = rec->used;
		ending = rec->ending;
		rec->ending = NULL;
		rec->ending_tail = &rec->ending;
		atomic_store_explicit(&rec->queued, used, memory_order_relaxed);
		pthread_mutex_unlock(&rec->mu);

		size_t tail = rec->tail, done = 0;
		while (done < used) {
			const struct event *ev = (const struct event *)(rec->ring + tail);
			size_t step;

			if (rec->cap - tail < sizeof(struct event) || ev->kind == 0) {
				step = rec->cap - tail; /* the skip before a wrap */
				tail = 0;
			} else {
				write_event(ev);
				step = sizeof(struct event) + pad8(ev->len);
				tail += step;
				if (tail == rec->cap)
					tail = 0;
			}
			done += step;
		}
		for (r = ending; r != NULL; r = next) {
			next = r->next;
			finish(r);
		}
		flush(rec);

		pthread_mutex_lock(&rec->mu);
		rec->tail = tail;
		rec->used -= used;
		atomic_store_explicit(&rec->queued, rec->used, memory_order_relaxed);
		/* Finished recordings go back to the loop, which logs and frees them. */
		for (r = ending; r != NULL; r = next) {
			next = r->next;
			r->next = rec->done;
			rec->done = r;
		}
	}
	pthread_mutex_unlock(&rec->mu);
	return NULL;
}

/* ---- the loop's side: start, the timer, the end ---- */

static void log_done(struct recording *r)
{
	char dropped[192] = "0", bytes[24], drops_by[160] = "";
	uint64_t total = 0;
	size_t i, n = 0;

	for (i = 0; i < RECORD_DROP_REASONS; i++) {
		if (r->dropped[i] == 0)
			continue;
		total += r->dropped[i];
		n += (size_t)snprintf(drops_by + n, sizeof(drops_by) - n, "%s%s:%llu", n ? "," : "",
				      record_drop_names[i], (unsigned long long)r->dropped[i]);
		if (n >= sizeof(drops_by))
			n = sizeof(drops_by) - 1;
	}
	snprintf(dropped, sizeof(dropped), "%llu", (unsigned long long)total);
	snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)r->size);
	struct log_field f[] = {
		{ "session", r->session[0] ? r->session : NULL },
		{ "request_id", r->request_id[0] ? r->request_id : NULL },
		{ "file", r->name },
		{ "bytes", bytes },
		{ "dropped", dropped },
		{ "why", drops_by[0] ? drops_by : NULL },
		{ "error", r->errno_last ? strerror(r->errno_last) : NULL },
		{ "status", r->status },
	};
	log_event(r->failed ? "recording-failed" : "recording-end", f, sizeof(f) / sizeof(f[0]));
}

/* Logs the recordings the writer finished and the drops since the last tick. */
static void reap(struct recorder *rec)
{
	struct recording *done, *r, *next;
	uint64_t now;
	size_t i;

	pthread_mutex_lock(&rec->mu);
	done = rec->done;
	rec->done = NULL;
	pthread_mutex_unlock(&rec->mu);
	for (i = 0; i < RECORD_DROP_REASONS; i++) {
		now = atomic_load_explicit(&rec->dropped[i], memory_order_relaxed);
		if (now == rec->reported[i])
			continue;
		char n[24];
		snprintf(n, sizeof(n), "%llu", (unsigned long long)(now - rec->reported[i]));
		struct log_field f[] = {
			{ "bytes", n },
			{ "reason", record_drop_names[i] },
			{ "why", drop_words[i] },
		};
		log_event("recording-drop", f, 3);
		rec->reported[i] = now;
	}
	for (r = done; r != NULL; r = next) {
		next = r->next;
		log_done(r);
		free(r->header);
		free(r);
	}
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct recorder *rec = lws_container_of(sul, struct recorder, sul);

	reap(rec);
	lws_sul_schedule(rec->ctx, 0, &rec->sul, tick, TICK_US);
}

/* Sums the sizes of the recordings already in the directory. */
static uint64_t dir_size(int dirfd)
{
	struct dirent *de;
	struct stat st;
	uint64_t total = 0;
	DIR *d;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (nl > 5 && strcmp(de->d_name + nl - 5, ".cast") == 0 &&
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}

/* Creates or checks the directory; returns an O_DIRECTORY fd or -1 with err. */
static int open_dir(const struct record_config *cfg, char *err, size_t errlen)
{
	mode_t mode = cfg->group != (gid_t)-1 ? 0750 : 0700;
	struct stat st;
	int fd;

	if (mkdir(cfg->dir, mode) == 0) {
		/* The mode asked for, whatever the umask (the unit's is 0077). */
		if (chmod(cfg->dir, mode) != 0 || (cfg->group != (gid_t)-1 &&
						    chown(cfg->dir, (uid_t)-1, cfg->group) != 0)) {
			snprintf(err, errlen, "%s: cannot give it mode %03o and group %d: %s", cfg->dir,
				 (unsigned)mode, (int)cfg->group, strerror(errno));
			return -1;
		}
	}
	fd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", cfg->dir, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: not owned by uid %d (ptyd's own account must own it)",
			 cfg->dir, (int)geteuid());
		goto fail;
	}
	if (st.st_mode & 0022) {
		snprintf(err, errlen, "%s: writable by group or others (mode %03o): others could "
			 "alter recordings", cfg->dir, (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	if (st.st_mode & 0005) {
		snprintf(err, errlen, "%s: open to others (mode %03o): make it 0750 or 0700",
			 cfg->dir, (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	if (cfg->group != (gid_t)-1 && st.st_gid != cfg->group &&
	    fchown(fd, (uid_t)-1, cfg->group) != 0) {
		snprintf(err, errlen, "%s: cannot give it group %d: %s", cfg->dir, (int)cfg->group,
			 strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

struct recorder *recorder_new(struct lws_context *ctx, const struct record_config *cfg,
			      char *err, size_t errlen)
{
	struct recorder *rec;
	pthread_condattr_t cattr;
	sigset_t all, old;
	int rc;

	rec = calloc(1, sizeof(*rec));
	if (rec == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rec->cfg = *cfg;
	rec->ctx = ctx;
	rec->dirfd = -1;
	rec->ending_tail = &rec->ending;
	rec->cap = cfg->queue_bytes ? pad8(cfg->queue_bytes) : QUEUE_DEFAULT;
	if (rec->cap < 2 * (sizeof(struct event) + EVENT_MAX))
		rec->cap = 2 * (sizeof(struct event) + EVENT_MAX);
	rec->ring = malloc(rec->cap);
	rec->dir = strdup(cfg->dir);
	if (rec->ring == NULL || rec->dir == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rec->cfg.dir = rec->dir;
	rec->dirfd = open_dir(cfg, err, errlen);
	if (rec->dirfd < 0)
		goto fail;
	rec->dir_bytes = dir_size(rec->dirfd);
	rec->wake_bytes = rec->cap / 4 < WAKE_BYTES ? rec->cap / 4 : WAKE_BYTES;
	pthread_mutex_init(&rec->mu, NULL);
	/* The batch timer's clock: wall-clock steps must not stretch or cut it. */
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&rec->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	/* The writer must never take a signal: they are the loop's (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&rec->thread, NULL, writer_main, rec);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the writer thread: %s", strerror(rc));
		pthread_mutex_destroy(&rec->mu);
		pthread_cond_destroy(&rec->cond);
		goto fail;
	}
	rec->thread_started = 1;
	if (ctx != NULL)
		lws_sul_schedule(ctx, 0, &rec->sul, tick, TICK_US);
	return rec;
fail:
	if (rec->dirfd >= 0)
		close(rec->dirfd);
	free(rec->ring);
	free(rec->dir);
	free(rec);
	return NULL;
}

void recorder_use_loop(struct recorder *rec, struct lws_context *ctx)
{
	if (rec == NULL || ctx == NULL || rec->ctx != NULL)
		return;
	rec->ctx = ctx;
	lws_sul_schedule(ctx, 0, &rec->sul, tick, TICK_US);
}

void recorder_loop_gone(struct recorder *rec)
{
	if (rec == NULL || rec->ctx == NULL)
		return;
	lws_sul_cancel(&rec->sul);
	lws_sul_cancel(&rec->sul_wake);
	rec->ctx = NULL;
}

void recorder_free(struct recorder *rec)
{
	if (rec == NULL)
		return;
	recorder_loop_gone(rec);
	pthread_mutex_lock(&rec->mu);
	rec->stop = 1;
	pthread_cond_signal(&rec->cond);
	pthread_mutex_unlock(&rec->mu);
	pthread_join(rec->thread, NULL);
	reap(rec);
	if (rec->nactive > 0)
		log_warnx("recording: %ld recordings were not ended", rec->nactive);
	pthread_mutex_destroy(&rec->mu);
	pthread_cond_destroy(&rec->cond);
	close(rec->dirfd);
	free(rec->out);
	free(rec->ring);
	free(rec->dir);
	free(rec);
}

void recorder_stats(struct recorder *rec, struct recorder_stats *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (rec == NULL)
		return;
	out->started = atomic_load_explicit(&rec->started, memory_order_relaxed);
	out->written = atomic_load_explicit(&rec->written, memory_order_relaxed);
	out->queued = atomic_load_explicit(&rec->queued, memory_order_relaxed);
	for (i = 0; i < RECORD_DROP_REASONS; i++)
		out->dropped[i] = atomic_load_explicit(&rec->dropped[i], memory_order_relaxed);
}
