/*
 * crash_stress_test.c - processes SIGKILLed at random points, hundreds of
 * times per run.
 *
 * Clients: victims are killed mid-connect, mid-send and mid-receive (the
 * parent kills a random number of microseconds after the victim's "about to
 * connect" event, or the victim raises SIGKILL itself after a random number
 * of operations), while survivors stream traffic the whole time. The server
 * must check every message it delivers (no torn or corrupted frame, exactly
 * once and in order per connection), keep serving the survivors, report
 * each dead client and free its slot: at the end the connected count is 0
 * and every slot can be taken again at once.
 *
 * Server: killed at random points under traffic. Every client call must
 * end with SHMCHAN_E_CLOSED or SHMCHAN_E_TIMEOUT within its timeout, and a
 * new server at the same key must reclaim the stale channel - sometimes
 * while the old clients are still attached. After each scenario: no SysV
 * object and no attachment left.
 */
/* ppoll(2) is a GNU extension: the kill delays are in microseconds. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/stress/stress_peers.h"
#include "tests/stress/stress_util.h"
#include "tests/testutil.h"

static void print_server_stats(const char *when, const stress_server_stats_t *st)
{
    print_message("  server %s: %llu messages (%llu bytes) checked and echoed %llu, "
                  "%llu connects, disconnects ok/closed/protocol %llu/%llu/%llu, bad %llu, "
                  "connected %d%s%s\n",
                  when, (unsigned long long)st->messages, (unsigned long long)st->bytes,
                  (unsigned long long)st->echoed, (unsigned long long)st->connects,
                  (unsigned long long)st->disc_ok, (unsigned long long)st->disc_closed,
                  (unsigned long long)st->disc_protocol, (unsigned long long)st->bad,
                  st->connected, st->first_bad[0] ? ", first problem: " : "", st->first_bad);
}

/* ------------------------------------------------------ client crashes */

#define POOL 4
#define SURVIVORS 2
#define CRASH_MAX_CLIENTS 32
#define CRASH_PAYLOAD 2048
#define CRASH_LANE 8192

struct victim {
    pid_t pid;
    int pidfd;
    int ev;           /* read end of its event pipe */
    int64_t kill_at;  /* monotonic ns; INT64_MAX: not scheduled */
    int self_kill;    /* it kills itself (operation count or killer thread) */
    int connected;    /* it said 'C' */
    stress_client_cfg_t cfg;
};

struct crash_tally {
    uint64_t spawned, killed, killed_before_connect, self_killed, parent_killed;
    uint64_t reported_connected, other_exits;
};

static int64_t pick_delay_ns(uint64_t *rng)
{
    /* Four ranges: at once (lands in connect when the victim runs on the
     * other core), early connect or first messages, early traffic, steady
     * traffic. */
    switch (stress_below(rng, 4)) {
    case 0:
        return (int64_t)stress_below(rng, 30000);
    case 1:
        return (int64_t)stress_below(rng, 300) * 1000;
    case 2:
        return (int64_t)stress_below(rng, 3000) * 1000;
    default:
        return (int64_t)stress_below(rng, 30000) * 1000;
    }
}

static void victim_spawn(struct victim *v, key_t key, uint64_t seed, uint32_t sender,
                         uint64_t *rng)
{
    int ev[2];
    assert_int_equal(stress_pipe(ev), 0);
    stress_client_cfg_init(&v->cfg, key, sender);
    v->cfg.messages = 0; /* until killed */
    v->cfg.max_len = CRASH_PAYLOAD;
    v->cfg.seed = stress_derive_seed(seed, sender);
    v->cfg.event_fd = ev[1];
    v->cfg.retry_no_slot_ms = 10000;
    /* A quarter die at a random operation count, a quarter by a killer
     * thread after a random amount of CPU work (often inside connect),
     * half by the parent after a random delay. */
    const uint64_t how = stress_below(rng, 4);
    v->self_kill = how < 2;
    v->cfg.self_kill_after = how == 0 ? (int64_t)stress_below(rng, 400) : -1;
    v->cfg.kill_spins = how == 1 ? (int64_t)stress_below(rng, 200000) : -1;
    v->connected = 0;
    v->kill_at = INT64_MAX;
    v->pid = stress_spawn(stress_client_main, &v->cfg);
    assert_true(v->pid > 0);
    close(ev[1]);
    v->ev = ev[0];
    v->pidfd = stress_pidfd_open(v->pid);
    assert_true(v->pidfd >= 0);
}

static void victim_on_event(struct victim *v, uint64_t *rng, struct crash_tally *t)
{
    char buf[8];
    const ssize_t n = read(v->ev, buf, sizeof buf);
    if (n <= 0) {
        stress_close(&v->ev); /* EOF: it died; its pidfd says so too */
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == 'S' && !v->self_kill) {
            v->kill_at = stress_now_ns() + pick_delay_ns(rng);
        } else if (buf[i] == 'C') {
            v->connected = 1;
            t->reported_connected++;
        }
    }
}

/* Reaps an exited victim. Returns 0 if it died of SIGKILL, else -1. */
static int victim_reap(struct victim *v, struct crash_tally *t)
{
    const int st = stress_wait(v->pid, 5000);
    stress_close(&v->pidfd);
    stress_close(&v->ev);
    v->pid = 0;
    if (st == 128 + SIGKILL) {
        t->killed++;
        if (!v->connected) {
            t->killed_before_connect++;
        }
        if (v->self_kill) {
            t->self_killed++;
        } else {
            t->parent_killed++;
        }
        return 0;
    }
    char text[64];
    print_error("victim %u: %s (%s), expected SIGKILL\n", v->cfg.sender,
                stress_status_text(st, text, sizeof text), stress_client_code_name(st));
    t->other_exits++;
    return -1;
}

/* Runs `target` victims through a pool of POOL, each killed once. */
static void run_victims(key_t key, uint64_t seed, uint64_t target, struct crash_tally *t)
{
    uint64_t rng = stress_derive_seed(seed, 0xC0FFEE);
    struct victim pool[POOL];
    memset(pool, 0, sizeof pool);
    const int64_t deadline = stress_now_ns() + (int64_t)stress_budget_ms() * 1000000;
    uint32_t next_sender = 1000;
    for (;;) {
        int alive = 0;
        for (int i = 0; i < POOL; i++) {
            if (pool[i].pid == 0 && t->spawned < target) {
                victim_spawn(&pool[i], key, seed, next_sender++, &rng);
                t->spawned++;
            }
            alive += pool[i].pid != 0;
        }
        if (alive == 0) {
            return;
        }
        assert_true(stress_now_ns() < deadline);
        struct pollfd pfd[2 * POOL];
        int idx[2 * POOL];
        nfds_t n = 0;
        int64_t next_kill = INT64_MAX;
        for (int i = 0; i < POOL; i++) {
            if (pool[i].pid == 0) {
                continue;
            }
            if (pool[i].ev >= 0) {
                pfd[n] = (struct pollfd){.fd = pool[i].ev, .events = POLLIN};
                idx[n++] = i;
            }
            pfd[n] = (struct pollfd){.fd = pool[i].pidfd, .events = POLLIN};
            idx[n++] = i;
            if (pool[i].kill_at < next_kill) {
                next_kill = pool[i].kill_at;
            }
        }
        /* Victims that kill themselves are bounded by the deadline only. */
        int64_t wait_ns = (next_kill == INT64_MAX ? deadline : next_kill) - stress_now_ns();
        if (wait_ns < 0) {
            wait_ns = 0;
        }
        const struct timespec ts = {(time_t)(wait_ns / 1000000000), (long)(wait_ns % 1000000000)};
        const int r = ppoll(pfd, n, &ts, NULL);
        assert_true(r >= 0 || errno == EINTR);
        for (nfds_t k = 0; r > 0 && k < n; k++) {
            struct victim *v = &pool[idx[k]];
            if (pfd[k].revents == 0 || v->pid == 0) {
                continue;
            }
            if (pfd[k].fd == v->ev) {
                victim_on_event(v, &rng, t);
            } else if (pfd[k].fd == v->pidfd) {
                /* Collect what it said before dying, then reap it. */
                while (v->ev >= 0 && stress_fd_ready(v->ev)) {
                    victim_on_event(v, &rng, t);
                }
                (void)victim_reap(v, t);
            }
        }
        const int64_t now = stress_now_ns();
        for (int i = 0; i < POOL; i++) {
            if (pool[i].pid != 0 && pool[i].kill_at <= now) {
                /* Not yet reaped, so the pid is still this victim's. */
                (void)kill(pool[i].pid, SIGKILL);
                pool[i].kill_at = INT64_MAX;
            }
        }
    }
}

/* Every slot can be taken at once: `n` clients connect together, each
 * exchanges a few messages and says goodbye. */
static void fresh_clients_all_connect(key_t key, uint64_t seed, uint32_t n)
{
    stress_client_cfg_t cfg[CRASH_MAX_CLIENTS];
    pid_t pids[CRASH_MAX_CLIENTS];
    for (uint32_t i = 0; i < n; i++) {
        stress_client_cfg_init(&cfg[i], key, 50000u + i);
        cfg[i].messages = 20;
        cfg[i].max_len = CRASH_PAYLOAD;
        cfg[i].seed = stress_derive_seed(seed, 50000u + i);
        pids[i] = stress_spawn(stress_client_main, &cfg[i]);
        assert_true(pids[i] > 0);
    }
    int failed = 0;
    for (uint32_t i = 0; i < n; i++) {
        const int st = stress_wait(pids[i], stress_budget_ms());
        if (st != 0) {
            char text[64];
            print_error("fresh client %u: %s (%s)\n", i, stress_status_text(st, text, sizeof text),
                        stress_client_code_name(st));
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

static void test_clients_killed_at_random_points(void **state)
{
    (void)state;
    const uint64_t seed = testutil_seed();
    const uint64_t target = stress_scaled(1000);
    print_message("clients_killed: seed 0x%016llx (replay: SHMCHAN_TEST_SEED=0x%016llx); %llu "
                  "victims, %d at a time, %d survivors\n",
                  (unsigned long long)seed, (unsigned long long)seed,
                  (unsigned long long)target, POOL, SURVIVORS);
    const key_t key = testutil_key(1);
    const int64_t t0 = stress_now_ns();
    stress_server_proc_t srv;
    stress_server_proc_init(&srv, key, CRASH_MAX_CLIENTS, CRASH_PAYLOAD, CRASH_LANE);
    stress_server_proc_start(&srv);

    int stop[2], report[2];
    assert_int_equal(stress_pipe(stop), 0);
    assert_int_equal(stress_pipe(report), 0);
    stress_client_cfg_t scfg[SURVIVORS];
    pid_t spids[SURVIVORS];
    for (int i = 0; i < SURVIVORS; i++) {
        stress_client_cfg_init(&scfg[i], key, 1u + (uint32_t)i);
        scfg[i].messages = 0;
        scfg[i].max_len = CRASH_PAYLOAD;
        scfg[i].seed = stress_derive_seed(seed, 1u + (uint32_t)i);
        scfg[i].stop_fd = stop[0];
        scfg[i].report_fd = report[1];
        spids[i] = stress_spawn(stress_client_main, &scfg[i]);
        assert_true(spids[i] > 0);
    }

    struct crash_tally t;
    memset(&t, 0, sizeof t);
    run_victims(key, seed, target, &t);

    /* Survivors: finish their streams, every echo must have come back. A
     * byte, not EOF: every child holds a copy of the write end. */
    assert_int_equal(testutil_write_full(stop[1], "x", 1), 0);
    int failed = 0;
    for (int i = 0; i < SURVIVORS; i++) {
        const int st = stress_wait(spids[i], stress_budget_ms());
        stress_client_report_t rep;
        if (testutil_read_full(report[0], &rep, sizeof rep, 1000) != 0) {
            rep.sent = rep.received = 0;
            rep.first_bad[0] = '\0';
        }
        print_message("  survivor: sent %llu, received %llu\n", (unsigned long long)rep.sent,
                      (unsigned long long)rep.received);
        if (st != 0 || rep.sent == 0 || rep.sent != rep.received) {
            char text[64];
            print_error("survivor %d: %s (%s) %s\n", i, stress_status_text(st, text, sizeof text),
                        stress_client_code_name(st), rep.first_bad);
            failed++;
        }
    }
    stress_close_pair(stop);
    stress_close_pair(report);

    stress_server_stats_t mid;
    stress_server_proc_query(&srv, 'Q', &mid);
    print_server_stats("after the crashes", &mid);
    /* The dead clients' slots are all free again: every one can be taken. */
    fresh_clients_all_connect(key, seed, CRASH_MAX_CLIENTS);
    stress_server_stats_t st;
    stress_server_proc_query(&srv, 'S', &st);
    const int server_status = stress_wait(srv.pid, stress_budget_ms());
    stress_server_proc_finish(&srv);
    print_server_stats("at the end", &st);
    print_message("  victims: %llu spawned, %llu SIGKILLed (%llu by the parent, %llu by "
                  "themselves, %llu before connect returned), %llu said connected; %.1f s\n",
                  (unsigned long long)t.spawned, (unsigned long long)t.killed,
                  (unsigned long long)t.parent_killed, (unsigned long long)t.self_killed,
                  (unsigned long long)t.killed_before_connect,
                  (unsigned long long)t.reported_connected,
                  (double)(stress_now_ns() - t0) / 1e9);

    assert_int_equal(failed, 0);
    assert_int_equal(t.other_exits, 0);
    assert_int_equal(t.killed, target);
    assert_int_equal(mid.quiesced, 1);
    assert_int_equal(mid.connected, 0);
    assert_int_equal(server_status, STRESS_SERVER_EXIT_OK);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.bad_order, 0);
    assert_int_equal(st.connect_while_active + st.disconnect_while_idle + st.message_while_idle,
                     0);
    assert_int_equal(st.last_error, SHMCHAN_OK);
    assert_int_equal(st.disc_protocol + st.disc_other, 0);
    assert_int_equal(st.echo_timeout + st.echo_protocol, 0);
    assert_int_equal(st.connected, 0);
    assert_int_equal(st.connects, st.disc_ok + st.disc_closed);
    assert_int_equal(st.disc_ok, SURVIVORS + CRASH_MAX_CLIENTS);
    /* Every victim that said it was connected was seen to vanish; none
     * vanished twice. */
    assert_true(st.disc_closed >= t.reported_connected);
    assert_true(st.disc_closed <= t.spawned);
    stress_assert_no_ipc_left();
}

/* ------------------------------------------------------ server crashes */

#define SRV_CLIENTS 3
#define SRV_OP_TIMEOUT_MS 3000

struct round_clients {
    pid_t pids[SRV_CLIENTS];
    stress_client_cfg_t cfg[SRV_CLIENTS];
    int report[2];
    int ev[2];
};

static void round_clients_start(struct round_clients *rc, key_t key, uint64_t seed,
                                uint32_t round)
{
    assert_int_equal(stress_pipe(rc->report), 0);
    assert_int_equal(stress_pipe(rc->ev), 0);
    for (uint32_t i = 0; i < SRV_CLIENTS; i++) {
        const uint32_t sender = 100000u + round * 16u + i;
        stress_client_cfg_init(&rc->cfg[i], key, sender);
        rc->cfg[i].messages = 0; /* until the server is gone */
        rc->cfg[i].max_len = CRASH_PAYLOAD;
        rc->cfg[i].seed = stress_derive_seed(seed, sender);
        rc->cfg[i].op_timeout_ms = SRV_OP_TIMEOUT_MS;
        rc->cfg[i].report_fd = rc->report[1];
        rc->pids[i] = stress_spawn(stress_client_main, &rc->cfg[i]);
        assert_true(rc->pids[i] > 0);
    }
}

/* Every client must end, within its timeout, with CLOSED or TIMEOUT; one
 * still connecting while a new server replaces the channel may also find
 * the key empty or the objects not matching (NOT_FOUND, FOREIGN). Returns
 * the number of violations. */
static int round_clients_finish(struct round_clients *rc, int overlapped, uint64_t *ended)
{
    int status[SRV_CLIENTS];
    for (uint32_t i = 0; i < SRV_CLIENTS; i++) {
        /* Bounded: the liveness period (100 ms) or the op timeout, plus
         * scheduling slack on a loaded 2-core machine. */
        status[i] = stress_wait(rc->pids[i], SRV_OP_TIMEOUT_MS + 20000);
    }
    /* Reports arrive in any order: match them to clients by sender. */
    stress_client_report_t reps[SRV_CLIENTS];
    int have[SRV_CLIENTS] = {0};
    memset(reps, 0, sizeof reps);
    for (uint32_t k = 0; k < SRV_CLIENTS; k++) {
        stress_client_report_t r;
        if (testutil_read_full(rc->report[0], &r, sizeof r, 1000) != 0) {
            break;
        }
        for (uint32_t i = 0; i < SRV_CLIENTS; i++) {
            if (rc->cfg[i].sender == r.sender) {
                reps[i] = r;
                have[i] = 1;
            }
        }
    }
    int failed = 0;
    for (uint32_t i = 0; i < SRV_CLIENTS; i++) {
        const int st = status[i];
        const int connect_race =
            overlapped && have[i] &&
            ((st == STRESS_CLIENT_NOT_FOUND && reps[i].connect_err == SHMCHAN_E_NOT_FOUND) ||
             (st == STRESS_CLIENT_CONNECT && reps[i].connect_err == SHMCHAN_E_FOREIGN));
        if (st == STRESS_CLIENT_CLOSED || st == STRESS_CLIENT_TIMEOUT || connect_race) {
            (*ended)++;
            continue;
        }
        char text[64];
        print_error("client %u of a killed server%s: %s (%s): %s\n", rc->cfg[i].sender,
                    overlapped ? " (next server started under it)" : "",
                    stress_status_text(st, text, sizeof text), stress_client_code_name(st),
                    have[i] ? reps[i].first_bad : "(no report)");
        failed++;
    }
    stress_close_pair(rc->report);
    stress_close_pair(rc->ev);
    return failed;
}

static void test_server_killed_at_random_points(void **state)
{
    (void)state;
    const uint64_t seed = testutil_seed();
    const uint32_t rounds = (uint32_t)stress_scaled(40);
    print_message("server_killed: seed 0x%016llx (replay: SHMCHAN_TEST_SEED=0x%016llx); %u "
                  "rounds, %d clients each\n",
                  (unsigned long long)seed, (unsigned long long)seed, rounds, SRV_CLIENTS);
    uint64_t rng = stress_derive_seed(seed, 7);
    const key_t key = testutil_key(2);
    const int64_t t0 = stress_now_ns();
    int failed = 0;
    uint64_t ended = 0, overlaps = 0, self_kills = 0;
    struct round_clients prev;
    int prev_pending = 0;
    for (uint32_t round = 0; round < rounds; round++) {
        /* The new server must recover the key the dead one left behind
         * (in overlapping rounds while its clients are still attached). */
        stress_server_proc_t srv;
        const int self_kill = stress_below(&rng, 3) == 0;
        stress_server_proc_init(&srv, key, 8, CRASH_PAYLOAD, CRASH_LANE);
        srv.cfg.self_kill_after_events =
            self_kill ? 1 + (int64_t)stress_below(&rng, 2000) : -1;
        stress_server_proc_start(&srv);
        struct round_clients rc;
        round_clients_start(&rc, key, seed, round);
        if (self_kill) {
            self_kills++;
            /* It dies at its own event count; if traffic is too thin to
             * get there, the deadline below kills it anyway. */
            (void)stress_wait_exited(srv.pid, 10000);
        } else {
            /* The kill lands a random number of microseconds after the
             * server said it was ready, at whatever point it has reached
             * (a load generator's pacing, not synchronisation: nothing
             * waits for a state). An early exit ends the wait at once. */
            const int64_t delay_ns = (int64_t)stress_below(&rng, 50000) * 1000;
            (void)stress_wait_exited_ns(srv.pid, delay_ns);
        }
        (void)kill(srv.pid, SIGKILL);
        const int sst = stress_wait(srv.pid, 10000);
        stress_server_proc_finish(&srv);
        if (sst != 128 + SIGKILL) {
            char text[64];
            print_error("round %u: server %s, expected SIGKILL\n", round,
                        stress_status_text(sst, text, sizeof text));
            failed++;
        }
        /* The previous round's clients: each was attached to the server
         * killed before, or - if it was still connecting when this one
         * reclaimed the key - may have become a client of this one. Both
         * servers are dead now. */
        if (prev_pending) {
            failed += round_clients_finish(&prev, 1, &ended);
            prev_pending = 0;
        }
        /* Half the rounds: wait for the clients, then check that the dead
         * server left exactly its two objects and no attachment. The other
         * half: start the next server while they are still attached. */
        if (stress_below(&rng, 2) == 0 || round + 1 == rounds) {
            failed += round_clients_finish(&rc, 0, &ended);
            assert_int_equal(testutil_count_shm(), 1);
            assert_int_equal(testutil_count_sem(), 1);
            assert_int_equal(testutil_count_attach(), 0);
        } else {
            prev = rc;
            prev_pending = 1;
            overlaps++;
        }
    }
    /* Recovery after the last crash: a server and a client that works. */
    stress_server_proc_t srv;
    stress_server_proc_init(&srv, key, 8, CRASH_PAYLOAD, CRASH_LANE);
    stress_server_proc_start(&srv);
    stress_client_cfg_t cfg;
    stress_client_cfg_init(&cfg, key, 7);
    cfg.messages = 200;
    cfg.max_len = CRASH_PAYLOAD;
    cfg.seed = stress_derive_seed(seed, 7);
    const pid_t cpid = stress_spawn(stress_client_main, &cfg);
    assert_true(cpid > 0);
    const int cst = stress_wait(cpid, stress_budget_ms());
    stress_server_stats_t st;
    stress_server_proc_query(&srv, 'S', &st);
    const int server_status = stress_wait(srv.pid, stress_budget_ms());
    stress_server_proc_finish(&srv);
    print_message("  %u server kills (%llu self-inflicted, %llu with the next server started "
                  "under the old clients), %llu client ends checked; %.1f s\n",
                  rounds, (unsigned long long)self_kills, (unsigned long long)overlaps,
                  (unsigned long long)ended, (double)(stress_now_ns() - t0) / 1e9);
    print_server_stats("after recovery", &st);
    assert_int_equal(failed, 0);
    assert_int_equal(cst, 0);
    assert_int_equal(server_status, STRESS_SERVER_EXIT_OK);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.bad_order, 0);
    assert_int_equal(st.messages, 200);
    assert_int_equal(st.disc_ok, 1);
    stress_assert_no_ipc_left();
}

int main(int argc, char **argv)
{
    stress_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_clients_killed_at_random_points, stress_teardown),
        cmocka_unit_test_teardown(test_server_killed_at_random_points, stress_teardown),
    };
    return cmocka_run_group_tests_name("crash_stress", tests, NULL, NULL);
}
