/* Channel tests with real processes: both directions, many clients,
 * limits, crashes, cleanup. Each test checks from inside the test's own IPC
 * namespace that nothing is left behind. */
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
#include "tests/testutil.h"

#define T_MS 5000

static void assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

static shmchan_server_t *make_server(key_t key, uint32_t max_clients, uint32_t max_payload)
{
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = max_clients;
    o.max_payload = max_payload;
    o.lane_capacity = 4096;
    while (o.lane_capacity < max_payload + SHMCHAN_FRAME_HEADER_SIZE) {
        o.lane_capacity *= 2;
    }
    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_server_create(key, &o, &srv, &d);
    if (err != SHMCHAN_OK) {
        print_error("server_create: %s: %s\n", shmchan_errname(err), d.text);
    }
    assert_int_equal(err, SHMCHAN_OK);
    return srv;
}

struct echo_arg {
    key_t key;
    int messages;
};

/* Client: sends `messages` numbered messages, expects each echoed back. */
static int echo_client(void *p)
{
    const struct echo_arg *a = p;
    shmchan_client_t *cli = NULL;
    shmchan_diag_t d;
    if (shmchan_client_connect(a->key, NULL, &cli, &d) != SHMCHAN_OK) {
        fprintf(stderr, "connect: %s\n", d.text);
        return 10;
    }
    for (int i = 0; i < a->messages; i++) {
        char out[64], in[64];
        const int n = snprintf(out, sizeof out, "msg %d from %d", i, (int)getpid());
        if (shmchan_client_send(cli, out, (uint32_t)n, T_MS) != SHMCHAN_OK) {
            return 11;
        }
        uint32_t len = 0;
        if (shmchan_client_recv(cli, in, sizeof in, &len, T_MS) != SHMCHAN_OK) {
            return 12;
        }
        if (len != (uint32_t)n || memcmp(in, out, len) != 0) {
            return 13;
        }
    }
    shmchan_client_disconnect(cli);
    return 0;
}

/* Serves until `clients` have connected and disconnected; echoes every
 * message, received into buf[0, cap). Returns the number echoed. */
static int serve_echo_into(shmchan_server_t *srv, int clients, uint8_t *buf, size_t cap)
{
    int connected = 0, disconnected = 0, echoed = 0;
    while (disconnected < clients) {
        shmchan_event_t ev;
        const shmchan_err_t err = shmchan_server_wait(srv, T_MS, &ev, buf, cap);
        assert_int_equal(err, SHMCHAN_OK);
        if (ev.kind == SHMCHAN_EVENT_CONNECT) {
            connected++;
        } else if (ev.kind == SHMCHAN_EVENT_DISCONNECT) {
            assert_int_equal(ev.reason, SHMCHAN_OK);
            disconnected++;
        } else {
            assert_int_equal(shmchan_server_send(srv, ev.client, buf, ev.len, T_MS), SHMCHAN_OK);
            echoed++;
        }
    }
    assert_int_equal(connected, clients);
    return echoed;
}

static int serve_echo(shmchan_server_t *srv, int clients)
{
    uint8_t buf[8192];
    return serve_echo_into(srv, clients, buf, sizeof buf);
}

static void test_echo_one_client(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    shmchan_server_t *srv = make_server(key, 8, 4096);
    struct echo_arg a = {key, 100};
    const pid_t pid = testutil_spawn(echo_client, &a);
    assert_int_equal(serve_echo(srv, 1), 100);
    assert_int_equal(testutil_wait(pid, T_MS), 0);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

static void test_echo_eight_clients(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    shmchan_server_t *srv = make_server(key, 8, 4096);
    struct echo_arg a = {key, 200};
    pid_t pids[8];
    for (int i = 0; i < 8; i++) {
        pids[i] = testutil_spawn(echo_client, &a);
    }
    assert_int_equal(serve_echo(srv, 8), 8 * 200);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(testutil_wait(pids[i], T_MS), 0);
    }
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* Messages far larger than a lane (docs/protocol.md §3.1): a 256-byte
 * lane carries fragments of 104 bytes, so a 20000-byte message takes 193
 * frames, and every send and receive of one fills and drains the lane many
 * times, sleeping on the semaphores in between (spin_ns 0). Lengths cover
 * a whole frame, one byte more, exact multiples and the maximum. */
#define BIG_MAX 20000u
#define BIG_MSGS 40

static uint32_t big_len(int i, pid_t pid)
{
    static const uint32_t fixed[] = {0, 1, 104, 105, 208, 209, BIG_MAX};
    if (i < (int)(sizeof fixed / sizeof fixed[0])) {
        return fixed[i];
    }
    return (uint32_t)((uint32_t)i * 2654435761u ^ (uint32_t)pid) % (BIG_MAX + 1u);
}

static void big_fill(uint8_t *p, uint32_t len, int i, pid_t pid)
{
    uint32_t x = (uint32_t)i * 7919u + (uint32_t)pid;
    for (uint32_t k = 0; k < len; k++) {
        x = x * 1103515245u + 12345u;
        p[k] = (uint8_t)(x >> 16);
    }
}

static int big_echo_client(void *p)
{
    const key_t key = *(const key_t *)p;
    shmchan_client_t *cli = NULL;
    shmchan_diag_t d;
    if (shmchan_client_connect(key, NULL, &cli, &d) != SHMCHAN_OK) {
        fprintf(stderr, "connect: %s\n", d.text);
        return 10;
    }
    static uint8_t out[BIG_MAX], in[BIG_MAX];
    const pid_t me = getpid();
    for (int i = 0; i < BIG_MSGS; i++) {
        const uint32_t n = big_len(i, me);
        big_fill(out, n, i, me);
        if (shmchan_client_send(cli, out, n, T_MS) != SHMCHAN_OK) {
            return 11;
        }
        uint32_t len = 0;
        if (shmchan_client_recv(cli, in, sizeof in, &len, T_MS) != SHMCHAN_OK) {
            return 12;
        }
        if (len != n || memcmp(in, out, len) != 0) {
            return 13;
        }
    }
    shmchan_client_disconnect(cli);
    return 0;
}

static void test_echo_messages_larger_than_the_lane(void **state)
{
    (void)state;
    const key_t key = testutil_key(6);
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = 3;
    o.max_payload = BIG_MAX;
    o.lane_capacity = 256;
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, &o, &srv, NULL), SHMCHAN_OK);
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        pids[i] = testutil_spawn(big_echo_client, (void *)&key);
    }
    static uint8_t buf[BIG_MAX];
    assert_int_equal(serve_echo_into(srv, 3, buf, sizeof buf), 3 * BIG_MSGS);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(testutil_wait(pids[i], T_MS), 0);
    }
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

static void test_second_server_already_running(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    shmchan_server_t *srv = make_server(key, 2, 64);
    shmchan_server_t *second = NULL;
    shmchan_diag_t d;
    assert_int_equal(shmchan_server_create(key, NULL, &second, &d), SHMCHAN_E_ALREADY_RUNNING);
    assert_null(second);
    assert_non_null(strstr(d.text, "already running"));
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

static int crash_server(void *p)
{
    const key_t key = *(const key_t *)p;
    shmchan_server_t *srv = NULL;
    if (shmchan_server_create(key, NULL, &srv, NULL) != SHMCHAN_OK) {
        return 1;
    }
    raise(SIGKILL);
    return 2;
}

static void test_stale_channel_reclaimed(void **state)
{
    (void)state;
    key_t key = testutil_key(4);
    const pid_t pid = testutil_spawn(crash_server, &key);
    assert_int_equal(testutil_wait(pid, T_MS), 128 + SIGKILL);
    assert_int_equal(testutil_count_shm(), 1);
    assert_int_equal(testutil_count_sem(), 1);

    shmchan_channel_info_t info;
    assert_int_equal(shmchan_inspect(key, &info, NULL), SHMCHAN_OK);
    assert_int_equal(info.status, SHMCHAN_STATUS_STALE);

    shmchan_client_t *cli = NULL;
    assert_int_equal(shmchan_client_connect(key, NULL, &cli, NULL), SHMCHAN_E_CLOSED);

    shmchan_server_t *srv = make_server(key, 8, 4096);
    assert_int_equal(testutil_count_shm(), 1);
    assert_int_equal(testutil_count_sem(), 1);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

static void test_client_no_server(void **state)
{
    (void)state;
    shmchan_client_t *cli = NULL;
    shmchan_diag_t d;
    assert_int_equal(shmchan_client_connect(testutil_key(5), NULL, &cli, &d),
                     SHMCHAN_E_NOT_FOUND);
    assert_null(cli);
    assert_non_null(strstr(d.text, "no shmchan server"));
    assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_one_client),
        cmocka_unit_test(test_echo_eight_clients),
        cmocka_unit_test(test_echo_messages_larger_than_the_lane),
        cmocka_unit_test(test_second_server_already_running),
        cmocka_unit_test(test_stale_channel_reclaimed),
        cmocka_unit_test(test_client_no_server),
    };
    return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
