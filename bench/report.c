/*
 * report.c - CSV and readable tables (see report.h); the plot is in plot.c.
 */
#include <string.h>

#include "bench/reference.h"
#include "bench/report.h"

static const bench_result_t *find(const bench_result_t *r, size_t n, const char *transport,
                                  bench_mode_t mode, uint32_t size)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].mode == mode && r[i].size == size && strcmp(r[i].transport, transport) == 0) {
            return &r[i];
        }
    }
    return NULL;
}

static void csv_latency(FILE *out, double ns)
{
    if (ns >= 0) {
        fprintf(out, ",%.0f", ns);
    } else {
        fputs(",", out);
    }
}

void bench_report_csv(FILE *out, const bench_result_t *results, size_t n)
{
    fprintf(out, "%s\n", BENCH_CSV_HEADER);
    for (size_t i = 0; i < n; i++) {
        const bench_result_t *r = &results[i];
        fprintf(out, "%s,%s,%u,%.1f,%.3f", r->transport, bench_mode_name(r->mode), r->size,
                r->msgs_per_s, r->mb_per_s);
        csv_latency(out, r->p50_ns);
        csv_latency(out, r->p99_ns);
        csv_latency(out, r->p999_ns);
        fputs("\n", out);
    }
}

/* "1.23 M", "456 k", "78.9" */
static void human(char *buf, size_t cap, double v)
{
    if (v >= 1e6) {
        (void)snprintf(buf, cap, "%.2f M", v / 1e6);
    } else if (v >= 1e3) {
        (void)snprintf(buf, cap, "%.1f k", v / 1e3);
    } else {
        (void)snprintf(buf, cap, "%.1f", v);
    }
}

static void size_label(char *buf, size_t cap, uint32_t size)
{
    if (size >= 1048576u && size % 1048576u == 0) {
        (void)snprintf(buf, cap, "%u MiB", size / 1048576u);
    } else if (size >= 1024u && size % 1024u == 0) {
        (void)snprintf(buf, cap, "%u KiB", size / 1024u);
    } else {
        (void)snprintf(buf, cap, "%u B", size);
    }
}

/* v / reference as "3.21x", or "-" if there is no reference. Throughput is
 * compared by msgs_per_s, latency by p50 (there a ratio below 1 is
 * better). */
static void ratio(char *buf, size_t cap, double v, const bench_result_t *ref, int use_p50)
{
    const double base = ref == NULL ? 0 : (use_p50 ? ref->p50_ns : ref->msgs_per_s);
    if (base <= 0) {
        (void)snprintf(buf, cap, "-");
    } else {
        (void)snprintf(buf, cap, "%.3gx", v / base);
    }
}

static void table_stream(FILE *out, const bench_result_t *res, size_t n, const bench_options_t *o)
{
    fprintf(out, "\nstream: one-way throughput, producer on one core, consumer on the other "
                 "(memcpy: one copy in one process, the physical reference)\n");
    fprintf(out, "%-17s %8s %12s %11s %13s %12s %10s\n", "transport", "size", "msgs/s", "MB/s",
            "vs socketpair", "vs spin_ring", "vs memcpy");
    for (size_t s = 0; s < o->nsizes; s++) {
        const uint32_t size = o->sizes[s];
        const bench_result_t *sp = find(res, n, "socketpair", BENCH_MODE_STREAM, size);
        const bench_result_t *ring = find(res, n, "spin_ring", BENCH_MODE_STREAM, size);
        const bench_result_t *copy = find(res, n, "memcpy", BENCH_MODE_STREAM, size);
        for (size_t t = 0; t <= o->ntransports; t++) {
            /* The memcpy row first, then the transports. */
            const char *name = t == 0 ? "memcpy" : o->transports[t - 1]->name;
            const bench_result_t *r = find(res, n, name, BENCH_MODE_STREAM, size);
            if (r == NULL) {
                continue;
            }
            char sz[16], rate[16], a[16], b[16], c[16];
            size_label(sz, sizeof sz, size);
            human(rate, sizeof rate, r->msgs_per_s);
            ratio(a, sizeof a, r->msgs_per_s, sp, 0);
            ratio(b, sizeof b, r->msgs_per_s, ring, 0);
            ratio(c, sizeof c, r->msgs_per_s, copy, 0);
            fprintf(out, "%-17s %8s %12s %11.1f %13s %12s %10s\n", r->transport, sz, rate,
                    r->mb_per_s, a, b, c);
        }
    }
}

static void table_pingpong(FILE *out, const bench_result_t *res, size_t n,
                           const bench_options_t *o)
{
    fprintf(out, "\npingpong: round trip (A sends, B echoes), latency in microseconds; "
                 "ratios are of p50 (below 1 = faster)\n");
    fprintf(out, "%-17s %8s %10s %9s %9s %9s %13s %12s\n", "transport", "size", "rtt/s", "p50",
            "p99", "p99.9", "vs socketpair", "vs spin_ring");
    for (size_t s = 0; s < o->nsizes; s++) {
        const uint32_t size = o->sizes[s];
        const bench_result_t *sp = find(res, n, "socketpair", BENCH_MODE_PINGPONG, size);
        const bench_result_t *ring = find(res, n, "spin_ring", BENCH_MODE_PINGPONG, size);
        for (size_t t = 0; t < o->ntransports; t++) {
            const bench_result_t *r =
                find(res, n, o->transports[t]->name, BENCH_MODE_PINGPONG, size);
            if (r == NULL) {
                continue;
            }
            char sz[16], rate[16], a[16], b[16];
            size_label(sz, sizeof sz, size);
            human(rate, sizeof rate, r->msgs_per_s);
            ratio(a, sizeof a, r->p50_ns, sp, 1);
            ratio(b, sizeof b, r->p50_ns, ring, 1);
            fprintf(out, "%-17s %8s %10s %9.2f %9.2f %9.2f %13s %12s\n", r->transport, sz, rate,
                    r->p50_ns / 1e3, r->p99_ns / 1e3, r->p999_ns / 1e3, a, b);
        }
    }
}

/* One target: value `v` of `what` against `factor` x reference. */
static void target(FILE *out, const char *what, double v, double ref, double factor, int at_least)
{
    if (v <= 0 || ref <= 0) {
        return;
    }
    const double need = factor * ref;
    const int ok = at_least ? v >= need : v <= need;
    fprintf(out, "  %-58s %s  (%.4g vs %s %.4g; ratio %.3g)\n", what, ok ? "MET   " : "MISSED", v,
            at_least ? ">=" : "<=", need, v / ref);
}

/* The performance issue's acceptance targets (round 2), each a ratio
 * within this run (docs/benchmarks.md, "Targets"). */
static void targets(FILE *out, const bench_result_t *res, size_t n)
{
    fprintf(out, "\nissue targets (ratios within this run; need the cells in this run):\n");
    const bench_result_t *c, *sp, *ring, *copy, *spin;
    c = find(res, n, "shmchan", BENCH_MODE_STREAM, 64);
    ring = find(res, n, "spin_ring", BENCH_MODE_STREAM, 64);
    if (c != NULL && ring != NULL) {
        target(out, "64 B stream msgs/s: shmchan >= 0.5x spin_ring", c->msgs_per_s,
               ring->msgs_per_s, 0.5, 1);
    }
    static const uint32_t big[] = {65536, 1048576};
    for (size_t i = 0; i < 2; i++) {
        char what[80];
        c = find(res, n, "shmchan", BENCH_MODE_STREAM, big[i]);
        sp = find(res, n, "socketpair", BENCH_MODE_STREAM, big[i]);
        ring = find(res, n, "spin_ring", BENCH_MODE_STREAM, big[i]);
        copy = find(res, n, "memcpy", BENCH_MODE_STREAM, big[i]);
        if (c != NULL && ring != NULL) {
            (void)snprintf(what, sizeof what, "%u B stream MB/s: shmchan >= 0.8x spin_ring", big[i]);
            target(out, what, c->mb_per_s, ring->mb_per_s, 0.8, 1);
        }
        if (c != NULL && sp != NULL) {
            (void)snprintf(what, sizeof what, "%u B stream MB/s: shmchan >= 2x socketpair", big[i]);
            target(out, what, c->mb_per_s, sp->mb_per_s, 2.0, 1);
        }
        if (c != NULL && copy != NULL) {
            (void)snprintf(what, sizeof what, "%u B stream MB/s: shmchan >= 0.35x memcpy", big[i]);
            target(out, what, c->mb_per_s, copy->mb_per_s, 0.35, 1);
        }
    }
    spin = find(res, n, "shmchan_spin", BENCH_MODE_PINGPONG, 64);
    ring = find(res, n, "spin_ring", BENCH_MODE_PINGPONG, 64);
    if (spin != NULL && ring != NULL) {
        target(out, "64 B pingpong p50 ns: shmchan_spin <= 2x spin_ring", spin->p50_ns,
               ring->p50_ns, 2.0, 0);
    }
    c = find(res, n, "shmchan", BENCH_MODE_PINGPONG, 64);
    sp = find(res, n, "socketpair", BENCH_MODE_PINGPONG, 64);
    if (c != NULL && sp != NULL) {
        target(out, "64 B pingpong p50 ns: shmchan <= 1.0x socketpair", c->p50_ns, sp->p50_ns, 1.0,
               0);
    }
}

void bench_report_table(FILE *out, const bench_result_t *results, size_t n,
                        const bench_options_t *o)
{
    /* The facts that change the picture come with every table: figures
     * from another host are only comparable as ratios. */
    bench_print_machine_facts(out);
    if (o->modes[BENCH_MODE_STREAM]) {
        table_stream(out, results, n, o);
    }
    if (o->modes[BENCH_MODE_PINGPONG]) {
        table_pingpong(out, results, n, o);
    }
    targets(out, results, n);
}
