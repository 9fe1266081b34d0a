/*
 * death_after_post_test.c - a message the server sent before it died is
 * delivered, not lost to a liveness check made too early.
 *
 * A client asks the kernel whether the server lives once per liveness
 * period of a call and after every sleep that timed out - not after every
 * wake (docs/protocol.md §5.3). So a server that sends a message, posts the
 * client's RX and then dies leaves the client to wake, find the message in
 * its lane and deliver it; the death is reported by the next call. A client
 * that checked liveness after every wake would report CLOSED and drop a
 * message that had been handed over (mutant wake-fdc33657,
 * docs/testing.md).
 *
 * Everything happens at one known moment, without timing: the target links
 * the library statically with -Wl,--wrap=semtimedop and
 * -Wl,--wrap=clock_gettime. When armed, the wrapper, in place of the
 * client's first sleep, makes the server (a handle of this very process)
 * send the message and take its liveness token down (in its own pid, the
 * segment's creator: the kernel's sign of its death, src/judge.c), then
 * lets the sleep run - it returns at once on the RX the send posted. The
 * monotonic clock is frozen while armed, so no liveness period can fall
 * due however slowly the machine runs.
 */
#define _GNU_SOURCE 1 /* semtimedop */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

#include <cmocka.h>

#include "src/layout.h"
#include "src/shmchan.h"
#include "tests/testutil.h"

int __real_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                      const struct timespec *timeout);
int __wrap_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                      const struct timespec *timeout);
int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);

#define T_MS 10000

static const char g_message[] = "sent before dying";
static shmchan_server_t *g_srv;   /* armed while non-NULL */
static uint32_t g_slot;
static int g_acted;               /* the wrapper did its work once */
static int g_frozen;
static struct timespec g_frozen_at;

int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
    if (g_frozen && clk == CLOCK_MONOTONIC) {
        *ts = g_frozen_at;
        return 0;
    }
    return __real_clock_gettime(clk, ts);
}

int __wrap_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                      const struct timespec *timeout)
{
    const int blocking = timeout != NULL && (timeout->tv_sec != 0 || timeout->tv_nsec != 0);
    shmchan_server_t *srv = g_srv;
    if (srv != NULL && blocking) {
        g_srv = NULL; /* disarm first: the calls below come back here */
        g_acted = 1;
        /* The server's last acts: the message (which posts RX: the client
         * raised its waiting flag before this sleep), then its token down
         * in its own pid. */
        if (shmchan_server_send(srv, g_slot, g_message, sizeof g_message, 0) != SHMCHAN_OK) {
            g_acted = -1;
        }
        struct sembuf down = {SHMCHAN_SEM_SERVER_ALIVE, -1, SEM_UNDO | IPC_NOWAIT};
        if (__real_semtimedop(shmchan_server_semid(srv), &down, 1, NULL) != 0) {
            g_acted = -2;
        }
    }
    return __real_semtimedop(semid, sops, nsops, timeout);
}

static void test_message_sent_before_death_is_delivered(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &srv, NULL), SHMCHAN_OK);
    shmchan_client_t *cli = NULL;
    assert_int_equal(shmchan_client_connect(key, NULL, &cli, NULL), SHMCHAN_OK);
    shmchan_event_t ev;
    uint8_t buf[64];
    assert_int_equal(shmchan_server_wait(srv, T_MS, &ev, buf, sizeof buf), SHMCHAN_OK);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_CONNECT);

    g_slot = ev.client;
    assert_int_equal(__real_clock_gettime(CLOCK_MONOTONIC, &g_frozen_at), 0);
    g_frozen = 1;
    g_srv = srv;
    uint8_t got[64];
    uint32_t len = 0;
    const shmchan_err_t err = shmchan_client_recv(cli, got, sizeof got, &len, T_MS);
    g_frozen = 0;
    g_srv = NULL;
    assert_int_equal(g_acted, 1);
    print_message("  recv after the server's send and death: %s\n", shmchan_errname(err));
    assert_int_equal(err, SHMCHAN_OK);
    assert_int_equal(len, sizeof g_message);
    assert_memory_equal(got, g_message, sizeof g_message);
    /* And the death is not lost either: the next call that has nothing to
     * take looks (its first sleep times out) and reports it. */
    assert_int_equal(shmchan_client_recv(cli, got, sizeof got, &len, 1), SHMCHAN_E_CLOSED);

    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_sent_before_death_is_delivered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
