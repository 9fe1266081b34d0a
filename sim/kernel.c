/*
 * kernel.c - the simulated SysV kernel (see kernel.h). Each errno below is
 * the one the man page gives for the case; comments name the page when the
 * choice is not obvious.
 */
#include "sim/kernel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>

void simk_init(simk_t *k)
{
    memset(k, 0, sizeof *k);
    k->wall = 1700000000;
}

static void shm_destroy(simk_shm_t *s)
{
    free(s->mem);
    memset(s, 0, sizeof *s);
}

void simk_fini(simk_t *k)
{
    for (int i = 0; i < SIMK_SHMMNI; i++) {
        if (k->shm[i].used) {
            shm_destroy(&k->shm[i]);
        }
    }
}

int simk_proc_new(simk_t *k, pid_t pid, uid_t uid)
{
    for (int i = 0; i < SIMK_MAX_PROCS; i++) {
        if (!k->procs[i].used) {
            simk_proc_t *p = &k->procs[i];
            memset(p, 0, sizeof *p);
            p->used = 1;
            p->alive = 1;
            p->pid = pid;
            p->uid = uid;
            return i;
        }
    }
    return -1;
}

/* ipc(5) permission check without groups (every simulated process has its
 * own group): owner or creator use the owner bits, everyone else the
 * "other" bits. want: 4 read, 2 write/alter. */
static int perm_ok(const simk_t *k, int proc, const simk_perm_t *p, unsigned want)
{
    const uid_t uid = k->procs[proc].uid;
    const unsigned bits = (uid == p->uid || uid == p->cuid) ? (p->mode >> 6) : p->mode;
    return (bits & want) == want;
}

static int is_owner(const simk_t *k, int proc, const simk_perm_t *p)
{
    const uid_t uid = k->procs[proc].uid;
    return uid == p->uid || uid == p->cuid;
}

static simk_shm_t *shm_by_id(simk_t *k, int id)
{
    if (id < 0) {
        return NULL;
    }
    const int index = id % SIMK_ID_SEQ;
    if (index >= SIMK_SHMMNI || !k->shm[index].used || k->shm[index].id != id) {
        return NULL;
    }
    return &k->shm[index];
}

static simk_sem_t *sem_by_id(simk_t *k, int id)
{
    if (id < 0) {
        return NULL;
    }
    const int index = id % SIMK_ID_SEQ;
    if (index >= SIMK_SEMMNI || !k->sem[index].used || k->sem[index].id != id) {
        return NULL;
    }
    return &k->sem[index];
}

const simk_sem_t *simk_sem_find(const simk_t *k, int id)
{
    return sem_by_id((simk_t *)(uintptr_t)k, id);
}

/* ------------------------------------------------------------ segments */

int simk_shmget(simk_t *k, int proc, key_t key, uint64_t size, int flags, int *id)
{
    if (key != IPC_PRIVATE) {
        for (int i = 0; i < SIMK_SHMMNI; i++) {
            simk_shm_t *s = &k->shm[i];
            if (!s->used || s->dest || s->perm.key != key) {
                continue;
            }
            if ((flags & IPC_CREAT) && (flags & IPC_EXCL)) {
                return EEXIST;
            }
            if (size > s->size) {
                return EINVAL;
            }
            if (!perm_ok(k, proc, &s->perm, ((unsigned)flags >> 6) & 07u)) {
                return EACCES;
            }
            *id = s->id;
            return 0;
        }
        if (!(flags & IPC_CREAT)) {
            return ENOENT;
        }
    }
    if (size < 1 || size > SIMK_SHMMAX) {
        return EINVAL;
    }
    for (int i = 0; i < SIMK_SHMMNI; i++) {
        simk_shm_t *s = &k->shm[i];
        if (s->used) {
            continue;
        }
        /* Page-aligned like shmat(2)'s address; zero-filled like a new
         * segment. */
        const size_t rounded = (size_t)((size + 4095u) & ~(uint64_t)4095u);
        s->mem = aligned_alloc(4096, rounded);
        if (s->mem == NULL) {
            return ENOMEM;
        }
        memset(s->mem, 0, rounded);
        s->used = 1;
        k->shm_seq[i]++;
        s->id = (int)(k->shm_seq[i] % 1000u) * SIMK_ID_SEQ + i;
        s->perm.key = key;
        s->perm.uid = s->perm.cuid = k->procs[proc].uid;
        s->perm.mode = (unsigned)flags & 0777u;
        s->size = size;
        s->cpid = k->procs[proc].pid;
        *id = s->id;
        return 0;
    }
    return ENOSPC;
}

int simk_shmat(simk_t *k, int proc, int id, int readonly, uint8_t **addr)
{
    simk_shm_t *s = shm_by_id(k, id);
    if (s == NULL) {
        return EINVAL;
    }
    if (!perm_ok(k, proc, &s->perm, readonly ? 4u : 6u)) {
        return EACCES;
    }
    for (int i = 0; i < SIMK_MAX_ATTACH; i++) {
        if (!k->att[i].used) {
            k->att[i].used = 1;
            k->att[i].proc = proc;
            k->att[i].shm = id % SIMK_ID_SEQ;
            k->att[i].addr = s->mem;
            s->nattch++;
            s->lpid = k->procs[proc].pid;
            *addr = s->mem;
            return 0;
        }
    }
    return EMFILE; /* shmat(2): "the number of attached segments ... exceeded" */
}

static void detach(simk_t *k, simk_attach_t *a)
{
    simk_shm_t *s = &k->shm[a->shm];
    s->nattch--;
    s->lpid = k->procs[a->proc].pid;
    memset(a, 0, sizeof *a);
    if (s->dest && s->nattch == 0) {
        shm_destroy(s);
    }
}

int simk_shmdt(simk_t *k, int proc, const uint8_t *addr)
{
    for (int i = 0; i < SIMK_MAX_ATTACH; i++) {
        if (k->att[i].used && k->att[i].proc == proc && k->att[i].addr == addr) {
            detach(k, &k->att[i]);
            return 0;
        }
    }
    return EINVAL;
}

int simk_shm_stat(simk_t *k, int proc, int id, simk_shm_t *out)
{
    simk_shm_t *s = shm_by_id(k, id);
    if (s == NULL) {
        return EINVAL;
    }
    if (!perm_ok(k, proc, &s->perm, 4u)) {
        return EACCES;
    }
    *out = *s;
    return 0;
}

int simk_shm_stat_index(simk_t *k, int proc, int index, simk_shm_t *out)
{
    if (index < 0 || index >= SIMK_SHMMNI || !k->shm[index].used) {
        return EINVAL;
    }
    return simk_shm_stat(k, proc, k->shm[index].id, out);
}

int simk_shm_rmid(simk_t *k, int proc, int id)
{
    simk_shm_t *s = shm_by_id(k, id);
    if (s == NULL) {
        return EINVAL;
    }
    if (!is_owner(k, proc, &s->perm)) {
        return EPERM;
    }
    if (k->on_remove != NULL) {
        k->on_remove(k->on_remove_ctx, proc, 0, id, s->cpid);
    }
    /* shmctl(2): destroyed after the last detach; until then the key is
     * IPC_PRIVATE (Linux shows it as 0 with SHM_DEST). */
    s->dest = 1;
    s->perm.key = IPC_PRIVATE;
    if (s->nattch == 0) {
        shm_destroy(s);
    }
    return 0;
}

int simk_shm_set(simk_t *k, int proc, int id, uid_t uid, unsigned mode)
{
    simk_shm_t *s = shm_by_id(k, id);
    if (s == NULL) {
        return EINVAL;
    }
    if (!is_owner(k, proc, &s->perm)) {
        return EPERM;
    }
    s->perm.uid = uid;
    s->perm.mode = mode & 0777u;
    return 0;
}

/* ------------------------------------------------------------ semaphores */

int simk_semget(simk_t *k, int proc, key_t key, int nsems, int flags, int *id)
{
    if (nsems < 0 || nsems > SIMK_SEMMSL) {
        return EINVAL;
    }
    if (key != IPC_PRIVATE) {
        for (int i = 0; i < SIMK_SEMMNI; i++) {
            simk_sem_t *s = &k->sem[i];
            if (!s->used || s->perm.key != key) {
                continue;
            }
            if ((flags & IPC_CREAT) && (flags & IPC_EXCL)) {
                return EEXIST;
            }
            if ((uint32_t)nsems > s->nsems) {
                return EINVAL;
            }
            if (!perm_ok(k, proc, &s->perm, ((unsigned)flags >> 6) & 07u)) {
                return EACCES;
            }
            *id = s->id;
            return 0;
        }
        if (!(flags & IPC_CREAT)) {
            return ENOENT;
        }
    }
    if (nsems == 0) {
        return EINVAL; /* semget(2): creating a set needs nsems > 0 */
    }
    for (int i = 0; i < SIMK_SEMMNI; i++) {
        simk_sem_t *s = &k->sem[i];
        if (s->used) {
            continue;
        }
        memset(s, 0, sizeof *s);
        s->used = 1;
        k->sem_seq[i]++;
        s->id = (int)(k->sem_seq[i] % 1000u) * SIMK_ID_SEQ + i;
        s->perm.key = key;
        s->perm.uid = s->perm.cuid = k->procs[proc].uid;
        s->perm.mode = (unsigned)flags & 0777u;
        s->nsems = (uint32_t)nsems;
        s->cpid = k->procs[proc].pid;
        s->ctime = k->wall;
        *id = s->id;
        return 0;
    }
    return ENOSPC;
}

static short *undo_entry(simk_t *k, int proc, const simk_sem_t *s, uint32_t num)
{
    const int index = s->id % SIMK_ID_SEQ;
    simk_proc_t *p = &k->procs[proc];
    if (p->undo_id[index] != s->id) {
        p->undo_id[index] = s->id;
        memset(p->undo[index], 0, sizeof p->undo[index]);
    }
    return &p->undo[index][num];
}

int simk_semop(simk_t *k, int proc, int id, const simk_semop_t *ops, uint32_t nops,
               int *blocked_nowait)
{
    *blocked_nowait = 0;
    if (nops > SIMK_SEMOPM) {
        return E2BIG;
    }
    simk_sem_t *s = sem_by_id(k, id);
    if (s == NULL) {
        return EINVAL;
    }
    unsigned want = 4u;
    for (uint32_t i = 0; i < nops; i++) {
        if (ops[i].num >= s->nsems) {
            return EFBIG;
        }
        if (ops[i].op != 0) {
            want = 2u;
        }
    }
    if (!perm_ok(k, proc, &s->perm, want)) {
        return EACCES;
    }
    /* All or nothing, in order, on a copy (semop(2)). */
    int val[SIMK_SEMMSL];
    for (uint32_t i = 0; i < s->nsems; i++) {
        val[i] = s->val[i];
    }
    for (uint32_t i = 0; i < nops; i++) {
        const int v = val[ops[i].num];
        const int op = ops[i].op;
        if ((op < 0 && v + op < 0) || (op == 0 && v != 0)) {
            *blocked_nowait = (ops[i].flg & IPC_NOWAIT) != 0;
            return SIMK_WOULD_WAIT;
        }
        if (v + op > SIMK_SEMVMX) {
            return ERANGE;
        }
        if (ops[i].flg & SEM_UNDO) {
            const int adj = *undo_entry(k, proc, s, ops[i].num) - op;
            if (adj < -SIMK_SEMAEM - 1 || adj > SIMK_SEMAEM) {
                return ERANGE;
            }
        }
        val[ops[i].num] = v + op;
    }
    for (uint32_t i = 0; i < nops; i++) {
        if (ops[i].flg & SEM_UNDO) {
            short *u = undo_entry(k, proc, s, ops[i].num);
            *u = (short)(*u - ops[i].op);
        }
        s->pid[ops[i].num] = k->procs[proc].pid;
    }
    for (uint32_t i = 0; i < s->nsems; i++) {
        s->val[i] = (unsigned short)val[i];
    }
    s->otime = k->wall;
    s->version++;
    return 0;
}

void simk_proc_exit(simk_t *k, int proc)
{
    simk_proc_t *p = &k->procs[proc];
    if (!p->alive) {
        return;
    }
    p->alive = 0;
    for (int index = 0; index < SIMK_SEMMNI; index++) {
        simk_sem_t *s = sem_by_id(k, p->undo_id[index]);
        if (s == NULL) {
            continue;
        }
        int changed = 0;
        for (uint32_t n = 0; n < s->nsems; n++) {
            const int adj = p->undo[index][n];
            if (adj == 0) {
                continue;
            }
            /* Linux exit_sem(): clamped to 0..SEMVMX, sempid becomes the
             * dying process (what "released by the kernel" is judged by). */
            int v = s->val[n] + adj;
            v = v < 0 ? 0 : (v > SIMK_SEMVMX ? SIMK_SEMVMX : v);
            s->val[n] = (unsigned short)v;
            s->pid[n] = p->pid;
            changed = 1;
        }
        if (changed) {
            s->version++;
        }
    }
    for (int i = 0; i < SIMK_MAX_ATTACH; i++) {
        if (k->att[i].used && k->att[i].proc == proc) {
            detach(k, &k->att[i]);
        }
    }
}

int simk_sem_stat(simk_t *k, int proc, int id, simk_sem_t *out)
{
    simk_sem_t *s = sem_by_id(k, id);
    if (s == NULL) {
        return EINVAL;
    }
    if (!perm_ok(k, proc, &s->perm, 4u)) {
        return EACCES;
    }
    *out = *s;
    return 0;
}

int simk_sem_stat_index(simk_t *k, int proc, int index, simk_sem_t *out)
{
    if (index < 0 || index >= SIMK_SEMMNI || !k->sem[index].used) {
        return EINVAL;
    }
    return simk_sem_stat(k, proc, k->sem[index].id, out);
}

int simk_sem_rmid(simk_t *k, int proc, int id)
{
    simk_sem_t *s = sem_by_id(k, id);
    if (s == NULL) {
        return EINVAL;
    }
    if (!is_owner(k, proc, &s->perm)) {
        return EPERM;
    }
    if (k->on_remove != NULL) {
        k->on_remove(k->on_remove_ctx, proc, 1, id, s->cpid);
    }
    /* Immediate (semctl(2)); parked waiters see the id gone: EIDRM. */
    memset(s, 0, sizeof *s);
    return 0;
}

int simk_sem_set(simk_t *k, int proc, int id, uid_t uid, unsigned mode)
{
    simk_sem_t *s = sem_by_id(k, id);
    if (s == NULL) {
        return EINVAL;
    }
    if (!is_owner(k, proc, &s->perm)) {
        return EPERM;
    }
    s->perm.uid = uid;
    s->perm.mode = mode & 0777u;
    s->ctime = k->wall;
    return 0;
}

static int sem_read(simk_t *k, int proc, int id, uint32_t num, simk_sem_t **out)
{
    simk_sem_t *s = sem_by_id(k, id);
    if (s == NULL) {
        return EINVAL;
    }
    if (num >= s->nsems) {
        return EINVAL; /* semctl(2): semnum out of range */
    }
    if (!perm_ok(k, proc, &s->perm, 4u)) {
        return EACCES;
    }
    *out = s;
    return 0;
}

int simk_sem_getval(simk_t *k, int proc, int id, uint32_t num, int *val)
{
    simk_sem_t *s = NULL;
    const int e = sem_read(k, proc, id, num, &s);
    if (e == 0) {
        *val = s->val[num];
    }
    return e;
}

int simk_sem_getpid(simk_t *k, int proc, int id, uint32_t num, pid_t *pid)
{
    simk_sem_t *s = NULL;
    const int e = sem_read(k, proc, id, num, &s);
    if (e == 0) {
        *pid = s->pid[num];
    }
    return e;
}

int simk_sem_getall(simk_t *k, int proc, int id, unsigned short *vals)
{
    simk_sem_t *s = NULL;
    const int e = sem_read(k, proc, id, 0, &s);
    if (e == 0) {
        memcpy(vals, s->val, s->nsems * sizeof vals[0]);
    }
    return e;
}

int simk_sem_setval(simk_t *k, int proc, int id, uint32_t num, int val)
{
    simk_sem_t *s = sem_by_id(k, id);
    if (s == NULL || num >= s->nsems) {
        return EINVAL;
    }
    if (val < 0 || val > SIMK_SEMVMX) {
        return ERANGE;
    }
    if (!perm_ok(k, proc, &s->perm, 2u)) {
        return EACCES;
    }
    s->val[num] = (unsigned short)val;
    /* Linux semctl_setval(): sempid is the caller, and every process's
     * undo entry for this semaphore is cleared. */
    s->pid[num] = k->procs[proc].pid;
    for (int p = 0; p < SIMK_MAX_PROCS; p++) {
        if (k->procs[p].used && k->procs[p].undo_id[id % SIMK_ID_SEQ] == id) {
            k->procs[p].undo[id % SIMK_ID_SEQ][num] = 0;
        }
    }
    s->ctime = k->wall;
    s->version++;
    return 0;
}
