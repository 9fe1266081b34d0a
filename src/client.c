/*
 * client.c - the client side of a channel: connect, send, receive, leave.
 *
 * Trust: the client trusts nothing it has not checked. Both kernel objects
 * must be owned and created by the expected uid with no permission bits
 * beyond max_mode (IPC_STAT, before anything is read or attached); the
 * header is copied once and validated against the kernel's segment size;
 * the semaphore set must be the one the header names. After that the
 * client works from its private copy of the layout only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include "account.h"
#include "channel_internal.h"
#include "conn.h"
#include "lane.h"
#include "layout.h"
#include "judge.h"
#include "safety.h"
#include "shm_atomic.h"
#include "sysv.h"
#include "wake.h"

struct shmchan_client {
    key_t key;
    int shmid;
    int semid;
    uint8_t *base;
    shmchan_layout_t layout;
    uint32_t slot;
    int holds_slot;
    pid_t server_pid; /* the segment's creator (kernel: shm_cpid) */
    const volatile sig_atomic_t *cancel;
    int closed; /* atomic: set by whichever of send/recv first sees the end */
    shmchan_spinner_t tx_spin; /* send's: may run in its own thread */
    shmchan_spinner_t rx_spin; /* recv's */
    shmchan_lane_t tx; /* client -> server; used by the sending thread only */
    shmchan_lane_t rx; /* server -> client; used by the receiving thread only */
    uint8_t *rx_stash; /* rx's reassembly buffer, if messages come in fragments */
    /* Multi-user (layout.multiuser, docs/multiuser.md): the server's
     * doorbell, and the connection's own objects, which we created and gave
     * to the server; the channel's segment is then attached read-only. */
    int doorbell_semid;
    shmchan_conn_objects_t conn;
    int accepted; /* the verdict was ACCEPTED: the server's token is there to watch */
};

void shmchan_client_options_init(shmchan_client_options_t *opts)
{
    if (opts == NULL) {
        return;
    }
    memset(opts, 0, sizeof *opts);
    opts->connect_timeout_ms = SHMCHAN_DEFAULT_CONNECT_TIMEOUT_MS;
    opts->expected_uid = geteuid();
    opts->max_mode = SHMCHAN_DEFAULT_MODE;
    opts->spin_ns = SHMCHAN_DEFAULT_SPIN_NS;
}

uint32_t shmchan_client_max_payload(const shmchan_client_t *cli)
{
    return cli->layout.params.max_payload;
}

uint32_t shmchan_client_slot(const shmchan_client_t *cli)
{
    return cli->slot;
}

static int client_closed(const shmchan_client_t *cli)
{
    return __atomic_load_n(&cli->closed, __ATOMIC_ACQUIRE);
}

static void client_set_closed(shmchan_client_t *cli)
{
    __atomic_store_n(&cli->closed, 1, __ATOMIC_RELEASE);
}

/* Where our slot lives (see server.c, "where a slot lives"): its
 * semaphores and memory, and the semaphore that wakes the server. */
static int slot_set(const shmchan_client_t *cli)
{
    return cli->layout.multiuser ? cli->conn.semid : cli->semid;
}

static unsigned short slot_sem(const shmchan_client_t *cli, unsigned which)
{
    return shmchan_slot_semnum((int)cli->layout.multiuser, cli->slot, which);
}

static uint8_t *slot_mem(const shmchan_client_t *cli)
{
    if (cli->layout.multiuser) {
        return cli->conn.base;
    }
    return cli->base + shmchan_layout_slot_offset(&cli->layout, cli->slot);
}

static void wake_server(const shmchan_client_t *cli)
{
    if (cli->layout.multiuser) {
        (void)shmchan_wake_post(cli->doorbell_semid, SHMCHAN_DOORBELL_WAKE, NULL);
    } else {
        (void)shmchan_wake_post(cli->semid, SHMCHAN_SEM_SERVER_WAKE, NULL);
    }
}

/* -------------------------------------------------------------- connect */

/* `readable`: a multi-user channel's own set and header segment, which
 * every client may read (mode 0644: they hold no message, and only the
 * server may alter them); nothing else grants others more than max_mode. */
static shmchan_err_t check_owner(const char *what, int id, key_t key, uid_t uid, uid_t cuid,
                                 unsigned mode, int readable, const shmchan_client_options_t *o,
                                 shmchan_diag_t *diag)
{
    char why[96];
    const unsigned max_mode = readable ? (o->max_mode | 0044u) : o->max_mode;
    if (shmchan_ownership_problem(o->expected_uid, max_mode, uid, cuid, mode, why,
                                  sizeof why) != NULL) {
        shmchan_diag_set(diag, SHMCHAN_E_FOREIGN, 0, "%s %d at key 0x%08x: %s", what, id,
                         (unsigned)key, why);
        return SHMCHAN_E_FOREIGN;
    }
    return SHMCHAN_OK;
}

/* While waiting for READY: the server's first semop set MARKER and took
 * its token in one step, so a marked set whose token is 0 has lost its
 * server before it was ready (or a process of ours took the token down,
 * which only makes this connect give up: the segment, and with it the
 * kernel's record of the server's pid, is not known yet). */
static shmchan_err_t died_while_starting(shmchan_client_t *cli, shmchan_diag_t *diag)
{
    int marker = 0;
    int alive = 0;
    GUARD(shmchan_sys_sem_getval(cli->semid, SHMCHAN_SEM_MARKER, &marker, diag));
    GUARD(shmchan_sys_sem_getval(cli->semid, SHMCHAN_SEM_SERVER_ALIVE, &alive, diag));
    if (marker == SHMCHAN_SEM_MARKER_VALUE && alive == 0) {
        shmchan_diag_set(diag, SHMCHAN_E_CLOSED, 0,
                         "channel at key 0x%08x (semid %d): its server died while starting",
                         (unsigned)cli->key, cli->semid);
        return SHMCHAN_E_CLOSED;
    }
    return SHMCHAN_OK;
}

/* Waits until READY >= 1 without changing it: {READY -1, READY +1} is one
 * atomic operation that can only proceed once the server has posted it.
 * In slices of at most one liveness period, like every other wait: the
 * cancel flag and the server's token are looked at between slices. */
static shmchan_err_t wait_ready(shmchan_client_t *cli, int timeout_ms, shmchan_diag_t *diag)
{
    struct sembuf ops[2] = {
        {.sem_num = SHMCHAN_SEM_READY, .sem_op = -1, .sem_flg = IPC_NOWAIT},
        {.sem_num = SHMCHAN_SEM_READY, .sem_op = 1, .sem_flg = 0},
    };
    shmchan_err_t err = shmchan_sys_semop(cli->semid, ops, 2, 0, NULL, diag);
    if (err != SHMCHAN_E_WOULD_BLOCK) {
        return err;
    }
    ops[0].sem_flg = 0;
    shmchan_wait_t w;
    shmchan_wait_begin(&w, timeout_ms, cli->cancel);
    for (;;) {
        int64_t sleep_ns = 0;
        err = shmchan_wait_gate(&w, &sleep_ns);
        if (err == SHMCHAN_E_TIMEOUT) {
            shmchan_diag_set(diag, SHMCHAN_E_TIMEOUT, 0,
                             "channel at key 0x%08x (semid %d) did not become ready within %d ms",
                             (unsigned)cli->key, cli->semid, timeout_ms);
        }
        GUARD(err);
        GUARD(died_while_starting(cli, diag));
        err = shmchan_sys_semop(cli->semid, ops, 2, sleep_ns, cli->cancel, diag);
        if (err != SHMCHAN_E_TIMEOUT) {
            return err;
        }
    }
}

/* Multi-user: the server's token on our own connection (conn.h,
 * SHMCHAN_CONN_SEM_SERVER), which it took with SEM_UNDO when it accepted us.
 * Only it and we may operate on our set, so 0 after the verdict is the
 * kernel's undo at its death (or its own close, which also removes the
 * set). Before the verdict there is nothing to look at: the connect's
 * timeout bounds the wait. */
static shmchan_err_t server_alive_multiuser(shmchan_client_t *cli, shmchan_diag_t *diag)
{
    if (!cli->accepted) {
        return SHMCHAN_OK;
    }
    int token = 0;
    GUARD(shmchan_sys_sem_getval(cli->conn.semid, SHMCHAN_CONN_SEM_SERVER, &token, diag));
    if (token == 0) {
        shmchan_diag_set(diag, SHMCHAN_E_CLOSED, 0,
                         "channel at key 0x%08x: its server (pid %d) is dead (its token on our "
                         "connection is down)",
                         (unsigned)cli->key, (int)cli->server_pid);
        return SHMCHAN_E_CLOSED;
    }
    return SHMCHAN_OK;
}

/* SHMCHAN_E_CLOSED once the kernel says the server is dead (judge.h, the
 * one rule): a token that anyone else took down proves nothing. */
static shmchan_err_t server_alive(shmchan_client_t *cli, shmchan_diag_t *diag)
{
    if (cli->layout.multiuser) {
        return server_alive_multiuser(cli, diag);
    }
    int alive = 0;
    pid_t alive_pid = 0;
    GUARD(shmchan_sys_sem_getval(cli->semid, SHMCHAN_SEM_SERVER_ALIVE, &alive, diag));
    if (alive != 0) {
        return SHMCHAN_OK;
    }
    GUARD(shmchan_sys_sem_getpid(cli->semid, SHMCHAN_SEM_SERVER_ALIVE, &alive_pid, diag));
    if (shmchan_server_token_released(alive, alive_pid, cli->server_pid)) {
        shmchan_diag_set(diag, SHMCHAN_E_CLOSED, 0,
                         "channel at key 0x%08x: its server (pid %d) is dead (stale channel)",
                         (unsigned)cli->key, (int)cli->server_pid);
        return SHMCHAN_E_CLOSED;
    }
    return SHMCHAN_OK;
}

static shmchan_err_t attach_and_validate(shmchan_client_t *cli, const shmchan_client_options_t *o,
                                         const shmchan_sys_sem_info_t *sem, shmchan_diag_t *diag)
{
    GUARD(shmchan_sys_shm_lookup(cli->key, &cli->shmid, diag));
    shmchan_sys_shm_info_t shm;
    GUARD(shmchan_sys_shm_stat(cli->shmid, &shm, diag));
    GUARD(check_owner("segment", cli->shmid, cli->key, shm.uid, shm.cuid, shm.mode, 0, o, diag));
    cli->server_pid = shm.cpid;
    if (shm.segsz < SHMCHAN_LAYOUT_HEADER_SIZE || shm.segsz > (uint64_t)SIZE_MAX) {
        shmchan_diag_set(diag, SHMCHAN_E_LAYOUT_SIZE, 0,
                         "segment %d at key 0x%08x: size %llu cannot hold a channel", cli->shmid,
                         (unsigned)cli->key, (unsigned long long)shm.segsz);
        return SHMCHAN_E_LAYOUT_SIZE;
    }
    GUARD(shmchan_sys_shm_attach(cli->shmid, 0, &cli->base, diag));
    shmchan_header_info_t hdr;
    const shmchan_err_t err = shmchan_layout_read_header(cli->base, (size_t)shm.segsz, &hdr);
    if (err != SHMCHAN_OK) {
        shmchan_diag_set(diag, err, 0, "segment %d at key 0x%08x (size %llu): %s", cli->shmid,
                         (unsigned)cli->key, (unsigned long long)shm.segsz, shmchan_strerror(err));
        return err;
    }
    if (hdr.semid != (uint32_t)cli->semid || hdr.layout.nsems != sem->nsems) {
        shmchan_diag_set(diag, SHMCHAN_E_FOREIGN, 0,
                         "segment %d at key 0x%08x names semaphore set %u (%u sems), but the set "
                         "at the key is %d (%u sems)",
                         cli->shmid, (unsigned)cli->key, hdr.semid, hdr.layout.nsems, cli->semid,
                         sem->nsems);
        return SHMCHAN_E_FOREIGN;
    }
    cli->layout = hdr.layout;
    return SHMCHAN_OK;
}

/* ------------------------------------------------ multi-user connect
 * docs/multiuser.md, "Connect". */

/* The doorbell: the header (the server's, which no one else may write)
 * names its id, and the channel's doorbell key must name the same set. A
 * client cannot IPC_STAT it (mode 0622/0620 grants no read): the id is the
 * server's word, checked against the key, whose lookup needs no right. */
static shmchan_err_t check_doorbell(shmchan_client_t *cli, shmchan_diag_t *diag)
{
    int at_key = -1;
    GUARD(shmchan_sys_sem_lookup(shmchan_doorbell_key(cli->key), &at_key, diag));
    if (at_key != cli->doorbell_semid) {
        shmchan_diag_set(diag, SHMCHAN_E_FOREIGN, 0,
                         "channel at key 0x%08x names doorbell %d, but the set at its doorbell "
                         "key 0x%08x is %d",
                         (unsigned)cli->key, cli->doorbell_semid,
                         (unsigned)shmchan_doorbell_key(cli->key), at_key);
        return SHMCHAN_E_FOREIGN;
    }
    return SHMCHAN_OK;
}

/* A connection of ours left at `key` by a process of our uid that died
 * (the kernel's undo took its token down): we created it, so we may remove
 * it, given away or not (shmchan_conn_dead_for) - or it would hold the key
 * until its server came by. Returns 1 if removed. */
static int remove_own_leftover(key_t key)
{
    shmchan_conn_facts_t f;
    if (shmchan_conn_gather(key, 0, NULL, 0, &f, NULL) != SHMCHAN_OK ||
        !shmchan_conn_dead_for(&f, geteuid())) {
        return 0;
    }
    shmchan_conn_remove_dead(&f, geteuid());
    return 1;
}

/* Creates our connection at the first free slot key: the kernel's
 * IPC_EXCL makes exactly one creator win each key. */
static shmchan_err_t create_connection(shmchan_client_t *cli, const shmchan_client_options_t *o,
                                       shmchan_diag_t *diag)
{
    for (uint32_t s = 0; s < cli->layout.params.max_clients; s++) {
        const key_t key = shmchan_conn_key(cli->key, s);
        shmchan_err_t err =
            shmchan_conn_create(key, cli->layout.slot_stride, o->expected_uid, &cli->conn, diag);
        if (err == SHMCHAN_E_ALREADY_RUNNING && remove_own_leftover(key)) {
            err = shmchan_conn_create(key, cli->layout.slot_stride, o->expected_uid, &cli->conn,
                                      diag);
        }
        if (err == SHMCHAN_OK) {
            cli->slot = s;
            cli->holds_slot = 1;
            return SHMCHAN_OK;
        }
        if (err != SHMCHAN_E_ALREADY_RUNNING) {
            return err;
        }
    }
    shmchan_diag_set(diag, SHMCHAN_E_NO_SLOT, 0,
                     "channel at key 0x%08x: all %u connection keys taken",
                     (unsigned)cli->key, cli->layout.params.max_clients);
    return SHMCHAN_E_NO_SLOT;
}

/* What a verdict other than ACCEPTED means, in words naming our uid. */
static shmchan_err_t refused(shmchan_client_t *cli, int verdict, shmchan_diag_t *diag)
{
    if (verdict == SHMCHAN_CONN_VERDICT_REFUSED_UID) {
        char name[64];
        shmchan_account_user_name(geteuid(), name, sizeof name);
        shmchan_diag_set(diag, SHMCHAN_E_PERMISSION, EACCES,
                         "channel at key 0x%08x: the server refused uid %u (%s): not allowed "
                         "to connect",
                         (unsigned)cli->key, (unsigned)geteuid(), name[0] ? name : "no account");
        return SHMCHAN_E_PERMISSION;
    }
    shmchan_diag_set(diag, SHMCHAN_E_PROTOCOL, 0,
                     "channel at key 0x%08x: the server refused our connection objects "
                     "(verdict %d)",
                     (unsigned)cli->key, verdict);
    return SHMCHAN_E_PROTOCOL;
}

/* Rings HELLO and WAKE, then waits for the server's verdict on our own set:
 * in slices, each passing the gate `w` (the connect's one deadline, and
 * cancel) and a look at the header's state word (a closing server). There
 * is no server token to watch yet (it takes it as it accepts): a server
 * that dies before judging us costs the rest of the connect's timeout
 * (`timeout_ms`, for the message), and the message says so. The verdict is
 * a value only the server (owner) and we (creator) may set. */
static shmchan_err_t await_verdict(shmchan_client_t *cli, shmchan_wait_t *w, int timeout_ms,
                                   shmchan_diag_t *diag)
{
    GUARD(shmchan_wake_post(cli->doorbell_semid, SHMCHAN_DOORBELL_HELLO, diag));
    GUARD(shmchan_wake_post(cli->doorbell_semid, SHMCHAN_DOORBELL_WAKE, diag));
    for (;;) {
        int verdict = 0;
        GUARD(shmchan_sys_sem_getval(cli->conn.semid, SHMCHAN_CONN_SEM_VERDICT, &verdict, diag));
        if (verdict == SHMCHAN_CONN_VERDICT_ACCEPTED) {
            cli->accepted = 1;
            return SHMCHAN_OK;
        }
        if (verdict != SHMCHAN_CONN_VERDICT_PENDING) {
            return refused(cli, verdict, diag);
        }
        int64_t sleep_ns = 0;
        shmchan_err_t err = shmchan_wait_gate(w, &sleep_ns);
        if (err == SHMCHAN_E_TIMEOUT) {
            shmchan_diag_set(diag, SHMCHAN_E_TIMEOUT, 0,
                             "channel at key 0x%08x: no verdict on our connection within %d ms "
                             "(is its server still running?)",
                             (unsigned)cli->key, timeout_ms);
        }
        GUARD(err);
        if (shmchan_shm_load_u32_acquire(cli->base + SHMCHAN_HDR_OFF_SERVER_STATE) ==
            SHMCHAN_SERVER_STATE_CLOSING) {
            shmchan_diag_set(diag, SHMCHAN_E_CLOSED, 0,
                             "channel at key 0x%08x: its server closed before judging us",
                             (unsigned)cli->key);
            return SHMCHAN_E_CLOSED;
        }
        err = shmchan_wake_wait(cli->conn.semid, SHMCHAN_CONN_SEM_RX, sleep_ns, cli->cancel);
        if (err != SHMCHAN_OK && err != SHMCHAN_E_TIMEOUT) {
            return err;
        }
    }
}

/* Claims the first slot the server offers, atomically per slot:
 * OWNER_i must be 0, FREE_i is taken, OWNER_i becomes 1 with SEM_UNDO so
 * the kernel releases it if we die. */
static shmchan_err_t claim_slot(shmchan_client_t *cli, shmchan_diag_t *diag)
{
    for (uint32_t s = 0; s < cli->layout.params.max_clients; s++) {
        const unsigned short owner = shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_OWNER);
        const unsigned short free_tok = shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_FREE);
        struct sembuf ops[3] = {
            {.sem_num = owner, .sem_op = 0, .sem_flg = IPC_NOWAIT},
            {.sem_num = free_tok, .sem_op = -1, .sem_flg = IPC_NOWAIT},
            {.sem_num = owner, .sem_op = 1, .sem_flg = SEM_UNDO | IPC_NOWAIT},
        };
        const shmchan_err_t err = shmchan_sys_semop(cli->semid, ops, 3, 0, NULL, diag);
        if (err == SHMCHAN_OK) {
            cli->slot = s;
            cli->holds_slot = 1;
            return SHMCHAN_OK;
        }
        if (err != SHMCHAN_E_WOULD_BLOCK) {
            return err;
        }
    }
    shmchan_diag_set(diag, SHMCHAN_E_NO_SLOT, 0, "channel at key 0x%08x: all %u client slots taken",
                     (unsigned)cli->key, cli->layout.params.max_clients);
    return SHMCHAN_E_NO_SLOT;
}

static void release_slot(shmchan_client_t *cli)
{
    if (!cli->holds_slot) {
        return;
    }
    if (cli->layout.multiuser) {
        /* Token back (with SEM_UNDO: nothing left for the kernel to undo),
         * then both objects removed as their creator. The server, if it
         * holds the segment, keeps its mapping until it has drained it. */
        shmchan_conn_destroy(&cli->conn);
        cli->holds_slot = 0;
        wake_server(cli);
        return;
    }
    /* -1 with SEM_UNDO cancels the +1's undo entry: nothing is left for the
     * kernel to adjust at our exit. */
    struct sembuf op = {.sem_num = slot_sem(cli, SHMCHAN_SEM_SLOT_OWNER),
                        .sem_op = -1,
                        .sem_flg = SEM_UNDO | IPC_NOWAIT};
    (void)shmchan_sys_semop(cli->semid, &op, 1, 0, NULL, NULL);
    cli->holds_slot = 0;
    wake_server(cli);
}

static void client_free(shmchan_client_t *cli)
{
    release_slot(cli);
    if (cli->base != NULL) {
        (void)shmchan_sys_shm_detach(cli->base, NULL);
        cli->base = NULL;
    }
    free(cli->rx_stash);
    free(cli);
}

static shmchan_err_t bind_lanes(shmchan_client_t *cli);

/* Multi-user: the header segment, checked (owner and creator = the expected
 * server, no write for others, the header's size) before it is attached,
 * read-only. NOT_FOUND or LAYOUT_MAGIC: not there or not complete yet. */
static shmchan_err_t read_multiuser_header(shmchan_client_t *cli,
                                           const shmchan_client_options_t *o,
                                           shmchan_diag_t *diag)
{
    GUARD(shmchan_sys_shm_lookup(cli->key, &cli->shmid, diag));
    shmchan_sys_shm_info_t shm;
    GUARD(shmchan_sys_shm_stat(cli->shmid, &shm, diag));
    GUARD(check_owner("segment", cli->shmid, cli->key, shm.uid, shm.cuid, shm.mode, 1, o, diag));
    if (shm.segsz != SHMCHAN_LAYOUT_HEADER_SIZE) {
        shmchan_diag_set(diag, SHMCHAN_E_LAYOUT_SIZE, 0,
                         "segment %d at key 0x%08x: size %llu, not a multi-user channel's header",
                         cli->shmid, (unsigned)cli->key, (unsigned long long)shm.segsz);
        return SHMCHAN_E_LAYOUT_SIZE;
    }
    cli->server_pid = shm.cpid;
    GUARD(shmchan_sys_shm_attach(cli->shmid, 1, &cli->base, diag));
    shmchan_header_info_t hdr;
    shmchan_err_t err = shmchan_layout_read_header(cli->base, SHMCHAN_LAYOUT_HEADER_SIZE, &hdr);
    if (err == SHMCHAN_OK && (!hdr.layout.multiuser || hdr.semid != (uint32_t)cli->semid)) {
        err = SHMCHAN_E_FOREIGN;
    }
    if (err != SHMCHAN_OK) {
        shmchan_diag_set(diag, err, 0,
                         "segment %d at key 0x%08x: %s (a multi-user header naming set %d)",
                         cli->shmid, (unsigned)cli->key, shmchan_strerror(err), cli->semid);
        (void)shmchan_sys_shm_detach(cli->base, NULL);
        cli->base = NULL;
        return err;
    }
    cli->layout = hdr.layout;
    cli->doorbell_semid = (int)hdr.doorbell_semid;
    return SHMCHAN_OK;
}

/* Multi-user (docs/multiuser.md, "Connect"): the header, then our own
 * connection, given to the server, and its verdict - all within one
 * deadline, the connect's timeout (one wait, `w`, for both waits: a server
 * that publishes its header late cannot make the verdict's wait start a
 * second timeout). The header is looked for again in slices of at most
 * 1 ms while it is missing or incomplete: the server is between its semget
 * and its magic, microseconds (no semaphore can stand for that wait: the
 * set is the server's alone). */
static shmchan_err_t client_build_multiuser(shmchan_client_t *cli,
                                            const shmchan_client_options_t *o,
                                            shmchan_diag_t *diag)
{
    shmchan_wait_t w;
    shmchan_wait_begin(&w, o->connect_timeout_ms, cli->cancel);
    for (;;) {
        const shmchan_err_t e = read_multiuser_header(cli, o, diag);
        if (e != SHMCHAN_E_NOT_FOUND && e != SHMCHAN_E_LAYOUT_MAGIC) {
            GUARD(e);
            break;
        }
        int64_t sleep_ns = 0;
        const shmchan_err_t g = shmchan_wait_gate(&w, &sleep_ns);
        if (g == SHMCHAN_E_TIMEOUT) {
            shmchan_diag_set(diag, SHMCHAN_E_TIMEOUT, 0,
                             "channel at key 0x%08x did not become ready within %d ms",
                             (unsigned)cli->key, o->connect_timeout_ms);
        }
        GUARD(g);
        shmchan_sys_sleep_ns(sleep_ns < 1000000 ? sleep_ns : 1000000);
    }
    GUARD(check_doorbell(cli, diag));
    GUARD(create_connection(cli, o, diag));
    GUARD(await_verdict(cli, &w, o->connect_timeout_ms, diag));
    return bind_lanes(cli);
}

static shmchan_err_t client_build(shmchan_client_t *cli, const shmchan_client_options_t *o,
                                  shmchan_diag_t *diag)
{
    const shmchan_err_t found = shmchan_sys_sem_lookup(cli->key, &cli->semid, diag);
    if (found == SHMCHAN_E_NOT_FOUND) {
        shmchan_diag_set(diag, SHMCHAN_E_NOT_FOUND, ENOENT,
                         "no shmchan server at key 0x%08x (no semaphore set): is the server "
                         "running?",
                         (unsigned)cli->key);
    }
    GUARD(found);
    shmchan_sys_sem_info_t sem;
    shmchan_diag_t stat_diag;
    memset(&stat_diag, 0, sizeof stat_diag);
    const shmchan_err_t stat = shmchan_sys_sem_stat(cli->semid, &sem, &stat_diag);
    if (stat == SHMCHAN_OK && sem.nsems == SHMCHAN_SEM_MU_COUNT) {
        return client_build_multiuser(cli, o, diag);
    }
    /* A set we may not stat is a multi-user channel's (0600, its server's
     * alone: conn.h, SHMCHAN_CONN_SEM_SERVER) or a stranger's: a multi-user
     * header, which must be the expected server's, decides. Where the
     * segment is not such a header, the set's refusal is the answer. */
    if (stat == SHMCHAN_E_PERMISSION) {
        const shmchan_err_t mu = client_build_multiuser(cli, o, diag);
        if (mu != SHMCHAN_E_LAYOUT_SIZE) {
            return mu;
        }
    }
    if (stat != SHMCHAN_OK) {
        if (diag != NULL) {
            *diag = stat_diag;
        }
        return stat;
    }
    GUARD(check_owner("semaphore set", cli->semid, cli->key, sem.uid, sem.cuid, sem.mode, 0, o,
                      diag));
    if (!shmchan_layout_nsems_valid(sem.nsems)) {
        shmchan_diag_set(diag, SHMCHAN_E_FOREIGN, 0,
                         "semaphore set %d at key 0x%08x has %u semaphores: not shmchan's",
                         cli->semid, (unsigned)cli->key, sem.nsems);
        return SHMCHAN_E_FOREIGN;
    }
    GUARD(wait_ready(cli, o->connect_timeout_ms, diag));
    int marker = 0;
    GUARD(shmchan_sys_sem_getval(cli->semid, SHMCHAN_SEM_MARKER, &marker, diag));
    if (marker != SHMCHAN_SEM_MARKER_VALUE) {
        shmchan_diag_set(diag, SHMCHAN_E_FOREIGN, 0,
                         "semaphore set %d at key 0x%08x lacks the shmchan marker", cli->semid,
                         (unsigned)cli->key);
        return SHMCHAN_E_FOREIGN;
    }
    GUARD(attach_and_validate(cli, o, &sem, diag));
    GUARD(server_alive(cli, diag));
    GUARD(claim_slot(cli, diag));
    GUARD(bind_lanes(cli));
    /* Tell the server; it notices claims on its next look anyway. */
    return shmchan_wake_post(cli->semid, SHMCHAN_SEM_SERVER_WAKE, diag);
}

/* Binds both lanes to our slot (in the channel's segment, or in our own
 * connection's) and numbers them from the slot's generation. */
static shmchan_err_t bind_lanes(shmchan_client_t *cli)
{
    uint8_t *sb = slot_mem(cli);
    const uint32_t cap = cli->layout.params.lane_capacity;
    const uint32_t maxp = cli->layout.params.max_payload;
    GUARD(shmchan_lane_init(&cli->tx, sb + SHMCHAN_SLOT_OFF_C2S_CTL, sb + SHMCHAN_SLOT_OFF_RINGS,
                            cap, maxp));
    GUARD(shmchan_lane_init(&cli->rx, sb + SHMCHAN_SLOT_OFF_S2C_CTL,
                            sb + SHMCHAN_SLOT_OFF_RINGS + cap, cap, maxp));
    GUARD(shmchan_lane_provide_stash(&cli->rx, &cli->rx_stash));
    /* The slot's generation, which the server wrote before it offered the
     * slot (the semop of our claim orders the two): both lanes count from
     * its range. A peer that rewrites the word only breaks its own lanes. */
    const uint32_t generation = shmchan_shm_load_u32_acquire(sb + SHMCHAN_SLOT_OFF_GENERATION);
    shmchan_lane_set_first_seq(&cli->tx, shmchan_layout_first_seq(generation));
    shmchan_lane_set_first_seq(&cli->rx, shmchan_layout_first_seq(generation));
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_client_connect(key_t key, const shmchan_client_options_t *opts,
                                     shmchan_client_t **out, shmchan_diag_t *diag)
{
    ENSURE_REF(out);
    *out = NULL;
    shmchan_client_options_t defaults;
    if (opts == NULL) {
        shmchan_client_options_init(&defaults);
        opts = &defaults;
    }
    ENSURE(opts->connect_timeout_ms >= 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(!shmchan_wait_cancelled(opts->cancel), SHMCHAN_E_INTERRUPTED);
    shmchan_client_t *cli = calloc(1, sizeof *cli);
    if (cli == NULL) {
        shmchan_diag_set(diag, SHMCHAN_E_NO_MEMORY, ENOMEM, "allocating the client handle");
        return SHMCHAN_E_NO_MEMORY;
    }
    cli->key = key;
    cli->shmid = -1;
    cli->semid = -1;
    cli->doorbell_semid = -1;
    cli->conn.semid = -1;
    cli->conn.shmid = -1;
    cli->cancel = opts->cancel;
    shmchan_spinner_init(&cli->tx_spin, opts->spin_ns);
    shmchan_spinner_init(&cli->rx_spin, opts->spin_ns);
    const shmchan_err_t err = client_build(cli, opts, diag);
    if (err != SHMCHAN_OK) {
        client_free(cli);
        return err;
    }
    *out = cli;
    return SHMCHAN_OK;
}

/* ------------------------------------------------------------ messaging */


/* What the server has told us through the segment (or the kernel): OK to
 * carry on, CLOSED, or PROTOCOL (it dropped us). Cheap: two loads. */
static shmchan_err_t peer_state(shmchan_client_t *cli)
{
    if (client_closed(cli)) {
        return SHMCHAN_E_CLOSED;
    }
    const uint32_t st = shmchan_shm_load_u32_acquire(cli->base + SHMCHAN_HDR_OFF_SERVER_STATE);
    if (st != SHMCHAN_SERVER_STATE_READY) {
        return SHMCHAN_E_CLOSED;
    }
    if (shmchan_shm_load_u32_acquire(slot_mem(cli) + SHMCHAN_SLOT_OFF_STATE) ==
        SHMCHAN_SLOT_STATE_KICKED) {
        return SHMCHAN_E_PROTOCOL;
    }
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_client_check(shmchan_client_t *cli)
{
    ENSURE_REF(cli);
    GUARD(peer_state(cli));
    const shmchan_err_t err = server_alive(cli, NULL);
    if (err == SHMCHAN_E_CLOSED) {
        client_set_closed(cli);
    }
    return err;
}

/* After a wait that timed out or woke: stop if the server is gone. The
 * kernel is asked after every sleep that timed out (a call shorter than a
 * liveness period has only such sleeps), and once a period has passed in
 * this call however the sleeps ended: a peer that posts our semaphore every
 * few milliseconds makes every sleep end in a wake, and must not thereby
 * keep us from noticing a dead server until the caller's deadline. */
static shmchan_err_t after_sleep(shmchan_client_t *cli, shmchan_wait_t *w, shmchan_err_t waited)
{
    if (waited == SHMCHAN_E_CLOSED) {
        client_set_closed(cli);
        return waited;
    }
    if (waited != SHMCHAN_OK && waited != SHMCHAN_E_TIMEOUT) {
        return waited;
    }
    const int period_due = shmchan_wait_period_due(w);
    if (waited == SHMCHAN_E_TIMEOUT || period_due) {
        return shmchan_client_check(cli);
    }
    return peer_state(cli);
}

static shmchan_err_t client_send_message(shmchan_client_t *cli, const void *data, uint32_t len,
                                         int timeout_ms);

shmchan_err_t shmchan_client_send(shmchan_client_t *cli, const void *data, uint32_t len,
                                  int timeout_ms)
{
    const shmchan_err_t r = client_send_message(cli, data, len, timeout_ms);
    /* A message left part-way (timeout, cancel, the server gone) is given
     * up: the server drops the fragments it took, and the next send starts
     * afresh, whatever its buffer (lane.h, shmchan_lane_abandon_send). */
    if (r != SHMCHAN_OK && cli != NULL) {
        shmchan_lane_abandon_send(&cli->tx);
    }
    return r;
}

static shmchan_err_t client_send_message(shmchan_client_t *cli, const void *data, uint32_t len,
                                         int timeout_ms)
{
    ENSURE_REF(cli);
    ENSURE(data != NULL || len == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(timeout_ms >= 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(len <= cli->layout.params.max_payload, SHMCHAN_E_FRAME_TOO_LONG);
    GUARD(peer_state(cli));
    ENSURE(!shmchan_wait_cancelled(cli->cancel), SHMCHAN_E_INTERRUPTED);

    shmchan_wait_t w;
    shmchan_wait_begin(&w, timeout_ms, cli->cancel);
    for (;;) {
        const shmchan_err_t r =
            shmchan_lane_try_send(&cli->tx, SHMCHAN_FRAME_DATA, (const uint8_t *)data, len);
        /* Also after a part of a fragmented message: the server may be
         * asleep waiting for the rest while we wait for room. A failed post
         * (server gone) is reported by the next call, not as a failed send. */
        if (shmchan_lane_progressed(&cli->tx) && shmchan_lane_consumer_needs_wake(&cli->tx)) {
            wake_server(cli);
        }
        if (r == SHMCHAN_OK) {
            return SHMCHAN_OK;
        }
        if (r != SHMCHAN_E_WOULD_BLOCK) {
            return r;
        }
        /* The gate: every round passes here before it may spin or sleep,
         * however the server moves (or pretends to move) its tail. */
        int64_t sleep_ns = 0;
        GUARD(shmchan_wait_gate(&w, &sleep_ns));
        int64_t started = 0;
        const uint32_t spin = shmchan_spinner_budget(&cli->tx_spin, shmchan_lane_send_open(&cli->tx),
                                                     sleep_ns, &started);
        if (spin_until_writable(&cli->tx, len, spin)) {
            continue;
        }
        if (spin != 0) { /* the spin took time: the gate again */
            GUARD(shmchan_wait_gate(&w, &sleep_ns));
        }
        shmchan_lane_set_producer_waiting(&cli->tx, 1);
        shmchan_shm_fence_seq_cst();
        if (shmchan_lane_writable(&cli->tx, len)) {
            shmchan_lane_set_producer_waiting(&cli->tx, 0);
            continue;
        }
        const shmchan_err_t wt =
            shmchan_wake_wait(slot_set(cli), slot_sem(cli, SHMCHAN_SEM_SLOT_TX), sleep_ns, cli->cancel);
        shmchan_lane_set_producer_waiting(&cli->tx, 0);
        shmchan_spinner_slept(&cli->tx_spin, started,
                              wt == SHMCHAN_OK && shmchan_lane_writable(&cli->tx, len));
        GUARD(after_sleep(cli, &w, wt));
    }
}

shmchan_err_t shmchan_client_recv(shmchan_client_t *cli, void *buf, size_t cap, uint32_t *len,
                                  int timeout_ms)
{
    ENSURE_REF(len);
    *len = 0;
    ENSURE_REF(cli);
    ENSURE(buf != NULL || cap == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(timeout_ms >= 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(!shmchan_wait_cancelled(cli->cancel), SHMCHAN_E_INTERRUPTED);

    shmchan_wait_t w;
    shmchan_wait_begin(&w, timeout_ms, cli->cancel);
    for (;;) {
        if (client_closed(cli)) {
            return SHMCHAN_E_CLOSED;
        }
        uint8_t type = 0;
        const shmchan_err_t r = shmchan_lane_try_recv(&cli->rx, &type, buf, cap, len);
        /* Also after fragments of a message not yet whole: the server may
         * be asleep waiting for the room they freed. */
        if (shmchan_lane_progressed(&cli->rx) && shmchan_lane_producer_needs_wake(&cli->rx)) {
            wake_server(cli);
        }
        if (r == SHMCHAN_OK) {
            if (type == SHMCHAN_FRAME_GOODBYE) {
                *len = 0;
                client_set_closed(cli);
                return SHMCHAN_E_CLOSED;
            }
            return SHMCHAN_OK;
        }
        if (r != SHMCHAN_E_WOULD_BLOCK) {
            return r;
        }
        /* Empty: messages already queued are delivered before a close is
         * reported, so the state check comes after the lane check. */
        GUARD(peer_state(cli));
        /* The gate: every round passes here before it may spin or sleep. */
        int64_t sleep_ns = 0;
        GUARD(shmchan_wait_gate(&w, &sleep_ns));
        int64_t started = 0;
        const uint32_t spin = shmchan_spinner_budget(&cli->rx_spin, shmchan_lane_recv_open(&cli->rx),
                                                     sleep_ns, &started);
        if (spin_until_readable(&cli->rx, spin)) {
            continue;
        }
        if (spin != 0) { /* the spin took time: the gate again */
            GUARD(shmchan_wait_gate(&w, &sleep_ns));
        }
        shmchan_lane_set_consumer_waiting(&cli->rx, 1);
        shmchan_shm_fence_seq_cst();
        if (shmchan_lane_readable(&cli->rx)) {
            shmchan_lane_set_consumer_waiting(&cli->rx, 0);
            continue;
        }
        const shmchan_err_t wt =
            shmchan_wake_wait(slot_set(cli), slot_sem(cli, SHMCHAN_SEM_SLOT_RX), sleep_ns, cli->cancel);
        shmchan_lane_set_consumer_waiting(&cli->rx, 0);
        shmchan_spinner_slept(&cli->rx_spin, started,
                              wt == SHMCHAN_OK && shmchan_lane_readable(&cli->rx));
        GUARD(after_sleep(cli, &w, wt));
    }
}

void shmchan_client_disconnect(shmchan_client_t *cli)
{
    if (cli == NULL) {
        return;
    }
    if (!client_closed(cli) && peer_state(cli) == SHMCHAN_OK) {
        /* Best effort: lets the server report a clean goodbye rather than a
         * vanished client. Never blocks. */
        if (shmchan_lane_try_send(&cli->tx, SHMCHAN_FRAME_GOODBYE, NULL, 0) == SHMCHAN_OK) {
            wake_server(cli);
        }
    }
    client_free(cli);
}
