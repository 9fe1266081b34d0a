/* shmchanctl against a live channel, a stale one (server SIGKILLed) and a
 * foreign segment (0666, made here with shmget, as `ipcmk -M 4096 -p 0666`
 * would) side by side: list shows each with the kernel's ids and the right
 * status (the foreign one only with --all); clean --stale removes only the
 * stale one; naming the live or the foreign key is refused with the reason
 * and a non-zero exit, and leaves them untouched. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cmocka.h>

#include "tests/e2e/e2e_util.h"

static e2e_proc_t live_server;
static e2e_proc_t stale_server;
static e2e_proc_t client;
static e2e_proc_t ctl;

static void key_arg(key_t key, char *buf, size_t len)
{
    snprintf(buf, len, "--key=0x%08x", (unsigned)key);
}

static void assert_row(const char *table, key_t key, int shmid, const char *semid, const char *mode,
                       const char *status, const char *clients)
{
    char row[9][32];
    if (e2e_list_row(table, key, row) != 9) {
        fail_msg("no full row for key 0x%08x in:\n%s", (unsigned)key, table);
    }
    char id[16];
    snprintf(id, sizeof id, "%d", shmid);
    assert_string_equal(row[1], id);
    assert_string_equal(row[2], semid);
    assert_string_equal(row[4], mode);
    assert_string_equal(row[7], status);
    assert_string_equal(row[8], clients);
}

static void test_live_stale_foreign(void **state)
{
    (void)state;
    const key_t live = testutil_key(1);
    const key_t stale = testutil_key(2);
    const key_t foreign = testutil_key(3);

    assert_int_equal(e2e_start_server(&live_server, live, NULL), 0);
    assert_int_equal(e2e_start_client(&client, live, NULL, E2E_STDIN_PIPE), 0);
    assert_int_equal(e2e_wait_for(&client, 1, E2E_CHAT_CLIENT_HEAD, E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_start_server(&stale_server, stale, NULL), 0);
    assert_int_equal(e2e_kill_and_finish(&stale_server, SIGKILL, E2E_DEADLINE_MS), 128 + SIGKILL);
    const int foreign_id = shmget(foreign, 4096, IPC_CREAT | IPC_EXCL | 0666);
    assert_true(foreign_id >= 0);

    char live_sem[16];
    char stale_sem[16];
    snprintf(live_sem, sizeof live_sem, "%d", semget(live, 0, 0));
    snprintf(stale_sem, sizeof stale_sem, "%d", semget(stale, 0, 0));
    const int live_shm = shmget(live, 0, 0);
    const int stale_shm = shmget(stale, 0, 0);

    const char *const list[] = {"list", NULL};
    assert_int_equal(e2e_ctl(&ctl, list), 0);
    assert_true(strncmp(ctl.out, "KEY ", 4) == 0);
    assert_row(ctl.out, live, live_shm, live_sem, "0600", "live", "1/8");
    assert_row(ctl.out, stale, stale_shm, stale_sem, "0600", "stale", "0/8");
    char fields[9][32];
    assert_int_equal(e2e_list_row(ctl.out, foreign, fields), 0);

    const char *const all[] = {"list", "--all", NULL};
    assert_int_equal(e2e_ctl(&ctl, all), 0);
    assert_row(ctl.out, live, live_shm, live_sem, "0600", "live", "1/8");
    assert_row(ctl.out, stale, stale_shm, stale_sem, "0600", "stale", "0/8");
    assert_row(ctl.out, foreign, foreign_id, "-", "0666", "foreign", "-");

    /* Dry run of a clean-everything: names the stale one only. */
    const char *const dry[] = {"clean", "--stale", "--dry-run", NULL};
    assert_int_equal(e2e_ctl(&ctl, dry), 0);
    char expect[128];
    snprintf(expect, sizeof expect,
             "would remove stale channel at key 0x%08x: shmid %d, semid %s\n", (unsigned)stale,
             stale_shm, stale_sem);
    assert_string_equal(ctl.out, expect);
    assert_int_equal(shmget(stale, 0, 0), stale_shm);

    /* Naming the live or the foreign key: refused, with the reason. */
    char karg[32];
    key_arg(live, karg, sizeof karg);
    const char *const clean_live[] = {"clean", "--stale", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, clean_live), 1);
    assert_true(e2e_contains(ctl.err, ctl.err_len, "it is live, not stale"));
    assert_true(e2e_contains(ctl.err, ctl.err_len, "a live shmchan server"));
    key_arg(foreign, karg, sizeof karg);
    const char *const clean_foreign[] = {"clean", "--stale", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, clean_foreign), 1);
    assert_true(e2e_contains(ctl.err, ctl.err_len, "it is foreign, not stale"));
    assert_true(e2e_contains(ctl.err, ctl.err_len, "mode 0666 grants more than"));

    const char *const inspect_foreign[] = {"inspect", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect_foreign), 0);
    assert_true(e2e_contains(ctl.out, ctl.out_len, "status:        foreign\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "mode:          0666\n"));

    key_arg(live, karg, sizeof karg);
    const char *const inspect_live[] = {"inspect", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect_live), 0);
    assert_true(e2e_contains(ctl.out, ctl.out_len, "status:        live\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "max clients:   8\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "max payload:   4096 bytes\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "lane capacity: 65536 bytes\n"));
    assert_true(e2e_contains(ctl.out, ctl.out_len, "clients:       1\n"));

    /* Clean everything stale: exactly the stale one goes. */
    const char *const clean[] = {"clean", "--stale", NULL};
    assert_int_equal(e2e_ctl(&ctl, clean), 0);
    snprintf(expect, sizeof expect, "removed stale channel at key 0x%08x: shmid %d, semid %s\n",
             (unsigned)stale, stale_shm, stale_sem);
    assert_string_equal(ctl.out, expect);
    assert_int_equal(shmget(stale, 0, 0), -1);
    assert_int_equal(semget(stale, 0, 0), -1);
    assert_int_equal(shmget(live, 0, 0), live_shm);
    assert_int_equal(shmget(foreign, 0, 0), foreign_id);

    assert_int_equal(e2e_ctl(&ctl, clean), 0);
    assert_string_equal(ctl.out, "no stale channels\n");

    /* Stop the live one the seed's way; remove the foreign one by hand. */
    assert_int_equal(e2e_write_str(&client, "exit\n"), 0);
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_finish(&live_server, E2E_DEADLINE_MS), 0);
    assert_int_equal(shmctl(foreign_id, IPC_RMID, NULL), 0);
    e2e_assert_no_ipc_left();
}

static void test_inspect_absent_and_empty_list(void **state)
{
    (void)state;
    char karg[32];
    key_arg(testutil_key(4), karg, sizeof karg);
    const char *const inspect[] = {"inspect", karg, NULL};
    assert_int_equal(e2e_ctl(&ctl, inspect), 1);
    assert_true(e2e_contains(ctl.err, ctl.err_len, "no IPC object at key"));
    assert_string_equal(ctl.out, "");

    const char *const list[] = {"list", "--all", NULL};
    assert_int_equal(e2e_ctl(&ctl, list), 0);
    /* Only the header. */
    assert_non_null(strchr(ctl.out, '\n'));
    assert_string_equal(strchr(ctl.out, '\n'), "\n");
    e2e_assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live_stale_foreign, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_inspect_absent_and_empty_list, e2e_setup,
                                        e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
