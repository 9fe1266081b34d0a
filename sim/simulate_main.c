/*
 * simulate_main.c - the seeded runner and the replayer.
 *
 *   simulate --seeds N [--seed S] [--trace]   N runs from seeds S, S+1, ...
 *   simulate --save S FILE                    the input of seed S, as a file
 *   --trace-all: also every system call that changes nothing (reads, stats)
 *   --announce: print each seed before running it (sim/mutate.sh names
 *               the seed of a mutant that crashes the process outright)
 *   simulate [--trace] FILE|DIR...            replay inputs (corpus, crashes)
 *
 * A seed is turned into an 8-byte input (splitmix64 of it); the
 * rest of the run's choices come from the PRNG that input seeds, so a
 * failing seed replays with `--seed S --seeds 1 --trace`. Exits 1 on the
 * first failure, after printing it (and the command that replays it).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sim/world.h"

static int run_one(const uint8_t *data, size_t size, int trace, const char *what)
{
    sim_result_t r;
    sim_run(data, size, trace, &r);
    if (r.failed) {
        fprintf(stderr, "simulate: %s FAILED after %.3f virtual ms, %llu slices: %s\n", what,
                r.virtual_ms, (unsigned long long)r.slices, r.failure);
        return 1;
    }
    if (trace) {
        fprintf(stderr, "simulate: %s passed (%.3f virtual ms, %llu slices)\n", what,
                r.virtual_ms, (unsigned long long)r.slices);
    }
    return 0;
}

static int replay_file(const char *path, int trace)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "simulate: cannot open %s\n", path);
        return 2;
    }
    static uint8_t buf[1 << 16];
    const size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint8_t *copy = malloc(n > 0 ? n : 1);
    if (copy == NULL) {
        return 2;
    }
    memcpy(copy, buf, n);
    const int rc = run_one(copy, n, trace, path);
    free(copy);
    return rc;
}

static int replay_path(const char *path, int trace, long *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "simulate: no such file or directory: %s\n", path);
        return 2;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return replay_file(path, trace);
    }
    struct dirent **names = NULL;
    const int n = scandir(path, &names, NULL, alphasort);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && names[i]->d_name[0] != '.' && strncmp(names[i]->d_name, "README", 6) != 0) {
            char child[4096];
            (void)snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
            (*count)++;
            rc = replay_file(child, trace);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* splitmix64: neighbouring seeds give unrelated scenarios. */
static void seed_input(uint64_t seed, uint8_t in[8])
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (int b = 0; b < 8; b++) {
        in[b] = (uint8_t)(z >> (8 * b));
    }
}

int main(int argc, char **argv)
{
    uint64_t seeds = 0, first = 1;
    int trace = 0, have_seeds = 0, announce = 0;
    long files = 0;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            seeds = strtoull(argv[++i], NULL, 0);
            have_seeds = 1;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 0);
            have_seeds = 1;
            if (seeds == 0) {
                seeds = 1;
            }
        } else if (strcmp(argv[i], "--save") == 0 && i + 2 < argc) {
            /* --save S FILE: the input of seed S, for sim/regressions/. */
            uint8_t in[8];
            seed_input(strtoull(argv[i + 1], NULL, 0), in);
            FILE *f = fopen(argv[i + 2], "wb");
            if (f == NULL || fwrite(in, 1, sizeof in, f) != sizeof in || fclose(f) != 0) {
                fprintf(stderr, "simulate: cannot write %s\n", argv[i + 2]);
                return 2;
            }
            return 0;
        } else if (strcmp(argv[i], "--trace") == 0) {
            trace = 1;
        } else if (strcmp(argv[i], "--announce") == 0) {
            announce = 1;
        } else if (strcmp(argv[i], "--trace-all") == 0) {
            trace = 2; /* every system call, not only those that change something */
        } else {
            rc = replay_path(argv[i], trace, &files);
        }
    }
    if (rc != 0) {
        return 1;
    }
    if (!have_seeds && files == 0) {
        fprintf(stderr, "usage: simulate --seeds N [--seed S] [--trace] | [--trace] FILE|DIR...\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t k = 0; k < seeds; k++) {
        const uint64_t seed = first + k;
        uint8_t in[8];
        seed_input(seed, in);
        char what[64];
        (void)snprintf(what, sizeof what, "seed %llu", (unsigned long long)seed);
        if (announce) {
            fprintf(stderr, "simulate: %s\n", what);
        }
        if (run_one(in, sizeof in, trace, what) != 0) {
            fprintf(stderr, "simulate: replay with: simulate --seed %llu --trace\n",
                    (unsigned long long)seed);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (seeds > 0) {
        fprintf(stderr, "simulate: %llu seeds from %llu passed in %.2f s (%.0f seeds/s)\n",
                (unsigned long long)seeds, (unsigned long long)first, secs,
                secs > 0 ? (double)seeds / secs : 0.0);
    }
    if (files > 0) {
        fprintf(stderr, "simulate: %ld inputs replayed, all passed\n", files);
    }
    return 0;
}
