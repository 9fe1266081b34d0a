/*
 * cell.h - running one cell (transport x mode x size) in two pinned
 * processes and reducing its rounds to one result.
 */
#ifndef SHMCHAN_BENCH_CELL_H
#define SHMCHAN_BENCH_CELL_H

#include <stdint.h>

#include "bench/bench.h"
#include "bench/side.h"

typedef struct bench_result {
    const char *transport;
    bench_mode_t mode;
    uint32_t size;
    double msgs_per_s; /* median over the timed rounds; pingpong: round trips/s */
    double mb_per_s;   /* msgs_per_s * size / 10^6 */
    double p50_ns, p99_ns, p999_ns; /* pingpong: medians of per-round percentiles; else -1 */
    uint64_t verified_msgs;         /* messages checked byte for byte */
    uint64_t total_msgs;            /* messages A -> B in all rounds (pingpong: round trips) */
    double wall_s;                  /* whole cell incl. setup, for progress */
} bench_result_t;

/* The two CPUs the sides run on: the first two the process may use. Returns
 * how many distinct CPUs there are (1 or 2); with 1 both sides share it. */
int bench_cpus_pick(int cpus[2], bench_err_t *err);

/* 0, or -1 with err set (a transport error, a verification failure, a
 * hung side, a kernel object left behind). */
int bench_cell_run(const bench_transport_t *transport, const bench_cell_t *cell,
                   const bench_plan_t *plan, const int cpus[2], bench_result_t *out,
                   bench_err_t *err);

#endif /* SHMCHAN_BENCH_CELL_H */
