/*
 * server.c - the server side of a channel: create, serve, close.
 *
 * Lifecycle (docs/lifecycle.md):
 *   probe the key -> reclaim if stale -> semget(EXCL) -> first semop sets
 *   the marker and takes the liveness token (SEM_UNDO) atomically ->
 *   shmget(EXCL) -> shmat -> write header, magic last -> offer every slot
 *   (FREE_i = 1) -> READY = 1. Any failure rolls back what was created,
 *   newest first, using ids held in this process's memory only.
 *
 * Serving: each slot's life is the state machine of slot_fsm.h. This file
 * only observes (a GETALL snapshot of the slot semaphores, one frame taken
 * from a lane), turns what it saw into an event, and carries out the
 * step's actions (kick, reset, offer, report). OWNER_i is the client's
 * SEM_UNDO token, so "back to 0" is the kernel telling us the client
 * released it or died; the lane is drained before the slot is reset.
 *
 * Bounds: no loop here runs on a value a peer controls. A slot scan and a
 * lane pass take at most one frame per slot; the wait loop goes round
 * until an event or its gate (wake.h) says stop, and the gate's deadline
 * is the caller's.
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
#include "probe.h"
#include "safety.h"
#include "shm_atomic.h"
#include "slot_fsm.h"
#include "sysv.h"
#include "wake.h"

struct server_slot {
    shmchan_slot_state_t state;
    shmchan_lane_t rx; /* client -> server */
    shmchan_lane_t tx; /* server -> client */
    uint8_t *rx_stash; /* rx's reassembly buffer, if messages come in fragments */
    uint32_t generation;
    /* A DISCONNECT decided outside shmchan_server_wait (server_send found
     * the lane broken): the next wait reports it, so every CONNECT has one. */
    int report_owed;
    shmchan_err_t owed_reason, owed_detail;
    /* Multi-user only: the connection's own objects (conn.h), created by
     * its client and given to us, held from the verdict to the reset; -1
     * and NULL otherwise. uid and gid are the kernel's creator ids. */
    int conn_semid;
    int conn_shmid;
    uint8_t *conn_base;
    uid_t uid;
    gid_t gid;
    int refused_semid; /* the last set refused at this slot's key: reported once */
};

struct shmchan_server {
    key_t key;
    int shmid;
    int semid;
    uint8_t *base;
    shmchan_layout_t layout;
    const volatile sig_atomic_t *cancel;
    shmchan_spinner_t wait_spin; /* shmchan_server_wait's: learned from all clients */
    shmchan_spinner_t send_spin; /* shmchan_server_send's: room in one client's lane */
    int closed;
    int scan_due;       /* look at the slot semaphores before sleeping */
    int64_t next_scan;  /* monotonic ns of the next periodic look */
    uint32_t next_slot; /* round-robin start, so one busy client cannot starve others */
    uint32_t fast_calls; /* wait calls served without a clock read (see below) */
    uint32_t reports_owed;
    /* A SERVER_WAKE token was taken and no slot scan has run since. The
     * token is shared by data, connect and release posts, so it must outlive
     * the call that took it: a call that returns a message it found first
     * would otherwise forget that a claim or release may have merged into
     * the same post, and that event would wait for the periodic scan
     * (found by the model, docs/model.md "Finding"). */
    int wake_unscanned;
    unsigned short *semvals;
    struct server_slot *slots;
    /* Multi-user (layout.multiuser, docs/multiuser.md): the doorbell
     * clients ring (-1 in a single-user channel, whose clients post
     * SERVER_WAKE on the channel's own set), who may connect (the arrays
     * are ours, copied at create), and when connection keys are next
     * judged without a hello. */
    int doorbell_semid;
    shmchan_allow_t allow;
    uid_t *allow_uids;
    gid_t *allow_gids;
    int64_t next_judge;
    /* Multi-user: wakes somebody else took (robbed_wake), and until when
     * sleeps are cut to ROBBED_SLICE_NS because of the last one. */
    uint64_t robbed_wakes;
    int64_t robbed_until;
};

/* The sleep slice while wakes are being taken (see robbed_wake). */
#define ROBBED_SLICE_NS ((int64_t)1000000)

void shmchan_server_options_init(shmchan_server_options_t *opts)
{
    if (opts == NULL) {
        return;
    }
    memset(opts, 0, sizeof *opts);
    opts->max_clients = SHMCHAN_DEFAULT_MAX_CLIENTS;
    opts->max_payload = SHMCHAN_DEFAULT_MAX_PAYLOAD;
    opts->lane_capacity = SHMCHAN_DEFAULT_LANE_CAPACITY;
    opts->mode = SHMCHAN_DEFAULT_MODE;
    opts->spin_ns = SHMCHAN_DEFAULT_SPIN_NS;
}

uint32_t shmchan_server_max_clients(const shmchan_server_t *srv)
{
    return srv->layout.params.max_clients;
}

uint32_t shmchan_server_max_payload(const shmchan_server_t *srv)
{
    return srv->layout.params.max_payload;
}

int shmchan_server_shmid(const shmchan_server_t *srv)
{
    return srv->shmid;
}

int shmchan_server_semid(const shmchan_server_t *srv)
{
    return srv->semid;
}

uint64_t shmchan_server_robbed_wakes(const shmchan_server_t *srv)
{
    return srv->robbed_wakes;
}

/* ------------------------------------------------- where a slot lives
 *
 * Every access to a slot's semaphores or memory goes through these four,
 * so that one set of lines serves a slot whether it lives in the channel's
 * own set and segment (single-user) or in its client's own objects
 * (multi-user: conn.h; only while the slot holds a connection). */

static int is_multiuser(const shmchan_server_t *srv)
{
    return srv->layout.multiuser != 0;
}

static int slot_semid(const shmchan_server_t *srv, uint32_t s)
{
    return is_multiuser(srv) ? srv->slots[s].conn_semid : srv->semid;
}

static unsigned short slot_semnum(const shmchan_server_t *srv, uint32_t s, unsigned which)
{
    return shmchan_slot_semnum(is_multiuser(srv), s, which);
}

/* The slot's first byte (state word, generation, lane control blocks,
 * rings: layout.h), in whichever segment holds it. */
static uint8_t *slot_mem(const shmchan_server_t *srv, uint32_t s)
{
    if (is_multiuser(srv)) {
        return srv->slots[s].conn_base;
    }
    return srv->base + shmchan_layout_slot_offset(&srv->layout, s);
}

/* The semaphore clients post to wake us. */
static int wake_semid(const shmchan_server_t *srv)
{
    return is_multiuser(srv) ? srv->doorbell_semid : srv->semid;
}

static unsigned short wake_semnum(const shmchan_server_t *srv)
{
    return is_multiuser(srv) ? SHMCHAN_DOORBELL_WAKE : SHMCHAN_SEM_SERVER_WAKE;
}

static void set_slot_word(shmchan_server_t *srv, uint32_t slot, unsigned off, uint32_t value)
{
    shmchan_shm_store_u32_release(slot_mem(srv, slot) + off, value);
}

/* Zeroes both lanes' control words, re-binds the private lane state, bumps
 * the generation and marks the slot FREE. Called only while no client
 * holds the slot (OWNER_i seen 0, FREE_i not yet set). The rings are left
 * as they are, in O(1) whatever their size (a peer that connects and
 * leaves in a loop must not buy a memset of two lanes per round): the
 * lanes' sequence numbers start at the new generation's range, so a frame
 * left by an earlier client can never be the one expected next, even if
 * someone points the new head past it. */
static shmchan_err_t slot_bind_lanes(shmchan_server_t *srv, uint32_t s)
{
    struct server_slot *slot = &srv->slots[s];
    uint8_t *sb = slot_mem(srv, s);
    const uint32_t cap = srv->layout.params.lane_capacity;
    const uint32_t maxp = srv->layout.params.max_payload;
    uint8_t *c2s = sb + SHMCHAN_SLOT_OFF_RINGS;
    uint8_t *s2c = c2s + cap;
    shmchan_lane_reset_shared(sb + SHMCHAN_SLOT_OFF_C2S_CTL);
    shmchan_lane_reset_shared(sb + SHMCHAN_SLOT_OFF_S2C_CTL);
    GUARD(shmchan_lane_init(&slot->rx, sb + SHMCHAN_SLOT_OFF_C2S_CTL, c2s, cap, maxp));
    GUARD(shmchan_lane_init(&slot->tx, sb + SHMCHAN_SLOT_OFF_S2C_CTL, s2c, cap, maxp));
    GUARD(shmchan_lane_provide_stash(&slot->rx, &slot->rx_stash));
    slot->generation++;
    shmchan_lane_set_first_seq(&slot->rx, shmchan_layout_first_seq(slot->generation));
    shmchan_lane_set_first_seq(&slot->tx, shmchan_layout_first_seq(slot->generation));
    set_slot_word(srv, s, SHMCHAN_SLOT_OFF_GENERATION, slot->generation);
    set_slot_word(srv, s, SHMCHAN_SLOT_OFF_STATE, SHMCHAN_SLOT_STATE_FREE);
    return SHMCHAN_OK;
}

/* Multi-user: lets go of slot s's connection objects. The segment is
 * removed while we are still attached, so its id cannot have been reused:
 * it names our segment until the last detach. The set's id was ours at the
 * last look; it is forgotten (-1) as soon as an operation finds it gone. */
static void conn_release(shmchan_server_t *srv, uint32_t s)
{
    struct server_slot *slot = &srv->slots[s];
    if (slot->conn_shmid >= 0 && slot->conn_base != NULL) {
        (void)shmchan_sys_shm_remove(slot->conn_shmid, NULL);
    }
    if (slot->conn_base != NULL) {
        (void)shmchan_sys_shm_detach(slot->conn_base, NULL);
    }
    if (slot->conn_semid >= 0) {
        (void)shmchan_sys_sem_remove(slot->conn_semid, NULL);
    }
    slot->conn_shmid = -1;
    slot->conn_semid = -1;
    slot->conn_base = NULL;
}

/* Brings slot s back to where a client may take it. Single-user: the
 * slot's lanes are re-bound in place. Multi-user: the connection's
 * objects are let go; the next client brings its own. */
static shmchan_err_t slot_reset(shmchan_server_t *srv, uint32_t s)
{
    if (is_multiuser(srv)) {
        conn_release(srv, s);
        return SHMCHAN_OK;
    }
    return slot_bind_lanes(srv, s);
}

/* Sets FREE_i to exactly 1 (SETVAL, not +1): a peer that posted FREE_i up
 * to SEMVMX cannot make the offer fail with ERANGE, nor leave extra tokens
 * that would let a second client in without an offer. Nobody holds FREE_i
 * with SEM_UNDO, so SETVAL's clearing of undo entries costs nothing. */
static shmchan_err_t slot_offer(shmchan_server_t *srv, uint32_t s, shmchan_diag_t *diag)
{
    if (!is_multiuser(srv)) { /* multi-user: the key's IPC_EXCL is the offer */
        GUARD(shmchan_sys_sem_setval(srv->semid, shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_FREE),
                                     1, diag));
    }
    const shmchan_slot_step_t step = shmchan_slot_step(srv->slots[s].state, SHMCHAN_SLOT_EV_OFFERED);
    srv->slots[s].state = step.next;
    return SHMCHAN_OK;
}

/* ------------------------------------------------------------- creation */

static shmchan_err_t check_options(const shmchan_server_options_t *o, shmchan_layout_t *layout,
                                   shmchan_diag_t *diag)
{
    /* Only 0600. A group mode gives every group member alter permission
     * on the one semaphore set: it could take the server's liveness token
     * down and write every client's lanes (docs/threat-model.md, "group
     * modes"). Clients of other users are let in by the allow lists
     * instead, each with objects of its own (docs/multiuser.md). */
    if ((o->allow_uids == NULL && o->allow_uids_count != 0) ||
        (o->allow_gids == NULL && o->allow_gids_count != 0) ||
        o->allow_uids_count > SHMCHAN_ALLOW_MAX || o->allow_gids_count > SHMCHAN_ALLOW_MAX) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, 0,
                         "allow lists: %zu uids, %zu gids (at most %u each, and an array for "
                         "each that is not empty)",
                         o->allow_uids_count, o->allow_gids_count, SHMCHAN_ALLOW_MAX);
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    if (o->mode != SHMCHAN_DEFAULT_MODE) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, 0,
                         "mode %04o refused: only 0600 is supported (a group mode would let any "
                         "group member forge the server's liveness and write every client's "
                         "lanes; docs/threat-model.md)",
                         o->mode);
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    shmchan_params_t p = {o->max_clients, o->max_payload, o->lane_capacity};
    const shmchan_err_t err = shmchan_layout_compute(&p, layout);
    if (err != SHMCHAN_OK) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, 0,
                         "invalid channel options: max_clients=%u (1..%u), max_payload=%u "
                         "(1..%u), lane_capacity=%u (a power of two, %u..%u)",
                         o->max_clients, SHMCHAN_MAX_CLIENTS_LIMIT, o->max_payload,
                         SHMCHAN_PAYLOAD_HARD_MAX, o->lane_capacity, SHMCHAN_LANE_CAPACITY_MIN,
                         SHMCHAN_LANE_CAPACITY_MAX);
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    return SHMCHAN_OK;
}

/* How often clear_key looks again when a reclaim found the key changed
 * under it (another server or `clean --stale` reclaimed it first). Each
 * look is a fresh probe; a race lost three times in a row is reported. */
#define CLEAR_KEY_ATTEMPTS 3

/* Probes the key once; reclaims a stale channel; refuses anything else. */
static shmchan_err_t clear_key_once(key_t key, unsigned mode, shmchan_diag_t *diag)
{
    shmchan_probe_facts_t facts;
    GUARD(shmchan_probe_gather(key, mode, &facts, diag));
    shmchan_judgement_t j;
    shmchan_probe_judge(&facts, &j);
    switch (j.verdict) {
    case SHMCHAN_VERDICT_ABSENT:
        return SHMCHAN_OK;
    case SHMCHAN_VERDICT_STALE:
        return shmchan_probe_reclaim(&facts, &j, diag);
    case SHMCHAN_VERDICT_LIVE:
        shmchan_diag_set(diag, SHMCHAN_E_ALREADY_RUNNING, 0, "already running: %s", j.reason);
        return SHMCHAN_E_ALREADY_RUNNING;
    case SHMCHAN_VERDICT_BUSY:
        shmchan_diag_set(diag, SHMCHAN_E_BUSY, 0, "key in use: %s", j.reason);
        return SHMCHAN_E_BUSY;
    case SHMCHAN_VERDICT_FOREIGN:
        shmchan_diag_set(diag, SHMCHAN_E_FOREIGN, 0, "refusing to touch foreign object: %s",
                         j.reason);
        return SHMCHAN_E_FOREIGN;
    }
    return SHMCHAN_E_SYSTEM;
}

/* A reclaim that finds its object gone (CLOSED: EIDRM/EINVAL) or changed
 * (BUSY from the re-check) lost a race to someone who was also clearing
 * the key: that is not a failure of ours, so probe again and judge what is
 * there now. */
static shmchan_err_t clear_key(key_t key, unsigned mode, shmchan_diag_t *diag)
{
    shmchan_err_t err = SHMCHAN_OK;
    for (int attempt = 0; attempt < CLEAR_KEY_ATTEMPTS; attempt++) {
        err = clear_key_once(key, mode, diag);
        if (err != SHMCHAN_E_CLOSED && err != SHMCHAN_E_BUSY) {
            return err;
        }
    }
    return err == SHMCHAN_E_CLOSED ? SHMCHAN_E_BUSY : err;
}

/* Someone created an object at the key between our probe and our create. */
static shmchan_err_t lost_race(shmchan_err_t err, key_t key, shmchan_diag_t *diag)
{
    if (err == SHMCHAN_E_ALREADY_RUNNING) { /* EEXIST */
        shmchan_diag_set(diag, SHMCHAN_E_BUSY, EEXIST,
                         "key 0x%08x: another server created it at the same moment",
                         (unsigned)key);
        return SHMCHAN_E_BUSY;
    }
    return err;
}

static shmchan_err_t server_build(shmchan_server_t *srv, unsigned mode, shmchan_diag_t *diag)
{
    const shmchan_layout_t *l = &srv->layout;
    GUARD(lost_race(shmchan_sys_sem_create(srv->key, l->nsems, mode, &srv->semid, diag), srv->key,
                    diag));
    /* First semop on the new set: marker and liveness token in one atomic
     * step, so "sem_otime != 0" implies "marked" (judge.c relies on it).
     * SEM_UNDO on the token only: the kernel gives it back when we die. */
    struct sembuf first[2] = {
        {.sem_num = SHMCHAN_SEM_MARKER, .sem_op = SHMCHAN_SEM_MARKER_VALUE, .sem_flg = IPC_NOWAIT},
        {.sem_num = SHMCHAN_SEM_SERVER_ALIVE, .sem_op = 1, .sem_flg = SEM_UNDO | IPC_NOWAIT},
    };
    GUARD(shmchan_sys_semop(srv->semid, first, 2, 0, NULL, diag));

    GUARD(lost_race(shmchan_sys_shm_create(srv->key, l->total_size, mode, &srv->shmid, diag),
                    srv->key, diag));
    GUARD(shmchan_sys_shm_attach(srv->shmid, 0, &srv->base, diag));
    shmchan_sys_shm_info_t info;
    GUARD(shmchan_sys_shm_stat(srv->shmid, &info, diag));
    if (info.segsz != l->total_size) {
        shmchan_diag_set(diag, SHMCHAN_E_LAYOUT_SIZE, 0,
                         "segment %d at key 0x%08x: kernel size %llu, expected %llu", srv->shmid,
                         (unsigned)srv->key, (unsigned long long)info.segsz,
                         (unsigned long long)l->total_size);
        return SHMCHAN_E_LAYOUT_SIZE;
    }
    /* Touch every page now, so memory shortage shows here and not as a
     * fault in the middle of a message. New segments are zero already. */
    memset(srv->base, 0, (size_t)l->total_size);
    shmchan_layout_write_header(srv->base, l, (uint32_t)srv->semid, 0, shmchan_sys_random_u64());
    for (uint32_t s = 0; s < l->params.max_clients; s++) {
        GUARD(slot_reset(srv, s));
    }
    /* Magic last: a joiner that sees it sees a complete header. */
    shmchan_layout_publish_magic(srv->base);
    shmchan_shm_store_u32_release(srv->base + SHMCHAN_HDR_OFF_SERVER_STATE,
                                  SHMCHAN_SERVER_STATE_READY);
    for (uint32_t s = 0; s < l->params.max_clients; s++) {
        GUARD(slot_offer(srv, s, diag));
    }
    /* READY last: clients wait for it before reading the header. A binary
     * post like every other: a value someone raised already is left alone,
     * never pushed towards SEMVMX. */
    GUARD(shmchan_wake_post(srv->semid, SHMCHAN_SEM_READY, diag));
    return SHMCHAN_OK;
}

/* A doorbell left at the channel's doorbell key by a server of ours that
 * died (the channel's key was just found free or stale, so nothing live
 * rings it): removed if we both own and created it, else the key is
 * somebody else's and the create below fails with BUSY. */
static void clear_doorbell_key(key_t key)
{
    int semid = -1;
    shmchan_sys_sem_info_t info;
    if (shmchan_sys_sem_lookup(shmchan_doorbell_key(key), &semid, NULL) == SHMCHAN_OK &&
        shmchan_sys_sem_stat(semid, &info, NULL) == SHMCHAN_OK && info.uid == geteuid() &&
        info.cuid == geteuid() && info.nsems == SHMCHAN_DOORBELL_COUNT) {
        (void)shmchan_sys_sem_remove(semid, NULL);
    }
}

/* Multi-user (docs/multiuser.md, "Objects"): the channel's own set and a
 * header-only segment, readable by every client and altered by us only,
 * and the doorbell, which allowed clients may post but not read. Every
 * slot lives in objects its client brings. The first semop raises MARKER,
 * takes the token and raises NOT_READY in one step, so a set with
 * sem_otime != 0 is marked, held and not yet ready until the last step
 * lowers NOT_READY: clients of other uids wait for zero, which needs read
 * permission only. */
static shmchan_err_t server_build_multiuser(shmchan_server_t *srv,
                                            const shmchan_conn_modes_t *modes,
                                            shmchan_diag_t *diag)
{
    const shmchan_layout_t *l = &srv->layout;
    /* The set stays 0600 (conn.h, SHMCHAN_CONN_SEM_SERVER: a reader could
     * stand in the kernel's record as the last operator of our token).
     * Connections that died with an earlier server of ours go first. */
    (void)shmchan_conn_sweep_dead(srv->key, 0);
    GUARD(lost_race(shmchan_sys_sem_create(srv->key, l->nsems, SHMCHAN_DEFAULT_MODE, &srv->semid,
                                           diag),
                    srv->key, diag));
    struct sembuf first[3] = {
        {.sem_num = SHMCHAN_SEM_MARKER, .sem_op = SHMCHAN_SEM_MARKER_VALUE, .sem_flg = IPC_NOWAIT},
        {.sem_num = SHMCHAN_SEM_SERVER_ALIVE, .sem_op = 1, .sem_flg = SEM_UNDO | IPC_NOWAIT},
        {.sem_num = SHMCHAN_SEM_MU_NOT_READY, .sem_op = 1, .sem_flg = IPC_NOWAIT},
    };
    GUARD(shmchan_sys_semop(srv->semid, first, 3, 0, NULL, diag));
    GUARD(lost_race(shmchan_sys_shm_create(srv->key, l->total_size, modes->server_mode,
                                           &srv->shmid, diag),
                    srv->key, diag));
    GUARD(shmchan_sys_shm_attach(srv->shmid, 0, &srv->base, diag));
    clear_doorbell_key(srv->key);
    GUARD(lost_race(shmchan_sys_sem_create(shmchan_doorbell_key(srv->key), SHMCHAN_DOORBELL_COUNT,
                                           modes->doorbell_mode, &srv->doorbell_semid, diag),
                    shmchan_doorbell_key(srv->key), diag));
    if (modes->doorbell_set_gid) {
        GUARD(shmchan_sys_sem_give(srv->doorbell_semid, geteuid(), modes->doorbell_gid, diag));
    }
    memset(srv->base, 0, (size_t)l->total_size);
    const uint64_t nonce = shmchan_sys_random_u64();
    shmchan_layout_write_header(srv->base, l, (uint32_t)srv->semid, (uint32_t)srv->doorbell_semid,
                                nonce);
    /* Generations start where no earlier server of this channel's started
     * (a random point): a frame left in a connection's ring by another
     * instance is never the one expected next (protocol.md §2.2). */
    for (uint32_t s = 0; s < l->params.max_clients; s++) {
        srv->slots[s].generation = (uint32_t)(nonce >> 32) + s * 0x10000u;
    }
    shmchan_layout_publish_magic(srv->base);
    shmchan_shm_store_u32_release(srv->base + SHMCHAN_HDR_OFF_SERVER_STATE,
                                  SHMCHAN_SERVER_STATE_READY);
    for (uint32_t s = 0; s < l->params.max_clients; s++) {
        GUARD(slot_offer(srv, s, diag));
    }
    struct sembuf ready = {.sem_num = SHMCHAN_SEM_MU_NOT_READY, .sem_op = -1, .sem_flg = IPC_NOWAIT};
    return shmchan_sys_semop(srv->semid, &ready, 1, 0, NULL, diag);
}

/* Keeps the first failure; an object already gone (EIDRM/EINVAL, mapped
 * to CLOSED) is what removal wanted anyway. */
static void keep_first(shmchan_err_t *first, shmchan_err_t err)
{
    if (*first == SHMCHAN_OK && err != SHMCHAN_OK && err != SHMCHAN_E_CLOSED) {
        *first = err;
    }
}

/* Undoes whatever server_build got done, newest first: the segment (its
 * removal, then our attachment), then the set. The order is what keeps
 * every leftover reclaimable: killed between the two, this process leaves
 * a set whose token the kernel takes down in its name, which the judge
 * reclaims; the other order would leave a segment without a set and, if
 * the header was not yet published, without anything that says whose it
 * is. Carries on past a failure so that one stuck object does not keep
 * the others alive. */
static shmchan_err_t server_teardown(shmchan_server_t *srv)
{
    shmchan_err_t first = SHMCHAN_OK;
    /* Multi-user: the connections, then the doorbell, before the pair:
     * killed in between, we leave objects that name us as owner beside a
     * set whose token the kernel took down, all reclaimable. */
    if (srv->slots != NULL && is_multiuser(srv)) {
        for (uint32_t s = 0; s < srv->layout.params.max_clients; s++) {
            conn_release(srv, s);
        }
        (void)shmchan_conn_sweep_dead(srv->key, 0); /* refused clients that died, say */
    }
    if (srv->doorbell_semid >= 0) {
        keep_first(&first, shmchan_sys_sem_remove(srv->doorbell_semid, NULL));
        srv->doorbell_semid = -1;
    }
    if (srv->shmid >= 0) {
        keep_first(&first, shmchan_sys_shm_remove(srv->shmid, NULL));
        srv->shmid = -1;
    }
    if (srv->base != NULL) {
        keep_first(&first, shmchan_sys_shm_detach(srv->base, NULL));
        srv->base = NULL;
    }
    if (srv->semid >= 0) {
        keep_first(&first, shmchan_sys_sem_remove(srv->semid, NULL));
        srv->semid = -1;
    }
    return first;
}

/* Frees the handle's private memory (the kernel objects are teardown's). */
static void server_free(shmchan_server_t *srv)
{
    if (srv->slots != NULL) {
        for (uint32_t s = 0; s < srv->layout.params.max_clients; s++) {
            free(srv->slots[s].rx_stash);
        }
    }
    free(srv->semvals);
    free(srv->slots);
    free(srv->allow_uids);
    free(srv->allow_gids);
    free(srv);
}

/* Copies the allow lists into the handle (the caller's arrays need not
 * outlive create) and decides the kind of channel: multi-user as soon as
 * anyone but our own uid may connect. 0 if out of memory. */
static int server_copy_allow(shmchan_server_t *srv, const shmchan_server_options_t *o)
{
    srv->allow.server_uid = geteuid();
    if (o->allow_uids_count > 0) {
        srv->allow_uids = calloc(o->allow_uids_count, sizeof *srv->allow_uids);
        if (srv->allow_uids == NULL) {
            return 0;
        }
        memcpy(srv->allow_uids, o->allow_uids, o->allow_uids_count * sizeof *srv->allow_uids);
    }
    if (o->allow_gids_count > 0) {
        srv->allow_gids = calloc(o->allow_gids_count, sizeof *srv->allow_gids);
        if (srv->allow_gids == NULL) {
            return 0;
        }
        memcpy(srv->allow_gids, o->allow_gids, o->allow_gids_count * sizeof *srv->allow_gids);
    }
    srv->allow.uids = srv->allow_uids;
    srv->allow.nuids = o->allow_uids_count;
    srv->allow.gids = srv->allow_gids;
    srv->allow.ngids = o->allow_gids_count;
    shmchan_conn_modes_t modes;
    shmchan_conn_modes(&srv->allow, &modes);
    if (modes.server_mode != SHMCHAN_DEFAULT_MODE) {
        shmchan_layout_make_multiuser(&srv->layout);
    }
    return 1;
}

shmchan_err_t shmchan_server_create(key_t key, const shmchan_server_options_t *opts,
                                    shmchan_server_t **out, shmchan_diag_t *diag)
{
    ENSURE_REF(out);
    *out = NULL;
    shmchan_server_options_t defaults;
    if (opts == NULL) {
        shmchan_server_options_init(&defaults);
        opts = &defaults;
    }
    if (key == IPC_PRIVATE) {
        shmchan_diag_set(diag, SHMCHAN_E_INVALID_ARGUMENT, 0,
                         "key 0 is IPC_PRIVATE: clients could never find the channel");
        return SHMCHAN_E_INVALID_ARGUMENT;
    }
    shmchan_layout_t layout;
    GUARD(check_options(opts, &layout, diag));
    GUARD(clear_key(key, opts->mode, diag));

    shmchan_server_t *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        shmchan_diag_set(diag, SHMCHAN_E_NO_MEMORY, ENOMEM, "allocating the server handle");
        return SHMCHAN_E_NO_MEMORY;
    }
    srv->key = key;
    srv->shmid = -1;
    srv->semid = -1;
    srv->doorbell_semid = -1;
    srv->layout = layout;
    srv->cancel = opts->cancel;
    shmchan_spinner_init(&srv->wait_spin, opts->spin_ns);
    shmchan_spinner_init(&srv->send_spin, opts->spin_ns);
    srv->semvals = calloc(layout.nsems, sizeof *srv->semvals);
    srv->slots = calloc(layout.params.max_clients, sizeof *srv->slots);
    shmchan_err_t err = SHMCHAN_E_NO_MEMORY;
    if (srv->semvals != NULL && srv->slots != NULL && server_copy_allow(srv, opts)) {
        for (uint32_t s = 0; s < layout.params.max_clients; s++) {
            srv->slots[s].conn_semid = -1;
            srv->slots[s].conn_shmid = -1;
            srv->slots[s].refused_semid = -1;
        }
        shmchan_conn_modes_t modes;
        shmchan_conn_modes(&srv->allow, &modes);
        if (srv->layout.multiuser) {
            err = server_build_multiuser(srv, &modes, diag);
        } else {
            err = server_build(srv, opts->mode, diag);
        }
    } else {
        shmchan_diag_set(diag, SHMCHAN_E_NO_MEMORY, ENOMEM, "allocating the server handle");
    }
    if (err != SHMCHAN_OK) {
        (void)server_teardown(srv);
        server_free(srv);
        return err;
    }
    srv->scan_due = 1;
    *out = srv;
    if (diag != NULL) {
        /* A reclaim race lost and retried (clear_key) may have left the
         * text of its failure: on success the diag says nothing. */
        memset(diag, 0, sizeof *diag);
    }
    return SHMCHAN_OK;
}

/* -------------------------------------------------------------- serving */

enum server_lost { SERVER_LOST_SET, SERVER_LOST_SEGMENT, SERVER_LOST_DOORBELL };

/* One of the pair was removed from under us (IPC_RMID by ipcrm, by
 * systemd-logind's RemoveIPC=yes, by a careless script): the channel is
 * dead, so close now rather than when the application gets round to it.
 * The state word tells clients that poll; removing the set, if it is the
 * one still there, fails every client blocked in semop with EIDRM; and
 * nothing leaks even if the application never calls close. A removed
 * set's id is forgotten, not removed again: ids are recycled, and the
 * number could already name somebody else's new set. The segment's id
 * stays ours while we are attached, whatever its key now says. */
static void server_mark_closed(shmchan_server_t *srv, enum server_lost lost)
{
    if (srv->closed) {
        return;
    }
    srv->closed = 1;
    if (lost == SERVER_LOST_SET) {
        srv->semid = -1;
    } else if (lost == SERVER_LOST_DOORBELL) {
        srv->doorbell_semid = -1;
    }
    if (srv->base != NULL) {
        shmchan_shm_store_u32_release(srv->base + SHMCHAN_HDR_OFF_SERVER_STATE,
                                      SHMCHAN_SERVER_STATE_CLOSING);
    }
    (void)server_teardown(srv);
}

/* Passes a semaphore call's result through; CLOSED from an operation on
 * our own set can only mean the set was removed (EIDRM/EINVAL). */
static shmchan_err_t server_set_result(shmchan_server_t *srv, shmchan_err_t e)
{
    if (e == SHMCHAN_E_CLOSED) {
        server_mark_closed(srv, SERVER_LOST_SET);
    }
    return e;
}

/* The result of a wait on, or a post to, the semaphore clients wake us
 * with: in a multi-user channel the doorbell, whose loss (only we, or a
 * privileged process, can remove it) ends the channel as the set's would. */
static shmchan_err_t server_wake_result(shmchan_server_t *srv, shmchan_err_t e)
{
    if (e == SHMCHAN_E_CLOSED && is_multiuser(srv)) {
        server_mark_closed(srv, SERVER_LOST_DOORBELL);
        return e;
    }
    return server_set_result(srv, e);
}

/* A slot semaphore call's result. Single-user: the channel's own set
 * (server_set_result). Multi-user: the client's own set, which its client
 * may remove (it is the creator): CLOSED there ends the connection, not the
 * channel. The id is forgotten at once, as ids are recycled. */
static shmchan_err_t slot_sem_result(shmchan_server_t *srv, uint32_t s, shmchan_err_t e)
{
    if (!is_multiuser(srv)) {
        return server_set_result(srv, e);
    }
    if (e == SHMCHAN_E_CLOSED) {
        srv->slots[s].conn_semid = -1;
    }
    return e;
}

/* IPC_RMID on the segment alone leaves the set, and the kernel does not
 * destroy an attached segment: it renames it to IPC_PRIVATE (shmctl(2),
 * SHM_DEST) and our mapping keeps working. Nothing else would tell us that
 * no new client can ever find the channel. */
static shmchan_err_t server_segment_still_named(const shmchan_server_t *srv)
{
    shmchan_sys_shm_info_t info;
    GUARD(shmchan_sys_shm_stat(srv->shmid, &info, NULL));
    return info.key == srv->key ? SHMCHAN_OK : SHMCHAN_E_CLOSED;
}

/* Tells a kicked client (slot state word) and wakes both its sleepers; the
 * slot stays out of service until its token goes back to 0. */
static void slot_kick_shared(shmchan_server_t *srv, uint32_t s)
{
    set_slot_word(srv, s, SHMCHAN_SLOT_OFF_STATE, SHMCHAN_SLOT_STATE_KICKED);
    (void)shmchan_wake_post(slot_semid(srv, s), slot_semnum(srv, s, SHMCHAN_SEM_SLOT_RX), NULL);
    (void)shmchan_wake_post(slot_semid(srv, s), slot_semnum(srv, s, SHMCHAN_SEM_SLOT_TX), NULL);
}

/* What a fault report says the client broke: the lane's own finding, or
 * PROTOCOL for a well-formed frame that came where none may (after a
 * GOODBYE). */
static shmchan_err_t slot_fault_detail(const struct server_slot *slot)
{
    if (shmchan_lane_fault(&slot->rx) != SHMCHAN_OK) {
        return shmchan_lane_fault(&slot->rx);
    }
    if (shmchan_lane_fault(&slot->tx) != SHMCHAN_OK) {
        return shmchan_lane_fault(&slot->tx);
    }
    return SHMCHAN_E_PROTOCOL;
}

/* One step of slot s's machine (slot_fsm.h) and its actions. Returns the
 * step's report; fills *ev for CONNECT and DISCONNECT (a MESSAGE is the
 * caller's to fill: it holds the frame). A reset
 * slot is offered at once; an offer that fails leaves it UNOFFERED, and
 * every scan tries again: one bad semaphore never stops the server, and
 * the DISCONNECT that this step reports is not lost to it. */
static shmchan_slot_report_t slot_apply(shmchan_server_t *srv, uint32_t s,
                                        shmchan_slot_event_t event, shmchan_event_t *ev)
{
    struct server_slot *slot = &srv->slots[s];
    const shmchan_slot_step_t step = shmchan_slot_step(slot->state, event);
    const shmchan_err_t detail = slot_fault_detail(slot);
    slot->state = step.next;
    if (step.kick) {
        slot_kick_shared(srv, s);
    }
    if (step.reset) {
        /* The layout was validated at creation: lane_init cannot fail. */
        if (slot_reset(srv, s) == SHMCHAN_OK) {
            (void)server_set_result(srv, slot_offer(srv, s, NULL));
        }
    }
    if (step.report == SHMCHAN_SLOT_SAY_CONNECT) {
        set_slot_word(srv, s, SHMCHAN_SLOT_OFF_STATE, SHMCHAN_SLOT_STATE_ACTIVE);
        pid_t pid = 0;
        (void)shmchan_sys_sem_getpid(slot_semid(srv, s),
                                     slot_semnum(srv, s, SHMCHAN_SEM_SLOT_OWNER), &pid, NULL);
        ev->kind = SHMCHAN_EVENT_CONNECT;
        ev->client = s;
        ev->pid = pid;
        /* Single-user: no client object names its creator; the channel's
         * 0600 objects admit our own uid only (root aside). */
        ev->uid = is_multiuser(srv) ? slot->uid : srv->allow.server_uid;
        ev->gid = is_multiuser(srv) ? slot->gid : getegid();
        srv->scan_due = 1; /* look again: more may have changed */
    } else if (step.report == SHMCHAN_SLOT_SAY_DISCONNECT) {
        ev->kind = SHMCHAN_EVENT_DISCONNECT;
        ev->client = s;
        ev->uid = is_multiuser(srv) ? slot->uid : srv->allow.server_uid;
        ev->gid = is_multiuser(srv) ? slot->gid : getegid();
        ev->reason = step.reason;
        ev->detail = step.reason == SHMCHAN_E_PROTOCOL ? detail : SHMCHAN_OK;
        srv->scan_due = 1;
    }
    return step.report;
}

/* slot_apply for the observations that never carry a message: 1 if it
 * reported an event in *ev. */
static int slot_observe(shmchan_server_t *srv, uint32_t s, shmchan_slot_event_t event,
                        shmchan_event_t *ev)
{
    return slot_apply(srv, s, event, ev) != SHMCHAN_SLOT_SAY_NOTHING;
}

/* Takes at most one frame from slot s's c2s lane and steps the machine
 * with what it found. Returns 1 with *ev, 0 if nothing to report, or -1
 * with *err (OUTPUT_TOO_SMALL: ev->client and ev->len set, message kept). */
static int slot_take(shmchan_server_t *srv, uint32_t s, shmchan_event_t *ev, void *buf,
                     size_t cap, shmchan_err_t *err)
{
    struct server_slot *slot = &srv->slots[s];
    uint8_t type = 0;
    uint32_t len = 0;
    const shmchan_err_t r = shmchan_lane_try_recv(&slot->rx, &type, buf, cap, &len);
    shmchan_slot_event_t event = SHMCHAN_SLOT_EV_FAULT;
    /* Also after fragments of a message not yet whole: the client may be
     * asleep waiting for the room they freed. */
    if (shmchan_lane_progressed(&slot->rx) && shmchan_lane_producer_needs_wake(&slot->rx)) {
        (void)shmchan_wake_post(slot_semid(srv, s), slot_semnum(srv, s, SHMCHAN_SEM_SLOT_TX),
                                NULL);
    }
    if (r == SHMCHAN_E_OUTPUT_TOO_SMALL) {
        ev->kind = SHMCHAN_EVENT_MESSAGE;
        ev->client = s;
        ev->len = len;
        *err = r;
        return -1;
    }
    if (r == SHMCHAN_E_WOULD_BLOCK) {
        event = SHMCHAN_SLOT_EV_EMPTY;
    } else if (r == SHMCHAN_OK) {
        event = type == SHMCHAN_FRAME_GOODBYE ? SHMCHAN_SLOT_EV_GOODBYE : SHMCHAN_SLOT_EV_DATA;
    }
    const shmchan_slot_report_t report = slot_apply(srv, s, event, ev);
    if (report == SHMCHAN_SLOT_SAY_MESSAGE) {
        ev->kind = SHMCHAN_EVENT_MESSAGE;
        ev->client = s;
        ev->len = len;
    }
    return report != SHMCHAN_SLOT_SAY_NOTHING;
}

/* A slot some client holds (or held: connected, leaving, kicked, draining),
 * stepped with its token's value: back to 0 is a release; a released slot
 * delivers what its client published, one frame per scan. Both scans, so
 * one rule for both kinds of channel. Returns 1 with *ev, 0, or -1. */
static int slot_step_held(shmchan_server_t *srv, uint32_t s, unsigned owner, shmchan_event_t *ev,
                          void *buf, size_t cap, shmchan_err_t *err)
{
    if (owner == 0 && slot_observe(srv, s, SHMCHAN_SLOT_EV_RELEASED, ev)) {
        return 1;
    }
    const shmchan_slot_state_t st = srv->slots[s].state;
    if (st == SHMCHAN_SLOT_DRAINING || st == SHMCHAN_SLOT_LEFT) {
        return slot_take(srv, s, ev, buf, cap, err);
    }
    return 0;
}

/* Multi-user: 1 if the connection keys of free slots are to be judged now:
 * a client rang HELLO (cleared before the judging it triggers, so a hello
 * rung meanwhile is seen by the next scan), or a liveness period passed
 * (a hello another client robbed is late by at most that). */
static int conn_judging_due(shmchan_server_t *srv)
{
    int hello = 0;
    (void)shmchan_sys_sem_getval(srv->doorbell_semid, SHMCHAN_DOORBELL_HELLO, &hello, NULL);
    if (hello != 0) {
        (void)shmchan_sys_sem_setval(srv->doorbell_semid, SHMCHAN_DOORBELL_HELLO, 0, NULL);
        return 1;
    }
    const int64_t now = shmchan_sys_now_ns();
    if (now >= srv->next_judge) {
        srv->next_judge = now + (int64_t)SHMCHAN_LIVENESS_PERIOD_MS * 1000000;
        return 1;
    }
    return 0;
}

/* Tells the client of the set `semid` what we decided, by id: VERDICT
 * first, then RX, which it sleeps on. */
static void conn_tell(int semid, int verdict)
{
    (void)shmchan_sys_sem_setval(semid, SHMCHAN_CONN_SEM_VERDICT, verdict, NULL);
    (void)shmchan_wake_post(semid, SHMCHAN_CONN_SEM_RX, NULL);
}

/* Attaches an accepted connection's segment and checks, by id now that we
 * hold it, that it is still what was judged: same creator, ours, the
 * size, and attached by its client and us only. */
static shmchan_err_t conn_attach(shmchan_server_t *srv, const shmchan_conn_facts_t *f,
                                 uint8_t **base)
{
    GUARD(shmchan_sys_shm_attach(f->shm.shmid, 0, base, NULL));
    shmchan_sys_shm_info_t now;
    shmchan_err_t e = shmchan_sys_shm_stat(f->shm.shmid, &now, NULL);
    if (e == SHMCHAN_OK && (now.cuid != f->shm.cuid || now.uid != srv->allow.server_uid ||
                            now.mode != SHMCHAN_CONN_MODE || now.segsz != f->shm.segsz ||
                            now.nattch != 2)) {
        e = SHMCHAN_E_FOREIGN;
    }
    if (e != SHMCHAN_OK) {
        (void)shmchan_sys_shm_detach(*base, NULL);
        *base = NULL;
    }
    return e;
}

/* Multi-user: judges the objects at free slot s's key (conn.h, the one
 * rule) and acts on the verdict, always by the ids judged. Returns 1 with
 * a CONNECT or a REFUSED in *ev, else 0. */
static int conn_judge_slot(shmchan_server_t *srv, uint32_t s, shmchan_event_t *ev)
{
    struct server_slot *slot = &srv->slots[s];
    gid_t groups[SHMCHAN_ACCOUNT_GROUPS_MAX];
    shmchan_conn_facts_t f;
    /* The creator's groups only matter, and are only looked up (a
     * directory service may be slow), when some group is allowed. */
    const size_t ngroups = srv->allow.ngids > 0 ? SHMCHAN_ACCOUNT_GROUPS_MAX : 0;
    if (shmchan_conn_gather(shmchan_conn_key(srv->key, s), srv->layout.slot_stride, groups,
                            ngroups, &f, NULL) != SHMCHAN_OK) {
        return 0;
    }
    const shmchan_conn_decision_t decision = shmchan_conn_judge(&f, &srv->allow, NULL, 0);
    switch (decision) {
    case SHMCHAN_CONN_ABSENT:
    case SHMCHAN_CONN_PENDING:
    case SHMCHAN_CONN_JUDGED:
        return 0;
    case SHMCHAN_CONN_REFUSE_UID:
    case SHMCHAN_CONN_REFUSE_SHAPE:
        conn_tell(f.sem.semid, decision == SHMCHAN_CONN_REFUSE_UID
                                   ? SHMCHAN_CONN_VERDICT_REFUSED_UID
                                   : SHMCHAN_CONN_VERDICT_REFUSED_SHAPE);
        /* Told at every judging until its client removes it; reported
         * once (a set's id names one set while it exists). */
        if (slot->refused_semid == f.sem.semid) {
            return 0;
        }
        slot->refused_semid = f.sem.semid;
        ev->kind = SHMCHAN_EVENT_REFUSED;
        ev->client = s;
        ev->uid = f.sem.cuid;
        ev->gid = f.sem.cgid;
        ev->reason = decision == SHMCHAN_CONN_REFUSE_UID ? SHMCHAN_E_PERMISSION
                                                         : SHMCHAN_E_PROTOCOL;
        return 1;
    case SHMCHAN_CONN_DEAD:
        shmchan_conn_remove_dead(&f, srv->allow.server_uid);
        return 0;
    case SHMCHAN_CONN_ACCEPT:
        break;
    }
    uint8_t *base = NULL;
    if (conn_attach(srv, &f, &base) != SHMCHAN_OK) {
        conn_tell(f.sem.semid, SHMCHAN_CONN_VERDICT_REFUSED_SHAPE);
        return 0;
    }
    slot->conn_semid = f.sem.semid;
    slot->conn_shmid = f.shm.shmid;
    slot->conn_base = base;
    slot->uid = f.sem.cuid;
    slot->gid = f.sem.cgid;
    if (slot_bind_lanes(srv, s) != SHMCHAN_OK) {
        conn_tell(f.sem.semid, SHMCHAN_CONN_VERDICT_REFUSED_SHAPE);
        conn_release(srv, s);
        return 0;
    }
    /* Our token on the connection (SEM_UNDO): how the client learns we
     * died. Taken before the verdict, so an accepted client always has
     * it to watch. */
    struct sembuf token = {SHMCHAN_CONN_SEM_SERVER, 1, SEM_UNDO | IPC_NOWAIT};
    if (shmchan_sys_semop(f.sem.semid, &token, 1, 0, NULL, NULL) != SHMCHAN_OK) {
        conn_tell(f.sem.semid, SHMCHAN_CONN_VERDICT_REFUSED_SHAPE);
        conn_release(srv, s);
        return 0;
    }
    const int got = slot_observe(srv, s, SHMCHAN_SLOT_EV_CLAIMED, ev);
    /* After the slot's words (generation, ACTIVE) are written: the
     * client reads them once the verdict is in. */
    conn_tell(f.sem.semid, SHMCHAN_CONN_VERDICT_ACCEPTED);
    return got;
}

/* Multi-user: a connected slot's token. Any failure to read it (the
 * client removed its set, or took it back from us with IPC_SET) ends the
 * connection as a release does. */
static unsigned conn_owner(shmchan_server_t *srv, uint32_t s)
{
    int owner = 0;
    if (srv->slots[s].conn_semid < 0 ||
        slot_sem_result(srv, s,
                        shmchan_sys_sem_getval(srv->slots[s].conn_semid, SHMCHAN_CONN_SEM_OWNER,
                                               &owner, NULL)) != SHMCHAN_OK) {
        return 0;
    }
    return (unsigned)owner;
}

/* The multi-user scan: the channel's own objects still there, then each
 * slot stepped with what its own set says, and free slots' keys judged
 * when due. At most one frame per slot and one judgement per free slot. */
static int scan_conns(shmchan_server_t *srv, shmchan_event_t *ev, void *buf, size_t cap,
                      shmchan_err_t *err)
{
    int marker = 0;
    const shmchan_err_t r = shmchan_sys_sem_getval(srv->semid, SHMCHAN_SEM_MARKER, &marker, NULL);
    if (r != SHMCHAN_OK) {
        *err = r;
        return -1;
    }
    if (server_segment_still_named(srv) == SHMCHAN_E_CLOSED) {
        server_mark_closed(srv, SERVER_LOST_SEGMENT);
        *err = SHMCHAN_E_CLOSED;
        return -1;
    }
    const int judge = conn_judging_due(srv);
    const uint32_t n = srv->layout.params.max_clients;
    for (uint32_t s = 0; s < n && !srv->closed; s++) {
        struct server_slot *slot = &srv->slots[s];
        switch (slot->state) {
        case SHMCHAN_SLOT_UNOFFERED:
            (void)slot_offer(srv, s, NULL);
            break;
        case SHMCHAN_SLOT_OFFERED:
            if (judge && conn_judge_slot(srv, s, ev)) {
                return 1;
            }
            break;
        default: {
            const int got = slot_step_held(srv, s, conn_owner(srv, s), ev, buf, cap, err);
            if (got != 0) {
                return got;
            }
            break;
        }
        }
    }
    if (srv->closed) {
        *err = SHMCHAN_E_CLOSED;
        return -1;
    }
    return 0;
}

/* Looks at every slot's semaphores (one GETALL) and steps each slot with
 * what changed, reporting the first CONNECT or DISCONNECT. At most one
 * frame per slot is taken. Returns 1 with *ev, 0, or -1 with *err. */
static int scan_slots(shmchan_server_t *srv, shmchan_event_t *ev, void *buf, size_t cap,
                      shmchan_err_t *err)
{
    uint32_t nsems = 0;
    shmchan_err_t r =
        shmchan_sys_sem_getall(srv->semid, srv->semvals, srv->layout.nsems, &nsems, NULL);
    if (r == SHMCHAN_OK && nsems != srv->layout.nsems) {
        r = SHMCHAN_E_FOREIGN; /* our id names a set of another shape: not ours any more */
    }
    if (r != SHMCHAN_OK) {
        *err = r;
        return -1;
    }
    /* Only a definite "gone" closes. Another failure (EACCES after an
     * IPC_SET by the owner) says nothing about the channel, which our
     * mapping still serves: carry on rather than stop reporting slots. */
    if (server_segment_still_named(srv) == SHMCHAN_E_CLOSED) {
        server_mark_closed(srv, SERVER_LOST_SEGMENT);
        *err = SHMCHAN_E_CLOSED;
        return -1;
    }
    const uint32_t n = srv->layout.params.max_clients;
    for (uint32_t s = 0; s < n && !srv->closed; s++) {
        struct server_slot *slot = &srv->slots[s];
        const unsigned owner = srv->semvals[shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_OWNER)];
        const unsigned free_tok = srv->semvals[shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_FREE)];
        switch (slot->state) {
        case SHMCHAN_SLOT_UNOFFERED:
            (void)server_set_result(srv, slot_offer(srv, s, NULL));
            break;
        case SHMCHAN_SLOT_OFFERED:
            /* Claimed: the token was taken, or (if a peer posted extra
             * FREE_i tokens) an owner appeared without taking the last. */
            if ((free_tok == 0 || owner != 0) &&
                slot_observe(srv, s, SHMCHAN_SLOT_EV_CLAIMED, ev)) {
                if (owner == 0) {
                    /* Nobody holds the token (a peer took FREE_i down, or
                     * the client left already): OWNER_i's last operator is
                     * an earlier process, not this session's. */
                    ev->pid = 0;
                }
                return 1;
            }
            break;
        default:
            /* Not on offer, so FREE_i must be 0: a token there was posted
             * by a peer and would let the next client in without an
             * offer. Withdraw it now (the window is one scan). */
            if (free_tok != 0) {
                (void)server_set_result(
                    srv, shmchan_sys_sem_setval(
                             srv->semid, shmchan_layout_slot_sem(s, SHMCHAN_SEM_SLOT_FREE), 0,
                             NULL));
                if (srv->closed) {
                    /* The set was removed: closing detached the segment,
                     * which the steps below would write (a reset). */
                    continue;
                }
            }
            const int got = slot_step_held(srv, s, owner, ev, buf, cap, err);
            if (got != 0) {
                return got;
            }
            break;
        }
    }
    if (srv->closed) {
        *err = SHMCHAN_E_CLOSED;
        return -1;
    }
    return 0;
}

/* One frame at most from each connected slot, round robin from where the
 * last pass stopped, so one busy client cannot starve the others. */
static int poll_all(shmchan_server_t *srv, shmchan_event_t *ev, void *buf, size_t cap,
                    shmchan_err_t *err)
{
    const uint32_t n = srv->layout.params.max_clients;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t s = (srv->next_slot + i) % n;
        if (!shmchan_slot_is_connected(srv->slots[s].state)) {
            continue;
        }
        const int got = slot_take(srv, s, ev, buf, cap, err);
        if (got != 0) {
            srv->next_slot = (s + 1) % n;
            return got;
        }
    }
    return 0;
}

/* Multi-user: whoever may post the doorbell may also take its wakes
 * (docs/multiuser.md, "The doorbell: what is left"). A sleep that ran to
 * its timeout although what it waited for had happened is the evidence,
 * which no robber can hide: the client saw our waiting flag (the pairing
 * of arm_and_recheck with the producer's fence) and so rang, and the ring
 * did not reach us - or, rarely, the client is between its flag load and
 * its semop. For one liveness period after each such sleep, sleeps are cut
 * to ROBBED_SLICE_NS: a robbed message then waits about that long, not a
 * whole period, at the price of that many wakeups, which is no more than
 * anyone who may ring can cause anyway. A single-user channel's set is
 * ours alone: nothing to do there. */
static void robbed_wake(shmchan_server_t *srv, shmchan_err_t slept, int happened)
{
    if (is_multiuser(srv) && slept == SHMCHAN_E_TIMEOUT && happened) {
        srv->robbed_wakes++;
        srv->robbed_until =
            shmchan_sys_now_ns() + (int64_t)SHMCHAN_LIVENESS_PERIOD_MS * 1000000;
    }
}

static int64_t sleep_slice(const shmchan_server_t *srv, int64_t sleep_ns)
{
    if (srv->robbed_until == 0 || sleep_ns <= ROBBED_SLICE_NS ||
        shmchan_sys_now_ns() >= srv->robbed_until) {
        return sleep_ns;
    }
    return ROBBED_SLICE_NS;
}

/* Before sleeping: raise our waiting flag on every connected lane, then
 * look once more (Dekker: flag store, full fence, index load; the producer
 * does index store, full fence, flag load, so one of us sees the other). */
static int arm_and_recheck(shmchan_server_t *srv, int waiting)
{
    const uint32_t n = srv->layout.params.max_clients;
    int readable = 0;
    for (uint32_t s = 0; s < n; s++) {
        if (shmchan_slot_is_connected(srv->slots[s].state)) {
            shmchan_lane_set_consumer_waiting(&srv->slots[s].rx, waiting);
        }
    }
    if (!waiting) {
        return 0;
    }
    shmchan_shm_fence_seq_cst();
    for (uint32_t s = 0; s < n; s++) {
        if (shmchan_slot_is_connected(srv->slots[s].state) &&
            shmchan_lane_readable(&srv->slots[s].rx)) {
            readable = 1;
        }
    }
    return readable;
}

static int any_readable_cb(void *p)
{
    const shmchan_server_t *srv = p;
    for (uint32_t s = 0; s < srv->layout.params.max_clients; s++) {
        if (shmchan_slot_is_connected(srv->slots[s].state) &&
            shmchan_lane_readable(&srv->slots[s].rx)) {
            return 1;
        }
    }
    return 0;
}

/* 1 if some connected client is part-way through sending a message. */
static int any_message_open(const shmchan_server_t *srv)
{
    for (uint32_t s = 0; s < srv->layout.params.max_clients; s++) {
        if (shmchan_slot_is_connected(srv->slots[s].state) &&
            shmchan_lane_recv_open(&srv->slots[s].rx)) {
            return 1;
        }
    }
    return 0;
}

/* A DISCONNECT owed for a client that server_send dropped. */
static int report_owed(shmchan_server_t *srv, shmchan_event_t *ev)
{
    for (uint32_t s = 0; s < srv->layout.params.max_clients; s++) {
        struct server_slot *slot = &srv->slots[s];
        if (slot->report_owed) {
            slot->report_owed = 0;
            srv->reports_owed--;
            ev->kind = SHMCHAN_EVENT_DISCONNECT;
            ev->client = s;
            ev->reason = slot->owed_reason;
            ev->detail = slot->owed_detail;
            return 1;
        }
    }
    return 0;
}

/* Slot scan with the bookkeeping of when the next one is due. */
static int scan_now(shmchan_server_t *srv, shmchan_event_t *ev, void *buf, size_t cap,
                    shmchan_err_t *err)
{
    srv->scan_due = 0;
    srv->wake_unscanned = 0;
    srv->next_scan = shmchan_sys_now_ns() + (int64_t)SHMCHAN_LIVENESS_PERIOD_MS * 1000000;
    const int got = is_multiuser(srv) ? scan_conns(srv, ev, buf, cap, err)
                                      : scan_slots(srv, ev, buf, cap, err);
    if (got < 0) {
        /* GETALL may have found the set gone (a no-op if the scan already
         * closed us). */
        (void)server_set_result(srv, *err);
    }
    return got;
}

/* One look at everything, bounded: a slot scan if one is due, one frame
 * per connected slot, and a scan if a wake arrived that no lane explains
 * (a connect or a release). */
static int server_look(shmchan_server_t *srv, shmchan_event_t *ev, void *buf, size_t cap,
                       shmchan_err_t *err)
{
    if (srv->scan_due || shmchan_sys_now_ns() >= srv->next_scan) {
        const int got = scan_now(srv, ev, buf, cap, err);
        if (got != 0) {
            return got;
        }
    }
    const int got = poll_all(srv, ev, buf, cap, err);
    if (got != 0) {
        return got;
    }
    if (srv->wake_unscanned) {
        return scan_now(srv, ev, buf, cap, err);
    }
    return 0;
}

shmchan_err_t shmchan_server_wait(shmchan_server_t *srv, int timeout_ms, shmchan_event_t *ev,
                                  void *buf, size_t cap)
{
    ENSURE_REF(srv);
    ENSURE_REF(ev);
    ENSURE(buf != NULL || cap == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(timeout_ms >= 0, SHMCHAN_E_INVALID_ARGUMENT);
    memset(ev, 0, sizeof *ev);
    ENSURE(!srv->closed, SHMCHAN_E_CLOSED);
    ENSURE(!shmchan_wait_cancelled(srv->cancel), SHMCHAN_E_INTERRUPTED);
    if (srv->reports_owed > 0 && report_owed(srv, ev)) {
        return SHMCHAN_OK;
    }

    shmchan_err_t err = SHMCHAN_OK;
    /* Fast path for a busy server: a message is waiting, take it without
     * reading the clock. Every 64th call goes the slow way, so a server
     * that never runs dry still looks at its slots (connects, releases,
     * deaths) at least that often. */
    if (!srv->scan_due && (++srv->fast_calls & 63u) != 0) {
        const int got = poll_all(srv, ev, buf, cap, &err);
        if (got != 0) {
            return got > 0 ? SHMCHAN_OK : err;
        }
    }

    shmchan_wait_t w;
    shmchan_wait_begin(&w, timeout_ms, srv->cancel);
    for (;;) {
        const int got = server_look(srv, ev, buf, cap, &err);
        if (got != 0) {
            return got > 0 ? SHMCHAN_OK : err;
        }
        /* The gate: every round passes here before it may spin or sleep,
         * whatever the lanes look like. */
        int64_t sleep_ns = 0;
        GUARD(shmchan_wait_gate(&w, &sleep_ns));
        int64_t started = 0;
        const uint32_t spin =
            shmchan_spinner_budget(&srv->wait_spin, any_message_open(srv), sleep_ns, &started);
        if (shmchan_spin_until(any_readable_cb, srv, spin)) {
            continue;
        }
        if (spin != 0) { /* the spin took time: the gate again */
            GUARD(shmchan_wait_gate(&w, &sleep_ns));
        }
        if (arm_and_recheck(srv, 1)) {
            (void)arm_and_recheck(srv, 0);
            continue;
        }
        err = shmchan_wake_wait(wake_semid(srv), wake_semnum(srv), sleep_slice(srv, sleep_ns),
                                srv->cancel);
        /* Lower the flags before a removed set closes us: closing detaches
         * the segment they live in (and the looks at the lanes come before
         * that too). */
        (void)arm_and_recheck(srv, 0);
        /* (Looked at after a timeout on a multi-user channel only: a
         * single-user server does exactly what it did before.) */
        const int readable = (err == SHMCHAN_OK || is_multiuser(srv)) && any_readable_cb(srv);
        shmchan_spinner_slept(&srv->wait_spin, started, err == SHMCHAN_OK && readable);
        robbed_wake(srv, err, readable);
        err = server_wake_result(srv, err);
        if (err == SHMCHAN_OK) {
            srv->wake_unscanned = 1;
        } else if (err != SHMCHAN_E_TIMEOUT) {
            return err;
        }
    }
}

/* server_send found slot `client`'s lane broken: the client is dropped
 * now, and the DISCONNECT is owed to the next wait. */
static void owe_fault_report(shmchan_server_t *srv, uint32_t client)
{
    struct server_slot *slot = &srv->slots[client];
    shmchan_event_t ev;
    memset(&ev, 0, sizeof ev);
    if (slot_observe(srv, client, SHMCHAN_SLOT_EV_FAULT, &ev) && !slot->report_owed) {
        slot->report_owed = 1;
        slot->owed_reason = ev.reason;
        slot->owed_detail = ev.detail;
        srv->reports_owed++;
    }
}

static shmchan_err_t server_send_message(shmchan_server_t *srv, uint32_t client,
                                         const void *data, uint32_t len, int timeout_ms);

shmchan_err_t shmchan_server_send(shmchan_server_t *srv, uint32_t client, const void *data,
                                  uint32_t len, int timeout_ms)
{
    const shmchan_err_t r = server_send_message(srv, client, data, len, timeout_ms);
    /* A message left part-way (timeout, cancel, the client gone) is given
     * up: the client drops the fragments it took, and the next send starts
     * afresh, whatever its buffer (lane.h, shmchan_lane_abandon_send). */
    if (r != SHMCHAN_OK && srv != NULL && client < srv->layout.params.max_clients) {
        shmchan_lane_abandon_send(&srv->slots[client].tx);
    }
    return r;
}

static shmchan_err_t server_send_message(shmchan_server_t *srv, uint32_t client,
                                         const void *data, uint32_t len, int timeout_ms)
{
    ENSURE_REF(srv);
    ENSURE(data != NULL || len == 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(timeout_ms >= 0, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(!srv->closed, SHMCHAN_E_CLOSED);
    ENSURE(client < srv->layout.params.max_clients, SHMCHAN_E_INVALID_ARGUMENT);
    ENSURE(len <= srv->layout.params.max_payload, SHMCHAN_E_FRAME_TOO_LONG);
    struct server_slot *slot = &srv->slots[client];
    /* A client that said goodbye may still read until it lets go. */
    ENSURE(slot->state == SHMCHAN_SLOT_ACTIVE || slot->state == SHMCHAN_SLOT_LEAVING,
           SHMCHAN_E_CLOSED);
    ENSURE(!shmchan_wait_cancelled(srv->cancel), SHMCHAN_E_INTERRUPTED);

    const unsigned short owner_sem = slot_semnum(srv, client, SHMCHAN_SEM_SLOT_OWNER);
    shmchan_wait_t w;
    shmchan_wait_begin(&w, timeout_ms, srv->cancel);
    for (;;) {
        const shmchan_err_t r =
            shmchan_lane_try_send(&slot->tx, SHMCHAN_FRAME_DATA, (const uint8_t *)data, len);
        /* Also after a part of a fragmented message: the client may be
         * asleep waiting for the rest while we wait for room. */
        if (shmchan_lane_progressed(&slot->tx) && shmchan_lane_consumer_needs_wake(&slot->tx)) {
            (void)shmchan_wake_post(slot_semid(srv, client),
                                    slot_semnum(srv, client, SHMCHAN_SEM_SLOT_RX), NULL);
        }
        if (r == SHMCHAN_OK) {
            return SHMCHAN_OK;
        }
        if (r == SHMCHAN_E_PROTOCOL) {
            owe_fault_report(srv, client);
            return r;
        }
        if (r != SHMCHAN_E_WOULD_BLOCK) {
            return r;
        }
        /* Full. Is the client still there to make room? */
        int owner = 0;
        shmchan_err_t e = slot_sem_result(
            srv, client, shmchan_sys_sem_getval(slot_semid(srv, client), owner_sem, &owner, NULL));
        if (e != SHMCHAN_OK || owner == 0) {
            srv->scan_due = 1; /* the scan reports the client's end */
            return e != SHMCHAN_OK ? e : SHMCHAN_E_CLOSED;
        }
        /* The gate: every round passes here before it may spin or sleep. */
        int64_t sleep_ns = 0;
        GUARD(shmchan_wait_gate(&w, &sleep_ns));
        int64_t started = 0;
        const uint32_t spin = shmchan_spinner_budget(&srv->send_spin, shmchan_lane_send_open(&slot->tx),
                                                     sleep_ns, &started);
        if (spin_until_writable(&slot->tx, len, spin)) {
            continue;
        }
        if (spin != 0) { /* the spin took time: the gate again */
            GUARD(shmchan_wait_gate(&w, &sleep_ns));
        }
        shmchan_lane_set_producer_waiting(&slot->tx, 1);
        shmchan_shm_fence_seq_cst();
        if (shmchan_lane_writable(&slot->tx, len)) {
            shmchan_lane_set_producer_waiting(&slot->tx, 0);
            continue;
        }
        e = shmchan_wake_wait(wake_semid(srv), wake_semnum(srv), sleep_slice(srv, sleep_ns),
                              srv->cancel);
        shmchan_lane_set_producer_waiting(&slot->tx, 0);
        const int writable =
            (e == SHMCHAN_OK || is_multiuser(srv)) && shmchan_lane_writable(&slot->tx, len);
        shmchan_spinner_slept(&srv->send_spin, started, e == SHMCHAN_OK && writable);
        robbed_wake(srv, e, writable);
        /* The wake may have been meant for shmchan_server_wait (a connect,
         * a release): make sure it looks. */
        srv->scan_due = 1;
        e = server_wake_result(srv, e); /* after the flag: closing detaches the segment */
        if (e != SHMCHAN_OK && e != SHMCHAN_E_TIMEOUT) {
            return e;
        }
    }
}

shmchan_err_t shmchan_server_close(shmchan_server_t *srv)
{
    ENSURE_REF(srv);
    if (srv->base != NULL && !srv->closed) {
        /* Tell clients first: the state word for those polling, a goodbye
         * frame and a wake for those blocked in recv. Removing the set next
         * fails every blocked semop with EIDRM anyway; this only makes the
         * ending orderly. */
        shmchan_shm_store_u32_release(srv->base + SHMCHAN_HDR_OFF_SERVER_STATE,
                                      SHMCHAN_SERVER_STATE_CLOSING);
        for (uint32_t s = 0; s < srv->layout.params.max_clients; s++) {
            const shmchan_slot_state_t st = srv->slots[s].state;
            if (st == SHMCHAN_SLOT_ACTIVE || st == SHMCHAN_SLOT_LEAVING) {
                (void)shmchan_lane_try_send(&srv->slots[s].tx, SHMCHAN_FRAME_GOODBYE, NULL, 0);
                (void)shmchan_wake_post(slot_semid(srv, s),
                                        slot_semnum(srv, s, SHMCHAN_SEM_SLOT_RX), NULL);
            }
        }
    }
    srv->closed = 1;
    return server_teardown(srv);
}

void shmchan_server_destroy(shmchan_server_t *srv)
{
    if (srv == NULL) {
        return;
    }
    (void)shmchan_server_close(srv);
    server_free(srv);
}
