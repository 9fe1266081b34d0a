/*
 * lane.c - SPSC frame ring over untrusted shared memory. See lane.h.
 *
 * Index arithmetic: head and tail are free-running uint32_t counters of
 * bytes; their difference modulo 2^32 is the fill level, valid only when it
 * is <= capacity (Xen io/ring.h style). The ring offset of a counter is
 * counter & (capacity - 1). A frame may wrap around the end of the ring; it
 * is copied in at most two pieces.
 *
 * Payload bytes pass through memory once per side: the producer sums its
 * private message while it copies it in, the consumer copies out and sums
 * its private copy, block by block (ring_sum_then_copy_in and
 * ring_copy_out_then_sum say why each sums the copy it does).
 */
#include <string.h>

#include "codec_internal.h"
#include "crc32c.h"
#include "lane.h"
#include "safety.h"
#include "shm_atomic.h"

static int is_power_of_two(uint32_t v)
{
    return v != 0 && (v & (v - 1u)) == 0;
}

static void ring_copy_out(const shmchan_lane_t *lane, uint32_t pos, uint8_t *dst, uint32_t n)
{
    const uint32_t off = pos & (lane->capacity - 1u);
    const uint32_t first = (n < lane->capacity - off) ? n : lane->capacity - off;
    memcpy(dst, lane->ring + off, first);
    if (n > first) {
        memcpy(dst + first, lane->ring, n - first);
    }
}

static void ring_copy_in(shmchan_lane_t *lane, uint32_t pos, const uint8_t *src, uint32_t n)
{
    const uint32_t off = pos & (lane->capacity - 1u);
    const uint32_t first = (n < lane->capacity - off) ? n : lane->capacity - off;
    memcpy(lane->ring + off, src, first);
    if (n > first) {
        memcpy(lane->ring, src + first, n - first);
    }
}

/* One pass over the payload on each side: the bytes are copied and summed
 * in blocks of this size, each block summed while it is still in the L1
 * cache (6 KiB, twice the 3 x 1 KiB round of crc32c's interleaved SSE4.2
 * path; a source and a destination block take 12 KiB of a 32 KiB L1).
 * Copying a whole frame and then summing it would fetch a large payload
 * from memory twice (docs/benchmarks.md, "One pass per side"). */
#define LANE_SUM_BLOCK 6144u

/* Sender: sums src (the private message) block by block, copying each
 * block into the ring right after: the sum covers private bytes only. */
static uint32_t ring_sum_then_copy_in(shmchan_lane_t *lane, uint32_t pos, const uint8_t *src,
                                      uint32_t n, uint32_t crc)
{
    if (n == 0) {
        return crc; /* src may be NULL: memcpy must not see it (C17 7.24.1p2) */
    }
    if (n <= LANE_SUM_BLOCK) { /* one block: the common case, said plainly */
        crc = shmchan_crc32c_update(crc, src, n);
        ring_copy_in(lane, pos, src, n);
        return crc;
    }
    for (uint32_t done = 0; done < n;) {
        const uint32_t step = n - done < LANE_SUM_BLOCK ? n - done : LANE_SUM_BLOCK;
        crc = shmchan_crc32c_update(crc, src + done, step);
        ring_copy_in(lane, pos + done, src + done, step);
        done += step;
    }
    return crc;
}

/* Receiver: copies each block out of the ring, then sums the private copy:
 * the shared bytes are read once, and what is verified is what is kept. */
static uint32_t ring_copy_out_then_sum(const shmchan_lane_t *lane, uint32_t pos, uint8_t *dst,
                                       uint32_t n, uint32_t crc)
{
    if (n == 0) {
        return crc; /* dst may be NULL: memcpy must not see it (C17 7.24.1p2) */
    }
    if (n <= LANE_SUM_BLOCK) { /* one block: the common case, said plainly */
        ring_copy_out(lane, pos, dst, n);
        return shmchan_crc32c_update(crc, dst, n);
    }
    for (uint32_t done = 0; done < n;) {
        const uint32_t step = n - done < LANE_SUM_BLOCK ? n - done : LANE_SUM_BLOCK;
        ring_copy_out(lane, pos + done, dst + done, step);
        crc = shmchan_crc32c_update(crc, dst + done, step);
        done += step;
    }
    return crc;
}

/* Records the first cause and makes every later call fail. */
static shmchan_err_t lane_fail(shmchan_lane_t *lane, shmchan_err_t cause)
{
    if (lane->fault == SHMCHAN_OK) {
        lane->fault = cause;
    }
    return SHMCHAN_E_PROTOCOL;
}

shmchan_err_t shmchan_lane_init(shmchan_lane_t *lane, uint8_t *ctl, uint8_t *ring,
                                uint32_t capacity, uint32_t max_payload)
{
    ENSURE_REF(lane);
    memset(lane, 0, sizeof *lane);
    ENSURE_REF(ctl);
    ENSURE_REF(ring);
    ENSURE(is_power_of_two(capacity), SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(max_payload <= SHMCHAN_PAYLOAD_HARD_MAX, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE((uint64_t)max_payload + SHMCHAN_FRAME_HEADER_SIZE <= capacity,
           SHMCHAN_E_INVALID_ARGUMENT);
    lane->ctl = ctl;
    lane->ring = ring;
    lane->capacity = capacity;
    lane->max_payload = max_payload;
    lane->fault = SHMCHAN_OK;
    return SHMCHAN_OK;
}

void shmchan_lane_reset_shared(uint8_t *ctl)
{
    shmchan_shm_store_u32_relaxed(ctl + SHMCHAN_LANE_OFF_HEAD, 0);
    shmchan_shm_store_u32_relaxed(ctl + SHMCHAN_LANE_OFF_TAIL, 0);
    shmchan_shm_store_u32_relaxed(ctl + SHMCHAN_LANE_OFF_CONSUMER_WAITING, 0);
    shmchan_shm_store_u32_release(ctl + SHMCHAN_LANE_OFF_PRODUCER_WAITING, 0);
}

shmchan_err_t shmchan_lane_fault(const shmchan_lane_t *lane)
{
    return lane->fault;
}

/* Producer: re-reads the consumer's tail and validates it. Returns the fill
 * level, or UINT32_MAX if the tail is impossible. */
static uint32_t producer_refresh(shmchan_lane_t *lane)
{
    /* Acquire: the consumer finished copying bytes out before it advanced
     * tail, so we may overwrite everything before the tail we read. */
    const uint32_t tail = shmchan_shm_load_u32_acquire(lane->ctl + SHMCHAN_LANE_OFF_TAIL);
    const uint32_t used = lane->pos - tail;
    if (used > lane->capacity) {
        return UINT32_MAX;
    }
    lane->peer = tail;
    return used;
}

/* Fill level seen by a read-only caller (no cache update). */
static uint32_t producer_used(const shmchan_lane_t *lane)
{
    const uint32_t tail = shmchan_shm_load_u32_acquire(lane->ctl + SHMCHAN_LANE_OFF_TAIL);
    const uint32_t used = lane->pos - tail;
    return used <= lane->capacity ? used : UINT32_MAX;
}

int shmchan_lane_writable(const shmchan_lane_t *lane, uint32_t len)
{
    if (lane->fault != SHMCHAN_OK) {
        return 1; /* let try_send report the fault instead of waiting */
    }
    const uint32_t used = producer_used(lane);
    if (used == UINT32_MAX) {
        return 1;
    }
    return (uint64_t)lane->capacity - used >= (uint64_t)len + SHMCHAN_FRAME_HEADER_SIZE;
}

shmchan_err_t shmchan_lane_try_send(shmchan_lane_t *lane, uint8_t type, const uint8_t *payload,
                                    uint32_t len)
{
    ENSURE_REF(lane);
    ENSURE(payload != NULL || len == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(lane->fault == SHMCHAN_OK, SHMCHAN_E_PROTOCOL);
    ENSURE(len <= lane->max_payload, SHMCHAN_E_FRAME_TOO_LONG);

    /* len + header <= capacity (lane_init), so no overflow here. */
    const uint32_t need = len + SHMCHAN_FRAME_HEADER_SIZE;
    /* The cached tail was valid when read and the consumer only moves it
     * forward, so the true free space is at least what it implies. */
    if (lane->capacity - (lane->pos - lane->peer) < need) {
        const uint32_t used = producer_refresh(lane);
        if (used == UINT32_MAX) {
            return lane_fail(lane, SHMCHAN_E_PROTOCOL);
        }
        ENSURE(lane->capacity - used >= need, SHMCHAN_E_WOULD_BLOCK);
    }

    /* The checksum is computed over the caller's private bytes in the pass
     * that copies them in (header fields first; the header itself goes in
     * last, once its checksum is known): nothing the consumer could change
     * is ever summed. (Zeroed although build_header fills it whole on
     * success: EVA cannot tell the GUARD's two paths apart across the
     * call, docs/proofs.md.) */
    uint8_t header[SHMCHAN_FRAME_HEADER_SIZE] = {0};
    const shmchan_frame_t frame = {
        .type = type, .flags = 0, .payload_len = len, .seq = lane->seq};
    GUARD(shmchan_codec_build_header(&frame, len, header));
    uint32_t crc = shmchan_codec_checksum_start(header);
    crc = ring_sum_then_copy_in(lane, lane->pos + SHMCHAN_FRAME_HEADER_SIZE, payload, len, crc);
    shmchan_codec_set_checksum(header, crc);
    ring_copy_in(lane, lane->pos, header, SHMCHAN_FRAME_HEADER_SIZE);
    lane->pos += need;
    lane->seq++;
    /* Release: the frame's bytes are visible before the head that covers
     * them. A producer killed before this line published nothing. */
    shmchan_shm_store_u32_release(lane->ctl + SHMCHAN_LANE_OFF_HEAD, lane->pos);
    return SHMCHAN_OK;
}

int shmchan_lane_readable(const shmchan_lane_t *lane)
{
    if (lane->fault != SHMCHAN_OK) {
        return 1;
    }
    return shmchan_shm_load_u32_relaxed(lane->ctl + SHMCHAN_LANE_OFF_HEAD) != lane->pos;
}

shmchan_err_t shmchan_lane_try_recv(shmchan_lane_t *lane, uint8_t *type, uint8_t *buf,
                                    size_t cap, uint32_t *len)
{
    ENSURE_REF(len);
    *len = 0;
    ENSURE_REF(lane);
    ENSURE_REF(type);
    ENSURE(buf != NULL || cap == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(lane->fault == SHMCHAN_OK, SHMCHAN_E_PROTOCOL);

    uint32_t avail = lane->peer - lane->pos;
    if (avail == 0) {
        /* Acquire: pairs with the producer's release of head. One load; the
         * value is validated, then only the private copy is used. */
        const uint32_t head = shmchan_shm_load_u32_acquire(lane->ctl + SHMCHAN_LANE_OFF_HEAD);
        avail = head - lane->pos;
        if (avail == 0) {
            return SHMCHAN_E_WOULD_BLOCK;
        }
        if (avail > lane->capacity) {
            return lane_fail(lane, SHMCHAN_E_FRAME_TRUNCATED);
        }
        lane->peer = head;
    }
    if (avail < SHMCHAN_FRAME_HEADER_SIZE) {
        /* Producers publish whole frames only. */
        return lane_fail(lane, SHMCHAN_E_FRAME_TRUNCATED);
    }

    uint8_t header[SHMCHAN_FRAME_HEADER_SIZE];
    ring_copy_out(lane, lane->pos, header, SHMCHAN_FRAME_HEADER_SIZE);
    shmchan_frame_t frame;
    const shmchan_err_t perr = shmchan_codec_parse_header(header, lane->max_payload, &frame);
    if (perr != SHMCHAN_OK) {
        return lane_fail(lane, perr);
    }
    if (frame.payload_len > avail - SHMCHAN_FRAME_HEADER_SIZE) {
        return lane_fail(lane, SHMCHAN_E_FRAME_BEYOND_BUFFER);
    }
    if (frame.payload_len > cap) {
        *len = frame.payload_len;
        return SHMCHAN_E_OUTPUT_TOO_SMALL;
    }
    /* One pass: copied out of the ring and summed over the private copy,
     * block by block, so what is verified is what the caller gets. */
    const uint32_t crc = ring_copy_out_then_sum(lane, lane->pos + SHMCHAN_FRAME_HEADER_SIZE, buf,
                                                frame.payload_len,
                                                shmchan_codec_checksum_start(header));
    if (crc != frame.checksum) {
        return lane_fail(lane, SHMCHAN_E_FRAME_CHECKSUM);
    }
    /* Exactly once and in order: a replayed, skipped or reordered frame is
     * a protocol violation even if its checksum is right. */
    if (frame.seq != lane->seq) {
        return lane_fail(lane, SHMCHAN_E_PROTOCOL);
    }

    lane->pos += SHMCHAN_FRAME_HEADER_SIZE + frame.payload_len;
    lane->seq++;
    /* Release: our copies are complete before the producer may reuse the
     * bytes. */
    shmchan_shm_store_u32_release(lane->ctl + SHMCHAN_LANE_OFF_TAIL, lane->pos);
    *type = frame.type;
    *len = frame.payload_len;
    return SHMCHAN_OK;
}

void shmchan_lane_set_consumer_waiting(shmchan_lane_t *lane, int waiting)
{
    shmchan_shm_store_u32_relaxed(lane->ctl + SHMCHAN_LANE_OFF_CONSUMER_WAITING,
                                  waiting ? 1u : 0u);
}

void shmchan_lane_set_producer_waiting(shmchan_lane_t *lane, int waiting)
{
    shmchan_shm_store_u32_relaxed(lane->ctl + SHMCHAN_LANE_OFF_PRODUCER_WAITING,
                                  waiting ? 1u : 0u);
}

int shmchan_lane_consumer_needs_wake(const shmchan_lane_t *lane)
{
    shmchan_shm_fence_seq_cst();
    return shmchan_shm_load_u32_relaxed(lane->ctl + SHMCHAN_LANE_OFF_CONSUMER_WAITING) != 0;
}

int shmchan_lane_producer_needs_wake(const shmchan_lane_t *lane)
{
    shmchan_shm_fence_seq_cst();
    return shmchan_shm_load_u32_relaxed(lane->ctl + SHMCHAN_LANE_OFF_PRODUCER_WAITING) != 0;
}
