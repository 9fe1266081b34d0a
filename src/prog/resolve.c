/*
 * resolve.c - command-line user and group names to ids (see resolve.h).
 */
#include "src/prog/resolve.h"

#include <errno.h>
#include <string.h>

#include "src/account.h"
#include "src/prog/args.h"
#include "src/prog/io.h"

/* getpwnam_r(3) and getgrnam_r(3) say "no such entry" with 0 and a NULL
 * result, but the man pages list ENOENT, ESRCH, EBADF and EPERM as what
 * some systems (and NSS modules) return for it too. Any other errno
 * (EIO, EINTR, EMFILE, ENFILE, ENOMEM, ERANGE) is the lookup failing. */
static int lookup_found_nothing(int sys_errno)
{
    return sys_errno == 0 || sys_errno == ENOENT || sys_errno == ESRCH || sys_errno == EBADF ||
           sys_errno == EPERM;
}

/* One of uid and gid is non-NULL: what TEXT is to be looked up as. */
static int resolve(const char *prog, const char *option, const char *text, uid_t *uid, gid_t *gid)
{
    shmchan_diag_t diag;
    memset(&diag, 0, sizeof diag);
    /* Both set *out only on success. */
    const shmchan_err_t err = uid != NULL ? shmchan_account_uid(text, uid, &diag)
                                          : shmchan_account_gid(text, gid, &diag);
    if (err == SHMCHAN_OK) {
        return SHMCHAN_PROG_EXIT_OK;
    }
    const char *noun = uid != NULL ? "user" : "group";
    if (lookup_found_nothing(diag.sys_errno)) {
        shmchan_prog_say(stderr,
                         "%s: %s '%s': no such %s (neither a %s name the system knows nor a "
                         "decimal %s 0..4294967294)\n",
                         prog, option, text, noun, noun, uid != NULL ? "uid" : "gid");
        return SHMCHAN_PROG_EXIT_USAGE;
    }
    shmchan_prog_say(stderr, "%s: %s '%s': looking up the %s failed: %s\n", prog, option, text,
                     noun, strerror(diag.sys_errno));
    return SHMCHAN_PROG_EXIT_RUNTIME;
}

int shmchan_prog_resolve_uid(const char *prog, const char *option, const char *text, uid_t *out)
{
    return resolve(prog, option, text, out, NULL);
}

/* 1 if the id at index `at` (of uids, or else of gids) is also before it. */
static int listed_before(const uid_t *uids, const gid_t *gids, size_t at)
{
    for (size_t j = 0; j < at; j++) {
        if (uids != NULL ? uids[j] == uids[at] : gids[j] == gids[at]) {
            return 1;
        }
    }
    return 0;
}

/* One of uids and gids is non-NULL: the array of cap ids to fill. */
static int resolve_list(const char *prog, const char *option, const char *const *texts, size_t n,
                        uid_t *uids, gid_t *gids, size_t cap, size_t *count)
{
    *count = 0;
    if (n > cap) {
        /* args.c bounds the lists; this only keeps a caller honest. */
        shmchan_prog_say(stderr, "%s: more than %zu %s options\n", prog, cap, option);
        return SHMCHAN_PROG_EXIT_USAGE;
    }
    for (size_t i = 0; i < n; i++) {
        /* Resolved into the next free place, kept there if it is new. */
        const size_t at = *count;
        const int rc = resolve(prog, option, texts[i], uids != NULL ? &uids[at] : NULL,
                               uids != NULL ? NULL : &gids[at]);
        if (rc != SHMCHAN_PROG_EXIT_OK) {
            return rc;
        }
        if (!listed_before(uids, gids, at)) {
            (*count)++;
        }
    }
    return SHMCHAN_PROG_EXIT_OK;
}

int shmchan_prog_resolve_uids(const char *prog, const char *option, const char *const *texts,
                              size_t n, uid_t *out, size_t cap, size_t *count)
{
    return resolve_list(prog, option, texts, n, out, NULL, cap, count);
}

int shmchan_prog_resolve_gids(const char *prog, const char *option, const char *const *texts,
                              size_t n, gid_t *out, size_t cap, size_t *count)
{
    return resolve_list(prog, option, texts, n, NULL, out, cap, count);
}
