/*
 * ipcbench_main.c - the driver: parse options, run every cell, report.
 *
 *   bazel run -c opt //bench:ipcbench -- [--sizes ...] [--csv] [--plot F.png] ...
 *
 * docs/benchmarks.md describes the method and the results.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/cell.h"
#include "bench/options.h"
#include "bench/reference.h"
#include "bench/report.h"

/* Round-trip samples kept per round: enough for 10 M round trips per
 * second, the spinning ceiling here being ~5 M/s (~200 ns). */
static size_t rtt_capacity(double seconds)
{
    const double want = seconds * 10e6;
    if (want < 1024.0) {
        return 1024;
    }
    return want > (double)(1u << 25) ? (size_t)1 << 25 : (size_t)want;
}

/* Verification: at most 8 MiB of fully checked messages, 16..1024 of them. */
static uint32_t verify_count(uint32_t size)
{
    const uint32_t n = (8u * 1024u * 1024u) / size;
    return n < 16 ? 16 : (n > 1024 ? 1024 : n);
}

/* IPCBENCH_INJECT_FAULT=flip|drop: the verification's self-test (see
 * bench_fault_t and smoke_test.sh). Unset: no fault. -1 if unknown. */
static int fault_from_env(bench_fault_t *out)
{
    const char *v = getenv("IPCBENCH_INJECT_FAULT");
    *out = BENCH_FAULT_NONE;
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    if (strcmp(v, "flip") == 0) {
        *out = BENCH_FAULT_FLIP;
    } else if (strcmp(v, "drop") == 0) {
        *out = BENCH_FAULT_DROP;
    } else {
        fprintf(stderr, "ipcbench: IPCBENCH_INJECT_FAULT=%s: expected flip or drop\n", v);
        return -1;
    }
    fprintf(stderr, "ipcbench: injecting fault '%s': this run must fail\n", v);
    return 0;
}

static size_t slot_of(const bench_options_t *o, size_t t, int mode, size_t s)
{
    return (t * BENCH_MODE_COUNT + (size_t)mode) * o->nsizes + s;
}

static void progress(size_t done, size_t total, const bench_result_t *r)
{
    fprintf(stderr, "[%2zu/%zu] %-12s %-8s %8u B: %11.0f msgs/s %10.1f MB/s", done, total,
            r->transport, bench_mode_name(r->mode), r->size, r->msgs_per_s, r->mb_per_s);
    if (r->p50_ns >= 0) {
        fprintf(stderr, "  p50 %.2f us p99 %.2f us", r->p50_ns / 1e3, r->p99_ns / 1e3);
    }
    fprintf(stderr, "  (%llu msgs in all, %llu checked, %.1f s)\n",
            (unsigned long long)r->total_msgs, (unsigned long long)r->verified_msgs, r->wall_s);
}

static size_t count_cells(const bench_options_t *o)
{
    const size_t modes = (size_t)o->modes[BENCH_MODE_STREAM] + (size_t)o->modes[BENCH_MODE_PINGPONG];
    return o->ntransports * modes * o->nsizes;
}

/* Runs the cells size by size (so a partial run still compares every
 * transport); stores each result at slot_of(). 0, or -1 after printing
 * the failure. */
static int run_all(const bench_options_t *o, const int cpus[2], bench_fault_t fault,
                   bench_result_t *grid, int *have, bench_result_t *copies)
{
    const size_t total = count_cells(o);
    uint32_t serial = 0;
    for (size_t s = 0; s < o->nsizes; s++) {
        const bench_plan_t plan = {.reps = o->reps,
                                   .seconds = o->seconds,
                                   .warmup_seconds = o->seconds / 2,
                                   .verify_msgs = verify_count(o->sizes[s]),
                                   .rtt_cap = rtt_capacity(o->seconds),
                                   .fault = fault};
        /* The memcpy row first, on side A's CPU, while nothing else runs. */
        if (o->modes[BENCH_MODE_STREAM]) {
            bench_err_t err = {{0}};
            if (bench_memcpy_reference(o->sizes[s], &plan, cpus[0], &copies[s], &err) != 0) {
                fprintf(stderr, "ipcbench: FAILED memcpy %u B: %s\n", o->sizes[s], err.text);
                return -1;
            }
            fprintf(stderr, "[ref] memcpy       stream   %8u B: %11.0f msgs/s %10.1f MB/s\n",
                    o->sizes[s], copies[s].msgs_per_s, copies[s].mb_per_s);
        }
        for (size_t t = 0; t < o->ntransports; t++) {
            for (int m = 0; m < BENCH_MODE_COUNT; m++) {
                if (!o->modes[m]) {
                    continue;
                }
                const bench_cell_t cell = {.size = o->sizes[s], .mode = (bench_mode_t)m,
                                           .spin_ns = o->spin_ns,
                                           .lane_bytes = o->lane_bytes, .serial = serial++};
                const size_t k = slot_of(o, t, m, s);
                bench_err_t err = {{0}};
                if (bench_cell_run(o->transports[t], &cell, &plan, cpus, &grid[k], &err) != 0) {
                    fprintf(stderr, "ipcbench: FAILED %s %s %u B: %s\n", o->transports[t]->name,
                            bench_mode_name((bench_mode_t)m), o->sizes[s], err.text);
                    return -1;
                }
                have[k] = 1;
                progress(serial, total, &grid[k]);
            }
        }
    }
    return 0;
}

/* The grid in output order (transport, mode, size), without holes. */
static size_t compact(const bench_options_t *o, const bench_result_t *grid, const int *have,
                      bench_result_t *out)
{
    size_t n = 0;
    for (size_t t = 0; t < o->ntransports; t++) {
        for (int m = 0; m < BENCH_MODE_COUNT; m++) {
            for (size_t s = 0; s < o->nsizes; s++) {
                const size_t k = slot_of(o, t, m, s);
                if (have[k]) {
                    out[n++] = grid[k];
                }
            }
        }
    }
    return n;
}

static int report(const bench_options_t *o, const bench_result_t *res, size_t n)
{
    if (o->csv) {
        bench_report_csv(stdout, res, n);
    } else {
        bench_report_table(stdout, res, n, o);
    }
    if (fflush(stdout) != 0) {
        return -1;
    }
    if (o->plot != NULL) {
        bench_err_t err = {{0}};
        if (bench_report_plot(o->plot, res, n, o, &err) != 0) {
            fprintf(stderr, "ipcbench: %s\n", err.text);
            return -1;
        }
        fprintf(stderr, "ipcbench: plot written (%s)\n", o->plot);
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench_options_t o;
    bench_err_t err = {{0}};
    const int parsed = bench_options_parse(argc, argv, &o, &err);
    if (parsed != 0) {
        if (parsed < 0) {
            fprintf(stderr, "ipcbench: %s\n", err.text);
        }
        bench_usage(argv[0]);
        return parsed < 0 ? 2 : 0;
    }
    bench_fault_t fault = BENCH_FAULT_NONE;
    if (fault_from_env(&fault) != 0) {
        return 2;
    }
    int cpus[2];
    const int ncpus = bench_cpus_pick(cpus, &err);
    if (ncpus < 0) {
        fprintf(stderr, "ipcbench: %s\n", err.text);
        return 1;
    }
    fprintf(stderr, "ipcbench: %zu cells, %u x %.3g s each after a %.3g s warm-up; side A on CPU "
                    "%d, side B on CPU %d%s\n",
            count_cells(&o), o.reps, o.seconds, o.seconds / 2, cpus[0], cpus[1],
            ncpus < 2 ? " (only one CPU available: both sides share it)" : "");
    const size_t slots = o.ntransports * BENCH_MODE_COUNT * o.nsizes;
    bench_result_t *grid = calloc(slots, sizeof *grid);
    /* The cells, then one memcpy row per size (stream mode only). */
    bench_result_t *ordered = calloc(slots + o.nsizes, sizeof *ordered);
    bench_result_t *copies = calloc(o.nsizes, sizeof *copies);
    int *have = calloc(slots, sizeof *have);
    int rc = (grid == NULL || ordered == NULL || have == NULL || copies == NULL) ? 1 : 0;
    if (rc == 0 && run_all(&o, cpus, fault, grid, have, copies) != 0) {
        rc = 1;
    }
    if (rc == 0) {
        size_t n = compact(&o, grid, have, ordered);
        if (o.modes[BENCH_MODE_STREAM]) {
            for (size_t s = 0; s < o.nsizes; s++) {
                ordered[n++] = copies[s];
            }
        }
        rc = report(&o, ordered, n) == 0 ? 0 : 1;
    }
    free(copies);
    free(grid);
    free(ordered);
    free(have);
    return rc;
}
