/*
 * lane_ring_driver.c - EVA driver for the two ring copies of src/lane.c
 * (ring_copy_out, ring_copy_in): every state their contracts
 * (proofs/stubs/lane_ring_spec.h) allow within the bound, one EVA state per
 * (capacity, ring offset, length), so that the wrap-around arithmetic is
 * checked exactly for each. The entry-point analyses then use the
 * contracts instead of the bodies (docs/proofs.md, "The lane, in two halves").
 *
 * The two functions are static: this file includes lane.c itself (as
 * crc32c_ctor.c includes crc32c.c), unchanged.
 */
#include "lane.c"

#include "driver.h"

#ifndef CAP
#define CAP 64
#endif

static uint8_t ring_store[CAP];
static uint8_t buf_store[CAP];

/* Every capacity the contract allows: the powers of two in [floor, CAP]. */
#define ANY_CAPACITY()                                                          \
    ({                                                                          \
        uint32_t c_ = CAP;                                                      \
        while (c_ > SHMCHAN_LANE_CAPACITY_FLOOR && Frama_C_nondet(0, 1)) {      \
            c_ /= 2u;                                                           \
        }                                                                       \
        c_;                                                                     \
    })

void eva_lane_ring(void)
{
    ANY_BYTES(ring_store);
    ANY_BYTES(buf_store);
    shmchan_lane_t lane;
    memset(&lane, 0, sizeof lane);
    const uint32_t cap = ANY_CAPACITY();
    lane.capacity = cap;
    lane.ring = TAIL(ring_store, cap);
    /* Every length the contract allows (a frame fits in half the ring),
     * the other buffer ending where its storage ends. */
    const uint32_t n = (uint32_t)SPLIT(1, cap / 2u);
    /* Every ring offset: those from which n bytes do not reach the end of
     * the ring as one state (no wrap, one memcpy), each of the others as a
     * state of its own (the wrap-around split is exact for each). */
    uint32_t pos;
    if (n == 1u || Frama_C_nondet(0, 1)) {
        /* The copies read pos only as pos & (capacity - 1) (lane.c, the
         * first line of each): these states give the offsets themselves
         * as counters, since EVA's intervals cannot keep the low bits of
         * "any high bits plus an offset range" (the states below do give
         * any high bits). */
        pos = Frama_C_unsigned_int_interval(0, cap - n);
    } else {
        /* Any counter with that offset: any multiple of the capacity plus
         * the offset. */
        pos = (ANY_U32() & ~(cap - 1u)) + (uint32_t)SPLIT(cap - n + 1u, cap - 1u);
    }
    if (Frama_C_nondet(0, 1)) {
        ring_copy_out(&lane, pos, TAIL(buf_store, n), n);
    } else {
        ring_copy_in(&lane, pos, TAIL(buf_store, n), n);
    }
}
