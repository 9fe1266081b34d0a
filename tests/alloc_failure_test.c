/*
 * alloc_failure_test.c - an allocation that fails: shmchan_client_connect
 * and shmchan_server_create report SHMCHAN_E_NO_MEMORY (not some other
 * code a caller would act on differently), return no handle and leave no
 * IPC object behind.
 *
 * The target links the library statically with -Wl,--wrap=calloc, so the
 * library's calloc calls land in __wrap_calloc below: by default it passes
 * every call on; armed, it fails the Nth call from then on.
 *
 * Both also allocate the reassembly stash of each receiving lane when
 * messages can come in fragments (max_payload above half a lane): that
 * allocation failing fails the call too.
 *
 * Found by mutation testing (docs/testing.md): before this test, swapping
 * either function's NO_MEMORY for another code, or ignoring a failed
 * stash allocation, failed no test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/testutil.h"

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

/* Calls since arming, and which one fails (0: none). Single-threaded. */
static unsigned g_calls;
static unsigned g_fail_nth;

void *__wrap_calloc(size_t n, size_t size)
{
    if (g_fail_nth != 0 && ++g_calls == g_fail_nth) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

static void arm(unsigned nth)
{
    g_calls = 0;
    g_fail_nth = nth;
}

static void assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

/* The client's handle is its first allocation: nothing at the key needed. */
static void test_client_connect_no_memory(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    shmchan_client_t *cli = (shmchan_client_t *)&g_calls; /* must be reset */
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    arm(1);
    const shmchan_err_t err = shmchan_client_connect(key, NULL, &cli, &d);
    arm(0);
    print_message("  connect: %s: %s\n", shmchan_errname(err), d.text);
    assert_int_equal(err, SHMCHAN_E_NO_MEMORY);
    assert_int_equal(d.code, SHMCHAN_E_NO_MEMORY);
    assert_null(cli);
    /* The control: unarmed, the same call gets past the allocation and
     * finds no server. */
    assert_int_equal(shmchan_client_connect(key, NULL, &cli, NULL), SHMCHAN_E_NOT_FOUND);
    assert_null(cli);
}

/* The server's three allocations (handle, semaphore values, slots), each
 * failing alone: NO_MEMORY, no handle, nothing left at the key, which a
 * second create then takes normally. */
static void test_server_create_no_memory(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    for (unsigned nth = 1; nth <= 3; nth++) {
        print_message("calloc #%u fails:\n", nth);
        shmchan_server_t *srv = (shmchan_server_t *)&g_calls;
        shmchan_diag_t d;
        memset(&d, 0, sizeof d);
        arm(nth);
        const shmchan_err_t err = shmchan_server_create(key, NULL, &srv, &d);
        arm(0);
        print_message("  create: %s: %s\n", shmchan_errname(err), d.text);
        assert_int_equal(err, SHMCHAN_E_NO_MEMORY);
        assert_int_equal(d.code, SHMCHAN_E_NO_MEMORY);
        assert_null(srv);
        assert_no_ipc_left();
    }
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &srv, NULL), SHMCHAN_OK);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* Options whose messages come in fragments: every receiving lane gets a
 * stash (src/channel_internal.h, shmchan_lane_provide_stash). */
static void fragmenting_options(shmchan_server_options_t *o)
{
    shmchan_server_options_init(o);
    o->max_clients = 2;
    o->max_payload = 4096;
    o->lane_capacity = 1024;
}

/* The server's allocations after its three: one stash per slot, in slot
 * order (#4 and #5 here), each failing alone. */
static void test_server_stash_no_memory(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    shmchan_server_options_t o;
    fragmenting_options(&o);
    for (unsigned nth = 4; nth <= 5; nth++) {
        print_message("calloc #%u (a slot's stash) fails:\n", nth);
        shmchan_server_t *srv = NULL;
        arm(nth);
        const shmchan_err_t err = shmchan_server_create(key, &o, &srv, NULL);
        const unsigned calls = g_calls;
        arm(0);
        print_message("  create: %s after %u calls\n", shmchan_errname(err), calls);
        shmchan_server_destroy(srv);
        assert_true(calls >= nth); /* the failing call was made */
        assert_int_equal(err, SHMCHAN_E_NO_MEMORY);
        assert_no_ipc_left();
    }
}

/* The client's stash is its second allocation, after the handle. */
static void test_client_stash_no_memory(void **state)
{
    (void)state;
    const key_t key = testutil_key(4);
    shmchan_server_options_t o;
    fragmenting_options(&o);
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, &o, &srv, NULL), SHMCHAN_OK);
    shmchan_client_t *cli = NULL;
    arm(2);
    const shmchan_err_t err = shmchan_client_connect(key, NULL, &cli, NULL);
    const unsigned calls = g_calls;
    arm(0);
    print_message("  connect: %s after %u calls\n", shmchan_errname(err), calls);
    shmchan_client_disconnect(cli);
    /* The control: unarmed, the same client connects. */
    shmchan_client_t *again = NULL;
    const shmchan_err_t err_again = shmchan_client_connect(key, NULL, &again, NULL);
    shmchan_client_disconnect(again);
    shmchan_server_destroy(srv);
    assert_true(calls >= 2);
    assert_int_equal(err, SHMCHAN_E_NO_MEMORY);
    assert_int_equal(err_again, SHMCHAN_OK);
    assert_no_ipc_left();
}

static int teardown(void **state)
{
    (void)state;
    arm(0);
    testutil_purge_key_block(testutil_key(0));
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_client_connect_no_memory, teardown),
        cmocka_unit_test_teardown(test_server_create_no_memory, teardown),
        cmocka_unit_test_teardown(test_server_stash_no_memory, teardown),
        cmocka_unit_test_teardown(test_client_stash_no_memory, teardown),
    };
    return cmocka_run_group_tests_name("alloc_failure", tests, NULL, NULL);
}
