/*
 * bench/ptyd.bench.c: the client of bench/ptyd.bench.py, in C so the client
 * is not what gets measured on a 2-core machine. It speaks ttyd's protocol
 * (so it measures ptyd and ttyd alike) on 127.0.0.1:PORT:
 *
 *   PORT COMMAND [INIT]          one session: waits for the prompt, types
 *                                COMMAND, counts output bytes until the close
 *                                frame (or EOF: ttyd may close without one) and
 *                                prints "BYTES SECONDS CLOSECODE" (1006: none)
 *   --echo N GAP_US PORT [INIT]  one session: N keys (x, then DEL), each
 *                                GAP_US after the last echo, timed from the
 *                                send to its echo; prints "MEDIAN_MS P99_MS"
 *   --echo N GAP_US pty          the same keys to bash on a bare PTY (no
 *                                server): the floor of the figure above
 *   --first N TARGET...          connect to first output, N times per TARGET
 *                                (a PORT: connect, upgrade, init, the first
 *                                output frame; pty: bash spawned on a fresh
 *                                PTY with the environment ptyd gives it, its
 *                                first read), taking turns in a random order,
 *                                30 ms apart; prints "MEDIAN_MS" per target
 *   --relay COMMAND              no server: bash -c COMMAND on a fresh PTY,
 *                                read as ptyd reads it (pty_read_gather(),
 *                                64 KiB at most per send) and sent through a
 *                                loopback TCP connection to a reader process;
 *                                prints "BYTES SECONDS". A bare relay with no
 *                                WebSocket, no lws and no session: the most
 *                                any single-threaded relay gets on this machine
 *   --echo-turns N GAP_US TARGET...
 *                                one session on each TARGET (a PORT, or pty),
 *                                N keys each, the targets taking turns key by
 *                                key (a fresh random order each round),
 *                                each key GAP_US
 *                                after the last echo on any of them; prints
 *                                "MEDIAN_MS P99_MS" per target, one per line.
 *                                Taking turns key by key, the targets share
 *                                every change of the machine's state: a
 *                                shared 2-core VM drifts by more in a second
 *                                than the differences between servers.
 *
 * INIT replaces ttyd's init message (e.g. one asking for a resumable session).
 * Built by the .py with cc into a scratch dir, with services/ptyd/ptyread.c.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "ptyread.h"

static unsigned char buf[1 << 20];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* One client frame: binary, FIN, masked with a zero key (a valid key). */
static void send_frame(int fd, const char *payload, size_t n)
{
	unsigned char hdr[14];
	size_t h = 2;

	hdr[0] = 0x82;
	if (n < 126) {
		hdr[1] = 0x80 | (unsigned char)n;
	} else {
		hdr[1] = 0x80 | 126;
		hdr[2] = (unsigned char)(n >> 8);
		hdr[3] = (unsigned char)n;
		h = 4;
	}
	memset(hdr + h, 0, 4);
	h += 4;
	if (write(fd, hdr, h) != (ssize_t)h || write(fd, payload, n) != (ssize_t)n)
		die("write");
}

/* One client control frame (pong), masked with a zero key. */
static void send_control(int fd, unsigned char op, const unsigned char *payload, size_t n)
{
	unsigned char frame[6 + 125] = { op, 0x80 | (unsigned char)n };

	if (n > 125)
		n = 125; /* control frames carry at most 125 bytes (RFC 6455 5.5) */
	frame[1] = 0x80 | (unsigned char)n;
	memcpy(frame + 6, payload, n);
	if (write(fd, frame, 6 + n) != (ssize_t)(6 + n))
		die("write");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define DEFAULT_INIT "{\"AuthToken\":\"\",\"columns\":80,\"rows\":24}"

/* A WebSocket on 127.0.0.1:port with subprotocol tty, past the 101. */
static int ws_connect(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char req[512], ans[4096];
	size_t len;
	int fd, one = 1;

	sa.sin_port = htons((unsigned short)atoi(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	len = (size_t)snprintf(req, sizeof(req),
			       "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tty\r\n\r\n");
	if (write(fd, req, len) != (ssize_t)len)
		die("write");
	/* The 101 answer: read byte by byte up to the blank line (frames follow later). */
	for (len = 0; len < 4 || memcmp(ans + len - 4, "\r\n\r\n", 4) != 0; len++)
		if (len >= sizeof(ans) || read(fd, ans + len, 1) != 1)
			die("handshake");
	if (memcmp(ans, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "handshake refused\n");
		exit(1);
	}
	return fd;
}

static int throughput(int argc, char **argv)
{
	const char *init = DEFAULT_INIT;
	unsigned long long out = 0;
	unsigned char hdr[10], last[2] = { 0, 0 };
	size_t hlen = 0, need = 2, rem = 0, len, i;
	int fd, prompt = 0, in_payload_start = 0, opcode = 0, code = 0;
	double t0 = 0;
	char *cmd;
	ssize_t n;

	if (argc == 4)
		init = argv[3];
	fd = ws_connect(argv[1]);
	send_frame(fd, init, strlen(init));
	if (asprintf(&cmd, "0%s; exit\r", argv[2]) < 0)
		die("asprintf");

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n;) {
			if (rem > 0) {
				size_t take = rem < (size_t)n - i ? rem : (size_t)n - i;
				if (opcode == 8 && take >= 2 && in_payload_start) {
					code = (buf[i] << 8) | buf[i + 1];
					printf("%llu %.6f %d\n", out, now() - t0, code);
					return 0;
				}
				if (in_payload_start && buf[i] == '0' && opcode == 2)
					out--; /* the type byte */
				if (opcode == 2)
					out += take;
				if (take >= 2) {
					last[0] = buf[i + take - 2];
					last[1] = buf[i + take - 1];
				}
				in_payload_start = 0;
				i += take;
				rem -= take;
				if (rem == 0 && !prompt && (last[1] == ' ' && (last[0] == '#' || last[0] == '$'))) {
					/* The prompt: type the command and start the clock. */
					prompt = 1;
					out = 0;
					t0 = now();
					send_frame(fd, cmd, strlen(cmd));
				}
				continue;
			}
			hdr[hlen++] = buf[i++];
			if (hlen == 2) {
				opcode = hdr[0] & 15;
				need = (hdr[1] & 127) == 126 ? 4 : (hdr[1] & 127) == 127 ? 10 : 2;
			}
			if (hlen < 2 || hlen < need)
				continue;
			if (need == 2)
				rem = hdr[1] & 127;
			else if (need == 4)
				rem = ((size_t)hdr[2] << 8) | hdr[3];
			else
				for (rem = 0, len = 2; len < 10; len++)
					rem = (rem << 8) | hdr[len];
			hlen = 0;
			need = 2;
			in_payload_start = 1;
		}
	}
	if (!prompt) {
		fprintf(stderr, "connection closed before the prompt\n");
		return 1;
	}
	/* ttyd 1.7.7 drops the connection after the last output, without a close frame. */
	printf("%llu %.6f 1006\n", out, now() - t0);
	return 0;
}

/*
 * Where echoes come from: a WebSocket's output frames ('0' messages), or a
 * bare PTY master. read_output() appends what arrives next to out.
 */
struct source {
	int fd;
	int ws;                     /* 1: WebSocket frames, 0: raw PTY bytes */
	unsigned char in[1 << 16];  /* WebSocket bytes not yet parsed */
	size_t have;
};

/* Waits for more output; returns its length in out (0 for a non-output frame). */
static size_t read_output(struct source *src, unsigned char *out, size_t cap)
{
	size_t h, len, n;
	ssize_t r;

	if (!src->ws) {
		r = read(src->fd, out, cap);
		if (r <= 0)
			die("read pty");
		return (size_t)r;
	}
	for (;;) {
		if (src->have >= 2) {
			len = src->in[1] & 127;
			h = len == 126 ? 4 : len == 127 ? 10 : 2;
			if (src->have >= h) {
				if (h == 4)
					len = ((size_t)src->in[2] << 8) | src->in[3];
				else if (h == 10)
					for (len = 0, n = 2; n < 10; n++)
						len = (len << 8) | src->in[n];
				if (len + h > sizeof(src->in)) {
					fprintf(stderr, "frame too big for the echo client\n");
					exit(1);
				}
				if (src->have >= h + len) {
					int op = src->in[0] & 15;
					n = 0;
					if (op == 8) {
						fprintf(stderr, "connection closed\n");
						exit(1);
					}
					if (op == 9) /* a ping (ttyd's every 5 s): the pong carries its payload */
						send_control(src->fd, 0x8a, src->in + h, len);
					if (op == 2 && len > 0 && src->in[h] == '0') {
						n = len - 1 < cap ? len - 1 : cap;
						memcpy(out, src->in + h + 1, n);
					}
					memmove(src->in, src->in + h + len, src->have - h - len);
					src->have -= h + len;
					return n;
				}
			}
		}
		r = read(src->fd, src->in + src->have, sizeof(src->in) - src->have);
		if (r <= 0)
			die("read socket");
		src->have += (size_t)r;
	}
}

/* Reads output until it holds byte want (the echo) or a prompt ending "# "/"$ ". */
static void wait_for(struct source *src, int want)
{
	unsigned char out[4096];
	size_t n, i;
	int last = 0;

	for (;;) {
		n = read_output(src, out, sizeof(out));
		for (i = 0; i < n; i++) {
			if (want >= 0 && out[i] == want)
				return;
			if (want < 0 && out[i] == ' ' && (last == '#' || last == '$') && i == n - 1)
				return;
			last = out[i];
		}
	}
}

static void send_key(struct source *src, unsigned char key)
{
	unsigned char frame[8] = { 0x82, 0x80 | 2, 0, 0, 0, 0, '0', key };

	if (!src->ws) {
		if (write(src->fd, &key, 1) != 1)
			die("write pty");
	} else if (write(src->fd, frame, sizeof(frame)) != (ssize_t)sizeof(frame)) {
		die("write socket");
	}
}

/* argv (bash) on a fresh PTY of its own: the master, and its pid in *pid. */
static int bare_pty_argv(pid_t *pid, char *const argv[])
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave;
	const char *name;

	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
	    (name = ptsname(master)) == NULL)
		die("pty");
	*pid = fork();
	if (*pid < 0)
		die("fork");
	if (*pid == 0) {
		setsid();
		slave = open(name, O_RDWR);
		if (slave < 0)
			_exit(127);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		if (slave > 2)
			close(slave);
		close(master);
		execv(argv[0], argv);
		_exit(127);
	}
	return master;
}

static int bare_pty(pid_t *pid)
{
	char *const argv[] = { "/bin/bash", "--norc", "--noprofile", NULL };

	return bare_pty_argv(pid, argv);
}

/* The environment ptyd gives its child (TERM, HOME, USER, SHELL, PATH, LANG). */
static char **child_env(void)
{
	static const char *const names[] = { "TERM", "HOME", "USER", "SHELL", "PATH", "LANG" };
	static char *env[7];
	size_t i, n = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = getenv(names[i]);

		if (v != NULL && asprintf(&env[n], "%s=%s", names[i], v) >= 0)
			n++;
	}
	env[n] = NULL;
	return env;
}

/* bash spawned as a server would (vfork-like, its own session, the PTY's
 * slave as its terminal): the master, and its pid in *pid. */
static int bare_spawn(pid_t *pid, char **envp)
{
	char *const argv[] = { "/bin/bash", "--norc", "--noprofile", NULL };
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), fd;
	posix_spawn_file_actions_t acts;
	posix_spawnattr_t attr;
	const char *name;

	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
	    (name = ptsname(master)) == NULL)
		die("pty");
	posix_spawn_file_actions_init(&acts);
	for (fd = 0; fd < 3; fd++)
		posix_spawn_file_actions_addopen(&acts, fd, name, O_RDWR, 0);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	if (posix_spawn(pid, argv[0], &acts, &attr, argv, envp) != 0)
		die("posix_spawn");
	posix_spawn_file_actions_destroy(&acts);
	posix_spawnattr_destroy(&attr);
	return master;
}

/* One connect to first output (ms) of target (a PORT, or pty). */
static double first_once(const char *target, char **envp)
{
	static struct source src;
	unsigned char out[4096];
	double t0, took;
	pid_t pid = 0;

	memset(&src, 0, sizeof(src));
	t0 = now();
	if (strcmp(target, "pty") == 0) {
		src.fd = bare_spawn(&pid, envp);
	} else {
		src.fd = ws_connect(target);
		src.ws = 1;
		send_frame(src.fd, DEFAULT_INIT, strlen(DEFAULT_INIT));
	}
	while (read_output(&src, out, sizeof(out)) == 0)
		;
	took = (now() - t0) * 1000;
	close(src.fd);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return took;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A random permutation of order[0..n) in place (Fisher-Yates). */
static void shuffle(int *order, int n)
{
	int k, j, tmp;

	for (k = n - 1; k > 0; k--) {
		j = (int)(random() % (k + 1));
		tmp = order[k];
		order[k] = order[j];
		order[j] = tmp;
	}
}

/* One target of --echo/--echo-turns: a server's PORT, or "pty". */
static void open_target(struct source *src, const char *target, const char *init, pid_t *pid)
{
	if (strcmp(target, "pty") == 0) {
		src->fd = bare_pty(pid);
	} else {
		src->fd = ws_connect(target);
		src->ws = 1;
		send_frame(src->fd, init, strlen(init));
	}
	wait_for(src, -1);
}

/* One key to src, timed from its send to its echo (ms). */
static double time_key(struct source *src, long i)
{
	unsigned char key = i % 2 == 0 ? 'x' : 0x7f;
	double t0 = now();

	send_key(src, key);
	/* readline echoes x as x and erases it with a backspace first. */
	wait_for(src, key == 'x' ? 'x' : '\b');
	return (now() - t0) * 1000;
}

static void print_median_p99(double *ms, long n)
{
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("%.4f %.4f\n", ms[n / 2], ms[(size_t)((double)n * 0.99)]);
}

static int echo_turns(int argc, char **argv)
{
	long n = atol(argv[2]), gap_us = atol(argv[3]), i;
	int t, k, targets = argc - 4;
	struct source *src = calloc((size_t)targets, sizeof(*src));
	pid_t *pid = calloc((size_t)targets, sizeof(*pid));
	int *order = calloc((size_t)targets, sizeof(*order));
	double *ms = calloc((size_t)targets * (size_t)(n > 0 ? n : 1), sizeof(*ms));
	struct timespec gap = { gap_us / 1000000, (gap_us % 1000000) * 1000 };

	if (src == NULL || pid == NULL || order == NULL || ms == NULL)
		die("calloc");
	if (n <= 0 || gap_us < 0) {
		fprintf(stderr, "--echo-turns: N > 0 and GAP_US >= 0\n");
		return 2;
	}
	for (t = 0; t < targets; t++)
		open_target(&src[t], argv[4 + t], DEFAULT_INIT, &pid[t]);
	for (t = 0; t < targets; t++)
		order[t] = t;
	srandom(1);
	for (i = 0; i < n; i++) {
		/* A fresh order each round: no target always follows the same one. */
		shuffle(order, targets);
		for (k = 0; k < targets; k++) {
			t = order[k];
			if (gap_us > 0)
				nanosleep(&gap, NULL);
			ms[(size_t)t * (size_t)n + (size_t)i] = time_key(&src[t], i);
		}
	}
	for (t = 0; t < targets; t++) {
		print_median_p99(ms + (size_t)t * (size_t)n, n);
		if (pid[t] > 0) {
			kill(pid[t], SIGKILL);
			waitpid(pid[t], NULL, 0);
		}
		close(src[t].fd);
	}
	free(ms);
	free(order);
	free(pid);
	free(src);
	return 0;
}

static int echo(int argc, char **argv)
{
	static struct source src;
	struct timespec gap;
	long n = atol(argv[2]), gap_us = atol(argv[3]), i;
	double *ms;
	pid_t pid = 0;

	if (n <= 0 || gap_us < 0 || (ms = calloc((size_t)n, sizeof(*ms))) == NULL) {
		fprintf(stderr, "--echo: N > 0 and GAP_US >= 0\n");
		return 2;
	}
	gap.tv_sec = gap_us / 1000000;
	gap.tv_nsec = (gap_us % 1000000) * 1000;
	open_target(&src, argv[4], argc > 5 ? argv[5] : DEFAULT_INIT, &pid);
	for (i = 0; i < n; i++) {
		if (gap_us > 0)
			nanosleep(&gap, NULL);
		ms[i] = time_key(&src, i);
	}
	print_median_p99(ms, n);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	free(ms);
	close(src.fd);
	return 0;
}

static int first_turns(int argc, char **argv)
{
	long n = atol(argv[2]), i;
	int t, k, targets = argc - 3;
	int *order = calloc((size_t)targets, sizeof(*order));
	double *ms = calloc((size_t)targets * (size_t)(n > 0 ? n : 1), sizeof(*ms));
	struct timespec pause = { 0, 30 * 1000 * 1000 };
	char **envp = child_env();

	if (order == NULL || ms == NULL)
		die("calloc");
	if (n <= 0) {
		fprintf(stderr, "--first: N > 0\n");
		return 2;
	}
	for (t = 0; t < targets; t++)
		order[t] = t;
	srandom(2);
	for (i = 0; i < n; i++) {
		shuffle(order, targets);
		for (k = 0; k < targets; k++) {
			t = order[k];
			ms[(size_t)t * (size_t)n + (size_t)i] = first_once(argv[3 + t], envp);
			/* The session just closed ends before the next connect. */
			nanosleep(&pause, NULL);
		}
	}
	for (t = 0; t < targets; t++) {
		qsort(ms + (size_t)t * (size_t)n, (size_t)n, sizeof(*ms), cmp_double);
		printf("%.4f\n", ms[(size_t)t * (size_t)n + (size_t)n / 2]);
	}
	free(ms);
	free(order);
	return 0;
}

/* A connected loopback TCP pair: *out is the sending end, *in the reading one. */
static void loopback_pair(int *out, int *in)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) != 0)
		die("listen");
	*out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*out < 0 || connect(*out, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect");
	*in = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*in < 0)
		die("accept");
	setsockopt(*out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(lfd);
}

static int relay(const char *command)
{
	char *const argv[] = { "/bin/bash", "--norc", "--noprofile", "-c", (char *)command, NULL };
	unsigned long long sent = 0;
	struct pollfd pfd = { .events = POLLIN };
	int out, in, master;
	pid_t reader, shell;
	double t0;
	ssize_t n, w, off;

	loopback_pair(&out, &in);
	reader = fork();
	if (reader < 0)
		die("fork");
	if (reader == 0) {
		close(out);
		while (read(in, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(in);
	t0 = now();
	master = bare_pty_argv(&shell, argv);
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	pfd.fd = master;
	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		n = pty_read_gather(master, buf, 65536);
		if (n < 0)
			break;
		for (off = 0; off < n; off += w) {
			w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno != EINTR)
				die("send");
			if (w < 0)
				w = 0;
		}
		sent += (unsigned long long)n;
	}
	close(out);
	waitpid(reader, NULL, 0);
	printf("%llu %.6f\n", sent, now() - t0);
	close(master);
	waitpid(shell, NULL, 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && argc <= 6 && strcmp(argv[1], "--echo") == 0)
		return echo(argc, argv);
	if (argc >= 5 && strcmp(argv[1], "--echo-turns") == 0)
		return echo_turns(argc, argv);
	if (argc >= 4 && strcmp(argv[1], "--first") == 0)
		return first_turns(argc, argv);
	if (argc == 3 && strcmp(argv[1], "--relay") == 0)
		return relay(argv[2]);
	if (argc == 3 || argc == 4)
		return throughput(argc, argv);
	fprintf(stderr, "usage: %s PORT COMMAND [INIT]\n"
		"       %s --echo N GAP_US PORT|pty [INIT]\n"
		"       %s --echo-turns N GAP_US PORT|pty...\n"
		"       %s --first N PORT|pty...\n"
		"       %s --relay COMMAND\n", argv[0], argv[0], argv[0], argv[0], argv[0]);
	return 2;
}
