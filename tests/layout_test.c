/* Unit tests for layout.c, the segment layout (pure code).
 *
 * Every expected size, offset and header byte is computed here from the
 * documented formulas and byte map (docs/protocol.md, "Segment layout"):
 *   total_size = 256 + max_clients * (576 + 2 * lane_capacity)
 *   nsems      = 4 + 4 * max_clients
 * with the test's own constants and little-endian helpers, never with the
 * library's enums or shmchan_layout_compute, so a change of the layout fails
 * here instead of passing silently.
 *
 * Segment images are heap blocks of exactly the length passed as the
 * kernel's size, so under --config=asan a read past that length is a crash,
 * not a silent pass.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/layout.h"
#include "src/shmchan.h"
#include "tests/check.h"

/* The documented layout, restated independently of layout.h. */
#define DOC_HEADER_SIZE 256u
#define DOC_SLOT_FIXED 576u
#define DOC_SLOT_C2S_CTL 64u
#define DOC_SLOT_S2C_CTL 320u
#define DOC_LANE_CTL_SIZE 256u
#define DOC_MAX_CLIENTS 256u
#define DOC_CAPACITY_MIN 64u
#define DOC_CAPACITY_MAX (1u << 30)
#define DOC_PAYLOAD_HARD_MAX (16u * 1024u * 1024u)
#define DOC_VERSION 1u

/* Header byte map (docs/protocol.md 2.1). */
#define DOC_OFF_MAGIC 0u
#define DOC_OFF_VERSION 8u
#define DOC_OFF_HEADER_SIZE 12u
#define DOC_OFF_MAX_CLIENTS 16u
#define DOC_OFF_MAX_PAYLOAD 20u
#define DOC_OFF_LANE_CAPACITY 24u
#define DOC_OFF_NSEMS 28u
#define DOC_OFF_SEMID 32u
#define DOC_OFF_RESERVED 36u
#define DOC_OFF_NONCE 40u
#define DOC_OFF_TOTAL_SIZE 48u
#define DOC_OFF_ZERO_END 128u

static const uint8_t k_doc_magic[8] = {'S', 'H', 'M', 'C', 'H', 'A', 'N', '1'};

/* Values written into test headers: all bytes distinct and non-zero, so a
 * misplaced or truncated field shows. */
#define TEST_SEMID 0x89ABCDEFu
#define TEST_NONCE UINT64_C(0x0123456789ABCDEF)

/* ------------------------------------------- independent reference code */

static uint64_t doc_total_size(uint32_t max_clients, uint32_t capacity)
{
    return DOC_HEADER_SIZE +
           (uint64_t)max_clients * (DOC_SLOT_FIXED + 2u * (uint64_t)capacity);
}

static uint64_t doc_stride(uint32_t capacity)
{
    return DOC_SLOT_FIXED + 2u * (uint64_t)capacity;
}

static uint32_t doc_nsems(uint32_t max_clients)
{
    return 4u + 4u * max_clients;
}

/* The documented parameter rules (protocol.md 2.1), as a predicate. */
static int doc_params_valid(uint32_t max_clients, uint32_t max_payload, uint32_t capacity)
{
    const int pow2 = capacity != 0 && (capacity & (capacity - 1u)) == 0;
    return max_clients >= 1 && max_clients <= DOC_MAX_CLIENTS && max_payload >= 1 &&
           max_payload <= DOC_PAYLOAD_HARD_MAX && pow2 && capacity >= DOC_CAPACITY_MIN &&
           capacity <= DOC_CAPACITY_MAX;
    /* No rule ties the lane to max_payload: longer messages go in
     * fragments (docs/protocol.md, "Fragments"). */
}

static shmchan_params_t make_params(uint32_t max_clients, uint32_t max_payload,
                                    uint32_t capacity)
{
    shmchan_params_t p;
    memset(&p, 0, sizeof p);
    p.max_clients = max_clients;
    p.max_payload = max_payload;
    p.lane_capacity = capacity;
    return p;
}

/* A layout must equal, field by field, what the formulas give. */
static void check_layout_matches_doc(const shmchan_layout_t *l, uint32_t max_clients,
                                     uint32_t max_payload, uint32_t capacity)
{
    CHECK_EQ(l->params.max_clients, max_clients);
    CHECK_EQ(l->params.max_payload, max_payload);
    CHECK_EQ(l->params.lane_capacity, capacity);
    CHECK_EQ(l->nsems, doc_nsems(max_clients));
    CHECK_EQ(l->slot_stride, doc_stride(capacity));
    CHECK_EQ(l->total_size, doc_total_size(max_clients, capacity));
}

static void check_layout_zero(const shmchan_layout_t *l)
{
    CHECK_EQ(l->params.max_clients, 0);
    CHECK_EQ(l->params.max_payload, 0);
    CHECK_EQ(l->params.lane_capacity, 0);
    CHECK_EQ(l->nsems, 0);
    CHECK_EQ(l->slot_stride, 0);
    CHECK_EQ(l->total_size, 0);
}

static void check_layout_equal(const shmchan_layout_t *a, const shmchan_layout_t *b)
{
    CHECK_EQ(a->params.max_clients, b->params.max_clients);
    CHECK_EQ(a->params.max_payload, b->params.max_payload);
    CHECK_EQ(a->params.lane_capacity, b->params.lane_capacity);
    CHECK_EQ(a->nsems, b->nsems);
    CHECK_EQ(a->slot_stride, b->slot_stride);
    CHECK_EQ(a->total_size, b->total_size);
}

/* Computes a layout the test knows to be valid (asserted). */
static shmchan_layout_t valid_layout(uint32_t max_clients, uint32_t max_payload,
                                     uint32_t capacity)
{
    const shmchan_params_t p = make_params(max_clients, max_payload, capacity);
    shmchan_layout_t l;
    CHECK_ERR(shmchan_layout_compute(&p, &l), SHMCHAN_OK);
    check_layout_matches_doc(&l, max_clients, max_payload, capacity);
    return l;
}

/* A heap image of exactly `len` bytes, filled with a pattern that no header
 * field uses, so that stray writes and reads of unwritten bytes show. */
static uint8_t *image_alloc(size_t len)
{
    uint8_t *img = malloc(len == 0 ? 1 : len);
    assert_non_null(img);
    memset(img, 0x5A, len);
    return img;
}

/* A complete, published image of `l` (the caller frees). */
static uint8_t *image_published(const shmchan_layout_t *l)
{
    uint8_t *img = image_alloc((size_t)l->total_size);
    shmchan_layout_write_header(img, l, TEST_SEMID, 0, TEST_NONCE);
    shmchan_layout_publish_magic(img);
    return img;
}

/* The documented header bytes of a fresh image, built by hand. */
static void doc_header_bytes(uint8_t h[DOC_HEADER_SIZE], uint32_t max_clients,
                             uint32_t max_payload, uint32_t capacity, uint32_t semid,
                             uint64_t nonce)
{
    memset(h, 0, DOC_HEADER_SIZE);
    memcpy(h + DOC_OFF_MAGIC, k_doc_magic, sizeof k_doc_magic);
    ref_put_le32(h + DOC_OFF_VERSION, DOC_VERSION);
    ref_put_le32(h + DOC_OFF_HEADER_SIZE, DOC_HEADER_SIZE);
    ref_put_le32(h + DOC_OFF_MAX_CLIENTS, max_clients);
    ref_put_le32(h + DOC_OFF_MAX_PAYLOAD, max_payload);
    ref_put_le32(h + DOC_OFF_LANE_CAPACITY, capacity);
    ref_put_le32(h + DOC_OFF_NSEMS, doc_nsems(max_clients));
    ref_put_le32(h + DOC_OFF_SEMID, semid);
    ref_put_le64(h + DOC_OFF_NONCE, nonce);
    ref_put_le64(h + DOC_OFF_TOTAL_SIZE, doc_total_size(max_clients, capacity));
}

/* read_header on a copy of `src` (the first `copy_len` bytes) placed in a
 * heap block of exactly `image_len` bytes. */
static shmchan_err_t read_copy(const uint8_t *src, size_t copy_len, size_t image_len,
                               shmchan_header_info_t *info)
{
    uint8_t *img = image_alloc(image_len);
    memcpy(img, src, copy_len < image_len ? copy_len : image_len);
    const shmchan_err_t err = shmchan_layout_read_header(img, image_len, info);
    free(img);
    return err;
}

/* ------------------------------------------------------------- compute */

typedef struct compute_case {
    const char *name;
    uint32_t max_clients, max_payload, capacity;
    shmchan_err_t want;
} compute_case_t;

static void test_compute_boundaries(void **state)
{
    (void)state;
    const uint32_t hard = DOC_PAYLOAD_HARD_MAX;
    const compute_case_t cases[] = {
        {"smallest channel", 1, 1, 64, SHMCHAN_OK},
        {"max_clients 0", 0, 1, 64, SHMCHAN_E_LAYOUT_PARAMS},
        {"max_clients 1", 1, 40, 64, SHMCHAN_OK},
        {"max_clients 256", 256, 40, 64, SHMCHAN_OK},
        {"max_clients 257", 257, 40, 64, SHMCHAN_E_LAYOUT_PARAMS},
        {"max_clients UINT32_MAX", UINT32_MAX, 40, 64, SHMCHAN_E_LAYOUT_PARAMS},
        {"max_payload 0", 1, 0, 64, SHMCHAN_E_LAYOUT_PARAMS},
        {"max_payload 1", 1, 1, 64, SHMCHAN_OK},
        {"max_payload hard max", 1, hard, 32u << 20, SHMCHAN_OK},
        {"max_payload hard max + 1", 1, hard + 1u, 32u << 20, SHMCHAN_E_LAYOUT_PARAMS},
        {"max_payload UINT32_MAX", 1, UINT32_MAX, 1u << 30, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity exactly payload + 24", 1, 40, 64, SHMCHAN_OK},
        /* Fragments: a message longer than a lane is fine. */
        {"payload one over capacity - 24", 1, 41, 64, SHMCHAN_OK},
        {"hard max payload, capacity 16 MiB", 1, hard, 16u << 20, SHMCHAN_OK},
        {"hard max payload, smallest lane", 1, hard, 64, SHMCHAN_OK},
        {"capacity 0", 1, 1, 0, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 32 (power of two < 64)", 1, 1, 32, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 63", 1, 1, 63, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 65", 1, 1, 65, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 96 (not a power of two)", 1, 1, 96, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 2^30", 1, 1, 1u << 30, SHMCHAN_OK},
        {"capacity 2^30 + 64", 1, 1, (1u << 30) + 64u, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 2^31 (power of two > 2^30)", 1, 1, 1u << 31, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity UINT32_MAX", 1, 1, UINT32_MAX, SHMCHAN_E_LAYOUT_PARAMS},
        {"largest channel", 256, hard, 1u << 30, SHMCHAN_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const compute_case_t *c = &cases[i];
        check_ctx_set("case '%s' (%" PRIu32 ", %" PRIu32 ", %" PRIu32 ")", c->name, c->max_clients,
                      c->max_payload, c->capacity);
        /* The table itself must agree with the documented rules. */
        CHECK_EQ(doc_params_valid(c->max_clients, c->max_payload, c->capacity),
                 c->want == SHMCHAN_OK);
        const shmchan_params_t p = make_params(c->max_clients, c->max_payload, c->capacity);
        shmchan_layout_t l;
        memset(&l, 0xA5, sizeof l);
        CHECK_ERR(shmchan_layout_compute(&p, &l), c->want);
        if (c->want == SHMCHAN_OK) {
            check_layout_matches_doc(&l, c->max_clients, c->max_payload, c->capacity);
        } else {
            check_layout_zero(&l);
        }
    }
}

/* Every combination of values around each boundary, against the
 * documented predicate. */
static void test_compute_sweep(void **state)
{
    (void)state;
    const uint32_t hard = DOC_PAYLOAD_HARD_MAX;
    const uint32_t clients[] = {0, 1, 2, 3, 127, 255, 256, 257, 1024, UINT32_MAX};
    size_t ok = 0;
    size_t rejected = 0;
    for (unsigned bit = 0; bit < 32; bit++) {
        const uint32_t pow2 = 1u << bit;
        const uint32_t caps[] = {pow2 - 1u, pow2, pow2 + 1u, pow2 | (pow2 >> 1)};
        for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
            const uint32_t cap = caps[ci];
            const uint32_t payloads[] = {0,         1,         cap - 25u, cap - 24u,
                                         cap - 23u, hard - 1u, hard,      hard + 1u,
                                         UINT32_MAX};
            for (size_t mi = 0; mi < sizeof clients / sizeof clients[0]; mi++) {
                for (size_t pi = 0; pi < sizeof payloads / sizeof payloads[0]; pi++) {
                    const uint32_t mc = clients[mi];
                    const uint32_t mp = payloads[pi];
                    check_ctx_set("max_clients %" PRIu32 " max_payload %" PRIu32
                                  " capacity %" PRIu32,
                                  mc, mp, cap);
                    const shmchan_params_t p = make_params(mc, mp, cap);
                    shmchan_layout_t l;
                    const shmchan_err_t err = shmchan_layout_compute(&p, &l);
                    if (doc_params_valid(mc, mp, cap)) {
                        CHECK_ERR(err, SHMCHAN_OK);
                        check_layout_matches_doc(&l, mc, mp, cap);
                        ok++;
                    } else {
                        CHECK_ERR(err, SHMCHAN_E_LAYOUT_PARAMS);
                        check_layout_zero(&l);
                        rejected++;
                    }
                }
            }
        }
    }
    /* Both outcomes must actually have been exercised. */
    CHECK(ok > 100);
    CHECK(rejected > 100);
}

static void test_compute_null_arguments(void **state)
{
    (void)state;
    check_ctx_set("NULL arguments");
    const shmchan_params_t p = make_params(1, 1, 64);
    shmchan_layout_t l;
    memset(&l, 0xA5, sizeof l);
    CHECK_ERR(shmchan_layout_compute(NULL, &l), SHMCHAN_E_INVALID_ARGUMENT);
    check_layout_zero(&l);
    CHECK_ERR(shmchan_layout_compute(&p, NULL), SHMCHAN_E_INVALID_ARGUMENT);
}

/* ------------------------------------------------ header round trip */

static void test_header_round_trip(void **state)
{
    (void)state;
    const shmchan_params_t sets[] = {
        {1, 1, 64},
        {3, 1000, 4096},
        {256, 40, 64},
        {1, 65536u - 24u, 65536u},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        const shmchan_params_t *s = &sets[i];
        check_ctx_set("params (%" PRIu32 ", %" PRIu32 ", %" PRIu32 ")", s->max_clients,
                      s->max_payload, s->lane_capacity);
        const shmchan_layout_t l = valid_layout(s->max_clients, s->max_payload, s->lane_capacity);
        const size_t len = (size_t)l.total_size;
        uint8_t *img = image_alloc(len);

        shmchan_layout_write_header(img, &l, TEST_SEMID, 0, TEST_NONCE);
        /* Before the magic is published the image is not a channel. */
        shmchan_header_info_t info;
        CHECK_ERR(shmchan_layout_read_header(img, len, &info), SHMCHAN_E_LAYOUT_MAGIC);
        for (size_t b = 0; b < 8; b++) {
            CHECK_EQ(img[b], 0);
        }
        shmchan_layout_publish_magic(img);

        /* The bytes are exactly the documented map... */
        uint8_t want[DOC_HEADER_SIZE];
        doc_header_bytes(want, s->max_clients, s->max_payload, s->lane_capacity, TEST_SEMID,
                         TEST_NONCE);
        for (size_t b = 0; b < DOC_HEADER_SIZE; b++) {
            check_ctx_set("params (%" PRIu32 ", %" PRIu32 ", %" PRIu32 "), header byte %zu",
                          s->max_clients, s->max_payload, s->lane_capacity, b);
            CHECK_EQ(img[b], want[b]);
        }
        /* ...and nothing past the header was written. */
        const size_t tail_check = len - DOC_HEADER_SIZE < 4096 ? len - DOC_HEADER_SIZE : 4096;
        for (size_t b = DOC_HEADER_SIZE; b < DOC_HEADER_SIZE + tail_check; b++) {
            check_ctx_set("byte %zu after the header", b);
            CHECK_EQ(img[b], 0x5A);
        }
        CHECK_EQ(img[len - 1], 0x5A);

        check_ctx_set("params (%" PRIu32 ", %" PRIu32 ", %" PRIu32 "), read back", s->max_clients,
                      s->max_payload, s->lane_capacity);
        memset(&info, 0xA5, sizeof info);
        CHECK_ERR(shmchan_layout_read_header(img, len, &info), SHMCHAN_OK);
        check_layout_matches_doc(&info.layout, s->max_clients, s->max_payload,
                                 s->lane_capacity);
        CHECK_EQ(info.semid, TEST_SEMID);
        CHECK_EQ(info.nonce, TEST_NONCE);
        free(img);
    }
}

/* A multi-user header (docs/multiuser.md): version 2, the doorbell's id at
 * offset 36, three semaphores and a segment of the header alone; built by
 * hand from the documented bytes, read back, and written identically. */
static void test_multiuser_header(void **state)
{
    (void)state;
    check_ctx_set("multi-user header");
    uint8_t h[DOC_HEADER_SIZE];
    doc_header_bytes(h, 4, 1000, 4096, TEST_SEMID, TEST_NONCE);
    ref_put_le32(h + DOC_OFF_VERSION, 2);
    ref_put_le32(h + DOC_OFF_RESERVED, 0x4321u);
    ref_put_le32(h + DOC_OFF_NSEMS, 3);
    ref_put_le64(h + DOC_OFF_TOTAL_SIZE, DOC_HEADER_SIZE);
    shmchan_header_info_t info;
    CHECK_ERR(shmchan_layout_read_header(h, DOC_HEADER_SIZE, &info), SHMCHAN_OK);
    CHECK_EQ(info.layout.multiuser, 1);
    CHECK_EQ(info.layout.nsems, 3);
    CHECK_EQ(info.layout.total_size, DOC_HEADER_SIZE);
    CHECK_EQ(info.layout.slot_stride, DOC_SLOT_FIXED + 2u * 4096u);
    CHECK_EQ(info.doorbell_semid, 0x4321u);
    CHECK_EQ(info.semid, TEST_SEMID);
    /* The kernel's size must be the header's alone. */
    uint8_t big[DOC_HEADER_SIZE + 64];
    memcpy(big, h, sizeof h);
    CHECK_ERR(shmchan_layout_read_header(big, sizeof big, &info), SHMCHAN_E_LAYOUT_SIZE);
    /* The writer produces exactly these bytes. */
    shmchan_layout_t l = valid_layout(4, 1000, 4096);
    shmchan_layout_make_multiuser(&l);
    uint8_t img[DOC_HEADER_SIZE];
    shmchan_layout_write_header(img, &l, TEST_SEMID, 0x4321u, TEST_NONCE);
    shmchan_layout_publish_magic(img);
    CHECK_EQ(memcmp(img, h, sizeof h), 0);
}

/* The header copy is the only thing read_header keeps: later writes to the
 * image change nothing in the returned layout. */
static void test_header_result_is_private(void **state)
{
    (void)state;
    check_ctx_set("private copy");
    const shmchan_layout_t l = valid_layout(2, 100, 256);
    uint8_t *img = image_published(&l);
    shmchan_header_info_t info;
    CHECK_ERR(shmchan_layout_read_header(img, (size_t)l.total_size, &info), SHMCHAN_OK);
    memset(img, 0xFF, DOC_HEADER_SIZE);
    check_layout_matches_doc(&info.layout, 2, 100, 256);
    CHECK_EQ(info.semid, TEST_SEMID);
    CHECK_EQ(info.nonce, TEST_NONCE);
    free(img);
}

/* ------------------------------------------------ header rejections */

typedef struct header_field_case {
    const char *name;
    uint32_t offset;
    unsigned width; /* 4 or 8 */
    uint64_t value;
    shmchan_err_t want;
} header_field_case_t;

static void check_info_zero(const shmchan_header_info_t *info)
{
    check_layout_zero(&info->layout);
    CHECK_EQ(info->semid, 0);
    CHECK_EQ(info->nonce, 0);
}

static void test_read_header_rejects_fields(void **state)
{
    (void)state;
    /* 3 clients, payload 1000, capacity 4096: a layout in which each field
     * can be pushed out of range in both directions. */
    const uint32_t mc = 3;
    const uint32_t mp = 1000;
    const uint32_t cap = 4096;
    const uint64_t total = doc_total_size(mc, cap);
    const header_field_case_t cases[] = {
        {"magic zero", DOC_OFF_MAGIC, 8, 0, SHMCHAN_E_LAYOUT_MAGIC},
        {"magic byte-swapped", DOC_OFF_MAGIC, 8, UINT64_C(0x5348434D4841484E),
         SHMCHAN_E_LAYOUT_MAGIC},
        {"version 0", DOC_OFF_VERSION, 4, 0, SHMCHAN_E_LAYOUT_VERSION},
        {"version 3", DOC_OFF_VERSION, 4, 3, SHMCHAN_E_LAYOUT_VERSION},
        /* Version 2 is a multi-user header: a version-1 image relabelled
         * so keeps a single-user nsems and size, which version 2 refuses. */
        {"version 2", DOC_OFF_VERSION, 4, 2, SHMCHAN_E_LAYOUT_PARAMS},
        {"version UINT32_MAX", DOC_OFF_VERSION, 4, UINT32_MAX, SHMCHAN_E_LAYOUT_VERSION},
        {"header_size 0", DOC_OFF_HEADER_SIZE, 4, 0, SHMCHAN_E_LAYOUT_PARAMS},
        {"header_size 255", DOC_OFF_HEADER_SIZE, 4, 255, SHMCHAN_E_LAYOUT_PARAMS},
        {"header_size 257", DOC_OFF_HEADER_SIZE, 4, 257, SHMCHAN_E_LAYOUT_PARAMS},
        {"header_size 512", DOC_OFF_HEADER_SIZE, 4, 512, SHMCHAN_E_LAYOUT_PARAMS},
        {"reserved 1", DOC_OFF_RESERVED, 4, 1, SHMCHAN_E_LAYOUT_PARAMS},
        {"reserved top bit", DOC_OFF_RESERVED, 4, 0x80000000u, SHMCHAN_E_LAYOUT_PARAMS},
        {"nsems 0", DOC_OFF_NSEMS, 4, 0, SHMCHAN_E_LAYOUT_PARAMS},
        {"nsems - 1", DOC_OFF_NSEMS, 4, doc_nsems(mc) - 1u, SHMCHAN_E_LAYOUT_PARAMS},
        {"nsems + 1", DOC_OFF_NSEMS, 4, doc_nsems(mc) + 1u, SHMCHAN_E_LAYOUT_PARAMS},
        {"nsems of 4 clients", DOC_OFF_NSEMS, 4, doc_nsems(mc + 1u), SHMCHAN_E_LAYOUT_PARAMS},
        {"max_clients 0", DOC_OFF_MAX_CLIENTS, 4, 0, SHMCHAN_E_LAYOUT_PARAMS},
        {"max_clients 257", DOC_OFF_MAX_CLIENTS, 4, 257, SHMCHAN_E_LAYOUT_PARAMS},
        /* In range, but nsems no longer matches: a half-edited header. */
        {"max_clients 2", DOC_OFF_MAX_CLIENTS, 4, 2, SHMCHAN_E_LAYOUT_PARAMS},
        {"max_payload 0", DOC_OFF_MAX_PAYLOAD, 4, 0, SHMCHAN_E_LAYOUT_PARAMS},
        {"max_payload hard max + 1", DOC_OFF_MAX_PAYLOAD, 4, DOC_PAYLOAD_HARD_MAX + 1u,
         SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 0", DOC_OFF_LANE_CAPACITY, 4, 0, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 4095", DOC_OFF_LANE_CAPACITY, 4, cap - 1u, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 32", DOC_OFF_LANE_CAPACITY, 4, 32, SHMCHAN_E_LAYOUT_PARAMS},
        {"capacity 2^31", DOC_OFF_LANE_CAPACITY, 4, 1u << 31, SHMCHAN_E_LAYOUT_PARAMS},
        /* A valid capacity with a matching size claim: only the kernel's
         * size betrays it. */
        {"capacity 8192", DOC_OFF_LANE_CAPACITY, 4, 2u * cap, SHMCHAN_E_LAYOUT_SIZE},
        {"total_size 0", DOC_OFF_TOTAL_SIZE, 8, 0, SHMCHAN_E_LAYOUT_SIZE},
        {"total_size - 1", DOC_OFF_TOTAL_SIZE, 8, total - 1u, SHMCHAN_E_LAYOUT_SIZE},
        {"total_size + 1", DOC_OFF_TOTAL_SIZE, 8, total + 1u, SHMCHAN_E_LAYOUT_SIZE},
        {"total_size UINT64_MAX", DOC_OFF_TOTAL_SIZE, 8, UINT64_MAX, SHMCHAN_E_LAYOUT_SIZE},
        {"total_size with bit 63 set", DOC_OFF_TOTAL_SIZE, 8, total | (UINT64_C(1) << 63),
         SHMCHAN_E_LAYOUT_SIZE},
    };
    uint8_t good[DOC_HEADER_SIZE];
    doc_header_bytes(good, mc, mp, cap, TEST_SEMID, TEST_NONCE);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const header_field_case_t *c = &cases[i];
        check_ctx_set("case '%s'", c->name);
        uint8_t h[DOC_HEADER_SIZE];
        memcpy(h, good, sizeof h);
        if (c->width == 8) {
            ref_put_le64(h + c->offset, c->value);
        } else {
            ref_put_le32(h + c->offset, (uint32_t)c->value);
        }
        /* "capacity 8192" also needs its own size claim to isolate the
         * kernel check. */
        if (c->offset == DOC_OFF_LANE_CAPACITY && c->want == SHMCHAN_E_LAYOUT_SIZE) {
            ref_put_le64(h + DOC_OFF_TOTAL_SIZE, doc_total_size(mc, (uint32_t)c->value));
        }
        shmchan_header_info_t info;
        memset(&info, 0xA5, sizeof info);
        CHECK_ERR(read_copy(h, sizeof h, (size_t)total, &info), c->want);
        check_info_zero(&info);
    }
    /* The unmodified bytes are accepted: the cases above fail for their
     * own field only. */
    check_ctx_set("unmodified documented header");
    shmchan_header_info_t info;
    CHECK_ERR(read_copy(good, sizeof good, (size_t)total, &info), SHMCHAN_OK);
    check_layout_matches_doc(&info.layout, mc, mp, cap);
}

/* A header that is internally consistent for another channel (fewer
 * clients: nsems and size claim both rewritten) is refused only because the
 * kernel's size disagrees. */
static void test_read_header_consistent_but_wrong_size(void **state)
{
    (void)state;
    check_ctx_set("consistent header for 2 clients on a 3-client segment");
    uint8_t h[DOC_HEADER_SIZE];
    doc_header_bytes(h, 2, 1000, 4096, TEST_SEMID, TEST_NONCE);
    shmchan_header_info_t info;
    CHECK_ERR(read_copy(h, sizeof h, (size_t)doc_total_size(3, 4096), &info),
              SHMCHAN_E_LAYOUT_SIZE);
    check_info_zero(&info);
    CHECK_ERR(read_copy(h, sizeof h, (size_t)doc_total_size(2, 4096), &info), SHMCHAN_OK);
    check_layout_matches_doc(&info.layout, 2, 1000, 4096);
}

static void test_read_header_rejects_sizes(void **state)
{
    (void)state;
    const shmchan_layout_t l = valid_layout(2, 100, 256);
    const size_t total = (size_t)l.total_size;
    uint8_t *img = image_published(&l);
    shmchan_header_info_t info;

    /* Shorter than a header: refused before any byte is read (the copy
     * holds only image_len bytes). */
    const size_t short_lens[] = {0, 1, 8, 55, DOC_HEADER_SIZE - 1u};
    for (size_t i = 0; i < sizeof short_lens / sizeof short_lens[0]; i++) {
        check_ctx_set("image_len %zu", short_lens[i]);
        memset(&info, 0xA5, sizeof info);
        CHECK_ERR(read_copy(img, short_lens[i], short_lens[i], &info), SHMCHAN_E_LAYOUT_SIZE);
        check_info_zero(&info);
    }
    /* Exactly a header, a byte either side of the layout, double. */
    const size_t bad_lens[] = {DOC_HEADER_SIZE, total - 1u, total + 1u, 2u * total};
    for (size_t i = 0; i < sizeof bad_lens / sizeof bad_lens[0]; i++) {
        check_ctx_set("image_len %zu for a layout of %zu", bad_lens[i], total);
        memset(&info, 0xA5, sizeof info);
        CHECK_ERR(read_copy(img, DOC_HEADER_SIZE, bad_lens[i], &info), SHMCHAN_E_LAYOUT_SIZE);
        check_info_zero(&info);
    }
    check_ctx_set("image_len exactly the layout");
    CHECK_ERR(read_copy(img, DOC_HEADER_SIZE, total, &info), SHMCHAN_OK);
    check_layout_equal(&info.layout, &l);

    check_ctx_set("NULL arguments");
    memset(&info, 0xA5, sizeof info);
    CHECK_ERR(shmchan_layout_read_header(NULL, total, &info), SHMCHAN_E_INVALID_ARGUMENT);
    check_info_zero(&info);
    CHECK_ERR(shmchan_layout_read_header(img, total, NULL), SHMCHAN_E_INVALID_ARGUMENT);
    free(img);
}

/* What a change of one header byte must do, from the documented map:
 * every checked field refuses with its own code; semid and nonce are data
 * (accepted, reported changed); bytes the map leaves zero or mutable
 * (56..255, incl. the server state word at 128) are not part of the
 * validated header (accepted, same result); max_payload is accepted
 * whenever the changed value still satisfies its documented rule, since
 * nothing else in the header or the size depends on it. */
static void expect_for_changed_byte(const uint8_t bad[DOC_HEADER_SIZE], size_t byte,
                                    shmchan_err_t *want)
{
    if (byte < DOC_OFF_VERSION) {
        *want = SHMCHAN_E_LAYOUT_MAGIC;
    } else if (byte < DOC_OFF_HEADER_SIZE) {
        *want = SHMCHAN_E_LAYOUT_VERSION;
    } else if (byte < DOC_OFF_MAX_PAYLOAD) {
        /* header_size, max_clients (out of range, or nsems mismatch). */
        *want = SHMCHAN_E_LAYOUT_PARAMS;
    } else if (byte < DOC_OFF_LANE_CAPACITY) {
        const uint32_t mp = ref_get_le32(bad + DOC_OFF_MAX_PAYLOAD);
        *want = (mp >= 1 && mp <= DOC_PAYLOAD_HARD_MAX)
                    ? SHMCHAN_OK
                    : SHMCHAN_E_LAYOUT_PARAMS;
    } else if (byte < DOC_OFF_SEMID) {
        /* capacity: one changed bit of a power of two is never a power of
         * two in range; nsems. */
        *want = SHMCHAN_E_LAYOUT_PARAMS;
    } else if (byte < DOC_OFF_RESERVED) {
        *want = SHMCHAN_OK;
    } else if (byte < DOC_OFF_NONCE) {
        *want = SHMCHAN_E_LAYOUT_PARAMS;
    } else if (byte < DOC_OFF_TOTAL_SIZE) {
        *want = SHMCHAN_OK;
    } else if (byte < DOC_OFF_TOTAL_SIZE + 8u) {
        *want = SHMCHAN_E_LAYOUT_SIZE;
    } else {
        *want = SHMCHAN_OK;
    }
}

static void check_changed_header(const uint8_t good[DOC_HEADER_SIZE], size_t byte, uint8_t xor_mask,
                                 uint32_t mc, uint32_t mp, uint32_t cap, size_t *accepted)
{
    const size_t total = (size_t)doc_total_size(mc, cap);
    uint8_t bad[DOC_HEADER_SIZE];
    memcpy(bad, good, sizeof bad);
    bad[byte] = (uint8_t)(bad[byte] ^ xor_mask);
    check_ctx_set("header byte %zu xor 0x%02x (0x%02x -> 0x%02x)", byte, (unsigned)xor_mask,
                  (unsigned)good[byte], (unsigned)bad[byte]);
    shmchan_err_t want;
    expect_for_changed_byte(bad, byte, &want);

    /* The image is a real segment: header, then slots the test fills with
     * a pattern, of exactly the kernel's size. */
    shmchan_header_info_t info;
    CHECK_ERR(read_copy(bad, sizeof bad, total, &info), want);
    if (want != SHMCHAN_OK) {
        check_info_zero(&info);
        return;
    }
    (*accepted)++;
    const uint32_t want_mp =
        (byte >= DOC_OFF_MAX_PAYLOAD && byte < DOC_OFF_LANE_CAPACITY)
            ? ref_get_le32(bad + DOC_OFF_MAX_PAYLOAD)
            : mp;
    check_layout_matches_doc(&info.layout, mc, want_mp, cap);
    CHECK_EQ(info.semid, ref_get_le32(bad + DOC_OFF_SEMID));
    CHECK_EQ(info.nonce, ref_get_le64(bad + DOC_OFF_NONCE));
}

static void test_read_header_every_byte_changed(void **state)
{
    (void)state;
    const uint32_t mc = 3;
    const uint32_t mp = 1000;
    const uint32_t cap = 4096;
    uint8_t good[DOC_HEADER_SIZE];
    doc_header_bytes(good, mc, mp, cap, TEST_SEMID, TEST_NONCE);
    size_t accepted = 0;
    for (size_t byte = 0; byte < DOC_HEADER_SIZE; byte++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            check_changed_header(good, byte, (uint8_t)(1u << bit), mc, mp, cap, &accepted);
        }
        check_changed_header(good, byte, 0xFF, mc, mp, cap, &accepted);
    }
    /* semid 4 + nonce 8 + bytes 56..255 (200), 9 changes each, plus the
     * max_payload changes that stay in range: the accept branch ran. */
    CHECK(accepted >= (4u + 8u + 200u) * 9u);
}

/* ------------------------------------------------------------ offsets */

static void check_offsets(const shmchan_layout_t *l)
{
    const uint32_t mc = l->params.max_clients;
    const uint32_t cap = l->params.lane_capacity;
    const uint64_t total = doc_total_size(mc, cap);
    const uint64_t stride = doc_stride(cap);
    for (uint32_t s = 0; s < mc; s++) {
        check_ctx_set("max_clients %" PRIu32 " capacity %" PRIu32 " slot %" PRIu32, mc, cap, s);
        const uint64_t slot = shmchan_layout_slot_offset(l, s);
        const uint64_t c2s = shmchan_layout_c2s_ring_offset(l, s);
        const uint64_t s2c = shmchan_layout_s2c_ring_offset(l, s);
        CHECK_EQ(slot, DOC_HEADER_SIZE + (uint64_t)s * stride);
        CHECK_EQ(c2s, slot + DOC_SLOT_FIXED);
        CHECK_EQ(s2c, c2s + cap);
        /* Both control blocks lie between the slot words and the rings. */
        CHECK(slot + DOC_SLOT_S2C_CTL + DOC_LANE_CTL_SIZE <= c2s);
        CHECK(slot >= DOC_HEADER_SIZE);
        CHECK(s2c + cap <= total);
        CHECK(s2c + cap <= l->total_size);
        /* 64-byte alignment of every block (atomic words, cache lines). */
        CHECK_EQ(slot % 64u, 0);
        CHECK_EQ((slot + DOC_SLOT_C2S_CTL) % 64u, 0);
        CHECK_EQ(c2s % 64u, 0);
        CHECK_EQ(s2c % 64u, 0);
        if (s + 1u == mc) {
            /* The last ring ends exactly at the end of the segment. */
            CHECK_EQ(s2c + cap, total);
        } else {
            CHECK_EQ(s2c + cap, shmchan_layout_slot_offset(l, s + 1u));
        }
    }
    const uint32_t out_of_range[] = {mc, mc + 1u, 257u, UINT32_MAX};
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        const uint32_t s = out_of_range[i];
        check_ctx_set("max_clients %" PRIu32 " out-of-range slot %" PRIu32, mc, s);
        CHECK_EQ(shmchan_layout_slot_offset(l, s), total);
        CHECK_EQ(shmchan_layout_c2s_ring_offset(l, s), total);
        CHECK_EQ(shmchan_layout_s2c_ring_offset(l, s), total);
    }
}

static void test_offsets_within_segment(void **state)
{
    (void)state;
    const shmchan_params_t sets[] = {
        {1, 1, 64},
        {3, 1000, 4096},
        {256, 40, 64},
        {256, DOC_PAYLOAD_HARD_MAX, 1u << 30},
        {1, 1, 1u << 30},
        {17, 300, 512},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        const shmchan_layout_t l =
            valid_layout(sets[i].max_clients, sets[i].max_payload, sets[i].lane_capacity);
        check_offsets(&l);
    }
}

/* --------------------------------------------------------- semaphores */

static void test_semaphore_numbering(void **state)
{
    (void)state;
    /* Fixed semaphores and per-slot roles (protocol.md section 4). */
    check_ctx_set("fixed semaphore numbers");
    CHECK_EQ(SHMCHAN_SEM_MARKER, 0);
    CHECK_EQ(SHMCHAN_SEM_SERVER_ALIVE, 1);
    CHECK_EQ(SHMCHAN_SEM_READY, 2);
    CHECK_EQ(SHMCHAN_SEM_SERVER_WAKE, 3);
    CHECK_EQ(SHMCHAN_SEM_SLOT_OWNER, 0);
    CHECK_EQ(SHMCHAN_SEM_SLOT_FREE, 1);
    CHECK_EQ(SHMCHAN_SEM_SLOT_RX, 2);
    CHECK_EQ(SHMCHAN_SEM_SLOT_TX, 3);
    CHECK_EQ(SHMCHAN_SEM_MARKER_VALUE, 0x5348);

    for (uint32_t mc = 0; mc <= DOC_MAX_CLIENTS; mc++) {
        check_ctx_set("nsems(%" PRIu32 ")", mc);
        CHECK_EQ(shmchan_layout_nsems(mc), doc_nsems(mc));
    }
    /* Each (slot, role) has its own number, above the fixed ones and below
     * nsems of the largest channel; no two share one. */
    static uint8_t seen[4u + 4u * DOC_MAX_CLIENTS];
    memset(seen, 0, sizeof seen);
    for (uint32_t slot = 0; slot < DOC_MAX_CLIENTS; slot++) {
        for (unsigned which = 0; which < 4; which++) {
            check_ctx_set("slot %" PRIu32 " role %u", slot, which);
            const unsigned short n = shmchan_layout_slot_sem(slot, which);
            CHECK_EQ(n, 4u + 4u * slot + which);
            CHECK(n >= 4u);
            CHECK(n < doc_nsems(slot + 1u));
            CHECK_EQ(seen[n], 0);
            seen[n] = 1;
        }
    }
    for (size_t n = 4; n < sizeof seen; n++) {
        check_ctx_set("semaphore %zu", n);
        CHECK_EQ(seen[n], 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compute_boundaries),
        cmocka_unit_test(test_compute_sweep),
        cmocka_unit_test(test_compute_null_arguments),
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_multiuser_header),
        cmocka_unit_test(test_header_result_is_private),
        cmocka_unit_test(test_read_header_rejects_fields),
        cmocka_unit_test(test_read_header_consistent_but_wrong_size),
        cmocka_unit_test(test_read_header_rejects_sizes),
        cmocka_unit_test(test_read_header_every_byte_changed),
        cmocka_unit_test(test_offsets_within_segment),
        cmocka_unit_test(test_semaphore_numbering),
    };
    return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
