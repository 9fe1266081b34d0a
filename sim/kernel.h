/*
 * kernel.h - a simulated System V IPC kernel (segments, semaphore sets,
 * processes, SEM_UNDO), for the deterministic simulation (docs/simulation.md).
 *
 * Pure: no system calls, no clock of its own, no scheduling. Every call
 * names the calling simulated process and returns 0 or a positive errno
 * exactly where shmget(2), shmat(2), shmctl(2), semget(2), semop(2) and
 * semctl(2) say the real kernel fails. Blocking is not modelled here: a
 * semop that would wait returns SIMK_WOULD_WAIT and the caller (sim/sysv_wrap.c)
 * parks the task; `version` of a set changes on every change of its values,
 * which is what a parked task waits for.
 */
#ifndef SHMCHAN_SIM_KERNEL_H
#define SHMCHAN_SIM_KERNEL_H

#include <stdint.h>
#include <sys/types.h>

/* Kernel limits, small so that they are reached (ipc(5) names them). */
#define SIMK_MAX_PROCS 12
#define SIMK_SHMMNI 6       /* segments */
#define SIMK_SEMMNI 6       /* semaphore sets */
#define SIMK_SEMMSL 40      /* semaphores per set */
#define SIMK_SEMOPM 16      /* operations per semop */
#define SIMK_SHMMAX (1u << 20)
#define SIMK_SEMVMX 32767
#define SIMK_SEMAEM 16384   /* max |undo adjustment| */
#define SIMK_MAX_ATTACH 32
#define SIMK_ID_SEQ 32768   /* id = seq * SIMK_ID_SEQ + index, as Linux */

#define SIMK_WOULD_WAIT (-1)

typedef struct simk_perm {
    key_t key;
    uid_t uid, cuid;
    unsigned mode;
} simk_perm_t;

typedef struct simk_shm {
    int used;
    int id;
    int dest;         /* IPC_RMID seen: key private, destroyed at nattch 0 */
    simk_perm_t perm;
    uint64_t size;
    uint8_t *mem;
    uint32_t nattch;
    pid_t cpid, lpid;
} simk_shm_t;

typedef struct simk_sem {
    int used;
    int id;
    simk_perm_t perm;
    uint32_t nsems;
    pid_t cpid; /* not in semid_ds: kept for the oracles */
    unsigned short val[SIMK_SEMMSL];
    pid_t pid[SIMK_SEMMSL];
    int64_t otime, ctime;
    uint32_t version;
} simk_sem_t;

typedef struct simk_proc {
    int used;
    int alive;
    pid_t pid;
    uid_t uid;
    /* SEM_UNDO adjustments, per set index and semaphore; each entry is
     * tagged with the id it was made for, so a recycled index starts clean. */
    int undo_id[SIMK_SEMMNI];
    short undo[SIMK_SEMMNI][SIMK_SEMMSL];
} simk_proc_t;

typedef struct simk_attach {
    int used;
    int proc;
    int shm;
    uint8_t *addr;
} simk_attach_t;

typedef struct simk {
    simk_proc_t procs[SIMK_MAX_PROCS];
    simk_shm_t shm[SIMK_SHMMNI];
    uint32_t shm_seq[SIMK_SHMMNI];
    simk_sem_t sem[SIMK_SEMMNI];
    uint32_t sem_seq[SIMK_SEMMNI];
    simk_attach_t att[SIMK_MAX_ATTACH];
    int64_t wall; /* seconds, for otime/ctime */
    /* Every IPC_RMID, for the oracle "nothing removes what is not ours". */
    void (*on_remove)(void *ctx, int proc, int is_sem, int id, pid_t creator);
    void *on_remove_ctx;
} simk_t;

typedef struct simk_semop {
    unsigned short num;
    short op;
    short flg;
} simk_semop_t;

void simk_init(simk_t *k);
/* Frees every segment's memory. */
void simk_fini(simk_t *k);

/* A new process (its index), or -1 if the table is full. */
int simk_proc_new(simk_t *k, pid_t pid, uid_t uid);
/* exit(2)/kill -9: SEM_UNDO adjustments applied (clamped to 0..SEMVMX, as
 * Linux), every attachment dropped. */
void simk_proc_exit(simk_t *k, int proc);

int simk_shmget(simk_t *k, int proc, key_t key, uint64_t size, int flags, int *id);
int simk_shmat(simk_t *k, int proc, int id, int readonly, uint8_t **addr);
int simk_shmdt(simk_t *k, int proc, const uint8_t *addr);
int simk_shm_stat(simk_t *k, int proc, int id, simk_shm_t *out);
int simk_shm_rmid(simk_t *k, int proc, int id);
int simk_shm_set(simk_t *k, int proc, int id, uid_t uid, unsigned mode);
/* SHM_STAT by index: the id, or an errno for an unused index. */
int simk_shm_stat_index(simk_t *k, int proc, int index, simk_shm_t *out);

int simk_semget(simk_t *k, int proc, key_t key, int nsems, int flags, int *id);
/* Applies all ops or none. SIMK_WOULD_WAIT with *blocked_nowait set if the
 * op that would wait had IPC_NOWAIT (the caller returns EAGAIN). */
int simk_semop(simk_t *k, int proc, int id, const simk_semop_t *ops, uint32_t nops,
               int *blocked_nowait);
int simk_sem_stat(simk_t *k, int proc, int id, simk_sem_t *out);
int simk_sem_stat_index(simk_t *k, int proc, int index, simk_sem_t *out);
int simk_sem_rmid(simk_t *k, int proc, int id);
int simk_sem_set(simk_t *k, int proc, int id, uid_t uid, unsigned mode);
int simk_sem_getval(simk_t *k, int proc, int id, uint32_t num, int *val);
int simk_sem_getpid(simk_t *k, int proc, int id, uint32_t num, pid_t *pid);
int simk_sem_getall(simk_t *k, int proc, int id, unsigned short *vals);
int simk_sem_setval(simk_t *k, int proc, int id, uint32_t num, int val);
/* The set behind `id` (NULL if none): its version, for parked waiters. */
const simk_sem_t *simk_sem_find(const simk_t *k, int id);

#endif /* SHMCHAN_SIM_KERNEL_H */
