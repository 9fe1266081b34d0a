/*
 * check.h - what the pure-layer unit tests (codec, lane, layout, judge)
 * share: failure reports that say which loop iteration failed, and the
 * test side's own reference code.
 *
 * Failure reporting: CHECK* work like cmocka's assert_* (a failed check
 * ends the test through cmocka's _fail) but print both expressions, both
 * values and the context last set with check_ctx_set, so a failure inside
 * a loop over offsets, bits or frames says which one it was.
 *
 * Reference code (ref_*): little-endian byte access and CRC-32C written
 * from the wire format's definition, bit by bit. It never calls src/ and
 * must not: a test that forged its expected bytes with the library's own
 * code would pass whatever that code did.
 */
#ifndef SHMCHAN_TESTS_CHECK_H
#define SHMCHAN_TESTS_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "src/shmchan.h"

/* ------------------------------------------------- failure reporting */

/* What the current loop iteration is doing, printed with any failure
 * (printf format; truncated to a few hundred bytes). */
__attribute__((format(printf, 1, 2))) void check_ctx_set(const char *fmt, ...);
void check_ctx_clear(void);
/* The context as set, for a test's own checks to print ("" when clear). */
const char *check_ctx_text(void);

/* Each fails the running cmocka test at file:line unless its condition
 * holds; the *_at forms are for helpers that pass on their caller's
 * position. */
void check_err_at(shmchan_err_t got, shmchan_err_t want, const char *expr, const char *file,
                  int line);
void check_true_at(int cond, const char *expr, const char *file, int line);
/* Compares the 64-bit patterns: the CHECK_EQ cast makes -1 and a uint64_t
 * 0xFFFFFFFFFFFFFFFF equal, as they are in two's complement. */
void check_eq_at(uint64_t a, uint64_t b, const char *ea, const char *eb, const char *file,
                 int line);
void check_mem_at(const uint8_t *a, const uint8_t *b, size_t n, const char *ea, const char *eb,
                  const char *file, int line);
/* Every byte of p[0, n) still holds `value` (a buffer nothing may write). */
void check_filled_at(const uint8_t *p, size_t n, uint8_t value, const char *ep, const char *file,
                     int line);
void check_str_at(const char *got, const char *want, const char *egot, const char *file, int line);
void check_contains_at(const char *text, const char *part, const char *etext, const char *file,
                       int line);

#define CHECK_ERR(call, want) check_err_at((call), (want), #call, __FILE__, __LINE__)
#define CHECK(cond) check_true_at((cond) ? 1 : 0, #cond, __FILE__, __LINE__)
#define CHECK_EQ(a, b) check_eq_at((uint64_t)(a), (uint64_t)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_MEM(a, b, n) check_mem_at((a), (b), (n), #a, #b, __FILE__, __LINE__)
#define CHECK_FILLED(p, n, v) check_filled_at((p), (n), (v), #p, __FILE__, __LINE__)
#define CHECK_STR(got, want) check_str_at((got), (want), #got, __FILE__, __LINE__)
#define CHECK_CONTAINS(text, part) check_contains_at((text), (part), #text, __FILE__, __LINE__)

/* ------------------------------------------------------- randomness */

/* The seed of a random test (SHMCHAN_TEST_SEED if set, else fresh: see
 * testutil_seed), printed with `what` and the way to replay it. */
uint64_t check_random_seed(const char *what);

/* ------------------------------------------- independent reference code */

void ref_put_le32(uint8_t *p, uint32_t v);
void ref_put_le64(uint8_t *p, uint64_t v);
uint32_t ref_get_le32(const uint8_t *p);
uint64_t ref_get_le64(const uint8_t *p);

/* CRC-32C bit by bit, straight from the definition (reflected polynomial
 * 0x82F63B78, initial value and final xor 0xFFFFFFFF); `crc` chains like
 * shmchan_crc32c_update: 0 to start, the previous result to continue. */
uint32_t ref_crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n);

#endif /* SHMCHAN_TESTS_CHECK_H */
