/*
 * lane_fuzzer.c - a producer and a consumer on one lane, driven by the
 * input, with a hostile peer rewriting shared bytes between operations.
 *
 * Input: [u8 capacity: 64 << (v % 7)][u16 max_payload: v % (capacity/2 - 23)]
 *        [u32 base][operations...]
 * `base` is where both free-running counters start (head = tail = both
 * private positions), so that a short input reaches the 2^32 wrap a real
 * lane reaches after 4 GiB. Each operation is one byte `op` and its
 * arguments; op % 10 selects:
 *   0-2 send   [u8 type][u16 len][len payload bytes]
 *   3-5 recv   [u8 cap]
 *   6   poll   [u16 len]  readable() and writable(len)
 *   7   flags  [u8]       set/read the waiting flags
 *   8   corrupt a control word [u8 which/how][u32 value]
 *   9   corrupt the ring       [u8 where][u32 value]: one byte anywhere
 *       (op / 10 odd) or four bytes at a field of the next frame
 * The control block (256 bytes) and the ring (capacity bytes) are exactly
 * sized heap blocks: AddressSanitizer reports any access outside them, and
 * libFuzzer's -timeout any loop.
 *
 * Properties (abort on violation), checked after every operation:
 *  1. Model: while no byte the lane reads (head, tail, a ring byte holding
 *     unconsumed data) has been changed behind its back, the lane agrees
 *     exactly with a plain FIFO of the messages whose send succeeded:
 *     every result code, every received type/length/payload byte,
 *     readable(), writable(len), and both shared counters.
 *  2. Reference consumer: in every state, corrupted or not, try_recv's
 *     result, reported length, fault cause and received bytes equal those
 *     of a reference written from docs/protocol.md section 3 (with the
 *     peer-index cache of src/lane.c: head is re-read only once everything
 *     up to the head last validated is consumed), evaluated on the ring and
 *     head as they are at the call: so an accepted frame is always exactly
 *     a well-formed frame with the next sequence number at the consumer's
 *     position. After corruption that is the next message
 *     of the model, byte for byte, unless the hostile peer itself wrote a
 *     well-formed frame there (a forgery no lane can detect: the CRC is not
 *     a MAC, docs/protocol.md section 1); those are counted, and can only
 *     occur after corruption.
 *  3. Reference producer: in every state, try_send's result equals a
 *     reference from the same section (tail re-read only when the cached
 *     one leaves too little room); on success exactly the frame's
 *     bytes changed in the ring (header and payload as specified, sequence
 *     number = sends so far) and head = old head + frame size; on failure
 *     neither the ring nor head changed.
 *  4. The consumer never writes the ring or head; faults are sticky; each
 *     side's cached peer index is the one the reference expects and is
 *     never more than a ring's worth from its own position.
 *  5. The waiting flags read back what was stored (needs_wake = flag != 0).
 */
#include <string.h>

#include "fuzz/fuzz_harness.h"
#include "src/crc32c.h"
#include "src/lane.h"
#include "src/shmchan.h"

#define LANE_MAX_OPS 512u
#define HDR 24u

typedef struct sent_msg {
    uint8_t type;
    uint32_t len;
    uint8_t *bytes;
} sent_msg_t;

typedef struct harness {
    uint8_t *ctl;  /* SHMCHAN_LANE_CTL_SIZE bytes, shared */
    uint8_t *ring; /* capacity bytes, shared */
    uint8_t *snap; /* capacity bytes: the ring before an operation */
    uint32_t capacity;
    uint32_t max_payload;
    shmchan_lane_t prod;
    shmchan_lane_t cons;
    sent_msg_t msgs[LANE_MAX_OPS];
    uint32_t nsent;      /* successful sends */
    uint32_t nrecv;      /* successful receives */
    uint32_t model_head; /* what head and tail would be, honestly */
    uint32_t model_tail;
    uint32_t prod_peer;  /* the references' copy of each side's cached */
    uint32_t cons_peer;  /* peer index (shmchan_lane_t.peer) */
    int dirty;           /* a byte the lane reads was changed behind its back */
    uint32_t forged;
} harness_t;

/* Expected outcome of one operation. */
typedef struct verdict {
    shmchan_err_t result;
    shmchan_err_t cause; /* consumer: fault recorded on SHMCHAN_E_PROTOCOL */
    uint32_t len;
    uint8_t type;
} verdict_t;

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t le64_at(const uint8_t *p)
{
    return (uint64_t)le32_at(p) | ((uint64_t)le32_at(p + 4) << 32);
}

static void le32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t ctl_word(const harness_t *h, unsigned off)
{
    return le32_at(h->ctl + off);
}

/* ring[pos .. pos + n) as the lane sees it: offsets modulo capacity. */
static void ring_read(const harness_t *h, const uint8_t *ring, uint32_t pos, uint8_t *dst,
                      uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        dst[i] = ring[(pos + i) & (h->capacity - 1u)];
    }
}

static uint32_t frame_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
    uint32_t crc = shmchan_crc32c_update_portable(0, hdr, 12);
    crc = shmchan_crc32c_update_portable(crc, hdr + 16, 8);
    return shmchan_crc32c_update_portable(crc, payload, len);
}

/* docs/protocol.md section 1: the header checks, in the table's order. */
static shmchan_err_t reference_header(const uint8_t *hdr, uint32_t max_payload)
{
    if (memcmp(hdr, "SHCF", 4) != 0) {
        return SHMCHAN_E_FRAME_MAGIC;
    }
    if (hdr[4] != 1) {
        return SHMCHAN_E_FRAME_VERSION;
    }
    if (hdr[5] != 1 && hdr[5] != 2) {
        return SHMCHAN_E_FRAME_TYPE;
    }
    /* Flags: bits 0-1 are the fragment flags, allowed on DATA only. */
    if ((hdr[6] & ~3u) != 0 || (hdr[6] != 0 && hdr[5] != 1)) {
        return SHMCHAN_E_FRAME_FLAGS;
    }
    if (hdr[7] != 0) {
        return SHMCHAN_E_FRAME_RESERVED;
    }
    if (le32_at(hdr + 8) > max_payload) {
        return SHMCHAN_E_FRAME_TOO_LONG;
    }
    return SHMCHAN_OK;
}

/* docs/protocol.md section 3, "Consumer", with the peer-index cache of
 * src/lane.c: the consumer re-reads head only when everything up to the
 * head it last validated is consumed. Evaluated on the bytes as they are
 * now; updates the reference's copy of the cache as the lane should. */
static verdict_t reference_recv(harness_t *h, size_t cap)
{
    verdict_t v = {SHMCHAN_OK, SHMCHAN_OK, 0, 0};
    if (shmchan_lane_fault(&h->cons) != SHMCHAN_OK) {
        v.result = SHMCHAN_E_PROTOCOL;
        v.cause = shmchan_lane_fault(&h->cons);
        return v;
    }
    const uint32_t pos = h->cons.pos;
    uint32_t avail = h->cons_peer - pos;
    if (avail == 0) {
        const uint32_t head = ctl_word(h, SHMCHAN_LANE_OFF_HEAD);
        avail = head - pos;
        if (avail == 0) {
            v.result = SHMCHAN_E_WOULD_BLOCK;
            return v;
        }
        if (avail > h->capacity) {
            v.result = SHMCHAN_E_PROTOCOL;
            v.cause = SHMCHAN_E_FRAME_TRUNCATED;
            return v;
        }
        h->cons_peer = head;
    }
    v.result = SHMCHAN_E_PROTOCOL;
    if (avail < HDR) {
        v.cause = SHMCHAN_E_FRAME_TRUNCATED;
        return v;
    }
    uint8_t hdr[HDR];
    ring_read(h, h->ring, pos, hdr, HDR);
    v.cause = reference_header(hdr, h->max_payload);
    if (v.cause != SHMCHAN_OK) {
        return v;
    }
    const uint32_t len = le32_at(hdr + 8);
    if (len > avail - HDR) {
        v.cause = SHMCHAN_E_FRAME_BEYOND_BUFFER;
        return v;
    }
    /* The fragment rules (section "Fragments"): in this harness every
     * message fits one frame (max_payload <= fragment_max), so no message
     * is ever open, and any fragment flag breaks them: MORE claims a
     * message longer than max_payload's frame, CONT continues nothing.
     * (fuzz/fragments_fuzzer.c drives messages that do need fragments.) */
    if (hdr[6] != 0) {
        v.cause = SHMCHAN_E_FRAGMENT;
        return v;
    }
    if (len > cap) {
        v.result = SHMCHAN_E_OUTPUT_TOO_SMALL;
        v.cause = SHMCHAN_OK;
        v.len = len;
        return v;
    }
    uint8_t *payload = fuzz_alloc(len);
    ring_read(h, h->ring, pos + HDR, payload, len);
    const uint32_t crc = frame_crc(hdr, payload, len);
    free(payload);
    if (crc != le32_at(hdr + 12)) {
        v.cause = SHMCHAN_E_FRAME_CHECKSUM;
        return v;
    }
    if (le64_at(hdr + 16) != h->nrecv) {
        v.cause = SHMCHAN_E_PROTOCOL;
        return v;
    }
    v.result = SHMCHAN_OK;
    v.cause = SHMCHAN_OK;
    v.len = len;
    v.type = hdr[5];
    return v;
}

/* docs/protocol.md section 3, "Producer", lane.h's argument rules, and the
 * cache of src/lane.c: tail is re-read only when the free space implied by
 * the tail last validated is too small for this frame. */
static shmchan_err_t reference_send(harness_t *h, uint8_t type, uint32_t len)
{
    if (shmchan_lane_fault(&h->prod) != SHMCHAN_OK) {
        return SHMCHAN_E_PROTOCOL;
    }
    if (len > h->max_payload) {
        return SHMCHAN_E_FRAME_TOO_LONG;
    }
    if (h->capacity - (h->prod.pos - h->prod_peer) < len + HDR) {
        const uint32_t tail = ctl_word(h, SHMCHAN_LANE_OFF_TAIL);
        const uint32_t used = h->prod.pos - tail;
        if (used > h->capacity) {
            return SHMCHAN_E_PROTOCOL;
        }
        h->prod_peer = tail;
        if (h->capacity - used < len + HDR) {
            return SHMCHAN_E_WOULD_BLOCK;
        }
    }
    if (type != SHMCHAN_FRAME_DATA && type != SHMCHAN_FRAME_GOODBYE) {
        return SHMCHAN_E_FRAME_TYPE;
    }
    return SHMCHAN_OK;
}

/* Each side's cached peer index is the one the reference expects, and it
 * was validated: never more than a ring's worth from its own position. */
static void check_caches(const harness_t *h)
{
    FUZZ_CHECK(h->prod.peer == h->prod_peer);
    FUZZ_CHECK(h->cons.peer == h->cons_peer);
    FUZZ_CHECK(h->prod.pos - h->prod.peer <= h->capacity);
    FUZZ_CHECK(h->cons.peer - h->cons.pos <= h->capacity);
}

/* Bytes the honest producer has published and the consumer not consumed. */
static uint32_t model_used(const harness_t *h)
{
    return h->model_head - h->model_tail;
}

static int model_live(const harness_t *h, uint32_t ring_off)
{
    return ((ring_off - h->model_tail) & (h->capacity - 1u)) < model_used(h) ||
           model_used(h) == h->capacity;
}

/* Property 1's invariant: honest counters everywhere. */
static void check_clean_state(const harness_t *h)
{
    if (h->dirty) {
        return;
    }
    FUZZ_CHECK(h->prod.pos == h->model_head);
    FUZZ_CHECK(h->cons.pos == h->model_tail);
    FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_HEAD) == h->model_head);
    FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_TAIL) == h->model_tail);
    FUZZ_CHECK(shmchan_lane_fault(&h->prod) == SHMCHAN_OK);
    FUZZ_CHECK(shmchan_lane_fault(&h->cons) == SHMCHAN_OK);
}

static uint8_t pick_type(uint8_t sel)
{
    if (sel < 0xF0) {
        return (sel & 1u) ? SHMCHAN_FRAME_GOODBYE : SHMCHAN_FRAME_DATA;
    }
    return (uint8_t)(sel & 0x0Fu); /* mostly unknown types */
}

/* The frame the producer just wrote at `pos`, checked byte by byte. */
static void check_written_frame(const harness_t *h, uint32_t pos, uint8_t type,
                                const uint8_t *payload, uint32_t len)
{
    uint8_t hdr[HDR];
    ring_read(h, h->ring, pos, hdr, HDR);
    FUZZ_CHECK(reference_header(hdr, h->max_payload) == SHMCHAN_OK);
    FUZZ_CHECK(hdr[5] == type);
    FUZZ_CHECK(le32_at(hdr + 8) == len);
    FUZZ_CHECK(le64_at(hdr + 16) == h->nsent);
    uint8_t *body = fuzz_alloc(len);
    ring_read(h, h->ring, pos + HDR, body, len);
    FUZZ_CHECK(len == 0 || memcmp(body, payload, len) == 0);
    FUZZ_CHECK(le32_at(hdr + 12) == frame_crc(hdr, body, len));
    free(body);
    /* Nothing outside the frame's bytes changed. */
    for (uint32_t i = len + HDR; i < h->capacity; i++) {
        const uint32_t off = (pos + i) & (h->capacity - 1u);
        FUZZ_CHECK(h->ring[off] == h->snap[off]);
    }
}

static void op_send(harness_t *h, fuzz_cursor_t *in)
{
    const uint8_t type = pick_type(fuzz_take_u8(in));
    const uint32_t len = fuzz_take_u16(in) % (h->max_payload + 2u);
    uint8_t *payload = fuzz_alloc(len);
    for (uint32_t i = 0; i < len; i++) {
        payload[i] = fuzz_take_u8(in);
    }
    memcpy(h->snap, h->ring, h->capacity);
    const uint32_t old_pos = h->prod.pos;
    const uint32_t old_head = ctl_word(h, SHMCHAN_LANE_OFF_HEAD);
    const shmchan_err_t expect = reference_send(h, type, len);

    const shmchan_err_t err =
        shmchan_lane_try_send(&h->prod, type, len > 0 ? payload : NULL, len);
    FUZZ_CHECK(err == expect);
    if (err == SHMCHAN_OK) {
        check_written_frame(h, old_pos, type, payload, len);
        FUZZ_CHECK(h->prod.pos == old_pos + HDR + len);
        FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_HEAD) == h->prod.pos);
        FUZZ_CHECK(h->nsent < LANE_MAX_OPS);
        h->msgs[h->nsent].type = type;
        h->msgs[h->nsent].len = len;
        h->msgs[h->nsent].bytes = payload;
        h->nsent++;
        h->model_head += HDR + len;
        return; /* the model keeps the payload */
    }
    FUZZ_CHECK(memcmp(h->snap, h->ring, h->capacity) == 0);
    FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_HEAD) == old_head);
    FUZZ_CHECK(h->prod.pos == old_pos);
    if (err == SHMCHAN_E_PROTOCOL) {
        FUZZ_CHECK(shmchan_lane_fault(&h->prod) != SHMCHAN_OK);
    }
    free(payload);
}

/* Property 1 for a receive: what the FIFO model says. */
static verdict_t model_recv(const harness_t *h, size_t cap)
{
    verdict_t v = {SHMCHAN_OK, SHMCHAN_OK, 0, 0};
    if (h->nrecv == h->nsent) {
        v.result = SHMCHAN_E_WOULD_BLOCK;
        return v;
    }
    const sent_msg_t *m = &h->msgs[h->nrecv];
    v.len = m->len;
    if (m->len > cap) {
        v.result = SHMCHAN_E_OUTPUT_TOO_SMALL;
        return v;
    }
    v.type = m->type;
    return v;
}

static void op_recv(harness_t *h, fuzz_cursor_t *in)
{
    const uint8_t sel = fuzz_take_u8(in);
    const size_t cap = (sel & 0x80u) ? (size_t)(sel & 0x7Fu) : h->max_payload;
    uint8_t *buf = cap > 0 ? fuzz_alloc(cap) : NULL;
    memcpy(h->snap, h->ring, h->capacity);
    const uint32_t old_pos = h->cons.pos;
    const uint32_t old_head = ctl_word(h, SHMCHAN_LANE_OFF_HEAD);
    const uint32_t old_tail = ctl_word(h, SHMCHAN_LANE_OFF_TAIL);
    const uint32_t old_pw = ctl_word(h, SHMCHAN_LANE_OFF_PRODUCER_WAITING);
    const int faulted_before = shmchan_lane_fault(&h->cons) != SHMCHAN_OK;
    const verdict_t expect = reference_recv(h, cap);

    uint8_t type = 0;
    uint32_t len = 0xFFFFFFFFu;
    const shmchan_err_t err = shmchan_lane_try_recv(&h->cons, &type, buf, cap, &len);

    FUZZ_CHECK(err == expect.result);
    FUZZ_CHECK(len == expect.len);
    /* The consumer writes only tail. */
    FUZZ_CHECK(memcmp(h->snap, h->ring, h->capacity) == 0);
    FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_HEAD) == old_head);
    FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_PRODUCER_WAITING) == old_pw);
    if (!h->dirty) {
        const verdict_t model = model_recv(h, cap);
        FUZZ_CHECK(err == model.result);
        FUZZ_CHECK(len == model.len);
    }
    if (err == SHMCHAN_OK) {
        FUZZ_CHECK(type == expect.type);
        uint8_t *want = fuzz_alloc(len);
        ring_read(h, h->ring, old_pos + HDR, want, len);
        FUZZ_CHECK(len == 0 || memcmp(buf, want, len) == 0);
        free(want);
        FUZZ_CHECK(h->cons.pos == old_pos + HDR + len);
        FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_TAIL) == h->cons.pos);
        const sent_msg_t *m = h->nrecv < h->nsent ? &h->msgs[h->nrecv] : NULL;
        const int genuine = m != NULL && m->type == type && m->len == len &&
                            (len == 0 || memcmp(m->bytes, buf, len) == 0);
        if (!genuine) {
            FUZZ_CHECK(h->dirty); /* only a hostile peer can forge */
            h->forged++;
        }
        h->nrecv++;
        h->model_tail += HDR + len;
    } else {
        FUZZ_CHECK(h->cons.pos == old_pos);
        FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_TAIL) == old_tail);
        if (err == SHMCHAN_E_PROTOCOL) {
            FUZZ_CHECK(shmchan_lane_fault(&h->cons) == expect.cause);
            FUZZ_CHECK(faulted_before || h->dirty);
        }
    }
    free(buf);
}

static void op_poll(harness_t *h, fuzz_cursor_t *in)
{
    const uint32_t len = fuzz_take_u16(in) % (h->max_payload + 2u);
    const int readable = shmchan_lane_readable(&h->cons);
    if (shmchan_lane_fault(&h->cons) != SHMCHAN_OK) {
        FUZZ_CHECK(readable == 1);
    } else {
        FUZZ_CHECK(readable == (ctl_word(h, SHMCHAN_LANE_OFF_HEAD) != h->cons.pos));
    }
    const int writable = shmchan_lane_writable(&h->prod, len);
    const uint32_t used = h->prod.pos - ctl_word(h, SHMCHAN_LANE_OFF_TAIL);
    /* writable() asks about the next frame, which is never longer than
     * fragment_max (docs/protocol.md 3.1): a len over max_payload (which
     * try_send refuses) is asked about as a frame of fragment_max bytes. */
    const uint32_t fmax = h->capacity / 2u - HDR < h->max_payload ? h->capacity / 2u - HDR
                                                                   : h->max_payload;
    const uint32_t frame = len < fmax ? len : fmax;
    if (shmchan_lane_fault(&h->prod) != SHMCHAN_OK || used > h->capacity) {
        FUZZ_CHECK(writable == 1); /* let try_send report it */
    } else {
        FUZZ_CHECK(writable == ((uint64_t)h->capacity - used >= (uint64_t)frame + HDR));
    }
    if (!h->dirty) {
        FUZZ_CHECK(readable == (h->nsent > h->nrecv));
        FUZZ_CHECK(writable == ((uint64_t)h->capacity - model_used(h) >= (uint64_t)frame + HDR));
    }
}

static void op_flags(harness_t *h, fuzz_cursor_t *in)
{
    const uint8_t sel = fuzz_take_u8(in);
    const int value = (sel >> 1) & 1;
    if ((sel & 4u) == 0) { /* else: only read back what is there */
        if (sel & 1u) {
            shmchan_lane_set_consumer_waiting(&h->cons, value);
            FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_CONSUMER_WAITING) == (uint32_t)value);
        } else {
            shmchan_lane_set_producer_waiting(&h->prod, value);
            FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_PRODUCER_WAITING) == (uint32_t)value);
        }
    }
    FUZZ_CHECK(shmchan_lane_consumer_needs_wake(&h->prod) ==
               (ctl_word(h, SHMCHAN_LANE_OFF_CONSUMER_WAITING) != 0));
    FUZZ_CHECK(shmchan_lane_producer_needs_wake(&h->cons) ==
               (ctl_word(h, SHMCHAN_LANE_OFF_PRODUCER_WAITING) != 0));
}

static void op_corrupt_ctl(harness_t *h, fuzz_cursor_t *in)
{
    static const unsigned words[4] = {SHMCHAN_LANE_OFF_HEAD, SHMCHAN_LANE_OFF_TAIL,
                                      SHMCHAN_LANE_OFF_CONSUMER_WAITING,
                                      SHMCHAN_LANE_OFF_PRODUCER_WAITING};
    const uint8_t sel = fuzz_take_u8(in);
    const uint32_t arg = fuzz_take_u32(in);
    const unsigned off = words[sel & 3u];
    const uint32_t old = ctl_word(h, off);
    const uint32_t delta = (uint32_t)(int32_t)(int8_t)(uint8_t)arg;
    uint32_t value;
    switch ((sel >> 2) & 3u) {
    case 0:
        value = arg;
        break;
    case 1:
        value = old + delta;
        break;
    case 2:
        value = old ^ (1u << (arg & 31u));
        break;
    default: /* near the other side's position: plausible lies */
        value = (off == SHMCHAN_LANE_OFF_HEAD ? h->cons.pos : h->prod.pos) + delta;
        break;
    }
    le32_put(h->ctl + off, value);
    if (value != old && (off == SHMCHAN_LANE_OFF_HEAD || off == SHMCHAN_LANE_OFF_TAIL)) {
        h->dirty = 1;
    }
}

static void corrupt_ring_byte(harness_t *h, uint32_t off, uint8_t value)
{
    off &= h->capacity - 1u;
    if (h->ring[off] != value && model_live(h, off)) {
        h->dirty = 1;
    }
    h->ring[off] = value;
}

static void op_corrupt_ring(harness_t *h, uint8_t op, fuzz_cursor_t *in)
{
    const uint8_t where = fuzz_take_u8(in);
    const uint32_t value = fuzz_take_u32(in);
    if ((op / 10u) & 1u) {
        /* One byte anywhere: `where` and value's top bits make the offset. */
        const uint32_t off = (uint32_t)where | ((value >> 8) << 8);
        corrupt_ring_byte(h, off, (uint8_t)value);
        return;
    }
    /* Four bytes at a field of the frame the consumer reads next: length
     * (8), checksum (12), sequence (16), payload (24+), ... */
    const uint32_t at = h->cons.pos + (uint32_t)(where % 32u);
    for (uint32_t i = 0; i < 4; i++) {
        corrupt_ring_byte(h, at + i, (uint8_t)(value >> (8 * i)));
    }
}

/* Contract checks that change no state: refusals of bad arguments. */
static void check_argument_refusals(harness_t *h)
{
    shmchan_lane_t tmp;
    FUZZ_CHECK(shmchan_lane_init(&tmp, h->ctl, h->ring, h->capacity + 1u, h->max_payload) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_lane_init(&tmp, h->ctl, h->ring, 0, 0) == SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(tmp.ctl == NULL && tmp.ring == NULL); /* reset, not half-bound */
    FUZZ_CHECK(shmchan_lane_init(&tmp, h->ctl, h->ring, 32, 1) == SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_lane_init(&tmp, h->ctl, h->ring, h->capacity,
                                 SHMCHAN_PAYLOAD_HARD_MAX + 1u) == SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_lane_init(&tmp, NULL, h->ring, h->capacity, h->max_payload) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_lane_init(&tmp, h->ctl, NULL, h->capacity, h->max_payload) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_lane_init(NULL, h->ctl, h->ring, h->capacity, h->max_payload) ==
               SHMCHAN_E_INVALID_ARGUMENT);

    FUZZ_CHECK(shmchan_lane_try_send(&h->prod, SHMCHAN_FRAME_DATA, NULL, 1) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_lane_try_send(NULL, SHMCHAN_FRAME_DATA, NULL, 0) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    uint8_t type;
    uint32_t len = 7;
    FUZZ_CHECK(shmchan_lane_try_recv(&h->cons, &type, NULL, 1, &len) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(len == 0);
    FUZZ_CHECK(shmchan_lane_try_recv(&h->cons, NULL, NULL, 0, &len) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_lane_try_recv(NULL, &type, NULL, 0, &len) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_lane_try_recv(&h->cons, &type, NULL, 0, NULL) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    check_clean_state(h);
}

static void setup(harness_t *h, fuzz_cursor_t *in)
{
    h->capacity = 64u << (fuzz_take_u8(in) % 7u);
    /* At most fragment_max (capacity / 2 - 24): every message is one
     * frame, which the references below model. */
    h->max_payload = fuzz_take_u16(in) % (h->capacity / 2u - HDR + 1u);
    const uint32_t base = fuzz_take_u32(in);
    h->ctl = fuzz_alloc(SHMCHAN_LANE_CTL_SIZE);
    h->ring = fuzz_alloc(h->capacity);
    h->snap = fuzz_alloc(h->capacity);
    memset(h->ctl, 0xFF, SHMCHAN_LANE_CTL_SIZE);
    memset(h->ring, 0, h->capacity);

    shmchan_lane_reset_shared(h->ctl);
    FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_HEAD) == 0);
    FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_TAIL) == 0);
    FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_CONSUMER_WAITING) == 0);
    FUZZ_CHECK(ctl_word(h, SHMCHAN_LANE_OFF_PRODUCER_WAITING) == 0);
    FUZZ_CHECK(shmchan_lane_init(&h->prod, h->ctl, h->ring, h->capacity, h->max_payload) ==
               SHMCHAN_OK);
    FUZZ_CHECK(shmchan_lane_init(&h->cons, h->ctl, h->ring, h->capacity, h->max_payload) ==
               SHMCHAN_OK);
    FUZZ_CHECK(h->prod.pos == 0 && h->prod.seq == 0 && h->prod.peer == 0);
    FUZZ_CHECK(h->cons.pos == 0 && h->cons.seq == 0 && h->cons.peer == 0);
    /* White box: start both sides at `base`, as if `base` bytes had
     * already gone through (head = tail = both positions = both cached
     * peer indices: empty and consistent). */
    h->prod.pos = base;
    h->prod.peer = base;
    h->cons.pos = base;
    h->cons.peer = base;
    h->prod_peer = base;
    h->cons_peer = base;
    le32_put(h->ctl + SHMCHAN_LANE_OFF_HEAD, base);
    le32_put(h->ctl + SHMCHAN_LANE_OFF_TAIL, base);
    h->model_head = base;
    h->model_tail = base;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor_t in = fuzz_cursor_make(data, size);
    harness_t *h = calloc(1, sizeof *h);
    if (h == NULL) {
        abort();
    }
    setup(h, &in);
    check_argument_refusals(h);

    for (uint32_t n = 0; n < LANE_MAX_OPS && fuzz_cursor_left(&in) > 0; n++) {
        const uint8_t op = fuzz_take_u8(&in);
        switch (op % 10u) {
        case 0:
        case 1:
        case 2:
            op_send(h, &in);
            break;
        case 3:
        case 4:
        case 5:
            op_recv(h, &in);
            break;
        case 6:
            op_poll(h, &in);
            break;
        case 7:
            op_flags(h, &in);
            break;
        case 8:
            op_corrupt_ctl(h, &in);
            break;
        default:
            op_corrupt_ring(h, op, &in);
            break;
        }
        check_clean_state(h);
        check_caches(h);
    }
    FUZZ_CHECK(h->dirty || h->forged == 0);

    for (uint32_t i = 0; i < h->nsent; i++) {
        free(h->msgs[i].bytes);
    }
    free(h->snap);
    free(h->ring);
    free(h->ctl);
    free(h);
    return 0;
}
