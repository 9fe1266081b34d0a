/*
 * sysv.c - System V IPC wrappers (see sysv.h for the contract).
 */
/* semtimedop(2), SHM_INFO and SHM_STAT are GNU extensions of <sys/sem.h> and
 * <sys/shm.h>; this is the one file that needs them. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "sysv.h"

/* semctl(2): "the calling program must define this union". */
union shmchan_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

void shmchan_diag_set(shmchan_diag_t *diag, shmchan_err_t code, int sys_errno, const char *fmt,
                      ...)
{
    if (diag == NULL) {
        return;
    }
    diag->code = code;
    diag->sys_errno = sys_errno;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(diag->text, sizeof diag->text, fmt, ap);
    va_end(ap);
}

shmchan_err_t shmchan_sys_map_errno(int err, shmchan_sys_op_t op)
{
    switch (err) {
    case EEXIST:
        return SHMCHAN_E_ALREADY_RUNNING; /* refined by the caller's analysis */
    case ENOENT:
        return SHMCHAN_E_NOT_FOUND;
    case EACCES:
    case EPERM:
        return SHMCHAN_E_PERMISSION;
    case EIDRM:
        /* The object was removed (IPC_RMID, ipcrm, systemd RemoveIPC=yes). */
        return SHMCHAN_E_CLOSED;
    case EINVAL:
        /* For an operation on an existing id, EINVAL means the id no longer
         * names an object: it was removed before the call. For get, it means
         * the size is outside SHMMIN..SHMMAX or nsems outside 1..SEMMSL. */
        return (op == SHMCHAN_SYS_OP_GET) ? SHMCHAN_E_LIMIT : SHMCHAN_E_CLOSED;
    case ENOSPC: /* SHMMNI/SEMMNI/SEMMNS/SHMALL exhausted */
    case ENFILE: /* system-wide file table full: shmget(2) */
    case E2BIG:
    case ERANGE:
    case EMFILE:
        return SHMCHAN_E_LIMIT;
    case ENOMEM:
        return SHMCHAN_E_NO_MEMORY;
    case EAGAIN:
        return SHMCHAN_E_TIMEOUT;
    case EINTR:
        return SHMCHAN_E_INTERRUPTED;
    case EFBIG:
        return SHMCHAN_E_INVALID_ARGUMENT;
    default:
        return SHMCHAN_E_SYSTEM;
    }
}

static shmchan_err_t fail(shmchan_diag_t *diag, shmchan_sys_op_t op, int err, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

/* Records a failed call: "<what>: <strerror>". err is saved by the caller
 * at once, before anything else can clobber errno. */
static shmchan_err_t fail(shmchan_diag_t *diag, shmchan_sys_op_t op, int err, const char *fmt,
                          ...)
{
    const shmchan_err_t code = shmchan_sys_map_errno(err, op);
    if (diag != NULL) {
        char what[SHMCHAN_DIAG_TEXT_MAX / 2];
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        shmchan_diag_set(diag, code, err, "%s: %s", what, strerror(err));
    }
    return code;
}

shmchan_err_t shmchan_sys_shm_create(key_t key, uint64_t size, unsigned mode, int *shmid,
                                     shmchan_diag_t *diag)
{
    if (size > (uint64_t)SIZE_MAX) {
        return fail(diag, SHMCHAN_SYS_OP_GET, EINVAL, "shmget(key=0x%08x, size=%llu)",
                    (unsigned)key, (unsigned long long)size);
    }
    /* IPC_EXCL: never adopt an object someone else created at our key. */
    const int id = shmget(key, (size_t)size, IPC_CREAT | IPC_EXCL | (int)(mode & 0777u));
    if (id < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_GET, e,
                    "shmget(key=0x%08x, size=%llu, IPC_CREAT|IPC_EXCL|%04o)", (unsigned)key,
                    (unsigned long long)size, mode & 0777u);
    }
    *shmid = id;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_shm_lookup(key_t key, int *shmid, shmchan_diag_t *diag)
{
    const int id = shmget(key, 0, 0);
    if (id < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_GET, e, "shmget(key=0x%08x)", (unsigned)key);
    }
    *shmid = id;
    return SHMCHAN_OK;
}

static void shm_info_from_ds(int shmid, const struct shmid_ds *ds, shmchan_sys_shm_info_t *info)
{
    memset(info, 0, sizeof *info);
    info->shmid = shmid;
    info->key = ds->shm_perm.__key;
    info->uid = ds->shm_perm.uid;
    info->cuid = ds->shm_perm.cuid;
    info->gid = ds->shm_perm.gid;
    info->cgid = ds->shm_perm.cgid;
    info->mode = (unsigned)ds->shm_perm.mode & 0777u;
    info->segsz = (uint64_t)ds->shm_segsz;
    info->nattch = (uint64_t)ds->shm_nattch;
    info->cpid = ds->shm_cpid;
    info->lpid = ds->shm_lpid;
}

shmchan_err_t shmchan_sys_shm_stat(int shmid, shmchan_sys_shm_info_t *info, shmchan_diag_t *diag)
{
    struct shmid_ds ds;
    memset(&ds, 0, sizeof ds);
    if (shmctl(shmid, IPC_STAT, &ds) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "shmctl(shmid=%d, IPC_STAT)", shmid);
    }
    shm_info_from_ds(shmid, &ds, info);
    return SHMCHAN_OK;
}

/* IPC_SET needs the whole ipc_perm: read it, change the owner only, write
 * it back. Only the owner or the creator may IPC_SET, so between the two
 * calls nobody else can change what is written back. */
shmchan_err_t shmchan_sys_shm_give(int shmid, uid_t uid, shmchan_diag_t *diag)
{
    struct shmid_ds ds;
    memset(&ds, 0, sizeof ds);
    if (shmctl(shmid, IPC_STAT, &ds) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "shmctl(shmid=%d, IPC_STAT)", shmid);
    }
    ds.shm_perm.uid = uid;
    if (shmctl(shmid, IPC_SET, &ds) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "shmctl(shmid=%d, IPC_SET uid=%u)", shmid,
                    (unsigned)uid);
    }
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_shm_attach(int shmid, int readonly, uint8_t **addr,
                                     shmchan_diag_t *diag)
{
    void *p = shmat(shmid, NULL, readonly ? SHM_RDONLY : 0);
    if (p == (void *)-1) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_ATTACH, e, "shmat(shmid=%d%s)", shmid,
                    readonly ? ", SHM_RDONLY" : "");
    }
    *addr = p;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_shm_detach(uint8_t *addr, shmchan_diag_t *diag)
{
    if (shmdt(addr) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_ATTACH, e, "shmdt(%p)", (void *)addr);
    }
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_shm_remove(int shmid, shmchan_diag_t *diag)
{
    if (shmctl(shmid, IPC_RMID, NULL) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "shmctl(shmid=%d, IPC_RMID)", shmid);
    }
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_create(key_t key, uint32_t nsems, unsigned mode, int *semid,
                                     shmchan_diag_t *diag)
{
    if (nsems > (uint32_t)INT32_MAX) {
        return fail(diag, SHMCHAN_SYS_OP_GET, EINVAL, "semget(key=0x%08x, nsems=%u)",
                    (unsigned)key, nsems);
    }
    const int id = semget(key, (int)nsems, IPC_CREAT | IPC_EXCL | (int)(mode & 0777u));
    if (id < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_GET, e,
                    "semget(key=0x%08x, nsems=%u, IPC_CREAT|IPC_EXCL|%04o)", (unsigned)key,
                    nsems, mode & 0777u);
    }
    *semid = id;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_lookup(key_t key, int *semid, shmchan_diag_t *diag)
{
    const int id = semget(key, 0, 0);
    if (id < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_GET, e, "semget(key=0x%08x)", (unsigned)key);
    }
    *semid = id;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_stat(int semid, shmchan_sys_sem_info_t *info, shmchan_diag_t *diag)
{
    struct semid_ds ds;
    memset(&ds, 0, sizeof ds);
    union shmchan_semun arg = {.buf = &ds};
    if (semctl(semid, 0, IPC_STAT, arg) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "semctl(semid=%d, IPC_STAT)", semid);
    }
    memset(info, 0, sizeof *info);
    info->semid = semid;
    info->key = ds.sem_perm.__key;
    info->uid = ds.sem_perm.uid;
    info->cuid = ds.sem_perm.cuid;
    info->gid = ds.sem_perm.gid;
    info->cgid = ds.sem_perm.cgid;
    info->mode = (unsigned)ds.sem_perm.mode & 0777u;
    info->nsems = (uint32_t)ds.sem_nsems;
    info->otime = (int64_t)ds.sem_otime;
    info->ctime = (int64_t)ds.sem_ctime;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_give(int semid, uid_t uid, gid_t gid, shmchan_diag_t *diag)
{
    struct semid_ds ds;
    memset(&ds, 0, sizeof ds);
    union shmchan_semun arg = {.buf = &ds};
    if (semctl(semid, 0, IPC_STAT, arg) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "semctl(semid=%d, IPC_STAT)", semid);
    }
    ds.sem_perm.uid = uid;
    if (gid != SHMCHAN_SYS_GID_KEEP) {
        ds.sem_perm.gid = gid;
    }
    if (semctl(semid, 0, IPC_SET, arg) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "semctl(semid=%d, IPC_SET uid=%u gid=%u)", semid,
                    (unsigned)uid, (unsigned)ds.sem_perm.gid);
    }
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_remove(int semid, shmchan_diag_t *diag)
{
    if (semctl(semid, 0, IPC_RMID) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "semctl(semid=%d, IPC_RMID)", semid);
    }
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_getval(int semid, unsigned short semnum, int *value,
                                     shmchan_diag_t *diag)
{
    const int v = semctl(semid, semnum, GETVAL);
    if (v < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "semctl(semid=%d, %u, GETVAL)", semid,
                    (unsigned)semnum);
    }
    *value = v;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_getall(int semid, unsigned short *values, uint32_t cap,
                                     uint32_t *nsems, shmchan_diag_t *diag)
{
    /* GETALL writes as many shorts as the set has *now*, so the count that
     * sizes the buffer is asked for right here, not taken from an earlier
     * IPC_STAT: an id names a new set only after the old one was removed
     * and the kernel's sequence number for that index wrapped, but a
     * buffer overflow is not a risk worth weighing against one semctl. */
    shmchan_sys_sem_info_t info;
    const shmchan_err_t st = shmchan_sys_sem_stat(semid, &info, diag);
    if (st != SHMCHAN_OK) {
        return st;
    }
    if (info.nsems > cap) {
        shmchan_diag_set(diag, SHMCHAN_E_FOREIGN, 0,
                         "semctl(semid=%d, GETALL): the set now has %u semaphores, more than "
                         "the %u expected",
                         semid, info.nsems, cap);
        return SHMCHAN_E_FOREIGN;
    }
    union shmchan_semun arg = {.array = values};
    if (semctl(semid, 0, GETALL, arg) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "semctl(semid=%d, GETALL)", semid);
    }
    *nsems = info.nsems;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_setval(int semid, unsigned short semnum, int value,
                                     shmchan_diag_t *diag)
{
    union shmchan_semun arg = {.val = value};
    if (semctl(semid, semnum, SETVAL, arg) < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "semctl(semid=%d, %u, SETVAL, %d)", semid,
                    (unsigned)semnum, value);
    }
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_getpid(int semid, unsigned short semnum, pid_t *pid,
                                     shmchan_diag_t *diag)
{
    const int v = semctl(semid, semnum, GETPID);
    if (v < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "semctl(semid=%d, %u, GETPID)", semid,
                    (unsigned)semnum);
    }
    *pid = (pid_t)v;
    return SHMCHAN_OK;
}

int64_t shmchan_sys_now_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer (clock_gettime(2)). */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

void shmchan_sys_sleep_ns(int64_t ns)
{
    if (ns <= 0) {
        return;
    }
    const struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000),
                                .tv_nsec = (long)(ns % 1000000000)};
    /* One sleep, not resumed after a signal: the caller's loop looks at its
     * gate (deadline, cancel flag) again either way. */
    (void)nanosleep(&ts, NULL);
}

int64_t shmchan_sys_wall_seconds(void)
{
    return (int64_t)time(NULL);
}

uint64_t shmchan_sys_random_u64(void)
{
    uint64_t v = 0;
    /* getrandom(2) without flags blocks only before the pool is seeded at
     * boot; 8 bytes are never short-read (<= 256 bytes). On failure, fall
     * back to a clock-and-pid mix: the nonce is an identity, not a secret. */
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        v = (uint64_t)shmchan_sys_now_ns() ^ ((uint64_t)getpid() << 32);
    }
    return v;
}

shmchan_err_t shmchan_sys_semop(int semid, struct sembuf *ops, size_t nops, int64_t timeout_ns,
                                const volatile sig_atomic_t *cancel, shmchan_diag_t *diag)
{
    const int64_t deadline = (timeout_ns > 0) ? shmchan_sys_now_ns() + timeout_ns : 0;
    for (;;) {
        /* A flag set before this call, or by a signal that landed between
         * two sleeps (not inside semtimedop, so no EINTR), is seen here.
         * A signal that lands between this load and the kernel's entry is
         * the one window left: semtimedop has no signal-mask argument, so
         * that wait ends at its timeout, which callers cap at one liveness
         * period (wake.h, shmchan_wait_gate). */
        if (cancel != NULL && *cancel != 0) {
            return fail(diag, SHMCHAN_SYS_OP_SEMOP, EINTR, "semtimedop(semid=%d) cancelled",
                        semid);
        }
        struct timespec rel = {0, 0};
        if (timeout_ns > 0) {
            int64_t left = deadline - shmchan_sys_now_ns();
            if (left < 0) {
                left = 0;
            }
            rel.tv_sec = (time_t)(left / 1000000000);
            rel.tv_nsec = (long)(left % 1000000000);
        }
        /* timeout_ns == 0: the caller's IPC_NOWAIT flags make this
         * non-blocking; a NULL timeout is never passed, so no call here can
         * wait forever. */
        if (semtimedop(semid, ops, nops, &rel) == 0) {
            return SHMCHAN_OK;
        }
        const int e = errno;
        if (e == EINTR) {
            /* semop(2): never restarted after a signal handler, whatever
             * SA_RESTART says; retry on the time that remains. */
            if (cancel != NULL && *cancel != 0) {
                return fail(diag, SHMCHAN_SYS_OP_SEMOP, e, "semtimedop(semid=%d)", semid);
            }
            if (timeout_ns > 0 && shmchan_sys_now_ns() >= deadline) {
                return fail(diag, SHMCHAN_SYS_OP_SEMOP, EAGAIN, "semtimedop(semid=%d)", semid);
            }
            continue;
        }
        if (e == EAGAIN && timeout_ns == 0) {
            /* The common, expected outcome of a non-blocking attempt (a wake
             * post finding the token already there): no diag text unless
             * one was asked for, strerror() is not free. */
            if (diag != NULL) {
                shmchan_diag_set(diag, SHMCHAN_E_WOULD_BLOCK, e, "semtimedop(semid=%d): %s",
                                 semid, strerror(e));
            }
            return SHMCHAN_E_WOULD_BLOCK;
        }
        return fail(diag, SHMCHAN_SYS_OP_SEMOP, e, "semtimedop(semid=%d, nsops=%zu)", semid,
                    nops);
    }
}

shmchan_err_t shmchan_sys_shm_enumerate(int (*fn)(const shmchan_sys_shm_info_t *, void *),
                                        void *arg, shmchan_diag_t *diag)
{
    struct shm_info all;
    memset(&all, 0, sizeof all);
    /* SHM_INFO returns the highest used index into the kernel's array. */
    const int max_index = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&all);
    if (max_index < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "shmctl(0, SHM_INFO)");
    }
    for (int index = 0; index <= max_index; index++) {
        struct shmid_ds ds;
        memset(&ds, 0, sizeof ds);
        /* SHM_STAT takes an index and returns the id; unused indices and
         * segments we may not read fail with EINVAL/EACCES: skip them. */
        const int shmid = shmctl(index, SHM_STAT, &ds);
        if (shmid < 0) {
            continue;
        }
        shmchan_sys_shm_info_t info;
        shm_info_from_ds(shmid, &ds, &info);
        if (fn(&info, arg) != 0) {
            break;
        }
    }
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_sys_sem_enumerate(int (*fn)(int semid, key_t key, void *), void *arg,
                                        shmchan_diag_t *diag)
{
    struct seminfo all;
    memset(&all, 0, sizeof all);
    union shmchan_semun info_arg = {.buf = (struct semid_ds *)(void *)&all};
    /* SEM_INFO returns the highest used index, like SHM_INFO. */
    const int max_index = semctl(0, 0, SEM_INFO, info_arg);
    if (max_index < 0) {
        const int e = errno;
        return fail(diag, SHMCHAN_SYS_OP_CTL, e, "semctl(0, 0, SEM_INFO)");
    }
    for (int index = 0; index <= max_index; index++) {
        struct semid_ds ds;
        memset(&ds, 0, sizeof ds);
        union shmchan_semun stat_arg = {.buf = &ds};
        const int semid = semctl(index, 0, SEM_STAT, stat_arg);
        if (semid < 0) {
            continue; /* unused index, or a set we may not read */
        }
        if (fn(semid, ds.sem_perm.__key, arg) != 0) {
            break;
        }
    }
    return SHMCHAN_OK;
}
