/*
 * ptyread.c: reading a PTY master (see ptyread.h).
 */
#include "ptyread.h"

#include <errno.h>
#include <unistd.h>

/* A read this short is interactive output: send it without reading again. */
#define PTYREAD_SMALL 1024

ssize_t pty_read_gather(int fd, unsigned char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap) {
		n = read(fd, buf + got, cap - got);
		if (n > 0) {
			/*
			 * A small short read (an echo, a prompt) took all there was:
			 * asking again would only say EAGAIN. Bulk output comes in
			 * ~4 KiB reads and is gathered into one frame.
			 */
			if ((size_t)n < cap - got && n < PTYREAD_SMALL) {
				got += (size_t)n;
				break;
			}
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		/* EIO: every slave fd is closed and the buffer is empty. */
		return got > 0 ? (ssize_t)got : -1;
	}
	return (ssize_t)got;
}
