/*
 * stats.c - see stats.h.
 */
#include <math.h>
#include <stdlib.h>

#include "bench/stats.h"

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a;
    const int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a;
    const double y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_sort_i64(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
}

int64_t bench_percentile(const int64_t *sorted, size_t n, double p)
{
    double rank = ceil(p * (double)n);
    if (rank < 1.0) {
        rank = 1.0;
    }
    if (rank > (double)n) {
        rank = (double)n;
    }
    return sorted[(size_t)rank - 1];
}

double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    if (n % 2 == 1) {
        return v[n / 2];
    }
    return (v[n / 2 - 1] + v[n / 2]) / 2.0;
}
