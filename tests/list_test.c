/*
 * list_test.c - shmchan_list walks the kernel's whole table of semaphore
 * sets: the set with the highest index, the set with id 0 (the first one a
 * fresh IPC namespace hands out), every set after the first, and sets
 * behind an index left empty by a removal. Only sets alone at their key
 * are listed from this table (a key with a segment is listed by the
 * segment pass), so the test uses sets alone: foreign ones, listed with
 * include_foreign.
 *
 * Found by mutation testing (docs/testing.md): before this test, stopping
 * one index short, skipping id 0, or stopping after the first set failed
 * no test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/testutil.h"

/* How many entries shmchan_list reports, and whether `key` is among them. */
static size_t listed(key_t key, int *found)
{
    shmchan_channel_info_t infos[8];
    size_t count = 0;
    assert_int_equal(shmchan_list(infos, 8, &count, 1, NULL), SHMCHAN_OK);
    assert_true(count <= 8);
    *found = 0;
    for (size_t i = 0; i < count; i++) {
        if (infos[i].key == key) {
            *found = 1;
        }
    }
    return count;
}

static void test_every_set_listed(void **state)
{
    (void)state;
    assert_int_equal(testutil_count_sem(), 0); /* a fresh namespace */
    const key_t a = testutil_key(241);
    const key_t b = testutil_key(242);
    const key_t c = testutil_key(243);
    /* Five semaphores: no shmchan shape, so FOREIGN. */
    const int ida = semget(a, 5, IPC_CREAT | IPC_EXCL | 0600);
    assert_int_equal(ida, 0); /* index 0, the highest used, and id 0 */
    int found = 0;
    assert_int_equal(listed(a, &found), 1);
    assert_true(found);

    const int idb = semget(b, 5, IPC_CREAT | IPC_EXCL | 0600);
    const int idc = semget(c, 5, IPC_CREAT | IPC_EXCL | 0600);
    assert_true(idb > 0 && idc > 0);
    assert_int_equal(listed(b, &found), 3);
    assert_true(found);
    (void)listed(c, &found);
    assert_true(found);

    /* Index 0 empty, the others behind it. */
    assert_int_equal(semctl(ida, 0, IPC_RMID), 0);
    assert_int_equal(listed(c, &found), 2);
    assert_true(found);
    assert_int_equal(semctl(idb, 0, IPC_RMID), 0);
    assert_int_equal(semctl(idc, 0, IPC_RMID), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_set_listed),
    };
    return cmocka_run_group_tests_name("list", tests, NULL, NULL);
}
