/*
 * bench/exec.bench.c: the client of bench/exec.bench.py, in C so that the
 * client is not what gets measured on a 2-core machine. It speaks both of
 * ptyd's subprotocols on 127.0.0.1:PORT, so the exec channel and the
 * terminal are measured by the same client:
 *
 *   tty PORT                  a terminal: output bytes until the close frame
 *   out PORT SCRIPT           exec {"shell":SCRIPT}: stdout bytes (each frame
 *                             acknowledged) until the status
 *   lat PORT N START_JSON [PAUSE_MS]
 *                             one connection, N commands one after the other
 *                             (PAUSE_MS apart): ms from start to status, a line
 *   new PORT N START_JSON     N times a new connection and one command:
 *                             "HELLO_MS STATUS_MS" a line (hello: the floor)
 *   ping PORT N               one connection, N sessions requests (channel
 *                             33) one after the other: the round trip of a
 *                             message through ptyd with no process, ms a line
 *   spawn 0 N PROGRAM [ARG..] the reference: N times fork, exec PROGRAM, wait,
 *                             here without ptyd: milliseconds, one a line
 *   warm 0 N BASH             the design figure of a shell started ahead: N
 *                             times BASH -c WARM_BOOT is started with a pipe
 *                             on fd 3 and left to initialise (30 ms); then
 *                             the script "true" is written, the pipe closed,
 *                             the shell waited for: ms from the write, a line
 *
 * Built by the .py with cc into a scratch dir.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	unsigned char buf[1 << 20];
	size_t have, off;
};

static unsigned char payload[1 << 21];

/* What a pre-started bash would run: its script from fd 3, then as -c runs it
 * ($0, $-, LINENO, BASH_EXECUTION_STRING and SECONDS as with -c). */
static const char WARM_BOOT[] = "IFS= read -r -d '' BASH_EXECUTION_STRING <&3; exec 3<&-; "
				"SECONDS=0; eval \"$BASH_EXECUTION_STRING\"";

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One client frame: binary, FIN, masked with a zero key (a valid key). */
static void send_frame(struct conn *c, const void *p, size_t n)
{
	unsigned char hdr[14];
	size_t h = 2;

	hdr[0] = 0x82;
	if (n < 126) {
		hdr[1] = 0x80 | (unsigned char)n;
	} else if (n < 65536) {
		hdr[1] = 0x80 | 126;
		hdr[2] = (unsigned char)(n >> 8);
		hdr[3] = (unsigned char)n;
		h = 4;
	} else {
		hdr[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		h = 10;
	}
	memset(hdr + h, 0, 4);
	h += 4;
	if (write(c->fd, hdr, h) != (ssize_t)h || write(c->fd, p, n) != (ssize_t)n)
		die("write");
}

static int fill(struct conn *c, size_t want)
{
	ssize_t n;

	if (c->off > 0 && c->have - c->off < want) {
		memmove(c->buf, c->buf + c->off, c->have - c->off);
		c->have -= c->off;
		c->off = 0;
	}
	while (c->have - c->off < want) {
		n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
		if (n <= 0)
			return -1;
		c->have += (size_t)n;
	}
	return 0;
}

/* One server frame (unmasked, unfragmented as ptyd sends them): opcode, payload. */
static int read_frame(struct conn *c, size_t *len)
{
	size_t h = 2, n, i;
	int op;

	if (fill(c, 2) != 0)
		return -1;
	op = c->buf[c->off] & 15;
	n = c->buf[c->off + 1] & 127;
	if (n == 126)
		h = 4;
	else if (n == 127)
		h = 10;
	if (fill(c, h) != 0)
		return -1;
	if (h == 4)
		n = ((size_t)c->buf[c->off + 2] << 8) | c->buf[c->off + 3];
	else if (h == 10)
		for (n = 0, i = 2; i < 10; i++)
			n = (n << 8) | c->buf[c->off + i];
	if (n > sizeof(payload) || fill(c, h + n) != 0)
		return -1;
	memcpy(payload, c->buf + c->off + h, n);
	c->off += h + n;
	*len = n;
	return op;
}

static struct conn *ws_connect(int port, const char *proto)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct conn *c = calloc(1, sizeof(*c));
	char req[512];
	int one = 1;
	size_t len;
	char *end;

	if (c == NULL)
		die("calloc");
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	len = (size_t)snprintf(req, sizeof(req),
			       "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n", proto);
	if (write(c->fd, req, len) != (ssize_t)len)
		die("write");
	for (;;) {
		if (fill(c, c->have - c->off + 1) != 0)
			die("handshake");
		c->buf[c->have] = 0;
		end = strstr((char *)c->buf, "\r\n\r\n");
		if (end != NULL)
			break;
	}
	if (memcmp(c->buf, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "handshake refused\n");
		exit(1);
	}
	c->off = (size_t)(end + 4 - (char *)c->buf);
	return c;
}

static void ws_close(struct conn *c)
{
	close(c->fd);
	free(c);
}

static void exec_send(struct conn *c, int ch, uint32_t id, const void *p, size_t n)
{
	static unsigned char m[1 << 20];

	m[0] = (unsigned char)ch;
	m[1] = (unsigned char)(id >> 24);
	m[2] = (unsigned char)(id >> 16);
	m[3] = (unsigned char)(id >> 8);
	m[4] = (unsigned char)id;
	memcpy(m + 5, p, n);
	send_frame(c, m, n + 5);
}

/* Waits for hello (channel 32). */
static void exec_hello(struct conn *c)
{
	size_t n;

	for (;;) {
		if (read_frame(c, &n) != 2)
			die("hello");
		if (n >= 5 && payload[0] == 32)
			return;
	}
}

/*
 * Runs one command to its status; returns stdout bytes. Every stdout/stderr
 * frame is acknowledged at once (a consumer that keeps up).
 */
static unsigned long long exec_run(struct conn *c, uint32_t id, const char *start)
{
	unsigned long long out = 0;
	unsigned char ack[4];
	size_t n;

	exec_send(c, 16, id, start, strlen(start));
	for (;;) {
		if (read_frame(c, &n) != 2 || n < 5)
			die("exec frame");
		if (payload[0] == 1 || payload[0] == 2) {
			uint32_t k = (uint32_t)(n - 5);
			if (payload[0] == 1)
				out += k;
			ack[0] = (unsigned char)(k >> 24);
			ack[1] = (unsigned char)(k >> 16);
			ack[2] = (unsigned char)(k >> 8);
			ack[3] = (unsigned char)k;
			exec_send(c, 19, id, ack, 4);
		} else if (payload[0] == 3) {
			if (memmem(payload + 5, n - 5, "\"exitCode\":0", 12) == NULL) {
				fprintf(stderr, "status: %.*s\n", (int)(n - 5), payload + 5);
				exit(1);
			}
			return out;
		}
	}
}

int main(int argc, char **argv)
{
	static const char init[] = "{\"AuthToken\":\"\",\"columns\":80,\"rows\":24}";
	struct conn *c;
	unsigned long long out = 0;
	double t0, t1;
	size_t n;
	int port, i, count, op;
	char *start;

	if (argc < 3) {
		fprintf(stderr, "usage: %s tty|out|lat|new PORT [ARGS]\n", argv[0]);
		return 2;
	}
	port = atoi(argv[2]);
	if (strcmp(argv[1], "warm") == 0 && argc == 5) {
		count = atoi(argv[3]);
		for (i = 0; i < count; i++) {
			int p[2], st;
			pid_t pid;
			if (pipe(p) != 0)
				die("pipe");
			pid = fork();
			if (pid == 0) {
				if (dup2(p[0], 3) != 3)
					_exit(126);
				close(p[1]);
				execl(argv[4], argv[4], "-c", WARM_BOOT, (char *)NULL);
				_exit(127);
			}
			close(p[0]);
			usleep(30000);
			t0 = now();
			if (write(p[1], "true\n", 5) != 5)
				die("write");
			close(p[1]);
			if (pid < 0 || waitpid(pid, &st, 0) != pid)
				die("warm");
			printf("%.3f\n", (now() - t0) * 1e3);
		}
		return 0;
	}
	if (strcmp(argv[1], "spawn") == 0 && argc >= 5) {
		count = atoi(argv[3]);
		for (i = 0; i < count; i++) {
			pid_t pid;
			int st;
			t0 = now();
			pid = fork();
			if (pid == 0) {
				execv(argv[4], argv + 4);
				_exit(127);
			}
			if (pid < 0 || waitpid(pid, &st, 0) != pid)
				die("spawn");
			printf("%.3f\n", (now() - t0) * 1e3);
		}
		return 0;
	}
	if (strcmp(argv[1], "tty") == 0) {
		c = ws_connect(port, "tty");
		send_frame(c, init, strlen(init));
		t0 = now();
		while ((op = read_frame(c, &n)) >= 0) {
			if (op == 2 && n > 0 && payload[0] == '0')
				out += n - 1;
			if (op == 8)
				break;
		}
		printf("%llu %.6f\n", out, now() - t0);
		return op == 8 ? 0 : 1;
	}
	if (strcmp(argv[1], "out") == 0 && argc == 4) {
		if (asprintf(&start, "{\"shell\":\"%s\",\"stdin\":false}", argv[3]) < 0)
			die("asprintf");
		c = ws_connect(port, "webshell-exec.v1");
		exec_hello(c);
		t0 = now();
		out = exec_run(c, 1, start);
		printf("%llu %.6f\n", out, now() - t0);
		ws_close(c);
		return 0;
	}
	if (strcmp(argv[1], "ping") == 0 && argc == 4) {
		unsigned char req[5] = { 33, 0, 0, 0, 0 };
		count = atoi(argv[3]);
		c = ws_connect(port, "webshell-exec.v1");
		exec_hello(c);
		for (i = 0; i < count; i++) {
			req[4] = (unsigned char)(i + 1);
			t0 = now();
			send_frame(c, req, sizeof(req));
			do
				op = read_frame(c, &n);
			while (op >= 0 && !(op == 2 && n >= 5 && payload[0] == 33));
			if (op < 0)
				die("ping");
			printf("%.3f\n", (now() - t0) * 1e3);
		}
		ws_close(c);
		return 0;
	}
	if ((strcmp(argv[1], "lat") == 0 && (argc == 5 || argc == 6)) ||
	    (strcmp(argv[1], "new") == 0 && argc == 5)) {
		count = atoi(argv[3]);
		if (argv[1][0] == 'l') {
			int pause_ms = argc == 6 ? atoi(argv[5]) : 0;
			c = ws_connect(port, "webshell-exec.v1");
			exec_hello(c);
			for (i = 0; i < count; i++) {
				if (pause_ms > 0)
					usleep((useconds_t)pause_ms * 1000);
				t0 = now();
				exec_run(c, (uint32_t)i + 1, argv[4]);
				printf("%.3f\n", (now() - t0) * 1e3);
			}
			ws_close(c);
			return 0;
		}
		for (i = 0; i < count; i++) {
			t0 = now();
			c = ws_connect(port, "webshell-exec.v1");
			exec_hello(c);
			t1 = now();
			exec_run(c, 1, argv[4]);
			printf("%.3f %.3f\n", (t1 - t0) * 1e3, (now() - t0) * 1e3);
			ws_close(c);
		}
		return 0;
	}
	fprintf(stderr, "usage: %s tty|out|lat|new PORT [ARGS]\n", argv[0]);
	return 2;
}
