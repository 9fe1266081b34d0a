/*
 * fragment_wake_test.c - waking a sleeping peer part-way through a
 * fragmented message (docs/protocol.md §3.1, "Waking across fragments").
 *
 * A send that publishes the first fragments of a message and then finds
 * the lane full, or a receive that takes fragments of a message not yet
 * complete, returns without finishing; if it did not post a peer that is
 * asleep, the two would each sleep until a liveness period or their
 * deadline. That would only make transfers slow, which no correctness test
 * can see without a timing assertion; so these tests look at the
 * semaphore itself. The peer is "asleep" because the test raised its
 * waiting flag in the segment (as the peer does before it sleeps); the
 * call under test runs with timeout 0, and the wake semaphore must then
 * hold the token. Deterministic: one process, no sleeps.
 *
 * The converse too: a peer that is not asleep is not posted. A token left
 * for it would end its next real sleep at once, for nothing (found by
 * mutation testing: the server posting a client whose flag was down, and
 * the client posting the server likewise, sending or receiving, survived).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cmocka.h>

#include "src/lane.h"
#include "src/layout.h"
#include "src/shmchan.h"
#include "tests/peer_map.h"
#include "tests/testutil.h"

#define MSG 1000u /* a 256-byte lane carries fragments of 104 bytes: 10 frames */

typedef struct rig {
    key_t key;
    shmchan_server_t *srv;
    shmchan_client_t *cli;
    peer_map_t map;
    int semid;
    uint8_t msg[MSG];
    uint8_t buf[MSG];
} rig_t;

static void rig_open(rig_t *r, unsigned key_no)
{
    memset(r, 0, sizeof *r);
    r->key = testutil_key(key_no);
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = 1;
    o.max_payload = MSG;
    o.lane_capacity = 256;
    assert_int_equal(shmchan_server_create(r->key, &o, &r->srv, NULL), SHMCHAN_OK);
    assert_int_equal(shmchan_client_connect(r->key, NULL, &r->cli, NULL), SHMCHAN_OK);
    shmchan_event_t ev;
    assert_int_equal(shmchan_server_wait(r->srv, 1000, &ev, r->buf, sizeof r->buf), SHMCHAN_OK);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_CONNECT);
    assert_int_equal(peer_attach(r->key, 0, &r->map), 0);
    r->semid = semget(r->key, 0, 0);
    assert_true(r->semid >= 0);
    for (uint32_t i = 0; i < MSG; i++) {
        r->msg[i] = (uint8_t)(i * 7u + 3u);
    }
}

static void rig_close(rig_t *r)
{
    shmdt(r->map.base);
    shmchan_client_disconnect(r->cli);
    shmchan_server_destroy(r->srv);
}

static void set_flag(rig_t *r, unsigned lane_ctl, unsigned flag_off, uint32_t v)
{
    uint8_t *ctl = peer_ctl(&r->map, 0, lane_ctl);
    memcpy(ctl + flag_off, &v, sizeof v);
}

static void set_sem(rig_t *r, unsigned short sem, int v)
{
    assert_int_equal(semctl(r->semid, sem, SETVAL, v), 0);
}

static int get_sem(rig_t *r, unsigned short sem)
{
    const int v = semctl(r->semid, sem, GETVAL);
    assert_true(v >= 0);
    return v;
}

/* The client publishes the first fragments, finds the lane full and gives
 * up (timeout 0): the server, asleep on its wake semaphore, must have been
 * posted for the fragments already out. */
static void test_client_send_wakes_server_part_way(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 1);
    set_flag(&r, SHMCHAN_SLOT_OFF_C2S_CTL, SHMCHAN_LANE_OFF_CONSUMER_WAITING, 1);
    set_sem(&r, SHMCHAN_SEM_SERVER_WAKE, 0);
    assert_int_equal(shmchan_client_send(r.cli, r.msg, MSG, 0), SHMCHAN_E_TIMEOUT);
    assert_int_equal(get_sem(&r, SHMCHAN_SEM_SERVER_WAKE), 1);
    rig_close(&r);
}

/* The server takes the fragments that are there, not yet the whole
 * message: the client, asleep waiting for room, must be posted. */
static void test_server_recv_wakes_client_part_way(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 2);
    assert_int_equal(shmchan_client_send(r.cli, r.msg, MSG, 0), SHMCHAN_E_TIMEOUT);
    set_flag(&r, SHMCHAN_SLOT_OFF_C2S_CTL, SHMCHAN_LANE_OFF_PRODUCER_WAITING, 1);
    const unsigned short tx = shmchan_layout_slot_sem(0, SHMCHAN_SEM_SLOT_TX);
    set_sem(&r, tx, 0);
    shmchan_event_t ev;
    assert_int_equal(shmchan_server_wait(r.srv, 0, &ev, r.buf, sizeof r.buf), SHMCHAN_E_TIMEOUT);
    assert_int_equal(get_sem(&r, tx), 1);
    rig_close(&r);
}

/* The server publishes the first fragments to the client and gives up:
 * the client, asleep on its receive semaphore, must have been posted. */
static void test_server_send_wakes_client_part_way(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 3);
    set_flag(&r, SHMCHAN_SLOT_OFF_S2C_CTL, SHMCHAN_LANE_OFF_CONSUMER_WAITING, 1);
    const unsigned short rx = shmchan_layout_slot_sem(0, SHMCHAN_SEM_SLOT_RX);
    set_sem(&r, rx, 0);
    assert_int_equal(shmchan_server_send(r.srv, 0, r.msg, MSG, 0), SHMCHAN_E_TIMEOUT);
    assert_int_equal(get_sem(&r, rx), 1);
    rig_close(&r);
}

/* The client takes the fragments that are there: the server, asleep
 * waiting for room in the client's receive lane, must be posted. */
static void test_client_recv_wakes_server_part_way(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 4);
    assert_int_equal(shmchan_server_send(r.srv, 0, r.msg, MSG, 0), SHMCHAN_E_TIMEOUT);
    set_flag(&r, SHMCHAN_SLOT_OFF_S2C_CTL, SHMCHAN_LANE_OFF_PRODUCER_WAITING, 1);
    set_sem(&r, SHMCHAN_SEM_SERVER_WAKE, 0);
    uint32_t len = 0;
    assert_int_equal(shmchan_client_recv(r.cli, r.buf, sizeof r.buf, &len, 0), SHMCHAN_E_TIMEOUT);
    assert_int_equal(len, 0);
    assert_int_equal(get_sem(&r, SHMCHAN_SEM_SERVER_WAKE), 1);
    rig_close(&r);
}

/* A send that gave up part-way left nothing half-open: the server drops
 * the fragments it took, and the next message, from the same buffer with
 * other bytes, arrives whole and alone. */
static void test_send_after_giving_up_starts_afresh(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 5);
    assert_int_equal(shmchan_client_send(r.cli, r.msg, MSG, 0), SHMCHAN_E_TIMEOUT);
    shmchan_event_t ev;
    assert_int_equal(shmchan_server_wait(r.srv, 0, &ev, r.buf, sizeof r.buf), SHMCHAN_E_TIMEOUT);
    /* Same address, new bytes; short enough for one frame. */
    for (uint32_t i = 0; i < 50; i++) {
        r.msg[i] = (uint8_t)(255u - i);
    }
    assert_int_equal(shmchan_client_send(r.cli, r.msg, 50, 0), SHMCHAN_OK);
    memset(r.buf, 0, sizeof r.buf);
    assert_int_equal(shmchan_server_wait(r.srv, 0, &ev, r.buf, sizeof r.buf), SHMCHAN_OK);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_MESSAGE);
    assert_int_equal(ev.len, 50);
    assert_memory_equal(r.buf, r.msg, 50);
    assert_int_equal(shmchan_server_wait(r.srv, 0, &ev, r.buf, sizeof r.buf), SHMCHAN_E_TIMEOUT);
    rig_close(&r);
}

/* The client's flag is down (it sent without waiting): the server takes
 * the whole message and leaves the client's send-wake token at 0. */
static void test_server_recv_leaves_awake_client_alone(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 6);
    assert_int_equal(shmchan_client_send(r.cli, r.msg, 50, 0), SHMCHAN_OK);
    const unsigned short tx = shmchan_layout_slot_sem(0, SHMCHAN_SEM_SLOT_TX);
    set_sem(&r, tx, 0);
    shmchan_event_t ev;
    assert_int_equal(shmchan_server_wait(r.srv, 0, &ev, r.buf, sizeof r.buf), SHMCHAN_OK);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_MESSAGE);
    assert_int_equal(ev.len, 50);
    assert_int_equal(get_sem(&r, tx), 0);
    rig_close(&r);
}

/* The server's flag is down (it is not asleep): the client sends a whole
 * message and leaves the server's wake token at 0. */
static void test_client_send_leaves_awake_server_alone(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 7);
    set_flag(&r, SHMCHAN_SLOT_OFF_C2S_CTL, SHMCHAN_LANE_OFF_CONSUMER_WAITING, 0);
    set_sem(&r, SHMCHAN_SEM_SERVER_WAKE, 0);
    assert_int_equal(shmchan_client_send(r.cli, r.msg, 50, 0), SHMCHAN_OK);
    assert_int_equal(get_sem(&r, SHMCHAN_SEM_SERVER_WAKE), 0);
    rig_close(&r);
}

/* The server's flag is down: the client takes a whole message from it
 * and leaves the server's wake token at 0. */
static void test_client_recv_leaves_awake_server_alone(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 8);
    assert_int_equal(shmchan_server_send(r.srv, 0, r.msg, 50, 0), SHMCHAN_OK);
    set_flag(&r, SHMCHAN_SLOT_OFF_S2C_CTL, SHMCHAN_LANE_OFF_PRODUCER_WAITING, 0);
    set_sem(&r, SHMCHAN_SEM_SERVER_WAKE, 0);
    uint32_t len = 0;
    assert_int_equal(shmchan_client_recv(r.cli, r.buf, sizeof r.buf, &len, 0), SHMCHAN_OK);
    assert_int_equal(len, 50);
    assert_int_equal(get_sem(&r, SHMCHAN_SEM_SERVER_WAKE), 0);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_send_wakes_server_part_way),
        cmocka_unit_test(test_server_recv_wakes_client_part_way),
        cmocka_unit_test(test_server_send_wakes_client_part_way),
        cmocka_unit_test(test_client_recv_wakes_server_part_way),
        cmocka_unit_test(test_send_after_giving_up_starts_afresh),
        cmocka_unit_test(test_server_recv_leaves_awake_client_alone),
        cmocka_unit_test(test_client_send_leaves_awake_server_alone),
        cmocka_unit_test(test_client_recv_leaves_awake_server_alone),
    };
    return cmocka_run_group_tests_name("fragment_wake", tests, NULL, NULL);
}
