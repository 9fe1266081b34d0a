/*
 * fragments_fuzzer.c - messages longer than a frame through small lanes
 * (docs/protocol.md, "Fragments"): a sender that continues, abandons and
 * restarts messages, a receiver with buffers of any size, and a hostile
 * peer rewriting shared bytes in between, all driven by the input.
 *
 * Input: [u8 capacity: 64 << (v % 5)][u16 max_payload: 1 + v % 2048]
 *        [u32 base][operations...]
 * max_payload is usually far above the lane's fragment_max (capacity/2 -
 * 24), so most messages are fragmented. Each operation is one byte `op`
 * and its arguments; op % 8 selects:
 *   0-2 send     [u16 len]: try_send of message `len % (max_payload + 1)`;
 *                if a send is pending and op / 8 is even, the pending one
 *                is continued instead (same bytes, same call), else it is
 *                abandoned (shmchan_lane_abandon_send) for the new one
 *   3-5 recv     [u16 cap]: try_recv into an exactly sized buffer of
 *                cap % (max_payload + 2) bytes
 *   6   corrupt  [u16 where][u8 xor]: one ring byte
 *   7   corrupt  [u8 which][u32 value]: head or tail
 * The control block and the ring are exactly sized heap blocks, so
 * AddressSanitizer sees any access outside them; libFuzzer's -timeout sees
 * any loop that runs away.
 *
 * Properties (abort on violation):
 *  1. Honest run (no corruption yet): the receiver delivers exactly the
 *     messages whose send completed (SHMCHAN_OK), in order, byte for byte,
 *     each once; an abandoned message is never delivered, whole or in
 *     part; OUTPUT_TOO_SMALL reports exactly the next message's length and
 *     loses nothing; the lanes never fault; a send or receive that returns
 *     WOULD_BLOCK after moving its index says so (progressed).
 *  2. Always: a delivered message is at most max_payload and cap bytes; a
 *     fault is sticky (every later call SHMCHAN_E_PROTOCOL); the receiver
 *     never writes the ring or head; results are one of the documented
 *     codes.
 */
#include <string.h>

#include "fuzz/fuzz_harness.h"
#include "src/lane.h"
#include "src/shmchan.h"

#define FRAG_MAX_OPS 256u

typedef struct harness {
    uint8_t *ctl;
    uint8_t *ring;
    uint8_t *stash;
    uint8_t *snap;
    uint32_t capacity;
    uint32_t max_payload;
    shmchan_lane_t prod;
    shmchan_lane_t cons;
    int corrupted;
    /* The sender's messages: ids of completed sends, in order. */
    uint32_t done_id[FRAG_MAX_OPS];
    uint32_t done_len[FRAG_MAX_OPS];
    uint32_t ndone;
    uint32_t ndelivered;
    /* The pending (opened, not completed) message, if any. */
    uint8_t *pending;
    uint32_t pending_len;
    uint32_t pending_id;
    int has_pending;
    uint32_t next_id;
} harness_t;

/* Message bytes are a function of (id, index): a message delivered with
 * bytes of another, or a part of an abandoned one, shows. */
static void message_fill(uint8_t *p, uint32_t len, uint32_t id)
{
    uint32_t x = id * 2654435761u + 12345u;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)(x ^ i);
    }
}

static void setup(harness_t *h, fuzz_cursor_t *in)
{
    h->capacity = 64u << (fuzz_take_u8(in) % 5u);
    h->max_payload = 1u + fuzz_take_u16(in) % 2048u;
    const uint32_t base = fuzz_take_u32(in);
    h->ctl = fuzz_alloc(SHMCHAN_LANE_CTL_SIZE);
    h->ring = fuzz_alloc(h->capacity);
    h->snap = fuzz_alloc(h->capacity);
    h->stash = fuzz_alloc(h->max_payload);
    memset(h->ctl, 0, SHMCHAN_LANE_CTL_SIZE);
    memset(h->ring, 0xEE, h->capacity);
    FUZZ_CHECK(shmchan_lane_init(&h->prod, h->ctl, h->ring, h->capacity, h->max_payload) ==
               SHMCHAN_OK);
    FUZZ_CHECK(shmchan_lane_init(&h->cons, h->ctl, h->ring, h->capacity, h->max_payload) ==
               SHMCHAN_OK);
    FUZZ_CHECK(shmchan_lane_set_stash(&h->cons, h->stash, h->max_payload) == SHMCHAN_OK);
    /* Both counters start at base, as after 'base' bytes of traffic. */
    h->prod.pos = h->prod.peer = base;
    h->cons.pos = h->cons.peer = base;
    memcpy(h->ctl + SHMCHAN_LANE_OFF_HEAD, &base, 4);
    memcpy(h->ctl + SHMCHAN_LANE_OFF_TAIL, &base, 4);
}

static uint32_t ctl_u32(const harness_t *h, uint32_t off)
{
    uint32_t v;
    memcpy(&v, h->ctl + off, 4);
    return v;
}

static void op_send(harness_t *h, fuzz_cursor_t *in, uint8_t op)
{
    const uint32_t want = fuzz_take_u16(in) % (h->max_payload + 1u);
    if (!(h->has_pending && (op / 8u) % 2u == 0)) {
        /* A new message; any pending one is abandoned, as the channel
         * does when a send gives up (the new buffer may well have the old
         * one's address: identity is the explicit call, not the pointer). */
        shmchan_lane_abandon_send(&h->prod);
        free(h->pending);
        h->pending_len = want;
        h->pending_id = h->next_id++;
        h->pending = fuzz_alloc(want);
        message_fill(h->pending, want, h->pending_id);
        h->has_pending = 1;
    }
    const uint32_t head_before = ctl_u32(h, SHMCHAN_LANE_OFF_HEAD);
    const shmchan_err_t r =
        shmchan_lane_try_send(&h->prod, SHMCHAN_FRAME_DATA, h->pending, h->pending_len);
    FUZZ_CHECK(r == SHMCHAN_OK || r == SHMCHAN_E_WOULD_BLOCK || r == SHMCHAN_E_PROTOCOL);
    if (!h->corrupted) {
        FUZZ_CHECK(r != SHMCHAN_E_PROTOCOL);
        FUZZ_CHECK(shmchan_lane_progressed(&h->prod) ==
                   (ctl_u32(h, SHMCHAN_LANE_OFF_HEAD) != head_before));
    }
    if (r == SHMCHAN_OK) {
        if (h->ndone < FRAG_MAX_OPS) {
            h->done_id[h->ndone] = h->pending_id;
            h->done_len[h->ndone] = h->pending_len;
            h->ndone++;
        }
        free(h->pending);
        h->pending = NULL;
        h->has_pending = 0;
    }
}

static void op_recv(harness_t *h, fuzz_cursor_t *in)
{
    const uint32_t cap = fuzz_take_u16(in) % (h->max_payload + 2u);
    uint8_t *buf = fuzz_alloc(cap);
    memcpy(h->snap, h->ring, h->capacity);
    const uint32_t head_before = ctl_u32(h, SHMCHAN_LANE_OFF_HEAD);
    const uint32_t tail_before = ctl_u32(h, SHMCHAN_LANE_OFF_TAIL);
    const shmchan_err_t fault_before = shmchan_lane_fault(&h->cons);
    uint8_t type = 0;
    uint32_t len = 0;
    const shmchan_err_t r = shmchan_lane_try_recv(&h->cons, &type, buf, cap, &len);
    /* The receiver writes neither the ring nor head. */
    FUZZ_CHECK(memcmp(h->snap, h->ring, h->capacity) == 0);
    FUZZ_CHECK(ctl_u32(h, SHMCHAN_LANE_OFF_HEAD) == head_before);
    if (fault_before != SHMCHAN_OK) {
        FUZZ_CHECK(r == SHMCHAN_E_PROTOCOL && shmchan_lane_fault(&h->cons) == fault_before);
    }
    FUZZ_CHECK(r == SHMCHAN_OK || r == SHMCHAN_E_WOULD_BLOCK || r == SHMCHAN_E_PROTOCOL ||
               r == SHMCHAN_E_OUTPUT_TOO_SMALL);
    if (r == SHMCHAN_OK) {
        FUZZ_CHECK(len <= h->max_payload && len <= cap);
        FUZZ_CHECK(type == SHMCHAN_FRAME_DATA || type == SHMCHAN_FRAME_GOODBYE);
    }
    if (!h->corrupted) {
        FUZZ_CHECK(r != SHMCHAN_E_PROTOCOL);
        FUZZ_CHECK(shmchan_lane_progressed(&h->cons) ==
                   (ctl_u32(h, SHMCHAN_LANE_OFF_TAIL) != tail_before));
        if (r == SHMCHAN_OK || r == SHMCHAN_E_OUTPUT_TOO_SMALL) {
            /* The next completed message, whole. */
            FUZZ_CHECK(h->ndelivered < h->ndone);
            const uint32_t want_len = h->done_len[h->ndelivered];
            FUZZ_CHECK(len == want_len);
            if (r == SHMCHAN_OK) {
                FUZZ_CHECK(type == SHMCHAN_FRAME_DATA);
                uint8_t *want = fuzz_alloc(want_len);
                message_fill(want, want_len, h->done_id[h->ndelivered]);
                FUZZ_CHECK(want_len == 0 || memcmp(buf, want, want_len) == 0);
                free(want);
                h->ndelivered++;
            } else {
                FUZZ_CHECK(want_len > cap);
            }
        } else {
            /* WOULD_BLOCK: nothing completed is left undelivered, unless
             * the call stopped at its frame bound. */
            FUZZ_CHECK(h->ndelivered == h->ndone || shmchan_lane_readable(&h->cons));
        }
    }
    free(buf);
}

static void op_corrupt_ring(harness_t *h, fuzz_cursor_t *in)
{
    const uint32_t where = fuzz_take_u16(in) % h->capacity;
    const uint8_t x = fuzz_take_u8(in);
    if (x != 0) {
        h->ring[where] ^= x;
        h->corrupted = 1;
    }
}

static void op_corrupt_ctl(harness_t *h, fuzz_cursor_t *in)
{
    const uint8_t which = fuzz_take_u8(in);
    const uint32_t value = fuzz_take_u32(in);
    const uint32_t off = which % 2u ? SHMCHAN_LANE_OFF_TAIL : SHMCHAN_LANE_OFF_HEAD;
    if (ctl_u32(h, off) != value) {
        memcpy(h->ctl + off, &value, 4);
        h->corrupted = 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor_t in = fuzz_cursor_make(data, size);
    harness_t *h = calloc(1, sizeof *h);
    if (h == NULL) {
        abort();
    }
    setup(h, &in);
    for (uint32_t n = 0; n < FRAG_MAX_OPS && fuzz_cursor_left(&in) > 0; n++) {
        const uint8_t op = fuzz_take_u8(&in);
        switch (op % 8u) {
        case 0:
        case 1:
        case 2:
            op_send(h, &in, op);
            break;
        case 3:
        case 4:
        case 5:
            op_recv(h, &in);
            break;
        case 6:
            op_corrupt_ring(h, &in);
            break;
        default:
            op_corrupt_ctl(h, &in);
            break;
        }
    }
    free(h->pending);
    free(h->ctl);
    free(h->ring);
    free(h->snap);
    free(h->stash);
    free(h);
    return 0;
}
