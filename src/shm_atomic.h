/*
 * shm_atomic.h - the only way shmchan touches a mutable word of shared memory.
 *
 * Mutable control words (lane indices, waiting flags, slot and server state)
 * are read and written with single atomic operations, so a peer's concurrent
 * write is never "torn" and the compiler can never re-read a value we have
 * already validated (the double-fetch hazard of XSA-155): each load returns
 * a private copy, and all checks are made on that copy.
 *
 * Words are little-endian in memory like every other field, so an image of a
 * segment means the same on any host; on little-endian hosts the conversion
 * compiles to nothing. The layout puts every word at an offset that is a
 * multiple of its size from a page-aligned shmat() address, so the casts
 * below are always aligned.
 */
#ifndef SHMCHAN_SHM_ATOMIC_H
#define SHMCHAN_SHM_ATOMIC_H

#include <stdint.h>

/* The simulator (sim/, docs/simulation.md) compiles src/ with
 * SHMCHAN_SIM_SHM_SWITCH so that another simulated process may run between
 * any two accesses below: an ordering bug inside the lane (a head published
 * before its frame is written) is then an interleaving the simulator can
 * choose. Loads switch before they read, stores after they write, so the
 * window on each side of every access is reachable. No other build defines
 * it: there the point is nothing, and the accesses are single instructions. */
#ifdef SHMCHAN_SIM_SHM_SWITCH
void shmchan_sim_shm_access(void);
#define SHMCHAN_SHM_SWITCH_POINT() shmchan_sim_shm_access()
#else
#define SHMCHAN_SHM_SWITCH_POINT() ((void)0)
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SHMCHAN_LE32(v) __builtin_bswap32(v)
#define SHMCHAN_LE64(v) __builtin_bswap64(v)
#else
#define SHMCHAN_LE32(v) (v)
#define SHMCHAN_LE64(v) (v)
#endif

static inline uint32_t shmchan_shm_load_u32_acquire(const uint8_t *p)
{
    SHMCHAN_SHM_SWITCH_POINT();
    const uint32_t v = __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_ACQUIRE);
    return SHMCHAN_LE32(v);
}

static inline uint32_t shmchan_shm_load_u32_relaxed(const uint8_t *p)
{
    SHMCHAN_SHM_SWITCH_POINT();
    const uint32_t v = __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED);
    return SHMCHAN_LE32(v);
}

static inline void shmchan_shm_store_u32_release(uint8_t *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)p, SHMCHAN_LE32(v), __ATOMIC_RELEASE);
    SHMCHAN_SHM_SWITCH_POINT();
}

static inline void shmchan_shm_store_u32_relaxed(uint8_t *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)p, SHMCHAN_LE32(v), __ATOMIC_RELAXED);
    SHMCHAN_SHM_SWITCH_POINT();
}

static inline uint64_t shmchan_shm_load_u64_acquire(const uint8_t *p)
{
    SHMCHAN_SHM_SWITCH_POINT();
    const uint64_t v = __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_ACQUIRE);
    return SHMCHAN_LE64(v);
}

static inline void shmchan_shm_store_u64_release(uint8_t *p, uint64_t v)
{
    __atomic_store_n((uint64_t *)(void *)p, SHMCHAN_LE64(v), __ATOMIC_RELEASE);
    SHMCHAN_SHM_SWITCH_POINT();
}

/* Full barrier: orders a store before a later load (the store-load pair of
 * the wakeup protocol, docs/protocol.md "Waking a sleeper"). */
static inline void shmchan_shm_fence_seq_cst(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#endif /* SHMCHAN_SHM_ATOMIC_H */
