/*
 * message.h - what every benchmark message carries, so that a transport that
 * loses, duplicates, reorders, truncates or corrupts messages is caught
 * rather than reported as fast.
 *
 * Layout (little-endian, byte shifts, no casts):
 *   [0, 8)         seq    - global sequence number of the cell, from 0
 *   [8, 12)        ctrl   - BENCH_CTRL_DATA, or BENCH_CTRL_END (last of a round)
 *   [12, 16)       check  - a function of seq and ctrl
 *   [16, size-8)   body   - a pattern (see bench_body_t)
 *   [size-8, size) trailer - seq again, scrambled (only if size >= 24)
 * The stamp (seq, ctrl, check, trailer) changes with every message and is
 * checked on every message, inside the timed part (a few loads). The body
 * is checked in full outside it: on the last message of each timed round,
 * and on every message of the verification round, whose bodies all differ.
 */
#ifndef SHMCHAN_BENCH_MESSAGE_H
#define SHMCHAN_BENCH_MESSAGE_H

#include <stdint.h>

#include "bench/bench.h"

#define BENCH_MSG_MIN_SIZE 16u
#define BENCH_MSG_MAX_SIZE (16u * 1024u * 1024u)

enum { BENCH_CTRL_DATA = 0, BENCH_CTRL_END = 1 };

typedef enum bench_body {
    BENCH_BODY_FIXED = 0,  /* the same bytes in every message (timed rounds) */
    BENCH_BODY_PER_SEQ = 1 /* bytes derived from seq (verification round) */
} bench_body_t;

void bench_msg_stamp(uint8_t *msg, uint32_t size, uint64_t seq, uint32_t ctrl);
void bench_msg_fill_body(uint8_t *msg, uint32_t size, uint64_t seq, bench_body_t body);

/* Checks the stamp against the expected seq; stores ctrl. 0 or -1. */
int bench_msg_check_stamp(const uint8_t *msg, uint32_t size, uint64_t seq, uint32_t *ctrl,
                          bench_err_t *err);

/* Checks every body byte. 0 or -1 (naming the first wrong byte). */
int bench_msg_check_body(const uint8_t *msg, uint32_t size, uint64_t seq, bench_body_t body,
                         bench_err_t *err);

#endif /* SHMCHAN_BENCH_MESSAGE_H */
