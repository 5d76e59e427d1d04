/*
 * bench/ptyd.bench.c: the throughput client of bench/ptyd.bench.py, in C so
 * the client is not what gets measured on a 2-core machine. It opens one
 * ttyd-protocol session on 127.0.0.1:PORT, waits for the prompt, types
 * COMMAND, counts output bytes until the close frame, and prints
 * "BYTES SECONDS CLOSECODE". Built by the .py with cc into a scratch dir.
 * INIT replaces ttyd's init message (e.g. one asking for a resumable session).
 *
 * usage: ptyd-bench-client PORT COMMAND [INIT]
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *init = "{\"AuthToken\":\"\",\"columns\":80,\"rows\":24}";
	unsigned long long out = 0;
	unsigned char hdr[10], last[2] = { 0, 0 };
	size_t hlen = 0, need = 2, rem = 0, len, i;
	int fd, one = 1, prompt = 0, in_payload_start = 0, opcode = 0, code = 0;
	double t0 = 0;
	char *cmd;
	ssize_t n;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: %s PORT COMMAND [INIT]\n", argv[0]);
		return 2;
	}
	if (argc == 4)
		init = argv[3];
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	len = (size_t)snprintf((char *)buf, sizeof(buf),
			       "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tty\r\n\r\n");
	if (write(fd, buf, len) != (ssize_t)len)
		die("write");
	/* The 101 answer: read byte by byte up to the blank line (frames follow later). */
	for (len = 0; len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0; len++)
		if (len >= 4096 || read(fd, buf + len, 1) != 1)
			die("handshake");
	if (memcmp(buf, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "handshake refused\n");
		return 1;
	}
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
	fprintf(stderr, "connection closed without a close frame after %llu bytes\n", out);
	return 1;
}
