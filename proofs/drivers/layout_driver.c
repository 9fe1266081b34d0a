/*
 * layout_driver.c - EVA driver for src/layout.c: every entry point, every
 * input within the bound (docs/proofs.md).
 *
 * Bound: a segment image of up to IMG_MAX bytes (override with -D), which
 * covers the real total size of the smallest layouts, so that the accepting
 * path of read_header is reached as well as every rejection. Every header
 * word is any value (a peer or a squatter wrote it); the acquire load of
 * the magic goes through the atomic stub and returns any value.
 */
#include "driver.h"
#include "layout.h"
#include "shmchan.h"

#ifndef IMG_MAX
#define IMG_MAX 1280
#endif

static uint8_t img_store[IMG_MAX];
static uint8_t hdr_store[SHMCHAN_LAYOUT_HEADER_SIZE];

static void any_params(shmchan_params_t *p)
{
    p->max_clients = ANY_U32();
    p->max_payload = ANY_U32();
    p->lane_capacity = ANY_U32();
}

static void any_layout(shmchan_layout_t *l)
{
    any_params(&l->params);
    l->nsems = ANY_U32();
    l->slot_stride = ANY_U64();
    l->total_size = ANY_U64();
    l->multiuser = ANY_U32(); /* any value: the code tests it against 0 only */
}

static void drive_compute(void)
{
    shmchan_params_t params;
    any_params(&params);
    shmchan_layout_t out;
    (void)shmchan_layout_compute(OR_NULL(&params), OR_NULL(&out));
}

static void drive_read_header(void)
{
    const size_t len = SPLIT(0, IMG_MAX);
    shmchan_header_info_t info;
    (void)shmchan_layout_read_header(OR_NULL(TAIL(img_store, len)), len, OR_NULL(&info));
}

static void drive_write_header(void)
{
    /* image and layout are never NULL by contract (layout.h: "image must
     * hold total_size bytes"); the header is the first 256 of them. */
    shmchan_layout_t layout;
    any_layout(&layout);
    shmchan_layout_write_header(hdr_store, &layout, ANY_U32(), ANY_U32(), ANY_U64());
    shmchan_layout_publish_magic(hdr_store);
}

static void drive_offsets(void)
{
    /* Offsets are computed, not dereferenced: any layout, any slot. */
    shmchan_layout_t layout;
    any_layout(&layout);
    const uint32_t slot = ANY_U32();
    (void)shmchan_layout_slot_offset(&layout, slot);
    (void)shmchan_layout_c2s_ring_offset(&layout, slot);
    (void)shmchan_layout_s2c_ring_offset(&layout, slot);
    (void)shmchan_layout_nsems(ANY_U32());
    (void)shmchan_layout_nsems_valid(ANY_U32());
    (void)shmchan_layout_slot_sem(ANY_U32(), ANY_U32());
}

int main(void)
{
    ANY_BYTES(img_store);
    drive_compute();
    drive_write_header();
    drive_offsets();
    drive_read_header();
    return 0;
}
