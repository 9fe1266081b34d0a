/*
 * server_options_test.c - the library API refuses every option the
 * programs refuse (src/prog/args.c), by itself: a library user calls
 * shmchan_server_create without the programs' parser in front. Each bad
 * value returns INVALID_ARGUMENT with a diagnostic and creates nothing;
 * the values right at each limit are accepted (so a refusal is about the
 * value, not the call). Also the key IPC_PRIVATE, and the timeouts a
 * client call refuses.
 *
 * Found by mutation testing (docs/testing.md): before this test, a server
 * that ignored the layout's verdict on its options, or took a group mode,
 * failed no test of the API (only the programs' own argument tests).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/testutil.h"

static void assert_nothing_created(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

static shmchan_err_t create(key_t key, uint32_t clients, uint32_t payload, uint32_t lane,
                            unsigned mode)
{
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = clients;
    o.max_payload = payload;
    o.lane_capacity = lane;
    o.mode = mode;
    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_server_create(key, &o, &srv, &d);
    print_message("  clients %u payload %u lane %u mode %04o: %s: %s\n", clients, payload, lane,
                  mode, shmchan_errname(err), d.text);
    if (err == SHMCHAN_OK) {
        assert_non_null(srv);
        shmchan_server_destroy(srv);
    } else {
        assert_null(srv);
        assert_int_equal(d.code, err);
        assert_true(d.text[0] != '\0');
    }
    return err;
}

static void test_bad_options_refused(void **state)
{
    (void)state;
    const key_t key = testutil_key(231);
    static const struct {
        uint32_t clients, payload, lane;
    } bad[] = {
        {0, 64, 256},                /* no client */
        {257, 64, 256},              /* above SHMCHAN_MAX_CLIENTS_LIMIT */
        {2, 0, 256},                 /* empty messages only */
        {2, 16u * 1024u * 1024u + 1u, 1u << 30}, /* above the hard maximum */
        {2, 64, 300},                /* not a power of two */
        {2, 64, 32},                 /* below the minimum lane */
        {2, 64, 1u << 31},           /* above the maximum lane */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(create(key, bad[i].clients, bad[i].payload, bad[i].lane, 0600),
                         SHMCHAN_E_INVALID_ARGUMENT);
        assert_nothing_created();
    }
    /* Only 0600: a group or world mode lets others forge the server's
     * liveness and write the lanes (docs/threat-model.md). */
    static const unsigned modes[] = {0660, 0640, 0620, 0606, 0604, 0700, 0400, 0};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(create(key, 2, 64, 256, modes[i]), SHMCHAN_E_INVALID_ARGUMENT);
        assert_nothing_created();
    }
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(IPC_PRIVATE, NULL, &srv, NULL),
                     SHMCHAN_E_INVALID_ARGUMENT);
    assert_null(srv);
    assert_nothing_created();
}

/* The limits themselves are accepted. */
static void test_limits_accepted(void **state)
{
    (void)state;
    const key_t key = testutil_key(232);
    assert_int_equal(create(key, 1, 1, 64, 0600), SHMCHAN_OK);
    assert_int_equal(create(key, 256, 64, 128, 0600), SHMCHAN_OK);
    assert_int_equal(create(key, 2, 232, 256, 0600), SHMCHAN_OK);
    /* Messages longer than a lane travel in fragments (docs/protocol.md,
     * "Fragments"): the largest message through the smallest lane. */
    assert_int_equal(create(key, 2, 233, 256, 0600), SHMCHAN_OK);
    assert_int_equal(create(key, 1, 16u * 1024u * 1024u, 64, 0600), SHMCHAN_OK);
    assert_nothing_created();
}

/* Negative timeouts are refused by every call that takes one. */
static void test_negative_timeouts_refused(void **state)
{
    (void)state;
    const key_t key = testutil_key(233);
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &srv, NULL), SHMCHAN_OK);
    shmchan_client_options_t co;
    shmchan_client_options_init(&co);
    co.connect_timeout_ms = -1;
    shmchan_client_t *cli = NULL;
    assert_int_equal(shmchan_client_connect(key, &co, &cli, NULL), SHMCHAN_E_INVALID_ARGUMENT);
    assert_null(cli);
    assert_int_equal(shmchan_client_connect(key, NULL, &cli, NULL), SHMCHAN_OK);
    uint8_t buf[8] = {0};
    uint32_t len = 0;
    shmchan_event_t ev;
    assert_int_equal(shmchan_client_send(cli, buf, 1, -1), SHMCHAN_E_INVALID_ARGUMENT);
    assert_int_equal(shmchan_client_recv(cli, buf, sizeof buf, &len, -1),
                     SHMCHAN_E_INVALID_ARGUMENT);
    assert_int_equal(shmchan_server_wait(srv, -1, &ev, buf, sizeof buf),
                     SHMCHAN_E_INVALID_ARGUMENT);
    assert_int_equal(shmchan_server_send(srv, 0, buf, 1, -1), SHMCHAN_E_INVALID_ARGUMENT);
    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_nothing_created();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options_refused),
        cmocka_unit_test(test_limits_accepted),
        cmocka_unit_test(test_negative_timeouts_refused),
    };
    return cmocka_run_group_tests_name("server_options", tests, NULL, NULL);
}
