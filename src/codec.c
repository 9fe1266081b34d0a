/*
 * codec.c - the frame codec: messages to bytes and untrusted bytes to
 * validated messages. docs/protocol.md is the specification.
 *
 * Rules this file keeps:
 *  - every read is inside the range the caller gave, every write inside the
 *    output the caller gave, and each bound is checked before the memory is
 *    touched;
 *  - a source range may be shared memory that a hostile peer rewrites while
 *    we run, so each byte of it is read exactly once, into private memory,
 *    and all decisions are taken on the private copy;
 *  - length arithmetic is done in size_t after checking against limits that
 *    keep it far from overflow (SHMCHAN_PAYLOAD_HARD_MAX is 2^24).
 */
#include <string.h>

#include "codec_internal.h"
#include "crc32c.h"
#include "endian_le.h"
#include "safety.h"
#include "shmchan.h"

static int frame_type_known(uint8_t type)
{
    return type == SHMCHAN_FRAME_DATA || type == SHMCHAN_FRAME_GOODBYE;
}

/* Flags are known bits only, and only a DATA frame may be a fragment: a
 * GOODBYE is always a whole (empty) message. Refusing unknown bits means a
 * future flag can never be silently ignored by an old decoder. */
static int frame_flags_valid(uint8_t type, uint8_t flags)
{
    if ((flags & ~SHMCHAN_FRAME_FLAGS_KNOWN) != 0) {
        return 0;
    }
    return flags == 0 || type == SHMCHAN_FRAME_DATA;
}

uint32_t shmchan_codec_checksum_start(const uint8_t header[SHMCHAN_FRAME_HEADER_SIZE])
{
    const uint32_t crc = shmchan_crc32c_update(0, header, SHMCHAN_FRAME_OFF_CHECKSUM);
    return shmchan_crc32c_update(crc, header + SHMCHAN_FRAME_OFF_SEQ,
                                 SHMCHAN_FRAME_HEADER_SIZE - SHMCHAN_FRAME_OFF_SEQ);
}

void shmchan_codec_set_checksum(uint8_t header[SHMCHAN_FRAME_HEADER_SIZE], uint32_t crc)
{
    shmchan_le32_store(header + SHMCHAN_FRAME_OFF_CHECKSUM, crc);
}

uint32_t shmchan_codec_checksum(const uint8_t header[SHMCHAN_FRAME_HEADER_SIZE],
                                const uint8_t *payload, size_t payload_len)
{
    return shmchan_crc32c_update(shmchan_codec_checksum_start(header), payload, payload_len);
}

shmchan_err_t shmchan_codec_parse_header(const uint8_t header[SHMCHAN_FRAME_HEADER_SIZE],
                                         uint32_t max_payload, shmchan_frame_t *frame)
{
    ENSURE_REF(frame);
    memset(frame, 0, sizeof *frame);
    ENSURE_REF(header);
    ENSURE(max_payload <= SHMCHAN_PAYLOAD_HARD_MAX, SHMCHAN_E_INVALID_ARGUMENT);

    ENSURE(shmchan_le32_load(header + SHMCHAN_FRAME_OFF_MAGIC) == SHMCHAN_FRAME_MAGIC,
           SHMCHAN_E_FRAME_MAGIC);
    ENSURE(header[SHMCHAN_FRAME_OFF_VERSION] == SHMCHAN_FRAME_VERSION, SHMCHAN_E_FRAME_VERSION);
    ENSURE(frame_type_known(header[SHMCHAN_FRAME_OFF_TYPE]), SHMCHAN_E_FRAME_TYPE);
    ENSURE(frame_flags_valid(header[SHMCHAN_FRAME_OFF_TYPE], header[SHMCHAN_FRAME_OFF_FLAGS]),
           SHMCHAN_E_FRAME_FLAGS);
    ENSURE(header[SHMCHAN_FRAME_OFF_RESERVED] == 0, SHMCHAN_E_FRAME_RESERVED);
    const uint32_t length = shmchan_le32_load(header + SHMCHAN_FRAME_OFF_LENGTH);
    ENSURE(length <= max_payload, SHMCHAN_E_FRAME_TOO_LONG);

    frame->type = header[SHMCHAN_FRAME_OFF_TYPE];
    frame->flags = header[SHMCHAN_FRAME_OFF_FLAGS];
    frame->payload_len = length;
    frame->checksum = shmchan_le32_load(header + SHMCHAN_FRAME_OFF_CHECKSUM);
    frame->seq = shmchan_le64_load(header + SHMCHAN_FRAME_OFF_SEQ);
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_codec_build_header(const shmchan_frame_t *frame, uint32_t payload_len,
                                         uint8_t header[SHMCHAN_FRAME_HEADER_SIZE])
{
    ENSURE_REF(frame);
    ENSURE_REF(header);
    ENSURE(frame_type_known(frame->type), SHMCHAN_E_FRAME_TYPE);
    ENSURE(frame_flags_valid(frame->type, frame->flags), SHMCHAN_E_FRAME_FLAGS);
    ENSURE(payload_len <= SHMCHAN_PAYLOAD_HARD_MAX, SHMCHAN_E_FRAME_TOO_LONG);

    uint8_t h[SHMCHAN_FRAME_HEADER_SIZE];
    shmchan_le32_store(h + SHMCHAN_FRAME_OFF_MAGIC, SHMCHAN_FRAME_MAGIC);
    h[SHMCHAN_FRAME_OFF_VERSION] = (uint8_t)SHMCHAN_FRAME_VERSION;
    h[SHMCHAN_FRAME_OFF_TYPE] = frame->type;
    h[SHMCHAN_FRAME_OFF_FLAGS] = frame->flags;
    h[SHMCHAN_FRAME_OFF_RESERVED] = 0;
    shmchan_le32_store(h + SHMCHAN_FRAME_OFF_LENGTH, payload_len);
    shmchan_le32_store(h + SHMCHAN_FRAME_OFF_CHECKSUM, 0);
    shmchan_le64_store(h + SHMCHAN_FRAME_OFF_SEQ, frame->seq);
    memcpy(header, h, sizeof h);
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_codec_encode_header(const shmchan_frame_t *frame, const uint8_t *payload,
                                          uint32_t payload_len,
                                          uint8_t header[SHMCHAN_FRAME_HEADER_SIZE])
{
    ENSURE_REF(header);
    ENSURE(payload != NULL || payload_len == 0, SHMCHAN_E_INVALID_ARGUMENT);
    uint8_t h[SHMCHAN_FRAME_HEADER_SIZE];
    GUARD(shmchan_codec_build_header(frame, payload_len, h));
    shmchan_codec_set_checksum(h, shmchan_codec_checksum(h, payload, payload_len));
    memcpy(header, h, sizeof h);
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_codec_encode(const shmchan_frame_t *frame, const uint8_t *payload,
                                   uint32_t payload_len, uint8_t *out, size_t out_cap,
                                   size_t *out_len)
{
    ENSURE_REF(out_len);
    *out_len = 0;
    ENSURE_REF(out);
    uint8_t header[SHMCHAN_FRAME_HEADER_SIZE];
    GUARD(shmchan_codec_encode_header(frame, payload, payload_len, header));
    /* payload_len <= 2^24 (checked above), so this sum cannot overflow. */
    const size_t total = SHMCHAN_FRAME_HEADER_SIZE + (size_t)payload_len;
    ENSURE(out_cap >= total, SHMCHAN_E_OUTPUT_TOO_SMALL);

    memcpy(out, header, sizeof header);
    if (payload_len > 0) {
        memcpy(out + SHMCHAN_FRAME_HEADER_SIZE, payload, payload_len);
    }
    *out_len = total;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_codec_decode(const uint8_t *src, size_t src_len, uint32_t max_payload,
                                   shmchan_frame_t *frame, uint8_t *payload_out,
                                   size_t payload_cap, size_t *frame_len)
{
    /* Reset every output first, so that no failure, not even a NULL
     * argument, leaves a stale length behind for a careless caller. */
    if (frame != NULL) {
        memset(frame, 0, sizeof *frame);
    }
    if (frame_len != NULL) {
        *frame_len = 0;
    }
    ENSURE_REF(frame);
    ENSURE_REF(frame_len);
    ENSURE(src != NULL || src_len == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(payload_out != NULL || payload_cap == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(max_payload <= SHMCHAN_PAYLOAD_HARD_MAX, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(src_len >= SHMCHAN_FRAME_HEADER_SIZE, SHMCHAN_E_FRAME_TRUNCATED);

    /* The one read of the header bytes; from here on only `header` is used. */
    uint8_t header[SHMCHAN_FRAME_HEADER_SIZE];
    memcpy(header, src, sizeof header);

    shmchan_frame_t parsed;
    GUARD(shmchan_codec_parse_header(header, max_payload, &parsed));
    /* Subtraction form: src_len >= header size was checked above. */
    ENSURE(parsed.payload_len <= src_len - SHMCHAN_FRAME_HEADER_SIZE,
           SHMCHAN_E_FRAME_BEYOND_BUFFER);
    ENSURE(parsed.payload_len <= payload_cap, SHMCHAN_E_OUTPUT_TOO_SMALL);

    /* The one read of the payload bytes. */
    if (parsed.payload_len > 0) {
        memcpy(payload_out, src + SHMCHAN_FRAME_HEADER_SIZE, parsed.payload_len);
    }
    /* Verified over the private copies: what we accept is what was summed. */
    ENSURE(shmchan_codec_checksum(header, payload_out, parsed.payload_len) == parsed.checksum,
           SHMCHAN_E_FRAME_CHECKSUM);

    *frame = parsed;
    *frame_len = SHMCHAN_FRAME_HEADER_SIZE + (size_t)parsed.payload_len;
    return SHMCHAN_OK;
}
