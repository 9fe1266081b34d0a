/*
 * wake.c - binary wake semaphores and deadlines (see wake.h).
 */
#include <sys/ipc.h>
#include <sys/sem.h>

#include "sysv.h"
#include "wake.h"

shmchan_err_t shmchan_wake_post(int semid, unsigned short sem, shmchan_diag_t *diag)
{
    struct sembuf ops[2] = {
        {.sem_num = sem, .sem_op = 0, .sem_flg = IPC_NOWAIT},
        {.sem_num = sem, .sem_op = 1, .sem_flg = 0},
    };
    const shmchan_err_t err = shmchan_sys_semop(semid, ops, 2, 0, NULL, diag);
    /* WOULD_BLOCK: it is already 1, the sleeper will wake anyway. */
    return (err == SHMCHAN_E_WOULD_BLOCK) ? SHMCHAN_OK : err;
}

shmchan_err_t shmchan_wake_wait(int semid, unsigned short sem, int64_t timeout_ns,
                                const volatile sig_atomic_t *cancel)
{
    if (timeout_ns <= 0) {
        return SHMCHAN_E_TIMEOUT;
    }
    struct sembuf op = {.sem_num = sem, .sem_op = -1, .sem_flg = 0};
    return shmchan_sys_semop(semid, &op, 1, timeout_ns, cancel, NULL);
}

int64_t shmchan_deadline_after_ms(int timeout_ms)
{
    const int64_t ms = timeout_ms > 0 ? timeout_ms : 0;
    return shmchan_sys_now_ns() + ms * 1000000;
}

int64_t shmchan_deadline_left_ns(int64_t deadline)
{
    const int64_t left = deadline - shmchan_sys_now_ns();
    return left > 0 ? left : 0;
}

void shmchan_wait_begin(shmchan_wait_t *w, int timeout_ms, const volatile sig_atomic_t *cancel)
{
    w->timeout_ms = timeout_ms;
    w->started = 0;
    w->deadline = 0;
    w->next_check = 0;
    w->cancel = cancel;
}

int shmchan_wait_period_due(shmchan_wait_t *w)
{
    const int64_t now = shmchan_sys_now_ns();
    if (w->started && now < w->next_check) {
        return 0;
    }
    w->next_check = now + (int64_t)SHMCHAN_LIVENESS_PERIOD_MS * 1000000;
    return 1;
}

int shmchan_wait_cancelled(const volatile sig_atomic_t *cancel)
{
    return cancel != NULL && *cancel != 0;
}

shmchan_err_t shmchan_wait_gate(shmchan_wait_t *w, int64_t *sleep_ns)
{
    *sleep_ns = 0;
    if (shmchan_wait_cancelled(w->cancel)) {
        return SHMCHAN_E_INTERRUPTED;
    }
    if (!w->started) {
        w->deadline = shmchan_deadline_after_ms(w->timeout_ms);
        w->next_check = shmchan_sys_now_ns() + (int64_t)SHMCHAN_LIVENESS_PERIOD_MS * 1000000;
        w->started = 1;
    }
    const int64_t left = shmchan_deadline_left_ns(w->deadline);
    if (left <= 0) {
        return SHMCHAN_E_TIMEOUT;
    }
    /* Sleep at most one liveness period: the caller looks at its peer's
     * token (and the cancel flag, here) at least that often. */
    const int64_t period = (int64_t)SHMCHAN_LIVENESS_PERIOD_MS * 1000000;
    *sleep_ns = left < period ? left : period;
    return SHMCHAN_OK;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int shmchan_spin_until(int (*ready)(void *), void *arg, uint32_t spin_ns)
{
    if (ready(arg)) {
        return 1;
    }
    if (spin_ns == 0) {
        return 0;
    }
    const int64_t end = shmchan_sys_now_ns() + (int64_t)spin_ns;
    for (;;) {
        /* The clock costs ~25 ns here; read it once per 64 checks. */
        for (int i = 0; i < 64; i++) {
            cpu_relax();
            if (ready(arg)) {
                return 1;
            }
        }
        if (shmchan_sys_now_ns() >= end) {
            return 0;
        }
    }
}
