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

/* The next sleep: what is left, capped at the liveness period. */
int64_t shmchan_next_sleep_ns(int64_t deadline);

/* Bounded spin before sleeping: calls ready(arg) until it returns non-zero
 * or spin_ns nanoseconds have passed. Returns ready's last answer. */
int shmchan_spin_until(int (*ready)(void *), void *arg, uint32_t spin_ns);

#endif /* SHMCHAN_WAKE_H */
