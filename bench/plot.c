/*
 * plot.c - the PNG: gnuplot reads a temporary data file, one block per
 * (mode, transport), and draws throughput and latency against size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/report.h"

/* `bazel run` starts us in the runfiles tree; a relative path means the
 * directory the user ran bazel from. */
static int resolve_path(const char *path, char *out, size_t cap, bench_err_t *err)
{
    const char *wd = getenv("BUILD_WORKING_DIRECTORY");
    const int n = (path[0] != '/' && wd != NULL) ? snprintf(out, cap, "%s/%s", wd, path)
                                                 : snprintf(out, cap, "%s", path);
    if (n < 0 || (size_t)n >= cap) {
        bench_err_set(err, "--plot: path too long");
        return -1;
    }
    /* It goes into a gnuplot single-quoted string. */
    if (strpbrk(out, "'\n\r\\") != NULL) {
        bench_err_set(err, "--plot: path may not contain quotes, backslashes or newlines");
        return -1;
    }
    return 0;
}

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

/* Block (mode * ntransports + t): "size msgs/s MB/s p50 p99 p999". */
static void write_data(FILE *f, const bench_result_t *res, size_t n, const bench_options_t *o)
{
    for (int m = 0; m < BENCH_MODE_COUNT; m++) {
        for (size_t t = 0; t < o->ntransports; t++) {
            fprintf(f, "# %s %s\n", o->transports[t]->name, bench_mode_name((bench_mode_t)m));
            for (size_t s = 0; s < o->nsizes; s++) {
                const bench_result_t *r =
                    find(res, n, o->transports[t]->name, (bench_mode_t)m, o->sizes[s]);
                if (r != NULL) {
                    fprintf(f, "%u %.3f %.3f %.0f %.0f %.0f\n", r->size, r->msgs_per_s,
                            r->mb_per_s, r->p50_ns, r->p99_ns, r->p999_ns);
                }
            }
            /* gnuplot needs at least one line per block to count it. */
            fprintf(f, "\n\n");
        }
    }
}

static void write_xtics(FILE *g, const bench_options_t *o)
{
    fprintf(g, "set xtics (");
    for (size_t s = 0; s < o->nsizes; s++) {
        const uint32_t v = o->sizes[s];
        if (v >= 1048576u && v % 1048576u == 0) {
            fprintf(g, "%s\"%u Mi\" %u", s ? ", " : "", v / 1048576u, v);
        } else if (v >= 1024u && v % 1024u == 0) {
            fprintf(g, "%s\"%u Ki\" %u", s ? ", " : "", v / 1024u, v);
        } else {
            fprintf(g, "%s\"%u\" %u", s ? ", " : "", v, v);
        }
    }
    fprintf(g, ")\n");
    uint32_t lo = o->sizes[0];
    uint32_t hi = o->sizes[0];
    for (size_t s = 1; s < o->nsizes; s++) {
        lo = o->sizes[s] < lo ? o->sizes[s] : lo;
        hi = o->sizes[s] > hi ? o->sizes[s] : hi;
    }
    fprintf(g, "set xrange [%g:%g]\n", (double)lo / 1.5, (double)hi * 1.5);
}

/* One panel: every transport's block of `mode`, column expression `using`. */
static void write_panel(FILE *g, const char *data, const bench_options_t *o, int mode,
                        const char *title, const char *ylabel, const char *using)
{
    fprintf(g, "set title '%s'\nset ylabel '%s'\nplot ", title, ylabel);
    for (size_t t = 0; t < o->ntransports; t++) {
        const char *name = o->transports[t]->name;
        const int ours = strncmp(name, "shmchan", 7) == 0;
        fprintf(g, "%s'%s' index %zu using %s with linespoints lw %d pt %zu title '%s'",
                t ? ", \\\n     " : "", data, (size_t)mode * o->ntransports + t, using,
                ours ? 3 : 1, t + 1, name);
    }
    fprintf(g, "\n");
}

static void write_script(FILE *g, const char *png, const char *data, const bench_options_t *o)
{
    const int both = o->modes[BENCH_MODE_STREAM] && o->modes[BENCH_MODE_PINGPONG];
    /* noenhanced: transport names have underscores, not subscripts. */
    fprintf(g, "set terminal pngcairo noenhanced size 1600,%d font 'sans,10'\n",
            both ? 1100 : 560);
    fprintf(g, "set output '%s'\n", png);
    fprintf(g, "set multiplot layout %d,2 title 'ipcbench: medians of %u x %.3g s, "
               "side A on one core, side B on the other'\n",
            both ? 2 : 1, o->reps, o->seconds);
    fprintf(g, "set logscale xy\nset grid\nset key outside right top font ',9'\n");
    fprintf(g, "set xlabel 'message size (bytes)'\nset format y '%%g'\n");
    write_xtics(g, o);
    if (o->modes[BENCH_MODE_STREAM]) {
        write_panel(g, data, o, BENCH_MODE_STREAM, "stream: throughput (higher is better)",
                    "MB/s (1 MB = 10^6 bytes)", "1:3");
        write_panel(g, data, o, BENCH_MODE_STREAM, "stream: messages per second", "msgs/s",
                    "1:2");
    }
    if (o->modes[BENCH_MODE_PINGPONG]) {
        write_panel(g, data, o, BENCH_MODE_PINGPONG, "pingpong: p50 round trip (lower is better)",
                    "microseconds", "1:($4/1000)");
        write_panel(g, data, o, BENCH_MODE_PINGPONG, "pingpong: p99 round trip", "microseconds",
                    "1:($5/1000)");
    }
    fprintf(g, "unset multiplot\n");
}

int bench_report_plot(const char *path, const bench_result_t *results, size_t n,
                      const bench_options_t *o, bench_err_t *err)
{
    char png[1024];
    if (resolve_path(path, png, sizeof png, err) != 0) {
        return -1;
    }
    char data[] = "/tmp/ipcbench-plot-XXXXXX";
    const int fd = mkstemp(data);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        bench_err_set(err, "plot data file: %s", strerror(errno));
        if (fd >= 0) {
            (void)close(fd);
            (void)unlink(data);
        }
        return -1;
    }
    write_data(f, results, n, o);
    int rc = fclose(f) == 0 ? 0 : -1;
    FILE *g = rc == 0 ? popen("gnuplot", "w") : NULL;
    if (g == NULL) {
        bench_err_set(err, "cannot run gnuplot: %s", strerror(errno));
        (void)unlink(data);
        return -1;
    }
    write_script(g, png, data, o);
    const int status = pclose(g);
    (void)unlink(data);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bench_err_set(err, "gnuplot failed (status 0x%x) writing %s", (unsigned)status, png);
        return -1;
    }
    return 0;
}
