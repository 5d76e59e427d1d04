/*
 * record.h: session recordings as asciicast v2 files (ptyd --record DIR).
 *
 * The event loop never touches a recording's file: it copies each event
 * (output, input, resize, exec streams) into one bounded queue and a writer
 * thread formats and writes it. That thread is the one exception to ptyd
 * being single-threaded, because a write(2) to a slow or full disk can block
 * for seconds and the loop serves every session; with the queue full, the
 * event is dropped and counted, never waited for. Every drop is reported:
 * in the file (an "m" marker with the count and the reason, when the file
 * can take it), in the log (a line per interval with drops, and the totals
 * when the recording ends) and in the metrics.
 *
 * A file: the header line (size, timestamp, title, env TERM and SHELL, and a
 * "webshell" object: kind, user, session id prefix, peer, request id,
 * command), then [time, code, data] lines: "o" output (for exec commands:
 * stdout), "e" an exec command's stderr (players ignore codes they do not
 * know), "i" input (with --record-input), "r" resize ("COLSxROWS"), "m"
 * markers (drops, and last the end: "exit N" or "signal N").
 */
#ifndef PTYD_RECORD_H
#define PTYD_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libwebsockets.h>

struct record_config {
	const char *dir;          /* --record DIR (NULL: recording off) */
	int record_input;         /* --record-input */
	gid_t group;              /* --record-group: files 0640 in this group; (gid_t)-1: 0600 */
	uint64_t max_file;        /* --record-max-file bytes, 0: no limit */
	uint64_t max_dir;         /* --record-max-dir bytes, 0: no limit */
	size_t queue_bytes;       /* the writer queue's bound (0: the default) */
};

/* Why bytes were not recorded; the metric label and the log word. */
enum record_drop {
	RECORD_DROP_QUEUE,      /* the writer fell behind: queue full */
	RECORD_DROP_DISK,       /* write(2) failed: disk full or I/O error */
	RECORD_DROP_FILE_LIMIT, /* --record-max-file reached */
	RECORD_DROP_DIR_LIMIT,  /* --record-max-dir reached and nothing old to remove */
	RECORD_DROP_OPEN,       /* the file could not be created */
	RECORD_DROP_REASONS
};

extern const char *const record_drop_names[RECORD_DROP_REASONS];

/* What a recording's header says. Strings are copied; NULL ones are left out. */
struct recording_info {
	const char *kind;       /* "terminal" or "exec" */
	const char *user;       /* the identity */
	const char *session;    /* the session id (only its first 8 characters are kept) */
	const char *peer;
	const char *request_id;
	const char *title;
	const char *command;    /* what runs */
	const char *term;       /* env TERM */
	const char *shell;      /* env SHELL */
	unsigned long command_id; /* exec: the command's id (in the file name), 0: none */
	unsigned int columns, rows;
};

struct recorder;
struct recording;

/*
 * Prepares the directory (created 0750/0700 if missing; refused when not a
 * directory owned by this uid, or writable by others), measures what it
 * holds and starts the writer thread with every signal blocked. ctx (or
 * later recorder_use_loop()) gets a timer that logs drops and finished
 * recordings. Returns the recorder, or
 * NULL with err filled.
 */
struct recorder *recorder_new(struct lws_context *ctx, const struct record_config *cfg,
			      char *err, size_t errlen);

/*
 * Gives a recorder made without a context (ctx NULL, e.g. before the
 * listener exists) the loop's timer. NULL does nothing.
 */
void recorder_use_loop(struct recorder *rec, struct lws_context *ctx);

/* Stops the timer: call before the lws context is destroyed. NULL does nothing. */
void recorder_loop_gone(struct recorder *rec);

/*
 * Lets the writer drain the queue and finish every ended recording, joins
 * it, logs what it finished, and frees. Sessions end their recordings
 * first. NULL does nothing.
 */
void recorder_free(struct recorder *rec);

/*
 * Starts a recording; the file is created by the writer. Returns NULL when
 * rec is NULL (recording off) or out of memory (logged). The recording is
 * the caller's until recording_end(), which hands it to the writer.
 */
struct recording *recording_start(struct recorder *rec, const struct recording_info *info);

/* Events; each is a no-op on NULL and never blocks. */
void recording_output(struct recording *r, const void *buf, size_t len);
void recording_stderr(struct recording *r, const void *buf, size_t len);
void recording_input(struct recording *r, const void *buf, size_t len);
void recording_resize(struct recording *r, unsigned int columns, unsigned int rows);

/*
 * The last event: a marker with status ("exit 0", "signal 9", "ended"),
 * then the file is closed. r must not be used afterwards. NULL does nothing.
 */
void recording_end(struct recording *r, const char *status);

/* Totals since start, for the metrics. */
struct recorder_stats {
	uint64_t started;                        /* recordings started */
	uint64_t written;                        /* bytes written to files */
	uint64_t dropped[RECORD_DROP_REASONS];   /* event bytes not recorded, by reason */
	uint64_t queued;                         /* bytes in the queue now */
};
void recorder_stats(struct recorder *rec, struct recorder_stats *out);

/* For the tests and the README: the file name for a start time, identity and id. */
void record_file_name(char *dst, size_t len, time_t start, const char *user, const char *id,
		      unsigned long command_id);

#endif
