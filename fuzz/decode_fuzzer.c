/*
 * decode_fuzzer.c - shmchan_codec_decode on arbitrary bytes.
 *
 * Input: [u32 max_payload selector][u8 payload_cap selector][frame bytes]
 *   max_payload: bit 31 set -> used raw (always over the hard maximum, so
 *     the argument check is fuzzed too); clear -> its low 25 bits, which
 *     straddle SHMCHAN_PAYLOAD_HARD_MAX (2^24) on both sides.
 *   payload_cap: < 0x80 -> as many bytes as the frame bytes (room for any
 *     payload present); else (selector - 0x80), a small buffer, so that
 *     SHMCHAN_E_OUTPUT_TOO_SMALL is reached.
 *
 * Properties (abort on violation):
 *  1. The verdict equals an independent reference decoder written from
 *     docs/protocol.md section 1 (same checks, same order, table CRC-32C
 *     where the codec uses the SSE4.2 instruction).
 *  2. On failure *frame is all zeros and *frame_len is 0.
 *  3. On success: frame_len = 24 + payload_len <= bytes given, every field
 *     is the one in the bytes, the payload is a copy of the bytes, and
 *     re-encoding the frame gives exactly the consumed bytes.
 *  4. The accepted frame is accepted alone (its exact bytes), refused one
 *     byte shorter, refused with max_payload or payload_cap one below its
 *     length: the limits are exact.
 *  5. NULL outputs are refused and still reset the other output; the
 *     internal parse_header/encode_header refuse NULL and over-limit
 *     arguments, zeroing the frame and leaving the header untouched.
 *  6. The hardware and table CRC-32C agree on the whole input.
 * The frame bytes and the payload buffer are exactly sized heap blocks, so
 * AddressSanitizer reports any read or write one byte outside them.
 */
#include <string.h>

#include "fuzz/fuzz_harness.h"
#include "src/codec_internal.h"
#include "src/crc32c.h"
#include "src/shmchan.h"

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t le64_at(const uint8_t *p)
{
    return (uint64_t)le32_at(p) | ((uint64_t)le32_at(p + 4) << 32);
}

static uint32_t reference_crc(const uint8_t *frame, size_t payload_len)
{
    uint32_t crc = shmchan_crc32c_update_portable(0, frame, 12);
    crc = shmchan_crc32c_update_portable(crc, frame + 16, 8);
    return shmchan_crc32c_update_portable(crc, frame + 24, payload_len);
}

/* docs/protocol.md section 1, re-implemented: the table's checks in the
 * table's order, then the three "other decoder errors". */
static shmchan_err_t reference_decode(const uint8_t *src, size_t len, uint32_t max_payload,
                                      size_t cap)
{
    if (max_payload > SHMCHAN_PAYLOAD_HARD_MAX) {
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    if (len < 24) {
        return SHMCHAN_E_FRAME_TRUNCATED;
    }
    if (src[0] != 'S' || src[1] != 'H' || src[2] != 'C' || src[3] != 'F') {
        return SHMCHAN_E_FRAME_MAGIC;
    }
    if (src[4] != 1) {
        return SHMCHAN_E_FRAME_VERSION;
    }
    if (src[5] != 1 && src[5] != 2) {
        return SHMCHAN_E_FRAME_TYPE;
    }
    /* Bits 0-1 are the fragment flags, on DATA frames only. */
    if ((src[6] & ~3u) != 0 || (src[6] != 0 && src[5] != 1)) {
        return SHMCHAN_E_FRAME_FLAGS;
    }
    if (src[7] != 0) {
        return SHMCHAN_E_FRAME_RESERVED;
    }
    const uint32_t payload_len = le32_at(src + 8);
    if (payload_len > max_payload) {
        return SHMCHAN_E_FRAME_TOO_LONG;
    }
    if (payload_len > len - 24) {
        return SHMCHAN_E_FRAME_BEYOND_BUFFER;
    }
    if (payload_len > cap) {
        return SHMCHAN_E_OUTPUT_TOO_SMALL;
    }
    if (reference_crc(src, payload_len) != le32_at(src + 12)) {
        return SHMCHAN_E_FRAME_CHECKSUM;
    }
    return SHMCHAN_OK;
}

static void check_frame_reset(const shmchan_frame_t *frame, size_t frame_len)
{
    FUZZ_CHECK(frame->type == 0);
    FUZZ_CHECK(frame->flags == 0);
    FUZZ_CHECK(frame->payload_len == 0);
    FUZZ_CHECK(frame->seq == 0);
    FUZZ_CHECK(frame->checksum == 0);
    FUZZ_CHECK(frame_len == 0);
}

/* Decodes src[0, len) into an exactly sized payload buffer of `cap` bytes
 * (NULL when cap is 0, which the contract allows). Outputs are poisoned
 * first so that "left unchanged" can never pass for "reset". */
static shmchan_err_t decode_exact(const uint8_t *src, size_t len, uint32_t max_payload,
                                  size_t cap, shmchan_frame_t *frame, uint8_t **payload_out,
                                  size_t *frame_len)
{
    uint8_t *copy = fuzz_dup(src, len);
    uint8_t *payload = cap > 0 ? fuzz_alloc(cap) : NULL;
    memset(frame, 0xA5, sizeof *frame);
    *frame_len = (size_t)-1;
    const shmchan_err_t err =
        shmchan_codec_decode(copy, len, max_payload, frame, payload, cap, frame_len);
    free(copy);
    *payload_out = payload;
    return err;
}

static void check_accepted(const uint8_t *src, size_t len, uint32_t max_payload,
                           const shmchan_frame_t *frame, const uint8_t *payload,
                           size_t frame_len)
{
    const uint32_t payload_len = le32_at(src + 8);
    FUZZ_CHECK(frame_len == 24u + (size_t)payload_len);
    FUZZ_CHECK(frame_len <= len);
    FUZZ_CHECK(frame->type == src[5]);
    FUZZ_CHECK(frame->flags == src[6]);
    FUZZ_CHECK(frame->payload_len == payload_len);
    FUZZ_CHECK(frame->payload_len <= max_payload);
    FUZZ_CHECK(frame->checksum == le32_at(src + 12));
    FUZZ_CHECK(frame->seq == le64_at(src + 16));
    FUZZ_CHECK(payload_len == 0 || memcmp(payload, src + 24, payload_len) == 0);

    /* Canonical encoding: the frame re-encodes to exactly the bytes. */
    uint8_t *out = fuzz_alloc(frame_len);
    size_t out_len = (size_t)-1;
    FUZZ_CHECK(shmchan_codec_encode(frame, payload_len > 0 ? payload : NULL, payload_len, out,
                                    frame_len, &out_len) == SHMCHAN_OK);
    FUZZ_CHECK(out_len == frame_len);
    FUZZ_CHECK(memcmp(out, src, frame_len) == 0);
    free(out);
}

/* The limits are exact: the frame's own bytes suffice, one less does not,
 * and max_payload / payload_cap one below its length refuse it. */
static void check_limits(const uint8_t *src, size_t frame_len)
{
    const uint32_t payload_len = le32_at(src + 8);
    shmchan_frame_t frame;
    uint8_t *payload = NULL;
    size_t got_len = 0;

    FUZZ_CHECK(decode_exact(src, frame_len, payload_len, payload_len, &frame, &payload,
                            &got_len) == SHMCHAN_OK);
    FUZZ_CHECK(got_len == frame_len);
    free(payload);

    const shmchan_err_t shorter =
        decode_exact(src, frame_len - 1, payload_len, payload_len, &frame, &payload, &got_len);
    FUZZ_CHECK(shorter == (frame_len - 1 < 24 ? SHMCHAN_E_FRAME_TRUNCATED
                                              : SHMCHAN_E_FRAME_BEYOND_BUFFER));
    check_frame_reset(&frame, got_len);
    free(payload);

    if (payload_len > 0) {
        FUZZ_CHECK(decode_exact(src, frame_len, payload_len - 1, payload_len, &frame, &payload,
                                &got_len) == SHMCHAN_E_FRAME_TOO_LONG);
        check_frame_reset(&frame, got_len);
        free(payload);
        FUZZ_CHECK(decode_exact(src, frame_len, payload_len, payload_len - 1, &frame, &payload,
                                &got_len) == SHMCHAN_E_OUTPUT_TOO_SMALL);
        check_frame_reset(&frame, got_len);
        free(payload);
    }
}

/* NULL arguments: refused, and the output that does exist is still reset. */
static void check_null_arguments(const uint8_t *src, size_t len, uint32_t max_payload)
{
    shmchan_frame_t frame;
    size_t frame_len = (size_t)-1;
    uint8_t payload[1];
    FUZZ_CHECK(shmchan_codec_decode(src, len, max_payload, NULL, payload, sizeof payload,
                                    &frame_len) == SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(frame_len == 0);
    memset(&frame, 0xA5, sizeof frame);
    FUZZ_CHECK(shmchan_codec_decode(src, len, max_payload, &frame, payload, sizeof payload,
                                    NULL) == SHMCHAN_E_INVALID_ARGUMENT);
    check_frame_reset(&frame, 0);
    if (len > 0) {
        frame_len = (size_t)-1;
        FUZZ_CHECK(shmchan_codec_decode(NULL, len, max_payload, &frame, payload, sizeof payload,
                                        &frame_len) == SHMCHAN_E_INVALID_ARGUMENT);
        check_frame_reset(&frame, frame_len);
    }
    frame_len = (size_t)-1;
    FUZZ_CHECK(shmchan_codec_decode(src, len, max_payload, &frame, NULL, 1, &frame_len) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    check_frame_reset(&frame, frame_len);
    /* NULL with length 0 is allowed: an empty range, judged as one. */
    frame_len = (size_t)-1;
    FUZZ_CHECK(shmchan_codec_decode(NULL, 0, max_payload, &frame, payload, sizeof payload,
                                    &frame_len) == reference_decode(src, 0, max_payload, 1));
    check_frame_reset(&frame, frame_len);
}

/* The building blocks the lanes use (codec_internal.h): NULL arguments
 * and an over-limit max_payload are refused, and the frame is zeroed. */
static void check_internal_arguments(const uint8_t *src, size_t len)
{
    uint8_t header[24];
    memset(header, 0, sizeof header);
    memcpy(header, src, len < 24 ? len : 24);
    shmchan_frame_t frame;
    memset(&frame, 0xA5, sizeof frame);
    FUZZ_CHECK(shmchan_codec_parse_header(NULL, 0, &frame) == SHMCHAN_E_INVALID_ARGUMENT);
    check_frame_reset(&frame, 0);
    FUZZ_CHECK(shmchan_codec_parse_header(header, 0, NULL) == SHMCHAN_E_INVALID_ARGUMENT);
    memset(&frame, 0xA5, sizeof frame);
    FUZZ_CHECK(shmchan_codec_parse_header(header, SHMCHAN_PAYLOAD_HARD_MAX + 1u, &frame) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    check_frame_reset(&frame, 0);

    memset(&frame, 0, sizeof frame);
    frame.type = SHMCHAN_FRAME_DATA;
    uint8_t out[24];
    memcpy(out, header, sizeof out);
    FUZZ_CHECK(shmchan_codec_encode_header(NULL, NULL, 0, out) == SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(shmchan_codec_encode_header(&frame, NULL, 0, NULL) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(memcmp(out, header, sizeof out) == 0); /* untouched on failure */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t no_bytes[1];
    if (data == NULL) {
        data = no_bytes; /* keeps `data + offset` defined for empty inputs */
    }
    fuzz_cursor_t in = fuzz_cursor_make(data, size);
    const uint32_t mp_raw = fuzz_take_u32(&in);
    const uint32_t max_payload = (mp_raw & 0x80000000u) ? mp_raw : (mp_raw & 0x01FFFFFFu);
    const uint8_t cap_sel = fuzz_take_u8(&in);
    const uint8_t *src = data + in.pos;
    const size_t len = fuzz_cursor_left(&in);
    const size_t cap = cap_sel < 0x80 ? len : (size_t)(cap_sel - 0x80);

    FUZZ_CHECK(shmchan_crc32c_update(0, src, len) ==
               shmchan_crc32c_update_portable(0, src, len));

    shmchan_frame_t frame;
    uint8_t *payload = NULL;
    size_t frame_len = 0;
    const shmchan_err_t err = decode_exact(src, len, max_payload, cap, &frame, &payload,
                                           &frame_len);
    FUZZ_CHECK(err == reference_decode(src, len, max_payload, cap));
    if (err == SHMCHAN_OK) {
        check_accepted(src, len, max_payload, &frame, payload, frame_len);
        check_limits(src, frame_len);
    } else {
        check_frame_reset(&frame, frame_len);
    }
    free(payload);
    check_null_arguments(src, len, max_payload);
    check_internal_arguments(src, len);
    return 0;
}
