/*
 * fdlimit.h: the open-file limit both services raise at start: ptyd holds
 * three descriptors a session, jwt-verify one a connection, and neither may
 * run out because idle clients hold theirs.
 */
#ifndef WEBSHELL_FDLIMIT_H
#define WEBSHELL_FDLIMIT_H

/*
 * Raises the soft RLIMIT_NOFILE to the hard one (a warning if that fails)
 * and returns the limit now in force, at most 1048576.
 */
unsigned int fdlimit_raise(void);

#endif
