/*
 * fdlimit.c: the soft open-file limit raised to the hard one.
 */
#include "fdlimit.h"

#include <sys/resource.h>

#include "log.h"

unsigned int fdlimit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal("getrlimit");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the open file limit");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > 1048576 ? 1048576 : (unsigned int)rl.rlim_cur;
}
