/*
 * cell.c - one cell: fork, pin, wait, clean up, reduce (see cell.h).
 */
/* sched_setaffinity(2), sched_getaffinity(2), CPU_SET and MAP_ANONYMOUS are
 * GNU/BSD extensions, not in POSIX. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/cell.h"
#include "bench/stats.h"
#include "bench/util.h"

int bench_cpus_pick(int cpus[2], bench_err_t *err)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        bench_err_set(err, "sched_getaffinity: %s", strerror(errno));
        return -1;
    }
    int found = 0;
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++) {
        if (CPU_ISSET(c, &set)) {
            cpus[found++] = c;
        }
    }
    if (found == 0) {
        bench_err_set(err, "no CPU in the affinity mask");
        return -1;
    }
    if (found == 1) {
        cpus[1] = cpus[0];
    }
    return found;
}

static int pin_to(int cpu, bench_err_t *err)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        bench_err_set(err, "sched_setaffinity(cpu %d): %s", cpu, strerror(errno));
        return -1;
    }
    return 0;
}

/* The watchdog: a side still running after this many seconds is hung (a
 * transport waiting for a message that will never come); SIGALRM's default
 * action ends it and the parent reports the signal. */
static unsigned watchdog_seconds(const bench_plan_t *plan)
{
    const double planned = plan->warmup_seconds + plan->seconds * (double)plan->reps;
    return 60u + (unsigned)ceil(planned * 4.0);
}

struct cell_run {
    const bench_transport_t *transport;
    const bench_cell_t *cell;
    const bench_plan_t *plan;
    void *state;
    bench_shared_t *shared;
    int ready[2]; /* B -> A: opened */
    int done[2];  /* A -> B: finished */
    pid_t pid[2];
};

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

static void close_sync(struct cell_run *c)
{
    close_fd(&c->ready[0]);
    close_fd(&c->ready[1]);
    close_fd(&c->done[0]);
    close_fd(&c->done[1]);
}

static void child_main(struct cell_run *c, bench_side_t side, int cpu)
{
    bench_err_t *err = &c->shared->err[side];
    /* Each side keeps only its own ends, so a peer's death shows as EOF. */
    if (side == BENCH_SIDE_A) {
        close_fd(&c->ready[1]);
        close_fd(&c->done[0]);
    } else {
        close_fd(&c->ready[0]);
        close_fd(&c->done[1]);
    }
    (void)signal(SIGPIPE, SIG_IGN); /* a dead peer is an EPIPE error, not a kill */
    (void)alarm(watchdog_seconds(c->plan));
    if (pin_to(cpu, err) != 0) {
        _exit(1);
    }
    const bench_side_ctx_t ctx = {
        .transport = c->transport,
        .state = c->state,
        .cell = *c->cell,
        .plan = *c->plan,
        .side = side,
        .ready_fd = side == BENCH_SIDE_A ? c->ready[0] : c->ready[1],
        .done_fd = side == BENCH_SIDE_A ? c->done[1] : c->done[0],
        .shared = c->shared,
    };
    /* _exit, not exit: stdio buffers and atexit handlers belong to the
     * parent. */
    _exit(bench_side_run(&ctx) == 0 ? 0 : 1);
}

static void describe_exit(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status)) {
        (void)snprintf(buf, cap, "exit status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        (void)snprintf(buf, cap, "killed by signal %d%s", sig,
                       sig == SIGALRM ? " (watchdog: hung)" : "");
    } else {
        (void)snprintf(buf, cap, "status 0x%x", (unsigned)status);
    }
}

/* Reaps both sides; if one fails, the other cannot finish: kill it. */
static int wait_sides(struct cell_run *c, bench_err_t *err)
{
    int failed = 0;
    int status[2] = {0, 0};
    for (int reaped = 0; reaped < 2;) {
        int st = 0;
        const pid_t p = waitpid(-1, &st, 0);
        if (p < 0 && errno == EINTR) {
            continue;
        }
        if (p < 0) {
            bench_err_set(err, "waitpid: %s", strerror(errno));
            return -1;
        }
        const int s = (p == c->pid[0]) ? 0 : (p == c->pid[1]) ? 1 : -1;
        if (s < 0) {
            continue; /* not ours */
        }
        reaped++;
        status[s] = st;
        c->pid[s] = -1;
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            failed = 1;
            if (c->pid[1 - s] > 0) {
                (void)kill(c->pid[1 - s], SIGKILL);
            }
        }
    }
    if (!failed) {
        return 0;
    }
    char how[2][64];
    describe_exit(status[0], how[0], sizeof how[0]);
    describe_exit(status[1], how[1], sizeof how[1]);
    bench_err_set(err, "side A (%s): %s; side B (%s): %s", how[0],
                  c->shared->err[0].text[0] ? c->shared->err[0].text : "-", how[1],
                  c->shared->err[1].text[0] ? c->shared->err[1].text : "-");
    return -1;
}

static int fork_sides(struct cell_run *c, const int cpus[2], bench_err_t *err)
{
    for (int s = 0; s < 2; s++) {
        (void)fflush(NULL); /* or the child would print the parent's buffer again */
        const pid_t p = fork();
        if (p < 0) {
            bench_err_set(err, "fork: %s", strerror(errno));
            return -1;
        }
        if (p == 0) {
            child_main(c, (bench_side_t)s, cpus[s]);
        }
        c->pid[s] = p;
    }
    return 0;
}

static int reduce(const struct cell_run *c, bench_result_t *out, bench_err_t *err)
{
    const uint32_t reps = c->plan->reps;
    double rate[BENCH_MAX_REPS];
    double p[3][BENCH_MAX_REPS];
    for (uint32_t i = 0; i < reps; i++) {
        const bench_round_t *r = &c->shared->rounds[i];
        const int64_t elapsed = r->t_end - r->t_start;
        if (r->count == 0 || elapsed <= 0) {
            bench_err_set(err, "round %u: %llu messages in %lld ns: no measurement", i + 1,
                          (unsigned long long)r->count, (long long)elapsed);
            return -1;
        }
        rate[i] = (double)r->count * 1e9 / (double)elapsed;
        p[0][i] = (double)r->p50_ns;
        p[1][i] = (double)r->p99_ns;
        p[2][i] = (double)r->p999_ns;
    }
    out->msgs_per_s = bench_median(rate, reps);
    out->mb_per_s = out->msgs_per_s * (double)c->cell->size / 1e6;
    const int pp = c->cell->mode == BENCH_MODE_PINGPONG;
    out->p50_ns = pp ? bench_median(p[0], reps) : -1.0;
    out->p99_ns = pp ? bench_median(p[1], reps) : -1.0;
    out->p999_ns = pp ? bench_median(p[2], reps) : -1.0;
    out->verified_msgs = c->shared->verified_msgs[0] + c->shared->verified_msgs[1];
    out->total_msgs = c->shared->total_msgs;
    return 0;
}

int bench_cell_run(const bench_transport_t *transport, const bench_cell_t *cell,
                   const bench_plan_t *plan, const int cpus[2], bench_result_t *out,
                   bench_err_t *err)
{
    const int64_t t0 = bench_now_ns();
    memset(out, 0, sizeof *out);
    out->transport = transport->name;
    out->mode = cell->mode;
    out->size = cell->size;
    struct cell_run c = {.transport = transport, .cell = cell, .plan = plan,
                         .ready = {-1, -1}, .done = {-1, -1}, .pid = {-1, -1}};
    c.shared = mmap(NULL, sizeof *c.shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
    if (c.shared == MAP_FAILED) {
        bench_err_set(err, "mmap: %s", strerror(errno));
        return -1;
    }
    memset(c.shared, 0, sizeof *c.shared);
    int rc = (pipe(c.ready) == 0 && pipe(c.done) == 0) ? 0 : -1;
    if (rc != 0) {
        bench_err_set(err, "pipe: %s", strerror(errno));
    }
    if (rc == 0) {
        rc = transport->create(cell, &c.state, err);
    }
    if (rc == 0) {
        rc = fork_sides(&c, cpus, err);
        transport->parent_detach(c.state);
        close_sync(&c);
        /* A fork failure leaves at most side A running: reap it too. */
        if (rc != 0 && c.pid[0] > 0) {
            (void)kill(c.pid[0], SIGKILL);
            (void)waitpid(c.pid[0], NULL, 0);
        }
        if (rc == 0) {
            rc = wait_sides(&c, err);
        }
        bench_err_t derr;
        derr.text[0] = '\0';
        if (transport->destroy(c.state, &derr) != 0) {
            if (rc == 0) {
                *err = derr;
            } else {
                const size_t used = strlen(err->text);
                (void)snprintf(err->text + used, sizeof err->text - used, "; cleanup: %s",
                               derr.text);
            }
            rc = -1;
        }
    }
    close_sync(&c);
    if (rc == 0) {
        rc = reduce(&c, out, err);
    }
    (void)munmap(c.shared, sizeof *c.shared);
    out->wall_s = (double)(bench_now_ns() - t0) / 1e9;
    return rc;
}
