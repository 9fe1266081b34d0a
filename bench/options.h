/*
 * options.h - ipcbench's command line.
 */
#ifndef SHMCHAN_BENCH_OPTIONS_H
#define SHMCHAN_BENCH_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"

#define BENCH_MAX_SIZES 16u
#define BENCH_MAX_TRANSPORTS 9u

typedef struct bench_options {
    uint32_t sizes[BENCH_MAX_SIZES];
    size_t nsizes;
    const bench_transport_t *transports[BENCH_MAX_TRANSPORTS];
    size_t ntransports;
    int modes[BENCH_MODE_COUNT]; /* which modes run */
    double seconds;              /* per timed round */
    uint32_t reps;
    uint32_t spin_ns;
    uint32_t lane_bytes; /* shmchan's lane_capacity; 0: bench_lane_bytes(size) */
    int csv;
    const char *plot; /* PNG path, or NULL */
} bench_options_t;

/* Every transport ipcbench knows, in table order. */
extern const bench_transport_t *const bench_all_transports[BENCH_MAX_TRANSPORTS];

/* The default --spin-ns for shmchan_spin (docs/benchmarks.md says how it
 * was chosen). */
#define BENCH_DEFAULT_SPIN_NS 50000u

void bench_usage(const char *argv0);

/* Fills *o from argv. 0; 1 if --help was asked for; -1 with err set. */
int bench_options_parse(int argc, char **argv, bench_options_t *o, bench_err_t *err);

#endif /* SHMCHAN_BENCH_OPTIONS_H */
