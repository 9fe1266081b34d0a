/* Unit tests for lane.c, the SPSC frame ring over untrusted shared memory.
 *
 * A lane here lives in ordinary heap memory: a 256-byte control block and a
 * ring, both from aligned_alloc(64, ...) and each exactly as large as the
 * lane may use, so that under --config=asan any read or write outside them
 * is a crash. The producer and the consumer are two shmchan_lane_t bound to
 * the same memory, as the two processes of a channel are.
 *
 * The test plays the hostile peer by writing the shared words and ring bytes
 * itself, with its own little-endian helpers at the documented offsets
 * (docs/protocol.md, "Lanes"), and forges frames with its own CRC-32C
 * (bit by bit, from the definition; both in tests/check.h), never with the
 * library's codec, so a forged frame is exactly what the wire format says
 * and nothing more.
 *
 * Random tests print their seed; replay with
 *   bazel test //tests:lane_test --test_env=SHMCHAN_TEST_SEED=0x...
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "src/crc32c.h"
#include "src/lane.h"
#include "src/shmchan.h"
#include "tests/check.h"
#include "tests/testutil.h"

/* The documented control block and frame header, restated. */
#define DOC_OFF_HEAD 0u
#define DOC_OFF_TAIL 64u
#define DOC_OFF_CONSUMER_WAITING 128u
#define DOC_OFF_PRODUCER_WAITING 192u
#define DOC_CTL_SIZE 256u
#define HDR 24u
#define DOC_FRAME_VERSION 1u
#define DOC_TYPE_DATA 1u
#define DOC_TYPE_GOODBYE 2u
#define DOC_PAYLOAD_HARD_MAX (16u * 1024u * 1024u)

/* ------------------------------------------------------------ randomness */

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return n == 0 ? 0 : (uint32_t)(testutil_rand(s) % n);
}

/* ------------------------------------------- independent reference code */

/* A complete frame header per protocol.md section 1, checksum included,
 * with the given flags byte (section "Fragments"). */
static void ref_header_flags(uint8_t h[HDR], uint8_t type, uint8_t flags, uint32_t len,
                             uint64_t seq, const uint8_t *payload)
{
    memset(h, 0, HDR);
    h[6] = flags;
    h[0] = 'S';
    h[1] = 'H';
    h[2] = 'C';
    h[3] = 'F';
    h[4] = DOC_FRAME_VERSION;
    h[5] = type;
    ref_put_le32(h + 8, len);
    ref_put_le64(h + 16, seq);
    uint32_t crc = ref_crc32c_bitwise(0, h, 12);
    crc = ref_crc32c_bitwise(crc, h + 16, 8);
    crc = ref_crc32c_bitwise(crc, payload, len);
    ref_put_le32(h + 12, crc);
}

/* A whole message's frame: no flags. */
static void ref_header(uint8_t h[HDR], uint8_t type, uint32_t len, uint64_t seq,
                       const uint8_t *payload)
{
    ref_header_flags(h, type, 0, len, seq, payload);
}

/* Payload bytes are a function of the frame's index, so a frame delivered
 * out of order, twice, or with bytes from another frame shows. */
static void payload_fill(uint8_t *p, uint32_t len, uint64_t id)
{
    uint64_t s = id * UINT64_C(0x9E3779B97F4A7C15) + 1u;
    for (uint32_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(testutil_rand(&s) >> 56);
    }
}

/* ------------------------------------------------------------- the rig */

typedef struct lane_rig {
    uint8_t *ctl;
    uint8_t *ring;
    uint8_t *stash; /* the consumer's reassembly buffer (max_payload bytes) */
    uint32_t cap;
    uint32_t max_payload;
    shmchan_lane_t prod;
    shmchan_lane_t cons;
} lane_rig_t;

static void rig_open(lane_rig_t *r, uint32_t cap, uint32_t max_payload)
{
    memset(r, 0, sizeof *r);
    r->ctl = aligned_alloc(64, DOC_CTL_SIZE);
    r->ring = aligned_alloc(64, cap);
    assert_non_null(r->ctl);
    assert_non_null(r->ring);
    memset(r->ctl, 0, DOC_CTL_SIZE);
    /* Not zero: a consumer that reads an unwritten byte as a header fails. */
    memset(r->ring, 0xEE, cap);
    r->cap = cap;
    r->max_payload = max_payload;
    CHECK_ERR(shmchan_lane_init(&r->prod, r->ctl, r->ring, cap, max_payload), SHMCHAN_OK);
    CHECK_ERR(shmchan_lane_init(&r->cons, r->ctl, r->ring, cap, max_payload), SHMCHAN_OK);
    r->stash = malloc(max_payload == 0 ? 1 : max_payload);
    assert_non_null(r->stash);
    CHECK_ERR(shmchan_lane_set_stash(&r->cons, r->stash, max_payload), SHMCHAN_OK);
}

static void rig_close(lane_rig_t *r)
{
    free(r->ctl);
    free(r->ring);
    free(r->stash);
    memset(r, 0, sizeof *r);
}

/* A lane that has already carried `counter` bytes (both sides agree). The
 * private positions are set directly: reaching a counter near 2^32 by
 * traffic would take 4 GiB of frames. Only valid before any frame. */
static void rig_start_at(lane_rig_t *r, uint32_t counter)
{
    r->prod.pos = counter;
    r->cons.pos = counter;
    /* Each side's cached copy of the other's index (lane.h: `peer`). */
    r->prod.peer = counter;
    r->cons.peer = counter;
    ref_put_le32(r->ctl + DOC_OFF_HEAD, counter);
    ref_put_le32(r->ctl + DOC_OFF_TAIL, counter);
}

/* Makes the producer's cached copy of the tail say "full", so that its next
 * send must re-read and validate the shared tail. The producer trusts the
 * tail it validated last until it needs more room than that tail allows
 * (lane.h), so this is how a test reaches the re-read deterministically. */
static void rig_forget_tail(lane_rig_t *r)
{
    r->prod.peer = r->prod.pos - r->prod.capacity;
}

static uint32_t rig_head(const lane_rig_t *r)
{
    return ref_get_le32(r->ctl + DOC_OFF_HEAD);
}

static uint32_t rig_tail(const lane_rig_t *r)
{
    return ref_get_le32(r->ctl + DOC_OFF_TAIL);
}

static void rig_set_head(lane_rig_t *r, uint32_t v)
{
    ref_put_le32(r->ctl + DOC_OFF_HEAD, v);
}

static void rig_set_tail(lane_rig_t *r, uint32_t v)
{
    ref_put_le32(r->ctl + DOC_OFF_TAIL, v);
}

static uint8_t *rig_ring_at(const lane_rig_t *r, uint32_t counter)
{
    return r->ring + (counter & (r->cap - 1u));
}

static void rig_ring_read(const lane_rig_t *r, uint32_t counter, uint8_t *dst, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        dst[i] = *rig_ring_at(r, counter + i);
    }
}

static void rig_ring_write(lane_rig_t *r, uint32_t counter, const uint8_t *src, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        *rig_ring_at(r, counter + i) = src[i];
    }
}

/* The hostile producer: writes a well-formed frame of the test's making at
 * `counter` (returns its size); publishing it is a separate step. */
static uint32_t rig_forge(lane_rig_t *r, uint32_t counter, uint8_t type, uint32_t len,
                          uint64_t seq, uint64_t id)
{
    uint8_t *payload = malloc(len == 0 ? 1 : len);
    assert_non_null(payload);
    payload_fill(payload, len, id);
    uint8_t h[HDR];
    ref_header(h, type, len, seq, payload);
    rig_ring_write(r, counter, h, HDR);
    rig_ring_write(r, counter + HDR, payload, len);
    free(payload);
    return HDR + len;
}

/* Sends frame `id` honestly (payload from payload_fill). */
static shmchan_err_t rig_send(lane_rig_t *r, uint8_t type, uint32_t len, uint64_t id)
{
    uint8_t *payload = malloc(len == 0 ? 1 : len);
    assert_non_null(payload);
    payload_fill(payload, len, id);
    const shmchan_err_t err = shmchan_lane_try_send(&r->prod, type, payload, len);
    free(payload);
    return err;
}

/* Receives into a heap buffer of exactly `cap` bytes and checks the frame
 * is `id` of `len` bytes when the call succeeds. */
static shmchan_err_t rig_recv_expect(lane_rig_t *r, size_t cap, uint8_t want_type,
                                     uint32_t want_len, uint64_t id, uint32_t *got_len)
{
    uint8_t *buf = malloc(cap == 0 ? 1 : cap);
    assert_non_null(buf);
    uint8_t type = 0;
    uint32_t len = 0xDEADBEEFu;
    const shmchan_err_t err = shmchan_lane_try_recv(&r->cons, &type, buf, cap, &len);
    if (err == SHMCHAN_OK) {
        CHECK_EQ(type, want_type);
        CHECK_EQ(len, want_len);
        uint8_t *want = malloc(want_len == 0 ? 1 : want_len);
        assert_non_null(want);
        payload_fill(want, want_len, id);
        CHECK_MEM(buf, want, want_len);
        free(want);
    }
    if (got_len != NULL) {
        *got_len = len;
    }
    free(buf);
    return err;
}

/* The frame at `counter` in the ring is, byte for byte, the documented
 * encoding of frame `id`. */
static void check_ring_frame(const lane_rig_t *r, uint32_t counter, uint8_t type, uint32_t len,
                             uint64_t seq, uint64_t id)
{
    uint8_t *want_payload = malloc(len == 0 ? 1 : len);
    uint8_t *got_payload = malloc(len == 0 ? 1 : len);
    assert_non_null(want_payload);
    assert_non_null(got_payload);
    payload_fill(want_payload, len, id);
    uint8_t want_h[HDR];
    uint8_t got_h[HDR];
    ref_header(want_h, type, len, seq, want_payload);
    rig_ring_read(r, counter, got_h, HDR);
    rig_ring_read(r, counter + HDR, got_payload, len);
    CHECK_MEM(got_h, want_h, HDR);
    CHECK_MEM(got_payload, want_payload, len);
    free(want_payload);
    free(got_payload);
}

/* ---------------------------------------------------------- init, reset */

static void test_init_arguments(void **state)
{
    (void)state;
    uint8_t *ctl = aligned_alloc(64, DOC_CTL_SIZE);
    uint8_t *ring = aligned_alloc(64, 1024);
    assert_non_null(ctl);
    assert_non_null(ring);
    memset(ctl, 0x77, DOC_CTL_SIZE);
    memset(ring, 0x66, 1024);
    typedef struct {
        uint32_t cap, max_payload;
        shmchan_err_t want;
    } init_case_t;
    const init_case_t cases[] = {
        {64, 40, SHMCHAN_OK},
        {64, 0, SHMCHAN_OK},
        /* Messages longer than a frame go in fragments: no payload bound
         * below the hard maximum ties a lane to its capacity. */
        {64, 41, SHMCHAN_OK},
        {64, DOC_PAYLOAD_HARD_MAX, SHMCHAN_OK},
        {1024, 1000, SHMCHAN_OK},
        {1024, 1001, SHMCHAN_OK},
        {0, 0, SHMCHAN_E_INVALID_ARGUMENT},
        {32, 0, SHMCHAN_E_INVALID_ARGUMENT}, /* below the floor: no room for a fragment */
        {96, 40, SHMCHAN_E_INVALID_ARGUMENT},
        {1000, 40, SHMCHAN_E_INVALID_ARGUMENT},
        /* The hard maximum itself is a valid payload bound. */
        {1u << 25, DOC_PAYLOAD_HARD_MAX, SHMCHAN_OK},
        {1u << 31, DOC_PAYLOAD_HARD_MAX + 1u, SHMCHAN_E_INVALID_ARGUMENT},
        {1u << 31, UINT32_MAX, SHMCHAN_E_INVALID_ARGUMENT},
        {16, 0, SHMCHAN_E_INVALID_ARGUMENT},
    };
    uint8_t ctl_before[DOC_CTL_SIZE];
    memcpy(ctl_before, ctl, sizeof ctl_before);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_ctx_set("init capacity %" PRIu32 " max_payload %" PRIu32, cases[i].cap,
                      cases[i].max_payload);
        shmchan_lane_t lane;
        CHECK_ERR(shmchan_lane_init(&lane, ctl, ring, cases[i].cap, cases[i].max_payload),
                  cases[i].want);
        /* Binding touches no shared byte: a joiner may init while its peer
         * is already running. */
        CHECK_MEM(ctl, ctl_before, DOC_CTL_SIZE);
        CHECK_EQ(ring[0], 0x66);
        if (cases[i].want == SHMCHAN_OK) {
            CHECK_ERR(shmchan_lane_fault(&lane), SHMCHAN_OK);
        }
    }
    check_ctx_set("init NULL arguments");
    shmchan_lane_t lane;
    CHECK_ERR(shmchan_lane_init(NULL, ctl, ring, 64, 40), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_lane_init(&lane, NULL, ring, 64, 40), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_lane_init(&lane, ctl, NULL, 64, 40), SHMCHAN_E_INVALID_ARGUMENT);
    free(ctl);
    free(ring);
}

static void test_reset_shared(void **state)
{
    (void)state;
    check_ctx_set("reset_shared");
    uint8_t *ctl = aligned_alloc(64, DOC_CTL_SIZE);
    assert_non_null(ctl);
    for (size_t i = 0; i < DOC_CTL_SIZE; i++) {
        ctl[i] = (uint8_t)(i | 0x80u);
    }
    uint8_t want[DOC_CTL_SIZE];
    memcpy(want, ctl, sizeof want);
    const uint32_t words[] = {DOC_OFF_HEAD, DOC_OFF_TAIL, DOC_OFF_CONSUMER_WAITING,
                              DOC_OFF_PRODUCER_WAITING};
    for (size_t w = 0; w < 4; w++) {
        memset(want + words[w], 0, 4);
    }
    shmchan_lane_reset_shared(ctl);
    /* The four words are zero and no other byte changed. */
    CHECK_MEM(ctl, want, DOC_CTL_SIZE);
    free(ctl);
}

/* ------------------------------------------------------- honest traffic */

/* Sends and receives random-length frames, in random bursts, through a
 * small ring, checking every frame's bytes in the ring against the wire
 * format, the shared counters against the bytes sent and received, and
 * every received payload, type and length against what was sent, in
 * order. */
static void fifo_round_trip(uint32_t cap, uint32_t mp, uint32_t start, uint64_t *rng)
{
    lane_rig_t r;
    rig_open(&r, cap, mp);
    rig_start_at(&r, start);

    enum { QUEUE = 1024, FRAMES = 3000 };
    uint32_t q_len[QUEUE];
    uint8_t q_type[QUEUE];
    uint64_t sent = 0;
    uint64_t received = 0;
    uint32_t head = start;
    uint32_t tail = start;
    uint64_t bytes = 0;
    while (received < FRAMES) {
        /* A burst of sends until the ring refuses one. */
        const uint32_t burst = 1u + rng_below(rng, 8);
        for (uint32_t b = 0; b < burst && sent < FRAMES; b++) {
            const uint32_t len = rng_below(rng, 8) == 0 ? mp : rng_below(rng, mp + 1u);
            const uint8_t type = rng_below(rng, 4) == 0 ? DOC_TYPE_GOODBYE : DOC_TYPE_DATA;
            check_ctx_set("cap %" PRIu32 " start 0x%08" PRIx32 ": send frame %" PRIu64
                          " len %" PRIu32,
                          cap, start, sent, len);
            const int fits = (uint64_t)cap - (uint32_t)(head - tail) >= (uint64_t)len + HDR;
            CHECK_EQ(shmchan_lane_writable(&r.prod, len), fits);
            const shmchan_err_t err = rig_send(&r, type, len, sent);
            if (!fits) {
                CHECK_ERR(err, SHMCHAN_E_WOULD_BLOCK);
                CHECK_EQ(rig_head(&r), head);
                break;
            }
            CHECK_ERR(err, SHMCHAN_OK);
            check_ring_frame(&r, head, type, len, sent, sent);
            q_len[sent % QUEUE] = len;
            q_type[sent % QUEUE] = type;
            head += HDR + len;
            bytes += HDR + len;
            sent++;
            CHECK_EQ(rig_head(&r), head);
        }
        /* A burst of receives, sometimes draining the lane. */
        const uint32_t takes = 1u + rng_below(rng, 8);
        for (uint32_t t = 0; t < takes; t++) {
            check_ctx_set("cap %" PRIu32 " start 0x%08" PRIx32 ": receive frame %" PRIu64, cap,
                          start, received);
            CHECK_EQ(shmchan_lane_readable(&r.cons), received < sent);
            if (received == sent) {
                uint32_t len = 1;
                CHECK_ERR(rig_recv_expect(&r, mp, 0, 0, 0, &len), SHMCHAN_E_WOULD_BLOCK);
                CHECK_EQ(len, 0);
                break;
            }
            const uint32_t len = q_len[received % QUEUE];
            CHECK_ERR(rig_recv_expect(&r, mp, q_type[received % QUEUE], len, received, NULL),
                      SHMCHAN_OK);
            tail += HDR + len;
            received++;
            CHECK_EQ(rig_tail(&r), tail);
        }
    }
    /* The ring went round many times. */
    CHECK(bytes > 100u * (uint64_t)cap);
    CHECK_ERR(shmchan_lane_fault(&r.prod), SHMCHAN_OK);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);
    rig_close(&r);
}

static void test_fifo_round_trip_wraps(void **state)
{
    (void)state;
    uint64_t rng = check_random_seed("lane FIFO round trip");
    /* max_payload <= capacity / 2 - 24: every message is one frame
     * (test_fragments_* cover longer ones). */
    fifo_round_trip(64, 8, 0, &rng);
    fifo_round_trip(256, 104, 0, &rng);
    fifo_round_trip(256, 100, 0xFFFFFF00u, &rng); /* the counters cross 2^32 */
    fifo_round_trip(1024, 488, 0xFFFFFFFFu - 500u, &rng);
    fifo_round_trip(4096, 333, 7, &rng);
}

/* Exactly full, and one byte short, at ring positions that put the frames
 * across the end of the ring and the counters across 2^32. */
static void full_and_one_short(uint32_t start)
{
    /* fragment_max = 256/2 - 24 = 104 = max_payload: every frame is whole. */
    const uint32_t cap = 256;
    lane_rig_t r;
    rig_open(&r, cap, 104);
    rig_start_at(&r, start);
    check_ctx_set("start 0x%08" PRIx32 ": first frames", start);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 80, 0), SHMCHAN_OK);  /* 104 bytes used */
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 100, 1), SHMCHAN_OK); /* 228 used, 28 left */

    /* 28 bytes left: a 5-byte payload needs 29. */
    check_ctx_set("start 0x%08" PRIx32 ": one byte short", start);
    uint8_t ring_before[256];
    memcpy(ring_before, r.ring, cap);
    CHECK_EQ(shmchan_lane_writable(&r.prod, 5), 0);
    CHECK_EQ(shmchan_lane_writable(&r.prod, 4), 1);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 5, 2), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(rig_head(&r), start + 228u);
    CHECK_MEM(r.ring, ring_before, cap);
    CHECK_ERR(shmchan_lane_fault(&r.prod), SHMCHAN_OK);

    check_ctx_set("start 0x%08" PRIx32 ": exactly full", start);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 4, 2), SHMCHAN_OK);
    CHECK_EQ(rig_head(&r), start + cap);
    CHECK_EQ(shmchan_lane_writable(&r.prod, 0), 0);
    memcpy(ring_before, r.ring, cap);
    CHECK_ERR(rig_send(&r, DOC_TYPE_GOODBYE, 0, 3), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(rig_head(&r), start + cap);
    CHECK_MEM(r.ring, ring_before, cap);

    /* Freeing the first frame makes room for exactly 104 bytes again. */
    check_ctx_set("start 0x%08" PRIx32 ": refill after one receive", start);
    CHECK_ERR(rig_recv_expect(&r, cap, DOC_TYPE_DATA, 80, 0, NULL), SHMCHAN_OK);
    CHECK_EQ(rig_tail(&r), start + 104u);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 81, 3), SHMCHAN_E_WOULD_BLOCK);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 80, 3), SHMCHAN_OK);
    CHECK_EQ(rig_head(&r), start + cap + 104u);
    CHECK_ERR(rig_send(&r, DOC_TYPE_GOODBYE, 0, 4), SHMCHAN_E_WOULD_BLOCK);

    check_ctx_set("start 0x%08" PRIx32 ": drain", start);
    CHECK_ERR(rig_recv_expect(&r, cap, DOC_TYPE_DATA, 100, 1, NULL), SHMCHAN_OK);
    CHECK_ERR(rig_recv_expect(&r, cap, DOC_TYPE_DATA, 4, 2, NULL), SHMCHAN_OK);
    CHECK_ERR(rig_recv_expect(&r, cap, DOC_TYPE_DATA, 80, 3, NULL), SHMCHAN_OK);
    CHECK_ERR(rig_recv_expect(&r, cap, 0, 0, 0, NULL), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(rig_tail(&r), start + cap + 104u);

    /* The largest frame, half the ring, in any position. */
    check_ctx_set("start 0x%08" PRIx32 ": one max frame", start);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 104, 4), SHMCHAN_OK);
    CHECK_ERR(rig_recv_expect(&r, 104, DOC_TYPE_DATA, 104, 4, NULL), SHMCHAN_OK);
    rig_close(&r);
}

static void test_full_exactly_and_one_short(void **state)
{
    (void)state;
    const uint32_t starts[] = {0, 100, 200, 255, 0xFFFFFFFFu - 50u, 0xFFFFFF80u};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        full_and_one_short(starts[i]);
    }
}

static void test_empty_recv(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 64, 8); /* fragment_max 8: whole frames only */
    check_ctx_set("fresh lane");
    uint8_t buf[40];
    uint8_t type = 0x33;
    uint32_t len = 7;
    CHECK_EQ(shmchan_lane_readable(&r.cons), 0);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(len, 0);
    CHECK_EQ(rig_tail(&r), 0);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);

    check_ctx_set("drained lane");
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 8, 0), SHMCHAN_OK);
    CHECK_EQ(shmchan_lane_readable(&r.cons), 1);
    CHECK_ERR(rig_recv_expect(&r, 40, DOC_TYPE_DATA, 8, 0, NULL), SHMCHAN_OK);
    CHECK_EQ(shmchan_lane_readable(&r.cons), 0);
    len = 7;
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(len, 0);
    CHECK_EQ(rig_tail(&r), HDR + 8u);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);
    rig_close(&r);
}

static void test_output_too_small(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 256, 200);
    rig_start_at(&r, 240); /* the payload wraps */
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 50, 0), SHMCHAN_OK);

    for (int attempt = 0; attempt < 2; attempt++) {
        check_ctx_set("49-byte buffer, attempt %d", attempt);
        uint8_t *small = malloc(49);
        assert_non_null(small);
        memset(small, 0xC3, 49);
        uint8_t type = 0;
        uint32_t len = 0;
        CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, small, 49, &len),
                  SHMCHAN_E_OUTPUT_TOO_SMALL);
        CHECK_EQ(len, 50);
        for (size_t i = 0; i < 49; i++) {
            CHECK_EQ(small[i], 0xC3);
        }
        free(small);
        /* Nothing consumed: still readable, tail where it was. */
        CHECK_EQ(rig_tail(&r), 240);
        CHECK_EQ(shmchan_lane_readable(&r.cons), 1);
        CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);
    }
    check_ctx_set("no buffer at all");
    uint8_t type = 0;
    uint32_t len = 0;
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, NULL, 0, &len), SHMCHAN_E_OUTPUT_TOO_SMALL);
    CHECK_EQ(len, 50);

    check_ctx_set("exact buffer");
    CHECK_ERR(rig_recv_expect(&r, 50, DOC_TYPE_DATA, 50, 0, NULL), SHMCHAN_OK);
    CHECK_EQ(rig_tail(&r), 240u + HDR + 50u);

    check_ctx_set("zero-length frame, no buffer");
    CHECK_ERR(rig_send(&r, DOC_TYPE_GOODBYE, 0, 1), SHMCHAN_OK);
    len = 99;
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, NULL, 0, &len), SHMCHAN_OK);
    CHECK_EQ(len, 0);
    CHECK_EQ(type, DOC_TYPE_GOODBYE);

    check_ctx_set("argument errors");
    uint8_t buf[8];
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, NULL, 1, &len), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, NULL, buf, sizeof buf, &len),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, NULL),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_lane_try_recv(NULL, &type, buf, sizeof buf, &len),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);
    rig_close(&r);
}

static void test_send_refusals(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 256, 100);
    uint8_t ring_before[256];
    memcpy(ring_before, r.ring, sizeof ring_before);
    /* A one-byte buffer: a send that read the payload before checking the
     * length would overrun it. */
    uint8_t *one = malloc(1);
    assert_non_null(one);
    one[0] = 1;
    const uint32_t too_long[] = {101, 232, 233, DOC_PAYLOAD_HARD_MAX, UINT32_MAX};
    for (size_t i = 0; i < sizeof too_long / sizeof too_long[0]; i++) {
        check_ctx_set("send len %" PRIu32 " over max_payload 100", too_long[i]);
        CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, one, too_long[i]),
                  SHMCHAN_E_FRAME_TOO_LONG);
        CHECK_EQ(rig_head(&r), 0);
        CHECK_MEM(r.ring, ring_before, sizeof ring_before);
        CHECK_ERR(shmchan_lane_fault(&r.prod), SHMCHAN_OK);
    }
    check_ctx_set("NULL payload with a length");
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, NULL, 1), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_lane_try_send(NULL, DOC_TYPE_DATA, one, 1), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_EQ(rig_head(&r), 0);
    /* An unknown type is refused by the encoder: nothing published. */
    const uint8_t bad_types[] = {0, 3, 255};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        check_ctx_set("send type %u", (unsigned)bad_types[i]);
        CHECK(shmchan_lane_try_send(&r.prod, bad_types[i], one, 1) != SHMCHAN_OK);
        CHECK_EQ(rig_head(&r), 0);
        CHECK_MEM(r.ring, ring_before, sizeof ring_before);
    }
    /* None of that hurt the lane. */
    check_ctx_set("send after refusals");
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 100, 0), SHMCHAN_OK);
    CHECK_ERR(rig_recv_expect(&r, 100, DOC_TYPE_DATA, 100, 0, NULL), SHMCHAN_OK);
    free(one);
    rig_close(&r);
}

static void test_zero_length_frames(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 64, 40);
    uint32_t head = 0;
    for (uint64_t i = 0; i < 200; i++) {
        check_ctx_set("zero-length frame %" PRIu64, i);
        const uint8_t type = (i % 3u == 0) ? DOC_TYPE_GOODBYE : DOC_TYPE_DATA;
        CHECK_ERR(shmchan_lane_try_send(&r.prod, type, NULL, 0), SHMCHAN_OK);
        check_ring_frame(&r, head, type, 0, i, i);
        head += HDR;
        CHECK_EQ(rig_head(&r), head);
        if (i % 2u == 1u) {
            /* Two 24-byte frames fit in 64 bytes; a third does not. */
            CHECK_ERR(shmchan_lane_try_send(&r.prod, type, NULL, 0), SHMCHAN_E_WOULD_BLOCK);
            const uint8_t t0 = ((i - 1u) % 3u == 0) ? DOC_TYPE_GOODBYE : DOC_TYPE_DATA;
            CHECK_ERR(rig_recv_expect(&r, 0, t0, 0, i - 1u, NULL), SHMCHAN_OK);
            CHECK_ERR(rig_recv_expect(&r, 40, type, 0, i, NULL), SHMCHAN_OK);
            CHECK_EQ(rig_tail(&r), head);
        }
    }
    rig_close(&r);
}

/* A frame forged by the test with the right sequence number is accepted:
 * the forging helper is the wire format, so the corruption tests below
 * fail only for the corruption they add. */
static void test_forged_frame_accepted(void **state)
{
    (void)state;
    const uint32_t starts[] = {0, 250, 0xFFFFFFF0u};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        check_ctx_set("forged frames from 0x%08" PRIx32, starts[i]);
        lane_rig_t r;
        rig_open(&r, 256, 100);
        rig_start_at(&r, starts[i]);
        uint32_t at = starts[i];
        at += rig_forge(&r, at, DOC_TYPE_DATA, 77, 0, 500);
        at += rig_forge(&r, at, DOC_TYPE_GOODBYE, 0, 1, 501);
        rig_set_head(&r, at);
        CHECK_ERR(rig_recv_expect(&r, 100, DOC_TYPE_DATA, 77, 500, NULL), SHMCHAN_OK);
        CHECK_ERR(rig_recv_expect(&r, 100, DOC_TYPE_GOODBYE, 0, 501, NULL), SHMCHAN_OK);
        CHECK_EQ(rig_tail(&r), at);
        rig_close(&r);
    }
}

/* ------------------------------------------------------ hostile peers */

/* Every corruption runs on a lane that has already carried one honest
 * 60-byte frame (84 bytes; both sides at seq 1), at a `base` counter that
 * puts the next frame at the start of the ring, across its end (header or
 * payload split), or across 2^32. */
#define CAP 256u
#define MP 100u
#define PRELUDE_LEN 60u
#define PRELUDE (HDR + PRELUDE_LEN)

typedef void (*corrupt_fn)(lane_rig_t *r, uint32_t base);

typedef struct consumer_case {
    const char *name;
    corrupt_fn corrupt;
    uint32_t ok_first; /* honest frames the consumer still takes first */
    shmchan_err_t cause;
} consumer_case_t;

/* Honest frame with seq 1 (id 1, 60 bytes) at base, published. */
static void send_second(lane_rig_t *r)
{
    CHECK_ERR(rig_send(r, DOC_TYPE_DATA, PRELUDE_LEN, 1), SHMCHAN_OK);
}

static void flip_ring_byte(lane_rig_t *r, uint32_t counter, uint8_t mask)
{
    uint8_t *p = rig_ring_at(r, counter);
    *p = (uint8_t)(*p ^ mask);
}

static void set_ring_le32(lane_rig_t *r, uint32_t counter, uint32_t v)
{
    uint8_t b[4];
    ref_put_le32(b, v);
    rig_ring_write(r, counter, b, 4);
}

/* ------------------------------------------- payloads of several blocks */

/* The lane copies and sums a payload in blocks of 24 KiB (lane.c,
 * LANE_SUM_BLOCK). Lengths around the block size and its multiples, at
 * starting counters that put the ring's wrap before, inside and after a
 * block boundary: the bytes in the ring are the documented encoding (the
 * sender's checksum covers every block) and the consumer gets the message
 * back (its checksum does too). */
static void test_payloads_of_several_blocks(void **state)
{
    (void)state;
    /* MAXP = fragment_max of a 64 KiB lane: every message is one frame. */
    enum { BIG_CAP = 262144, BLOCK = 24576, MAXP = BIG_CAP / 2 - HDR };
    const uint32_t lens[] = {BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 7, 80000, MAXP};
    const uint32_t wraps[] = {0, 1, HDR, HDR + 1, HDR + BLOCK - 1, HDR + BLOCK + 5, 70001};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        for (size_t w = 0; w < sizeof wraps / sizeof wraps[0]; w++) {
            lane_rig_t r;
            rig_open(&r, BIG_CAP, MAXP);
            /* The frame starts wraps[w] bytes before the end of the ring. */
            const uint32_t start = 7u * BIG_CAP - wraps[w];
            rig_start_at(&r, start);
            check_ctx_set("len %u, %u bytes before the wrap", lens[l], wraps[w]);
            const uint64_t id = 1000u + l * 16u + w;
            CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, lens[l], id), SHMCHAN_OK);
            check_ring_frame(&r, start, DOC_TYPE_DATA, lens[l], 0, id);
            uint32_t got = 0;
            CHECK_ERR(rig_recv_expect(&r, lens[l], DOC_TYPE_DATA, lens[l], id, &got), SHMCHAN_OK);
            rig_close(&r);
        }
    }
}

/* A byte changed in any block of a long payload, the first, a middle or
 * the last one, on either side of the ring's wrap, is caught: every block
 * is summed, not only the first. */
static void test_corruption_in_any_block_is_caught(void **state)
{
    (void)state;
    enum { BIG_CAP = 262144, LEN = 80000 };
    const uint32_t at[] = {0, 24575, 24576, 49152, 60000, LEN - 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        lane_rig_t r;
        rig_open(&r, BIG_CAP, LEN);
        const uint32_t start = 3u * BIG_CAP - 36000u; /* wraps inside the second block */
        rig_start_at(&r, start);
        check_ctx_set("payload byte %u flipped", at[i]);
        CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, LEN, 77), SHMCHAN_OK);
        flip_ring_byte(&r, start + HDR + at[i], 0x10);
        CHECK_ERR(rig_recv_expect(&r, LEN, DOC_TYPE_DATA, LEN, 77, NULL), SHMCHAN_E_PROTOCOL);
        CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_E_FRAME_CHECKSUM);
        rig_close(&r);
    }
}

static void c_head_capacity_plus_1(lane_rig_t *r, uint32_t base)
{
    rig_set_head(r, base + CAP + 1u);
}

static void c_head_full_plus_frame(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    rig_set_head(r, base + CAP + HDR);
}

static void c_head_half_range(lane_rig_t *r, uint32_t base)
{
    rig_set_head(r, base + 0x80000000u);
}

static void c_head_back_1(lane_rig_t *r, uint32_t base)
{
    rig_set_head(r, base - 1u);
}

static void c_head_back_frame(lane_rig_t *r, uint32_t base)
{
    /* Back to where it was before the consumed frame: "unpublish" it. */
    rig_set_head(r, base - PRELUDE);
}

static void c_head_back_far(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    rig_set_head(r, base - CAP - 1u);
}

static void c_head_mid_header(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    rig_set_head(r, base + 12u);
}

static void c_head_mid_payload(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    rig_set_head(r, base + 30u);
}

static void c_head_one_short(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    rig_set_head(r, base + PRELUDE - 1u);
}

static void c_head_past_boundary(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    rig_set_head(r, base + PRELUDE + 5u);
}

static void c_head_past_boundary_23(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    rig_set_head(r, base + PRELUDE + 23u);
}

static void c_garbage_frame(lane_rig_t *r, uint32_t base)
{
    /* The ring holds the 0xEE fill (or old bytes) at base. */
    rig_ring_write(r, base, (const uint8_t[HDR]){0}, HDR);
    rig_set_head(r, base + HDR);
}

static void c_magic(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    flip_ring_byte(r, base + 0u, 0x01);
}

static void c_magic_last_byte(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    flip_ring_byte(r, base + 3u, 0x80);
}

static void c_version(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    flip_ring_byte(r, base + 4u, 0x02);
}

static void c_type(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    *rig_ring_at(r, base + 5u) = 3;
}

static void c_flags(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    *rig_ring_at(r, base + 6u) = 0x04; /* no such flag */
}

/* The fragment grammar is judged from the header, before the payload is
 * read or summed: a wrong flag fails as FRAGMENT even with a stale CRC. */
static void c_flag_more_on_short(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    *rig_ring_at(r, base + 6u) = 0x01; /* MORE on a frame shorter than fragment_max */
}

static void c_flag_cont_nothing_open(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    *rig_ring_at(r, base + 6u) = 0x02; /* CONT while no message is open */
}

static void c_reserved(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    *rig_ring_at(r, base + 7u) = 0x80;
}

static void c_length_beyond_avail(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    set_ring_le32(r, base + 8u, PRELUDE_LEN + 1u); /* <= max_payload */
}

static void c_length_max_payload_beyond_avail(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    set_ring_le32(r, base + 8u, MP);
}

static void c_length_over_max(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    set_ring_le32(r, base + 8u, MP + 1u);
}

static void c_length_huge(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    set_ring_le32(r, base + 8u, UINT32_MAX);
}

static void c_length_shorter(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    set_ring_le32(r, base + 8u, PRELUDE_LEN - 1u);
}

static void c_payload_first_byte(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    flip_ring_byte(r, base + HDR, 0x01);
}

static void c_payload_last_byte(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    flip_ring_byte(r, base + PRELUDE - 1u, 0x80);
}

static void c_checksum_field(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    flip_ring_byte(r, base + 12u, 0x10);
}

static void c_seq_field(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    flip_ring_byte(r, base + 16u, 0x02); /* seq 1 -> 3, checksum not updated */
}

static void c_replay_copy(lane_rig_t *r, uint32_t base)
{
    /* The consumed frame's bytes, copied verbatim to the next position. */
    uint8_t old[PRELUDE];
    rig_ring_read(r, base - PRELUDE, old, PRELUDE);
    rig_ring_write(r, base, old, PRELUDE);
    rig_set_head(r, base + PRELUDE);
}

static void c_replay_forged(lane_rig_t *r, uint32_t base)
{
    rig_set_head(r, base + rig_forge(r, base, DOC_TYPE_DATA, 10, 0, 9));
}

static void c_skip_forged(lane_rig_t *r, uint32_t base)
{
    rig_set_head(r, base + rig_forge(r, base, DOC_TYPE_DATA, 10, 2, 9));
}

static void c_seq_far_future(lane_rig_t *r, uint32_t base)
{
    rig_set_head(r, base + rig_forge(r, base, DOC_TYPE_DATA, 10, UINT64_C(1) << 63, 9));
}

static void c_reorder_forged(lane_rig_t *r, uint32_t base)
{
    /* Two valid frames, seq 2 before seq 1: the first is refused. */
    uint32_t at = base;
    at += rig_forge(r, at, DOC_TYPE_DATA, 10, 2, 9);
    at += rig_forge(r, at, DOC_TYPE_DATA, 10, 1, 10);
    rig_set_head(r, at);
}

static void c_second_frame_skips(lane_rig_t *r, uint32_t base)
{
    /* seq 1 fine, then seq 3: one frame taken, then the fault. */
    uint32_t at = base;
    at += rig_forge(r, at, DOC_TYPE_DATA, 1, 1, 1);
    at += rig_forge(r, at, DOC_TYPE_DATA, 10, 3, 10);
    rig_set_head(r, at);
}

static void c_payload_flip_in_second_frame(lane_rig_t *r, uint32_t base)
{
    send_second(r);
    CHECK_ERR(rig_send(r, DOC_TYPE_DATA, 30, 2), SHMCHAN_OK);
    flip_ring_byte(r, base + PRELUDE + HDR + 29u, 0x04);
}

static const consumer_case_t k_consumer_cases[] = {
    {"head beyond tail + capacity", c_head_capacity_plus_1, 0, SHMCHAN_E_FRAME_TRUNCATED},
    {"head a frame beyond capacity", c_head_full_plus_frame, 0, SHMCHAN_E_FRAME_TRUNCATED},
    {"head 2^31 ahead", c_head_half_range, 0, SHMCHAN_E_FRAME_TRUNCATED},
    {"head moved back 1", c_head_back_1, 0, SHMCHAN_E_FRAME_TRUNCATED},
    {"head moved back a consumed frame", c_head_back_frame, 0, SHMCHAN_E_FRAME_TRUNCATED},
    {"head moved back far", c_head_back_far, 0, SHMCHAN_E_FRAME_TRUNCATED},
    {"head inside a frame header", c_head_mid_header, 0, SHMCHAN_E_FRAME_TRUNCATED},
    {"head inside a payload", c_head_mid_payload, 0, SHMCHAN_E_FRAME_BEYOND_BUFFER},
    {"head one byte short of a frame", c_head_one_short, 0, SHMCHAN_E_FRAME_BEYOND_BUFFER},
    {"head 5 bytes past a frame", c_head_past_boundary, 1, SHMCHAN_E_FRAME_TRUNCATED},
    {"head 23 bytes past a frame", c_head_past_boundary_23, 1, SHMCHAN_E_FRAME_TRUNCATED},
    {"zero bytes published as a frame", c_garbage_frame, 0, SHMCHAN_E_FRAME_MAGIC},
    {"magic first byte", c_magic, 0, SHMCHAN_E_FRAME_MAGIC},
    {"magic last byte", c_magic_last_byte, 0, SHMCHAN_E_FRAME_MAGIC},
    {"version", c_version, 0, SHMCHAN_E_FRAME_VERSION},
    {"type", c_type, 0, SHMCHAN_E_FRAME_TYPE},
    {"flags", c_flags, 0, SHMCHAN_E_FRAME_FLAGS},
    {"FLAG_MORE on a short frame", c_flag_more_on_short, 0, SHMCHAN_E_FRAGMENT},
    {"FLAG_CONT with no message open", c_flag_cont_nothing_open, 0, SHMCHAN_E_FRAGMENT},
    {"reserved", c_reserved, 0, SHMCHAN_E_FRAME_RESERVED},
    {"length larger than avail", c_length_beyond_avail, 0, SHMCHAN_E_FRAME_BEYOND_BUFFER},
    {"length max_payload, beyond avail", c_length_max_payload_beyond_avail, 0,
     SHMCHAN_E_FRAME_BEYOND_BUFFER},
    {"length over max_payload", c_length_over_max, 0, SHMCHAN_E_FRAME_TOO_LONG},
    {"length UINT32_MAX", c_length_huge, 0, SHMCHAN_E_FRAME_TOO_LONG},
    {"length one shorter", c_length_shorter, 0, SHMCHAN_E_FRAME_CHECKSUM},
    {"payload first byte flipped", c_payload_first_byte, 0, SHMCHAN_E_FRAME_CHECKSUM},
    {"payload last byte flipped", c_payload_last_byte, 0, SHMCHAN_E_FRAME_CHECKSUM},
    {"checksum field flipped", c_checksum_field, 0, SHMCHAN_E_FRAME_CHECKSUM},
    {"seq field flipped", c_seq_field, 0, SHMCHAN_E_FRAME_CHECKSUM},
    {"payload flipped in a later frame", c_payload_flip_in_second_frame, 1,
     SHMCHAN_E_FRAME_CHECKSUM},
    {"consumed frame replayed verbatim", c_replay_copy, 0, SHMCHAN_E_PROTOCOL},
    {"valid frame with an old seq", c_replay_forged, 0, SHMCHAN_E_PROTOCOL},
    {"valid frame skipping a seq", c_skip_forged, 0, SHMCHAN_E_PROTOCOL},
    {"valid frame with seq 2^63", c_seq_far_future, 0, SHMCHAN_E_PROTOCOL},
    {"valid frames out of order", c_reorder_forged, 0, SHMCHAN_E_PROTOCOL},
    {"second frame skips a seq", c_second_frame_skips, 1, SHMCHAN_E_PROTOCOL},
};

/* Where the frame after the prelude starts (ring offset), and the start of
 * the counters: the next frame at the ring's start, its header split, its
 * payload split, and the counters crossing 2^32 inside that frame. */
static const uint32_t k_bases[] = {0u, CAP, CAP - 10u, CAP - 30u, 3u * CAP - 1u,
                                   0xFFFFFFF0u, 0u - 40u};

/* The checks shared by every consumer fault: PROTOCOL, the recorded
 * cause, sticky, tail never moved, nothing written outside the buffer. */
static void check_consumer_faulted(lane_rig_t *r, shmchan_err_t cause)
{
    const uint32_t tail = rig_tail(r);
    for (int call = 0; call < 3; call++) {
        uint8_t *buf = malloc(MP);
        assert_non_null(buf);
        uint8_t type = 0;
        uint32_t len = 0xDEADBEEFu;
        CHECK_ERR(shmchan_lane_try_recv(&r->cons, &type, buf, MP, &len), SHMCHAN_E_PROTOCOL);
        CHECK_EQ(len, 0);
        CHECK_ERR(shmchan_lane_fault(&r->cons), cause);
        CHECK_EQ(rig_tail(r), tail);
        /* A faulted lane reports itself readable, so a waiter wakes and
         * hears about the fault instead of sleeping on it. */
        CHECK_EQ(shmchan_lane_readable(&r->cons), 1);
        free(buf);
    }
}

static void run_consumer_case(const consumer_case_t *c, uint32_t base)
{
    check_ctx_set("consumer case '%s', base 0x%08" PRIx32, c->name, base);
    lane_rig_t r;
    rig_open(&r, CAP, MP);
    rig_start_at(&r, base - PRELUDE);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, PRELUDE_LEN, 0), SHMCHAN_OK);
    CHECK_ERR(rig_recv_expect(&r, MP, DOC_TYPE_DATA, PRELUDE_LEN, 0, NULL), SHMCHAN_OK);
    CHECK_EQ(rig_tail(&r), base);

    c->corrupt(&r, base);
    const uint32_t head_after_corruption = rig_head(&r);
    for (uint32_t i = 0; i < c->ok_first; i++) {
        uint8_t *buf = malloc(MP);
        assert_non_null(buf);
        uint8_t type = 0;
        uint32_t len = 0;
        CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, MP, &len), SHMCHAN_OK);
        free(buf);
    }
    check_consumer_faulted(&r, c->cause);
    /* The faulted consumer wrote nothing the producer owns. */
    CHECK_EQ(rig_head(&r), head_after_corruption);
    /* The fault is the consumer's alone. */
    CHECK_ERR(shmchan_lane_fault(&r.prod), SHMCHAN_OK);
    rig_close(&r);
}

static void test_consumer_rejects_hostile_producer(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_consumer_cases / sizeof k_consumer_cases[0]; i++) {
        for (size_t b = 0; b < sizeof k_bases / sizeof k_bases[0]; b++) {
            run_consumer_case(&k_consumer_cases[i], k_bases[b]);
        }
    }
}

/* Every fill level a producer can never publish: 1..23 bytes. */
static void test_consumer_rejects_partial_header(void **state)
{
    (void)state;
    for (uint32_t avail = 1; avail < HDR; avail++) {
        for (size_t b = 0; b < sizeof k_bases / sizeof k_bases[0]; b++) {
            const uint32_t base = k_bases[b];
            check_ctx_set("avail %" PRIu32 " at base 0x%08" PRIx32, avail, base);
            lane_rig_t r;
            rig_open(&r, CAP, MP);
            rig_start_at(&r, base);
            /* Even with a whole valid frame behind the published bytes. */
            (void)rig_forge(&r, base, DOC_TYPE_DATA, 10, 0, 1);
            rig_set_head(&r, base + avail);
            check_consumer_faulted(&r, SHMCHAN_E_FRAME_TRUNCATED);
            rig_close(&r);
        }
    }
}

/* Once faulted, always faulted: repairing the shared words changes
 * nothing. */
static void test_fault_is_sticky_after_repair(void **state)
{
    (void)state;
    check_ctx_set("consumer: head repaired after the fault");
    lane_rig_t r;
    rig_open(&r, CAP, MP);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 20, 0), SHMCHAN_OK);
    const uint32_t good_head = rig_head(&r);
    rig_set_head(&r, good_head + CAP);
    check_consumer_faulted(&r, SHMCHAN_E_FRAME_TRUNCATED);
    rig_set_head(&r, good_head);
    check_consumer_faulted(&r, SHMCHAN_E_FRAME_TRUNCATED);
    /* Even a head that says "nothing new" leaves the fault reported. */
    rig_set_head(&r, rig_tail(&r));
    CHECK_EQ(shmchan_lane_readable(&r.cons), 1);
    rig_set_head(&r, good_head);

    check_ctx_set("producer: tail repaired after the fault");
    const uint32_t good_tail = rig_tail(&r);
    rig_set_tail(&r, good_head + 1u);
    rig_forget_tail(&r);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 1, 1), SHMCHAN_E_PROTOCOL);
    CHECK_ERR(shmchan_lane_fault(&r.prod), SHMCHAN_E_PROTOCOL);
    rig_set_tail(&r, good_tail);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 1, 1), SHMCHAN_E_PROTOCOL);
    CHECK_ERR(shmchan_lane_fault(&r.prod), SHMCHAN_E_PROTOCOL);
    CHECK_EQ(shmchan_lane_writable(&r.prod, 1), 1);
    /* Even with a tail that says "full", so a waiter for room wakes and
     * hears about the fault instead of sleeping on it. */
    rig_set_tail(&r, good_head - CAP);
    CHECK_EQ(shmchan_lane_writable(&r.prod, 1), 1);
    rig_set_tail(&r, good_tail);
    /* A faulted producer reports PROTOCOL even for an over-long frame. */
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, MP + 1u, 1), SHMCHAN_E_PROTOCOL);
    CHECK_EQ(rig_head(&r), good_head);
    rig_close(&r);
}

typedef struct producer_case {
    const char *name;
    uint32_t tail_delta; /* tail := producer's head + delta (mod 2^32) */
    int faults;          /* else: the expected result of a 10-byte send */
    shmchan_err_t send_result;
} producer_case_t;

static const producer_case_t k_producer_cases[] = {
    {"tail ahead of head by 1", 1u, 1, SHMCHAN_E_PROTOCOL},
    {"tail ahead of head by a frame", HDR, 1, SHMCHAN_E_PROTOCOL},
    {"tail ahead of head by capacity", CAP, 1, SHMCHAN_E_PROTOCOL},
    {"tail ahead of head by 2^31", 0x80000000u, 1, SHMCHAN_E_PROTOCOL},
    {"tail behind by capacity + 1", 0u - (CAP + 1u), 1, SHMCHAN_E_PROTOCOL},
    {"tail behind by 2^31", 0u - 0x80000000u, 1, SHMCHAN_E_PROTOCOL},
    /* Plausible values: a consumer that lags is not a fault. */
    {"tail behind by exactly capacity", 0u - CAP, 0, SHMCHAN_E_WOULD_BLOCK},
    {"tail behind by capacity - 33", 0u - (CAP - 33u), 0, SHMCHAN_E_WOULD_BLOCK},
    {"tail behind by capacity - 34", 0u - (CAP - 34u), 0, SHMCHAN_OK},
    {"tail equal to head", 0u, 0, SHMCHAN_OK},
};

static void run_producer_case(const producer_case_t *c, uint32_t base)
{
    check_ctx_set("producer case '%s', base 0x%08" PRIx32, c->name, base);
    lane_rig_t r;
    rig_open(&r, CAP, MP);
    rig_start_at(&r, base - PRELUDE);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, PRELUDE_LEN, 0), SHMCHAN_OK);
    CHECK_ERR(rig_recv_expect(&r, MP, DOC_TYPE_DATA, PRELUDE_LEN, 0, NULL), SHMCHAN_OK);
    const uint32_t head = rig_head(&r);
    CHECK_EQ(head, base);
    rig_set_tail(&r, head + c->tail_delta);
    rig_forget_tail(&r);
    uint8_t ring_before[CAP];
    memcpy(ring_before, r.ring, CAP);

    if (!c->faults) {
        CHECK_EQ(shmchan_lane_writable(&r.prod, 10), c->send_result == SHMCHAN_OK);
        CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 10, 1), c->send_result);
        CHECK_EQ(rig_head(&r), c->send_result == SHMCHAN_OK ? head + HDR + 10u : head);
        CHECK_ERR(shmchan_lane_fault(&r.prod), SHMCHAN_OK);
        rig_close(&r);
        return;
    }
    for (int call = 0; call < 3; call++) {
        CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 10, 1), SHMCHAN_E_PROTOCOL);
        CHECK_ERR(shmchan_lane_fault(&r.prod), c->send_result);
        /* Let try_send report the fault rather than wait for room. */
        CHECK_EQ(shmchan_lane_writable(&r.prod, 10), 1);
        CHECK_EQ(rig_head(&r), head);
        CHECK_MEM(r.ring, ring_before, CAP);
    }
    rig_close(&r);
}

static void test_producer_rejects_hostile_consumer(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_producer_cases / sizeof k_producer_cases[0]; i++) {
        for (size_t b = 0; b < sizeof k_bases / sizeof k_bases[0]; b++) {
            run_producer_case(&k_producer_cases[i], k_bases[b]);
        }
    }
}

/* --------------------------------------------- differential vs a model */

/* A plain FIFO of messages: what the lane must behave like. */
#define MODEL_MAX 4096u
typedef struct model {
    uint32_t cap, mp;
    uint32_t head, tail; /* what the shared words must hold */
    uint64_t ids[MODEL_MAX];
    uint32_t lens[MODEL_MAX];
    uint8_t types[MODEL_MAX];
    uint32_t first, count;
    uint64_t next_id;
    int consumer_waiting, producer_waiting;
} model_t;

static uint32_t model_pick_len(const model_t *m, uint64_t *rng)
{
    const uint32_t pick = rng_below(rng, 20);
    if (pick == 0) {
        return m->mp + 1u + rng_below(rng, 1000); /* over the limit */
    }
    if (pick < 4) {
        return 0;
    }
    if (pick < 6) {
        return m->mp;
    }
    return rng_below(rng, m->mp + 1u);
}

static void model_step_send(model_t *m, lane_rig_t *r, uint64_t *rng)
{
    const uint32_t len = model_pick_len(m, rng);
    const uint8_t type = rng_below(rng, 5) == 0 ? DOC_TYPE_GOODBYE : DOC_TYPE_DATA;
    const uint32_t used = m->head - m->tail;
    shmchan_err_t want = SHMCHAN_OK;
    if (len > m->mp) {
        want = SHMCHAN_E_FRAME_TOO_LONG;
    } else {
        const int fits = (uint64_t)m->cap - used >= (uint64_t)len + HDR;
        CHECK_EQ(shmchan_lane_writable(&r->prod, len), fits);
        want = fits ? SHMCHAN_OK : SHMCHAN_E_WOULD_BLOCK;
    }
    /* An over-long send gets a 1-byte buffer: reading it would overrun. */
    const uint32_t have = len > m->mp ? 1u : len;
    uint8_t *payload = malloc(have == 0 ? 1 : have);
    assert_non_null(payload);
    payload_fill(payload, have, m->next_id);
    CHECK_ERR(shmchan_lane_try_send(&r->prod, type, payload, len), want);
    free(payload);
    if (want == SHMCHAN_OK) {
        const uint32_t slot = (m->first + m->count) % MODEL_MAX;
        m->ids[slot] = m->next_id;
        m->lens[slot] = len;
        m->types[slot] = type;
        m->count++;
        m->head += HDR + len;
        m->next_id++;
    }
}

static void model_step_recv(model_t *m, lane_rig_t *r, uint64_t *rng)
{
    const uint32_t bufcap = rng_below(rng, 10) < 7 ? m->mp : rng_below(rng, m->mp + 1u);
    CHECK_EQ(shmchan_lane_readable(&r->cons), m->count > 0);
    if (m->count == 0) {
        uint32_t len = 1;
        CHECK_ERR(rig_recv_expect(r, bufcap, 0, 0, 0, &len), SHMCHAN_E_WOULD_BLOCK);
        CHECK_EQ(len, 0);
        return;
    }
    const uint32_t want_len = m->lens[m->first];
    uint32_t len = 0;
    if (want_len > bufcap) {
        CHECK_ERR(rig_recv_expect(r, bufcap, 0, 0, 0, &len), SHMCHAN_E_OUTPUT_TOO_SMALL);
        CHECK_EQ(len, want_len);
        return;
    }
    CHECK_ERR(rig_recv_expect(r, bufcap, m->types[m->first], want_len, m->ids[m->first], &len),
              SHMCHAN_OK);
    m->first = (m->first + 1u) % MODEL_MAX;
    m->count--;
    m->tail += HDR + want_len;
}

static void model_step_flags(model_t *m, lane_rig_t *r, uint64_t *rng)
{
    const int value = (int)rng_below(rng, 3); /* 0, 1 or 2: any non-zero is set */
    if (rng_below(rng, 2) == 0) {
        shmchan_lane_set_consumer_waiting(&r->cons, value);
        m->consumer_waiting = value != 0;
    } else {
        shmchan_lane_set_producer_waiting(&r->prod, value);
        m->producer_waiting = value != 0;
    }
    CHECK_EQ(shmchan_lane_consumer_needs_wake(&r->prod), m->consumer_waiting);
    CHECK_EQ(shmchan_lane_producer_needs_wake(&r->cons), m->producer_waiting);
}

static void differential_run(uint32_t cap, uint32_t mp, uint32_t start, uint32_t ops,
                             uint64_t *rng)
{
    static model_t m; /* large; one run at a time */
    memset(&m, 0, sizeof m);
    m.cap = cap;
    m.mp = mp;
    m.head = start;
    m.tail = start;
    lane_rig_t r;
    rig_open(&r, cap, mp);
    rig_start_at(&r, start);
    /* Phases biased towards sending or receiving, so the lane is driven
     * both to full and to empty, many times. */
    uint32_t send_bias = 50;
    for (uint32_t op = 0; op < ops; op++) {
        if (op % 64u == 0) {
            send_bias = 20u + rng_below(rng, 61);
        }
        check_ctx_set("differential cap %" PRIu32 " max_payload %" PRIu32 " start 0x%08" PRIx32
                      ": op %" PRIu32 " (%" PRIu32 " queued)",
                      cap, mp, start, op, m.count);
        const uint32_t dice = rng_below(rng, 100);
        if (dice < 5) {
            model_step_flags(&m, &r, rng);
        } else if (dice < 5u + send_bias) {
            model_step_send(&m, &r, rng);
        } else {
            model_step_recv(&m, &r, rng);
        }
        CHECK_EQ(rig_head(&r), m.head);
        CHECK_EQ(rig_tail(&r), m.tail);
        CHECK_ERR(shmchan_lane_fault(&r.prod), SHMCHAN_OK);
        CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);
    }
    /* Drain: everything sent comes out, in order. */
    while (m.count > 0) {
        check_ctx_set("differential cap %" PRIu32 ": drain (%" PRIu32 " queued)", cap, m.count);
        const uint32_t want_len = m.lens[m.first];
        CHECK_ERR(rig_recv_expect(&r, mp, m.types[m.first], want_len, m.ids[m.first], NULL),
                  SHMCHAN_OK);
        m.first = (m.first + 1u) % MODEL_MAX;
        m.count--;
        m.tail += HDR + want_len;
        CHECK_EQ(rig_tail(&r), m.tail);
    }
    /* The run moved real data through the ring, round and round. */
    CHECK(m.next_id > ops / 8u);
    CHECK((uint32_t)(m.tail - start) > 4u * cap || m.tail - start >= 0x80000000u);
    rig_close(&r);
}

static void test_differential_against_model(void **state)
{
    (void)state;
    uint64_t rng = check_random_seed("lane differential");
    /* max_payload <= capacity / 2 - 24: the model's messages are frames. */
    differential_run(64, 8, 0, 4000, &rng);
    differential_run(256, 100, 0xFFFFFE00u, 4000, &rng);
    differential_run(1024, 300, 0xFFFFF000u, 4000, &rng);
    differential_run(4096, 4096u / 2u - HDR, 12345, 1500, &rng);
}

/* ------------------------------------------------------------ fragments */

enum { FLAG_MORE = 0x01, FLAG_CONT = 0x02 };

/* fragment_max as docs/protocol.md defines it. */
static uint32_t doc_fragment_max(uint32_t cap, uint32_t max_payload)
{
    const uint32_t half = cap / 2u - HDR;
    return max_payload < half ? max_payload : half;
}

/* Writes the documented frames of a message as a hostile (or honest)
 * producer would: `flags` of each frame as given, payload cut from msg.
 * Returns the bytes written at counter. */
static uint32_t rig_forge_piece(lane_rig_t *r, uint32_t counter, uint8_t type, uint8_t flags,
                                const uint8_t *piece, uint32_t len, uint64_t seq)
{
    uint8_t h[HDR];
    ref_header_flags(h, type, flags, len, seq, piece);
    rig_ring_write(r, counter, h, HDR);
    rig_ring_write(r, counter + HDR, piece, len);
    return HDR + len;
}

/* The bytes a sender puts in the ring for one message, checked against
 * the documented encoding: frames of exactly fragment_max bytes with MORE
 * (the first without CONT, the others with it), then a last one of 1 ..
 * fragment_max bytes with CONT; a message of at most fragment_max bytes
 * is one frame without flags. */
static void test_fragments_wire_format(void **state)
{
    (void)state;
    enum { BIG = 4096 };
    const uint32_t cap = BIG, mp = 3000; /* fragment_max = 2024 */
    const uint32_t fm = doc_fragment_max(cap, mp);
    CHECK_EQ(fm, 2024);
    const uint32_t lens[] = {0, 1, fm, fm + 1u, 2u * fm > mp ? mp : 2u * fm, mp};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        lane_rig_t r;
        rig_open(&r, 4u * cap, mp); /* room for the whole message at once */
        const uint32_t len = lens[i];
        check_ctx_set("message of %" PRIu32 " bytes, fragment_max %" PRIu32, len,
                      doc_fragment_max(4u * cap, mp));
        const uint32_t fmax = doc_fragment_max(4u * cap, mp);
        uint8_t *msg = malloc(len + 1u);
        assert_non_null(msg);
        payload_fill(msg, len, 500u + i);
        CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, msg, len), SHMCHAN_OK);
        uint32_t at = 0, off = 0;
        uint64_t seq = 0;
        do {
            const uint32_t rest = len - off;
            const uint32_t n = rest < fmax ? rest : fmax;
            const uint8_t flags = (uint8_t)((off ? FLAG_CONT : 0) | (rest > fmax ? FLAG_MORE : 0));
            uint8_t want[HDR], got[HDR];
            ref_header_flags(want, DOC_TYPE_DATA, flags, n, seq, msg + off);
            rig_ring_read(&r, at, got, HDR);
            CHECK_MEM(got, want, HDR);
            uint8_t *body = malloc(n + 1u);
            assert_non_null(body);
            rig_ring_read(&r, at + HDR, body, n);
            CHECK_MEM(body, msg + off, n);
            free(body);
            at += HDR + n;
            off += n;
            seq++;
        } while (off < len);
        CHECK_EQ(rig_head(&r), at);
        free(msg);
        rig_close(&r);
    }
    (void)fm;
}

/* Messages longer than a frame, through lanes too small to hold them:
 * sender and receiver take turns (each try_send publishes what fits, each
 * try_recv takes what is there); every message arrives whole, once, in
 * order, and only when its last fragment is in. */
static void fragments_round_trip(uint32_t cap, uint32_t mp, uint32_t start, uint64_t *rng)
{
    lane_rig_t r;
    rig_open(&r, cap, mp);
    rig_start_at(&r, start);
    uint8_t *msg = malloc(mp + 1u);
    uint8_t *buf = malloc(mp + 1u);
    assert_non_null(msg);
    assert_non_null(buf);
    uint64_t delivered = 0, fragmented = 0;
    for (uint64_t id = 0; id < 300; id++) {
        const uint32_t len = rng_below(rng, 4) == 0 ? mp : rng_below(rng, mp + 1u);
        fragmented += len > doc_fragment_max(cap, mp) ? 1u : 0u;
        payload_fill(msg, len, id);
        check_ctx_set("cap %" PRIu32 " max_payload %" PRIu32 " message %" PRIu64 " len %" PRIu32,
                      cap, mp, id, len);
        int sent = 0;
        /* Bound: each round publishes or takes at least one frame. */
        for (uint32_t round = 0; round < 4u * (mp + 1u) && !sent; round++) {
            const shmchan_err_t se = shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, msg, len);
            if (se == SHMCHAN_OK) {
                sent = 1;
            } else {
                CHECK_ERR(se, SHMCHAN_E_WOULD_BLOCK);
            }
            uint8_t type = 0;
            uint32_t got = 0;
            const shmchan_err_t re = shmchan_lane_try_recv(&r.cons, &type, buf, mp, &got);
            if (re == SHMCHAN_OK) {
                /* Only after the sender has published the last fragment. */
                CHECK(sent);
                CHECK_EQ(got, len);
                CHECK_MEM(buf, msg, len);
                delivered++;
            } else {
                CHECK_ERR(re, SHMCHAN_E_WOULD_BLOCK);
            }
        }
        CHECK(sent);
        if (delivered == id) {
            uint8_t type = 0;
            uint32_t got = 0;
            CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, mp, &got), SHMCHAN_OK);
            CHECK_EQ(got, len);
            CHECK_MEM(buf, msg, len);
            delivered++;
        }
        CHECK_EQ(delivered, id + 1u);
    }
    /* Most messages did need fragments (a quarter are max_payload long). */
    CHECK(fragmented > 50u);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);
    free(msg);
    free(buf);
    rig_close(&r);
}

static void test_fragments_round_trip(void **state)
{
    (void)state;
    uint64_t rng = check_random_seed("lane fragments round trip");
    fragments_round_trip(64, 100, 0, &rng);              /* fragment_max 8 */
    fragments_round_trip(256, 1000, 0xFFFFFF00u, &rng);  /* counters cross 2^32 */
    fragments_round_trip(1024, 1000, 77, &rng);          /* 2 or 3 fragments */
    fragments_round_trip(4096, 2025, 0, &rng);           /* fragment_max + 1 */
}

/* A fragmented message larger than the caller's buffer: OUTPUT_TOO_SMALL
 * with its length, kept (in the stash) until a buffer fits, then the
 * next message as usual. */
static void test_fragments_output_too_small(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 256, 300); /* fragment_max 104 */
    uint8_t msg[300], buf[300];
    payload_fill(msg, 250, 9);
    check_ctx_set("250-byte message, 3 fragments");
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, msg, 250), SHMCHAN_E_WOULD_BLOCK);
    uint8_t type = 0;
    uint32_t len = 0;
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, 100, &len), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(len, 0);
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, msg, 250), SHMCHAN_OK);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, 249, &len), SHMCHAN_E_OUTPUT_TOO_SMALL);
    CHECK_EQ(len, 250);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, 10, &len), SHMCHAN_E_OUTPUT_TOO_SMALL);
    CHECK_EQ(len, 250);
    memset(buf, 0, sizeof buf);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, 250, &len), SHMCHAN_OK);
    CHECK_EQ(len, 250);
    CHECK_EQ(type, DOC_TYPE_DATA);
    CHECK_MEM(buf, msg, 250);
    check_ctx_set("the next message");
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 20, 10), SHMCHAN_OK);
    CHECK_ERR(rig_recv_expect(&r, 300, DOC_TYPE_DATA, 20, 10, NULL), SHMCHAN_OK);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, 300, &len), SHMCHAN_E_WOULD_BLOCK);
    rig_close(&r);
}

/* A sender that gives up on a message (a send that timed out: the channel
 * calls shmchan_lane_abandon_send) and sends another: the receiver drops
 * the part it holds and delivers only the new message. Without that call
 * another message is refused, nothing written. A sender that stops
 * mid-message (died) gets nothing delivered. */
static void test_fragments_abandoned_never_delivered(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 256, 1000); /* fragment_max 104 */
    uint8_t a[1000], b[1000], buf[1000];
    payload_fill(a, 1000, 1);
    payload_fill(b, 300, 2);
    uint8_t type = 0;
    uint32_t len = 0;
    check_ctx_set("message A abandoned after its first fragments");
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, a, 1000), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(shmchan_lane_progressed(&r.prod), 1);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(shmchan_lane_progressed(&r.cons), 1);
    check_ctx_set("another message while A is open, without giving A up");
    const uint32_t head_open = rig_head(&r);
    CHECK_EQ(shmchan_lane_send_open(&r.prod), 1);
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, b, 300), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_GOODBYE, a, 1000),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_EQ(rig_head(&r), head_open);
    check_ctx_set("message B replaces it");
    shmchan_lane_abandon_send(&r.prod);
    CHECK_EQ(shmchan_lane_send_open(&r.prod), 0);
    shmchan_err_t se = SHMCHAN_E_WOULD_BLOCK;
    shmchan_err_t re = SHMCHAN_E_WOULD_BLOCK;
    for (int round = 0; round < 20 && re != SHMCHAN_OK; round++) {
        if (se != SHMCHAN_OK) {
            se = shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, b, 300);
        }
        re = shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len);
        CHECK(re == SHMCHAN_OK || re == SHMCHAN_E_WOULD_BLOCK);
    }
    CHECK_ERR(re, SHMCHAN_OK);
    CHECK_EQ(len, 300);
    CHECK_MEM(buf, b, 300);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);

    check_ctx_set("message C: its sender stops after two fragments");
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, a, 1000), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(shmchan_lane_send_open(&r.prod), 1);
    for (int round = 0; round < 5; round++) {
        CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len),
                  SHMCHAN_E_WOULD_BLOCK);
        CHECK_EQ(len, 0);
    }
    CHECK_EQ(shmchan_lane_readable(&r.cons), 0);
    rig_close(&r);
}

/* writable() for an open message asks about its next fragment, which is
 * the rest of the message once that is shorter than fragment_max: 250
 * bytes through fragment_max 104 go as 104 + 104 + 42. With 100 bytes free
 * the last fragment (66 bytes with its header) fits and a full one (128)
 * would not. The tail is set by hand: any value a consumer may store. */
static void test_fragments_writable_asks_for_the_next_fragment(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 256, 300);
    uint8_t msg[250];
    payload_fill(msg, sizeof msg, 5);
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, msg, 250), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(rig_head(&r), 256); /* two frames of 128 bytes */
    rig_set_tail(&r, 100);        /* 156 in use, 100 free */
    CHECK_EQ(shmchan_lane_writable(&r.prod, 250), 1);
    /* Another length is another message: its first frame (128) does not fit. */
    CHECK_EQ(shmchan_lane_writable(&r.prod, 251), 0);
    rig_set_tail(&r, 65); /* 191 in use, 65 free: not even the last one */
    CHECK_EQ(shmchan_lane_writable(&r.prod, 250), 0);
    rig_close(&r);
}

/* A private state no call sequence reaches (the open message's offset at
 * or past its end) is refused, not turned into an empty last fragment. */
static void test_fragments_send_refuses_impossible_offset(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 256, 300);
    uint8_t msg[250];
    payload_fill(msg, sizeof msg, 6);
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, msg, 250), SHMCHAN_E_WOULD_BLOCK);
    const uint32_t head = rig_head(&r);
    r.prod.send_off = 250;
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, msg, 250), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_EQ(rig_head(&r), head);
    rig_close(&r);
}

/* A hostile producer that breaks the fragment rules: each is refused from
 * the header, before a payload byte is used, and faults the lane with
 * SHMCHAN_E_FRAGMENT; nothing of the message is delivered. */
typedef struct frag_case {
    const char *what;
    uint8_t f1, f2;   /* flags of the two frames forged */
    uint32_t l1, l2;  /* their lengths */
    uint8_t t2;       /* type of the second */
} frag_case_t;

static void test_fragments_hostile_producer(void **state)
{
    (void)state;
    const uint32_t cap = 1024, mp = 600; /* fragment_max 488 */
    const uint32_t fm = doc_fragment_max(cap, mp);
    const frag_case_t cases[] = {
        {"CONT first", FLAG_CONT, 0, 10, 0, DOC_TYPE_DATA},
        {"MORE on a short first fragment", FLAG_MORE, FLAG_CONT, fm - 1u, 5, DOC_TYPE_DATA},
        {"MORE on a message that fits a frame", FLAG_MORE, FLAG_CONT, fm, 0, DOC_TYPE_DATA},
        {"short middle fragment", FLAG_MORE, FLAG_MORE | FLAG_CONT, fm, 5, DOC_TYPE_DATA},
        {"empty last fragment", FLAG_MORE, FLAG_CONT, fm, 0, DOC_TYPE_DATA},
        {"message over max_payload", FLAG_MORE, FLAG_CONT, fm, mp - fm + 1u, DOC_TYPE_DATA},
        {"MORE keeps going past max_payload", FLAG_MORE, FLAG_MORE | FLAG_CONT, fm, fm,
         DOC_TYPE_DATA},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const frag_case_t *c = &cases[i];
        check_ctx_set("hostile fragments: %s", c->what);
        lane_rig_t r;
        rig_open(&r, 4096, mp); /* room for both frames; fragment_max 600 there */
        r.cons.frag_max = fm;   /* the consumer's view under test: 488 */
        r.cons.max_frames = (mp + fm - 1u) / fm;
        uint8_t piece[600];
        payload_fill(piece, sizeof piece, 3);
        uint32_t at = rig_forge_piece(&r, 0, DOC_TYPE_DATA, c->f1, piece, c->l1, 0);
        if (c->f1 & FLAG_MORE) {
            at += rig_forge_piece(&r, at, c->t2, c->f2, piece, c->l2, 1);
        }
        rig_set_head(&r, at);
        uint8_t type = 0;
        uint8_t buf[600];
        uint32_t len = 0;
        CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len), SHMCHAN_E_PROTOCOL);
        CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_E_FRAGMENT);
        CHECK_EQ(len, 0);
        rig_close(&r);
    }
}

/* Three more breaches, each one frame later or in a state the table above
 * does not reach: a MORE frame on a lane whose messages all fit one frame
 * (fragment_max == max_payload); a CONT after a fragmented message of the
 * same type has completed (nothing is open, though the type matches); a
 * middle fragment that fills max_payload exactly, leaving no room for the
 * last one of at least a byte. */
static void test_fragments_hostile_producer_edges(void **state)
{
    (void)state;
    uint8_t piece[600];
    payload_fill(piece, sizeof piece, 8);
    uint8_t type = 0;
    uint8_t buf[600];
    uint32_t len = 0;

    check_ctx_set("MORE where every message fits a frame");
    lane_rig_t r;
    rig_open(&r, 256, 104); /* fragment_max 104 = max_payload */
    rig_set_head(&r, rig_forge_piece(&r, 0, DOC_TYPE_DATA, FLAG_MORE, piece, 104, 0));
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len), SHMCHAN_E_PROTOCOL);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_E_FRAGMENT);
    rig_close(&r);

    check_ctx_set("CONT after a fragmented message completed");
    rig_open(&r, 4096, 600); /* fragment_max 600 */
    r.cons.frag_max = 300;
    r.cons.max_frames = 2;
    uint32_t at = rig_forge_piece(&r, 0, DOC_TYPE_DATA, FLAG_MORE, piece, 300, 0);
    at += rig_forge_piece(&r, at, DOC_TYPE_DATA, FLAG_CONT, piece + 300, 10, 1);
    rig_set_head(&r, at);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len), SHMCHAN_OK);
    CHECK_EQ(len, 310);
    at += rig_forge_piece(&r, at, DOC_TYPE_DATA, FLAG_CONT, piece, 10, 2);
    rig_set_head(&r, at);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len), SHMCHAN_E_PROTOCOL);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_E_FRAGMENT);
    rig_close(&r);

    check_ctx_set("a middle fragment fills max_payload");
    rig_open(&r, 4096, 600);
    r.cons.frag_max = 300; /* max_payload 600 = 2 x fragment_max */
    r.cons.max_frames = 2;
    at = rig_forge_piece(&r, 0, DOC_TYPE_DATA, FLAG_MORE, piece, 300, 0);
    at += rig_forge_piece(&r, at, DOC_TYPE_DATA, FLAG_MORE | FLAG_CONT, piece, 300, 1);
    rig_set_head(&r, at);
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len), SHMCHAN_E_PROTOCOL);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_E_FRAGMENT);
    CHECK_EQ(rig_tail(&r), HDR + 300u); /* the first fragment was taken, the second refused */
    rig_close(&r);
}

/* The consumer's loop bound: a producer that opens a message and abandons
 * it again and again gets at most max_frames frames taken per call; the
 * call returns (WOULD_BLOCK, lane still readable) instead of running on. */
static void test_fragments_loop_bound(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 4096, 1000); /* fragment_max 1000: max_frames 1 */
    r.cons.frag_max = 100;    /* consumer view: fragment_max 100, max_frames 10 */
    r.cons.max_frames = 10;
    uint8_t piece[100];
    payload_fill(piece, sizeof piece, 4);
    uint32_t at = 0;
    for (uint64_t k = 0; k < 25; k++) { /* 25 first fragments, each abandoning the last */
        at += rig_forge_piece(&r, at, DOC_TYPE_DATA, FLAG_MORE, piece, 100, k);
    }
    rig_set_head(&r, at);
    uint8_t type = 0;
    uint8_t buf[1000];
    uint32_t len = 0;
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len), SHMCHAN_E_WOULD_BLOCK);
    CHECK_EQ(rig_tail(&r), 10u * (HDR + 100u));
    CHECK_EQ(shmchan_lane_readable(&r.cons), 1);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);
    rig_close(&r);
}

/* Without a stash, a lane whose messages may come in fragments refuses a
 * fragment as the caller's error (INVALID_ARGUMENT), never by faulting
 * the peer, and delivers whole frames as before. */
static void test_fragments_need_a_stash(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 256, 300);
    CHECK_EQ(shmchan_lane_needs_stash(&r.cons), 1);
    r.cons.stash = NULL;
    r.cons.stash_cap = 0;
    uint8_t stash[299];
    CHECK_ERR(shmchan_lane_set_stash(&r.cons, stash, sizeof stash), SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 50, 1), SHMCHAN_OK);
    CHECK_ERR(rig_recv_expect(&r, 300, DOC_TYPE_DATA, 50, 1, NULL), SHMCHAN_OK);
    uint8_t msg[300], buf[300];
    payload_fill(msg, 200, 2);
    CHECK_ERR(shmchan_lane_try_send(&r.prod, DOC_TYPE_DATA, msg, 200), SHMCHAN_OK);
    uint8_t type = 0;
    uint32_t len = 0;
    CHECK_ERR(shmchan_lane_try_recv(&r.cons, &type, buf, sizeof buf, &len),
              SHMCHAN_E_INVALID_ARGUMENT);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);
    rig_close(&r);
    lane_rig_t small;
    rig_open(&small, 256, 104);
    CHECK_EQ(shmchan_lane_needs_stash(&small.cons), 0);
    rig_close(&small);
}

/* ------------------------------------------------- two threads, one lane */

/* A producer and a consumer thread on one lane: every frame arrives once,
 * in order, intact. Under --config=tsan this checks the release/acquire
 * pairing of head and tail against the plain copies in and out of the
 * ring. The threads spin (sched_yield) on WOULD_BLOCK; a deadline turns a
 * hang into a failure. Threads never call cmocka: they record the first
 * problem and the main thread reports it after join. */
typedef struct spsc_run {
    lane_rig_t *r;
    uint32_t frames;
    uint64_t seed;
    struct timespec deadline;
    char error[160];
} spsc_run_t;

static int spsc_past_deadline(const spsc_run_t *s)
{
    struct timespec now;
    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > s->deadline.tv_sec ||
           (now.tv_sec == s->deadline.tv_sec && now.tv_nsec > s->deadline.tv_nsec);
}

static uint32_t spsc_len(uint64_t *rng, uint32_t mp)
{
    return rng_below(rng, 16) == 0 ? mp : rng_below(rng, mp + 1u);
}

static void *spsc_producer(void *arg)
{
    spsc_run_t *s = arg;
    uint64_t rng = s->seed;
    const uint32_t mp = s->r->max_payload;
    uint8_t *buf = malloc(mp);
    if (buf == NULL) {
        (void)snprintf(s->error, sizeof s->error, "producer: out of memory");
        return NULL;
    }
    for (uint32_t i = 0; i < s->frames; i++) {
        const uint32_t len = spsc_len(&rng, mp);
        payload_fill(buf, len, i);
        for (;;) {
            const shmchan_err_t err = shmchan_lane_try_send(&s->r->prod, DOC_TYPE_DATA, buf, len);
            if (err == SHMCHAN_OK) {
                break;
            }
            if (err != SHMCHAN_E_WOULD_BLOCK || spsc_past_deadline(s)) {
                (void)snprintf(s->error, sizeof s->error, "producer: frame %" PRIu32 ": %s", i,
                               shmchan_errname(err));
                free(buf);
                return NULL;
            }
            (void)sched_yield();
        }
    }
    free(buf);
    return NULL;
}

static void *spsc_consumer(void *arg)
{
    spsc_run_t *s = arg;
    uint64_t rng = s->seed; /* same lengths as the producer draws */
    const uint32_t mp = s->r->max_payload;
    uint8_t *buf = malloc(mp);
    uint8_t *want = malloc(mp);
    if (buf == NULL || want == NULL) {
        (void)snprintf(s->error, sizeof s->error, "consumer: out of memory");
        free(buf);
        free(want);
        return NULL;
    }
    for (uint32_t i = 0; i < s->frames && s->error[0] == '\0'; i++) {
        const uint32_t want_len = spsc_len(&rng, mp);
        payload_fill(want, want_len, i);
        uint8_t type = 0;
        uint32_t len = 0;
        shmchan_err_t err;
        while ((err = shmchan_lane_try_recv(&s->r->cons, &type, buf, mp, &len)) ==
                   SHMCHAN_E_WOULD_BLOCK &&
               !spsc_past_deadline(s)) {
            (void)sched_yield();
        }
        if (err != SHMCHAN_OK) {
            (void)snprintf(s->error, sizeof s->error, "consumer: frame %" PRIu32 ": %s", i,
                           shmchan_errname(err));
        } else if (type != DOC_TYPE_DATA || len != want_len || memcmp(buf, want, len) != 0) {
            (void)snprintf(s->error, sizeof s->error,
                           "consumer: frame %" PRIu32 ": type %u len %" PRIu32
                           ", expected len %" PRIu32 " and its bytes",
                           i, (unsigned)type, len, want_len);
        }
    }
    free(buf);
    free(want);
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 1024, 300);
    rig_start_at(&r, 0xFFFF0000u);
    spsc_run_t prod_run;
    spsc_run_t cons_run;
    memset(&prod_run, 0, sizeof prod_run);
    prod_run.r = &r;
    prod_run.frames = 20000;
    prod_run.seed = check_random_seed("lane two threads");
    (void)clock_gettime(CLOCK_MONOTONIC, &prod_run.deadline);
    prod_run.deadline.tv_sec += 40; /* under the 60 s of a small test */
    cons_run = prod_run;
    pthread_t tp;
    pthread_t tc;
    CHECK_EQ(pthread_create(&tc, NULL, spsc_consumer, &cons_run), 0);
    CHECK_EQ(pthread_create(&tp, NULL, spsc_producer, &prod_run), 0);
    CHECK_EQ(pthread_join(tp, NULL), 0);
    CHECK_EQ(pthread_join(tc, NULL), 0);
    check_ctx_set("producer: '%s'; consumer: '%s'", prod_run.error, cons_run.error);
    CHECK(prod_run.error[0] == '\0');
    CHECK(cons_run.error[0] == '\0');
    CHECK_EQ(rig_head(&r), rig_tail(&r));
    CHECK_ERR(shmchan_lane_fault(&r.prod), SHMCHAN_OK);
    CHECK_ERR(shmchan_lane_fault(&r.cons), SHMCHAN_OK);
    rig_close(&r);
}

/* ------------------------------------------------------ waiting flags */

static void check_flag_word(const lane_rig_t *r, uint32_t off, uint32_t want,
                            const uint8_t *before)
{
    CHECK_EQ(ref_get_le32(r->ctl + off), want);
    /* Nothing else in the control block changed. */
    for (uint32_t i = 0; i < DOC_CTL_SIZE; i++) {
        if (i < off || i >= off + 4u) {
            CHECK_EQ(r->ctl[i], before[i]);
        }
    }
}

static void test_waiting_flags(void **state)
{
    (void)state;
    lane_rig_t r;
    rig_open(&r, 64, 40);
    for (uint32_t i = 0; i < DOC_CTL_SIZE; i++) {
        r.ctl[i] = (uint8_t)(0xA0u | (i & 0x0Fu));
    }
    rig_start_at(&r, 0x01020304u); /* head and tail agree: an empty lane */
    ref_put_le32(r.ctl + DOC_OFF_CONSUMER_WAITING, 0);
    ref_put_le32(r.ctl + DOC_OFF_PRODUCER_WAITING, 0);
    uint8_t before[DOC_CTL_SIZE];

    check_ctx_set("consumer sets its flag");
    memcpy(before, r.ctl, sizeof before);
    shmchan_lane_set_consumer_waiting(&r.cons, 1);
    check_flag_word(&r, DOC_OFF_CONSUMER_WAITING, 1, before);
    CHECK_EQ(shmchan_lane_consumer_needs_wake(&r.prod), 1);
    CHECK_EQ(shmchan_lane_producer_needs_wake(&r.cons), 0);
    shmchan_lane_set_consumer_waiting(&r.cons, 42); /* any non-zero is "1" */
    check_flag_word(&r, DOC_OFF_CONSUMER_WAITING, 1, before);
    shmchan_lane_set_consumer_waiting(&r.cons, 0);
    check_flag_word(&r, DOC_OFF_CONSUMER_WAITING, 0, before);
    CHECK_EQ(shmchan_lane_consumer_needs_wake(&r.prod), 0);

    check_ctx_set("producer sets its flag");
    memcpy(before, r.ctl, sizeof before);
    shmchan_lane_set_producer_waiting(&r.prod, 1);
    check_flag_word(&r, DOC_OFF_PRODUCER_WAITING, 1, before);
    CHECK_EQ(shmchan_lane_producer_needs_wake(&r.cons), 1);
    CHECK_EQ(shmchan_lane_consumer_needs_wake(&r.prod), 0);
    shmchan_lane_set_producer_waiting(&r.prod, -1);
    check_flag_word(&r, DOC_OFF_PRODUCER_WAITING, 1, before);
    shmchan_lane_set_producer_waiting(&r.prod, 0);
    check_flag_word(&r, DOC_OFF_PRODUCER_WAITING, 0, before);
    CHECK_EQ(shmchan_lane_producer_needs_wake(&r.cons), 0);

    /* needs_wake reads the whole word: any non-zero byte counts (a peer
     * may write any value; the only safe reading of "non-zero" is "post"). */
    const uint32_t values[] = {1u, 0x100u, 0x10000u, 0x1000000u, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        check_ctx_set("flag word 0x%08" PRIx32, values[i]);
        ref_put_le32(r.ctl + DOC_OFF_CONSUMER_WAITING, values[i]);
        CHECK_EQ(shmchan_lane_consumer_needs_wake(&r.prod), 1);
        CHECK_EQ(shmchan_lane_producer_needs_wake(&r.cons), 0);
        ref_put_le32(r.ctl + DOC_OFF_CONSUMER_WAITING, 0);
        ref_put_le32(r.ctl + DOC_OFF_PRODUCER_WAITING, values[i]);
        CHECK_EQ(shmchan_lane_producer_needs_wake(&r.cons), 1);
        CHECK_EQ(shmchan_lane_consumer_needs_wake(&r.prod), 0);
        ref_put_le32(r.ctl + DOC_OFF_PRODUCER_WAITING, 0);
    }
    /* The flags are independent of the indices. */
    check_ctx_set("flags vs traffic");
    shmchan_lane_set_consumer_waiting(&r.cons, 1);
    CHECK_ERR(rig_send(&r, DOC_TYPE_DATA, 5, 0), SHMCHAN_OK);
    CHECK_EQ(ref_get_le32(r.ctl + DOC_OFF_CONSUMER_WAITING), 1);
    CHECK_ERR(rig_recv_expect(&r, 40, DOC_TYPE_DATA, 5, 0, NULL), SHMCHAN_OK);
    CHECK_EQ(ref_get_le32(r.ctl + DOC_OFF_CONSUMER_WAITING), 1);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_arguments),
        cmocka_unit_test(test_reset_shared),
        cmocka_unit_test(test_fifo_round_trip_wraps),
        cmocka_unit_test(test_full_exactly_and_one_short),
        cmocka_unit_test(test_empty_recv),
        cmocka_unit_test(test_output_too_small),
        cmocka_unit_test(test_send_refusals),
        cmocka_unit_test(test_zero_length_frames),
        cmocka_unit_test(test_forged_frame_accepted),
        cmocka_unit_test(test_consumer_rejects_hostile_producer),
        cmocka_unit_test(test_consumer_rejects_partial_header),
        cmocka_unit_test(test_fault_is_sticky_after_repair),
        cmocka_unit_test(test_producer_rejects_hostile_consumer),
        cmocka_unit_test(test_differential_against_model),
        cmocka_unit_test(test_two_threads),
        cmocka_unit_test(test_waiting_flags),
        cmocka_unit_test(test_payloads_of_several_blocks),
        cmocka_unit_test(test_corruption_in_any_block_is_caught),
        cmocka_unit_test(test_fragments_wire_format),
        cmocka_unit_test(test_fragments_round_trip),
        cmocka_unit_test(test_fragments_output_too_small),
        cmocka_unit_test(test_fragments_abandoned_never_delivered),
        cmocka_unit_test(test_fragments_hostile_producer),
        cmocka_unit_test(test_fragments_hostile_producer_edges),
        cmocka_unit_test(test_fragments_loop_bound),
        cmocka_unit_test(test_fragments_need_a_stash),
        cmocka_unit_test(test_fragments_writable_asks_for_the_next_fragment),
        cmocka_unit_test(test_fragments_send_refuses_impossible_offset),
    };
    /* Twice: as this CPU runs it, and with the CRC folding off, so that the
     * blocked copy-and-sum paths that CPUs without VPCLMULQDQ take are
     * tested here too (lane.c, ring_fused). */
    const int with_fold = cmocka_run_group_tests_name("lane", tests, NULL, NULL);
    (void)shmchan_crc32c_fold_enable(0);
    const int without_fold =
        cmocka_run_group_tests_name("lane, CRC folding off", tests, NULL, NULL);
    return with_fold + without_fold;
}
