/*
 * util.c - see util.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/util.h"

void bench_err_set(bench_err_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

const char *bench_mode_name(bench_mode_t mode)
{
    return mode == BENCH_MODE_STREAM ? "stream" : "pingpong";
}

int64_t bench_now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

int bench_fd_write_all(int fd, const uint8_t *p, size_t n, const char *what, bench_err_t *err)
{
    size_t done = 0;
    while (done < n) {
        const ssize_t w = write(fd, p + done, n - done);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            bench_err_set(err, "%s: write: %s", what, strerror(errno));
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

int bench_fd_read_all(int fd, uint8_t *p, size_t n, const char *what, bench_err_t *err)
{
    size_t done = 0;
    while (done < n) {
        const ssize_t r = read(fd, p + done, n - done);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            bench_err_set(err, "%s: read: %s", what, strerror(errno));
            return -1;
        }
        if (r == 0) {
            bench_err_set(err, "%s: peer closed after %zu of %zu bytes", what, done, n);
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

int bench_fd_wait_byte(int fd, int timeout_ms, const char *what, bench_err_t *err)
{
    const int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        const int64_t left_ms = (deadline - bench_now_ns()) / 1000000;
        if (left_ms <= 0) {
            bench_err_set(err, "%s: no signal from the other side within %d ms", what,
                          timeout_ms);
            return -1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        const int n = poll(&pfd, 1, (int)left_ms);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            bench_err_set(err, "%s: poll: %s", what, strerror(errno));
            return -1;
        }
        if (n == 0) {
            continue; /* the deadline check above ends the loop */
        }
        uint8_t byte = 0;
        return bench_fd_read_all(fd, &byte, 1, what, err);
    }
}

int bench_sysvipc_present(const char *table, long key, long id)
{
    char path[64];
    (void)snprintf(path, sizeof path, "/proc/sysvipc/%s", table);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[512];
    int found = 0;
    /* First line is the column header; every other line starts with
     * "key id" in decimal (proc(5)). */
    if (fgets(line, sizeof line, f) != NULL) {
        while (!found && fgets(line, sizeof line, f) != NULL) {
            long k = 0;
            long i = 0;
            if (sscanf(line, "%ld %ld", &k, &i) == 2) {
                found = (id >= 0) ? (i == id) : (k == key);
            }
        }
    }
    (void)fclose(f);
    return found;
}

long bench_proc_long(const char *path, long fallback)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return fallback;
    }
    long v = 0;
    const int n = fscanf(f, "%ld", &v);
    (void)fclose(f);
    return n == 1 ? v : fallback;
}

uint32_t bench_pow2_ceil(uint32_t v)
{
    uint32_t p = 1;
    while (p < v && p < (1u << 31)) {
        p <<= 1;
    }
    return p;
}

uint32_t bench_lane_bytes(uint32_t size)
{
    const uint32_t four = bench_pow2_ceil(4u * (size + 24u));
    return four < 65536u ? 65536u : four;
}
