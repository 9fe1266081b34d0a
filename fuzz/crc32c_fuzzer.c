/*
 * crc32c_fuzzer.c - the frame checksum: hardware path against the table.
 *
 * The codec trusts shmchan_crc32c_update, which folds inputs of 256 bytes
 * and more with carry-less products (AVX-512 + VPCLMULQDQ) and whose SSE4.2
 * path cuts inputs of 3 KiB and more into three interleaved 1 KiB chains
 * recombined with precomputed shift tables; every other frame harness
 * only reaches them with short inputs. This one builds long buffers from short inputs.
 *
 * Input: [u32 initial crc][u16 length][u16 split][u8 misalignment][data]
 *   The buffer is `length` bytes (0 .. 65535), the data repeated (zeros if
 *   there is none), starting `misalignment % 16` bytes into an exactly
 *   sized heap block, so its end is the block's end.
 *
 * Properties (abort on violation):
 *  1. shmchan_crc32c_update (folding from 256 bytes on CPUs with
 *     VPCLMULQDQ) and shmchan_crc32c_update_interleaved (the SSE4.2 path)
 *     equal shmchan_crc32c_update_portable (the byte-wise table, checked
 *     against published vectors by tests/crc32c_test.c) for every initial
 *     value, length and alignment.
 *  2. Streaming: extending the CRC of the first `split` bytes over the rest
 *     gives the CRC of the whole (the codec sums header and payload in
 *     pieces).
 *  3. The empty input leaves the CRC unchanged, whatever the pointer.
 *  4. shmchan_crc32c_copy (the lane's one-pass copy and sum: AVX-512
 *     folding on CPUs that have it, a bounce buffer elsewhere) returns the
 *     same sum, copies the bytes exactly and writes nothing outside its
 *     exactly sized destination (an ASan report), also in two pieces at
 *     `split` (a frame that wraps around the ring end).
 * Any read outside the buffer is an ASan report.
 */
#include <string.h>

#include "fuzz/fuzz_harness.h"
#include "src/crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t no_bytes[1];
    if (data == NULL) {
        data = no_bytes; /* keeps `data + offset` defined for empty inputs */
    }
    fuzz_cursor_t in = fuzz_cursor_make(data, size);
    const uint32_t crc0 = fuzz_take_u32(&in);
    const size_t len = fuzz_take_u16(&in);
    const size_t split_raw = fuzz_take_u16(&in);
    const size_t misalign = fuzz_take_u8(&in) % 16u;
    const uint8_t *pattern = data + in.pos;
    const size_t pattern_len = fuzz_cursor_left(&in);

    uint8_t *block = fuzz_alloc(misalign + len);
    uint8_t *buf = block + misalign;
    for (size_t i = 0; i < len; i++) {
        buf[i] = pattern_len > 0 ? pattern[i % pattern_len] : 0;
    }

    const uint32_t whole = shmchan_crc32c_update(crc0, buf, len);
    FUZZ_CHECK(whole == shmchan_crc32c_update_portable(crc0, buf, len));
    FUZZ_CHECK(whole == shmchan_crc32c_update_interleaved(crc0, buf, len));

    const size_t split = split_raw % (len + 1);
    const uint32_t first = shmchan_crc32c_update(crc0, buf, split);
    FUZZ_CHECK(shmchan_crc32c_update(first, buf + split, len - split) == whole);

    FUZZ_CHECK(shmchan_crc32c_update(crc0, buf, 0) == crc0);
    FUZZ_CHECK(shmchan_crc32c_update(crc0, NULL, 0) == crc0);
    FUZZ_CHECK(shmchan_crc32c_update_portable(crc0, NULL, 0) == crc0);

    uint8_t *copy = fuzz_alloc(len);
    FUZZ_CHECK(shmchan_crc32c_copy(crc0, copy, buf, len) == whole);
    FUZZ_CHECK(len == 0 || memcmp(copy, buf, len) == 0);
    memset(copy, 0, len);
    const uint32_t part = shmchan_crc32c_copy(crc0, copy, buf, split);
    FUZZ_CHECK(shmchan_crc32c_copy(part, copy + split, buf + split, len - split) == whole);
    FUZZ_CHECK(len == 0 || memcmp(copy, buf, len) == 0);
    FUZZ_CHECK(shmchan_crc32c_copy(crc0, NULL, NULL, 0) == crc0);
    free(copy);
    free(block);
    return 0;
}
