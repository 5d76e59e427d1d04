/*
 * ptyread.h: how ptyd reads a PTY master. A file of its own, free of the
 * event loop, so that the benchmark's bare relay (bench/ptyd.bench.c
 * --relay) reads a PTY exactly as ptyd does.
 */
#ifndef PTYD_PTYREAD_H
#define PTYD_PTYREAD_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads what the non-blocking master fd has, up to cap bytes: bulk output
 * (~4 KiB a read) is gathered into one buffer, a short interactive read
 * (an echo, a prompt) returns at once. The bytes read; 0 when there was
 * nothing (EAGAIN); -1 at the end (EIO once every slave is closed and the
 * buffer is empty) with nothing read.
 */
ssize_t pty_read_gather(int fd, unsigned char *buf, size_t cap);

#endif
