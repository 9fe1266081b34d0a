/*
 * reference.h - what does not move with the host: the machine facts that
 * change the picture, printed with every report, and the memcpy row, the
 * physical reference for the stream figures (docs/benchmarks.md).
 */
#ifndef SHMCHAN_BENCH_REFERENCE_H
#define SHMCHAN_BENCH_REFERENCE_H

#include <stdio.h>

#include "bench/cell.h"
#include "bench/side.h"

/* One copy of `size` bytes between two private buffers of one process, on
 * CPU `cpu`, in the same rounds as a cell (warm-up, plan->reps timed
 * rounds of plan->seconds, median): the cost of the copy a transport
 * cannot avoid, at the same message size and so the same cache level.
 * Fills out->transport = "memcpy", mode stream. 0, or -1 with err set. */
int bench_memcpy_reference(uint32_t size, const bench_plan_t *plan, int cpu,
                           bench_result_t *out, bench_err_t *err);

/* Prints the machine facts, one "# name: value" line each: CPU model,
 * L1d/L2/L3 sizes, cpuidle driver and governor, guest_halt_poll_ns,
 * transparent huge pages, kernel. A fact that cannot be read says so. */
void bench_print_machine_facts(FILE *out);

#endif /* SHMCHAN_BENCH_REFERENCE_H */
