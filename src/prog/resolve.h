/*
 * resolve.h - the user and group names of a command line made ids, for the
 * programs (server --allow-uid/--allow-group, client --server-uid).
 *
 * Not pure, hence apart from args.h: a name is looked up in the system's
 * databases (src/account.h: getpwnam_r/getgrnam_r through NSS, which may
 * read files or ask a directory service). args.c only checks that a text
 * was given; this is where it becomes a number, before any IPC.
 */
#ifndef SHMCHAN_PROG_RESOLVE_H
#define SHMCHAN_PROG_RESOLVE_H

#include <stddef.h>
#include <sys/types.h>

/* TEXT (a name, or a decimal id: src/account.h), given to program PROG as
 * OPTION, to a uid. Returns SHMCHAN_PROG_EXIT_OK and sets *out, or prints
 * one line "PROG: ..." on stderr and returns
 *   SHMCHAN_PROG_EXIT_USAGE    the system knows no such user: the user's
 *                              mistake, the caller adds the usage;
 *   SHMCHAN_PROG_EXIT_RUNTIME  the lookup itself failed (I/O error, out of
 *                              memory or files, an entry too large): the
 *                              name may well exist, so not a usage error.
 * *out is untouched on failure. */
int shmchan_prog_resolve_uid(const char *prog, const char *option, const char *text, uid_t *out);

/* Each of texts[0, n) as shmchan_prog_resolve_uid (a group for _gids) into
 * out[0, *count), each id once, in the order first given: "alice" and
 * "1000" may be one uid, "staff" and "50" one gid, and the library gives
 * its doorbell to the one allowed group only when exactly one distinct gid
 * is allowed (src/conn.h), so a repeat must not count. n <= cap (else
 * SHMCHAN_PROG_EXIT_USAGE). The same exit codes; the first failure ends
 * the list. */
int shmchan_prog_resolve_uids(const char *prog, const char *option, const char *const *texts,
                              size_t n, uid_t *out, size_t cap, size_t *count);
int shmchan_prog_resolve_gids(const char *prog, const char *option, const char *const *texts,
                              size_t n, gid_t *out, size_t cap, size_t *count);

#endif /* SHMCHAN_PROG_RESOLVE_H */
