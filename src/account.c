/*
 * account.c - user and group names and memberships (see account.h).
 */
/* getgrouplist(3) is a BSD/GNU extension of <grp.h>. */
#define _GNU_SOURCE 1

#include "account.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sysv.h"

/* The reentrant lookups need a scratch buffer; 16 KiB holds any sane
 * passwd or group entry (a group with thousands of members may not fit:
 * ERANGE, reported, never truncated silently). */
#define ACCOUNT_BUF 16384

/* A decimal id: digits only, no sign, no leading space, below 2^32 - 1
 * ((uid_t)-1 means "no change" to chown(2) and friends: never an id). */
static int parse_id(const char *text, uint32_t *out)
{
    if (text[0] == '\0') {
        return 0;
    }
    uint64_t v = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
        v = v * 10u + (uint64_t)(*p - '0');
        if (v >= UINT32_MAX) {
            return 0;
        }
    }
    *out = (uint32_t)v;
    return 1;
}

shmchan_err_t shmchan_account_uid(const char *text, uid_t *out, shmchan_diag_t *diag)
{
    if (text == NULL || out == NULL) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, 0, "no user given");
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    uint32_t id = 0;
    if (parse_id(text, &id)) {
        *out = (uid_t)id;
        return SHMCHAN_OK;
    }
    struct passwd pw, *found = NULL;
    char buf[ACCOUNT_BUF];
    const int e = getpwnam_r(text, &pw, buf, sizeof buf, &found);
    if (found == NULL) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, e,
                         "user '%s': %s", text, e != 0 ? strerror(e) : "no such user");
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    *out = pw.pw_uid;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_account_gid(const char *text, gid_t *out, shmchan_diag_t *diag)
{
    if (text == NULL || out == NULL) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, 0, "no group given");
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    uint32_t id = 0;
    if (parse_id(text, &id)) {
        *out = (gid_t)id;
        return SHMCHAN_OK;
    }
    struct group gr, *found = NULL;
    char buf[ACCOUNT_BUF];
    const int e = getgrnam_r(text, &gr, buf, sizeof buf, &found);
    if (found == NULL) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, e,
                         "group '%s': %s", text, e != 0 ? strerror(e) : "no such group");
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    *out = gr.gr_gid;
    return SHMCHAN_OK;
}

void shmchan_account_user_name(uid_t uid, char *buf, size_t len)
{
    if (buf == NULL || len == 0) {
        return;
    }
    buf[0] = '\0';
    struct passwd pw, *found = NULL;
    char scratch[ACCOUNT_BUF];
    if (getpwuid_r(uid, &pw, scratch, sizeof scratch, &found) == 0 && found != NULL) {
        (void)snprintf(buf, len, "%s", pw.pw_name);
    }
}

size_t shmchan_account_groups(uid_t uid, gid_t *out, size_t cap)
{
    struct passwd pw, *found = NULL;
    char scratch[ACCOUNT_BUF];
    if (getpwuid_r(uid, &pw, scratch, sizeof scratch, &found) != 0 || found == NULL) {
        return 0;
    }
    gid_t groups[SHMCHAN_ACCOUNT_GROUPS_MAX];
    int n = SHMCHAN_ACCOUNT_GROUPS_MAX;
    /* getgrouplist(3): -1 and n set to the number needed when there are
     * more; the first n entries are filled either way. */
    const int rc = getgrouplist(pw.pw_name, pw.pw_gid, groups, &n);
    const size_t have = rc < 0 ? SHMCHAN_ACCOUNT_GROUPS_MAX : (size_t)n;
    for (size_t i = 0; i < have && i < cap; i++) {
        out[i] = groups[i];
    }
    return rc < 0 ? SHMCHAN_ACCOUNT_GROUPS_MAX + 1u : have;
}
