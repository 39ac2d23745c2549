/*
 * sandbox: the seccomp-bpf filter of the front, the process that reads
 * unauthenticated bytes (front.h).
 *
 * Promises: sandbox_enter() sets PR_SET_NO_NEW_PRIVS and a filter that
 * allows only the calls the front makes (read and write on descriptors
 * it already holds, poll, accept for FastCGI, memory for malloc, the
 * clock, a timer, exit); any other call kills the whole process
 * (SECCOMP_RET_KILL_PROCESS), and so does a call from another
 * architecture's ABI.  No open, no socket, no execve, no kill, no
 * ptrace.  A filter cannot be removed and is inherited by children and
 * across execve: only a process that will never start a grant enters
 * it.  On an unknown architecture, or when the kernel refuses, it fails
 * (-1 and why): the caller must then refuse the request, never serve it
 * unconfined.
 */
#ifndef MMOLOVE_SANDBOX_H
#define MMOLOVE_SANDBOX_H

#include <stddef.h>

int	sandbox_enter(char *why, size_t whylen);

#endif
