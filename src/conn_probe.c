/*
 * conn_probe.c - the OS half of a connection's objects (see conn.h): the
 * server's look at a connection key (metadata only: nothing attached,
 * nothing a process wrote is read) and the client's creating and giving.
 */
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include "account.h"
#include "safety.h"
#include "conn.h"
#include "layout.h"
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
    if (f->sem.nsems > SHMCHAN_CONN_SEM_VERDICT) {
        GUARD(shmchan_sys_sem_getval(semid, SHMCHAN_CONN_SEM_VERDICT, &f->verdict_value, diag));
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
    if (cap == 0) { /* no group is allowed: no lookup (it may be a slow directory) */
        return SHMCHAN_OK;
    }
    const size_t n = shmchan_account_groups(f->sem.cuid, groups, cap);
    f->member_of = groups;
    f->nmember_of = n < cap ? n : cap;
    return SHMCHAN_OK;
}

void shmchan_conn_remove_dead(const shmchan_conn_facts_t *f, uid_t me)
{
    if (f->shm_present && f->shm_readable && f->shm.cuid == f->sem.cuid &&
        (f->shm.uid == me || f->shm.cuid == me)) {
        (void)shmchan_sys_shm_remove(f->shm.shmid, NULL);
    }
    (void)shmchan_sys_sem_remove(f->sem.semid, NULL);
}

uint32_t shmchan_conn_sweep_dead(key_t channel, int dry_run)
{
    const uid_t me = geteuid();
    uint32_t found = 0;
    for (uint32_t s = 0; s < SHMCHAN_MAX_CLIENTS_LIMIT; s++) {
        shmchan_conn_facts_t f;
        if (shmchan_conn_gather(shmchan_conn_key(channel, s), 0, NULL, 0, &f, NULL) ==
                SHMCHAN_OK &&
            shmchan_conn_dead_for(&f, me)) {
            found++;
            if (!dry_run) {
                shmchan_conn_remove_dead(&f, me);
            }
        }
    }
    return found;
}

/* ---------------------------------------------------------- client half */

void shmchan_conn_destroy(shmchan_conn_objects_t *o)
{
    /* Each step is attempted whatever the one before did: a failure here
     * leaves the client nothing to do (an object already gone is what
     * removal wanted), so none is reported. */
    if (o->token_taken) {
        /* Released with SEM_UNDO, so the kernel's adjustment returns to 0
         * and the exit later undoes nothing. */
        struct sembuf give_back = {SHMCHAN_CONN_SEM_OWNER, -1, SEM_UNDO | IPC_NOWAIT};
        (void)shmchan_sys_semop(o->semid, &give_back, 1, 0, NULL, NULL);
        o->token_taken = 0;
    }
    if (o->base != NULL) {
        (void)shmchan_sys_shm_detach(o->base, NULL);
        o->base = NULL;
    }
    if (o->shmid >= 0) {
        (void)shmchan_sys_shm_remove(o->shmid, NULL);
        o->shmid = -1;
    }
    if (o->semid >= 0) {
        (void)shmchan_sys_sem_remove(o->semid, NULL);
        o->semid = -1;
    }
}

static shmchan_err_t conn_build(shmchan_conn_objects_t *o, uint64_t size, uid_t server_uid,
                                shmchan_diag_t *diag)
{
    GUARD(shmchan_sys_sem_create(o->key, SHMCHAN_CONN_NSEMS, SHMCHAN_CONN_MODE, &o->semid, diag));
    struct sembuf take = {SHMCHAN_CONN_SEM_OWNER, 1, SEM_UNDO | IPC_NOWAIT};
    GUARD(shmchan_sys_semop(o->semid, &take, 1, 0, NULL, diag));
    o->token_taken = 1;
    GUARD(shmchan_sys_shm_create(o->key, size, SHMCHAN_CONN_MODE, &o->shmid, diag));
    GUARD(shmchan_sys_shm_attach(o->shmid, 0, &o->base, diag));
    GUARD(shmchan_sys_shm_give(o->shmid, server_uid, diag));
    return shmchan_sys_sem_give(o->semid, server_uid, SHMCHAN_SYS_GID_KEEP, diag);
}

shmchan_err_t shmchan_conn_create(key_t key, uint64_t size, uid_t server_uid,
                                  shmchan_conn_objects_t *out, shmchan_diag_t *diag)
{
    memset(out, 0, sizeof *out);
    out->key = key;
    out->semid = -1;
    out->shmid = -1;
    const shmchan_err_t e = conn_build(out, size, server_uid, diag);
    if (e != SHMCHAN_OK) {
        shmchan_conn_destroy(out);
        out->key = key;
    }
    return e;
}
