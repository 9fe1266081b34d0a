/*
 * roundtrip_fuzzer.c - shmchan_codec_encode, then shmchan_codec_decode.
 *
 * Input: [u8 type][u8 flags][u64 seq][payload: the rest, at most
 * ROUNDTRIP_PAYLOAD_MAX bytes]. Type and flags are raw, so the refusals of
 * unknown types and of flag bits are fuzzed along with valid messages.
 *
 * Properties (abort on violation):
 *  1. A valid message (type DATA or GOODBYE; flags 0, or on DATA any of
 *     the two fragment flags, docs/protocol.md "Fragments") encodes into an
 *     exactly sized buffer; every byte is where docs/protocol.md section 1
 *     puts it (magic, version, type, flags, reserved, length, seq, payload,
 *     and a CRC-32C recomputed with the table implementation).
 *  2. Decoding it with max_payload = its length returns the identical
 *     message (type, flags, seq, length, checksum, payload bytes) and
 *     consumes exactly the encoded size.
 *  3. Encoding into every shorter buffer (0 .. size-1 bytes, each ending
 *     exactly where its heap block ends) fails with
 *     SHMCHAN_E_OUTPUT_TOO_SMALL, sets *out_len to 0 and writes nothing:
 *     the block's bytes are unchanged, and AddressSanitizer sees any write
 *     past its end.
 *  4. An invalid message fails with SHMCHAN_E_FRAME_TYPE (unknown type) or
 *     else SHMCHAN_E_FRAME_FLAGS (an unknown bit, or a flag on a GOODBYE),
 *     writing nothing; a length over the hard
 *     maximum fails with SHMCHAN_E_FRAME_TOO_LONG before any payload byte
 *     is read; NULL outputs are refused.
 */
#include <string.h>

#include "fuzz/fuzz_harness.h"
#include "src/crc32c.h"
#include "src/shmchan.h"

/* Keeps property 3 (quadratic in the payload length) fast; longer inputs
 * add nothing the codec could treat differently. */
#define ROUNDTRIP_PAYLOAD_MAX 4096u

#define CANARY 0xA5u

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t le64_at(const uint8_t *p)
{
    return (uint64_t)le32_at(p) | ((uint64_t)le32_at(p + 4) << 32);
}

static int all_canary(const uint8_t *p, size_t n)
{
    /* memcmp against a canary block: the check runs once per capacity, so
     * it must not be a byte loop. */
    static uint8_t canaries[24u + ROUNDTRIP_PAYLOAD_MAX];
    if (canaries[0] != CANARY) {
        memset(canaries, CANARY, sizeof canaries);
    }
    return n <= sizeof canaries && memcmp(p, canaries, n) == 0;
}

/* Encodes into a fresh, canary-filled heap block of exactly `cap` bytes;
 * returns the block (caller frees) and the result. */
static uint8_t *encode_into(const shmchan_frame_t *frame, const uint8_t *payload,
                            uint32_t payload_len, size_t cap, shmchan_err_t *err,
                            size_t *out_len)
{
    uint8_t *out = fuzz_alloc(cap);
    memset(out, CANARY, cap > 0 ? cap : 1);
    *out_len = (size_t)-1;
    *err = shmchan_codec_encode(frame, payload, payload_len, out, cap, out_len);
    return out;
}

static void check_wire_bytes(const uint8_t *out, const shmchan_frame_t *frame,
                             const uint8_t *payload, uint32_t payload_len)
{
    FUZZ_CHECK(out[0] == 'S' && out[1] == 'H' && out[2] == 'C' && out[3] == 'F');
    FUZZ_CHECK(out[4] == 1);
    FUZZ_CHECK(out[5] == frame->type);
    FUZZ_CHECK(out[6] == frame->flags && out[7] == 0);
    FUZZ_CHECK(le32_at(out + 8) == payload_len);
    FUZZ_CHECK(le64_at(out + 16) == frame->seq);
    uint32_t crc = shmchan_crc32c_update_portable(0, out, 12);
    crc = shmchan_crc32c_update_portable(crc, out + 16, 8);
    crc = shmchan_crc32c_update_portable(crc, payload, payload_len);
    FUZZ_CHECK(le32_at(out + 12) == crc);
    FUZZ_CHECK(payload_len == 0 || memcmp(out + 24, payload, payload_len) == 0);
}

static void check_decodes_back(const uint8_t *wire, size_t total, const shmchan_frame_t *sent,
                               const uint8_t *payload, uint32_t payload_len)
{
    uint8_t *copy = fuzz_dup(wire, total);
    uint8_t *got = payload_len > 0 ? fuzz_alloc(payload_len) : NULL;
    shmchan_frame_t frame;
    size_t frame_len = 0;
    FUZZ_CHECK(shmchan_codec_decode(copy, total, payload_len, &frame, got, payload_len,
                                    &frame_len) == SHMCHAN_OK);
    FUZZ_CHECK(frame_len == total);
    FUZZ_CHECK(frame.type == sent->type);
    FUZZ_CHECK(frame.flags == sent->flags);
    FUZZ_CHECK(frame.seq == sent->seq);
    FUZZ_CHECK(frame.payload_len == payload_len);
    FUZZ_CHECK(frame.checksum == le32_at(wire + 12));
    FUZZ_CHECK(payload_len == 0 || memcmp(got, payload, payload_len) == 0);
    free(got);
    free(copy);
}

/* Every capacity below `total` in one canary-filled heap block of total - 1
 * bytes: the output range for capacity `cap` is the block's last `cap`
 * bytes, so its end is the end of the allocation (AddressSanitizer reports
 * a write one byte past out_cap) and a write anywhere else in the block
 * shows in the canary. One allocation instead of `total` keeps the harness
 * fast on long payloads. */
static void check_every_shorter_buffer(const shmchan_frame_t *frame, const uint8_t *payload,
                                       uint32_t payload_len, size_t total)
{
    const size_t block_len = total - 1;
    uint8_t *block = fuzz_alloc(block_len);
    memset(block, CANARY, block_len);
    for (size_t cap = 0; cap < total; cap++) {
        uint8_t *out = block + (block_len - cap);
        size_t out_len = (size_t)-1;
        const shmchan_err_t err =
            shmchan_codec_encode(frame, payload, payload_len, out, cap, &out_len);
        FUZZ_CHECK(err == SHMCHAN_E_OUTPUT_TOO_SMALL);
        FUZZ_CHECK(out_len == 0);
        FUZZ_CHECK(all_canary(block, block_len));
    }
    free(block);
}

static void check_refusals(const shmchan_frame_t *frame, const uint8_t *payload,
                           uint32_t payload_len, size_t total)
{
    shmchan_err_t err;
    size_t out_len;
    /* The length is refused before the payload is touched: the one-byte
     * payload block here is far shorter than the length claimed. */
    uint8_t one[1] = {0};
    const uint32_t too_long = SHMCHAN_PAYLOAD_HARD_MAX + 1u + (uint32_t)(frame->seq & 0xFFu);
    uint8_t *out = encode_into(frame, one, too_long, total, &err, &out_len);
    FUZZ_CHECK(err == SHMCHAN_E_FRAME_TOO_LONG);
    FUZZ_CHECK(out_len == 0);
    FUZZ_CHECK(all_canary(out, total));
    free(out);

    out_len = (size_t)-1;
    FUZZ_CHECK(shmchan_codec_encode(frame, payload, payload_len, NULL, total, &out_len) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    FUZZ_CHECK(out_len == 0);
    uint8_t small[1];
    FUZZ_CHECK(shmchan_codec_encode(frame, payload, payload_len, small, sizeof small, NULL) ==
               SHMCHAN_E_INVALID_ARGUMENT);
    if (payload_len > 0) {
        out = encode_into(frame, NULL, payload_len, total, &err, &out_len);
        FUZZ_CHECK(err == SHMCHAN_E_INVALID_ARGUMENT);
        FUZZ_CHECK(out_len == 0);
        FUZZ_CHECK(all_canary(out, total));
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t no_bytes[1];
    if (data == NULL) {
        data = no_bytes; /* keeps `data + offset` defined for empty inputs */
    }
    fuzz_cursor_t in = fuzz_cursor_make(data, size);
    shmchan_frame_t frame;
    memset(&frame, 0, sizeof frame);
    frame.type = fuzz_take_u8(&in);
    frame.flags = fuzz_take_u8(&in);
    frame.seq = fuzz_take_u64(&in);
    /* Ignored by encode (the payload_len argument rules); a stale value
     * here must not matter. */
    frame.payload_len = 0xFFFFFFFFu;
    const size_t left = fuzz_cursor_left(&in);
    const uint32_t payload_len =
        (uint32_t)(left < ROUNDTRIP_PAYLOAD_MAX ? left : ROUNDTRIP_PAYLOAD_MAX);
    uint8_t *payload = fuzz_dup(data + in.pos, payload_len);
    const size_t total = 24u + payload_len;

    shmchan_err_t err;
    size_t out_len;
    uint8_t *wire = encode_into(&frame, payload_len > 0 ? payload : NULL, payload_len, total,
                                &err, &out_len);
    const int type_ok = frame.type == SHMCHAN_FRAME_DATA || frame.type == SHMCHAN_FRAME_GOODBYE;
    const int flags_ok = (frame.flags & ~3u) == 0 &&
                         (frame.flags == 0 || frame.type == SHMCHAN_FRAME_DATA);
    if (!type_ok || !flags_ok) {
        FUZZ_CHECK(err == (!type_ok ? SHMCHAN_E_FRAME_TYPE : SHMCHAN_E_FRAME_FLAGS));
        FUZZ_CHECK(out_len == 0);
        FUZZ_CHECK(all_canary(wire, total));
    } else {
        FUZZ_CHECK(err == SHMCHAN_OK);
        FUZZ_CHECK(out_len == total);
        check_wire_bytes(wire, &frame, payload, payload_len);
        check_decodes_back(wire, total, &frame, payload, payload_len);
        check_every_shorter_buffer(&frame, payload_len > 0 ? payload : NULL, payload_len,
                                   total);
        check_refusals(&frame, payload, payload_len, total);
    }
    free(wire);
    free(payload);
    return 0;
}
