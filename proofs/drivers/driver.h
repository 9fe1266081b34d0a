/*
 * driver.h - what every analysis driver shares (docs/proofs.md, "Drivers").
 *
 * The drivers give each entry point of a pure layer every input the
 * bounded proof covers, as EVA values rather than samples: any byte in
 * every buffer, every length up to the bound (one EVA state per length, so
 * that the proof is exact for each), NULL for every pointer argument, and
 * the lengths above the bound that the function must reject untouched.
 */
#ifndef SHMCHAN_FC_DRIVER_H
#define SHMCHAN_FC_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "__fc_builtin.h"

/* The last n bytes of `store`: a buffer that ends exactly where its storage
 * ends, so that touching byte n (one past the end) leaves the object and
 * EVA reports it. A buffer placed inside a larger array would hide such a
 * read. */
#define TAIL(store, n) ((store) + (sizeof(store) - (size_t)(n)))

/* One EVA state per value of [lo, hi]. A macro, not a function: states split
 * inside a callee are joined again when it returns. */
#define SPLIT(lo, hi) ((size_t)Frama_C_interval_split((int)(lo), (int)(hi)))

/* p or NULL: every pointer argument is also tried as NULL. */
#define OR_NULL(p) ((__typeof__(p))Frama_C_nondet_ptr((void *)(p), (void *)0))

/* Every byte of a buffer: any value, initialised (Frama_C_make_unknown
 * would also leave it possibly uninitialised, which is not what a peer can
 * do to memory that the creator zeroed). */
#define ANY_BYTES(store)                                                 \
    do {                                                                 \
        for (size_t any_i_ = 0; any_i_ < sizeof(store); any_i_++) {      \
            (store)[any_i_] = Frama_C_unsigned_char_interval(0, 255);    \
        }                                                                \
    } while (0)

/* Any value of a uint32_t / uint64_t. */
#define ANY_U32() Frama_C_unsigned_int_interval(0u, UINT32_MAX)
#define ANY_U64() ((uint64_t)Frama_C_unsigned_long_long_interval(0ull, UINT64_MAX))

/* Runs crc32c.c's load-time constructor (proofs/stubs/crc32c_ctor.c). */
void fc_crc32c_run_constructors(void);

#endif /* SHMCHAN_FC_DRIVER_H */
