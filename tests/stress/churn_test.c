/*
 * churn_test.c - thousands of connect/disconnect cycles, some ended by
 * SIGKILL, against one server.
 *
 * Several churner processes connect, sometimes exchange a message,
 * disconnect, again and again; one cycle in ten forks a victim that
 * connects and SIGKILLs itself. Meanwhile the test samples the kernel's
 * view: always exactly 1 segment and 1 semaphore set, and attachments
 * between 1 (the server) and 1 + 2 x the number of churners (see
 * sample()). At each batch barrier (every churner idle, every victim
 * reaped) the count must be exactly 1. At the end the server's books must balance exactly: one
 * CONNECT per successful connect, one DISCONNECT(OK) per goodbye, one
 * DISCONNECT(CLOSED) per killed victim, nobody left connected.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/stress/stress_peers.h"
#include "tests/stress/stress_util.h"
#include "tests/testutil.h"

#define CHURNERS 4
#define CHURN_MAX_CLIENTS 16
#define CHURN_PAYLOAD 512u

/* ------------------------------------------------------------ churners */

struct churner_cfg {
    key_t key;
    uint32_t id;
    uint32_t cycles;
    uint32_t batch;
    uint64_t seed;
    int up_fd;   /* 'B' at each batch end */
    int down_fd; /* 'G' to go on */
    int report_fd;
};

struct churner_report {
    uint64_t normal;        /* connect + goodbye */
    uint64_t killed;        /* victims that connected, then died of SIGKILL */
    uint64_t exchanged;     /* messages echoed and checked */
    uint64_t no_slot_retries;
    int32_t failure;
    char what[STRESS_FIRST_BAD_LEN];
};

/* connect; NO_SLOT means the server has not yet re-offered a slot it is
 * about to recycle (it looks at released slots on its next wake-up), so
 * retry - yielding the CPU to it - until a deadline. */
static shmchan_err_t connect_retrying(key_t key, shmchan_client_t **cli, uint64_t *retries)
{
    const int64_t deadline = stress_now_ns() + (int64_t)10000 * 1000000;
    for (;;) {
        const shmchan_err_t e = shmchan_client_connect(key, NULL, cli, NULL);
        if (e != SHMCHAN_E_NO_SLOT || stress_now_ns() >= deadline) {
            return e;
        }
        (*retries)++;
        (void)sched_yield();
    }
}

/* One message there and back: the server checks it, we check the echo. */
static int exchange(shmchan_client_t *cli, uint32_t sender, uint64_t *rng)
{
    uint8_t out[CHURN_PAYLOAD], in[CHURN_PAYLOAD];
    const uint32_t len = stress_msg_pick_len(rng, CHURN_PAYLOAD, 1);
    stress_msg_build(out, len, sender | STRESS_SENDER_FIN, 0);
    uint32_t got = 0;
    if (shmchan_client_send(cli, out, len, 20000) != SHMCHAN_OK ||
        shmchan_client_recv(cli, in, sizeof in, &got, 20000) != SHMCHAN_OK) {
        return -1;
    }
    stress_stream_t st;
    stress_stream_reset(&st);
    return stress_stream_accept(&st, in, got, NULL, 0);
}

struct victim_arg {
    key_t key;
    uint32_t sender;
    uint64_t seed;
};

/* Connects, perhaps sends a message, and dies. Exits 2/3 only on error. */
static int victim_main(void *p)
{
    const struct victim_arg *a = p;
    uint64_t rng = a->seed, retries = 0;
    shmchan_client_t *cli = NULL;
    if (connect_retrying(a->key, &cli, &retries) != SHMCHAN_OK) {
        return 2;
    }
    if (stress_below(&rng, 2) == 0) {
        uint8_t out[CHURN_PAYLOAD];
        const uint32_t len = stress_msg_pick_len(&rng, CHURN_PAYLOAD, 1);
        stress_msg_build(out, len, a->sender | STRESS_SENDER_FIN, 0);
        if (shmchan_client_send(cli, out, len, 20000) != SHMCHAN_OK) {
            return 3;
        }
    }
    raise(SIGKILL);
    return 4;
}

static void churner_fail(struct churner_report *rep, const char *what, uint64_t cycle)
{
    if (rep->failure == 0) {
        rep->failure = 1;
        snprintf(rep->what, sizeof rep->what, "cycle %llu: %s", (unsigned long long)cycle, what);
    }
}

static int churner_main(void *p)
{
    const struct churner_cfg *cfg = p;
    struct churner_report rep;
    memset(&rep, 0, sizeof rep);
    uint64_t rng = cfg->seed;
    for (uint32_t i = 0; i < cfg->cycles && rep.failure == 0; i++) {
        const uint32_t sender = cfg->id * 1000000u + i;
        if (stress_below(&rng, 10) == 0) {
            struct victim_arg va = {cfg->key, sender, stress_derive_seed(cfg->seed, sender)};
            const pid_t pid = stress_spawn(victim_main, &va);
            const int st = pid > 0 ? stress_wait(pid, 60000) : -1;
            if (st == 128 + SIGKILL) {
                rep.killed++;
            } else {
                churner_fail(&rep, "a victim did not die of SIGKILL after connecting", i);
            }
        } else {
            shmchan_client_t *cli = NULL;
            const shmchan_err_t e = connect_retrying(cfg->key, &cli, &rep.no_slot_retries);
            if (e != SHMCHAN_OK) {
                churner_fail(&rep, shmchan_errname(e), i);
                break;
            }
            if (stress_below(&rng, 2) == 0) {
                if (exchange(cli, sender, &rng) != 0) {
                    churner_fail(&rep, "echo lost or damaged", i);
                }
                rep.exchanged++;
            }
            shmchan_client_disconnect(cli);
            rep.normal++;
        }
        if ((i + 1) % cfg->batch == 0 || i + 1 == cfg->cycles) {
            char c = 0;
            if (testutil_write_full(cfg->up_fd, "B", 1) != 0 ||
                testutil_read_full(cfg->down_fd, &c, 1, 600000) != 0 || c != 'G') {
                churner_fail(&rep, "lost the parent", i);
            }
        }
    }
    (void)testutil_write_full(cfg->report_fd, &rep, sizeof rep);
    return rep.failure;
}

/* ------------------------------------------------------------- sampler */

struct samples {
    uint64_t taken;
    uint64_t barriers;
    long max_attach;
    int violations;
};

/* For a violation: which processes map a SysV segment right now, and in
 * what state they are (from /proc/PID/maps and /proc/PID/stat). */
static void print_attachers(void)
{
    DIR *d = opendir("/proc");
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/%s/maps", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        int maps = 0;
        while (fgets(line, sizeof line, f) != NULL) {
            maps += strstr(line, "SYSV") != NULL;
        }
        fclose(f);
        if (maps == 0) {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (f != NULL && fgets(line, sizeof line, f) != NULL) {
            print_error("  attached: %s", line);
        }
        if (f != NULL) {
            fclose(f);
        }
    }
    closedir(d);
}

/* Between barriers: 1 segment, 1 set, and attachments between 1 (the
 * server) and 1 + 2 * CHURNERS: each churner has at most one process
 * attached (itself or its victim), and a process inside shmat(2) counts
 * twice for an instant (ipc/shm.c do_shmat raises shm_nattch around the
 * mmap, whose vma open raises it again). */
static void sample(struct samples *s)
{
    const int shm = testutil_count_shm();
    const int sem = testutil_count_sem();
    const long att = testutil_count_attach();
    s->taken++;
    if (att > s->max_attach) {
        s->max_attach = att;
    }
    if (shm != 1 || sem != 1 || att < 1 || att > 1 + 2 * CHURNERS) {
        if (s->violations++ < 5) {
            print_error("sample %llu: %d segments, %d sets, %ld attachments\n",
                        (unsigned long long)s->taken, shm, sem, att);
            print_attachers();
        }
    }
}

/* At a barrier nobody but the server is attached. */
static void sample_barrier(struct samples *s)
{
    const int shm = testutil_count_shm();
    const int sem = testutil_count_sem();
    const long att = testutil_count_attach();
    s->barriers++;
    if (shm != 1 || sem != 1 || att != 1) {
        if (s->violations++ < 5) {
            print_error("barrier %llu: %d segments, %d sets, %ld attachments (expected 1/1/1)\n",
                        (unsigned long long)s->barriers, shm, sem, att);
        }
    }
}

/* Waits for one 'B' from every churner, sampling every couple of ms. */
static void wait_barrier(const int *up, struct samples *s)
{
    int arrived[CHURNERS] = {0};
    int count = 0;
    const int64_t deadline = stress_now_ns() + (int64_t)stress_budget_ms() * 1000000;
    while (count < CHURNERS) {
        assert_true(stress_now_ns() < deadline);
        struct pollfd pfd[CHURNERS];
        for (int i = 0; i < CHURNERS; i++) {
            pfd[i] = (struct pollfd){.fd = arrived[i] ? -1 : up[i], .events = POLLIN};
        }
        /* The timeout paces the sampling; the wait is for the pipes. */
        const int r = poll(pfd, CHURNERS, 2);
        assert_true(r >= 0 || errno == EINTR);
        sample(s);
        for (int i = 0; r > 0 && i < CHURNERS; i++) {
            if (pfd[i].revents != 0) {
                char c = 0;
                assert_int_equal(testutil_read_full(up[i], &c, 1, 1000), 0);
                assert_int_equal(c, 'B');
                arrived[i] = 1;
                count++;
            }
        }
    }
}

static void test_churn_connect_disconnect_kill(void **state)
{
    (void)state;
    const uint64_t seed = testutil_seed();
    const uint32_t per_churner = (uint32_t)stress_scaled(2500);
    const uint32_t batch = 100;
    print_message("churn: seed 0x%016llx (replay: SHMCHAN_TEST_SEED=0x%016llx); %d churners x "
                  "%u cycles, barrier every %u\n",
                  (unsigned long long)seed, (unsigned long long)seed, CHURNERS, per_churner,
                  batch);
    const key_t key = testutil_key(1);
    const int64_t t0 = stress_now_ns();
    stress_server_proc_t srv;
    stress_server_proc_init(&srv, key, CHURN_MAX_CLIENTS, CHURN_PAYLOAD, 2048);
    int report[2];
    assert_int_equal(stress_pipe(report), 0);
    stress_server_proc_start(&srv);

    struct churner_cfg cfg[CHURNERS];
    pid_t pids[CHURNERS];
    int up[CHURNERS][2], down[CHURNERS][2], upr[CHURNERS];
    for (int i = 0; i < CHURNERS; i++) {
        assert_int_equal(stress_pipe(up[i]), 0);
        assert_int_equal(stress_pipe(down[i]), 0);
        upr[i] = up[i][0];
        cfg[i] = (struct churner_cfg){key,         1u + (uint32_t)i, per_churner, batch,
                                      stress_derive_seed(seed, 1u + (uint32_t)i),
                                      up[i][1],    down[i][0],       report[1]};
        pids[i] = stress_spawn(churner_main, &cfg[i]);
        assert_true(pids[i] > 0);
    }
    struct samples s;
    memset(&s, 0, sizeof s);
    const uint32_t barriers = (per_churner + batch - 1) / batch;
    for (uint32_t b = 0; b < barriers; b++) {
        wait_barrier(upr, &s);
        sample_barrier(&s);
        for (int i = 0; i < CHURNERS; i++) {
            assert_int_equal(testutil_write_full(down[i][1], "G", 1), 0);
        }
    }
    int failed = 0;
    struct churner_report total;
    memset(&total, 0, sizeof total);
    for (int i = 0; i < CHURNERS; i++) {
        const int st = stress_wait(pids[i], stress_budget_ms());
        struct churner_report rep;
        if (testutil_read_full(report[0], &rep, sizeof rep, 1000) != 0) {
            print_error("churner %d: exit %d, no report\n", i, st);
            failed++;
            continue;
        }
        if (st != 0 || rep.failure != 0) {
            print_error("churner: exit %d: %s\n", st, rep.what);
            failed++;
        }
        total.normal += rep.normal;
        total.killed += rep.killed;
        total.exchanged += rep.exchanged;
        total.no_slot_retries += rep.no_slot_retries;
    }
    stress_server_stats_t st;
    stress_server_proc_query(&srv, 'S', &st);
    const int server_status = stress_wait(srv.pid, stress_budget_ms());
    print_message("  %llu cycles: %llu goodbyes, %llu SIGKILLed victims, %llu messages "
                  "echoed; %llu NO_SLOT retries; %.1f s\n",
                  (unsigned long long)(total.normal + total.killed),
                  (unsigned long long)total.normal, (unsigned long long)total.killed,
                  (unsigned long long)total.exchanged, (unsigned long long)total.no_slot_retries,
                  (double)(stress_now_ns() - t0) / 1e9);
    print_message("  %llu samples and %llu barriers: always 1 segment and 1 set, at most %ld "
                  "attachments, %d violations\n",
                  (unsigned long long)s.taken, (unsigned long long)s.barriers, s.max_attach,
                  s.violations);
    print_message("  server: %llu connects, disconnects ok/closed/protocol %llu/%llu/%llu, "
                  "%llu messages, bad %llu, connected %d\n",
                  (unsigned long long)st.connects, (unsigned long long)st.disc_ok,
                  (unsigned long long)st.disc_closed, (unsigned long long)st.disc_protocol,
                  (unsigned long long)st.messages, (unsigned long long)st.bad, st.connected);
    for (int i = 0; i < CHURNERS; i++) {
        stress_close_pair(up[i]);
        stress_close_pair(down[i]);
    }
    stress_server_proc_finish(&srv);
    stress_close_pair(report);

    assert_int_equal(failed, 0);
    assert_int_equal(s.violations, 0);
    assert_int_equal(server_status, STRESS_SERVER_EXIT_OK);
    assert_int_equal(total.normal + total.killed, (uint64_t)CHURNERS * per_churner);
    assert_true(total.killed > 0);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.bad_order, 0);
    assert_int_equal(st.last_error, SHMCHAN_OK);
    assert_int_equal(st.connect_while_active + st.disconnect_while_idle + st.message_while_idle,
                     0);
    assert_int_equal(st.quiesced, 1);
    assert_int_equal(st.connected, 0);
    assert_int_equal(st.connects, total.normal + total.killed);
    assert_int_equal(st.disc_ok, total.normal);
    assert_int_equal(st.disc_closed, total.killed);
    assert_int_equal(st.disc_protocol + st.disc_other, 0);
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_attach(), 0);
}

int main(int argc, char **argv)
{
    stress_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_churn_connect_disconnect_kill, stress_teardown),
    };
    return cmocka_run_group_tests_name("churn", tests, NULL, NULL);
}
