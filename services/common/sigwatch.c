/*
 * sigwatch.c: blocked signals read from a signalfd inside the lws loop.
 */
#include "sigwatch.h"

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"

/* One watch per process: signal dispositions are per process too. */
static struct {
	sigwatch_fn fn;
	void *arg;
} watch;

int sigwatch_open(const int *sigs)
{
	struct sigaction sa;
	sigset_t mask;
	int fd;

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		fatal("sigaction SIGPIPE");
	sigemptyset(&mask);
	for (; *sigs != 0; sigs++)
		sigaddset(&mask, *sigs);
	/* Children must unblock these before exec: a blocked mask survives it. */
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
		fatal("sigprocmask");
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		fatal("signalfd");
	return fd;
}

int sigwatch_adopt(struct lws_vhost *vh, int fd, sigwatch_fn fn, void *arg)
{
	lws_sock_file_fd_type u;

	watch.fn = fn;
	watch.arg = arg;
	u.filefd = (lws_filefd_type)fd;
	return lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, SIGWATCH_PROTOCOL_NAME,
					  NULL) != NULL ? 0 : -1;
}

int sigwatch_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct signalfd_siginfo si[8];
	ssize_t n;
	size_t i;

	(void)user;
	(void)in;
	(void)len;
	if (reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	n = read(lws_get_socket_fd(wsi), si, sizeof(si));
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	for (i = 0; i < (size_t)n / sizeof(si[0]); i++)
		if (watch.fn != NULL)
			watch.fn(watch.arg, (int)si[i].ssi_signo);
	return 0;
}
