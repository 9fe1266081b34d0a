/*
 * client_send_test.c - what shmchan_client_send reports, and when:
 *   - after the server closed: CLOSED, although its lane still has room
 *     (the state word the server sets is read before anything is sent);
 *   - on a lane the server side has corrupted: that fault (PROTOCOL) at
 *     once, not a wait for room until the caller's timeout;
 *   - a message longer than the channel allows: FRAME_TOO_LONG, the
 *     caller's own error, even when the call is also cancelled.
 *
 * Found by mutation testing (docs/testing.md): before this test, ignoring
 * the server's state word, waiting on a lane fault, or dropping the send's
 * own length check (the lane checks the length again, but after the state
 * and cancel checks) failed no test.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <cmocka.h>

#include "src/lane.h"
#include "src/layout.h"
#include "src/shm_atomic.h"
#include "src/shmchan.h"
#include "tests/handmade.h"
#include "tests/peer_map.h"
#include "tests/testutil.h"

static void assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_attach(), 0);
}

static shmchan_client_t *connect_to(key_t key, const volatile sig_atomic_t *cancel)
{
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.connect_timeout_ms = 0; /* ready already */
    o.cancel = cancel;
    shmchan_client_t *cli = NULL;
    assert_int_equal(shmchan_client_connect(key, &o, &cli, NULL), SHMCHAN_OK);
    return cli;
}

/* A real server closes (goodbye, state CLOSING, objects removed) while the
 * client only sends: the client's lane to it is empty, the segment stays
 * mapped, so only the state word tells the client, at once. */
static void test_send_after_server_close(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &srv, NULL), SHMCHAN_OK);
    shmchan_client_t *cli = connect_to(key, NULL);
    assert_int_equal(shmchan_client_send(cli, "before", 6, 1000), SHMCHAN_OK);
    assert_int_equal(shmchan_server_close(srv), SHMCHAN_OK);
    const shmchan_err_t err = shmchan_client_send(cli, "after", 5, 1000);
    print_message("  send after close: %s\n", shmchan_errname(err));
    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_int_equal(err, SHMCHAN_E_CLOSED);
    assert_no_ipc_left();
}

/* Fills the client's lane to the handmade server (nobody consumes it):
 * 64-byte messages until one does not fit. */
static void fill_lane(shmchan_client_t *cli)
{
    uint8_t msg[64];
    memset(msg, 0x5a, sizeof msg);
    int sent = 0;
    shmchan_err_t err;
    while ((err = shmchan_client_send(cli, msg, sizeof msg, 0)) == SHMCHAN_OK) {
        sent++;
        assert_true(sent < 16); /* a 256-byte lane holds 2 */
    }
    assert_int_equal(err, SHMCHAN_E_TIMEOUT);
    assert_true(sent > 0);
}

/* The lane full, the "server" moves its tail past the head (it cannot
 * have consumed bytes never published): the producer's refresh finds the
 * lie and the send fails with PROTOCOL, without waiting for room. */
static void test_send_on_corrupted_lane(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    const handmade_spec_t spec = {0};
    assert_int_equal(handmade_build(key, &spec), 0);
    shmchan_client_t *cli = connect_to(key, NULL);
    fill_lane(cli);
    peer_map_t m;
    assert_int_equal(peer_attach(key, 0, &m), 0);
    uint8_t *ctl = peer_ctl(&m, shmchan_client_slot(cli), SHMCHAN_SLOT_OFF_C2S_CTL);
    const uint32_t head = shmchan_shm_load_u32_acquire(ctl + SHMCHAN_LANE_OFF_HEAD);
    shmchan_shm_store_u32_release(ctl + SHMCHAN_LANE_OFF_TAIL, head + 8);
    /* A message that needs more room than the cached tail shows, so the
     * producer reads the tail again. */
    uint8_t msg[64];
    memset(msg, 0xa5, sizeof msg);
    const shmchan_err_t err = shmchan_client_send(cli, msg, sizeof msg, 2000);
    print_message("  send on a corrupted lane: %s\n", shmchan_errname(err));
    shmchan_client_disconnect(cli);
    assert_int_equal(shmdt(m.base), 0);
    assert_int_equal(err, SHMCHAN_E_PROTOCOL);
    handmade_remove(key);
    assert_no_ipc_left();
}

/* One byte over max_payload, with the cancel flag up: the caller's error
 * comes first (it would be the same on any channel, in any state). */
static void test_too_long_reported_before_cancel(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    const handmade_spec_t spec = {0};
    assert_int_equal(handmade_build(key, &spec), 0);
    static volatile sig_atomic_t cancel;
    cancel = 0;
    shmchan_client_t *cli = connect_to(key, &cancel);
    const uint32_t max = shmchan_client_max_payload(cli);
    uint8_t msg[65];
    assert_true(max < sizeof msg);
    memset(msg, 0x33, sizeof msg);
    cancel = 1;
    const shmchan_err_t too_long = shmchan_client_send(cli, msg, max + 1, 0);
    /* The control: the cancel is reported for a message of a valid length. */
    const shmchan_err_t valid = shmchan_client_send(cli, msg, max, 0);
    shmchan_client_disconnect(cli);
    assert_int_equal(too_long, SHMCHAN_E_FRAME_TOO_LONG);
    assert_int_equal(valid, SHMCHAN_E_INTERRUPTED);
    handmade_remove(key);
    assert_no_ipc_left();
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned salt = 1; salt <= 3; salt++) {
        handmade_remove(testutil_key(salt));
    }
    testutil_purge_key_block(testutil_key(0));
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_send_after_server_close, teardown),
        cmocka_unit_test_teardown(test_send_on_corrupted_lane, teardown),
        cmocka_unit_test_teardown(test_too_long_reported_before_cancel, teardown),
    };
    return cmocka_run_group_tests_name("client_send", tests, NULL, NULL);
}
