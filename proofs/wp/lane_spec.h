/*
 * lane_spec.h - ACSL contracts for src/lane.c's index validation, proved by
 * WP for ALL inputs (no bound): whatever tail the peer stores, the fill
 * level the producer accepts never exceeds the capacity. Force-included before
 * lane.c, so the contracts attach to lane.c's own static functions (a
 * static prototype with a contract, then lane.c's definition): src/ is not
 * changed.
 */
#include "lane.h"

/* The producer's check of the consumer's tail: whatever 32-bit value the
 * peer stored, the fill level returned is at most the capacity, it is
 * pos - tail (mod 2^32), and a rejected tail leaves the cached copy alone. */
/*@ requires \valid(lane);
    requires \valid_read(lane->ctl + (SHMCHAN_LANE_OFF_TAIL .. SHMCHAN_LANE_OFF_TAIL + 3));
    requires \separated(lane, lane->ctl + (0 .. SHMCHAN_LANE_CTL_SIZE - 1));
    requires sentinel_free: lane->capacity < UINT32_MAX;
    assigns lane->peer;
    ensures bounded: \result == UINT32_MAX || \result <= lane->capacity;
    ensures fill_level: \result != UINT32_MAX ==>
        \result == (uint32_t)(lane->pos - lane->peer);
    ensures rejected_unchanged: \result == UINT32_MAX ==> lane->peer == \old(lane->peer);
*/
static uint32_t producer_refresh(shmchan_lane_t *lane);

/* The read-only variant: same inequality. */
/*@ requires \valid_read(lane);
    requires \valid_read(lane->ctl + (SHMCHAN_LANE_OFF_TAIL .. SHMCHAN_LANE_OFF_TAIL + 3));
    requires sentinel_free: lane->capacity < UINT32_MAX;
    assigns \nothing;
    ensures bounded: \result == UINT32_MAX || \result <= lane->capacity;
*/
static uint32_t producer_used(const shmchan_lane_t *lane);
