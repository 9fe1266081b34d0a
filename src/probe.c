/*
 * probe.c - gathering kernel facts about a key, and reclaiming stale
 * channels (the OS half of probe.h; the decision is in judge.c).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "layout.h"
#include "probe.h"
#include "safety.h"
#include "shm_atomic.h"
#include "sysv.h"

static void gather_sem(key_t key, shmchan_probe_facts_t *f)
{
    int semid = -1;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_sys_sem_lookup(key, &semid, &d);
    if (err == SHMCHAN_E_NOT_FOUND) {
        return;
    }
    f->sem_present = 1;
    f->sem.semid = semid;
    if (err != SHMCHAN_OK) {
        f->sem_errno = d.sys_errno != 0 ? d.sys_errno : EIO;
        return;
    }
    if (shmchan_sys_sem_stat(semid, &f->sem, &d) != SHMCHAN_OK) {
        f->sem_errno = d.sys_errno != 0 ? d.sys_errno : EIO;
        return;
    }
    /* Read values only from a set whose shape we know; the buffer holds
     * the largest shmchan set, and the count GETALL will write is asked
     * again right before it (shmchan_sys_sem_getall). */
    const uint32_t max_nsems = shmchan_layout_nsems(SHMCHAN_MAX_CLIENTS_LIMIT);
    if (f->sem.nsems < SHMCHAN_SEM_MU_COUNT || f->sem.nsems > max_nsems) {
        return;
    }
    unsigned short values[SHMCHAN_SEM_FIXED + SHMCHAN_SEM_PER_SLOT * SHMCHAN_MAX_CLIENTS_LIMIT];
    uint32_t nsems = 0;
    if (shmchan_sys_sem_getall(semid, values, max_nsems, &nsems, &d) != SHMCHAN_OK ||
        nsems < SHMCHAN_SEM_MU_COUNT) {
        f->sem_errno = d.sys_errno != 0 ? d.sys_errno : EIO;
        return;
    }
    f->sem_values_read = 1;
    f->sem_marker = values[SHMCHAN_SEM_MARKER];
    f->sem_alive = values[SHMCHAN_SEM_SERVER_ALIVE];
    f->sem_ready = nsems == SHMCHAN_SEM_MU_COUNT ? values[SHMCHAN_SEM_MU_NOT_READY] == 0
                                                 : values[SHMCHAN_SEM_READY];
    pid_t pid = 0;
    if (shmchan_sys_sem_getpid(semid, SHMCHAN_SEM_SERVER_ALIVE, &pid, &d) == SHMCHAN_OK) {
        f->sem_alive_pid = pid;
    }
}

static void gather_shm(key_t key, shmchan_probe_facts_t *f)
{
    int shmid = -1;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_sys_shm_lookup(key, &shmid, &d);
    if (err == SHMCHAN_E_NOT_FOUND) {
        return;
    }
    f->shm_present = 1;
    f->shm.shmid = shmid;
    if (err != SHMCHAN_OK) {
        f->shm_errno = d.sys_errno != 0 ? d.sys_errno : EIO;
        return;
    }
    if (shmchan_sys_shm_stat(shmid, &f->shm, &d) != SHMCHAN_OK) {
        f->shm_errno = d.sys_errno != 0 ? d.sys_errno : EIO;
        return;
    }
    /* Attach only what is ours: attaching a foreign segment, even read-only,
     * changes its nattch and atime, and "foreign" means "never touched". */
    char why[96];
    if (shmchan_ownership_problem(f->me, shmchan_probe_shm_max_mode(f), f->shm.uid, f->shm.cuid,
                                  f->shm.mode, why,
                                  sizeof why) != NULL ||
        f->shm.segsz < SHMCHAN_LAYOUT_HEADER_SIZE || f->shm.segsz > (uint64_t)SIZE_MAX) {
        return;
    }
    uint8_t *image = NULL;
    if (shmchan_sys_shm_attach(shmid, 1, &image, &d) != SHMCHAN_OK) {
        f->shm_errno = d.sys_errno != 0 ? d.sys_errno : EIO;
        return;
    }
    f->header_read = 1;
    f->header_err = shmchan_layout_read_header(image, (size_t)f->shm.segsz, &f->header);
    if (f->header_err == SHMCHAN_OK && !f->header.layout.multiuser) {
        const shmchan_layout_t *l = &f->header.layout;
        for (uint32_t s = 0; s < l->params.max_clients; s++) {
            const uint64_t off = shmchan_layout_slot_offset(l, s) + SHMCHAN_SLOT_OFF_STATE;
            if (shmchan_shm_load_u32_relaxed(image + off) == SHMCHAN_SLOT_STATE_ACTIVE) {
                f->header_clients++;
            }
        }
    }
    (void)shmchan_sys_shm_detach(image, NULL);
}

shmchan_err_t shmchan_probe_gather(key_t key, unsigned max_mode, shmchan_probe_facts_t *facts,
                                   shmchan_diag_t *diag)
{
    ENSURE_REF(facts);
    memset(facts, 0, sizeof *facts);
    facts->key = key;
    facts->me = geteuid();
    facts->max_mode = max_mode & 0777u;
    facts->now = shmchan_sys_wall_seconds();
    facts->sem.semid = -1;
    facts->shm.shmid = -1;
    gather_sem(key, facts);
    gather_shm(key, facts);
    (void)diag;
    return SHMCHAN_OK;
}

/* After a dead multi-user channel's pair is gone: its doorbell (ours if we
 * own and created it), and every connection given to us whose client's
 * token is down (shmchan_conn_sweep_dead). A connection whose client still
 * holds its token is left to that client, which removes it as creator when
 * it finds the server gone. */
static void reclaim_multiuser_leftovers(key_t key)
{
    const uid_t me = geteuid();
    int semid = -1;
    shmchan_sys_sem_info_t bell;
    if (shmchan_sys_sem_lookup(shmchan_doorbell_key(key), &semid, NULL) == SHMCHAN_OK &&
        shmchan_sys_sem_stat(semid, &bell, NULL) == SHMCHAN_OK && bell.uid == me &&
        bell.cuid == me && bell.nsems == SHMCHAN_DOORBELL_COUNT) {
        (void)shmchan_sys_sem_remove(semid, NULL);
    }
    (void)shmchan_conn_sweep_dead(key, 0);
}

shmchan_err_t shmchan_probe_reclaim(const shmchan_probe_facts_t *f, const shmchan_judgement_t *j,
                                    shmchan_diag_t *diag)
{
    ENSURE_REF(f);
    ENSURE_REF(j);
    ENSURE(j->verdict == SHMCHAN_VERDICT_STALE, SHMCHAN_E_INVALID_ARGUMENT);

    /* Look again right before removing: the ids must still name objects at
     * the same key that are ours by the same rule, and the token must still
     * be down in the server's name. A SysV id embeds a sequence number, so a
     * removed-and-recreated object gets a new id and fails this check. An
     * object already gone (CLOSED) is reported as such: the caller probes
     * again rather than fail (someone else reclaimed it first). */
    char why[96];
    if (j->remove_sem) {
        shmchan_sys_sem_info_t now;
        GUARD(shmchan_sys_sem_stat(f->sem.semid, &now, diag));
        int alive = 0;
        pid_t alive_pid = 0;
        GUARD(shmchan_sys_sem_getval(f->sem.semid, SHMCHAN_SEM_SERVER_ALIVE, &alive, diag));
        GUARD(shmchan_sys_sem_getpid(f->sem.semid, SHMCHAN_SEM_SERVER_ALIVE, &alive_pid, diag));
        const int dead = f->shm_present
                             ? shmchan_server_token_released(alive, alive_pid, f->shm.cpid)
                             : alive == 0;
        if (now.key != f->key || !dead ||
            shmchan_ownership_problem(f->me, f->max_mode, now.uid, now.cuid, now.mode, why,
                                      sizeof why) != NULL) {
            shmchan_diag_set(diag, SHMCHAN_E_BUSY, 0,
                             "semaphore set %d at key 0x%08x changed while being reclaimed",
                             f->sem.semid, (unsigned)f->key);
            return SHMCHAN_E_BUSY;
        }
    }
    /* Newest first, as the server's own rollback: the segment, then the
     * set. Interrupted between the two, what is left is a set whose token
     * is down, which the judge reclaims (a segment without its set and
     * without a header would be nobody's). */
    if (j->remove_shm) {
        shmchan_sys_shm_info_t now;
        GUARD(shmchan_sys_shm_stat(f->shm.shmid, &now, diag));
        /* A segment judged stale without a set was judged on "nobody
         * attached", and facts gathered one call at a time: a probe that
         * looked for the set just before a starting server's semget, and
         * at the segment between its shmget and its shmat, then read the
         * header that server had completed meanwhile, saw exactly that.
         * So that verdict must still hold: nobody attached, and still no
         * set at the key (a server makes its set before its segment). */
        int lone_changed = 0;
        if (!f->sem_present) {
            int semid = -1;
            lone_changed = now.nattch != 0 ||
                           shmchan_sys_sem_lookup(f->key, &semid, NULL) != SHMCHAN_E_NOT_FOUND;
        }
        if (now.key != f->key ||
            shmchan_ownership_problem(f->me, shmchan_probe_shm_max_mode(f), now.uid, now.cuid,
                                      now.mode, why,
                                      sizeof why) != NULL ||
            lone_changed) {
            shmchan_diag_set(diag, SHMCHAN_E_BUSY, 0,
                             "segment %d at key 0x%08x changed while being reclaimed",
                             f->shm.shmid, (unsigned)f->key);
            return SHMCHAN_E_BUSY;
        }
        GUARD(shmchan_sys_shm_remove(f->shm.shmid, diag));
    }
    if (j->remove_sem) {
        GUARD(shmchan_sys_sem_remove(f->sem.semid, diag));
    }
    if (f->sem_present && f->sem.nsems == SHMCHAN_SEM_MU_COUNT) {
        reclaim_multiuser_leftovers(f->key);
    }
    return SHMCHAN_OK;
}
