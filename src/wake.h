/*
 * wake.h - sleeping and waking across processes with binary SysV semaphores.
 *
 * A wake semaphore holds 0 or 1, never more: wake_post raises it only if it
 * is 0, in one atomic semop ({sem, 0, IPC_NOWAIT}, {sem, +1}), so no number
 * of posts can approach SEMVMX. Posts carry no count: the sleeper always
 * re-checks the lane after waking, so a stale token costs one extra loop and
 * a lost one is impossible (docs/protocol.md, "Waking a sleeper"). No
 * SEM_UNDO here: the poster and the sleeper are different processes.
 */
#ifndef SHMCHAN_WAKE_H
#define SHMCHAN_WAKE_H

#include <signal.h>
#include <stdint.h>

#include "shmchan.h"

/* Raises the semaphore to 1 if it is 0. SHMCHAN_OK also when it was 1.
 * diag (may be NULL) names the failing call. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_wake_post(int semid, unsigned short sem,
                                                   shmchan_diag_t *diag);

/* Takes the token, waiting at most timeout_ns (> 0). SHMCHAN_OK (woken),
 * SHMCHAN_E_TIMEOUT, SHMCHAN_E_CLOSED (set removed), SHMCHAN_E_INTERRUPTED. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_wake_wait(int semid, unsigned short sem,
                                                   int64_t timeout_ns,
                                                   const volatile sig_atomic_t *cancel);

/* Deadlines: now + ms, and what is left of one (0 when passed). */
int64_t shmchan_deadline_after_ms(int timeout_ms);
int64_t shmchan_deadline_left_ns(int64_t deadline);

/* The gate of a blocking call. Every round of every loop that may sleep
 * passes through shmchan_wait_gate, and nowhere else decides to stop: the
 * cancel flag first (a flag already set wins over data that merely might
 * arrive), then the deadline. The deadline is the loop's bound, and no
 * peer can extend it: a peer that keeps a lane looking busy makes the loop
 * go round, never makes the gate answer later. The clock is read only once
 * a call has to wait (the deadline starts at the first gate). */
typedef struct shmchan_wait {
    int timeout_ms;
    int started;
    int64_t deadline;   /* monotonic ns, valid once started */
    int64_t next_check; /* monotonic ns: when a liveness period is next due */
    const volatile sig_atomic_t *cancel;
} shmchan_wait_t;

void shmchan_wait_begin(shmchan_wait_t *w, int timeout_ms, const volatile sig_atomic_t *cancel);

/* 1 if the caller's cancel flag is set (a cheap volatile load). */
int shmchan_wait_cancelled(const volatile sig_atomic_t *cancel);

/* 1 once a liveness period has passed since the gate first ran or since
 * this last said 1 (time, not the number of sleeps: a peer can end every
 * sleep early with a post, it cannot speed up the clock). */
int shmchan_wait_period_due(shmchan_wait_t *w);

/* SHMCHAN_OK with *sleep_ns = min(time left, the liveness period) > 0;
 * SHMCHAN_E_INTERRUPTED if the cancel flag is set; SHMCHAN_E_TIMEOUT once
 * the deadline has passed. */
SHMCHAN_MUST_CHECK shmchan_err_t shmchan_wait_gate(shmchan_wait_t *w, int64_t *sleep_ns);

/* Bounded spin before sleeping: calls ready(arg) until it returns non-zero
 * or spin_ns nanoseconds have passed. Returns ready's last answer. */
int shmchan_spin_until(int (*ready)(void *), void *arg, uint32_t spin_ns);

#endif /* SHMCHAN_WAKE_H */
