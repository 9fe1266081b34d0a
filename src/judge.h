/*
 * judge.h - what is at a SysV key: ours, alive, or stale? (pure)
 *
 * The decision half of the prober, with no system call in it: facts that
 * probe.c gathered from the kernel go in, a verdict comes out. The same
 * file holds the two rules every other layer asks: "is this object ours"
 * and "is the server dead", so that the client, the judge and the prober
 * can never disagree. The rules are in docs/lifecycle.md, "Key already
 * taken".
 */
#ifndef SHMCHAN_JUDGE_H
#define SHMCHAN_JUDGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"
#include "shmchan.h"
#include "sysv.h"

/* A semaphore set never touched by semop() is given this long to be
 * initialised by its creator before it is judged "unidentifiable". */
#define SHMCHAN_INIT_GRACE_SECONDS 10

typedef struct shmchan_probe_facts {
    key_t key;
    uid_t me;          /* effective uid of the prober */
    unsigned max_mode; /* permission bits a channel of ours may have */
    int64_t now;       /* wall-clock seconds, to age sem_ctime */

    int sem_present;          /* a set exists at key */
    int sem_errno;            /* non-zero: it exists but we could not stat it */
    shmchan_sys_sem_info_t sem;
    int sem_values_read;      /* the three values below are valid */
    int sem_marker, sem_alive, sem_ready;
    pid_t sem_alive_pid;      /* kernel: last pid to operate on ALIVE */

    int shm_present;
    int shm_errno;
    shmchan_sys_shm_info_t shm;
    int header_read;          /* we attached read-only and validated */
    shmchan_err_t header_err; /* result of shmchan_layout_read_header */
    shmchan_header_info_t header;
    int header_clients;       /* active slots seen in the header (display) */
} shmchan_probe_facts_t;

typedef enum shmchan_verdict {
    SHMCHAN_VERDICT_ABSENT,       /* nothing at the key */
    SHMCHAN_VERDICT_LIVE,         /* a live server owns it */
    SHMCHAN_VERDICT_BUSY,         /* being initialised, or still attached */
    SHMCHAN_VERDICT_STALE,        /* ours, server dead: safe to remove */
    SHMCHAN_VERDICT_FOREIGN       /* not provably ours: never touched */
} shmchan_verdict_t;

typedef struct shmchan_judgement {
    shmchan_verdict_t verdict;
    int remove_sem; /* STALE: remove the set at the key */
    int remove_shm; /* STALE: remove the segment at the key */
    char reason[200];
} shmchan_judgement_t;

/* The most a channel segment of ours may grant: max_mode, and read for
 * everyone on a multi-user channel's header (docs/multiuser.md: it holds no
 * message, only the server writes it), recognised by its shape - a segment
 * of the header alone, beside a set of SHMCHAN_SEM_MU_COUNT or none. The
 * set of any channel keeps max_mode. */
unsigned shmchan_probe_shm_max_mode(const shmchan_probe_facts_t *f);

/* 1 if the set at the key has a single-user channel's shape (the fixed
 * semaphores and some per slot; never a multi-user channel's three): its
 * key's derived connection keys belong to no channel of that key. */
int shmchan_probe_is_single_user(const shmchan_probe_facts_t *f);

/* The one rule for "is this object ours": owner uid and creator uid both
 * `expected`, and no permission bit beyond max_mode. NULL if ours, else
 * buf, holding why not. Used by the judge, the client and the prober. */
const char *shmchan_ownership_problem(uid_t expected, unsigned max_mode, uid_t uid, uid_t cuid,
                                      unsigned mode, char *buf, size_t len);

/* The one rule for "the server is dead": its liveness token is 0 and the
 * kernel says the last process to change it is the server itself (the
 * segment's creator pid), which can only be the kernel's SEM_UNDO at its
 * exit. A token taken down by anyone else proves nothing. */
int shmchan_server_token_released(int alive, pid_t alive_pid, pid_t creator_pid);

/* Pure. */
void shmchan_probe_judge(const shmchan_probe_facts_t *facts, shmchan_judgement_t *out);
const char *shmchan_verdict_name(shmchan_verdict_t verdict);

#endif /* SHMCHAN_JUDGE_H */
