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
 * private message while it copies it in, block by block; the consumer
 * copies out and sums its private copy, in one instruction stream where
 * the CPU allows (shmchan_crc32c_copy), else block by block
 * (ring_sum_then_copy_in, ring_fused and ring_copy_out_then_sum say why
 * each sums the copy it does).
 *
 * Fragments (docs/protocol.md, "Fragments"): a message longer than
 * frag_max goes as frames of exactly frag_max bytes with FLAG_MORE, the
 * first without FLAG_CONT and the others with it, and a last one of 1 ..
 * frag_max bytes with FLAG_CONT only. The consumer checks that grammar
 * from the header before it reads a payload byte, reassembles into its
 * private stash and delivers only a whole message; so a message takes at
 * most max_frames frames, and that number bounds every loop here.
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
 * in blocks of this size, each block summed while it is still in cache
 * (24 KiB, eight rounds of crc32c's 3 x 1 KiB interleaved SSE4.2 path; a
 * source and a destination block take 48 KiB, the L1d of this machine
 * kind, well inside L2). Copying a whole frame and then summing it fetches
 * a large payload from memory twice; 6 KiB blocks, tried first, cost 40 %
 * at 64 KiB messages against the two-pass code, 24 KiB none
 * (docs/benchmarks.md, "Round 2"). */
#define LANE_SUM_BLOCK 24576u

/* Receiver, when the CPU can copy and sum in one instruction stream
 * (crc32c.h): each ring piece of the payload (two if it wraps) is copied
 * out and summed in one call that sums exactly the registers it stores
 * into the private copy, so what is verified is still what is kept. The
 * sender does not do the same: its stores go to ring lines the consumer's
 * core holds, and memcpy's `rep movsb` writes whole lines without first
 * reading them, which vector stores must (measured: 64 KiB messages at
 * half the rate with a fused sender, docs/benchmarks.md). */
static int ring_fused(uint32_t n)
{
    return n >= SHMCHAN_CRC32C_COPY_FUSED_MIN && shmchan_crc32c_copy_fused_available();
}

static uint32_t ring_copy_sum_out(const shmchan_lane_t *lane, uint32_t pos, uint8_t *dst,
                                  uint32_t n, uint32_t crc)
{
    const uint32_t off = pos & (lane->capacity - 1u);
    const uint32_t first = (n < lane->capacity - off) ? n : lane->capacity - off;
    crc = shmchan_crc32c_copy(crc, dst, lane->ring + off, first);
    return shmchan_crc32c_copy(crc, dst + first, lane->ring, n - first);
}

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
    if (ring_fused(n)) {
        return ring_copy_sum_out(lane, pos, dst, n, crc);
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

uint32_t shmchan_lane_fragment_max(uint32_t capacity, uint32_t max_payload)
{
    /* capacity >= the floor (64), so the subtraction cannot wrap. */
    const uint32_t half = capacity / 2u - SHMCHAN_FRAME_HEADER_SIZE;
    return max_payload < half ? max_payload : half;
}

shmchan_err_t shmchan_lane_init(shmchan_lane_t *lane, uint8_t *ctl, uint8_t *ring,
                                uint32_t capacity, uint32_t max_payload)
{
    ENSURE_REF(lane);
    memset(lane, 0, sizeof *lane);
    ENSURE_REF(ctl);
    ENSURE_REF(ring);
    ENSURE(is_power_of_two(capacity), SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(capacity >= SHMCHAN_LANE_CAPACITY_FLOOR, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(max_payload <= SHMCHAN_PAYLOAD_HARD_MAX, SHMCHAN_E_INVALID_ARGUMENT);
    lane->ctl = ctl;
    lane->ring = ring;
    lane->capacity = capacity;
    lane->max_payload = max_payload;
    lane->frag_max = shmchan_lane_fragment_max(capacity, max_payload);
    /* ceil(max_payload / frag_max): at least 1, since frag_max <=
     * max_payload; frag_max is 0 only when max_payload is, and then every
     * message is one empty frame. */
    lane->max_frames =
        lane->frag_max == 0 ? 1u : (max_payload + lane->frag_max - 1u) / lane->frag_max;
    lane->fault = SHMCHAN_OK;
    lane->asm_state = SHMCHAN_LANE_ASM_IDLE;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_lane_set_stash(shmchan_lane_t *lane, uint8_t *stash, size_t cap)
{
    ENSURE_REF(lane);
    ENSURE_REF(stash);
    ENSURE(cap >= lane->max_payload, SHMCHAN_E_INVALID_ARGUMENT);
    lane->stash = stash;
    lane->stash_cap = cap;
    return SHMCHAN_OK;
}

int shmchan_lane_needs_stash(const shmchan_lane_t *lane)
{
    return lane->max_payload > lane->frag_max;
}

int shmchan_lane_progressed(const shmchan_lane_t *lane)
{
    return lane->progressed;
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
    uint32_t rest = len;
    if (lane->send_off != 0 && lane->send_len == len) {
        rest = len - lane->send_off;
    }
    const uint32_t n = rest < lane->frag_max ? rest : lane->frag_max;
    return (uint64_t)lane->capacity - used >= (uint64_t)n + SHMCHAN_FRAME_HEADER_SIZE;
}

/* Room for need bytes: SHMCHAN_OK, SHMCHAN_E_WOULD_BLOCK, or a fault. */
static shmchan_err_t producer_make_room(shmchan_lane_t *lane, uint32_t need)
{
    /* The cached tail was valid when read and the consumer only moves it
     * forward, so the true free space is at least what it implies. */
    if (lane->capacity - (lane->pos - lane->peer) < need) {
        const uint32_t used = producer_refresh(lane);
        if (used == UINT32_MAX) {
            return lane_fail(lane, SHMCHAN_E_PROTOCOL);
        }
        ENSURE(lane->capacity - used >= need, SHMCHAN_E_WOULD_BLOCK);
    }
    return SHMCHAN_OK;
}

/* Writes one frame at pos and publishes it. The checksum is computed over
 * the caller's private bytes in the pass that copies them in (header
 * fields first; the header itself goes in last, once its checksum is
 * known): nothing the consumer could change is ever summed. */
static shmchan_err_t publish_frame(shmchan_lane_t *lane, uint8_t type, uint8_t flags,
                                   const uint8_t *payload, uint32_t len)
{
    /* Zeroed although build_header fills it whole on success: EVA cannot
     * tell the GUARD's two paths apart across the call (docs/proofs.md). */
    uint8_t header[SHMCHAN_FRAME_HEADER_SIZE] = {0};
    const shmchan_frame_t frame = {
        .type = type, .flags = flags, .payload_len = len, .seq = lane->seq};
    GUARD(shmchan_codec_build_header(&frame, len, header));
    uint32_t crc = shmchan_codec_checksum_start(header);
    crc = ring_sum_then_copy_in(lane, lane->pos + SHMCHAN_FRAME_HEADER_SIZE, payload, len, crc);
    shmchan_codec_set_checksum(header, crc);
    ring_copy_in(lane, lane->pos, header, SHMCHAN_FRAME_HEADER_SIZE);
    /* len <= frag_max < capacity (init), so no overflow here. */
    lane->pos += SHMCHAN_FRAME_HEADER_SIZE + len;
    lane->seq++;
    lane->progressed = 1;
    /* Release: the frame's bytes are visible before the head that covers
     * them. A producer killed before this line published nothing. */
    shmchan_shm_store_u32_release(lane->ctl + SHMCHAN_LANE_OFF_HEAD, lane->pos);
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_lane_try_send(shmchan_lane_t *lane, uint8_t type, const uint8_t *payload,
                                    uint32_t len)
{
    ENSURE_REF(lane);
    lane->progressed = 0;
    ENSURE(payload != NULL || len == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(lane->fault == SHMCHAN_OK, SHMCHAN_E_PROTOCOL);
    ENSURE(len <= lane->max_payload, SHMCHAN_E_FRAME_TOO_LONG);

    /* A message is open (its first fragments are out): this call must be
     * for it. Which message the caller means cannot be told from its
     * arguments (a buffer refilled and sent again has the same address and
     * length), so giving up is an explicit call, shmchan_lane_abandon_send;
     * a call that does not match the open message is the caller's error
     * and changes nothing. */
    if (lane->send_off != 0) {
        ENSURE(lane->send_len == len && lane->send_type == type && lane->send_off < len,
               SHMCHAN_E_INVALID_ARGUMENT);
    }
    /* Bound: a message is at most max_frames frames (init), and each round
     * publishes one of them or returns. */
    for (uint32_t round = 0; round < lane->max_frames; round++) {
        const uint32_t rest = len - lane->send_off;
        const uint32_t n = rest < lane->frag_max ? rest : lane->frag_max;
        const int more = rest > lane->frag_max;
        GUARD(producer_make_room(lane, n + SHMCHAN_FRAME_HEADER_SIZE));
        const uint8_t flags = (uint8_t)((lane->send_off != 0 ? SHMCHAN_FRAME_FLAG_CONT : 0u) |
                                        (more ? SHMCHAN_FRAME_FLAG_MORE : 0u));
        /* An empty message may come as NULL: no arithmetic on it. */
        const uint8_t *piece = payload == NULL ? NULL : payload + lane->send_off;
        GUARD(publish_frame(lane, type, flags, piece, n));
        if (!more) {
            lane->send_off = 0;
            return SHMCHAN_OK;
        }
        lane->send_len = len;
        lane->send_type = type;
        lane->send_off += n;
    }
    /* Unreachable: max_frames rounds publish a whole message. */
    lane->send_off = 0;
    return SHMCHAN_E_INVALID_ARGUMENT;
}

void shmchan_lane_abandon_send(shmchan_lane_t *lane)
{
    /* The next message starts without FLAG_CONT, which tells the consumer
     * to drop the part of this one it holds. */
    lane->send_off = 0;
}

int shmchan_lane_readable(const shmchan_lane_t *lane)
{
    if (lane->fault != SHMCHAN_OK) {
        return 1;
    }
    return shmchan_shm_load_u32_relaxed(lane->ctl + SHMCHAN_LANE_OFF_HEAD) != lane->pos;
}

/* The consumer's view of the next frame: SHMCHAN_OK with `avail` bytes
 * published and not consumed (>= a header), SHMCHAN_E_WOULD_BLOCK if none,
 * or a fault. Reads head only when the cached value is used up. */
static shmchan_err_t consumer_available(shmchan_lane_t *lane, uint32_t *avail)
{
    uint32_t n = lane->peer - lane->pos;
    if (n == 0) {
        /* Acquire: pairs with the producer's release of head. One load; the
         * value is validated, then only the private copy is used. */
        const uint32_t head = shmchan_shm_load_u32_acquire(lane->ctl + SHMCHAN_LANE_OFF_HEAD);
        n = head - lane->pos;
        if (n == 0) {
            return SHMCHAN_E_WOULD_BLOCK;
        }
        if (n > lane->capacity) {
            return lane_fail(lane, SHMCHAN_E_FRAME_TRUNCATED);
        }
        lane->peer = head;
    }
    if (n < SHMCHAN_FRAME_HEADER_SIZE) {
        /* Producers publish whole frames only. */
        return lane_fail(lane, SHMCHAN_E_FRAME_TRUNCATED);
    }
    *avail = n;
    return SHMCHAN_OK;
}

/* The fragment grammar, judged from a parsed header before any payload
 * byte is read. Returns 1 if the frame is one whole message, 0 if it is a
 * fragment the stash takes, -1 if it breaks the rules. May drop an open
 * message that the producer abandoned (a frame without FLAG_CONT). */
static int fragment_judge(shmchan_lane_t *lane, const shmchan_frame_t *frame)
{
    const int more = (frame->flags & SHMCHAN_FRAME_FLAG_MORE) != 0;
    const int cont = (frame->flags & SHMCHAN_FRAME_FLAG_CONT) != 0;
    if (!cont) {
        /* A new message. Whatever was open was abandoned by its sender,
         * who was told it failed: never deliver a part of it. */
        lane->asm_state = SHMCHAN_LANE_ASM_IDLE;
        lane->asm_len = 0;
        if (!more) {
            return 1;
        }
        /* Only a message longer than a frame is split, into frames of
         * exactly frag_max bytes before the last. */
        return frame->payload_len == lane->frag_max && lane->frag_max < lane->max_payload ? 0
                                                                                          : -1;
    }
    /* Continues nothing, or another type of message. (asm_len <
     * max_payload while a message is open; checked, not assumed, so that
     * no private state, however reached, can make `room` wrap.) */
    if (lane->asm_state != SHMCHAN_LANE_ASM_OPEN || frame->type != lane->asm_type ||
        lane->asm_len >= lane->max_payload) {
        return -1;
    }
    const uint32_t room = lane->max_payload - lane->asm_len;
    if (more) {
        /* A last fragment of at least one byte must still fit. */
        return frame->payload_len == lane->frag_max && frame->payload_len < room ? 0 : -1;
    }
    return frame->payload_len >= 1 && frame->payload_len <= room ? 0 : -1;
}

/* Hands over the whole message held in the stash, or says how large it is. */
static shmchan_err_t deliver_stash(shmchan_lane_t *lane, uint8_t *type, uint8_t *buf,
                                   size_t cap, uint32_t *len)
{
    /* Only a lane whose stash holds asm_len bytes gets here honestly;
     * checked so that no private state can turn into a wild copy. */
    ENSURE(lane->stash != NULL && lane->asm_len <= lane->stash_cap, SHMCHAN_E_INVALID_ARGUMENT);
    if (lane->asm_len > cap) {
        *len = lane->asm_len;
        return SHMCHAN_E_OUTPUT_TOO_SMALL;
    }
    if (lane->asm_len > 0) {
        memcpy(buf, lane->stash, lane->asm_len);
    }
    *type = lane->asm_type;
    *len = lane->asm_len;
    lane->asm_state = SHMCHAN_LANE_ASM_IDLE;
    lane->asm_len = 0;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_lane_try_recv(shmchan_lane_t *lane, uint8_t *type, uint8_t *buf,
                                    size_t cap, uint32_t *len)
{
    ENSURE_REF(len);
    *len = 0;
    ENSURE_REF(lane);
    lane->progressed = 0;
    ENSURE_REF(type);
    ENSURE(buf != NULL || cap == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(lane->fault == SHMCHAN_OK, SHMCHAN_E_PROTOCOL);
    if (lane->asm_state == SHMCHAN_LANE_ASM_READY) {
        return deliver_stash(lane, type, buf, cap, len);
    }

    /* Bound: max_frames frames complete any message; a producer that keeps
     * abandoning and restarting gets no more than that per call. */
    for (uint32_t round = 0; round < lane->max_frames; round++) {
        uint32_t avail = 0;
        GUARD(consumer_available(lane, &avail));

        uint8_t header[SHMCHAN_FRAME_HEADER_SIZE];
        ring_copy_out(lane, lane->pos, header, SHMCHAN_FRAME_HEADER_SIZE);
        shmchan_frame_t frame;
        const shmchan_err_t perr = shmchan_codec_parse_header(header, lane->frag_max, &frame);
        if (perr != SHMCHAN_OK) {
            return lane_fail(lane, perr);
        }
        if (frame.payload_len > avail - SHMCHAN_FRAME_HEADER_SIZE) {
            return lane_fail(lane, SHMCHAN_E_FRAME_BEYOND_BUFFER);
        }
        const int whole = fragment_judge(lane, &frame);
        if (whole < 0) {
            return lane_fail(lane, SHMCHAN_E_FRAGMENT);
        }
        uint8_t *dst = buf;
        if (whole) {
            if (frame.payload_len > cap) {
                *len = frame.payload_len;
                return SHMCHAN_E_OUTPUT_TOO_SMALL;
            }
        } else {
            /* The caller's configuration, not the peer: no fault. */
            ENSURE(lane->stash != NULL && lane->stash_cap >= lane->max_payload,
                   SHMCHAN_E_INVALID_ARGUMENT);
            dst = lane->stash + lane->asm_len;
        }
        const uint32_t crc =
            ring_copy_out_then_sum(lane, lane->pos + SHMCHAN_FRAME_HEADER_SIZE, dst,
                                   frame.payload_len, shmchan_codec_checksum_start(header));
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
        lane->progressed = 1;
        /* Release: our copies are complete before the producer may reuse the
         * bytes. */
        shmchan_shm_store_u32_release(lane->ctl + SHMCHAN_LANE_OFF_TAIL, lane->pos);
        if (whole) {
            *type = frame.type;
            *len = frame.payload_len;
            return SHMCHAN_OK;
        }
        lane->asm_type = frame.type;
        lane->asm_len += frame.payload_len;
        lane->asm_state = SHMCHAN_LANE_ASM_OPEN;
        if ((frame.flags & SHMCHAN_FRAME_FLAG_MORE) == 0) {
            lane->asm_state = SHMCHAN_LANE_ASM_READY;
            return deliver_stash(lane, type, buf, cap, len);
        }
    }
    return SHMCHAN_E_WOULD_BLOCK;
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
