/*
 * signal_stress_test.c - signals during blocking calls.
 *
 * A storm: a signaller process (paced by a timerfd) sends SIGUSR1 every
 * 100 us to both ends, which have an empty handler installed WITHOUT
 * SA_RESTART, so every blocking semtimedop the library makes keeps failing
 * with EINTR. Timeouts must still be honoured (a blocking call with a
 * timeout returns, returns SHMCHAN_E_TIMEOUT and not SHMCHAN_E_INTERRUPTED,
 * and not before its timeout), and no message may be lost, duplicated or
 * damaged - with and without a (never set) cancel flag.
 *
 * The real server program (//src:server): SIGINT, SIGTERM and SIGHUP at
 * random moments while clients connect and send must end it with exit
 * status 128+N after removing both IPC objects.
 */
/* ppoll(2) is a GNU extension (the program's output is drained while the
 * random kill delay runs). */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/stress/stress_peers.h"
#include "tests/stress/stress_util.h"
#include "tests/testutil.h"

#define STORM_PERIOD_NS 100000 /* 100 us */

/* The signaller with its stop and report pipes. */
struct storm {
    stress_signaller_cfg_t cfg;
    int stop[2], report[2];
    pid_t pid;
};

static void storm_start(struct storm *s, const pid_t *targets, int n)
{
    assert_int_equal(stress_pipe(s->stop), 0);
    assert_int_equal(stress_pipe(s->report), 0);
    memset(&s->cfg, 0, sizeof s->cfg);
    for (int i = 0; i < n; i++) {
        s->cfg.targets[i] = targets[i];
    }
    s->cfg.ntargets = n;
    s->cfg.signo = SIGUSR1;
    s->cfg.period_ns = STORM_PERIOD_NS;
    s->cfg.stop_fd = s->stop[0];
    s->cfg.report_fd = s->report[1];
    s->pid = stress_spawn(stress_signaller_main, &s->cfg);
    assert_true(s->pid > 0);
}

/* Call only once every target has exited (not yet reaped, so no pid can
 * have been reused). */
static void storm_stop(struct storm *s, stress_signaller_report_t *rep)
{
    assert_int_equal(testutil_write_full(s->stop[1], "x", 1), 0);
    memset(rep, 0, sizeof *rep);
    assert_int_equal(testutil_read_full(s->report[0], rep, sizeof *rep, stress_budget_ms()), 0);
    assert_int_equal(stress_wait(s->pid, stress_budget_ms()), 0);
    stress_close_pair(s->stop);
    stress_close_pair(s->report);
}

/* ------------------------------------------- timeouts under the storm */

/* One process holds a server and a client of it, and makes every kind of
 * blocking call time out while the storm runs: recv on an empty lane,
 * wait on an idle server, send into a full lane (both directions). Then it
 * drains both lanes and checks every message. */
struct timeouts_cfg {
    key_t key;
    uint64_t seed;
    int use_cancel; /* pass a cancel flag that stays 0 */
    uint32_t repeats;
    int timeout_ms;
    int report_fd;
};

struct timeouts_report {
    uint64_t calls;      /* blocking calls made with a timeout */
    uint64_t timeouts;   /* of which returned SHMCHAN_E_TIMEOUT, as they must */
    uint64_t early;      /* returned TIMEOUT before their timeout: never valid */
    uint64_t wrong;      /* returned anything else: never valid */
    uint64_t messages;   /* sent into full lanes and drained, each checked */
    uint64_t signals;    /* SIGUSR1 handler runs */
    char what[STRESS_FIRST_BAD_LEN];
};

static volatile sig_atomic_t g_zero_cancel = 0;

struct tchild {
    const struct timeouts_cfg *cfg;
    struct timeouts_report rep;
    shmchan_server_t *srv;
    shmchan_client_t *cli;
};

static void note(struct tchild *c, const char *what, shmchan_err_t e)
{
    if (c->rep.what[0] == '\0') {
        snprintf(c->rep.what, sizeof c->rep.what, "%s returned %s", what, shmchan_errname(e));
    }
}

/* Records one call that must time out: its result and whether it returned
 * before its timeout. */
static void expect_timeout(struct tchild *c, const char *what, shmchan_err_t e, int64_t t0)
{
    c->rep.calls++;
    if (e != SHMCHAN_E_TIMEOUT) {
        c->rep.wrong++;
        note(c, what, e);
        return;
    }
    c->rep.timeouts++;
    if (stress_now_ns() - t0 < (int64_t)c->cfg->timeout_ms * 1000000) {
        c->rep.early++;
        note(c, what, e);
    }
}

#define T_SERVER_ID 1u
#define T_CLIENT_ID 2u
#define T_PAYLOAD 1024u

static int timeouts_setup(struct tchild *c)
{
    shmchan_server_options_t so;
    shmchan_server_options_init(&so);
    so.max_clients = 1;
    so.max_payload = T_PAYLOAD;
    so.lane_capacity = 4096;
    so.cancel = c->cfg->use_cancel ? &g_zero_cancel : NULL;
    if (shmchan_server_create(c->cfg->key, &so, &c->srv, NULL) != SHMCHAN_OK) {
        return -1;
    }
    shmchan_client_options_t co;
    shmchan_client_options_init(&co);
    co.cancel = so.cancel;
    if (shmchan_client_connect(c->cfg->key, &co, &c->cli, NULL) != SHMCHAN_OK) {
        return -1;
    }
    shmchan_event_t ev;
    const shmchan_err_t e = shmchan_server_wait(c->srv, 5000, &ev, NULL, 0);
    return (e == SHMCHAN_OK && ev.kind == SHMCHAN_EVENT_CONNECT) ? 0 : -1;
}

/* Sends until the lane is full (the call times out), then `repeats - 1`
 * more times the same message, which cannot fit while nobody reads.
 * Returns how many messages the lane took. */
static uint64_t fill_lane(struct tchild *c, int from_server, uint64_t *rng)
{
    uint8_t buf[T_PAYLOAD];
    const uint32_t sender = from_server ? T_SERVER_ID : T_CLIENT_ID;
    const char *what =
        from_server ? "server_send into a full lane" : "client_send into a full lane";
    uint64_t seq = 0;
    uint32_t timeouts = 0;
    uint32_t len = 0;
    while (timeouts < c->cfg->repeats) {
        if (timeouts == 0) {
            len = stress_msg_pick_len(rng, T_PAYLOAD, seq == 0);
            stress_msg_build(buf, len, sender, seq);
        }
        const int64_t t0 = stress_now_ns();
        const shmchan_err_t e = from_server
                                    ? shmchan_server_send(c->srv, 0, buf, len, c->cfg->timeout_ms)
                                    : shmchan_client_send(c->cli, buf, len, c->cfg->timeout_ms);
        if (e == SHMCHAN_OK && timeouts == 0) {
            seq++; /* still filling: the lane took it */
            continue;
        }
        expect_timeout(c, what, e, t0);
        timeouts++;
        if (e == SHMCHAN_OK) {
            /* Counted as wrong above; keep the stream consistent. */
            seq++;
            stress_msg_build(buf, len, sender, seq);
        }
    }
    return seq;
}

static void drain_and_check(struct tchild *c, uint64_t s2c, uint64_t c2s)
{
    uint8_t buf[T_PAYLOAD];
    char why[STRESS_FIRST_BAD_LEN];
    stress_stream_t st;
    stress_stream_reset(&st);
    for (uint64_t i = 0; i < s2c; i++) {
        uint32_t len = 0;
        const shmchan_err_t e = shmchan_client_recv(c->cli, buf, sizeof buf, &len, 5000);
        if (e != SHMCHAN_OK || stress_stream_accept(&st, buf, len, why, sizeof why) != 0) {
            c->rep.wrong++;
            note(c, "draining the server's messages", e);
            return;
        }
        c->rep.messages++;
    }
    stress_stream_reset(&st);
    for (uint64_t i = 0; i < c2s; i++) {
        shmchan_event_t ev;
        const shmchan_err_t e = shmchan_server_wait(c->srv, 5000, &ev, buf, sizeof buf);
        if (e != SHMCHAN_OK || ev.kind != SHMCHAN_EVENT_MESSAGE ||
            stress_stream_accept(&st, buf, ev.len, why, sizeof why) != 0) {
            c->rep.wrong++;
            note(c, "draining the client's messages", e);
            return;
        }
        c->rep.messages++;
    }
}

static int timeouts_child(void *p)
{
    struct tchild c;
    memset(&c, 0, sizeof c);
    c.cfg = p;
    if (stress_install_counting_handler(SIGUSR1) != 0 || timeouts_setup(&c) != 0) {
        return 2;
    }
    uint64_t rng = c.cfg->seed;
    uint8_t buf[T_PAYLOAD];
    for (uint32_t i = 0; i < c.cfg->repeats; i++) {
        uint32_t len = 0;
        int64_t t0 = stress_now_ns();
        expect_timeout(&c, "client_recv on an empty lane",
                       shmchan_client_recv(c.cli, buf, sizeof buf, &len, c.cfg->timeout_ms), t0);
        shmchan_event_t ev;
        t0 = stress_now_ns();
        expect_timeout(&c, "server_wait on an idle channel",
                       shmchan_server_wait(c.srv, c.cfg->timeout_ms, &ev, buf, sizeof buf), t0);
    }
    const uint64_t s2c = fill_lane(&c, 1, &rng);
    const uint64_t c2s = fill_lane(&c, 0, &rng);
    drain_and_check(&c, s2c, c2s);
    shmchan_client_disconnect(c.cli);
    shmchan_server_destroy(c.srv);
    c.rep.signals = stress_signals_caught();
    (void)testutil_write_full(c.cfg->report_fd, &c.rep, sizeof c.rep);
    return 0;
}

static void test_storm_timeouts_honoured(void **state)
{
    (void)state;
    const uint32_t repeats = (uint32_t)stress_scaled(12);
    const uint64_t seed = testutil_seed();
    print_message("storm_timeouts: seed 0x%016llx (replay: SHMCHAN_TEST_SEED=0x%016llx); "
                  "SIGUSR1 every %d us to 2 processes, %u timed-out calls of each kind each\n",
                  (unsigned long long)seed, (unsigned long long)seed, STORM_PERIOD_NS / 1000,
                  repeats);
    /* Installed before the fork, so no child can be hit by the storm before
     * its handler is in place (the default action would kill it). */
    assert_int_equal(stress_install_counting_handler(SIGUSR1), 0);
    int report[2];
    assert_int_equal(stress_pipe(report), 0);
    struct timeouts_cfg cfg[2];
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        cfg[i].key = testutil_key(10u + (unsigned)i);
        cfg[i].seed = stress_derive_seed(seed, (uint64_t)i);
        cfg[i].use_cancel = i;
        cfg[i].repeats = repeats;
        cfg[i].timeout_ms = 30;
        cfg[i].report_fd = report[1];
        pids[i] = stress_spawn(timeouts_child, &cfg[i]);
        assert_true(pids[i] > 0);
    }
    struct storm storm;
    storm_start(&storm, pids, 2);
    int exited = 0;
    for (int i = 0; i < 2; i++) {
        exited += stress_wait_exited(pids[i], stress_budget_ms()) == 0;
    }
    stress_signaller_report_t srep;
    storm_stop(&storm, &srep);
    int status[2];
    for (int i = 0; i < 2; i++) {
        status[i] = stress_wait(pids[i], 1000);
    }
    print_message("  signaller: %llu ticks, %llu signals sent\n", (unsigned long long)srep.ticks,
                  (unsigned long long)srep.sent);
    assert_int_equal(exited, 2);
    for (int i = 0; i < 2; i++) {
        struct timeouts_report rep;
        assert_int_equal(status[i], 0);
        assert_int_equal(testutil_read_full(report[0], &rep, sizeof rep, 1000), 0);
        print_message("  child: %llu calls, %llu timed out, %llu early, %llu wrong, %llu "
                      "messages checked, %llu signals caught%s%s\n",
                      (unsigned long long)rep.calls, (unsigned long long)rep.timeouts,
                      (unsigned long long)rep.early, (unsigned long long)rep.wrong,
                      (unsigned long long)rep.messages, (unsigned long long)rep.signals,
                      rep.what[0] ? ": " : "", rep.what);
        assert_int_equal(rep.wrong, 0);
        assert_int_equal(rep.early, 0);
        assert_int_equal(rep.calls, 4u * repeats);
        assert_int_equal(rep.timeouts, rep.calls);
        assert_true(rep.messages > 0);
        /* The storm really hit the blocking calls. */
        assert_true(rep.signals > 0);
    }
    stress_close_pair(report);
    stress_assert_no_ipc_left();
}

/* --------------------------------------------- traffic under the storm */

#define STORM_CLIENTS 4

static void test_storm_traffic_loses_nothing(void **state)
{
    (void)state;
    const uint64_t seed = testutil_seed();
    const uint64_t messages = stress_scaled(10000);
    print_message("storm_traffic: seed 0x%016llx (replay: SHMCHAN_TEST_SEED=0x%016llx); "
                  "SIGUSR1 every %d us to the server and %d clients, %llu messages each way "
                  "each\n",
                  (unsigned long long)seed, (unsigned long long)seed, STORM_PERIOD_NS / 1000,
                  STORM_CLIENTS, (unsigned long long)messages);
    const key_t key = testutil_key(20);
    /* Inherited by every child: installed before any storm can reach one. */
    assert_int_equal(stress_install_counting_handler(SIGUSR1), 0);
    stress_server_proc_t srv;
    stress_server_proc_init(&srv, key, STORM_CLIENTS, 2048, 8192);
    int report[2];
    assert_int_equal(stress_pipe(report), 0);
    srv.cfg.stop_after_disconnects = STORM_CLIENTS;
    /* It stops after the last disconnect and is never told to: it does not
     * watch ctl. */
    srv.cfg.ctl_fd = -1;
    srv.cfg.install_sigusr1 = 1;
    pid_t pids[STORM_CLIENTS + 1];
    stress_server_proc_start(&srv);
    pids[0] = srv.pid;
    stress_client_cfg_t ccfg[STORM_CLIENTS];
    for (int i = 0; i < STORM_CLIENTS; i++) {
        stress_client_cfg_init(&ccfg[i], key, 1u + (uint32_t)i);
        ccfg[i].messages = messages;
        ccfg[i].max_len = 2048;
        ccfg[i].seed = stress_derive_seed(seed, 1u + (uint32_t)i);
        ccfg[i].report_fd = report[1];
        ccfg[i].install_sigusr1 = 1;
        ccfg[i].set_cancel = i % 2;
        pids[1 + i] = stress_spawn(stress_client_main, &ccfg[i]);
        assert_true(pids[1 + i] > 0);
    }
    struct storm storm;
    storm_start(&storm, pids, STORM_CLIENTS + 1);
    int exited = 0;
    for (int i = 0; i <= STORM_CLIENTS; i++) {
        exited += stress_wait_exited(pids[i], stress_budget_ms()) == 0;
    }
    stress_signaller_report_t srep;
    storm_stop(&storm, &srep);
    int failed = 0;
    for (int i = 0; i <= STORM_CLIENTS; i++) {
        const int st = stress_wait(pids[i], 1000);
        if (st != 0) {
            char text[64];
            print_error("%s %d: %s\n", i == 0 ? "server" : "client", i,
                        stress_status_text(st, text, sizeof text));
            failed++;
        }
    }
    uint64_t received = 0;
    int quiet_clients = 0;
    for (int i = 0; i < STORM_CLIENTS; i++) {
        stress_client_report_t rep;
        if (testutil_read_full(report[0], &rep, sizeof rep, 1000) != 0) {
            failed++;
            continue;
        }
        if (rep.exit_code != 0 || rep.received != messages) {
            print_error("client %u: %s, received %llu: %s\n", rep.sender,
                        stress_client_code_name(rep.exit_code),
                        (unsigned long long)rep.received, rep.first_bad);
            failed++;
        }
        received += rep.received;
        quiet_clients += rep.signals == 0;
    }
    stress_server_stats_t st;
    assert_int_equal(testutil_read_full(srv.result[0], &st, sizeof st, 1000), 0);
    print_message("  signaller: %llu signals sent; server caught %llu, checked %llu messages, "
                  "echoed %llu; clients received %llu echoes\n",
                  (unsigned long long)srep.sent, (unsigned long long)st.signals,
                  (unsigned long long)st.messages, (unsigned long long)st.echoed,
                  (unsigned long long)received);
    stress_server_proc_finish(&srv);
    stress_close_pair(report);
    assert_int_equal(exited, STORM_CLIENTS + 1);
    assert_int_equal(failed, 0);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.bad_order, 0);
    assert_int_equal(st.last_error, SHMCHAN_OK);
    assert_int_equal(st.messages, STORM_CLIENTS * messages);
    assert_int_equal(st.echoed, STORM_CLIENTS * messages);
    assert_int_equal(st.disc_ok, STORM_CLIENTS);
    assert_int_equal(received, STORM_CLIENTS * messages);
    assert_true(st.signals > 0);
    assert_int_equal(quiet_clients, 0);
    stress_assert_no_ipc_left();
}

/* ---------------------------------------- the server program, signalled */

/* $TEST_SRCDIR/shmchan/src/server, or NULL if it is not there. */
static const char *server_program(char *buf, size_t len)
{
    const char *root = getenv("TEST_SRCDIR");
    if (root == NULL) {
        return NULL;
    }
    snprintf(buf, len, "%s/shmchan/src/server", root);
    return access(buf, X_OK) == 0 ? buf : NULL;
}

struct program {
    pid_t pid;
    int out, err; /* read ends of its stdout and stderr */
    char err_tail[512];
    size_t err_len;
    int ready;    /* it printed "Waiting for client" */
    char line[256];
    size_t line_len;
    char last_line[256]; /* the last complete line on stdout */
};

struct exec_arg {
    const char *path;
    char key[32];
    int out[2], err[2];
};

static int exec_child(void *p)
{
    struct exec_arg *a = p;
    if (dup2(a->out[1], 1) < 0 || dup2(a->err[1], 2) < 0) {
        return 127;
    }
    char *const argv[] = {(char *)"server", (char *)"--key", a->key, NULL};
    execv(a->path, argv);
    return 127;
}

static void program_start(struct program *pr, const char *path, key_t key)
{
    memset(pr, 0, sizeof *pr);
    struct exec_arg a;
    a.path = path;
    snprintf(a.key, sizeof a.key, "0x%08x", (unsigned)key);
    assert_int_equal(stress_pipe(a.out), 0);
    assert_int_equal(stress_pipe(a.err), 0);
    pr->pid = stress_spawn(exec_child, &a);
    assert_true(pr->pid > 0);
    close(a.out[1]);
    close(a.err[1]);
    pr->out = a.out[0];
    pr->err = a.err[0];
}

/* Reads what the program wrote (never blocks): stdout is scanned for the
 * readiness line, the end of stderr is kept for messages. */
static void program_drain(struct program *pr)
{
    char buf[4096];
    while (pr->out >= 0 && stress_fd_ready(pr->out)) {
        const ssize_t n = read(pr->out, buf, sizeof buf);
        if (n <= 0) {
            stress_close(&pr->out);
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                pr->line[pr->line_len < sizeof pr->line ? pr->line_len : sizeof pr->line - 1] =
                    '\0';
                if (strstr(pr->line, "Waiting for client") != NULL) {
                    pr->ready = 1;
                }
                memcpy(pr->last_line, pr->line, sizeof pr->last_line);
                pr->line_len = 0;
            } else if (pr->line_len + 1 < sizeof pr->line) {
                pr->line[pr->line_len++] = buf[i];
            }
        }
    }
    while (pr->err >= 0 && stress_fd_ready(pr->err)) {
        const ssize_t n = read(pr->err, buf, sizeof buf);
        if (n <= 0) {
            stress_close(&pr->err);
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (pr->err_len + 1 >= sizeof pr->err_tail) {
                memmove(pr->err_tail, pr->err_tail + 256, pr->err_len - 256);
                pr->err_len -= 256;
            }
            pr->err_tail[pr->err_len++] = buf[i];
        }
        pr->err_tail[pr->err_len] = '\0';
    }
}

/* Waits (draining its output) until the program is ready, has exited, or
 * timeout_ns passed. Returns 1 if it has exited (not reaped). */
static int program_run_for(struct program *pr, int64_t timeout_ns, int until_ready)
{
    const int pidfd = stress_pidfd_open(pr->pid);
    assert_true(pidfd >= 0);
    const int64_t deadline = stress_now_ns() + timeout_ns;
    int exited = 0;
    for (;;) {
        program_drain(pr);
        if (until_ready && pr->ready) {
            break;
        }
        int64_t left = deadline - stress_now_ns();
        if (left <= 0) {
            break;
        }
        struct pollfd pfd[3];
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        if (pr->out >= 0) {
            pfd[n++] = (struct pollfd){.fd = pr->out, .events = POLLIN};
        }
        if (pr->err >= 0) {
            pfd[n++] = (struct pollfd){.fd = pr->err, .events = POLLIN};
        }
        const struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        const int r = ppoll(pfd, n, &ts, NULL);
        if (r > 0 && pfd[0].revents != 0) {
            exited = 1;
            program_drain(pr);
            break;
        }
        if (r < 0 && errno != EINTR) {
            break;
        }
    }
    close(pidfd);
    return exited;
}

/* Raw wait status after an exit (reaps). -1 on timeout (then killed). */
static int program_reap(struct program *pr)
{
    int status = -1;
    if (stress_wait_raw(pr->pid, 1000, &status) != 0) {
        status = -1;
    }
    stress_close(&pr->out);
    stress_close(&pr->err);
    return status;
}

/* A client of the chat server: takes the hello, then sends short printable
 * lines until the server goes away. */
struct chat_cfg {
    key_t key;
    uint64_t seed;
    uint32_t lines;
};

static int chat_client(void *p)
{
    const struct chat_cfg *cfg = p;
    shmchan_client_t *cli = NULL;
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    const shmchan_err_t ce = shmchan_client_connect(cfg->key, &o, &cli, NULL);
    if (ce != SHMCHAN_OK) {
        /* The server may already be shutting down. */
        return (ce == SHMCHAN_E_NOT_FOUND || ce == SHMCHAN_E_CLOSED) ? STRESS_CLIENT_CLOSED
                                                                     : STRESS_CLIENT_CONNECT;
    }
    uint64_t rng = cfg->seed;
    uint8_t buf[256];
    uint32_t len = 0;
    shmchan_err_t e = shmchan_client_recv(cli, buf, sizeof buf, &len, 5000);
    for (uint32_t i = 0; e == SHMCHAN_OK && i < cfg->lines; i++) {
        const uint32_t n = 1u + (uint32_t)stress_below(&rng, 80);
        /* Upper case: a line can never be the server's "exit" command. */
        for (uint32_t k = 0; k < n; k++) {
            buf[k] = (uint8_t)('A' + stress_below(&rng, 26));
        }
        e = shmchan_client_send(cli, buf, n, 5000);
    }
    shmchan_client_disconnect(cli);
    if (e == SHMCHAN_OK) {
        return STRESS_CLIENT_OK;
    }
    return e == SHMCHAN_E_CLOSED    ? STRESS_CLIENT_CLOSED
           : e == SHMCHAN_E_TIMEOUT ? STRESS_CLIENT_TIMEOUT
                                    : STRESS_CLIENT_API;
}

static void test_program_signals_at_random_times(void **state)
{
    (void)state;
    char path_buf[4096];
    const char *path = server_program(path_buf, sizeof path_buf);
    if (path == NULL) {
        print_message("SKIPPED: the server program is not in the runfiles "
                      "($TEST_SRCDIR/shmchan/src/server): is //src:server built?\n");
        skip();
    }
    const uint64_t seed = testutil_seed();
    uint64_t rng = stress_derive_seed(seed, 3);
    const uint32_t rounds = (uint32_t)stress_scaled(40);
    print_message("program_signals: seed 0x%016llx (replay: SHMCHAN_TEST_SEED=0x%016llx); %u "
                  "rounds of %s\n",
                  (unsigned long long)seed, (unsigned long long)seed, rounds, path);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    int failed = 0;
    uint32_t with_clients = 0;
    for (uint32_t round = 0; round < rounds; round++) {
        const key_t key = testutil_key(30u + round % 64u);
        const int sig = sigs[stress_below(&rng, 3)];
        struct program pr;
        program_start(&pr, path, key);
        assert_int_equal(program_run_for(&pr, (int64_t)30000 * 1000000, 1), 0);
        assert_true(pr.ready);
        const uint32_t nclients = (uint32_t)stress_below(&rng, 4);
        with_clients += nclients > 0;
        struct chat_cfg ccfg[3];
        pid_t cpids[3];
        for (uint32_t i = 0; i < nclients; i++) {
            ccfg[i].key = key;
            ccfg[i].seed = stress_derive_seed(seed, round * 4u + i);
            ccfg[i].lines = 2000;
            cpids[i] = stress_spawn(chat_client, &ccfg[i]);
            assert_true(cpids[i] > 0);
        }
        /* The signal lands a random time after the program said it was
         * ready: while idle, while clients connect, or under traffic. */
        const int64_t delay = (int64_t)stress_below(&rng, 30000) * 1000;
        const int early = program_run_for(&pr, delay, 0);
        (void)kill(pr.pid, sig);
        const int exited = early || program_run_for(&pr, (int64_t)20000 * 1000000, 0);
        const int status = program_reap(&pr);
        for (uint32_t i = 0; i < nclients; i++) {
            const int cst = stress_wait(cpids[i], 20000);
            if (cst != STRESS_CLIENT_OK && cst != STRESS_CLIENT_CLOSED &&
                cst != STRESS_CLIENT_TIMEOUT) {
                char text[64];
                print_error("round %u: client: %s\n", round,
                            stress_status_text(cst, text, sizeof text));
                failed++;
            }
        }
        if (!exited || status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 128 + sig) {
            print_error("round %u: server after %s: %s %d; last line on stdout: %s; stderr: %s\n",
                        round, strsignal(sig),
                        !exited ? "did not exit" : WIFSIGNALED(status) ? "killed by signal"
                                                                       : "exit status",
                        status < 0 ? -1
                                   : WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                        pr.last_line, pr.err_tail);
            failed++;
        }
        if (testutil_count_shm() != 0 || testutil_count_sem() != 0 ||
            testutil_count_attach() != 0) {
            print_error("round %u: IPC objects left after %s: %d segments, %d sets\n", round,
                        strsignal(sig), testutil_count_shm(), testutil_count_sem());
            failed++;
        }
        if (failed != 0) {
            break;
        }
    }
    print_message("  %u rounds (%u with clients), each ended by SIGINT/SIGTERM/SIGHUP\n", rounds,
                  with_clients);
    assert_int_equal(failed, 0);
    stress_assert_no_ipc_left();
}

int main(int argc, char **argv)
{
    stress_init(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_storm_timeouts_honoured, stress_teardown),
        cmocka_unit_test_teardown(test_storm_traffic_loses_nothing, stress_teardown),
        cmocka_unit_test_teardown(test_program_signals_at_random_times, stress_teardown),
    };
    return cmocka_run_group_tests_name("signal_stress", tests, NULL, NULL);
}
