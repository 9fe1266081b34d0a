/* Unit tests for judge.c: the verdict on what sits at a SysV key (pure).
 *
 * Table-driven: each row builds kernel facts by hand (no kernel involved)
 * and states the verdict, the removal flags and a phrase the reason must
 * contain, as docs/lifecycle.md ("Key already taken: the judge") specifies
 * them. Every row runs with several keys, and the reason must name the key
 * as 0x%08x (zero-padded, negative key_t values as their 32-bit pattern),
 * since that is how ipcs(1) shows keys and what an operator greps for.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/judge.h"
#include "src/shmchan.h"
#include "tests/check.h"

#define ME ((uid_t)1000)
#define OTHER ((uid_t)1001)
#define ROOT ((uid_t)0)
#define NOW INT64_C(1700000000)
#define GRACE ((int64_t)SHMCHAN_INIT_GRACE_SECONDS)
#define SERVER_PID ((pid_t)4242)
#define SEMID 77
#define SHMID 99
/* A 3-client channel: 4 + 4 * 3 semaphores (protocol.md section 4). */
#define NSEMS_3 16u
#define MARKER 0x5348

/* ------------------------------------------------------ fact builders */

/* Nothing at the key; the prober is uid ME, creating with mode 0600. */
static void facts_empty(shmchan_probe_facts_t *f)
{
    memset(f, 0, sizeof *f);
    f->key = (key_t)0x0000BEEF;
    f->me = ME;
    f->max_mode = 0600;
    f->now = NOW;
    f->sem.semid = -1;
    f->shm.shmid = -1;
}

/* Our marked set with a live server (what creation leaves). */
static void add_live_set(shmchan_probe_facts_t *f)
{
    f->sem_present = 1;
    f->sem.semid = SEMID;
    f->sem.key = f->key;
    f->sem.uid = ME;
    f->sem.cuid = ME;
    f->sem.mode = 0600;
    f->sem.nsems = NSEMS_3;
    f->sem.otime = NOW - 5;
    f->sem.ctime = NOW - 100;
    f->sem_values_read = 1;
    f->sem_marker = MARKER;
    f->sem_alive = 1;
    f->sem_ready = 1;
    f->sem_alive_pid = SERVER_PID;
}

/* The same set after its server died (the kernel undid ALIVE). */
static void add_dead_set(shmchan_probe_facts_t *f)
{
    add_live_set(f);
    f->sem_alive = 0;
}

/* Our segment with a valid header naming the set above. */
static void add_segment(shmchan_probe_facts_t *f)
{
    f->shm_present = 1;
    f->shm.shmid = SHMID;
    f->shm.key = f->key;
    f->shm.uid = ME;
    f->shm.cuid = ME;
    f->shm.mode = 0600;
    f->shm.segsz = 256u + 3u * (576u + 2u * 4096u);
    f->shm.nattch = 0;
    f->shm.cpid = SERVER_PID;
    f->shm.lpid = SERVER_PID;
    f->header_read = 1;
    f->header_err = SHMCHAN_OK;
    f->header.layout.params.max_clients = 3;
    f->header.layout.params.max_payload = 1000;
    f->header.layout.params.lane_capacity = 4096;
    f->header.layout.nsems = NSEMS_3;
    f->header.layout.total_size = f->shm.segsz;
    f->header.semid = (uint32_t)SEMID;
    f->header.nonce = UINT64_C(0x1122334455667788);
}

/* A segment whose header failed validation with `err`. */
static void add_segment_bad_header(shmchan_probe_facts_t *f, shmchan_err_t err)
{
    add_segment(f);
    f->header_err = err;
    memset(&f->header, 0, sizeof f->header);
}

/* ------------------------------------------------------- the table */

typedef void (*setup_fn)(shmchan_probe_facts_t *f);

typedef struct judge_case {
    const char *name;
    setup_fn setup;
    shmchan_verdict_t verdict;
    int remove_sem, remove_shm;
    const char *phrase; /* the reason must contain it (NULL: key only) */
} judge_case_t;

/* Nothing. */
static void s_absent(shmchan_probe_facts_t *f)
{
    (void)f;
}

/* Set only. */
static void s_live_set(shmchan_probe_facts_t *f)
{
    add_live_set(f);
}

static void s_live_set_foreign_segment(shmchan_probe_facts_t *f)
{
    add_live_set(f);
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_MAGIC);
    f->shm.uid = OTHER;
}

static void s_dead_set(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
}

static void s_uninit_age0(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.otime = 0;
    f->sem.ctime = NOW;
    f->sem_marker = 0;
}

static void s_uninit_grace_minus_1(shmchan_probe_facts_t *f)
{
    s_uninit_age0(f);
    f->sem.ctime = NOW - (GRACE - 1);
}

static void s_uninit_grace(shmchan_probe_facts_t *f)
{
    s_uninit_age0(f);
    f->sem.ctime = NOW - GRACE;
}

static void s_uninit_old(shmchan_probe_facts_t *f)
{
    s_uninit_age0(f);
    f->sem.ctime = NOW - 86400;
}

static void s_uninit_young_with_segment(shmchan_probe_facts_t *f)
{
    /* Even with a stale-looking segment beside it: the set decides. */
    s_uninit_age0(f);
    add_segment(f);
}

static void s_set_uid_other(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.uid = OTHER;
}

static void s_set_cuid_other(shmchan_probe_facts_t *f)
{
    /* IPC_SET gave the object to us; its creator is someone else. */
    add_dead_set(f);
    f->sem.cuid = OTHER;
}

static void s_set_cuid_root(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
    f->sem.cuid = ROOT;
}

static void s_set_both_other(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.uid = OTHER;
    f->sem.cuid = OTHER;
}

static void s_set_mode_group(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.mode = 0660;
}

static void s_set_mode_world_read(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.mode = 0604;
}

static void s_set_mode_exec_bit(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.mode = 0700;
}

static void s_set_mode_narrower(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.mode = 0400;
}

static void s_set_mode_group_allowed(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->max_mode = 0660;
    f->sem.mode = 0660;
}

static void s_nsems_0(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.nsems = 0;
}

static void s_nsems_4(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.nsems = 4; /* no slot at all */
}

static void s_nsems_7(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.nsems = 7;
}

static void s_nsems_9(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.nsems = 9;
}

static void s_nsems_8(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.nsems = 8; /* one slot */
}

static void s_nsems_1028(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.nsems = 1028; /* 256 slots */
}

static void s_nsems_1032(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem.nsems = 1032; /* 257 slots */
}

static void s_values_unread(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem_values_read = 0;
    f->sem_marker = 0;
}

static void s_values_unread_stale_marker(shmchan_probe_facts_t *f)
{
    /* Values not read: whatever the fields say is not evidence. */
    add_dead_set(f);
    f->sem_values_read = 0;
}

static void s_marker_zero(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem_marker = 0;
}

static void s_marker_off_by_one(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    f->sem_marker = MARKER - 1;
}

static void s_marker_missing_alive(shmchan_probe_facts_t *f)
{
    add_live_set(f);
    f->sem_marker = 0;
}

static void s_sem_errno(shmchan_probe_facts_t *f)
{
    f->sem_present = 1;
    f->sem.semid = SEMID;
    f->sem_errno = EACCES;
}

static void s_sem_errno_with_segment(shmchan_probe_facts_t *f)
{
    s_sem_errno(f);
    add_segment(f);
}

/* Segment only. */
static void s_seg_valid_unattached(shmchan_probe_facts_t *f)
{
    add_segment(f);
}

static void s_seg_valid_attached(shmchan_probe_facts_t *f)
{
    add_segment(f);
    f->shm.nattch = 2;
}

static void s_seg_valid_one_attached(shmchan_probe_facts_t *f)
{
    add_segment(f);
    f->shm.nattch = 1;
}

static void s_seg_bad_version(shmchan_probe_facts_t *f)
{
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_VERSION);
}

static void s_seg_bad_size_attached(shmchan_probe_facts_t *f)
{
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_SIZE);
    f->shm.nattch = 2;
}

static void s_seg_bad_params(shmchan_probe_facts_t *f)
{
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_PARAMS);
}

static void s_seg_no_magic_attached(shmchan_probe_facts_t *f)
{
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_MAGIC);
    f->shm.nattch = 1;
}

static void s_seg_no_magic_unattached(shmchan_probe_facts_t *f)
{
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_MAGIC);
}

static void s_seg_unread_attached(shmchan_probe_facts_t *f)
{
    add_segment_bad_header(f, SHMCHAN_OK);
    f->header_read = 0;
    f->shm.nattch = 1;
}

static void s_seg_unread_unattached(shmchan_probe_facts_t *f)
{
    add_segment_bad_header(f, SHMCHAN_OK);
    f->header_read = 0;
}

static void s_seg_uid_other(shmchan_probe_facts_t *f)
{
    add_segment(f);
    f->shm.uid = OTHER;
}

static void s_seg_cuid_other(shmchan_probe_facts_t *f)
{
    add_segment(f);
    f->shm.cuid = OTHER;
}

static void s_seg_mode_world(shmchan_probe_facts_t *f)
{
    add_segment(f);
    f->shm.mode = 0666;
}

static void s_seg_errno(shmchan_probe_facts_t *f)
{
    f->shm_present = 1;
    f->shm.shmid = SHMID;
    f->shm_errno = EACCES;
}

/* Both present, server dead. */
static void s_dead_valid_unattached(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
}

static void s_dead_valid_attached(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
    f->shm.nattch = 5;
}

static void s_dead_semid_mismatch(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
    f->header.semid = (uint32_t)SEMID + 1u;
}

static void s_dead_nsems_mismatch(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
    f->header.layout.nsems = NSEMS_3 + 4u;
}

/* The token is 0, but the kernel says another process changed it last:
 * a peer's semop or SETVAL, not the server's exit (threat-model row 26). */
static void s_token_down_by_other_pid(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
    f->sem_alive_pid = SERVER_PID + 7;
}

/* Neither pid visible from our pid namespace: nothing is proved. */
static void s_token_down_pids_zero(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
    f->sem_alive_pid = 0;
    f->shm.cpid = 0;
}

static void s_dead_no_magic_same_pid(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_MAGIC);
}

static void s_dead_no_magic_other_pid(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_MAGIC);
    f->shm.cpid = SERVER_PID + 1;
}

static void s_dead_no_magic_same_pid_attached(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_MAGIC);
    f->shm.nattch = 1;
}

static void s_dead_no_magic_pids_zero(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_MAGIC);
    f->sem_alive_pid = 0;
    f->shm.cpid = 0;
}

static void s_dead_bad_version_same_pid(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_VERSION);
}

static void s_dead_bad_size_same_pid(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_SIZE);
}

static void s_dead_bad_params_same_pid(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment_bad_header(f, SHMCHAN_E_LAYOUT_PARAMS);
}

static void s_dead_seg_cuid_other(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
    f->shm.cuid = OTHER;
}

static void s_dead_seg_uid_other(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
    f->shm.uid = OTHER;
}

static void s_dead_seg_mode(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    add_segment(f);
    f->shm.mode = 0640;
}

static void s_dead_seg_errno(shmchan_probe_facts_t *f)
{
    add_dead_set(f);
    s_seg_errno(f);
}

#define V(x) SHMCHAN_VERDICT_##x

static const judge_case_t k_cases[] = {
    {"nothing at the key", s_absent, V(ABSENT), 0, 0, "no IPC object"},

    /* The set alone decides LIVE / BUSY / FOREIGN / STALE-without-segment. */
    {"live server", s_live_set, V(LIVE), 0, 0, "pid 4242"},
    {"live server, whatever the segment", s_live_set_foreign_segment, V(LIVE), 0, 0, NULL},
    {"dead server, no segment", s_dead_set, V(STALE), 1, 0, "dead"},
    {"set never operated, just created", s_uninit_age0, V(BUSY), 0, 0, "initialised"},
    {"set never operated, grace - 1 s old", s_uninit_grace_minus_1, V(BUSY), 0, 0, NULL},
    {"set never operated, exactly grace old", s_uninit_grace, V(FOREIGN), 0, 0, "ipcrm -s 77"},
    {"set never operated, a day old", s_uninit_old, V(FOREIGN), 0, 0, "never initialised"},
    {"set never operated, young, segment beside it", s_uninit_young_with_segment, V(BUSY), 0, 0,
     NULL},

    /* Ownership of the set. */
    {"set owner uid not ours", s_set_uid_other, V(FOREIGN), 0, 0, "owner uid 1001"},
    {"set creator uid not ours (IPC_SET give-away)", s_set_cuid_other, V(FOREIGN), 0, 0,
     "creator uid 1001"},
    {"set created by root, given to us, with our segment", s_set_cuid_root, V(FOREIGN), 0, 0,
     "creator uid 0"},
    {"set owner and creator not ours", s_set_both_other, V(FOREIGN), 0, 0, NULL},
    {"set mode 0660 beyond 0600", s_set_mode_group, V(FOREIGN), 0, 0, "0660"},
    {"set mode 0604 beyond 0600", s_set_mode_world_read, V(FOREIGN), 0, 0, "0604"},
    {"set mode 0700 beyond 0600", s_set_mode_exec_bit, V(FOREIGN), 0, 0, "0700"},
    {"set mode 0400 within 0600", s_set_mode_narrower, V(STALE), 1, 0, NULL},
    {"set mode 0660 within max 0660", s_set_mode_group_allowed, V(STALE), 1, 0, NULL},

    /* Shape and marker. */
    {"nsems 0", s_nsems_0, V(FOREIGN), 0, 0, "0 semaphores"},
    {"nsems 4 (no slot)", s_nsems_4, V(FOREIGN), 0, 0, "4 semaphores"},
    {"nsems 7", s_nsems_7, V(FOREIGN), 0, 0, "7 semaphores"},
    {"nsems 9", s_nsems_9, V(FOREIGN), 0, 0, "9 semaphores"},
    {"nsems 8 (1 slot)", s_nsems_8, V(STALE), 1, 0, NULL},
    {"nsems 1028 (256 slots)", s_nsems_1028, V(STALE), 1, 0, NULL},
    {"nsems 1032 (257 slots)", s_nsems_1032, V(FOREIGN), 0, 0, "1032 semaphores"},
    {"values not readable", s_values_unread, V(FOREIGN), 0, 0, "marker"},
    {"values not readable, marker field set", s_values_unread_stale_marker, V(FOREIGN), 0, 0,
     "marker"},
    {"marker 0", s_marker_zero, V(FOREIGN), 0, 0, "marker"},
    {"marker 0x5347", s_marker_off_by_one, V(FOREIGN), 0, 0, "marker"},
    {"no marker, ALIVE 1", s_marker_missing_alive, V(FOREIGN), 0, 0, "marker"},
    {"set not statable", s_sem_errno, V(FOREIGN), 0, 0, NULL},
    {"set not statable, valid segment", s_sem_errno_with_segment, V(FOREIGN), 0, 0, NULL},

    /* Segment alone. */
    {"segment only, valid, unattached", s_seg_valid_unattached, V(STALE), 0, 1,
     "no process attached"},
    {"segment only, valid, attached", s_seg_valid_attached, V(BUSY), 0, 0, "2 process(es)"},
    {"segment only, valid, 1 attached", s_seg_valid_one_attached, V(BUSY), 0, 0,
     "1 process(es)"},
    {"segment only, bad version", s_seg_bad_version, V(FOREIGN), 0, 0, "not a shmchan"},
    {"segment only, bad size, attached", s_seg_bad_size_attached, V(FOREIGN), 0, 0, NULL},
    {"segment only, bad params", s_seg_bad_params, V(FOREIGN), 0, 0, NULL},
    {"segment only, no magic, attached", s_seg_no_magic_attached, V(BUSY), 0, 0,
     "1 process(es)"},
    {"segment only, no magic, unattached", s_seg_no_magic_unattached, V(FOREIGN), 0, 0, NULL},
    {"segment only, header unreadable, attached", s_seg_unread_attached, V(BUSY), 0, 0, NULL},
    {"segment only, header unreadable, unattached", s_seg_unread_unattached, V(FOREIGN), 0, 0,
     "header not readable"},
    {"segment only, owner not ours", s_seg_uid_other, V(FOREIGN), 0, 0, "owner uid 1001"},
    {"segment only, creator not ours", s_seg_cuid_other, V(FOREIGN), 0, 0, "creator uid 1001"},
    {"segment only, mode 0666", s_seg_mode_world, V(FOREIGN), 0, 0, "0666"},
    {"segment only, not statable", s_seg_errno, V(FOREIGN), 0, 0, NULL},

    /* Both, server dead. */
    {"dead server, valid segment, unattached", s_dead_valid_unattached, V(STALE), 1, 1, NULL},
    {"dead server, valid segment, 5 attached", s_dead_valid_attached, V(STALE), 1, 1,
     "5 process(es)"},
    {"token down by another pid (forged)", s_token_down_by_other_pid, V(LIVE), 0, 0,
     "not provably dead"},
    {"token down, pids unknown (0)", s_token_down_pids_zero, V(LIVE), 0, 0, "not provably dead"},
    {"dead server, segment names another set", s_dead_semid_mismatch, V(FOREIGN), 0, 0,
     "semaphore set 78"},
    {"dead server, segment of another size set", s_dead_nsems_mismatch, V(FOREIGN), 0, 0, NULL},
    {"dead server, no magic, same creator pid", s_dead_no_magic_same_pid, V(STALE), 1, 1,
     "pid 4242"},
    {"dead server, no magic, other creator pid", s_dead_no_magic_other_pid, V(FOREIGN), 0, 0,
     NULL},
    {"dead server, no magic, same pid, attached", s_dead_no_magic_same_pid_attached, V(BUSY), 0,
     0, NULL},
    {"dead server, no magic, pids unknown (0)", s_dead_no_magic_pids_zero, V(FOREIGN), 0, 0,
     NULL},
    {"dead server, segment creator not ours", s_dead_seg_cuid_other, V(FOREIGN), 0, 0,
     "creator uid 1001"},
    {"dead server, segment owner not ours", s_dead_seg_uid_other, V(FOREIGN), 0, 0,
     "owner uid 1001"},
    {"dead server, segment mode 0640", s_dead_seg_mode, V(FOREIGN), 0, 0, "0640"},
    {"dead server, segment not statable", s_dead_seg_errno, V(FOREIGN), 0, 0, NULL},
};

/* lifecycle.md: "ours with a bad header" is FOREIGN; only a segment
 * *without magic* (its creator died before publishing it) is reclaimed by
 * the creator-pid rule. A header that carries the magic was complete once
 * (the magic is stored last), so a bad field in it means someone changed it
 * afterwards: not provably ours. Kept apart from k_cases so that a failure
 * here does not hide the rest of the table. */
static const judge_case_t k_magic_cases[] = {
    {"dead server, magic but bad version, same pid", s_dead_bad_version_same_pid, V(FOREIGN), 0,
     0, NULL},
    {"dead server, magic but bad size, same pid", s_dead_bad_size_same_pid, V(FOREIGN), 0, 0,
     NULL},
    {"dead server, magic but bad params, same pid", s_dead_bad_params_same_pid, V(FOREIGN), 0, 0,
     NULL},
};

/* Keys: ordinary, one that needs zero padding, IPC_PRIVATE's value, and a
 * negative key_t (ftok() can produce them). */
static const uint32_t k_keys[] = {0x1234ABCDu, 0x0000BEEFu, 0x00000000u, 0xDEADBEEFu};

static void run_case(const judge_case_t *c, uint32_t key_bits)
{
    shmchan_probe_facts_t f;
    facts_empty(&f);
    /* Two's complement reinterpretation, spelled out (no implementation-
     * defined conversion of an out-of-range value). */
    int32_t key_signed;
    memcpy(&key_signed, &key_bits, sizeof key_signed);
    f.key = (key_t)key_signed;
    c->setup(&f);

    shmchan_judgement_t j;
    memset(&j, 0xA5, sizeof j);
    shmchan_probe_judge(&f, &j);

    check_ctx_set("case '%s', key 0x%08x: got %s (remove sem %d shm %d), reason \"%.200s\"",
                  c->name, (unsigned)key_bits, shmchan_verdict_name(j.verdict), j.remove_sem,
                  j.remove_shm,
                  memchr(j.reason, '\0', sizeof j.reason) != NULL ? j.reason : "(unterminated)");
    CHECK(memchr(j.reason, '\0', sizeof j.reason) != NULL);
    CHECK_STR(shmchan_verdict_name(j.verdict), shmchan_verdict_name(c->verdict));
    CHECK_EQ(j.verdict, c->verdict);
    CHECK_EQ(j.remove_sem, c->remove_sem);
    CHECK_EQ(j.remove_shm, c->remove_shm);
    /* Only STALE removes anything. */
    CHECK(j.verdict == SHMCHAN_VERDICT_STALE || (j.remove_sem == 0 && j.remove_shm == 0));

    char key_text[16];
    (void)snprintf(key_text, sizeof key_text, "0x%08x", (unsigned)key_bits);
    CHECK_CONTAINS(j.reason, key_text);
    if (c->phrase != NULL) {
        CHECK_CONTAINS(j.reason, c->phrase);
    }
    if (f.sem_errno != 0 || f.shm_errno != 0) {
        CHECK_CONTAINS(j.reason, strerror(EACCES));
    }
}

static void test_judge_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        for (size_t k = 0; k < sizeof k_keys / sizeof k_keys[0]; k++) {
            run_case(&k_cases[i], k_keys[k]);
        }
    }
}

static void test_judge_bad_header_with_magic(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_magic_cases / sizeof k_magic_cases[0]; i++) {
        for (size_t k = 0; k < sizeof k_keys / sizeof k_keys[0]; k++) {
            run_case(&k_magic_cases[i], k_keys[k]);
        }
    }
}

/* The table covers every verdict and every removal combination it can
 * produce, so a judge that never says one of them cannot pass. */
static void test_table_covers_every_verdict(void **state)
{
    (void)state;
    int seen[5] = {0, 0, 0, 0, 0};
    int stale_sem_only = 0;
    int stale_shm_only = 0;
    int stale_both = 0;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const judge_case_t *c = &k_cases[i];
        seen[c->verdict]++;
        stale_sem_only += c->remove_sem && !c->remove_shm;
        stale_shm_only += !c->remove_sem && c->remove_shm;
        stale_both += c->remove_sem && c->remove_shm;
    }
    check_ctx_set("table coverage");
    for (int v = 0; v < 5; v++) {
        CHECK(seen[v] > 0);
    }
    CHECK(stale_sem_only > 0);
    CHECK(stale_shm_only > 0);
    CHECK(stale_both > 0);
}

/* The grace period is measured from sem_ctime: every age around the
 * boundary, including a ctime in the future (clock stepped back). */
static void test_grace_period_boundary(void **state)
{
    (void)state;
    for (int64_t age = -5; age <= GRACE + 5; age++) {
        check_ctx_set("never-operated set, age %" PRId64 " s", age);
        shmchan_probe_facts_t f;
        facts_empty(&f);
        s_uninit_age0(&f);
        f.sem.ctime = NOW - age;
        shmchan_judgement_t j;
        shmchan_probe_judge(&f, &j);
        CHECK_EQ(j.verdict, age < GRACE ? SHMCHAN_VERDICT_BUSY : SHMCHAN_VERDICT_FOREIGN);
        CHECK_EQ(j.remove_sem, 0);
        CHECK_EQ(j.remove_shm, 0);
    }
}

/* Every mode bit the creator did not grant makes the set foreign; every
 * subset of the granted bits is fine. */
static void test_mode_bits(void **state)
{
    (void)state;
    const unsigned max_modes[] = {0600, 0620, 0640, 0660};
    for (size_t m = 0; m < sizeof max_modes / sizeof max_modes[0]; m++) {
        for (unsigned mode = 0; mode <= 0777; mode++) {
            check_ctx_set("max_mode %04o, set mode %04o", max_modes[m], mode);
            shmchan_probe_facts_t f;
            facts_empty(&f);
            add_dead_set(&f);
            f.max_mode = max_modes[m];
            f.sem.mode = mode;
            shmchan_judgement_t j;
            shmchan_probe_judge(&f, &j);
            const int within = (mode & ~max_modes[m]) == 0;
            CHECK_EQ(j.verdict, within ? SHMCHAN_VERDICT_STALE : SHMCHAN_VERDICT_FOREIGN);

            /* The same rule for the segment (set dead and ours). */
            add_segment(&f);
            f.sem.mode = 0600;
            f.shm.mode = mode;
            shmchan_probe_judge(&f, &j);
            CHECK_EQ(j.verdict, within ? SHMCHAN_VERDICT_STALE : SHMCHAN_VERDICT_FOREIGN);
            CHECK_EQ(j.remove_shm, within);
        }
    }
}

/* Every set size from 0 to past the largest channel: only 4 + 4k with
 * 1 <= k <= 256 (a single-user channel) and 3 (a multi-user channel's own
 * set, docs/multiuser.md) are shmchan shapes. */
static void test_nsems_shapes(void **state)
{
    (void)state;
    for (uint32_t n = 0; n <= 1040; n++) {
        check_ctx_set("nsems %" PRIu32, n);
        shmchan_probe_facts_t f;
        facts_empty(&f);
        add_dead_set(&f);
        f.sem.nsems = n;
        shmchan_judgement_t j;
        shmchan_probe_judge(&f, &j);
        const int shape = n == 3 || (n >= 8 && n <= 1028 && n % 4u == 0);
        CHECK_EQ(j.verdict, shape ? SHMCHAN_VERDICT_STALE : SHMCHAN_VERDICT_FOREIGN);
    }
}

static void test_verdict_names(void **state)
{
    (void)state;
    check_ctx_set("verdict names");
    CHECK_STR(shmchan_verdict_name(SHMCHAN_VERDICT_ABSENT), "absent");
    CHECK_STR(shmchan_verdict_name(SHMCHAN_VERDICT_LIVE), "live");
    CHECK_STR(shmchan_verdict_name(SHMCHAN_VERDICT_BUSY), "busy");
    CHECK_STR(shmchan_verdict_name(SHMCHAN_VERDICT_STALE), "stale");
    CHECK_STR(shmchan_verdict_name(SHMCHAN_VERDICT_FOREIGN), "foreign");
    /* 5 and 7 are representable in the enum's range; never NULL. */
    CHECK_STR(shmchan_verdict_name((shmchan_verdict_t)5), "unknown");
    CHECK_STR(shmchan_verdict_name((shmchan_verdict_t)7), "unknown");
}

/* The read bits a multi-user channel may carry beyond max_mode (0044: its
 * header is for every allowed uid to read) go to exactly one shape: a
 * segment of the header alone, beside a set of three semaphores or none.
 * Any other segment - a single-user channel's, whose slots hold messages -
 * keeps max_mode. */
static void test_multiuser_read_bits(void **state)
{
    (void)state;
    shmchan_probe_facts_t f;
    facts_empty(&f);
    f.shm_present = 1;
    f.shm.segsz = SHMCHAN_LAYOUT_HEADER_SIZE;
    check_ctx_set("header alone, no set");
    CHECK_EQ(shmchan_probe_shm_max_mode(&f), 0644u);
    f.sem_present = 1;
    f.sem.nsems = SHMCHAN_SEM_MU_COUNT;
    check_ctx_set("header alone, the multi-user set");
    CHECK_EQ(shmchan_probe_shm_max_mode(&f), 0644u);
    f.sem.nsems = NSEMS_3;
    check_ctx_set("header alone, a single-user set");
    CHECK_EQ(shmchan_probe_shm_max_mode(&f), 0600u);
    f.sem.nsems = SHMCHAN_SEM_MU_COUNT;
    f.shm.segsz = SHMCHAN_LAYOUT_HEADER_SIZE + 1u;
    check_ctx_set("a larger segment, the multi-user set");
    CHECK_EQ(shmchan_probe_shm_max_mode(&f), 0600u);
    f.shm_present = 0;
    f.shm.segsz = SHMCHAN_LAYOUT_HEADER_SIZE;
    check_ctx_set("no segment");
    CHECK_EQ(shmchan_probe_shm_max_mode(&f), 0600u);
    check_ctx_clear();
}

/* The sets that make remove_stale leave the connection keys alone: a
 * single-user channel's shapes only - not a multi-user channel's three
 * semaphores, nor a foreign shape, nor no set at all. */
static void test_single_user_shape(void **state)
{
    (void)state;
    shmchan_probe_facts_t f;
    facts_empty(&f);
    check_ctx_set("no set");
    CHECK(!shmchan_probe_is_single_user(&f));
    add_live_set(&f);
    check_ctx_set("a single-user set of %u", f.sem.nsems);
    CHECK(shmchan_probe_is_single_user(&f));
    f.sem.nsems = shmchan_layout_nsems(1);
    check_ctx_set("a single-user set of one slot");
    CHECK(shmchan_probe_is_single_user(&f));
    f.sem.nsems = SHMCHAN_SEM_MU_COUNT;
    check_ctx_set("the multi-user set");
    CHECK(!shmchan_probe_is_single_user(&f));
    f.sem.nsems = NSEMS_3 + 1u;
    check_ctx_set("a foreign shape");
    CHECK(!shmchan_probe_is_single_user(&f));
    check_ctx_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_judge_table),
        cmocka_unit_test(test_judge_bad_header_with_magic),
        cmocka_unit_test(test_table_covers_every_verdict),
        cmocka_unit_test(test_grace_period_boundary),
        cmocka_unit_test(test_mode_bits),
        cmocka_unit_test(test_nsems_shapes),
        cmocka_unit_test(test_verdict_names),
        cmocka_unit_test(test_multiuser_read_bits),
        cmocka_unit_test(test_single_user_shape),
    };
    return cmocka_run_group_tests_name("judge", tests, NULL, NULL);
}
