/*
 * message.c - stamping and checking benchmark messages (see message.h).
 */
#include <stddef.h>

#include "bench/message.h"

#define TRAILER_SCRAMBLE 0xA5C3F00DD15EA5E5ull

static void store_le64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void store_le32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static uint32_t load_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

static uint32_t stamp_check(uint64_t seq, uint32_t ctrl)
{
    return ~((uint32_t)seq ^ (uint32_t)(seq >> 32) ^ (ctrl * 0x9E3779B9u));
}

static uint32_t body_end(uint32_t size)
{
    return size >= 24 ? size - 8 : size;
}

void bench_msg_stamp(uint8_t *msg, uint32_t size, uint64_t seq, uint32_t ctrl)
{
    store_le64(msg, seq);
    store_le32(msg + 8, ctrl);
    store_le32(msg + 12, stamp_check(seq, ctrl));
    if (size >= 24) {
        store_le64(msg + size - 8, seq ^ TRAILER_SCRAMBLE);
    }
}

/* Byte i of the body. FIXED: a function of i only, so timed rounds need not
 * rewrite it. PER_SEQ: splitmix64 of (seq, i / 8), so two messages never
 * share a body and a transport replaying an old one is caught. */
static uint64_t body_word(uint64_t seq, uint32_t word, bench_body_t body)
{
    uint64_t z = (uint64_t)word * 0x9E3779B97F4A7C15ull;
    if (body == BENCH_BODY_PER_SEQ) {
        z += (seq + 1) * 0xD1B54A32D192ED03ull;
    }
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint8_t body_byte(uint64_t seq, uint32_t i, bench_body_t body)
{
    return (uint8_t)(body_word(seq, i / 8, body) >> (8 * (i % 8)));
}

void bench_msg_fill_body(uint8_t *msg, uint32_t size, uint64_t seq, bench_body_t body)
{
    const uint32_t end = body_end(size);
    uint32_t i = BENCH_MSG_MIN_SIZE;
    /* Whole words where possible: the body offset 16 is a multiple of 8. */
    for (; i + 8 <= end; i += 8) {
        store_le64(msg + i, body_word(seq, i / 8, body));
    }
    for (; i < end; i++) {
        msg[i] = body_byte(seq, i, body);
    }
}

int bench_msg_check_stamp(const uint8_t *msg, uint32_t size, uint64_t seq, uint32_t *ctrl,
                          bench_err_t *err)
{
    const uint64_t got = load_le64(msg);
    const uint32_t c = load_le32(msg + 8);
    if (got != seq) {
        bench_err_set(err, "message out of sequence: expected seq %llu, got %llu",
                      (unsigned long long)seq, (unsigned long long)got);
        return -1;
    }
    if (load_le32(msg + 12) != stamp_check(seq, c) ||
        (c != BENCH_CTRL_DATA && c != BENCH_CTRL_END)) {
        bench_err_set(err, "message seq %llu: corrupt header (ctrl %u)", (unsigned long long)seq,
                      c);
        return -1;
    }
    if (size >= 24 && load_le64(msg + size - 8) != (seq ^ TRAILER_SCRAMBLE)) {
        bench_err_set(err, "message seq %llu: wrong trailer (last 8 of %u bytes)",
                      (unsigned long long)seq, size);
        return -1;
    }
    *ctrl = c;
    return 0;
}

int bench_msg_check_body(const uint8_t *msg, uint32_t size, uint64_t seq, bench_body_t body,
                         bench_err_t *err)
{
    const uint32_t end = body_end(size);
    uint32_t i = BENCH_MSG_MIN_SIZE;
    for (; i + 8 <= end; i += 8) {
        if (load_le64(msg + i) != body_word(seq, i / 8, body)) {
            break; /* find the exact byte below */
        }
    }
    for (; i < end; i++) {
        const uint8_t want = body_byte(seq, i, body);
        if (msg[i] != want) {
            bench_err_set(err, "message seq %llu (%u bytes): byte %u is 0x%02x, expected 0x%02x",
                          (unsigned long long)seq, size, i, msg[i], want);
            return -1;
        }
    }
    return 0;
}
