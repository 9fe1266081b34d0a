/*
 * transport_spin_ring.c - the ceiling: a raw single-producer single-consumer
 * ring of fixed-size slots in a SysV segment (IPC_PRIVATE, 0600), one ring
 * per direction, with spinning waits and no validation at all. It trusts
 * the peer's indices and bytes completely, which is exactly what shmchan
 * must not do; it shows what the hardware gives before safety costs.
 *
 * Each message is copied in by the producer and out by the consumer (as
 * every other transport does at least), then one release store publishes
 * the index. Each side caches the peer's index and re-reads it only when
 * the ring looks full (producer) or empty (consumer). The ring holds the
 * same number of bytes as a shmchan lane for the same size (see
 * bench_lane_bytes), so neither has more buffering than the other.
 *
 * The segment is marked for removal (IPC_RMID) right after the parent
 * attaches it, before the two sides are forked; the children inherit the
 * attachment, nobody else can attach it, and the kernel frees it when the
 * last of the three detaches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "bench/bench.h"
#include "bench/util.h"

enum { CTL_HEAD = 0, CTL_TAIL = 128, CTL_SIZE = 256 };

/* Spin this many times between clock reads; give up after the step
 * timeout (the peer is dead or stuck). */
#define SPINS_PER_CLOCK 65536u

struct spin_ring {
    uint8_t *ctl;
    uint8_t *slots;
    uint64_t nslots; /* power of two */
    size_t stride;   /* slot size: message size rounded up to 64 */
    uint64_t pos;    /* private: producer's head or consumer's tail */
    uint64_t peer;   /* private: last value read of the other index */
};

struct spin_link {
    int shmid;
    uint8_t *base;
    size_t total;
    struct spin_ring ring[2]; /* [0]: A -> B, [1]: B -> A */
    struct spin_ring *tx, *rx;
};

static uint64_t load_acquire(const uint8_t *p)
{
    return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static void store_release(uint8_t *p, uint64_t v)
{
    __atomic_store_n((uint64_t *)(void *)p, v, __ATOMIC_RELEASE);
}

static int spin_create(const bench_cell_t *cell, void **state, bench_err_t *err)
{
    struct spin_link *l = calloc(1, sizeof *l);
    if (l == NULL) {
        bench_err_set(err, "spin_ring: out of memory");
        return -1;
    }
    const size_t stride = ((size_t)cell->size + 63u) & ~(size_t)63u;
    /* The largest power of two of slots that fits the lane budget. */
    uint64_t nslots = 2;
    while (nslots * 2 * stride <= bench_lane_bytes(cell->size)) {
        nslots *= 2;
    }
    const size_t per_ring = CTL_SIZE + (size_t)nslots * stride;
    l->total = 2 * per_ring;
    l->shmid = shmget(IPC_PRIVATE, l->total, IPC_CREAT | 0600);
    if (l->shmid < 0) {
        bench_err_set(err, "shmget(IPC_PRIVATE, %zu, 0600): %s", l->total, strerror(errno));
        free(l);
        return -1;
    }
    void *at = shmat(l->shmid, NULL, 0);
    const int at_errno = errno;
    /* Removed at once: the forks inherit the attachment, nobody else can
     * attach it, and it cannot outlive us. */
    (void)shmctl(l->shmid, IPC_RMID, NULL);
    if (at == (void *)-1) {
        bench_err_set(err, "shmat(%d): %s", l->shmid, strerror(at_errno));
        free(l);
        return -1;
    }
    l->base = at;
    memset(l->base, 0, l->total); /* fault every page in before timing */
    for (int d = 0; d < 2; d++) {
        struct spin_ring *r = &l->ring[d];
        r->ctl = l->base + (size_t)d * per_ring;
        r->slots = r->ctl + CTL_SIZE;
        r->nslots = nslots;
        r->stride = stride;
    }
    *state = l;
    return 0;
}

static void spin_parent_detach(void *state)
{
    struct spin_link *l = state;
    if (l->base != NULL) {
        (void)shmdt(l->base);
        l->base = NULL;
    }
}

static int spin_open(void *state, bench_side_t side, bench_err_t *err)
{
    (void)err;
    struct spin_link *l = state;
    l->tx = &l->ring[side == BENCH_SIDE_A ? 0 : 1];
    l->rx = &l->ring[side == BENCH_SIDE_A ? 1 : 0];
    return 0;
}

/* Spins until ready(): re-reads the peer's index at `off` into r->peer. */
static int spin_wait(struct spin_ring *r, unsigned off, int want_room, bench_err_t *err)
{
    int64_t deadline = 0;
    for (uint32_t spins = 1;; spins++) {
        r->peer = load_acquire(r->ctl + off);
        const int ready = want_room ? (r->pos - r->peer < r->nslots) : (r->peer != r->pos);
        if (ready) {
            return 0;
        }
        bench_cpu_relax();
        if (spins % SPINS_PER_CLOCK == 0) {
            const int64_t now = bench_now_ns();
            deadline = deadline == 0 ? now + (int64_t)BENCH_STEP_TIMEOUT_MS * 1000000 : deadline;
            if (now >= deadline) {
                bench_err_set(err, "spin_ring: peer made no progress for %d ms",
                              BENCH_STEP_TIMEOUT_MS);
                return -1;
            }
        }
    }
}

static int spin_send(void *state, const uint8_t *msg, uint32_t len, bench_err_t *err)
{
    struct spin_ring *r = ((struct spin_link *)state)->tx;
    if (r->pos - r->peer >= r->nslots && spin_wait(r, CTL_TAIL, 1, err) != 0) {
        return -1;
    }
    memcpy(r->slots + (size_t)(r->pos & (r->nslots - 1)) * r->stride, msg, len);
    r->pos++;
    store_release(r->ctl + CTL_HEAD, r->pos);
    return 0;
}

static int spin_recv(void *state, uint8_t *buf, uint32_t len, bench_err_t *err)
{
    struct spin_ring *r = ((struct spin_link *)state)->rx;
    if (r->peer == r->pos && spin_wait(r, CTL_HEAD, 0, err) != 0) {
        return -1;
    }
    memcpy(buf, r->slots + (size_t)(r->pos & (r->nslots - 1)) * r->stride, len);
    r->pos++;
    store_release(r->ctl + CTL_TAIL, r->pos);
    return 0;
}

static void spin_close(void *state)
{
    spin_parent_detach(state);
}

/* Every attachment is gone (both sides exited, the parent detached), so the
 * IPC_RMID'd segment must have vanished from the kernel's table. */
static int spin_destroy(void *state, bench_err_t *err)
{
    struct spin_link *l = state;
    spin_parent_detach(l);
    int rc = 0;
    if (bench_sysvipc_present("shm", 0, l->shmid) != 0) {
        bench_err_set(err, "spin_ring segment %d still listed in /proc/sysvipc/shm", l->shmid);
        rc = -1;
    }
    free(l);
    return rc;
}

const bench_transport_t bench_transport_spin_ring = {
    .name = "spin_ring",
    .create = spin_create,
    .parent_detach = spin_parent_detach,
    .open = spin_open,
    .send = spin_send,
    .recv = spin_recv,
    .close = spin_close,
    .destroy = spin_destroy,
};
