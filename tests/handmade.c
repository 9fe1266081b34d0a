/*
 * handmade.c - see handmade.h.
 */
#include "tests/handmade.h"

#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "src/layout.h"
#include "src/shm_atomic.h"
#include "tests/testutil.h"

union handmade_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static const shmchan_params_t PARAMS = {2, 64, 256};

/* The second set a header may name instead of the one at the key. */
static int g_other_set = -1;

struct create_arg {
    key_t key;
    int shm;       /* 1: segment, 0: set */
    uint64_t size; /* segment size or number of semaphores */
    int as_other;
};

static int create_main(void *p)
{
    const struct create_arg *a = p;
    if (a->as_other && testutil_become(HANDMADE_OTHER_UID, (gid_t)HANDMADE_OTHER_UID) != 0) {
        return 77;
    }
    const int id = a->shm ? shmget(a->key, (size_t)a->size, IPC_CREAT | IPC_EXCL | 0600)
                          : semget(a->key, (int)a->size, IPC_CREAT | IPC_EXCL | 0600);
    return id >= 0 ? 0 : 10;
}

/* Creates the object in a child: as the other uid, or as ourselves (the
 * same path either way, so the two cases differ only in the uid). */
static int create(key_t key, int shm, uint64_t size, int as_other)
{
    struct create_arg a = {key, shm, size, as_other};
    const pid_t pid = testutil_spawn(create_main, &a);
    if (pid <= 0) {
        return 10;
    }
    return testutil_wait(pid, 10000);
}

static int sem_add(int semid, unsigned short num, short op)
{
    struct sembuf b = {.sem_num = num, .sem_op = op, .sem_flg = 0};
    return semop(semid, &b, 1);
}

/* What a server's creation leaves in a set: marker, token, READY, offers.
 * No SEM_UNDO: the token stays up after this process moves on (a live
 * server as far as any client can tell). */
static int init_set(int semid, int token)
{
    if (sem_add(semid, SHMCHAN_SEM_MARKER, SHMCHAN_SEM_MARKER_VALUE) != 0 ||
        (token && sem_add(semid, SHMCHAN_SEM_SERVER_ALIVE, 1) != 0) ||
        sem_add(semid, SHMCHAN_SEM_READY, 1) != 0) {
        return -1;
    }
    for (uint32_t s = 0; s < PARAMS.max_clients; s++) {
        if (sem_add(semid, shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_FREE), 1) != 0) {
            return -1;
        }
    }
    return 0;
}

int handmade_build(key_t key, const handmade_spec_t *spec)
{
    shmchan_layout_t layout;
    if (shmchan_layout_compute(&PARAMS, &layout) != SHMCHAN_OK) {
        return 10;
    }
    const uint32_t nsems = layout.nsems + (spec->set_one_slot_more ? SHMCHAN_SEM_PER_SLOT : 0);
    int rc = create(key, 0, nsems, spec->set_by_other);
    if (rc == 0) {
        rc = create(key, 1, layout.total_size, spec->shm_by_other);
    }
    if (rc != 0) {
        handmade_remove(key);
        return rc;
    }
    const int semid = semget(key, 0, 0);
    const int shmid = shmget(key, 0, 0);
    if (semid < 0 || shmid < 0 || init_set(semid, !spec->token_untouched) != 0) {
        return 10;
    }
    uint32_t named = (uint32_t)semid;
    if (spec->header_names_other_set) {
        g_other_set = semget(IPC_PRIVATE, (int)nsems, IPC_CREAT | 0600);
        if (g_other_set < 0 || init_set(g_other_set, 1) != 0) {
            return 10;
        }
        named = (uint32_t)g_other_set;
    }
    uint8_t *p = shmat(shmid, NULL, 0);
    if (p == (void *)-1) {
        return 10;
    }
    shmchan_layout_write_header(p, &layout, named, 0, 0x5eed5eed5eed5eedull);
    shmchan_shm_store_u32_release(p + SHMCHAN_HDR_OFF_SERVER_STATE, SHMCHAN_SERVER_STATE_READY);
    shmchan_layout_publish_magic(p);
    return shmdt(p) == 0 ? 0 : 10;
}

int handmade_set_owner(key_t key, int which_shm, uid_t uid)
{
    if (which_shm) {
        struct shmid_ds ds;
        const int id = shmget(key, 0, 0);
        if (id < 0 || shmctl(id, IPC_STAT, &ds) != 0) {
            return -1;
        }
        ds.shm_perm.uid = uid;
        return shmctl(id, IPC_SET, &ds);
    }
    struct semid_ds ds;
    union handmade_semun arg = {.buf = &ds};
    const int id = semget(key, 0, 0);
    if (id < 0 || semctl(id, 0, IPC_STAT, arg) != 0) {
        return -1;
    }
    ds.sem_perm.uid = uid;
    return semctl(id, 0, IPC_SET, arg);
}

int handmade_set_mode(key_t key, int which_shm, unsigned mode)
{
    if (which_shm) {
        struct shmid_ds ds;
        const int id = shmget(key, 0, 0);
        if (id < 0 || shmctl(id, IPC_STAT, &ds) != 0) {
            return -1;
        }
        ds.shm_perm.mode = (unsigned short)mode;
        return shmctl(id, IPC_SET, &ds);
    }
    struct semid_ds ds;
    union handmade_semun arg = {.buf = &ds};
    const int id = semget(key, 0, 0);
    if (id < 0 || semctl(id, 0, IPC_STAT, arg) != 0) {
        return -1;
    }
    ds.sem_perm.mode = (unsigned short)mode;
    return semctl(id, 0, IPC_SET, arg);
}

void handmade_remove(key_t key)
{
    const int shmid = shmget(key, 0, 0);
    if (shmid >= 0) {
        (void)shmctl(shmid, IPC_RMID, NULL);
    }
    const int semid = semget(key, 0, 0);
    if (semid >= 0) {
        (void)semctl(semid, 0, IPC_RMID);
    }
    if (g_other_set >= 0) {
        (void)semctl(g_other_set, 0, IPC_RMID);
        g_other_set = -1;
    }
}
