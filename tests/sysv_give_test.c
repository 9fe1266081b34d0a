/*
 * sysv_give_test.c - shmchan_sys_shm_give / shmchan_sys_sem_give: an owner
 * gives its objects to another uid (the client's half of the multi-user
 * handshake, docs/multiuser.md), and nobody else can.
 *
 * Needs root outside a user namespace (a real second uid): tagged "local"
 * in tests/BUILD, with an IPC namespace of its own (main), like
 * foreign_uid_test. Fails, never skips, where it cannot run.
 */
/* unshare(2), CLONE_NEWIPC, setresuid(2): GNU extensions. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/sysv.h"
#include "tests/testutil.h"

#define SERVER_UID ((uid_t)61001)
#define THIRD_UID ((uid_t)61003)

static int g_semid = -1, g_shmid = -1;

static void create_both(void)
{
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(shmchan_sys_sem_create(testutil_key(1), 4, 0600, &g_semid, &d), SHMCHAN_OK);
    assert_int_equal(shmchan_sys_shm_create(testutil_key(1), 4096, 0600, &g_shmid, &d),
                     SHMCHAN_OK);
}

static void remove_both(void)
{
    assert_int_equal(shmchan_sys_shm_remove(g_shmid, NULL), SHMCHAN_OK);
    assert_int_equal(shmchan_sys_sem_remove(g_semid, NULL), SHMCHAN_OK);
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

/* Given: uid changes, cuid, mode and group stay. */
static void test_give_changes_owner_only(void **state)
{
    (void)state;
    create_both();
    shmchan_sys_sem_info_t sem_before, sem_after;
    shmchan_sys_shm_info_t shm_before, shm_after;
    assert_int_equal(shmchan_sys_sem_stat(g_semid, &sem_before, NULL), SHMCHAN_OK);
    assert_int_equal(shmchan_sys_shm_stat(g_shmid, &shm_before, NULL), SHMCHAN_OK);
    assert_int_equal(shmchan_sys_sem_give(g_semid, SERVER_UID, SHMCHAN_SYS_GID_KEEP, NULL), SHMCHAN_OK);
    assert_int_equal(shmchan_sys_shm_give(g_shmid, SERVER_UID, NULL), SHMCHAN_OK);
    assert_int_equal(shmchan_sys_sem_stat(g_semid, &sem_after, NULL), SHMCHAN_OK);
    assert_int_equal(shmchan_sys_shm_stat(g_shmid, &shm_after, NULL), SHMCHAN_OK);
    assert_int_equal(sem_after.uid, SERVER_UID);
    assert_int_equal(shm_after.uid, SERVER_UID);
    assert_int_equal(sem_after.cuid, sem_before.cuid);
    assert_int_equal(shm_after.cuid, shm_before.cuid);
    assert_int_equal(sem_after.mode, 0600);
    assert_int_equal(shm_after.mode, 0600);
    assert_int_equal(sem_after.gid, sem_before.gid);
    assert_int_equal(shm_after.gid, shm_before.gid);
    assert_int_equal(sem_after.nsems, 4);
    /* The creator (root here, but the rule is the creator's) removes them. */
    remove_both();
}

/* A third uid cannot give what is not its own: PERMISSION, nothing moves. */
static int third_gives(void *arg)
{
    (void)arg;
    if (setgroups(0, NULL) != 0 || setresgid(THIRD_UID, THIRD_UID, THIRD_UID) != 0 ||
        setresuid(THIRD_UID, THIRD_UID, THIRD_UID) != 0) {
        return 77;
    }
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    if (shmchan_sys_sem_give(g_semid, THIRD_UID, SHMCHAN_SYS_GID_KEEP, &d) != SHMCHAN_E_PERMISSION) {
        fprintf(stderr, "sem give by a third uid: %s\n", d.text);
        return 1;
    }
    if (shmchan_sys_shm_give(g_shmid, THIRD_UID, &d) != SHMCHAN_E_PERMISSION) {
        fprintf(stderr, "shm give by a third uid: %s\n", d.text);
        return 2;
    }
    return 0;
}

static void test_third_uid_cannot_give(void **state)
{
    (void)state;
    create_both();
    const pid_t pid = testutil_spawn(third_gives, NULL);
    assert_true(pid > 0);
    const int status = testutil_wait(pid, 10000);
    if (status == 77) {
        fail_msg("cannot become uid %u: run as root outside a user namespace",
                 (unsigned)THIRD_UID);
    }
    assert_int_equal(status, 0);
    shmchan_sys_sem_info_t sem;
    shmchan_sys_shm_info_t shm;
    assert_int_equal(shmchan_sys_sem_stat(g_semid, &sem, NULL), SHMCHAN_OK);
    assert_int_equal(shmchan_sys_shm_stat(g_shmid, &shm, NULL), SHMCHAN_OK);
    assert_int_equal(sem.uid, geteuid());
    assert_int_equal(shm.uid, geteuid());
    remove_both();
}

/* A removed id: CLOSED, with the call named in the diagnostic. */
static void test_give_removed(void **state)
{
    (void)state;
    create_both();
    remove_both();
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(shmchan_sys_sem_give(g_semid, SERVER_UID, SHMCHAN_SYS_GID_KEEP, &d), SHMCHAN_E_CLOSED);
    assert_non_null(strstr(d.text, "IPC_STAT"));
    assert_int_equal(shmchan_sys_shm_give(g_shmid, SERVER_UID, &d), SHMCHAN_E_CLOSED);
    assert_non_null(strstr(d.text, "IPC_STAT"));
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "sysv_give_test: needs root (a real second uid)\n");
        return 1;
    }
    if (unshare(CLONE_NEWIPC) != 0) {
        fprintf(stderr, "sysv_give_test: unshare(CLONE_NEWIPC): %s\n", strerror(errno));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_give_changes_owner_only),
        cmocka_unit_test(test_third_uid_cannot_give),
        cmocka_unit_test(test_give_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
