/*
 * sysv.h - the thin OS layer: System V shared memory and semaphores.
 *
 * The only file that calls shm*() and sem*(). Each wrapper
 *   - retries EINTR where the call is restartable, on the *remaining* time
 *     for timed waits (semop is never restarted by SA_RESTART: semop(2));
 *   - maps errno to shmchan_err_t in one place (shmchan_sys_map_errno);
 *   - on failure fills the optional diag with the call, the object (key or
 *     id) and strerror(errno).
 * Nothing here reads or writes the segment's contents.
 */
#ifndef SHMCHAN_SYSV_H
#define SHMCHAN_SYSV_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmchan.h"

struct sembuf;

typedef struct shmchan_sys_shm_info {
    int shmid;
    key_t key;
    uid_t uid, cuid;
    gid_t gid, cgid;
    unsigned mode; /* permission bits only (& 0777) */
    uint64_t segsz;
    uint64_t nattch;
    pid_t cpid, lpid;
} shmchan_sys_shm_info_t;

typedef struct shmchan_sys_sem_info {
    int semid;
    key_t key;
    uid_t uid, cuid;
    gid_t gid, cgid;
    unsigned mode;
    uint32_t nsems;
    int64_t otime; /* 0: no semop() ever on this set */
    int64_t ctime;
} shmchan_sys_sem_info_t;

/* The errno of a failed call as a shmchan error. `op` selects the man-page
 * meaning where one errno means different things for different calls. */
typedef enum shmchan_sys_op {
    SHMCHAN_SYS_OP_GET,    /* shmget/semget */
    SHMCHAN_SYS_OP_CTL,    /* shmctl/semctl */
    SHMCHAN_SYS_OP_ATTACH, /* shmat/shmdt */
    SHMCHAN_SYS_OP_SEMOP   /* semop/semtimedop */
} shmchan_sys_op_t;
shmchan_err_t shmchan_sys_map_errno(int err, shmchan_sys_op_t op);

/* Fills diag (if non-NULL) with code, errno and a printf-style text. */
void shmchan_diag_set(shmchan_diag_t *diag, shmchan_err_t code, int sys_errno,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Shared memory. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_shm_create(key_t key, uint64_t size, unsigned mode,
                                                        int *shmid, shmchan_diag_t *diag);
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_shm_lookup(key_t key, int *shmid,
                                                        shmchan_diag_t *diag);
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_shm_stat(int shmid, shmchan_sys_shm_info_t *info,
                                                      shmchan_diag_t *diag);
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_shm_attach(int shmid, int readonly,
                                                        uint8_t **addr, shmchan_diag_t *diag);
shmchan_err_t shmchan_sys_shm_detach(uint8_t *addr, shmchan_diag_t *diag);
/* Gives the segment to `uid` (IPC_SET of the owner; mode and group kept).
 * The creator keeps its rights: ipc(2) grants the owner's bits to owner and
 * creator alike (tests/multiuser_kernel_test.c). */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_shm_give(int shmid, uid_t uid, shmchan_diag_t *diag);
shmchan_err_t shmchan_sys_shm_remove(int shmid, shmchan_diag_t *diag);

/* Semaphores. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_sem_create(key_t key, uint32_t nsems, unsigned mode,
                                                        int *semid, shmchan_diag_t *diag);
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_sem_lookup(key_t key, int *semid,
                                                        shmchan_diag_t *diag);
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_sem_stat(int semid, shmchan_sys_sem_info_t *info,
                                                      shmchan_diag_t *diag);
/* The same for a semaphore set; gid, unless SHMCHAN_SYS_GID_KEEP, becomes
 * the set's group too (a doorbell given to the one allowed group). */
#define SHMCHAN_SYS_GID_KEEP ((gid_t)-1)
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_sem_give(int semid, uid_t uid, gid_t gid,
                                                      shmchan_diag_t *diag);
shmchan_err_t shmchan_sys_sem_remove(int semid, shmchan_diag_t *diag);
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_sem_getval(int semid, unsigned short semnum,
                                                        int *value, shmchan_diag_t *diag);
/* values holds cap entries. Asks the kernel how many semaphores the set
 * has right before GETALL, refuses (SHMCHAN_E_FOREIGN) more than cap, and
 * sets *nsems to the count read. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_sem_getall(int semid, unsigned short *values,
                                                        uint32_t cap, uint32_t *nsems,
                                                        shmchan_diag_t *diag);
/* SETVAL: the value becomes exactly `value` (never ERANGE for 0..SEMVMX).
 * semctl(2): it also clears every process's SEM_UNDO adjustment of that
 * semaphore, so it is used only on semaphores nobody holds with SEM_UNDO. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_sem_setval(int semid, unsigned short semnum,
                                                        int value, shmchan_diag_t *diag);
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_sem_getpid(int semid, unsigned short semnum,
                                                        pid_t *pid, shmchan_diag_t *diag);

/* semtimedop with a relative timeout in nanoseconds, retried on EINTR with
 * the time that remains. timeout_ns == 0 means "do not wait": the caller
 * sets IPC_NOWAIT on the ops and EAGAIN maps to SHMCHAN_E_WOULD_BLOCK;
 * otherwise EAGAIN maps to SHMCHAN_E_TIMEOUT. If `cancel` is non-NULL and
 * *cancel is non-zero before a wait or after an EINTR, returns
 * SHMCHAN_E_INTERRUPTED. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_sys_semop(int semid, struct sembuf *ops, size_t nops,
                                                   int64_t timeout_ns,
                                                   const volatile sig_atomic_t *cancel,
                                                   shmchan_diag_t *diag);

/* Enumerates every segment / semaphore set visible to us (ipcs's method:
 * SHM_INFO/SHM_STAT). The callback returns non-zero to stop. */
shmchan_err_t shmchan_sys_shm_enumerate(int (*fn)(const shmchan_sys_shm_info_t *, void *),
                                        void *arg, shmchan_diag_t *diag);
/* The same for semaphore sets (SEM_INFO/SEM_STAT); only id and key are
 * filled in, the caller stats what it cares about. */
shmchan_err_t shmchan_sys_sem_enumerate(int (*fn)(int semid, key_t key, void *), void *arg,
                                        shmchan_diag_t *diag);

/* Clocks and randomness. */
int64_t shmchan_sys_now_ns(void);      /* CLOCK_MONOTONIC */
/* Sleeps up to ns (a signal may end it sooner). Only for the one wait no
 * semaphore can stand for: a set created but not yet operated on. */
void shmchan_sys_sleep_ns(int64_t ns);
int64_t shmchan_sys_wall_seconds(void); /* CLOCK_REALTIME, for sem_ctime */
uint64_t shmchan_sys_random_u64(void);

#endif /* SHMCHAN_SYSV_H */
