/*
 * wsguard.c: what libwebsockets 4.1.6 lets through unchecked on the way in:
 * client frames without a mask (RFC 6455 5.1 requires one; lws accepts
 * them). lws reads every socket with recv(); ptyd's own recv() below takes
 * the bytes first through proto_wsscan for each accepted connection, and the
 * protocol callbacks ask wsguard_unmasked() before acting on a message.
 * Nothing else changes: the bytes go to lws as read.
 */
#include "ptyd.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Scanners of the accepted connections, by descriptor. */
static struct proto_wsscan **scans;
static size_t nscans;

void wsguard_accept(int fd)
{
	struct proto_wsscan **ns;
	size_t n;

	if (fd < 0)
		return;
	if ((size_t)fd >= nscans) {
		n = (size_t)fd + 64;
		ns = realloc(scans, n * sizeof(*ns));
		if (ns == NULL)
			return;
		memset(ns + nscans, 0, (n - nscans) * sizeof(*ns));
		scans = ns;
		nscans = n;
	}
	if (scans[fd] == NULL)
		scans[fd] = malloc(sizeof(*scans[fd]));
	if (scans[fd] != NULL)
		memset(scans[fd], 0, sizeof(*scans[fd]));
}

int wsguard_unmasked(int fd)
{
	return fd >= 0 && (size_t)fd < nscans && scans[fd] != NULL && scans[fd]->phase == 3;
}

void wsguard_free(void)
{
	size_t i;

	for (i = 0; i < nscans; i++)
		free(scans[i]);
	free(scans);
	scans = NULL;
	nscans = 0;
}

/* libwebsockets' reads: the kernel's answer, seen by the scanner on the way. */
ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n = syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);

	if (n > 0 && !(flags & MSG_PEEK) && fd >= 0 && (size_t)fd < nscans && scans[fd] != NULL)
		proto_wsscan_feed(scans[fd], buf, (size_t)n);
	return n;
}
