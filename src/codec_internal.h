/*
 * codec_internal.h - the frame codec's building blocks, for the lanes.
 *
 * shmchan_codec_encode/decode (shmchan.h) work on one contiguous byte range.
 * A lane's ring wraps, so the lane copies a frame out in pieces and calls
 * these on its private copies instead. Pure code: no system calls, no
 * allocation, no shared memory.
 */
#ifndef SHMCHAN_CODEC_INTERNAL_H
#define SHMCHAN_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "shmchan.h"

/* Byte offsets of the header fields (docs/protocol.md, "Frame header"). */
enum {
    SHMCHAN_FRAME_OFF_MAGIC = 0,
    SHMCHAN_FRAME_OFF_VERSION = 4,
    SHMCHAN_FRAME_OFF_TYPE = 5,
    SHMCHAN_FRAME_OFF_FLAGS = 6,
    SHMCHAN_FRAME_OFF_RESERVED = 7,
    SHMCHAN_FRAME_OFF_LENGTH = 8,
    SHMCHAN_FRAME_OFF_CHECKSUM = 12,
    SHMCHAN_FRAME_OFF_SEQ = 16
};

/* Validates a header that the caller has already copied into private memory
 * and fills *frame (checksum included, not yet verified). Checks, in this
 * order: magic, version, type, flags (unknown bits, or any flag on a
 * GOODBYE), reserved byte, payload length against max_payload. On failure *frame is zeroed. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_codec_parse_header(
    const uint8_t header[SHMCHAN_FRAME_HEADER_SIZE], uint32_t max_payload,
    shmchan_frame_t *frame);

/* CRC-32C over header bytes [0,12) and [16,24), then the payload: every byte
 * of the frame except the checksum field itself. */
uint32_t shmchan_codec_checksum(const uint8_t header[SHMCHAN_FRAME_HEADER_SIZE],
                                const uint8_t *payload, size_t payload_len);

/* The checksum in three steps, for callers that sum the payload while they
 * copy it (the lane: shmchan_crc32c_sum_then_copy / copy_then_sum):
 * start = CRC-32C over the header's bytes except the checksum field;
 * extend it over the payload; set_checksum stores the result. */
uint32_t shmchan_codec_checksum_start(const uint8_t header[SHMCHAN_FRAME_HEADER_SIZE]);
void shmchan_codec_set_checksum(uint8_t header[SHMCHAN_FRAME_HEADER_SIZE], uint32_t crc);

/* Writes the 24-byte header for frame->{type,flags,seq} and a payload of
 * payload_len bytes, with the checksum field 0 (to be set by the caller).
 * Fails for an unknown type, unknown flags, flags on a GOODBYE or a length
 * over SHMCHAN_PAYLOAD_HARD_MAX; header is untouched on failure. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_codec_build_header(
    const shmchan_frame_t *frame, uint32_t payload_len,
    uint8_t header[SHMCHAN_FRAME_HEADER_SIZE]);

/* Writes the 24-byte header for frame->{type,flags,seq} and payload[0,len),
 * checksum included. Fails as shmchan_codec_build_header does; header is
 * untouched on failure. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_codec_encode_header(
    const shmchan_frame_t *frame, const uint8_t *payload, uint32_t payload_len,
    uint8_t header[SHMCHAN_FRAME_HEADER_SIZE]);

#endif /* SHMCHAN_CODEC_INTERNAL_H */
