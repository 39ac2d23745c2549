/*
 * sys: the system-call patterns every module shares.
 *
 * Promises: reads retry on EINTR and stop at end of file or at the
 * buffer's end; nothing allocates.
 */
#ifndef MMOLOVE_SYS_H
#define MMOLOVE_SYS_H

#include <sys/types.h>

#include <stddef.h>

/* Milliseconds on a clock that never jumps. */
long long monotonic_ms(void);

/*
 * Reads from fd until end of file or cap bytes; returns the count, or
 * -1 with errno set.  A result equal to cap may mean more was left.
 */
ssize_t	read_full(int fd, char *buf, size_t cap);

/* read_full() of a whole file by path; -1 with errno set on failure. */
ssize_t	read_path(const char *path, char *buf, size_t cap);

#endif
