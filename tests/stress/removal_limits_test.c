/*
 * removal_limits_test.c - the world changes under a running channel.
 *
 *   - Someone removes the semaphore set or the segment (IPC_RMID, as ipcrm
 *     or systemd's RemoveIPC=yes do) while the server and clients are
 *     blocked: every blocked call returns SHMCHAN_E_CLOSED (not a timeout),
 *     and cleanup is still complete.
 *   - A peer is SIGSTOPped: the other side's calls time out (the peer is
 *     alive, so not CLOSED) and nothing hangs; after SIGCONT the channel
 *     works again and nothing was lost.
 *   - Kernel limits (kernel.sem, kernel.shmmni, kernel.shmmax,
 *     kernel.shmall), lowered in a private IPC namespace so that creation
 *     fails at each step: shmchan_server_create returns SHMCHAN_E_LIMIT with
 *     a diagnostic naming the failing call, and nothing half-created stays.
 */
/* unshare(2) and CLONE_NEWIPC are Linux extensions (GNU <sched.h>). */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/stress/stress_peers.h"
#include "tests/stress/stress_util.h"
#include "tests/testutil.h"

static shmchan_server_t *make_server(key_t key, uint32_t max_clients)
{
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = max_clients;
    o.max_payload = 1024;
    o.lane_capacity = 4096;
    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t e = shmchan_server_create(key, &o, &srv, &d);
    if (e != SHMCHAN_OK) {
        print_error("server_create: %s: %s\n", shmchan_errname(e), d.text);
    }
    assert_int_equal(e, SHMCHAN_OK);
    return srv;
}

/* ------------------------------------------------- removal from outside */

/* A blocked party reports how its blocking call ended. */
struct blocked_report {
    int32_t err;
    int64_t elapsed_ms;
};

#define BLOCK_TIMEOUT_MS 4000

struct blocked_cfg {
    key_t key;
    int ready_fd;  /* 'R' (server created) or 'C' (client connected) */
    int report_fd;
};

/* A server blocked in shmchan_server_wait on an idle channel. */
static int blocked_server(void *p)
{
    const struct blocked_cfg *cfg = p;
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = 4;
    o.max_payload = 1024;
    o.lane_capacity = 4096;
    shmchan_server_t *srv = NULL;
    if (shmchan_server_create(cfg->key, &o, &srv, NULL) != SHMCHAN_OK) {
        return 2;
    }
    (void)testutil_write_full(cfg->ready_fd, "R", 1);
    struct blocked_report rep = {SHMCHAN_OK, 0};
    const int64_t t0 = stress_now_ns();
    for (;;) {
        shmchan_event_t ev;
        const shmchan_err_t e = shmchan_server_wait(srv, BLOCK_TIMEOUT_MS, &ev, NULL, 0);
        /* Clients connecting are expected; anything else ends the wait. */
        if (e == SHMCHAN_OK && ev.kind == SHMCHAN_EVENT_CONNECT) {
            continue;
        }
        rep.err = (int32_t)e;
        break;
    }
    rep.elapsed_ms = (stress_now_ns() - t0) / 1000000;
    shmchan_server_destroy(srv);
    (void)testutil_write_full(cfg->report_fd, &rep, sizeof rep);
    return 0;
}

/* A client blocked in shmchan_client_recv on an empty lane. */
static int blocked_client(void *p)
{
    const struct blocked_cfg *cfg = p;
    shmchan_client_t *cli = NULL;
    if (shmchan_client_connect(cfg->key, NULL, &cli, NULL) != SHMCHAN_OK) {
        return 2;
    }
    (void)testutil_write_full(cfg->ready_fd, "C", 1);
    struct blocked_report rep = {SHMCHAN_OK, 0};
    const int64_t t0 = stress_now_ns();
    uint8_t buf[64];
    uint32_t len = 0;
    rep.err = (int32_t)shmchan_client_recv(cli, buf, sizeof buf, &len, BLOCK_TIMEOUT_MS);
    rep.elapsed_ms = (stress_now_ns() - t0) / 1000000;
    shmchan_client_disconnect(cli);
    (void)testutil_write_full(cfg->report_fd, &rep, sizeof rep);
    return 0;
}

enum removed { REMOVE_SEMSET, REMOVE_SEGMENT, REMOVE_BOTH };

static void run_removal(enum removed what, unsigned salt)
{
    const key_t key = testutil_key(salt);
    int ready[2], report[2];
    assert_int_equal(stress_pipe(ready), 0);
    assert_int_equal(stress_pipe(report), 0);
    struct blocked_cfg cfg = {key, ready[1], report[1]};
    const pid_t server = stress_spawn(blocked_server, &cfg);
    assert_true(server > 0);
    char c = 0;
    assert_int_equal(testutil_read_full(ready[0], &c, 1, 30000), 0);
    assert_int_equal(c, 'R');
    pid_t clients[2];
    for (int i = 0; i < 2; i++) {
        clients[i] = stress_spawn(blocked_client, &cfg);
        assert_true(clients[i] > 0);
        assert_int_equal(testutil_read_full(ready[0], &c, 1, 30000), 0);
        assert_int_equal(c, 'C');
    }
    const int semid = semget(key, 0, 0);
    const int shmid = shmget(key, 0, 0);
    assert_true(semid >= 0);
    assert_true(shmid >= 0);
    /* Segment first: removing the set wakes the server, whose cleanup
     * would then race us to the segment. */
    if (what == REMOVE_SEGMENT || what == REMOVE_BOTH) {
        assert_int_equal(shmctl(shmid, IPC_RMID, NULL), 0);
    }
    if (what == REMOVE_SEMSET || what == REMOVE_BOTH) {
        assert_int_equal(semctl(semid, 0, IPC_RMID), 0);
    }
    int failed = 0;
    const pid_t pids[3] = {server, clients[0], clients[1]};
    const char *names[3] = {"server_wait", "client_recv", "client_recv"};
    for (int i = 0; i < 3; i++) {
        const int st = stress_wait(pids[i], stress_budget_ms());
        struct blocked_report rep = {-1, -1};
        if (st != 0 || testutil_read_full(report[0], &rep, sizeof rep, 1000) != 0) {
            print_error("%s: exit %d, no report\n", names[i], st);
            failed++;
            continue;
        }
        print_message("  a blocked call returned %s after %lld ms (timeout %d ms)\n",
                      shmchan_errname((shmchan_err_t)rep.err), (long long)rep.elapsed_ms,
                      BLOCK_TIMEOUT_MS);
        if (rep.err != SHMCHAN_E_CLOSED) {
            failed++;
        }
    }
    stress_close_pair(ready);
    stress_close_pair(report);
    assert_int_equal(failed, 0);
    stress_assert_no_ipc_left();
}

static void test_semset_removed_while_blocked(void **state)
{
    (void)state;
    print_message("semset_removed: IPC_RMID on the semaphore set under a blocked server and "
                  "two blocked clients\n");
    for (uint64_t i = 0; i < stress_scale(); i++) {
        run_removal(REMOVE_SEMSET, 1);
    }
}

static void test_segment_removed_while_blocked(void **state)
{
    (void)state;
    print_message("segment_removed: IPC_RMID on the segment under a blocked server and two "
                  "blocked clients\n");
    for (uint64_t i = 0; i < stress_scale(); i++) {
        run_removal(REMOVE_SEGMENT, 2);
    }
}

static void test_both_removed_while_blocked(void **state)
{
    (void)state;
    print_message("both_removed: IPC_RMID on both objects (ipcrm, RemoveIPC=yes)\n");
    for (uint64_t i = 0; i < stress_scale(); i++) {
        run_removal(REMOVE_BOTH, 3);
    }
}

/* ------------------------------------------------------ stopped peers */

#define STOP_PAYLOAD 1024u

/* Client side of the stopped-server script; the parent drives it through
 * two pipes ('A'/'D' to the parent, 'B'/'E' from it). */
struct scripted_cfg {
    key_t key;
    int to_parent;
    int from_parent;
};

#define SCRIPT_FAIL(code, ...)              \
    do {                                    \
        fprintf(stderr, __VA_ARGS__);       \
        shmchan_client_disconnect(cli);     \
        return (code);                      \
    } while (0)

static int stopped_server_client(void *p)
{
    const struct scripted_cfg *cfg = p;
    shmchan_client_t *cli = NULL;
    if (shmchan_client_connect(cfg->key, NULL, &cli, NULL) != SHMCHAN_OK) {
        return 2;
    }
    uint8_t out[STOP_PAYLOAD], in[STOP_PAYLOAD];
    stress_stream_t echoes;
    stress_stream_reset(&echoes);
    char why[STRESS_FIRST_BAD_LEN];
    uint64_t seq = 0;
    uint32_t len = 0;
    /* The channel works. */
    stress_msg_build(out, 100, 1, seq++);
    if (shmchan_client_send(cli, out, 100, 5000) != SHMCHAN_OK ||
        shmchan_client_recv(cli, in, sizeof in, &len, 5000) != SHMCHAN_OK ||
        stress_stream_accept(&echoes, in, len, why, sizeof why) != 0) {
        SCRIPT_FAIL(3, "first round trip failed\n");
    }
    char c = 0;
    if (testutil_write_full(cfg->to_parent, "A", 1) != 0 ||
        testutil_read_full(cfg->from_parent, &c, 1, 60000) != 0 || c != 'B') {
        SCRIPT_FAIL(4, "no word from the parent\n");
    }
    /* The server is stopped, not dead: waits time out. */
    shmchan_err_t e = shmchan_client_recv(cli, in, sizeof in, &len, 300);
    if (e != SHMCHAN_E_TIMEOUT) {
        SCRIPT_FAIL(5, "recv from a stopped server: %s, expected TIMEOUT\n", shmchan_errname(e));
    }
    uint64_t queued = 0;
    for (;;) {
        stress_msg_build(out, STOP_PAYLOAD, 1, seq);
        e = shmchan_client_send(cli, out, STOP_PAYLOAD, 200);
        if (e != SHMCHAN_OK) {
            break;
        }
        seq++;
        queued++;
    }
    if (e != SHMCHAN_E_TIMEOUT || queued == 0) {
        SCRIPT_FAIL(6, "filling the lane of a stopped server: %s after %llu, expected TIMEOUT\n",
                    shmchan_errname(e), (unsigned long long)queued);
    }
    if (testutil_write_full(cfg->to_parent, "D", 1) != 0 ||
        testutil_read_full(cfg->from_parent, &c, 1, 60000) != 0 || c != 'E') {
        SCRIPT_FAIL(7, "no word from the parent\n");
    }
    /* SIGCONT: everything queued is served, in order, intact. */
    for (uint64_t i = 0; i < queued; i++) {
        e = shmchan_client_recv(cli, in, sizeof in, &len, 20000);
        if (e != SHMCHAN_OK || stress_stream_accept(&echoes, in, len, why, sizeof why) != 0) {
            SCRIPT_FAIL(8, "echo %llu after SIGCONT: %s %s\n", (unsigned long long)i,
                        shmchan_errname(e), e == SHMCHAN_OK ? why : "");
        }
    }
    stress_msg_build(out, 64, 1u | STRESS_SENDER_FIN, seq);
    if (shmchan_client_send(cli, out, 64, 5000) != SHMCHAN_OK ||
        shmchan_client_recv(cli, in, sizeof in, &len, 20000) != SHMCHAN_OK ||
        stress_stream_accept(&echoes, in, len, why, sizeof why) != 0 || !echoes.fin) {
        SCRIPT_FAIL(9, "last round trip failed\n");
    }
    shmchan_client_disconnect(cli);
    return 0;
}

static void test_stopped_server(void **state)
{
    (void)state;
    print_message("stopped_server: SIGSTOP the server under a client, then SIGCONT\n");
    const key_t key = testutil_key(10);
    stress_server_proc_t srv;
    stress_server_proc_init(&srv, key, 2, STOP_PAYLOAD, 8192);
    int up[2], down[2];
    assert_int_equal(stress_pipe(up), 0);
    assert_int_equal(stress_pipe(down), 0);
    stress_server_proc_start(&srv);
    char c = 0;
    struct scripted_cfg ccfg = {key, up[1], down[0]};
    const pid_t client = stress_spawn(stopped_server_client, &ccfg);
    assert_true(client > 0);
    assert_int_equal(testutil_read_full(up[0], &c, 1, 30000), 0);
    assert_int_equal(c, 'A');
    assert_int_equal(kill(srv.pid, SIGSTOP), 0);
    assert_int_equal(stress_wait_stopped(srv.pid), 1);
    assert_int_equal(testutil_write_full(down[1], "B", 1), 0);
    const int said_d = testutil_read_full(up[0], &c, 1, stress_budget_ms()) == 0 && c == 'D';
    assert_int_equal(kill(srv.pid, SIGCONT), 0);
    assert_true(said_d);
    assert_int_equal(testutil_write_full(down[1], "E", 1), 0);
    assert_int_equal(stress_wait(client, stress_budget_ms()), 0);
    stress_server_stats_t st;
    stress_server_proc_query(&srv, 'S', &st);
    assert_int_equal(stress_wait(srv.pid, stress_budget_ms()), STRESS_SERVER_EXIT_OK);
    print_message("  server after SIGCONT: %llu messages checked and echoed, bad %llu\n",
                  (unsigned long long)st.messages, (unsigned long long)st.bad);
    stress_server_proc_finish(&srv);
    stress_close_pair(up);
    stress_close_pair(down);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.bad_order, 0);
    assert_int_equal(st.disc_ok, 1);
    assert_int_equal(st.echo_timeout + st.echo_closed, 0);
    assert_true(st.messages >= 3);
    stress_assert_no_ipc_left();
}

/* A client that connects, says so, then takes `n` messages (n comes
 * through the pipe once it may start) and answers with one. */
struct drained_cfg {
    key_t key;
    int to_parent;
    int from_parent;
};

static int stopped_client(void *p)
{
    const struct drained_cfg *cfg = p;
    shmchan_client_t *cli = NULL;
    if (shmchan_client_connect(cfg->key, NULL, &cli, NULL) != SHMCHAN_OK) {
        return 2;
    }
    uint64_t n = 0;
    if (testutil_write_full(cfg->to_parent, "C", 1) != 0 ||
        testutil_read_full(cfg->from_parent, &n, sizeof n, 120000) != 0) {
        SCRIPT_FAIL(3, "no word from the parent\n");
    }
    uint8_t in[STOP_PAYLOAD];
    stress_stream_t st;
    stress_stream_reset(&st);
    char why[STRESS_FIRST_BAD_LEN];
    for (uint64_t i = 0; i < n; i++) {
        uint32_t len = 0;
        const shmchan_err_t e = shmchan_client_recv(cli, in, sizeof in, &len, 20000);
        if (e != SHMCHAN_OK || stress_stream_accept(&st, in, len, why, sizeof why) != 0) {
            SCRIPT_FAIL(4, "message %llu after SIGCONT: %s\n", (unsigned long long)i,
                        shmchan_errname(e));
        }
    }
    uint8_t out[64];
    stress_msg_build(out, sizeof out, 5u | STRESS_SENDER_FIN, 0);
    if (shmchan_client_send(cli, out, sizeof out, 5000) != SHMCHAN_OK) {
        SCRIPT_FAIL(5, "answer failed\n");
    }
    shmchan_client_disconnect(cli);
    return 0;
}

static void serve_one_event(shmchan_server_t *srv, shmchan_event_t *ev, uint8_t *buf)
{
    const shmchan_err_t e = shmchan_server_wait(srv, 20000, ev, buf, STOP_PAYLOAD);
    if (e != SHMCHAN_OK) {
        print_error("server_wait: %s\n", shmchan_errname(e));
    }
    assert_int_equal(e, SHMCHAN_OK);
}

static void test_stopped_client(void **state)
{
    (void)state;
    print_message("stopped_client: SIGSTOP one client; the server's sends to it time out, "
                  "another client is served meanwhile; then SIGCONT\n");
    const key_t key = testutil_key(11);
    shmchan_server_t *srv = make_server(key, 2);
    int up[2], down[2];
    assert_int_equal(stress_pipe(up), 0);
    assert_int_equal(stress_pipe(down), 0);
    struct drained_cfg ccfg = {key, up[1], down[0]};
    const pid_t stopped = stress_spawn(stopped_client, &ccfg);
    assert_true(stopped > 0);
    char c = 0;
    assert_int_equal(testutil_read_full(up[0], &c, 1, 30000), 0);
    uint8_t buf[STOP_PAYLOAD];
    shmchan_event_t ev;
    serve_one_event(srv, &ev, buf);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_CONNECT);
    const uint32_t stopped_slot = ev.client;

    assert_int_equal(kill(stopped, SIGSTOP), 0);
    assert_int_equal(stress_wait_stopped(stopped), 1);
    /* Fill its lane; the client is alive but cannot read: TIMEOUT. */
    uint64_t n = 0;
    shmchan_err_t e;
    for (;;) {
        stress_msg_build(buf, STOP_PAYLOAD, 9, n);
        e = shmchan_server_send(srv, stopped_slot, buf, STOP_PAYLOAD, 200);
        if (e != SHMCHAN_OK) {
            break;
        }
        n++;
    }
    assert_int_equal(e, SHMCHAN_E_TIMEOUT);
    assert_true(n > 0);
    stress_msg_build(buf, STOP_PAYLOAD, 9, n);
    assert_int_equal(shmchan_server_send(srv, stopped_slot, buf, STOP_PAYLOAD, 200),
                     SHMCHAN_E_TIMEOUT);

    /* Another client is served meanwhile. */
    stress_client_cfg_t other;
    stress_client_cfg_init(&other, key, 77);
    other.messages = 100;
    other.max_len = STOP_PAYLOAD;
    const pid_t other_pid = stress_spawn(stress_client_main, &other);
    assert_true(other_pid > 0);
    stress_stream_t st;
    stress_stream_reset(&st);
    char why[STRESS_FIRST_BAD_LEN];
    uint64_t echoed = 0;
    for (int done = 0; !done;) {
        serve_one_event(srv, &ev, buf);
        assert_int_not_equal(ev.client, stopped_slot);
        if (ev.kind == SHMCHAN_EVENT_MESSAGE) {
            assert_int_equal(stress_stream_accept(&st, buf, ev.len, why, sizeof why), 0);
            assert_int_equal(shmchan_server_send(srv, ev.client, buf, ev.len, 20000), SHMCHAN_OK);
            echoed++;
        } else if (ev.kind == SHMCHAN_EVENT_DISCONNECT) {
            assert_int_equal(ev.reason, SHMCHAN_OK);
            done = 1;
        }
    }
    assert_int_equal(stress_wait(other_pid, stress_budget_ms()), 0);
    assert_int_equal(echoed, 100);

    /* SIGCONT: it takes everything queued for it and answers. */
    assert_int_equal(kill(stopped, SIGCONT), 0);
    assert_int_equal(testutil_write_full(down[1], &n, sizeof n), 0);
    serve_one_event(srv, &ev, buf);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_MESSAGE);
    assert_int_equal(ev.client, stopped_slot);
    serve_one_event(srv, &ev, buf);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_DISCONNECT);
    assert_int_equal(ev.reason, SHMCHAN_OK);
    assert_int_equal(stress_wait(stopped, stress_budget_ms()), 0);
    print_message("  %llu messages queued to the stopped client, all delivered after SIGCONT; "
                  "%llu echoed to the other meanwhile\n",
                  (unsigned long long)n, (unsigned long long)echoed);
    stress_close_pair(up);
    stress_close_pair(down);
    shmchan_server_destroy(srv);
    stress_assert_no_ipc_left();
}

/* ------------------------------------------------------ kernel limits */

struct limits {
    char sem[128];
    char shmmni[64];
    char shmmax[64];
    char shmall[64];
};

static int read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    const int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    return ok ? 0 : -1;
}

static int write_file(const char *path, const char *value)
{
    const int fd = open(path, O_WRONLY);
    if (fd < 0) {
        return -1;
    }
    const ssize_t n = write(fd, value, strlen(value));
    close(fd);
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

static int limits_read(struct limits *l)
{
    return read_file("/proc/sys/kernel/sem", l->sem, sizeof l->sem) |
           read_file("/proc/sys/kernel/shmmni", l->shmmni, sizeof l->shmmni) |
           read_file("/proc/sys/kernel/shmmax", l->shmmax, sizeof l->shmmax) |
           read_file("/proc/sys/kernel/shmall", l->shmall, sizeof l->shmall);
}

static int limits_restore(const struct limits *l)
{
    return write_file("/proc/sys/kernel/sem", l->sem) |
           write_file("/proc/sys/kernel/shmmni", l->shmmni) |
           write_file("/proc/sys/kernel/shmmax", l->shmmax) |
           write_file("/proc/sys/kernel/shmall", l->shmall);
}

struct limit_case {
    const char *name;
    const char *file;
    const char *value; /* "%s"-free literal; kernel.sem is SEMMSL SEMMNS SEMOPM SEMMNI */
    const char *call;  /* what the diagnostic must name */
};

/* max_clients 8: 36 semaphores; the segment is 256 + 8 * (576 + 2*4096). */
static const struct limit_case k_cases[] = {
    {"no semaphore set may exist (SEMMNI=0)", "/proc/sys/kernel/sem", "32000 1024000000 500 0",
     "semget"},
    {"sets smaller than ours (SEMMSL=8 < 36)", "/proc/sys/kernel/sem", "8 1024000000 500 32000",
     "semget"},
    {"too few semaphores system-wide (SEMMNS=20)", "/proc/sys/kernel/sem", "32000 20 500 32000",
     "semget"},
    {"one operation per semop (SEMOPM=1)", "/proc/sys/kernel/sem", "32000 1024000000 1 32000",
     "semtimedop"},
    {"no segment may exist (shmmni=0)", "/proc/sys/kernel/shmmni", "0", "shmget"},
    {"segments smaller than ours (shmmax=4096)", "/proc/sys/kernel/shmmax", "4096", "shmget"},
    {"too few shared pages (shmall=1)", "/proc/sys/kernel/shmall", "1", "shmget"},
};

/* Runs in a child that has its own IPC namespace. Returns the number of
 * failed checks; each failure is described on stderr. */
static int limits_child(void *p)
{
    (void)p;
    /* A private IPC namespace of our own, whether or not the test already
     * runs in one: lowering limits can then never touch anyone else's. */
    if (unshare(CLONE_NEWIPC) != 0) {
        fprintf(stderr, "unshare(CLONE_NEWIPC): %s\n", strerror(errno));
        return 77;
    }
    struct limits orig;
    if (limits_read(&orig) != 0 || write_file("/proc/sys/kernel/shmmni", orig.shmmni) != 0) {
        fprintf(stderr, "cannot write /proc/sys/kernel/shmmni: %s\n", strerror(errno));
        return 77;
    }
    int failures = 0;
    const key_t key = testutil_key(20);
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = 8;
    o.max_payload = 1024;
    o.lane_capacity = 4096;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const struct limit_case *lc = &k_cases[i];
        if (write_file(lc->file, lc->value) != 0) {
            fprintf(stderr, "%s: cannot write %s\n", lc->name, lc->file);
            failures++;
            continue;
        }
        shmchan_server_t *srv = NULL;
        shmchan_diag_t d;
        memset(&d, 0, sizeof d);
        const shmchan_err_t e = shmchan_server_create(key, &o, &srv, &d);
        const int left_shm = testutil_count_shm(), left_sem = testutil_count_sem();
        const int ok = e == SHMCHAN_E_LIMIT && srv == NULL && d.code == SHMCHAN_E_LIMIT &&
                       strstr(d.text, lc->call) != NULL && left_shm == 0 && left_sem == 0;
        fprintf(stderr, "limit: %-45s -> %s, \"%s\", left %d segments %d sets%s\n", lc->name,
                shmchan_errname(e), d.text, left_shm, left_sem, ok ? "" : "  <-- WRONG");
        failures += !ok;
        if (srv != NULL) {
            shmchan_server_destroy(srv);
        }
        if (limits_restore(&orig) != 0) {
            fprintf(stderr, "cannot restore the limits\n");
            return failures + 1;
        }
        /* The limit was the cause: with it lifted, the same call works. */
        srv = NULL;
        if (shmchan_server_create(key, &o, &srv, &d) != SHMCHAN_OK) {
            fprintf(stderr, "%s: creation fails even with the limits restored: %s\n", lc->name,
                    d.text);
            failures++;
        }
        shmchan_server_destroy(srv);
    }
    /* A client's connect under SEMOPM=2: claiming a slot takes 3 operations
     * in one semop. It must fail with LIMIT and take nothing. */
    shmchan_server_t *srv = NULL;
    if (shmchan_server_create(key, &o, &srv, NULL) != SHMCHAN_OK) {
        return failures + 1;
    }
    if (write_file("/proc/sys/kernel/sem", "32000 1024000000 2 32000") != 0) {
        return failures + 1;
    }
    shmchan_client_t *cli = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t ce = shmchan_client_connect(key, NULL, &cli, &d);
    const long attach = testutil_count_attach();
    const int cok = ce == SHMCHAN_E_LIMIT && cli == NULL && attach == 1 &&
                    strstr(d.text, "semtimedop") != NULL;
    fprintf(stderr, "limit: %-45s -> %s, \"%s\", %ld attachments%s\n",
            "client connect under SEMOPM=2", shmchan_errname(ce), d.text, attach,
            cok ? "" : "  <-- WRONG");
    failures += !cok;
    shmchan_client_disconnect(cli);
    if (limits_restore(&orig) != 0) {
        return failures + 1;
    }
    /* Lifted: the slot it did not take is free, the channel works. */
    if (shmchan_client_connect(key, NULL, &cli, &d) != SHMCHAN_OK) {
        fprintf(stderr, "connect fails even with the limits restored: %s\n", d.text);
        failures++;
    } else {
        shmchan_event_t ev;
        const shmchan_err_t we = shmchan_server_wait(srv, 5000, &ev, NULL, 0);
        if (we != SHMCHAN_OK || ev.kind != SHMCHAN_EVENT_CONNECT) {
            fprintf(stderr, "no CONNECT after the limits were lifted: %s\n", shmchan_errname(we));
            failures++;
        }
        shmchan_client_disconnect(cli);
    }
    shmchan_server_destroy(srv);
    if (testutil_count_shm() != 0 || testutil_count_sem() != 0) {
        fprintf(stderr, "objects left in the private namespace\n");
        failures++;
    }
    return failures;
}

static void test_kernel_limits_at_each_step(void **state)
{
    (void)state;
    print_message("kernel_limits: each creation step made to fail by a lowered limit\n");
    const pid_t pid = stress_spawn(limits_child, NULL);
    assert_true(pid > 0);
    const int st = stress_wait(pid, stress_budget_ms());
    if (st == 77) {
        print_message("SKIPPED: cannot create a private IPC namespace or write its limits "
                      "(needs CAP_SYS_ADMIN; the reason is printed above)\n");
        skip();
    }
    assert_int_equal(st, 0);
    stress_assert_no_ipc_left();
}

int main(int argc, char **argv)
{
    stress_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_semset_removed_while_blocked, stress_teardown),
        cmocka_unit_test_teardown(test_segment_removed_while_blocked, stress_teardown),
        cmocka_unit_test_teardown(test_both_removed_while_blocked, stress_teardown),
        cmocka_unit_test_teardown(test_stopped_server, stress_teardown),
        cmocka_unit_test_teardown(test_stopped_client, stress_teardown),
        cmocka_unit_test_teardown(test_kernel_limits_at_each_step, stress_teardown),
    };
    return cmocka_run_group_tests_name("removal_limits", tests, NULL, NULL);
}
