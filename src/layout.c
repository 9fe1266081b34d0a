/*
 * layout.c - computing and validating a channel segment's layout.
 * Pure: no system calls, no allocation. All size arithmetic is in uint64_t
 * on values bounded well below 2^63 (checked before use).
 */
#include <string.h>

#include "endian_le.h"
#include "layout.h"
#include "safety.h"
#include "shm_atomic.h"

static int is_power_of_two(uint32_t v)
{
    return v != 0 && (v & (v - 1u)) == 0;
}

uint32_t shmchan_layout_nsems(uint32_t max_clients)
{
    return SHMCHAN_SEM_FIXED + SHMCHAN_SEM_PER_SLOT * max_clients;
}

int shmchan_layout_nsems_valid(uint32_t nsems)
{
    return nsems == SHMCHAN_SEM_MU_COUNT || (nsems >= shmchan_layout_nsems(1) &&
           nsems <= shmchan_layout_nsems(SHMCHAN_MAX_CLIENTS_LIMIT) &&
           (nsems - SHMCHAN_SEM_FIXED) % SHMCHAN_SEM_PER_SLOT == 0);
}

void shmchan_layout_make_multiuser(shmchan_layout_t *layout)
{
    layout->multiuser = 1;
    layout->nsems = SHMCHAN_SEM_MU_COUNT;
    layout->total_size = SHMCHAN_LAYOUT_HEADER_SIZE;
}

unsigned short shmchan_layout_slot_sem(uint32_t slot, unsigned which)
{
    return (unsigned short)(SHMCHAN_SEM_FIXED + SHMCHAN_SEM_PER_SLOT * slot + which);
}

shmchan_err_t shmchan_layout_compute(const shmchan_params_t *params, shmchan_layout_t *out)
{
    ENSURE_REF(out);
    memset(out, 0, sizeof *out);
    ENSURE_REF(params);
    ENSURE(params->max_clients >= 1 && params->max_clients <= SHMCHAN_MAX_CLIENTS_LIMIT,
           SHMCHAN_E_LAYOUT_PARAMS);
    ENSURE(params->max_payload >= 1 && params->max_payload <= SHMCHAN_PAYLOAD_HARD_MAX,
           SHMCHAN_E_LAYOUT_PARAMS);
    ENSURE(is_power_of_two(params->lane_capacity), SHMCHAN_E_LAYOUT_PARAMS);
    ENSURE(params->lane_capacity >= SHMCHAN_LANE_CAPACITY_MIN &&
               params->lane_capacity <= SHMCHAN_LANE_CAPACITY_MAX,
           SHMCHAN_E_LAYOUT_PARAMS);
    /* No rule ties the lane to max_payload: a message longer than half a
     * lane travels in fragments (lane.h, shmchan_lane_fragment_max), and
     * SHMCHAN_LANE_CAPACITY_MIN is the lane's own floor. */

    /* Bounded: 576 + 2 * 2^30 per slot, times 256 slots, is below 2^40. */
    const uint64_t stride = SHMCHAN_SLOT_OFF_RINGS + 2u * (uint64_t)params->lane_capacity;
    const uint64_t total = SHMCHAN_LAYOUT_HEADER_SIZE + stride * params->max_clients;
    ENSURE(total <= (uint64_t)SIZE_MAX, SHMCHAN_E_LAYOUT_PARAMS);

    out->params = *params;
    out->nsems = shmchan_layout_nsems(params->max_clients);
    out->slot_stride = stride;
    out->total_size = total;
    return SHMCHAN_OK;
}

void shmchan_layout_write_header(uint8_t *image, const shmchan_layout_t *layout,
                                 uint32_t semid, uint32_t doorbell_semid, uint64_t nonce)
{
    uint8_t h[SHMCHAN_LAYOUT_HEADER_SIZE];
    memset(h, 0, sizeof h);
    shmchan_le32_store(h + SHMCHAN_HDR_OFF_VERSION, layout->multiuser
                                                        ? SHMCHAN_LAYOUT_VERSION_MULTIUSER
                                                        : SHMCHAN_LAYOUT_VERSION);
    if (layout->multiuser) {
        shmchan_le32_store(h + SHMCHAN_HDR_OFF_DOORBELL, doorbell_semid);
    }
    shmchan_le32_store(h + SHMCHAN_HDR_OFF_HEADER_SIZE, SHMCHAN_LAYOUT_HEADER_SIZE);
    shmchan_le32_store(h + SHMCHAN_HDR_OFF_MAX_CLIENTS, layout->params.max_clients);
    shmchan_le32_store(h + SHMCHAN_HDR_OFF_MAX_PAYLOAD, layout->params.max_payload);
    shmchan_le32_store(h + SHMCHAN_HDR_OFF_LANE_CAPACITY, layout->params.lane_capacity);
    shmchan_le32_store(h + SHMCHAN_HDR_OFF_NSEMS, layout->nsems);
    shmchan_le32_store(h + SHMCHAN_HDR_OFF_SEMID, semid);
    shmchan_le64_store(h + SHMCHAN_HDR_OFF_NONCE, nonce);
    shmchan_le64_store(h + SHMCHAN_HDR_OFF_TOTAL_SIZE, layout->total_size);
    /* Magic stays zero here: see shmchan_layout_publish_magic. */
    memcpy(image, h, sizeof h);
}

void shmchan_layout_publish_magic(uint8_t *image)
{
    /* Release: whoever sees the magic also sees every header byte written
     * before it (the joiner's acquire is in shmchan_layout_read_header). */
    shmchan_shm_store_u64_release(image + SHMCHAN_HDR_OFF_MAGIC, SHMCHAN_LAYOUT_MAGIC);
}

shmchan_err_t shmchan_layout_read_header(const uint8_t *image, size_t image_len,
                                         shmchan_header_info_t *out)
{
    ENSURE_REF(out);
    memset(out, 0, sizeof *out);
    ENSURE_REF(image);
    ENSURE(image_len >= SHMCHAN_LAYOUT_HEADER_SIZE, SHMCHAN_E_LAYOUT_SIZE);

    /* Acquire on the magic pairs with publish_magic, then one copy of the
     * whole header: every check below reads the copy, never the segment. */
    const uint64_t magic = shmchan_shm_load_u64_acquire(image + SHMCHAN_HDR_OFF_MAGIC);
    ENSURE(magic == SHMCHAN_LAYOUT_MAGIC, SHMCHAN_E_LAYOUT_MAGIC);
    uint8_t h[SHMCHAN_LAYOUT_HEADER_SIZE];
    memcpy(h, image, sizeof h);
    /* The copy's magic, not the earlier load, is what the rest relies on. */
    ENSURE(shmchan_le64_load(h + SHMCHAN_HDR_OFF_MAGIC) == SHMCHAN_LAYOUT_MAGIC,
           SHMCHAN_E_LAYOUT_MAGIC);
    const uint32_t version = shmchan_le32_load(h + SHMCHAN_HDR_OFF_VERSION);
    ENSURE(version == SHMCHAN_LAYOUT_VERSION || version == SHMCHAN_LAYOUT_VERSION_MULTIUSER,
           SHMCHAN_E_LAYOUT_VERSION);
    ENSURE(shmchan_le32_load(h + SHMCHAN_HDR_OFF_HEADER_SIZE) == SHMCHAN_LAYOUT_HEADER_SIZE,
           SHMCHAN_E_LAYOUT_PARAMS);
    ENSURE(version == SHMCHAN_LAYOUT_VERSION_MULTIUSER ||
               shmchan_le32_load(h + SHMCHAN_HDR_OFF_RESERVED) == 0,
           SHMCHAN_E_LAYOUT_PARAMS);

    shmchan_params_t params;
    params.max_clients = shmchan_le32_load(h + SHMCHAN_HDR_OFF_MAX_CLIENTS);
    params.max_payload = shmchan_le32_load(h + SHMCHAN_HDR_OFF_MAX_PAYLOAD);
    params.lane_capacity = shmchan_le32_load(h + SHMCHAN_HDR_OFF_LANE_CAPACITY);
    shmchan_layout_t layout;
    GUARD(shmchan_layout_compute(&params, &layout));
    if (version == SHMCHAN_LAYOUT_VERSION_MULTIUSER) {
        shmchan_layout_make_multiuser(&layout);
    }

    ENSURE(shmchan_le32_load(h + SHMCHAN_HDR_OFF_NSEMS) == layout.nsems,
           SHMCHAN_E_LAYOUT_PARAMS);
    /* Three sizes must agree: recomputed, claimed by the header, and the
     * kernel's. Only the last is trustworthy; the others must match it. */
    ENSURE(shmchan_le64_load(h + SHMCHAN_HDR_OFF_TOTAL_SIZE) == layout.total_size,
           SHMCHAN_E_LAYOUT_SIZE);
    ENSURE((uint64_t)image_len == layout.total_size, SHMCHAN_E_LAYOUT_SIZE);

    out->layout = layout;
    out->semid = shmchan_le32_load(h + SHMCHAN_HDR_OFF_SEMID);
    out->doorbell_semid =
        layout.multiuser ? shmchan_le32_load(h + SHMCHAN_HDR_OFF_DOORBELL) : 0;
    out->nonce = shmchan_le64_load(h + SHMCHAN_HDR_OFF_NONCE);
    return SHMCHAN_OK;
}

uint64_t shmchan_layout_slot_offset(const shmchan_layout_t *layout, uint32_t slot)
{
    /* A multi-user channel's segment holds no slot (each is in its
     * client's own segment, at offset 0): the same sentinel as a slot out
     * of range. */
    if (slot >= layout->params.max_clients || layout->multiuser) {
        return layout->total_size;
    }
    return SHMCHAN_LAYOUT_HEADER_SIZE + layout->slot_stride * slot;
}

uint64_t shmchan_layout_c2s_ring_offset(const shmchan_layout_t *layout, uint32_t slot)
{
    if (slot >= layout->params.max_clients || layout->multiuser) {
        return layout->total_size;
    }
    return shmchan_layout_slot_offset(layout, slot) + SHMCHAN_SLOT_OFF_RINGS;
}

uint64_t shmchan_layout_s2c_ring_offset(const shmchan_layout_t *layout, uint32_t slot)
{
    if (slot >= layout->params.max_clients || layout->multiuser) {
        return layout->total_size;
    }
    return shmchan_layout_c2s_ring_offset(layout, slot) + layout->params.lane_capacity;
}
