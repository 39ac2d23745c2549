/*
 * sys: the system-call patterns every module shares.
 *
 * Promises: reads and writes retry on EINTR; reads stop at end of file
 * or at the buffer's end; nothing allocates.
 */
#ifndef MMOLOVE_SYS_H
#define MMOLOVE_SYS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Milliseconds on a clock that never jumps. */
long long monotonic_ms(void);

/*
 * Reads from fd until end of file or cap bytes; returns the count, or
 * -1 with errno set.  A result equal to cap may mean more was left.
 */
ssize_t	read_full(int fd, char *buf, size_t cap);

/* Writes all of buf, retrying on EINTR: 0, or -1 with errno set. */
int	write_all(int fd, const void *buf, size_t len);

/* Reads exactly len bytes, retrying on EINTR: 0, or -1 (an early end of
 * file included). */
int	read_exact(int fd, void *buf, size_t len);

/* read_full() of a whole file by path; -1 with errno set on failure. */
ssize_t	read_path(const char *path, char *buf, size_t cap);

/*
 * What stat(2) says of a file, to notice a change without reading it: a
 * file replaced by rename has another inode, one rewritten in place
 * another size or times.  err is stat's errno, 0 if it worked.
 */
struct file_id {
	int		 err;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtim;
	struct timespec	 ctim;
};

void	file_id_of(const char *path, struct file_id *id);
bool	file_id_same(const struct file_id *a, const struct file_id *b);
/*
 * True if the file changed so lately (this second or the last) that a
 * further change could leave it with the same times: file systems keep
 * them to a clock tick, some to a whole second.
 */
bool	file_id_recent(const struct file_id *id);

#endif
