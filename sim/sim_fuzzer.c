/*
 * sim_fuzzer.c - the simulation as a libFuzzer target: the input is the
 * run (scenario, schedule, events, hostile moves). A failed oracle is a
 * crash; `bazel run //sim:simulate -- --trace crash-<sha1>` tells its story.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) {
        return 0; /* past this the input only feeds the PRNG's seed */
    }
    sim_result_t r;
    sim_run(data, size, 0, &r);
    if (r.failed) {
        fprintf(stderr, "sim_fuzzer: oracle failed: %s\n", r.failure);
        abort();
    }
    return 0;
}
