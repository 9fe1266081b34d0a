/*
 * wp_atomic.h - force-included for the WP proofs instead of fc_shim.h.
 *
 * WP's typed memory model cannot follow shm_atomic.h's cast of a byte
 * pointer to a uint32_t pointer. This header takes the place of
 * src/shm_atomic.h (same include guard, so the real one is skipped) and
 * declares its functions with contracts and no body: a load needs four
 * readable bytes and may return any value (a hostile peer), a store needs
 * four writable bytes. These contracts are assumed, not proved: they are
 * part of the trusted base (docs/proofs.md).
 */
#ifndef SHMCHAN_SHM_ATOMIC_H
#define SHMCHAN_SHM_ATOMIC_H

#include <stdint.h>

/*@ requires \valid_read(p + (0 .. 3));
    assigns \result \from p[0 .. 3]; */
uint32_t shmchan_shm_load_u32_acquire(const uint8_t *p);

/*@ requires \valid_read(p + (0 .. 3));
    assigns \result \from p[0 .. 3]; */
uint32_t shmchan_shm_load_u32_relaxed(const uint8_t *p);

/*@ requires \valid(p + (0 .. 3));
    assigns p[0 .. 3] \from v; */
void shmchan_shm_store_u32_release(uint8_t *p, uint32_t v);

/*@ requires \valid(p + (0 .. 3));
    assigns p[0 .. 3] \from v; */
void shmchan_shm_store_u32_relaxed(uint8_t *p, uint32_t v);

/*@ requires \valid_read(p + (0 .. 7));
    assigns \result \from p[0 .. 7]; */
uint64_t shmchan_shm_load_u64_acquire(const uint8_t *p);

/*@ requires \valid(p + (0 .. 7));
    assigns p[0 .. 7] \from v; */
void shmchan_shm_store_u64_release(uint8_t *p, uint64_t v);

/*@ assigns \nothing; */
void shmchan_shm_fence_seq_cst(void);

#endif /* SHMCHAN_SHM_ATOMIC_H */
