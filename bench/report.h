/*
 * report.h - presenting results: the CSV table, the readable table with
 * ratios and the targets, and the gnuplot PNG.
 */
#ifndef SHMCHAN_BENCH_REPORT_H
#define SHMCHAN_BENCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "bench/cell.h"
#include "bench/options.h"

#define BENCH_CSV_HEADER "transport,mode,size,msgs_per_s,mb_per_s,p50_ns,p99_ns,p999_ns"

/* Rows in the order of the options: transport, then mode, then size. */
void bench_report_csv(FILE *out, const bench_result_t *results, size_t n);

/* Per mode: figures, ratios to socketpair and to spin_ring; then the
 * targets of the performance issue that the run has the cells for. */
void bench_report_table(FILE *out, const bench_result_t *results, size_t n,
                        const bench_options_t *o);

/* Writes a 2x2 PNG with gnuplot. 0, or -1 with err set. */
int bench_report_plot(const char *path, const bench_result_t *results, size_t n,
                      const bench_options_t *o, bench_err_t *err);

#endif /* SHMCHAN_BENCH_REPORT_H */
