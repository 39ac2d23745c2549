/*
 * cli: the command line, for an owner at a shell (never under a web
 * server: mmolove.cgi.c decides that).
 *
 * Promises: --sign, --sign-legacy, --verify, --check, --drain, --help
 * and --version as SPEC.md describes; results on stdout, problems on
 * stderr, exit 0 on success and non-zero otherwise.
 */
#ifndef MMOLOVE_CLI_H
#define MMOLOVE_CLI_H

int	cli_main(int argc, char *argv[]);

#endif
