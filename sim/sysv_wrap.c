/*
 * sysv_wrap.c - the simulated kernel behind the real library.
 *
 * The simulation targets link the production //src:shmchan unchanged, with
 * `-Wl,--wrap=` for every libc call its OS layer (src/sysv.c) makes:
 * semget, semctl, semtimedop, shmget, shmat, shmdt, shmctl, clock_gettime,
 * time, getrandom, and geteuid/getpid (client.c, probe.c). So sysv.c's own
 * logic (EINTR retries on the time left, the cancel flag, errno mapping)
 * runs as in production; only the kernel below it is simulated. Outside a
 * simulated task every wrapper passes through to the real call.
 *
 * Each call is a switch point (sim_switch_point) before it acts, so another
 * process may run between any two system calls of this one.
 *
 * calloc and free are wrapped too: blocks a simulated process allocates are
 * its own, freed when it is killed (a real kill returns the whole address
 * space; without this LeakSanitizer would report every kill).
 *
 * Resource faults: in a scenario that allows them, a call that allocates
 * in the kernel or the heap may fail as the man pages say it can when
 * memory or an id table runs out, whatever the simulated tables hold:
 * semget/shmget creating (ENOSPC, ENOMEM), shmat (ENOMEM), a semop that
 * takes a token with SEM_UNDO (ENOMEM: the undo structure; approximated as
 * any such op, where Linux fails only the first per process and set), and
 * calloc (NULL). One input byte per eligible call decides (1 in
 * SIM_FAULT_ONE_IN). What must hold is that every failure is reported and
 * rolled back: the leftover oracle runs after every such run.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "sim/sched.h"

/* The real functions (the linker's names under --wrap). */
int __real_semget(key_t key, int nsems, int flags);
int __real_semctl(int semid, int semnum, int cmd, ...);
int __real_semtimedop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *t);
int __real_shmget(key_t key, size_t size, int flags);
void *__real_shmat(int shmid, const void *addr, int flags);
int __real_shmdt(const void *addr);
int __real_shmctl(int shmid, int cmd, struct shmid_ds *buf);
int __real_clock_gettime(clockid_t clk, struct timespec *ts);
time_t __real_time(time_t *t);
ssize_t __real_getrandom(void *buf, size_t n, unsigned flags);
uid_t __real_geteuid(void);
pid_t __real_getpid(void);
void *__real_calloc(size_t n, size_t size);
void __real_free(void *p);

int __wrap_semget(key_t key, int nsems, int flags);
int __wrap_semctl(int semid, int semnum, int cmd, ...);
int __wrap_semtimedop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *t);
int __wrap_shmget(key_t key, size_t size, int flags);
void *__wrap_shmat(int shmid, const void *addr, int flags);
int __wrap_shmdt(const void *addr);
int __wrap_shmctl(int shmid, int cmd, struct shmid_ds *buf);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
time_t __wrap_time(time_t *t);
ssize_t __wrap_getrandom(void *buf, size_t n, unsigned flags);
uid_t __wrap_geteuid(void);
pid_t __wrap_getpid(void);
void *__wrap_calloc(size_t n, size_t size);
void __wrap_free(void *p);

union sim_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

/* Enters a simulated system call: the switch point, then the caller's
 * task (NULL outside the simulation: pass through). */
static sim_task_t *enter_named(const char *name, sim_sys_kind_t kind)
{
    sim_task_t *t = sim_current();
    if (t == NULL) {
        return NULL;
    }
    /* Seen by the world while this task waits at the switch point: the
     * timed events (world.c) fire at the entry of a chosen call. */
    t->at_sys = kind;
    sim_switch_point();
    t->at_sys = SIM_SYS_NONE;
    if (sim_active->trace >= 2) {
        sim_trace(sim_active, "  %s", name);
    }
    sim_sched_t *s = sim_active;
    s->kernel.wall = 1700000000 + s->now / 1000000000;
    return sim_current();
}

#define enter(kind) enter_named(__func__ + 7, kind) /* the name after "__wrap_" */

#define SIM_FAULT_ONE_IN 12u

/* 1 if this eligible call fails with a resource fault (see above). */
static int fault(sim_task_t *t, const char *call, const char *err)
{
    sim_sched_t *s = sim_active;
    if (!s->faults || sim_byte(s) % SIM_FAULT_ONE_IN != 0) {
        return 0;
    }
    t->faults_injected++;
    sim_trace(s, "%s fails with %s (resource fault injected)", call, err);
    return 1;
}

static int ret_errno(int e)
{
    if (e != 0) {
        errno = e;
        return -1;
    }
    return 0;
}

int __wrap_semget(key_t key, int nsems, int flags)
{
    sim_task_t *t = enter(SIM_SYS_SEMGET);
    if (t == NULL) {
        return __real_semget(key, nsems, flags);
    }
    if ((flags & IPC_CREAT) && fault(t, "semget", "ENOSPC")) {
        return ret_errno(ENOSPC);
    }
    int id = -1;
    const int e = simk_semget(&sim_active->kernel, t->proc, key, nsems, flags, &id);
    if (e == 0 && (flags & IPC_CREAT)) {
        sim_trace(sim_active, "semget(0x%x, %d, %s%04o) = %d", (unsigned)key, nsems,
                  (flags & IPC_EXCL) ? "CREAT|EXCL|" : "CREAT|", (unsigned)flags & 0777u, id);
    }
    return e != 0 ? ret_errno(e) : id;
}

static void sem_to_ds(const simk_sem_t *s, struct semid_ds *ds)
{
    memset(ds, 0, sizeof *ds);
    ds->sem_perm.__key = s->perm.key;
    ds->sem_perm.uid = s->perm.uid;
    ds->sem_perm.cuid = s->perm.cuid;
    ds->sem_perm.gid = s->perm.uid;
    ds->sem_perm.cgid = s->perm.cuid;
    ds->sem_perm.mode = (unsigned short)s->perm.mode;
    ds->sem_nsems = s->nsems;
    ds->sem_otime = (time_t)s->otime;
    ds->sem_ctime = (time_t)s->ctime;
}

static sim_sys_kind_t semctl_kind(int cmd)
{
    switch (cmd) {
    case SETVAL:
    case SETALL:
        return SIM_SYS_SEMCTL_SET;
    case GETVAL:
    case GETPID:
    case GETALL:
    case GETNCNT:
    case GETZCNT:
        return SIM_SYS_SEMCTL_GET;
    default:
        return SIM_SYS_SEMCTL_IPC;
    }
}

int __wrap_semctl(int semid, int semnum, int cmd, ...)
{
    union sim_semun arg = {0};
    if (cmd == IPC_STAT || cmd == IPC_SET || cmd == GETALL || cmd == SETVAL || cmd == SETALL ||
        cmd == SEM_INFO || cmd == SEM_STAT || cmd == IPC_INFO) {
        va_list ap;
        va_start(ap, cmd);
        arg = va_arg(ap, union sim_semun);
        va_end(ap);
    }
    sim_task_t *t = enter(semctl_kind(cmd));
    if (t == NULL) {
        return __real_semctl(semid, semnum, cmd, arg);
    }
    simk_t *k = &sim_active->kernel;
    const uint32_t num = (uint32_t)semnum;
    simk_sem_t st;
    int v = 0;
    pid_t pid = 0;
    int e = 0;
    switch (cmd) {
    case IPC_STAT:
        e = simk_sem_stat(k, t->proc, semid, &st);
        if (e == 0) {
            sem_to_ds(&st, arg.buf);
        }
        return ret_errno(e);
    case SEM_STAT:
        e = simk_sem_stat_index(k, t->proc, semid, &st);
        if (e == 0) {
            sem_to_ds(&st, arg.buf);
            return st.id;
        }
        return ret_errno(e);
    case SEM_INFO: {
        int max = 0;
        for (int i = 0; i < SIMK_SEMMNI; i++) {
            max = k->sem[i].used ? i : max;
        }
        memset(arg.buf, 0, sizeof(struct seminfo));
        return max;
    }
    case IPC_SET:
        e = simk_sem_set(k, t->proc, semid, arg.buf->sem_perm.uid, arg.buf->sem_perm.mode);
        return ret_errno(e);
    case IPC_RMID:
        e = simk_sem_rmid(k, t->proc, semid);
        sim_trace(sim_active, "semctl(%d, IPC_RMID) = %s", semid, e ? strerror(e) : "0");
        return ret_errno(e);
    case GETVAL:
        e = simk_sem_getval(k, t->proc, semid, num, &v);
        return e != 0 ? ret_errno(e) : v;
    case GETPID:
        e = simk_sem_getpid(k, t->proc, semid, num, &pid);
        return e != 0 ? ret_errno(e) : (int)pid;
    case GETALL:
        return ret_errno(simk_sem_getall(k, t->proc, semid, arg.array));
    case SETVAL:
        e = simk_sem_setval(k, t->proc, semid, num, arg.val);
        sim_trace(sim_active, "semctl(%d, %d, SETVAL, %d) = %s", semid, semnum, arg.val,
                  e ? strerror(e) : "0");
        return ret_errno(e);
    default:
        return ret_errno(EINVAL);
    }
}

static void trace_ops(const char *what, int semid, const simk_semop_t *ops, size_t n)
{
    if (!sim_active->trace) {
        return;
    }
    char text[160];
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof text - 24; i++) {
        used += (size_t)snprintf(text + used, sizeof text - used, "%s{%u,%+d%s%s}", i ? "," : "",
                                 ops[i].num, ops[i].op, (ops[i].flg & SEM_UNDO) ? ",U" : "",
                                 (ops[i].flg & IPC_NOWAIT) ? ",NW" : "");
    }
    sim_trace(sim_active, "semop(%d, %s) %s", semid, text, what);
}

int __wrap_semtimedop(int semid, struct sembuf *sops, size_t nsops, const struct timespec *tmo)
{
    sim_task_t *t = enter(SIM_SYS_SEMOP);
    if (t == NULL) {
        return __real_semtimedop(semid, sops, nsops, tmo);
    }
    sim_sched_t *s = sim_active;
    simk_semop_t ops[SIMK_SEMOPM];
    if (nsops > SIMK_SEMOPM) {
        return ret_errno(E2BIG);
    }
    int takes_undo_token = 0;
    for (size_t i = 0; i < nsops; i++) {
        ops[i].num = sops[i].sem_num;
        ops[i].op = sops[i].sem_op;
        ops[i].flg = sops[i].sem_flg;
        takes_undo_token |= (sops[i].sem_flg & SEM_UNDO) != 0 && sops[i].sem_op > 0;
    }
    if (takes_undo_token && fault(t, "semop", "ENOMEM")) {
        return ret_errno(ENOMEM);
    }
    const int64_t until = tmo == NULL ? INT64_MAX
                                      : s->now + (int64_t)tmo->tv_sec * 1000000000 + tmo->tv_nsec;
    int parked = 0;
    for (;;) {
        const simk_sem_t *set = simk_sem_find(&s->kernel, semid);
        if (set == NULL) {
            /* semop(2): EIDRM if removed while we slept, EINVAL if the id
             * named nothing when we came. */
            return ret_errno(parked ? EIDRM : EINVAL);
        }
        const uint32_t version = set->version;
        int nowait = 0;
        const int e = simk_semop(&s->kernel, t->proc, semid, ops, (uint32_t)nsops, &nowait);
        if (e == 0) {
            trace_ops("", semid, ops, nsops);
            return 0;
        }
        if (e != SIMK_WOULD_WAIT) {
            return ret_errno(e);
        }
        if (nowait || s->now >= until) {
            return ret_errno(EAGAIN);
        }
        if (!parked) {
            trace_ops("sleeps", semid, ops, nsops);
        }
        sim_park(semid, version, until);
        parked = 1;
        if (t->signal_pending) {
            t->signal_pending = 0;
            return ret_errno(EINTR);
        }
    }
}

int __wrap_shmget(key_t key, size_t size, int flags)
{
    sim_task_t *t = enter(SIM_SYS_SHMGET);
    if (t == NULL) {
        return __real_shmget(key, size, flags);
    }
    if ((flags & IPC_CREAT) && fault(t, "shmget", "ENOMEM")) {
        return ret_errno(ENOMEM);
    }
    int id = -1;
    const int e = simk_shmget(&sim_active->kernel, t->proc, key, size, flags, &id);
    if (e == 0 && (flags & IPC_CREAT)) {
        sim_trace(sim_active, "shmget(0x%x, %zu, CREAT%s|%04o) = %d", (unsigned)key, size,
                  (flags & IPC_EXCL) ? "|EXCL" : "", (unsigned)flags & 0777u, id);
    }
    return e != 0 ? ret_errno(e) : id;
}

void *__wrap_shmat(int shmid, const void *addr, int flags)
{
    sim_task_t *t = enter(SIM_SYS_SHMAT);
    if (t == NULL) {
        return __real_shmat(shmid, addr, flags);
    }
    if (fault(t, "shmat", "ENOMEM")) {
        errno = ENOMEM;
        return (void *)-1;
    }
    uint8_t *p = NULL;
    const int e =
        simk_shmat(&sim_active->kernel, t->proc, shmid, (flags & SHM_RDONLY) != 0, &p);
    if (e != 0) {
        errno = e;
        return (void *)-1;
    }
    return p;
}

int __wrap_shmdt(const void *addr)
{
    sim_task_t *t = enter(SIM_SYS_SHMDT);
    if (t == NULL) {
        return __real_shmdt(addr);
    }
    return ret_errno(simk_shmdt(&sim_active->kernel, t->proc, addr));
}

static void shm_to_ds(const simk_shm_t *s, struct shmid_ds *ds)
{
    memset(ds, 0, sizeof *ds);
    ds->shm_perm.__key = s->perm.key;
    ds->shm_perm.uid = s->perm.uid;
    ds->shm_perm.cuid = s->perm.cuid;
    ds->shm_perm.gid = s->perm.uid;
    ds->shm_perm.cgid = s->perm.cuid;
    ds->shm_perm.mode = (unsigned short)(s->perm.mode | (s->dest ? SHM_DEST : 0));
    ds->shm_segsz = (size_t)s->size;
    ds->shm_nattch = s->nattch;
    ds->shm_cpid = s->cpid;
    ds->shm_lpid = s->lpid;
}

int __wrap_shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
    sim_task_t *t = enter(SIM_SYS_SHMCTL);
    if (t == NULL) {
        return __real_shmctl(shmid, cmd, buf);
    }
    simk_t *k = &sim_active->kernel;
    simk_shm_t st;
    int e = 0;
    switch (cmd) {
    case IPC_STAT:
        e = simk_shm_stat(k, t->proc, shmid, &st);
        if (e == 0) {
            shm_to_ds(&st, buf);
        }
        return ret_errno(e);
    case SHM_STAT:
        e = simk_shm_stat_index(k, t->proc, shmid, &st);
        if (e == 0) {
            shm_to_ds(&st, buf);
            return st.id;
        }
        return ret_errno(e);
    case SHM_INFO: {
        int max = 0;
        for (int i = 0; i < SIMK_SHMMNI; i++) {
            max = k->shm[i].used ? i : max;
        }
        memset(buf, 0, sizeof(struct shm_info));
        return max;
    }
    case IPC_SET:
        return ret_errno(simk_shm_set(k, t->proc, shmid, buf->shm_perm.uid, buf->shm_perm.mode));
    case IPC_RMID:
        e = simk_shm_rmid(k, t->proc, shmid);
        sim_trace(sim_active, "shmctl(%d, IPC_RMID) = %s", shmid, e ? strerror(e) : "0");
        return ret_errno(e);
    default:
        return ret_errno(EINVAL);
    }
}

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
    sim_task_t *t = enter(SIM_SYS_OTHER);
    if (t == NULL) {
        return __real_clock_gettime(clk, ts);
    }
    const int64_t ns = clk == CLOCK_REALTIME ? sim_active->kernel.wall * 1000000000
                                             : sim_active->now;
    ts->tv_sec = (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
    return 0;
}

time_t __wrap_time(time_t *out)
{
    sim_task_t *t = enter(SIM_SYS_OTHER);
    if (t == NULL) {
        return __real_time(out);
    }
    const time_t v = (time_t)sim_active->kernel.wall;
    if (out != NULL) {
        *out = v;
    }
    return v;
}

ssize_t __wrap_getrandom(void *buf, size_t n, unsigned flags)
{
    sim_task_t *t = enter(SIM_SYS_OTHER);
    if (t == NULL) {
        return __real_getrandom(buf, n, flags);
    }
    for (size_t i = 0; i < n; i++) {
        ((uint8_t *)buf)[i] = sim_byte(sim_active);
    }
    return (ssize_t)n;
}

uid_t __wrap_geteuid(void)
{
    const sim_task_t *t = sim_current();
    return t != NULL ? t->uid : __real_geteuid();
}

pid_t __wrap_getpid(void)
{
    const sim_task_t *t = sim_current();
    return t != NULL ? t->pid : __real_getpid();
}

void *__wrap_calloc(size_t n, size_t size)
{
    sim_task_t *t = sim_current();
    if (t != NULL && fault(t, "calloc", "NULL")) {
        return NULL;
    }
    void *p = __real_calloc(n, size);
    if (t != NULL && p != NULL) {
        for (int i = 0; i < SIM_MAX_ALLOCS; i++) {
            if (t->allocs[i] == NULL) {
                t->allocs[i] = p;
                break;
            }
        }
    }
    return p;
}

void __wrap_free(void *p)
{
    sim_sched_t *s = sim_active;
    if (s != NULL && p != NULL) {
        for (int i = 0; i < SIM_MAX_TASKS; i++) {
            for (int j = 0; j < SIM_MAX_ALLOCS; j++) {
                if (s->tasks[i].allocs[j] == p) {
                    s->tasks[i].allocs[j] = NULL;
                }
            }
        }
    }
    __real_free(p);
}
