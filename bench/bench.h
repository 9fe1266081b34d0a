/*
 * bench.h - ipcbench: the types every part of the benchmark shares and the
 * interface each transport implements.
 *
 * A cell is one (transport, mode, message size). For each cell the driver
 * forks two processes: side A (producer in stream mode, pinger in pingpong)
 * on the first CPU and side B (consumer, echoer) on the second. Transports
 * only move bytes; timing, verification and statistics live in side.c and
 * cell.c, identical for every transport.
 */
#ifndef SHMCHAN_BENCH_BENCH_H
#define SHMCHAN_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef enum bench_side { BENCH_SIDE_A = 0, BENCH_SIDE_B = 1 } bench_side_t;

typedef enum bench_mode {
    BENCH_MODE_STREAM = 0,   /* A sends, B receives: one-way throughput */
    BENCH_MODE_PINGPONG = 1, /* A sends, B echoes, A waits: round trip */
    BENCH_MODE_COUNT
} bench_mode_t;

const char *bench_mode_name(bench_mode_t mode);

/* One line saying what failed; every fallible function takes one. */
typedef struct bench_err {
    char text[320];
} bench_err_t;

void bench_err_set(bench_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What a transport is told about the cell it carries. */
typedef struct bench_cell {
    uint32_t size;      /* every message is exactly this many bytes */
    bench_mode_t mode;  /* pingpong needs the B -> A direction too */
    uint32_t spin_ns;   /* shmchan_spin: bounded spin before sleeping */
    uint32_t lane_bytes; /* shmchan: lane_capacity (0: bench_lane_bytes(size)) */
    uint32_t serial;    /* distinct for each cell of a run: keys, names */
} bench_cell_t;

/*
 * A transport. Call order, and in which process:
 *   parent: create -> fork A and B -> parent_detach
 *   B: open(B) ... send/recv ... close      A: open(A) ... send/recv ... close
 *   parent (after both exited, also after a failure): destroy
 * B opens before A (a shmchan server must exist before its client connects)
 * and closes after A. send/recv move exactly one whole message of `len`
 * bytes to/from the other side, blocking until done; 0 on success, -1 with
 * err set. destroy removes whatever the transport made and returns -1 if
 * any kernel object was left behind.
 */
typedef struct bench_transport {
    const char *name;
    int (*create)(const bench_cell_t *cell, void **state, bench_err_t *err);
    void (*parent_detach)(void *state);
    int (*open)(void *state, bench_side_t side, bench_err_t *err);
    int (*send)(void *state, const uint8_t *msg, uint32_t len, bench_err_t *err);
    int (*recv)(void *state, uint8_t *buf, uint32_t len, bench_err_t *err);
    void (*close)(void *state);
    int (*destroy)(void *state, bench_err_t *err);
} bench_transport_t;

extern const bench_transport_t bench_transport_shmchan;
extern const bench_transport_t bench_transport_shmchan_spin;
extern const bench_transport_t bench_transport_shmchan_sleep;
extern const bench_transport_t bench_transport_shmchan_multiuser;
extern const bench_transport_t bench_transport_pipe;
extern const bench_transport_t bench_transport_socketpair;
extern const bench_transport_t bench_transport_sysv_mq;
extern const bench_transport_t bench_transport_posix_mq;
extern const bench_transport_t bench_transport_spin_ring;

/* CLOCK_MONOTONIC in nanoseconds: the only clock the benchmark reads. */
int64_t bench_now_ns(void);

/* How long any single blocking step may take before the cell is declared
 * hung (a transport's own timeouts and the spin ring's deadline). */
#define BENCH_STEP_TIMEOUT_MS 10000

#endif /* SHMCHAN_BENCH_BENCH_H */
