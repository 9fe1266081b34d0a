/*
 * sched.h - simulated processes as cooperative tasks (ucontext), one
 * running at a time, and the deterministic byte source that makes every
 * choice (docs/simulation.md, "Scheduler").
 *
 * A task gives up the processor only at a switch point: the entry of every
 * simulated system call (sim/sysv_wrap.c). Between two switch points it
 * runs alone, so a run is a sequence of slices; before each slice the
 * world may act (kill, signal, remove, a hostile peer's move) and the next
 * task is picked, both from input bytes. When the input runs out, bytes
 * come from a PRNG seeded by the input, so every run ends the same way.
 */
#ifndef SHMCHAN_SIM_SCHED_H
#define SHMCHAN_SIM_SCHED_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ucontext.h>

#include "sim/kernel.h"

#define SIM_MAX_TASKS 8
#define SIM_MAX_ALLOCS 16
/* Virtual cost of one system call: the clock moves by this at every switch
 * point, so no loop that makes system calls can stop time. */
#define SIM_SYSCALL_NS 1000
/* One liveness period (SHMCHAN_LIVENESS_PERIOD_MS) and the slack the
 * oracles allow on top of a bound in periods: a few hundred system calls
 * and a preemption or two. */
#define SIM_PERIOD_NS 100000000
#define SIM_SLACK_NS 15000000

typedef enum sim_task_state {
    SIM_TASK_FREE = 0,
    SIM_TASK_RUNNABLE,
    SIM_TASK_PARKED, /* in semtimedop: waits for its set to change, a signal or the time */
    SIM_TASK_DONE,
    SIM_TASK_KILLED
} sim_task_state_t;

/* The kind of simulated system call a task is entering (sysv_wrap.c sets
 * it for the switch point at the call's entry): the world's timed events
 * fire at "the n-th call of kind K" of a chosen process (world.c). */
typedef enum sim_sys_kind {
    SIM_SYS_NONE = 0, /* not at a system call (a shared-memory access, an actor's yield) */
    SIM_SYS_SEMGET,
    SIM_SYS_SEMOP,
    SIM_SYS_SEMCTL_GET, /* GETVAL, GETPID, GETALL, GETNCNT, GETZCNT */
    SIM_SYS_SEMCTL_SET, /* SETVAL, SETALL */
    SIM_SYS_SEMCTL_IPC, /* IPC_STAT, IPC_SET, IPC_RMID, ... */
    SIM_SYS_SHMGET,
    SIM_SYS_SHMAT,
    SIM_SYS_SHMDT,
    SIM_SYS_SHMCTL,
    SIM_SYS_OTHER, /* the clock, time, getrandom, ids */
    SIM_SYS_KINDS
} sim_sys_kind_t;

struct sim_task;
typedef void (*sim_body_fn)(struct sim_task *t);

typedef struct sim_task {
    sim_task_state_t state;
    int index;
    int proc; /* the kernel's process */
    pid_t pid;
    uid_t uid;
    char name[16];
    sim_body_fn body;
    void *actor; /* the world's data for this actor */
    ucontext_t ctx;
    /* Parked in semtimedop. */
    int park_semid;
    uint32_t park_version;
    int64_t park_until;
    int signal_pending; /* EINTR for the next parked wait (or the current one) */
    volatile sig_atomic_t cancel;
    /* Heap blocks this process owns: freed by the simulated kill. */
    void *allocs[SIM_MAX_ALLOCS];
    /* The library call in progress (oracle: returns by its deadline). */
    const char *call;
    int64_t call_start;
    int64_t call_deadline;
    int64_t call_preempted_at; /* preempted_ns when the call began */
    int64_t cancel_at; /* when a signal handler set `cancel` */
    uint64_t call_steps_late; /* switch points after the deadline */
    uint64_t steps;
    uint32_t faults_injected; /* resource faults this process was given */
    /* The system call this task waits to enter (SIM_SYS_NONE elsewhere). */
    sim_sys_kind_t at_sys;
    /* Held off the processor for this many slices of other tasks (a long
     * preemption at a chosen point: world.c); released early when nothing
     * else can run, so a hold never stops the clock or starves a sleeper. */
    uint32_t hold;
    /* Or held until other processes have changed the IPC state this many
     * times (an object made, attached, detached or removed, a semaphore
     * changed): a slow process whose steps straddle others' (world.c). */
    uint32_t hold_changes;
    uint64_t hold_epoch;
    /* Sanitizer fiber state. */
    void *fake_stack;
    void *tsan_fiber;
} sim_task_t;

typedef struct sim_sched {
    simk_t kernel;
    sim_task_t tasks[SIM_MAX_TASKS];
    int current; /* -1: the scheduler itself */
    int last;    /* the task that ran the last slice, -1 before any */
    int64_t now; /* virtual CLOCK_MONOTONIC, ns */
    int64_t preempted_ns; /* how much of `now` the world's preemptions added */
    uint64_t slices;
    const uint8_t *data;
    size_t size, pos;
    uint64_t prng;
    int trace;
    /* Resource faults may be injected into calls that allocate (sysv_wrap.c):
     * set from the scenario, cleared for the epilogue. */
    int faults;
    int failed;
    char failure[320];
    ucontext_t main_ctx;
    void *main_fake_stack;
    const void *main_stack_bottom;
    size_t main_stack_size;
    void *main_tsan_fiber;
} sim_sched_t;

/* The one world in progress (the system call wrappers find it here). */
extern sim_sched_t *sim_active;

void sim_sched_init(sim_sched_t *s, const uint8_t *data, size_t size, int trace);
void sim_sched_fini(sim_sched_t *s);

/* A byte of input, then of the PRNG. */
uint8_t sim_byte(sim_sched_t *s);
/* A value in [0, n) (n >= 1) from one byte (two if n > 256). */
uint32_t sim_choose(sim_sched_t *s, uint32_t n);

/* A new process running body(t); NULL if the tables are full. */
sim_task_t *sim_spawn(sim_sched_t *s, const char *name, uid_t uid, sim_body_fn body,
                      void *actor);

/* Runs one slice: picks a task that can run (from input bytes) and lets it
 * run to its next switch point, or moves the clock to the earliest wake-up
 * when every task is parked. 0 when every task has ended. */
int sim_sched_step(sim_sched_t *s);

/* From a task: a switch point (the clock moves by SIM_SYSCALL_NS). */
void sim_switch_point(void);
/* From a task: park until the set changes, the time, or a signal. */
void sim_park(int semid, uint32_t version, int64_t until);

/* From a task: sleep for ns of virtual time (a process that starts
 * later; a signal ends the sleep early). */
void sim_sleep(int64_t ns);

/* From the scheduler: hold t until others changed the IPC state
 * `changes` times (sim_task_t.hold_changes). */
void sim_hold_changes(sim_task_t *t, uint32_t changes);

/* From the scheduler (between slices). */
void sim_kill(sim_sched_t *s, sim_task_t *t);
void sim_signal(sim_sched_t *s, sim_task_t *t, int set_cancel);

/* The current task, or NULL when the scheduler runs. */
sim_task_t *sim_current(void);

/* Oracle bookkeeping for a library call of the current task. */
void sim_call_begin(const char *name, int timeout_ms);
void sim_call_end(void);

/* Records the first failure (the run is then stopped). */
void sim_fail(sim_sched_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One trace line: "[virtual ms] who: text" (only with tracing on). */
void sim_trace(sim_sched_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* SHMCHAN_SIM_SCHED_H */
