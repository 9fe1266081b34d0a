/*
 * side.h - what each of the two processes of a cell does: the rounds.
 *
 * Schedule, the same in both modes and known to both sides in advance:
 *   round 0          warm-up, plan->warmup_seconds, discarded
 *   rounds 1..reps   timed, plan->seconds each, recorded
 *   last round       verification: plan->verify_msgs messages whose bodies
 *                    are all different, every byte checked (not timed)
 * Side A decides when a round ends (time is up) and marks its last message
 * BENCH_CTRL_END; B follows. Sequence numbers run on across rounds.
 */
#ifndef SHMCHAN_BENCH_SIDE_H
#define SHMCHAN_BENCH_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"

#define BENCH_MAX_REPS 25u

/* Self-test of the verification (IPCBENCH_INJECT_FAULT, used by
 * smoke_test.sh): side A damages its own traffic the way a broken transport
 * would, and the run must fail. */
typedef enum bench_fault {
    BENCH_FAULT_NONE = 0,
    BENCH_FAULT_FLIP, /* first verification message: one bit flipped mid-message */
    BENCH_FAULT_DROP  /* message seq 3 (warm-up) never sent */
} bench_fault_t;

typedef struct bench_plan {
    uint32_t reps;           /* timed rounds, 1..BENCH_MAX_REPS */
    double seconds;          /* length of each timed round */
    double warmup_seconds;   /* length of the warm-up round */
    uint32_t verify_msgs;    /* messages in the verification round */
    size_t rtt_cap;          /* pingpong: round trips recorded per round at most */
    bench_fault_t fault;     /* BENCH_FAULT_NONE except in the self-test */
} bench_plan_t;

/* One timed round. Stream: A writes t_start, B writes t_end and count.
 * Pingpong: A writes everything. Times are CLOCK_MONOTONIC ns, which both
 * processes share. */
typedef struct bench_round {
    int64_t t_start; /* just before the first message was sent */
    int64_t t_end;   /* just after the last one was received (its echo, in pingpong) */
    uint64_t count;  /* messages (stream) or round trips (pingpong) */
    int64_t p50_ns, p99_ns, p999_ns; /* pingpong only */
} bench_round_t;

/* Lives in MAP_SHARED memory: both children write, the parent reads after
 * both have exited. */
typedef struct bench_shared {
    bench_round_t rounds[BENCH_MAX_REPS];
    uint64_t verified_msgs[2]; /* per side: messages whose every byte it checked */
    uint64_t total_msgs;       /* B: messages received in all rounds (for per-message
                                * costs: syscall counts / total_msgs) */
    bench_err_t err[2];      /* per side; text[0] == 0 if none */
} bench_shared_t;

/* Everything one side needs. ready_fd / done_fd: B writes a byte to
 * ready_fd once open, A reads it before opening; in stream mode B also
 * writes one after each round and A waits for it before the next. A writes
 * to done_fd once closed, B reads it before closing (see
 * bench_transport_t). */
typedef struct bench_side_ctx {
    const bench_transport_t *transport;
    void *state;
    bench_cell_t cell;
    bench_plan_t plan;
    bench_side_t side;
    int ready_fd;
    int done_fd;
    bench_shared_t *shared;
} bench_side_ctx_t;

/* Runs one side to the end. 0, or -1 with shared->err[side] set. */
int bench_side_run(const bench_side_ctx_t *ctx);

#endif /* SHMCHAN_BENCH_SIDE_H */
