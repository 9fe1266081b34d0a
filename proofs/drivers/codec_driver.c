/*
 * codec_driver.c - EVA driver for src/codec.c and src/crc32c.c: every entry
 * point, every input within the bounds below (docs/proofs.md).
 *
 * Bounds (override with -D): source buffers of SRC_MAX bytes, payload
 * buffers of PAY_MAX bytes. Every header field comes from unknown bytes, so
 * every value of the frame's length field, including the ones above any
 * bound, is followed to its rejection.
 */
#include "codec_internal.h"
#include "crc32c.h"
#include "driver.h"
#include "shmchan.h"

#ifndef SRC_MAX
#define SRC_MAX 40
#endif
#ifndef PAY_MAX
#define PAY_MAX 20
#endif

static uint8_t src_store[SRC_MAX];
static uint8_t pay_store[PAY_MAX];
static uint8_t hdr_store[SHMCHAN_FRAME_HEADER_SIZE];

/* A frame descriptor as a caller may fill it: any field value. */
static void any_frame(shmchan_frame_t *f)
{
    f->type = Frama_C_unsigned_char_interval(0, 255);
    f->flags = Frama_C_unsigned_char_interval(0, 255);
    f->payload_len = ANY_U32();
    f->checksum = ANY_U32();
    f->seq = ANY_U64();
}

static void drive_decode(void)
{
    const size_t src_len = SPLIT(0, SRC_MAX);
    const size_t cap = SPLIT(0, PAY_MAX);
    shmchan_frame_t frame;
    size_t frame_len;
    (void)shmchan_codec_decode(OR_NULL(TAIL(src_store, src_len)), src_len, ANY_U32(),
                               OR_NULL(&frame), OR_NULL(TAIL(pay_store, cap)), cap,
                               OR_NULL(&frame_len));
}

/* A payload length and its buffer: lengths up to the bound with a buffer
 * that ends after len bytes, and every length above the hard maximum with
 * some real buffer (the rejecting path: nothing may be read). A macro so
 * that the split survives into the caller. */
#define ANY_PAYLOAD(len, payload)                                               \
    do {                                                                        \
        if (Frama_C_nondet(0, 1)) {                                             \
            len = (uint32_t)SPLIT(0, PAY_MAX);                                  \
            payload = OR_NULL(TAIL(pay_store, len));                            \
        } else {                                                                \
            len = Frama_C_unsigned_int_interval(SHMCHAN_PAYLOAD_HARD_MAX + 1u,  \
                                                UINT32_MAX);                    \
            payload = OR_NULL(&pay_store[0]);                                   \
        }                                                                       \
    } while (0)

static void drive_encode(void)
{
    uint32_t len;
    const uint8_t *payload;
    ANY_PAYLOAD(len, payload);
    const size_t out_cap = SPLIT(0, SRC_MAX);
    shmchan_frame_t frame;
    any_frame(&frame);
    size_t out_len;
    (void)shmchan_codec_encode(OR_NULL(&frame), payload, len,
                               OR_NULL(TAIL(src_store, out_cap)), out_cap,
                               OR_NULL(&out_len));
}

static void drive_encode_header(void)
{
    uint32_t len;
    const uint8_t *payload;
    ANY_PAYLOAD(len, payload);
    shmchan_frame_t frame;
    any_frame(&frame);
    (void)shmchan_codec_encode_header(OR_NULL(&frame), payload, len,
                                      OR_NULL(&hdr_store[0]));
}

static void drive_parse_header(void)
{
    shmchan_frame_t frame;
    (void)shmchan_codec_parse_header(OR_NULL(&hdr_store[0]), ANY_U32(), OR_NULL(&frame));
}

static void drive_checksum(void)
{
    /* header is an array parameter: never NULL by contract (codec_internal.h). */
    const size_t len = SPLIT(0, PAY_MAX);
    const uint8_t *payload = len == 0 ? OR_NULL(TAIL(pay_store, len)) : TAIL(pay_store, len);
    (void)shmchan_codec_checksum(hdr_store, payload, len);
}

static void drive_crc32c(void)
{
    /* data may be NULL if len is 0 (crc32c.h). */
    const size_t len = SPLIT(0, SRC_MAX);
    const uint8_t *data = len == 0 ? OR_NULL(TAIL(src_store, len)) : TAIL(src_store, len);
    const uint32_t crc = ANY_U32();
    (void)shmchan_crc32c_update(crc, data, len);
    (void)shmchan_crc32c_update_portable(crc, data, len);
    (void)shmchan_crc32c_hardware_available();
}

/* Every entry point starts from fresh unknown memory: what one call wrote
 * must not narrow what the next one is given. */
static void any_memory(void)
{
    ANY_BYTES(src_store);
    ANY_BYTES(pay_store);
    ANY_BYTES(hdr_store);
}

int main(void)
{
    fc_crc32c_run_constructors();
    any_memory();
    drive_parse_header();
    any_memory();
    drive_checksum();
    any_memory();
    drive_crc32c();
    any_memory();
    drive_encode_header();
    any_memory();
    drive_encode();
    any_memory();
    drive_decode();
    return 0;
}
