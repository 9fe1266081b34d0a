/*
 * sched.c - cooperative tasks and the byte source (see sched.h).
 *
 * Stacks come from a static pool reused by every run (no allocation per
 * run). Under ASan and TSan each switch is announced to the sanitizer
 * (the fiber interfaces of <sanitizer/common_interface_defs.h> and
 * <sanitizer/tsan_interface.h>): without that, ASan's fake stacks and
 * TSan's shadow call stack would follow the wrong stack.
 */
#include "sim/sched.h"

/* Declares shmchan_sim_shm_access, the hook this file defines (sim/BUILD
 * compiles this file and src/ with SHMCHAN_SIM_SHM_SWITCH). */
#include "src/shm_atomic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if __has_feature(thread_sanitizer)
#define SIM_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif
#endif

#if defined(SIM_ASAN) || defined(SIM_TSAN)
#define SIM_STACK_SIZE (1024u * 1024u)
#else
#define SIM_STACK_SIZE (256u * 1024u)
#endif

sim_sched_t *sim_active;

/* How many switch points a call may make after its deadline before it
 * returns: the last round of a loop, ending at the gate. A loop that
 * ignores its deadline, or that a peer keeps going, exceeds it. */
#define SIM_LATE_STEPS_MAX 400u

static _Alignas(64) uint8_t stack_pool[SIM_MAX_TASKS][SIM_STACK_SIZE];

void __real_free(void *p);

/* FNV-1a of the input seeds the PRNG that follows it. */
static uint64_t seed_of(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++) {
        h = (h ^ data[i]) * 1099511628211ull;
    }
    return h | 1u;
}

void sim_sched_init(sim_sched_t *s, const uint8_t *data, size_t size, int trace)
{
    memset(s, 0, sizeof *s);
    simk_init(&s->kernel);
    s->current = -1;
    s->last = -1;
    s->now = 1000000000; /* 1 s after boot: deadlines never near 0 */
    s->data = data;
    s->size = size;
    s->prng = seed_of(data, size);
    s->trace = trace;
    sim_active = s;
#ifdef SIM_TSAN
    s->main_tsan_fiber = __tsan_get_current_fiber();
#endif
}

static void free_allocs(sim_task_t *t)
{
    for (int i = 0; i < SIM_MAX_ALLOCS; i++) {
        if (t->allocs[i] != NULL) {
            __real_free(t->allocs[i]);
            t->allocs[i] = NULL;
        }
    }
}

void sim_sched_fini(sim_sched_t *s)
{
    for (int i = 0; i < SIM_MAX_TASKS; i++) {
        sim_task_t *t = &s->tasks[i];
        if (t->state == SIM_TASK_FREE) {
            continue;
        }
        free_allocs(t);
#ifdef SIM_TSAN
        if (t->tsan_fiber != NULL) {
            __tsan_destroy_fiber(t->tsan_fiber);
        }
#endif
    }
    simk_fini(&s->kernel);
    sim_active = NULL;
}

uint8_t sim_byte(sim_sched_t *s)
{
    if (s->pos < s->size) {
        return s->data[s->pos++];
    }
    /* xorshift64*: fixed, so an input and its tail replay alike. */
    s->prng ^= s->prng >> 12;
    s->prng ^= s->prng << 25;
    s->prng ^= s->prng >> 27;
    return (uint8_t)((s->prng * 2685821657736338717ull) >> 56);
}

uint32_t sim_choose(sim_sched_t *s, uint32_t n)
{
    if (n <= 1) {
        return 0;
    }
    uint32_t v = sim_byte(s);
    if (n > 256) {
        v = (v << 8) | sim_byte(s);
    }
    return v % n;
}

sim_task_t *sim_current(void)
{
    sim_sched_t *s = sim_active;
    if (s == NULL || s->current < 0) {
        return NULL;
    }
    return &s->tasks[s->current];
}

void sim_fail(sim_sched_t *s, const char *fmt, ...)
{
    if (s->failed) {
        return;
    }
    s->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(s->failure, sizeof s->failure, fmt, ap);
    va_end(ap);
    if (s->trace) {
        fprintf(stderr, "[%10.3f ms] FAILURE: %s\n", (double)(s->now - 1000000000) / 1e6,
                s->failure);
    }
}

void sim_trace(sim_sched_t *s, const char *fmt, ...)
{
    if (!s->trace) {
        return;
    }
    const sim_task_t *t = s->current >= 0 ? &s->tasks[s->current] : NULL;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%10.3f ms] %-9s %s\n", (double)(s->now - 1000000000) / 1e6,
            t != NULL ? t->name : "world", text);
}

/* ------------------------------------------------------------ switching */

static void to_task(sim_sched_t *s, sim_task_t *t)
{
    s->current = t->index;
#ifdef SIM_ASAN
    __sanitizer_start_switch_fiber(&s->main_fake_stack, stack_pool[t->index], SIM_STACK_SIZE);
#endif
#ifdef SIM_TSAN
    __tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
    (void)swapcontext(&s->main_ctx, &t->ctx);
#ifdef SIM_ASAN
    __sanitizer_finish_switch_fiber(s->main_fake_stack, NULL, NULL);
#endif
    s->current = -1;
}

/* From a task to the scheduler. `ending`: this task never runs again. */
static void to_main(sim_sched_t *s, sim_task_t *t, int ending)
{
#ifdef SIM_ASAN
    __sanitizer_start_switch_fiber(ending ? NULL : &t->fake_stack, s->main_stack_bottom,
                                   s->main_stack_size);
#endif
#ifdef SIM_TSAN
    __tsan_switch_to_fiber(s->main_tsan_fiber, 0);
#endif
    (void)ending;
    (void)swapcontext(&t->ctx, &s->main_ctx);
#ifdef SIM_ASAN
    __sanitizer_finish_switch_fiber(t->fake_stack, NULL, NULL);
#endif
}

static void task_entry(int index)
{
    sim_sched_t *s = sim_active;
    sim_task_t *t = &s->tasks[index];
#ifdef SIM_ASAN
    __sanitizer_finish_switch_fiber(NULL, &s->main_stack_bottom, &s->main_stack_size);
#endif
    t->body(t);
    /* exit(2): the kernel's undo and detach, and the address space goes. */
    simk_proc_exit(&s->kernel, t->proc);
    free_allocs(t);
    t->state = SIM_TASK_DONE;
    sim_trace(s, "exits");
    to_main(s, t, 1);
    abort(); /* never resumed */
}

sim_task_t *sim_spawn(sim_sched_t *s, const char *name, uid_t uid, sim_body_fn body,
                      void *actor)
{
    for (int i = 0; i < SIM_MAX_TASKS; i++) {
        sim_task_t *t = &s->tasks[i];
        if (t->state != SIM_TASK_FREE) {
            continue;
        }
        const pid_t pid = (pid_t)(100 + i);
        const int proc = simk_proc_new(&s->kernel, pid, uid);
        if (proc < 0) {
            return NULL;
        }
        memset(t, 0, sizeof *t);
        t->state = SIM_TASK_RUNNABLE;
        t->index = i;
        t->proc = proc;
        t->pid = pid;
        t->uid = uid;
        t->body = body;
        t->actor = actor;
        t->park_semid = -1;
        (void)snprintf(t->name, sizeof t->name, "%s", name);
#ifdef SIM_ASAN
        /* A killed task left its frames' redzones poisoned. */
        __asan_unpoison_memory_region(stack_pool[i], SIM_STACK_SIZE);
#endif
#ifdef SIM_TSAN
        t->tsan_fiber = __tsan_create_fiber(0);
#endif
        (void)getcontext(&t->ctx);
        t->ctx.uc_stack.ss_sp = stack_pool[i];
        t->ctx.uc_stack.ss_size = SIM_STACK_SIZE;
        t->ctx.uc_link = NULL;
        makecontext(&t->ctx, (void (*)(void))task_entry, 1, i);
        sim_trace(s, "spawns %s (pid %d, uid %u)", t->name, (int)pid, (unsigned)uid);
        return t;
    }
    return NULL;
}

void sim_switch_point(void)
{
    sim_sched_t *s = sim_active;
    sim_task_t *t = &s->tasks[s->current];
    s->now += SIM_SYSCALL_NS;
    t->steps++;
    if (t->call != NULL && s->now > t->call_deadline) {
        t->call_steps_late++;
        if (t->call_steps_late > SIM_LATE_STEPS_MAX) {
            sim_fail(s, "%s: %s still running %.3f ms after its deadline (%llu system calls late): "
                        "a livelock",
                     t->name, t->call, (double)(s->now - t->call_deadline) / 1e6,
                     (unsigned long long)t->call_steps_late);
        }
    }
    /* A cancel flag is honoured within one liveness period (the one wait
     * that may miss it is capped at a period: src/sysv.c, wake.h). */
    if (t->call != NULL && t->cancel) {
        const int64_t since = t->cancel_at > t->call_start ? t->cancel_at : t->call_start;
        if (s->now > since + SIM_PERIOD_NS + SIM_SLACK_NS) {
            sim_fail(s, "%s: %s still running %.3f ms after its cancel flag was set", t->name,
                     t->call, (double)(s->now - since) / 1e6);
        }
    }
    to_main(s, t, 0);
}

/* A switch point at a shared-memory access (src/shm_atomic.h): another
 * task may run between two accesses of this one, as on a second core. One
 * input byte decides whether to yield here (1 in SIM_SHM_YIELD_ONE_IN of
 * the bytes): yielding at every access would multiply a run's slices, and
 * with them the input a fuzzer must find, for little gain. The clock does
 * not move and the call's step count does not grow: a memory access costs
 * no system call, and the livelock oracle counts system calls. Accesses
 * outside a task (the world setting up or checking a run) never switch. */
#define SIM_SHM_YIELD_ONE_IN 8u

void shmchan_sim_shm_access(void)
{
    sim_sched_t *s = sim_active;
    if (s == NULL || s->current < 0) {
        return;
    }
    if (sim_byte(s) % SIM_SHM_YIELD_ONE_IN != 0) {
        return;
    }
    to_main(s, &s->tasks[s->current], 0);
}

void sim_park(int semid, uint32_t version, int64_t until)
{
    sim_sched_t *s = sim_active;
    sim_task_t *t = &s->tasks[s->current];
    t->state = SIM_TASK_PARKED;
    t->park_semid = semid;
    t->park_version = version;
    t->park_until = until;
    to_main(s, t, 0);
    t->state = SIM_TASK_RUNNABLE;
}

/* park_semid of a task in sim_sleep: no set, only the time or a signal. */
#define SIM_PARK_SLEEP (-2)

void sim_sleep(int64_t ns)
{
    sim_sched_t *s = sim_active;
    sim_task_t *t = &s->tasks[s->current];
    sim_park(SIM_PARK_SLEEP, 0, s->now + ns);
    t->signal_pending = 0;
    t->park_semid = -1;
}

static int can_run(const sim_sched_t *s, const sim_task_t *t)
{
    if (t->state == SIM_TASK_RUNNABLE) {
        return 1;
    }
    if (t->state != SIM_TASK_PARKED) {
        return 0;
    }
    if (t->park_semid == SIM_PARK_SLEEP) {
        return s->now >= t->park_until || t->signal_pending;
    }
    const simk_sem_t *set = simk_sem_find(&s->kernel, t->park_semid);
    return set == NULL || set->version != t->park_version || s->now >= t->park_until ||
           t->signal_pending;
}

/* A fingerprint of the kernel's IPC state: it changes whenever an object
 * is made, attached, detached or removed, or a semaphore value changes
 * (a set's version). What a change-counting hold waits for. */
static uint64_t kernel_epoch(const simk_t *k)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < SIMK_SEMMNI; i++) {
        h = (h ^ (uint64_t)(uint32_t)k->sem[i].id) * 1099511628211ull;
        h = (h ^ k->sem[i].version) * 1099511628211ull;
    }
    for (int i = 0; i < SIMK_SHMMNI; i++) {
        h = (h ^ (uint64_t)(uint32_t)k->shm[i].id) * 1099511628211ull;
        h = (h ^ ((uint64_t)k->shm[i].nattch << 1 | (uint64_t)k->shm[i].dest)) * 1099511628211ull;
    }
    return h;
}

/* At most this many slices of others: others that spin without changing
 * anything (a process waiting for this one) must not stall it for long. */
#define SIM_HOLD_CHANGES_CAP 64u

void sim_hold_changes(sim_task_t *t, uint32_t changes)
{
    t->hold = SIM_HOLD_CHANGES_CAP;
    t->hold_changes = changes;
    t->hold_epoch = kernel_epoch(&sim_active->kernel);
}

int sim_sched_step(sim_sched_t *s)
{
    int ready[SIM_MAX_TASKS];
    int n = 0;
    int held = 0;
    int alive = 0;
    int64_t earliest = INT64_MAX;
    uint64_t epoch = 0;
    int have_epoch = 0;
    for (int i = 0; i < SIM_MAX_TASKS; i++) {
        sim_task_t *t = &s->tasks[i];
        if (t->hold_changes > 0) {
            if (!have_epoch) {
                epoch = kernel_epoch(&s->kernel);
                have_epoch = 1;
            }
            /* A count left over from a hold that ran out of slices may end
             * a later hold of this task early: still a schedule a real
             * kernel can produce, so no run becomes invalid. */
            if (epoch != t->hold_epoch) {
                t->hold_epoch = epoch;
                if (--t->hold_changes == 0) {
                    t->hold = 0;
                }
            }
        }
        if (t->state == SIM_TASK_RUNNABLE || t->state == SIM_TASK_PARKED) {
            alive++;
            if (can_run(s, t)) {
                if (t->hold > 0) {
                    held++;
                } else {
                    ready[n++] = i;
                }
            } else if (t->park_until < earliest) {
                earliest = t->park_until;
            }
        }
    }
    if (n == 0 && held > 0) {
        /* Only held tasks could run: the hold ends (a preemption lasts
         * while others have work, it never makes the clock jump). */
        for (int i = 0; i < SIM_MAX_TASKS; i++) {
            sim_task_t *t = &s->tasks[i];
            if (t->hold > 0 && (t->state == SIM_TASK_RUNNABLE || t->state == SIM_TASK_PARKED) &&
                can_run(s, t)) {
                t->hold = 0;
                t->hold_changes = 0;
                ready[n++] = i;
            }
        }
    }
    if (alive == 0 || s->failed) {
        return 0;
    }
    s->slices++;
    if (n == 0) {
        /* Everyone sleeps: time jumps to the first timeout (every wait in
         * shmchan has one; a wait without would be a hang, found here). */
        if (earliest == INT64_MAX) {
            sim_fail(s, "every process waits and none has a timeout: a hang");
            return 0;
        }
        sim_trace(s, "clock jumps %.3f ms", (double)(earliest - s->now) / 1e6);
        s->now = earliest;
        return 1;
    }
    sim_task_t *t = &s->tasks[ready[sim_choose(s, (uint32_t)n)]];
    for (int i = 0; i < SIM_MAX_TASKS; i++) {
        if (s->tasks[i].hold > 0) {
            s->tasks[i].hold--; /* a slice of another task */
        }
    }
    s->last = t->index;
    to_task(s, t);
    return 1;
}

void sim_kill(sim_sched_t *s, sim_task_t *t)
{
    if (t->state != SIM_TASK_RUNNABLE && t->state != SIM_TASK_PARKED) {
        return;
    }
    sim_trace(s, "kill -9 %s (pid %d)%s%s", t->name, (int)t->pid, t->call ? " inside " : "",
              t->call ? t->call : "");
    simk_proc_exit(&s->kernel, t->proc);
    free_allocs(t);
    t->state = SIM_TASK_KILLED;
    t->call = NULL;
}

void sim_signal(sim_sched_t *s, sim_task_t *t, int set_cancel)
{
    if (t->state != SIM_TASK_RUNNABLE && t->state != SIM_TASK_PARKED) {
        return;
    }
    sim_trace(s, "signal to %s%s%s", t->name, set_cancel ? " (handler sets cancel)" : "",
              t->state == SIM_TASK_PARKED ? ", semop gets EINTR" : "");
    if (set_cancel && !t->cancel) {
        t->cancel = 1;
        t->cancel_at = s->now;
    }
    if (t->state == SIM_TASK_PARKED) {
        t->signal_pending = 1;
    }
}

void sim_call_begin(const char *name, int timeout_ms)
{
    sim_sched_t *s = sim_active;
    sim_task_t *t = &s->tasks[s->current];
    t->call = name;
    t->call_start = s->now;
    t->call_deadline = s->now + (int64_t)timeout_ms * 1000000;
    t->call_preempted_at = s->preempted_ns;
    t->call_steps_late = 0;
}

void sim_call_end(void)
{
    sim_sched_t *s = sim_active;
    sim_task_t *t = &s->tasks[s->current];
    int64_t late = s->now - t->call_deadline;
    /* A call that may not wait (timeout 0: its deadline is its start) is
     * judged on its own time: the clock the world's preemptions moved
     * while it ran is not its doing. A sweep of a channel's 256 connection
     * keys makes ~260 system calls, each a slice the world may preempt
     * (found by the campaign: seed 1624, 443 ms of preemption). A call
     * that sleeps is still caught, and the steps rule bounds its calls.
     * Waits keep the absolute rule: their deadline already absorbs the
     * preemptions before it. */
    if (t->call_deadline == t->call_start) {
        late -= s->preempted_ns - t->call_preempted_at;
    }
    if (late > 2 * SIM_PERIOD_NS + SIM_SLACK_NS) {
        sim_fail(s, "%s: %s returned %.3f ms after its deadline", t->name, t->call,
                 (double)late / 1e6);
    }
    if (t->call_steps_late > SIM_LATE_STEPS_MAX) {
        sim_fail(s, "%s: %s returned %.3f ms after its deadline, %llu system calls late",
                 t->name, t->call, (double)(s->now - t->call_deadline) / 1e6,
                 (unsigned long long)t->call_steps_late);
    }
    t->call = NULL;
}
