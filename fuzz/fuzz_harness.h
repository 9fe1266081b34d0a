/*
 * fuzz_harness.h - what every harness in fuzz/ shares: the libFuzzer entry
 * point, a check that aborts with a message, and a cursor over the input.
 *
 * A harness is a plain C file defining LLVMFuzzerTestOneInput. The same
 * file links with three drivers (docs/fuzzing.md): libFuzzer's
 * (-fsanitize=fuzzer), AFL++'s libAFLDriver.a (persistent mode), and
 * fuzz/replay_main.c (the corpus replay tests under `bazel test`). So a
 * harness must not keep state between calls that changes its verdict, and
 * must free everything it allocates (LeakSanitizer runs in two of them).
 */
#ifndef SHMCHAN_FUZZ_HARNESS_H
#define SHMCHAN_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The engine calls this once per input. Returns 0 (libFuzzer reserves
 * other values); a property violation aborts instead. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A violated property is a crash: abort() is what every engine records as
 * one (libFuzzer "deadly signal", AFL++ saved_crashes, a failed replay
 * test), with the file and line of the broken promise on stderr. */
#define FUZZ_CHECK(cond)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* Reads the fuzz input front to back; past the end every read yields
 * zeros, so any input, even empty, decodes to a well-defined case. */
typedef struct fuzz_cursor {
    const uint8_t *data;
    size_t size;
    size_t pos;
} fuzz_cursor_t;

static inline fuzz_cursor_t fuzz_cursor_make(const uint8_t *data, size_t size)
{
    fuzz_cursor_t c = {data, size, 0};
    return c;
}

static inline size_t fuzz_cursor_left(const fuzz_cursor_t *c)
{
    return c->size - c->pos;
}

static inline uint8_t fuzz_take_u8(fuzz_cursor_t *c)
{
    if (c->pos >= c->size) {
        return 0;
    }
    return c->data[c->pos++];
}

/* Little-endian, like every field of the formats under test, so that
 * dictionary entries and seeds read naturally. */
static inline uint16_t fuzz_take_u16(fuzz_cursor_t *c)
{
    const uint16_t lo = fuzz_take_u8(c);
    const uint16_t hi = fuzz_take_u8(c);
    return (uint16_t)(lo | (uint16_t)(hi << 8));
}

static inline uint32_t fuzz_take_u32(fuzz_cursor_t *c)
{
    const uint32_t lo = fuzz_take_u16(c);
    const uint32_t hi = fuzz_take_u16(c);
    return lo | (hi << 16);
}

static inline uint64_t fuzz_take_u64(fuzz_cursor_t *c)
{
    const uint64_t lo = fuzz_take_u32(c);
    const uint64_t hi = fuzz_take_u32(c);
    return lo | (hi << 32);
}

/* A private, exactly sized heap copy of data[0, n): the code under test
 * then reads from an allocation whose end AddressSanitizer guards, whatever
 * buffer the engine passed (AFL++'s shared-memory test case is larger than
 * the input). Never NULL: malloc(0) is avoided by allocating one byte for
 * n == 0, which the caller must not hand out as a non-empty range. */
static inline uint8_t *fuzz_dup(const uint8_t *data, size_t n)
{
    uint8_t *copy = malloc(n > 0 ? n : 1);
    if (copy == NULL) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        copy[i] = data[i];
    }
    return copy;
}

/* Exactly n bytes of heap (1 for n == 0), aborting on exhaustion: an OOM
 * is the harness's problem, never a finding. */
static inline uint8_t *fuzz_alloc(size_t n)
{
    uint8_t *p = malloc(n > 0 ? n : 1);
    if (p == NULL) {
        abort();
    }
    return p;
}

#endif /* SHMCHAN_FUZZ_HARNESS_H */
