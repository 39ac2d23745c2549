#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

long long
monotonic_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ssize_t
read_full(int fd, char *buf, size_t cap)
{
	size_t have = 0;
	ssize_t n;

	while (have < cap) {
		n = read(fd, buf + have, cap - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		have += (size_t)n;
	}
	return (ssize_t)have;
}

ssize_t
read_path(const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return -1;
	n = read_full(fd, buf, cap);
	saved = errno;
	(void)close(fd);
	errno = saved;
	return n;
}
