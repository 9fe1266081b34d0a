/*
 * lane_ring_spec.h - ACSL contracts of lane.c's two ring copies,
 * ring_copy_out and ring_copy_in: the assume-guarantee split of the lane
 * analysis (docs/proofs.md, "The lane, in two halves"). Analysis only:
 * force-included before lane.c (a static prototype with a contract, then
 * lane.c's own definition: src/ is not changed).
 *
 * - eva_lane_ring analyses the two bodies for every state these contracts
 *   allow within the bound (every capacity, every ring offset, every
 *   length, each buffer ending where its storage ends) and must find no
 *   alarm; -from-verify-assigns checks that each body writes nothing
 *   outside its `assigns`.
 * - The entry-point analyses (eva_lane_send, eva_lane_recv, ...) run with
 *   -eva-use-spec ring_copy_out,ring_copy_in: EVA checks these
 *   preconditions at every call (a call that could copy past a buffer is
 *   an alarm there) and takes the `assigns` as the effect. The wrap-around
 *   arithmetic, which needs one EVA state per ring offset, is then
 *   analysed once, not once per state of every caller.
 *
 * n > 0: memcpy's contract wants a valid pointer even for 0 bytes, and no
 * caller copies 0 bytes (the header is 24 bytes; the payload copies return
 * first when empty). FC_RING_CAP is the bound on the capacity (the driver's CAP).
 */
#ifndef SHMCHAN_FC_LANE_RING_SPEC_H
#define SHMCHAN_FC_LANE_RING_SPEC_H

#include "lane.h"

#ifndef FC_RING_CAP
#error "FC_RING_CAP (the bound on the lane's capacity) must be defined"
#endif

/*@ predicate fc_ring_capacity(integer c) =
        SHMCHAN_LANE_CAPACITY_FLOOR <= c <= FC_RING_CAP && (c & (c - 1)) == 0;
*/

/* Copies n bytes of the ring, from ring offset pos mod capacity (wrapping
 * around its end), to dst[0, n). */
/*@ requires lane: \valid_read(lane);
    requires capacity: fc_ring_capacity(lane->capacity);
    requires ring: \valid_read(lane->ring + (0 .. lane->capacity - 1));
    requires ring_initialized: \initialized(lane->ring + (0 .. lane->capacity - 1));
    requires length: 0 < n <= lane->capacity / 2;
    requires dst: \valid(dst + (0 .. n - 1));
    requires separated: \separated(dst + (0 .. n - 1), lane->ring + (0 .. lane->capacity - 1));
    assigns dst[0 .. n - 1];
    ensures initialized: \initialized(dst + (0 .. n - 1));
*/
static void ring_copy_out(const shmchan_lane_t *lane, uint32_t pos, uint8_t *dst, uint32_t n);

/* Copies src[0, n) into the ring at ring offset pos mod capacity. */
/*@ requires lane: \valid_read(lane);
    requires capacity: fc_ring_capacity(lane->capacity);
    requires ring: \valid(lane->ring + (0 .. lane->capacity - 1));
    requires length: 0 < n <= lane->capacity / 2;
    requires ring_initialized: \initialized(lane->ring + (0 .. lane->capacity - 1));
    requires src: \valid_read(src + (0 .. n - 1));
    requires src_initialized: \initialized(src + (0 .. n - 1));
    requires separated: \separated(src + (0 .. n - 1), lane->ring + (0 .. lane->capacity - 1));
    assigns lane->ring[0 .. lane->capacity - 1];
    ensures initialized: \initialized(lane->ring + (0 .. lane->capacity - 1));
*/
static void ring_copy_in(shmchan_lane_t *lane, uint32_t pos, const uint8_t *src, uint32_t n);

#endif /* SHMCHAN_FC_LANE_RING_SPEC_H */
