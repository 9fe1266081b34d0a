/* frame_demo: encodes a message as a shmchan frame, decodes it back and
 * prints both, using only the public header. */
#include <stdio.h>
#include <string.h>

#include "src/shmchan.h"

int main(void)
{
    static const char msg[] = "Hello from the other side!";
    const shmchan_frame_t frame = {.type = SHMCHAN_FRAME_DATA, .seq = 1};
    uint8_t wire[SHMCHAN_FRAME_HEADER_SIZE + sizeof msg];
    size_t wire_len = 0;
    shmchan_err_t err = shmchan_codec_encode(&frame, (const uint8_t *)msg, (uint32_t)strlen(msg),
                                             wire, sizeof wire, &wire_len);
    if (err != SHMCHAN_OK) {
        fprintf(stderr, "frame_demo: encode: %s\n", shmchan_strerror(err));
        return 1;
    }
    shmchan_frame_t got;
    uint8_t payload[sizeof msg];
    size_t frame_len = 0;
    err = shmchan_codec_decode(wire, wire_len, SHMCHAN_DEFAULT_MAX_PAYLOAD, &got, payload,
                               sizeof payload, &frame_len);
    if (err != SHMCHAN_OK) {
        fprintf(stderr, "frame_demo: decode: %s\n", shmchan_strerror(err));
        return 1;
    }
    printf("%zu-byte frame, seq %llu, crc32c 0x%08x: %.*s\n", frame_len,
           (unsigned long long)got.seq, (unsigned)got.checksum, (int)got.payload_len,
           (const char *)payload);
    return 0;
}
