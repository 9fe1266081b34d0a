/*
 * layout_fuzzer.c - shmchan_layout_read_header on arbitrary segment images.
 *
 * Input: [u32 image size][image bytes]. The size is the kernel's segment
 * size in real use (shmchan_layout_read_header's image_len), so the fuzzer
 * picks it: its low 22 bits (0 .. 4 MiB - 1). The image is an exactly
 * sized heap block (malloc's 16-byte alignment, enough for the u64 atomic
 * load of the magic); the input's bytes fill its start and any header byte
 * the input does not reach is zero. Bytes past the header are never read
 * by the code under test and are left as they are.
 *
 * Properties (abort on violation):
 *  1. The verdict equals an independent reference validator written from
 *     docs/protocol.md section 2.1 (checks in the documented order, sizes
 *     recomputed in 64-bit from section 2's formula).
 *  2. On failure every output field is zero.
 *  3. On success the layout echoes the header, equals shmchan_layout_compute
 *     of its parameters, and its total size is the image size.
 *  4. For every slot: slot offset, both 256-byte lane control blocks and
 *     both rings (c2s/s2c ring offset + lane_capacity) lie inside the
 *     image, inside their own slot, in the documented order, without
 *     overlapping each other or the header or the next slot; each is then
 *     actually used (lanes initialised over them, control words reset, the
 *     first and last byte of each ring written), so AddressSanitizer
 *     checks the arithmetic against the real allocation. Semaphore numbers
 *     of every slot are below nsems.
 *  5. A slot number >= max_clients yields total_size from all three
 *     offset functions (unusable by construction).
 *  6. shmchan_layout_write_header + publish_magic re-create the bytes
 *     [0, 56) that were accepted and zero the rest of the header.
 *  7. shmchan_layout_compute on the header's raw parameters, and
 *     shmchan_layout_nsems_valid on its raw nsems field, agree with
 *     reference range checks whatever the verdict on the header.
 */
#include <string.h>

#include "fuzz/fuzz_harness.h"
#include "src/lane.h"
#include "src/layout.h"
#include "src/shmchan.h"

#define LAYOUT_IMAGE_MASK 0x3FFFFFu

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t le64_at(const uint8_t *p)
{
    return (uint64_t)le32_at(p) | ((uint64_t)le32_at(p + 4) << 32);
}

/* docs/protocol.md 2.1: magic, version, header size, reserved, the three
 * parameters, nsems, then the size claim and the kernel's size. */
static shmchan_err_t reference_read_header(const uint8_t *h, size_t image_len)
{
    if (image_len < 256) {
        return SHMCHAN_E_LAYOUT_SIZE;
    }
    if (memcmp(h, "SHMCHAN1", 8) != 0) {
        return SHMCHAN_E_LAYOUT_MAGIC;
    }
    const uint32_t version = le32_at(h + 8);
    if (version != 1 && version != 2) { /* 2: multi-user (docs/multiuser.md) */
        return SHMCHAN_E_LAYOUT_VERSION;
    }
    /* Offset 36: reserved (zero) in version 1, the doorbell's id in 2. */
    if (le32_at(h + 12) != 256 || (version == 1 && le32_at(h + 36) != 0)) {
        return SHMCHAN_E_LAYOUT_PARAMS;
    }
    const uint64_t clients = le32_at(h + 16);
    const uint64_t payload = le32_at(h + 20);
    const uint64_t cap = le32_at(h + 24);
    if (clients < 1 || clients > 256 || payload < 1 || payload > (1u << 24)) {
        return SHMCHAN_E_LAYOUT_PARAMS;
    }
    if (cap < 64 || cap > (1u << 30) || (cap & (cap - 1)) != 0) { /* no tie to payload */
        return SHMCHAN_E_LAYOUT_PARAMS;
    }
    /* Version 2: three semaphores, and a segment of the header alone. */
    if (le32_at(h + 28) != (version == 1 ? 4 + 4 * clients : 3)) {
        return SHMCHAN_E_LAYOUT_PARAMS;
    }
    const uint64_t total = version == 1 ? 256 + clients * (576 + 2 * cap) : 256;
    if (le64_at(h + 48) != total || (uint64_t)image_len != total) {
        return SHMCHAN_E_LAYOUT_SIZE;
    }
    return SHMCHAN_OK;
}

/* docs/protocol.md 2.1, the three parameters alone. */
static int reference_params_ok(const shmchan_params_t *p)
{
    const uint64_t cap = p->lane_capacity;
    return p->max_clients >= 1 && p->max_clients <= 256 && p->max_payload >= 1 &&
           p->max_payload <= (1u << 24) && cap >= 64 && cap <= (1u << 30) &&
           (cap & (cap - 1)) == 0; /* no tie to max_payload: fragments */
}

/* shmchan_layout_compute on the header's parameters whatever the verdict
 * on the rest of the header: same acceptance as the reference, the
 * documented formula, and a zeroed output on refusal. */
static void check_compute(const uint8_t *header)
{
    shmchan_params_t params;
    params.max_clients = le32_at(header + 16);
    params.max_payload = le32_at(header + 20);
    params.lane_capacity = le32_at(header + 24);
    shmchan_layout_t layout;
    memset(&layout, 0xA5, sizeof layout);
    const shmchan_err_t err = shmchan_layout_compute(&params, &layout);
    if (reference_params_ok(&params)) {
        FUZZ_CHECK(err == SHMCHAN_OK);
        FUZZ_CHECK(layout.nsems == 4 + 4 * params.max_clients);
        FUZZ_CHECK(layout.slot_stride == 576 + 2 * (uint64_t)params.lane_capacity);
        FUZZ_CHECK(layout.total_size == 256 + layout.slot_stride * params.max_clients);
    } else {
        FUZZ_CHECK(err == SHMCHAN_E_LAYOUT_PARAMS);
        FUZZ_CHECK(layout.nsems == 0 && layout.slot_stride == 0 && layout.total_size == 0);
        FUZZ_CHECK(layout.params.max_clients == 0 && layout.params.max_payload == 0 &&
                   layout.params.lane_capacity == 0);
    }
    FUZZ_CHECK(shmchan_layout_compute(NULL, &layout) == SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_layout_compute(&params, NULL) == SHMCHAN_E_INVALID_ARGUMENT);
}

/* shmchan_layout_nsems_valid on the header's raw nsems field: exactly the
 * single-user shapes 4 + 4k, 1 <= k <= 256, and the multi-user channel's
 * set of 3 (layout.h, docs/protocol.md 6), checked with arithmetic of our
 * own. */
static void check_nsems_valid(const uint8_t *header)
{
    const uint32_t nsems = le32_at(header + 28);
    const int want = nsems == 3 || (nsems >= 8 && nsems <= 4 + 4 * 256 && nsems % 4 == 0);
    FUZZ_CHECK(shmchan_layout_nsems_valid(nsems) == want);
}

static void check_info_zero(const shmchan_header_info_t *info)
{
    FUZZ_CHECK(info->layout.params.max_clients == 0);
    FUZZ_CHECK(info->layout.params.max_payload == 0);
    FUZZ_CHECK(info->layout.params.lane_capacity == 0);
    FUZZ_CHECK(info->layout.nsems == 0);
    FUZZ_CHECK(info->layout.slot_stride == 0);
    FUZZ_CHECK(info->layout.total_size == 0);
    FUZZ_CHECK(info->semid == 0);
    FUZZ_CHECK(info->nonce == 0);
}

/* Uses a lane over [ctl, ctl + 256) and [ring, ring + capacity) the way
 * the channel does, so that AddressSanitizer checks both ranges. */
static void use_lane(uint8_t *ctl, uint8_t *ring, const shmchan_layout_t *layout)
{
    shmchan_lane_t lane;
    FUZZ_CHECK(shmchan_lane_init(&lane, ctl, ring, layout->params.lane_capacity,
                                 layout->params.max_payload) == SHMCHAN_OK);
    shmchan_lane_reset_shared(ctl);
    ctl[SHMCHAN_LANE_CTL_SIZE - 1] = 0;
    ring[0] = 0;
    ring[layout->params.lane_capacity - 1] = 0;
}

static void check_slot(uint8_t *image, size_t image_len, const shmchan_layout_t *layout,
                       uint32_t slot)
{
    const uint64_t cap = layout->params.lane_capacity;
    const uint64_t stride = 576 + 2 * cap;
    const uint64_t so = shmchan_layout_slot_offset(layout, slot);
    const uint64_t c2s = shmchan_layout_c2s_ring_offset(layout, slot);
    const uint64_t s2c = shmchan_layout_s2c_ring_offset(layout, slot);

    FUZZ_CHECK(so == 256 + (uint64_t)slot * stride);       /* after the header, no gaps */
    FUZZ_CHECK(so + stride <= (uint64_t)image_len);        /* the slot is in the image */
    FUZZ_CHECK(so + SHMCHAN_SLOT_OFF_C2S_CTL + 256 <= so + SHMCHAN_SLOT_OFF_S2C_CTL);
    FUZZ_CHECK(so + SHMCHAN_SLOT_OFF_S2C_CTL + 256 <= c2s); /* control blocks before rings */
    FUZZ_CHECK(c2s == so + SHMCHAN_SLOT_OFF_RINGS);
    FUZZ_CHECK(c2s + cap <= s2c);                          /* rings do not overlap */
    FUZZ_CHECK(s2c + cap <= so + stride);                  /* ...nor the next slot */
    FUZZ_CHECK(s2c + cap <= (uint64_t)image_len);
    /* Every control word must be naturally aligned for its atomic access:
     * a multiple of 64 from the (here 16-aligned) image start. */
    FUZZ_CHECK(so % 64 == 0 && c2s % 64 == 0 && s2c % 64 == 0);

    image[so + SHMCHAN_SLOT_OFF_STATE] = 0;
    image[so + SHMCHAN_SLOT_OFF_GENERATION + 3] = 0;
    use_lane(image + so + SHMCHAN_SLOT_OFF_C2S_CTL, image + c2s, layout);
    use_lane(image + so + SHMCHAN_SLOT_OFF_S2C_CTL, image + s2c, layout);

    for (unsigned which = 0; which < SHMCHAN_SEM_PER_SLOT; which++) {
        const unsigned short sem = shmchan_layout_slot_sem(slot, which);
        FUZZ_CHECK(sem >= SHMCHAN_SEM_FIXED);
        FUZZ_CHECK(sem < layout->nsems);
        FUZZ_CHECK(sem == SHMCHAN_SEM_FIXED + SHMCHAN_SEM_PER_SLOT * slot + which);
    }
}

static void check_accepted(uint8_t *image, size_t image_len, const uint8_t *header,
                           const shmchan_header_info_t *info)
{
    const shmchan_layout_t *layout = &info->layout;
    FUZZ_CHECK(layout->params.max_clients == le32_at(header + 16));
    FUZZ_CHECK(layout->params.max_payload == le32_at(header + 20));
    FUZZ_CHECK(layout->params.lane_capacity == le32_at(header + 24));
    FUZZ_CHECK(layout->nsems == le32_at(header + 28));
    const int multiuser = le32_at(header + 8) == 2;
    FUZZ_CHECK(layout->multiuser == (uint32_t)multiuser);
    FUZZ_CHECK(layout->nsems ==
               (multiuser ? 3u : shmchan_layout_nsems(layout->params.max_clients)));
    FUZZ_CHECK(info->doorbell_semid == (multiuser ? le32_at(header + 36) : 0u));
    FUZZ_CHECK(shmchan_layout_nsems_valid(layout->nsems));
    FUZZ_CHECK(info->semid == le32_at(header + 32));
    FUZZ_CHECK(info->nonce == le64_at(header + 40));
    FUZZ_CHECK(layout->total_size == (uint64_t)image_len);
    FUZZ_CHECK(layout->slot_stride == 576 + 2 * (uint64_t)layout->params.lane_capacity);

    shmchan_layout_t again;
    FUZZ_CHECK(shmchan_layout_compute(&layout->params, &again) == SHMCHAN_OK);
    if (multiuser) {
        shmchan_layout_make_multiuser(&again);
    }
    FUZZ_CHECK(memcmp(&again.params, &layout->params, sizeof again.params) == 0);
    FUZZ_CHECK(again.nsems == layout->nsems && again.slot_stride == layout->slot_stride &&
               again.total_size == layout->total_size);

    /* A multi-user segment holds no slot: every offset is the sentinel. */
    for (uint32_t slot = 0; slot < layout->params.max_clients; slot++) {
        if (multiuser) {
            FUZZ_CHECK(shmchan_layout_slot_offset(layout, slot) == layout->total_size);
        } else {
            check_slot(image, image_len, layout, slot);
        }
    }
    const uint32_t beyond[2] = {layout->params.max_clients, UINT32_MAX};
    for (size_t i = 0; i < 2; i++) {
        FUZZ_CHECK(shmchan_layout_slot_offset(layout, beyond[i]) == layout->total_size);
        FUZZ_CHECK(shmchan_layout_c2s_ring_offset(layout, beyond[i]) == layout->total_size);
        FUZZ_CHECK(shmchan_layout_s2c_ring_offset(layout, beyond[i]) == layout->total_size);
    }

    /* The writer reproduces every static field of what the reader accepted. */
    uint8_t *fresh = fuzz_alloc(SHMCHAN_LAYOUT_HEADER_SIZE);
    memset(fresh, 0xA5, SHMCHAN_LAYOUT_HEADER_SIZE);
    shmchan_layout_write_header(fresh, layout, info->semid, info->doorbell_semid, info->nonce);
    FUZZ_CHECK(le64_at(fresh) == 0); /* magic comes last, separately */
    shmchan_layout_publish_magic(fresh);
    FUZZ_CHECK(memcmp(fresh, header, SHMCHAN_HDR_STATIC_END) == 0);
    for (size_t i = SHMCHAN_HDR_STATIC_END; i < SHMCHAN_LAYOUT_HEADER_SIZE; i++) {
        FUZZ_CHECK(fresh[i] == 0);
    }
    free(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t no_bytes[1];
    if (data == NULL) {
        data = no_bytes; /* keeps `data + offset` defined for empty inputs */
    }
    fuzz_cursor_t in = fuzz_cursor_make(data, size);
    const size_t image_len = fuzz_take_u32(&in) & LAYOUT_IMAGE_MASK;
    const size_t given = fuzz_cursor_left(&in);
    const size_t copied = given < image_len ? given : image_len;
    uint8_t *image = fuzz_alloc(image_len);
    if (copied > 0) {
        memcpy(image, data + in.pos, copied);
    }
    const size_t header_end = image_len < 256 ? image_len : 256;
    if (copied < header_end) {
        memset(image + copied, 0, header_end - copied);
    }
    /* The reference reads a private 256-byte copy (zero past the image). */
    uint8_t header[256];
    memset(header, 0, sizeof header);
    memcpy(header, image, header_end);

    shmchan_header_info_t info;
    memset(&info, 0xA5, sizeof info);
    const shmchan_err_t err = shmchan_layout_read_header(image, image_len, &info);
    FUZZ_CHECK(err == reference_read_header(header, image_len));
    if (err == SHMCHAN_OK) {
        check_accepted(image, image_len, header, &info);
    } else {
        check_info_zero(&info);
    }

    check_compute(header);
    check_nsems_valid(header);

    memset(&info, 0xA5, sizeof info);
    FUZZ_CHECK(shmchan_layout_read_header(NULL, image_len, &info) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    check_info_zero(&info);
    FUZZ_CHECK(shmchan_layout_read_header(image, image_len, NULL) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    free(image);
    return 0;
}
