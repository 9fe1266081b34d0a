/*
 * judge.c - the verdict on what sits at a key (pure; see judge.h).
 *
 * Principle (after PostgreSQL's sysv_shmem.c): remove only what is provably
 * ours and provably dead; when unsure, refuse. "Ours" needs the kernel's
 * owner uid AND creator uid to be ours (IPC_SET can give an object away, so
 * uid alone proves nothing), no permission bits beyond what we create with,
 * and shmchan's marks (marker semaphore, header magic/version/layout, the
 * kernel's segment size matching the layout). "Dead" needs the server's
 * SEM_UNDO liveness token back at zero, which the kernel guarantees when the
 * process exits however it exits; pids are never used to guess liveness.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "judge.h"

const char *shmchan_verdict_name(shmchan_verdict_t verdict)
{
    switch (verdict) {
    case SHMCHAN_VERDICT_ABSENT:
        return "absent";
    case SHMCHAN_VERDICT_LIVE:
        return "live";
    case SHMCHAN_VERDICT_BUSY:
        return "busy";
    case SHMCHAN_VERDICT_STALE:
        return "stale";
    case SHMCHAN_VERDICT_FOREIGN:
        return "foreign";
    }
    return "unknown";
}

static void decide(shmchan_judgement_t *out, shmchan_verdict_t verdict, int remove_sem,
                   int remove_shm, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void decide(shmchan_judgement_t *out, shmchan_verdict_t verdict, int remove_sem,
                   int remove_shm, const char *fmt, ...)
{
    out->verdict = verdict;
    out->remove_sem = remove_sem;
    out->remove_shm = remove_shm;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
}

const char *shmchan_ownership_problem(uid_t expected, unsigned max_mode, uid_t uid, uid_t cuid,
                                     unsigned mode, char *buf, size_t len)
{
    /* Both: IPC_SET lets an owner give an object away (uid), never change
     * who created it (cuid, set by the kernel at creation). */
    if (uid != expected || cuid != expected) {
        (void)snprintf(buf, len, "owner uid %u, creator uid %u, expected uid %u", (unsigned)uid,
                       (unsigned)cuid, (unsigned)expected);
        return buf;
    }
    if ((mode & ~max_mode & 0777u) != 0) {
        (void)snprintf(buf, len, "mode %04o grants more than %04o", mode & 0777u, max_mode);
        return buf;
    }
    return NULL;
}

int shmchan_server_token_released(int alive, pid_t alive_pid, pid_t creator_pid)
{
    /* Anyone with alter permission can take the token down with one semop
     * or SETVAL, and the kernel then records *that* process as the
     * token's last operator. Only the kernel's SEM_UNDO at the server's
     * exit (exit_sem) takes it down in the server's name, and only the
     * server, which never gives the token back itself, has that pid while
     * it lives. A pid of 0 means "not visible from our pid namespace":
     * nothing is proved then. */
    return alive == 0 && creator_pid > 0 && alive_pid == creator_pid;
}

unsigned shmchan_probe_shm_max_mode(const shmchan_probe_facts_t *f)
{
    const int mu_set = f->sem_present && f->sem.nsems == SHMCHAN_SEM_MU_COUNT;
    if (f->shm_present && f->shm.segsz == SHMCHAN_LAYOUT_HEADER_SIZE &&
        (!f->sem_present || mu_set)) {
        return f->max_mode | 0044u;
    }
    return f->max_mode;
}

int shmchan_probe_is_single_user(const shmchan_probe_facts_t *f)
{
    return f->sem_present && f->sem.nsems != SHMCHAN_SEM_MU_COUNT &&
           shmchan_layout_nsems_valid(f->sem.nsems);
}

/* Non-NULL: why an object with these credentials is not ours. */
static const char *ownership_problem(const shmchan_probe_facts_t *f, uid_t uid, uid_t cuid,
                                     unsigned mode, char *buf, size_t len)
{
    return shmchan_ownership_problem(f->me, f->max_mode, uid, cuid, mode, buf, len);
}

/* The segment alone (no semaphore set at the key, or a dead one). */
static void judge_segment(const shmchan_probe_facts_t *f, shmchan_judgement_t *out,
                          int sem_dead_ours)
{
    char why[96];
    const unsigned key = (unsigned)f->key;
    if (f->shm_errno != 0) {
        decide(out, SHMCHAN_VERDICT_FOREIGN, 0, 0,
               "segment at key 0x%08x (shmid %d) cannot be inspected: %s", key, f->shm.shmid,
               strerror(f->shm_errno));
        return;
    }
    const char *p = shmchan_ownership_problem(f->me, shmchan_probe_shm_max_mode(f), f->shm.uid,
                                              f->shm.cuid, f->shm.mode, why, sizeof why);
    if (p != NULL) {
        decide(out, SHMCHAN_VERDICT_FOREIGN, 0, 0, "segment at key 0x%08x (shmid %d): %s", key,
               f->shm.shmid, p);
        return;
    }
    if (f->header_read && f->header_err == SHMCHAN_OK) {
        if (f->sem_present) {
            /* Both present: they must be one instance. */
            if (f->header.semid != (uint32_t)f->sem.semid ||
                f->header.layout.nsems != f->sem.nsems) {
                decide(out, SHMCHAN_VERDICT_FOREIGN, 0, 0,
                       "segment at key 0x%08x (shmid %d) belongs to semaphore set %u, not to "
                       "set %d found at the key",
                       key, f->shm.shmid, f->header.semid, f->sem.semid);
                return;
            }
            /* The token is 0, but did the kernel take it down at the
             * server's exit, or did a process with alter permission? */
            if (!shmchan_server_token_released(f->sem_alive, f->sem_alive_pid, f->shm.cpid)) {
                decide(out, SHMCHAN_VERDICT_LIVE, 0, 0,
                       "key 0x%08x: liveness token 0, but last changed by pid %d, not by the "
                       "exit of server pid %d: not provably dead (if it is: ipcrm -s %d -m %d)",
                       key, (int)f->sem_alive_pid, (int)f->shm.cpid, f->sem.semid, f->shm.shmid);
                return;
            }
            /* Server dead (kernel-guaranteed): reclaim both, even if old
             * clients are still attached: they get EIDRM on their next
             * semaphore operation and report the channel closed. */
            decide(out, SHMCHAN_VERDICT_STALE, 1, 1,
                   "server of key 0x%08x is dead (liveness token released); %llu process(es) "
                   "still attached",
                   key, (unsigned long long)f->shm.nattch);
            return;
        }
        if (f->shm.nattch > 0) {
            decide(out, SHMCHAN_VERDICT_BUSY, 0, 0,
                   "segment at key 0x%08x (shmid %d) has no semaphore set but %llu process(es) "
                   "attached",
                   key, f->shm.shmid, (unsigned long long)f->shm.nattch);
            return;
        }
        decide(out, SHMCHAN_VERDICT_STALE, 0, 1,
               "segment at key 0x%08x (shmid %d) has no semaphore set and no process attached",
               key, f->shm.shmid);
        return;
    }
    /* No valid header. A creator that died between shmget() and publishing
     * the magic leaves a segment *without magic*; it is provably that
     * creator's only if the kernel says the same process created the
     * segment and last operated the (dead) liveness token, and nobody is
     * attached. A header that has the magic but fails another check was
     * complete once (the magic is stored last) and has been altered since:
     * that is never reclaimed. */
    if (sem_dead_ours && f->header_read && f->header_err == SHMCHAN_E_LAYOUT_MAGIC &&
        f->shm.nattch == 0 &&
        shmchan_server_token_released(f->sem_alive, f->sem_alive_pid, f->shm.cpid)) {
        decide(out, SHMCHAN_VERDICT_STALE, 1, 1,
               "server of key 0x%08x died while initialising (pid %d created both objects)", key,
               (int)f->shm.cpid);
        return;
    }
    if (f->shm.nattch > 0 && (!f->header_read || f->header_err == SHMCHAN_E_LAYOUT_MAGIC)) {
        decide(out, SHMCHAN_VERDICT_BUSY, 0, 0,
               "segment at key 0x%08x (shmid %d) has no shmchan header yet and %llu process(es) "
               "attached",
               key, f->shm.shmid, (unsigned long long)f->shm.nattch);
        return;
    }
    decide(out, SHMCHAN_VERDICT_FOREIGN, 0, 0,
           "segment at key 0x%08x (shmid %d, size %llu): not a shmchan channel (%s)", key,
           f->shm.shmid, (unsigned long long)f->shm.segsz,
           f->header_read ? shmchan_strerror(f->header_err) : "header not readable");
}

void shmchan_probe_judge(const shmchan_probe_facts_t *f, shmchan_judgement_t *out)
{
    memset(out, 0, sizeof *out);
    const unsigned key = (unsigned)f->key;
    char why[96];

    if (!f->sem_present && !f->shm_present) {
        decide(out, SHMCHAN_VERDICT_ABSENT, 0, 0, "no IPC object at key 0x%08x", key);
        return;
    }
    if (!f->sem_present) {
        judge_segment(f, out, 0);
        return;
    }

    if (f->sem_errno != 0) {
        decide(out, SHMCHAN_VERDICT_FOREIGN, 0, 0,
               "semaphore set at key 0x%08x cannot be inspected: %s", key,
               strerror(f->sem_errno));
        return;
    }
    const char *p = ownership_problem(f, f->sem.uid, f->sem.cuid, f->sem.mode, why, sizeof why);
    if (p != NULL) {
        decide(out, SHMCHAN_VERDICT_FOREIGN, 0, 0, "semaphore set at key 0x%08x (semid %d): %s",
               key, f->sem.semid, p);
        return;
    }
    if (!shmchan_layout_nsems_valid(f->sem.nsems)) {
        decide(out, SHMCHAN_VERDICT_FOREIGN, 0, 0,
               "semaphore set at key 0x%08x (semid %d) has %u semaphores, not a shmchan shape",
               key, f->sem.semid, f->sem.nsems);
        return;
    }
    if (f->sem.otime == 0) {
        /* No semop() yet: the creator is between semget() and its first
         * semop(), or died there. Creation's first semop sets the marker
         * and the token atomically, so nothing proves the set is ours. */
        const int64_t age = f->now - f->sem.ctime;
        if (age < SHMCHAN_INIT_GRACE_SECONDS) {
            decide(out, SHMCHAN_VERDICT_BUSY, 0, 0,
                   "semaphore set at key 0x%08x (semid %d) is being initialised", key,
                   f->sem.semid);
        } else {
            decide(out, SHMCHAN_VERDICT_FOREIGN, 0, 0,
                   "semaphore set at key 0x%08x (semid %d) was never initialised (%lld s old); "
                   "not provably shmchan's: remove it by hand (ipcrm -s %d) if it is",
                   key, f->sem.semid, (long long)age, f->sem.semid);
        }
        return;
    }
    if (!f->sem_values_read || f->sem_marker != SHMCHAN_SEM_MARKER_VALUE) {
        decide(out, SHMCHAN_VERDICT_FOREIGN, 0, 0,
               "semaphore set at key 0x%08x (semid %d) lacks the shmchan marker", key,
               f->sem.semid);
        return;
    }
    if (f->sem_alive != 0) {
        decide(out, SHMCHAN_VERDICT_LIVE, 0, 0,
               "a live shmchan server (pid %d) owns key 0x%08x (semid %d)", (int)f->sem_alive_pid,
               key, f->sem.semid);
        return;
    }
    /* Our set, its token down. Without a segment there is no kernel record
     * of the server's pid to check the token against; a set alone serves
     * nobody (clients need the segment), so removing it can at worst fail
     * a server in the microseconds between its first semop and its shmget,
     * which then rolls back with an error. */
    if (!f->shm_present) {
        decide(out, SHMCHAN_VERDICT_STALE, 1, 0,
               "server of key 0x%08x is dead (liveness token released); no segment", key);
        return;
    }
    judge_segment(f, out, 1);
}
