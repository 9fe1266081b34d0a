/*
 * close_goodbye_test.c - shmchan_server_close tells each connected client
 * goodbye on the wire (docs/protocol.md): one GOODBYE frame, the last
 * frame in the client's server-to-client lane, published before the
 * objects are removed. A client of its own making (not this library) that
 * reads the lane sees the ending there; this library's client would also
 * learn it from the state word or the removed set, so the test reads the
 * lane itself, through its own map of the segment, which outlives the
 * removal while attached.
 *
 * Found by mutation testing (docs/testing.md): before this test, a close
 * that sent no goodbye failed no test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/shm.h>

#include <cmocka.h>

#include "src/lane.h"
#include "src/layout.h"
#include "src/shm_atomic.h"
#include "src/shmchan.h"
#include "tests/peer_map.h"
#include "tests/testutil.h"

static void test_close_sends_goodbye(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &srv, NULL), SHMCHAN_OK);
    shmchan_client_t *cli = NULL;
    assert_int_equal(shmchan_client_connect(key, NULL, &cli, NULL), SHMCHAN_OK);
    shmchan_event_t ev;
    uint8_t buf[64];
    assert_int_equal(shmchan_server_wait(srv, 5000, &ev, buf, sizeof buf), SHMCHAN_OK);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_CONNECT);
    peer_map_t m;
    assert_int_equal(peer_attach(key, 1, &m), 0);
    const uint8_t *ctl = peer_ctl(&m, ev.client, SHMCHAN_SLOT_OFF_S2C_CTL);
    const uint32_t head_before = shmchan_shm_load_u32_acquire(ctl + SHMCHAN_LANE_OFF_HEAD);

    assert_int_equal(shmchan_server_close(srv), SHMCHAN_OK);
    const uint32_t head_after = shmchan_shm_load_u32_acquire(ctl + SHMCHAN_LANE_OFF_HEAD);
    /* The frame, decoded by the codec from a copy of the ring's bytes. */
    const uint32_t cap = m.layout.params.lane_capacity;
    const uint8_t *ring = m.base + shmchan_layout_s2c_ring_offset(&m.layout, ev.client);
    uint8_t frame_bytes[SHMCHAN_FRAME_HEADER_SIZE];
    for (uint32_t i = 0; i < sizeof frame_bytes; i++) {
        frame_bytes[i] = ring[(head_before + i) & (cap - 1)];
    }
    shmchan_frame_t f;
    size_t flen = 0;
    const shmchan_err_t dec = shmchan_codec_decode(frame_bytes, sizeof frame_bytes,
                                                   m.layout.params.max_payload, &f, NULL, 0, &flen);
    assert_int_equal(shmdt(m.base), 0);
    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);

    print_message("  s2c head %u -> %u, frame: %s type %u\n", head_before, head_after,
                  shmchan_errname(dec), (unsigned)f.type);
    assert_int_equal(head_after - head_before, SHMCHAN_FRAME_HEADER_SIZE);
    assert_int_equal(dec, SHMCHAN_OK);
    assert_int_equal(f.type, SHMCHAN_FRAME_GOODBYE);
    assert_int_equal(f.payload_len, 0);
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_close_sends_goodbye, testutil_purge_fixture),
    };
    return cmocka_run_group_tests_name("close_goodbye", tests, NULL, NULL);
}
