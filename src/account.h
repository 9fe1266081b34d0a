/*
 * account.h - user and group names and memberships, from the system's
 * databases (getpwnam_r, getgrnam_r, getgrouplist: NSS). The OS layer's
 * third piece beside sysv.h and wake.h; nothing pure calls it.
 *
 * Who may connect to a multi-user channel is written by the server's owner
 * as names or numbers (`server --allow-uid alice --allow-group staff`), and
 * the server logs a client's kernel-attested uid with its name. What the
 * kernel attests is the number; names are only how people write and read
 * it. A group's members are looked up for that number, never for a name a
 * process supplied.
 */
#ifndef SHMCHAN_ACCOUNT_H
#define SHMCHAN_ACCOUNT_H

#include <stddef.h>
#include <sys/types.h>

#include "shmchan.h"

/* The most groups of one account looked at (more are ignored, and the
 * lookup says so by returning SHMCHAN_ACCOUNT_GROUPS_MAX + 1). */
#define SHMCHAN_ACCOUNT_GROUPS_MAX 64

/* "alice" or "1000" -> a uid. A decimal number is a uid whether or not an
 * account has it (a uid needs no name); anything else must be a user name
 * the system knows. SHMCHAN_E_INVALID_ARGUMENT, with the text in diag,
 * otherwise. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_account_uid(const char *text, uid_t *out,
                                                     shmchan_diag_t *diag);
/* The same for groups. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_account_gid(const char *text, gid_t *out,
                                                     shmchan_diag_t *diag);

/* The name of uid's account into buf ("" if it has none): for messages. */
void shmchan_account_user_name(uid_t uid, char *buf, size_t len);

/* The groups of uid's account (its primary group and the supplementary
 * ones), at most `cap` of them into out. Returns how many there are: 0 if
 * uid has no account, more than cap if some were left out. */
size_t shmchan_account_groups(uid_t uid, gid_t *out, size_t cap);

#endif /* SHMCHAN_ACCOUNT_H */
