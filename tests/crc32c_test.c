/* Unit tests for crc32c.c: the published check value, the table against a
 * bitwise recomputation, and the hardware path against the portable one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "src/crc32c.h"

/* Reproducible bytes that are not a short pattern (xorshift64). */
static void fill_xorshift(uint8_t *buf, size_t n, uint64_t x)
{
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
}

static void test_check_value(void **state)
{
    (void)state;
    const uint8_t check[] = "123456789";
    /* The CRC-32C check value from the Castagnoli paper / RFC 3720. */
    assert_int_equal(shmchan_crc32c_update(0, check, 9), 0xE3069283u);
    assert_int_equal(shmchan_crc32c_update_portable(0, check, 9), 0xE3069283u);
    assert_int_equal(shmchan_crc32c_update(0, NULL, 0), 0u);
}

static void test_table_matches_bitwise(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        assert_int_equal(shmchan_crc32c_table[i], c);
    }
}

static void test_incremental_equals_whole(void **state)
{
    (void)state;
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (uint8_t)(i * 131u + 7u);
    }
    for (size_t len = 0; len <= sizeof buf; len += 37) {
        for (size_t split = 0; split <= len; split += 13) {
            uint32_t a = shmchan_crc32c_update(0, buf, split);
            a = shmchan_crc32c_update(a, buf + split, len - split);
            assert_int_equal(a, shmchan_crc32c_update_portable(0, buf, len));
        }
    }
}

static void test_hardware_matches_portable_unaligned(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (uint8_t)(i ^ 0x5a);
    }
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len++) {
            const uint32_t want = shmchan_crc32c_update_portable(0x12345678u, buf + off, len);
            assert_int_equal(shmchan_crc32c_update(0x12345678u, buf + off, len), want);
            assert_int_equal(shmchan_crc32c_update_interleaved(0x12345678u, buf + off, len),
                             want);
        }
    }
}

/* Long inputs take the folding path (256-byte windows) where the CPU has
 * VPCLMULQDQ, and the three-way interleaved path (blocks of 1 KiB,
 * combined with shift tables) elsewhere, which the test reaches through
 * shmchan_crc32c_update_interleaved: lengths around every multiple of
 * 3 KiB and 256 bytes, at odd offsets, must agree with the byte-wise table. */
static void test_hardware_matches_portable_long(void **state)
{
    (void)state;
    enum { MAX = 3 * 3 * 1024 + 64 };
    static uint8_t buf[MAX + 8];
    fill_xorshift(buf, sizeof buf, 0x9E3779B97F4A7C15ull);
    const size_t lens[] = {255,  256,  257,  271,  272,  511,  512,  513,  767,  3071,
                           3072, 3073, 3080, 6143, 6144, 6145, 9216, 9217, MAX};
    for (size_t off = 0; off < 8; off += 3) {
        for (size_t n = 0; n < sizeof lens / sizeof lens[0]; n++) {
            const uint32_t want = shmchan_crc32c_update_portable(0xFFFFFFFFu, buf + off, lens[n]);
            assert_int_equal(shmchan_crc32c_update(0xFFFFFFFFu, buf + off, lens[n]), want);
            assert_int_equal(shmchan_crc32c_update_interleaved(0xFFFFFFFFu, buf + off, lens[n]),
                             want);
        }
    }
}

/* shmchan_crc32c_copy: the same sum as the table over the bytes copied,
 * an exact copy, and not one byte written outside dst[0, len) — for every
 * length around the fused path's boundaries (256-byte windows, 16-byte
 * folds, the last < 16 bytes), at several alignments of each side. On a
 * CPU without the fused path this checks the bounce-buffer path. */
static void test_copy_sums_what_it_copies(void **state)
{
    (void)state;
    enum { MAX = 2 * 1024 + 64, GUARD = 16 };
    static uint8_t src[MAX + 8];
    static uint8_t dst[GUARD + MAX + 8 + GUARD];
    fill_xorshift(src, sizeof src, 0x2545F4914F6CDD1Dull);
    for (size_t len = 0; len <= MAX; len += (len < 600 ? 1 : 61)) {
        for (size_t off = 0; off < 8; off += 3) {
            const size_t doff = GUARD + (7 - off);
            memset(dst, 0xA5, sizeof dst);
            const uint32_t crc0 = (uint32_t)(len * 2654435761u);
            assert_int_equal(shmchan_crc32c_copy(crc0, dst + doff, src + off, len),
                             shmchan_crc32c_update_portable(crc0, src + off, len));
            assert_memory_equal(dst + doff, src + off, len);
            for (size_t i = 0; i < doff; i++) {
                assert_int_equal(dst[i], 0xA5);
            }
            for (size_t i = doff + len; i < sizeof dst; i++) {
                assert_int_equal(dst[i], 0xA5);
            }
        }
    }
    assert_int_equal(shmchan_crc32c_copy(0x1234u, NULL, NULL, 0), 0x1234u);
}

/* The same with the folding off: the bounce-buffer copy and the SSE4.2 sum
 * that CPUs without VPCLMULQDQ take, at every length. */
static void test_copy_sums_what_it_copies_without_fold(void **state)
{
    const int was = shmchan_crc32c_fold_enable(0);
    assert_int_equal(shmchan_crc32c_copy_fused_available(), 0);
    test_copy_sums_what_it_copies(state);
    (void)shmchan_crc32c_fold_enable(was);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_table_matches_bitwise),
        cmocka_unit_test(test_incremental_equals_whole),
        cmocka_unit_test(test_hardware_matches_portable_unaligned),
        cmocka_unit_test(test_hardware_matches_portable_long),
        cmocka_unit_test(test_copy_sums_what_it_copies),
        cmocka_unit_test(test_copy_sums_what_it_copies_without_fold),
    };
    return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
