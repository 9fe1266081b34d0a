/*
 * util.h - small helpers the transports and the driver share: whole-buffer
 * fd I/O, /proc lookups, the spin-wait hint.
 */
#ifndef SHMCHAN_BENCH_UTIL_H
#define SHMCHAN_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"

/* Writes/reads exactly n bytes, looping over short transfers and EINTR
 * (stream sockets and pipes may move fewer bytes than asked: a single
 * read() of a 64 KiB message is not an error, it is normal). A read that
 * meets end-of-file before n bytes is an error. */
int bench_fd_write_all(int fd, const uint8_t *p, size_t n, const char *what, bench_err_t *err);
int bench_fd_read_all(int fd, uint8_t *p, size_t n, const char *what, bench_err_t *err);

/* Waits up to timeout_ms for one byte on fd; 0 if it came. */
int bench_fd_wait_byte(int fd, int timeout_ms, const char *what, bench_err_t *err);

/* Is there a line in /proc/sysvipc/<table> (shm, sem or msg) whose id
 * column is `id` (or, with id < 0, whose key column is `key`)? 1 yes,
 * 0 no, -1 unreadable. */
int bench_sysvipc_present(const char *table, long key, long id);

/* First integer in a /proc/sys file, or `fallback` if unreadable. */
long bench_proc_long(const char *path, long fallback);

/* The smallest power of two >= v (v <= 2^31). */
uint32_t bench_pow2_ceil(uint32_t v);

/* Ring bytes per direction for messages of `size` bytes: a shmchan lane
 * holding at least four frames (payload + 24-byte header), a power of two,
 * at least 64 KiB. The spin ring gets the same budget. */
uint32_t bench_lane_bytes(uint32_t size);

/* CPU hint for spin loops. */
static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* SHMCHAN_BENCH_UTIL_H */
