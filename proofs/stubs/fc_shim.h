/*
 * fc_shim.h - force-included (cpp -include) before every file Frama-C
 * analyses. Analysis only: never compiled into shmchan.
 *
 * Frama-C does not know GCC's __atomic_* builtins: it would parse
 * __atomic_load_n as an undeclared function returning int, truncate 64-bit
 * loads and never check the address (docs/proofs.md, "Trusted base"). Here
 * each becomes a call to a function whose ACSL contract requires a valid
 * address and says nothing about the value loaded: EVA then assumes any
 * value of the type, which is exactly what a hostile peer can store there.
 * The memory order is irrelevant to a single-threaded run-time-error proof.
 */
#ifndef SHMCHAN_FC_SHIM_H
#define SHMCHAN_FC_SHIM_H

#include <stdint.h>

/*@ requires \valid_read(p);
    assigns \result \from *p; */
uint32_t fc_atomic_load_u32(const uint32_t *p);

/*@ requires \valid_read(p);
    assigns \result \from *p; */
uint64_t fc_atomic_load_u64(const uint64_t *p);

/*@ requires \valid(p);
    assigns *p \from v;
    ensures *p == v; */
void fc_atomic_store_u32(uint32_t *p, uint32_t v);

/*@ requires \valid(p);
    assigns *p \from v;
    ensures *p == v; */
void fc_atomic_store_u64(uint64_t *p, uint64_t v);

/* Called for any other operand width: its precondition cannot hold, so a
 * new atomic width in src/ makes the analysis fail instead of slipping
 * through unmodelled. */
/*@ requires unsupported_atomic_width: \false;
    assigns \nothing; */
uint64_t fc_atomic_bad_width(void);

/* Dispatch on the operand's size (Frama-C 25 has no _Generic); the size is
 * a compile-time constant, so only the matching call is ever analysed. */
#define __atomic_load_n(p, order)                                          \
    (sizeof(*(p)) == 8 ? fc_atomic_load_u64((const uint64_t *)(p))          \
     : sizeof(*(p)) == 4 ? (uint64_t)fc_atomic_load_u32((const uint32_t *)(p)) \
                         : fc_atomic_bad_width())
#define __atomic_store_n(p, v, order)                                      \
    (sizeof(*(p)) == 8 ? fc_atomic_store_u64((uint64_t *)(p), (uint64_t)(v)) \
     : sizeof(*(p)) == 4 ? fc_atomic_store_u32((uint32_t *)(p), (uint32_t)(v)) \
                         : (void)fc_atomic_bad_width())
/* A fence orders memory between threads; one thread has nothing to order. */
#define __atomic_thread_fence(order) ((void)0)

/* The CPU probe answers either way, so that EVA follows both the SSE4.2
 * path and the portable table path of crc32c.c. */
/*@ assigns \result \from \nothing;
    ensures \result == 0 || \result == 1; */
int fc_cpu_supports(void);
#define __builtin_cpu_supports(feature) fc_cpu_supports()
/* The runtime's CPU probe initialisation: nothing to model. */
#define __builtin_cpu_init() ((void)0)

#endif /* SHMCHAN_FC_SHIM_H */
