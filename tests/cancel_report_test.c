/*
 * cancel_report_test.c - a cancel is reported as SHMCHAN_E_INTERRUPTED,
 * whatever else is pending: the caller asked to stop, and a program maps
 * INTERRUPTED to "caught a signal" and CLOSED to "server gone"
 * (docs/programs.md exit codes).
 *   - A receive whose sleep a cancel interrupts returns INTERRUPTED even
 *     if the server started closing during that same sleep.
 *   - A call made with the cancel flag already up returns INTERRUPTED
 *     even if a message (client recv) or an event (server wait) is ready;
 *     it stays queued for the next call.
 *
 * Both things happen at one exactly known moment: the target links the
 * library statically with -Wl,--wrap=semtimedop, and when armed the
 * wrapper, in place of the client's first sleep, marks the server CLOSING
 * in the segment, raises the cancel flag and fails with EINTR, as a
 * signal handler would. The channel is made by hand (tests/handmade.h),
 * so no server process takes part.
 *
 * Found by mutation testing (docs/testing.md): before this test, passing
 * an interrupted sleep on to the liveness check (which then reported
 * CLOSED), or dropping the entry check of the cancel flag in client recv
 * or server wait (the first look then delivers what is ready), failed no
 * test.
 */
#define _GNU_SOURCE 1 /* semtimedop */

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

#include <cmocka.h>

#include "src/layout.h"
#include "src/shm_atomic.h"
#include "src/shmchan.h"
#include "tests/handmade.h"
#include "tests/testutil.h"

int __real_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                      const struct timespec *timeout);
int __wrap_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                      const struct timespec *timeout);

static volatile sig_atomic_t g_cancel;
static uint8_t *g_segment; /* the test's own attachment, when armed */
static int g_sleeps;       /* blocking calls the wrapper replaced */

/* Armed: the first call that would block (a non-zero timeout) does not
 * reach the kernel. */
int __wrap_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                      const struct timespec *timeout)
{
    const int blocking = timeout != NULL && (timeout->tv_sec != 0 || timeout->tv_nsec != 0);
    if (g_segment != NULL && blocking) {
        g_sleeps++;
        shmchan_shm_store_u32_release(g_segment + SHMCHAN_HDR_OFF_SERVER_STATE,
                                      SHMCHAN_SERVER_STATE_CLOSING);
        g_cancel = 1;
        g_segment = NULL;
        errno = EINTR;
        return -1;
    }
    return __real_semtimedop(semid, sops, nsops, timeout);
}

static void test_cancel_reported_over_close(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    const handmade_spec_t spec = {0};
    assert_int_equal(handmade_build(key, &spec), 0);
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.connect_timeout_ms = 0;
    o.cancel = &g_cancel;
    shmchan_client_t *cli = NULL;
    assert_int_equal(shmchan_client_connect(key, &o, &cli, NULL), SHMCHAN_OK);

    uint8_t *seg = shmat(shmget(key, 0, 0), NULL, 0);
    assert_true(seg != (void *)-1);
    g_segment = seg;
    uint8_t buf[64];
    uint32_t len = 1;
    /* Nothing queued: the receive goes to sleep, which the wrapper ends. */
    const shmchan_err_t err = shmchan_client_recv(cli, buf, sizeof buf, &len, 5000);
    print_message("  recv: %s\n", shmchan_errname(err));
    assert_int_equal(g_sleeps, 1);
    assert_int_equal(err, SHMCHAN_E_INTERRUPTED);
    assert_int_equal(len, 0);
    /* The close itself is not lost: the next look reports it. */
    g_cancel = 0;
    assert_int_equal(shmchan_client_check(cli), SHMCHAN_E_CLOSED);

    shmchan_client_disconnect(cli);
    assert_int_equal(shmdt(seg), 0);
    handmade_remove(key);
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

/* The flag up before the call, a message from the server queued. */
static void test_cancel_before_recv_with_message_ready(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &srv, NULL), SHMCHAN_OK);
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.cancel = &g_cancel;
    shmchan_client_t *cli = NULL;
    assert_int_equal(shmchan_client_connect(key, &o, &cli, NULL), SHMCHAN_OK);
    shmchan_event_t ev;
    uint8_t buf[64];
    assert_int_equal(shmchan_server_wait(srv, 5000, &ev, buf, sizeof buf), SHMCHAN_OK);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_CONNECT);
    assert_int_equal(shmchan_server_send(srv, ev.client, "ready", 5, 1000), SHMCHAN_OK);

    g_cancel = 1;
    uint32_t len = 1;
    const shmchan_err_t cancelled = shmchan_client_recv(cli, buf, sizeof buf, &len, 1000);
    g_cancel = 0;
    uint32_t len_after = 0;
    const shmchan_err_t after = shmchan_client_recv(cli, buf, sizeof buf, &len_after, 1000);
    print_message("  recv cancelled: %s; then: %s (%u bytes)\n", shmchan_errname(cancelled),
                  shmchan_errname(after), len_after);
    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_int_equal(cancelled, SHMCHAN_E_INTERRUPTED);
    assert_int_equal(len, 0);
    assert_int_equal(after, SHMCHAN_OK);
    assert_int_equal(len_after, 5);
    assert_memory_equal(buf, "ready", 5);
}

/* The flag up before the call, a client's CONNECT waiting to be reported. */
static void test_cancel_before_server_wait_with_event_ready(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    shmchan_server_options_t so;
    shmchan_server_options_init(&so);
    so.cancel = &g_cancel;
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, &so, &srv, NULL), SHMCHAN_OK);
    shmchan_client_t *cli = NULL;
    assert_int_equal(shmchan_client_connect(key, NULL, &cli, NULL), SHMCHAN_OK);

    shmchan_event_t ev;
    uint8_t buf[64];
    g_cancel = 1;
    const shmchan_err_t cancelled = shmchan_server_wait(srv, 1000, &ev, buf, sizeof buf);
    g_cancel = 0;
    const shmchan_err_t after = shmchan_server_wait(srv, 5000, &ev, buf, sizeof buf);
    print_message("  wait cancelled: %s; then: %s (kind %d)\n", shmchan_errname(cancelled),
                  shmchan_errname(after), (int)ev.kind);
    shmchan_client_disconnect(cli);
    shmchan_server_destroy(srv);
    assert_int_equal(cancelled, SHMCHAN_E_INTERRUPTED);
    assert_int_equal(after, SHMCHAN_OK);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_CONNECT);
}

static int teardown(void **state)
{
    (void)state;
    g_segment = NULL;
    g_cancel = 0;
    handmade_remove(testutil_key(1));
    testutil_purge_key_block(testutil_key(0));
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cancel_reported_over_close, teardown),
        cmocka_unit_test_teardown(test_cancel_before_recv_with_message_ready, teardown),
        cmocka_unit_test_teardown(test_cancel_before_server_wait_with_event_ready, teardown),
    };
    return cmocka_run_group_tests_name("cancel_report", tests, NULL, NULL);
}
