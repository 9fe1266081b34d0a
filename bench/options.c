/*
 * options.c - parsing ipcbench's command line (see bench_usage).
 * Strict: every value must parse completely, lists may not be empty or
 * repeat an item, and anything unknown is an error.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/message.h"
#include "bench/options.h"
#include "bench/side.h"

const bench_transport_t *const bench_all_transports[BENCH_MAX_TRANSPORTS] = {
    &bench_transport_shmchan, &bench_transport_shmchan_spin, &bench_transport_shmchan_sleep,
    &bench_transport_shmchan_multiuser, &bench_transport_pipe, &bench_transport_socketpair,
    &bench_transport_sysv_mq, &bench_transport_posix_mq, &bench_transport_spin_ring,
};

void bench_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--sizes N,N,...] [--transports a,b,...] [--modes stream,pingpong]\n"
            "          [--seconds S] [--reps N] [--spin-ns N] [--lane-bytes N] [--csv]\n"
            "          [--plot FILE.png]\n"
            "  --sizes       message sizes in bytes, %u..%u (default 64,1024,65536,1048576)\n"
            "  --transports  any of shmchan,shmchan_spin,shmchan_sleep,shmchan_multiuser,\n"
            "                pipe,socketpair,sysv_mq,posix_mq,spin_ring (default: all)\n"
            "  --modes       stream (one-way throughput), pingpong (round trip); default both\n"
            "  --seconds     length of each timed repetition (default 0.2; warm-up half that)\n"
            "  --reps        timed repetitions per cell, median reported (default 5, max %u)\n"
            "  --spin-ns     shmchan_spin: spin_ns on both ends (default %u)\n"
            "  --lane-bytes  shmchan, shmchan_spin: lane_capacity, a power of two >= 64;\n"
            "                messages longer than half a lane go in fragments (default:\n"
            "                the power of two >= 4 x (size + 24), at least 64 KiB, which\n"
            "                is also spin_ring's ring)\n"
            "  --csv         one CSV table on stdout (progress stays on stderr)\n"
            "  --plot FILE   also write a PNG (gnuplot) of throughput and latency\n",
            argv0, BENCH_MSG_MIN_SIZE, BENCH_MSG_MAX_SIZE, BENCH_MAX_REPS, BENCH_DEFAULT_SPIN_NS);
}

static int parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    const unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_seconds(const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    const double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v < 0.001 || v > 600.0) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Calls item(word) for each comma-separated word of `list`. */
static int for_each_item(const char *list, bench_options_t *o, bench_err_t *err,
                         int (*item)(const char *, bench_options_t *, bench_err_t *))
{
    char buf[512];
    if (strlen(list) >= sizeof buf || list[0] == '\0') {
        bench_err_set(err, "bad list '%s'", list);
        return -1;
    }
    memcpy(buf, list, strlen(list) + 1);
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        if (item(p, o, err) != 0) {
            return -1;
        }
        if (comma == NULL) {
            return 0;
        }
        p = comma + 1;
    }
}

static int add_size(const char *word, bench_options_t *o, bench_err_t *err)
{
    uint32_t v = 0;
    if (parse_u32(word, BENCH_MSG_MIN_SIZE, BENCH_MSG_MAX_SIZE, &v) != 0) {
        bench_err_set(err, "--sizes: '%s' is not a size in %u..%u", word, BENCH_MSG_MIN_SIZE,
                      BENCH_MSG_MAX_SIZE);
        return -1;
    }
    for (size_t i = 0; i < o->nsizes; i++) {
        if (o->sizes[i] == v) {
            bench_err_set(err, "--sizes: %u given twice", v);
            return -1;
        }
    }
    if (o->nsizes == BENCH_MAX_SIZES) {
        bench_err_set(err, "--sizes: at most %u sizes", BENCH_MAX_SIZES);
        return -1;
    }
    o->sizes[o->nsizes++] = v;
    return 0;
}

static int add_transport(const char *word, bench_options_t *o, bench_err_t *err)
{
    for (size_t i = 0; i < BENCH_MAX_TRANSPORTS; i++) {
        const bench_transport_t *t = bench_all_transports[i];
        if (strcmp(word, t->name) != 0) {
            continue;
        }
        for (size_t j = 0; j < o->ntransports; j++) {
            if (o->transports[j] == t) {
                bench_err_set(err, "--transports: %s given twice", word);
                return -1;
            }
        }
        o->transports[o->ntransports++] = t;
        return 0;
    }
    bench_err_set(err, "--transports: unknown transport '%s'", word);
    return -1;
}

static int add_mode(const char *word, bench_options_t *o, bench_err_t *err)
{
    for (int m = 0; m < BENCH_MODE_COUNT; m++) {
        if (strcmp(word, bench_mode_name((bench_mode_t)m)) == 0) {
            if (o->modes[m]) {
                bench_err_set(err, "--modes: %s given twice", word);
                return -1;
            }
            o->modes[m] = 1;
            return 0;
        }
    }
    bench_err_set(err, "--modes: unknown mode '%s' (stream, pingpong)", word);
    return -1;
}

static void set_defaults(bench_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->seconds = 0.2;
    o->reps = 5;
    o->spin_ns = BENCH_DEFAULT_SPIN_NS;
}

static void fill_unset_lists(bench_options_t *o)
{
    static const uint32_t default_sizes[] = {64, 1024, 65536, 1048576};
    if (o->nsizes == 0) {
        o->nsizes = sizeof default_sizes / sizeof default_sizes[0];
        memcpy(o->sizes, default_sizes, sizeof default_sizes);
    }
    if (o->ntransports == 0) {
        o->ntransports = BENCH_MAX_TRANSPORTS;
        memcpy(o->transports, bench_all_transports, sizeof bench_all_transports);
    }
    if (!o->modes[BENCH_MODE_STREAM] && !o->modes[BENCH_MODE_PINGPONG]) {
        o->modes[BENCH_MODE_STREAM] = 1;
        o->modes[BENCH_MODE_PINGPONG] = 1;
    }
}

/* One option with its value (value NULL for flags). 1 if it consumed the
 * value, 0 if not, -1 on error. */
static int parse_one(const char *opt, const char *value, bench_options_t *o, bench_err_t *err)
{
    if (strcmp(opt, "--csv") == 0) {
        o->csv = 1;
        return 0;
    }
    if (value == NULL) {
        bench_err_set(err, "%s: unknown option, or missing its value", opt);
        return -1;
    }
    int rc = -2;
    if (strcmp(opt, "--sizes") == 0) {
        rc = for_each_item(value, o, err, add_size);
    } else if (strcmp(opt, "--transports") == 0) {
        rc = for_each_item(value, o, err, add_transport);
    } else if (strcmp(opt, "--modes") == 0) {
        rc = for_each_item(value, o, err, add_mode);
    } else if (strcmp(opt, "--seconds") == 0) {
        rc = parse_seconds(value, &o->seconds);
        if (rc != 0) {
            bench_err_set(err, "--seconds: '%s' is not a number in 0.001..600", value);
        }
    } else if (strcmp(opt, "--reps") == 0) {
        rc = parse_u32(value, 1, BENCH_MAX_REPS, &o->reps);
        if (rc != 0) {
            bench_err_set(err, "--reps: '%s' is not in 1..%u", value, BENCH_MAX_REPS);
        }
    } else if (strcmp(opt, "--spin-ns") == 0) {
        rc = parse_u32(value, 0, 1000000000u, &o->spin_ns);
        if (rc != 0) {
            bench_err_set(err, "--spin-ns: '%s' is not in 0..1000000000", value);
        }
    } else if (strcmp(opt, "--lane-bytes") == 0) {
        rc = parse_u32(value, 64, 1u << 30, &o->lane_bytes);
        if (rc != 0 || (o->lane_bytes & (o->lane_bytes - 1u)) != 0) {
            bench_err_set(err, "--lane-bytes: '%s' is not a power of two in 64..1073741824",
                          value);
            rc = -1;
        }
    } else if (strcmp(opt, "--plot") == 0) {
        o->plot = value;
        rc = 0;
    }
    if (rc == -2) {
        bench_err_set(err, "unknown option %s", opt);
    }
    return rc == 0 ? 1 : -1;
}

int bench_options_parse(int argc, char **argv, bench_options_t *o, bench_err_t *err)
{
    set_defaults(o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 1;
        }
        const int used = parse_one(argv[i], i + 1 < argc ? argv[i + 1] : NULL, o, err);
        if (used < 0) {
            return -1;
        }
        i += used;
    }
    fill_unset_lists(o);
    return 0;
}
