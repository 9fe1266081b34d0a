/*
 * conn_probe.c - the OS half of a connection's judgement: what the kernel
 * says about the objects at a connection key (see conn.h). Metadata only:
 * nothing here attaches, and nothing a process wrote is read.
 */
#include <string.h>

#include "account.h"
#include "safety.h"
#include "conn.h"
#include "sysv.h"

/* A stat refused for permission: the object exists and is not ours. */
static int unreadable(shmchan_err_t e)
{
    return e == SHMCHAN_E_PERMISSION;
}

shmchan_err_t shmchan_conn_gather(key_t key, uint64_t conn_size, gid_t *groups, size_t cap,
                                  shmchan_conn_facts_t *f, shmchan_diag_t *diag)
{
    memset(f, 0, sizeof *f);
    f->conn_size = conn_size;
    f->sem.semid = -1;
    f->shm.shmid = -1;
    int semid = -1;
    shmchan_err_t e = shmchan_sys_sem_lookup(key, &semid, diag);
    if (e == SHMCHAN_E_NOT_FOUND) {
        return SHMCHAN_OK;
    }
    GUARD(e);
    f->sem_present = 1;
    f->sem.semid = semid;
    e = shmchan_sys_sem_stat(semid, &f->sem, diag);
    if (unreadable(e)) {
        return SHMCHAN_OK; /* the judge: PENDING */
    }
    GUARD(e);
    f->sem_readable = 1;
    if (f->sem.nsems > SHMCHAN_CONN_SEM_OWNER) {
        GUARD(shmchan_sys_sem_getval(semid, SHMCHAN_CONN_SEM_OWNER, &f->owner_value, diag));
        GUARD(shmchan_sys_sem_getpid(semid, SHMCHAN_CONN_SEM_OWNER, &f->owner_pid, diag));
    }
    int shmid = -1;
    e = shmchan_sys_shm_lookup(key, &shmid, diag);
    if (e == SHMCHAN_E_NOT_FOUND) {
        return SHMCHAN_OK;
    }
    GUARD(e);
    f->shm_present = 1;
    f->shm.shmid = shmid;
    e = shmchan_sys_shm_stat(shmid, &f->shm, diag);
    if (unreadable(e)) {
        return SHMCHAN_OK;
    }
    GUARD(e);
    f->shm_readable = 1;
    /* The groups of the account the kernel names as creator: never of a
     * name or number anyone wrote. */
    const size_t n = shmchan_account_groups(f->sem.cuid, groups, cap);
    f->member_of = groups;
    f->nmember_of = n < cap ? n : cap;
    return SHMCHAN_OK;
}
