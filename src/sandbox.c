#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "sandbox.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH	AUDIT_ARCH_AARCH64
#endif

/* The sanitizer runtimes' own calls while the program runs. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED	1
#endif
#endif

/*
 * Every call the front makes: its own reads and writes, libfcgi's
 * accept, poll and shutdown (and select in older releases), malloc's,
 * stdio's fstat, the clock, the FastCGI timer (setitimer, and
 * rt_sigreturn for its handler), exit, and restart_syscall, which the
 * kernel makes when a stopped front (strace -p, gdb, SIGSTOP) resumes
 * an interrupted call.  One table, one fact.
 */
static const unsigned allowed[] = {
	__NR_read, __NR_write, __NR_readv, __NR_writev, __NR_close,
	__NR_accept, __NR_accept4, __NR_ppoll, __NR_pselect6, __NR_shutdown,
	__NR_brk, __NR_mmap, __NR_munmap, __NR_mremap, __NR_madvise,
	__NR_newfstatat, __NR_fstat, __NR_lseek, __NR_getrandom,
	__NR_clock_gettime, __NR_clock_nanosleep, __NR_setitimer,
	__NR_rt_sigreturn, __NR_rt_sigprocmask, __NR_exit, __NR_exit_group,
	__NR_restart_syscall, __NR_gettid, __NR_getpid,
#ifdef __NR_poll
	__NR_poll, __NR_select,
#endif
#ifdef SANITIZED
	__NR_sched_yield, __NR_sigaltstack,
	__NR_rt_sigaction, __NR_mprotect, __NR_prctl, __NR_futex,
#endif
};

#define NALLOWED	(sizeof(allowed) / sizeof(allowed[0]))
/* Arch check (3), number load (1), one jump each, two returns. */
#define NPROG		(4 + NALLOWED + 2)

#ifdef SANDBOX_ARCH
static size_t
build(struct sock_filter *prog)
{
	size_t i, n = 0;

	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SANDBOX_ARCH, 1, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
	/* The x32 ABI's numbers carry a high bit and match no entry. */
	for (i = 0; i < NALLOWED; i++)
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, allowed[i], (unsigned char)(NALLOWED - i), 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	return n;
}
#endif

/*
 * The test build's hook (tests/sandbox_test.py): a filter of length 0,
 * which every kernel refuses with EINVAL, stands for a kernel that
 * refuses ours.  The normal build has no such path.
 */
static unsigned short
test_length(size_t n)
{
#ifdef MMOLOVE_TEST_HOOKS
	const char *h = getenv("MMOLOVE_TEST_SANDBOX");

	if (h != NULL && strcmp(h, "refuse") == 0)
		return 0;
#endif
	return (unsigned short)n;
}

int
sandbox_enter(char *why, size_t whylen)
{
#ifdef SANDBOX_ARCH
	struct sock_filter prog[NPROG];
	struct sock_fprog fprog;

	_Static_assert(NALLOWED < 256, "jump offsets are one byte");
	fprog.len = test_length(build(prog));
	fprog.filter = prog;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		(void)snprintf(why, whylen, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == -1) {
		(void)snprintf(why, whylen, "prctl(PR_SET_SECCOMP): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
#else
	(void)snprintf(why, whylen, "no seccomp filter for this "
	    "architecture");
	return -1;
#endif
}
