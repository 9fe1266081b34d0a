/*
 * multiproc_stress_test.c - one server process, many client processes,
 * traffic both ways at once.
 *
 * Each client runs a sender thread and a receiver thread on its one handle
 * (the library allows one thread in send and one in recv). The sender sends
 * a stream of messages of random sizes from 0 to the channel's maximum; the
 * server checks each one (sender, sequence number, length, FNV-1a hash of
 * the bytes) and echoes it; the receiver checks the echoes the same way.
 * So every message crosses the channel twice and is checked twice: exactly
 * once, in per-client FIFO order, byte for byte. Every process must exit
 * 0, and nothing may be left in the IPC namespace.
 *
 * Default: 8 clients x 10000 messages each way per scenario. The _long
 * target runs it with --scale (more messages, same code).
 */
#include <setjmp.h>
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

#define MAX_CLIENTS 16

struct scenario {
    const char *name;
    unsigned salt;
    uint32_t clients;
    uint32_t max_payload;
    uint32_t lane_capacity;
    uint64_t messages; /* per client, each way */
};

static void print_server_stats(const stress_server_stats_t *st)
{
    print_message("  server: %llu events, %llu messages (%llu bytes), %llu echoed, "
                  "%llu connects, disconnects ok/closed/protocol %llu/%llu/%llu, bad %llu, "
                  "max connected %d%s%s\n",
                  (unsigned long long)st->events, (unsigned long long)st->messages,
                  (unsigned long long)st->bytes, (unsigned long long)st->echoed,
                  (unsigned long long)st->connects, (unsigned long long)st->disc_ok,
                  (unsigned long long)st->disc_closed, (unsigned long long)st->disc_protocol,
                  (unsigned long long)st->bad, st->max_connected,
                  st->first_bad[0] ? ", first problem: " : "", st->first_bad);
}

static void run_scenario(const struct scenario *sc)
{
    const uint64_t seed = testutil_seed();
    const uint64_t messages = stress_scaled(sc->messages);
    print_message("%s: seed 0x%016llx (replay: SHMCHAN_TEST_SEED=0x%016llx); %u clients x "
                  "%llu messages each way, payload 0..%u, lane %u\n",
                  sc->name, (unsigned long long)seed, (unsigned long long)seed, sc->clients,
                  (unsigned long long)messages, sc->max_payload, sc->lane_capacity);
    uint64_t rng = stress_derive_seed(seed, 0);
    const key_t key = testutil_key(sc->salt);
    stress_server_proc_t srv;
    stress_server_proc_init(&srv, key, sc->clients, sc->max_payload, sc->lane_capacity);
    int report[2];
    assert_int_equal(stress_pipe(report), 0);

    /* Sometimes poll before sleeping: a different interleaving of the
     * wakeup protocol. */
    srv.cfg.opts.spin_ns = stress_below(&rng, 2) ? 20000u : 0u;
    srv.cfg.stop_after_disconnects = sc->clients;
    /* It stops after the last disconnect and is never told to: it does not
     * watch ctl. */
    srv.cfg.ctl_fd = -1;
    const int64_t t0 = stress_now_ns();
    stress_server_proc_start(&srv);

    stress_client_cfg_t ccfg[MAX_CLIENTS];
    pid_t pids[MAX_CLIENTS];
    for (uint32_t i = 0; i < sc->clients; i++) {
        stress_client_cfg_init(&ccfg[i], key, i + 1u);
        ccfg[i].messages = messages;
        ccfg[i].max_len = sc->max_payload;
        ccfg[i].seed = stress_derive_seed(seed, i + 1u);
        ccfg[i].spin_ns = stress_below(&rng, 3) == 0 ? 10000u : 0u;
        ccfg[i].report_fd = report[1];
        ccfg[i].op_timeout_ms = 60000;
        pids[i] = stress_spawn(stress_client_main, &ccfg[i]);
        assert_true(pids[i] > 0);
    }
    int failed = 0;
    for (uint32_t i = 0; i < sc->clients; i++) {
        const int st = stress_wait(pids[i], stress_budget_ms());
        if (st != 0) {
            char text[64];
            print_error("client %u: %s (%s)\n", i + 1u, stress_status_text(st, text, sizeof text),
                        stress_client_code_name(st));
            failed++;
        }
    }
    uint64_t sent = 0, received = 0;
    for (uint32_t i = 0; i < sc->clients; i++) {
        stress_client_report_t rep;
        if (testutil_read_full(report[0], &rep, sizeof rep, 1000) != 0) {
            print_error("a client wrote no report\n");
            failed++;
            continue;
        }
        if (rep.exit_code != 0 || rep.sent != messages || rep.received != messages) {
            print_error("client %u: %s, sent %llu, received %llu of %llu: %s\n", rep.sender,
                        stress_client_code_name(rep.exit_code), (unsigned long long)rep.sent,
                        (unsigned long long)rep.received, (unsigned long long)messages,
                        rep.first_bad);
            failed++;
        }
        sent += rep.sent;
        received += rep.received;
    }
    stress_server_stats_t st;
    memset(&st, 0, sizeof st);
    const int got_stats = testutil_read_full(srv.result[0], &st, sizeof st, stress_budget_ms());
    const int server_status = stress_wait(srv.pid, stress_budget_ms());
    const double secs = (double)(stress_now_ns() - t0) / 1e9;
    print_server_stats(&st);
    print_message("  clients: %llu sent, %llu echoes received, %.1f s\n",
                  (unsigned long long)sent, (unsigned long long)received, secs);
    stress_server_proc_finish(&srv);
    stress_close_pair(report);

    assert_int_equal(failed, 0);
    assert_int_equal(got_stats, 0);
    assert_int_equal(server_status, STRESS_SERVER_EXIT_OK);
    const uint64_t total = (uint64_t)sc->clients * messages;
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.bad_order, 0);
    assert_int_equal(st.connect_while_active + st.disconnect_while_idle + st.message_while_idle,
                     0);
    assert_int_equal(st.last_error, SHMCHAN_OK);
    assert_int_equal(st.messages, total);
    assert_int_equal(st.echoed, total);
    assert_int_equal(st.echo_closed + st.echo_timeout + st.echo_protocol, 0);
    assert_int_equal(st.connects, sc->clients);
    assert_int_equal(st.disc_ok, sc->clients);
    assert_int_equal(st.disc_closed + st.disc_protocol + st.disc_other, 0);
    assert_int_equal(st.connected, 0);
    assert_int_equal(sent, total);
    assert_int_equal(received, total);
    stress_assert_no_ipc_left();
}

/* The default lane holds a few maximum-size frames: mostly streaming. */
static void test_eight_clients_both_ways(void **state)
{
    (void)state;
    const struct scenario sc = {"eight_clients_both_ways", 1, 8, 4096, 16384, 10000};
    run_scenario(&sc);
}

/* A lane that holds exactly one maximum-size frame: nearly every send
 * waits for room, every frame wraps at some point, and the wakeup protocol
 * runs on almost every message. */
static void test_eight_clients_tiny_lanes(void **state)
{
    (void)state;
    const struct scenario sc = {"eight_clients_tiny_lanes", 2, 8, 1000, 1024, 10000};
    run_scenario(&sc);
}

/* More clients than the brief's minimum, small messages: slot fan-in. */
static void test_sixteen_clients_small_payload(void **state)
{
    (void)state;
    const struct scenario sc = {"sixteen_clients_small_payload", 3, 16, 256, 1024, 5000};
    run_scenario(&sc);
}

int main(int argc, char **argv)
{
    stress_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_eight_clients_both_ways, stress_teardown),
        cmocka_unit_test_teardown(test_eight_clients_tiny_lanes, stress_teardown),
        cmocka_unit_test_teardown(test_sixteen_clients_small_payload, stress_teardown),
    };
    return cmocka_run_group_tests_name("multiproc_stress", tests, NULL, NULL);
}
