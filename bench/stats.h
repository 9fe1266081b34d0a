/*
 * stats.h - sorting samples, percentiles, medians.
 */
#ifndef SHMCHAN_BENCH_STATS_H
#define SHMCHAN_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

void bench_sort_i64(int64_t *v, size_t n);

/* Nearest-rank percentile of sorted[0, n): the smallest sample such that
 * at least fraction p of all samples are <= it. n > 0, 0 < p <= 1. */
int64_t bench_percentile(const int64_t *sorted, size_t n, double p);

/* Median of v[0, n) (the mean of the middle two when n is even); v is
 * reordered. n > 0. */
double bench_median(double *v, size_t n);

#endif /* SHMCHAN_BENCH_STATS_H */
